package e2e

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/ctl/hbapi"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

const (
	keepalive  = 200 * time.Millisecond
	deadtime   = DeadTime
	startBonus = StartBonus
)

func twoNodes(t *testing.T, failback, haresources string) *Cluster {
	t.Helper()
	bin := testbin.Heartbeat(t)
	c := NewLoopback(t, bin, ClusterSpec{
		Nodes:        []NodeSpec{{Name: "hb1", Addr: "127.0.0.11"}, {Name: "hb2", Addr: "127.0.0.12"}},
		Keepalive:    "200ms",
		DeadTime:     "2",
		WarnTime:     "1",
		InitDead:     "4",
		AutoFailback: failback,
		Port:         FreePort(t),
		Haresources:  haresources,
	})
	demo := filepath.Join(testbin.Root(t), "testdata", "demo", "resource.d", "demo")
	for _, n := range c.Nodes {
		b, err := os.ReadFile(demo)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(n.Etc, "resource.d", "demo"), string(b), 0o755)
	}
	return c
}

// clStatus runs cl_status against node n's control socket.
func clStatus(t *testing.T, n *Node, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(testbin.Dir(t), "cl_status"), append([]string{"--run-dir", filepath.Join(n.Run, "heartbeat")}, args...)...)
	out, err := cmd.Output()
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			code = -1
		}
	}
	return strings.TrimSpace(string(out)), code
}

func nodeStatus(t *testing.T, n *Node, of string) string {
	s, _ := clStatus(t, n, "nodestatus", of)
	return s
}

func waitActive(t *testing.T, c *Cluster, d time.Duration) {
	t.Helper()
	for _, a := range c.Nodes {
		for _, b := range c.Nodes {
			if a == b {
				continue
			}
			if _, ok := WaitFor(d, func() bool { return nodeStatus(t, a, b.Spec.Name) == "active" }); !ok {
				dumpAll(c)
				t.Fatalf("%s never saw %s active (cl_status says %q)", a.Spec.Name, b.Spec.Name, nodeStatus(t, a, b.Spec.Name))
			}
		}
	}
}

func dumpAll(c *Cluster) {
	for _, n := range c.Nodes {
		n.Dump()
	}
}

// killAndTimeDeath kills victim and returns how long until watcher logs
// "node <victim>: is dead" and cl_status on watcher reports it dead.
func killAndTimeDeath(t *testing.T, c *Cluster, victim, watcher *Node) time.Duration {
	t.Helper()
	before := len(watcher.LogLines("node " + victim.Spec.Name + ": is dead"))
	start := time.Now()
	victim.Kill()
	took, ok := WaitFor(deadtime+5*time.Second, func() bool {
		return len(watcher.LogLines("node "+victim.Spec.Name+": is dead")) > before
	})
	if !ok {
		dumpAll(c)
		t.Fatalf("%s did not declare %s dead", watcher.Spec.Name, victim.Spec.Name)
	}
	if s := nodeStatus(t, watcher, victim.Spec.Name); s != "dead" {
		t.Errorf("cl_status nodestatus %s on %s = %q, want dead", victim.Spec.Name, watcher.Spec.Name, s)
	}
	_ = start
	return took
}

// TestLoopbackMembership: two heartbeat-go daemons on loopback see each
// other active, and each declares the other dead within deadtime +
// keepalive after a SIGKILL.
func TestLoopbackMembership(t *testing.T) {
	c := twoNodes(t, "on", "")
	hb1, hb2 := c.Nodes["hb1"], c.Nodes["hb2"]
	hb1.Start()
	hb2.Start()
	started := time.Now()
	waitActive(t, c, 15*time.Second)
	for _, n := range []*Node{hb1, hb2} {
		if s, code := clStatus(t, n, "hbstatus"); code != 0 || s != "Heartbeat is running on this machine." {
			t.Errorf("%s: cl_status hbstatus = %q (%d)", n.Spec.Name, s, code)
		}
		if len(n.LogLines("Local status now set to: 'active'")) != 1 {
			t.Errorf("%s: no single \"Local status now set to: 'active'\" line", n.Spec.Name)
		}
	}
	// Let the start-up deadtime bonus expire before timing a death.
	WaitFor(startBonus, func() bool { return time.Since(started) > startBonus })

	limit := deadtime + keepalive
	took := killAndTimeDeath(t, c, hb1, hb2)
	t.Logf("hb2 declared hb1 dead %v after SIGKILL (limit %v)", took, limit)
	if took > limit {
		t.Errorf("hb2 declared hb1 dead after %v, want <= deadtime + keepalive = %v", took, limit)
	}
	if len(hb2.LogLines("Link hb1:lo dead.")) == 0 {
		t.Errorf("hb2 did not log the link death")
	}

	// hb1 comes back (new generation) and is seen active again; then the
	// other direction.
	hb1.Start()
	restarted := time.Now()
	waitActive(t, c, 15*time.Second)
	if len(hb2.LogLines("Heartbeat restart on node hb1")) == 0 && len(hb2.LogLines("Status update for node hb1: status init")) == 0 {
		t.Errorf("hb2 did not notice hb1's restart")
	}
	WaitFor(startBonus, func() bool { return time.Since(restarted) > startBonus })
	took = killAndTimeDeath(t, c, hb2, hb1)
	t.Logf("hb1 declared hb2 dead %v after SIGKILL (limit %v)", took, limit)
	if took > limit {
		t.Errorf("hb1 declared hb2 dead after %v, want <= deadtime + keepalive = %v", took, limit)
	}
}

