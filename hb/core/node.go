// Package core is heartbeat's cluster protocol as a pure state machine: it
// composes membership (node and link status, dead timers) and rexmit
// (sequence tracking, retransmission) into one Node driven by three inputs
//
//	Tick(now)                  time passes
//	Receive(now, medium, msg)  an authenticated message arrived
//	Command(now, cmd)          the local side wants something sent
//
// each returning an Output: messages to send, events, and the time of the
// next Tick. No sockets, goroutines or clock reads: the daemon owns those,
// encodes and signs the messages (adding the "auth" field), and verifies
// and decodes incoming ones before Receive.
//
// Messages are built as heartbeat 3.0.6 builds them, field for field and in
// the same order (see the captures): status is t, st, dt, protocol, then
// the control fields src, srcuuid, seq, hg, ts, ld, ttl; a message with a
// "dest" gets "destuuid" when the destination's UUID is known; unsequenced
// NS_* messages carry no seq and no ld. seq, hg, ts, dt and ackseq are
// lower-case hex; NS_rexmit's firstseq and lastseq are decimal.
//
// What the core does like heartbeat: keepalive status messages (with the
// 2 s dead-time boost advertised during the first 5 s), initdead until
// communication is up, the reqnodes/repnodes exchange before going active,
// per-node dead time taken from the peer's "dt", generation checks (older
// generation dropped as a replay, newer one resets tracking), duplicate
// rejection, messages for other nodes ignored after sequence tracking,
// NS_rexmit requests and answers with heartbeat's timing and limits,
// NS_nak_rexmit refusals, and NS_ackmsg with heartbeat's trigger rule
// (acks to ourselves included, as the captures show).
//
// What it does better, invisibly on the wire:
//
//   - Liveness: any message never seen before from a node's current
//     generation proves it alive, not only its status messages: a resource
//     message, a retransmission that fills a gap. A duplicate does not (it
//     could be a replay). An unsequenced NS_* message counts only when the
//     node has been quiet for a keepalive, carries the newest "ts" second
//     seen from it, arrives within 2 s of that second's first message and
//     differs from every NS_* message already seen with that ts, so a replay
//     can stretch a node's life by 2 s at most.
//   - Probing: when a live node has been silent for 1.5 keepalives, the core
//     asks it, with an ordinary NS_rexmit, for the messages it must have
//     sent since (one per keepalive, at most 8), again every
//     min(keepalive, max_rexmit_delay) until it hears from it. A live node
//     whose keepalives were lost answers with retransmissions (fresh
//     messages); a dead one never does. Heartbeat peers answer such a
//     request as any other. The numbers asked for are always the current
//     generation's: any message of a newer generation (an unsequenced one
//     too) resets the node's gaps, held messages and probe. A probe sent
//     while a node restarts, before anything of its new generation has
//     arrived, can still reach the new incarnation (heartbeat 3.0.6 then
//     logs "Rexmit of seq N requested. M is max." and answers nothing).
//   - Suppression: a retransmission request overheard from another node
//     postpones our own request for the same messages (its answer reaches
//     everyone), and our probe of the same node.
//   - Order: messages are delivered in each sender's order, held back while
//     a lower number is missing (heartbeat delivers them as they come).
//     A dead node's gaps and held messages are kept, not requested, until
//     it returns (then filled, so nothing is skipped) or restarts (then
//     dropped with its old generation).
//
// Together these keep nodes alive at 50% loss with keepalive 1 s and
// deadtime 10 s, and at 30% loss with keepalive 100 ms and deadtime 500 ms,
// where heartbeat's rule alone declares false deaths (see hb/sim's
// TestHeartbeatRuleAloneFails). Config.HeartbeatLiveness restores
// heartbeat's rule for comparison.
package core

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/membership"
	"github.com/heartbeat-go/heartbeat/hb/mono"
	"github.com/heartbeat-go/heartbeat/hb/rexmit"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

const (
	dtBoost       = 2000 * time.Millisecond // heartbeat adds 2 s to the advertised deadtime ...
	dtBoostFor    = 5 * time.Second         // ... for the first 5 s
	reqNodesRetry = time.Second             // reqnodes is resent every second until answered
	maxProbeRange = 8                       // at most this many messages asked for by one probe
	nsWindow      = 2 * time.Second         // how long one "ts" second can prove life
	defaultLoad   = "0.00 0.00 0.00 1/64 1"
)

type peer struct {
	name      string
	mp        *membership.Peer // its entry in the membership table
	uuid      [16]byte
	haveUUID  bool
	gen       uint64
	diedGen   uint64    // generation it had when declared dead (0: not dead)
	diedAt    mono.Time // when it was declared dead
	lastAlive mono.Time // its last proof of life before that
	recv      *rexmit.Receiver[*wire.Message]
	ackseq    uint64    // how far it acknowledged our messages
	nextProbe mono.Time // 0: none asked for
	maxTS     uint64    // highest "ts" seen on a fresh message
	maxTSAt   mono.Time // when maxTS was first seen
	nsSeen    []uint64  // digests of NS_ messages seen with ts == maxTS
	wake      mono.Time // peerWake as last computed (finish, finishPeer, overheard)
}

