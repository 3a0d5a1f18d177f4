// Package e2e runs the real heartbeat binary (built by hb/testbin) as
// whole clusters: on loopback without root, and in network namespaces
// (hb/netlab) with root, next to the real heartbeat 3.0.6 when it is
// installed. The helpers here write node configurations, start and kill
// daemons by PID, and wait for conditions with deadlines.
package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	portMu   sync.Mutex
	nextPort int
)

// NodeSpec describes one heartbeat-go node of a loopback cluster.
type NodeSpec struct {
	Name string // node name (--node)
	Addr string // 127.0.0.x address it binds (--bind)
}

// ClusterSpec describes a loopback cluster.
type ClusterSpec struct {
	Nodes        []NodeSpec
	Keepalive    string // ha.cf keepalive, e.g. "200ms"
	DeadTime     string // ha.cf deadtime, e.g. "2"
	WarnTime     string
	InitDead     string
	AutoFailback string // on, off, legacy
	Port         int    // udpport
	Haresources  string // haresources content ("" = none)
	Extra        string // more ha.cf lines
}

// Node is one node's files and process.
type Node struct {
	t    testing.TB
	bin  string
	Spec NodeSpec
	Dir  string // root of the node's files
	Etc  string // --config-dir
	Run  string // --run-dir
	Var  string // --state-dir
	Log  string // ha-log path

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  bytes.Buffer
}

// Cluster is a set of loopback nodes.
type Cluster struct {
	t     testing.TB
	Spec  ClusterSpec
	Dir   string
	Nodes map[string]*Node
}

// NewLoopback writes the configuration of every node of spec under a
// fresh temporary directory; nothing is started.
func NewLoopback(t testing.TB, bin string, spec ClusterSpec) *Cluster {
	t.Helper()
	dir := t.TempDir()
	c := &Cluster{t: t, Spec: spec, Dir: dir, Nodes: map[string]*Node{}}
	var nodeLines strings.Builder
	for _, n := range spec.Nodes {
		fmt.Fprintf(&nodeLines, "node %s\n", n.Name)
	}
	for _, n := range spec.Nodes {
		nd := &Node{t: t, bin: bin, Spec: n, Dir: filepath.Join(dir, n.Name)}
		nd.Etc = filepath.Join(nd.Dir, "etc")
		nd.Run = filepath.Join(nd.Dir, "run")
		nd.Var = filepath.Join(nd.Dir, "var")
		nd.Log = filepath.Join(nd.Dir, "ha-log")
		for _, d := range []string{nd.Etc, nd.Run, nd.Var, filepath.Join(nd.Etc, "resource.d")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		var cf strings.Builder
		fmt.Fprintf(&cf, "logfile %s\ndebugfile %s\n", nd.Log, filepath.Join(nd.Dir, "ha-debug"))
		fmt.Fprintf(&cf, "keepalive %s\ndeadtime %s\n", spec.Keepalive, spec.DeadTime)
		if spec.WarnTime != "" {
			fmt.Fprintf(&cf, "warntime %s\n", spec.WarnTime)
		}
		if spec.InitDead != "" {
			fmt.Fprintf(&cf, "initdead %s\n", spec.InitDead)
		}
		fmt.Fprintf(&cf, "udpport %d\n", spec.Port)
		for _, p := range spec.Nodes {
			if p.Name != n.Name {
				fmt.Fprintf(&cf, "ucast lo %s\n", p.Addr)
			}
		}
		if spec.AutoFailback != "" {
			fmt.Fprintf(&cf, "auto_failback %s\n", spec.AutoFailback)
		}
		cf.WriteString(spec.Extra)
		cf.WriteString(nodeLines.String())
		write(t, filepath.Join(nd.Etc, "ha.cf"), cf.String(), 0o644)
		write(t, filepath.Join(nd.Etc, "authkeys"), "auth 1\n1 sha1 heartbeat-go-e2e-test-key\n", 0o600)
		write(t, filepath.Join(nd.Etc, "haresources"), spec.Haresources, 0o644)
		c.Nodes[n.Name] = nd
	}
	return c
}

// WriteFile writes content to path with mode (also when the file exists).
func WriteFile(t testing.TB, path, content string, mode os.FileMode) { write(t, path, content, mode) }

func write(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// Start starts the node's daemon in the foreground (as a child of the
// test) and arranges for it to be killed at cleanup.
func (n *Node) Start(extraEnv ...string) {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	cmd := exec.Command(n.bin, "--foreground", "--node", n.Spec.Name, "--bind", n.Spec.Addr,
		"--config-dir", n.Etc, "--state-dir", n.Var, "--run-dir", n.Run)
	cmd.Env = append(os.Environ(), extraEnv...)
	n.out.Reset()
	cmd.Stdout = &lockedWriter{mu: &n.mu, w: &n.out}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start %s: %v", n.Spec.Name, err)
	}
	done := make(chan struct{})
	n.cmd, n.done = cmd, done
	go func() { cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid
	n.t.Cleanup(func() {
		select {
		case <-done:
		default:
			syscall.Kill(pid, syscall.SIGKILL)
			<-done
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Pid is the running daemon's pid (0 if none started).
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Kill sends SIGKILL to the daemon and waits for it to die.
func (n *Node) Kill() { n.signalWait(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits up to d for a clean exit.
func (n *Node) Stop(d time.Duration) error { return n.signalWait(syscall.SIGTERM, d) }

func (n *Node) signalWait(sig syscall.Signal, d time.Duration) error {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return nil
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("%s did not exit within %v after %v", n.Spec.Name, d, sig)
	}
}

// Exited reports whether the started daemon has exited.
func (n *Node) Exited() bool {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Output is what the daemon wrote on stdout/stderr.
func (n *Node) Output() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.String()
}

// LogText returns the node's ha-log.
func (n *Node) LogText() string {
	b, _ := os.ReadFile(n.Log)
	return string(b)
}

// LogLines returns the ha-log lines containing substr.
func (n *Node) LogLines(substr string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(n.LogText()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// Dump logs the node's output and log, for failures.
func (n *Node) Dump() {
	n.t.Logf("==== %s stdout/stderr:\n%s", n.Spec.Name, n.Output())
	n.t.Logf("==== %s ha-log:\n%s", n.Spec.Name, n.LogText())
}

// WaitFor polls cond every 20 ms until it is true or d has passed; it
// reports how long it took and whether it became true.
func WaitFor(d time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	deadline := start.Add(d)
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Now().After(deadline) {
			return time.Since(start), false
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

// FreePort returns a UDP port free on the loopback addresses the tests
// bind, for udpport; successive calls in one process return different
// ports.
func FreePort(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	if nextPort == 0 {
		nextPort = 20000 + os.Getpid()%20000
	}
	for p := nextPort; p < 65000; p += 7 {
		nextPort = p + 7
		ok := true
		for _, a := range []string{"127.0.0.1", "127.0.0.11", "127.0.0.12", "127.0.0.13"} {
			c, err := listenUDP(a, p)
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free UDP port")
	return 0
}
