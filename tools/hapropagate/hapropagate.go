// Package hapropagate implements the `ha_propagate` tool of the heartbeat
// multi-call binary: it copies ha.cf and authkeys to every other node
// named on a `node` line of ha.cf, over SSH (golang.org/x/crypto/ssh).
//
// As heartbeat 3.0.6's script, it prints "Propagating HA configuration
// files to node <n>." per node, copies into /etc/ha.d/ as root, skips the
// local node, and says "HA Linux not configured on this node.  Can not
// propagate." (exit 0) when ha.cf or authkeys is missing. Differences, by
// design:
//   - every name on a node line counts (heartbeat's script skipped
//     `node a b` lines), and the local node is matched case-insensitively
//     against heartbeat's node name (/etc/ha.d/nodeinfo or uname -n);
//   - each file is written atomically: to a temporary file in the target
//     directory, chmod-ed (authkeys always 0600, ha.cf keeps its local
//     mode), then renamed over the old one;
//   - one result line per node ("<n>: ok (ha.cf authkeys)" or
//     "<n>: FAILED: <why>") and exit 1 when any node failed;
//   - no "chkconfig" step: enabling the service at boot is left to the
//     init system's own tools;
//   - --haresources also copies haresources (the script never did).
//
// Authentication uses the SSH agent ($SSH_AUTH_SOCK) and the user's
// unencrypted keys in ~/.ssh (id_ed25519, id_ecdsa, id_rsa, plus -i
// FILE). Host keys are checked against ~/.ssh/known_hosts and
// /etc/ssh/ssh_known_hosts: an unknown or changed host key fails that
// node with an explanation, it is never accepted silently.
package hapropagate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/heartbeat-go/heartbeat/hb/hacf"
)

// options is everything the tool takes from its command line and
// surroundings; tests fill it directly.
type options struct {
	haDir       string   // local configuration directory
	remoteDir   string   // where the files go on the nodes
	user        string   // remote user
	port        int      // SSH port
	identities  []string // private key files, tried after the agent
	knownHosts  []string // known_hosts files
	agentSock   string   // $SSH_AUTH_SOCK
	localNode   string   // heartbeat's name for this node
	timeout     time.Duration
	haresources bool
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Run runs the tool with args (without the program name) and returns its
// exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o := options{remoteDir: "/etc/ha.d", agentSock: os.Getenv("SSH_AUTH_SOCK"), dial: (&net.Dialer{}).DialContext}
	fl := flag.NewFlagSet("ha_propagate", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var ids, kh multiFlag
	fl.StringVar(&o.haDir, "d", "/etc/ha.d", "local heartbeat configuration `directory`")
	fl.StringVar(&o.remoteDir, "remote-dir", o.remoteDir, "configuration `directory` on the other nodes")
	fl.StringVar(&o.user, "user", "root", "remote `user`")
	fl.IntVar(&o.port, "port", 22, "SSH `port`")
	fl.Var(&ids, "i", "private key `file` (repeatable; default ~/.ssh/id_ed25519, id_ecdsa, id_rsa)")
	fl.Var(&kh, "known-hosts", "known_hosts `file` (repeatable; default ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts)")
	fl.DurationVar(&o.timeout, "timeout", 20*time.Second, "per-node time limit")
	fl.BoolVar(&o.haresources, "haresources", false, "also copy haresources")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "ha_propagate: unexpected argument %q\n", fl.Arg(0))
		return 2
	}
	home, _ := os.UserHomeDir()
	o.identities = ids
	if len(o.identities) == 0 && home != "" {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			o.identities = append(o.identities, filepath.Join(home, ".ssh", n))
		}
	}
	o.knownHosts = kh
	if len(o.knownHosts) == 0 {
		if home != "" {
			o.knownHosts = append(o.knownHosts, filepath.Join(home, ".ssh", "known_hosts"))
		}
		o.knownHosts = append(o.knownHosts, "/etc/ssh/ssh_known_hosts")
	}
	o.localNode = localNodeName(o.haDir)
	return run(ctx, o, stdout, stderr)
}

