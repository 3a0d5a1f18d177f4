package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// demoCluster is a two-node loopback cluster holding "hb1 demo::web"; the
// demo resource keeps its state in DEMO_DIR/web.<node>.
type demoCluster struct {
	*Cluster
	demoDir string
}

func newDemo(t *testing.T, failback string) *demoCluster {
	c := twoNodes(t, failback, "hb1 demo::web\n")
	d := &demoCluster{Cluster: c, demoDir: filepath.Join(c.Dir, "demo")}
	if err := os.MkdirAll(d.demoDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *demoCluster) start(name string) { d.Nodes[name].Start("DEMO_DIR=" + d.demoDir) }

// holders lists the nodes whose demo resource runs.
func (d *demoCluster) holders() string {
	var h []string
	for _, n := range []string{"hb1", "hb2"} {
		if _, err := os.Stat(filepath.Join(d.demoDir, "web."+n)); err == nil {
			h = append(h, n)
		}
	}
	return strings.Join(h, " ")
}

func (d *demoCluster) waitHolder(t *testing.T, want string, within time.Duration) time.Duration {
	t.Helper()
	took, ok := WaitFor(within, func() bool { return d.holders() == want })
	if !ok {
		dumpAll(d.Cluster)
		t.Fatalf("holder %q, want %q within %v", d.holders(), want, within)
	}
	return took
}

// crash kills a node with SIGKILL and clears its resource state, as a
// machine that died loses what ran on it.
func (d *demoCluster) crash(name string) {
	d.Nodes[name].Kill()
	os.Remove(filepath.Join(d.demoDir, "web."+name))
}

func (d *demoCluster) tool(t *testing.T, node, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(testbin.Dir(t), name), args...)
	cmd.Env = append(os.Environ(), "HA_RUNDIR="+filepath.Join(d.Nodes[node].Run, "heartbeat"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s on %s: %v\n%s", name, node, err, out)
	}
}

func TestLoopbackFailoverAutoFailbackOn(t *testing.T) {
	d := newDemo(t, "on")
	d.start("hb1")
	d.start("hb2")
	started := time.Now()
	d.waitHolder(t, "hb1", 30*time.Second)
	WaitFor(startBonus, func() bool { return time.Since(started) > startBonus })

	d.crash("hb1")
	took := d.waitHolder(t, "hb2", deadtime+5*time.Second)
	t.Logf("demo::web on hb2 %v after hb1 was killed", took)
	if took > deadtime+time.Second {
		t.Errorf("takeover took %v, want <= deadtime + 1 s", took)
	}
	d.start("hb1")
	took = d.waitHolder(t, "hb1", 30*time.Second)
	t.Logf("auto_failback: demo::web back on hb1 %v after its restart", took)

	// Operator moves: hb_standby on the holder, hb_takeover to take back.
	d.tool(t, "hb1", "hb_standby")
	d.waitHolder(t, "hb2", 20*time.Second)
	// hb1's group is foreign to hb2; hb1 holds nothing.
	if _, ok := WaitFor(5*time.Second, func() bool {
		s2, _ := clStatus(t, d.Nodes["hb2"], "rscstatus")
		s1, _ := clStatus(t, d.Nodes["hb1"], "rscstatus")
		return s2 == "foreign" && s1 == "none"
	}); !ok {
		s2, _ := clStatus(t, d.Nodes["hb2"], "rscstatus")
		s1, _ := clStatus(t, d.Nodes["hb1"], "rscstatus")
		t.Errorf("rscstatus after hb1's standby: hb1 %q hb2 %q, want none and foreign", s1, s2)
	}
	d.tool(t, "hb1", "hb_takeover")
	d.waitHolder(t, "hb1", 20*time.Second)

	// heartbeat 3.0.6's own hb_standby script talks to the daemon through
	// the FIFO in the state directory.
	const stock = "/usr/share/heartbeat/hb_standby"
	if _, err := os.Stat(stock); err == nil {
		cmd := exec.Command(stock)
		cmd.Env = append(os.Environ(), "HA_FIFO="+filepath.Join(d.Nodes["hb1"].Var, "fifo"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", stock, err, out)
		}
		d.waitHolder(t, "hb2", 20*time.Second)
	}
}

func TestLoopbackFailoverAutoFailbackOff(t *testing.T) {
	d := newDemo(t, "off")
	d.start("hb1")
	d.start("hb2")
	started := time.Now()
	d.waitHolder(t, "hb1", 30*time.Second)
	WaitFor(startBonus, func() bool { return time.Since(started) > startBonus })

	d.crash("hb1")
	took := d.waitHolder(t, "hb2", deadtime+5*time.Second)
	if took > deadtime+time.Second {
		t.Errorf("takeover took %v, want <= deadtime + 1 s", took)
	}
	d.start("hb1")
	waitActive(t, d.Cluster, 15*time.Second)
	// With auto_failback off the group stays on hb2: watch for a while.
	if _, moved := WaitFor(4*time.Second, func() bool { return d.holders() != "hb2" }); moved {
		dumpAll(d.Cluster)
		t.Fatalf("auto_failback off: holder became %q", d.holders())
	}
	// hb_takeover on hb1 brings it home on request.
	d.tool(t, "hb1", "hb_takeover")
	d.waitHolder(t, "hb1", 20*time.Second)
}
