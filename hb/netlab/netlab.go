// Package netlab is a test fixture that builds a small switched network out
// of Linux network namespaces, so that tests in any package can run real
// sockets, real heartbeat media and real daemons (ours or the reference
// heartbeat 3.0.6) against each other without touching the host's
// interfaces.
//
// Layout of a lab with nodes hb1, hb2 and one network:
//
//	netns <prefix>-sw     bridge br0, one port per node (p-hb1, p-hb2), all up
//	netns <prefix>-hb1    lo up, eth0 = 198.18.0.1/24 (MAC 02:18:00:00:00:01)
//	netns <prefix>-hb2    lo up, eth0 = 198.18.0.2/24 (MAC 02:18:00:00:00:02)
//
// With Options.Networks = 2 every node also gets eth1 on a second bridge
// (br1) with 198.18.1.x/24. Extra hosts (AddHost, e.g. a ping node) take
// addresses from .254 downwards. Nothing is created in the host's
// namespace: the veth pairs are made inside the switch namespace and moved.
//
// The prefix is "hbl-<pid>-<n>" (n counts labs in this process), so labs
// of parallel test binaries never collide; namespaces left by a test binary
// that died are removed the next time a lab is built.
//
// Everything is undone in t.Cleanup: processes started through the lab are
// killed (by their process group, which the lab created), then the
// namespaces are deleted, which also removes the veths, bridges and the
// nftables tables living in them.
//
// Tests that cannot build a lab (not root, no `ip netns`) are skipped with
// a message starting "needs root and ip netns".
package netlab

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Options describe a lab.
type Options struct {
	// Nodes are the node names, in address order (the first gets .1).
	// Default: "hb1", "hb2". Names must be short (they become parts of
	// interface names, at most 11 characters) and unique.
	Nodes []string
	// Networks is the number of separate switched networks (bridges); node
	// interface ethK is on network K with subnet 198.18.K.0/24. Default 1,
	// at most 8.
	Networks int
	// Isolated gives every node its own UTS and mount namespace (see
	// Node.Isolated), needed to run a real heartbeat daemon in it.
	Isolated bool
	// Hosts are extra plain hosts (for example ping nodes), numbered from
	// .254 downwards on network 0 only.
	Hosts []string
}

// Lab is one built network.
type Lab struct {
	t      testing.TB
	Prefix string // "hbl-<pid>-<n>"
	Switch string // netns name of the switch
	Dir    string // private scratch directory of the lab

	mu       sync.Mutex
	nodes    []*Node
	procs    []*Proc
	networks int
	hosts    int
	hostsTab string // path of the generated /etc/hosts of isolated nodes
	closed   sync.Once
}

// Node is one namespace attached to the lab's network(s).
type Node struct {
	Name   string       // logical name, also the hostname of isolated nodes
	NS     string       // netns name
	Addrs  []netip.Addr // Addrs[k] is the address of ethK
	Prefix int          // prefix length of every address (24)
	Index  int          // host part of the addresses
	Ifaces []string     // "eth0", "eth1", ...
	MAC    string       // MAC of eth0
	// Root is the node's private directory. For isolated nodes it holds
	// etc-ha.d (bound on /etc/ha.d), var-lib-heartbeat (/var/lib/heartbeat),
	// var-log (/var/log) and run (/run).
	Root string

	lab    *Lab
	holder *Proc // isolated nodes: process holding the UTS+mount namespaces
}

// Addr is the node's address on network 0.
func (n *Node) Addr() netip.Addr { return n.Addrs[0] }

// Isolated reports whether the node has its own UTS and mount namespace.
func (n *Node) Isolated() bool { return n.holder != nil }

var (
	labSeq  atomic.Int64
	gcOnce  sync.Once
	nsRoot  = "/run/netns"
	prefixS = "hbl-"
)

// Skip reasons are stable so that CI logs can be grepped.
const skipPrefix = "needs root and ip netns: "

// Available reports whether labs can be built here, and why not.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("ip (iproute2) not found: %w", err)
	}
	return nil
}

