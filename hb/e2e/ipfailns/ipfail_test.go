// Package ipfailns runs two heartbeat-go daemons with a ping node and the
// built-in ipfail in network namespaces (root): cutting one node's path
// to the ping node moves the resources to the node that still reaches it;
// restoring it brings them back only with auto_failback on; cutting both
// paths moves nothing.
package ipfailns

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/e2e"
	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

const (
	keepalive = 500 * time.Millisecond
	deadping  = 2 * time.Second // = deadtime (default)
	// moveBound: deadping, the count exchange, the 2 × keepalive give-up
	// delay and heartbeat's standby protocol (stop, then start).
	moveBound = deadping + 8*time.Second
)

type lab struct {
	t     *testing.T
	nodes map[string]*e2e.NSNode
	ping  *netlab.Node
	stub  string // the ipfail and pingd "programs": must never run
}

func newLab(t *testing.T, failback string) *lab {
	l := netlab.New(t, netlab.Options{Nodes: []string{"hb1", "hb2"}, Hosts: []string{"pingnode"}})
	bin := testbin.Heartbeat(t)
	who := "hacluster"
	if _, err := user.Lookup(who); err != nil {
		who = "root"
	}
	x := &lab{t: t, nodes: map[string]*e2e.NSNode{}, ping: l.Node("pingnode")}
	dir := t.TempDir()
	x.stub = filepath.Join(dir, "ran")
	prog := filepath.Join(dir, "ipfail")
	pingd := filepath.Join(dir, "pingd")
	for _, p := range []string{prog, pingd} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho ran >> "+x.stub+"\nexit 100\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"hb1", "hb2"} {
		peer := l.Node("hb2")
		if name == "hb2" {
			peer = l.Node("hb1")
		}
		g := e2e.NewNSNode(t, bin, l.Node(name))
		g.WriteConfig(fmt.Sprintf("keepalive 500ms\ndeadtime 2\nwarntime 1\ninitdead 4\nudpport 694\nucast eth0 %s\n"+
			"auto_failback %s\nping %s\nrespawn %s %s\napiauth ipfail uid=%s\nrespawn root %s -m 100 -d 1s\nnode hb1\nnode hb2\n",
			peer.Addr(), failback, x.ping.Addr(), who, prog, who, pingd),
			"auth 1\n1 sha1 heartbeat-go-e2e-test-key\n", "hb1 IPaddr2::"+e2e.VIP+"/24/eth0\n")
		x.nodes[name] = g
	}
	return x
}

func (x *lab) only(holder string) func() bool {
	return func() bool {
		for name, g := range x.nodes {
			if g.HasVIP() != (name == holder) {
				return false
			}
		}
		return true
	}
}

func (x *lab) fail(format string, a ...any) {
	x.t.Helper()
	for _, g := range x.nodes {
		g.Dump()
	}
	x.t.Fatalf(format, a...)
}

// cut drops the ping node's echo replies arriving at node (its path to the
// ping node only; the heartbeat path stays).
func (x *lab) cut(node string) {
	if err := x.nodes[node].N.Loss(100, "ip saddr "+x.ping.Addr().String()); err != nil {
		x.t.Fatal(err)
	}
}

func (x *lab) restore(node string) {
	if err := x.nodes[node].N.ClearLoss(); err != nil {
		x.t.Fatal(err)
	}
}

// pingd is the score the node reports (cl_status --json), -1 if none.
func (x *lab) pingd(node string) int {
	var st struct {
		Connectivity *struct {
			Pingd *int `json:"pingd"`
		} `json:"connectivity"`
	}
	if json.Unmarshal([]byte(x.nodes[node].ClStatus("--json")), &st) != nil || st.Connectivity == nil || st.Connectivity.Pingd == nil {
		return -1
	}
	return *st.Connectivity.Pingd
}

func (x *lab) pingStatus(node string) string {
	return x.nodes[node].ClStatus("nodestatus", x.ping.Addr().String())
}

