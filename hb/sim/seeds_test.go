package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/media/memnet"
)

// TestManySeeds runs shorter lossy scenarios over many seeds: partitions
// and crashes at random times must never break an invariant.
func TestManySeeds(t *testing.T) {
	for seed := uint64(100); seed < 130; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := New(t, Options{Nodes: 3, Seed: seed, Keepalive: 500 * time.Millisecond, DeadTime: 3 * time.Second,
				AppEvery: time.Second, Jitter: 20 * time.Millisecond})
			s.Net.SetLoss(memnet.AllLinks, 0.25)
			s.Net.SetDup(memnet.AllLinks, 0.05)
			s.Run(20 * time.Second)
			s.Partition([]string{"n01"}, []string{"n02", "n03"})
			s.Run(time.Duration(seed%7) * time.Second)
			s.Heal()
			s.Run(20 * time.Second)
			s.Crash("n02")
			s.Run(time.Duration(seed%5) * time.Second)
			s.Restart("n02")
			ok := s.RunUntil(s.Now.Add(30*time.Second), func() bool {
				for _, a := range s.Names() {
					for _, b := range s.Names() {
						if s.Status(a, b) != core.StatusActive {
							return false
						}
					}
				}
				return true
			})
			if !ok {
				t.Fatalf("not all active again: %s", s.Transcript(core.NodeDead, core.NodeStatus, core.PartitionHealed, core.PeerRestarted))
			}
			s.RequireNoViolations()
			s.RequireNoHoles()
		})
	}
}
