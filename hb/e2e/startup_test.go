package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// startRelative starts node n with its directories given relative to
// n.Dir, the directory it runs in, and returns its combined output.
func startRelative(t *testing.T, n *Node, env ...string) (*exec.Cmd, *netlab.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(testbin.Heartbeat(t), "-f", "--node", n.Spec.Name, "--bind", n.Spec.Addr,
		"--config-dir", "etc", "--state-dir", "var", "--run-dir", "run")
	cmd.Dir = n.Dir
	cmd.Env = append(os.Environ(), env...)
	p := startFG(t, cmd)
	t.Cleanup(func() { // runs before startFG's kill: the output is complete only after it
		p.kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", n.Spec.Name, p.out.String())
		}
	})
	return cmd, p.out
}

// TestLoopbackRelativeDirs: heartbeat -f --config-dir etc ... started in
// the node's directory runs its resource scripts (resource.d/demo) and
// serves cl_status as with absolute paths.
func TestLoopbackRelativeDirs(t *testing.T) {
	d := newDemo(t, "on")
	hb1 := d.Nodes["hb1"]
	startRelative(t, hb1, "DEMO_DIR="+d.demoDir)
	d.start("hb2")
	d.waitHolder(t, "hb1", 20*time.Second)
	if out, code := clStatus(t, hb1, "rscstatus"); code != 0 || out != "local" {
		t.Errorf("cl_status rscstatus on hb1: exit %d %q", code, out)
	}
	// The medium's start lines, as heartbeat's ucast plugin logs them.
	hb2 := d.Nodes["hb2"]
	want := fmt.Sprintf("info: glib: ucast: started on port %d interface lo to %s", d.Spec.Port, hb1.Spec.Addr)
	if !strings.Contains(hb2.LogText(), want) {
		t.Errorf("hb2's log lacks %q:\n%s", want, hb2.LogText())
	}
}

// TestDaemonRefusesUnresolvableUcast: what heartbeat --check rejects on
// this machine, the daemon refuses too (exit 6, heartbeat's closing
// line), as heartbeat 3.0.6 does. The daemon runs in a fresh network
// namespace (unshare -n), so the failed lookup sends nothing anywhere.
func TestDaemonRefusesUnresolvableUcast(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for unshare -n (a private network namespace for the failing DNS lookup)")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not installed")
	}
	c := twoNodes(t, "on", "hb1 demo\n")
	hb1 := c.Nodes["hb1"]
	write(t, filepath.Join(hb1.Etc, "ha.cf"), "logfile "+hb1.Log+"\nkeepalive 200ms\ndeadtime 2\ninitdead 4\nudpport 7000\nucast lo peer.invalid\nnode hb1\nnode hb2\n", 0o644)
	bin := testbin.Heartbeat(t)
	args := []string{"-f", "--node", "hb1", "--config-dir", hb1.Etc, "--state-dir", hb1.Var, "--run-dir", hb1.Run}
	check := exec.Command(unshare, "-n", "--", bin, "--check", "--node", "hb1", "--config-dir", hb1.Etc)
	cout, _ := check.CombinedOutput()
	if check.ProcessState.ExitCode() == 0 || !strings.Contains(string(cout), `cannot resolve hostname "peer.invalid"`) {
		t.Fatalf("heartbeat --check: exit %d, want a rejection of peer.invalid\n%s", check.ProcessState.ExitCode(), cout)
	}
	// A daemon that wrongly starts is killed after a while.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, append([]string{"-n", "--", bin}, args...)...)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 6 {
		t.Errorf("daemon: exit %d, want 6\n%s", cmd.ProcessState.ExitCode(), out)
	}
	for _, want := range []string{`ERROR: ucast lo: cannot resolve hostname "peer.invalid"`, "ERROR: Configuration error, heartbeat not started."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("daemon output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(hb1.Run, "heartbeat.pid")); err == nil {
		t.Error("a refused start wrote a pid file")
	}
}

// TestLoopbackDaemonizeRelativeDirs: heartbeat (no -f) with relative
// directories: the detached copy runs in / and must get them resolved.
func TestLoopbackDaemonizeRelativeDirs(t *testing.T) {
	c := twoNodes(t, "on", "")
	hb1 := c.Nodes["hb1"]
	bin := testbin.Heartbeat(t)
	cmd := exec.Command(bin, "--node", "hb1", "--bind", "127.0.0.11", "--config-dir", "etc", "--state-dir=var", "--run-dir", "run")
	cmd.Dir = hb1.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("heartbeat: %v\n%s", err, out)
	}
	var pid int
	if _, ok := WaitFor(10*time.Second, func() bool { pid = RunningPidOf(t, hb1.Run); return pid != 0 }); !ok {
		t.Fatalf("no daemon after heartbeat returned:\n%s\n%s", out, hb1.LogText())
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	kill := exec.Command(bin, "-k", "--run-dir", "run")
	kill.Dir = hb1.Dir
	if out, err := kill.CombinedOutput(); err != nil {
		t.Fatalf("heartbeat -k: %v\n%s", err, out)
	}
	if !gone(pid) {
		t.Fatal("daemon still alive after heartbeat -k returned")
	}
}
