package netlab

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// eventually polls cond every 20ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

func pingOK(n *Node, addr netip.Addr) bool {
	_, err := n.Output("ping", "-n", "-c", "1", "-W", "1", addr.String())
	return err == nil
}

func TestLabAddressesAndReachability(t *testing.T) {
	l := New(t, Options{Nodes: []string{"a", "b", "c"}, Hosts: []string{"pinger"}})
	a, b, c, p := l.Node("a"), l.Node("b"), l.Node("c"), l.Node("pinger")
	for i, n := range []*Node{a, b, c} {
		want := netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)})
		if n.Addr() != want {
			t.Errorf("%s: addr %v, want %v", n.Name, n.Addr(), want)
		}
		out := n.MustRun("ip", "-o", "addr", "show", "dev", "eth0")
		if !strings.Contains(out, want.String()+"/24 brd 198.18.0.255") {
			t.Errorf("%s: eth0 = %q, want %v/24 with broadcast", n.Name, out, want)
		}
		if !strings.HasPrefix(n.NS, l.Prefix+"-") || !strings.HasPrefix(l.Prefix, "hbl-") {
			t.Errorf("netns name %q not under prefix %q", n.NS, l.Prefix)
		}
	}
	if p.Addr() != netip.MustParseAddr("198.18.0.254") {
		t.Errorf("host address %v, want 198.18.0.254", p.Addr())
	}
	for _, dst := range []*Node{b, c, p} {
		if !pingOK(a, dst.Addr()) {
			t.Errorf("a cannot ping %s (%v)", dst.Name, dst.Addr())
		}
	}
	// The host's namespace knows nothing of the lab's links.
	out, _ := run("ip", "-o", "link")
	if strings.Contains(out, "p-a") || strings.Contains(out, "br0@") {
		t.Errorf("lab interfaces leaked into the host namespace:\n%s", out)
	}
}

func TestLabDoUDPAndLoss(t *testing.T) {
	l := New(t, Options{})
	h1, h2 := l.Node("hb1"), l.Node("hb2")
	var rx, tx *net.UDPConn
	if err := h2.Do(func() (err error) {
		rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(198, 18, 0, 2), Port: 6940})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if err := h1.Do(func() (err error) {
		tx, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(198, 18, 0, 2), Port: 6940})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()

	recv := func(wait time.Duration) ([]byte, bool) {
		buf := make([]byte, 100)
		_ = rx.SetReadDeadline(time.Now().Add(wait))
		n, _, err := rx.ReadFromUDP(buf)
		return buf[:n], err == nil
	}
	if _, err := tx.Write([]byte("one")); err != nil {
		t.Fatal(err)
	}
	if got, ok := recv(5 * time.Second); !ok || string(got) != "one" {
		t.Fatalf("first datagram: got %q ok=%v", got, ok)
	}
	// 100% loss on UDP port 6940 at hb2: nothing arrives, while ICMP still does.
	if err := h2.Loss(100, "udp dport 6940"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		_, _ = tx.Write([]byte("lost"))
	}
	if !pingOK(h1, h2.Addr()) {
		t.Error("loss rule on UDP also dropped ICMP")
	}
	if got, ok := recv(300 * time.Millisecond); ok {
		t.Fatalf("datagram %q got through 100%% loss", got)
	}
	if err := h2.ClearLoss(); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Write([]byte("two")); err != nil {
		t.Fatal(err)
	}
	if got, ok := recv(5 * time.Second); !ok || string(got) != "two" {
		t.Fatalf("after ClearLoss: got %q ok=%v", got, ok)
	}
	// ClearLoss with no table is fine.
	if err := h1.ClearLoss(); err != nil {
		t.Fatal(err)
	}
}

func TestLabPartialLossDropsSome(t *testing.T) {
	l := New(t, Options{})
	h1, h2 := l.Node("hb1"), l.Node("hb2")
	if err := h2.Loss(50, "icmp type echo-request"); err != nil {
		t.Fatal(err)
	}
	out, _ := h1.Output("ping", "-n", "-q", "-c", "60", "-i", "0.01", "-W", "1", h2.Addr().String())
	// 60 probes at 50%: all through or none through is astronomically unlikely.
	if strings.Contains(out, " 0% packet loss") || strings.Contains(out, " 100% packet loss") {
		t.Fatalf("50%% loss rule gave:\n%s", out)
	}
}

func TestLabCutAndPlug(t *testing.T) {
	l := New(t, Options{Networks: 2})
	h1, h2 := l.Node("hb1"), l.Node("hb2")
	if h2.Addrs[1] != netip.MustParseAddr("198.18.1.2") || h2.Ifaces[1] != "eth1" {
		t.Fatalf("second network: %v %v", h2.Addrs, h2.Ifaces)
	}
	if !pingOK(h1, h2.Addrs[1]) {
		t.Fatal("no connectivity on network 1")
	}
	if err := h2.Cut(0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "carrier loss on hb2 eth0", func() bool {
		out, _ := h2.Output("ip", "-o", "link", "show", "eth0")
		return strings.Contains(out, "NO-CARRIER")
	})
	if pingOK(h1, h2.Addrs[0]) {
		t.Error("ping crossed a cut cable")
	}
	if !pingOK(h1, h2.Addrs[1]) {
		t.Error("cutting network 0 broke network 1")
	}
	if err := h2.Plug(0); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "ping after plug", func() bool { return pingOK(h1, h2.Addrs[0]) })
}