// Node is one cluster node's protocol state. Not safe for concurrent use.
type Node struct {
	cfg      Config
	self     string
	genHex   string
	ttl      string
	tab      *membership.Table
	peers    map[string]*peer
	byName   peerTable // peers again, for lookups by a packet's bytes
	order    []*peer
	hist     *rexmit.History[*wire.Message]
	seq      uint64
	selfTrig uint64
	status   Status
	ownUp    []bool // our own links, by Config.Media index
	oldPeer  bool   // a peer's status had no "protocol": flow control (acks, reqnodes) off, as heartbeat does

	started     bool
	nextStatus  mono.Time
	boosting    bool // advertising the boosted dead time until boostUntil
	boostUntil  mono.Time
	linksUp     bool // heartbeat's COMM_LINKSUP: reqnodes phase
	commUp      bool // comm_now_up done: active
	reqPeer     int  // index in order of the node asked last
	nextReq     mono.Time
	probeAfter  time.Duration
	probeEvery  time.Duration
	out         Output
	changes     []membership.Change
	ranges      []rexmit.Range
	req         rexmit.Request[*wire.Message]
	now         time.Time
	mnow        mono.Time   // now, on the timers' scale
	origin      mono.Origin // where the timers count from: the first call's time
	lastWake    mono.Time
	haveWake    bool // lastWake was computed
	wakeConv    bool // wakeConvT is lastWake's time.Time when it was wakeConvOf
	wakeConvOf  mono.Time
	wakeConvT   time.Time
	deliverings []*wire.Message
	due         []*peer       // Tick's peers with a timer due
	mem         []msgMem      // see newMsg
	smallMem    []msgMemSmall // see newMsg
}

// New returns a Node for cfg; it starts (sends its first status messages)
// on the first call to Tick, Receive or Command.
func New(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:    cfg,
		self:   cfg.Node,
		genHex: strconv.FormatUint(cfg.Generation, 16),
		ttl:    strconv.Itoa(cfg.TTL),
		peers:  make(map[string]*peer, len(cfg.Nodes)),
		hist:   rexmit.NewHistory[*wire.Message](cfg.MaxRexmitDelay),
		status: StatusInit,
		ownUp:  make([]bool, len(cfg.Media)),
	}
	n.selfTrig = uint64(cfg.Rand.IntN(rexmit.AckDiv))
	for _, name := range cfg.Nodes {
		if name == n.self {
			continue
		}
		p := &peer{name: name, recv: rexmit.NewReceiver[*wire.Message](cfg.MaxRexmitDelay, cfg.Rand)}
		if u, ok := cfg.UUIDs[name]; ok {
			p.uuid, p.haveUUID = u, true
		}
		n.peers[name] = p
		n.order = append(n.order, p)
	}
	n.byName = newPeerTable(n.peers)
	n.probeAfter = cfg.Keepalive + cfg.Keepalive/2
	n.probeEvery = min(cfg.Keepalive, cfg.MaxRexmitDelay)
	return n, nil
}

// LocalStatus returns the local node's status.
func (n *Node) LocalStatus() Status { return n.status }

// Generation returns the local generation.
func (n *Node) Generation() uint64 { return n.cfg.Generation }

// Nodes returns a snapshot of every configured node, the local one first.
func (n *Node) Nodes() []NodeInfo {
	out := []NodeInfo{{Name: n.self, Status: n.status, Generation: n.cfg.Generation}}
	for i, l := range n.cfg.Media {
		st := LinkDead
		if n.ownUp[i] {
			st = LinkUp
		}
		out[0].Links = append(out[0].Links, LinkInfo{Name: l, Status: st})
	}
	if n.tab == nil {
		return out
	}
	for _, p := range n.order {
		mp := n.tab.Peer(p.name)
		ni := NodeInfo{Name: p.name, Status: mp.Status, Generation: p.gen}
		for _, l := range mp.Links {
			ni.Links = append(ni.Links, LinkInfo{Name: l.Name, Status: l.Status})
		}
		out = append(out, ni)
	}
	return out
}

func (n *Node) begin(now time.Time) {
	if !n.started {
		n.origin = mono.NewOrigin(now)
	}
	n.now, n.mnow = now, n.origin.Of(now)
	n.out.Send = n.out.Send[:0]
	clear(n.out.Events)
	n.out.Events = n.out.Events[:0]
	n.out.Drop = Accepted
	if !n.started {
		n.start(now)
	}
}

func (n *Node) finish() Output {
	n.checkComm()
	for _, p := range n.order {
		p.wake = n.peerWake(p)
	}
	n.lastWake, n.haveWake = n.wake(), true
	n.out.Wake = n.wakeTime()
	return n.out
}

// finishPeer is finish after a call that changed only peer p's timers (and
// moved no other timer earlier; a peer's timers moved later by an overheard
// request are refreshed there): p's wake is computed again, the others'
// are taken from the cache, so the wake is exact (no idle Tick) at the cost
// of one peer.
func (n *Node) finishPeer(p *peer) Output {
	linksUp := n.linksUp
	n.checkComm()
	if n.linksUp != linksUp || !n.haveWake {
		return n.finish()
	}
	old := p.wake
	p.wake = n.peerWake(p)
	switch {
	case p.wake < n.lastWake:
		n.lastWake = p.wake
	case old == n.lastWake && p.wake != old:
		n.lastWake = n.wake() // p was (one of) the earliest, and moved
	}
	n.out.Wake = n.wakeTime()
	return n.out
}

// finishSome is finish after a call that changed only the timers of the
// given peers (and the node's own).
func (n *Node) finishSome(peers []*peer) Output {
	linksUp := n.linksUp
	n.checkComm()
	if n.linksUp != linksUp || !n.haveWake {
		return n.finish()
	}
	for _, p := range peers {
		p.wake = n.peerWake(p)
	}
	n.lastWake = n.wake()
	n.out.Wake = n.wakeTime()
	return n.out
}

