package ipfail

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// fields lists a message's fields as "name=value".
func fields(m *wire.Message) string {
	var s []string
	for _, f := range m.Fields {
		s = append(s, f.Name+"="+string(f.Value))
	}
	return strings.Join(s, " ")
}

// msg parses "t=x a=b ..." as a delivered message (cap3.decoded.txt form).
func msg(line string) *wire.Message {
	m := &wire.Message{}
	for _, kv := range strings.Fields(line) {
		k, v, _ := strings.Cut(kv, "=")
		m.Add(k, v)
	}
	return m
}

func sends(o Output) []string {
	var s []string
	for _, m := range o.Send {
		s = append(s, fields(m))
	}
	return s
}

func hasLog(o Output, text string) bool {
	for _, l := range o.Logs {
		if l.Text == text {
			return true
		}
	}
	return false
}

// The exchange of captures/v1-resources/cap3 (nodeb loses the ping node,
// then gets it back), with our machine playing either side against the
// messages the C ipfail sent. Fields are the capture's, minus the ones the
// core adds (src, seq, ts, ...).
func TestCap3ExchangeAsNodeA(t *testing.T) {
	now := time.Date(2026, 11, 23, 3, 46, 36, 0, time.UTC)
	a := New(Config{Local: "nodea", Peer: "nodeb", PingNodes: []string{"198.18.1.254"}, Keepalive: 500 * time.Millisecond, AutoFailback: true})
	o := a.Start(now)
	if got := sends(o); len(got) != 1 || got[0] != "t=hbapi-clstat st=join from_id=ipfail to_id=ipfail info=signon client_gen=0" {
		t.Fatalf("sign-on: %q", got)
	}
	a.NodeStatus(now, "198.18.1.254", StatusPing)
	// 03:47:08.008 nodeb -> num_ping_nodes num_ping=0
	o = a.Receive(now, msg("t=num_ping_nodes src=nodeb num_ping=0 dest=nodea from_id=ipfail to_id=ipfail client_gen=0 seq=53 ts=6b03b73c"))
	if got := sends(o); len(got) != 1 || got[0] != "t=you_are_dead dest=nodeb from_id=ipfail to_id=ipfail client_gen=0" {
		t.Fatalf("answer to a lower count: %q", got)
	}
	if !hasLog(o, "Telling other node that we have more visible ping nodes.") || o.GiveUp != "" {
		t.Fatalf("%+v", o)
	}
	// 03:47:34.561 nodeb -> num_ping=1: balanced; abort_giveup and hand
	// foreign resources back after 2 × keepalive (1 s).
	now = now.Add(58 * time.Second)
	o = a.Receive(now, msg("t=num_ping_nodes src=nodeb num_ping=1 dest=nodea from_id=ipfail to_id=ipfail client_gen=0 seq=8e ts=6b03b756"))
	if got := sends(o); len(got) != 1 || got[0] != "t=abort_giveup dest=nodeb from_id=ipfail to_id=ipfail client_gen=0" {
		t.Fatalf("balanced: %q", got)
	}
	if !hasLog(o, "Ping node count is balanced.") || !hasLog(o, "Giving up foreign resources (auto_failback).") ||
		!hasLog(o, "Delayed giveup in 1 seconds.") || !o.Wake.Equal(now.Add(time.Second)) {
		t.Fatalf("%+v", o)
	}
	if o := a.Tick(now.Add(999 * time.Millisecond)); o.GiveUp != "" {
		t.Fatal("gave up early")
	}
	o = a.Tick(now.Add(time.Second))
	if o.GiveUp != GiveForeign || !hasLog(o, "giveup() called (timeout worked)") {
		t.Fatalf("%+v", o)
	}
}

