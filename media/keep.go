package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Opener opens (or reopens) a medium.
type Opener func() (Medium, error)

// Checker is implemented by media that can tell, without traffic, that
// they no longer work (an interface removed or re-created, a serial device
// unplugged).
type Checker interface {
	Check() error
}

// KeepOptions tune Keep. Zero values take the defaults.
type KeepOptions struct {
	MinBackoff time.Duration // first retry delay after a failure; default 1 s
	MaxBackoff time.Duration // retry delay cap; default 30 s
	CheckEvery time.Duration // Checker poll period while up; default 5 s
	Logger     *slog.Logger  // failures and recoveries; default: discard
}

// Kept is a medium that survives failures of the medium underneath: it
// opens it, reopens it with exponential back-off when opening fails, when
// Send or Recv report the medium broken or when its Check fails. While
// down, Send fails fast with ErrDown (counted) and Recv waits.
type Kept struct {
	counters
	open Opener
	opts KeepOptions

	mu      sync.Mutex
	cur     Medium
	ready   chan struct{} // closed while cur != nil
	gone    chan struct{} // closed when cur is retired
	broken  chan struct{} // signalled to make the loop reopen
	closed  chan struct{}
	retired Stats // sums of media replaced after failures
	wg      sync.WaitGroup
}

// Keep starts keeping a medium. name and link are used for Stats while
// the medium cannot be opened. The first open happens in the background
// too: a medium that cannot be opened is retried, never reported to the
// caller (KeepOpen is the start-up form that reports it).
func Keep(kind Kind, name, link string, open Opener, opts KeepOptions) *Kept {
	k := newKept(kind, name, link, open, opts)
	k.wg.Add(1)
	go k.loop(nil)
	return k
}

// KeepOpen opens the medium once, now, and returns the error when that
// fails, starting nothing: heartbeat 3.0.6 does not start when a medium
// cannot be opened ("make_io_childpair: cannot open ..."), whatever the
// other media do. Once open, the medium is kept as Keep keeps it: a
// failure after start-up (an interface removed at run time, a serial
// device unplugged) is retried in the background with back-off.
func KeepOpen(kind Kind, name, link string, open Opener, opts KeepOptions) (*Kept, error) {
	m, err := open()
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("%s: opening gave no medium", name)
	}
	k := newKept(kind, name, link, open, opts)
	// Installed (and its open lines logged) before KeepOpen returns, so
	// the start-up log reads in ha.cf order, as heartbeat's does.
	k.install(m, false)
	k.wg.Add(1)
	go k.loop(m)
	return k, nil
}

func newKept(kind Kind, name, link string, open Opener, opts KeepOptions) *Kept {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = 30 * time.Second
		if opts.MaxBackoff < opts.MinBackoff {
			opts.MaxBackoff = opts.MinBackoff
		}
	}
	if opts.CheckEvery <= 0 {
		opts.CheckEvery = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	k := &Kept{
		open:   open,
		opts:   opts,
		ready:  make(chan struct{}),
		broken: make(chan struct{}, 1),
		closed: make(chan struct{}),
	}
	k.init(kind, name, link)
	k.state = StateDown
	k.retired.Dropped = map[DropReason]uint64{}
	return k
}

// loop opens, watches and reopens the medium until Close. first, when
// not nil, is the medium KeepOpen already opened and installed.
func (k *Kept) loop(first Medium) {
	defer k.wg.Done()
	backoff := k.opts.MinBackoff
	failed := false
	for {
		m := first
		if first == nil {
			var err error
			m, err = k.open()
			if err == nil && m == nil {
				err = errors.New("opening gave no medium")
			}
			if err != nil {
				k.setErr(err)
				k.setState(StateDown)
				if !failed {
					k.opts.Logger.Error("medium failed to open; retrying", "medium", k.name, "err", err)
				}
				failed = true
				if !k.sleep(backoff) {
					return
				}
				backoff = min(backoff*2, k.opts.MaxBackoff)
				continue
			}
			if !k.install(m, failed) {
				return
			}
		}
		first = nil
		backoff = k.opts.MinBackoff

		// Up: wait for a failure report, a failed check or Close.
		err := k.watch(m)
		k.mu.Lock()
		k.cur = nil
		k.ready = make(chan struct{})
		close(k.gone)
		k.mu.Unlock()
		k.retire(m)
		m.Close()
		select {
		case <-k.closed:
			return
		default:
		}
		k.setErr(err)
		k.setState(StateDown)
		k.opts.Logger.Error("medium failed; reopening", "medium", k.name, "err", err)
		failed = true
		if !k.sleep(backoff) {
			return
		}
		backoff = min(backoff*2, k.opts.MaxBackoff)
	}
}

// install makes m the current medium, logs its open lines and marks the
// keeper up; after a Close it closes m instead and reports false.
func (k *Kept) install(m Medium, reopened bool) bool {
	k.mu.Lock()
	select {
	case <-k.closed:
		k.mu.Unlock()
		m.Close()
		return false
	default:
	}
	k.cur = m
	k.gone = make(chan struct{})
	close(k.ready)
	if reopened {
		k.reopens++
		k.opts.Logger.Info("medium reopened", "medium", k.name)
	}
	k.mu.Unlock()
	if ol, ok := m.(OpenLogger); ok {
		for _, line := range ol.OpenLog() {
			k.opts.Logger.Info(line, "medium", k.name)
		}
	}
	k.setState(StateUp)
	return true
}

