package rm

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/wire"
)

var two = []string{"nodea", "nodeb"}

var allModes = []AutoFailback{FailbackLegacy, FailbackOn, FailbackOff}

func TestAloneTakesEverything(t *testing.T) {
	for _, af := range allModes {
		t.Run(af.String(), func(t *testing.T) {
			s := newSim(t, af, two, twoGroups)
			s.boot("nodea")
			s.run(10 * time.Second)
			s.requireAt(keyA, "nodea")
			s.requireAt(keyB, "nodea")
			if !s.hasEvent("nodea", AcquisitionDone) {
				t.Fatal("no Initial resource acquisition complete")
			}
		})
	}
}

func TestPeerJoinsLater(t *testing.T) {
	cases := []struct {
		af    AutoFailback
		wantB string // where B's group ends up
	}{
		{FailbackLegacy, "nodeb"},
		{FailbackOn, "nodeb"},
		{FailbackOff, "nodea"},
	}
	for _, c := range cases {
		t.Run(c.af.String(), func(t *testing.T) {
			s := newSim(t, c.af, two, twoGroups)
			s.boot("nodea")
			s.run(10 * time.Second)
			s.boot("nodeb")
			s.run(5 * time.Second)
			s.requireAt(keyA, "nodea")
			s.requireAt(keyB, c.wantB)
		})
	}
}

// The auto_failback on hand-back exchanges exactly heartbeat's messages
// (cap.pcap, 03:39:11-03:39:14).
func TestAutoFailbackMessagesMatchCapture(t *testing.T) {
	s := newSim(t, FailbackOn, two, twoGroups)
	s.boot("nodea")
	s.run(10 * time.Second)
	nA := len(s.nodes["nodea"].sent)
	s.boot("nodeb")
	s.run(5 * time.Second)
	var got []string
	for _, line := range s.trace {
		if i := strings.Index(line, " sends "); i > 0 {
			f := strings.Fields(line)
			got = append(got, f[1]+" "+line[i+len(" sends "):])
		}
	}
	// From B's boot on.
	var tail []string
	count := 0
	for _, g := range got {
		if strings.HasPrefix(g, "nodea ") {
			count++
			if count <= nA {
				continue
			}
		}
		tail = append(tail, g)
	}
	want := []string{
		"nodeb t=starting",
		"nodea t=resource rsc_hold=all rtype=full isstable=1",
		"nodeb t=resource rsc_hold=none rtype=full isstable=0",
		"nodeb t=resource rsc_hold=none rtype=full isstable=1",
		"nodea t=resource rsc_hold=all rtype=full isstable=1",
		"nodea t=ask_resources rsc_hold=foreign info=me",
		"nodeb t=ask_resources rsc_hold=foreign info=other",
		"nodea t=resource rsc_hold=local rtype=full isstable=0 info=standby",
		"nodea t=ask_resources rsc_hold=foreign info=done",
		"nodeb t=ask_resources rsc_hold=foreign info=done",
		"nodeb t=resource rsc_hold=local rtype=full isstable=1",
		"nodea t=resource rsc_hold=local rtype=full isstable=1",
		"nodea t=resource rsc_hold=local rtype=full isstable=1",
		"nodeb t=resource rsc_hold=local rtype=full isstable=1",
	}
	if !slices.Equal(tail, want) {
		t.Fatalf("messages after B's start:\n%s\nwant:\n%s", strings.Join(tail, "\n"), strings.Join(want, "\n"))
	}
}

func TestBothStartAtOnce(t *testing.T) {
	for _, af := range allModes {
		t.Run(af.String(), func(t *testing.T) {
			s := newSim(t, af, two, twoGroups)
			s.boot("nodea")
			s.boot("nodeb")
			// No RQSTDELAY wait: everything runs within 2 s of comm-up.
			s.run(2 * time.Second)
			s.requireAt(keyA, "nodea")
			s.requireAt(keyB, "nodeb")
			s.run(30 * time.Second)
			s.requireAt(keyA, "nodea")
			s.requireAt(keyB, "nodeb")
		})
	}
}