// wakeTime returns lastWake as a time.Time, converted only when it moved.
func (n *Node) wakeTime() time.Time {
	if !n.wakeConv || n.wakeConvOf != n.lastWake {
		n.wakeConv, n.wakeConvOf, n.wakeConvT = true, n.lastWake, n.origin.Time(n.lastWake)
	}
	return n.wakeConvT
}

// peerWake returns the earliest of p's timers (mono.Never: none set).
func (n *Node) peerWake(p *peer) mono.Time {
	w := n.tab.PeerWake(p.mp)
	if n.requesting(p) {
		w = min(w, p.recv.T.Wake())
	}
	if n.shouldProbe(p) {
		w = min(w, n.probeTime(p))
	}
	return w
}

func (n *Node) start(now time.Time) {
	n.started = true
	t := membership.Timing{Keepalive: n.cfg.Keepalive, DeadTime: n.cfg.DeadTime, WarnTime: n.cfg.WarnTime, InitDead: n.cfg.InitDead}
	names := make([]string, 0, len(n.order))
	for _, p := range n.order {
		names = append(names, p.name)
	}
	n.tab = membership.New(n.self, names, n.cfg.Media, t, n.mnow)
	for _, p := range n.order {
		p.mp = n.tab.Peer(p.name)
	}
	n.boosting, n.boostUntil = true, n.mnow.Add(dtBoostFor)
	// As heartbeat: a status with st=init, then "up" (twice: once for the
	// status change, once for the first keepalive).
	n.sendStatus()
	n.status = StatusUp
	n.event(Event{Kind: LocalStatus, Status: StatusUp})
	n.sendStatus()
	n.sendStatus()
	n.nextStatus = n.mnow.Add(n.cfg.Keepalive)
}

func (n *Node) event(e Event) { n.out.Events = append(n.out.Events, e) }

// Tick advances time: keepalives, dead timers, retransmission requests,
// probes, the reqnodes exchange.
func (n *Node) Tick(wall time.Time) Output {
	n.begin(wall)
	now := n.mnow
	if n.boosting && !now.Before(n.boostUntil) {
		n.boosting = false
		n.sendStatus() // advertise the normal dead time again
	}
	if !now.Before(n.nextStatus) {
		n.sendStatus()
		n.nextStatus = n.nextStatus.Add(n.cfg.Keepalive)
		if !now.Before(n.nextStatus) { // we were not called for a while
			n.nextStatus = now.Add(n.cfg.Keepalive)
		}
	}
	// Only the peers with a timer due have anything to do: a peer's
	// cached wake is the earliest of its timers (exact after every call).
	due := n.due[:0]
	for _, p := range n.order {
		if p.wake <= now {
			due = append(due, p)
		}
	}
	n.due = due
	n.changes = n.changes[:0]
	for _, p := range due {
		n.changes = n.tab.CheckPeer(now, p.mp, n.changes)
	}
	n.applyChanges()
	if n.linksUp && !n.commUp && !now.Before(n.nextReq) {
		n.sendReqNodes()
	}
	for _, p := range due {
		if !n.requesting(p) {
			continue
		}
		n.ranges = p.recv.T.Due(now, n.ranges[:0])
		for _, r := range n.ranges {
			n.sendRexmitRequest(p, r.First, r.Last)
		}
		if n.shouldProbe(p) && !now.Before(n.probeTime(p)) {
			// Ask for what the node must have sent since we last heard
			// from it: one message per keepalive at least.
			last := p.recv.T.Last()
			k := uint64(now.Sub(p.mp.Fresh) / n.cfg.Keepalive)
			k = max(1, min(k, maxProbeRange))
			n.sendRexmitRequest(p, last+1, last+k)
			p.nextProbe = now.Add(n.probeEvery)
		}
	}
	return n.finishSome(n.due)
}

// requesting reports whether p's gaps are worth asking for: not while it is
// dead and silent.
func (n *Node) requesting(p *peer) bool {
	return p.mp.Status != StatusDead || p.mp.Fresh.After(p.diedAt)
}

func (n *Node) shouldProbe(p *peer) bool {
	if n.cfg.HeartbeatLiveness || p.recv.T.Last() == 0 {
		return false
	}
	return p.mp.Status != StatusDead
}

func (n *Node) probeTime(p *peer) mono.Time {
	t := p.mp.Fresh.Add(n.probeAfter)
	if p.nextProbe.After(t) {
		return p.nextProbe
	}
	return t
}

// wake returns the earliest timer, taking each peer's from its cached wake
// (see finish).
func (n *Node) wake() mono.Time {
	w := n.nextStatus
	if n.boosting {
		w = min(w, n.boostUntil)
	}
	if n.linksUp && !n.commUp {
		w = min(w, n.nextReq)
	}
	for _, p := range n.order {
		w = min(w, p.wake)
	}
	return w
}