// start starts both daemons and waits until hb1 holds the VIP and both
// see the ping node.
func (x *lab) start() {
	for _, g := range x.nodes {
		g.Start()
	}
	started := time.Now()
	if _, ok := e2e.WaitFor(40*time.Second, func() bool {
		return x.only("hb1")() && x.pingStatus("hb1") == "ping" && x.pingStatus("hb2") == "ping"
	}); !ok {
		x.fail("hb1 never held the VIP with both nodes seeing the ping node (hb1 %q, hb2 %q)", x.pingStatus("hb1"), x.pingStatus("hb2"))
	}
	for _, name := range []string{"hb1", "hb2"} {
		if n := x.nodes[name].ClStatus("nodetype", x.ping.Addr().String()); n != "ping" {
			x.fail("cl_status nodetype of the ping node on %s: %q", name, n)
		}
	}
	if _, ok := e2e.WaitFor(5*time.Second, func() bool { return x.pingd("hb1") == 100 && x.pingd("hb2") == 100 }); !ok {
		x.fail("pingd scores hb1 %d, hb2 %d; want 100", x.pingd("hb1"), x.pingd("hb2"))
	}
	e2e.WaitFor(e2e.StartBonus, func() bool { return time.Since(started) > e2e.StartBonus })
}

// moveAway cuts hb1's path to the ping node, expects the VIP on hb2
// within moveBound, then restores the path.
func (x *lab) moveAway() {
	x.cut("hb1")
	took, ok := e2e.WaitFor(moveBound+5*time.Second, x.only("hb2"))
	if !ok {
		x.fail("hb1 lost the ping node: the VIP did not move to hb2 (ping node on hb1: %q)", x.pingStatus("hb1"))
	}
	x.t.Logf("VIP on hb2 %v after hb1's path to the ping node was cut", took)
	if took > moveBound {
		x.fail("the move took %v, want <= deadping + 8 s = %v", took, moveBound)
	}
	if st := x.pingStatus("hb1"); st != "dead" {
		x.fail("hb1 shows the ping node %q, want dead", st)
	}
	// pingd -m 100 -d 1s: no ping node, score 0 (once dampened).
	if _, ok := e2e.WaitFor(5*time.Second, func() bool { return x.pingd("hb1") == 0 && x.pingd("hb2") == 100 }); !ok {
		x.fail("pingd scores hb1 %d, hb2 %d; want 0 and 100", x.pingd("hb1"), x.pingd("hb2"))
	}
	if !strings.Contains(x.nodes["hb1"].LogText(), "Giving up because we were told that we have less ping nodes.") {
		x.fail("hb1 did not log ipfail's give-up")
	}
	x.restore("hb1")
	if _, ok := e2e.WaitFor(10*time.Second, func() bool { return x.pingStatus("hb1") == "ping" }); !ok {
		x.fail("hb1 does not see the ping node again")
	}
}

func (x *lab) builtIn() {
	if _, err := os.Stat(x.stub); err == nil {
		x.t.Error("the ipfail or pingd program ran: both are built in")
	}
}

func TestIpfailAutoFailbackOn(t *testing.T) {
	x := newLab(t, "on")
	x.start()

	// Both lose the ping node: equal counts, nothing moves.
	x.cut("hb1")
	x.cut("hb2")
	if _, ok := e2e.WaitFor(10*time.Second, func() bool { return x.pingStatus("hb1") == "dead" && x.pingStatus("hb2") == "dead" }); !ok {
		x.fail("the ping node is not dead on both nodes")
	}
	if _, moved := e2e.WaitFor(6*time.Second, func() bool { return !x.only("hb1")() }); moved {
		x.fail("the VIP moved although both nodes lost the ping node")
	}
	x.restore("hb1")
	x.restore("hb2")
	if _, ok := e2e.WaitFor(10*time.Second, func() bool { return x.pingStatus("hb1") == "ping" && x.pingStatus("hb2") == "ping" }); !ok {
		x.fail("the ping node did not come back")
	}
	if _, moved := e2e.WaitFor(4*time.Second, func() bool { return !x.only("hb1")() }); moved {
		x.fail("the VIP moved after both nodes got the ping node back")
	}

	x.moveAway()
	// auto_failback on: the VIP returns home.
	if _, ok := e2e.WaitFor(15*time.Second, x.only("hb1")); !ok {
		x.fail("auto_failback on: the VIP did not return to hb1")
	}
	x.builtIn()
}

func TestIpfailAutoFailbackOff(t *testing.T) {
	x := newLab(t, "off")
	x.start()
	x.moveAway()
	hb2 := x.nodes["hb2"]
	if _, ok := e2e.WaitFor(10*time.Second, func() bool {
		return strings.Contains(hb2.LogText(), "Ping node count is balanced.")
	}); !ok {
		x.fail("hb2 did not learn that the counts are balanced again")
	}
	if _, moved := e2e.WaitFor(6*time.Second, func() bool { return !x.only("hb2")() }); moved {
		x.fail("auto_failback off: the VIP left hb2")
	}
	x.builtIn()
}
