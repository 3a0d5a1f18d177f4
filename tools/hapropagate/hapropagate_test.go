package hapropagate

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// sshd is an in-process SSH server that runs the few shell commands
// ha_propagate sends, with its directory root standing for /etc/ha.d.
type sshd struct {
	t        *testing.T
	addr     string
	hostKey  ssh.Signer
	root     string
	readOnly bool // every write fails as on a read-only /etc/ha.d

	mu    sync.Mutex
	execs []string
}

func newKey(t *testing.T) (ed25519.PrivateKey, ssh.Signer) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, s
}

func startSSHD(t *testing.T, authorized ssh.PublicKey) *sshd {
	_, hk := newKey(t)
	d := &sshd{t: t, hostKey: hk, root: t.TempDir()}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(md ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if md.User() == "root" && bytes.Equal(k.Marshal(), authorized.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("not authorized")
	}}
	cfg.AddHostKey(hk)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.addr = ln.Addr().String()
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); d.serve(c, cfg) }()
		}
	}()
	return d
}

func (d *sshd) serve(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			defer ch.Close()
			for r := range creqs {
				if r.Type != "exec" || len(r.Payload) < 4 {
					r.Reply(false, nil)
					continue
				}
				n := binary.BigEndian.Uint32(r.Payload)
				cmd := string(r.Payload[4:][:min(int(n), len(r.Payload)-4)])
				r.Reply(true, nil)
				d.mu.Lock()
				d.execs = append(d.execs, cmd)
				d.mu.Unlock()
				status := d.exec(cmd, ch, ch.Stderr())
				ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(status)))
				return
			}
		}()
	}
}

// exec interprets `A && B && ... || { C; D; }` with umask, cat >, chmod,
// mv -f, rm -f and exit.
func (d *sshd) exec(cmd string, stdin io.Reader, stderr io.Writer) int {
	main, fallback, _ := strings.Cut(cmd, " || ")
	umask := os.FileMode(0o022)
	failed := func(format string, a ...any) int {
		fmt.Fprintf(stderr, format+"\n", a...)
		if fallback != "" {
			for _, step := range strings.Split(strings.Trim(fallback, "{} ;"), "; ") {
				if p, ok := strings.CutPrefix(step, "rm -f "); ok {
					if lp, err := d.path(p); err == nil {
						os.Remove(lp)
					}
				}
			}
		}
		return 1
	}
	for _, step := range strings.Split(main, " && ") {
		f := strings.Fields(step)
		switch {
		case len(f) == 2 && f[0] == "umask":
			m, err := strconv.ParseUint(f[1], 8, 32)
			if err != nil {
				return failed("sh: umask: bad mask")
			}
			umask = os.FileMode(m)
		case len(f) == 3 && f[0] == "cat" && f[1] == ">":
			p, err := d.path(f[2])
			if err != nil {
				return failed("sh: %v", err)
			}
			if d.readOnly {
				return failed("sh: 1: cannot create %s: Permission denied", f[2])
			}
			data, err := io.ReadAll(stdin)
			if err != nil {
				return failed("sh: %v", err)
			}
			if err := os.WriteFile(p, data, 0o666&^umask); err != nil {
				return failed("sh: %v", err)
			}
		case len(f) == 3 && f[0] == "chmod":
			m, err := strconv.ParseUint(f[1], 8, 32)
			p, perr := d.path(f[2])
			if err != nil || perr != nil || os.Chmod(p, os.FileMode(m)) != nil {
				return failed("chmod: cannot change %s", f[2])
			}
		case len(f) == 4 && f[0] == "mv" && f[1] == "-f":
			a, err1 := d.path(f[2])
			b, err2 := d.path(f[3])
			if err1 != nil || err2 != nil || os.Rename(a, b) != nil {
				return failed("mv: cannot move %s", f[2])
			}
		default:
			return failed("sh: unsupported command %q", step)
		}
	}
	return 0
}

// path maps a quoted remote path under /etc/ha.d/ into the root.
func (d *sshd) path(quoted string) (string, error) {
	if len(quoted) < 2 || quoted[0] != '\'' || quoted[len(quoted)-1] != '\'' || strings.Contains(quoted[1:len(quoted)-1], "'") {
		return "", fmt.Errorf("unexpected quoting %s", quoted)
	}
	p, ok := strings.CutPrefix(quoted[1:len(quoted)-1], "/etc/ha.d/")
	if !ok || strings.Contains(p, "/") {
		return "", fmt.Errorf("outside /etc/ha.d: %s", quoted)
	}
	return filepath.Join(d.root, p), nil
}

