// Package sim runs several core.Nodes over a memnet network with a virtual
// clock, in one goroutine: each step jumps to the earliest of the next
// packet arrival and the nodes' Wake times, delivers what is due, ticks who
// is due, and feeds the outputs back into the network. Invariants are
// checked at every step:
//
//   - every delivered message is the very message its sender sent
//     (authentic, unmodified) and is addressed to the receiver;
//   - from each sender (and generation) a receiver gets each message at
//     most once and in increasing sequence order;
//   - a message skipped over (a hole) is recorded; RequireNoHoles and
//     RequireInOrderExactlyOnce fail on holes.
//
// Runs are deterministic: one seed drives the network and every node. The
// seed is logged when a test fails, so any run replays exactly.
//
// Cost (BenchmarkCluster16: 16 nodes, network and checks included, CPU
// time from getrusage, on a shared 2-core VM, 2026-11-24): keepalive 1 s:
// about 1.7 ms CPU and 6 allocations per node per simulated minute;
// keepalive 100 ms: about 12 ms and 35; keepalive 1 s with 30% loss on
// every link: about 2.5 ms and 235 (retransmission requests and answers
// reach every node). A whole 10-minute, 16-node, 30%-loss run with
// application messages (TestNoFalseDeathsUnderLoss) makes about a million
// deliveries and takes about 0.45-0.5 s on that machine, started cold (0.75
// s before the November 24 tuning, 1.5 s before the November 23 one). The
// time goes to the core (Receive about 40%, Tick under 10%), the network
// (about 20%), the runtime's allocation and collection (about 15%) and the
// simulator's own stepping and checks.
package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/hb/wire"
	"github.com/heartbeat-go/heartbeat/media/memnet"
)

// Options of a simulation. Zero values take the defaults noted.
type Options struct {
	Nodes int      // number of nodes (default 2), named n01, n02, ...
	Seed  uint64   // drives the network and every node
	Media []string // media every node is on (default "eth0")

	Keepalive      time.Duration // default 1 s
	DeadTime       time.Duration // default 10 s
	WarnTime       time.Duration // default deadtime/2
	InitDead       time.Duration // default as heartbeat computes it
	MaxRexmitDelay time.Duration // default 250 ms

	Delay  time.Duration // network transit time (default 1 ms)
	Jitter time.Duration // extra uniform delay (default 2 ms)

	// AppEvery makes every node send a cluster message ("t=simapp") this
	// often, one in four of them to a single other node (default: none).
	AppEvery time.Duration
	// Capture keeps every message each node sends, for replay tests.
	Capture bool
	// KeepDelivered keeps Delivered events in Node.Events (they are always
	// checked, but not kept by default: there are many).
	KeepDelivered bool
	// KeepGaps keeps Lost and NoneMissing events in Node.Events (one per
	// gap opened and closed: tens of thousands in a lossy run, and costly
	// to keep); without it they are only counted in Node.Gaps.
	KeepGaps bool
	// HeartbeatLiveness passes core.Config.HeartbeatLiveness to every node.
	HeartbeatLiveness bool
	// Start is the virtual start time (default 2026-11-23 00:00 UTC).
	Start time.Time
}

// Timed is an event with the node that emitted it and when.
type Timed struct {
	At    time.Time
	Node  string
	Event core.Event
}

// pkt is what the simulated network carries: the message, with what the
// checks need from it read once when it is sent rather than at each of its
// deliveries.
type pkt struct {
	msg *wire.Message
	// rexmitTo is the index of the node an NS_rexmit asks (-1: not an
	// NS_rexmit, or for no simulated node); first..last its range.
	rexmitTo    int
	first, last uint64
}

type sentRec struct {
	msg  *wire.Message
	dest string // "" = everyone
	at   time.Time
}

// sentLog is what a node sent in one generation: recs[seq-1] (msg nil for
// a number never sent).
type sentLog struct {
	recs []sentRec
	last uint64 // highest seq sent
}

func (l *sentLog) get(seq uint64) (sentRec, bool) {
	if l == nil || seq == 0 || seq > uint64(len(l.recs)) || l.recs[seq-1].msg == nil {
		return sentRec{}, false
	}
	return l.recs[seq-1], true
}

// stream is how far a receiver got in one sender's generation.
type stream struct {
	gen, seq uint64
}

