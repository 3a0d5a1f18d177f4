package hbstandby

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/ctl/ctltest"
)

const (
	sbPath = "/usr/share/heartbeat/hb_standby"
	toPath = "/usr/share/heartbeat/hb_takeover"
)

func tool(standby bool, dir string) Tool {
	name, path := "hb_takeover", toPath
	if standby {
		name, path = "hb_standby", sbPath
	}
	return Tool{Name: name, Path: path, Standby: standby, RunDir: dir,
		Now: func() time.Time { return time.Date(2026, 11, 23, 3, 50, 29, 0, time.UTC) }}
}

// The cases follow heartbeat 3.0.6's scripts (shared/spec/tools.md §6).
func TestArgumentsOutputAndExitCodes(t *testing.T) {
	usageOut := "usage:\n"
	for _, tc := range []struct {
		name     string
		standby  bool
		args     []string
		stdout   string
		stderr   string
		exit     int
		sentCall string
	}{
		{"standby without argument means all", true, nil, "", "Nov 23 03:50:29 Going standby [all].\n", 0, "standby all"},
		{"standby all", true, []string{"all"}, "", "Nov 23 03:50:29 Going standby [all].\n", 0, "standby all"},
		{"standby local", true, []string{"local"}, "", "Nov 23 03:50:29 Going standby [local].\n", 0, "standby local"},
		{"standby foreign", true, []string{"foreign"}, "", "Nov 23 03:50:29 Going standby [foreign].\n", 0, "standby foreign"},
		{"standby failback is foreign", true, []string{"failback"}, "", "Nov 23 03:50:29 Going standby [foreign].\n", 0, "standby foreign"},
		{"standby wrong set", true, []string{"some"}, sbPath + ": wrong resources(some).\n" + usageOut, sbPath + " [all|foreign|local|failback]\n", 1, ""},
		{"standby two arguments", true, []string{"all", "local"}, sbPath + ": too many arguments\n" + usageOut, sbPath + " [all|foreign|local|failback]\n", 1, ""},
		{"standby --help", true, []string{"--help"}, usageOut, sbPath + " [all|foreign|local|failback]\n", 1, ""},
		{"takeover without argument means all", false, nil, "", "", 0, "takeover all"},
		{"takeover failback passed on", false, []string{"failback"}, "", "", 0, "takeover failback"},
		{"takeover local", false, []string{"local"}, "", "", 0, "takeover local"},
		{"takeover wrong set", false, []string{"ALL"}, toPath + ": wrong resources(ALL).\n" + usageOut, toPath + " [all|foreign|local|failback]\n", 1, ""},
		{"takeover --help", false, []string{"--help"}, usageOut, toPath + " [all|foreign|local|failback]\n", 1, ""},
		{"takeover too many", false, []string{"a", "b", "c"}, toPath + ": too many arguments\n" + usageOut, toPath + " [all|foreign|local|failback]\n", 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &ctltest.Fake{}
			dir := ctltest.Serve(t, f)
			var o, e bytes.Buffer
			code := tool(tc.standby, dir).Run(context.Background(), tc.args, &o, &e)
			if o.String() != tc.stdout || e.String() != tc.stderr || code != tc.exit {
				t.Fatalf("got stdout %q stderr %q exit %d\nwant stdout %q stderr %q exit %d", o.String(), e.String(), code, tc.stdout, tc.stderr, tc.exit)
			}
			var want []string
			if tc.sentCall != "" {
				want = []string{tc.sentCall}
			}
			if got := f.Recorded(); !reflect.DeepEqual(got, want) {
				t.Fatalf("daemon got %q, want %q", got, want)
			}
		})
	}
}

func TestOnTerminalNoDate(t *testing.T) {
	dir := ctltest.Serve(t, &ctltest.Fake{})
	tl := tool(true, dir)
	tl.TTY = true
	var o, e bytes.Buffer
	if code := tl.Run(context.Background(), nil, &o, &e); code != 0 || e.String() != "Going standby [all].\n" {
		t.Fatalf("exit %d stderr %q", code, e.String())
	}
}

func TestLogFile(t *testing.T) {
	dir := ctltest.Serve(t, &ctltest.Fake{})
	tl := tool(true, dir)
	tl.LogFile = filepath.Join(t.TempDir(), "ha-log")
	var o, e bytes.Buffer
	if code := tl.Run(context.Background(), []string{"local"}, &o, &e); code != 0 || e.Len() != 0 {
		t.Fatalf("exit %d stderr %q", code, e.String())
	}
	b, err := os.ReadFile(tl.LogFile)
	if err != nil || string(b) != "Nov 23 03:50:29 Going standby [local].\n" {
		t.Fatalf("log file %q, %v", b, err)
	}
}

