package rm

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// Phase is heartbeat's resourcestate.
type Phase int

// Phases, numbered as heartbeat numbers them (logged "STATE a => b").
const (
	PhaseInit         Phase = 0
	PhaseStarting     Phase = 1
	PhaseBothStarting Phase = 2
	PhaseRscRcvd      Phase = 3
	PhaseStable       Phase = 4
	PhaseShutdown     Phase = 5
)

// StandbyPhase is heartbeat's going_standby.
type StandbyPhase int

// Standby phases ("New standby state: n").
const (
	StandbyNot   StandbyPhase = 0
	StandbyMe    StandbyPhase = 1
	StandbyOther StandbyPhase = 2
	StandbyDone  StandbyPhase = 3
)

// Field names of v1 resource messages.
const (
	FRscHold  = "rsc_hold"
	FRType    = "rtype"
	FIsStable = "isstable"
	FInfo     = "info"
	FIPAddr   = "ipaddr"
	FWeOwn    = "weown"
	FOK       = "ok"
	FNode     = "node"
	FResult   = "result"
	FRscKeys  = "rsc_keys" // heartbeat-go, > 2 nodes only: space-separated held group keys
)

// Message types handled by the machine.
const (
	TStarting      = "starting"
	TResource      = "resource"
	TAskResources  = "ask_resources"
	THBTakeover    = "hb_takeover"
	TShutdone      = "shutdone"
	TStonith       = "stonith"
	TIPRequest     = "ip-request"
	TIPRequestResp = "ip-request-resp"
	TStatus        = "status"
)

type peer struct {
	name     string
	status   Status
	claims   map[string]bool // group keys the peer claims to hold
	stable   bool
	answered bool // sent starting or resource since our comm-up
	restart  bool // PeerRestarted seen since it was last declared dead
	gone     bool // sent shutdone (or shutdown resource message)
	// releasing: its last word was "isstable=0 info=shutdown|standby": it
	// is stopping groups it may no longer list.
	releasing bool
	// booting: it sent "starting" and has not been stable since: it holds
	// nothing yet.
	booting bool
	// resuming: it announced a quick restart that keeps its resources
	// ("resource info=restart"): its restart takes nothing with it, and
	// its claims stand until it says what it holds again.
	resuming bool
	// orphansPending: it restarted (without announcing a quick restart)
	// while we may have to take what it held: decided once it says what
	// it holds now.
	orphansPending bool
}

type op struct {
	start bool
	key   string
}

type job struct {
	ops    []op
	idx    int
	failed []string
	done   func(now time.Time, o *Output, j *job)
}

type standby struct {
	phase   StandbyPhase
	set     Hold   // as the requester sees it
	peer    string // the other side
	keys    []string
	auto    bool      // requester: an auto_failback hand-back (retried if it lapses)
	replyBy time.Time // requester: "other" must arrive by then
	maxBy   time.Time // peer: give up after
}

// Machine is the v1 resource manager of one node.
type Machine struct {
	cfg      Config
	groups   []haresources.Group
	byKey    map[string]int
	peers    map[string]*peer
	order    []string // normal nodes, configuration order
	multi    bool     // more than two normal nodes: heartbeat-go extensions
	local    Status
	commUp   bool
	phase    Phase
	held     map[string]bool // running here (per Done results)
	claim    map[string]bool // what we advertise
	failedAt map[string]time.Time
	sb       standby

	jobs    []*job
	running *Action
	nextID  uint64

	rqstAt          time.Time
	failbackNeeded  bool
	failbackAt      time.Time
	startFailAt     time.Time
	acqDone         bool
	shutdownWanted  bool
	shutdownStarted bool
	restartAfter    bool
	legacyPending   map[string]map[string]bool // key -> peers that have not answered our ip-request
	legacyRecheck   bool
	shutdownReplies [][2]string // ip-requests answered once shutdown stopped everything
	lastHolding     string
	lastAnnounce    string
	owesStable      bool            // we answered "isstable=0" while busy: send "1" when idle
	conflicts       map[string]bool // "peer key" split brains already reported
	skipOwn         bool            // legacyAcquire: leave our own groups alone (-R at comm up)
}

// New validates cfg and returns a machine in phase Init.
func New(cfg Config) (*Machine, error) {
	var errs []error
	if cfg.Local == "" {
		errs = append(errs, errors.New("rm: Local node name is empty"))
	}
	if !slices.Contains(cfg.Nodes, cfg.Local) {
		errs = append(errs, fmt.Errorf("rm: local node %q is not in the node list %v", cfg.Local, cfg.Nodes))
	}
	if cfg.AutoFailback < FailbackLegacy || cfg.AutoFailback > FailbackOff {
		errs = append(errs, fmt.Errorf("rm: auto_failback %d is not legacy, on or off", cfg.AutoFailback))
	}
	m := &Machine{
		cfg:           cfg,
		byKey:         map[string]int{},
		peers:         map[string]*peer{},
		held:          map[string]bool{},
		claim:         map[string]bool{},
		failedAt:      map[string]time.Time{},
		legacyPending: map[string]map[string]bool{},
		conflicts:     map[string]bool{},
		lastHolding:   "none",
	}
	seen := map[string]bool{}
	for _, n := range cfg.Nodes {
		if seen[n] {
			errs = append(errs, fmt.Errorf("rm: node %q listed twice", n))
			continue
		}
		seen[n] = true
		m.order = append(m.order, n)
		if n != cfg.Local {
			m.peers[n] = &peer{name: n, claims: map[string]bool{}}
		}
	}
	for _, g := range cfg.Groups {
		k := g.Key()
		if k == "" {
			continue // a line with no resources: nothing to run
		}
		if _, dup := m.byKey[k]; dup {
			errs = append(errs, fmt.Errorf("rm: group key %q used twice (haresources line %d)", k, g.Line))
			continue
		}
		m.byKey[k] = len(m.groups)
		m.groups = append(m.groups, g)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Restarting {
		keys := cfg.InitialKeys
		if keys == nil {
			keys = m.keysFor(cfg.InitialHolding&HoldAll, cfg.Local)
		}
		for _, k := range keys {
			if _, known := m.byKey[k]; known {
				m.held[k] = true
				m.claim[k] = true
			}
		}
	}
	m.multi = len(m.order) > 2
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&m.cfg.RequestDelay, DefaultRequestDelay)
	def(&m.cfg.StandbyReply, DefaultStandbyReply)
	def(&m.cfg.StandbyMax, DefaultStandbyMax)
	def(&m.cfg.FailbackRetry, DefaultFailbackRetry)
	def(&m.cfg.StartFailStandby, DefaultStartFailStandby)
	return m, nil
}

func (m *Machine) nice() bool { return m.cfg.AutoFailback != FailbackLegacy }

// ---------------------------------------------------------------- queries

// Phase returns the negotiation phase.
func (m *Machine) Phase() Phase { return m.phase }

// Held returns the keys of the groups running here, in file order.
func (m *Machine) Held() []string { return m.keysOf(m.held) }

// Claimed returns the keys this node advertises as held, in file order.
func (m *Machine) Claimed() []string { return m.keysOf(m.claim) }

// PeerClaims returns what the machine believes node holds, in file order.
func (m *Machine) PeerClaims(node string) []string {
	if p := m.peers[node]; p != nil {
		return m.keysOf(p.claims)
	}
	return nil
}

// Busy reports whether a resource action is running or queued.
func (m *Machine) Busy() bool { return m.running != nil || len(m.jobs) > 0 }

// Holding is what cl_status rscstatus prints: none, local, foreign, all,
// or transition while resources are moving. Legacy mode keeps no holding
// bits in heartbeat, so it says none (or transition).
func (m *Machine) Holding() string {
	if m.Busy() || m.sb.phase != StandbyNot || (m.nice() && m.commUp && m.phase != PhaseStable && m.phase != PhaseShutdown) {
		return "transition"
	}
	if !m.nice() {
		return "none"
	}
	return m.bits(m.claim, m.cfg.Local).String()
}

