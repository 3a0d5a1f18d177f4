package sim

import (
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/hb/wire"
	"github.com/heartbeat-go/heartbeat/media/memnet"
)

func countTypes(s *Sim, since int) map[string]int {
	c := map[string]int{}
	for _, nd := range s.Nodes {
		for _, m := range nd.Outbox[min(since, len(nd.Outbox)):] {
			c[m.Value(wire.FType)]++
		}
	}
	return c
}

// TestNoRetransmissionStorm bounds the protocol traffic under heavy loss and
// checks that nobody keeps asking a dead node for anything.
func TestNoRetransmissionStorm(t *testing.T) {
	s := New(t, Options{Nodes: 8, Seed: 5, AppEvery: 2 * time.Second, Capture: true})
	s.Net.SetLoss(memnet.AllLinks, 0.5)
	s.Run(2 * time.Minute)
	c := countTypes(s, 0)
	originals := c["status"] + c["simapp"] // includes their retransmissions
	perNodeSec := float64(c["NS_rexmit"]) / 8 / 120
	t.Logf("2 min, 8 nodes, 50%% loss: %v (%.1f NS_rexmit per node per second)", c, perNodeSec)
	// 7 peers, ~1.5 new messages/s each, half of them lost: a handful of
	// requests per second and node; a storm would be orders of magnitude more.
	if perNodeSec > 15 {
		t.Errorf("%.1f retransmission requests per node per second", perNodeSec)
	}
	if c["NS_rexmit"] > 3*originals {
		t.Errorf("%d requests for %d messages", c["NS_rexmit"], originals)
	}

	// Isolate n08 for good: once it is dead, nobody asks it for anything.
	s.Partition([]string{"n08"}, []string{"n01", "n02", "n03", "n04", "n05", "n06", "n07"})
	s.Run(15 * time.Second)
	if n := len(s.EventsOf("", core.NodeDead)); n < 8 {
		t.Fatalf("%d dead events after isolating n08", n)
	}
	mark := make([]int, len(s.Nodes))
	for i, nd := range s.Nodes {
		mark[i] = len(nd.Outbox)
	}
	s.Run(time.Minute)
	for i, nd := range s.Nodes[:7] {
		for _, m := range nd.Outbox[mark[i]:] {
			if m.Value(wire.FType) == core.TypeRexmit && m.Value(wire.FTo) == "n08" {
				t.Fatalf("%s still asks dead n08 for %s..%s", nd.Name, m.Value(wire.FFirstSeq), m.Value(wire.FLastSeq))
			}
		}
	}
}
