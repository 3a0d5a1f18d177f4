package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

const vip = "198.18.0.100"

// nsNode is a heartbeat-go daemon in a netlab node.
type nsNode struct {
	t    *testing.T
	bin  string
	n    *netlab.Node
	dir  string
	proc *netlab.Proc
}

func (g *nsNode) etc() string { return filepath.Join(g.dir, "etc") }
func (g *nsNode) run() string { return filepath.Join(g.dir, "run") }
func (g *nsNode) log() string { return filepath.Join(g.dir, "ha-log") }

// nsCluster builds a lab with hb1, hb2 and a client host, and writes a
// heartbeat-go configuration for hb1 and hb2 (ucast eth0 to the peer,
// haresources "hb1 IPaddr2::198.18.0.100/24/eth0").
func nsCluster(t *testing.T, failback string) (*netlab.Lab, map[string]*nsNode, *netlab.Node) {
	lab := netlab.New(t, netlab.Options{Nodes: []string{"hb1", "hb2"}, Hosts: []string{"client"}})
	bin := testbin.Heartbeat(t)
	nodes := map[string]*nsNode{}
	for _, n := range lab.Nodes() {
		if n.Name != "hb1" && n.Name != "hb2" {
			continue
		}
		peer := lab.Node("hb2")
		if n.Name == "hb2" {
			peer = lab.Node("hb1")
		}
		g := &nsNode{t: t, bin: bin, n: n, dir: filepath.Join(t.TempDir(), n.Name)}
		for _, d := range []string{g.etc(), g.run(), filepath.Join(g.dir, "var")} {
			os.MkdirAll(d, 0o755)
		}
		cf := fmt.Sprintf("logfile %s\ndebugfile %s-debug\nkeepalive 500ms\ndeadtime 2\nwarntime 1\ninitdead 4\nudpport 694\nucast eth0 %s\nauto_failback %s\nnode hb1\nnode hb2\n",
			g.log(), g.log(), peer.Addr(), failback)
		write(t, filepath.Join(g.etc(), "ha.cf"), cf, 0o644)
		write(t, filepath.Join(g.etc(), "authkeys"), "auth 1\n1 sha1 heartbeat-go-e2e-test-key\n", 0o600)
		write(t, filepath.Join(g.etc(), "haresources"), "hb1 IPaddr2::"+vip+"/24/eth0\n", 0o644)
		nodes[n.Name] = g
	}
	return lab, nodes, lab.Node("client")
}

func (g *nsNode) start() {
	g.t.Helper()
	p, err := g.n.Start(g.bin, "--foreground", "-d", "--node", g.n.Name, "--config-dir", g.etc(),
		"--state-dir", filepath.Join(g.dir, "var"), "--run-dir", g.run())
	if err != nil {
		g.t.Fatal(err)
	}
	g.proc = p
}

func (g *nsNode) kill() {
	if g.proc != nil {
		g.proc.Signal(syscall.SIGKILL)
		g.proc.Wait(10 * time.Second)
	}
}

func (g *nsNode) hasVIP() bool {
	out, err := g.n.Output("ip", "-4", "-o", "addr", "show", "dev", "eth0")
	return err == nil && strings.Contains(out, " "+vip+"/")
}

func (g *nsNode) dump() {
	b, _ := os.ReadFile(g.log() + "-debug")
	g.t.Logf("==== %s ha-debug:\n%s", g.n.Name, b)
	if g.proc != nil {
		g.t.Logf("==== %s output:\n%s", g.n.Name, g.proc.Output())
	}
}

func (g *nsNode) tool(name string) {
	g.t.Helper()
	cmd := g.n.Command(filepath.Join(filepath.Dir(g.bin), name))
	cmd.Env = append(os.Environ(), "HA_RUNDIR="+filepath.Join(g.run(), "heartbeat"))
	if out, err := cmd.CombinedOutput(); err != nil {
		g.t.Fatalf("%s on %s: %v\n%s", name, g.n.Name, err, out)
	}
}

// reaches reports whether client reaches the VIP and its ARP entry names
// the given node's MAC.
func reaches(client *netlab.Node, holder *netlab.Node) bool {
	if _, err := client.Output("ping", "-c", "1", "-W", "0.2", vip); err != nil {
		return false
	}
	out, err := client.Output("ip", "neigh", "show", vip)
	return err == nil && strings.Contains(strings.ToLower(out), strings.ToLower(holder.MAC))
}

