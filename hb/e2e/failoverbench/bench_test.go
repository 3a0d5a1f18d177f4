package failoverbench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/e2e"
	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// vip is the address the haresources group moves (198.18.0.0/15 only).
const vip = "198.18.0.100"

// idleWindow is how long CPU is measured on an idle cluster; the result
// is scaled to a minute. FAILOVERBENCH_IDLE (a Go duration, e.g. "5m")
// sets another.
func idleWindow(tb testing.TB) time.Duration {
	v := os.Getenv("FAILOVERBENCH_IDLE")
	if v == "" {
		return 20 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		tb.Fatalf("FAILOVERBENCH_IDLE=%q: want a duration of 1s or more", v)
	}
	return d
}

// timing is one keepalive/deadtime setting, written as ha.cf takes it.
type timing struct {
	name                          string
	keepalive, deadtime, warntime string
	initdead                      string
	dead                          time.Duration
}

var timings = []timing{
	{name: "keepalive1s-deadtime10s", keepalive: "1", deadtime: "10", warntime: "5", initdead: "20", dead: 10 * time.Second},
	{name: "keepalive100ms-deadtime500ms", keepalive: "100ms", deadtime: "500ms", warntime: "300ms", initdead: "2", dead: 500 * time.Millisecond},
}

// writeConfig writes the node's ha.cf (ucast to every other node of l),
// sha1 authkeys and a haresources group holding the VIP at home on the
// first node.
func (n *node) writeConfig(tm timing, all []*node) {
	var b strings.Builder
	fmt.Fprintf(&b, "logfile %s\nkeepalive %s\ndeadtime %s\nwarntime %s\ninitdead %s\nudpport 694\n",
		filepath.Join(n.dir, "ha-log"), tm.keepalive, tm.deadtime, tm.warntime, tm.initdead)
	for _, p := range all {
		if p != n {
			fmt.Fprintf(&b, "ucast eth0 %s\n", p.addr)
		}
	}
	b.WriteString("auto_failback off\n")
	for _, p := range all {
		fmt.Fprintf(&b, "node %s\n", p.name)
	}
	files := map[string]string{
		"ha.cf":       b.String(),
		"authkeys":    "auth 1\n1 sha1 heartbeat-go-failover-bench\n",
		"haresources": fmt.Sprintf("%s IPaddr2::%s/24/eth0\n", all[0].name, vip),
	}
	for name, text := range files {
		mode := os.FileMode(0o644)
		if name == "authkeys" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(n.dir, "etc", name), []byte(text), mode); err != nil {
			n.lab.tb.Fatal(err)
		}
	}
}

// startDaemon starts heartbeat-go in the foreground, without debug
// logging (as a production node runs).
func (n *node) startDaemon(bin string) {
	n.proc = n.start(bin, "--foreground", "--node", n.name, "--config-dir", filepath.Join(n.dir, "etc"),
		"--state-dir", filepath.Join(n.dir, "var"), "--run-dir", filepath.Join(n.dir, "run"))
}

func (n *node) status(ctx context.Context) (ctl.Status, error) {
	c, err := ctl.Dial(ctx, filepath.Join(n.dir, "run", "heartbeat"))
	if err != nil {
		return ctl.Status{}, err
	}
	defer c.Close()
	return c.Status(ctx)
}

// seesAllActive reports whether the node's daemon sees every other node
// active.
func (n *node) seesAllActive(ctx context.Context) bool {
	st, err := n.status(ctx)
	if err != nil {
		return false
	}
	active := 0
	for _, o := range st.Nodes {
		if o.Type == ctl.NodeNormal && o.Name != n.name {
			if o.Status != ctl.StatusActive {
				return false
			}
			active++
		}
	}
	return active == len(n.lab.nodes)-1
}

func (n *node) logText() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "ha-log"))
	return string(b)
}

func (n *node) dump() {
	n.lab.tb.Logf("==== %s ha-log:\n%s\n==== %s output:\n%s", n.name, n.logText(), n.name, n.proc.Output())
}