func TestHolderDiesSurvivorTakesOver(t *testing.T) {
	for _, af := range allModes {
		t.Run(af.String(), func(t *testing.T) {
			s := newSim(t, af, two, twoGroups)
			s.boot("nodea")
			s.boot("nodeb")
			s.run(5 * time.Second)
			s.crash("nodeb")
			// No needless wait: the group starts as soon as the death is
			// known (the fake start itself takes actionTime).
			s.run(deadTime + actionTime + 10*time.Millisecond)
			s.requireAt(keyB, "nodea")
			s.requireAt(keyA, "nodea")
			// B comes back.
			s.boot("nodeb")
			s.run(10 * time.Second)
			s.requireAt(keyA, "nodea")
			if af == FailbackOff {
				s.requireAt(keyB, "nodea")
			} else {
				s.requireAt(keyB, "nodeb")
			}
		})
	}
}

func TestGracefulShutdownHandsOverAtOnce(t *testing.T) {
	for _, af := range allModes {
		t.Run(af.String(), func(t *testing.T) {
			s := newSim(t, af, two, twoGroups)
			s.boot("nodea")
			s.boot("nodeb")
			s.run(5 * time.Second)
			s.command("nodeb", Command{Kind: Shutdown})
			// Before deadtime: the shutdone notice triggers the takeover.
			s.run(time.Second)
			if !s.nodes["nodeb"].exited {
				t.Fatalf("nodeb did not exit\n%s", strings.Join(s.trace, "\n"))
			}
			s.requireAt(keyB, "nodea")
			s.requireAt(keyA, "nodea")
			sent := s.sentTypes("nodeb")
			if last := sent[len(sent)-1]; last != "t=shutdone st=dead" {
				t.Fatalf("last message %q, want shutdone", last)
			}
			s.run(10 * time.Second)
			s.requireAt(keyB, "nodea")
			if !slices.Contains(s.sentTypes("nodea"), "t=stonith node=nodeb result=unneeded") {
				t.Fatalf("no stonith unneeded after a graceful shutdown: %v", s.sentTypes("nodea"))
			}
		})
	}
}

func TestStandbyVariants(t *testing.T) {
	cases := []struct {
		on, what   string
		wantA      string
		wantB      string
		cmd        CommandKind
		setupAllOn string // "" or the node that first holds everything
	}{
		{on: "nodea", what: "", wantA: "nodeb", wantB: "nodeb", cmd: Standby},
		{on: "nodea", what: "all", wantA: "nodeb", wantB: "nodeb", cmd: Standby},
		{on: "nodea", what: "local", wantA: "nodeb", wantB: "nodeb", cmd: Standby},
		{on: "nodea", what: "foreign", wantA: "nodea", wantB: "nodeb", cmd: Standby},
		{on: "nodea", what: "all", wantA: "nodea", wantB: "nodea", cmd: Takeover},
		{on: "nodea", what: "foreign", wantA: "nodea", wantB: "nodea", cmd: Takeover},
		{on: "nodea", what: "local", wantA: "nodea", wantB: "nodeb", cmd: Takeover},
		{on: "nodea", what: "failback", wantA: "nodea", wantB: "nodea", cmd: Takeover}, // rc.d quirk: peer goes standby all
		{on: "nodeb", what: "local", wantA: "nodea", wantB: "nodeb", cmd: Takeover, setupAllOn: "nodea"},
		{on: "nodea", what: "failback", wantA: "nodea", wantB: "nodeb", cmd: Standby, setupAllOn: "nodea"},
	}
	for _, af := range []AutoFailback{FailbackOn, FailbackOff} {
		for _, c := range cases {
			name := af.String() + "/" + map[CommandKind]string{Standby: "standby", Takeover: "takeover"}[c.cmd] + "_" + c.on + "_" + c.what
			t.Run(name, func(t *testing.T) {
				s := newSim(t, af, two, twoGroups)
				s.boot("nodea")
				s.boot("nodeb")
				s.run(5 * time.Second)
				if c.setupAllOn != "" {
					other := "nodeb"
					if c.setupAllOn == "nodeb" {
						other = "nodea"
					}
					s.command(other, Command{Kind: Standby, What: "all"})
					s.run(3 * time.Second)
					s.requireAt(keyA, c.setupAllOn)
					s.requireAt(keyB, c.setupAllOn)
				}
				s.command(c.on, Command{Kind: c.cmd, What: c.what})
				s.run(5 * time.Second)
				s.requireAt(keyA, c.wantA)
				s.requireAt(keyB, c.wantB)
				// A manual move is not undone by auto_failback.
				s.run(20 * time.Second)
				s.requireAt(keyA, c.wantA)
				s.requireAt(keyB, c.wantB)
				for _, n := range two {
					if h := s.nodes[n].m.Holding(); h == "transition" {
						t.Fatalf("%s still in transition", n)
					}
				}
			})
		}
	}
}

