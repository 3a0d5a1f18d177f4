package media

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"
)

// fake is a channel-backed medium for Keep's tests.
type fake struct {
	counters
	in      chan Packet
	fail    chan error
	sendErr error
	closed  chan struct{}
	once    sync.Once
}

func newFake(name string) *fake {
	f := &fake{in: make(chan Packet, 8), fail: make(chan error, 1), closed: make(chan struct{})}
	f.init(KindUcast, name, "eth0")
	return f
}

func (f *fake) Send(ctx context.Context, b []byte) error {
	if f.sendErr != nil {
		f.drop(DropSendError)
		return f.sendErr
	}
	f.countSent(time.Now())
	return nil
}

func (f *fake) Recv(ctx context.Context) (Packet, error) {
	select {
	case p := <-f.in:
		f.countRecv(time.Now())
		return p, nil
	case err := <-f.fail:
		return Packet{}, err
	case <-f.closed:
		return Packet{}, ErrClosed
	case <-ctx.Done():
		return Packet{}, ctx.Err()
	}
}

func (f *fake) Close() error { f.once.Do(func() { close(f.closed) }); return nil }

func TestKeepRetriesWithBackoffAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var opens []time.Time
		var media []*fake
		failUntil := 3
		start := time.Now()
		k := Keep(KindUcast, "ucast eth0 hb2", "eth0", func() (Medium, error) {
			mu.Lock()
			defer mu.Unlock()
			opens = append(opens, time.Now())
			if len(opens) <= failUntil {
				return nil, fmt.Errorf("ucast: interface [eth0] does not exist")
			}
			m := newFake("ucast eth0 hb2")
			media = append(media, m)
			return m, nil
		}, KeepOptions{MinBackoff: time.Second, MaxBackoff: 4 * time.Second})
		defer k.Close()

		synctest.Wait()
		st := k.Stats()
		if st.State != StateDown || st.LastErr != "ucast: interface [eth0] does not exist" {
			t.Fatalf("after first failure: %+v", st)
		}
		if err := k.Send(context.Background(), []byte("x")); !errors.Is(err, ErrDown) {
			t.Fatalf("Send while down = %v", err)
		}
		// A reader waits through the outage.
		got := make(chan Packet, 1)
		go func() {
			p, err := k.Recv(context.Background())
			if err != nil {
				t.Errorf("Recv: %v", err)
			}
			got <- p
		}()
		time.Sleep(10 * time.Second) // fake time inside the bubble
		synctest.Wait()
		mu.Lock()
		// Opens at 0, 1, 3 (backoff 1, 2) fail; the fourth at 7 (backoff 4) works.
		var at []time.Duration
		for _, o := range opens {
			at = append(at, o.Sub(start))
		}
		m := media[0]
		mu.Unlock()
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
		if fmt.Sprint(at) != fmt.Sprint(want) {
			t.Fatalf("open times %v, want %v", at, want)
		}
		if st := k.Stats(); st.State != StateUp || st.Reopens != 1 || st.Dropped[DropDown] != 1 {
			t.Fatalf("after recovery: %+v", st)
		}
		m.in <- Packet{Data: []byte("hello")}
		if p := <-got; string(p.Data) != "hello" {
			t.Fatalf("got %q", p.Data)
		}

		// The medium breaks under a reader: it is replaced and the reader
		// carries on with the new one.
		go func() {
			p, err := k.Recv(context.Background())
			if err != nil {
				t.Errorf("Recv: %v", err)
			}
			got <- p
		}()
		synctest.Wait()
		m.fail <- errors.New("read: network is down")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mu.Lock()
		if len(media) != 2 {
			mu.Unlock()
			t.Fatalf("%d media opened, want 2", len(media))
		}
		m2 := media[1]
		mu.Unlock()
		m2.in <- Packet{Data: []byte("again")}
		if p := <-got; string(p.Data) != "again" {
			t.Fatalf("got %q", p.Data)
		}
		st = k.Stats()
		if st.Received != 2 || st.Reopens != 2 {
			t.Errorf("stats %+v", st)
		}

		// A fatal send error also triggers a reopen.
		m2.sendErr = fmt.Errorf("Unable to send: %w", unix.ENODEV)
		if err := k.Send(context.Background(), []byte("x")); err == nil {
			t.Fatal("send error swallowed")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mu.Lock()
		n := len(media)
		mu.Unlock()
		if n != 3 {
			t.Fatalf("%d media after a fatal send error, want 3", n)
		}
		if st := k.Stats(); st.Dropped[DropSendError] != 1 {
			t.Errorf("send error not counted: %+v", st)
		}

		// Close unblocks readers and stops reopening.
		done := make(chan error)
		go func() { _, err := k.Recv(context.Background()); done <- err }()
		synctest.Wait()
		k.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("Recv after Close = %v", err)
		}
		if st := k.Stats(); st.State != StateClosed {
			t.Errorf("state %s", st.State)
		}
	})
}

func TestKeepCheckerFailureReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		n := 0
		var healthy = true
		k := Keep(KindSerial, "serial /dev/ttyS0", "/dev/ttyS0", func() (Medium, error) {
			mu.Lock()
			defer mu.Unlock()
			n++
			return &checked{fake: newFake("serial /dev/ttyS0"), ok: func() bool { mu.Lock(); defer mu.Unlock(); return healthy }}, nil
		}, KeepOptions{CheckEvery: time.Second, MinBackoff: time.Second})
		defer k.Close()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		mu.Lock()
		if n != 1 {
			t.Fatalf("healthy medium reopened %d times", n-1)
		}
		healthy = false
		mu.Unlock()
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if st := k.Stats(); st.State != StateDown || st.LastErr != "unplugged" {
			t.Fatalf("after failed check: %+v", st)
		}
	})
}

type checked struct {
	*fake
	ok func() bool
}

func (c *checked) Check() error {
	if c.ok() {
		return nil
	}
	return errors.New("unplugged")
}
