package sim

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/media/memnet"
)

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCluster16 measures one simulated minute of a 16-node cluster per
// iteration (network and invariant checks included) and reports it per
// node: cpu-ns/node-min is CPU time (getrusage, user + system, so it
// includes the garbage collector's work on other threads and is not
// inflated by waiting for a busy machine's cores), wall-ns/node-min
// elapsed time, allocs/node-min allocations.
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
			cpu0 := cpuTime(b)
			for b.Loop() {
				s.Run(time.Minute)
			}
			cpu := cpuTime(b) - cpu0
			runtime.ReadMemStats(&ms1)
			n := float64(b.N) * 16
			b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/node-min")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "wall-ns/node-min")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/n, "allocs/node-min")
			b.ReportMetric(0, "ns/op")
		})
	}
}
