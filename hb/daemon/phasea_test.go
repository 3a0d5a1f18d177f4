package daemon

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want func(Options) bool
	}{
		{"no flags starts the daemon", nil, func(o Options) bool { return o.Action == ActStart && !o.Foreground && o.ConfigDir == DefaultConfigDir }},
		{"-dd counts debug", []string{"-dd"}, func(o Options) bool { return o.Debug == 2 }},
		{"-d -d counts debug", []string{"-d", "-d", "-f"}, func(o Options) bool { return o.Debug == 2 && o.Foreground }},
		{"-k stops", []string{"-k"}, func(o Options) bool { return o.Action == ActKill }},
		{"-s status", []string{"-s"}, func(o Options) bool { return o.Action == ActStatus }},
		{"-r reload", []string{"-r"}, func(o Options) bool { return o.Action == ActReload }},
		{"-V version wins over -k", []string{"-kV"}, func(o Options) bool { return o.Action == ActVersion }},
		{"-DW wiki dump", []string{"-DW"}, func(o Options) bool { return o.Action == ActDump && o.Wiki }},
		{"-R -C all", []string{"-R", "-C", "all"}, func(o Options) bool { return o.Restart && o.Holding == "all" }},
		{"-RCforeign", []string{"-RCforeign"}, func(o Options) bool { return o.Restart && o.Holding == "foreign" }},
		{"long options", []string{"--foreground", "--config-dir=/x", "--state-dir", "/s", "--run-dir=/r", "--node", "HB1"},
			func(o Options) bool {
				return o.Foreground && o.ConfigDir == "/x" && o.StateDir == "/s" && o.RunDir == "/r" && o.LocalNodeName() == "hb1"
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var errb bytes.Buffer
			o, ok := parseArgs("heartbeat", c.args, &errb)
			if !ok || !c.want(o) {
				t.Fatalf("parseArgs(%q) = %+v ok=%v stderr=%q", c.args, o, ok, errb.String())
			}
		})
	}
}

