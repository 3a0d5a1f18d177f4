package core

import (
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
	"github.com/heartbeat-go/heartbeat/hb/wire"
	"github.com/heartbeat-go/heartbeat/hb/wire/pcap"
)

// TestRealPeerFromCapture feeds everything real heartbeat's hb1 sent in
// captures/loss30-ucast-sha1 (start, resource exchange, 60 s steady state,
// kill -9, restart with a new generation) to a core playing hb2, with the
// captured timing, and checks what the core makes of it.
func TestRealPeerFromCapture(t *testing.T) {
	dir := filepath.Join(testbin.Shared(t), "captures", "loss30-ucast-sha1")
	f, err := os.Open(filepath.Join(dir, "capture.pcap"))
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	rd, err := pcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := authkeys.Parse([]byte("auth 1\n1 sha1 realhb-test-secret\n"), "authkeys")
	n, err := New(Config{
		Node: "hb2", UUID: mustUUID("4780e889a8a34e8cba402c8b2df08cba"), Generation: 0x6b03b896,
		Nodes: []string{"hb1", "hb2"}, Media: []string{"eth0"},
		Keepalive: time.Second, DeadTime: 10 * time.Second, Rand: rand.New(rand.NewPCG(3, 3)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hb1 := netip.MustParseAddr("198.18.0.1")
	const killAt = 1795406053.046941562
	var (
		events  []Event
		times   []time.Time
		wake    time.Time
		lastHb1 time.Time
		drops   = map[DropReason]int{}
		count   int
	)
	record := func(now time.Time, out Output) {
		for _, e := range out.Events {
			events = append(events, e)
			times = append(times, now)
		}
		wake = out.Wake
	}
	for {
		d, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if d.Src.Addr() != hb1 || d.Dst.Port() != 694 {
			continue
		}
		m, err := wire.Decode(d.Payload, keys)
		if err != nil {
			t.Fatalf("packet %d: %v", d.Index, err)
		}
		for !wake.IsZero() && wake.Before(d.Time) {
			record(wake, n.Tick(wake))
		}
		out := n.Receive(d.Time, "eth0", m)
		drops[out.Drop]++
		record(d.Time, out)
		count++
		if float64(d.Time.UnixNano())/1e9 < killAt {
			lastHb1 = d.Time
		}
	}
	end := lastHb1.Add(40 * time.Second)
	for !wake.IsZero() && wake.Before(end) {
		record(wake, n.Tick(wake))
	}
	if drops[DropMalformed]+drops[DropUnknownNode]+drops[DropReplay] > 0 {
		t.Errorf("real packets dropped: %v", drops)
	}
	t.Logf("%d packets from hb1: %v", count, drops)

	var seen []string
	var deadAt time.Time
	restarted := false
	delivered := map[string]int{}
	var lastSeq uint64
	for i, e := range events {
		switch e.Kind {
		case NodeStatus, NodeDead, PeerRestarted, PartitionHealed:
			seen = append(seen, e.String())
			if e.Kind == NodeDead && deadAt.IsZero() {
				deadAt = times[i]
			}
			if e.Kind == PeerRestarted {
				restarted = true
				lastSeq = 0
			}
		case Delivered:
			if e.Node == "hb1" {
				if e.Seq <= lastSeq {
					t.Errorf("hb1 seq %d delivered after %d", e.Seq, lastSeq)
				}
				lastSeq = e.Seq
				delivered[e.Msg.Value(wire.FType)]++
			}
		}
	}
	t.Logf("node events: %v", seen)
	t.Logf("delivered from hb1: %v", delivered)
	if deadAt.IsZero() {
		t.Fatal("hb1 never declared dead after kill -9")
	}
	if d := deadAt.Sub(lastHb1); d > 11*time.Second || d < 10*time.Second {
		t.Errorf("hb1 declared dead %v after its last packet, want deadtime (10 s) + at most a keepalive", d)
	}
	if !restarted {
		t.Error("hb1's restart (new generation) not seen")
	}
	want := []string{"node-status hb1 up", "node-status hb1 active", "node-dead hb1", "peer-restarted hb1"}
	for i, w := range want {
		if i >= len(seen) || len(seen[i]) < len(w) || seen[i][:len(w)] != w {
			t.Fatalf("node events %v, want them to start %v", seen, want)
		}
	}
	if delivered["resource"] == 0 || delivered["starting"] == 0 {
		t.Errorf("resource messages not delivered: %v", delivered)
	}
}
