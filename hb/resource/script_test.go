package resource

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/rm"
)

// script writes an executable shell script.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func res(raw string) haresources.Resource {
	parts := strings.Split(raw, "::")
	return haresources.Resource{Raw: raw, Script: parts[0], Args: parts[1:]}
}

func TestStatusTextRule(t *testing.T) {
	cases := map[string]bool{
		"":                                 false,
		"stopped":                          false,
		"Dummy ga is running":              true,
		"INFO:  Running OK":                true,
		"OK":                               true,
		"ok":                               false,
		"httpd is not running":             false,
		"NOT currently Running":            false,
		"Not\nrunning at all":              true, // NOT must be followed by a blank
		"not here\nand not Running either": false,
		"Active: active (running)":         true,
		"INFO:  Resource is stopped":       false,
	}
	for out, want := range cases {
		if got := StatusRunning(out); got != want {
			t.Errorf("StatusRunning(%q) = %v, want %v", out, got, want)
		}
	}
}

func TestScriptSearchOrderAndArgs(t *testing.T) {
	rd, initd := t.TempDir(), t.TempDir()
	log := filepath.Join(t.TempDir(), "calls")
	script(t, rd, "both", `echo "resource.d $*" >> `+log+"\n")
	script(t, initd, "both", `echo "init.d $*" >> `+log+"\n")
	script(t, initd, "lsb", `echo "init.d lsb $*" >> `+log+"\n")
	// Not executable: skipped.
	if err := os.WriteFile(filepath.Join(rd, "lsb"), []byte("#!/bin/sh\nexit 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory is not a script.
	if err := os.Mkdir(filepath.Join(rd, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	r := &ScriptRunner{Dirs: []string{rd, initd}, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	ctx := context.Background()
	for _, c := range []struct {
		raw string
		op  Op
	}{{"both::a::b c", Start}, {"lsb", Stop}} {
		out, err := r.Run(ctx, res(c.raw), c.op)
		if err != nil {
			t.Fatalf("%s: %v", c.raw, err)
		}
		if out.ExitCode != 0 || out.Duration <= 0 {
			t.Fatalf("%s: result %+v", c.raw, out)
		}
	}
	got, _ := os.ReadFile(log)
	want := "resource.d a b c start\ninit.d lsb stop\n"
	if string(got) != want {
		t.Fatalf("calls:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(buf.String(), "Running "+filepath.Join(rd, "both")+" a b c start") {
		t.Fatalf("no Running log line:\n%s", buf.String())
	}
	if _, err := r.Run(ctx, res("dir"), Start); !errors.Is(err, ErrNotFound) {
		t.Fatalf("directory: %v", err)
	}
	if _, err := r.Run(ctx, res("../etc/passwd"), Start); !errors.Is(err, ErrNotFound) {
		t.Fatalf("path escape: %v", err)
	}
	if _, err := r.Run(ctx, res("missing"), Start); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func TestScriptExitCodeAndStatusText(t *testing.T) {
	d := t.TempDir()
	script(t, d, "failer", "echo oops >&2; exit 3\n")
	script(t, d, "liar", `case $1 in status) echo "it is running"; exit 3;; esac`+"\n")
	script(t, d, "honest", `case $1 in status) echo "stopped"; exit 0;; esac`+"\n")
	var buf bytes.Buffer
	r := &ScriptRunner{Dirs: []string{d}, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	ctx := context.Background()
	out, err := r.Run(ctx, res("failer"), Start)
	if !errors.Is(err, ErrExit) || out.ExitCode != 3 {
		t.Fatalf("failer: %+v %v", out, err)
	}
	if !strings.Contains(buf.String(), "Return code 3 from "+filepath.Join(d, "failer")) || !strings.Contains(buf.String(), "oops") {
		t.Fatalf("log:\n%s", buf.String())
	}
	// The status exit code is ignored; only the text counts.
	if out, err := r.Run(ctx, res("liar"), Status); err != nil || !out.Running || out.ExitCode != 3 {
		t.Fatalf("liar: %+v %v", out, err)
	}
	if out, err := r.Run(ctx, res("honest"), Status); err != nil || out.Running {
		t.Fatalf("honest: %+v %v", out, err)
	}
}

func TestScriptTimeoutKillsTheGroup(t *testing.T) {
	d := t.TempDir()
	pidf := filepath.Join(t.TempDir(), "pid")
	// The script and a child of it hang.
	script(t, d, "hang", "sleep 60 & echo $! > "+pidf+"; wait\n")
	var buf bytes.Buffer
	r := &ScriptRunner{Dirs: []string{d}, Timeout: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	start := time.Now()
	out, err := r.Run(context.Background(), res("hang"), Start)
	if !errors.Is(err, ErrTimeout) || !out.TimedOut {
		t.Fatalf("hang: %+v %v", out, err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %v", el)
	}
	if !strings.Contains(buf.String(), "timed out") {
		t.Fatalf("not reported:\n%s", buf.String())
	}
	b, _ := os.ReadFile(pidf)
	pid := strings.TrimSpace(string(b))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat("/proc/" + pid); pid == "" || os.IsNotExist(err) {
			break
		}
		if st, _ := os.ReadFile("/proc/" + pid + "/stat"); strings.Contains(string(st), ") Z ") {
			break // zombie: killed, not yet reaped by init
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %s of the hung script still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fake is a scripted Runner recording calls.
type fake struct {
	calls    []string
	running  map[string]bool
	failOp   map[string]int // "raw op" -> number of failures left (-1 forever)
	statusUp map[string]bool
}

func (f *fake) Run(ctx context.Context, r haresources.Resource, op Op) (Result, error) {
	f.calls = append(f.calls, r.Raw+" "+string(op))
	k := r.Raw + " " + string(op)
	if n := f.failOp[k]; n != 0 {
		if n > 0 {
			f.failOp[k] = n - 1
		}
		return Result{ExitCode: 1}, ErrExit
	}
	switch op {
	case Start:
		f.running[r.Raw] = true
	case Stop:
		delete(f.running, r.Raw)
	case Status:
		return Result{Running: f.running[r.Raw] || f.statusUp[r.Raw]}, nil
	}
	return Result{}, nil
}

func grp(raws ...string) haresources.Group {
	g := haresources.Group{Node: "nodea"}
	for _, r := range raws {
		g.Resources = append(g.Resources, res(r))
	}
	return g
}

func TestGroupOrder(t *testing.T) {
	f := &fake{running: map[string]bool{"b": true}, failOp: map[string]int{}}
	g := &Groups{Runner: f, RetryDelay: time.Millisecond}
	if err := g.Start(context.Background(), grp("a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	want := []string{"a status", "a start", "b status", "c status", "c start"}
	if !slices.Equal(f.calls, want) {
		t.Fatalf("start calls %v, want %v", f.calls, want)
	}
	f.calls = nil
	if err := g.Stop(context.Background(), grp("a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	if want := []string{"c stop", "b stop", "a stop"}; !slices.Equal(f.calls, want) {
		t.Fatalf("stop calls %v, want %v", f.calls, want)
	}
}

func TestGroupStartFailureStopsWholeGroup(t *testing.T) {
	f := &fake{running: map[string]bool{}, failOp: map[string]int{"b start": -1}}
	g := &Groups{Runner: f, RetryDelay: time.Millisecond}
	err := g.Start(context.Background(), grp("a", "b", "c"))
	if !errors.Is(err, ErrStartFailed) || errors.Is(err, ErrStopFailedRunning) {
		t.Fatalf("err %v", err)
	}
	want := []string{"a status", "a start", "b status", "b start", "c stop", "b stop", "a stop"}
	if !slices.Equal(f.calls, want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
	if len(f.running) != 0 {
		t.Fatalf("still running: %v", f.running)
	}
}

func TestGroupStopRetriesThenReboot(t *testing.T) {
	// Fails twice, then succeeds.
	f := &fake{running: map[string]bool{"a": true}, failOp: map[string]int{"a stop": 2}}
	g := &Groups{Runner: f, RetryDelay: time.Millisecond}
	if err := g.Stop(context.Background(), grp("a")); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(f.calls, ","), "a stop"); n != 3 {
		t.Fatalf("%d stop calls", n)
	}
	// Always fails and still runs: reboot required.
	f = &fake{running: map[string]bool{"a": true}, failOp: map[string]int{"a stop": -1}}
	g = &Groups{Runner: f, RetryDelay: time.Millisecond, StopRetries: 3}
	if err := g.Stop(context.Background(), grp("a", "b")); !errors.Is(err, ErrStopFailedRunning) {
		t.Fatalf("err %v", err)
	}
	if n := strings.Count(strings.Join(f.calls, ","), "a stop"); n != 4 {
		t.Fatalf("%d stop calls", n)
	}
	// Always fails but does not run: not LSB-compliant, no reboot.
	f = &fake{running: map[string]bool{}, failOp: map[string]int{"a stop": -1}}
	g = &Groups{Runner: f, RetryDelay: time.Millisecond, StopRetries: 1}
	if err := g.Stop(context.Background(), grp("a")); err != nil {
		t.Fatalf("err %v", err)
	}
}

func TestGroupsDoMapsResults(t *testing.T) {
	f := &fake{running: map[string]bool{}, failOp: map[string]int{"b start": -1}}
	g := &Groups{Runner: f, RetryDelay: time.Millisecond, StopRetries: 1}
	ctx := context.Background()
	if r := g.Do(ctx, rm.Action{Kind: rm.StartGroup, Group: grp("a")}); r != rm.OK {
		t.Fatalf("start a: %v", r)
	}
	if r := g.Do(ctx, rm.Action{Kind: rm.StartGroup, Group: grp("b")}); r != rm.Failed {
		t.Fatalf("start b: %v", r)
	}
	f.failOp["a stop"] = -1
	if r := g.Do(ctx, rm.Action{Kind: rm.StopGroup, Group: grp("a")}); r != rm.StopFailedRun {
		t.Fatalf("stop a: %v", r)
	}
}

func TestStatusTimeoutIsShorter(t *testing.T) {
	d := t.TempDir()
	script(t, d, "slowstatus", `case $1 in status) sleep 60;; esac`+"\n")
	r := &ScriptRunner{Dirs: []string{d}, Timeout: time.Hour, StatusTimeout: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	out, err := r.Run(context.Background(), res("slowstatus"), Status)
	if !errors.Is(err, ErrTimeout) || !out.TimedOut {
		t.Fatalf("%+v %v", out, err)
	}
	if out, err := r.Run(context.Background(), res("slowstatus"), Start); err != nil || out.TimedOut {
		t.Fatalf("start: %+v %v", out, err)
	}
}