func (n *Node) applyChanges() {
	for _, c := range n.changes {
		switch c.Kind {
		case membership.NodeDead:
			p := n.peers[c.Node]
			n.event(Event{Kind: NodeDead, Node: c.Node, Status: StatusDead})
			p.diedGen = p.gen
			p.diedAt = n.mnow
			p.lastAlive = p.mp.Fresh
			p.ackseq = 0
			// Messages held back behind a gap stay held, and the gap stays
			// recorded (but is not requested while the node is dead): if
			// the node returns without restarting, the gap is filled and
			// nothing is skipped; if it restarts, they are dropped with
			// its old generation.
		case membership.LinkChanged:
			n.event(Event{Kind: LinkStatusChange, Node: c.Node, Link: c.Link, LinkStat: c.Status})
		case membership.Late:
			n.event(Event{Kind: LateHeartbeat, Node: c.Node, Interval: c.Interval})
		}
	}
	n.changes = n.changes[:0]
}

// ownLinkUp marks our own link up when the medium loops our packets back
// (bcast does, ucast and usually mcast do not). Heartbeat never declares
// its own links dead again.
func (n *Node) ownLinkUp(medium string) {
	for i, l := range n.cfg.Media {
		if l == medium && !n.ownUp[i] {
			n.ownUp[i] = true
			n.event(Event{Kind: LinkStatusChange, Node: n.self, Link: l, LinkStat: LinkUp})
		}
	}
}

// checkComm is heartbeat's check_comm_isup.
func (n *Node) checkComm() {
	if n.linksUp || !n.tab.CommReady() {
		return
	}
	n.linksUp = true
	n.tab.SetCommUp()
	if n.oldPeer {
		// A peer speaks the pre-flow-control protocol: it knows no
		// reqnodes, so heartbeat goes active at once.
		n.commNowUp()
		return
	}
	n.reqPeer = 0
	n.sendReqNodes()
}

func (n *Node) sendReqNodes() {
	for i := n.reqPeer; i < len(n.order); i++ {
		p := n.order[i]
		if p.mp.Status == StatusDead {
			continue
		}
		n.reqPeer = i
		m := n.newMsg(TypeReqNodes, 12)
		m.Add(wire.FTo, p.name)
		n.sendSeq(m)
		n.nextReq = n.mnow.Add(reqNodesRetry)
		return
	}
	n.commNowUp()
}

func (n *Node) commNowUp() {
	if n.commUp {
		return
	}
	n.commUp = true
	n.setStatus(StatusActive)
}

func (n *Node) setStatus(s Status) {
	if s == n.status || len(s) < 2 {
		return
	}
	n.status = s
	n.sendStatus()
	n.event(Event{Kind: LocalStatus, Status: s})
}

// Command carries out a local request.
func (n *Node) Command(now time.Time, c Command) Output {
	n.begin(now)
	switch c := c.(type) {
	case Send:
		if c.Msg != nil {
			if t, _ := c.Msg.Get(wire.FType); t != "" {
				m := &msgBuf{Message: c.Msg.Clone()}
				if strings.HasPrefix(t, NoSeqPrefix) {
					n.sendNoSeq(m)
				} else {
					n.sendSeq(m)
				}
			}
		}
	case SetStatus:
		n.setStatus(c.Status)
	}
	return n.finish()
}

// msgBuf builds a message whose values share one buffer: two allocations
// per message instead of one per field.
type msgBuf struct {
	*wire.Message
	buf []byte
}

// msgMem and msgMemSmall hold a built message, its fields and its values
// in one allocation (the values spill to a new buffer only if they outgrow
// buf, the fields only past the capacity asked for).
type msgMem struct {
	b   msgBuf
	m   wire.Message
	f   [12]wire.Field
	buf [128]byte
}

type msgMemSmall struct { // 1 KiB: acks, retransmission requests, refusals
	b   msgBuf
	m   wire.Message
	f   [10]wire.Field
	buf [96]byte
}

// msgChunk is how many messages' memory is allocated at once. A chunk is
// one large object: the runtime records its layout once instead of once per
// message, which was a tenth of a lossy simulation's time. Unsequenced
// messages (acks, requests, refusals) and sequenced ones come from separate
// chunks: the former are dropped as soon as they are sent, the latter kept
// in the history, so a chunk of either stays reachable only while the
// messages allocated together with it do.
const msgChunk = 64

func (n *Node) newMsg(t string, capacity int) *msgBuf {
	var b *msgBuf
	switch {
	case capacity <= 10:
		if len(n.smallMem) == 0 {
			n.smallMem = make([]msgMemSmall, msgChunk)
		}
		x := &n.smallMem[0]
		n.smallMem = n.smallMem[1:]
		x.m.Fields, x.b.buf = x.f[:0], x.buf[:0]
		x.b.Message, b = &x.m, &x.b
	case capacity <= 12:
		if len(n.mem) == 0 {
			n.mem = make([]msgMem, msgChunk)
		}
		x := &n.mem[0]
		n.mem = n.mem[1:]
		x.m.Fields, x.b.buf = x.f[:0], x.buf[:0]
		x.b.Message, b = &x.m, &x.b
	default:
		b = &msgBuf{Message: &wire.Message{Fields: make([]wire.Field, 0, capacity)}, buf: make([]byte, 0, 160)}
	}
	b.Add(wire.FType, t)
	return b
}

func (b *msgBuf) field(name string, typ wire.FieldType, start int) {
	end := len(b.buf)
	b.Fields = append(b.Fields, wire.Field{Name: name, Type: typ, Value: b.buf[start:end:end]})
}

// Add appends a string field.
func (b *msgBuf) Add(name, v string) {
	start := len(b.buf)
	b.buf = append(b.buf, v...)
	b.field(name, wire.String, start)
}

