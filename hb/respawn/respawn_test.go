package respawn

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestPolicy(t *testing.T) {
	t0 := time.Unix(1000, 0)
	short := func(p *Policy, e Exit) Decision { return p.Died(t0, t0.Add(time.Second), e, false) }

	t.Run("a long run is restarted at once", func(t *testing.T) {
		var p Policy
		if d := p.Died(t0, t0.Add(ShortRun), Exit{Code: 1}, false); !d.Restart || d.Delay != 0 {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("eleven starts then respawning too fast", func(t *testing.T) {
		var p Policy
		restarts := 0
		for i := 0; i < 20; i++ {
			d := short(&p, Exit{Code: 1})
			if d.TooFast {
				break
			}
			if !d.Restart || d.Delay != ShortDelay {
				t.Fatalf("death %d: %+v", i, d)
			}
			restarts++
		}
		// heartbeat: 11 starts, 10 "Respawning" lines, then stop.
		if restarts != 10 {
			t.Fatalf("%d restarts", restarts)
		}
	})
	t.Run("a long run resets the count", func(t *testing.T) {
		var p Policy
		for i := 0; i < 30; i++ {
			var d Decision
			if i%5 == 4 {
				d = p.Died(t0, t0.Add(time.Minute), Exit{Code: 1}, false)
			} else {
				d = short(&p, Exit{Code: 1})
			}
			if !d.Restart {
				t.Fatalf("death %d: %+v", i, d)
			}
		}
	})
	t.Run("exit code 100 is not restarted", func(t *testing.T) {
		var p Policy
		if d := short(&p, Exit{Code: 100}); d.Restart || d.TooFast {
			t.Fatalf("%+v", d)
		}
		// killed by signal 100 would not be the code
		if d := p.Died(t0, t0.Add(time.Minute), Exit{Signaled: true, Signal: 9}, false); !d.Restart {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("nothing restarts while stopping", func(t *testing.T) {
		p := Policy{FailFast: true}
		if d := p.Died(t0, t0, Exit{Code: 1}, true); d != (Decision{}) {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("failfast reboots on failure only", func(t *testing.T) {
		p := Policy{FailFast: true}
		if d := short(&p, Exit{Code: 2}); !d.Reboot {
			t.Fatalf("%+v", d)
		}
		if d := short(&p, Exit{Signaled: true, Signal: 15}); !d.Reboot {
			t.Fatalf("%+v", d)
		}
		if d := short(&p, Exit{Code: 0}); d.Reboot || !d.Restart {
			t.Fatalf("%+v", d)
		}
	})
}

// logBuf collects log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) count(s string) int { return strings.Count(l.String(), s) }

func newSup(t *testing.T, o Options) (*Supervisor, *logBuf) {
	lb := &logBuf{}
	o.Log = slog.New(slog.NewTextHandler(lb, nil))
	if o.Lookup == nil {
		o.Lookup = func(string) (Cred, error) {
			return Cred{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}, nil
		}
	}
	s := New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s, lb
}

func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func lines(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\n")
}

func TestRestartUntilTooFast(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	p := script(t, dir, "die", fmt.Sprintf("echo run >> %s\nexit 3\n", runs))
	s, lb := newSup(t, Options{MaxShort: 3, Delay: 20 * time.Millisecond})
	if err := s.Start(Spec{User: "me", Command: p + " -x", Path: p}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "respawning too fast", 10*time.Second, func() bool { return lb.count("respawning too fast") == 1 })
	st := s.States()
	if lines(runs) != 4 || len(st) != 1 || st[0].Starts != 4 || !st[0].Stopped || st[0].LastExit != "exit 3" {
		t.Fatalf("runs %d, state %+v\n%s", lines(runs), st, lb)
	}
	if n := lb.count("Respawning client"); n != 3 {
		t.Fatalf("%d respawning lines\n%s", n, lb)
	}
	if n := lb.count("exited with return code 3."); n != 4 {
		t.Fatalf("%d exit lines\n%s", n, lb)
	}
}

func TestRestartAfterLongRun(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	// Each run is "long" (ShortRun is 1 ms), so there is no limit.
	p := script(t, dir, "die", fmt.Sprintf("echo run >> %s\nsleep 0.05\nexit 1\n", runs))
	s, _ := newSup(t, Options{ShortRun: time.Millisecond, MaxShort: 1})
	s.Start(Spec{User: "me", Command: p})
	waitFor(t, "six runs", 20*time.Second, func() bool { return lines(runs) >= 6 })
	if st := s.States(); st[0].Stopped {
		t.Fatalf("stopped: %+v", st)
	}
}

func TestExit100NotRestarted(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	p := script(t, dir, "ipfail", fmt.Sprintf("echo run >> %s\nexit 100\n", runs))
	s, lb := newSup(t, Options{Delay: time.Millisecond})
	s.Start(Spec{User: "me", Command: p})
	waitFor(t, "exit", 10*time.Second, func() bool { return len(s.States()) == 1 && s.States()[0].Stopped })
	if lines(runs) != 1 || lb.count("Respawning") != 0 || lb.count("exited with return code 100.") != 1 {
		t.Fatalf("runs %d\n%s", lines(runs), lb)
	}
}

func TestCannotExec(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "notexec")
	os.WriteFile(p, []byte("#!/bin/sh\n"), 0o644)
	s, lb := newSup(t, Options{})
	s.Start(Spec{User: "me", Command: p + " arg"})
	waitFor(t, "Cannot exec", 5*time.Second, func() bool { return lb.count("Cannot exec "+p+" arg") == 1 })
	if st := s.States(); st[0].Starts != 0 || !st[0].Stopped {
		t.Fatalf("%+v", st)
	}
}

func TestUnknownUser(t *testing.T) {
	s := New(Options{Lookup: LookupUser})
	if err := s.Start(Spec{User: "no-such-user-hbgo", Command: "/bin/true"}); err == nil {
		t.Fatal("started as an unknown user")
	}
}

// Stop signals each whole process group (a grandchild too), in reverse
// order, waiting for each; nothing restarts.
func TestStopKillsProcessGroupsInReverseOrder(t *testing.T) {
	dir := t.TempDir()
	order := filepath.Join(dir, "order")
	var specs []Spec
	for _, n := range []string{"one", "two"} {
		pidf := filepath.Join(dir, n+".grandchild")
		p := script(t, dir, n, fmt.Sprintf("trap 'echo %s >> %s; kill $!; exit 0' TERM\nsleep 300 &\necho $! > %s\nwait\n", n, order, pidf))
		specs = append(specs, Spec{User: "me", Command: p})
	}
	s, lb := newSup(t, Options{})
	for _, sp := range specs {
		s.Start(sp)
	}
	waitFor(t, "both running", 10*time.Second, func() bool {
		return lines(filepath.Join(dir, "one.grandchild")) == 1 && lines(filepath.Join(dir, "two.grandchild")) == 1
	})
	var pids []int
	for _, n := range []string{"one", "two"} {
		b, _ := os.ReadFile(filepath.Join(dir, n+".grandchild"))
		var pid int
		fmt.Sscan(string(b), &pid)
		pids = append(pids, pid)
	}
	s.Stop(context.Background())
	b, _ := os.ReadFile(order)
	if string(b) != "two\none\n" {
		t.Fatalf("stop order %q\n%s", b, lb)
	}
	for _, pid := range pids {
		// gone, or a zombie left to init
		waitFor(t, "grandchild gone", 5*time.Second, func() bool { return !alive(pid) })
	}
	if lb.count("killing ") != 2 || lb.count("Respawning") != 0 {
		t.Fatalf("%s", lb)
	}
	for _, st := range s.States() {
		if st.PID != 0 {
			t.Fatalf("%+v", st)
		}
	}
}

func TestChildEnvironmentAndShell(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	t.Setenv("HA_TESTVAR", "from-daemon")
	p := script(t, dir, "env", fmt.Sprintf("echo \"$HA_TESTVAR $1 $2\" > %s.tmp; mv %s.tmp %s\nexit 100\n", out, out, out))
	s, _ := newSup(t, Options{})
	// The line goes through the shell: quoting applies.
	s.Start(Spec{User: "me", Command: p + " 'a b' c", Path: p})
	waitFor(t, "output", 10*time.Second, func() bool { return lines(out) == 1 })
	b, _ := os.ReadFile(out)
	if string(b) != "from-daemon a b c\n" {
		t.Fatalf("%q", b)
	}
}

func TestRunsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change user")
	}
	cred, err := LookupUser("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	dir, err := os.MkdirTemp("", "respawn-user")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	out := filepath.Join(dir, "id")
	p := script(t, dir, "id", fmt.Sprintf("echo \"$(id -u) $(id -g)\" > %s.tmp; mv %s.tmp %s\nexit 100\n", out, out, out))
	s, lb := newSup(t, Options{Lookup: LookupUser})
	if err := s.Start(Spec{User: "nobody", Command: p}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "id output", 10*time.Second, func() bool { return lines(out) == 1 })
	b, _ := os.ReadFile(out)
	if want := fmt.Sprintf("%d %d\n", cred.UID, cred.GID); string(b) != want {
		t.Fatalf("ran as %q, want %q\n%s", b, want, lb)
	}
	if lb.count(fmt.Sprintf("as uid %d  gid %d", cred.UID, cred.GID)) != 1 {
		t.Fatalf("%s", lb)
	}
}

// alive reports whether pid runs (exists and is not a zombie).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
