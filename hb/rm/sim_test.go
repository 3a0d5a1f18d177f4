package rm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// The simulated cluster: the harness plays the core (membership with a
// deadtime, perfect in-order broadcast between connected nodes), the
// runtime (one resource action at a time, each taking actionTime) and the
// resources themselves (which groups really run where).

const (
	latency    = 10 * time.Millisecond
	actionTime = 50 * time.Millisecond
	deadTime   = 4 * time.Second
	initDead   = 6 * time.Second
	commUpTime = 500 * time.Millisecond
)

type simEvent struct {
	at   time.Time
	seq  int
	name string
	fn   func()
}

type simNode struct {
	name     string
	m        *Machine
	up       bool
	gen      int
	running  map[string]bool // groups really running here
	sent     []*wire.Message
	events   []Event
	actions  []Action
	exited   bool
	fenced   bool
	restarts int
}

type sim struct {
	t         *testing.T
	now       time.Time
	cfg       Config
	nodes     map[string]*simNode
	order     []string
	cut       map[[2]string]bool
	queue     []*simEvent
	seq       int
	failStart map[string]bool // "node key"
	failStop  map[string]bool
	wakeAt    map[string]time.Time
	splits    map[string]bool // "a b key" pairs in a known split brain
	trace     []string
	deadSeen  map[[2]string]bool // observer -> node known dead
	known     map[[2]string]int  // observer -> generation of the node it last heard
	rng       *rand.Rand         // jitter source (nil: none)
	// maxJitter is added at random to each message's latency, and
	// maxActionJitter to each action's duration (with rng set).
	maxJitter, maxActionJitter time.Duration
	links                      map[[2]string][]pending
}

func groupsFor(spec ...string) []haresources.Group {
	var gs []haresources.Group
	for i, line := range spec {
		f := strings.Fields(line)
		g := haresources.Group{Node: f[0], NodeRaw: f[0], Line: i + 1}
		for _, r := range f[1:] {
			parts := strings.Split(r, "::")
			res := haresources.Resource{Raw: r, Script: parts[0], Args: parts[1:]}
			if len(parts) == 1 && r[0] >= '0' && r[0] <= '9' {
				res.Script, res.Args = "IPaddr", []string{r}
			}
			g.Resources = append(g.Resources, res)
		}
		gs = append(gs, g)
	}
	return gs
}

var twoGroups = groupsFor("nodea 198.18.1.100/24/hb0 Dummy::ga", "nodeb Dummy::gb1 Dummy::gb2")

const (
	keyA = "198.18.1.100/24/hb0"
	keyB = "Dummy::gb1"
)

func newSim(t *testing.T, af AutoFailback, nodes []string, groups []haresources.Group) *sim {
	t.Helper()
	s := &sim{
		t:         t,
		now:       time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		cfg:       Config{Nodes: nodes, Groups: groups, AutoFailback: af},
		nodes:     map[string]*simNode{},
		order:     nodes,
		cut:       map[[2]string]bool{},
		failStart: map[string]bool{},
		failStop:  map[string]bool{},
		wakeAt:    map[string]time.Time{},
		splits:    map[string]bool{},
		deadSeen:  map[[2]string]bool{},
		known:     map[[2]string]int{},
		links:     map[[2]string][]pending{},
	}
	for _, n := range nodes {
		s.nodes[n] = &simNode{name: n, running: map[string]bool{}}
	}
	return s
}

func (s *sim) at(d time.Duration, name string, fn func()) {
	s.seq++
	s.queue = append(s.queue, &simEvent{at: s.now.Add(d), seq: s.seq, name: name, fn: fn})
}

func (s *sim) connected(a, b string) bool {
	if a == b {
		return true
	}
	if a > b {
		a, b = b, a
	}
	return !s.cut[[2]string{a, b}]
}

func (s *sim) logf(format string, a ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%8.3f ", s.now.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).Seconds())+fmt.Sprintf(format, a...))
}

func (s *sim) jitter(max time.Duration) time.Duration {
	if s.rng == nil || max <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(max)))
}

