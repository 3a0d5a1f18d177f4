// Package interop runs heartbeat-go next to the real heartbeat 3.0.6
// (Debian's package, installed at /usr/libexec/heartbeat) in isolated
// network, UTS and mount namespaces (root), on ucast with sha1.
package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/e2e"
	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// realHeartbeat is the reference heartbeat 3.0.6 (Debian's package).
const realHeartbeat = "/usr/libexec/heartbeat/heartbeat"

// cNode is a real heartbeat 3.0.6 in an isolated netlab node (own UTS and
// mount namespaces: private /etc/ha.d, /var/lib/heartbeat, /var/log, /run).
type cNode struct {
	t    *testing.T
	n    *netlab.Node
	proc *netlab.Proc
}

func (c *cNode) log() string { return filepath.Join(c.n.Root, "var-log", "ha-log") }

func (c *cNode) start() {
	c.t.Helper()
	p, err := c.n.Start(realHeartbeat, "-f")
	if err != nil {
		c.t.Fatal(err)
	}
	c.proc = p
}

// kill SIGKILLs every process of the C daemon (master and children share
// the process group the lab made).
func (c *cNode) kill() {
	if c.proc != nil {
		c.proc.Kill()
	}
}

func (c *cNode) clStatus(args ...string) string {
	out, _ := c.n.Output("cl_status", args...)
	return strings.TrimSpace(out)
}

func (c *cNode) logText() string {
	b, _ := os.ReadFile(c.log())
	return string(b)
}

func (c *cNode) dump() {
	c.t.Logf("==== %s (heartbeat 3.0.6) ha-log:\n%s", c.n.Name, c.logText())
	if c.proc != nil {
		c.t.Logf("==== %s output:\n%s", c.n.Name, c.proc.Output())
	}
}

func (c *cNode) hasAddr(a string) bool { return e2e.HasAddr(c.n, a) }

const (
	vip      = e2e.VIP
	vip2     = e2e.VIP2
	deadtime = e2e.DeadTime
)

// interopLab: hb1 runs heartbeat 3.0.6, hb2 heartbeat-go; ucast eth0 with
// sha1; haresources "hb1 IPaddr2::198.18.0.100/24/eth0" and
// "hb2 IPaddr2::198.18.0.101/24/eth0"; auto_failback on.
func interopLab(t *testing.T) (*cNode, *e2e.NSNode, *netlab.Node) {
	if _, err := os.Stat(realHeartbeat); err != nil {
		t.Skipf("heartbeat 3.0.6 is not installed (%s): %v", realHeartbeat, err)
	}
	lab := netlab.New(t, netlab.Options{Nodes: []string{"hb1", "hb2"}, Hosts: []string{"client"}, Isolated: true})
	n1, n2 := lab.Node("hb1"), lab.Node("hb2")
	haresources := "hb1 IPaddr2::" + vip + "/24/eth0\nhb2 IPaddr2::" + vip2 + "/24/eth0\n"
	common := "keepalive 500ms\ndeadtime 2\nwarntime 1\ninitdead 4\nudpport 694\nauto_failback on\nnode hb1\nnode hb2\n"
	keys := "auth 1\n1 sha1 heartbeat-go-interop-test-key\n"

	etc := filepath.Join(n1.Root, "etc-ha.d")
	e2e.WriteFile(t, filepath.Join(etc, "ha.cf"), "logfacility none\nlogfile /var/log/ha-log\ndebugfile /var/log/ha-debug\n"+
		fmt.Sprintf("ucast eth0 %s\n", n2.Addr())+common, 0o644)
	e2e.WriteFile(t, filepath.Join(etc, "authkeys"), keys, 0o600)
	e2e.WriteFile(t, filepath.Join(etc, "haresources"), haresources, 0o644)
	c := &cNode{t: t, n: n1}

	// The Go node is a drop-in: "heartbeat -f" with the node's own
	// /etc/ha.d, /var/lib/heartbeat and /run, as the C node runs.
	g := e2e.NewNSNode(t, testbin.Heartbeat(t), n2)
	g.DropIn = true
	g.WriteConfig(fmt.Sprintf("ucast eth0 %s\n", n1.Addr())+common, keys, haresources)
	return c, g, lab.Node("client")
}

