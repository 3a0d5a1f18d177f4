// Package lineartest checks, from a test, that a parser's cost grows
// linearly with its input: the same shape of input at 1x and about 16x
// its size must cost less than Bound times as much CPU time and memory.
// Linear code costs about 16x, quadratic about 256x, so the bound catches
// a quadratic step without an absolute slack.
//
// Timings are this thread's CPU time (not wall time, so time spent
// descheduled on a busy machine does not count), the least of several
// interleaved runs with the garbage collector off, and a shape fails only
// when three such measurements all exceed the bound. Allocated bytes are
// exact and measured once (the least of three runs).
package lineartest

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Bound is the largest cost ratio accepted for a 16x larger input.
const Bound = 40.0

// Check fails t when parse's cost on large is not linear in its cost on
// small. name labels the input shape in messages.
func Check(t testing.TB, name string, small, large []byte, parse func([]byte)) {
	t.Helper()
	size := float64(len(large)) / float64(len(small))
	if size < 15 || size > 17 {
		t.Fatalf("%s: sizes %d and %d are not 1:16", name, len(small), len(large))
	}
	if a, b := allocBytes(small, parse), allocBytes(large, parse); float64(b) > Bound*float64(max(a, 1)) {
		t.Errorf("%s: allocates %d bytes for %d bytes of input, %d bytes for %d (%.0fx for %.0fx the input)",
			name, a, len(small), b, len(large), float64(b)/float64(max(a, 1)), size)
	}
	var ratio float64
	var ts, tl time.Duration
	for range 3 {
		ts, tl = cpuTimes(small, large, parse)
		if ratio = float64(tl) / float64(max(ts, 1)); ratio < Bound {
			break
		}
	}
	t.Logf("%s: %v for %d bytes, %v for %d bytes: %.1fx", name, ts, len(small), tl, len(large), ratio)
	if ratio >= Bound {
		t.Errorf("%s: not linear: %v for %d bytes, %v for %d bytes (%.0fx for %.0fx the input; linear ~16x, quadratic ~256x)",
			name, ts, len(small), tl, len(large), ratio, size)
	}
}

// cpuTimes returns the least CPU time of several parses of small and of
// large, interleaved so that a burst of load hits both.
func cpuTimes(small, large []byte, parse func([]byte)) (ts, tl time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// No collection inside a timed parse: its cost depends on the heap,
	// not on the parser.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	ts, tl = time.Duration(1<<62), time.Duration(1<<62)
	for range 7 {
		for i, b := range [][]byte{small, large} {
			runtime.GC()
			start := threadCPU()
			parse(b)
			d := threadCPU() - start
			if i == 0 {
				ts = min(ts, d)
			} else {
				tl = min(tl, d)
			}
		}
	}
	return ts, tl
}

func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

// allocBytes returns the bytes one parse of b allocates (the least over a
// few runs, in case the runtime allocated something meanwhile).
func allocBytes(b []byte, parse func([]byte)) uint64 {
	best := uint64(1 << 63)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		parse(b)
		runtime.ReadMemStats(&after)
		best = min(best, after.TotalAlloc-before.TotalAlloc)
	}
	return best
}
