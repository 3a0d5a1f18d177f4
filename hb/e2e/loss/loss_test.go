// Package loss runs two heartbeat-go daemons in network namespaces (root)
// with 30% of heartbeat's datagrams dropped at both receivers (nftables),
// the real-process counterpart of the core's simulated loss tests.
package loss

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/e2e"
	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// TestNoFalseDeathUnderLoss: keepalive 500 ms, deadtime 5 s, 30% loss
// each way for 40 s: nobody is declared dead, retransmission works (gaps
// are reported and filled), and a real death is still seen.
func TestNoFalseDeathUnderLoss(t *testing.T) {
	lab := netlab.New(t, netlab.Options{Nodes: []string{"hb1", "hb2"}})
	bin := testbin.Heartbeat(t)
	var nodes []*e2e.NSNode
	for _, name := range []string{"hb1", "hb2"} {
		peer := lab.Node("hb2")
		if name == "hb2" {
			peer = lab.Node("hb1")
		}
		g := e2e.NewNSNode(t, bin, lab.Node(name))
		g.WriteConfig(fmt.Sprintf("keepalive 500ms\ndeadtime 5\nwarntime 2\ninitdead 10\nudpport 694\nucast eth0 %s\nauto_failback on\nnode hb1\nnode hb2\n", peer.Addr()),
			"auth 1\n1 sha1 heartbeat-go-e2e-test-key\n", "")
		g.Start()
		nodes = append(nodes, g)
	}
	hb1, hb2 := nodes[0], nodes[1]
	if _, ok := e2e.WaitFor(20*time.Second, func() bool {
		return hb1.ClStatus("nodestatus", "hb2") == "active" && hb2.ClStatus("nodestatus", "hb1") == "active"
	}); !ok {
		hb1.Dump()
		hb2.Dump()
		t.Fatal("nodes never saw each other active")
	}
	for _, g := range nodes {
		if err := g.N.Loss(30, "udp dport 694"); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if _, died := e2e.WaitFor(40*time.Second, func() bool {
		return strings.Contains(hb1.LogText(), "is dead") || strings.Contains(hb2.LogText(), "is dead")
	}); died {
		hb1.Dump()
		hb2.Dump()
		t.Fatalf("false death under 30%% loss after %v", time.Since(start))
	}
	gaps := strings.Count(hb1.LogText(), "lost packet(s)") + strings.Count(hb2.LogText(), "lost packet(s)")
	t.Logf("40 s at 30%% loss: no death; %d gaps reported", gaps)
	if gaps == 0 {
		t.Error("no gap was ever reported: was the loss applied?")
	}
	for _, g := range nodes {
		g.N.ClearLoss()
	}
	hb1.Kill()
	if _, ok := e2e.WaitFor(5*time.Second+e2e.StartBonus, func() bool { return hb2.ClStatus("nodestatus", "hb1") == "dead" }); !ok {
		t.Fatal("hb2 did not declare the killed hb1 dead")
	}
}