func goStatus(g *e2e.NSNode, args ...string) string { return g.ClStatus(args...) }

func bothActive(t *testing.T, c *cNode, g *e2e.NSNode, within time.Duration) {
	t.Helper()
	if _, ok := e2e.WaitFor(within, func() bool {
		return c.clStatus("nodestatus", "hb2") == "active" && goStatus(g, "nodestatus", "hb1") == "active"
	}); !ok {
		c.dump()
		g.Dump()
		t.Fatalf("not both active: heartbeat 3.0.6 says hb2 is %q, heartbeat-go says hb1 is %q",
			c.clStatus("nodestatus", "hb2"), goStatus(g, "nodestatus", "hb1"))
	}
}

// TestInteropMembership: a heartbeat-go node and a real heartbeat 3.0.6
// node see each other active (the C node's own cl_status says so), and
// each sees the other dead within deadtime + keepalive after a SIGKILL.
func TestInteropMembership(t *testing.T) {
	c, g, _ := interopLab(t)
	c.start()
	g.Start()
	started := time.Now()
	bothActive(t, c, g, 40*time.Second)

	// heartbeat 3.0.6's own cl_status, run on the heartbeat-go node, talks
	// to heartbeat-go's API socket.
	for _, tc := range []struct{ args, want string }{
		{"hbstatus", "Heartbeat is running on this machine."},
		{"nodestatus hb1", "active"},
		{"nodestatus hb2", "active"},
		{"listnodes", "hb2\nhb1"},
		{"nodetype hb1", "normal"},
		{"listhblinks hb1", "eth0"},
		{"hblinkstatus hb1 eth0", "up"},
		{"hbparameter -p udpport", "694"},
	} {
		out, err := g.N.Output("/usr/bin/cl_status", strings.Fields(tc.args)...)
		if err != nil || strings.TrimSpace(out) != tc.want {
			t.Errorf("stock cl_status %s on heartbeat-go: %q (%v), want %q", tc.args, strings.TrimSpace(out), err, tc.want)
		}
	}
	e2e.WaitFor(e2e.StartBonus, func() bool { return time.Since(started) > e2e.StartBonus })

	const ka = 500 * time.Millisecond // keepalive in this lab
	limit := deadtime + ka
	// heartbeat 3.0.6 checks for dead nodes on its own schedule (its
	// timers run about once a second), so its side gets one more keepalive.
	limitC := deadtime + 2*ka
	g.Kill()
	took, ok := e2e.WaitFor(limitC+5*time.Second, func() bool { return strings.Contains(c.logText(), "node hb2: is dead") })
	if !ok {
		c.dump()
		t.Fatal("heartbeat 3.0.6 did not declare hb2 dead")
	}
	t.Logf("heartbeat 3.0.6 declared heartbeat-go dead %v after SIGKILL", took)
	if took > limitC {
		t.Errorf("heartbeat 3.0.6 took %v to declare hb2 dead, want <= %v", took, limitC)
	}
	if s := c.clStatus("nodestatus", "hb2"); s != "dead" {
		t.Errorf("cl_status on hb1 says hb2 is %q, want dead", s)
	}

	g.Start()
	restarted := time.Now()
	bothActive(t, c, g, 40*time.Second)
	e2e.WaitFor(e2e.StartBonus, func() bool { return time.Since(restarted) > e2e.StartBonus })
	c.kill()
	took, ok = e2e.WaitFor(limit+5*time.Second, func() bool {
		return strings.Contains(g.LogText(), "node hb1: is dead")
	})
	if !ok {
		g.Dump()
		t.Fatal("heartbeat-go did not declare hb1 dead")
	}
	t.Logf("heartbeat-go declared heartbeat 3.0.6 dead %v after SIGKILL", took)
	if took > limit {
		t.Errorf("heartbeat-go took %v to declare hb1 dead, want <= %v", took, limit)
	}
	if s := goStatus(g, "nodestatus", "hb1"); s != "dead" {
		t.Errorf("heartbeat-go's cl_status says hb1 is %q, want dead", s)
	}
}