func TestCap3ExchangeAsNodeB(t *testing.T) {
	now := time.Date(2026, 11, 23, 3, 47, 3, 0, time.UTC)
	b := New(Config{Local: "nodeb", Peer: "nodea", PingNodes: []string{"198.18.1.254"}, Keepalive: 500 * time.Millisecond, AutoFailback: true})
	b.NodeStatus(now, "198.18.1.254", StatusPing)
	now = now.Add(4 * time.Second)
	o := b.NodeStatus(now, "198.18.1.254", StatusDead)
	if len(o.Send) != 0 || !hasLog(o, "NS: We are dead. :<") {
		t.Fatalf("node dead: %+v", o)
	}
	o = b.LinkStatus(now, "198.18.1.254", "198.18.1.254", LinkDead)
	if got := sends(o); len(got) != 1 || got[0] != "t=num_ping_nodes num_ping=0 dest=nodea from_id=ipfail to_id=ipfail client_gen=0" {
		t.Fatalf("link dead: %q", got)
	}
	if !hasLog(o, "We are dead. :<") || !hasLog(o, "Asking other side for ping node count.") {
		t.Fatalf("%+v", o)
	}
	o = b.Receive(now, msg("t=you_are_dead dest=nodeb from_id=ipfail to_id=ipfail client_gen=0 src=nodea seq=53 ts=6b03b73c"))
	if !hasLog(o, "Giving up because we were told that we have less ping nodes.") || !hasLog(o, "Delayed giveup in 1 seconds.") {
		t.Fatalf("%+v", o)
	}
	if o := b.Tick(now.Add(time.Second)); o.GiveUp != GiveAll {
		t.Fatalf("%+v", o)
	}
	// Recovery: nodeb asks; nodea's abort_giveup finds no timer.
	o = b.NodeStatus(now.Add(20*time.Second), "198.18.1.254", StatusPing)
	if got := sends(o); len(got) != 1 || got[0] != "t=num_ping_nodes num_ping=1 dest=nodea from_id=ipfail to_id=ipfail client_gen=0" ||
		!hasLog(o, "A ping node just came up.") {
		t.Fatalf("came up: %+v", o)
	}
	o = b.Receive(now, msg("t=abort_giveup src=nodea dest=nodeb from_id=ipfail to_id=ipfail client_gen=0 seq=8d ts=6b03b756"))
	if !hasLog(o, "No giveup timer to abort.") {
		t.Fatalf("%+v", o)
	}
}

func TestReceiveFilters(t *testing.T) {
	now := time.Unix(100, 0)
	for _, line := range []string{
		"t=you_are_dead dest=nodeb src=nodec",          // not the peer
		"t=you_are_dead dest=nodec src=nodea",          // not for us
		"t=you_are_dead dest=nodeb",                    // no source
		"t=num_ping_nodes num_ping=x src=nodea",        // bad count
		"t=num_ping_nodes num_ping=-1 src=nodea",       // bad count
		"t=hbapi-clstat st=join from_id=ccm src=nodea", // another client
		"t=ask_resources rsc_hold=all info=me src=nodea",
	} {
		b := New(Config{Local: "nodeb", Peer: "nodea", PingNodes: []string{"p"}, Keepalive: time.Second, AutoFailback: true})
		o := b.Receive(now, msg(line))
		if len(o.Send) != 0 || o.GiveUp != "" || !o.Wake.IsZero() {
			t.Errorf("%s: acted: %+v", line, o)
		}
	}
}

func TestPeerJoinStartsCountExchange(t *testing.T) {
	b := New(Config{Local: "nodeb", Peer: "nodea", PingNodes: []string{"p"}, Keepalive: time.Second})
	o := b.Receive(time.Unix(1, 0), msg("t=hbapi-clstat st=join from_id=ipfail to_id=ipfail src=nodea info=signon client_gen=12"))
	if got := sends(o); len(got) != 1 || !strings.HasPrefix(got[0], "t=num_ping_nodes num_ping=0 dest=nodea") {
		t.Fatalf("%q", got)
	}
}

func TestGiveUpDuringTransitionWaitsForStablePeer(t *testing.T) {
	now := time.Unix(100, 0)
	b := New(Config{Local: "nodeb", Peer: "nodea", PingNodes: []string{"p"}, Keepalive: time.Second})
	b.Receive(now, msg("t=you_are_dead dest=nodeb src=nodea"))
	b.Resources(now, true)
	o := b.Tick(now.Add(2 * time.Second))
	if o.GiveUp != "" || !o.Wake.IsZero() {
		t.Fatalf("gave up during a transition: %+v", o)
	}
	b.Resources(now, false)
	// The peer reports stable: the count exchange runs again 10 s later.
	now = now.Add(5 * time.Second)
	o = b.Receive(now, msg("t=resource rsc_hold=all isstable=1 src=nodea dest=nodeb"))
	if !o.Wake.Equal(now.Add(RecountDelay)) {
		t.Fatalf("no recount scheduled: %+v", o)
	}
	o = b.Tick(now.Add(RecountDelay))
	if got := sends(o); len(got) != 1 || !strings.HasPrefix(got[0], "t=num_ping_nodes num_ping=0") {
		t.Fatalf("%q", got)
	}
}

func TestNoPeerSendsNothing(t *testing.T) {
	m := New(Config{Local: "a", PingNodes: []string{"p"}, Keepalive: time.Second})
	if o := m.LinkStatus(time.Unix(1, 0), "p", "p", LinkDead); len(o.Send) != 0 {
		t.Fatalf("%+v", o)
	}
}

