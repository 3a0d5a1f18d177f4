package media

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/sys/unix"
)

// TestKeepOpenRefusesAtStart: a medium that cannot be opened at start-up
// is reported at once, opened only that once, and nothing keeps retrying
// it (heartbeat 3.0.6 does not start then).
func TestKeepOpenRefusesAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		opens := 0
		cause := fmt.Errorf("setting socket option SO_BINDTODEVICE on nosuch9: %w", unix.ENODEV)
		k, err := KeepOpen(KindUcast, "ucast nosuch9 198.18.1.2", "nosuch9", func() (Medium, error) {
			mu.Lock()
			defer mu.Unlock()
			opens++
			return nil, cause
		}, KeepOptions{MinBackoff: time.Second})
		if k != nil || !errors.Is(err, cause) {
			t.Fatalf("KeepOpen = %v, %v; want nil and the open error", k, err)
		}
		time.Sleep(time.Minute) // fake time: a retry loop would have opened again
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if opens != 1 {
			t.Fatalf("opened %d times, want 1 (no background retry after a refused start)", opens)
		}
	})
}

// TestKeepOpenRetriesAfterStart: once open at start-up, a medium that
// fails later is reopened in the background with back-off, as Keep does.
func TestKeepOpenRetriesAfterStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var media []*fake
		failing := false
		start := time.Now()
		var opens []time.Duration
		k, err := KeepOpen(KindUcast, "ucast eth0 198.18.1.2", "eth0", func() (Medium, error) {
			mu.Lock()
			defer mu.Unlock()
			opens = append(opens, time.Since(start))
			if failing {
				return nil, fmt.Errorf("interface gone: %w", unix.ENODEV)
			}
			m := newFake("ucast eth0 198.18.1.2")
			media = append(media, m)
			return m, nil
		}, KeepOptions{MinBackoff: time.Second, MaxBackoff: 4 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		// Up as KeepOpen returns, not once a goroutine has run.
		if st := k.Stats(); st.State != StateUp || k.Current() == nil {
			t.Fatalf("after KeepOpen: %+v", st)
		}
		mu.Lock()
		if len(opens) != 1 {
			t.Fatalf("opened %d times at start, want 1", len(opens))
		}
		m := media[0]
		failing = true
		mu.Unlock()

		// A reader, as the daemon has one per medium.
		go func() {
			for {
				if _, err := k.Recv(context.Background()); errors.Is(err, ErrClosed) {
					return
				}
			}
		}()
		synctest.Wait()
		// The link goes away at run time: the keeper reopens, failing,
		// after 1 s, then with back-off 2 s, 4 s, and the medium is down.
		m.fail <- errors.New("read: no such device")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if st := k.Stats(); st.State != StateDown || !strings.Contains(st.LastErr, "interface gone") {
			t.Fatalf("while gone: %+v", st)
		}
		if err := k.Send(context.Background(), []byte("x")); !errors.Is(err, ErrDown) {
			t.Fatalf("Send while down = %v", err)
		}
		mu.Lock()
		want := fmt.Sprint([]time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second})
		if got := fmt.Sprint(opens); got != want {
			t.Fatalf("open times %s, want %s", got, want)
		}
		failing = false
		mu.Unlock()

		// It comes back: reopened on the next try.
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if st := k.Stats(); st.State != StateUp || st.Reopens != 1 {
			t.Fatalf("after it came back: %+v", st)
		}
	})
}

// TestFromDirectiveRefusesAndClosesOthers: a bcast line naming two
// interfaces, the second missing: the first, already open, is closed
// again and the error names the medium that failed.
func TestFromDirectiveRefusesAndClosesOthers(t *testing.T) {
	specs, err := Parse("bcast", []string{"lo", "hbmo-nosuch9"}, 0, 0)
	if err != nil || len(specs) != 2 {
		t.Fatalf("Parse = %v, %v", specs, err)
	}
	var opened []*fake
	specs[0].open = func() (Medium, error) { f := newFake("bcast lo"); opened = append(opened, f); return f, nil }
	specs[1].open = func() (Medium, error) {
		return nil, fmt.Errorf("Get broadcast for interface hbmo-nosuch9 failed: %w", unix.ENODEV)
	}
	out, err := keepOpenAll(specs, KeepOptions{})
	var oe *OpenError
	if !errors.As(err, &oe) || oe.Name != "bcast hbmo-nosuch9" || !errors.Is(err, unix.ENODEV) {
		t.Fatalf("error %v (%T), want an *OpenError for bcast hbmo-nosuch9", err, err)
	}
	want := "bcast hbmo-nosuch9: cannot open the medium: Get broadcast for interface hbmo-nosuch9 failed: no such device; " +
		"heartbeat does not start unless every medium in ha.cf opens (expected an existing network interface hbmo-nosuch9)"
	if err.Error() != want {
		t.Errorf("message\n got %q\nwant %q", err, want)
	}
	if out != nil || len(opened) != 1 {
		t.Fatalf("opened %d, returned %v", len(opened), out)
	}
	select {
	case <-opened[0].closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the medium opened before the failure was not closed")
	}
}

// TestFromDirectiveMissingInterface: the real thing, without fakes: an
// interface that does not exist refuses the directive.
func TestFromDirectiveMissingInterface(t *testing.T) {
	ks, err := FromDirective("ucast", []string{"hbmo-nosuch9", "198.18.1.2"}, 0, 0, KeepOptions{})
	if err == nil {
		for _, k := range ks {
			k.Close()
		}
		t.Fatal("ucast on a missing interface was opened")
	}
	var oe *OpenError
	if !errors.As(err, &oe) || oe.Link != "hbmo-nosuch9" || !errors.Is(err, unix.ENODEV) {
		t.Fatalf("error %v (%T), want an *OpenError with ENODEV", err, err)
	}
}