// addrWatch answers "is the VIP on eth0?" with one netlink dump, on a
// socket opened in the node's namespace.
type addrWatch struct {
	h    *netlink.Handle
	link netlink.Link
	ip   net.IP
}

func (n *node) watchVIP() *addrWatch {
	n.lab.tb.Helper()
	w := &addrWatch{ip: net.ParseIP(vip)}
	err := netlab.Do(n.ns, func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		w.h = h
		w.link, err = h.LinkByName("eth0")
		return err
	})
	if err != nil {
		n.lab.tb.Fatalf("%s: netlink: %v", n.name, err)
	}
	n.lab.tb.Cleanup(w.h.Close)
	return w
}

func (w *addrWatch) has() bool {
	addrs, err := w.h.AddrList(w.link, netlink.FAMILY_V4)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.IP.Equal(w.ip) {
			return true
		}
	}
	return false
}

// waitFor polls cond every step until it holds or within has passed.
func waitFor(within, step time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(step)
	}
}

// measureIdle samples the daemons' process trees over idleWindow and
// returns the last sample of each and the CPU they spent in between.
func measureIdle(tb testing.TB, nodes []*node) (last []usage, cpuMs, schedMs, wakeups float64, window time.Duration) {
	tb.Helper()
	first := make([]usage, len(nodes))
	for i, n := range nodes {
		u, err := treeUsage(n.proc.PID)
		if err != nil {
			tb.Fatalf("%s: %v", n.name, err)
		}
		first[i] = u
	}
	load0 := loadAvg()
	t0 := time.Now()
	// Nothing to wait for but the clock: this is the measured window, and
	// the daemons must be left alone during it.
	time.Sleep(idleWindow(tb))
	last = make([]usage, len(nodes))
	for i, n := range nodes {
		u, err := treeUsage(n.proc.PID)
		if err != nil {
			tb.Fatalf("%s: %v", n.name, err)
		}
		last[i] = u
		cpuMs += u.cpuMs() - first[i].cpuMs()
		schedMs += float64(u.schedNs-first[i].schedNs) / 1e6
		wakeups += float64(u.switches - first[i].switches)
	}
	window = time.Since(t0)
	wakeups /= float64(len(nodes)) * window.Seconds()
	// The daemons' CPU time is their own, but on a busy machine each of
	// their wake-ups costs more (cache, scheduler): say how busy it was.
	tb.Logf("machine load average (1 min) %s at the start of the idle window, %s at its end", load0, loadAvg())
	for i, n := range nodes {
		tb.Logf("%s: VmRSS %.1f -> %.1f MiB over the window (RssAnon %.1f -> %.1f, Pss %.1f -> %.1f)", n.name,
			first[i].rssMiB(), last[i].rssMiB(), mib(first[i].anonKiB), mib(last[i].anonKiB), mib(first[i].pssKiB), mib(last[i].pssKiB))
	}
	return last, cpuMs, schedMs, wakeups, window
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mib(kib int64) float64 { return float64(kib) / 1024 }

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// startCluster starts every node's daemon and waits until each sees all
// others active, the first node holds the VIP, and the start-up bonus
// (a young node advertises deadtime + 2 s) is over.
func startCluster(b *testing.B, nodes []*node, tm timing) {
	bin := testbin.Heartbeat(b)
	for _, n := range nodes {
		n.writeConfig(tm, nodes)
	}
	started := time.Now()
	for _, n := range nodes {
		n.startDaemon(bin)
	}
	home := nodes[0].watchVIP()
	ok := waitFor(60*time.Second, 50*time.Millisecond, func() bool {
		for _, n := range nodes {
			if !n.seesAllActive(b.Context()) {
				return false
			}
		}
		return home.has()
	})
	if !ok {
		for _, n := range nodes {
			n.dump()
		}
		b.Fatalf("the cluster did not form with %s holding the VIP", nodes[0].name)
	}
	waitFor(e2e.StartBonus, 100*time.Millisecond, func() bool { return time.Since(started) > e2e.StartBonus })
}

// linesFrom returns up to n lines of text from the first one holding
// marker, indented, for the report.
func linesFrom(text, marker string, n int) string {
	i := strings.Index(text, marker)
	if i < 0 {
		return "  (no line with " + marker + ")"
	}
	i = strings.LastIndexByte(text[:i], '\n') + 1
	lines := strings.SplitN(strings.TrimRight(text[i:], "\n"), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// BenchmarkFailover: two daemons (ucast, sha1), the VIP on hb1; idle CPU
// and RSS are measured, then hb1 is SIGKILLed and its cable pulled, and
// the time until the VIP is configured on hb2 is measured by polling
// hb2's addresses over netlink every millisecond.
func BenchmarkFailover(b *testing.B) {
	for _, tm := range timings {
		b.Run(tm.name, func(b *testing.B) {
			var failover, late, detect, takeover, rss, cpu, sched, wakeups float64
			for i := 0; i < b.N; i++ {
				r := failoverOnce(b, tm)
				failover += r.failover
				late += r.late
				detect += r.detect
				takeover += r.takeover
				rss += r.rss
				cpu += r.cpu
				sched += r.sched
				wakeups += r.wakeups
			}
			n := float64(b.N)
			b.ReportMetric(0, "ns/op") // one op is a whole cluster's life: meaningless
			b.ReportMetric(failover/n, "failover-ms")
			b.ReportMetric(late/n, "late-ms")
			b.ReportMetric(detect/n, "detect-ms")
			b.ReportMetric(takeover/n, "takeover-ms")
			b.ReportMetric(rss/n, "rss-MiB/node")
			b.ReportMetric(cpu/n, "cpu-ms/node-min")
			b.ReportMetric(sched/n, "sched-cpu-ms/node-min")
			b.ReportMetric(wakeups/n, "ctxsw/node-s")
		})
	}
}

type result struct {
	failover, detect, takeover float64 // ms
	// late is how long after deadtime had passed since hb2 last heard
	// hb1 the VIP was up: the failover time the deadtime contract allows
	// for is deadtime after the last heartbeat, not after the kill (which
	// falls anywhere within a keepalive after it).
	late       float64 // ms
	rss        float64 // MiB per node
	cpu, sched float64 // ms per node-minute
	wakeups    float64 // context switches per node-second
}

func failoverOnce(b *testing.B, tm timing) result {
	b.StopTimer()
	l := newLab(b, []string{"hb1", "hb2"})
	defer l.cleanup() // the next iteration measures alone
	hb1, hb2 := l.nodes[0], l.nodes[1]
	nodes := []*node{hb1, hb2}
	startCluster(b, nodes, tm)
	watch := hb2.watchVIP()
	if watch.has() {
		b.Fatal("hb2 has the VIP before the failover")
	}
	var r result

	last, cpuMs, schedMs, wakeups, window := measureIdle(b, nodes)
	r.wakeups = wakeups
	for _, u := range last {
		r.rss += u.rssMiB() / float64(len(last))
	}
	r.cpu = perNodeMinute(cpuMs, len(nodes), window.Seconds())
	r.sched = perNodeMinute(schedMs, len(nodes), window.Seconds())
	b.Logf("%s: idle %.1f s: hb1 %d process(es) %.1f MiB (%.1f anon), hb2 %d process(es) %.1f MiB (%.1f anon); CPU %.0f ms (utime+stime), %.1f ms (schedstat) for 2 nodes",
		tm.name, window.Seconds(), last[0].procs, last[0].rssMiB(), float64(last[0].anonKiB)/1024,
		last[1].procs, last[1].rssMiB(), float64(last[1].anonKiB)/1024, cpuMs, schedMs)

	b.StartTimer()
	t0 := time.Now()
	if err := syscall.Kill(hb1.proc.PID, syscall.SIGKILL); err != nil {
		b.Fatal(err)
	}
	if err := hb1.cut(); err != nil {
		b.Fatal(err)
	}
	var up time.Duration
	if !waitFor(tm.dead+10*time.Second, time.Millisecond, func() bool {
		if !watch.has() {
			return false
		}
		up = time.Since(t0)
		return true
	}) {
		hb2.dump()
		b.Fatalf("the VIP did not come up on hb2 within deadtime + 10 s")
	}
	b.StopTimer()
	r.failover = ms(up)

	// hb2's own account: when it declared hb1 dead and when the group was
	// up. The address is visible a moment before the daemon has noted the
	// move as done, so wait for the record.
	var st ctl.Status
	var err error
	if !waitFor(5*time.Second, 5*time.Millisecond, func() bool {
		st, err = hb2.status(b.Context())
		return err == nil && len(st.Failovers) > 0 && !st.Failovers[len(st.Failovers)-1].Done.IsZero()
	}) {
		hb2.dump()
		b.Fatalf("hb2 status: %v, failovers %+v", err, st.Failovers)
	}
	f := st.Failovers[len(st.Failovers)-1]
	if f.From != "hb1" || f.To != "hb2" || f.Error != "" {
		b.Fatalf("hb2's last failover %+v, want hb1 -> hb2", f)
	}
	var heard time.Time
	for _, o := range st.Nodes {
		if o.Name == "hb1" {
			heard = o.LastHeard
		}
	}
	if heard.IsZero() || heard.After(t0) {
		b.Fatalf("hb2 last heard hb1 at %v, the kill was at %v", heard, t0)
	}
	r.detect = ms(f.Start.Sub(t0))
	r.takeover = ms(f.Took)
	r.late = ms(t0.Add(up).Sub(heard.Add(tm.dead)))
	b.Logf("%s: VIP on hb2 %.1f ms after SIGKILL (deadtime %v); hb2 last heard hb1 %.1f ms before the kill, declared it dead %.1f ms after the kill (%.1f ms of silence), had the group up %.1f ms later (%s), seen %.1f ms after that: %.1f ms after deadtime; hb2's log:\n%s",
		tm.name, r.failover, tm.dead, ms(t0.Sub(heard)), r.detect, ms(f.Start.Sub(heard)), r.takeover, f.Reason,
		r.failover-r.detect-r.takeover, r.late,
		linesFrom(hb2.logText(), "node hb1: is dead", 8))
	if r.late > 50 {
		b.Logf("%s: the VIP came up %.1f ms after deadtime, more than the 50 ms aimed at", tm.name, r.late)
	}
	return r
}

// BenchmarkIdle8Nodes: eight daemons (ucast to the seven others, sha1)
// in one namespace set, idle at keepalive 1 s / deadtime 10 s: memory of
// the whole cluster and CPU per node-minute.
func BenchmarkIdle8Nodes(b *testing.B) {
	tm := timings[0]
	var rss, cpu, sched, wake float64
	for i := 0; i < b.N; i++ {
		names := make([]string, 8)
		for k := range names {
			names[k] = fmt.Sprintf("hb%d", k+1)
		}
		l := newLab(b, names)
		startCluster(b, l.nodes, tm)
		last, cpuMs, schedMs, wakeups, window := measureIdle(b, l.nodes)
		wake += wakeups
		var total, anon float64
		procs := 0
		for _, u := range last {
			total += u.rssMiB()
			anon += float64(u.anonKiB) / 1024
			procs += u.procs
		}
		rss += total
		cpu += perNodeMinute(cpuMs, len(l.nodes), window.Seconds())
		sched += perNodeMinute(schedMs, len(l.nodes), window.Seconds())
		b.Logf("8 nodes, %s: %d processes, %.1f MiB in all (%.1f anon); idle %.1f s: CPU %.0f ms (utime+stime), %.1f ms (schedstat) for 8 nodes",
			tm.name, procs, total, anon, window.Seconds(), cpuMs, schedMs)
		l.cleanup()
	}
	n := float64(b.N)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(rss/n, "rss-MiB/8nodes")
	b.ReportMetric(rss/n/8, "rss-MiB/node")
	b.ReportMetric(cpu/n, "cpu-ms/node-min")
	b.ReportMetric(sched/n, "sched-cpu-ms/node-min")
	b.ReportMetric(wake/n, "ctxsw/node-s")
}
