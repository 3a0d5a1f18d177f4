package resource

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"golang.org/x/sys/unix"
)

// arpListener reads ARP frames arriving at a node with a packet socket.
type arpListener struct {
	fd     int
	frames chan []byte
}

func listenARP(t *testing.T, n *netlab.Node) *arpListener {
	t.Helper()
	l := &arpListener{fd: -1, frames: make(chan []byte, 1024)}
	err := n.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
		l.fd = fd
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tv := unix.Timeval{Usec: 100000}
	_ = unix.SetsockoptTimeval(l.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, _, err := unix.Recvfrom(l.fd, buf, 0)
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			select {
			case l.frames <- append([]byte(nil), buf[:n]...):
			default:
			}
		}
	}()
	t.Cleanup(func() { unix.Close(l.fd); <-done })
	return l
}

// collect returns "req"/"rep" for the GARPs for ip from mac, until want
// were seen or the deadline passed.
func (l *arpListener) collect(t *testing.T, ip netip.Addr, mac net.HardwareAddr, want int, deadline time.Duration) []string {
	t.Helper()
	var out []string
	timeout := time.After(deadline)
	a := ip.As4()
	for len(out) < want {
		select {
		case d := <-l.frames:
			if len(d) < 42 || !bytes.Equal(d[28:32], a[:]) || !bytes.Equal(d[38:42], a[:]) || !bytes.Equal(d[22:28], mac) {
				continue
			}
			if !bytes.Equal(d[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
				t.Errorf("GARP not broadcast: %x", d[:42])
			}
			switch d[21] {
			case 1:
				out = append(out, "req")
			case 2:
				out = append(out, "rep")
			}
		case <-timeout:
			return out
		}
	}
	return out
}

func TestNativeIPaddrInNetns(t *testing.T) {
	lab := netlab.New(t, netlab.Options{Nodes: []string{"hb1", "hb2"}})
	n1 := lab.Node("hb1")
	mac, err := net.ParseMAC(n1.MAC)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	nat := &Native{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		ARP: map[string]ARP{"IPaddr": {Count: 10, Interval: 100 * time.Millisecond}, "IPaddr2": {Count: 5, Interval: 20 * time.Millisecond}}}
	t.Cleanup(func() { nat.Close() })
	ctx := context.Background()
	run := func(raw string, op Op) Result {
		t.Helper()
		var r Result
		err := n1.Do(func() error {
			var err error
			r, err = nat.Run(ctx, res(raw), op)
			return err
		})
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", raw, op, err, logs.String())
		}
		return r
	}
	addrLine := func(ip string) string {
		out := n1.MustRun("ip", "-o", "-4", "addr", "show")
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, " "+ip+"/") {
				return l
			}
		}
		return ""
	}

	lis := listenARP(t, lab.Node("hb2"))
	cases := []struct {
		raw, ip, want string // want: "prefix brd label" as ip -o addr prints them
		garps         int
	}{
		{"IPaddr::198.18.0.100/24/eth0", "198.18.0.100", "198.18.0.100/24 brd 198.18.0.255 scope global secondary eth0:0", 10},
		{"IPaddr::198.18.0.101", "198.18.0.101", "198.18.0.101/24 brd 198.18.0.255 scope global secondary eth0:1", 10},
		{"IPaddr2::198.18.0.102/25/eth0:vip/198.18.0.127", "198.18.0.102", "198.18.0.102/25 brd 198.18.0.127 scope global eth0:vip", 5},
		{"IPaddr2::198.18.0.103/24", "198.18.0.103", "198.18.0.103/24 brd 198.18.0.255 scope global secondary eth0", 5},
	}
	for _, c := range cases {
		if r := run(c.raw, Status); r.Running || !r.Builtin {
			t.Fatalf("%s running before start: %+v", c.raw, r)
		}
		run(c.raw, Start)
		if c.garps == 10 {
			// Start returned while the ARP burst still runs (IPaddr's
			// rounds here take 10 x 100 ms).
			nat.mu.Lock()
			running := nat.bg[netip.MustParseAddr(c.ip)] != nil
			nat.mu.Unlock()
			if !running {
				t.Errorf("%s: start waited for the whole ARP burst", c.raw)
			}
		}
		if l := addrLine(c.ip); !strings.Contains(l, c.want) {
			t.Errorf("%s: address line %q, want %q", c.raw, l, c.want)
		}
		if r := run(c.raw, Status); !r.Running || !StatusRunning(r.Output) {
			t.Errorf("%s: status after start %+v", c.raw, r)
		}
		got := lis.collect(t, netip.MustParseAddr(c.ip), mac, 2*c.garps, 5*time.Second)
		want := strings.TrimSuffix(strings.Repeat("req rep ", c.garps), " ")
		if strings.Join(got, " ") != want {
			t.Errorf("%s: GARPs seen by the neighbour %v, want %d request/reply pairs", c.raw, got, c.garps)
		}
		// A second start is a no-op: no new address, no GARPs.
		run(c.raw, Start)
	}
	nat.Wait()
	// The neighbour learnt the address: it answers for it from hb2.
	n2 := lab.Node("hb2")
	if _, err := exec.LookPath("ping"); err != nil {
		t.Log("no ping here: VIP reachability not checked")
	} else if out, err := n2.Output("ping", "-c", "1", "-W", "2", "198.18.0.100"); err != nil {
		t.Errorf("hb2 cannot reach the VIP: %v\n%s", err, out)
	}
	for _, c := range cases {
		run(c.raw, Stop)
		if l := addrLine(c.ip); l != "" {
			t.Errorf("%s still configured after stop: %q", c.raw, l)
		}
		if r := run(c.raw, Status); r.Running || StatusRunning(r.Output) {
			t.Errorf("%s: status after stop %+v", c.raw, r)
		}
		run(c.raw, Stop) // stop when stopped succeeds
	}
	// Errors: unknown interface, no route.
	for _, bad := range []string{"IPaddr::198.18.0.110/24/nosuch0", "IPaddr::203.0.113.7", "IPaddr::1.2.3.4::5"} {
		err := n1.Do(func() error { _, err := nat.Run(ctx, res(bad), Start); return err })
		if err == nil {
			t.Errorf("%s started", bad)
		}
	}
}

