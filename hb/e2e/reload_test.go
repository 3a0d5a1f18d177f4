package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// TestLoopbackReloadKeepsResources: heartbeat -r (SIGHUP) as heartbeat
// 3.0.6 does it. Nothing changed: "Configuration unchanged.", nothing
// else happens. ha.cf changed: the daemon re-execs itself in place (same
// pid, new generation) with -R -C <holding>, keeps its resource group
// running without stopping or starting it, and the peer takes nothing
// over. An invalid ha.cf: refused, the daemon keeps running as it was.
func TestLoopbackReloadKeepsResources(t *testing.T) {
	for _, fb := range []string{"on", "legacy"} {
		t.Run(fb, func(t *testing.T) { testReloadKeepsResources(t, fb) })
	}
}

func testReloadKeepsResources(t *testing.T, fb string) {
	// demo::web lives on hb1, demo::db on hb2; with auto_failback on, hb2
	// goes standby first, so that hb1 restarts holding a foreign group
	// too (-C all): the case where a peer would take groups back.
	d := &demoCluster{Cluster: twoNodes(t, fb, "hb1 demo::web\nhb2 demo::db\n")}
	d.demoDir = filepath.Join(d.Dir, "demo")
	if err := os.MkdirAll(d.demoDir, 0o755); err != nil {
		t.Fatal(err)
	}
	hb1, hb2 := d.Nodes["hb1"], d.Nodes["hb2"]
	d.start("hb1")
	d.start("hb2")
	waitActive(t, d.Cluster, 15*time.Second)
	d.waitHolder(t, "hb1", 30*time.Second)
	dbOn := func(n string) bool { _, err := os.Stat(filepath.Join(d.demoDir, "db."+n)); return err == nil }
	if _, ok := WaitFor(30*time.Second, func() bool { return dbOn("hb2") }); !ok {
		dumpAll(d.Cluster)
		t.Fatal("demo::db never started on hb2")
	}
	wantDB, wantHold, starts := "hb2", "local", 2
	if fb == "on" {
		d.tool(t, "hb2", "hb_standby")
		if _, ok := WaitFor(30*time.Second, func() bool { return dbOn("hb1") && !dbOn("hb2") }); !ok {
			dumpAll(d.Cluster)
			t.Fatal("hb_standby on hb2 did not move demo::db to hb1")
		}
		wantDB, wantHold, starts = "hb1", "all", 3
		if _, ok := WaitFor(30*time.Second, func() bool {
			a, _ := clStatus(t, hb1, "rscstatus")
			b, _ := clStatus(t, hb2, "rscstatus")
			return a == "all" && b == "none"
		}); !ok {
			dumpAll(d.Cluster)
			t.Fatal("the standby never settled")
		}
	}
	acquired := func(n *Node, count int) func() bool {
		return func() bool { return len(n.LogLines("Initial resource acquisition complete")) >= count }
	}
	for _, n := range []*Node{hb1, hb2} {
		if _, ok := WaitFor(30*time.Second, acquired(n, 1)); !ok {
			dumpAll(d.Cluster)
			t.Fatalf("%s: initial resource acquisition never completed", n.Spec.Name)
		}
	}
	eventsFile := filepath.Join(d.demoDir, "events.log")
	events := func() string { b, _ := os.ReadFile(eventsFile); return string(b) }
	before := events()
	if _, ok := WaitFor(10*time.Second, func() bool { return strings.Count(events(), "started") == starts }); !ok {
		t.Fatalf("demo events before the reloads:\n%s", events())
	}
	before = events()
	if strings.Count(before, "started") != starts {
		t.Fatalf("demo events before the reloads:\n%s", before)
	}
	pid := hb1.Pid()
	generation := func() uint64 {
		b, err := os.ReadFile(filepath.Join(hb1.Var, "hb_generation"))
		if err != nil {
			t.Fatal(err)
		}
		g, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatalf("hb_generation %q: %v", b, err)
		}
		return g
	}
	gen := generation()
	reload := func() string {
		t.Helper()
		cmd := exec.Command(testbin.Heartbeat(t), "-r", "--node", "hb1", "--config-dir", hb1.Etc, "--run-dir", hb1.Run)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("heartbeat -r: %v\n%s", err, out)
		}
		return string(out)
	}
	// Every resource script call and group action is logged; none may
	// follow a reload (the demo script's own events.log only records real
	// starts and stops: a start of a running resource is skipped after
	// its status says running, which would hide a needless acquisition).
	scriptCalls := func(n *Node) int {
		c := 0
		for _, l := range []string{"resource.d/demo", "Acquiring resource group", "Releasing resource group", "Giving up",
			" dead", "takeover", "Taking over", "acquisition of", "standby"} {
			c += len(n.LogLines(l))
		}
		return c
	}
	calls := map[*Node]int{hb1: scriptCalls(hb1), hb2: scriptCalls(hb2)}
	noDisturbance := func(when string) {
		t.Helper()
		for n, c := range calls {
			if got := scriptCalls(n); got != c {
				dumpAll(d.Cluster)
				t.Fatalf("%s: %s ran resource scripts, moved groups or saw a death (%d such log lines, %d before)", when, n.Spec.Name, got, c)
			}
		}
		if hb1.Exited() || RunningPidOf(t, hb1.Run) != pid {
			dumpAll(d.Cluster)
			t.Fatalf("%s: hb1 is no longer pid %d (pid file says %d)", when, pid, RunningPidOf(t, hb1.Run))
		}
		if got := events(); got != before {
			dumpAll(d.Cluster)
			t.Fatalf("%s: the resource script ran:\n%s", when, strings.TrimPrefix(got, before))
		}
		if h := d.holders(); h != "hb1" {
			t.Fatalf("%s: demo::web held by %q", when, h)
		}
		if !dbOn(wantDB) || dbOn(map[string]string{"hb1": "hb2", "hb2": "hb1"}[wantDB]) {
			t.Fatalf("%s: demo::db not (only) on %s", when, wantDB)
		}
	}

	// (a) Nothing changed.
	if out := reload(); !strings.Contains(out, "Signalling heartbeat pid "+strconv.Itoa(pid)+" to reread config files") {
		t.Errorf("heartbeat -r said %q", out)
	}
	if _, ok := WaitFor(5*time.Second, func() bool { return len(hb1.LogLines("info: Configuration unchanged.")) > 0 }); !ok {
		dumpAll(d.Cluster)
		t.Fatal("no \"Configuration unchanged.\" after heartbeat -r")
	}
	if g := generation(); g != gen {
		t.Errorf("generation %d -> %d after an unchanged reload", gen, g)
	}
	if n := len(hb1.LogLines("Heartbeat generation:")); n != 1 {
		t.Errorf("%d start-ups logged after an unchanged reload", n)
	}
	noDisturbance("unchanged reload")

	// (b) ha.cf changed (warntime): restart in place keeping demo::web.
	cf := filepath.Join(hb1.Etc, "ha.cf")
	b, err := os.ReadFile(cf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "warntime 1\n") {
		t.Fatalf("ha.cf has no warntime 1:\n%s", b)
	}
	WriteFile(t, cf, strings.Replace(string(b), "warntime 1\n", "warntime 1500ms\n", 1), 0o644)
	reload()
	if _, ok := WaitFor(15*time.Second, func() bool {
		return len(hb1.LogLines("Heartbeat generation:")) == 2 && acquired(hb1, 2)() &&
			len(hb2.LogLines("Heartbeat restart on node hb1")) == 1
	}); !ok {
		dumpAll(d.Cluster)
		t.Fatal("hb1 did not restart and settle after ha.cf changed")
	}
	waitActive(t, d.Cluster, 10*time.Second)
	if g := generation(); g <= gen {
		t.Errorf("generation %d -> %d across the restart", gen, g)
	}
	for _, want := range []string{"Heartbeat restart triggered.", "Restarting heartbeat.", "Performing heartbeat restart exec."} {
		if n := len(hb1.LogLines(want)); n != 1 {
			t.Errorf("%q logged %d times", want, n)
		}
	}
	// The same process now runs as "heartbeat -R -C <holding> ...".
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err != nil {
		t.Errorf("cmdline of pid %d: %v", pid, err)
	} else if args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"); len(args) < 4 || args[1] != "-R" || args[2] != "-C" || args[3] != wantHold {
		t.Errorf("restarted as %q, want -R -C %s first", args, wantHold)
	}
	if fb == "on" {
		if s, _ := clStatus(t, hb1, "rscstatus"); s != wantHold {
			t.Errorf("cl_status rscstatus on hb1 after the restart: %q", s)
		}
	}
	if s, _ := clStatus(t, hb1, "hbparameter", "-p", "warntime"); s != "1500ms" {
		t.Errorf("warntime after the restart: %q", s)
	}
	noDisturbance("restart after ha.cf changed")

	// (c) An invalid ha.cf is refused; the daemon runs on unchanged.
	good, _ := os.ReadFile(cf)
	WriteFile(t, cf, string(good)+"nosuchdirective 1\n", 0o644)
	syscall.Kill(pid, syscall.SIGHUP)
	if _, ok := WaitFor(5*time.Second, func() bool {
		return len(hb1.LogLines("Configuration error: configuration not reread.")) == 1
	}); !ok {
		dumpAll(d.Cluster)
		t.Fatal("no refusal of an invalid ha.cf")
	}
	if n := len(hb1.LogLines("Heartbeat generation:")); n != 2 {
		t.Errorf("%d start-ups logged after an invalid reload, want 2", n)
	}
	if s := nodeStatus(t, hb2, "hb1"); s != "active" {
		t.Errorf("hb2 sees hb1 %q after the refused reload", s)
	}
	noDisturbance("refused reload")

}