// Node is one simulated node.
type Node struct {
	Name    string
	Core    *core.Node
	Gen     uint64
	UUID    [16]byte
	Up      bool
	Crashed bool    // was ever crashed
	Events  []Timed // Delivered events only with Options.KeepDelivered, Lost and NoneMissing with KeepGaps
	Gaps    int     // Lost events (gaps seen in other nodes' sequences)
	// DeliveredFromOthers counts messages delivered from other nodes.
	DeliveredFromOthers int
	// RexmitAboveMax lists the NS_rexmit requests addressed to this node
	// that asked for a seq above the highest it had sent in its current
	// generation when they arrived (heartbeat 3.0.6 logs "Rexmit of seq
	// N requested. M is max." for each), as "time from first-last max M".
	// Most are a probe racing a restart: sent while the node was down or
	// booting, before its sender could know of the new generation.
	RexmitAboveMax []string
	// RexmitStale lists the NS_rexmit requests for this node that another
	// node sent although it had already heard from this node's current
	// generation, asking for a seq that generation had not sent: requests
	// from stale sequence state (a bug in the core).
	RexmitStale []string
	Outbox      []*wire.Message // with Options.Capture

	idx       int
	wake      time.Time
	wakeNs    int64 // wake - Options.Start, for cheap comparisons
	nextApp   time.Time
	nextAppNs int64
	sent      map[uint64]*sentLog // by generation
	// delivered holds, per sender index, the highest seq delivered from
	// each of its generations.
	delivered [][]stream
}

// Sim is a running simulation.
type Sim struct {
	T          testing.TB
	O          Options
	Net        *memnet.Network[*pkt]
	Now        time.Time
	Nodes      []*Node
	byName     map[string]*Node
	rng        *rand.Rand
	violations []string
	holes      []string
	pkts       []memnet.Packet[*pkt]
	names      []string
	steps      int
	// The earliest wake or app time of any up node (nodeMinNs as ns), when
	// minOK: most steps only deliver a packet, and need not look at every
	// node.
	nodeMin   time.Time
	nodeMinNs int64
	minOK     bool
	pktMem    []pkt // see newPkt
}

// New builds a simulation; nodes start at the first step.
func New(t testing.TB, o Options) *Sim {
	t.Helper()
	if o.Nodes == 0 {
		o.Nodes = 2
	}
	if len(o.Media) == 0 {
		o.Media = []string{"eth0"}
	}
	if o.Keepalive == 0 {
		o.Keepalive = time.Second
	}
	if o.DeadTime == 0 {
		o.DeadTime = 10 * time.Second
	}
	if o.Delay == 0 {
		o.Delay = time.Millisecond
	}
	if o.Jitter == 0 {
		o.Jitter = 2 * time.Millisecond
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	}
	if y := o.Start.Year(); y < 1700 || y > 2200 {
		t.Fatalf("sim: Options.Start %v out of range (1700..2200)", o.Start)
	}
	s := &Sim{T: t, O: o, Now: o.Start, byName: map[string]*Node{}, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed))}
	s.Net = memnet.New[*pkt](rand.New(rand.NewPCG(o.Seed, 1)))
	s.Net.SetDelay(memnet.AllLinks, o.Delay, o.Jitter)
	for i := range o.Nodes {
		s.names = append(s.names, fmt.Sprintf("n%02d", i+1))
	}
	for i, name := range s.names {
		nd := &Node{Name: name, Gen: 0x6b03b72e + uint64(i), idx: i}
		nd.UUID[0], nd.UUID[15] = byte(i+1), 0xee
		s.Nodes = append(s.Nodes, nd)
		s.byName[name] = nd
		s.Net.Attach(name, o.Media...)
		s.boot(nd)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sim: seed %d, %d nodes, virtual time %v, %d steps", o.Seed, o.Nodes, s.Now.Sub(o.Start), s.steps)
		}
	})
	return s
}

func (s *Sim) boot(nd *Node) {
	cfg := core.Config{
		Node: nd.Name, UUID: nd.UUID, Generation: nd.Gen, Nodes: s.names, Media: s.O.Media,
		Keepalive: s.O.Keepalive, DeadTime: s.O.DeadTime, WarnTime: s.O.WarnTime, InitDead: s.O.InitDead,
		MaxRexmitDelay:    s.O.MaxRexmitDelay,
		Rand:              rand.New(rand.NewPCG(s.O.Seed, nd.Gen)),
		HeartbeatLiveness: s.O.HeartbeatLiveness,
	}
	c, err := core.New(cfg)
	if err != nil {
		s.T.Fatalf("sim: %v", err)
	}
	nd.Core = c
	nd.Up = true
	s.minOK = false
	// Nodes do not start in lockstep.
	s.setWake(nd, s.Now.Add(time.Duration(s.rng.Int64N(int64(s.O.Keepalive)))))
	nd.sent = map[uint64]*sentLog{nd.Gen: {}}
	nd.delivered = make([][]stream, len(s.names))
	if s.O.AppEvery > 0 {
		s.setNextApp(nd, nd.wake.Add(time.Duration(s.rng.Int64N(int64(s.O.AppEvery)))))
	}
}

