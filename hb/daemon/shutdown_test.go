package daemon

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/hb/rm"
	"github.com/heartbeat-go/heartbeat/media/memnet/live"
)

// stuckRunner starts groups; its stops either hang until their context
// is cancelled (a stop retried for ever) or fail with the resource still
// running.
type stuckRunner struct {
	mu        sync.Mutex
	started   bool
	cancelled bool
	fail      bool // stops fail with the resource running, else hang
}

func (s *stuckRunner) Run(ctx context.Context, a rm.Action) rm.Result {
	switch a.Kind {
	case rm.StartGroup:
		s.mu.Lock()
		s.started = true
		s.mu.Unlock()
	case rm.StopGroup:
		if s.fail {
			return rm.StopFailedRun
		}
		<-ctx.Done()
		s.mu.Lock()
		s.cancelled = true
		s.mu.Unlock()
		return rm.Failed
	}
	return rm.OK
}

func (s *stuckRunner) state() (started, cancelled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started, s.cancelled
}

// TestShutdownStuckStopEmergency: SIGTERM while a stop never finishes.
// As heartbeat, the daemon waits for the resource activity, but its
// emergency timer (60 minutes) ends it: the stop in flight is cancelled
// and the daemon exits 100.
func TestShutdownStuckStopEmergency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := live.NewHub(3)
		r, log, _ := testRuntime(t, "hb1", hub.Endpoint("hb1", "lo"))
		sr := &stuckRunner{}
		r.runner = sr
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() { done <- r.run(ctx) }()
		time.Sleep(40 * time.Second)
		if started, _ := sr.state(); !started {
			t.Fatalf("hb1 alone did not start its group:\n%s", log)
		}
		stop() // SIGTERM
		at := time.Now()
		select {
		case code := <-done:
			if code != ExitEmergency {
				t.Errorf("exit %d, want %d", code, ExitEmergency)
			}
		case <-time.After(2 * ShutdownEmergency):
			t.Fatalf("daemon still running %v after SIGTERM with a stop that never ends:\n%s", 2*ShutdownEmergency, log)
		}
		if d := time.Since(at); d < ShutdownEmergency || d > ShutdownEmergency+time.Minute {
			t.Errorf("exited %v after SIGTERM, want the %v emergency timer", d, ShutdownEmergency)
		}
		synctest.Wait()
		if _, cancelled := sr.state(); !cancelled {
			t.Error("the stop in flight was not cancelled")
		}
		if !strings.Contains(log.String(), "CRIT: Emergency Shutdown: Attempting to kill everything ourselves") {
			t.Errorf("no emergency line:\n%s", log)
		}
	})
}

// TestShutdownStopFailedRunning: the stop at shutdown fails with the
// resource still running. heartbeat then kills itself ungracefully; so
// does heartbeat-go (exit 100), instead of waiting for ever.
func TestShutdownStopFailedRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := live.NewHub(3)
		r, log, _ := testRuntime(t, "hb1", hub.Endpoint("hb1", "lo"))
		r.runner = &stuckRunner{fail: true}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() { done <- r.run(ctx) }()
		time.Sleep(40 * time.Second)
		stop()
		select {
		case code := <-done:
			if code != ExitEmergency {
				t.Errorf("exit %d, want %d", code, ExitEmergency)
			}
		case <-time.After(time.Minute):
			t.Fatalf("daemon still running a minute after a failed stop:\n%s", log)
		}
		for _, want := range []string{"CRIT: Resource STOP failure. Reboot required!", "CRIT: Killing heartbeat ungracefully!"} {
			if !strings.Contains(log.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if strings.Contains(log.String(), "Heartbeat shutdown complete") {
			t.Errorf("an ungraceful exit claims a complete shutdown:\n%s", log)
		}
	})
}

func TestStopRetries(t *testing.T) {
	t.Setenv("HA_STOPRETRYMAX", "3")
	for _, c := range []struct {
		env  map[string]string
		want int
	}{
		{nil, 3},
		{map[string]string{"STOPRETRYMAX": "5"}, 5},
		{map[string]string{"STOPRETRYMAX": "0"}, -1},
		{map[string]string{"STOPRETRYMAX": "-2"}, -1},
		{map[string]string{"STOPRETRYMAX": "x"}, 0},
	} {
		if got := stopRetries(c.env); got != c.want {
			t.Errorf("stopRetries(%v) = %d, want %d", c.env, got, c.want)
		}
	}
}

// TestStartRefusesWhatCheckRejects: the daemon loads ha.cf with the
// machine checks of heartbeat --check; an unresolvable ucast peer stops
// the start with exit 6 and heartbeat's closing line.
func TestStartRefusesWhatCheckRejects(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ha.cf"), []byte("keepalive 1\ndeadtime 10\nucast lo peer.example\nnode a\nnode b\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "authkeys"), []byte("auth 1\n1 sha1 k\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "haresources"), nil, 0o644)
	old := machineEnv
	t.Cleanup(func() { machineEnv = old })
	var asked []string
	machineEnv = func() config.Env {
		e := config.Offline()
		e.LookupHost = func(h string) error {
			asked = append(asked, h)
			return errors.New("no such host")
		}
		return e
	}
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"-f", "--node", "a", "--config-dir", dir, "--state-dir", filepath.Join(dir, "var"), "--run-dir", filepath.Join(dir, "run")}, nil, &out, &errb)
	if code != ExitNotConfigured {
		t.Errorf("exit %d, want %d\n%s", code, ExitNotConfigured, errb.String())
	}
	if len(asked) != 1 || asked[0] != "peer.example" {
		t.Errorf("host lookups %q, want [peer.example]", asked)
	}
	for _, want := range []string{`cannot resolve hostname "peer.example"`, "ERROR: Configuration error, heartbeat not started."} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestDetachArgsAbsolute: the detached daemon runs in /, so it is given
// the directories resolved at start.
func TestDetachArgsAbsolute(t *testing.T) {
	t.Chdir(t.TempDir())
	args := []string{"-d", "--config-dir", "etc", "--state-dir=var", "--run-dir", "run", "--node", "a"}
	o, ok := parseArgs("heartbeat", args, &bytes.Buffer{})
	if !ok {
		t.Fatal("parse failed")
	}
	wd, _ := os.Getwd()
	got := strings.Join(withAbsDirs(args, o), " ")
	want := "-d --config-dir=" + filepath.Join(wd, "etc") + " --state-dir=" + filepath.Join(wd, "var") + " --run-dir=" + filepath.Join(wd, "run") + " --node a"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	o2, ok := parseArgs("heartbeat", withAbsDirs(args, o), &bytes.Buffer{})
	if !ok || o2.ConfigDir != o.ConfigDir || o2.StateDir != o.StateDir || o2.RunDir != o.RunDir || o2.Node != "a" || o2.Debug != 1 {
		t.Errorf("reparsed %+v, want %+v", o2, o)
	}
}