// TestLoopbackGracefulStop: heartbeat -k stops a node cleanly; the peer
// hears the shutdown notice.
func TestLoopbackGracefulStop(t *testing.T) {
	c := twoNodes(t, "on", "")
	hb1, hb2 := c.Nodes["hb1"], c.Nodes["hb2"]
	hb1.Start()
	hb2.Start()
	waitActive(t, c, 15*time.Second)
	out, err := exec.Command(testbin.Heartbeat(t), "-k", "--run-dir", hb1.Run).CombinedOutput()
	if err != nil {
		t.Fatalf("heartbeat -k: %v\n%s", err, out)
	}
	if _, ok := WaitFor(10*time.Second, hb1.Exited); !ok {
		t.Fatal("hb1 still running after heartbeat -k returned")
	}
	if len(hb1.LogLines("hb1 Heartbeat shutdown complete.")) != 1 {
		dumpAll(c)
		t.Fatal("hb1 did not log \"hb1 Heartbeat shutdown complete.\"")
	}
	// The pid file stays, as heartbeat leaves it: -s says stopped, exit 1.
	cmd := exec.Command(testbin.Heartbeat(t), "-s", "--run-dir", hb1.Run)
	b, _ := cmd.Output()
	if cmd.ProcessState.ExitCode() != 1 || strings.TrimSpace(string(b)) != "heartbeat is stopped. No process" {
		t.Errorf("heartbeat -s after -k: %q exit %d", b, cmd.ProcessState.ExitCode())
	}
	if _, ok := WaitFor(5*time.Second, func() bool { return len(hb2.LogLines("Received shutdown notice from 'hb1'.")) > 0 }); !ok {
		dumpAll(c)
		t.Error("hb2 did not log the shutdown notice")
	}
}

// TestLoopbackRespawn: a "respawn" child starts once the node is active,
// is restarted when it dies, and is stopped when heartbeat stops.
func TestLoopbackRespawn(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "child.sh")
	pidFile := filepath.Join(dir, "child.pid")
	write(t, script, "#!/bin/sh\necho $$ > "+pidFile+"\nexec sleep 1000\n", 0o755)
	bin := testbin.Heartbeat(t)
	c := NewLoopback(t, bin, ClusterSpec{
		Nodes:     []NodeSpec{{Name: "hb1", Addr: "127.0.0.11"}, {Name: "hb2", Addr: "127.0.0.12"}},
		Keepalive: "200ms", DeadTime: "2", InitDead: "4", Port: FreePort(t),
		Extra: "respawn " + u.Username + " " + script + "\n",
	})
	hb1 := c.Nodes["hb1"]
	hb1.Start()
	childPid := func() int {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return 0
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid > 0 && syscall.Kill(pid, 0) == nil {
			return pid
		}
		return 0
	}
	if _, ok := WaitFor(15*time.Second, func() bool { return childPid() != 0 }); !ok {
		hb1.Dump()
		t.Fatal("respawn child never started")
	}
	first := childPid()
	syscall.Kill(first, syscall.SIGKILL)
	if _, ok := WaitFor(10*time.Second, func() bool { p := childPid(); return p != 0 && p != first }); !ok {
		hb1.Dump()
		t.Fatal("respawn child was not restarted")
	}
	second := childPid()
	if err := hb1.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if syscall.Kill(second, 0) == nil {
		syscall.Kill(second, syscall.SIGKILL)
		t.Fatal("respawn child still runs after heartbeat stopped")
	}
}

