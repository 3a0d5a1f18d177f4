package sim

import (
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/hb/wire"
	"github.com/heartbeat-go/heartbeat/media/memnet"
)

// TestReplayedAndForgedMessagesChangeNothing: authentication (the daemon's
// job) stops forgeries without the key; what gets past it, replays of
// genuine messages and messages with nonsense fields, must change nothing.
func TestReplayedAndForgedMessagesChangeNothing(t *testing.T) {
	s := New(t, Options{Nodes: 3, Seed: 6, AppEvery: time.Second, Capture: true, KeepDelivered: true})
	s.Net.SetLoss(memnet.AllLinks, 0.1)
	s.Run(time.Minute)
	captured := append([]*wire.Message(nil), s.Node("n02").Outbox...)

	// n02 dies; n01 sees it dead.
	s.Crash("n02")
	s.Run(15 * time.Second)
	if s.Status("n01", "n02") != core.StatusDead {
		t.Fatalf("n01 sees n02 %s", s.Status("n01", "n02"))
	}
	before := len(s.Node("n01").Events)
	deliveredBefore := s.Delivered("n01")

	// Replaying everything n02 ever sent, on every medium, twice.
	for range 2 {
		for _, m := range captured {
			switch d := s.Inject("n01", "eth0", m); d {
			case core.DropDuplicate, core.DropNotForUs, core.Accepted:
				// Accepted: an NS_ message (a request n01 may answer, as a
				// genuine one would); it proves nothing.
			default:
				t.Fatalf("replay dropped as %v", d)
			}
		}
		s.Run(time.Second)
	}
	after := s.Node("n01").Events[before:]
	for _, e := range after {
		switch e.Event.Kind {
		case core.NodeStatus, core.LinkStatusChange, core.PartitionHealed, core.PeerRestarted, core.Delivered:
			if e.Event.Node == "n02" {
				t.Errorf("replay caused %v", e.Event)
			}
		}
	}
	if got := s.Delivered("n01") - deliveredBefore; got != countFrom(s, "n01", "n03", before) {
		t.Errorf("%d messages delivered, not all from n03", got)
	}
	if s.Status("n01", "n02") != core.StatusDead {
		t.Fatalf("replays revived n02: %s", s.Status("n01", "n02"))
	}

	// n02 restarts; its old generation's messages are replays now.
	s.Restart("n02")
	s.RunUntil(s.Now.Add(30*time.Second), func() bool { return s.Status("n01", "n02") == core.StatusActive })
	for _, m := range captured {
		if m.Value(wire.FType) == core.TypeStatus {
			if d := s.Inject("n01", "eth0", m); d != core.DropReplay {
				t.Fatalf("old-generation status dropped as %v", d)
			}
		}
	}

	// Forged fields.
	forged := []*wire.Message{
		msg("t", "status", "st", "dead", "src", "n99", "seq", "1", "hg", "1", "ts", "1"),
		msg("t", "status", "st", "dead", "src", "n02", "seq", "x1", "hg", "7fffffffffffffff", "ts", "1"),
		msg("t", "status", "st", "dead", "src", "n02", "seq", "1", "hg", "7fffffffffffffff"),
		msg("t", "status", "st", "dead", "src", "n01", "seq", "1", "hg", "7fffffffffffffff", "ts", "1"),
		msg("st", "dead", "src", "n02", "seq", "1", "hg", "7fffffffffffffff", "ts", "1"),
	}
	mark := len(s.Node("n01").Events)
	for _, m := range forged {
		if d := s.Inject("n01", "eth0", m); d == core.Accepted || d == core.DropDuplicate {
			t.Errorf("forged %v: %v", m.Fields, d)
		}
	}
	for _, e := range s.Node("n01").Events[mark:] {
		if e.Event.Kind != core.Delivered || e.Event.Node != "n03" {
			t.Errorf("forgery caused %v", e.Event)
		}
	}
	s.Run(10 * time.Second)
	if s.Status("n01", "n02") != core.StatusActive {
		t.Fatalf("n01 sees n02 %s after the forgeries", s.Status("n01", "n02"))
	}
	s.RequireNoViolations()
}

func countFrom(s *Sim, rcv, from string, since int) int {
	n := 0
	for _, e := range s.Node(rcv).Events[since:] {
		if e.Event.Kind == core.Delivered && e.Event.Node == from {
			n++
		}
	}
	return n
}

func msg(kv ...string) *wire.Message {
	m := &wire.Message{}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Add(kv[i], kv[i+1])
	}
	return m
}