func TestStandbyRefusedInLegacy(t *testing.T) {
	s := newSim(t, FailbackLegacy, two, twoGroups)
	s.boot("nodea")
	s.boot("nodeb")
	s.run(5 * time.Second)
	s.command("nodea", Command{Kind: Standby})
	s.run(5 * time.Second)
	s.requireAt(keyA, "nodea")
	if !s.hasEvent("nodea", StandbyRefused) {
		t.Fatal("standby in legacy mode not refused")
	}
}

func TestStandbyWithBadArgument(t *testing.T) {
	s := newSim(t, FailbackOn, two, twoGroups)
	s.boot("nodea")
	s.run(10 * time.Second)
	s.command("nodea", Command{Kind: Standby, What: "bogus"})
	if !s.hasEvent("nodea", StandbyRefused) {
		t.Fatal("bad standby argument accepted")
	}
}

// The peer dies in the middle of a standby hand-over: whoever survives
// ends up with everything, and nothing ever runs twice.
func TestPeerDiesDuringStandby(t *testing.T) {
	for _, af := range []AutoFailback{FailbackOn, FailbackOff} {
		for _, delay := range []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 70 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond, 250 * time.Millisecond} {
			for _, victim := range two {
				t.Run(af.String()+"/"+victim+"/"+delay.String(), func(t *testing.T) {
					s := newSim(t, af, two, twoGroups)
					s.boot("nodea")
					s.boot("nodeb")
					s.run(5 * time.Second)
					s.command("nodea", Command{Kind: Standby, What: "all"})
					s.run(delay)
					s.crash(victim)
					s.run(deadTime + 2*time.Second)
					survivor := "nodea"
					if victim == "nodea" {
						survivor = "nodeb"
					}
					s.requireAt(keyA, survivor)
					s.requireAt(keyB, survivor)
				})
			}
		}
	}
}

// The holder dies while the survivor is taking over from a first death.
func TestPeerDiesDuringTakeover(t *testing.T) {
	for _, af := range allModes {
		t.Run(af.String(), func(t *testing.T) {
			three := []string{"nodea", "nodeb", "nodec"}
			gs := groupsFor("nodea 198.18.1.100/24/hb0 Dummy::ga", "nodeb Dummy::gb1 Dummy::gb2", "nodec Dummy::gc")
			s := newSim(t, af, three, gs)
			for _, n := range three {
				s.boot(n)
			}
			s.run(5 * time.Second)
			s.crash("nodea")
			// nodeb takes over nodea's group; kill it mid-way.
			s.run(deadTime + 60*time.Millisecond)
			s.crash("nodeb")
			s.run(deadTime + 2*time.Second)
			s.requireAt(keyA, "nodec")
			s.requireAt(keyB, "nodec")
			s.requireAt("Dummy::gc", "nodec")
		})
	}
}

func TestThreeNodes(t *testing.T) {
	three := []string{"nodea", "nodeb", "nodec"}
	gs := groupsFor("nodea 198.18.1.100/24/hb0 Dummy::ga", "nodeb Dummy::gb1 Dummy::gb2", "nodec Dummy::gc")
	for _, af := range allModes {
		t.Run(af.String(), func(t *testing.T) {
			s := newSim(t, af, three, gs)
			for _, n := range three {
				s.boot(n)
			}
			s.run(3 * time.Second)
			s.requireAt(keyA, "nodea")
			s.requireAt(keyB, "nodeb")
			s.requireAt("Dummy::gc", "nodec")
			// The VIP holder dies: exactly one survivor takes it.
			s.crash("nodea")
			s.run(deadTime + time.Second)
			s.requireAt(keyA, "nodeb")
			s.requireAt(keyB, "nodeb")
			s.requireAt("Dummy::gc", "nodec")
			// It returns.
			s.boot("nodea")
			s.run(10 * time.Second)
			if af == FailbackOff {
				s.requireAt(keyA, "nodeb")
			} else {
				s.requireAt(keyA, "nodea")
			}
			// Graceful shutdown of one node, then the others.
			s.command("nodec", Command{Kind: Shutdown})
			s.run(2 * time.Second)
			s.requireAt("Dummy::gc", "nodea")
			for _, k := range []string{keyA, keyB, "Dummy::gc"} {
				if len(s.where(k)) != 1 {
					t.Fatalf("%s runs on %v", k, s.where(k))
				}
			}
		})
	}
}