func only(t *testing.T, nodes map[string]*nsNode, holder string) func() bool {
	return func() bool {
		for name, g := range nodes {
			if g.hasVIP() != (name == holder) {
				return false
			}
		}
		return true
	}
}

func dumpNS(nodes map[string]*nsNode) {
	for _, g := range nodes {
		g.dump()
	}
}

// vipFailover: the VIP moves to hb2 within deadtime + 1 s after hb1 is
// killed and cut off (probed from the client), then hb1 comes back.
func vipFailover(t *testing.T, failback string) (*netlab.Lab, map[string]*nsNode, *netlab.Node) {
	lab, nodes, client := nsCluster(t, failback)
	hb1, hb2 := nodes["hb1"], nodes["hb2"]
	hb1.start()
	hb2.start()
	started := time.Now()
	if _, ok := WaitFor(40*time.Second, func() bool { return only(t, nodes, "hb1")() && reaches(client, hb1.n) }); !ok {
		dumpNS(nodes)
		t.Fatal("hb1 never held the VIP")
	}
	WaitFor(startBonus, func() bool { return time.Since(started) > startBonus })

	t0 := time.Now()
	hb1.kill()
	if err := hb1.n.Cut(0); err != nil { // a dead machine: its stale address answers nobody
		t.Fatal(err)
	}
	onHB2, ok := WaitFor(deadtime+10*time.Second, hb2.hasVIP)
	if !ok {
		dumpNS(nodes)
		t.Fatal("the VIP did not move to hb2")
	}
	_, ok = WaitFor(5*time.Second, func() bool { return reaches(client, hb2.n) })
	took := time.Since(t0)
	if !ok {
		dumpNS(nodes)
		t.Fatal("the client does not reach the VIP on hb2")
	}
	t.Logf("VIP configured on hb2 %v after hb1 was killed, reachable from the client after %v", onHB2, took)
	if took > deadtime+time.Second {
		dumpNS(nodes)
		t.Errorf("failover took %v, want <= deadtime + 1 s = %v", took, deadtime+time.Second)
	}
	// hb1 "reboots": address gone, cable back, heartbeat started.
	hb1.n.Output("ip", "addr", "del", vip+"/24", "dev", "eth0")
	if err := hb1.n.Plug(0); err != nil {
		t.Fatal(err)
	}
	hb1.start()
	return lab, nodes, client
}

func TestNetnsVIPFailoverAutoFailbackOn(t *testing.T) {
	_, nodes, client := vipFailover(t, "on")
	hb1, hb2 := nodes["hb1"], nodes["hb2"]
	if _, ok := WaitFor(30*time.Second, func() bool { return only(t, nodes, "hb1")() && reaches(client, hb1.n) }); !ok {
		dumpNS(nodes)
		t.Fatal("auto_failback on: the VIP did not return to hb1")
	}
	// hb_standby on the holder moves it; hb_takeover brings it back.
	hb1.tool("hb_standby")
	if _, ok := WaitFor(20*time.Second, func() bool { return only(t, nodes, "hb2")() && reaches(client, hb2.n) }); !ok {
		dumpNS(nodes)
		t.Fatal("hb_standby on hb1 did not move the VIP to hb2")
	}
	hb1.tool("hb_takeover")
	if _, ok := WaitFor(20*time.Second, func() bool { return only(t, nodes, "hb1")() && reaches(client, hb1.n) }); !ok {
		dumpNS(nodes)
		t.Fatal("hb_takeover on hb1 did not bring the VIP back")
	}
}

func TestNetnsVIPFailoverAutoFailbackOff(t *testing.T) {
	_, nodes, client := vipFailover(t, "off")
	hb2 := nodes["hb2"]
	// Wait until hb1 runs and talks, then watch: the VIP must stay on hb2.
	if _, ok := WaitFor(20*time.Second, func() bool {
		b, _ := os.ReadFile(hb2.log())
		return strings.Count(string(b), "Status update for node hb1: status active") >= 2
	}); !ok {
		dumpNS(nodes)
		t.Fatal("hb2 never saw the restarted hb1 active")
	}
	if _, moved := WaitFor(4*time.Second, func() bool { return !only(t, nodes, "hb2")() }); moved {
		dumpNS(nodes)
		t.Fatal("auto_failback off: the VIP left hb2")
	}
	if !reaches(client, hb2.n) {
		t.Error("client does not reach the VIP on hb2")
	}
}