// ns is t as a number for the hot loop: Unix nanoseconds, cheaper than
// time.Sub (the zero time, before everything, is math.MinInt64). Virtual
// times are between 1678 and 2262.
func (s *Sim) ns(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

func (s *Sim) setWake(nd *Node, t time.Time) {
	if t != nd.wake {
		old := nd.wakeNs
		nd.wake, nd.wakeNs = t, s.ns(t)
		s.moved(nd, old, nd.wake, nd.wakeNs)
	}
}

func (s *Sim) setNextApp(nd *Node, t time.Time) {
	old := nd.nextAppNs
	nd.nextApp, nd.nextAppNs = t, s.ns(t)
	s.moved(nd, old, nd.nextApp, nd.nextAppNs)
}

// moved keeps nodeMin up to date when one of nd's times went from old to t.
func (s *Sim) moved(nd *Node, old int64, t time.Time, tNs int64) {
	switch {
	case !s.minOK || !nd.Up:
	case !t.IsZero() && tNs < s.nodeMinNs:
		s.nodeMin, s.nodeMinNs = t, tNs
	case old == s.nodeMinNs:
		s.minOK = false // it may have been the earliest
	}
}

// earliest computes nodeMin when it is not known.
func (s *Sim) earliest() {
	if s.minOK {
		return
	}
	s.nodeMin, s.nodeMinNs = time.Time{}, math.MaxInt64
	for _, nd := range s.Nodes {
		if !nd.Up {
			continue
		}
		if nd.wakeNs < s.nodeMinNs {
			s.nodeMin, s.nodeMinNs = nd.wake, nd.wakeNs
		}
		if !nd.nextApp.IsZero() && nd.nextAppNs < s.nodeMinNs {
			s.nodeMin, s.nodeMinNs = nd.nextApp, nd.nextAppNs
		}
	}
	s.minOK = true
}

// Node returns the named node (n01, n02, ...).
func (s *Sim) Node(name string) *Node { return s.byName[name] }

// Names returns the node names.
func (s *Sim) Names() []string { return slices.Clone(s.names) }

// Run advances the simulation by d.
func (s *Sim) Run(d time.Duration) { s.RunUntil(s.Now.Add(d), nil) }

// RunUntil runs until deadline or until cond (checked after every step)
// holds; it reports whether cond held.
func (s *Sim) RunUntil(deadline time.Time, cond func() bool) bool {
	for {
		if cond != nil && cond() {
			return true
		}
		if !s.step(deadline) {
			s.Now = deadline
			return cond != nil && cond()
		}
	}
}

func (s *Sim) step(limit time.Time) bool {
	// Times are compared as nanoseconds since Options.Start; the
	// earliest's time.Time is what the nodes are given.
	next, nextNs := limit, s.ns(limit)
	found := false
	if at, ok := s.Net.Next(); ok {
		if a := s.ns(at); a <= nextNs {
			next, nextNs, found = at, a, true
		}
	}
	s.earliest()
	if s.nodeMinNs < nextNs || !found && s.nodeMinNs == nextNs && s.nodeMinNs != math.MaxInt64 {
		next, nextNs, found = s.nodeMin, s.nodeMinNs, true
	}
	if !found {
		return false
	}
	if nextNs < s.ns(s.Now) {
		s.T.Fatalf("sim: time went backwards: %v < %v", next, s.Now)
	}
	s.Now = next
	s.steps++
	s.pkts = s.Net.Deliver(next, s.pkts[:0])
	for _, p := range s.pkts {
		var nd *Node
		if p.ToIndex < len(s.Nodes) && s.Nodes[p.ToIndex].Name == p.To {
			nd = s.Nodes[p.ToIndex] // attached in this order
		} else {
			nd = s.byName[p.To]
		}
		if nd == nil || !nd.Up {
			continue
		}
		if p.Payload.rexmitTo == nd.idx {
			s.checkRexmitRequest(nd, p.Payload)
		}
		s.handle(nd, nd.Core.Receive(next, p.Medium, p.Payload.msg))
	}
	if s.earliest(); s.nodeMinNs > nextNs {
		return true // no node is due
	}
	for _, nd := range s.Nodes {
		if !nd.Up {
			continue
		}
		if !nd.nextApp.IsZero() && nd.nextAppNs <= nextNs {
			s.sendApp(nd)
		}
		if nd.wakeNs <= nextNs {
			s.handle(nd, nd.Core.Tick(next))
			if nd.wakeNs <= nextNs {
				s.T.Fatalf("sim: %s asks to wake at %v, not after now %v", nd.Name, nd.wake, next)
			}
		}
	}
	return true
}

func (s *Sim) sendApp(nd *Node) {
	s.setNextApp(nd, nd.nextApp.Add(s.O.AppEvery))
	m := &wire.Message{}
	m.Add(wire.FType, "simapp")
	if s.rng.IntN(4) == 0 {
		to := s.names[s.rng.IntN(len(s.names))]
		m.Add(wire.FTo, to)
	}
	m.Add("n", strconv.Itoa(s.steps))
	s.handle(nd, nd.Core.Command(s.Now, core.Send{Msg: m}))
}

// rexmitRange returns an NS_rexmit's destination and range.
func rexmitRange(m *wire.Message) (to string, first, last uint64, ok bool) {
	t, _ := m.GetBytes(wire.FType)
	if string(t) != core.TypeRexmit {
		return "", 0, 0, false
	}
	tb, _ := m.GetBytes(wire.FTo)
	fb, _ := m.GetBytes(wire.FFirstSeq)
	lb, _ := m.GetBytes(wire.FLastSeq)
	first, err1 := strconv.ParseUint(string(fb), 10, 64)
	last, err2 := strconv.ParseUint(string(lb), 10, 64)
	return string(tb), first, last, err1 == nil && err2 == nil
}

// newPkt wraps m for the network, noting where an NS_rexmit goes.
func (s *Sim) newPkt(m *wire.Message) *pkt {
	if len(s.pktMem) == 0 {
		s.pktMem = make([]pkt, 256) // one allocation per 256 sends
	}
	k := &s.pktMem[0]
	s.pktMem = s.pktMem[1:]
	*k = pkt{msg: m, rexmitTo: -1}
	if to, first, last, ok := rexmitRange(m); ok {
		if dst := s.byName[to]; dst != nil {
			k.rexmitTo, k.first, k.last = dst.idx, first, last
		}
	}
	return k
}

// checkRexmitSent notes an NS_rexmit that nd sends to a node whose current
// generation it knows, asking for more than that generation has sent.
func (s *Sim) checkRexmitSent(nd *Node, k *pkt) {
	if k.rexmitTo < 0 {
		return
	}
	dst := s.Nodes[k.rexmitTo]
	to, first, last := dst.Name, k.first, k.last
	if !dst.Up || last <= dst.sent[dst.Gen].last {
		return
	}
	for _, ni := range nd.Core.Nodes() {
		if ni.Name == to && ni.Generation == dst.Gen {
			dst.RexmitStale = append(dst.RexmitStale, fmt.Sprintf("%v %s %d-%d max %d", s.Now.Sub(s.O.Start), nd.Name, first, last, dst.sent[dst.Gen].last))
		}
	}
}

// checkRexmitRequest notes an NS_rexmit for nd (k.rexmitTo is nd) asking
// for more than nd's current generation has sent.
func (s *Sim) checkRexmitRequest(nd *Node, k *pkt) {
	first, last := k.first, k.last
	if max := nd.sent[nd.Gen].last; last > max {
		src, _ := k.msg.GetBytes(wire.FOrig)
		nd.RexmitAboveMax = append(nd.RexmitAboveMax, fmt.Sprintf("%v %s %d-%d max %d", s.Now.Sub(s.O.Start), src, first, last, max))
	}
}

// Command passes a command to a node and handles its output.
func (s *Sim) Command(name string, c core.Command) {
	nd := s.byName[name]
	s.handle(nd, nd.Core.Command(s.Now, c))
}

// Inject hands message m to node name as if it arrived on medium now (a
// forged or replayed packet that passed authentication). It returns the
// core's drop reason.
func (s *Sim) Inject(name, medium string, m *wire.Message) core.DropReason {
	nd := s.byName[name]
	out := nd.Core.Receive(s.Now, medium, m)
	drop := out.Drop
	s.handle(nd, out)
	return drop
}

func (s *Sim) handle(nd *Node, out core.Output) {
	s.setWake(nd, out.Wake)
	for _, o := range out.Send {
		k := s.newPkt(o.Msg)
		s.checkRexmitSent(nd, k)
		if !o.Retransmit {
			s.recordSent(nd, o.Msg)
		} else if s.O.Capture {
			nd.Outbox = append(nd.Outbox, o.Msg)
		}
		media := o.Media
		if media == nil {
			media = s.O.Media
		}
		for _, md := range media {
			s.Net.Send(s.Now, nd.Name, md, k)
		}
	}
	for _, e := range out.Events {
		if e.Kind == core.Delivered {
			s.checkDelivered(nd, e)
			if e.Node != nd.Name {
				nd.DeliveredFromOthers++
			}
			if !s.O.KeepDelivered {
				continue
			}
		}
		if e.Kind == core.Lost || e.Kind == core.NoneMissing {
			if e.Kind == core.Lost {
				nd.Gaps++
			}
			if !s.O.KeepGaps {
				continue
			}
		}
		nd.Events = append(nd.Events, Timed{At: s.Now, Node: nd.Name, Event: e})
	}
}

func (s *Sim) recordSent(nd *Node, m *wire.Message) {
	if s.O.Capture {
		nd.Outbox = append(nd.Outbox, m)
	}
	sb, ok := m.GetBytes(wire.FSeq)
	if !ok {
		return
	}
	seq, ok := parseHex(sb)
	if !ok {
		s.violatef("%s sent a bad seq %q", nd.Name, sb)
		return
	}
	log := nd.sent[nd.Gen]
	if seq != log.last+1 {
		s.violatef("%s sent seq %d after %d", nd.Name, seq, log.last)
	}
	log.last = seq
	if seq == 0 || seq > 1<<32 {
		return // reported above; not recordable
	}
	var dest string
	if d, ok := m.GetBytes(wire.FTo); ok {
		dest = string(d)
	}
	for uint64(len(log.recs)) < seq {
		log.recs = append(log.recs, sentRec{})
	}
	log.recs[seq-1] = sentRec{msg: m, dest: dest, at: s.Now}
}

func (s *Sim) violatef(format string, args ...any) {
	v := fmt.Sprintf("%v: ", s.Now.Sub(s.O.Start)) + fmt.Sprintf(format, args...)
	s.violations = append(s.violations, v)
	s.T.Errorf("sim invariant: %s", v)
}

func (s *Sim) checkDelivered(rcv *Node, e core.Event) {
	snd := s.byName[e.Node]
	if snd == nil {
		s.violatef("%s delivered a message from unknown %q", rcv.Name, e.Node)
		return
	}
	hg, _ := e.Msg.GetBytes(wire.FHg)
	gen, ok := parseHex(hg)
	if !ok {
		s.violatef("%s delivered a message without generation", rcv.Name)
		return
	}
	log := snd.sent[gen]
	rec, ok := log.get(e.Seq)
	if !ok || rec.msg != e.Msg {
		s.violatef("%s delivered %s/%x seq %d that %s never sent", rcv.Name, e.Node, gen, e.Seq, e.Node)
		return
	}
	if rec.dest != "" && rec.dest != rcv.Name {
		s.violatef("%s delivered %s seq %d addressed to %s", rcv.Name, e.Node, e.Seq, rec.dest)
	}
	streams := rcv.delivered[snd.idx]
	k := slices.IndexFunc(streams, func(x stream) bool { return x.gen == gen })
	if k < 0 {
		k = len(streams)
		streams = append(streams, stream{gen: gen})
		rcv.delivered[snd.idx] = streams
	}
	last := streams[k].seq
	if e.Seq <= last {
		s.violatef("%s delivered %s seq %d after %d (duplicate or out of order)", rcv.Name, e.Node, e.Seq, last)
		return
	}
	if last > 0 {
		for q := last + 1; q < e.Seq; q++ {
			if r, ok := log.get(q); ok && (r.dest == "" || r.dest == rcv.Name) {
				s.holes = append(s.holes, fmt.Sprintf("%v: %s skipped %s seq %d (delivered %d after %d)",
					s.Now.Sub(s.O.Start), rcv.Name, e.Node, q, e.Seq, last))
				break
			}
		}
	}
	streams[k].seq = e.Seq
}

// deliveredUpTo returns the highest seq rcv got from snd's generation gen.
func (rcv *Node) deliveredUpTo(snd *Node, gen uint64) uint64 {
	for _, x := range rcv.delivered[snd.idx] {
		if x.gen == gen {
			return x.seq
		}
	}
	return 0
}

func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// Crash stops a node at once (kill -9): it sends and receives nothing more.
func (s *Sim) Crash(name string) {
	nd := s.byName[name]
	nd.Up = false
	nd.Crashed = true
	s.minOK = false
	s.Net.SetDown(name, true)
}

// Restart boots a crashed node again with the next generation, as
// heartbeat does after bumping hb_generation.
func (s *Sim) Restart(name string) {
	nd := s.byName[name]
	nd.Gen++
	s.Net.SetDown(name, false)
	s.boot(nd)
}

// Partition splits the network into groups (see memnet.Partition).
func (s *Sim) Partition(groups ...[]string) { s.Net.Partition(groups...) }

// Heal removes every partition.
func (s *Sim) Heal() { s.Net.Heal() }

// EventsOf returns the events of the given kind emitted by node (all nodes
// when node is "").
func (s *Sim) EventsOf(node string, kind core.EventKind) []Timed {
	var out []Timed
	for _, nd := range s.Nodes {
		if node != "" && nd.Name != node {
			continue
		}
		for _, e := range nd.Events {
			if e.Event.Kind == kind {
				out = append(out, e)
			}
		}
	}
	return out
}

// Status returns what observer believes about node's status.
func (s *Sim) Status(observer, node string) core.Status {
	for _, ni := range s.byName[observer].Core.Nodes() {
		if ni.Name == node {
			return ni.Status
		}
	}
	return ""
}

// RequireNoEvent fails the test if any node emitted an event of kind.
func (s *Sim) RequireNoEvent(kind core.EventKind) {
	s.T.Helper()
	if ev := s.EventsOf("", kind); len(ev) > 0 {
		for i, e := range ev {
			if i == 5 {
				s.T.Errorf("... and %d more", len(ev)-5)
				break
			}
			s.T.Errorf("unexpected at %v on %s: %v", e.At.Sub(s.O.Start), e.Node, e.Event)
		}
	}
}

// RequireNoViolations fails the test if an invariant was broken.
func (s *Sim) RequireNoViolations() {
	s.T.Helper()
	if len(s.violations) > 0 {
		s.T.Fatalf("%d invariant violations, first: %s", len(s.violations), s.violations[0])
	}
}

// RequireNoHoles fails the test if a receiver skipped a message.
func (s *Sim) RequireNoHoles() {
	s.T.Helper()
	if len(s.holes) > 0 {
		s.T.Fatalf("%d holes, first: %s", len(s.holes), s.holes[0])
	}
}

// RequireInOrderExactlyOnce checks that every live, never-crashed node got
// every message addressed to it (or to everyone) from every such node,
// exactly once and in order, except those sent during the last settle.
func (s *Sim) RequireInOrderExactlyOnce(settle time.Duration) {
	s.T.Helper()
	s.RequireNoViolations()
	s.RequireNoHoles()
	cut := s.Now.Add(-settle)
	for _, snd := range s.Nodes {
		if !snd.Up || snd.Crashed {
			continue
		}
		for _, rcv := range s.Nodes {
			if !rcv.Up || rcv.Crashed {
				continue
			}
			got := rcv.deliveredUpTo(snd, snd.Gen)
			var want uint64
			if log := snd.sent[snd.Gen]; log != nil {
				for i, r := range log.recs {
					if r.msg != nil && r.at.Before(cut) && (r.dest == "" || r.dest == rcv.Name) {
						want = uint64(i + 1)
					}
				}
			}
			if got < want {
				s.T.Errorf("%s delivered %s's messages up to %d, want at least %d", rcv.Name, snd.Name, got, want)
			}
		}
	}
}

// Delivered returns the number of messages node received from others.
func (s *Sim) Delivered(node string) int { return s.byName[node].DeliveredFromOthers }

// Transcript returns the events of the given kinds, one per line:
// "<virtual time> <node> <event>".
func (s *Sim) Transcript(kinds ...core.EventKind) string {
	var all []Timed
	for _, nd := range s.Nodes {
		for _, e := range nd.Events {
			if slices.Contains(kinds, e.Event.Kind) {
				all = append(all, e)
			}
		}
	}
	slices.SortStableFunc(all, func(a, b Timed) int { return a.At.Compare(b.At) })
	var b strings.Builder
	for _, e := range all {
		fmt.Fprintf(&b, "%9.3fs %s %v\n", e.At.Sub(s.O.Start).Seconds(), e.Node, e.Event)
	}
	return b.String()
}
