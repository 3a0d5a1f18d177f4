package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/media/memnet"
)

// Issue 6 acceptance: no false deaths and reliable ordered delivery under
// heavy random loss on every link.
func TestNoFalseDeathsUnderLoss(t *testing.T) {
	cases := []struct {
		nodes int
		loss  float64
	}{
		{2, 0.30}, {8, 0.30}, {16, 0.30},
		{2, 0.50}, {8, 0.50},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%dnodes-%.0f%%", c.nodes, c.loss*100), func(t *testing.T) {
			// Not parallel: each case's time is its own cost (the
			// acceptance asks each to run well under a second).
			s := New(t, Options{Nodes: c.nodes, Seed: 1, Keepalive: time.Second, DeadTime: 10 * time.Second,
				AppEvery: 5 * time.Second})
			s.Net.SetLoss(memnet.AllLinks, c.loss)
			s.Run(10 * time.Minute)
			s.RequireNoEvent(core.NodeDead)
			s.RequireInOrderExactlyOnce(10 * time.Second)
			for _, a := range s.Names() {
				for _, b := range s.Names() {
					if st := s.Status(a, b); st != core.StatusActive {
						t.Errorf("%s sees %s %s", a, b, st)
					}
				}
			}
			t.Logf("net: %+v", s.Net.Stats)
		})
	}
}

func TestNoFalseDeathsFastTimers(t *testing.T) {
	for _, nodes := range []int{2, 4} {
		t.Run(fmt.Sprint(nodes, "nodes"), func(t *testing.T) {
			s := New(t, Options{Nodes: nodes, Seed: 2, Keepalive: 100 * time.Millisecond, DeadTime: 500 * time.Millisecond,
				AppEvery: time.Second})
			s.Net.SetLoss(memnet.AllLinks, 0.10)
			s.Run(10 * time.Minute)
			s.RequireNoEvent(core.NodeDead)
			s.RequireInOrderExactlyOnce(time.Second)
		})
	}
}

// TestHeartbeatRuleAloneFails shows why the core does not use heartbeat's
// liveness rule alone: with only status messages counting, 30% loss at
// keepalive 100 ms / deadtime 500 ms produces false deaths.
func TestHeartbeatRuleAloneFails(t *testing.T) {
	s := New(t, Options{Nodes: 2, Seed: 2, Keepalive: 100 * time.Millisecond, DeadTime: 500 * time.Millisecond,
		HeartbeatLiveness: true})
	s.Net.SetLoss(memnet.AllLinks, 0.30)
	s.Run(10 * time.Minute)
	if n := len(s.EventsOf("", core.NodeDead)); n == 0 {
		t.Fatal("heartbeat's rule survived 30% loss at 100ms/500ms: the comparison is not showing anything")
	} else {
		t.Logf("heartbeat's rule alone: %d false deaths in 10 minutes", n)
	}
	s2 := New(t, Options{Nodes: 2, Seed: 2, Keepalive: 100 * time.Millisecond, DeadTime: 500 * time.Millisecond})
	s2.Net.SetLoss(memnet.AllLinks, 0.30)
	s2.Run(10 * time.Minute)
	s2.RequireNoEvent(core.NodeDead)
}

func TestPartitionDetectedAndHealed(t *testing.T) {
	const keepalive, deadtime = time.Second, 10 * time.Second
	s := New(t, Options{Nodes: 4, Seed: 3, Keepalive: keepalive, DeadTime: deadtime, AppEvery: 2 * time.Second})
	s.Net.SetLoss(memnet.AllLinks, 0.05)
	s.Run(time.Minute)
	cut := s.Now
	left, right := []string{"n01", "n02"}, []string{"n03", "n04"}
	s.Partition(left, right)
	s.Run(30 * time.Second)
	for _, side := range [][2][]string{{left, right}, {right, left}} {
		for _, obs := range side[0] {
			for _, other := range side[1] {
				var at time.Time
				for _, e := range s.EventsOf(obs, core.NodeDead) {
					if e.Event.Node == other {
						at = e.At
					}
				}
				if at.IsZero() {
					t.Fatalf("%s never saw %s dead", obs, other)
				}
				if d := at.Sub(cut); d > deadtime+keepalive {
					t.Errorf("%s saw %s dead %v after the cut, want <= %v", obs, other, d, deadtime+keepalive)
				}
			}
			for _, same := range side[0] {
				if s.Status(obs, same) != core.StatusActive {
					t.Errorf("%s sees its side's %s %s", obs, same, s.Status(obs, same))
				}
			}
		}
	}
	s.Heal()
	healed := s.RunUntil(s.Now.Add(10*time.Second), func() bool {
		for _, a := range s.Names() {
			for _, b := range s.Names() {
				if s.Status(a, b) != core.StatusActive {
					return false
				}
			}
		}
		return true
	})
	if !healed {
		t.Fatal("not everyone active again 10 s after the heal")
	}
	if n := len(s.EventsOf("", core.PartitionHealed)); n != 8 {
		t.Errorf("%d partition-healed events, want 8 (each node sees the 2 on the other side)", n)
	}
	for _, e := range s.EventsOf("", core.PartitionHealed) {
		if iv := e.Event.Interval; iv < 30*time.Second || iv > 32*time.Second {
			t.Errorf("%s: %s silent for %v, want about the 30 s partition", e.Node, e.Event.Node, iv)
		}
	}
	s.Run(time.Minute)
	s.RequireNoViolations()
	s.RequireNoHoles() // the messages sent during the partition were recovered
	s.RequireInOrderExactlyOnce(deadtime)
	t.Log(s.Transcript(core.NodeDead, core.PartitionHealed, core.NodeStatus))
}