func TestThreeNodesStartStaggered(t *testing.T) {
	three := []string{"nodea", "nodeb", "nodec"}
	gs := groupsFor("nodea 198.18.1.100/24/hb0", "nodeb Dummy::gb1", "nodec Dummy::gc")
	for _, af := range allModes {
		t.Run(af.String(), func(t *testing.T) {
			s := newSim(t, af, three, gs)
			s.boot("nodec")
			s.run(10 * time.Second)
			for _, k := range []string{keyA, keyB, "Dummy::gc"} {
				s.requireAt(k, "nodec")
			}
			s.boot("nodea")
			s.run(10 * time.Second)
			s.boot("nodeb")
			s.run(10 * time.Second)
			for _, k := range []string{keyA, keyB, "Dummy::gc"} {
				if len(s.where(k)) != 1 {
					t.Fatalf("%s runs on %v\n%s", k, s.where(k), strings.Join(s.trace, "\n"))
				}
			}
			if af != FailbackOff {
				s.requireAt(keyA, "nodea")
				s.requireAt(keyB, "nodeb")
			}
		})
	}
}

func TestPartitionSplitBrainIsLoudAndResolved(t *testing.T) {
	for _, af := range allModes {
		t.Run(af.String(), func(t *testing.T) {
			s := newSim(t, af, two, twoGroups)
			s.boot("nodea")
			s.boot("nodeb")
			s.run(5 * time.Second)
			s.partition([]string{"nodea"}, []string{"nodeb"})
			s.run(deadTime + 2*time.Second)
			// True split brain: both hold everything.
			s.requireAt(keyA, "nodea", "nodeb")
			s.heal()
			s.run(30 * time.Second)
			for _, n := range two {
				if !s.hasEvent(n, SplitBrain) {
					t.Fatalf("%s did not report the split brain", n)
				}
				if s.nodes[n].restarts != 1 {
					t.Fatalf("%s restarted %d times", n, s.nodes[n].restarts)
				}
			}
			s.requireAt(keyA, "nodea")
			s.requireAt(keyB, "nodeb")
		})
	}
}

func TestStartFailure(t *testing.T) {
	s := newSim(t, FailbackOn, two, twoGroups)
	s.failStart["nodea "+keyA] = true
	s.boot("nodea")
	s.boot("nodeb")
	s.run(5 * time.Second)
	if len(s.where(keyA)) != 0 {
		t.Fatalf("failed group runs on %v", s.where(keyA))
	}
	// heartbeat: hb_standby foreign 30 s later; nodeb keeps its own group.
	s.run(40 * time.Second)
	s.requireAt(keyB, "nodeb")
	found := false
	for _, e := range s.nodes["nodea"].events {
		if e.Level == Crit && strings.Contains(e.Text, "Giving up resources due to failure of") {
			found = true
		}
	}
	if !found {
		t.Fatal("no CRIT for the failed start")
	}
}

func TestStopFailureFencesSelf(t *testing.T) {
	s := newSim(t, FailbackOn, two, twoGroups)
	s.boot("nodea")
	s.boot("nodeb")
	s.run(5 * time.Second)
	s.failStop["nodea "+keyA] = true
	s.command("nodea", Command{Kind: Standby, What: "all"})
	s.run(deadTime + 2*time.Second)
	if !s.nodes["nodea"].fenced {
		t.Fatalf("nodea not fenced\n%s", strings.Join(s.trace, "\n"))
	}
	s.requireAt(keyA, "nodeb")
}

