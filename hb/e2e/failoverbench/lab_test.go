package failoverbench

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/netlab"
)

// lab is a netlab.Lab (a switch namespace with bridge br0 and one veth
// port per node; node i has eth0 = 198.18.0.i/24) with a directory per node
// for its ha.cf, state and run files and its log.
type lab struct {
	tb    testing.TB
	nl    *netlab.Lab
	nodes []*node
}

// cleanup tears the lab down before the test ends (the next iteration
// measures alone).
func (l *lab) cleanup() { l.nl.Close() }

type node struct {
	lab  *lab
	nn   *netlab.Node
	name string
	ns   string
	addr netip.Addr
	dir  string // etc/, var/, run/ and ha-log
	proc *netlab.Proc
}

// newLab builds the namespaces for names, or skips the benchmark when
// this machine cannot (not root, no iproute2, no netns).
func newLab(tb testing.TB, names []string) *lab {
	tb.Helper()
	if err := netlab.Available(); err != nil {
		tb.Skip("failoverbench needs root and ip netns: " + err.Error())
	}
	// Not tb.TempDir nor the lab's: their names come from the benchmark's,
	// and ha.cf values (the logfile path) must not hold ',' (a delimiter
	// there) or spaces. Removed after the lab (cleanups run last first).
	dir, err := os.MkdirTemp("", "hbfb-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	nl := netlab.New(tb, netlab.Options{Nodes: names})
	l := &lab{tb: tb, nl: nl}
	for _, nn := range nl.Nodes() {
		n := &node{lab: l, nn: nn, name: nn.Name, ns: nn.NS, addr: nn.Addr(), dir: filepath.Join(dir, nn.Name)}
		for _, d := range []string{"etc", "var", "run"} {
			if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
				tb.Fatal(err)
			}
		}
		l.nodes = append(l.nodes, n)
	}
	return l
}

// start runs argv in the node; the lab kills it at the end.
func (n *node) start(name string, args ...string) *netlab.Proc {
	n.lab.tb.Helper()
	p, err := n.nn.Start(name, args...)
	if err != nil {
		n.lab.tb.Fatalf("%s: start %s: %v", n.name, name, err)
	}
	return p
}

// cut takes the node's switch port down: a machine that died answers
// nothing, not even ARP for the address it held.
func (n *node) cut() error { return n.nn.Cut(0) }
