// Package memnet is a deterministic in-memory network for tests and the
// simulator: no goroutines, no sockets, no clock. The caller passes the time
// in; packets sent at time t are delivered by Deliver(now) once now reaches
// their arrival time. Loss, delay, jitter, duplication and reordering are
// drawn from one injected *rand.Rand, so a seed replays a run exactly.
//
// Every node is attached to one or more media by name (as in ha.cf: "eth0",
// "/dev/ttyS0"). A packet sent on a medium reaches every other node attached
// to that medium, like heartbeat's bcast/mcast (and ucast, which fans out to
// its peers). Conditions apply per directed link and medium; partitions and
// crashed nodes are applied both when a packet is sent and when it arrives.
//
// The payload type is a parameter: the simulator carries *wire.Message, a
// runtime test can carry []byte. Payloads are not copied; a duplicated packet
// delivers the same value twice, so receivers must not modify it.
package memnet

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/mono"
)

// Link selects directed links: an empty field matches anything.
type Link struct {
	Medium string
	From   string
	To     string
}

// AllLinks matches every link.
var AllLinks = Link{}

func (l Link) matches(medium, from, to string) bool {
	return (l.Medium == "" || l.Medium == medium) &&
		(l.From == "" || l.From == from) &&
		(l.To == "" || l.To == to)
}

// Conditions of a link. Zero means a perfect, instantaneous link.
type Conditions struct {
	Loss    float64       // probability in [0,1] that a packet is dropped
	Delay   time.Duration // fixed transit time
	Jitter  time.Duration // extra uniform delay in [0, Jitter): reorders packets
	Dup     float64       // probability that a delivered packet arrives twice
	Reorder float64       // probability that a packet is held back an extra ReorderBy
	// ReorderBy is the extra delay of a reordered packet (default 50 ms).
	ReorderBy time.Duration
}

const (
	setLoss = 1 << iota
	setDelay
	setDup
	setReorder
)

type rule struct {
	link Link
	mask int
	c    Conditions
}

// Packet is one delivery.
type Packet[P any] struct {
	Medium  string
	From    string
	To      string
	ToIndex int // To's position in Nodes (attach order)
	Payload P
	Sent    time.Time
	At      time.Time // arrival time
}

// item is a packet in flight; its Packet is built when it is delivered.
type item[P any] struct {
	payload  P
	from, to *endpoint
	medium   string
	sent     int64 // key of the send time
}

// The packets in flight. One send's copies (one per receiver, two when
// duplicated) form a run, sorted by arrival and send order; a heap orders
// the runs by their next packet. A send reaches every node of a medium, so
// the heap holds one entry per send in flight (a handful) instead of one
// per copy (dozens), and a copy leaves its run without a heap move unless
// the run's next copy arrives later than another run's.

// rent is a packet in a run.
type rent[P any] struct {
	at  int64  // arrival, nanoseconds since Network.epoch
	seq uint64 // tie-break: send order
	it  item[P]
}

// run is one send's packets: ents[pos:] are still in flight.
type run[P any] struct {
	ents []rent[P]
	pos  int
}

// hent is a run's entry in the heap: its next packet's key.
type hent struct {
	at   int64
	seq  uint64
	slot int32 // index in Network.runs
}

type endpoint struct {
	name  string
	idx   int // attach order
	media []string
	down  bool
	group int // partition group; -1 = not in any (talks to everyone)
}

// Stats counts what the network did.
type Stats struct {
	Sent       int // packets offered (one per receiver)
	Lost       int // dropped by random loss
	Cut        int // dropped by a partition or a crashed node
	Duplicated int
	Delivered  int
}

// Network is the in-memory network. The zero value is not usable; use New.
type Network[P any] struct {
	rng     *rand.Rand
	nodes   map[string]*endpoint
	names   []string    // attach order, for deterministic fan-out
	eps     []*endpoint // same order
	rules   []rule
	heap    []hent
	runs    []run[P]
	free    []int32   // unused runs
	open    int32     // the run being filled by a send
	flying  int       // packets in flight
	epoch   time.Time // heap keys count from here (the first send)
	started bool
	seq     uint64
	// cond caches the effective conditions per medium and directed link
	// (index (medium*len(eps)+from)*len(eps)+to), computed on first use and
	// dropped whenever a rule or a node is added.
	cond      []Conditions
	condOK    []bool
	condMedia []string
	partied   bool
	// The send time of the last packet delivered, as key and time.
	sentKey  int64
	sentTime time.Time
	sentOK   bool
	Stats    Stats
}

