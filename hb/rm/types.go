// Package rm is heartbeat's v1 resource manager as a pure state machine:
// who holds which haresources group, the start-up negotiation, auto_failback
// (on, off, legacy), hb_standby/hb_takeover, takeover of a dead peer's
// groups, and the clean shutdown that releases everything and tells the
// peers.
//
// The machine does no I/O and never reads the clock. Every input method
// takes the current time and returns an Output: cluster messages to send
// (the caller's core adds src, seq and the rest), actions to carry out
// (start or stop a group, run an event hook, exit, restart, fence self),
// events to log, and the time at which Tick must be called again.
//
// Messages and their field names and values are those of heartbeat 3.0.6
// (t=starting, t=resource rsc_hold=... rtype=full isstable=..., t=ask_resources
// info=me|other|done, t=ip-request, t=ip-request-resp, t=hb_takeover,
// t=shutdone, t=stonith), so that a heartbeat 3.0.6 node and a Go node in one
// two-node cluster agree on who holds what.
//
// Beyond heartbeat (which defines v1 only for two nodes): with more than two
// normal nodes every resource message also carries the exact list of held
// group keys in a field "rsc_keys", a dead node's groups are taken over by
// exactly one survivor (the next live node after it in configuration
// order), and a home node takes back its own groups only when no connected
// peer claims them and every connected peer is stable. hb_standby and
// hb_takeover are refused with more than two nodes.
//
// Resource actions are carried out one at a time, as heartbeat runs a
// single resource child at a time: the machine emits the next StartGroup or
// StopGroup only after Done reported the previous one.
package rm

