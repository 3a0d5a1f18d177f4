package failoverbench

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/heartbeat-go/heartbeat/hb/netlab"
)

// The benchmark builds its own namespaces rather than a netlab.Lab so that
// their names carry this package's prefix ("hbfb-<pid>-<n>-..."), which
// tells them apart from the e2e tests' labs running at the same time.
// The layout is netlab's: a switch namespace with bridge br0 and one veth
// port per node; node i has eth0 = 198.18.0.i/24.
const nsPrefix = "hbfb-"

var (
	labSeq    atomic.Int64
	staleOnce sync.Once
)

type lab struct {
	tb     testing.TB
	prefix string
	sw     string
	dir    string

	mu    sync.Mutex
	nodes []*node
	procs []*proc
	once  sync.Once
}

type node struct {
	lab  *lab
	name string
	ns   string
	port string // its port in the switch namespace
	addr netip.Addr
	dir  string // etc/, var/, run/ and ha-log
	proc *proc
}

// proc is a process started in a node, in its own process group.
type proc struct {
	pid  int
	out  netlab.SyncBuffer
	done chan struct{}
}

// newLab builds the namespaces for names, or skips the benchmark when
// this machine cannot (not root, no iproute2, no netns).
func newLab(tb testing.TB, names []string) *lab {
	tb.Helper()
	if err := netlab.Available(); err != nil {
		tb.Skip("failoverbench needs root and ip netns: " + err.Error())
	}
	staleOnce.Do(removeStale)
	l := &lab{tb: tb, prefix: fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), labSeq.Add(1))}
	l.sw = l.prefix + "-sw"
	// Not tb.TempDir: its name comes from the benchmark's, and ha.cf
	// values (the logfile path) must not hold ',' or spaces.
	dir, err := os.MkdirTemp("", l.prefix+"-")
	if err != nil {
		tb.Fatal(err)
	}
	l.dir = dir
	tb.Cleanup(l.cleanup)
	if out, err := run("ip", "netns", "add", l.sw); err != nil {
		tb.Skip("failoverbench needs root and ip netns: ip netns add failed: " + strings.TrimSpace(out))
	}
	l.mustIP(l.sw, "link", "set", "lo", "up")
	l.mustIP(l.sw, "link", "add", "br0", "type", "bridge")
	l.mustIP(l.sw, "link", "set", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
	l.mustIP(l.sw, "link", "set", "br0", "up")
	for i, name := range names {
		n := &node{lab: l, name: name, ns: l.prefix + "-" + name, port: "p-" + name,
			addr: netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}), dir: filepath.Join(l.dir, name)}
		for _, d := range []string{"etc", "var", "run"} {
			if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
				tb.Fatal(err)
			}
		}
		if out, err := run("ip", "netns", "add", n.ns); err != nil {
			tb.Fatalf("ip netns add %s: %v: %s", n.ns, err, out)
		}
		l.mu.Lock()
		l.nodes = append(l.nodes, n)
		l.mu.Unlock()
		l.mustIP(n.ns, "link", "set", "lo", "up")
		l.mustIP(l.sw, "link", "add", n.port, "type", "veth", "peer", "name", "eth0", "netns", n.ns)
		l.mustIP(l.sw, "link", "set", n.port, "master", "br0")
		l.mustIP(l.sw, "link", "set", n.port, "up")
		l.mustIP(n.ns, "link", "set", "eth0", "address", fmt.Sprintf("02:18:fb:00:00:%02x", i+1))
		l.mustIP(n.ns, "addr", "add", n.addr.String()+"/24", "brd", "+", "dev", "eth0")
		l.mustIP(n.ns, "link", "set", "eth0", "up")
	}
	return l
}

func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func (l *lab) mustIP(ns string, args ...string) {
	l.tb.Helper()
	argv := append([]string{"-n", ns}, args...)
	if out, err := run("ip", argv...); err != nil {
		l.tb.Fatalf("ip %s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

// start runs argv in the node through `ip netns exec`, which execs the
// program itself: the PID is the program's.
func (n *node) start(name string, args ...string) *proc {
	n.lab.tb.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.ns, name}, args...)...)
	p := &proc{done: make(chan struct{})}
	cmd.Stdout = &p.out
	cmd.Stderr = &p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		n.lab.tb.Fatalf("%s: start %s: %v", n.name, name, err)
	}
	p.pid = cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(p.done) }()
	n.lab.mu.Lock()
	n.lab.procs = append(n.lab.procs, p)
	n.lab.mu.Unlock()
	return p
}

// cut takes the node's switch port down: a machine that died answers
// nothing, not even ARP for the address it held.
func (n *node) cut() error {
	if out, err := run("ip", "-n", n.lab.sw, "link", "set", n.port, "down"); err != nil {
		return fmt.Errorf("port %s down: %v: %s", n.port, err, out)
	}
	return nil
}

func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	}
}

// cleanup kills the lab's processes and deletes its namespaces; it runs
// once, whether called early or by the test's cleanup.
func (l *lab) cleanup() { l.once.Do(l.teardown) }

func (l *lab) teardown() {
	l.mu.Lock()
	procs, nodes := append([]*proc(nil), l.procs...), append([]*node(nil), l.nodes...)
	l.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	for _, n := range nodes {
		killInNetns(filepath.Join("/run/netns", n.ns))
		if out, err := run("ip", "netns", "del", n.ns); err != nil {
			l.tb.Logf("ip netns del %s: %v: %s", n.ns, err, out)
		}
	}
	if out, err := run("ip", "netns", "del", l.sw); err != nil {
		l.tb.Logf("ip netns del %s: %v: %s", l.sw, err, out)
	}
	os.RemoveAll(l.dir)
}

// killInNetns SIGKILLs what still runs in the namespace bound at nsPath:
// only processes this lab started can be there.
func killInNetns(nsPath string) {
	var want unix.Stat_t
	if unix.Stat(nsPath, &want) != nil {
		return
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeStale deletes hbfb-<pid>-... namespaces whose process is gone (a
// benchmark killed before its cleanup ran).
func removeStale() {
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue
		}
		killInNetns(filepath.Join("/run/netns", e.Name()))
		_, _ = run("ip", "netns", "del", e.Name())
	}
}
