package rm

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/wire"
)

var randomSeeds = flag.Int("rm.seeds", 0, "number of random histories per mode (default 150)")

// Random operator and failure sequences: the invariant (no group on two
// connected nodes) is checked at every step by the simulation; after a
// quiet period with every node up, every group runs exactly once.
func TestRandomHistories(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 30
	}
	if *randomSeeds > 0 {
		seeds = *randomSeeds
	}
	const withPartitions = true
	for _, nodes := range [][]string{{"nodea", "nodeb"}, {"nodea", "nodeb", "nodec"}} {
		groups := twoGroups
		if len(nodes) == 3 {
			groups = groupsFor("nodea 198.18.1.100/24/hb0 Dummy::ga", "nodeb Dummy::gb1 Dummy::gb2", "nodec Dummy::gc")
		}
		for _, af := range allModes {
			for seed := 1; seed <= seeds; seed++ {
				name := fmt.Sprintf("%dnodes/%s/seed%d", len(nodes), af, seed)
				t.Run(name, func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(seed), uint64(len(nodes))))
					s := newSim(t, af, nodes, groups)
					s.rng = rand.New(rand.NewPCG(uint64(seed), 99))
					s.maxJitter = time.Duration(r.IntN(3)) * 20 * time.Millisecond
					s.maxActionJitter = time.Duration(r.IntN(3)) * 400 * time.Millisecond
					// Start-up: all at once or staggered.
					for _, n := range nodes {
						s.boot(n)
						s.run(time.Duration(r.IntN(3000)) * time.Millisecond)
					}
					for step := 0; step < 8; step++ {
						n := nodes[r.IntN(len(nodes))]
						node := s.nodes[n]
						switch k := r.IntN(7); {
						case !node.up:
							s.boot(n)
						case k == 0:
							s.crash(n)
						case k == 1:
							s.command(n, Command{Kind: Shutdown})
						case k == 2:
							s.command(n, Command{Kind: Standby, What: []string{"", "all", "local", "foreign"}[r.IntN(4)]})
						case k == 3:
							s.command(n, Command{Kind: Takeover, What: []string{"", "all", "local", "foreign", "failback"}[r.IntN(5)]})
						case k == 4 && withPartitions:
							// Cut one node off for a while, then heal.
							var rest []string
							for _, o := range nodes {
								if o != n {
									rest = append(rest, o)
								}
							}
							s.partition([]string{n}, rest)
							s.run(time.Duration(r.IntN(10000)) * time.Millisecond)
							s.heal()
						case k == 5:
							// Two commands at once on two nodes.
							o := nodes[(slices.Index(nodes, n)+1)%len(nodes)]
							if s.nodes[o].up {
								s.command(n, Command{Kind: Standby})
								s.command(o, Command{Kind: Takeover, What: "local"})
							}
						default:
							// just time passing
						}
						s.run(time.Duration(r.IntN(8000)) * time.Millisecond)
					}
					for _, n := range nodes {
						if !s.nodes[n].up {
							s.boot(n)
						}
					}
					s.run(60 * time.Second)
					for _, g := range groups {
						if w := s.where(g.Key()); len(w) != 1 {
							t.Fatalf("group %s runs on %v after settling\n%s", g.Key(), w, strings.Join(s.trace, "\n"))
						}
					}
					for _, n := range nodes {
						if s.nodes[n].m.Busy() {
							t.Fatalf("%s still busy", n)
						}
					}
				})
			}
		}
	}
}