// AddBinary appends a binary field.
func (b *msgBuf) AddBinary(name string, v []byte) {
	start := len(b.buf)
	b.buf = append(b.buf, v...)
	b.field(name, wire.Binary, start)
}

// AddUint appends a number in the given base (16: heartbeat's %lx).
func (b *msgBuf) AddUint(name string, v uint64, base int) {
	start := len(b.buf)
	b.buf = strconv.AppendUint(b.buf, v, base)
	b.field(name, wire.String, start)
}

func (n *Node) sendStatus() {
	dt := n.cfg.DeadTime
	if n.boosting {
		dt += dtBoost
	}
	m := n.newMsg(TypeStatus, 12)
	m.Add(wire.FStatus, string(n.status))
	m.AddUint(wire.FDeadTime, uint64(dt.Milliseconds()), 16)
	m.Add(wire.FProtocol, "1")
	n.sendSeq(m)
}

// control appends heartbeat's control fields (add_control_msg_fields).
func (n *Node) control(m *msgBuf, seq uint64) {
	if to, ok := m.GetBytes(wire.FTo); ok {
		if u, ok := n.uuidOf(lower(to)); ok {
			setBinary(m, wire.FToUUID, u[:])
		}
	}
	m.Add(wire.FOrig, n.self)
	m.AddBinary(wire.FOrigUUID, n.cfg.UUID[:])
	if seq != 0 {
		m.AddUint(wire.FSeq, seq, 16)
	}
	m.Add(wire.FHg, n.genHex)
	m.AddUint(wire.FTime, uint64(n.now.Unix()), 16)
	if seq != 0 {
		ld := defaultLoad
		if n.cfg.LoadAvg != nil {
			ld = n.cfg.LoadAvg()
		}
		m.Add(wire.FLoad, ld)
	}
	m.Add(wire.FTTL, n.ttl)
}

func setBinary(m *msgBuf, name string, v []byte) {
	for i := range m.Fields {
		if m.Fields[i].Name == name {
			m.Fields[i].Type = wire.Binary
			m.Fields[i].Value = append([]byte(nil), v...)
			return
		}
	}
	m.AddBinary(name, v)
}

func (n *Node) uuidOf(name string) ([16]byte, bool) {
	if name == n.self {
		return n.cfg.UUID, true
	}
	if p := n.byName.find([]byte(name)); p != nil && p.haveUUID {
		return p.uuid, true
	}
	return [16]byte{}, false
}

// sendSeq numbers, records, sends and loops back a sequenced message.
func (n *Node) sendSeq(m *msgBuf) {
	n.seq++
	seq := n.seq
	n.control(m, seq)
	n.hist.Add(seq, m.Message)
	if seq%rexmit.AckDiv == n.selfTrig && !n.oldPeer {
		// Heartbeat acknowledges its own messages as it loops them back,
		// before they go out.
		a := n.newMsg(TypeAck, 10)
		a.Add(wire.FTo, n.self)
		a.AddUint(wire.FAckSeq, seq, 16)
		n.sendNoSeq(a)
	}
	n.out.Send = append(n.out.Send, Outgoing{Msg: m.Message})
	if isToUs(m.Message, n.self, n.cfg.UUID) {
		n.event(Event{Kind: Delivered, Node: n.self, Seq: seq, Msg: m.Message})
	}
}

func (n *Node) sendNoSeq(m *msgBuf) {
	n.control(m, 0)
	n.out.Send = append(n.out.Send, Outgoing{Msg: m.Message})
}

func (n *Node) sendRexmitRequest(p *peer, first, last uint64) {
	m := n.newMsg(TypeRexmit, 10) // t, dest, firstseq, lastseq, destuuid, src, srcuuid, hg, ts, ttl
	m.Add(wire.FTo, p.name)
	m.AddUint(wire.FFirstSeq, first, 10)
	m.AddUint(wire.FLastSeq, last, 10)
	n.sendNoSeq(m)
}

// Receive handles one authenticated, decoded message that arrived on
// medium (a link name from Config.Media). The core does not modify m but
// keeps it (it may be held back and delivered later): the caller must not
// modify or reuse it.
func (n *Node) Receive(now time.Time, medium string, m *wire.Message) Output {
	n.begin(now)
	var p *peer
	n.out.Drop, p = n.receive(medium, m)
	n.applyChanges()
	if p == nil {
		return n.finish()
	}
	return n.finishPeer(p)
}

// header is the fields receive reads, found in one pass over a message's
// fields; each is the first field of its name, as wire.Message.GetBytes
// finds it.
type header struct {
	t, src, ts, hg, srcUUID, seq, dest, destUUID           []byte
	okT, okSrc, okTS, okHg, okSrcUUID, okSeq, okDest, okDU bool
	firstSeq, lastSeq, ackSeq                              []byte // NS_rexmit, NS_nak_rexmit, NS_ackmsg (nil if absent)
	okFirst, okLast, okAck                                 bool
}

func (h *header) scan(m *wire.Message) {
	for i := range m.Fields {
		f := &m.Fields[i]
		switch f.Name {
		case wire.FType:
			first(&h.t, &h.okT, f.Value)
		case wire.FOrig:
			first(&h.src, &h.okSrc, f.Value)
		case wire.FTime:
			first(&h.ts, &h.okTS, f.Value)
		case wire.FHg:
			first(&h.hg, &h.okHg, f.Value)
		case wire.FOrigUUID:
			first(&h.srcUUID, &h.okSrcUUID, f.Value)
		case wire.FSeq:
			first(&h.seq, &h.okSeq, f.Value)
		case wire.FTo:
			first(&h.dest, &h.okDest, f.Value)
		case wire.FToUUID:
			first(&h.destUUID, &h.okDU, f.Value)
		case wire.FFirstSeq:
			first(&h.firstSeq, &h.okFirst, f.Value)
		case wire.FLastSeq:
			first(&h.lastSeq, &h.okLast, f.Value)
		case wire.FAckSeq:
			first(&h.ackSeq, &h.okAck, f.Value)
		}
	}
}