// New returns an empty network drawing randomness from rng.
func New[P any](rng *rand.Rand) *Network[P] {
	return &Network[P]{rng: rng, nodes: map[string]*endpoint{}}
}

// Attach connects node to the named media (adding to earlier ones).
func (n *Network[P]) Attach(node string, media ...string) {
	e := n.nodes[node]
	if e == nil {
		e = &endpoint{name: node, idx: len(n.eps), group: -1}
		n.nodes[node] = e
		n.names = append(n.names, node)
		n.eps = append(n.eps, e)
	}
	for _, m := range media {
		if !slices.Contains(e.media, m) {
			e.media = append(e.media, m)
		}
	}
	n.dropCache()
}

func (n *Network[P]) dropCache() {
	n.cond, n.condOK, n.condMedia = nil, nil, nil
}

// mediumIndex returns medium's index in the conditions cache, adding it.
func (n *Network[P]) mediumIndex(medium string) int {
	mi := slices.Index(n.condMedia, medium)
	if mi < 0 {
		ne := len(n.eps)
		mi = len(n.condMedia)
		n.condMedia = append(n.condMedia, medium)
		n.cond = append(n.cond, make([]Conditions, ne*ne)...)
		n.condOK = append(n.condOK, make([]bool, ne*ne)...)
	}
	return mi
}

// conditions is Conditions through the cache, for the medium of index mi
// (see mediumIndex) between two attached nodes.
func (n *Network[P]) conditions(mi int, from, to *endpoint) *Conditions {
	ne := len(n.eps)
	i := (mi*ne+from.idx)*ne + to.idx
	if !n.condOK[i] {
		n.cond[i] = n.Conditions(n.condMedia[mi], from.name, to.name)
		n.condOK[i] = true
	}
	return &n.cond[i]
}

// Nodes returns the attached nodes in attach order.
func (n *Network[P]) Nodes() []string { return slices.Clone(n.names) }

func (n *Network[P]) set(l Link, mask int, c Conditions) {
	n.dropCache()
	for i := range n.rules {
		if n.rules[i].link == l && i == len(n.rules)-1 {
			r := &n.rules[i]
			r.mask |= mask
			merge(&r.c, c, mask)
			return
		}
	}
	n.rules = append(n.rules, rule{link: l, mask: mask, c: c})
}

func merge(dst *Conditions, src Conditions, mask int) {
	if mask&setLoss != 0 {
		dst.Loss = src.Loss
	}
	if mask&setDelay != 0 {
		dst.Delay, dst.Jitter = src.Delay, src.Jitter
	}
	if mask&setDup != 0 {
		dst.Dup = src.Dup
	}
	if mask&setReorder != 0 {
		dst.Reorder, dst.ReorderBy = src.Reorder, src.ReorderBy
	}
}

// SetConditions sets every condition of the matching links; later settings
// override earlier ones where they overlap.
func (n *Network[P]) SetConditions(l Link, c Conditions) {
	n.set(l, setLoss|setDelay|setDup|setReorder, c)
}

// SetLoss sets the loss probability of the matching links.
func (n *Network[P]) SetLoss(l Link, p float64) { n.set(l, setLoss, Conditions{Loss: p}) }

// SetDelay sets the transit time and jitter of the matching links.
func (n *Network[P]) SetDelay(l Link, d, jitter time.Duration) {
	n.set(l, setDelay, Conditions{Delay: d, Jitter: jitter})
}

// SetDup sets the duplication probability of the matching links.
func (n *Network[P]) SetDup(l Link, p float64) { n.set(l, setDup, Conditions{Dup: p}) }

// SetReorder holds back a fraction p of packets by an extra by.
func (n *Network[P]) SetReorder(l Link, p float64, by time.Duration) {
	n.set(l, setReorder, Conditions{Reorder: p, ReorderBy: by})
}

