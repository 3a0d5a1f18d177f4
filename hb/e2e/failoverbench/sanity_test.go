package failoverbench

import (
	"os"
	"testing"
)

// The benchmarks need root and namespaces; the plain package test checks
// only the /proc readers they rely on, quickly, on this test process.

func TestParseStat(t *testing.T) {
	line := "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 9 0 55 1000 200\n"
	f, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if f[0] != "S" || f[1] != "1" || f[11] != "7" || f[12] != "3" || f[13] != "2" || f[14] != "1" {
		t.Errorf("fields %q", f[:15])
	}
	for _, bad := range []string{"", "4242 no-parens S 1", "1 (x) S 1 2 3"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

func TestTreeUsageSelf(t *testing.T) {
	// Burn a little CPU so that schedstat has moved.
	x := 0
	for i := 0; i < 5_000_000; i++ {
		x += i ^ (x >> 3)
	}
	u, err := treeUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.procs < 1 || u.rssKiB <= 0 || u.ticks < 0 || u.schedNs <= 0 || u.switches <= 0 {
		t.Errorf("usage of this test process %+v (x=%d)", u, x)
	}
	if _, err := treeUsage(-1); err == nil {
		t.Error("treeUsage(-1) succeeded")
	}
}

func TestPerNodeMinute(t *testing.T) {
	// 40 ms over 20 s on 2 nodes = 20 ms per node per 20 s = 60 per minute.
	if got := perNodeMinute(40, 2, 20); got != 60 {
		t.Errorf("perNodeMinute = %v, want 60", got)
	}
}

func TestParseStatusKiB(t *testing.T) {
	status := "Name:\tx\nVmRSS:\t   11052 kB\nRssAnon:\t    4410 kB\n"
	if v, err := parseStatusKiB(status, "VmRSS"); err != nil || v != 11052 {
		t.Errorf("VmRSS = %d, %v", v, err)
	}
	if v, err := parseStatusKiB(status, "RssAnon"); err != nil || v != 4410 {
		t.Errorf("RssAnon = %d, %v", v, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\n", "VmRSS:\tx kB\n"} {
		if _, err := parseStatusKiB(bad, "VmRSS"); err == nil {
			t.Errorf("parseStatusKiB(%q) accepted", bad)
		}
	}
}

func TestParseStatusCount(t *testing.T) {
	status := "voluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n"
	if v, err := parseStatusCount(status, "voluntary_ctxt_switches"); err != nil || v != 120 {
		t.Errorf("voluntary = %d, %v", v, err)
	}
	if v, err := parseStatusCount(status, "nonvoluntary_ctxt_switches"); err != nil || v != 7 {
		t.Errorf("nonvoluntary = %d, %v", v, err)
	}
	if _, err := parseStatusCount(status, "missing"); err == nil {
		t.Error("a missing field was found")
	}
}