// TestLoopbackSignalsAndReload: SIGUSR1/SIGUSR2 change the debug level,
// heartbeat -r validates and signals the daemon (keys reread when
// authkeys changed), and systemd gets READY=1 and watchdog pings through
// $NOTIFY_SOCKET.
func TestLoopbackSignalsAndReload(t *testing.T) {
	notify := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	got := make(chan string, 64)
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := ln.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	c := twoNodes(t, "on", "")
	hb1, hb2 := c.Nodes["hb1"], c.Nodes["hb2"]
	hb1.Start("NOTIFY_SOCKET="+notify, "WATCHDOG_USEC=400000")
	hb2.Start()
	waitActive(t, c, 15*time.Second)

	seen := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for !(seen["ready"] && seen["watchdog"]) {
		select {
		case m := <-got:
			seen["ready"] = seen["ready"] || strings.Contains(m, "READY=1")
			seen["watchdog"] = seen["watchdog"] || m == "WATCHDOG=1"
		case <-deadline:
			t.Fatalf("sd_notify: saw %v, want READY=1 and WATCHDOG=1", seen)
		}
	}

	pid := hb1.Pid()
	syscall.Kill(pid, syscall.SIGUSR1)
	want := "debug now set to 1 [pid " + strconv.Itoa(pid) + "]"
	if _, ok := WaitFor(5*time.Second, func() bool { return len(hb1.LogLines(want)) > 0 }); !ok {
		t.Errorf("no %q after SIGUSR1", want)
	}
	syscall.Kill(pid, syscall.SIGUSR2)
	want = "debug now set to 0 [pid " + strconv.Itoa(pid) + "]"
	if _, ok := WaitFor(5*time.Second, func() bool { return len(hb1.LogLines(want)) > 0 }); !ok {
		t.Errorf("no %q after SIGUSR2", want)
	}

	reload := func() string {
		cmd := exec.Command(testbin.Heartbeat(t), "-r", "--node", "hb1", "--config-dir", hb1.Etc, "--run-dir", hb1.Run)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("heartbeat -r: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := reload(); !strings.Contains(out, "info: Signalling heartbeat pid "+strconv.Itoa(pid)+" to reread config files") {
		t.Errorf("heartbeat -r said %q", out)
	}
	if _, ok := WaitFor(5*time.Second, func() bool { return len(hb1.LogLines("info: Configuration unchanged.")) > 0 }); !ok {
		t.Error("no \"Configuration unchanged.\" after heartbeat -r")
	}
	// New keys on both nodes (index 2 active, 1 kept for the roll-over).
	for _, n := range []*Node{hb1, hb2} {
		write(t, filepath.Join(n.Etc, "authkeys"), "auth 2\n1 sha1 heartbeat-go-e2e-test-key\n2 sha1 rolled-over-key\n", 0o600)
	}
	reload()
	if _, ok := WaitFor(5*time.Second, func() bool { return len(hb1.LogLines("info: Rereading authentication file.")) > 0 }); !ok {
		t.Error("no \"Rereading authentication file.\" after authkeys changed")
	}
	// hb1 now signs with key 2, which hb2 learns on its own SIGHUP; the
	// nodes stay active across the roll-over.
	syscall.Kill(hb2.Pid(), syscall.SIGHUP)
	if _, ok := WaitFor(5*time.Second, func() bool { return len(hb2.LogLines("info: Rereading authentication file.")) > 0 }); !ok {
		t.Error("hb2: no \"Rereading authentication file.\" after SIGHUP")
	}
	if s := nodeStatus(t, hb2, "hb1"); s != "active" {
		t.Errorf("after the key roll-over hb2 sees hb1 %q", s)
	}
}

// TestLoopbackDaemonize: without -f heartbeat detaches (the command exits
// 0 once the daemon has written its pid file); -s reports it, a second
// start says it is already running, -k stops it.
func TestLoopbackDaemonize(t *testing.T) {
	c := twoNodes(t, "on", "")
	hb1 := c.Nodes["hb1"]
	bin := testbin.Heartbeat(t)
	args := []string{"--node", "hb1", "--bind", "127.0.0.11", "--config-dir", hb1.Etc, "--state-dir", hb1.Var, "--run-dir", hb1.Run}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("heartbeat: %v\n%s", err, out)
	}
	pid := RunningPidOf(t, hb1.Run)
	if pid == 0 {
		t.Fatalf("no daemon after heartbeat returned:\n%s", out)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	st := exec.Command(bin, "-s", "--run-dir", hb1.Run, "--node", "hb1")
	b, _ := st.Output()
	if st.ProcessState.ExitCode() != 0 || !strings.HasPrefix(string(b), "heartbeat OK [pid "+strconv.Itoa(pid)+" et al] is running on ") {
		t.Errorf("heartbeat -s: %q exit %d", b, st.ProcessState.ExitCode())
	}
	again, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(again), "info: heartbeat: already running [pid "+strconv.Itoa(pid)+"].") {
		t.Errorf("second start: %v %q", err, again)
	}
	if out, err := exec.Command(bin, "-k", "--run-dir", hb1.Run).CombinedOutput(); err != nil {
		t.Fatalf("heartbeat -k: %v\n%s", err, out)
	}
	if !gone(pid) {
		t.Fatal("daemon still alive after heartbeat -k returned")
	}
	if len(hb1.LogLines("hb1 Heartbeat shutdown complete.")) != 1 {
		t.Errorf("no shutdown line:\n%s", hb1.LogText())
	}
}