var errBroken = errors.New("medium reported broken")

func (k *Kept) watch(m Medium) error {
	var tick <-chan time.Time
	if c, ok := m.(Checker); ok {
		t := time.NewTicker(k.opts.CheckEvery)
		defer t.Stop()
		tick = t.C
		for {
			select {
			case <-k.closed:
				return ErrClosed
			case <-k.broken:
				k.mu.Lock()
				err := k.lastErrLocked()
				k.mu.Unlock()
				return err
			case <-tick:
				if err := c.Check(); err != nil {
					return err
				}
			}
		}
	}
	select {
	case <-k.closed:
		return ErrClosed
	case <-k.broken:
		k.mu.Lock()
		err := k.lastErrLocked()
		k.mu.Unlock()
		return err
	}
}

func (k *Kept) lastErrLocked() error {
	k.counters.mu.Lock()
	defer k.counters.mu.Unlock()
	if k.lastErr != "" {
		return errors.New(k.lastErr)
	}
	return errBroken
}

func (k *Kept) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-k.closed:
		return false
	}
}

func (k *Kept) retire(m Medium) {
	r, ok := m.(Reporter)
	if !ok {
		return
	}
	s := r.Stats()
	k.mu.Lock()
	k.retired.Sent += s.Sent
	k.retired.Received += s.Received
	for d, n := range s.Dropped {
		k.retired.Dropped[d] += n
	}
	k.mu.Unlock()
}

func (k *Kept) markBroken(m Medium, err error) {
	k.mu.Lock()
	same := k.cur == m
	k.mu.Unlock()
	if !same {
		return
	}
	k.setErr(err)
	select {
	case k.broken <- struct{}{}:
	default:
	}
}

func (k *Kept) current() (Medium, chan struct{}) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cur, k.ready
}

// Current returns the medium underneath, or nil while it is down.
func (k *Kept) Current() Medium {
	m, _ := k.current()
	return m
}

// Send sends through the current medium, or fails with ErrDown.
func (k *Kept) Send(ctx context.Context, b []byte) error {
	select {
	case <-k.closed:
		return ErrClosed
	default:
	}
	m, _ := k.current()
	if m == nil {
		k.drop(DropDown)
		return ErrDown
	}
	err := m.Send(ctx, b)
	if err != nil && fatalSendError(err) {
		k.markBroken(m, err)
	}
	return err
}

// Recv waits for a packet from the current medium, waiting through
// reopens.
func (k *Kept) Recv(ctx context.Context) (Packet, error) {
	for {
		m, ready := k.current()
		if m == nil {
			select {
			case <-ready:
				continue
			case <-k.closed:
				return Packet{}, ErrClosed
			case <-ctx.Done():
				return Packet{}, ctx.Err()
			}
		}
		p, err := m.Recv(ctx)
		if err == nil {
			return p, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return Packet{}, cerr
		}
		select {
		case <-k.closed:
			return Packet{}, ErrClosed
		default:
		}
		if !errors.Is(err, ErrClosed) {
			k.markBroken(m, err)
		}
		// Wait for the loop to replace m.
		select {
		case <-k.closed:
			return Packet{}, ErrClosed
		case <-ctx.Done():
			return Packet{}, ctx.Err()
		case <-k.replaced(m):
		}
	}
}

// replaced returns a channel closed once m is no longer current.
func (k *Kept) replaced(m Medium) <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cur != m {
		done := make(chan struct{})
		close(done)
		return done
	}
	return k.gone
}

// Stats sums the counters of the current medium, of the media it replaced
// and of Kept itself (sends refused while down).
func (k *Kept) Stats() Stats {
	s := k.counters.Stats()
	k.mu.Lock()
	cur := k.cur
	s.Sent += k.retired.Sent
	s.Received += k.retired.Received
	for d, n := range k.retired.Dropped {
		s.Dropped[d] += n
	}
	k.mu.Unlock()
	if r, ok := cur.(Reporter); ok {
		cs := r.Stats()
		s.Sent += cs.Sent
		s.Received += cs.Received
		for d, n := range cs.Dropped {
			s.Dropped[d] += n
		}
		s.LastSent, s.LastRecv = later(s.LastSent, cs.LastSent), later(s.LastRecv, cs.LastRecv)
		if cs.ErrAt.After(s.ErrAt) {
			s.LastErr, s.ErrAt = cs.LastErr, cs.ErrAt
		}
	}
	return s
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Close stops the keeper and closes the medium.
func (k *Kept) Close() error {
	k.mu.Lock()
	select {
	case <-k.closed:
		k.mu.Unlock()
		return nil
	default:
	}
	close(k.closed)
	k.mu.Unlock()
	k.wg.Wait()
	k.setState(StateClosed)
	return nil
}