func TestBadArgsPrintUsage(t *testing.T) {
	cases := []struct {
		args  []string
		first string
	}{
		{[]string{"-x"}, "heartbeat: invalid option -- 'x'\n"},
		{[]string{"-C", "all"}, ""},
		{[]string{"-r", "-R"}, ""},
		{[]string{"-RC", "bogus"}, ""},
		{[]string{"--bogus"}, "heartbeat: unrecognized option '--bogus'\n"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := Run(t.Context(), c.args, nil, &out, &errb)
		want := c.first + "\nUsage: heartbeat [-dDkMrRsvWlVf] [-C Current-resource-state]\n\t-C only valid with -R\n\t-r is mutually exclusive with -R\n"
		if code != 2 || errb.String() != want || out.Len() != 0 {
			t.Errorf("%q: code %d stdout %q stderr %q, want 2 and %q", c.args, code, out.String(), errb.String(), want)
		}
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := Run(t.Context(), []string{"-V"}, nil, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "3.0.6 (") {
		t.Fatalf("-V: %d %q", code, out.String())
	}
}

func TestStatusAndKillWithoutDaemon(t *testing.T) {
	run := t.TempDir()
	var out, errb bytes.Buffer
	if code := Run(t.Context(), []string{"-s", "--run-dir", run}, nil, &out, &errb); code != 3 || out.String() != "heartbeat is stopped. No process\n" {
		t.Fatalf("-s without pid file: %d %q", code, out.String())
	}
	// A stale pid file (the normal state after a clean stop) gives 1.
	os.WriteFile(filepath.Join(run, PidFileName), formatPid(deadPid(t)), 0o644)
	out.Reset()
	if code := Run(t.Context(), []string{"-s", "--run-dir", run}, nil, &out, &errb); code != 1 || out.String() != "heartbeat is stopped. No process\n" {
		t.Fatalf("-s with stale pid file: %d %q", code, out.String())
	}
	errb.Reset()
	if code := Run(t.Context(), []string{"-k", "--run-dir", run}, nil, &out, &errb); code != 0 || errb.String() != "INFO: Heartbeat already stopped.\n" {
		t.Fatalf("-k: %d %q", code, errb.String())
	}
	// A live pid: ourselves.
	os.WriteFile(filepath.Join(run, PidFileName), formatPid(os.Getpid()), 0o644)
	out.Reset()
	if code := Run(t.Context(), []string{"-s", "--run-dir", run, "--node", "NodeA"}, nil, &out, &errb); code != 0 ||
		!strings.HasPrefix(out.String(), "heartbeat OK [pid "+itoa(os.Getpid())+" et al] is running on ") ||
		!strings.HasSuffix(out.String(), " [nodea]...\n") {
		t.Fatalf("-s running: %d %q", code, out.String())
	}
}

func itoa(i int) string { return strings.TrimSpace(string(formatPid(i))) }

// deadPid returns a pid that is not running: a child that has been reaped.
func deadPid(t *testing.T) int {
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Skip("no /bin/true")
	}
	p.Wait()
	return p.Pid
}

func TestPidFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, PidFileName)
	if err := CreatePidFile(path, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if len(b) != 11 || string(b) != formatPidString(os.Getpid()) {
		t.Fatalf("pid file %q", b)
	}
	// A live holder wins.
	if err := CreatePidFile(path, os.Getpid()+1); err == nil {
		t.Fatal("second CreatePidFile succeeded while the holder lives")
	}
	// A stale file is replaced.
	os.WriteFile(path, formatPid(deadPid(t)), 0o644)
	if err := CreatePidFile(path, os.Getpid()); err != nil {
		t.Fatalf("stale pid file not replaced: %v", err)
	}
	if RunningPid(path) != os.Getpid() {
		t.Fatal("RunningPid does not see us")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

func formatPidString(pid int) string {
	s := itoa(pid)
	return strings.Repeat(" ", 10-len(s)) + s + "\n"
}

func TestLogFormat(t *testing.T) {
	dir := t.TempDir()
	lf, df := filepath.Join(dir, "ha-log"), filepath.Join(dir, "ha-debug")
	var lv slog.LevelVar
	lv.Set(slog.LevelInfo)
	l := NewLogger(LogTargets{LogFile: lf, DebugFile: df, Host: "hb1", Pid: 35, Level: &lv})
	l.Info("Link hb2:eth0 up.")
	l.Warn("node hb2: is dead")
	l.Debug("invisible at debug 0")
	lv.Set(DebugLevel(1))
	l.Debug("visible at debug 1")
	crit(l, "Cluster node %s returning after partition.", "hb2")
	log, _ := os.ReadFile(lf)
	dbg, _ := os.ReadFile(df)
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 3 {
		t.Fatalf("ha-log:\n%s", log)
	}
	for i, want := range []string{" hb1 heartbeat: [35]: info: Link hb2:eth0 up.", " hb1 heartbeat: [35]: WARN: node hb2: is dead", " hb1 heartbeat: [35]: CRIT: Cluster node hb2 returning after partition."} {
		// "Nov 23 03:46:53" is 15 characters.
		if len(lines[i]) < 15 || lines[i][15:] != want {
			t.Errorf("line %d = %q, want <stamp>%q", i, lines[i], want)
		}
		if _, err := time.Parse(time.Stamp, lines[i][:15]); err != nil {
			t.Errorf("line %d stamp: %v", i, err)
		}
	}
	if !strings.Contains(string(dbg), "heartbeat: [35]: debug: visible at debug 1\n") || strings.Contains(string(dbg), "invisible") ||
		strings.Count(string(dbg), "\n") != 4 {
		t.Fatalf("ha-debug:\n%s", dbg)
	}
}

func TestSyslog(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "log")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skip(err)
	}
	defer c.Close()
	l := NewLogger(LogTargets{Facility: "local7", SyslogPath: sock, Host: "hb1", Pid: 7})
	l.Warn("node hb2: is dead")
	buf := make([]byte, 512)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(buf[:n])
	// local7 = 23, warning = 4: 23*8+4 = 188.
	if !strings.HasPrefix(got, "<188>") || !strings.HasSuffix(got, " heartbeat: [7]: WARN: node hb2: is dead") {
		t.Fatalf("syslog datagram %q", got)
	}
}