func (m *Machine) keysOf(set map[string]bool) []string {
	var out []string
	for _, g := range m.groups {
		if set[g.Key()] {
			out = append(out, g.Key())
		}
	}
	return out
}

// bits maps a set of keys onto rsc_hold bits relative to node.
func (m *Machine) bits(set map[string]bool, node string) Hold {
	var h Hold
	for k, v := range set {
		if !v {
			continue
		}
		i, ok := m.byKey[k]
		if !ok {
			continue
		}
		if m.groups[i].Node == node {
			h |= HoldLocal
		} else {
			h |= HoldForeign
		}
	}
	return h
}

// keysFor returns the keys (file order) that h means relative to node.
func (m *Machine) keysFor(h Hold, node string) []string {
	var out []string
	for _, g := range m.groups {
		home := g.Node == node
		if (home && h&HoldLocal != 0) || (!home && h&HoldForeign != 0) {
			out = append(out, g.Key())
		}
	}
	return out
}

func (m *Machine) alive(n string) bool {
	if n == m.cfg.Local {
		return true
	}
	p := m.peers[n]
	return p != nil && p.status != "" && p.status != StatusDead && !p.gone
}

func (m *Machine) livePeers() []*peer {
	var out []*peer
	for _, n := range m.order {
		if p := m.peers[n]; p != nil && m.alive(n) {
			out = append(out, p)
		}
	}
	return out
}

// responsible is the node that should run a group homed at home when
// nobody holds it: home itself when alive, else the next live node after it
// in configuration order.
func (m *Machine) responsible(home string) string {
	i := slices.Index(m.order, home)
	if i < 0 {
		// Home is not a normal node (a ping node named in haresources):
		// the first live node takes it.
		for _, n := range m.order {
			if m.alive(n) {
				return n
			}
		}
		return ""
	}
	for j := 0; j < len(m.order); j++ {
		n := m.order[(i+j)%len(m.order)]
		if m.alive(n) {
			return n
		}
	}
	return ""
}

func (m *Machine) claimedByPeer(key string) string {
	for _, p := range m.livePeers() {
		if p.claims[key] {
			return p.name
		}
	}
	return ""
}

// ---------------------------------------------------------------- output helpers

func (m *Machine) ev(o *Output, l Level, format string, a ...any) {
	o.Events = append(o.Events, Event{Kind: Log, Level: l, Text: fmt.Sprintf(format, a...)})
}

func (m *Machine) evk(o *Output, k EventKind, l Level, format string, a ...any) {
	o.Events = append(o.Events, Event{Kind: k, Level: l, Text: fmt.Sprintf(format, a...)})
}

