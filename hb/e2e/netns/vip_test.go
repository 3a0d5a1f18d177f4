// Package netns runs heartbeat-go clusters in network namespaces (root):
// a VIP held by a haresources group moves between nodes as heartbeat
// moves it, probed from a client namespace.
package netns

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/e2e"
	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// cluster builds a lab with hb1, hb2 and a client host; hb1 and hb2 get a
// heartbeat-go configuration (ucast eth0 to the peer, keepalive 500ms,
// deadtime 2, haresources "hb1 IPaddr2::198.18.0.100/24/eth0").
func cluster(t *testing.T, failback string) (map[string]*e2e.NSNode, *netlab.Node) {
	lab := netlab.New(t, netlab.Options{Nodes: []string{"hb1", "hb2"}, Hosts: []string{"client"}})
	bin := testbin.Heartbeat(t)
	nodes := map[string]*e2e.NSNode{}
	for _, name := range []string{"hb1", "hb2"} {
		peer := lab.Node("hb2")
		if name == "hb2" {
			peer = lab.Node("hb1")
		}
		g := e2e.NewNSNode(t, bin, lab.Node(name))
		g.WriteConfig(fmt.Sprintf("keepalive 500ms\ndeadtime 2\nwarntime 1\ninitdead 4\nudpport 694\nucast eth0 %s\nauto_failback %s\nnode hb1\nnode hb2\n", peer.Addr(), failback),
			"auth 1\n1 sha1 heartbeat-go-e2e-test-key\n", "hb1 IPaddr2::"+e2e.VIP+"/24/eth0\n")
		nodes[name] = g
	}
	return nodes, lab.Node("client")
}

func only(nodes map[string]*e2e.NSNode, holder string) func() bool {
	return func() bool {
		for name, g := range nodes {
			if g.HasVIP() != (name == holder) {
				return false
			}
		}
		return true
	}
}

func dump(nodes map[string]*e2e.NSNode) {
	for _, g := range nodes {
		g.Dump()
	}
}

// failover: the VIP moves to hb2 within deadtime + 1 s after hb1 is killed
// and cut off (probed from the client); then hb1 "reboots" and restarts.
func failover(t *testing.T, failback string) (map[string]*e2e.NSNode, *netlab.Node) {
	nodes, client := cluster(t, failback)
	hb1, hb2 := nodes["hb1"], nodes["hb2"]
	hb1.Start()
	hb2.Start()
	started := time.Now()
	if _, ok := e2e.WaitFor(40*time.Second, func() bool { return only(nodes, "hb1")() && e2e.Reaches(client, hb1.N, e2e.VIP) }); !ok {
		dump(nodes)
		t.Fatal("hb1 never held the VIP")
	}
	e2e.WaitFor(e2e.StartBonus, func() bool { return time.Since(started) > e2e.StartBonus })

	t0 := time.Now()
	hb1.Kill()
	if err := hb1.N.Cut(0); err != nil { // a dead machine: its stale address answers nobody
		t.Fatal(err)
	}
	onHB2, ok := e2e.WaitFor(e2e.DeadTime+10*time.Second, hb2.HasVIP)
	if !ok {
		dump(nodes)
		t.Fatal("the VIP did not move to hb2")
	}
	_, ok = e2e.WaitFor(5*time.Second, func() bool { return e2e.Reaches(client, hb2.N, e2e.VIP) })
	took := time.Since(t0)
	if !ok {
		dump(nodes)
		t.Fatal("the client does not reach the VIP on hb2")
	}
	t.Logf("VIP configured on hb2 %v after hb1 was killed, reachable from the client after %v", onHB2, took)
	if took > e2e.DeadTime+time.Second {
		dump(nodes)
		t.Errorf("failover took %v, want <= deadtime + 1 s = %v", took, e2e.DeadTime+time.Second)
	}
	// heartbeat-go's own account of the move: from the death to the
	// address being up (native IPaddr2, no fork). Aim: tens of ms.
	if c, err := ctl.Dial(t.Context(), filepath.Join(hb2.Run(), "heartbeat")); err == nil {
		st, err := c.Status(t.Context())
		c.Close()
		if err != nil || len(st.Failovers) == 0 {
			t.Errorf("hb2 status: %v, failovers %v", err, st.Failovers)
		} else {
			f := st.Failovers[len(st.Failovers)-1]
			t.Logf("hb2 reports %s moved from %s (%s) in %v", f.Group, f.From, f.Reason, f.Took)
			if f.Took > 250*time.Millisecond || f.From != "hb1" || f.To != "hb2" {
				t.Errorf("failover record %+v: want hb1 -> hb2 within 250 ms of the death", f)
			}
		}
	} else {
		t.Errorf("control socket of hb2: %v", err)
	}
	// hb1 "reboots": address gone, cable back, heartbeat started.
	hb1.N.Output("ip", "addr", "del", e2e.VIP+"/24", "dev", "eth0")
	if err := hb1.N.Plug(0); err != nil {
		t.Fatal(err)
	}
	hb1.Start()
	return nodes, client
}