func TestSdNotify(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skip(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	if err := sdNotify("READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("%q %v", buf[:n], err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Fatal("without NOTIFY_SOCKET sdNotify must do nothing")
	}
}

func TestLoadAvg(t *testing.T) {
	ld := LoadAvg()
	if strings.Count(ld, " ") != 4 || strings.HasSuffix(ld, "\n") {
		t.Fatalf("ld %q", ld)
	}
}

func TestLoadAvgCachedForASecond(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	reads := 0
	c := &loadAvgCache{now: func() time.Time { return now }, read: func() string { reads++; return fmt.Sprint("0.00 0.00 0.00 1/64 ", reads) }}
	first := c.get()
	now = now.Add(999 * time.Millisecond)
	if got := c.get(); got != first || reads != 1 {
		t.Fatalf("within a second: %q after %q, %d reads; want the first value, one read", got, first, reads)
	}
	now = now.Add(time.Millisecond)
	if got := c.get(); got == first || reads != 2 {
		t.Fatalf("after a second: %q, %d reads; want a new read", got, reads)
	}
	now = now.Add(-time.Hour) // the clock stepped back: read again rather than serve a stale value for an hour
	if c.get(); reads != 3 {
		t.Fatalf("after the clock went back: %d reads, want 3", reads)
	}
}

// TestConfigErrorsInLogFile: a start refused for its configuration says
// why in the logfile ha.cf names too (heartbeat's ha-log has the errors
// and its closing line), not only on stderr.
func TestConfigErrorsInLogFile(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "ha-log")
	os.WriteFile(filepath.Join(dir, "ha.cf"), []byte("logfile "+logf+"\nkeepalive 1\ndeadtime 10\nudpport 7694\nucast lo 127.0.0.2\nundport 5\nnode a\nnode b\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "authkeys"), []byte("auth 1\n1 crc\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "haresources"), nil, 0o644)
	var out, errb bytes.Buffer
	if rc := start(t.Context(), Options{ConfigDir: dir, Node: "a", Foreground: true, StateDir: dir, RunDir: dir}, &out, &errb); rc != ExitNotConfigured {
		t.Fatalf("exit %d, want %d; stderr:\n%s", rc, ExitNotConfigured, errb.String())
	}
	b, err := os.ReadFile(logf)
	if err != nil {
		t.Fatalf("no logfile: %v; stderr:\n%s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !strings.Contains(string(b), "undport") || !strings.HasSuffix(lines[len(lines)-1], "ERROR: Configuration error, heartbeat not started.") {
		t.Fatalf("logfile does not say why:\n%s", b)
	}
	if !strings.Contains(lines[0], " a heartbeat: [") {
		t.Errorf("logfile lines should name the node: %q", lines[0])
	}
}

func TestVerboseDumpsConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ha.cf"), []byte("keepalive 500ms\ndeadtime 4\nudpport 7694\nucast lo 127.0.0.2\nnode a\nnode b\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "authkeys"), []byte("auth 1\n1 crc\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "haresources"), nil, 0o644)
	var out, errb bytes.Buffer
	// heartbeat -v dumps right after validation, before it starts the
	// daemon; check the dump on the loaded config.
	cfg, err := loadConfig(Options{ConfigDir: dir, Node: "a"}, NewLogger(LogTargets{Stderr: &errb}))
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	dumpConfig(cfg, 0, &out)
	for _, want := range []string{"keepalive 500ms\n", "deadtime 4\n", "udpport 7694\n", "node a\nnode b\n", "ucast lo 127.0.0.2\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-v output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDumpDefaults(t *testing.T) {
	var out bytes.Buffer
	if code := Run(t.Context(), []string{"-D"}, nil, &out, &out); code != 0 {
		t.Fatal(code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2+len(defaults) || !strings.HasPrefix(lines[0], "Directive") || !strings.HasPrefix(lines[2], "cluster ") ||
		!strings.Contains(lines[3+1], "keepalive") {
		t.Fatalf("-D:\n%s", out.String())
	}
	// Columns are aligned: "Default" starts where each default starts.
	col := strings.Index(lines[0], "Default")
	if !strings.HasPrefix(lines[2][col:], "linux-ha") {
		t.Fatalf("misaligned -D table:\n%s", out.String())
	}
}

func FuzzParseArgs(f *testing.F) {
	for _, s := range []string{"-dd -f", "-k", "-s --run-dir /r", "-RC all", "-C", "--node", "--config-dir=/x -D -W", "-x", "-ddddM -l -v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var errb bytes.Buffer
		o, ok := parseArgs("heartbeat", strings.Fields(s), &errb)
		if ok && errb.Len() != 0 {
			t.Fatalf("accepted %q but printed %q", s, errb.String())
		}
		if !ok && !strings.Contains(errb.String(), "Usage: heartbeat ") {
			t.Fatalf("rejected %q without the usage text", s)
		}
		if ok && o.Holding != "" && !o.Restart {
			t.Fatalf("%q: -C accepted without -R", s)
		}
	})
}