import (
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// Hold is heartbeat's rsc_hold bit set: what a node claims to hold,
// relative to that node.
type Hold uint8

// Hold values as heartbeat spells them on the wire.
const (
	HoldNone    Hold = 0
	HoldLocal   Hold = 1
	HoldForeign Hold = 2
	HoldAll     Hold = 3
)

// String returns the wire spelling: none, local, foreign or all.
func (h Hold) String() string {
	switch h & HoldAll {
	case HoldLocal:
		return "local"
	case HoldForeign:
		return "foreign"
	case HoldAll:
		return "all"
	}
	return "none"
}

// ParseHold parses a wire rsc_hold value ("failback" means foreign, as in
// hb_standby).
func ParseHold(s string) (Hold, bool) {
	switch s {
	case "none":
		return HoldNone, true
	case "local":
		return HoldLocal, true
	case "foreign", "failback":
		return HoldForeign, true
	case "all":
		return HoldAll, true
	}
	return HoldNone, false
}

// AutoFailback is ha.cf "auto_failback".
type AutoFailback int

const (
	FailbackLegacy AutoFailback = iota // "legacy" (heartbeat's default): per-group ip-request
	FailbackOn                         // "on": nice_failback, groups go home automatically
	FailbackOff                        // "off": nice_failback, groups stay where they are
)

// String returns the ha.cf spelling.
func (a AutoFailback) String() string {
	switch a {
	case FailbackOn:
		return "on"
	case FailbackOff:
		return "off"
	}
	return "legacy"
}

// ParseAutoFailback maps the ha.cf spelling ("on", "off", "legacy") onto
// AutoFailback.
func ParseAutoFailback(s string) (AutoFailback, bool) {
	switch s {
	case "on":
		return FailbackOn, true
	case "off":
		return FailbackOff, true
	case "legacy", "":
		return FailbackLegacy, true
	}
	return FailbackLegacy, false
}

// Status is a node status as heartbeat spells it.
type Status string

// Node statuses (include/heartbeat.h).
const (
	StatusInit   Status = "init"
	StatusUp     Status = "up"
	StatusActive Status = "active"
	StatusDead   Status = "dead"
)

// Timer defaults (heartbeat's constants).
const (
	DefaultRequestDelay     = 10 * time.Second // RQSTDELAY: start-up deadlock breaker
	DefaultStandbyReply     = 10 * time.Second // no "other" within this: standby cancelled
	DefaultStandbyMax       = 60 * time.Minute // peer side of a standby gives up after this
	DefaultFailbackRetry    = 1 * time.Second  // "Auto failback delayed." retry period
	DefaultStartFailStandby = 30 * time.Second // failed start: hb_standby foreign this much later
)

// Config is what the machine needs to know. Zero durations take the
// defaults above.
type Config struct {
	Local        string              // local node name, lower-case (uname -n)
	Nodes        []string            // normal (non-ping) nodes in ha.cf order, lower-case, Local included
	Groups       []haresources.Group // haresources groups in file order
	AutoFailback AutoFailback        // ha.cf "auto_failback"

	// Restarting is heartbeat's -R: this daemon is the re-exec of one
	// that kept its resources (a reload with a changed ha.cf). The groups
	// it held are still running: they start out held and claimed, no
	// start is run for them, and (as heartbeat) legacy mode does not
	// request our own groups at communication up.
	Restarting bool
	// InitialHolding is -C: what the previous incarnation held, relative
	// to the local node. Used when Restarting and InitialKeys is nil.
	InitialHolding Hold
	// InitialKeys, when not nil, is the exact list of group keys the
	// previous incarnation held (heartbeat-go passes it along with -C;
	// the bits cannot say which foreign groups with more than two nodes).
	// Unknown keys are ignored.
	InitialKeys []string

	RequestDelay     time.Duration // RQSTDELAY
	StandbyReply     time.Duration
	StandbyMax       time.Duration
	FailbackRetry    time.Duration
	StartFailStandby time.Duration
}

// ActionKind says what the runtime must do.
type ActionKind int

const (
	StartGroup ActionKind = iota + 1 // takegroup Key; report with Done
	StopGroup                        // givegroup Key; report with Done
	RunEvent                         // run the harc/rc.d hook for Msg (fire and forget)
	Exit                             // shutdown complete: "<node> Heartbeat shutdown complete.", exit 0
	Restart                          // resources released: restart the daemon (partition heal)
	FenceSelf                        // a stop failed with the resource still running: reboot now
)

func (k ActionKind) String() string {
	switch k {
	case StartGroup:
		return "start"
	case StopGroup:
		return "stop"
	case RunEvent:
		return "event"
	case Exit:
		return "exit"
	case Restart:
		return "restart"
	case FenceSelf:
		return "fence-self"
	}
	return "unknown"
}

// Action is one thing for the runtime to do. StartGroup and StopGroup
// carry an ID that comes back through Done.
type Action struct {
	ID      uint64
	Kind    ActionKind
	Key     string            // group key (StartGroup, StopGroup)
	Group   haresources.Group // the group (StartGroup, StopGroup)
	Msg     *wire.Message     // RunEvent: the triggering message (its t names the rc.d script)
	OStatus Status            // RunEvent: local node status at dispatch (HA_OSTATUS)
}

// Result is the outcome of a StartGroup or StopGroup.
type Result int

const (
	OK            Result = iota // the group started / stopped
	Failed                      // start failed (the runner stopped the group again) or stop failed but nothing is running
	StopFailedRun               // stop failed and status still says running: reboot required
)

// Level is an event's log level.
type Level int

const (
	Debug Level = iota
	Info
	Warn
	Error
	Crit
)

func (l Level) String() string {
	return [...]string{"debug", "info", "WARN", "ERROR", "CRIT"}[l]
}

// EventKind classifies events for the runtime (besides logging them).
type EventKind int

const (
	Log             EventKind = iota // just a log line
	HoldingChanged                   // the local holding (Machine.Holding) changed
	SplitBrain                       // a group is held on two connected nodes
	AcquisitionDone                  // "Initial resource acquisition complete": a readiness signal
	StandbyRefused                   // a standby/takeover command was refused (Text says why)
)

// Event is something worth logging; Text keeps heartbeat's wording.
type Event struct {
	Kind  EventKind
	Level Level
	Text  string
}

// Output is what one input produced.
type Output struct {
	Send    []*wire.Message // cluster messages: t, dest and payload set; the core adds the rest
	Actions []Action
	Events  []Event
	Wake    time.Time // call Tick at this time (zero: no timer pending)
}

// CommandKind is an operator request.
type CommandKind int

const (
	Standby  CommandKind = iota + 1 // hb_standby [all|local|foreign|failback]
	Takeover                        // hb_takeover [all|local|foreign|failback]
	Shutdown                        // SIGTERM / heartbeat -k
)

// Command is an operator request; What is the hb_standby/hb_takeover
// argument ("" = all).
type Command struct {
	Kind CommandKind
	What string
}
