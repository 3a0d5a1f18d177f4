package sim

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/media/memnet"
)

// BenchmarkCluster16 measures one simulated minute of a 16-node cluster per
// iteration (network and invariant checks included) and reports it per
// node: ns/node-min is CPU time, allocs/node-min allocations.
func BenchmarkCluster16(b *testing.B) {
	for _, c := range []struct {
		keepalive time.Duration
		loss      float64
	}{
		{time.Second, 0}, {100 * time.Millisecond, 0}, {time.Second, 0.3},
	} {
		b.Run(fmt.Sprintf("keepalive=%v/loss=%.0f%%", c.keepalive, c.loss*100), func(b *testing.B) {
			s := New(b, Options{Nodes: 16, Seed: 1, Keepalive: c.keepalive, DeadTime: 10 * c.keepalive})
			s.Net.SetLoss(memnet.AllLinks, c.loss)
			s.Run(30 * time.Second) // past start-up
			b.ReportAllocs()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			for b.Loop() {
				s.Run(time.Minute)
			}
			runtime.ReadMemStats(&ms1)
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(ns/16, "ns/node-min")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N)/16, "allocs/node-min")
			b.ReportMetric(0, "ns/op")
		})
	}
}
