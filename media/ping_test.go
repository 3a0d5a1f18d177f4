package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// capturedPingPayloads returns the payloads of the ICMP echo requests the
// real heartbeat sent to its ping node in the v1-resources capture.
func capturedPingPayloads(t testing.TB) [][]byte {
	t.Helper()
	frames, err := netlab.ReadPcap(filepath.Join(testbin.Shared(t), "captures", "v1-resources", "cap3.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, f := range frames {
		d := f.Data
		if len(d) < 14+20+8 || binary.BigEndian.Uint16(d[12:]) != 0x0800 {
			continue
		}
		ip := d[14:]
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:]))
		if ip[9] != 1 || total > len(ip) || ihl+8 > total {
			continue
		}
		icmp := ip[ihl:total]
		if icmp[0] == icmpEcho {
			out = append(out, icmp[8:])
		}
	}
	if len(out) == 0 {
		t.Fatal("no echo requests in cap3.pcap")
	}
	return out
}

func TestEchoRequestRoundTrip(t *testing.T) {
	payload := []byte("###\n14:(0)t=NS_st,%%%\n")
	req := EchoRequest(false, 0x1234, 7, payload)
	if req[0] != 8 || req[1] != 0 || binary.BigEndian.Uint16(req[4:]) != 0x1234 || binary.BigEndian.Uint16(req[6:]) != 7 {
		t.Fatalf("header % x", req[:8])
	}
	if inetChecksum(req) != 0 {
		t.Errorf("checksum does not verify")
	}
	// The reply a host sends: type 0, checksum recomputed.
	rep := append([]byte(nil), req...)
	rep[0] = icmpEchoReply
	if got, ok := ParseEchoReply(false, 0x1234, rep); !ok || !bytes.Equal(got, payload) {
		t.Fatalf("ParseEchoReply = %q %v", got, ok)
	}
	if _, ok := ParseEchoReply(false, 0x1235, rep); ok {
		t.Error("accepted another identifier")
	}
	if _, ok := ParseEchoReply(false, 0x1234, req); ok {
		t.Error("accepted an echo request")
	}
	if _, ok := ParseEchoReply(true, 0x1234, rep); ok {
		t.Error("accepted ICMPv4 as ICMPv6")
	}
}

func FuzzParseEchoReply(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0x12, 0x34, 0, 1, 'h', 'i'}, false)
	f.Add([]byte{129, 0, 0, 0, 0x12, 0x34, 0, 1}, true)
	f.Add([]byte{0, 0}, false)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		p, ok := ParseEchoReply(v6, 0x1234, b)
		if ok && (len(b) < 8 || len(p) != len(b)-8) {
			t.Fatalf("payload %d bytes from %d", len(p), len(b))
		}
	})
}

func TestPingNetns(t *testing.T) {
	lab := netlab.New(t, netlab.Options{Hosts: []string{"pn"}})
	h1, pn := lab.Node("hb1"), lab.Node("pn")
	p := inNode(t, h1, func() (*Ping, error) { return NewPing(pn.Addr().String()) })
	if p.Name() != "ping 198.18.0.254" || p.Stats().Link != "198.18.0.254" || p.Stats().Kind != KindPing {
		t.Errorf("name %q stats %+v", p.Name(), p.Stats())
	}
	ctx := context.Background()
	// The real heartbeat's probes, replayed: the ping node echoes each
	// signed NS_st message back unchanged.
	payloads := capturedPingPayloads(t)
	for i, pl := range payloads[:min(20, len(payloads))] {
		if !bytes.HasPrefix(pl, []byte("###\n")) {
			t.Fatalf("captured probe %d is not a netstring message: %q", i, pl)
		}
		if err := p.Send(ctx, pl); err != nil {
			t.Fatal(err)
		}
		got, err := recvWithin(t, p, 5*time.Second)
		if err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
		if !bytes.Equal(got.Data, pl) || got.From != "198.18.0.254" {
			t.Fatalf("probe %d: got %q from %s", i, got.Data, got.From)
		}
	}
	// Somebody else's ping on the same host is not ours.
	if out, err := h1.Output("ping", "-n", "-c", "1", "-W", "2", "198.18.0.254"); err != nil {
		t.Fatalf("system ping: %v %s", err, out)
	}
	if err := p.Send(ctx, []byte("after")); err != nil {
		t.Fatal(err)
	}
	got, err := recvWithin(t, p, 5*time.Second)
	if err != nil || string(got.Data) != "after" {
		t.Fatalf("got %q %v", got.Data, err)
	}
}

