package media

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// Interop with the real heartbeat 3.0.6 (the oracle installed on the test
// machine): it runs on hb1 of an isolated lab, our media run on hb2. We
// must hear its heartbeats, and it must accept ours ("Link hb2:IF up").

const realHeartbeat = "/usr/libexec/heartbeat/heartbeat"

const interopKey = "auth 1\n1 sha1 interop-test-secret\n"

func startRealHeartbeat(t *testing.T, n *netlab.Node, medium string) *netlab.Proc {
	t.Helper()
	if _, err := os.Stat(realHeartbeat); err != nil {
		t.Skipf("reference heartbeat not installed: %v", err)
	}
	etc := filepath.Join(n.Root, "etc-ha.d")
	hacf := "logfacility none\nlogfile /var/log/ha-log\ndebugfile /var/log/ha-debug\n" +
		"keepalive 1\ndeadtime 10\nudpport 694\nbaud 115200\n" + medium + "\nauto_failback on\nnode hb1\nnode hb2\n"
	must(t, os.WriteFile(filepath.Join(etc, "ha.cf"), []byte(hacf), 0o644))
	must(t, os.WriteFile(filepath.Join(etc, "authkeys"), []byte(interopKey), 0o600))
	must(t, os.WriteFile(filepath.Join(etc, "haresources"), nil, 0o644))
	n.MustRun("sh", "-c", "mkdir -p /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/rsctmp && chown hacluster:haclient /run/heartbeat/ccm /run/heartbeat/crm")
	p, err := n.Start(realHeartbeat, "-f")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(n.Root, "var-log", "ha-log"))
			t.Logf("real heartbeat output:\n%s\nha-log:\n%s", p.Output(), b)
		}
	})
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func interopKeys(t *testing.T) *authkeys.Keys {
	k, probs := authkeys.Parse([]byte(interopKey), "authkeys")
	if k == nil || probs.HasErrors() {
		t.Fatal(probs.Err())
	}
	return k
}

// statusFrom builds hb2's status heartbeat, shaped like the captured ones.
func statusFrom(seq int, now time.Time) *wire.Message {
	m := &wire.Message{}
	m.Add("t", "status")
	m.Add("st", "up")
	m.Add("dt", "2710")
	m.Add("protocol", "1")
	m.Add("src", "hb2")
	m.AddBinary("srcuuid", []byte("hb-go-interop-01"))
	m.Add("seq", fmt.Sprintf("%x", seq))
	m.Add("hg", fmt.Sprintf("%x", 0x6b000000+int(now.Unix()%1000)))
	m.Add("ts", fmt.Sprintf("%x", now.Unix()))
	m.Add("ld", "0.01 0.02 0.03 1/100 42")
	m.Add("ttl", "3")
	return m
}

// converse receives until a signed status from hb1 arrives, and sends
// hb2's status until the real heartbeat logs want.
func converse(t *testing.T, m Medium, h1 *netlab.Node, keys *authkeys.Keys, encode func(*wire.Message) []byte, want string) {
	t.Helper()
	heard := make(chan *wire.Message, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	go func() {
		for {
			p, err := m.Recv(ctx)
			if err != nil {
				return
			}
			msg, err := wire.Decode(p.Data, keys)
			if err != nil {
				continue
			}
			if msg.Value("src") == "hb1" && msg.Value("t") == "status" {
				heard <- msg
				return
			}
		}
	}()
	log := filepath.Join(h1.Root, "var-log", "ha-log")
	seq := 1
	var got *wire.Message
	waitFor(t, 40*time.Second, "real heartbeat hearing us and us hearing it", func() bool {
		if err := m.Send(ctx, encode(statusFrom(seq, time.Now()))); err != nil {
			t.Logf("send: %v", err)
		}
		seq++
		select {
		case got = <-heard:
		default:
		}
		b, _ := os.ReadFile(log)
		return got != nil && strings.Contains(string(b), want)
	})
	if got.Value("protocol") != "1" || got.Value("ttl") != "3" {
		t.Errorf("hb1 status: %+v", got)
	}
}

func TestInteropRealHeartbeatUDP(t *testing.T) {
	// hb1Line is hb1's ha.cf media line; open opens ours on hb2. ll1/ll2
	// are the nodes' IPv6 link-local addresses.
	for _, c := range []struct {
		name    string
		hb1Line func(ll2 string) string
		open    func(ll1 string) (Medium, error)
	}{
		{"ucast", func(string) string { return "ucast eth0 198.18.0.2" },
			func(string) (Medium, error) { return NewUcast("eth0", "198.18.0.1", 694) }},
		{"bcast", func(string) string { return "bcast eth0" },
			func(string) (Medium, error) { return NewBcast("eth0", 694) }},
		{"mcast", func(string) string { return "mcast eth0 239.18.0.1 694 1 0" },
			func(string) (Medium, error) { return NewMcast("eth0", "239.18.0.1", 694, 1, false) }},
		{"ucast6", func(ll2 string) string { return "ucast6 eth0 " + ll2 },
			func(ll1 string) (Medium, error) { return NewUcast6("eth0", ll1, 694) }},
		{"mcast6", func(string) string { return "mcast6 eth0 ff12::1:18 694 1 0" },
			func(string) (Medium, error) { return NewMcast6("eth0", "ff12::1:18", 694, 1, false) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			lab := netlab.New(t, netlab.Options{Isolated: true})
			h1, h2 := lab.Node("hb1"), lab.Node("hb2")
			ll1, ll2 := linkLocal(t, h1), linkLocal(t, h2)
			keys := interopKeys(t)
			m := inNode(t, h2, func() (Medium, error) { return c.open(ll1) })
			startRealHeartbeat(t, h1, c.hb1Line(ll2))
			converse(t, m, h1, keys, func(msg *wire.Message) []byte {
				b, err := wire.Encode(msg, keys)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}, "Link hb2:eth0 up.")
			// Our open log, with hb2's peer swapped for hb1's, is what the
			// real heartbeat logged for its own medium.
			ol, ok := m.(OpenLogger)
			if !ok {
				t.Fatal("no OpenLog")
			}
			log, _ := os.ReadFile(filepath.Join(h1.Root, "var-log", "ha-log"))
			swap := strings.NewReplacer(ll1, ll2, "198.18.0.1", "198.18.0.2")
			for _, line := range ol.OpenLog() {
				if want := "info: glib: " + swap.Replace(line) + "\n"; !strings.Contains(string(log), want) {
					t.Errorf("real heartbeat did not log %q", want)
				}
			}
		})
	}
}

func TestInteropRealHeartbeatSerial(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat not installed")
	}
	lab := netlab.New(t, netlab.Options{Isolated: true})
	h1 := lab.Node("hb1")
	keys := interopKeys(t)
	a, b := socatPair(t)
	s, err := OpenSerial(SerialConfig{Device: b, Baud: 115200, LockDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	startRealHeartbeat(t, h1, "serial "+a)
	converse(t, s, h1, keys, func(msg *wire.Message) []byte {
		if err := wire.Sign(msg, keys); err != nil {
			t.Fatal(err)
		}
		b, err := wire.EncodeClassic(msg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, "Link hb2:"+a+" up.")
	log, _ := os.ReadFile(filepath.Join(h1.Root, "var-log", "ha-log"))
	for _, line := range s.OpenLog() {
		if want := "info: glib: " + strings.Replace(line, b, a, 1) + "\n"; !strings.Contains(string(log), want) {
			t.Errorf("real heartbeat did not log %q", want)
		}
	}
}