func TestLabIsolatedNodes(t *testing.T) {
	l := New(t, Options{Nodes: []string{"hb1", "hb2"}, Isolated: true})
	h1 := l.Node("hb1")
	if !h1.Isolated() {
		t.Fatal("node not isolated")
	}
	if got := strings.TrimSpace(h1.MustRun("hostname")); got != "hb1" {
		t.Errorf("hostname = %q, want hb1", got)
	}
	host, _ := os.Hostname()
	if host == "hb1" {
		t.Fatal("the host's hostname changed")
	}
	h1.MustRun("sh", "-c", "echo private > /etc/ha.d/netlab-probe && touch /run/heartbeat/probe /var/lib/heartbeat/probe")
	if _, err := os.Stat("/etc/ha.d/netlab-probe"); err == nil {
		t.Fatal("write to /etc/ha.d inside the node reached the host")
	}
	if b, err := os.ReadFile(filepath.Join(h1.Root, "etc-ha.d", "netlab-probe")); err != nil || string(b) != "private\n" {
		t.Errorf("private /etc/ha.d: %q %v", b, err)
	}
	if out := l.Node("hb2").MustRun("ls", "/etc/ha.d"); strings.Contains(out, "netlab-probe") {
		t.Error("nodes share /etc/ha.d")
	}
	if out := h1.MustRun("getent", "hosts", "hb2"); !strings.HasPrefix(out, "198.18.0.2") {
		t.Errorf("getent hosts hb2 = %q", out)
	}
	// A host added later is resolvable too.
	l.AddHost("pn")
	if out := h1.MustRun("getent", "hosts", "pn"); !strings.HasPrefix(out, "198.18.0.254") {
		t.Errorf("getent hosts pn = %q", out)
	}
	if _, err := os.Stat("/var/lib/heartbeat/probe"); err == nil {
		t.Fatal("write to /var/lib/heartbeat reached the host")
	}
	// Network namespace is the node's.
	if out := h1.MustRun("ip", "-o", "-4", "addr", "show", "dev", "eth0"); !strings.Contains(out, "198.18.0.1/24") {
		t.Errorf("isolated node eth0: %q", out)
	}
}

func TestLabStartAndCleanup(t *testing.T) {
	var nss []string
	var pid, escaped int
	t.Run("lab", func(t *testing.T) {
		l := New(t, Options{Isolated: true})
		p, err := l.Node("hb2").Start("sh", "-c", "echo started; hostname; exec sleep 1000")
		if err != nil {
			t.Fatal(err)
		}
		pid = p.PID
		eventually(t, 5*time.Second, "output", func() bool { return strings.Contains(p.Output(), "started\nhb2\n") })
		// A daemon that leaves its process group (as heartbeat's master
		// does) is still removed.
		pidFile := filepath.Join(l.Dir, "escaped.pid")
		l.Node("hb1").MustRun("sh", "-c", "setsid -f sh -c 'echo $$ > "+pidFile+"; exec sleep 1001' </dev/null >/dev/null 2>&1")
		eventually(t, 5*time.Second, "escaped pid", func() bool {
			b, _ := os.ReadFile(pidFile)
			escaped, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			return escaped > 0
		})
		for _, n := range l.Nodes() {
			nss = append(nss, n.NS)
		}
		nss = append(nss, l.Switch)
	})
	if len(nss) == 0 {
		t.Skip("lab not built")
	}
	for _, ns := range nss {
		if _, err := os.Stat(filepath.Join(nsRoot, ns)); err == nil {
			t.Errorf("netns %s survived cleanup", ns)
		}
	}
	for _, p := range []int{pid, escaped} {
		// Killed processes may linger as zombies for an instant; a live one
		// still has its command line.
		eventually(t, 5*time.Second, fmt.Sprintf("pid %d gone", p), func() bool {
			b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "cmdline"))
			return err != nil || !bytes.Contains(b, []byte("sleep"))
		})
	}
}

func TestLabCapture(t *testing.T) {
	l := New(t, Options{})
	h1, h2 := l.Node("hb1"), l.Node("hb2")
	c, err := l.Capture(0)
	if err != nil {
		t.Skipf("tcpdump unavailable: %v", err)
	}
	var tx *net.UDPConn
	if err := h1.Do(func() (err error) {
		tx, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: h2.Addr().AsSlice(), Port: 7000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if _, err := tx.Write([]byte("captured")); err != nil {
		t.Fatal(err)
	}
	// Wait until tcpdump has written the datagram.
	var found *UDP
	eventually(t, 5*time.Second, "datagram in the capture file", func() bool {
		b, _ := os.ReadFile(c.Path)
		frames, _ := ParsePcap(b)
		for _, f := range frames {
			if u, ok := ParseUDP(f); ok && string(u.Payload) == "captured" {
				found = &u
				return true
			}
		}
		return false
	})
	if _, err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if found.Src.Addr() != h1.Addr() || found.Dst != netip.AddrPortFrom(h2.Addr(), 7000) {
		t.Errorf("captured %v -> %v", found.Src, found.Dst)
	}
}
