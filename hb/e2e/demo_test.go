package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// TestMakeDemo runs tools/demo.sh (`make demo`) with the test binary: it
// must show hb2 taking the resource over after hb1's kill and hb1 getting
// it back (auto_failback), exit 0, and leave neither a daemon it started
// nor its working directory behind.
func TestMakeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("make demo takes about 20 s: skipped with -short")
	}
	bin := testbin.Heartbeat(t)
	root := testbin.Root(t)
	tmp := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", filepath.Join(root, "tools", "demo.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "HEARTBEAT="+bin, "DEMO_KEEPALIVE=200ms", "DEMO_DEADTIME=2",
		"DEMO_PORT="+strconv.Itoa(FreePort(t)), "TMPDIR="+tmp)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so a hung run can be ended with everything
	// it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	text := out.String()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, text)
	}

	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^started hb1 \(pid \d+`),
		regexp.MustCompile(`(?m)^started hb2 \(pid \d+`),
		regexp.MustCompile(`== resource demo::web is held by hb1\b`),
		regexp.MustCompile(`== hb2 took over demo::web [0-9.]+ s after the kill`),
		regexp.MustCompile(`== demo::web is back on hb1, [0-9.]+ s after the restart`),
		regexp.MustCompile(`(?m)^demo: done$`),
	} {
		if !want.MatchString(text) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The takeover comes before the failback.
	if a, b := strings.Index(text, "hb2 took over"), strings.Index(text, "is back on hb1"); a < 0 || b < a {
		t.Errorf("takeover (at %d) not before failback (at %d)", a, b)
	}

	// Every daemon it started (hb1 twice, hb2 once) is gone.
	started := regexp.MustCompile(`(?m)^started hb[12] \(pid (\d+)`).FindAllStringSubmatch(text, -1)
	if len(started) != 3 {
		t.Errorf("%d daemons started, want 3 (hb1, hb2, hb1 again)", len(started))
	}
	for _, m := range started {
		pid, _ := strconv.Atoi(m[1])
		if _, ok := WaitFor(5*time.Second, func() bool { return !runningDaemon(pid, bin) }); !ok {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("daemon pid %d outlived demo.sh", pid)
		}
	}
	// And its working directory is removed.
	left, _ := filepath.Glob(filepath.Join(tmp, "heartbeat-demo.*"))
	if len(left) > 0 {
		t.Errorf("demo.sh left %v behind", left)
	}
	if t.Failed() {
		t.Logf("demo.sh output:\n%s", text)
	}
}

// runningDaemon reports whether pid is a live (not zombie) process
// running bin.
func runningDaemon(pid int, bin string) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return err != nil || exe == bin || strings.HasPrefix(exe, bin)
}