func TestNativeSendArpInNetns(t *testing.T) {
	lab := netlab.New(t, netlab.Options{Nodes: []string{"hb1", "hb2"}})
	n1 := lab.Node("hb1")
	mac, _ := net.ParseMAC(n1.MAC)
	nat := &Native{Logger: slog.New(slog.DiscardHandler), ARP: map[string]ARP{"SendArp": {Count: 3, Interval: 20 * time.Millisecond}}}
	t.Cleanup(func() { nat.Close() })
	lis := listenARP(t, lab.Node("hb2"))
	r0 := res("SendArp::198.18.0.1/eth0")
	do := func(op Op) Result {
		var r Result
		if err := n1.Do(func() error { var err error; r, err = nat.Run(context.Background(), r0, op); return err }); err != nil {
			t.Fatal(err)
		}
		return r
	}
	do(Start)
	if !do(Status).Running {
		t.Fatal("SendArp not running after start")
	}
	nat.Wait()
	do(Stop)
	if do(Status).Running {
		t.Fatal("SendArp running after stop")
	}
	if got := lis.collect(t, netip.MustParseAddr("198.18.0.1"), mac, 6, 5*time.Second); strings.Join(got, " ") != "req rep req rep req rep" {
		t.Fatalf("GARPs %v", got)
	}
}

func TestNativeFallsBack(t *testing.T) {
	f := &fake{running: map[string]bool{}, failOp: map[string]int{}}
	nat := &Native{Fallback: f}
	if _, err := nat.Run(context.Background(), res("httpd"), Start); err != nil || !f.running["httpd"] {
		t.Fatalf("fallback not used: %v", err)
	}
	if _, err := (&Native{}).Run(context.Background(), res("httpd"), Start); err == nil {
		t.Fatal("no fallback: no error")
	}
}