func TestDaemonNotRunning(t *testing.T) {
	for _, standby := range []bool{true, false} {
		dir := t.TempDir()
		var o, e bytes.Buffer
		code := tool(standby, dir).Run(context.Background(), []string{"all"}, &o, &e)
		if code != 1 || o.Len() != 0 || !strings.Contains(e.String(), "heartbeat is not running (no control socket at "+ctl.SocketPath(dir)+")") {
			t.Fatalf("exit %d stdout %q stderr %q", code, o.String(), e.String())
		}
		if strings.Contains(e.String(), "Going standby") {
			t.Fatalf("logged a standby that was never requested: %q", e.String())
		}
	}
}

func TestDaemonRefuses(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{ctl.ErrDenied, "only root may change resources"},
		{fmt.Errorf("Standby mode only implemented when nice_failback on: %w", ctl.ErrFailed), "nice_failback on"},
	} {
		dir := ctltest.Serve(t, &ctltest.Fake{Err: tc.err})
		var o, e bytes.Buffer
		code := tool(false, dir).Run(context.Background(), nil, &o, &e)
		if code != 1 || !strings.Contains(e.String(), toPath+": heartbeat refused the request: ") || !strings.Contains(e.String(), tc.want) {
			t.Fatalf("exit %d stderr %q", code, e.String())
		}
	}
}

func TestRunDirOption(t *testing.T) {
	f := &ctltest.Fake{}
	dir := ctltest.Serve(t, f)
	var o, e bytes.Buffer
	if code := tool(false, "/nonexistent").Run(context.Background(), []string{"--run-dir", dir, "foreign"}, &o, &e); code != 0 {
		t.Fatalf("exit %d stderr %q", code, e.String())
	}
	if code := tool(false, "/nonexistent").Run(context.Background(), []string{"--run-dir=" + dir}, &o, &e); code != 0 {
		t.Fatalf("exit %d stderr %q", code, e.String())
	}
	if got := f.Recorded(); !reflect.DeepEqual(got, []string{"takeover foreign", "takeover all"}) {
		t.Fatalf("got %q", got)
	}
}

// With heartbeat 3.0.6 still running (no control socket, its FIFO read),
// the request goes into the FIFO as heartbeat's scripts write it.
func TestFIFOFallback(t *testing.T) {
	for _, tc := range []struct {
		standby bool
		args    []string
		msg     string
	}{
		{true, []string{"failback"}, ">>>\nt=ask_resources\nrsc_hold=foreign\ninfo=me\n<<<\n"},
		{true, nil, ">>>\nt=ask_resources\nrsc_hold=all\ninfo=me\n<<<\n"},
		{false, []string{"failback"}, ">>>\nt=hb_takeover\nrsc_hold=failback\n<<<\n"},
		{false, []string{"local"}, ">>>\nt=hb_takeover\nrsc_hold=local\n<<<\n"},
	} {
		dir := t.TempDir()
		fifo := filepath.Join(dir, "fifo")
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		tl := tool(tc.standby, dir) // no control socket in dir
		tl.FIFO = fifo
		var o, e bytes.Buffer
		code := tl.Run(context.Background(), tc.args, &o, &e)
		buf := make([]byte, 512)
		n, _ := r.Read(buf)
		r.Close()
		if code != 0 || string(buf[:n]) != tc.msg {
			t.Errorf("%v %q: exit %d, fifo got %q, want %q; stderr %q", tc.standby, tc.args, code, buf[:n], tc.msg, e.String())
		}
	}
}

func TestFIFOWithoutReaderIsNotRunning(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	regular := filepath.Join(dir, "regular")
	os.WriteFile(regular, nil, 0o600)
	for _, path := range []string{fifo, regular, filepath.Join(dir, "missing")} {
		tl := tool(true, dir)
		tl.FIFO = path
		var o, e bytes.Buffer
		if code := tl.Run(context.Background(), nil, &o, &e); code != 1 || !strings.Contains(e.String(), "heartbeat is not running") || strings.Contains(e.String(), "Going standby") {
			t.Errorf("%s: exit %d stderr %q", path, code, e.String())
		}
	}
	if b, _ := os.ReadFile(regular); len(b) != 0 {
		t.Errorf("wrote into a regular file: %q", b)
	}
}