func newMsg(t string, kv ...string) *wire.Message {
	msg := &wire.Message{}
	msg.Add(wire.FType, t)
	for i := 0; i+1 < len(kv); i += 2 {
		msg.Add(kv[i], kv[i+1])
	}
	return msg
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// sendResource sends "t=resource rsc_hold=<claim> rtype=full isstable=<s> [info=<info>]".
func (m *Machine) sendResource(o *Output, stable bool, info string) {
	msg := newMsg(TResource, FRscHold, m.bits(m.claim, m.cfg.Local).String(), FRType, "full", FIsStable, b01(stable))
	if info != "" {
		msg.Add(FInfo, info)
	}
	m.addKeys(msg)
	o.Send = append(o.Send, msg)
}

func (m *Machine) addKeys(msg *wire.Message) {
	if m.multi {
		msg.Add(FRscKeys, strings.Join(m.Claimed(), " "))
	}
}

func (m *Machine) setPhase(o *Output, p Phase) {
	if m.phase != p {
		m.ev(o, Debug, "STATE %d => %d", m.phase, p)
		m.phase = p
	}
}

func (m *Machine) setStandby(o *Output, s standby) {
	if m.sb.phase != s.phase {
		m.ev(o, Debug, "New standby state: %d", s.phase)
	}
	m.sb = s
}

// finish completes an Output: starts the next action, sets Wake, reports
// holding changes.
func (m *Machine) finish(now time.Time, o *Output) Output {
	m.timers(now, o)
	if m.commUp && m.nice() {
		m.audit(now, o)
	}
	for i := 0; i < 4; i++ {
		m.pump(now, o)
		if m.Busy() {
			break
		}
		before := len(m.jobs)
		m.afterChange(now, o)
		if len(m.jobs) == before {
			break
		}
	}
	if m.owesStable && m.isStable() {
		m.owesStable = false
		m.sendResource(o, true, "")
	}
	if m.multi && !m.nice() && m.commUp && !m.shutdownStarted {
		// heartbeat-go, legacy mode with more than two nodes: tell the
		// others what we hold, so that a dead node's groups are taken over
		// only when nobody runs them.
		if a := strings.Join(m.Claimed(), " ") + b01(!m.Busy()); a != m.lastAnnounce {
			m.lastAnnounce = a
			m.sendResource(o, !m.Busy(), "")
		}
	}
	if h := m.Holding(); h != m.lastHolding {
		m.lastHolding = h
		m.evk(o, HoldingChanged, Debug, "Resource holding now %s", h)
	}
	o.Wake = m.wake()
	return *o
}

func (m *Machine) wake() time.Time {
	var w time.Time
	add := func(t time.Time) {
		if !t.IsZero() && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	if m.phase == PhaseRscRcvd {
		add(m.rqstAt)
	}
	if m.sb.phase == StandbyMe {
		add(m.sb.replyBy)
	}
	if m.sb.phase == StandbyOther {
		add(m.sb.maxBy)
	}
	add(m.failbackAt)
	add(m.startFailAt)
	return w
}

// ---------------------------------------------------------------- job queue

func (m *Machine) enqueue(j *job) {
	m.jobs = append(m.jobs, j)
}

// pump emits the next group action when none is running.
func (m *Machine) pump(now time.Time, o *Output) {
	for m.running == nil && len(m.jobs) > 0 {
		j := m.jobs[0]
		if j.idx >= len(j.ops) {
			m.jobs = m.jobs[1:]
			if j.done != nil {
				j.done(now, o, j)
			}
			continue
		}
		op := j.ops[j.idx]
		i := m.byKey[op.key]
		m.nextID++
		a := Action{ID: m.nextID, Kind: StopGroup, Key: op.key, Group: m.groups[i]}
		if op.start {
			a.Kind = StartGroup
			m.ev(o, Info, "Acquiring resource group: %s", groupLine(m.groups[i]))
		} else {
			m.ev(o, Info, "Releasing resource group: %s", groupLine(m.groups[i]))
		}
		m.running = &a
		o.Actions = append(o.Actions, a)
	}
}

func groupLine(g haresources.Group) string {
	parts := []string{g.Node}
	for _, r := range g.Resources {
		parts = append(parts, r.Raw)
	}
	return strings.Join(parts, " ")
}

// Done reports the result of the StartGroup or StopGroup with the given id.
// Unknown ids are ignored.
func (m *Machine) Done(now time.Time, id uint64, r Result) Output {
	var o Output
	if m.running == nil || m.running.ID != id || len(m.jobs) == 0 {
		m.ev(&o, Warn, "rm: result for unknown resource action %d ignored", id)
		return m.finish(now, &o)
	}
	a := *m.running
	m.running = nil
	j := m.jobs[0]
	j.idx++
	switch a.Kind {
	case StartGroup:
		if r == OK {
			m.held[a.Key] = true
			delete(m.failedAt, a.Key)
		} else {
			delete(m.held, a.Key)
			delete(m.claim, a.Key)
			j.failed = append(j.failed, a.Key)
			m.failedAt[a.Key] = now
			m.ev(&o, Crit, "Giving up resources due to failure of %s", a.Key)
			if m.nice() && !m.multi && !m.shutdownWanted {
				// heartbeat runs "hb_standby foreign" 30 s later.
				m.startFailAt = now.Add(m.cfg.StartFailStandby)
			}
		}
	case StopGroup:
		delete(m.held, a.Key)
		switch r {
		case OK:
		case Failed:
			m.ev(&o, Error, "Resource script for %s probably not LSB-compliant.", a.Key)
			m.ev(&o, Warn, "it (%s) MUST succeed on a stop when already stopped", a.Key)
			m.ev(&o, Warn, "Machine reboot narrowly avoided!")
		default:
			m.held[a.Key] = true
			m.ev(&o, Crit, "Resource STOP failure. Reboot required!")
			m.ev(&o, Crit, "Killing heartbeat ungracefully!")
			o.Actions = append(o.Actions, Action{Kind: FenceSelf, Key: a.Key, Group: a.Group})
			m.jobs = nil
			return m.finish(now, &o)
		}
	}
	return m.finish(now, &o)
}

// ---------------------------------------------------------------- inputs

// NodeStatus reports a node status change decided by the core (local
// node included: its "active" means communication is up).
func (m *Machine) NodeStatus(now time.Time, node string, st Status) Output {
	var o Output
	if node == m.cfg.Local {
		m.local = st
		if st == StatusActive && !m.commUp {
			m.commUpNow(now, &o)
		}
		return m.finish(now, &o)
	}
	p := m.peers[node]
	hook := newMsg(TStatus, wire.FOrig, node, wire.FStatus, string(st))
	if p == nil {
		// A ping node (or unknown): only the event hook.
		o.Actions = append(o.Actions, Action{Kind: RunEvent, Msg: hook, OStatus: m.local})
		return m.finish(now, &o)
	}
	prev := p.status
	if prev == st {
		return m.finish(now, &o)
	}
	p.status = st
	o.Actions = append(o.Actions, Action{Kind: RunEvent, Msg: hook, OStatus: m.local})
	switch {
	case st == StatusDead:
		p.orphansPending = false // its death decides now
		p.restart = false        // from now on, a restart is what distinguishes a reboot from a healed partition
		m.peerDead(now, &o, p, prev)
	case prev == StatusDead:
		// Same generation back: heartbeat's "returning after partition".
		// In legacy mode, a restarted node first heard "active" also came
		// up without us (no holdings exchange can tell what it runs).
		returned := st == StatusActive && (!p.restart || !m.nice())
		p.restart = false
		p.gone = false
		p.claims = map[string]bool{}
		p.stable = false
		if returned && m.commUp {
			m.partitionReturn(now, &o, p)
		} else if st == StatusActive && m.commUp && m.nice() && !m.shutdownWanted && m.phase >= PhaseRscRcvd {
			// It came up without us (it will send no "starting"): tell it
			// what we hold.
			m.sendResource(&o, m.phase == PhaseStable, "")
		}
	}
	return m.finish(now, &o)
}

// PeerRestarted reports that node restarted (its generation increased).
func (m *Machine) PeerRestarted(now time.Time, node string) Output {
	var o Output
	p := m.peers[node]
	if p == nil {
		return m.finish(now, &o)
	}
	m.ev(&o, Info, "Heartbeat restart on node %s", node)
	p.restart = true
	p.booting, p.releasing = false, false
	if p.resuming {
		// A quick restart (reload with a changed ha.cf): it still runs
		// what it held, and will say so again once it is up.
		p.stable = false
		p.answered = false
		p.gone = false
		if m.sb.phase != StandbyNot && m.sb.peer == node {
			m.ev(&o, Info, "Cancelling pending standby operation")
			m.setStandby(&o, standby{})
		}
		for k, pend := range m.legacyPending {
			if pend[node] {
				delete(pend, node)
				m.legacyMaybeTake(now, &o, k)
			}
		}
		return m.finish(now, &o)
	}
	lost := m.keysOf(p.claims)
	p.claims = map[string]bool{}
	p.stable = false
	p.answered = false
	p.gone = false
	if m.sb.phase != StandbyNot && m.sb.peer == node {
		m.ev(&o, Info, "Cancelling pending standby operation")
		m.setStandby(&o, standby{})
	}
	m.legacyRecheck = true
	if m.multi && m.commUp {
		// Tell the newcomer what we hold (legacy mode has no "starting"
		// exchange to do it), or that we are releasing everything.
		if m.shutdownWanted {
			m.sendResource(&o, false, "shutdown")
		} else {
			m.sendResource(&o, !m.Busy(), "")
		}
	}
	// It will not answer our ip-requests any more; it holds nothing now.
	for k, pend := range m.legacyPending {
		if pend[node] {
			delete(pend, node)
			m.legacyMaybeTake(now, &o, k)
		}
	}
	if m.nice() && m.commUp && p.status != StatusDead && !m.shutdownWanted && (len(lost) > 0 || m.phase == PhaseStable) {
		// It restarted faster than deadtime: what it held is gone, and so
		// is whatever it was about to take from us, unless it is
		// heartbeat's quick restart (heartbeat -R -C <holding> after a
		// reload), which keeps its resources: its first resource message
		// says which.
		p.orphansPending = true
	}
	return m.finish(now, &o)
}

// Command carries out an operator request.
func (m *Machine) Command(now time.Time, c Command) Output {
	var o Output
	switch c.Kind {
	case Shutdown:
		m.shutdown(now, &o, false)
	case Standby:
		set, ok := ParseHold(orAll(c.What))
		if !ok {
			m.evk(&o, StandbyRefused, Error, "wrong resources(%s).", c.What)
			break
		}
		m.ev(&o, Info, "Going standby [%s].", set)
		m.goStandby(now, &o, set)
	case Takeover:
		set, ok := ParseHold(orAll(c.What))
		if !ok {
			m.evk(&o, StandbyRefused, Error, "wrong resources(%s).", c.What)
			break
		}
		if m.multi {
			m.evk(&o, StandbyRefused, Warn, "hb_takeover is only implemented for two-node clusters")
			break
		}
		what := orAll(c.What)
		if what == "failback" {
			what = "failback"
		} else {
			what = set.String()
		}
		o.Send = append(o.Send, newMsg(THBTakeover, FRscHold, what))
	default:
		m.ev(&o, Warn, "rm: unknown command %d ignored", c.Kind)
	}
	return m.finish(now, &o)
}

func orAll(s string) string {
	if s == "" {
		return "all"
	}
	return s
}

// Tick fires due timers.
func (m *Machine) Tick(now time.Time) Output {
	var o Output
	return m.finish(now, &o)
}

// timers fires the timers that are due (on every input, so that Wake is
// never in the past).
func (m *Machine) timers(now time.Time, o *Output) {
	if m.phase == PhaseRscRcvd && !m.rqstAt.IsZero() && !now.Before(m.rqstAt) {
		m.ev(o, Info, "local resource transition completed.")
		m.reqOurResources(now, o, "HB_R_BOTHSTARTING")
	}
	if m.sb.phase == StandbyMe && !now.Before(m.sb.replyBy) {
		m.ev(o, Warn, "No reply to standby request.  Standby request cancelled.")
		if m.sb.auto {
			m.failbackNeeded = true
			m.failbackAt = now.Add(m.cfg.FailbackRetry)
		}
		m.setStandby(o, standby{})
	}
	if m.sb.phase == StandbyOther && !now.Before(m.sb.maxBy) {
		m.ev(o, Warn, "Standby operation by %s timed out: cancelled.", m.sb.peer)
		m.setStandby(o, standby{})
	}
	if !m.startFailAt.IsZero() && !now.Before(m.startFailAt) {
		m.startFailAt = time.Time{}
		m.ev(o, Info, "Going standby [foreign].")
		m.goStandby(now, o, HoldForeign)
	}
	if !m.failbackAt.IsZero() && !now.Before(m.failbackAt) {
		m.failbackAt = time.Time{}
		m.tryFailback(now, o)
	}
}

// Receive handles a cluster message delivered in order by the core.
// Messages from the local node (looped back) are ignored: the machine
// applies its own messages when it sends them.
func (m *Machine) Receive(now time.Time, msg *wire.Message) Output {
	var o Output
	if msg == nil {
		return m.finish(now, &o)
	}
	src := msg.Value(wire.FOrig)
	dest := msg.Value(wire.FTo)
	t := msg.Value(wire.FType)
	if src == m.cfg.Local || (dest != "" && dest != m.cfg.Local) {
		return m.finish(now, &o)
	}
	p := m.peers[src]
	switch t {
	case TStarting:
		if p != nil {
			m.onStarting(now, &o, p)
		}
	case TResource:
		if p != nil {
			m.onResource(now, &o, p, msg)
		}
	case TAskResources:
		if p != nil {
			m.onAsk(now, &o, p, msg)
		}
	case TShutdone:
		if p != nil {
			m.onShutdone(now, &o, p)
		}
	case THBTakeover:
		o.Actions = append(o.Actions, Action{Kind: RunEvent, Msg: msg.Clone(), OStatus: m.local})
		if p != nil {
			m.onTakeover(now, &o, p, msg)
		}
	case TIPRequest:
		o.Actions = append(o.Actions, Action{Kind: RunEvent, Msg: msg.Clone(), OStatus: m.local})
		if p != nil {
			m.onIPRequest(now, &o, p, msg)
		}
	case TIPRequestResp:
		o.Actions = append(o.Actions, Action{Kind: RunEvent, Msg: msg.Clone(), OStatus: m.local})
		if p != nil {
			m.onIPRequestResp(now, &o, p, msg)
		}
	case TStonith, TStatus, "":
	default:
		if !builtinType(t) {
			o.Actions = append(o.Actions, Action{Kind: RunEvent, Msg: msg.Clone(), OStatus: m.local})
		}
	}
	return m.finish(now, &o)
}

// builtinType lists message types heartbeat handles internally (they never
// run rc.d scripts).
func builtinType(t string) bool {
	switch t {
	case "reqnodes", "repnodes", "addnode", "delnode", "setweight", "setsite",
		"NS_rexmit", "NS_ackmsg", "NS_st", "ifstat", "query-cstatus", "respond-cstatus",
		"hbapi-req", "hbapi-resp", "hbapi-clstat", "ping", "CCM", "cib", "crmd":
		return true
	}
	return false
}

// ---------------------------------------------------------------- comm up / start-up

func (m *Machine) commUpNow(now time.Time, o *Output) {
	m.commUp = true
	for _, p := range m.peers {
		p.answered = false
	}
	// The fencing verdicts for nodes found dead go first (as heartbeat's
	// sequence numbers show), then "starting".
	for _, n := range m.order {
		if p := m.peers[n]; p != nil && p.status == StatusDead {
			m.stonith(o, p)
			p.stable = true
			p.claims = map[string]bool{}
		}
	}
	if m.nice() {
		o.Send = append(o.Send, newMsg(TStarting))
		m.setPhase(o, PhaseStarting)
	}
	if !m.nice() {
		m.setPhase(o, PhaseStable)
		if m.cfg.Restarting {
			// heartbeat -R: our own groups stay as they were (held or
			// not); only a dead node's may still need us.
			m.skipOwn = true
		}
		m.legacyAcquire(now, o)
		m.skipOwn = false
		m.maybeAcqDone(o, "req_our_resources")
		return
	}
	if len(m.livePeers()) == 0 {
		// Alone: every peer is dead already. The dead nodes' groups are
		// claimed first, then ours are taken (one "resource all" message).
		m.takeDead(now, o)
		if m.phase != PhaseStable {
			m.reqOurResources(now, o, "req_our_resources")
		}
	}
}

// takeDead takes over the groups of every dead peer we are responsible for.
func (m *Machine) takeDead(now time.Time, o *Output) {
	for _, n := range m.order {
		if p := m.peers[n]; p != nil && p.status == StatusDead {
			m.takeOrphans(now, o, n, "mach_down")
		}
	}
}

// reqOurResources: we are stable; take our own groups that nobody claims.
func (m *Machine) reqOurResources(now time.Time, o *Output, reason string) {
	m.setPhase(o, PhaseStable)
	m.rqstAt = time.Time{}
	var keys []string
	for _, g := range m.groups {
		k := g.Key()
		if g.Node != m.cfg.Local || m.claim[k] || m.held[k] || m.claimedByPeer(k) != "" || m.recentlyFailed(now, k) {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		m.sendResource(o, true, "")
		m.ev(o, Info, "Local Resource acquisition completed. (none)")
		m.maybeAcqDone(o, reason)
		return
	}
	for _, k := range keys {
		m.claim[k] = true
	}
	if len(m.livePeers()) > 0 {
		// Claimed before started (alone, nobody needs telling yet: a
		// peer that appears asks with "starting" and gets the claim).
		m.sendResource(o, true, "")
	}
	j := &job{done: func(now time.Time, o *Output, j *job) {
		for _, k := range j.failed {
			delete(m.claim, k)
		}
		m.sendResource(o, true, "req_our_resources()")
		m.ev(o, Info, "Local Resource acquisition completed.")
		m.maybeAcqDone(o, reason)
	}}
	for _, k := range keys {
		o.Send = append(o.Send, newMsg(TIPRequestResp, wire.FTo, m.cfg.Local, FIPAddr, k, FWeOwn, "yes", FOK, "OK"))
		j.ops = append(j.ops, op{start: true, key: k})
	}
	m.enqueue(j)
}

func (m *Machine) recentlyFailed(now time.Time, k string) bool {
	t, ok := m.failedAt[k]
	return ok && now.Sub(t) < m.cfg.StartFailStandby
}

func (m *Machine) maybeAcqDone(o *Output, reason string) {
	if m.acqDone || m.Busy() || !m.commUp {
		return
	}
	m.acqDone = true
	m.evk(o, AcquisitionDone, Info, "Initial resource acquisition complete (%s)", reason)
}

func (m *Machine) onStarting(now time.Time, o *Output, p *peer) {
	p.stable = false
	if !p.resuming {
		p.claims = map[string]bool{}
	}
	p.answered = true
	p.gone = false
	p.releasing = false
	p.booting = true
	if m.sb.phase != StandbyNot && m.sb.peer == p.name {
		m.ev(o, Info, "Cancelling pending standby operation")
		m.setStandby(o, standby{})
	}
	if !m.nice() || !m.commUp {
		return
	}
	if m.phase == PhaseStarting {
		m.setPhase(o, PhaseBothStarting)
	}
	stable := m.isStable()
	if !stable && m.phase == PhaseStable {
		m.owesStable = true // say so when the transition is over
	}
	m.sendResource(o, stable, m.multiInfo())
}

// isStable: negotiated, and no resource action or standby under way.
func (m *Machine) isStable() bool {
	return m.phase == PhaseStable && !m.Busy() && m.sb.phase == StandbyNot && !m.shutdownWanted
}

// multiInfo: with more than two nodes (heartbeat-go only), answers sent
// while shutting down say so, so that the asker knows we may still be
// stopping groups we no longer list.
func (m *Machine) multiInfo() string {
	if m.multi && m.shutdownWanted {
		return "shutdown"
	}
	return ""
}

// peersSettled: no live peer may be running groups it does not list (it
// is releasing, or we have not heard what it holds since our start).
func (m *Machine) peersSettled() bool {
	for _, p := range m.livePeers() {
		if p.releasing || (!p.answered && !p.booting) {
			return false
		}
	}
	return true
}

func (m *Machine) onResource(now time.Time, o *Output, p *peer, msg *wire.Message) {
	h, _ := ParseHold(msg.Value(FRscHold))
	info := msg.Value(FInfo)
	// A node that says it is not stable may still be stopping what it no
	// longer claims: until it is stable again, its old claims stand.
	unstable := msg.Value(FIsStable) != "1"
	if keys, ok := msg.Get(FRscKeys); ok {
		if !unstable {
			p.claims = map[string]bool{}
		}
		for _, k := range strings.Fields(keys) {
			if _, known := m.byKey[k]; known {
				p.claims[k] = true
			}
		}
	} else {
		set := m.keysFor(h, p.name)
		if (msg.Value(FRType) == "full" || h == HoldNone) && !unstable {
			p.claims = map[string]bool{}
		}
		for _, k := range set {
			p.claims[k] = true
		}
	}
	if info == "shutdown" {
		p.stable = false
	}
	p.resuming = info == InfoRestart
	if p.orphansPending {
		p.orphansPending = false
		if m.nice() && m.commUp && p.status != StatusDead && !m.shutdownWanted {
			m.takeOrphans(now, o, p.name, "restart")
		}
	}
	switch {
	case !unstable:
		p.releasing, p.booting = false, false
	case info == "shutdown" || info == "standby":
		p.releasing, p.booting = true, false
	}
	p.answered = true
	if !m.nice() || !m.commUp {
		if st, ok := msg.Get(FIsStable); ok {
			p.stable = st == "1"
		}
		return
	}
	if m.phase == PhaseStarting || m.phase == PhaseBothStarting {
		if m.phase == PhaseStarting {
			m.sendResource(o, false, "")
		}
		m.setPhase(o, PhaseRscRcvd)
		m.rqstAt = now.Add(m.cfg.RequestDelay)
	}
	if st, ok := msg.Get(FIsStable); ok {
		was := p.stable
		p.stable = st == "1"
		if p.stable && !was {
			m.ev(o, Info, "remote resource transition completed.")
			if m.phase == PhaseStable {
				m.sendResource(o, true, "")
			}
			m.tryFailback(now, o)
		}
	}
	if m.phase == PhaseRscRcvd && m.readyToStabilise() {
		reason := "T_RESOURCES(them)"
		m.reqOurResources(now, o, reason)
	}
}

// readyToStabilise: heartbeat waits for the peer to be stable (or
// RQSTDELAY). We also go at once when no live peer claims any of our own
// groups and every live peer has answered: taking only our own unclaimed
// groups cannot collide then, because a peer claims a group before it
// starts one of ours.
func (m *Machine) readyToStabilise() bool {
	live := m.livePeers()
	allStable := true
	for _, p := range live {
		if !p.answered {
			return false
		}
		if !p.stable {
			allStable = false
		}
	}
	if allStable {
		return true
	}
	for _, p := range live {
		if !p.stable && (p.releasing || !p.booting) {
			// It may be stopping groups it no longer lists: wait for it
			// to be stable (or RQSTDELAY), as heartbeat does.
			return false
		}
	}
	for _, p := range live {
		for k := range p.claims {
			if i, ok := m.byKey[k]; ok && m.groups[i].Node == m.cfg.Local {
				return false
			}
		}
	}
	return true
}

// audit reports groups claimed by two nodes.
//
// A group we run that a stable peer also says it runs is a split brain
// (two nodes came up without each other). heartbeat only logs it; we also
// settle it: the group's home keeps it, else the node first in ha.cf
// order, and the other stops it.
func (m *Machine) audit(now time.Time, o *Output) {
	var give []string
	for _, p := range m.livePeers() {
		for _, g := range m.groups {
			k := g.Key()
			ck := p.name + " " + k
			if !p.claims[k] || !m.held[k] {
				delete(m.conflicts, ck)
				continue
			}
			if !m.conflicts[ck] {
				m.conflicts[ck] = true
				m.evk(o, SplitBrain, Crit, "Split brain: resource group %s is held by both %s and %s!", k, m.cfg.Local, p.name)
			}
			if !p.stable || m.shutdownWanted || m.stopQueued(k) || slices.Contains(give, k) {
				continue
			}
			keeper := m.cfg.Local
			switch {
			case g.Node == p.name:
				keeper = p.name
			case g.Node == m.cfg.Local:
			case slices.Index(m.order, p.name) < slices.Index(m.order, m.cfg.Local):
				keeper = p.name
			}
			if keeper != m.cfg.Local {
				m.evk(o, SplitBrain, Crit, "Split brain: %s keeps resource group %s; releasing it here.", keeper, k)
				give = append(give, k)
			}
		}
	}
	if len(give) == 0 {
		return
	}
	for _, k := range give {
		delete(m.claim, k)
	}
	m.sendResource(o, false, "")
	j := &job{done: func(now time.Time, o *Output, j *job) {
		m.sendResource(o, m.phase == PhaseStable, "")
	}}
	for _, k := range give {
		j.ops = append(j.ops, op{key: k})
	}
	m.enqueue(j)
}

func (m *Machine) stopQueued(k string) bool {
	if m.running != nil && m.running.Kind == StopGroup && m.running.Key == k {
		return true
	}
	for _, j := range m.jobs {
		for _, op := range j.ops[j.idx:] {
			if !op.start && op.key == k {
				return true
			}
		}
	}
	return false
}

// ---------------------------------------------------------------- standby

func (m *Machine) goStandby(now time.Time, o *Output, set Hold) {
	refuse := func(format string, a ...any) {
		m.evk(o, StandbyRefused, Warn, format, a...)
	}
	switch {
	case !m.nice():
		refuse("Standby mode only implemented when nice_failback on")
		return
	case m.multi:
		refuse("Standby mode is only implemented for two-node clusters")
		return
	case m.shutdownWanted:
		refuse("Standby request ignored: shutdown in progress.")
		return
	case m.sb.phase != StandbyNot:
		refuse("Standby in progress- new request ignored [%s]", set)
		return
	case m.phase != PhaseStable || m.Busy():
		refuse("standby message [me] ignored.  local resources in flux.")
		return
	}
	live := m.livePeers()
	if len(live) == 0 {
		refuse("No reply to standby request.  Standby request cancelled.")
		return
	}
	p := live[0]
	if !p.stable {
		refuse("standby message [me] from %s ignored.  Other side is in flux.", m.cfg.Local)
		return
	}
	o.Send = append(o.Send, newMsg(TAskResources, FRscHold, set.String(), FInfo, "me"))
	m.setStandby(o, standby{phase: StandbyMe, set: set, peer: p.name, replyBy: now.Add(m.cfg.StandbyReply)})
}

func (m *Machine) onAsk(now time.Time, o *Output, p *peer, msg *wire.Message) {
	info := msg.Value(FInfo)
	set, ok := ParseHold(msg.Value(FRscHold))
	if !ok {
		m.ev(o, Warn, "ask_resources from %s with bad rsc_hold %q ignored", p.name, msg.Value(FRscHold))
		return
	}
	if !m.nice() {
		m.ev(o, Warn, "Standby mode only implemented when nice_failback on")
		return
	}
	if m.multi {
		m.ev(o, Warn, "standby message [%s] from %s ignored: only implemented for two-node clusters", info, p.name)
		return
	}
	switch info {
	case "me":
		switch {
		case m.shutdownWanted:
			m.ev(o, Warn, "standby message [me] from %s ignored.  Shutdown in progress.", p.name)
		case m.sb.phase == StandbyMe && m.sb.peer == p.name && slices.Index(m.order, p.name) < slices.Index(m.order, m.cfg.Local):
			// Both asked at once: the node first in ha.cf order goes
			// first; we withdraw ours (it ignores it, as heartbeat does).
			m.ev(o, Info, "Standby requests crossed: %s goes first.", p.name)
			if m.sb.auto {
				m.failbackNeeded = true // ours is retried afterwards
			}
			m.setStandby(o, standby{})
			m.onAsk(now, o, p, msg)
		case m.sb.phase != StandbyNot:
			m.ev(o, Warn, "Standby in progress- new request from %s ignored [%d seconds left]", p.name, m.sbLeft(now))
		case !p.stable:
			m.ev(o, Warn, "standby message [me] from %s ignored.  Other side is in flux.", p.name)
		case m.phase != PhaseStable || m.Busy():
			m.ev(o, Warn, "standby message [me] from %s ignored.  local resources in flux.", p.name)
		default:
			m.ev(o, Info, "%s wants to go standby [%s]", p.name, set)
			o.Send = append(o.Send, newMsg(TAskResources, FRscHold, set.String(), FInfo, "other"))
			m.setStandby(o, standby{phase: StandbyOther, set: set, peer: p.name, maxBy: now.Add(m.cfg.StandbyMax)})
		}
	case "other":
		if m.sb.phase != StandbyMe || m.sb.peer != p.name {
			m.ev(o, Warn, "Ignored standby message 'other' from %s in state %d", p.name, m.sb.phase)
			return
		}
		m.ev(o, Info, "standby: %s can take our %s resources", p.name, m.sb.set)
		p.stable = false // in flux until its "isstable=1" after taking them
		keys := m.keysFor(m.sb.set, m.cfg.Local)
		for _, k := range keys {
			delete(m.claim, k)
		}
		sb := m.sb
		sb.keys = keys
		sb.replyBy = time.Time{}
		sb.phase = StandbyDone // the reply arrived; waiting for our own stop
		m.setStandby(o, sb)
		m.sendResource(o, false, "standby")
		m.ev(o, Info, "give up %s HA resources (standby).", sb.set)
		j := &job{done: func(now time.Time, o *Output, j *job) {
			m.ev(o, Info, "%s HA resource release completed (standby).", sb.set)
			o.Send = append(o.Send, newMsg(TAskResources, FRscHold, sb.set.String(), FInfo, "done"))
			if m.sb.phase == StandbyDone && m.sb.peer == sb.peer {
				m.ev(o, Info, "Local standby process completed [%s].", sb.set)
			}
		}}
		for _, k := range keys {
			j.ops = append(j.ops, op{key: k})
		}
		m.enqueue(j)
	case "done":
		switch {
		case m.sb.phase == StandbyOther && m.sb.peer == p.name:
			m.ev(o, Info, "standby: acquire [%s] resources from %s", m.sb.set, p.name)
			keys := m.keysFor(m.sb.set, p.name)
			for _, k := range keys {
				delete(p.claims, k)
			}
			var todo []string
			for _, k := range keys {
				if !m.held[k] {
					todo = append(todo, k)
				}
			}
			sb := m.sb
			sb.keys = keys
			m.setStandby(o, sb)
			m.ev(o, Info, "acquire %s HA resources (standby).", m.bits(setOf(keys), m.cfg.Local))
			// Claimed before they start (heartbeat adds the bits after, but
			// sends nothing in between; we may have to answer a "starting"
			// meanwhile).
			for _, k := range keys {
				m.claim[k] = true
			}
			j := &job{done: func(now time.Time, o *Output, j *job) {
				for _, k := range j.failed {
					delete(m.claim, k)
				}
				o.Send = append(o.Send, newMsg(TAskResources, FRscHold, sb.set.String(), FInfo, "done"))
				m.sendResource(o, true, "")
				m.ev(o, Info, "Standby resource acquisition done [%s].", sb.set)
				if m.sb.phase == StandbyOther && m.sb.peer == sb.peer {
					m.setStandby(o, standby{})
				}
				m.maybeAcqDone(o, "auto_failback")
			}}
			for _, k := range todo {
				j.ops = append(j.ops, op{start: true, key: k})
			}
			m.enqueue(j)
		case m.sb.phase == StandbyDone && m.sb.peer == p.name:
			m.ev(o, Info, "Other node completed standby takeover of %s resources.", m.sb.set)
			for _, k := range m.sb.keys {
				p.claims[k] = true
			}
			m.setStandby(o, standby{})
			m.sendResource(o, true, "")
		default:
			m.ev(o, Warn, "Ignored standby message 'done' from %s in state %d", p.name, m.sb.phase)
		}
	default:
		m.ev(o, Warn, "Ignored standby message '%s' from %s in state %d", info, p.name, m.sb.phase)
	}
}

func setOf(keys []string) map[string]bool {
	s := map[string]bool{}
	for _, k := range keys {
		s[k] = true
	}
	return s
}

func (m *Machine) sbLeft(now time.Time) int {
	var t time.Time
	if m.sb.phase == StandbyMe {
		t = m.sb.replyBy
	} else {
		t = m.sb.maxBy
	}
	if t.IsZero() || !t.After(now) {
		return 0
	}
	return int(t.Sub(now) / time.Second)
}

func (m *Machine) onTakeover(now time.Time, o *Output, p *peer, msg *wire.Message) {
	var set Hold
	switch msg.Value(FRscHold) {
	case "local":
		set = HoldForeign
	case "foreign":
		set = HoldLocal
	default: // "all", and "failback" which rc.d/hb_takeover leaves unmapped
		set = HoldAll
	}
	m.ev(o, Info, "Going standby [%s].", set)
	m.goStandby(now, o, set)
}

// tryFailback: auto_failback on gives foreign groups back to their home.
func (m *Machine) tryFailback(now time.Time, o *Output) {
	if m.cfg.AutoFailback != FailbackOn || !m.failbackNeeded || m.multi {
		return
	}
	if m.bits(m.claim, m.cfg.Local)&HoldForeign == 0 {
		m.failbackNeeded = false
		return
	}
	live := m.livePeers()
	if len(live) == 0 {
		return
	}
	p := live[0]
	if m.phase != PhaseStable || !p.stable || m.sb.phase != StandbyNot || m.Busy() || m.shutdownWanted {
		m.ev(o, Debug, "Auto failback delayed.")
		m.failbackAt = now.Add(m.cfg.FailbackRetry)
		return
	}
	m.failbackNeeded = false
	m.failbackAt = time.Time{}
	o.Send = append(o.Send, newMsg(TAskResources, FRscHold, HoldForeign.String(), FInfo, "me"))
	m.setStandby(o, standby{phase: StandbyMe, set: HoldForeign, peer: p.name, auto: true, replyBy: now.Add(m.cfg.StandbyReply)})
}

// ---------------------------------------------------------------- death, shutdown, partitions

func (m *Machine) peerDead(now time.Time, o *Output, p *peer, prev Status) {
	m.legacyRecheck = true
	if m.sb.phase != StandbyNot && m.sb.peer == p.name {
		m.ev(o, Info, "Cancelling pending standby operation")
		m.setStandby(o, standby{})
	}
	for k, pend := range m.legacyPending {
		if pend[p.name] {
			delete(pend, p.name)
			m.legacyMaybeTake(now, o, k)
		}
	}
	if !m.commUp {
		return // reported and taken over at comm-up
	}
	m.stonith(o, p)
	p.stable = true
	p.booting, p.releasing = false, false
	wasGone := p.gone
	p.gone = false
	if m.shutdownWanted {
		m.ev(o, Info, "Resource takeover cancelled - shutdown in progress.")
		return
	}
	if wasGone && len(p.claims) == 0 && !m.anyOrphanFor(now) {
		p.claims = map[string]bool{}
		return
	}
	m.ev(o, Info, "Resources being acquired from %s.", p.name)
	o.Actions = append(o.Actions, Action{Kind: RunEvent, Msg: newMsg(TStatus, wire.FOrig, p.name, wire.FStatus, string(StatusDead)), OStatus: m.local})
	m.takeOrphans(now, o, p.name, "mach_down")
}

// stonith sends heartbeat's fencing verdict for a dead peer: unneeded when
// it said it gave everything up, else n_stnth (no STONITH device).
func (m *Machine) stonith(o *Output, p *peer) {
	gaveUp := p.gone || (m.nice() && p.answered && len(p.claims) == 0)
	if gaveUp {
		m.ev(o, Info, "Dead node %s gave up resources.", p.name)
		o.Send = append(o.Send, newMsg(TStonith, FNode, p.name, FResult, "unneeded"))
		return
	}
	m.ev(o, Warn, "No STONITH device configured.")
	m.ev(o, Warn, "Shared disks are not protected.")
	o.Send = append(o.Send, newMsg(TStonith, FNode, p.name, FResult, "n_stnth"))
}

// anyOrphanFor reports whether some group nobody holds is ours to take.
func (m *Machine) anyOrphanFor(now time.Time) bool {
	return len(m.orphans(now, false)) > 0
}

// orphans returns groups no live node claims that we are responsible for
// (home groups included only when withHome).
func (m *Machine) orphans(now time.Time, withHome bool) []string {
	var out []string
	for _, g := range m.groups {
		k := g.Key()
		if m.claim[k] || m.claimedByPeer(k) != "" || m.recentlyFailed(now, k) {
			continue
		}
		if m.responsible(g.Node) != m.cfg.Local {
			continue
		}
		if g.Node == m.cfg.Local && !withHome {
			continue
		}
		out = append(out, k)
	}
	return out
}

// takeOrphans takes over the groups of a dead (or restarted, or shut down)
// node: heartbeat's takeover_from_node plus mach_down.
func (m *Machine) takeOrphans(now time.Time, o *Output, from, reason string) {
	p := m.peers[from]
	if p != nil && (p.status == StatusDead || p.gone) {
		p.claims = map[string]bool{}
	}
	if !m.nice() && m.multi {
		// Ask instead of taking: whoever still runs one of them (a node
		// in the middle of its own shutdown, say) releases it first.
		m.legacyRecheck = true
		return
	}
	if !m.nice() {
		var keys []string
		for _, k := range m.orphans(now, false) {
			if _, asked := m.legacyPending[k]; !asked && !m.startQueued(k) {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			return
		}
		j := &job{done: func(now time.Time, o *Output, j *job) {
			m.ev(o, Info, "mach_down takeover complete for node %s.", from)
			m.maybeAcqDone(o, "mach_down")
		}}
		for _, k := range keys {
			m.ev(o, Info, "Taking over resource group %s", k)
			m.claim[k] = true
			j.ops = append(j.ops, op{start: true, key: k})
		}
		m.enqueue(j)
		return
	}
	if m.multi && !m.peersSettled() {
		return // reconcileMulti takes them once nobody may still run them
	}
	// Claim the dead node's groups first, so that no message of ours
	// says "stable" with a holding about to grow.
	keys := m.orphans(now, false)
	for _, k := range keys {
		m.claim[k] = true // claimed before started, as heartbeat sets i_hold first
	}
	announced := false // our "resource ... req_our_resources()" covers the claim
	if m.phase != PhaseStable && m.phase != PhaseShutdown {
		if m.readyToStabilise() || len(m.livePeers()) == 0 {
			m.reqOurResources(now, o, reason)
			announced = m.Busy()
		}
	} else if m.phase == PhaseStable {
		// "get them anyway": our own unclaimed groups too.
		var local []string
		for _, k := range m.orphans(now, true) {
			if m.groups[m.byKey[k]].Node == m.cfg.Local {
				local = append(local, k)
			}
		}
		if len(local) > 0 {
			for _, k := range local {
				m.claim[k] = true
			}
			j := &job{done: func(now time.Time, o *Output, j *job) {
				for _, k := range j.failed {
					delete(m.claim, k)
				}
				m.sendResource(o, true, "req_our_resources()")
			}}
			for _, k := range local {
				j.ops = append(j.ops, op{start: true, key: k})
			}
			m.enqueue(j)
		}
	}
	if len(keys) == 0 {
		return
	}
	switch {
	case m.multi:
		m.sendResource(o, false, "")
	case !announced:
		m.sendResource(o, true, "req_our_resources()")
	}
	j := &job{done: func(now time.Time, o *Output, j *job) {
		for _, k := range j.failed {
			delete(m.claim, k)
		}
		if reason == "shutdone" && !m.multi {
			// heartbeat takes over a node that shut down through its
			// standby acquire path first, then mach_down.
			o.Send = append(o.Send, newMsg(TAskResources, FRscHold, HoldForeign.String(), FInfo, "done"))
			m.sendResource(o, true, "")
		}
		mdMsg := newMsg(TResource, FRscHold, HoldForeign.String(), FInfo, "mach_down")
		m.addKeys(mdMsg)
		o.Send = append(o.Send, mdMsg)
		if m.multi {
			m.sendResource(o, true, "")
		}
		m.ev(o, Info, "mach_down takeover complete for node %s.", from)
		m.ev(o, Info, "mach_down takeover complete.")
		if m.cfg.AutoFailback == FailbackOn {
			m.failbackNeeded = true
			m.tryFailback(now, o)
		}
		m.maybeAcqDone(o, "mach_down")
	}}
	for _, k := range keys {
		m.ev(o, Info, "Taking over resource group %s", k)
		j.ops = append(j.ops, op{start: true, key: k})
	}
	m.enqueue(j)
}

func (m *Machine) onShutdone(now time.Time, o *Output, p *peer) {
	m.ev(o, Info, "Received shutdown notice from '%s'.", p.name)
	m.legacyRecheck = true
	if m.sb.phase != StandbyNot && m.sb.peer == p.name {
		m.ev(o, Info, "Cancelling pending standby operation")
		m.setStandby(o, standby{})
	}
	p.gone = true
	p.stable = true
	p.claims = map[string]bool{}
	for k, pend := range m.legacyPending {
		if pend[p.name] {
			delete(pend, p.name)
			m.legacyMaybeTake(now, o, k)
		}
	}
	if !m.commUp {
		return
	}
	if m.shutdownWanted {
		m.ev(o, Info, "Resource takeover cancelled - shutdown in progress.")
		return
	}
	o.Actions = append(o.Actions, Action{Kind: RunEvent, Msg: newMsg(TStatus, wire.FOrig, p.name, wire.FStatus, string(StatusDead)), OStatus: m.local})
	m.takeOrphans(now, o, p.name, "shutdone")
}

// partitionReturn: a peer declared dead talks again without having
// restarted. Both sides may hold the same groups; heartbeat gives up
// everything and restarts 2 s later. So do we.
func (m *Machine) partitionReturn(now time.Time, o *Output, p *peer) {
	m.evk(o, SplitBrain, Crit, "Cluster node %s returning after partition.", p.name)
	m.ev(o, Info, "For information on cluster partitions, See URL: http://linux-ha.org/wiki/Split_Brain")
	m.ev(o, Warn, "Deadtime value may be too small.")
	m.ev(o, Info, "See FAQ for information on tuning deadtime.")
	m.ev(o, Info, "URL: http://linux-ha.org/wiki/FAQ#Heavy_Load")
	if len(m.held) > 0 || len(m.claim) > 0 {
		m.evk(o, SplitBrain, Crit, "Split brain: %s held %s while %s was unreachable; releasing everything and restarting.",
			m.cfg.Local, strings.Join(m.Claimed(), " "), p.name)
	}
	// heartbeat waits 2 s first; we stop acquiring at once and release as
	// soon as the running action (if any) is done.
	m.shutdown(now, o, true)
}

func (m *Machine) shutdown(now time.Time, o *Output, restart bool) {
	if m.shutdownStarted {
		return
	}
	m.shutdownWanted = true
	m.restartAfter = m.restartAfter || restart
	if m.sb.phase != StandbyNot && len(m.jobs) == 0 && m.running == nil {
		m.setStandby(o, standby{})
	}
	if m.Busy() {
		m.ev(o, Warn, "Shutdown delayed until current resource activity finishes.")
		return
	}
	m.shutdownStarted = true
	m.ev(o, Info, "Heartbeat shutdown in progress.")
	if !m.commUp {
		// Nothing was ever acquired or announced.
		m.finishShutdown(o)
		return
	}
	m.claim = map[string]bool{}
	if m.nice() {
		m.sendResource(o, false, "shutdown")
	}
	m.setPhase(o, PhaseShutdown)
	m.setStandby(o, standby{})
	m.ev(o, Info, "Giving up all HA resources.")
	j := &job{done: func(now time.Time, o *Output, j *job) {
		m.ev(o, Info, "All HA resources relinquished.")
		for _, r := range m.shutdownReplies {
			o.Send = append(o.Send, newMsg(TIPRequestResp, wire.FTo, r[0], FIPAddr, r[1], FWeOwn, "yes", FOK, "OK"))
		}
		m.shutdownReplies = nil
		o.Send = append(o.Send, newMsg(TShutdone, wire.FStatus, string(StatusDead)))
		m.finishShutdown(o)
	}}
	// Every group in the file, file order (stop must succeed when stopped).
	for _, g := range m.groups {
		j.ops = append(j.ops, op{key: g.Key()})
	}
	m.enqueue(j)
}

func (m *Machine) finishShutdown(o *Output) {
	if m.restartAfter {
		m.ev(o, Info, "Heartbeat restart triggered.")
		o.Actions = append(o.Actions, Action{Kind: Restart})
	} else {
		m.ev(o, Info, "%s Heartbeat shutdown complete.", m.cfg.Local)
		o.Actions = append(o.Actions, Action{Kind: Exit})
	}
}

// afterChange runs the level-triggered rules after every input.
func (m *Machine) afterChange(now time.Time, o *Output) {
	if !m.nice() && m.legacyRecheck && m.commUp && !m.shutdownWanted {
		// A peer restarted, died or left: what we gave it, or what it
		// held for us, may be nobody's now. Ask again for what is ours.
		m.legacyRecheck = false
		m.legacyAcquire(now, o)
	}
	if m.shutdownWanted && !m.shutdownStarted && !m.Busy() {
		m.shutdown(now, o, m.restartAfter)
	}
	if m.multi && m.nice() && m.commUp && !m.shutdownWanted {
		m.reconcileMulti(now, o)
	}
	if m.phase == PhaseStable || !m.nice() {
		m.maybeAcqDone(o, "status")
	}
}

// reconcileMulti: more than two nodes (heartbeat-go only). Groups nobody
// claims go to their responsible node; auto_failback on hands groups back
// to a live, stable home by releasing them (the home then takes them).
func (m *Machine) reconcileMulti(now time.Time, o *Output) {
	if m.phase != PhaseStable || m.Busy() || !m.peersSettled() {
		return
	}
	allStable := true
	for _, p := range m.livePeers() {
		if !p.stable {
			allStable = false
		}
	}
	var take []string
	for _, k := range m.orphans(now, true) {
		g := m.groups[m.byKey[k]]
		if g.Node == m.cfg.Local && !allStable {
			continue
		}
		take = append(take, k)
	}
	if len(take) > 0 {
		for _, k := range take {
			m.claim[k] = true
		}
		m.sendResource(o, false, "")
		j := &job{done: func(now time.Time, o *Output, j *job) {
			for _, k := range j.failed {
				delete(m.claim, k)
			}
			m.sendResource(o, true, "")
		}}
		for _, k := range take {
			j.ops = append(j.ops, op{start: true, key: k})
		}
		m.enqueue(j)
		return
	}
	if m.cfg.AutoFailback != FailbackOn {
		return
	}
	var give []string
	for _, g := range m.groups {
		k := g.Key()
		if !m.claim[k] || g.Node == m.cfg.Local {
			continue
		}
		hp := m.peers[g.Node]
		if hp != nil && m.alive(g.Node) && hp.stable && hp.answered {
			give = append(give, k)
		}
	}
	if len(give) == 0 {
		return
	}
	m.sendResource(o, false, "")
	j := &job{done: func(now time.Time, o *Output, j *job) {
		for _, k := range give {
			delete(m.claim, k)
		}
		m.sendResource(o, true, "")
	}}
	for _, k := range give {
		j.ops = append(j.ops, op{key: k})
	}
	m.enqueue(j)
}

// ---------------------------------------------------------------- legacy mode

func (m *Machine) legacyAcquire(now time.Time, o *Output) {
	active := 1
	for _, p := range m.livePeers() {
		if p.status == StatusActive {
			active++
		}
	}
	for _, g := range m.groups {
		k := g.Key()
		// Our own groups, and those of dead nodes we now stand in for
		// (with two nodes: all of a dead peer's). Whoever holds one
		// releases it when asked; legacy mode has no holdings exchange.
		mine := (g.Node == m.cfg.Local && !m.skipOwn) || (g.Node != m.cfg.Local && !m.alive(g.Node) && m.responsible(g.Node) == m.cfg.Local)
		if _, asked := m.legacyPending[k]; !mine || m.held[k] || asked || m.startQueued(k) {
			continue
		}
		if active < 2 {
			o.Send = append(o.Send, newMsg(TIPRequestResp, wire.FTo, m.cfg.Local, FIPAddr, k, FWeOwn, "yes", FOK, "OK"))
			m.legacyTake(o, k)
			continue
		}
		pend := map[string]bool{}
		for _, p := range m.livePeers() {
			pend[p.name] = true
		}
		m.legacyPending[k] = pend
		o.Send = append(o.Send, newMsg(TIPRequest, FIPAddr, k))
	}
}

func (m *Machine) legacyTake(o *Output, k string) {
	if m.held[k] {
		return
	}
	for _, j := range m.jobs {
		for _, op := range j.ops[j.idx:] {
			if op.start && op.key == k {
				return
			}
		}
	}
	m.claim[k] = true
	m.enqueue(&job{ops: []op{{start: true, key: k}}})
}

func (m *Machine) onIPRequest(now time.Time, o *Output, p *peer, msg *wire.Message) {
	k := msg.Value(FIPAddr)
	if k == "" {
		return
	}
	reply := func(o *Output, weown string) {
		o.Send = append(o.Send, newMsg(TIPRequestResp, wire.FTo, p.name, FIPAddr, k, FWeOwn, weown, FOK, "OK"))
	}
	i, known := m.byKey[k]
	if !known {
		reply(o, "no")
		return
	}
	if _, asking := m.legacyPending[k]; asking && m.groups[i].Node == p.name && p.name != m.cfg.Local {
		// Its home asks for it while we stand in for it: the home wins
		// (with more than two nodes two requests can cross).
		delete(m.legacyPending, k)
	}
	if m.shutdownWanted {
		if m.held[k] || m.claim[k] || m.startQueued(k) {
			// Answered when our shutdown has stopped it.
			m.shutdownReplies = append(m.shutdownReplies, [2]string{p.name, k})
		} else {
			reply(o, "no")
		}
		return
	}
	if !m.held[k] && !m.startQueued(k) {
		reply(o, "no")
		return
	}
	delete(m.claim, k)
	m.enqueue(&job{ops: []op{{key: k}}, done: func(now time.Time, o *Output, j *job) {
		reply(o, "yes")
	}})
}

func (m *Machine) startQueued(k string) bool {
	if m.running != nil && m.running.Kind == StartGroup && m.running.Key == k {
		return true
	}
	for _, j := range m.jobs {
		for _, op := range j.ops[j.idx:] {
			if op.start && op.key == k {
				return true
			}
		}
	}
	return false
}

func (m *Machine) onIPRequestResp(now time.Time, o *Output, p *peer, msg *wire.Message) {
	k := msg.Value(FIPAddr)
	if _, known := m.byKey[k]; !known {
		return
	}
	m.ev(o, Info, "received ip-request-resp %s %s %s", k, msg.Value(FOK), msg.Value(FWeOwn))
	pend, waiting := m.legacyPending[k]
	if !waiting {
		return
	}
	if msg.Value(FOK) != "OK" {
		delete(m.legacyPending, k)
		return
	}
	delete(pend, p.name)
	m.legacyMaybeTake(now, o, k)
}

// legacyMaybeTake starts k once every live peer asked has answered (with
// two nodes: the one answer, as heartbeat).
func (m *Machine) legacyMaybeTake(now time.Time, o *Output, k string) {
	pend, ok := m.legacyPending[k]
	if !ok || len(pend) > 0 {
		return
	}
	delete(m.legacyPending, k)
	if m.shutdownWanted {
		return
	}
	m.legacyTake(o, k)
}