// localNodeName is heartbeat's name for this node: the first line of
// nodeinfo when it ends with a newline, else uname -n; lowercased.
func localNodeName(haDir string) string {
	if b, err := os.ReadFile(filepath.Join(haDir, "nodeinfo")); err == nil {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return strings.ToLower(strings.TrimSpace(string(b[:i])))
		}
	}
	h, _ := os.Hostname()
	return strings.ToLower(h)
}

// file is one file to propagate.
type file struct {
	name string
	data []byte
	mode fs.FileMode
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) int {
	names := []string{"ha.cf", "authkeys"}
	if o.haresources {
		names = append(names, "haresources")
	}
	var files []file
	for _, n := range names {
		p := filepath.Join(o.haDir, n)
		data, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) && n != "haresources" {
			fmt.Fprintln(stdout, "HA Linux not configured on this node.  Can not propagate.")
			return 0
		}
		if err != nil {
			fmt.Fprintf(stderr, "ha_propagate: %v\n", err)
			return 1
		}
		mode := fs.FileMode(0o644)
		if fi, err := os.Stat(p); err == nil {
			mode = fi.Mode().Perm()
		}
		if n == "authkeys" {
			mode = 0o600
		}
		files = append(files, file{n, data, mode})
	}
	nodes, err := otherNodes(files[0].data, filepath.Join(o.haDir, "ha.cf"), o.localNode)
	if err != nil {
		fmt.Fprintf(stderr, "ha_propagate: %v\n", err)
		return 1
	}
	auth, closeAgent := authMethods(o)
	defer closeAgent()
	failed := 0
	for _, n := range nodes {
		fmt.Fprintf(stdout, "Propagating HA configuration files to node %s.\n", n)
		if err := propagate(ctx, o, auth, n, files); err != nil {
			failed++
			fmt.Fprintf(stdout, "%s: FAILED: %v\n", n, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%s)\n", n, strings.Join(names, " "))
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// otherNodes lists the names of every node line of ha.cf, without the
// local node and duplicates, in file order.
func otherNodes(hacfData []byte, path, local string) ([]string, error) {
	f, _ := hacf.Parse(hacfData, path) // problems elsewhere in ha.cf do not matter here
	if f == nil {
		return nil, fmt.Errorf("%s: cannot read", path)
	}
	seen := map[string]bool{strings.ToLower(local): true}
	var out []string
	for _, d := range f.Lookup("node") {
		for _, n := range d.Args {
			if k := strings.ToLower(n); !seen[k] {
				seen[k] = true
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// authMethods offers the agent's keys, then the key files.
func authMethods(o options) (ssh.AuthMethod, func()) {
	var ag agent.ExtendedAgent
	closer := func() {}
	if o.agentSock != "" {
		if c, err := net.Dial("unix", o.agentSock); err == nil {
			ag = agent.NewClient(c)
			closer = func() { c.Close() }
		}
	}
	ids := o.identities
	return ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		var signers []ssh.Signer
		if ag != nil {
			if s, err := ag.Signers(); err == nil {
				signers = append(signers, s...)
			}
		}
		for _, p := range ids {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			s, err := ssh.ParsePrivateKey(b)
			if err != nil {
				continue // passphrase-protected keys are for the agent
			}
			signers = append(signers, s)
		}
		if len(signers) == 0 {
			return nil, errors.New("no usable SSH key (agent or unencrypted ~/.ssh/id_*)")
		}
		return signers, nil
	}), closer
}

// hostKeyCheck builds the known_hosts callback and the host key
// algorithms to ask for (those of the keys we know for addr, so that the
// server does not offer a type we cannot verify).
func hostKeyCheck(o options, addr string, remote net.Addr) (ssh.HostKeyCallback, []string, error) {
	var files []string
	for _, f := range o.knownHosts {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("no known_hosts file (%s): refusing to trust an unverified host key", strings.Join(o.knownHosts, ", "))
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, nil, fmt.Errorf("known_hosts: %w", err)
	}
	var algos []string
	var ke *knownhosts.KeyError
	if err := cb(addr, remote, probeKey{}); errors.As(err, &ke) {
		for _, k := range ke.Want {
			switch t := k.Key.Type(); t {
			case ssh.KeyAlgoRSA:
				algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
			default:
				algos = append(algos, t)
			}
		}
	}
	check := func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(host, remote, key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case errors.As(err, &ke) && len(ke.Want) == 0:
			return hostKeyErrorf("unknown host key %s %s: not in %s; verify it, then add it (e.g. connect once with ssh)",
				key.Type(), ssh.FingerprintSHA256(key), strings.Join(files, ", "))
		case errors.As(err, &ke):
			return hostKeyErrorf("HOST KEY MISMATCH: got %s %s, %s:%d has another key for this host (possible man-in-the-middle)",
				key.Type(), ssh.FingerprintSHA256(key), ke.Want[0].Filename, ke.Want[0].Line)
		case errors.As(err, &re):
			return hostKeyErrorf("host key %s is revoked in %s:%d", ssh.FingerprintSHA256(key), re.Revoked.Filename, re.Revoked.Line)
		}
		return err
	}
	return check, algos, nil
}

// hostKeyError is a refused host key; reported without the SSH
// library's "handshake failed" wrapping.
type hostKeyError struct{ msg string }

func (e *hostKeyError) Error() string { return e.msg }

func hostKeyErrorf(format string, a ...any) error { return &hostKeyError{fmt.Sprintf(format, a...)} }

// probeKey is a key no known_hosts line holds: checking it lists the
// keys that are known for a host.
type probeKey struct{}

func (probeKey) Type() string                        { return "heartbeat-go-probe" }
func (probeKey) Marshal() []byte                     { return []byte("heartbeat-go-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

// propagate copies files to node.
func propagate(ctx context.Context, o options, auth ssh.AuthMethod, node string, files []file) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	addr := net.JoinHostPort(node, strconv.Itoa(o.port))
	conn, err := o.dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	check, algos, err := hostKeyCheck(o, addr, conn.RemoteAddr())
	if err != nil {
		return err
	}
	cfg := &ssh.ClientConfig{User: o.user, Auth: []ssh.AuthMethod{auth}, HostKeyCallback: check,
		HostKeyAlgorithms: algos, Timeout: o.timeout}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		var he *hostKeyError
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("timed out after %v", o.timeout)
		case errors.As(err, &he):
			return he
		}
		return err
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	for _, f := range files {
		if err := put(client, o.remoteDir, f); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: timed out after %v", f.name, o.timeout)
			}
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// put writes one file atomically in dir on the remote side: a temporary
// file next to it, chmod, then rename; the temporary file is removed if
// any step fails.
func put(client *ssh.Client, dir string, f file) error {
	var rnd [6]byte
	rand.Read(rnd[:])
	dst := dir + "/" + f.name
	tmp := dir + "/." + f.name + ".ha_propagate." + hex.EncodeToString(rnd[:])
	cmd := fmt.Sprintf("umask 077 && cat > %s && chmod %o %s && mv -f %s %s || { rm -f %s; exit 1; }",
		quote(tmp), f.mode, quote(tmp), quote(tmp), quote(dst), quote(tmp))
	s, err := client.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	var errOut bytes.Buffer
	s.Stdin = bytes.NewReader(f.data)
	s.Stderr = &errOut
	if err := s.Run(cmd); err != nil {
		msg := strings.TrimSpace(errOut.String())
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			if msg == "" {
				msg = "remote command failed"
			}
			return fmt.Errorf("%s (exit %d)", msg, ee.ExitStatus())
		}
		if msg != "" {
			return fmt.Errorf("%v: %s", err, msg)
		}
		return err
	}
	return nil
}

// quote quotes s for a POSIX shell.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