func (d *sshd) commands() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.execs...)
}

// fixture is a local node hb1 whose ha.cf names hb2 and hb3.
type fixture struct {
	o        options
	key      ed25519.PrivateKey
	signer   ssh.Signer
	routes   map[string]string // "hb2:22" -> 127.0.0.1:port
	hacf     []byte
	authkeys []byte
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	key, signer := newKey(t)
	block, err := ssh.MarshalPrivateKey(key, "test")
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(idFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	haDir := filepath.Join(dir, "ha.d")
	os.Mkdir(haDir, 0o755)
	f := &fixture{key: key, signer: signer, routes: map[string]string{},
		hacf:     []byte("# test cluster\nkeepalive 1\ndeadtime 10\nucast eth0 198.18.0.2\nnode HB1\nnode hb2 hb3 # two on one line\n#node hb9\nnode hb2\n"),
		authkeys: []byte("auth 1\n1 sha1 secret\n")}
	os.WriteFile(filepath.Join(haDir, "ha.cf"), f.hacf, 0o644)
	os.WriteFile(filepath.Join(haDir, "authkeys"), f.authkeys, 0o600)
	f.o = options{haDir: haDir, remoteDir: "/etc/ha.d", user: "root", port: 22, identities: []string{idFile},
		knownHosts: []string{filepath.Join(dir, "known_hosts")}, localNode: "hb1", timeout: 10 * time.Second,
		dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if r, ok := f.routes[addr]; ok {
				addr = r
			} else {
				return nil, fmt.Errorf("test: no route to %s", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
	return f
}

// trust writes known_hosts lines: node -> host key.
func (f *fixture) trust(t *testing.T, keys map[string]ssh.PublicKey) {
	var b strings.Builder
	for n, k := range keys {
		b.WriteString(n + " " + string(ssh.MarshalAuthorizedKey(k)))
	}
	if err := os.WriteFile(f.o.knownHosts[0], []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) node(t *testing.T, name string) *sshd {
	d := startSSHD(t, f.signer.PublicKey())
	f.routes[name+":22"] = d.addr
	return d
}

func (f *fixture) run(t *testing.T) (string, string, int) {
	var o, e bytes.Buffer
	code := run(context.Background(), f.o, &o, &e)
	return o.String(), e.String(), code
}

// checkCopied asserts the node got both files with the right modes and
// no temporary file is left.
func (f *fixture) checkCopied(t *testing.T, d *sshd) {
	t.Helper()
	for name, want := range map[string]struct {
		data []byte
		mode os.FileMode
	}{"ha.cf": {f.hacf, 0o644}, "authkeys": {f.authkeys, 0o600}} {
		p := filepath.Join(d.root, name)
		got, err := os.ReadFile(p)
		fi, serr := os.Stat(p)
		if err != nil || serr != nil || !bytes.Equal(got, want.data) || fi.Mode().Perm() != want.mode {
			t.Errorf("%s on the node: %q %v, err %v", name, got, fi.Mode(), err)
		}
	}
	entries, _ := os.ReadDir(d.root)
	if len(entries) != 2 {
		t.Errorf("node directory holds %d entries, want 2 (temporary file left?)", len(entries))
	}
}

func checkEmpty(t *testing.T, d *sshd) {
	t.Helper()
	if entries, _ := os.ReadDir(d.root); len(entries) != 0 {
		t.Errorf("failed node's directory not empty: %v", entries)
	}
}

func TestSuccess(t *testing.T) {
	f := newFixture(t)
	hb2, hb3 := f.node(t, "hb2"), f.node(t, "hb3")
	f.trust(t, map[string]ssh.PublicKey{"hb2": hb2.hostKey.PublicKey(), "hb3": hb3.hostKey.PublicKey()})
	stdout, stderr, code := f.run(t)
	want := "Propagating HA configuration files to node hb2.\nhb2: ok (ha.cf authkeys)\n" +
		"Propagating HA configuration files to node hb3.\nhb3: ok (ha.cf authkeys)\n"
	if code != 0 || stdout != want || stderr != "" {
		t.Fatalf("exit %d\nstdout %q\nwant   %q\nstderr %q", code, stdout, want, stderr)
	}
	f.checkCopied(t, hb2)
	f.checkCopied(t, hb3)
	// Written via a temporary file and a rename, authkeys kept at 0600.
	for _, c := range hb2.commands() {
		if !strings.Contains(c, "umask 077 && cat > '/etc/ha.d/.") || !strings.Contains(c, "&& mv -f ") {
			t.Errorf("not an atomic write: %s", c)
		}
		if strings.Contains(c, "/etc/ha.d/authkeys'") && !strings.Contains(c, "chmod 600 ") {
			t.Errorf("authkeys not 0600: %s", c)
		}
	}
}

func TestUnreachableNode(t *testing.T) {
	f := newFixture(t)
	hb2 := f.node(t, "hb2")
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.routes["hb3:22"] = closed.Addr().String()
	closed.Close()
	f.trust(t, map[string]ssh.PublicKey{"hb2": hb2.hostKey.PublicKey(), "hb3": hb2.hostKey.PublicKey()})
	stdout, _, code := f.run(t)
	if code != 1 || !strings.Contains(stdout, "hb2: ok (ha.cf authkeys)\n") || !strings.Contains(stdout, "hb3: FAILED: ") || !strings.Contains(stdout, "connection refused") {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
	f.checkCopied(t, hb2)
}

func TestUnknownHostKey(t *testing.T) {
	f := newFixture(t)
	hb2, hb3 := f.node(t, "hb2"), f.node(t, "hb3")
	f.trust(t, map[string]ssh.PublicKey{"hb2": hb2.hostKey.PublicKey()})
	stdout, _, code := f.run(t)
	if code != 1 || !strings.Contains(stdout, "hb2: ok") || !strings.Contains(stdout, "hb3: FAILED: ") || !strings.Contains(stdout, "unknown host key ssh-ed25519 SHA256:") {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
	if len(hb3.commands()) != 0 {
		t.Fatalf("commands ran on an unverified host: %q", hb3.commands())
	}
	checkEmpty(t, hb3)
}

func TestChangedHostKey(t *testing.T) {
	f := newFixture(t)
	hb2, hb3 := f.node(t, "hb2"), f.node(t, "hb3")
	f.trust(t, map[string]ssh.PublicKey{"hb2": hb2.hostKey.PublicKey(), "hb3": hb2.hostKey.PublicKey()})
	stdout, _, code := f.run(t)
	if code != 1 || !strings.Contains(stdout, "hb3: FAILED: HOST KEY MISMATCH") {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
	checkEmpty(t, hb3)
}

func TestNoKnownHostsFile(t *testing.T) {
	f := newFixture(t)
	f.node(t, "hb2")
	f.node(t, "hb3")
	stdout, _, code := f.run(t)
	if code != 1 || strings.Count(stdout, ": FAILED: no known_hosts file") != 2 {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
}

func TestRemotePermissionDenied(t *testing.T) {
	f := newFixture(t)
	hb2, hb3 := f.node(t, "hb2"), f.node(t, "hb3")
	hb3.readOnly = true
	f.trust(t, map[string]ssh.PublicKey{"hb2": hb2.hostKey.PublicKey(), "hb3": hb3.hostKey.PublicKey()})
	stdout, _, code := f.run(t)
	if code != 1 || !strings.Contains(stdout, "hb2: ok") || !strings.Contains(stdout, "hb3: FAILED: ha.cf: sh: 1: cannot create '/etc/ha.d/.ha.cf.ha_propagate.") ||
		!strings.Contains(stdout, "Permission denied (exit 1)") {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
	checkEmpty(t, hb3)
}

func TestKeyNotAccepted(t *testing.T) {
	f := newFixture(t)
	hb2 := f.node(t, "hb2")
	_, other := newKey(t)
	hb3 := startSSHD(t, other.PublicKey()) // authorizes someone else's key
	f.routes["hb3:22"] = hb3.addr
	f.trust(t, map[string]ssh.PublicKey{"hb2": hb2.hostKey.PublicKey(), "hb3": hb3.hostKey.PublicKey()})
	stdout, _, code := f.run(t)
	if code != 1 || !strings.Contains(stdout, "hb3: FAILED: ") || !strings.Contains(stdout, "unable to authenticate") {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
	checkEmpty(t, hb3)
}

func TestAgentKeys(t *testing.T) {
	f := newFixture(t)
	hb2, hb3 := f.node(t, "hb2"), f.node(t, "hb3")
	f.trust(t, map[string]ssh.PublicKey{"hb2": hb2.hostKey.PublicKey(), "hb3": hb3.hostKey.PublicKey()})
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: f.key}); err != nil {
		t.Fatal(err)
	}
	sockDir, err := os.MkdirTemp("", "hbagent")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	ln, err := net.Listen("unix", filepath.Join(sockDir, "agent"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()
	f.o.identities = nil
	f.o.agentSock = ln.Addr().String()
	stdout, _, code := f.run(t)
	if code != 0 || strings.Count(stdout, ": ok (") != 2 {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
	// And without agent or key files: a clear failure per node.
	f.o.agentSock = ""
	stdout, _, code = f.run(t)
	if code != 1 || strings.Count(stdout, "no usable SSH key") != 2 {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
}

func TestNotConfigured(t *testing.T) {
	f := newFixture(t)
	os.Remove(filepath.Join(f.o.haDir, "authkeys"))
	stdout, _, code := f.run(t)
	if code != 0 || stdout != "HA Linux not configured on this node.  Can not propagate.\n" {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
}

func TestOtherNodes(t *testing.T) {
	for _, tc := range []struct {
		name, hacf, local string
		want              string
	}{
		{"one per line", "node a\nnode b\n", "a", "b"},
		{"several per line", "node a b c\n", "b", "a c"},
		{"local matched case-insensitively", "node Alpha\nnode beta\n", "alpha", "beta"},
		{"comments and duplicates", "#node x\nnode y # z\nnode y\n", "q", "y"},
		{"no node lines", "keepalive 2\n", "a", ""},
		{"unknown directives do not matter", "bogus 1\nnode a b\n", "a", "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := otherNodes([]byte(tc.hacf), "ha.cf", tc.local)
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestLocalNodeName(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "nodeinfo"), []byte("NodeA\nignored\n"), 0o644)
	if got := localNodeName(dir); got != "nodea" {
		t.Fatalf("nodeinfo: %q", got)
	}
	// Without a trailing newline heartbeat ignores nodeinfo.
	os.WriteFile(filepath.Join(dir, "nodeinfo"), []byte("NodeA"), 0o644)
	h, _ := os.Hostname()
	if got := localNodeName(dir); got != strings.ToLower(h) {
		t.Fatalf("got %q, want uname -n %q", got, h)
	}
}

func TestQuote(t *testing.T) {
	if got := quote("/etc/ha.d/it's"); got != `'/etc/ha.d/it'\''s'` {
		t.Fatal(got)
	}
}

func TestSilentNodeTimesOut(t *testing.T) {
	f := newFixture(t)
	hb2 := f.node(t, "hb2")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn // accepted, never answered
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	defer func() {
		ln.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	}()
	f.routes["hb3:22"] = ln.Addr().String()
	f.trust(t, map[string]ssh.PublicKey{"hb2": hb2.hostKey.PublicKey(), "hb3": hb2.hostKey.PublicKey()})
	f.o.timeout = 300 * time.Millisecond
	stdout, _, code := f.run(t)
	if code != 1 || !strings.Contains(stdout, "hb2: ok") || !strings.Contains(stdout, "hb3: FAILED: timed out after 300ms") {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
}

func TestCommandLine(t *testing.T) {
	var o, e bytes.Buffer
	if code := Run(context.Background(), []string{"extra"}, nil, &o, &e); code != 2 || !strings.Contains(e.String(), "unexpected argument") {
		t.Fatalf("exit %d stderr %q", code, e.String())
	}
	if code := Run(context.Background(), []string{"-bogus"}, nil, &o, &e); code != 2 {
		t.Fatalf("exit %d", code)
	}
	e.Reset()
	o.Reset()
	dir := t.TempDir()
	if code := Run(context.Background(), []string{"-d", dir}, nil, &o, &e); code != 0 || o.String() != "HA Linux not configured on this node.  Can not propagate.\n" {
		t.Fatalf("exit %d stdout %q stderr %q", code, o.String(), e.String())
	}
}

// FuzzOtherNodes: any ha.cf gives a list without the local node and
// without duplicates, each name taken from a node line.
func FuzzOtherNodes(f *testing.F) {
	f.Add([]byte("node a b\nnode c\n"), "a")
	f.Add([]byte("#node x\nnode\tY # c\nnode y\n"), "q")
	if b, err := os.ReadFile("../../testdata/ha.cf"); err == nil {
		f.Add(b, "node1")
	}
	f.Fuzz(func(t *testing.T, hacfData []byte, local string) {
		nodes, err := otherNodes(hacfData, "ha.cf", local)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, n := range nodes {
			k := strings.ToLower(n)
			if k == strings.ToLower(local) || seen[k] || n == "" {
				t.Fatalf("bad list %q for local %q", nodes, local)
			}
			seen[k] = true
		}
	})
}