// Conditions returns the effective conditions of one directed link.
func (n *Network[P]) Conditions(medium, from, to string) Conditions {
	var c Conditions
	for _, r := range n.rules {
		if r.link.matches(medium, from, to) {
			merge(&c, r.c, r.mask)
		}
	}
	return c
}

// Partition splits the network: nodes in different groups cannot talk;
// nodes in no group still talk to everyone. Partition() with no groups heals.
func (n *Network[P]) Partition(groups ...[]string) {
	for _, e := range n.nodes {
		e.group = -1
	}
	n.partied = false
	for g, names := range groups {
		for _, name := range names {
			if e := n.nodes[name]; e != nil {
				e.group = g
				n.partied = true
			}
		}
	}
}

// Heal removes every partition.
func (n *Network[P]) Heal() { n.Partition() }

// SetDown crashes (true) or revives (false) a node: a down node sends and
// receives nothing, and packets in flight to it are lost.
func (n *Network[P]) SetDown(node string, down bool) {
	if e := n.nodes[node]; e != nil {
		e.down = down
	}
}

func (n *Network[P]) connected(a, b *endpoint) bool {
	if a == nil || b == nil || a.down || b.down {
		return false
	}
	return !n.partied || a.group < 0 || b.group < 0 || a.group == b.group
}

// Send puts payload p on medium from node from, addressed to every other
// node attached to that medium.
func (n *Network[P]) Send(now time.Time, from, medium string, p P) {
	src := n.nodes[from]
	key := n.key(now)
	mi := n.mediumIndex(medium)
	n.openRun()
	for _, e := range n.eps {
		if e != src && slices.Contains(e.media, medium) {
			n.sendTo(key, src, mi, medium, e, p)
		}
	}
	n.closeRun()
}

// SendTo sends payload p to one node only (if it is on that medium).
func (n *Network[P]) SendTo(now time.Time, from, medium, to string, p P) {
	e := n.nodes[to]
	if e == nil || !slices.Contains(e.media, medium) {
		return
	}
	n.openRun()
	n.sendTo(n.key(now), n.nodes[from], n.mediumIndex(medium), medium, e, p)
	n.closeRun()
}

// key returns t as a heap key: nanoseconds since the epoch, which is set
// by the first call. Like Sub, it uses the monotonic clock when both times
// have one, as Before does, so the heap order is the order of the arrival
// times.
func (n *Network[P]) key(t time.Time) int64 {
	if !n.started {
		n.started, n.epoch = true, t
	}
	return int64(mono.Elapsed(t, n.epoch))
}

// time returns key k as a time.
func (n *Network[P]) time(k int64) time.Time { return n.epoch.Add(time.Duration(k)) }

// sendTo sends p from src (nil: not attached) to e on medium, whose index
// is mi; nowKey is key(now).
func (n *Network[P]) sendTo(nowKey int64, src *endpoint, mi int, medium string, e *endpoint, p P) {
	n.Stats.Sent++
	if !n.connected(src, e) {
		n.Stats.Cut++
		return
	}
	c := n.conditions(mi, src, e)
	if c.Loss > 0 && n.rng.Float64() < c.Loss {
		n.Stats.Lost++
		return
	}
	copies := 1
	if c.Dup > 0 && n.rng.Float64() < c.Dup {
		copies = 2
		n.Stats.Duplicated++
	}
	for range copies {
		d := c.Delay
		if c.Jitter > 0 {
			d += time.Duration(n.rng.Int64N(int64(c.Jitter)))
		}
		if c.Reorder > 0 && n.rng.Float64() < c.Reorder {
			by := c.ReorderBy
			if by <= 0 {
				by = 50 * time.Millisecond
			}
			d += by
		}
		n.seq++
		r := &n.runs[n.open]
		r.ents = append(r.ents, rent[P]{at: nowKey + int64(d), seq: n.seq, it: item[P]{payload: p, from: src, to: e, medium: medium, sent: nowKey}})
	}
}

// Next returns the arrival time of the earliest packet in flight.
func (n *Network[P]) Next() (time.Time, bool) {
	if len(n.heap) == 0 {
		return time.Time{}, false
	}
	return n.time(n.heap[0].at), true
}