// first keeps the value of the first field of a name, as Message.Get does.
func first(v *[]byte, ok *bool, val []byte) {
	if !*ok {
		*v, *ok = val, true
	}
}

// toUs is isToUs on the scanned fields.
func (h *header) toUs(self string, uuid [16]byte) bool {
	if h.okDU && len(h.destUUID) == 16 {
		return bytes.Equal(h.destUUID, uuid[:])
	}
	return !h.okDest || equalLower(h.dest, self)
}

func (n *Node) receive(medium string, m *wire.Message) (DropReason, *peer) {
	var h header
	h.scan(m)
	t, okT := h.t, h.okT
	src, okS := h.src, h.okSrc
	ts, okTS := h.ts, h.okTS
	if !okT || !okS || !okTS || len(t) == 0 || len(src) == 0 {
		return DropMalformed, nil
	}
	if v, ok := parseHex(ts); !ok || v == 0 {
		return DropMalformed, nil
	}
	if equalLower(src, n.self) {
		// Our own packet looped back: only a recent one of this run
		// (our generation, our clock) counts, not a replay.
		g, _ := parseHex(h.hg)
		if v, _ := parseHex(ts); g == n.cfg.Generation && int64(v) >= n.now.Unix()-2 {
			n.ownLinkUp(medium)
		}
		return DropFromSelf, nil
	}
	p := n.byName.lookup(src)
	if p == nil {
		return DropUnknownNode, nil
	}
	name := p.name
	var gen uint64
	if g, ok := h.hg, h.okHg; ok {
		v, ok := parseHex(g)
		if !ok {
			return DropMalformed, nil
		}
		gen = v
	}
	if u, ok := h.srcUUID, h.okSrcUUID; ok && len(u) == 16 && !p.haveUUID {
		copy(p.uuid[:], u)
		p.haveUUID = true
	}
	if bytes.HasPrefix(t, []byte(NoSeqPrefix)) {
		return n.receiveNoSeq(p, medium, string(t), gen, m, &h), p
	}
	sb, ok := h.seq, h.okSeq
	if !ok {
		return DropMalformed, nil
	}
	seq, ok := parseHex(sb)
	if !ok || seq == 0 {
		return DropMalformed, nil
	}
	if gen < p.gen {
		return DropReplay, nil
	}
	if gen > p.gen {
		n.newGeneration(p, gen)
	}
	prev := p.recv.T.Last()
	v, ack, ackOK, out := p.recv.Accept(n.mnow, seq, m)
	fresh := v.Fresh()
	if n.cfg.HeartbeatLiveness {
		fresh = fresh && bytes.Equal(t, []byte(TypeStatus))
	}
	n.changes = n.tab.HeardPeer(n.mnow, p.mp, medium, fresh, n.changes)
	n.applyChanges() // a link coming up is reported before what the packet says, as heartbeat logs it
	if !v.Fresh() {
		return DropDuplicate, p
	}
	if ts, _ := parseHex(ts); ts > p.maxTS {
		p.noteTS(n.mnow, ts)
	}
	if ackOK && !n.oldPeer {
		a := n.newMsg(TypeAck, 10)
		a.Add(wire.FTo, name)
		a.AddUint(wire.FAckSeq, ack, 16)
		n.sendNoSeq(a)
	}
	switch {
	case v == rexmit.Gap:
		n.event(Event{Kind: Lost, Node: name, Seq: prev + 1, LastSeq: seq - 1})
	case v == rexmit.Recovered && p.recv.T.NumMissing() == 0:
		n.event(Event{Kind: NoneMissing, Node: name})
	}
	// out is reused by the receiver: copy before delivering (delivery can
	// re-enter the receiver only through GiveUp, never here, but be safe).
	n.deliverings = append(n.deliverings[:0], out...)
	n.deliverAll(p, n.deliverings, true)
	if !h.toUs(n.self, n.cfg.UUID) {
		return DropNotForUs, p
	}
	return Accepted, p
}

// newGeneration starts tracking p's generation gen, newer than the one
// tracked so far: the node restarted, and numbers its messages from 1
// again. Everything known about the old numbering goes (gaps and their
// pending requests, held-back messages, how far it acknowledged us, the
// probe), so that nothing is ever asked of the new incarnation by an old
// number.
func (n *Node) newGeneration(p *peer, gen uint64) {
	if p.gen != 0 {
		n.event(Event{Kind: PeerRestarted, Node: p.name, Gen: gen, OldGen: p.gen})
	}
	p.recv.Reset()
	p.gen = gen
	p.ackseq = 0
	p.nextProbe = 0
	p.maxTS, p.nsSeen = 0, p.nsSeen[:0]
}