// apply carries out one Output of node n.
func (s *sim) apply(n *simNode, o Output) {
	gen := n.gen
	for _, e := range o.Events {
		n.events = append(n.events, e)
		if e.Level >= Info {
			s.logf("%s %s: %s", n.name, e.Level, e.Text)
		}
	}
	for _, msg := range o.Send {
		msg = msg.Clone()
		msg.Set(wire.FOrig, n.name)
		n.sent = append(n.sent, msg)
		s.logf("%s sends %s", n.name, msgText(msg))
		from := n.name
		for _, peerName := range s.order {
			p := s.nodes[peerName]
			if peerName == from || !p.up {
				continue
			}
			// The core delivers reliably and in order: a message held up
			// by a cut link arrives when the link heals, unless the
			// receiver declared the sender dead meanwhile.
			lk := [2]string{from, peerName}
			due := s.now.Add(latency + s.jitter(s.maxJitter))
			if q := s.links[lk]; len(q) > 0 && q[len(q)-1].due.After(due) {
				due = q[len(q)-1].due // per-link order is kept
			}
			s.links[lk] = append(s.links[lk], pending{msg: msg, due: due, gen: p.gen, sgen: n.gen})
			if len(s.links[lk]) == 1 {
				s.at(due.Sub(s.now), "deliver", func() { s.drain(lk) })
			}
		}
	}
	for _, a := range o.Actions {
		n.actions = append(n.actions, a)
		switch a.Kind {
		case StartGroup, StopGroup:
			a := a
			s.at(actionTime+s.jitter(s.maxActionJitter), "action", func() {
				if !n.up || n.gen != gen {
					return
				}
				r := OK
				if a.Kind == StartGroup {
					if s.failStart[n.name+" "+a.Key] {
						r = Failed
						delete(n.running, a.Key)
					} else {
						n.running[a.Key] = true
					}
				} else {
					if s.failStop[n.name+" "+a.Key] {
						r = StopFailedRun
					} else {
						delete(n.running, a.Key)
					}
				}
				s.logf("%s %s %s -> %v", n.name, a.Kind, a.Key, r)
				s.check()
				s.apply(n, n.m.Done(s.now, a.ID, r))
			})
		case Exit:
			s.logf("%s exits", n.name)
			n.exited = true
			s.down(n)
		case Restart:
			s.logf("%s restarts", n.name)
			n.restarts++
			s.down(n)
			s.at(deadTime+time.Second, "restart", func() { s.boot(n.name) })
		case FenceSelf:
			s.logf("%s fences itself", n.name)
			n.fenced = true
			n.running = map[string]bool{}
			s.down(n)
		}
	}
	if !o.Wake.IsZero() && n.up && n.gen == gen {
		if w, ok := s.wakeAt[n.name]; !ok || !w.Equal(o.Wake) {
			s.wakeAt[n.name] = o.Wake
			wake := o.Wake
			s.seq++
			s.queue = append(s.queue, &simEvent{at: wake, seq: s.seq, name: "tick", fn: func() {
				if n.up && n.gen == gen && s.wakeAt[n.name].Equal(wake) {
					delete(s.wakeAt, n.name)
					s.apply(n, n.m.Tick(s.now))
				}
			}})
		}
	}
	s.check()
}

func msgText(m *wire.Message) string {
	var b []string
	for _, f := range m.Fields {
		if f.Name == wire.FOrig {
			continue
		}
		b = append(b, f.Name+"="+string(f.Value))
	}
	return strings.Join(b, " ")
}

type pending struct {
	msg *wire.Message
	due time.Time
	gen int
	// sgen is the sender's generation: once the receiver heard a newer
	// one, older messages are dropped (as the core does).
	sgen int
}

// drain delivers what is due on one link, in order.
func (s *sim) drain(lk [2]string) {
	from, to := lk[0], lk[1]
	p := s.nodes[to]
	for len(s.links[lk]) > 0 {
		head := s.links[lk][0]
		if !p.up || p.gen != head.gen || s.deadSeen[[2]string{to, from}] || s.known[[2]string{to, from}] > head.sgen {
			s.links[lk] = s.links[lk][1:] // receiver gone or sender declared dead: lost
			continue
		}
		if head.due.After(s.now) {
			s.at(head.due.Sub(s.now), "deliver", func() { s.drain(lk) })
			return
		}
		if !s.connected(from, to) {
			s.at(100*time.Millisecond, "deliver", func() { s.drain(lk) })
			return
		}
		s.links[lk] = s.links[lk][1:]
		s.apply(p, p.m.Receive(s.now, head.msg))
	}
}

// down stops a node's daemon (its process ends; after a graceful exit its
// groups are already stopped). Peers notice after deadtime, or at once
// for a shutdone they already got.
func (s *sim) down(n *simNode) {
	if !n.up {
		return
	}
	n.up = false
	n.gen++
	delete(s.wakeAt, n.name)
	s.notifyDeath(n.name, deadTime)
}