func TestPingGroupUpWhileAnyMemberAnswers(t *testing.T) {
	lab := netlab.New(t, netlab.Options{Hosts: []string{"pa", "pb"}})
	h1, pa, pb := lab.Node("hb1"), lab.Node("pa"), lab.Node("pb")
	g := inNode(t, h1, func() (*Ping, error) {
		p, skipped, err := NewPingGroup("Uplinks", []string{pa.Addr().String(), "no-such-host.invalid", pb.Addr().String()})
		if len(skipped) != 1 {
			t.Errorf("skipped %v", skipped)
		}
		return p, err
	})
	if g.Stats().Link != "uplinks" || len(g.Targets()) != 2 {
		t.Fatalf("link %q targets %v", g.Stats().Link, g.Targets())
	}
	ctx := context.Background()
	round := 0
	// probe sends one round of echo requests and collects the replies to
	// that round (by payload) until every host in want has answered, or
	// for 500 ms when want is empty.
	probe := func(want ...string) map[string]bool {
		t.Helper()
		round++
		payload := fmt.Sprintf("probe-%d", round)
		if err := g.Send(ctx, []byte(payload)); err != nil {
			t.Logf("send: %v", err)
		}
		from := map[string]bool{}
		wait := 10 * time.Second
		if len(want) == 0 {
			wait = 500 * time.Millisecond
		}
		deadline := time.Now().Add(wait)
		for {
			all := true
			for _, w := range want {
				all = all && from[w]
			}
			if all && len(want) > 0 {
				return from
			}
			p, err := recvWithin(t, g, time.Until(deadline))
			if err != nil {
				return from
			}
			if string(p.Data) == payload {
				from[p.From] = true
			}
		}
	}
	a, b := pa.Addr().String(), pb.Addr().String()
	if from := probe(a, b); !from[a] || !from[b] {
		t.Fatalf("replies from %v", from)
	}
	if err := pa.Cut(0); err != nil {
		t.Fatal(err)
	}
	if from := probe(b); from[a] || !from[b] {
		t.Fatalf("with pa cut, replies from %v", from)
	}
	if err := pb.Cut(0); err != nil {
		t.Fatal(err)
	}
	if from := probe(); len(from) != 0 {
		t.Fatalf("with both cut, replies from %v", from)
	}
	if _, _, err := NewPingGroup("empty", []string{"no-such-host.invalid"}); err == nil {
		t.Error("group without usable hosts accepted")
	}
}

func TestPingUnknownHost(t *testing.T) {
	_, err := NewPing("no-such-host.invalid")
	if err == nil || !strings.HasPrefix(err.Error(), "unknown host: no-such-host.invalid: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestPing6LinkLocal(t *testing.T) {
	lab := netlab.New(t, netlab.Options{})
	h1, h2 := lab.Node("hb1"), lab.Node("hb2")
	linkLocal(t, h1)
	ll2 := linkLocal(t, h2)
	p := inNode(t, h1, func() (*Ping, error) { return NewPing6(ll2 + "%eth0") })
	if p.Stats().Kind != KindPing6 || p.Stats().Link != ll2+"%eth0" {
		t.Errorf("stats %+v", p.Stats())
	}
	ctx := context.Background()
	// The first echo may wait for neighbour discovery: resend until answered.
	got := make(chan Packet, 1)
	go func() {
		pk, err := recvWithin(t, p, 10*time.Second)
		if err == nil {
			got <- pk
		}
		close(got)
	}()
	waitFor(t, 10*time.Second, "ICMPv6 echo reply", func() bool {
		if err := p.Send(ctx, []byte("v6 probe")); err != nil {
			t.Logf("send: %v", err)
		}
		select {
		case pk, ok := <-got:
			if !ok || string(pk.Data) != "v6 probe" || !strings.HasPrefix(pk.From, ll2) {
				t.Fatalf("got %q from %q", pk.Data, pk.From)
			}
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
}
