package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/media/memnet"
)

// TestRestartNoOldRexmit: a node restarts (new generation, sequence numbers
// from 1 again), quicker than the dead time or after being declared dead,
// with and without loss. No retransmission request reaching its new
// incarnation may ask for a number it has not sent yet: heartbeat 3.0.6
// logs "Rexmit of seq N requested. M is max." for each.
func TestRestartNoOldRexmit(t *testing.T) {
	const keepalive, deadtime = time.Second, 10 * time.Second
	for _, loss := range []float64{0, 0.3} {
		for _, down := range []time.Duration{0, 1500 * time.Millisecond, 4 * time.Second, 15 * time.Second} {
			for seed := uint64(1); seed <= 4; seed++ {
				t.Run(fmt.Sprintf("loss%v/down%v/seed%d", loss, down, seed), func(t *testing.T) {
					s := New(t, Options{Nodes: 3, Seed: seed, Keepalive: keepalive, DeadTime: deadtime, AppEvery: 700 * time.Millisecond})
					s.Net.SetLoss(memnet.AllLinks, loss)
					s.Run(40 * time.Second)
					for _, nd := range s.Nodes {
						nd.RexmitAboveMax, nd.RexmitStale = nil, nil // only what reaches the new incarnation matters here
					}
					oldGen := s.Node("n02").Gen
					s.Crash("n02")
					if down > 0 {
						s.Run(down)
					}
					s.Restart("n02")
					s.Run(30 * time.Second)
					s.RequireNoViolations()
					if r := s.Node("n02").RexmitStale; len(r) > 0 {
						t.Errorf("restarted n02 (gen %x -> %x) was asked for numbers it never sent by nodes that knew its new generation: %v", oldGen, s.Node("n02").Gen, r)
					}
					if r := s.Node("n02").RexmitAboveMax; len(r) > 0 {
						t.Logf("requests that raced the restart: %v", r)
					}
					for _, obs := range []string{"n01", "n03"} {
						if s.Status(obs, "n02") != core.StatusActive {
							t.Errorf("%s sees n02 %s", obs, s.Status(obs, "n02"))
						}
					}
				})
			}
		}
	}
}
