// Package ctltest provides a fake control-socket handler and a helper
// that serves it on a real Unix socket in a temporary run directory, for
// the tests of the tools and of anything else that talks to the daemon.
package ctltest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
)

// Fake is a ctl.Handler (and Reloader, Shutdowner, ClientQuerier) that
// returns St and records the commands it receives.
type Fake struct {
	mu  sync.Mutex
	St  ctl.Status
	Err error // returned by every method when set

	// Remote answers ClientStatus for active peers: node -> client -> state.
	// A missing entry makes ClientStatus wait for ctx, as an unanswered
	// cluster query does.
	Remote map[string]map[string]ctl.ClientState

	Calls []string // "standby all", "takeover foreign", "reload", "shutdown"
}

func (f *Fake) record(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, s)
	return f.Err
}

// Recorded returns a copy of the calls so far.
func (f *Fake) Recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.Calls...)
}

// Status implements ctl.Handler.
func (f *Fake) Status(context.Context) (ctl.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.St, f.Err
}

// Standby implements ctl.Handler.
func (f *Fake) Standby(_ context.Context, w ctl.What) error { return f.record("standby " + string(w)) }

// Takeover implements ctl.Handler.
func (f *Fake) Takeover(_ context.Context, w ctl.What) error {
	return f.record("takeover " + string(w))
}

// Reload implements ctl.Reloader.
func (f *Fake) Reload(context.Context) error { return f.record("reload") }

// Shutdown implements ctl.Shutdowner.
func (f *Fake) Shutdown(context.Context) error { return f.record("shutdown") }

// ClientStatus implements ctl.ClientQuerier.
func (f *Fake) ClientStatus(ctx context.Context, node, client string) (ctl.ClientState, error) {
	f.mu.Lock()
	cs, ok := f.Remote[node][client]
	f.mu.Unlock()
	if ok {
		return cs, nil
	}
	<-ctx.Done()
	return "", ctl.ErrNoResponse
}

// Serve serves h on a control socket in a new temporary run directory and
// returns that directory. The server stops when the test ends.
func Serve(t testing.TB, h ctl.Handler) string {
	t.Helper()
	// Unix socket paths are limited to 108 bytes: t.TempDir can be longer.
	dir, err := os.MkdirTemp("", "hbctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv, err := ctl.Listen(filepath.Join(dir, ctl.SocketName), h, ctl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("ctl server: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("ctl server did not stop")
		}
	})
	return dir
}