func TestPings(t *testing.T) {
	start := time.Unix(1000, 0)
	p := NewPings([]string{"gw", "grp", "gw"}, 4*time.Second, 12*time.Second, start)
	if n := p.Nodes(); len(n) != 2 || n[0].Status != StatusInit || n[0].Link != LinkDead {
		t.Fatalf("%+v", n)
	}
	if !p.Wake().Equal(start.Add(12 * time.Second)) {
		t.Fatalf("initdead wake %v", p.Wake())
	}
	if ev := p.Reply(start.Add(time.Second), "gw"); len(ev) != 1 || ev[0].Status != StatusPing || ev[0].Late {
		t.Fatalf("%+v", ev)
	}
	if ev := p.Reply(start.Add(2*time.Second), "gw"); len(ev) != 0 {
		t.Fatalf("repeated reply: %+v", ev)
	}
	if ev := p.Reply(start.Add(2*time.Second), "nobody"); len(ev) != 0 {
		t.Fatal("unknown node")
	}
	if p.Count() != 1 || p.CountOf([]string{"grp"}) != 0 {
		t.Fatal("count")
	}
	if ev := p.Tick(start.Add(5999 * time.Millisecond)); len(ev) != 0 {
		t.Fatalf("dead before deadping: %+v", ev)
	}
	ev := p.Tick(start.Add(6 * time.Second))
	if len(ev) != 1 || ev[0].Node != "gw" || ev[0].Status != StatusDead {
		t.Fatalf("%+v", ev)
	}
	ev = p.Tick(start.Add(12 * time.Second))
	if len(ev) != 1 || ev[0].Node != "grp" {
		t.Fatalf("never answered: %+v", ev)
	}
	if !p.Wake().IsZero() {
		t.Fatal("wake with every node dead")
	}
	if ev := p.Reply(start.Add(13*time.Second), "gw"); len(ev) != 1 || !ev[0].Late || p.Nodes()[0].Link != LinkUp {
		t.Fatalf("late reply: %+v", ev)
	}
}

func TestParsePingd(t *testing.T) {
	for _, c := range []struct {
		args string
		want string
		err  bool
	}{
		{"", "{1 0s pingd []}", false},
		{"-m 100 -d 5s", "{100 5s pingd []}", false},
		{"-m100 -d5 -a conn -h 10.0.0.1 -h GW", "{100 5s conn [10.0.0.1 gw]}", false},
		{"--multiplier=20 --dampen=500ms -D -V -p /run/pingd.pid", "{20 500ms pingd []}", false},
		{"-m", "", true},
		{"-m x", "", true},
		{"-m -3", "", true},
		{"-d never", "", true},
		{"-z", "", true},
	} {
		p, err := ParsePingd(strings.Fields(c.args))
		if (err != nil) != c.err {
			t.Errorf("%q: err %v", c.args, err)
			continue
		}
		if err == nil {
			if got := fmtPingd(p); got != c.want {
				t.Errorf("%q: %s, want %s", c.args, got, c.want)
			}
		}
	}
}

func fmtPingd(p Pingd) string {
	return fmt.Sprintf("{%d %v %s [%s]}", p.Multiplier, p.Dampen, p.Attr, strings.Join(p.Hosts, " "))
}

func TestScoreDampening(t *testing.T) {
	s := NewScore(Pingd{Multiplier: 100, Dampen: 5 * time.Second})
	t0 := time.Unix(0, 0)
	if s.Update(t0, 1) {
		t.Fatal("published before the dampening delay")
	}
	if _, ok := s.Value(); ok || !s.Wake().Equal(t0.Add(5*time.Second)) {
		t.Fatal("pending value")
	}
	// A change back within the delay restarts it.
	if s.Update(t0.Add(2*time.Second), 2) || !s.Wake().Equal(t0.Add(7*time.Second)) {
		t.Fatal("change within the delay")
	}
	if s.Tick(t0.Add(6*time.Second)) || !s.Tick(t0.Add(7*time.Second)) {
		t.Fatal("tick")
	}
	if v, ok := s.Value(); !ok || v != 200 {
		t.Fatalf("value %d", v)
	}
	if s.Update(t0.Add(8*time.Second), 2) || !s.Wake().IsZero() {
		t.Fatal("same value again")
	}
	// Without dampening a change is published at once.
	u := NewScore(Pingd{Multiplier: 10})
	if !u.Update(t0, 3) {
		t.Fatal("no dampening")
	}
	if v, _ := u.Value(); v != 30 {
		t.Fatalf("value %d", v)
	}
}