// Whatever arrives, in whatever order, the machine neither panics nor
// hangs, and its outputs are well-formed.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add([]byte("starting resource all full 1 ask_resources me other done shutdone"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, af := range allModes {
			nodes := []string{"nodea", "nodeb"}
			if len(data) > 0 && data[0]&1 == 1 {
				nodes = append(nodes, "nodec")
			}
			m, err := New(Config{Local: "nodea", Nodes: nodes, Groups: twoGroups, AutoFailback: af})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(1000, 0)
			var pending []uint64
			words := []string{"", "none", "local", "foreign", "all", "failback", "me", "other", "done", "full", "0", "1",
				"nodea", "nodeb", "nodec", keyA, keyB, "bogus", "OK", "yes", "no", "shutdown", "mach_down", "standby"}
			types := []string{TStarting, TResource, TAskResources, THBTakeover, TShutdone, TIPRequest, TIPRequestResp, TStonith, "custom"}
			pick := func(i int) string {
				if i < len(data) {
					return words[int(data[i])%len(words)]
				}
				return ""
			}
			check := func(o Output) {
				for _, a := range o.Actions {
					switch a.Kind {
					case StartGroup, StopGroup:
						if _, ok := m.byKey[a.Key]; !ok || a.ID == 0 {
							t.Fatalf("bad action %+v", a)
						}
						pending = append(pending, a.ID)
					case RunEvent:
						if a.Msg == nil || a.Msg.Value(wire.FType) == "" {
							t.Fatalf("event without message")
						}
					}
				}
				for _, msg := range o.Send {
					if msg.Value(wire.FType) == "" {
						t.Fatalf("message without type")
					}
				}
				if !o.Wake.IsZero() && o.Wake.Before(now) {
					t.Fatalf("wake %v in the past (now %v)", o.Wake, now)
				}
			}
			for i := 0; i+3 < len(data); i += 4 {
				now = now.Add(time.Duration(data[i+1]) * 50 * time.Millisecond)
				switch data[i] % 8 {
				case 0:
					check(m.NodeStatus(now, pick(i+2), []Status{StatusInit, StatusUp, StatusActive, StatusDead}[data[i+3]%4]))
				case 1:
					msg := &wire.Message{}
					msg.Add(wire.FType, types[int(data[i+2])%len(types)])
					msg.Add(wire.FOrig, []string{"nodeb", "nodec", "nodea", "x"}[data[i+3]%4])
					msg.Add(FRscHold, pick(i+3))
					msg.Add(FInfo, pick(i+2))
					msg.Add(FIsStable, pick(i+1))
					msg.Add(FIPAddr, pick(i))
					msg.Add(FRType, pick(i+3))
					if data[i+3]&8 != 0 {
						msg.Add(FRscKeys, pick(i)+" "+pick(i+1))
					}
					check(m.Receive(now, msg))
				case 2:
					if len(pending) > 0 {
						id := pending[0]
						pending = pending[1:]
						check(m.Done(now, id, Result(data[i+2]%3)))
					}
				case 3:
					check(m.Command(now, Command{Kind: CommandKind(data[i+2]%4 + 1), What: pick(i + 3)}))
				case 4:
					check(m.PeerRestarted(now, pick(i+2)))
				default:
					check(m.Tick(now))
				}
				_ = m.Holding()
			}
		}
	})
}

var failuresSeen int

// Random histories where starts and stops fail: only safety is checked
// (a failed group may legitimately stay down).
func TestRandomHistoriesWithFailures(t *testing.T) {
	seeds := 100
	if *randomSeeds > 0 {
		seeds = *randomSeeds
	}
	failuresSeen = 0
	defer func() {
		if failuresSeen == 0 && !t.Failed() {
			t.Error("no start or stop failure happened: the test tests nothing")
		}
	}()
	for _, nodes := range [][]string{{"nodea", "nodeb"}, {"nodea", "nodeb", "nodec"}} {
		groups := twoGroups
		if len(nodes) == 3 {
			groups = groupsFor("nodea 198.18.1.100/24/hb0 Dummy::ga", "nodeb Dummy::gb1 Dummy::gb2", "nodec Dummy::gc")
		}
		for _, af := range allModes {
			for seed := 1; seed <= seeds; seed++ {
				t.Run(fmt.Sprintf("%dnodes/%s/seed%d", len(nodes), af, seed), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(seed), 7))
					s := newSim(t, af, nodes, groups)
					s.rng = rand.New(rand.NewPCG(uint64(seed), 8))
					s.maxJitter = 20 * time.Millisecond
					s.maxActionJitter = 300 * time.Millisecond
					for _, n := range nodes {
						s.boot(n)
					}
					for step := 0; step < 10; step++ {
						n := nodes[r.IntN(len(nodes))]
						g := groups[r.IntN(len(groups))].Key()
						switch k := r.IntN(6); {
						case !s.nodes[n].up:
							s.boot(n)
						case k == 0:
							s.failStart[n+" "+g] = !s.failStart[n+" "+g]
						case k == 1:
							s.failStop[n+" "+g] = !s.failStop[n+" "+g]
						case k == 2:
							s.crash(n)
						case k == 3:
							s.command(n, Command{Kind: Standby})
						case k == 4:
							s.command(n, Command{Kind: Shutdown})
						}
						s.run(time.Duration(r.IntN(8000)) * time.Millisecond)
					}
					s.run(45 * time.Second)
					for _, l := range s.trace {
						if strings.Contains(l, "-> 1") || strings.Contains(l, "-> 2") || strings.Contains(l, "fences itself") {
							failuresSeen++
						}
					}
				})
			}
		}
	}
}