// New builds a lab or skips the test when that is not possible here.
func New(t testing.TB, opts Options) *Lab {
	t.Helper()
	if err := Available(); err != nil {
		t.Skip(skipPrefix + err.Error())
	}
	if len(opts.Nodes) == 0 {
		opts.Nodes = []string{"hb1", "hb2"}
	}
	if opts.Networks <= 0 {
		opts.Networks = 1
	}
	if opts.Networks > 8 {
		t.Fatalf("netlab: at most 8 networks, got %d", opts.Networks)
	}
	if len(opts.Nodes)+len(opts.Hosts) > 200 {
		t.Fatalf("netlab: too many nodes")
	}
	seen := map[string]bool{}
	for _, n := range append(append([]string{}, opts.Nodes...), opts.Hosts...) {
		if n == "" || len(n) > 11 || strings.ContainsAny(n, "/ \t\n") || n == "sw" {
			t.Fatalf("netlab: bad node name %q (1..11 characters, no '/', not \"sw\")", n)
		}
		if seen[n] {
			t.Fatalf("netlab: duplicate node name %q", n)
		}
		seen[n] = true
	}
	if opts.Isolated {
		if _, err := exec.LookPath("unshare"); err != nil {
			t.Skip(skipPrefix + "unshare not found: " + err.Error())
		}
		if _, err := exec.LookPath("nsenter"); err != nil {
			t.Skip(skipPrefix + "nsenter not found: " + err.Error())
		}
	}
	gcOnce.Do(removeStale)

	l := &Lab{
		t:        t,
		Prefix:   fmt.Sprintf("%s%d-%d", prefixS, os.Getpid(), labSeq.Add(1)),
		networks: opts.Networks,
		Dir:      t.TempDir(),
	}
	l.Switch = l.Prefix + "-sw"
	t.Cleanup(l.Close)

	if out, err := run("ip", "netns", "add", l.Switch); err != nil {
		t.Skip(skipPrefix + "ip netns add failed: " + strings.TrimSpace(out))
	}
	l.mustIP(l.Switch, "link", "set", "lo", "up")
	for k := 0; k < l.networks; k++ {
		br := fmt.Sprintf("br%d", k)
		l.mustIP(l.Switch, "link", "add", br, "type", "bridge")
		// No STP and no forwarding delay: ports forward as soon as they are up.
		l.mustIP(l.Switch, "link", "set", br, "type", "bridge", "stp_state", "0", "forward_delay", "0")
		l.mustIP(l.Switch, "link", "set", br, "up")
	}
	for i, name := range opts.Nodes {
		l.addNode(name, i+1, l.networks)
	}
	for _, name := range opts.Hosts {
		l.AddHost(name)
	}
	if opts.Isolated {
		l.writeHosts()
		for _, n := range l.nodesSnapshot() {
			if n.Index < 200 { // nodes, not extra hosts
				l.isolate(n)
			}
		}
	}
	return l
}

// Nodes returns the lab's nodes and hosts in creation order.
func (l *Lab) Nodes() []*Node { return l.nodesSnapshot() }

// Node returns the node or host called name; it fails the test if there
// is none.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.nodesSnapshot() {
		if n.Name == name {
			return n
		}
	}
	l.t.Fatalf("netlab: no node %q", name)
	return nil
}

func (l *Lab) nodesSnapshot() []*Node {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Node(nil), l.nodes...)
}

// AddHost adds a plain host (not isolated, network 0 only) with the next
// free address from .254 downwards, for example a ping node.
func (l *Lab) AddHost(name string) *Node {
	l.t.Helper()
	l.mu.Lock()
	l.hosts++
	idx := 255 - l.hosts
	l.mu.Unlock()
	n := l.addNode(name, idx, 1)
	if l.hostsTab != "" {
		l.writeHosts()
	}
	return n
}