// receiveNoSeq handles an unsequenced NS_ message m from p; h is its
// scanned header.
func (n *Node) receiveNoSeq(p *peer, medium, t string, gen uint64, m *wire.Message, h *header) DropReason {
	if gen < p.gen {
		return DropReplay
	}
	if gen > p.gen && p.gen != 0 {
		// The first news of a restart can be unsequenced (its status
		// lost, an ack or a request getting through): the old numbers
		// are void from now on.
		n.newGeneration(p, gen)
	}
	// Only worth checking (a digest per message) when the node has been
	// quiet for a keepalive.
	fresh := gen == p.gen && gen != 0 && !n.cfg.HeartbeatLiveness &&
		n.mnow.Sub(p.mp.Fresh) >= n.cfg.Keepalive && n.nsFresh(p, m, h)
	n.changes = n.tab.HeardPeer(n.mnow, p.mp, medium, fresh, n.changes)
	n.applyChanges() // a link coming up is reported before what the packet says, as heartbeat logs it
	if !h.toUs(n.self, n.cfg.UUID) {
		switch t {
		case TypeRexmit:
			n.overheard(h)
		case TypeNakRexmit:
			// The sender cannot resend it to anyone: stop waiting too
			// (heartbeat does, without a log line).
			if s, ok := parseHex(h.firstSeq); ok && p.recv.T.IsMissing(s) {
				n.deliverings = append(n.deliverings[:0], p.recv.GiveUp(s)...)
				n.deliverAll(p, n.deliverings, true)
			}
		}
		return DropNotForUs
	}
	switch t {
	case TypeRexmit:
		first, ok1 := parseDec(h.firstSeq)
		last, ok2 := parseDec(h.lastSeq)
		if !ok1 || !ok2 || first == 0 || first > last {
			return DropMalformed
		}
		n.hist.Answer(n.mnow, first, last, p.ackseq, &n.req)
		for _, rm := range n.req.Resend {
			n.out.Send = append(n.out.Send, Outgoing{Msg: rm, Retransmit: true})
		}
		for i, s := range n.req.Refused {
			reason := n.req.Reasons[i].String()
			nak := n.newMsg(TypeNakRexmit, 10) // t, firstseq, dest, comment, destuuid, src, srcuuid, hg, ts, ttl
			nak.AddUint(wire.FFirstSeq, s, 16)
			nak.Add(wire.FTo, p.name)
			nak.Add(fieldComment, reason)
			n.sendNoSeq(nak)
			n.event(Event{Kind: RexmitRefused, Node: p.name, Seq: s, Reason: reason})
		}
	case TypeNakRexmit:
		s, ok := parseHex(h.firstSeq)
		if !ok || s == 0 {
			return DropMalformed
		}
		if p.recv.T.IsMissing(s) {
			n.event(Event{Kind: LostForGood, Node: p.name, Seq: s})
			n.deliverings = append(n.deliverings[:0], p.recv.GiveUp(s)...)
			n.deliverAll(p, n.deliverings, true)
			if p.recv.T.NumMissing() == 0 {
				n.event(Event{Kind: NoneMissing, Node: p.name})
			}
		}
	case TypeAck:
		a, ok := parseHex(h.ackSeq)
		if !ok {
			return DropMalformed
		}
		if a > p.ackseq && a <= n.hist.High() {
			p.ackseq = a
		}
	}
	return Accepted
}

// overheard handles another node's retransmission request: its answer will
// reach us too, so our own requests for the same messages (and our probe of
// the same node, if the request reaches past what we have) can wait.
func (n *Node) overheard(h *header) {
	to := n.byName.find(h.dest)
	if to == nil || n.cfg.HeartbeatLiveness {
		return
	}
	first, ok1 := parseDec(h.firstSeq)
	last, ok2 := parseDec(h.lastSeq)
	if !ok1 || !ok2 || first == 0 || first > last {
		return
	}
	later := n.mnow.Add(n.cfg.MaxRexmitDelay)
	to.recv.T.Postpone(first, last, later)
	if last > to.recv.T.Last() && to.nextProbe.Before(n.mnow.Add(n.probeEvery)) {
		to.nextProbe = n.mnow.Add(n.probeEvery)
	}
	if w := n.peerWake(to); w != to.wake {
		if to.wake == n.lastWake {
			n.haveWake = false // recomputed by finishPeer
		}
		to.wake = w
	}
}

// nsFresh decides whether an unsequenced message proves its sender alive.
// Such a message has no sequence number, so a replay is recognised by its
// timestamp instead: it must carry the newest "ts" (whole seconds) seen from
// the node, be received within nsWindow of that second's first message, and
// differ from every NS_ message already seen with that ts.
func (n *Node) nsFresh(p *peer, m *wire.Message, h *header) bool {
	ts, _ := parseHex(h.ts)
	switch {
	case ts < p.maxTS:
		return false
	case ts > p.maxTS:
		p.noteTS(n.mnow, ts)
	case p.maxTS == 0 || n.mnow.Sub(p.maxTSAt) > nsWindow: // (receive refuses ts 0)
		return false
	}
	d := digest(m)
	for _, x := range p.nsSeen {
		if x == d {
			return false
		}
	}
	if len(p.nsSeen) < 256 {
		p.nsSeen = append(p.nsSeen, d)
	}
	return true
}

func (p *peer) noteTS(now mono.Time, ts uint64) {
	if ts > p.maxTS {
		p.maxTS = ts
		p.maxTSAt = now
		p.nsSeen = p.nsSeen[:0]
	}
}