// RunningPidOf returns the live pid recorded in runDir/heartbeat.pid, or 0.
func RunningPidOf(t *testing.T, runDir string) int {
	b, err := os.ReadFile(filepath.Join(runDir, "heartbeat.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// gone reports whether pid has exited (a zombie waiting for its reaper
// counts as exited).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// TestLoopbackHeartbeatAPI: heartbeat 3.0.6's client API socket
// (register) answers the queries cl_status makes, once the node is active.
func TestLoopbackHeartbeatAPI(t *testing.T) {
	c := twoNodes(t, "on", "hb1 demo::web\n")
	hb1, hb2 := c.Nodes["hb1"], c.Nodes["hb2"]
	hb1.Start("DEMO_DIR=" + c.Dir)
	hb2.Start("DEMO_DIR=" + c.Dir)
	waitActive(t, c, 15*time.Second)
	ctx := t.Context()
	api, err := hbapi.Signon(ctx, filepath.Join(hb1.Run, "heartbeat"))
	if err != nil {
		t.Fatalf("signon: %v", err)
	}
	defer api.Close()
	if api.Info.Node != "hb1" || api.Info.DeadTime != deadtime || api.Info.Keepalive != keepalive || !strings.HasPrefix(api.Info.Version, "3.0.6") {
		t.Errorf("signon info %+v", api.Info)
	}
	nodes, err := api.Nodes(ctx)
	if err != nil || len(nodes) != 2 {
		t.Fatalf("nodelist: %v %+v", err, nodes)
	}
	for _, n := range nodes {
		if n.Status != "active" {
			t.Errorf("nodelist: %+v", n)
		}
	}
	links, err := api.Links(ctx, "hb2")
	if err != nil || len(links) != 1 || links[0].Name != "lo" || links[0].Status != "up" {
		t.Errorf("iflist hb2: %v %+v", err, links)
	}
	if v, ok, err := api.Parameter(ctx, "deadtime"); err != nil || !ok || v == "" {
		t.Errorf("getparm deadtime: %q %v %v", v, ok, err)
	}
	if _, ok := WaitFor(20*time.Second, func() bool { h, err := api.Resources(ctx); return err == nil && h == "local" }); !ok {
		h, err := api.Resources(ctx)
		t.Errorf("getrsc on hb1: %q %v, want local", h, err)
	}
	if _, err := api.Weight(ctx, "nosuchnode"); err == nil {
		t.Error("nodeweight of an unknown node succeeded")
	}
}

// TestLoopbackConfigError: a config heartbeat 3.0.6 refuses is refused
// with its exit code 6 and its closing line.
func TestLoopbackConfigError(t *testing.T) {
	c := twoNodes(t, "on", "")
	hb1 := c.Nodes["hb1"]
	write(t, filepath.Join(hb1.Etc, "ha.cf"), "keepalive 2\ndeadtime 1\nudpport 7000\nucast lo 127.0.0.12\nnode hb1\nnode hb2\n", 0o644)
	cmd := exec.Command(testbin.Heartbeat(t), "-f", "--node", "hb1", "--config-dir", hb1.Etc, "--state-dir", hb1.Var, "--run-dir", hb1.Run)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 6 {
		t.Errorf("exit %d, want 6\n%s", cmd.ProcessState.ExitCode(), out)
	}
	// The problem itself is worded by hb/config; the closing line is
	// heartbeat's.
	for _, want := range []string{"ERROR: deadtime 1000ms is too small", "ERROR: Configuration error, heartbeat not started."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(hb1.Run, "heartbeat.pid")); err == nil {
		t.Error("a refused start wrote a pid file")
	}
}

// TestSerialLink: two nodes joined only by a serial line (a socat pty
// pair), which carries heartbeat's classic text form.
func TestSerialLink(t *testing.T) {
	socat, err := exec.LookPath("socat")
	if err != nil {
		t.Skip("socat not installed")
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "ttyA"), filepath.Join(dir, "ttyB")
	sc := exec.Command(socat, "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := sc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Process.Kill(); sc.Wait() })
	if _, ok := WaitFor(5*time.Second, func() bool {
		_, ea := os.Stat(a)
		_, eb := os.Stat(b)
		return ea == nil && eb == nil
	}); !ok {
		t.Fatal("socat did not create the pty pair")
	}
	c := NewLoopback(t, testbin.Heartbeat(t), ClusterSpec{
		Nodes:     []NodeSpec{{Name: "hb1", Addr: "127.0.0.11"}, {Name: "hb2", Addr: "127.0.0.12"}},
		Keepalive: "500ms", DeadTime: "3", InitDead: "6", Port: FreePort(t),
	})
	// Serial only: replace the ucast lines.
	for name, dev := range map[string]string{"hb1": a, "hb2": b} {
		n := c.Nodes[name]
		cf, _ := os.ReadFile(filepath.Join(n.Etc, "ha.cf"))
		var out []string
		for _, l := range strings.Split(string(cf), "\n") {
			if !strings.HasPrefix(l, "ucast ") {
				out = append(out, l)
			}
		}
		write(t, filepath.Join(n.Etc, "ha.cf"), "baud 19200\nserial "+dev+"\n"+strings.Join(out, "\n"), 0o644)
		n.Start()
	}
	waitActive(t, c, 20*time.Second)
	// A serial link is named after the local device.
	if s, _ := clStatus(t, c.Nodes["hb1"], "hblinkstatus", "hb2", a); s != "up" {
		t.Errorf("hb1: link hb2:%s is %q, want up", a, s)
	}
}

// TestLoopbackSIGINTIgnored: heartbeat ignores SIGINT; SIGTERM stops it.
func TestLoopbackSIGINTIgnored(t *testing.T) {
	c := twoNodes(t, "on", "")
	hb1 := c.Nodes["hb1"]
	hb1.Start()
	if _, ok := WaitFor(10*time.Second, func() bool { return len(hb1.LogLines("Local status now set to: 'up'")) > 0 }); !ok {
		t.Fatal("hb1 did not start")
	}
	syscall.Kill(hb1.Pid(), syscall.SIGINT)
	if _, exited := WaitFor(2*time.Second, hb1.Exited); exited {
		t.Fatal("SIGINT stopped heartbeat")
	}
	if err := hb1.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestLoopbackEventHook: a message a script writes into the FIFO
// (ha_clustermsg) goes to the cluster, and on the peer a file of that
// type in rc.d runs with the message's fields as HA_<name>.
func TestLoopbackEventHook(t *testing.T) {
	c := twoNodes(t, "on", "")
	hb1, hb2 := c.Nodes["hb1"], c.Nodes["hb2"]
	out := filepath.Join(c.Dir, "hook.out")
	os.MkdirAll(filepath.Join(hb2.Etc, "rc.d"), 0o755)
	write(t, filepath.Join(hb2.Etc, "rc.d", "mynotice"), "#!/bin/sh\necho \"$1 $HA_t $HA_src $HA_foo $HA_OSTATUS\" > "+out+"\n", 0o755)
	hb1.Start()
	hb2.Start()
	waitActive(t, c, 15*time.Second)
	f, err := os.OpenFile(filepath.Join(hb1.Var, "fifo"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(">>>\nt=mynotice\nfoo=bar\n<<<\n")
	f.Close()
	if _, ok := WaitFor(10*time.Second, func() bool {
		b, _ := os.ReadFile(out)
		return strings.TrimSpace(string(b)) == "mynotice mynotice hb1 bar active"
	}); !ok {
		b, _ := os.ReadFile(out)
		hb2.Dump()
		t.Fatalf("hook output %q, want \"mynotice mynotice hb1 bar active\"", b)
	}
}
