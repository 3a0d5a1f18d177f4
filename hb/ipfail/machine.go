package ipfail

import (
	"fmt"
	"strconv"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// Message types and fields ipfail exchanges with the peer's ipfail (any
// implementation: heartbeat's C ipfail understands the same).
const (
	TNumPingNodes = "num_ping_nodes"
	TYouAreDead   = "you_are_dead"
	TAbortGiveup  = "abort_giveup"
	TClStat       = "hbapi-clstat" // API client join/leave, sent by heartbeat
	TResource     = "resource"     // heartbeat's resource-state message

	FNumPing   = "num_ping"
	FFromID    = "from_id"
	FToID      = "to_id"
	FClientGen = "client_gen"
	FIsStable  = "isstable"
	FInfo      = "info"

	ClientID = "ipfail"
)

// Hold-down defaults (see Config.HoldDown).
const (
	DefaultHoldDown   = 60 * time.Second
	DefaultFlapWindow = 10 * time.Minute
	MaxHoldDown       = 16 * time.Minute
	// RecountDelay is how long ipfail waits after the peer became stable
	// before it re-runs the count exchange for a deferred give-up.
	RecountDelay = 10 * time.Second
)

// Give-up scopes: what ipfail asks heartbeat to hand to the peer, as
// ask_resources' rsc_hold values.
const (
	GiveAll     = "all"
	GiveForeign = "foreign"
)

// Level is a log line's severity.
type Level int

const (
	Debug Level = iota
	Info
	Warn
	Error
)

// Log is one line ipfail logs, in its own wording.
type Log struct {
	Level Level
	Text  string
}

// Output is what one input produced.
type Output struct {
	// Send are cluster messages (to the peer's ipfail) for the core to send.
	Send []*wire.Message
	Logs []Log
	// GiveUp is non-empty when heartbeat must now hand resources to the
	// peer: GiveAll or GiveForeign, carried out through the standby
	// protocol (ask_resources rsc_hold=<GiveUp> info=me).
	GiveUp string
	// Wake is when Tick must next be called; zero if nothing is pending.
	Wake time.Time
}

// Config configures one node's ipfail.
type Config struct {
	Local string // this node
	// Peer is the other normal node ("the other node" ipfail finds by a
	// node walk at start-up); ipfail is two-node only. Empty: ipfail
	// never sends anything.
	Peer      string
	PingNodes []string // ping node names, as the node walk sees them
	// Keepalive is ha.cf's keepalive; a delayed give-up waits twice that.
	Keepalive    time.Duration
	AutoFailback bool // ha.cf auto_failback on (off: foreign resources stay)
	ClientGen    int  // client_gen of our messages (heartbeat's API counter)
	// HoldDown protects against flapping ping paths (heartbeat's ipfail has
	// none beyond the give-up delay): when the peer saw fewer ping nodes
	// than we did more than once within FlapWindow, its resources are
	// given back only after the balance held for HoldDown, doubled for
	// every further flap (at most MaxHoldDown); a new imbalance cancels the
	// pending hand-back. A single failure and recovery is handled as
	// heartbeat does (2 × keepalive). Unbalanced moments shorter than the
	// give-up delay (both nodes seeing one change a probe apart) do not
	// count. Zero values mean DefaultHoldDown and DefaultFlapWindow.
	HoldDown   time.Duration
	FlapWindow time.Duration
}

// Machine is one node's ipfail: the decisions of heartbeat 3.0.6's ipfail
// client, driven by node/link status changes, the peer's ipfail messages
// and time. It is pure: no I/O, no clock.
type Machine struct {
	cfg    Config
	ping   map[string]bool // ping node -> status is "ping"
	isPing map[string]bool

	pending     string // delayed give-up scope, "" when none
	pendingAt   time.Time
	tag         int
	deferred    string // give-up that found resources in transition
	recountAt   time.Time
	transition  bool // our resources are moving
	peerStable  bool
	unbalanced  bool        // last comparison was unbalanced
	since       time.Time   // start of the current unbalanced episode
	peerWorse   bool        // in the current episode the peer sees fewer ping nodes
	imbalances  []time.Time // starts of past episodes within FlapWindow in which the peer saw fewer
	lastCompare string      // "more", "less", "equal" (for status)
}

// New makes a Machine.
func New(cfg Config) *Machine {
	if cfg.HoldDown <= 0 {
		cfg.HoldDown = DefaultHoldDown
	}
	if cfg.FlapWindow <= 0 {
		cfg.FlapWindow = DefaultFlapWindow
	}
	m := &Machine{cfg: cfg, ping: map[string]bool{}, isPing: map[string]bool{}, peerStable: true}
	for _, n := range cfg.PingNodes {
		m.isPing[n] = true
	}
	return m
}

// Count is the number of visible ping nodes (status exactly "ping").
func (m *Machine) Count() int {
	c := 0
	for _, up := range m.ping {
		if up {
			c++
		}
	}
	return c
}

// Pending returns the scheduled give-up scope and when it fires.
func (m *Machine) Pending() (string, time.Time) { return m.pending, m.pendingAt }

// Start is ipfail signing on: it logs who is who and announces the
// sign-on (the hbapi-clstat join heartbeat broadcasts for a named
// client), which makes the peer's ipfail start a count exchange.
func (m *Machine) Start(now time.Time) Output {
	var o Output
	o.log(Info, fmt.Sprintf("[We are %s]", m.cfg.Local))
	if m.cfg.Peer != "" {
		o.log(Info, fmt.Sprintf("[They are %s]", m.cfg.Peer))
	}
	j := &wire.Message{}
	j.Add(wire.FType, TClStat)
	j.Add(wire.FStatus, "join")
	j.Add(FFromID, ClientID)
	j.Add(FToID, ClientID)
	j.Add(FInfo, "signon")
	j.Add(FClientGen, strconv.Itoa(m.cfg.ClientGen))
	o.Send = append(o.Send, j)
	m.wake(&o)
	return o
}

func (o *Output) log(l Level, s string) { o.Logs = append(o.Logs, Log{Level: l, Text: s}) }

func (m *Machine) wake(o *Output) {
	o.Wake = time.Time{}
	if m.pending != "" {
		o.Wake = m.pendingAt
	}
	if !m.recountAt.IsZero() && (o.Wake.IsZero() || m.recountAt.Before(o.Wake)) {
		o.Wake = m.recountAt
	}
}

func (m *Machine) msg(t string) *wire.Message {
	x := &wire.Message{}
	x.Add(wire.FType, t)
	return x
}

func (m *Machine) stamp(x *wire.Message) *wire.Message {
	x.Add(wire.FTo, m.cfg.Peer)
	x.Add(FFromID, ClientID)
	x.Add(FToID, ClientID)
	x.Add(FClientGen, strconv.Itoa(m.cfg.ClientGen))
	return x
}

// ask sends our count to the peer for comparison.
func (m *Machine) ask(o *Output) {
	if m.cfg.Peer == "" {
		return
	}
	o.log(Info, "Asking other side for ping node count.")
	x := m.msg(TNumPingNodes)
	x.Add(FNumPing, strconv.Itoa(m.Count()))
	o.Send = append(o.Send, m.stamp(x))
}

// NodeStatus is heartbeat's node status callback: node now has status.
func (m *Machine) NodeStatus(now time.Time, node, status string) Output {
	var o Output
	o.log(Info, fmt.Sprintf("Status update: Node %s now has status %s", node, status))
	if m.isPing[node] {
		m.ping[node] = status == StatusPing
	}
	switch status {
	case StatusDead:
		if m.Count() > 0 {
			o.log(Info, "NS: We are still alive!")
		} else {
			o.log(Info, "NS: We are dead. :<")
		}
	case StatusPing:
		o.log(Info, "A ping node just came up.")
		m.ask(&o)
	}
	m.wake(&o)
	return o
}

// LinkStatus is heartbeat's link status callback.
func (m *Machine) LinkStatus(now time.Time, node, link, status string) Output {
	var o Output
	o.log(Info, fmt.Sprintf("Link Status update: Link %s/%s now has status %s", node, link, status))
	if status == LinkDead {
		if m.Count() > 0 {
			o.log(Info, "Checking remote count of ping nodes.")
		} else {
			o.log(Info, "We are dead. :<")
		}
		m.ask(&o)
	}
	m.wake(&o)
	return o
}

// Resources tells ipfail whether heartbeat's resources are in transition
// (cl_status rscstatus "transition").
func (m *Machine) Resources(now time.Time, transition bool) { m.transition = transition }

// Receive handles a delivered cluster message. Messages not from the peer
// or not for ipfail are ignored.
func (m *Machine) Receive(now time.Time, x *wire.Message) Output {
	var o Output
	if x == nil || m.cfg.Peer == "" || x.Value(wire.FOrig) != m.cfg.Peer {
		return o
	}
	if to, ok := x.Get(wire.FTo); ok && to != m.cfg.Local {
		return o
	}
	switch x.Value(wire.FType) {
	case TNumPingNodes:
		r, err := strconv.Atoi(x.Value(FNumPing))
		if err != nil || r < 0 {
			o.log(Warn, fmt.Sprintf("Bad ping node count %q from %s: ignored.", x.Value(FNumPing), m.cfg.Peer))
			break
		}
		m.compare(now, r, &o)
	case TYouAreDead:
		o.log(Info, "Giving up because we were told that we have less ping nodes.")
		m.unbalance(now, false)
		m.delayed(now, GiveAll, 2*m.cfg.Keepalive, &o)
	case TAbortGiveup:
		// The peer found the counts equal.
		m.balance(now)
		m.abort(&o)
	case TClStat:
		if x.Value(FFromID) == ClientID && x.Value(wire.FStatus) == "join" {
			o.log(Info, "Other side's ipfail joined: checking ping node counts.")
			m.ask(&o)
		}
	case TResource:
		switch x.Value(FIsStable) {
		case "1":
			if _, has := x.Get(FInfo); !has {
				m.peerStable = true
				if m.deferred != "" && m.recountAt.IsZero() {
					o.log(Info, "Other side is stable: checking ping node counts again shortly.")
					m.recountAt = now.Add(RecountDelay)
					m.deferred = ""
				}
			}
		case "0":
			m.peerStable = false
		}
	}
	m.wake(&o)
	return o
}

func (m *Machine) compare(now time.Time, r int, o *Output) {
	l := m.Count()
	switch {
	case l > r:
		m.lastCompare = "more"
		m.unbalance(now, true)
		o.log(Info, "Telling other node that we have more visible ping nodes.")
		o.Send = append(o.Send, m.stamp(m.msg(TYouAreDead)))
		// Giving resources to a node that sees less would only bounce
		// them back: drop a pending give-up (heartbeat's ipfail keeps it).
		if m.pending != "" {
			o.log(Info, fmt.Sprintf("Aborted delayed giveup (%d)", m.tag))
			m.pending = ""
		}
	case l < r:
		m.lastCompare = "less"
		m.unbalance(now, false)
		o.log(Info, "Giving up because we have less visible ping nodes.")
		m.delayed(now, GiveAll, 2*m.cfg.Keepalive, o)
	default:
		m.lastCompare = "equal"
		m.balance(now)
		o.log(Info, "Ping node count is balanced.")
		x := m.msg(TAbortGiveup)
		o.Send = append(o.Send, m.stamp(x))
		if m.pending != "" {
			m.abort(o)
		} else if m.cfg.AutoFailback && !m.transition {
			o.log(Info, "Giving up foreign resources (auto_failback).")
			m.delayed(now, GiveForeign, m.failbackDelay(now), o)
		}
	}
}

// unbalance notes an unbalanced comparison; peerWorse says the peer sees
// fewer ping nodes than we do.
func (m *Machine) unbalance(now time.Time, peerWorse bool) {
	m.peerWorse = peerWorse
	if m.unbalanced {
		return
	}
	m.unbalanced, m.since = true, now
}

// balance ends an unbalanced episode. Only an episode that lasted the
// give-up delay (long enough to move resources) counts as a flap: the
// counts also differ for a moment whenever the two nodes see the same
// change one probe apart. Only the peer's failures count: those are the
// ones after which we hand its resources back (our own failures are the
// peer's to count).
func (m *Machine) balance(now time.Time) {
	if m.unbalanced && m.peerWorse && now.Sub(m.since) >= 2*m.cfg.Keepalive {
		m.imbalances = append(m.imbalances, m.since)
	}
	m.unbalanced = false
}

// failbackDelay is the delay before foreign resources go back: heartbeat's
// 2 × keepalive, or the hold-down when the counts flapped.
func (m *Machine) failbackDelay(now time.Time) time.Duration {
	keep := m.imbalances[:0]
	for _, t := range m.imbalances {
		if now.Sub(t) < m.cfg.FlapWindow {
			keep = append(keep, t)
		}
	}
	m.imbalances = keep
	d := 2 * m.cfg.Keepalive
	if n := len(keep); n >= 2 {
		h := m.cfg.HoldDown
		for i := 2; i < n && h < MaxHoldDown; i++ {
			h *= 2
		}
		if h > MaxHoldDown {
			h = MaxHoldDown
		}
		if h > d {
			d = h
		}
	}
	return d
}

func (m *Machine) delayed(now time.Time, scope string, d time.Duration, o *Output) {
	m.tag++
	m.pending, m.pendingAt = scope, now.Add(d)
	o.log(Info, fmt.Sprintf("Delayed giveup in %d seconds.", int(d/time.Second)))
}

func (m *Machine) abort(o *Output) {
	if m.pending == "" {
		o.log(Info, "No giveup timer to abort.")
		return
	}
	o.log(Info, fmt.Sprintf("Aborted delayed giveup (%d)", m.tag))
	m.pending = ""
}

// Tick fires a due give-up or count exchange.
func (m *Machine) Tick(now time.Time) Output {
	var o Output
	if m.pending != "" && !now.Before(m.pendingAt) {
		scope := m.pending
		m.pending = ""
		o.log(Info, "giveup() called (timeout worked)")
		if m.transition {
			o.log(Info, "Resources are in transition: giving up when the other side is stable.")
			m.deferred = scope
		} else {
			o.GiveUp = scope
		}
	}
	if !m.recountAt.IsZero() && !now.Before(m.recountAt) {
		m.recountAt = time.Time{}
		m.ask(&o)
	}
	m.wake(&o)
	return o
}

// State is a summary for status reports.
type State struct {
	Peer      string    `json:"peer,omitempty"`
	Count     int       `json:"count"`
	Compare   string    `json:"compare,omitempty"` // more, less, equal: the last comparison
	Pending   string    `json:"pending,omitempty"` // scheduled give-up
	PendingAt time.Time `json:"pending_at,omitzero"`
	Flaps     int       `json:"flaps"` // unbalanced episodes within the flap window
}

// State reports the machine's state.
func (m *Machine) State() State {
	return State{Peer: m.cfg.Peer, Count: m.Count(), Compare: m.lastCompare, Pending: m.pending,
		PendingAt: m.pendingAt, Flaps: len(m.imbalances)}
}
