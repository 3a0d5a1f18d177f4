package core

import (
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/rexmit"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// Values from captures/ucast-sha1 (hb1 = 198.18.0.1, hb2 = 198.18.0.2).
var (
	t0      = time.Unix(0x6b03b72e, 0)
	uuidHb1 = mustUUID("372a65ecc72d4376bd14a19b35ab0aba")
	uuidHb2 = mustUUID("e0560bd3990441bdac1a26913cda94d5")
)

func mustUUID(s string) [16]byte {
	var u [16]byte
	b, _ := hex.DecodeString(s)
	copy(u[:], b)
	return u
}

func newHb1(t *testing.T, mut ...func(*Config)) *Node {
	t.Helper()
	cfg := Config{
		Node: "hb1", UUID: uuidHb1, Generation: 0x6b03b72e, Nodes: []string{"hb1", "hb2"}, Media: []string{"eth0"},
		Keepalive: time.Second, DeadTime: 10 * time.Second,
		LoadAvg: func() string { return "3.18 1.57 0.72 3/162 41" },
		Rand:    rand.New(rand.NewPCG(1, 2)),
	}
	for _, f := range mut {
		f(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func names(m *wire.Message) []string {
	var s []string
	for _, f := range m.Fields {
		s = append(s, f.Name)
	}
	return s
}

func values(m *wire.Message) map[string]string {
	v := map[string]string{}
	for _, f := range m.Fields {
		if f.Type == wire.Binary {
			v[f.Name] = hex.EncodeToString(f.Value)
		} else {
			v[f.Name] = string(f.Value)
		}
	}
	return v
}

func ofType(out Output, typ string) []*wire.Message {
	var ms []*wire.Message
	for _, o := range out.Send {
		if o.Msg.Value(wire.FType) == typ {
			ms = append(ms, o.Msg)
		}
	}
	return ms
}

// hb2Status is hb2's first status message of the capture.
func hb2Msg(fields ...string) *wire.Message {
	m := &wire.Message{}
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == "srcuuid" || fields[i] == "destuuid" {
			b, _ := hex.DecodeString(fields[i+1])
			m.AddBinary(fields[i], b)
			continue
		}
		m.Add(fields[i], fields[i+1])
	}
	return m
}

func hb2Status(seq, st string) *wire.Message {
	return hb2Msg("t", "status", "st", st, "dt", "2ee0", "protocol", "1", "src", "hb2",
		"srcuuid", "e0560bd3990441bdac1a26913cda94d5", "seq", seq, "hg", "6b03b72f", "ts", "6b03b72e",
		"ld", "3.18 1.57 0.72 3/163 40", "ttl", "3")
}

func TestStartupStatusesAsCaptured(t *testing.T) {
	n := newHb1(t)
	out := n.Tick(t0)
	st := ofType(out, TypeStatus)
	if len(st) != 3 {
		t.Fatalf("%d status messages at start, want 3 (init, up, up as captured)", len(st))
	}
	wantOrder := []string{"t", "st", "dt", "protocol", "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl"}
	for i, m := range st {
		if got := names(m); !slices.Equal(got, wantOrder) {
			t.Fatalf("status field order %v, want %v", got, wantOrder)
		}
		v := values(m)
		want := map[string]string{"t": "status", "dt": "2ee0", "protocol": "1", "src": "hb1",
			"srcuuid": "372a65ecc72d4376bd14a19b35ab0aba", "seq": []string{"1", "2", "3"}[i], "hg": "6b03b72e",
			"ts": "6b03b72e", "ld": "3.18 1.57 0.72 3/162 41", "ttl": "3", "st": []string{"init", "up", "up"}[i]}
		for k, w := range want {
			if v[k] != w {
				t.Errorf("status %d: %s=%q, want %q", i, k, v[k], w)
			}
		}
		if m.Fields[5].Type != wire.Binary {
			t.Error("srcuuid is not binary")
		}
	}
	if out.Wake.IsZero() || !out.Wake.After(t0) {
		t.Fatalf("wake %v", out.Wake)
	}
	// After 5 s the advertised dead time drops back to deadtime.
	out = n.Tick(t0.Add(5 * time.Second))
	var dts []string
	for _, m := range ofType(out, TypeStatus) {
		dts = append(dts, m.Value(wire.FDeadTime))
	}
	if !slices.Contains(dts, "2710") {
		t.Fatalf("dt after 5 s: %v, want 2710 (10000 ms)", dts)
	}
}

func TestControlMessagesAsCaptured(t *testing.T) {
	n := newHb1(t)
	n.Tick(t0)
	// hb2 starts; hb1 learns its UUID and, with everyone heard, asks it for
	// the node list.
	out := n.Receive(t0, "eth0", hb2Status("1", "init"))
	req := ofType(out, TypeReqNodes)
	if len(req) != 1 {
		t.Fatalf("reqnodes: %d", len(req))
	}
	if got, want := names(req[0]), []string{"t", "dest", "destuuid", "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl"}; !slices.Equal(got, want) {
		t.Fatalf("reqnodes fields %v, want %v", got, want)
	}
	if v := values(req[0]); v["dest"] != "hb2" || v["destuuid"] != "e0560bd3990441bdac1a26913cda94d5" || v["seq"] != "4" {
		t.Fatalf("reqnodes values %v", v)
	}

	// hb2 asks us for our node list.
	out = n.Receive(t0, "eth0", hb2Msg("t", "reqnodes", "dest", "hb1", "destuuid", "372a65ecc72d4376bd14a19b35ab0aba",
		"src", "hb2", "srcuuid", "e0560bd3990441bdac1a26913cda94d5", "seq", "2", "hg", "6b03b72f", "ts", "6b03b72e",
		"ld", "x", "ttl", "3"))
	rep := ofType(out, TypeRepNodes)
	if len(rep) != 1 {
		t.Fatalf("repnodes: %d", len(rep))
	}
	if got, want := names(rep[0]), []string{"dest", "t", "nodelist", "delnodelist", "destuuid", "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl"}; !slices.Equal(got, want) {
		t.Fatalf("repnodes fields %v, want %v", got, want)
	}
	if v := values(rep[0]); v["nodelist"] != "hb1 hb2 " || v["delnodelist"] != " " {
		t.Fatalf("repnodes values %v", v)
	}

	// hb2's answer makes us active.
	out = n.Receive(t0, "eth0", hb2Msg("dest", "hb1", "t", "repnodes", "nodelist", "hb1 hb2 ", "delnodelist", " ",
		"destuuid", "372a65ecc72d4376bd14a19b35ab0aba", "src", "hb2", "srcuuid", "e0560bd3990441bdac1a26913cda94d5",
		"seq", "3", "hg", "6b03b72f", "ts", "6b03b72e", "ld", "x", "ttl", "3"))
	if n.LocalStatus() != StatusActive {
		t.Fatalf("local status %s after repnodes", n.LocalStatus())
	}
	if st := ofType(out, TypeStatus); len(st) != 1 || st[0].Value(wire.FStatus) != "active" {
		t.Fatalf("no active status sent: %v", st)
	}

	// A gap (seq 5 missing) is requested after 50..250 ms, in decimal.
	out = n.Receive(t0, "eth0", hb2Status("4", "active"))
	out = n.Receive(t0.Add(time.Millisecond), "eth0", hb2Status("6", "active"))
	if len(ofType(out, TypeRexmit)) != 0 {
		t.Fatal("requested at once")
	}
	var rx []*wire.Message
	for now := t0; now.Before(t0.Add(300 * time.Millisecond)); now = now.Add(10 * time.Millisecond) {
		rx = append(rx, ofType(n.Tick(now), TypeRexmit)...)
	}
	if len(rx) != 1 {
		t.Fatalf("%d requests in 300 ms, want 1", len(rx))
	}
	if got, want := names(rx[0]), []string{"t", "dest", "firstseq", "lastseq", "destuuid", "src", "srcuuid", "hg", "ts", "ttl"}; !slices.Equal(got, want) {
		t.Fatalf("NS_rexmit fields %v, want %v", got, want)
	}
	if v := values(rx[0]); v["firstseq"] != "5" || v["lastseq"] != "5" || v["dest"] != "hb2" {
		t.Fatalf("NS_rexmit values %v", v)
	}
}

func TestAcknowledgementsAsCaptured(t *testing.T) {
	n := newHb1(t)
	var acks []*wire.Message
	out := n.Tick(t0)
	acks = append(acks, ofType(out, TypeAck)...)
	for s := 1; s <= 25; s++ {
		out = n.Receive(t0, "eth0", hb2Status(strings.ToLower(strconvHex(s)), "up"))
		acks = append(acks, ofType(out, TypeAck)...)
	}
	var toPeer, toSelf int
	for _, a := range acks {
		if got, want := names(a), []string{"t", "dest", "ackseq", "destuuid", "src", "srcuuid", "hg", "ts", "ttl"}; !slices.Equal(got, want) {
			t.Fatalf("NS_ackmsg fields %v, want %v", got, want)
		}
		switch a.Value(wire.FTo) {
		case "hb2":
			toPeer++
		case "hb1":
			toSelf++
		}
	}
	if toPeer < 2 || toPeer > 3 {
		t.Fatalf("%d acks to hb2 for 25 messages, want one per %d", toPeer, rexmit.AckDiv)
	}
	_ = toSelf // one per ten of our own messages: the start has only a few
}

func strconvHex(i int) string { return strings.ToLower(hex.EncodeToString([]byte{byte(i)})[0:2]) }

func TestRetransmissionIsTheSameMessage(t *testing.T) {
	n := newHb1(t)
	out := n.Tick(t0)
	first := ofType(out, TypeStatus)[1] // seq 2
	req := hb2Msg("t", "NS_rexmit", "dest", "hb1", "firstseq", "2", "lastseq", "2", "src", "hb2",
		"srcuuid", "e0560bd3990441bdac1a26913cda94d5", "hg", "6b03b72f", "ts", "6b03b72f", "ttl", "3")
	resent := func(out Output) (r []Outgoing) {
		for _, o := range out.Send {
			if o.Retransmit {
				r = append(r, o)
			}
		}
		return r
	}
	out = n.Receive(t0.Add(time.Second), "eth0", req)
	if r := resent(out); len(r) != 1 || r[0].Msg != first {
		t.Fatalf("answer %+v, want the seq 2 message itself, marked Retransmit", out.Send)
	}
	// Not again within max_rexmit_delay - 10 ms.
	out = n.Receive(t0.Add(time.Second+100*time.Millisecond), "eth0", req)
	if r := resent(out); len(r) != 0 {
		t.Fatalf("resent again after 100 ms: %+v", out.Send)
	}
	// Something long gone is refused with NS_nak_rexmit.
	for i := 0; i < 300; i++ {
		n.Command(t0.Add(2*time.Second), Send{Msg: hb2Msg("t", "simapp")})
	}
	out = n.Receive(t0.Add(3*time.Second), "eth0", req)
	nak := ofType(out, TypeNakRexmit)
	if len(nak) != 1 {
		t.Fatalf("refusal: %+v", out.Send)
	}
	if got, want := names(nak[0]), []string{"t", "firstseq", "dest", "comment", "destuuid", "src", "srcuuid", "hg", "ts", "ttl"}; !slices.Equal(got, want) {
		t.Fatalf("NS_nak_rexmit fields %v, want %v", got, want)
	}
	if v := values(nak[0]); v["firstseq"] != "2" || v["comment"] != "seqno too low" {
		t.Fatalf("NS_nak_rexmit values %v", v)
	}
}

func TestDropReasons(t *testing.T) {
	cases := []struct {
		name string
		msg  *wire.Message
		want DropReason
	}{
		{"no timestamp", hb2Msg("t", "status", "src", "hb2", "seq", "1"), DropMalformed},
		{"no type", hb2Msg("src", "hb2", "ts", "1", "seq", "1"), DropMalformed},
		{"bad seq", hb2Msg("t", "status", "src", "hb2", "ts", "1", "seq", "zz"), DropMalformed},
		{"seq zero", hb2Msg("t", "status", "src", "hb2", "ts", "1", "seq", "0"), DropMalformed},
		{"bad generation", hb2Msg("t", "status", "src", "hb2", "ts", "1", "seq", "1", "hg", "-1"), DropMalformed},
		{"unknown node", hb2Msg("t", "status", "src", "mallory", "ts", "1", "seq", "1"), DropUnknownNode},
		{"from ourselves", hb2Msg("t", "status", "src", "HB1", "ts", "1", "seq", "1"), DropFromSelf},
		{"for someone else", hb2Msg("t", "simapp", "dest", "hb3", "src", "hb2", "ts", "1", "seq", "9", "hg", "6b03b72f"), DropNotForUs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newHb1(t, func(c *Config) { c.Nodes = []string{"hb1", "hb2", "hb3"} })
			n.Tick(t0)
			out := n.Receive(t0, "eth0", c.msg)
			if out.Drop != c.want {
				t.Fatalf("drop %v, want %v", out.Drop, c.want)
			}
			for _, e := range out.Events {
				if e.Kind == Delivered || e.Kind == NodeStatus {
					t.Fatalf("event %v from a dropped message", e)
				}
			}
		})
	}
	t.Run("replay and duplicate", func(t *testing.T) {
		n := newHb1(t)
		n.Tick(t0)
		if out := n.Receive(t0, "eth0", hb2Status("7", "up")); out.Drop != Accepted {
			t.Fatalf("first: %v", out.Drop)
		}
		if out := n.Receive(t0, "eth0", hb2Status("7", "up")); out.Drop != DropDuplicate {
			t.Fatalf("same again: %v", out.Drop)
		}
		old := hb2Status("8", "active")
		old.Set("hg", "6b03b72e")
		if out := n.Receive(t0, "eth0", old); out.Drop != DropReplay || len(out.Events) != 0 {
			t.Fatalf("older generation: %v %v", out.Drop, out.Events)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"node not listed": func(c *Config) { c.Node = "hb9" },
		"no media":        func(c *Config) { c.Media = nil },
		"no rand":         func(c *Config) { c.Rand = nil },
		"deadtime small":  func(c *Config) { c.Keepalive, c.DeadTime = time.Second, time.Second },
	} {
		cfg := Config{Node: "hb1", Nodes: []string{"hb1", "hb2"}, Media: []string{"eth0"}, Rand: rand.New(rand.NewPCG(1, 1))}
		mut(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := Config{Node: "HB1", Nodes: []string{"hb1", "hb2"}, Media: []string{"eth0"}, Rand: rand.New(rand.NewPCG(1, 1)), DeadTime: 10 * time.Second}
	if err := cfg.validate(); err != nil || cfg.InitDead != 20*time.Second || cfg.WarnTime != 5*time.Second || cfg.TTL != 3 {
		t.Fatalf("defaults: %v initdead %v warntime %v ttl %d", err, cfg.InitDead, cfg.WarnTime, cfg.TTL)
	}
}

func TestStatusStrings(t *testing.T) {
	if StatusInit != "init" || StatusUp != "up" || StatusActive != "active" || StatusDead != "dead" || LinkUp != "up" || LinkDead != "dead" {
		t.Fatal("status strings differ from heartbeat's")
	}
}

func FuzzReceive(f *testing.F) {
	f.Add("t=status\nst=up\ndt=2710\nprotocol=1\nsrc=hb2\nseq=1\nhg=6b03b72f\nts=6b03b72e\nttl=3")
	f.Add("t=NS_rexmit\ndest=hb1\nfirstseq=1\nlastseq=18446744073709551615\nsrc=hb2\nhg=6b03b72f\nts=6b03b72f")
	f.Add("t=NS_nak_rexmit\nfirstseq=2\ndest=hb1\ncomment=x\nsrc=hb2\nhg=1\nts=1")
	f.Add("t=NS_ackmsg\ndest=hb1\nackseq=ffffffffffffffff\nsrc=hb2\nts=1")
	f.Add("dest=hb1\nt=repnodes\nnodelist=hb1 hb2 \nsrc=hb2\nseq=ffffffffffffffff\nhg=ffffffffffffffff\nts=1")
	f.Fuzz(func(t *testing.T, s string) {
		n := newHb1(t)
		now := t0
		n.Tick(now)
		for i, part := range strings.Split(s, "\n\n") {
			m := &wire.Message{}
			for _, line := range strings.Split(part, "\n") {
				k, v, _ := strings.Cut(line, "=")
				m.Add(k, v)
			}
			now = now.Add(time.Duration(i) * 100 * time.Millisecond)
			out := n.Receive(now, "eth0", m)
			if !out.Wake.After(now) {
				t.Fatalf("wake %v not after now %v", out.Wake, now)
			}
			out = n.Tick(out.Wake)
			if !out.Wake.After(now) {
				t.Fatalf("tick wake %v", out.Wake)
			}
		}
	})
}

func BenchmarkReceiveStatus(b *testing.B) {
	n := newHb1(&testing.T{})
	n.Tick(t0)
	m := hb2Status("1", "active")
	now := t0
	var seq uint64
	b.ReportAllocs()
	for b.Loop() {
		seq++
		m.Set(wire.FSeq, strconvHexU(seq))
		now = now.Add(time.Millisecond)
		n.Receive(now, "eth0", m)
	}
}

func strconvHexU(v uint64) string { return strconv.FormatUint(v, 16) }

func TestOwnLinkUpWhenLoopedBack(t *testing.T) {
	n := newHb1(t)
	out := n.Tick(t0)
	own := ofType(out, TypeStatus)[0]
	out = n.Receive(t0, "eth0", own)
	if out.Drop != DropFromSelf || len(out.Events) != 1 || out.Events[0].Kind != LinkStatusChange || out.Events[0].Node != "hb1" {
		t.Fatalf("looped-back packet: %v %v", out.Drop, out.Events)
	}
	if l := n.Nodes()[0].Links[0]; l.Status != LinkUp {
		t.Fatalf("own link %+v", l)
	}
	if out = n.Receive(t0, "eth0", own); len(out.Events) != 0 {
		t.Fatalf("second loop-back: %v", out.Events)
	}
}

func TestOldPeerWithoutProtocolField(t *testing.T) {
	n := newHb1(t)
	n.Tick(t0)
	m := hb2Status("1", "up")
	m.Del(wire.FProtocol)
	out := n.Receive(t0, "eth0", m)
	if len(ofType(out, TypeReqNodes)) != 0 || n.LocalStatus() != StatusActive {
		t.Fatalf("with a pre-flow-control peer: reqnodes %d, status %s; want no reqnodes and active at once",
			len(ofType(out, TypeReqNodes)), n.LocalStatus())
	}
	for s := 2; s < 30; s++ {
		if out := n.Receive(t0, "eth0", hb2Status(strconvHexU(uint64(s)), "up")); len(ofType(out, TypeAck)) != 0 {
			t.Fatal("acknowledged a peer without flow control")
		}
	}
}

func TestGapEvents(t *testing.T) {
	n := newHb1(t)
	n.Tick(t0)
	n.Receive(t0, "eth0", hb2Status("1", "up"))
	out := n.Receive(t0, "eth0", hb2Status("4", "up"))
	if len(out.Events) == 0 || out.Events[0].Kind != Lost || out.Events[0].Seq != 2 || out.Events[0].LastSeq != 3 {
		t.Fatalf("gap: %v", out.Events)
	}
	n.Receive(t0, "eth0", hb2Status("3", "up"))
	nak := hb2Msg("t", "NS_nak_rexmit", "firstseq", "2", "dest", "hb1", "comment", "seqno too low", "src", "hb2",
		"hg", "6b03b72f", "ts", "6b03b72f")
	out = n.Receive(t0, "eth0", nak)
	var kinds []EventKind
	for _, e := range out.Events {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Equal(kinds, []EventKind{LostForGood, Delivered, Delivered, NoneMissing}) {
		t.Fatalf("after the refusal: %v", out.Events)
	}
}