func TestShutdownDelayedWhileBusy(t *testing.T) {
	s := newSim(t, FailbackOn, two, twoGroups)
	s.boot("nodea")
	s.run(6*time.Second + 20*time.Millisecond) // comm-up, acquisition running
	s.command("nodea", Command{Kind: Shutdown})
	s.run(2 * time.Second)
	if !s.nodes["nodea"].exited {
		t.Fatalf("nodea did not exit\n%s", strings.Join(s.trace, "\n"))
	}
	if len(s.where(keyA))+len(s.where(keyB)) != 0 {
		t.Fatal("groups still running after shutdown")
	}
}

func TestConfigValidation(t *testing.T) {
	cases := map[string]Config{
		"empty local":    {Nodes: two},
		"local not node": {Local: "x", Nodes: two},
		"duplicate node": {Local: "nodea", Nodes: []string{"nodea", "nodea"}},
		"duplicate key":  {Local: "nodea", Nodes: two, Groups: groupsFor("nodea x", "nodeb x")},
		"bad failback":   {Local: "nodea", Nodes: two, AutoFailback: 7},
	}
	for name, c := range cases {
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Config{Local: "nodea", Nodes: two, Groups: twoGroups}); err != nil {
		t.Fatal(err)
	}
}

func TestHoldSpelling(t *testing.T) {
	for h, want := range map[Hold]string{HoldNone: "none", HoldLocal: "local", HoldForeign: "foreign", HoldAll: "all"} {
		if h.String() != want {
			t.Errorf("%d = %q", h, h.String())
		}
		if got, ok := ParseHold(want); !ok || got != h {
			t.Errorf("ParseHold(%q) = %v %v", want, got, ok)
		}
	}
	if h, ok := ParseHold("failback"); !ok || h != HoldForeign {
		t.Error("failback is not foreign")
	}
	for s, want := range map[Status]string{StatusInit: "init", StatusUp: "up", StatusActive: "active", StatusDead: "dead"} {
		if string(s) != want {
			t.Errorf("status %q", s)
		}
	}
}

func TestAutoFailbackSpelling(t *testing.T) {
	for _, af := range allModes {
		if got, ok := ParseAutoFailback(af.String()); !ok || got != af {
			t.Errorf("%s: %v %v", af, got, ok)
		}
	}
	if _, ok := ParseAutoFailback("yes"); ok {
		t.Error("yes accepted")
	}
}

// Both nodes came up while cut off from each other: both run everything.
// When they meet (each a "new" node to the other, so no partition restart),
// the split brain is reported and settled: each group stays on its home.
func TestSplitBrainFromStartIsSettled(t *testing.T) {
	for _, af := range []AutoFailback{FailbackOn, FailbackOff} {
		t.Run(af.String(), func(t *testing.T) {
			s := newSim(t, af, two, twoGroups)
			s.partition([]string{"nodea"}, []string{"nodeb"})
			s.boot("nodea")
			s.boot("nodeb")
			s.run(10 * time.Second)
			s.requireAt(keyA, "nodea", "nodeb")
			s.heal()
			s.run(30 * time.Second)
			s.requireAt(keyA, "nodea")
			s.requireAt(keyB, "nodeb")
			for _, n := range two {
				if !s.hasEvent(n, SplitBrain) {
					t.Errorf("%s did not report the split brain", n)
				}
			}
		})
	}
}

// One resource message from the peer, as the core delivers them all the
// time in a stable cluster.
func BenchmarkReceiveResource(b *testing.B) {
	m, err := New(Config{Local: "nodea", Nodes: two, Groups: twoGroups, AutoFailback: FailbackOn})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1000, 0)
	m.NodeStatus(now, "nodeb", StatusActive)
	m.NodeStatus(now, "nodea", StatusActive)
	msg := &wire.Message{}
	msg.Add(wire.FType, TResource)
	msg.Add(wire.FOrig, "nodeb")
	msg.Add(FRscHold, "local")
	msg.Add(FRType, "full")
	msg.Add(FIsStable, "1")
	b.ReportAllocs()
	for b.Loop() {
		m.Receive(now, msg)
	}
}
