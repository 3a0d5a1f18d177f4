package membership

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/mono"
)

var t0 = mono.Time(0).Add(time.Hour) // any instant

func TestStatusStringsAsHeartbeat(t *testing.T) {
	for _, c := range [][2]string{
		{string(Init), "init"}, {string(Up), "up"}, {string(Active), "active"}, {string(Dead), "dead"},
		{string(Ping), "ping"}, {string(LinkUp), "up"}, {string(LinkDead), "dead"},
	} {
		if got, want := c[0], c[1]; got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}

func timing() Timing {
	return Timing{Keepalive: time.Second, DeadTime: 10 * time.Second, WarnTime: 5 * time.Second, InitDead: 20 * time.Second}
}

func TestInitDeadThenDeadTime(t *testing.T) {
	tb := New("a", []string{"a", "b", "c"}, []string{"eth0"}, timing(), t0)
	if tb.CommReady() {
		t.Fatal("comm ready before hearing anyone")
	}
	ch := tb.Heard(t0.Add(time.Second), "b", "eth0", true, nil)
	if len(ch) != 1 || ch[0].Kind != LinkChanged || ch[0].Status != LinkUp {
		t.Fatalf("first packet: %+v", ch)
	}
	// c is never heard: dead after initdead, not deadtime.
	if ch := tb.Check(t0.Add(20*time.Second), nil); len(ch) != 0 {
		t.Fatalf("dead at exactly initdead: %+v", ch)
	}
	if w := tb.Wake(); w != t0.Add(20*time.Second+time.Nanosecond) {
		t.Fatalf("wake %v", w.Sub(t0))
	}
	tb.Heard(t0.Add(19*time.Second), "b", "eth0", true, nil)
	ch = tb.Check(t0.Add(20*time.Second+time.Nanosecond), nil)
	if len(ch) != 1 || ch[0].Kind != NodeDead || ch[0].Node != "c" {
		t.Fatalf("initdead expiry: %+v", ch)
	}
	if !tb.CommReady() {
		t.Fatal("every peer heard or dead, comm not ready")
	}
	tb.SetCommUp()
	ch = tb.Check(t0.Add(29*time.Second+time.Nanosecond), nil)
	if len(ch) != 2 || ch[0].Kind != NodeDead || ch[1].Kind != LinkChanged || ch[1].Status != LinkDead {
		t.Fatalf("deadtime expiry after comm up: %+v", ch)
	}
}

func TestStaleHeardDoesNotKeepAlive(t *testing.T) {
	tb := New("a", []string{"a", "b"}, []string{"eth0", "eth1"}, timing(), t0)
	tb.SetCommUp()
	tb.SetStatus("b", Active)
	tb.Heard(t0, "b", "eth0", true, nil)
	for s := 1; s < 12; s++ {
		tb.Heard(t0.Add(time.Duration(s)*time.Second), "b", "eth1", false, nil) // duplicates only
	}
	ch := tb.Check(t0.Add(11*time.Second), nil)
	if len(ch) == 0 || ch[0].Kind != NodeDead {
		t.Fatalf("duplicates kept the node alive: %+v", ch)
	}
	if tb.Peer("b").Status != Dead {
		t.Fatal("status not dead")
	}
}

func TestLateHeartbeat(t *testing.T) {
	tb := New("a", []string{"a", "b"}, []string{"eth0"}, timing(), t0)
	tb.SetCommUp()
	tb.Heard(t0, "b", "eth0", true, nil)
	tb.SetStatus("b", Active)
	ch := tb.Heard(t0.Add(6*time.Second), "b", "eth0", true, nil)
	if len(ch) != 1 || ch[0].Kind != Late || ch[0].Interval != 6*time.Second {
		t.Fatalf("%+v", ch)
	}
	tb.SetDeadTime("b", 3*time.Second)
	if tb.Deadline(tb.Peer("b")) != t0.Add(9*time.Second) {
		t.Fatal("advertised dt not used")
	}
}

// peerWakeRef is PeerWake written plainly (one Add per candidate time).
func peerWakeRef(t *Table, p *Peer) mono.Time {
	w := mono.Never
	iv := t.interval(p) + time.Nanosecond
	if p.Status != Dead {
		w = p.Fresh.Add(iv)
	}
	for i := range p.Links {
		if l := &p.Links[i]; l.Status == LinkUp {
			if x := l.Last.Add(iv); x.Before(w) {
				w = x
			}
		}
	}
	return w
}

func TestPeerWakeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	at := func() mono.Time {
		if rng.IntN(8) == 0 {
			return 0
		}
		return t0.Add(time.Duration(rng.IntN(20)) * time.Second)
	}
	for i := range 20000 {
		tb := New("a", []string{"b"}, []string{"eth0", "eth1", "eth2"}, Timing{Keepalive: time.Second, DeadTime: 10 * time.Second, InitDead: 30 * time.Second}, t0)
		if rng.IntN(2) == 0 {
			tb.SetCommUp()
		}
		p := tb.Peer("b")
		p.Status = []Status{Init, Up, Active, Dead}[rng.IntN(4)]
		p.Fresh = at()
		for j := range p.Links {
			p.Links[j].Last = at()
			if rng.IntN(2) == 0 {
				p.Links[j].Status = LinkUp
			}
		}
		if got, want := tb.PeerWake(p), peerWakeRef(tb, p); got != want {
			t.Fatalf("case %d: %+v: PeerWake %v, want %v", i, *p, got, want)
		}
	}
}
