package rm

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// quickRestart restarts name as heartbeat -R -C does after a reload with
// a changed ha.cf: announce, re-exec, come back with the holdings. With
// exact it passes the key list too (heartbeat-go), else only the bits.
// Without announce it is heartbeat 3.0.6's: no "resource info=restart".
func (s *sim) quickRestart(name string, exact, announce bool) {
	s.t.Helper()
	n := s.nodes[name]
	out, hold, keys, ok := n.m.QuickRestart(s.now)
	if !ok {
		s.t.Fatalf("%s: QuickRestart refused while idle\n%s", name, strings.Join(s.trace, "\n"))
	}
	s.logf("%s quick restart -R -C %s %v", name, hold, keys)
	if announce {
		s.apply(n, out)
	}
	s.run(100 * time.Millisecond) // the announcement is out before the exec
	running := n.running
	s.down(n)
	n.running = running // the resources keep running through the exec
	saved := s.cfg
	s.cfg.Restarting, s.cfg.InitialHolding = true, hold
	if exact {
		s.cfg.InitialKeys = keys
	}
	s.boot(name)
	s.cfg = saved
}

func resourceActions(n *simNode) []string {
	var out []string
	for _, a := range n.actions {
		if a.Kind == StartGroup || a.Kind == StopGroup {
			out = append(out, a.Kind.String()+" "+a.Key)
		}
	}
	return out
}

// A quick restart moves nothing: neither the restarted node nor its peer
// starts or stops a group, whatever the auto_failback mode and whoever
// held what (home groups, or everything after a standby), and whether
// the restarting node is heartbeat-go (announces, may carry exact keys)
// or heartbeat 3.0.6 (-R -C bits only, no announcement).
func TestQuickRestartMovesNothing(t *testing.T) {
	for _, af := range []AutoFailback{FailbackLegacy, FailbackOn, FailbackOff} {
		for _, standby := range []bool{false, true} {
			for _, who := range []string{"nodea", "nodeb"} {
				for _, mode := range []string{"heartbeat", "bits", "exact"} {
					exact, announce := mode == "exact", mode != "heartbeat"
					t.Run(fmt.Sprintf("%s/standby=%v/%s/%s", af, standby, who, mode), func(t *testing.T) {
						s := newSim(t, af, []string{"nodea", "nodeb"}, twoGroups)
						s.boot("nodea")
						s.boot("nodeb")
						s.run(30 * time.Second)
						if standby && af != FailbackLegacy {
							s.command("nodeb", Command{Kind: Standby, What: "all"})
							s.run(30 * time.Second)
						}
						wantA, wantB := s.where(keyA), s.where(keyB)
						if len(wantA) != 1 || len(wantB) != 1 {
							t.Fatalf("not settled: %s on %v, %s on %v\n%s", keyA, wantA, keyB, wantB, strings.Join(s.trace, "\n"))
						}
						before := map[string]int{}
						for _, n := range s.order {
							before[n] = len(resourceActions(s.nodes[n]))
						}
						s.quickRestart(who, exact, announce)
						s.run(60 * time.Second)
						s.requireAt(keyA, wantA...)
						s.requireAt(keyB, wantB...)
						for _, n := range s.order {
							if got := resourceActions(s.nodes[n]); len(got) != before[n] {
								t.Fatalf("%s ran resource actions after the quick restart: %v\n%s", n, got[before[n]:], strings.Join(s.trace, "\n"))
							}
						}
						r := s.nodes[who].m
						if !r.acqDone {
							t.Fatalf("%s: initial acquisition never completed after the restart\n%s", who, strings.Join(s.trace, "\n"))
						}
						var held []string
						for _, k := range []string{keyA, "Dummy::gb1"} {
							if slices.Contains(s.where(k), who) {
								held = append(held, k)
							}
						}
						if !slices.Equal(r.Held(), held) {
							t.Fatalf("%s believes it holds %v, runs %v", who, r.Held(), held)
						}
						// And the cluster still works: the other node's
						// death is taken over by the restarted one.
						other := "nodea"
						if who == "nodea" {
							other = "nodeb"
						}
						s.crash(other)
						s.run(30 * time.Second)
						s.requireAt(keyA, who)
						s.requireAt(keyB, who)
					})
				}
			}
		}
	}
}

// QuickRestart waits until nothing moves: not before communication is
// up, not during a standby, and it is accepted again once all is settled.
func TestQuickRestartRefusedWhileBusy(t *testing.T) {
	s := newSim(t, FailbackOn, []string{"nodea", "nodeb"}, twoGroups)
	s.boot("nodea")
	if _, _, _, ok := s.nodes["nodea"].m.QuickRestart(s.now); ok {
		t.Fatal("QuickRestart accepted before communication is up")
	}
	s.boot("nodeb")
	s.run(30 * time.Second)
	if _, _, _, ok := s.nodes["nodeb"].m.QuickRestart(s.now); !ok {
		t.Fatal("QuickRestart refused while settled")
	}
	s.command("nodeb", Command{Kind: Standby, What: "all"})
	if _, _, _, ok := s.nodes["nodeb"].m.QuickRestart(s.now); ok {
		t.Fatal("QuickRestart accepted during a standby")
	}
	s.run(30 * time.Second)
	out, hold, keys, ok := s.nodes["nodeb"].m.QuickRestart(s.now)
	if !ok || hold != HoldNone || len(keys) != 0 || len(out.Send) != 1 || out.Send[0].Value(FInfo) != InfoRestart {
		t.Fatalf("after the standby: ok=%v hold=%s keys=%v send=%v", ok, hold, keys, out.Send)
	}
}