func (s *sim) notifyDeath(name string, after time.Duration) {
	for _, o := range s.order {
		if o == name {
			continue
		}
		obs := s.nodes[o]
		ogen := obs.gen
		target := name
		s.at(after, "dead", func() {
			d := s.nodes[target]
			// Still dead (or still unreachable) when the deadtime expires.
			// Still silent when the deadtime expires (a node that came
			// back meanwhile was seen restarting instead).
			if obs.up && obs.gen == ogen && (!d.up || !s.connected(target, obs.name)) && !s.deadSeen[[2]string{obs.name, target}] {
				s.deadSeen[[2]string{obs.name, target}] = true
				s.apply(obs, obs.m.NodeStatus(s.now, target, StatusDead))
			}
		})
	}
}

// crash powers a node off: its groups vanish with it.
func (s *sim) crash(name string) {
	n := s.nodes[name]
	s.logf("%s crashes", name)
	n.running = map[string]bool{}
	s.down(n)
}

// boot starts a node's daemon.
func (s *sim) boot(name string) {
	n := s.nodes[name]
	if n.up {
		return // already running (booted by the test before a scheduled restart)
	}
	cfg := s.cfg
	cfg.Local = name
	m, err := New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	n.m = m
	n.up = true
	// The new daemon has heard nobody yet.
	for _, o := range s.order {
		delete(s.known, [2]string{name, o})
		delete(s.deadSeen, [2]string{name, o})
	}
	// A split brain involving this node ended with its restart.
	for k := range s.splits {
		if strings.HasPrefix(k, name+" ") || strings.Contains(k, " "+name+" ") {
			delete(s.splits, k)
		}
	}
	n.gen++
	n.exited = false
	gen := n.gen
	s.logf("%s boots", name)
	anyMissing := false
	for _, o := range s.order {
		if o == name {
			continue
		}
		obs := s.nodes[o]
		if obs.up && s.connected(name, o) {
			// Each sees the other; the peer sees us restart.
			delete(s.deadSeen, [2]string{o, name})
			delete(s.deadSeen, [2]string{name, o})
			ogen := obs.gen
			s.at(latency, "hello", func() {
				if !obs.up || obs.gen != ogen || !n.up || n.gen != gen {
					return
				}
				s.known[[2]string{o, name}] = gen
				s.known[[2]string{name, o}] = ogen
				s.apply(obs, obs.m.PeerRestarted(s.now, name))
				s.apply(obs, obs.m.NodeStatus(s.now, name, StatusUp))
				s.apply(n, n.m.NodeStatus(s.now, o, StatusActive))
			})
			s.at(commUpTime, "active", func() {
				if obs.up && obs.gen == ogen && n.up && n.gen == gen {
					s.apply(obs, obs.m.NodeStatus(s.now, name, StatusActive))
				}
			})
		} else {
			anyMissing = true
			target := o
			s.at(initDead, "initdead", func() {
				if n.up && n.gen == gen && !(s.nodes[target].up && s.connected(name, target)) {
					s.deadSeen[[2]string{name, target}] = true
					s.apply(n, n.m.NodeStatus(s.now, target, StatusDead))
				}
			})
		}
	}
	_ = anyMissing
	commUp := func(force bool) func() {
		return func() {
			if !n.up || n.gen != gen || n.m.commUp {
				return
			}
			for _, o := range s.order {
				if o != name && !(s.nodes[o].up && s.connected(name, o)) && !force {
					return
				}
			}
			s.apply(n, n.m.NodeStatus(s.now, name, StatusActive))
		}
	}
	s.at(commUpTime, "commup", commUp(false))
	s.at(initDead, "commup", commUp(true))
}

func (s *sim) command(name string, c Command) {
	n := s.nodes[name]
	s.logf("%s command %v %s", name, c.Kind, c.What)
	s.apply(n, n.m.Command(s.now, c))
}

// partition cuts every link between the two sets.
func (s *sim) partition(a, b []string) {
	s.logf("partition %v | %v", a, b)
	for _, x := range a {
		for _, y := range b {
			k := [2]string{x, y}
			if x > y {
				k = [2]string{y, x}
			}
			s.cut[k] = true
		}
	}
	for _, x := range a {
		for _, y := range b {
			s.deathAfterCut(x, y)
			s.deathAfterCut(y, x)
		}
	}
}

func (s *sim) deathAfterCut(obs, target string) {
	o := s.nodes[obs]
	ogen := o.gen
	s.at(deadTime, "dead", func() {
		if o.up && o.gen == ogen && !s.connected(obs, target) && !s.deadSeen[[2]string{obs, target}] {
			s.deadSeen[[2]string{obs, target}] = true
			s.apply(o, o.m.NodeStatus(s.now, target, StatusDead))
		}
	})
}