// digest is FNV-1a over every field but the signature.
func digest(m *wire.Message) uint64 {
	h := uint64(14695981039346656037)
	mix := func(b []byte) {
		for _, c := range b {
			h ^= uint64(c)
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	for i := range m.Fields {
		f := &m.Fields[i]
		if f.Name == wire.FAuth {
			continue
		}
		mix([]byte(f.Name))
		mix(f.Value)
	}
	return h
}

// deliverAll handles released messages in order.
func (n *Node) deliverAll(p *peer, msgs []*wire.Message, applyStatus bool) {
	for _, m := range msgs {
		if !isToUs(m, n.self, n.cfg.UUID) {
			continue
		}
		seq, _ := parseHex(mustBytes(m, wire.FSeq))
		t, _ := m.GetBytes(wire.FType)
		switch string(t) {
		case TypeStatus:
			if applyStatus {
				n.applyStatus(p, m)
			}
		case TypeReqNodes:
			rep := &msgBuf{Message: &wire.Message{Fields: make([]wire.Field, 0, 14)}}
			rep.Add(wire.FTo, p.name)
			rep.Add(wire.FType, TypeRepNodes)
			var sb strings.Builder
			for _, name := range n.cfg.Nodes {
				sb.WriteString(name)
				sb.WriteByte(' ')
			}
			rep.Add(fieldNodeList, sb.String())
			rep.Add(fieldDelNodeList, " ")
			n.sendSeq(rep)
		case TypeRepNodes:
			if n.linksUp {
				n.commNowUp()
			}
		}
		n.event(Event{Kind: Delivered, Node: p.name, Seq: seq, Msg: m})
	}
}

func (n *Node) applyStatus(p *peer, m *wire.Message) {
	sb, _ := m.GetBytes(wire.FStatus)
	if len(sb) == 0 {
		return
	}
	if _, ok := m.GetBytes(wire.FProtocol); !ok && !n.oldPeer {
		n.oldPeer = true // heartbeat logs "flow control disabled due to different version heartbeat"
	}
	if db, ok := m.GetBytes(wire.FDeadTime); ok {
		if ms, ok := parseHex(db); ok && ms > 0 && ms < 1<<40 {
			n.tab.SetPeerDeadTime(p.mp, time.Duration(ms)*time.Millisecond)
		}
	}
	old := p.mp.Status
	if equalLower(sb, string(old)) {
		return // the usual case: nothing changed
	}
	st := Status(lower(sb))
	if old == StatusDead && st != StatusDead && p.diedGen != 0 && p.diedGen == p.gen {
		n.event(Event{Kind: PartitionHealed, Node: p.name, Gen: p.gen, Interval: n.mnow.Sub(p.lastAlive)})
	}
	if st != old {
		n.tab.SetStatus(p.name, st)
		if st != StatusDead {
			p.diedGen = 0
		}
		n.event(Event{Kind: NodeStatus, Node: p.name, Status: st})
	}
}

// isToUs is heartbeat's IsToUs: destuuid when present, else dest.
func isToUs(m *wire.Message, self string, uuid [16]byte) bool {
	if u, ok := m.GetBytes(wire.FToUUID); ok && len(u) == 16 {
		return bytes.Equal(u, uuid[:])
	}
	d, ok := m.GetBytes(wire.FTo)
	return !ok || equalLower(d, self)
}

// peerTable finds a peer by a name given as bytes: an open-addressing
// table hashed on the lower-cased name, so that a lookup neither allocates
// nor hashes twice (the map's string hash was a tenth of a lossy 16-node
// simulation, two lookups per overheard request).
type peerTable struct {
	slots []*peer // len a power of two, at most half full
}

func newPeerTable(peers map[string]*peer) peerTable {
	size := 4
	for size < 2*len(peers) {
		size *= 2
	}
	t := peerTable{slots: make([]*peer, size)}
	for name, p := range peers {
		i := foldHash([]byte(name)) & uint32(size-1)
		for t.slots[i] != nil {
			i = (i + 1) & uint32(size-1)
		}
		t.slots[i] = p
	}
	return t
}

// foldHash is FNV-1a over the bytes of b with bit 5 set: letters hash as
// their lower case, and a name and its lower-cased form hash alike.
func foldHash(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c | 0x20)
		h *= 16777619
	}
	return h
}

// lookup returns the peer named b exactly, else the one named b
// lower-cased (as the map of names was consulted), or nil.
func (t peerTable) lookup(b []byte) *peer {
	mask := uint32(len(t.slots) - 1)
	var folded *peer
	for i := foldHash(b) & mask; t.slots[i] != nil; i = (i + 1) & mask {
		p := t.slots[i]
		if string(b) == p.name {
			return p
		}
		if folded == nil && equalLower(b, p.name) {
			folded = p
		}
	}
	return folded
}

// find returns the peer named b lower-cased, or nil.
func (t peerTable) find(b []byte) *peer {
	mask := uint32(len(t.slots) - 1)
	for i := foldHash(b) & mask; t.slots[i] != nil; i = (i + 1) & mask {
		if p := t.slots[i]; equalLower(b, p.name) {
			return p
		}
	}
	return nil
}

// equalLower reports whether b, lower-cased, equals the lower-case s.
func equalLower(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func mustBytes(m *wire.Message, name string) []byte {
	b, _ := m.GetBytes(name)
	return b
}

// lower returns the lower-case string of b, allocating only when needed.
func lower(b []byte) string {
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			return strings.ToLower(string(b))
		}
	}
	return string(b)
}

// parseHex parses 1..16 lower- or upper-case hex digits.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// parseDec parses 1..19 decimal digits.
func parseDec(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}
