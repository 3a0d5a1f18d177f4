package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/netlab"
)

// VIP addresses the namespace tests move around (198.18.0.0/15 only).
const (
	VIP  = "198.18.0.100"
	VIP2 = "198.18.0.101"
)

// Timings shared by the cluster tests.
const (
	DeadTime = 2 * time.Second
	// StartBonus: a node that started less than 5 s ago advertises its
	// deadtime plus 2 s (heartbeat does the same), so kills are timed
	// after that window (plus process start-up and a status message or two
	// for the peer to learn the normal value).
	StartBonus = 7 * time.Second
)

// NSNode is a heartbeat-go daemon in a netlab node, with its files in
// Dir (etc/, run/, var/, ha-log).
type NSNode struct {
	T    *testing.T
	Bin  string
	N    *netlab.Node
	Dir  string
	Proc *netlab.Proc
	// RunDir overrides Dir/run (e.g. "/run" in an isolated node, where the
	// stock cl_status looks for /run/heartbeat/register).
	RunDir string
	// DropIn runs the daemon as the C one runs, "heartbeat -f" with no
	// other option, in an isolated node: /etc/ha.d, /var/lib/heartbeat,
	// /var/log and /run are the node's private directories.
	DropIn bool
}

// NewNSNode prepares the directories of a heartbeat-go node in n.
func NewNSNode(t *testing.T, bin string, n *netlab.Node) *NSNode {
	g := &NSNode{T: t, Bin: bin, N: n, Dir: filepath.Join(t.TempDir(), n.Name)}
	for _, d := range []string{g.Etc(), g.Run(), filepath.Join(g.Dir, "var")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func (g *NSNode) Etc() string {
	if g.DropIn {
		return filepath.Join(g.N.Root, "etc-ha.d")
	}
	return filepath.Join(g.Dir, "etc")
}
func (g *NSNode) Run() string {
	if g.DropIn {
		return "/run"
	}
	if g.RunDir != "" {
		return g.RunDir
	}
	return filepath.Join(g.Dir, "run")
}
func (g *NSNode) Log() string {
	if g.DropIn {
		return filepath.Join(g.N.Root, "var-log", "ha-log")
	}
	return filepath.Join(g.Dir, "ha-log")
}

// WriteConfig writes ha.cf (with logfile and debugfile lines prepended),
// authkeys (mode 0600) and haresources.
func (g *NSNode) WriteConfig(hacf, authkeys, haresources string) {
	logs := "logfile " + g.Log() + "\ndebugfile " + g.Log() + "-debug\n"
	if g.DropIn {
		logs = "logfile /var/log/ha-log\ndebugfile /var/log/ha-log-debug\n"
	}
	write(g.T, filepath.Join(g.Etc(), "ha.cf"), logs+hacf, 0o644)
	write(g.T, filepath.Join(g.Etc(), "authkeys"), authkeys, 0o600)
	write(g.T, filepath.Join(g.Etc(), "haresources"), haresources, 0o644)
}

// Start starts the daemon in the node, in the foreground with debug 1.
func (g *NSNode) Start() {
	g.T.Helper()
	args := []string{"--foreground", "-d", "--node", g.N.Name, "--config-dir", g.Etc(),
		"--state-dir", filepath.Join(g.Dir, "var"), "--run-dir", g.Run()}
	if g.DropIn {
		args = []string{"-f"}
	}
	p, err := g.N.Start(g.Bin, args...)
	if err != nil {
		g.T.Fatal(err)
	}
	g.Proc = p
}

// Kill SIGKILLs the daemon.
func (g *NSNode) Kill() {
	if g.Proc != nil {
		g.Proc.Signal(syscall.SIGKILL)
		g.Proc.Wait(10 * time.Second)
	}
}

// HasAddr reports whether eth0 of the node carries address a.
func HasAddr(n *netlab.Node, a string) bool {
	out, err := n.Output("ip", "-4", "-o", "addr", "show", "dev", "eth0")
	return err == nil && strings.Contains(out, " "+a+"/")
}

func (g *NSNode) HasVIP() bool { return HasAddr(g.N, VIP) }

// LogText is the daemon's ha-log.
func (g *NSNode) LogText() string {
	b, _ := os.ReadFile(g.Log())
	return string(b)
}

// Dump logs the daemon's debug log and output.
func (g *NSNode) Dump() {
	b, _ := os.ReadFile(g.Log() + "-debug")
	g.T.Logf("==== %s ha-debug:\n%s", g.N.Name, b)
	if g.Proc != nil {
		g.T.Logf("==== %s output:\n%s", g.N.Name, g.Proc.Output())
	}
}

// Tool runs hb_standby, hb_takeover, ... (links next to Bin) in the node
// against this daemon.
func (g *NSNode) Tool(name string, args ...string) {
	g.T.Helper()
	cmd := g.N.Command(filepath.Join(filepath.Dir(g.Bin), name), args...)
	cmd.Env = append(os.Environ(), "HA_RUNDIR="+filepath.Join(g.Run(), "heartbeat"))
	if out, err := cmd.CombinedOutput(); err != nil {
		g.T.Fatalf("%s on %s: %v\n%s", name, g.N.Name, err, out)
	}
}

// ClStatus runs cl_status in the node against this daemon.
func (g *NSNode) ClStatus(args ...string) string {
	cmd := g.N.Command(filepath.Join(filepath.Dir(g.Bin), "cl_status"), append([]string{"--run-dir", filepath.Join(g.Run(), "heartbeat")}, args...)...)
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

// Reaches reports whether client reaches the VIP and its ARP entry names
// holder's MAC.
func Reaches(client, holder *netlab.Node, addr string) bool {
	if _, err := client.Output("ping", "-c", "1", "-W", "0.2", addr); err != nil {
		return false
	}
	out, err := client.Output("ip", "neigh", "show", addr)
	return err == nil && strings.Contains(strings.ToLower(out), strings.ToLower(holder.MAC))
}
