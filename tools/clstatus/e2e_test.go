package clstatus

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// e2eNode is one heartbeat-go daemon of the end-to-end test.
type e2eNode struct {
	name, addr, dir string
	cmd             *exec.Cmd
	out             bytes.Buffer
}

func (n *e2eNode) runDir() string { return filepath.Join(n.dir, "run", "heartbeat") }

// tool runs a tool of the built binary against this node's daemon.
func (n *e2eNode) tool(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "heartbeat"), args...)
	cmd.Env = append(os.Environ(), "HA_RUNDIR="+n.runDir())
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond) // polling interval, not synchronisation
	}
	t.Fatalf("%s: not reached within %v (last: %s)", what, limit, last)
}

func freeUDPPort(t *testing.T) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestTwoDaemons runs two heartbeat-go daemons on loopback and drives
// them with the built cl_status, hb_standby, hb_takeover and
// heartbeat status.
func TestTwoDaemons(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts two daemons")
	}
	bin := testbin.Dir(t)
	port := freeUDPPort(t)
	nodes := []*e2eNode{{name: "nodea", addr: "127.0.0.1"}, {name: "nodeb", addr: "127.0.0.2"}}
	for i, n := range nodes {
		peer := nodes[1-i].addr
		n.dir = t.TempDir()
		etc := filepath.Join(n.dir, "etc")
		os.MkdirAll(filepath.Join(etc, "resource.d"), 0o755)
		hacf := fmt.Sprintf("keepalive 200ms\ndeadtime 2\nwarntime 1\ninitdead 4\nudpport %d\nucast lo %s\nauto_failback on\nnode nodea\nnode nodeb\n", port, peer)
		os.WriteFile(filepath.Join(etc, "ha.cf"), []byte(hacf), 0o644)
		os.WriteFile(filepath.Join(etc, "authkeys"), []byte("auth 1\n1 sha1 e2e-secret\n"), 0o600)
		os.WriteFile(filepath.Join(etc, "haresources"), []byte("nodea demo\n"), 0o644)
		flag := filepath.Join(n.dir, "demo.on")
		script := fmt.Sprintf("#!/bin/sh\ncase \"$1\" in\nstart) touch %[1]s;;\nstop) rm -f %[1]s;;\nstatus) [ -f %[1]s ] && echo running || echo stopped;;\nesac\nexit 0\n", flag)
		os.WriteFile(filepath.Join(etc, "resource.d", "demo"), []byte(script), 0o755)
		n.cmd = exec.Command(filepath.Join(bin, "heartbeat"), "-f", "--config-dir", etc,
			"--state-dir", filepath.Join(n.dir, "state"), "--run-dir", filepath.Join(n.dir, "run"),
			"--node", n.name, "--bind", n.addr)
		n.cmd.Stdout, n.cmd.Stderr = &n.out, &n.out
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if n.cmd.ProcessState == nil {
				n.cmd.Process.Kill()
				n.cmd.Wait()
			}
			if t.Failed() {
				t.Logf("%s log:\n%s", n.name, n.out.String())
			}
		})
	}
	a, b := nodes[0], nodes[1]
	rsc := func(n *e2eNode) string {
		out, _, _ := n.tool(t, bin, "cl_status", "rscstatus")
		return strings.TrimSpace(out)
	}
	holds := func(wantA, wantB string) func() (bool, string) {
		return func() (bool, string) {
			ga, gb := rsc(a), rsc(b)
			return ga == wantA && gb == wantB, "nodea " + ga + ", nodeb " + gb
		}
	}

	for _, n := range nodes {
		waitFor(t, n.name+" answers", 15*time.Second, func() (bool, string) {
			out, errOut, code := n.tool(t, bin, "cl_status", "hbstatus")
			return code == 0 && out == "Heartbeat is running on this machine.\n", out + errOut
		})
	}
	waitFor(t, "nodea holds its group", 20*time.Second, holds("local", "none"))

	out, errOut, code := a.tool(t, bin, "cl_status", "listnodes", "-v")
	want := "\nnodeb\tactive\t(nodetype: normal)\n\tlo\tup\n\nnodea\tactive\t(nodetype: normal)\n\tlo\tdead\n"
	if code != 0 || out != want {
		t.Errorf("listnodes -v: exit %d\n got %q\nwant %q\n%s", code, out, want, errOut)
	}
	for _, c := range []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"nodestatus", "NODEB"}, "active\n", 0},
		{[]string{"nodetype", "nodeb"}, "normal\n", 0},
		{[]string{"hblinkstatus", "nodeb", "lo"}, "up\n", 0},
		{[]string{"hblinkstatus", "nodea", "lo"}, "dead\n", 1},
		{[]string{"listhblinks", "nodeb"}, "\tlo\n", 0},
		{[]string{"hbparameter", "-p", "keepalive"}, "200ms\n", 0},
		{[]string{"hbparameter", "-p", "udpport"}, fmt.Sprintf("%d\n", port), 0},
		// As written in ha.cf, or as heartbeat defaults it.
		{[]string{"hbparameter", "-p", "deadtime"}, "2\n", 0},
		{[]string{"hbparameter", "-p", "warntime"}, "1\n", 0},
		{[]string{"hbparameter", "-p", "initdead"}, "4\n", 0},
		{[]string{"hbparameter", "-p", "deadping"}, "2000ms\n", 0},
		{[]string{"hbparameter", "-p", "crm"}, "false\n", 0},
		{[]string{"hbparameter", "-p", "realtime"}, "true\n", 0},
		{[]string{"hbparameter", "-p", "rtprio"}, "", 1},
	} {
		out, errOut, code := a.tool(t, bin, append([]string{"cl_status"}, c.args...)...)
		if out != c.out || code != c.code {
			t.Errorf("cl_status %s: exit %d stdout %q (want %d %q) stderr %q", strings.Join(c.args, " "), code, out, c.code, c.out, errOut)
		}
	}
	if out, _, code := a.tool(t, bin, "status"); code != 0 || !strings.Contains(out, "nodeb") || !strings.Contains(out, "nodea (this node)") {
		t.Errorf("heartbeat status: exit %d\n%s", code, out)
	}

	if _, errOut, code := a.tool(t, bin, "hb_standby"); code != 0 || !strings.Contains(errOut, "Going standby [all].") {
		t.Fatalf("hb_standby: exit %d stderr %q", code, errOut)
	}
	waitFor(t, "nodeb took the group over", 20*time.Second, holds("none", "foreign"))
	if _, err := os.Stat(filepath.Join(b.dir, "demo.on")); err != nil {
		t.Errorf("demo resource not started on nodeb: %v", err)
	}

	if out, errOut, code := a.tool(t, bin, "hb_takeover"); code != 0 || out != "" || errOut != "" {
		t.Fatalf("hb_takeover: exit %d stdout %q stderr %q", code, out, errOut)
	}
	waitFor(t, "nodea took its group back", 20*time.Second, holds("local", "none"))

	// A clean stop: the control socket goes, cl_status says so.
	for _, n := range nodes {
		n.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, n := range nodes {
		done := make(chan error, 1)
		go func() { done <- n.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not stop on SIGTERM", n.name)
		}
		out, _, code := n.tool(t, bin, "cl_status", "hbstatus")
		if code != 1 || out != "Heartbeat is stopped on this machine.\n" {
			t.Errorf("%s after stop: exit %d %q", n.name, code, out)
		}
		_, errOut, code := n.tool(t, bin, "cl_status", "listnodes")
		if code != 1 || !strings.Contains(errOut, "ERROR: REASON: hb_api_signon: Can't initiate connection to heartbeat") {
			t.Errorf("%s listnodes after stop: exit %d %q", n.name, code, errOut)
		}
	}
}