// heal restores every link; nodes that saw each other dead see them
// active again without a restart (heartbeat's "returning after partition").
func (s *sim) heal() {
	s.logf("heal")
	for k := range s.cut {
		a, b := s.nodes[k[0]], s.nodes[k[1]]
		delete(s.cut, k)
		for _, pr := range [][2]*simNode{{a, b}, {b, a}} {
			obs, tgt := pr[0], pr[1]
			if !obs.up || !tgt.up {
				continue
			}
			// Groups both sides run or are starting: a true split brain,
			// which only the restart after the heal resolves.
			busy := func(n *simNode) map[string]bool {
				b := map[string]bool{}
				for k := range n.running {
					b[k] = true
				}
				for _, k := range n.m.Claimed() {
					b[k] = true
				}
				if n.m.running != nil && n.m.running.Kind == StartGroup {
					b[n.m.running.Key] = true
				}
				return b
			}
			bo, bt := busy(obs), busy(tgt)
			for key := range bo {
				if bt[key] {
					s.splits[obs.name+" "+tgt.name+" "+key] = true
				}
			}
			kk := [2]string{obs.name, tgt.name}
			if s.deadSeen[kk] {
				// obs declared a live node dead: a true split brain, until
				// one of them restarts (heartbeat cannot prevent it either).
				s.splits[obs.name+" "+tgt.name+" *"] = true
			}
			restarted := s.known[kk] != tgt.gen
			if s.deadSeen[kk] || restarted {
				delete(s.deadSeen, kk)
				s.known[kk] = tgt.gen
				ogen := obs.gen
				name := tgt.name
				s.at(latency, "return", func() {
					if obs.up && obs.gen == ogen {
						if restarted {
							s.apply(obs, obs.m.PeerRestarted(s.now, name))
						}
						s.apply(obs, obs.m.NodeStatus(s.now, name, StatusActive))
					}
				})
			}
		}
	}
}

// check is the safety invariant: no group runs on two connected nodes,
// except a true split brain still being resolved.
func (s *sim) check() {
	s.t.Helper()
	for i, a := range s.order {
		for _, b := range s.order[i+1:] {
			na, nb := s.nodes[a], s.nodes[b]
			if !s.connected(a, b) {
				continue
			}
			for k := range na.running {
				if !nb.running[k] {
					continue
				}
				if s.splits[a+" "+b+" "+k] || s.splits[b+" "+a+" "+k] || s.splits[a+" "+b+" *"] || s.splits[b+" "+a+" *"] {
					continue
				}
				s.t.Fatalf("group %s runs on both %s and %s at %v\n%s", k, a, b, s.now, strings.Join(s.trace, "\n"))
			}
		}
	}
}

// run processes events until d has passed.
func (s *sim) run(d time.Duration) {
	end := s.now.Add(d)
	for steps := 0; ; steps++ {
		if steps > 200000 {
			s.t.Fatalf("simulation does not settle\n%s", strings.Join(s.trace[max(0, len(s.trace)-80):], "\n"))
		}
		if len(s.queue) == 0 {
			break
		}
		sort.SliceStable(s.queue, func(i, j int) bool {
			if !s.queue[i].at.Equal(s.queue[j].at) {
				return s.queue[i].at.Before(s.queue[j].at)
			}
			return s.queue[i].seq < s.queue[j].seq
		})
		e := s.queue[0]
		if e.at.After(end) {
			break
		}
		s.queue = s.queue[1:]
		if e.at.After(s.now) {
			s.now = e.at
		}
		e.fn()
	}
	s.now = end
}

// where returns the nodes running key.
func (s *sim) where(key string) []string {
	var out []string
	for _, n := range s.order {
		if s.nodes[n].running[key] {
			out = append(out, n)
		}
	}
	return out
}

func (s *sim) requireAt(key string, nodes ...string) {
	s.t.Helper()
	if got := s.where(key); !slices.Equal(got, nodes) {
		s.t.Fatalf("group %s runs on %v, want %v\n%s", key, got, nodes, strings.Join(s.trace, "\n"))
	}
}

// firstRun returns when key first ran on node (from the trace), or -1.
func (s *sim) hasEvent(node string, kind EventKind) bool {
	for _, e := range s.nodes[node].events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

func (s *sim) sentTypes(node string) []string {
	var out []string
	for _, m := range s.nodes[node].sent {
		out = append(out, msgText(m))
	}
	return out
}