func (l *Lab) addNode(name string, idx, networks int) *Node {
	l.t.Helper()
	n := &Node{
		Name:   name,
		NS:     l.Prefix + "-" + name,
		Prefix: 24,
		Index:  idx,
		MAC:    fmt.Sprintf("02:18:00:00:00:%02x", idx),
		Root:   filepath.Join(l.Dir, name),
		lab:    l,
	}
	if err := os.MkdirAll(n.Root, 0o755); err != nil {
		l.t.Fatal(err)
	}
	if out, err := run("ip", "netns", "add", n.NS); err != nil {
		l.t.Fatalf("netlab: ip netns add %s: %v: %s", n.NS, err, out)
	}
	l.mu.Lock()
	l.nodes = append(l.nodes, n)
	l.mu.Unlock()
	l.mustIP(n.NS, "link", "set", "lo", "up")
	for k := 0; k < networks; k++ {
		ifname := fmt.Sprintf("eth%d", k)
		port := switchPort(name, k)
		// Both ends are born in the switch namespace; the node end moves
		// straight into the node's namespace, so the host never sees them.
		l.mustIP(l.Switch, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", n.NS)
		l.mustIP(l.Switch, "link", "set", port, "master", fmt.Sprintf("br%d", k))
		l.mustIP(l.Switch, "link", "set", port, "up")
		mac := fmt.Sprintf("02:18:00:00:%02x:%02x", k, idx)
		addr := netip.AddrFrom4([4]byte{198, 18, byte(k), byte(idx)})
		l.mustIP(n.NS, "link", "set", ifname, "address", mac)
		l.mustIP(n.NS, "addr", "add", fmt.Sprintf("%s/24", addr), "brd", "+", "dev", ifname)
		l.mustIP(n.NS, "link", "set", ifname, "up")
		n.Addrs = append(n.Addrs, addr)
		n.Ifaces = append(n.Ifaces, ifname)
	}
	return n
}

func switchPort(node string, k int) string {
	if k == 0 {
		return "p-" + node
	}
	return fmt.Sprintf("p%d-%s", k, node)
}

func (l *Lab) mustIP(ns string, args ...string) {
	l.t.Helper()
	argv := append([]string{"-n", ns}, args...)
	if out, err := run("ip", argv...); err != nil {
		l.t.Fatalf("netlab: ip %s: %v: %s", strings.Join(argv, " "), err, out)
	}
}

func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// ---------------------------------------------------------------------------
// Isolated nodes

// writeHosts (re)writes the lab's hosts table in place, so that the bind
// mounts on /etc/hosts of isolated nodes see updates.
func (l *Lab) writeHosts() {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, n := range l.nodesSnapshot() {
		fmt.Fprintf(&b, "%s\t%s\n", n.Addrs[0], n.Name)
	}
	if l.hostsTab == "" {
		l.hostsTab = filepath.Join(l.Dir, "hosts")
	}
	if err := os.WriteFile(l.hostsTab, []byte(b.String()), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// isolate starts the namespace holder of an isolated node: a shell in the
// node's netns with its own UTS and mount namespaces, the hostname set to
// the node name, and private directories bound on /etc/ha.d,
// /var/lib/heartbeat, /var/log and /run (/run/lock, /run/heartbeat and
// /run/resource-agents created), a hosts file naming every lab node on
// /etc/hosts, and /bin/true bound over systemctl so that a reference
// heartbeat that decides to reboot cannot.
func (l *Lab) isolate(n *Node) {
	l.t.Helper()
	dirs := map[string]string{
		"etc-ha.d":          "/etc/ha.d",
		"var-lib-heartbeat": "/var/lib/heartbeat",
		"var-log":           "/var/log",
		"run":               "/run",
	}
	for d := range dirs {
		if err := os.MkdirAll(filepath.Join(n.Root, d), 0o755); err != nil {
			l.t.Fatal(err)
		}
	}
	// Seed /etc/ha.d and /var/lib/heartbeat from the host (read only: the
	// copies are private), but never a node identity.
	if err := copyTree("/etc/ha.d", filepath.Join(n.Root, "etc-ha.d"), nil); err != nil {
		l.t.Fatalf("netlab: copy /etc/ha.d: %v", err)
	}
	skip := map[string]bool{"hb_uuid": true, "hb_generation": true, "hostcache": true, "delhostcache": true}
	if err := copyTree("/var/lib/heartbeat", filepath.Join(n.Root, "var-lib-heartbeat"), skip); err != nil {
		l.t.Fatalf("netlab: copy /var/lib/heartbeat: %v", err)
	}
	var sh strings.Builder
	sh.WriteString("set -e\n")
	fmt.Fprintf(&sh, "hostname %s\n", shQuote(n.Name))
	for d, target := range dirs {
		fmt.Fprintf(&sh, "mkdir -p %s\nmount --bind %s %s\n", target, shQuote(filepath.Join(n.Root, d)), target)
	}
	sh.WriteString("mkdir -p /run/lock /run/heartbeat /run/resource-agents\nchmod 1777 /run/lock\n")
	fmt.Fprintf(&sh, "mount --bind %s /etc/hosts\n", shQuote(l.hostsTab))
	for _, p := range []string{"/usr/bin/systemctl", "/bin/systemctl", "/usr/sbin/reboot", "/sbin/reboot"} {
		fmt.Fprintf(&sh, "if [ -e %s ] && [ ! -L %s ]; then mount --bind /bin/true %s; fi\n", p, p, p)
	}
	sh.WriteString("echo ready\nexec sleep 2147483647\n")

	cmd := exec.Command("ip", "netns", "exec", n.NS, "unshare", "--uts", "--mount", "--propagation", "private",
		"sh", "-c", sh.String())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	p, err := l.StartCmd(cmd)
	if err != nil {
		l.t.Fatalf("netlab: isolate %s: %v", n.Name, err)
	}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("unexpected %q", line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			<-p.Done()
			l.t.Fatalf("netlab: isolating %s failed: %v: %s", n.Name, err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		l.t.Fatalf("netlab: isolating %s timed out: %s", n.Name, stderr.String())
	}
	n.holder = p
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func copyTree(src, dst string, skip map[string]bool) error {
	if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if skip[fi.Name()] {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		to := filepath.Join(dst, rel)
		switch {
		case fi.IsDir():
			return os.MkdirAll(to, fi.Mode().Perm()|0o700)
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, to)
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, fi.Mode().Perm())
		}
		return nil // sockets, fifos: not copied
	})
}

// ---------------------------------------------------------------------------
// Running things in nodes

// Command returns a command that runs argv inside the node: through
// `ip netns exec` for plain nodes, through nsenter into the node's network,
// UTS and mount namespaces for isolated ones. The process is the command
// itself (no intermediate fork), so its PID is the one to signal.
func (n *Node) Command(name string, args ...string) *exec.Cmd {
	if n.holder != nil {
		argv := append([]string{"-t", strconv.Itoa(n.holder.PID), "-n", "-u", "-m", "--", name}, args...)
		return exec.Command("nsenter", argv...)
	}
	argv := append([]string{"netns", "exec", n.NS, name}, args...)
	return exec.Command("ip", argv...)
}

// Output runs argv in the node and returns its combined output.
func (n *Node) Output(name string, args ...string) (string, error) {
	out, err := n.Command(name, args...).CombinedOutput()
	return string(out), err
}

// MustRun runs argv in the node and fails the test when it fails.
func (n *Node) MustRun(name string, args ...string) string {
	n.lab.t.Helper()
	out, err := n.Output(name, args...)
	if err != nil {
		n.lab.t.Fatalf("netlab: %s: %s %s: %v\n%s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return out
}

// Start starts argv in the node as a long-running process whose combined
// output is collected (Proc.Output). It is killed in the test's cleanup.
func (n *Node) Start(name string, args ...string) (*Proc, error) {
	cmd := n.Command(name, args...)
	p := &Proc{}
	cmd.Stdout = &p.out
	cmd.Stderr = &p.out
	return n.lab.startCmd(cmd, p)
}

// Do runs f on an OS thread that has entered the node's network namespace,
// so sockets and netlink handles made by f live in that namespace (and keep
// living there afterwards). Goroutines started by f do NOT inherit the
// namespace. The thread is discarded afterwards, never reused.
func (n *Node) Do(f func() error) error {
	return Do(n.NS, f)
}

// Do runs f in the named network namespace; see Node.Do.
func Do(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread dies with this goroutine, so a thread
		// left in another namespace can never run other goroutines.
		runtime.LockOSThread()
		fd, err := unix.Open(filepath.Join(nsRoot, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("netlab: open netns %s: %w", ns, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("netlab: setns %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Proc is a process started by the lab.
type Proc struct {
	Cmd  *exec.Cmd
	PID  int
	out  SyncBuffer
	done chan struct{}
	err  error
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, valid after Done.
func (p *Proc) Err() error { <-p.done; return p.err }

// Output returns what the process wrote so far (Start only).
func (p *Proc) Output() string { return p.out.String() }

// Signal sends sig to the process (not its group).
func (p *Proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	return syscall.Kill(p.PID, sig)
}

// Kill kills the process group the lab created for the process (the
// process and the children it did not move elsewhere) and waits for the
// process to exit.
func (p *Proc) Kill() {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(-p.PID, syscall.SIGKILL)
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
		<-p.done
	}
}

// Wait waits up to d for the process to exit.
func (p *Proc) Wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		return fmt.Errorf("netlab: pid %d still running after %v", p.PID, d)
	}
}

// StartCmd starts a command prepared by the caller (normally from
// Node.Command) in a process group of its own, tracks it and kills the
// group in cleanup.
func (l *Lab) StartCmd(cmd *exec.Cmd) (*Proc, error) {
	return l.startCmd(cmd, &Proc{})
}

func (l *Lab) startCmd(cmd *exec.Cmd, p *Proc) (*Proc, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// No Pdeathsig: it fires when the forking OS thread exits, and Do
	// discards threads, so it would kill processes at random.
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.Cmd = cmd
	p.PID = cmd.Process.Pid
	p.done = make(chan struct{})
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// SyncBuffer is a bytes.Buffer that a process's output goroutine and a
// test may use at the same time.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ---------------------------------------------------------------------------
// Faults

// Loss drops pct percent (0..100) of the packets arriving at the node
// (nftables input hook, `numgen random mod 100 < pct drop`), except on lo.
// match is an optional nft match expression such as "udp dport 694" or
// "ip saddr 198.18.0.2". Calls add rules; ClearLoss removes them all.
func (n *Node) Loss(pct int, match string) error {
	if pct < 0 || pct > 100 {
		return fmt.Errorf("netlab: loss %d%% out of range", pct)
	}
	if pct == 0 {
		return nil
	}
	verdict := fmt.Sprintf("numgen random mod 100 < %d drop", pct)
	if pct == 100 {
		verdict = "drop" // numgen's range is 0..99
	}
	script := "add table inet netlab\n" +
		"add chain inet netlab input { type filter hook input priority -10; policy accept; }\n" +
		fmt.Sprintf("add rule inet netlab input meta iifname != \"lo\" %s %s\n", match, verdict)
	return n.nft(script)
}

// ClearLoss removes every loss rule of the node.
func (n *Node) ClearLoss() error {
	return n.nft("add table inet netlab\ndelete table inet netlab\n")
}

func (n *Node) nft(script string) error {
	cmd := exec.Command("ip", "netns", "exec", n.NS, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("netlab: nft in %s: %v: %s", n.Name, err, out)
	}
	return nil
}

// Cut pulls the node's cable on network k: the switch port goes down, so
// the node's ethK loses carrier (its address stays configured).
func (n *Node) Cut(k int) error {
	return n.lab.portState(n, k, "down")
}

// Plug puts the cable of network k back.
func (n *Node) Plug(k int) error {
	return n.lab.portState(n, k, "up")
}

func (l *Lab) portState(n *Node, k int, state string) error {
	if k < 0 || k >= len(n.Ifaces) {
		return fmt.Errorf("netlab: %s has no network %d", n.Name, k)
	}
	if out, err := run("ip", "-n", l.Switch, "link", "set", switchPort(n.Name, k), state); err != nil {
		return fmt.Errorf("netlab: port %s %s: %v: %s", switchPort(n.Name, k), state, err, out)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Capture

// Capture records every frame crossing bridge k in a pcap file, using
// tcpdump inside the switch namespace. Stop ends it and returns the path.
type Capture struct {
	Path string
	proc *Proc
}

// Capture starts tcpdump on network k's bridge and waits until it listens.
func (l *Lab) Capture(k int) (*Capture, error) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		return nil, err
	}
	path := filepath.Join(l.Dir, fmt.Sprintf("br%d-%d.pcap", k, time.Now().UnixNano()))
	cmd := exec.Command("ip", "netns", "exec", l.Switch, "tcpdump", "-i", fmt.Sprintf("br%d", k),
		"-U", "-s", "0", "-n", "-w", path)
	p := &Proc{}
	cmd.Stdout = &p.out
	cmd.Stderr = &p.out
	if _, err := l.startCmd(cmd, p); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Output(), "listening on") {
		select {
		case <-p.Done():
			return nil, fmt.Errorf("netlab: tcpdump exited: %s", p.Output())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("netlab: tcpdump not listening: %s", p.Output())
		}
	}
	return &Capture{Path: path, proc: p}, nil
}

// Stop stops the capture (SIGINT, so tcpdump flushes) and returns the pcap
// file's path.
func (c *Capture) Stop() (string, error) {
	_ = c.proc.Signal(syscall.SIGINT)
	if err := c.proc.Wait(10 * time.Second); err != nil && !isExit(err) {
		c.proc.Kill()
		return c.Path, err
	}
	return c.Path, nil
}

func isExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}

// ---------------------------------------------------------------------------
// Cleanup

// Close tears the lab down now, as the test's cleanup does (processes
// killed, namespaces deleted): for a benchmark that builds a lab per
// iteration. Calling it again, or the cleanup after it, does nothing.
func (l *Lab) Close() { l.closed.Do(l.cleanup) }

func (l *Lab) cleanup() {
	l.mu.Lock()
	procs := append([]*Proc(nil), l.procs...)
	nodes := append([]*Node(nil), l.nodes...)
	l.mu.Unlock()
	// Processes first (isolated holders last: commands entered through
	// them are in their own process groups anyway).
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-p.PID, syscall.SIGKILL)
			_ = syscall.Kill(p.PID, syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				l.t.Logf("netlab: pid %d did not exit after SIGKILL", p.PID)
			}
		}
	}
	// Daemons started in a node may have left the process group the lab
	// gave them (setsid, double fork). Anything still running inside one
	// of the lab's private network namespaces descends from what the lab
	// started there, so it goes too.
	for _, n := range nodes {
		killInNetns(filepath.Join(nsRoot, n.NS))
	}
	for _, n := range nodes {
		if out, err := run("ip", "netns", "del", n.NS); err != nil {
			l.t.Logf("netlab: ip netns del %s: %v: %s", n.NS, err, out)
		}
	}
	if out, err := run("ip", "netns", "del", l.Switch); err != nil {
		l.t.Logf("netlab: ip netns del %s: %v: %s", l.Switch, err, out)
	}
}

// killInNetns SIGKILLs every process whose network namespace is the one
// bound at nsPath.
func killInNetns(nsPath string) {
	var want unix.Stat_t
	if err := unix.Stat(nsPath, &want); err != nil {
		return
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st); err != nil {
			continue
		}
		if st.Ino == want.Ino && st.Dev == want.Dev {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeStale deletes namespaces named hbl-<pid>-... whose test process no
// longer exists (a test binary killed before its cleanup ran).
func removeStale() {
	ents, err := os.ReadDir(nsRoot)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, prefixS) {
			continue
		}
		rest := strings.TrimPrefix(name, prefixS)
		pidStr, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // owner alive
		}
		_, _ = run("ip", "netns", "del", name)
	}
}
