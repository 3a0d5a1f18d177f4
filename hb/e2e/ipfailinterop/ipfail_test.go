// Package ipfailinterop runs heartbeat-go's built-in ipfail against
// heartbeat 3.0.6 and its C ipfail in isolated network namespaces (root):
// a mixed cluster moves resources as an all-C one does.
package ipfailinterop

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

// The reference heartbeat 3.0.6 and its ipfail (Debian's package).
const (
	realHeartbeat = "/usr/libexec/heartbeat/heartbeat"
	realIpfail    = "/usr/libexec/heartbeat/ipfail"
)

// cNode is heartbeat 3.0.6 with the C ipfail in an isolated netlab node.
type cNode struct {
	t    *testing.T
	n    *netlab.Node
	proc *netlab.Proc
}

func (c *cNode) logText() string {
	b, _ := os.ReadFile(filepath.Join(c.n.Root, "var-log", "ha-log"))
	return string(b)
}

func (c *cNode) clStatus(args ...string) string {
	out, _ := c.n.Output("cl_status", args...)
	return strings.TrimSpace(out)
}

// TestInteropWithCIpfail: hb1 runs heartbeat 3.0.6 with its C ipfail, hb2
// heartbeat-go with the built-in one; each VIP has its home node. When
// either node loses the ping node, its VIP moves to the other (the two
// ipfails agree through their messages); when the path returns, the VIP
// goes home (auto_failback on), handed back by the other implementation.
func TestInteropWithCIpfail(t *testing.T) {
	for _, p := range []string{realHeartbeat, realIpfail} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("heartbeat 3.0.6 is not installed (%s): %v", p, err)
		}
	}
	l := netlab.New(t, netlab.Options{Nodes: []string{"hb1", "hb2"}, Hosts: []string{"pingnode"}, Isolated: true})
	n1, n2, pn := l.Node("hb1"), l.Node("hb2"), l.Node("pingnode")
	haresources := "hb1 IPaddr2::" + e2e.VIP + "/24/eth0\nhb2 IPaddr2::" + e2e.VIP2 + "/24/eth0\n"
	common := fmt.Sprintf("keepalive 500ms\ndeadtime 2\nwarntime 1\ninitdead 4\nudpport 694\nauto_failback on\nping %s\n"+
		"apiauth ipfail uid=hacluster\nnode hb1\nnode hb2\n", pn.Addr())
	keys := "auth 1\n1 sha1 heartbeat-go-ipfail-interop-key\n"

	etc := filepath.Join(n1.Root, "etc-ha.d")
	e2e.WriteFile(t, filepath.Join(etc, "ha.cf"), "logfacility none\nlogfile /var/log/ha-log\ndebugfile /var/log/ha-debug\n"+
		fmt.Sprintf("ucast eth0 %s\nrespawn hacluster %s\n", n2.Addr(), realIpfail)+common, 0o644)
	e2e.WriteFile(t, filepath.Join(etc, "authkeys"), keys, 0o600)
	e2e.WriteFile(t, filepath.Join(etc, "haresources"), haresources, 0o644)
	c := &cNode{t: t, n: n1}

	stubDir := t.TempDir()
	stub := filepath.Join(stubDir, "ipfail")
	e2e.WriteFile(t, stub, "#!/bin/sh\nexit 100\n", 0o755)
	g := e2e.NewNSNode(t, testbin.Heartbeat(t), n2)
	g.RunDir = "/run"
	g.WriteConfig(fmt.Sprintf("ucast eth0 %s\nrespawn hacluster %s\n", n1.Addr(), stub)+common, keys, haresources)

	dump := func() {
		t.Logf("==== hb1 (heartbeat 3.0.6) ha-log:\n%s", c.logText())
		g.Dump()
	}
	at := func(a string) string {
		on := ""
		if e2e.HasAddr(n1, a) {
			on += "hb1"
		}
		if e2e.HasAddr(n2, a) {
			on += "hb2"
		}
		return on
	}
	home := func() bool { return at(e2e.VIP) == "hb1" && at(e2e.VIP2) == "hb2" }

	p, err := n1.Start(realHeartbeat, "-f")
	if err != nil {
		t.Fatal(err)
	}
	c.proc = p
	g.Start()
	started := time.Now()
	if _, ok := e2e.WaitFor(60*time.Second, func() bool {
		return home() && c.clStatus("nodestatus", pn.Addr().String()) == "ping" &&
			g.ClStatus("nodestatus", pn.Addr().String()) == "ping" &&
			strings.Contains(c.logText(), "ipfail: [")
	}); !ok {
		dump()
		t.Fatalf("not settled: VIP on %q, VIP2 on %q", at(e2e.VIP), at(e2e.VIP2))
	}
	e2e.WaitFor(e2e.StartBonus, func() bool { return time.Since(started) > e2e.StartBonus })
	// Let the start-up count exchanges finish (heartbeat 3.0.6's ipfail
	// gives foreign resources back once after it starts, see the spec).
	if _, ok := e2e.WaitFor(15*time.Second, func() bool {
		return home() && time.Since(started) > 15*time.Second
	}); !ok {
		dump()
		t.Fatal("resources left home after start-up")
	}

	cut := func(n *netlab.Node) {
		if err := n.Loss(100, "ip saddr "+pn.Addr().String()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		node     *netlab.Node
		vip      string
		from, to string
	}{
		{"heartbeat-go loses the ping node", n2, e2e.VIP2, "hb2", "hb1"},
		{"heartbeat 3.0.6 loses the ping node", n1, e2e.VIP, "hb1", "hb2"},
	} {
		cut(tc.node)
		// heartbeat 3.0.6 runs its resource scripts through the shell
		// (ResourceManager, IPaddr2), which takes many seconds on a
		// loaded machine: the bound is generous; the timing of the
		// protocol itself is checked in the all-Go tests.
		took, ok := e2e.WaitFor(60*time.Second, func() bool { return at(e2e.VIP) == at(e2e.VIP2) && at(tc.vip) == tc.to })
		if !ok {
			dump()
			t.Fatalf("%s: VIP on %q, VIP2 on %q; want both on %s", tc.name, at(e2e.VIP), at(e2e.VIP2), tc.to)
		}
		t.Logf("%s: both VIPs on %s after %v", tc.name, tc.to, took)
		if err := tc.node.ClearLoss(); err != nil {
			t.Fatal(err)
		}
		took, ok = e2e.WaitFor(60*time.Second, home)
		if !ok {
			dump()
			t.Fatalf("%s, path restored: VIP on %q, VIP2 on %q; want home", tc.name, at(e2e.VIP), at(e2e.VIP2))
		}
		t.Logf("%s: path restored, VIPs home after %v", tc.name, took)
	}
}