func TestVIPFailoverAutoFailbackOn(t *testing.T) {
	nodes, client := failover(t, "on")
	hb1, hb2 := nodes["hb1"], nodes["hb2"]
	if _, ok := e2e.WaitFor(30*time.Second, func() bool { return only(nodes, "hb1")() && e2e.Reaches(client, hb1.N, e2e.VIP) }); !ok {
		dump(nodes)
		t.Fatal("auto_failback on: the VIP did not return to hb1")
	}
	// hb_standby on the holder moves it; hb_takeover brings it back.
	hb1.Tool("hb_standby")
	if _, ok := e2e.WaitFor(20*time.Second, func() bool { return only(nodes, "hb2")() && e2e.Reaches(client, hb2.N, e2e.VIP) }); !ok {
		dump(nodes)
		t.Fatal("hb_standby on hb1 did not move the VIP to hb2")
	}
	hb1.Tool("hb_takeover")
	if _, ok := e2e.WaitFor(20*time.Second, func() bool { return only(nodes, "hb1")() && e2e.Reaches(client, hb1.N, e2e.VIP) }); !ok {
		dump(nodes)
		t.Fatal("hb_takeover on hb1 did not bring the VIP back")
	}
}

func TestVIPFailoverAutoFailbackOff(t *testing.T) {
	nodes, client := failover(t, "off")
	hb2 := nodes["hb2"]
	// Wait until the restarted hb1 talks, then watch: the VIP stays on hb2.
	if _, ok := e2e.WaitFor(20*time.Second, func() bool {
		return strings.Count(hb2.LogText(), "Status update for node hb1: status active") >= 2
	}); !ok {
		dump(nodes)
		t.Fatal("hb2 never saw the restarted hb1 active")
	}
	if _, moved := e2e.WaitFor(4*time.Second, func() bool { return !only(nodes, "hb2")() }); moved {
		dump(nodes)
		t.Fatal("auto_failback off: the VIP left hb2")
	}
	if !e2e.Reaches(client, hb2.N, e2e.VIP) {
		t.Error("client does not reach the VIP on hb2")
	}
}

// TestPartitionHeal: a partition longer than deadtime makes both nodes
// take the VIP (split brain, as heartbeat without fencing); when it heals,
// both log heartbeat's "returning after partition" lines, give everything
// up and restart, and the VIP ends on its home node only.
func TestPartitionHeal(t *testing.T) {
	nodes, client := cluster(t, "on")
	hb1, hb2 := nodes["hb1"], nodes["hb2"]
	hb1.Start()
	hb2.Start()
	started := time.Now()
	if _, ok := e2e.WaitFor(40*time.Second, only(nodes, "hb1")); !ok {
		dump(nodes)
		t.Fatal("hb1 never held the VIP")
	}
	e2e.WaitFor(e2e.StartBonus, func() bool { return time.Since(started) > e2e.StartBonus })
	for _, g := range nodes {
		if err := g.N.Loss(100, "udp dport 694"); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := e2e.WaitFor(e2e.DeadTime+10*time.Second, func() bool { return hb1.HasVIP() && hb2.HasVIP() }); !ok {
		dump(nodes)
		t.Fatal("partitioned nodes did not both take the VIP")
	}
	for _, g := range nodes {
		g.N.ClearLoss()
	}
	// The first node to hear its peer again logs the partition's end and
	// restarts; the other may see that restart before it sees the return.
	if _, ok := e2e.WaitFor(15*time.Second, func() bool {
		return strings.Contains(hb1.LogText(), "CRIT: Cluster node hb2 returning after partition.") ||
			strings.Contains(hb2.LogText(), "CRIT: Cluster node hb1 returning after partition.")
	}); !ok {
		dump(nodes)
		t.Fatal("neither node logged the partition's end")
	}
	if _, ok := e2e.WaitFor(40*time.Second, func() bool {
		return only(nodes, "hb1")() && (strings.Contains(hb1.LogText(), "Performing heartbeat restart exec.") ||
			strings.Contains(hb2.LogText(), "Performing heartbeat restart exec."))
	}); !ok {
		dump(nodes)
		t.Fatal("after the partition healed the VIP did not settle on hb1 alone")
	}
	if _, ok := e2e.WaitFor(5*time.Second, func() bool { return e2e.Reaches(client, hb1.N, e2e.VIP) }); !ok {
		t.Error("client does not reach the VIP on hb1")
	}
}

// TestMedia: the broadcast and multicast media join the two nodes as
// ucast does (each node hears its own bcast packets and ignores them).
func TestMedia(t *testing.T) {
	for _, medium := range []string{"bcast eth0", "mcast eth0 239.18.0.1 694 1 0"} {
		t.Run(strings.Fields(medium)[0], func(t *testing.T) {
			lab := netlab.New(t, netlab.Options{Nodes: []string{"hb1", "hb2"}})
			bin := testbin.Heartbeat(t)
			var nodes []*e2e.NSNode
			for _, name := range []string{"hb1", "hb2"} {
				g := e2e.NewNSNode(t, bin, lab.Node(name))
				g.WriteConfig("keepalive 500ms\ndeadtime 2\nwarntime 1\ninitdead 4\nudpport 694\n"+medium+"\nauto_failback on\nnode hb1\nnode hb2\n",
					"auth 1\n1 md5 heartbeat-go-e2e-test-key\n", "")
				g.Start()
				nodes = append(nodes, g)
			}
			hb1, hb2 := nodes[0], nodes[1]
			if _, ok := e2e.WaitFor(20*time.Second, func() bool {
				return hb1.ClStatus("nodestatus", "hb2") == "active" && hb2.ClStatus("nodestatus", "hb1") == "active"
			}); !ok {
				hb1.Dump()
				hb2.Dump()
				t.Fatalf("%s: nodes never saw each other active", medium)
			}
			hb1.Kill()
			if _, ok := e2e.WaitFor(e2e.DeadTime+e2e.StartBonus, func() bool { return hb2.ClStatus("nodestatus", "hb1") == "dead" }); !ok {
				hb2.Dump()
				t.Fatalf("%s: hb2 did not declare hb1 dead", medium)
			}
		})
	}
}