func TestCrashAndRestart(t *testing.T) {
	const keepalive, deadtime = time.Second, 10 * time.Second
	s := New(t, Options{Nodes: 3, Seed: 4, Keepalive: keepalive, DeadTime: deadtime, AppEvery: 3 * time.Second})
	s.Net.SetLoss(memnet.AllLinks, 0.2)
	s.Run(time.Minute)
	oldGen := s.Node("n03").Gen
	s.Crash("n03")
	crashed := s.Now
	s.Run(20 * time.Second)
	for _, obs := range []string{"n01", "n02"} {
		ev := s.EventsOf(obs, core.NodeDead)
		if len(ev) != 1 || ev[0].Event.Node != "n03" {
			t.Fatalf("%s: dead events %v", obs, ev)
		}
		if d := ev[0].At.Sub(crashed); d > deadtime+keepalive {
			t.Errorf("%s saw n03 dead after %v", obs, d)
		}
	}
	s.Restart("n03")
	ok := s.RunUntil(s.Now.Add(30*time.Second), func() bool {
		return s.Status("n01", "n03") == core.StatusActive && s.Status("n02", "n03") == core.StatusActive &&
			s.Status("n03", "n01") == core.StatusActive && s.Status("n03", "n02") == core.StatusActive
	})
	if !ok {
		t.Fatalf("restarted n03 not active everywhere: n01 sees %s, n03 sees n01 %s", s.Status("n01", "n03"), s.Status("n03", "n01"))
	}
	for _, obs := range []string{"n01", "n02"} {
		ev := s.EventsOf(obs, core.PeerRestarted)
		if len(ev) != 1 || ev[0].Event.OldGen != oldGen || ev[0].Event.Gen != oldGen+1 {
			t.Fatalf("%s: restart events %v", obs, ev)
		}
		if len(s.EventsOf(obs, core.PartitionHealed)) != 0 {
			t.Errorf("%s took a restart for a healed partition", obs)
		}
	}
	s.Run(time.Minute)
	s.RequireNoViolations()
	if n := len(s.EventsOf("", core.NodeDead)); n != 2 {
		t.Errorf("%d dead events, want 2", n)
	}
	t.Log(s.Transcript(core.NodeDead, core.PeerRestarted, core.NodeStatus))
}

func TestLinkDeathOnOneMedium(t *testing.T) {
	s := New(t, Options{Nodes: 3, Seed: 7, Media: []string{"eth0", "eth1"}})
	s.Run(30 * time.Second)
	for _, a := range s.Names() {
		for _, b := range s.Names() {
			if a == b {
				continue
			}
			for _, ni := range s.Node(a).Core.Nodes() {
				if ni.Name == b && (len(ni.Links) != 2 || ni.Links[0].Status != core.LinkUp || ni.Links[1].Status != core.LinkUp) {
					t.Fatalf("%s sees %s links %+v", a, b, ni.Links)
				}
			}
		}
	}
	s.Net.SetLoss(memnet.Link{Medium: "eth1"}, 1)
	cut := s.Now
	s.Run(30 * time.Second)
	dead := s.EventsOf("", core.LinkStatusChange)
	n := 0
	for _, e := range dead {
		if e.At.After(cut) {
			if e.Event.Link != "eth1" || e.Event.LinkStat != core.LinkDead {
				t.Errorf("unexpected %v", e.Event)
			}
			n++
		}
	}
	if n != 6 {
		t.Fatalf("%d link-dead events, want 6 (each node, each peer, eth1)", n)
	}
	s.RequireNoEvent(core.NodeDead)
	s.Net.SetLoss(memnet.Link{Medium: "eth1"}, 0)
	s.Run(5 * time.Second)
	up := 0
	for _, e := range s.EventsOf("", core.LinkStatusChange) {
		if e.At.After(cut.Add(30*time.Second)) && e.Event.LinkStat == core.LinkUp {
			up++
		}
	}
	if up != 6 {
		t.Fatalf("%d link-up events after repair, want 6", up)
	}
}
