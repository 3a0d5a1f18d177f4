package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

var udpCaptures = []string{"ucast-crc", "ucast-md5", "ucast-sha1", "bcast-sha1", "mcast-sha1", "loss30-ucast-sha1"}

// capturedUDP returns the heartbeat datagrams (UDP to port 694) of a
// capture directory.
func capturedUDP(t testing.TB, dir string) []netlab.UDP {
	t.Helper()
	frames, err := netlab.ReadPcap(filepath.Join(testbin.Shared(t), "captures", dir, "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var out []netlab.UDP
	for _, f := range frames {
		if u, ok := netlab.ParseUDP(f); ok && u.Dst.Port() == 694 {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no heartbeat datagrams in the capture", dir)
	}
	return out
}

// captureKeys loads the authkeys a capture's nodes ran with.
func captureKeys(t testing.TB, dir string) *authkeys.Keys {
	t.Helper()
	path := filepath.Join(testbin.Shared(t), "captures", dir, "hb1", "authkeys")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, probs := authkeys.Parse(b, path)
	if k == nil || probs.HasErrors() {
		t.Fatalf("%s: %v", path, probs.Err())
	}
	return k
}

// requireHaLog checks that the real heartbeat logged each line (as an
// info line from a plugin) in a capture's hb1/ha-log.
func requireHaLog(t *testing.T, dir string, lines []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testbin.Shared(t), "captures", dir, "hb1", "ha-log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Fatal("no open log lines")
	}
	for _, l := range lines {
		if !strings.Contains(string(b), "info: glib: "+l+"\n") {
			t.Errorf("%s/hb1/ha-log has no line %q", dir, l)
		}
	}
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// needRoot skips a test that binds sockets to a device when this process
// may not (root, or any user on Linux 5.7 and later).
func needRoot(t *testing.T) {
	t.Helper()
	c, err := listenUDP("udp4", "127.0.0.1:0", bindToDevice("lo"))
	if err != nil {
		t.Skipf("needs SO_BINDTODEVICE (root, or Linux >= 5.7): %v", err)
	}
	c.Close()
}

// TestUcastReceivesCapturedDatagrams replays every heartbeat datagram of
// the real captures onto a ucast medium's port over loopback, one at a
// time, and expects each back byte for byte.
func TestUcastReceivesCapturedDatagrams(t *testing.T) {
	needRoot(t)
	port := freeUDPPort(t)
	m, err := NewUcast("lo", "127.0.0.1", port)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tx, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	total := 0
	for _, dir := range udpCaptures {
		keys := captureKeys(t, dir)
		for i, u := range capturedUDP(t, dir) {
			if !bytes.HasPrefix(u.Payload, []byte("###\n")) || !bytes.Contains(u.Payload, []byte("%%%\n")) {
				t.Fatalf("%s #%d: not a netstring message: %q", dir, i, u.Payload[:min(40, len(u.Payload))])
			}
			if _, err := tx.Write(u.Payload); err != nil {
				t.Fatal(err)
			}
			p, err := recvWithin(t, m, 5*time.Second)
			if err != nil {
				t.Fatalf("%s #%d: %v", dir, i, err)
			}
			if !bytes.Equal(p.Data, u.Payload) {
				t.Fatalf("%s #%d: received bytes differ", dir, i)
			}
			// What the medium delivers is a whole, correctly signed message.
			if _, err := wire.Decode(p.Data, keys); err != nil {
				t.Fatalf("%s #%d: received datagram does not decode: %v", dir, i, err)
			}
			if p.From != tx.LocalAddr().String() {
				t.Fatalf("From = %q, want %q", p.From, tx.LocalAddr())
			}
			total++
		}
	}
	if st := m.Stats(); st.Received != uint64(total) || total != 180+187+179+183+183+667 {
		t.Errorf("received %d (stats %d)", total, st.Received)
	}
}

func TestUDPSendRecvLoopbackAndCancel(t *testing.T) {
	needRoot(t)
	port := freeUDPPort(t)
	m, err := NewUcast("lo", "127.0.0.1", port)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != fmt.Sprintf("ucast lo 127.0.0.1") || m.Stats().Link != "lo" {
		t.Errorf("name %q link %q", m.Name(), m.Stats().Link)
	}
	ctx := context.Background()
	if err := m.Send(ctx, []byte("self")); err != nil {
		t.Fatal(err)
	}
	p, err := recvWithin(t, m, 5*time.Second)
	if err != nil || string(p.Data) != "self" {
		t.Fatalf("got %q %v", p.Data, err)
	}
	// The write socket has its own ephemeral port, not the medium's port.
	if ap, err := netip.ParseAddrPort(p.From); err != nil || int(ap.Port()) == port {
		t.Errorf("sent from %q (medium port %d)", p.From, port)
	}
	if err := m.Send(ctx, make([]byte, MaxMessage+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized send: %v", err)
	}
	if _, err := recvWithin(t, m, 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("idle Recv: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := m.Recv(context.Background()); done <- err }()
	m.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Recv after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Recv")
	}
	if err := m.Send(ctx, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	st := m.Stats()
	if st.Sent != 1 || st.Received != 1 || st.Dropped[DropTooLarge] != 1 || st.State != StateClosed {
		t.Errorf("stats %+v", st)
	}
}

// inNode opens a medium inside a lab node's network namespace.
func inNode[M Medium](t *testing.T, n *netlab.Node, open func() (M, error)) M {
	t.Helper()
	var m M
	if err := n.Do(func() (err error) { m, err = open(); return err }); err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// wireCheck finds the datagram carrying payload in a capture and checks
// its IP header against what the real heartbeat put on the wire.
func wireCheck(t *testing.T, c *netlab.Capture, payload string, ref netlab.UDP, dst netip.AddrPort) netlab.UDP {
	t.Helper()
	var found netlab.UDP
	waitFor(t, 5*time.Second, "datagram in capture", func() bool {
		frames, _ := netlab.ReadPcap(c.Path)
		for _, f := range frames {
			if u, ok := netlab.ParseUDP(f); ok && string(u.Payload) == payload {
				found = u
				return true
			}
		}
		return false
	})
	if found.TOS != ref.TOS || found.TTL != ref.TTL || found.DF != ref.DF {
		t.Errorf("IP header TOS=%#x TTL=%d DF=%v, real heartbeat: TOS=%#x TTL=%d DF=%v",
			found.TOS, found.TTL, found.DF, ref.TOS, ref.TTL, ref.DF)
	}
	if found.Dst != dst {
		t.Errorf("sent to %v, want %v", found.Dst, dst)
	}
	if found.Src.Port() == 694 {
		t.Errorf("sent from the heartbeat port; heartbeat's write side uses an ephemeral port")
	}
	return found
}

func TestUcastNetns(t *testing.T) {
	lab := netlab.New(t, netlab.Options{})
	h1, h2 := lab.Node("hb1"), lab.Node("hb2")
	ref := capturedUDP(t, "ucast-sha1")[0]
	c, err := lab.Capture(0)
	if err != nil {
		t.Skip(err)
	}
	m1 := inNode(t, h1, func() (*UDP, error) { return NewUcast("eth0", "198.18.0.2", 694) })
	m2 := inNode(t, h2, func() (*UDP, error) { return NewUcast("eth0", "198.18.0.1", 694) })
	requireHaLog(t, "ucast-sha1", m1.OpenLog())
	ctx := context.Background()
	var srcs []netip.AddrPort
	for i := 0; i < 2; i++ {
		msg := fmt.Sprintf("###\nhb1 says %d\n%%%%%%\n", i)
		if err := m1.Send(ctx, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		p, err := recvWithin(t, m2, 5*time.Second)
		if err != nil || string(p.Data) != msg {
			t.Fatalf("hb2 got %q %v", p.Data, err)
		}
		if !strings.HasPrefix(p.From, "198.18.0.1:") {
			t.Errorf("From = %q", p.From)
		}
		u := wireCheck(t, c, msg, ref, netip.MustParseAddrPort("198.18.0.2:694"))
		srcs = append(srcs, u.Src)
	}
	if srcs[0] != srcs[1] {
		t.Errorf("source port changed between sends: %v %v", srcs[0], srcs[1])
	}
	if err := m2.Send(ctx, []byte("back")); err != nil {
		t.Fatal(err)
	}
	if p, err := recvWithin(t, m1, 5*time.Second); err != nil || string(p.Data) != "back" {
		t.Fatalf("hb1 got %q %v", p.Data, err)
	}
	c.Stop()
}

// Identical ha.cf files on every node mean a ucast line to the node's own
// address: it sends to itself and hears itself, like bcast; the daemon
// drops its own messages by src.
func TestUcastToOwnAddress(t *testing.T) {
	lab := netlab.New(t, netlab.Options{})
	self := inNode(t, lab.Node("hb1"), func() (*UDP, error) { return NewUcast("eth0", "198.18.0.1", 694) })
	if err := self.Send(context.Background(), []byte("to myself")); err != nil {
		t.Fatalf("ucast to own address: %v", err)
	}
	p, err := recvWithin(t, self, 5*time.Second)
	if err != nil || string(p.Data) != "to myself" || !strings.HasPrefix(p.From, "198.18.0.1:") {
		t.Fatalf("got %q from %q: %v", p.Data, p.From, err)
	}
}

// Two ucast lines on one interface (three-node clusters) share port 694.
func TestUcastTwoPeersShareThePort(t *testing.T) {
	lab := netlab.New(t, netlab.Options{Nodes: []string{"hb1", "hb2", "hb3"}})
	a := inNode(t, lab.Node("hb1"), func() (*UDP, error) { return NewUcast("eth0", "198.18.0.2", 694) })
	b := inNode(t, lab.Node("hb1"), func() (*UDP, error) { return NewUcast("eth0", "198.18.0.3", 694) })
	r2 := inNode(t, lab.Node("hb2"), func() (*UDP, error) { return NewUcast("eth0", "198.18.0.1", 694) })
	r3 := inNode(t, lab.Node("hb3"), func() (*UDP, error) { return NewUcast("eth0", "198.18.0.1", 694) })
	ctx := context.Background()
	if err := a.Send(ctx, []byte("to2")); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, []byte("to3")); err != nil {
		t.Fatal(err)
	}
	if p, err := recvWithin(t, r2, 5*time.Second); err != nil || string(p.Data) != "to2" {
		t.Fatalf("hb2: %q %v", p.Data, err)
	}
	if p, err := recvWithin(t, r3, 5*time.Second); err != nil || string(p.Data) != "to3" {
		t.Fatalf("hb3: %q %v", p.Data, err)
	}
}

func TestBcastNetns(t *testing.T) {
	lab := netlab.New(t, netlab.Options{Nodes: []string{"hb1", "hb2", "hb3"}})
	ref := capturedUDP(t, "bcast-sha1")[0]
	c, err := lab.Capture(0)
	if err != nil {
		t.Skip(err)
	}
	var ms []*UDP
	for _, n := range lab.Nodes() {
		ms = append(ms, inNode(t, n, func() (*UDP, error) { return NewBcast("eth0", 694) }))
	}
	requireHaLog(t, "bcast-sha1", ms[0].OpenLog())
	if got := ms[0].Dest().String(); got != "198.18.0.255:694" {
		t.Errorf("broadcast destination %s", got)
	}
	msg := "###\nbcast from hb1\n%%%\n"
	if err := ms[0].Send(context.Background(), []byte(msg)); err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		// hb1 hears its own broadcast too, as heartbeat's bcast does; the
		// daemon recognises it by src (see package doc).
		p, err := recvWithin(t, m, 5*time.Second)
		if err != nil || string(p.Data) != msg || !strings.HasPrefix(p.From, "198.18.0.1:") {
			t.Fatalf("node %d got %q from %q: %v", i+1, p.Data, p.From, err)
		}
	}
	u := wireCheck(t, c, msg, ref, netip.MustParseAddrPort("198.18.0.255:694"))
	if u.DstMAC != [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} || ref.DstMAC != u.DstMAC {
		t.Errorf("destination MAC %x (real heartbeat %x)", u.DstMAC, ref.DstMAC)
	}
	c.Stop()
}

func TestBcastOnlyOnItsInterface(t *testing.T) {
	lab := netlab.New(t, netlab.Options{Networks: 2})
	h1, h2 := lab.Node("hb1"), lab.Node("hb2")
	tx := inNode(t, h1, func() (*UDP, error) { return NewBcast("eth1", 694) })
	rx0 := inNode(t, h2, func() (*UDP, error) { return NewBcast("eth0", 694) })
	rx1 := inNode(t, h2, func() (*UDP, error) { return NewBcast("eth1", 694) })
	if err := tx.Send(context.Background(), []byte("on-eth1")); err != nil {
		t.Fatal(err)
	}
	if p, err := recvWithin(t, rx1, 5*time.Second); err != nil || string(p.Data) != "on-eth1" {
		t.Fatalf("eth1: %q %v", p.Data, err)
	}
	// Then a packet on eth0: the eth0 medium's first packet must be this
	// one, never the eth1 broadcast.
	tx0 := inNode(t, h1, func() (*UDP, error) { return NewBcast("eth0", 694) })
	if err := tx0.Send(context.Background(), []byte("on-eth0")); err != nil {
		t.Fatal(err)
	}
	if p, err := recvWithin(t, rx0, 5*time.Second); err != nil || string(p.Data) != "on-eth0" {
		t.Fatalf("eth0 medium got %q %v", p.Data, err)
	}
}

func TestMcastNetns(t *testing.T) {
	lab := netlab.New(t, netlab.Options{})
	h1, h2 := lab.Node("hb1"), lab.Node("hb2")
	ref := capturedUDP(t, "mcast-sha1")[0]
	c, err := lab.Capture(0)
	if err != nil {
		t.Skip(err)
	}
	m1 := inNode(t, h1, func() (*UDP, error) { return NewMcast("eth0", "239.18.0.1", 694, 1, false) })
	m2 := inNode(t, h2, func() (*UDP, error) { return NewMcast("eth0", "239.18.0.1", 694, 1, true) })
	requireHaLog(t, "mcast-sha1", m1.OpenLog())
	if m1.Name() != "mcast eth0 239.18.0.1 694 1 0" {
		t.Errorf("name %q", m1.Name())
	}
	ctx := context.Background()
	msg := "###\nmcast from hb1\n%%%\n"
	// The group join may take a moment to reach the bridge's snooping:
	// resend until hb2 hears it.
	got := make(chan Packet, 1)
	go func() {
		p, err := recvWithin(t, m2, 10*time.Second)
		if err == nil {
			got <- p
		}
		close(got)
	}()
	waitFor(t, 10*time.Second, "hb2 hearing the group", func() bool {
		if err := m1.Send(ctx, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		select {
		case p, ok := <-got:
			if !ok || string(p.Data) != msg {
				t.Fatalf("hb2 got %q", p.Data)
			}
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
	wireCheck(t, c, msg, ref, netip.MustParseAddrPort("239.18.0.1:694"))
	// LOOP 0: hb1 never hears itself, so the first thing it reads is hb2's
	// reply. LOOP 1: hb2 hears its own reply first.
	if err := m2.Send(ctx, []byte("reply")); err != nil {
		t.Fatal(err)
	}
	if p, err := recvWithin(t, m1, 5*time.Second); err != nil || string(p.Data) != "reply" {
		t.Fatalf("hb1 (loop 0) got %q %v", p.Data, err)
	}
	for {
		p, err := recvWithin(t, m2, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Data) == msg {
			continue // hb1's resends
		}
		if string(p.Data) != "reply" || !strings.HasPrefix(p.From, "198.18.0.2:") {
			t.Fatalf("hb2 (loop 1) got %q from %s", p.Data, p.From)
		}
		break
	}
	c.Stop()
}

// linkLocal waits until the node's eth0 has a usable IPv6 link-local
// address and returns it.
func linkLocal(t *testing.T, n *netlab.Node) string {
	t.Helper()
	var addr string
	waitFor(t, 10*time.Second, n.Name+" link-local address", func() bool {
		out, _ := n.Output("ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link")
		if strings.Contains(out, "tentative") {
			return false
		}
		for _, f := range strings.Fields(out) {
			if strings.HasPrefix(f, "fe80::") {
				addr, _, _ = strings.Cut(f, "/")
				return true
			}
		}
		return false
	})
	return addr
}

func TestIPv6MediaNetns(t *testing.T) {
	lab := netlab.New(t, netlab.Options{})
	h1, h2 := lab.Node("hb1"), lab.Node("hb2")
	ll1, ll2 := linkLocal(t, h1), linkLocal(t, h2)
	ctx := context.Background()
	t.Run("ucast6", func(t *testing.T) {
		m1 := inNode(t, h1, func() (*UDP, error) { return NewUcast6("eth0", ll2+"%eth0", 694) })
		// Without %scope a link-local peer is on the medium's interface.
		m2 := inNode(t, h2, func() (*UDP, error) { return NewUcast6("eth0", ll1, 694) })
		if ol := m1.OpenLog(); ol[len(ol)-1] != "ucast6: heartbeat started for ["+ll2+"%eth0]:694 on interface eth0" {
			t.Errorf("open log %q", ol)
		}
		if err := m1.Send(ctx, []byte("v6 hello")); err != nil {
			t.Fatal(err)
		}
		p, err := recvWithin(t, m2, 5*time.Second)
		if err != nil || string(p.Data) != "v6 hello" || !strings.Contains(p.From, ll1) {
			t.Fatalf("got %q from %q: %v", p.Data, p.From, err)
		}
		if err := m2.Send(ctx, []byte("v6 back")); err != nil {
			t.Fatal(err)
		}
		if p, err := recvWithin(t, m1, 5*time.Second); err != nil || string(p.Data) != "v6 back" {
			t.Fatalf("got %q: %v", p.Data, err)
		}
	})
	t.Run("mcast6", func(t *testing.T) {
		m1 := inNode(t, h1, func() (*UDP, error) { return NewMcast6("eth0", "ff12::1:18", 694, 1, false) })
		m2 := inNode(t, h2, func() (*UDP, error) { return NewMcast6("eth0", "ff12::1:18", 694, 1, false) })
		got := make(chan Packet, 1)
		go func() {
			p, err := recvWithin(t, m2, 10*time.Second)
			if err == nil {
				got <- p
			}
			close(got)
		}()
		waitFor(t, 10*time.Second, "mcast6 delivery", func() bool {
			if err := m1.Send(ctx, []byte("v6 group")); err != nil {
				t.Fatal(err)
			}
			select {
			case p, ok := <-got:
				if !ok || string(p.Data) != "v6 group" {
					t.Fatalf("got %q", p.Data)
				}
				return true
			case <-time.After(50 * time.Millisecond):
				return false
			}
		})
	})
}

func TestUDPOpenErrors(t *testing.T) {
	needRoot(t)
	if _, err := NewBcast("nosuchdev0", 694); err == nil || !strings.Contains(err.Error(), "Get broadcast for interface nosuchdev0 failed: no such device") {
		t.Errorf("bcast: %v", err)
	}
	if _, err := NewMcast("nosuchdev0", "239.1.1.1", 694, 1, false); err == nil || !strings.Contains(err.Error(), "Unable to retrieve local interface address for interface [nosuchdev0]") {
		t.Errorf("mcast: %v", err)
	}
	if _, err := NewMcast("lo", "10.0.0.1", 694, 1, false); err == nil || err.Error() != "mcast [lo] bad addr [10.0.0.1]" {
		t.Errorf("mcast addr: %v", err)
	}
	if _, err := NewUcast("nosuchdev0", "127.0.0.1", freeUDPPort(t)); err == nil || !strings.Contains(err.Error(), "SO_BINDTODEVICE") {
		t.Errorf("ucast: %v", err)
	}
	if _, err := NewUcast("lo", "127.0.0.1", 0); err == nil {
		t.Error("port 0 accepted")
	}
}

// A kept bcast medium on an interface that disappears goes down, reports
// why, and comes back when the interface does.
func TestKeptBcastFollowsInterface(t *testing.T) {
	lab := netlab.New(t, netlab.Options{})
	h1 := lab.Node("hb1")
	addDummy := func() {
		h1.MustRun("ip", "link", "add", "hbd0", "type", "veth", "peer", "name", "hbd1")
		h1.MustRun("ip", "link", "set", "hbd1", "up")
		h1.MustRun("ip", "addr", "add", "198.18.9.1/24", "brd", "+", "dev", "hbd0")
		h1.MustRun("ip", "link", "set", "hbd0", "up")
	}
	addDummy()
	// The keeper runs in the test's (host) namespace; only the opener
	// enters the node, as a daemon's opener would not need to.
	k := Keep(KindBcast, "bcast hbd0", "hbd0", func() (Medium, error) {
		var m Medium
		err := h1.Do(func() (err error) { m, err = NewBcast("hbd0", 694); return err })
		return m, err
	}, KeepOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, CheckEvery: 20 * time.Millisecond})
	defer k.Close()
	waitFor(t, 5*time.Second, "medium up", func() bool { return k.Stats().State == StateUp })
	if err := k.Send(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	// Several health checks pass while the interface is there.
	// Watch ten check periods: a healthy medium stays up.
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if st := k.Stats(); st.State != StateUp || st.Reopens != 0 || st.LastErr != "" {
			t.Fatalf("healthy medium flapped: %+v", st)
		}
	}
	h1.MustRun("ip", "link", "del", "hbd0")
	waitFor(t, 5*time.Second, "medium down", func() bool {
		st := k.Stats()
		return st.State == StateDown && st.LastErr != ""
	})
	if err := k.Send(context.Background(), []byte("x")); !errors.Is(err, ErrDown) {
		t.Errorf("send while down: %v", err)
	}
	addDummy()
	waitFor(t, 5*time.Second, "medium back up", func() bool { return k.Stats().State == StateUp })
	st := k.Stats()
	if st.Reopens != 1 || st.Sent != 1 || st.Dropped[DropDown] != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A pulled cable is not a broken medium: the kept medium stays open (sends
// may fail and are counted), and traffic resumes through it once the cable
// is back. Noticing the silence is the membership layer's job.
func TestKeptUcastSurvivesPulledCable(t *testing.T) {
	lab := netlab.New(t, netlab.Options{})
	h1, h2 := lab.Node("hb1"), lab.Node("hb2")
	opts := KeepOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, CheckEvery: 20 * time.Millisecond}
	k := Keep(KindUcast, "ucast eth0 198.18.0.2", "eth0", func() (Medium, error) {
		var m Medium
		err := h1.Do(func() (err error) { m, err = NewUcast("eth0", "198.18.0.2", 694); return err })
		return m, err
	}, opts)
	defer k.Close()
	rx := inNode(t, h2, func() (*UDP, error) { return NewUcast("eth0", "198.18.0.1", 694) })
	waitFor(t, 5*time.Second, "medium up", func() bool { return k.Stats().State == StateUp })
	ctx := context.Background()
	exchange := func(what string) {
		t.Helper()
		got := make(chan string, 1)
		go func() {
			defer close(got)
			for {
				// Packets sent while the cable was out may still arrive
				// (queued behind neighbour resolution): skip them.
				p, err := recvWithin(t, rx, 10*time.Second)
				if err != nil {
					return
				}
				if string(p.Data) == what {
					got <- what
					return
				}
			}
		}()
		waitFor(t, 10*time.Second, what, func() bool {
			_ = k.Send(ctx, []byte(what))
			select {
			case _, ok := <-got:
				if !ok {
					t.Fatalf("%s never arrived", what)
				}
				return true
			case <-time.After(50 * time.Millisecond):
				return false
			}
		})
	}
	exchange("before")
	if err := h1.Cut(0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "carrier loss", func() bool {
		out, _ := h1.Output("ip", "-o", "link", "show", "eth0")
		return strings.Contains(out, "NO-CARRIER")
	})
	for i := 0; i < 5; i++ {
		_ = k.Send(ctx, []byte("into the void"))
	}
	if err := h1.Plug(0); err != nil {
		t.Fatal(err)
	}
	exchange("after")
	if st := k.Stats(); st.Reopens != 0 || st.State != StateUp {
		t.Errorf("cable pull reopened the medium: %+v", st)
	}
}

// BenchmarkUcastLoopback measures one send and one receive of a typical
// 400-byte heartbeat datagram through a ucast medium on lo.
func BenchmarkUcastLoopback(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root (SO_BINDTODEVICE)")
	}
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	m, err := NewUcast("lo", "127.0.0.1", port)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	msg := bytes.Repeat([]byte("x"), 400)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := m.Send(ctx, msg); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Recv(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// "bcast lo" is accepted by heartbeat: lo has no broadcast address, so the
// medium sends to 0.0.0.0, which the kernel delivers to the host itself.
func TestBcastOnLoopback(t *testing.T) {
	needRoot(t)
	port := freeUDPPort(t)
	m, err := NewBcast("lo", port)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Dest().String() != fmt.Sprintf("0.0.0.0:%d", port) {
		t.Errorf("destination %v", m.Dest())
	}
	if err := m.Send(context.Background(), []byte("lo bcast")); err != nil {
		t.Fatal(err)
	}
	if p, err := recvWithin(t, m, 5*time.Second); err != nil || string(p.Data) != "lo bcast" {
		t.Fatalf("got %q %v", p.Data, err)
	}
}