// InFlight returns the number of packets in flight.
func (n *Network[P]) InFlight() int { return n.flying }

// Deliver appends to dst every packet that has arrived by now, in arrival
// order (ties in send order), dropping those whose link was cut or whose
// receiver went down meanwhile.
func (n *Network[P]) Deliver(now time.Time, dst []Packet[P]) []Packet[P] {
	if len(n.heap) == 0 {
		return dst
	}
	// Compared as heap keys (the order the heap keeps): no trip to the
	// slab for the packet's At, no Time comparison per packet.
	nowKey := n.key(now)
	for len(n.heap) > 0 && n.heap[0].at <= nowKey {
		at, it := n.pop()
		if !n.connected(it.from, it.to) {
			n.Stats.Cut++
			continue
		}
		n.Stats.Delivered++
		// (connected: both endpoints exist)
		p := Packet[P]{Medium: it.medium, From: it.from.name, To: it.to.name, ToIndex: it.to.idx, Payload: it.payload}
		if at == nowKey {
			p.At = now // the usual case: delivered when it arrives
		} else {
			p.At = n.time(at)
		}
		if it.sent != n.sentKey || !n.sentOK { // copies of one send arrive close together
			n.sentKey, n.sentTime, n.sentOK = it.sent, n.time(it.sent), true
		}
		p.Sent = n.sentTime
		dst = append(dst, p)
	}
	return dst
}

// openRun starts the run a send fills.
func (n *Network[P]) openRun() {
	if k := len(n.free); k > 0 {
		n.open = n.free[k-1]
		n.free = n.free[:k-1]
	} else {
		n.open = int32(len(n.runs))
		n.runs = append(n.runs, run[P]{})
	}
}

// closeRun sorts the open run by (at, seq) and puts it in the heap, or
// frees it when every copy was lost.
func (n *Network[P]) closeRun() {
	r := &n.runs[n.open]
	e := r.ents
	if len(e) == 0 {
		n.free = append(n.free, n.open)
		return
	}
	for i := 1; i < len(e); i++ { // insertion sort: a few copies, seq already ascending
		x := e[i]
		j := i
		for j > 0 && (e[j-1].at > x.at || e[j-1].at == x.at && e[j-1].seq > x.seq) {
			e[j] = e[j-1]
			j--
		}
		e[j] = x
	}
	n.flying += len(e)
	n.push(hent{at: e[0].at, seq: e[0].seq, slot: n.open})
}

// pop removes the earliest packet in flight and returns it with its key.
func (n *Network[P]) pop() (int64, item[P]) {
	h := &n.heap[0]
	r := &n.runs[h.slot]
	e := &r.ents[r.pos]
	at, it := e.at, e.it
	e.it = item[P]{} // keep no payload alive
	r.pos++
	n.flying--
	if r.pos < len(r.ents) {
		h.at, h.seq = r.ents[r.pos].at, r.ents[r.pos].seq
		n.down(0)
		return at, it
	}
	r.ents, r.pos = r.ents[:0], 0
	n.free = append(n.free, h.slot)
	last := len(n.heap) - 1
	n.heap[0] = n.heap[last]
	n.heap = n.heap[:last]
	if last > 0 {
		n.down(0)
	}
	return at, it
}

// The heap is 4-ary (half the levels of a binary one, and a node's
// children share a cache line) and moves a hole instead of swapping. Keys
// are unique (seq), so the order of delivery is the order of (at, seq)
// whatever the heap's shape.

func less(a, b *hent) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// push adds e to the heap.
func (n *Network[P]) push(e hent) {
	n.heap = append(n.heap, e)
	h := n.heap
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 4
		if !less(&e, &h[parent]) {
			break
		}
		h[i] = h[parent]
		i = parent
	}
	h[i] = e
}

// down restores the heap below i after h[i]'s key grew.
func (n *Network[P]) down(i int) {
	h := n.heap
	x := h[i]
	for {
		c := 4*i + 1
		if c >= len(h) {
			break
		}
		m := c
		for j := c + 1; j < c+4 && j < len(h); j++ {
			if less(&h[j], &h[m]) {
				m = j
			}
		}
		if !less(&h[m], &x) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = x
}