// TestInteropVIPFailover: the VIPs fail over in both directions between
// heartbeat 3.0.6 and heartbeat-go, and fail back (auto_failback on).
func TestInteropVIPFailover(t *testing.T) {
	c, g, client := interopLab(t)
	c.start()
	g.Start()
	started := time.Now()
	placed := func(onC, onGo string) func() bool {
		return func() bool {
			return c.hasAddr(onC) && !e2e.HasAddr(g.N, onC) && e2e.HasAddr(g.N, onGo) && !c.hasAddr(onGo)
		}
	}
	if _, ok := e2e.WaitFor(60*time.Second, placed(vip, vip2)); !ok {
		c.dump()
		g.Dump()
		t.Fatal("the VIPs never settled on their home nodes")
	}
	e2e.WaitFor(e2e.StartBonus, func() bool { return time.Since(started) > e2e.StartBonus })

	// C node dies: heartbeat-go takes 198.18.0.100.
	c.kill()
	c.n.Cut(0)
	took, ok := e2e.WaitFor(deadtime+10*time.Second, func() bool { return e2e.HasAddr(g.N, vip) })
	if !ok {
		g.Dump()
		t.Fatal("heartbeat-go did not take over the VIP of heartbeat 3.0.6")
	}
	if _, ok := e2e.WaitFor(5*time.Second, func() bool { return e2e.Reaches(client, g.N, vip) }); !ok {
		t.Error("client does not reach the VIP on heartbeat-go")
	}
	t.Logf("heartbeat-go holds %s %v after heartbeat 3.0.6 was killed", vip, took)
	if took > deadtime+time.Second {
		t.Errorf("takeover by heartbeat-go took %v, want <= deadtime + 1 s", took)
	}

	// C node reboots: its VIP goes home (auto_failback on).
	c.n.Output("ip", "addr", "del", vip+"/24", "dev", "eth0")
	c.n.Plug(0)
	c.start()
	restarted := time.Now()
	if _, ok := e2e.WaitFor(60*time.Second, placed(vip, vip2)); !ok {
		c.dump()
		g.Dump()
		t.Fatal("the VIP did not fail back to heartbeat 3.0.6")
	}
	e2e.WaitFor(e2e.StartBonus, func() bool { return time.Since(restarted) > e2e.StartBonus })

	// heartbeat-go dies: heartbeat 3.0.6 takes 198.18.0.101.
	g.Kill()
	g.N.Cut(0)
	// heartbeat 3.0.6's own timing is not under test: it runs harc,
	// mach_down, ResourceManager and the IPaddr2 agent as shell scripts,
	// which take seconds on a loaded machine. What matters is that it
	// notices the death and takes the group.
	dead, ok := e2e.WaitFor(deadtime+10*time.Second, func() bool { return strings.Contains(c.logText(), "node hb2: is dead") })
	if !ok {
		c.dump()
		t.Fatal("heartbeat 3.0.6 did not declare heartbeat-go dead")
	}
	took, ok = e2e.WaitFor(60*time.Second, func() bool { return c.hasAddr(vip2) })
	if !ok {
		c.dump()
		t.Fatal("heartbeat 3.0.6 did not take over the VIP of heartbeat-go")
	}
	t.Logf("heartbeat 3.0.6 declared heartbeat-go dead after %v and held %s %v later", dead, vip2, took)
}
