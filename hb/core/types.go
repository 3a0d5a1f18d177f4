package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/membership"
	"github.com/heartbeat-go/heartbeat/hb/rexmit"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// Status is a node status string as heartbeat reports it.
type Status = membership.Status

// Node statuses (exact heartbeat spelling).
const (
	StatusInit   = membership.Init
	StatusUp     = membership.Up
	StatusActive = membership.Active
	StatusDead   = membership.Dead
)

// LinkStatus is a link status string ("up", "dead").
type LinkStatus = membership.LinkStatus

// Link statuses.
const (
	LinkUp   = membership.LinkUp
	LinkDead = membership.LinkDead
)

// Message types the core builds or handles (heartbeat's T_* values).
const (
	TypeStatus    = "status"
	TypeRexmit    = "NS_rexmit"
	TypeNakRexmit = "NS_nak_rexmit"
	TypeAck       = "NS_ackmsg"
	TypeReqNodes  = "reqnodes"
	TypeRepNodes  = "repnodes"
	// NoSeqPrefix marks unsequenced types: never numbered, never retransmitted.
	NoSeqPrefix = "NS_"
)

// Field names not in package wire.
const (
	fieldNodeList    = "nodelist"
	fieldDelNodeList = "delnodelist"
	fieldComment     = "comment"
)

// Config configures a Node. Durations follow ha.cf.
type Config struct {
	Node       string   // local node name (as uname -n / ha.cf "node", compared case-insensitively)
	UUID       [16]byte // local node UUID (hb_uuid)
	Generation uint64   // this run's generation (hb_generation after the bump)
	Nodes      []string // every ha.cf "node", local node included, in file order
	Media      []string // link names, one per medium: interface name or serial device

	Keepalive      time.Duration // ha.cf "keepalive" (default 1 s)
	DeadTime       time.Duration // ha.cf "deadtime" (default 30 s)
	WarnTime       time.Duration // ha.cf "warntime" (default deadtime/2)
	InitDead       time.Duration // ha.cf "initdead" (default as heartbeat computes it)
	MaxRexmitDelay time.Duration // ha.cf "max_rexmit_delay" (default 250 ms)

	// TTL is the "ttl" field: nodes + hopfudge. Zero means len(Nodes)+1
	// (ha.cf "hopfudge" default 1).
	TTL int
	// LoadAvg returns the "ld" field (/proc/loadavg verbatim). Nil: a fixed
	// placeholder.
	LoadAvg func() string
	// UUIDs are peers' UUIDs known in advance (hostcache); others are learnt
	// from their "srcuuid" fields.
	UUIDs map[string][16]byte
	// Rand drives request delays and the acknowledgement trigger. Required.
	Rand *rand.Rand
	// HeartbeatLiveness makes liveness exactly heartbeat 3.0.6's: only new
	// status messages prove a node alive, and no probing. For comparison
	// tests; leave it off in production.
	HeartbeatLiveness bool
}

func (c *Config) validate() error {
	var errs []error
	c.Node = strings.ToLower(c.Node)
	found := false
	seen := map[string]bool{}
	nodes := make([]string, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		n = strings.ToLower(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		nodes = append(nodes, n)
		if n == c.Node {
			found = true
		}
	}
	c.Nodes = nodes
	if c.Node == "" || !found {
		errs = append(errs, fmt.Errorf("core: local node %q not in nodes %v", c.Node, c.Nodes))
	}
	if len(c.Media) == 0 {
		errs = append(errs, errors.New("core: no media"))
	}
	if c.Rand == nil {
		errs = append(errs, errors.New("core: Config.Rand is nil"))
	}
	if c.Keepalive == 0 {
		c.Keepalive = time.Second
	}
	if c.DeadTime == 0 {
		c.DeadTime = 30 * time.Second
	}
	if c.Keepalive < 0 || c.DeadTime <= c.Keepalive {
		errs = append(errs, fmt.Errorf("core: deadtime %v must exceed keepalive %v", c.DeadTime, c.Keepalive))
	}
	if c.WarnTime <= 0 {
		c.WarnTime = c.DeadTime / 2
	}
	if c.InitDead <= 0 {
		switch {
		case c.DeadTime > 10*time.Second:
			c.InitDead = c.DeadTime
		case c.DeadTime < 6*time.Second:
			c.InitDead = 12 * time.Second
		default:
			c.InitDead = 2 * c.DeadTime
		}
	}
	if c.MaxRexmitDelay <= 0 {
		c.MaxRexmitDelay = rexmit.DefaultMaxDelay
	}
	if c.TTL <= 0 {
		c.TTL = len(c.Nodes) + 1
	}
	return errors.Join(errs...)
}

// Outgoing is a message for the daemon to encode, sign and send.
type Outgoing struct {
	Msg *wire.Message
	// Media lists the media to send on; nil means every medium (heartbeat
	// sends everything everywhere).
	Media []string
	// Retransmit marks a resend of an earlier message, unchanged: its
	// encoding must be byte-identical to the first one.
	Retransmit bool
}

// EventKind says what an Event reports.
type EventKind int

// Event kinds, with the heartbeat log line each corresponds to.
const (
	// LocalStatus: our status is now Status ("Local status now set to: '%s'").
	LocalStatus EventKind = iota
	// NodeStatus: Node reported status Status ("Status update for node %s: status %s").
	NodeStatus
	// NodeDead: Node timed out ("node %s: is dead").
	NodeDead
	// LinkStatus: Node's Link is now Status ("Link %s:%s %s.").
	LinkStatusChange
	// PeerRestarted: Node came back with generation Gen > OldGen ("Heartbeat restart on node %s").
	PeerRestarted
	// PartitionHealed: dead Node talks again without having restarted
	// ("Cluster node %s returning after partition.").
	PartitionHealed
	// LateHeartbeat: Node heard again after Interval > warntime ("Late heartbeat: Node %s: interval %d ms").
	LateHeartbeat
	// Delivered: cluster message Msg from Node, number Seq. Every sequenced
	// message addressed to us (or to everyone) is delivered exactly once, in
	// each sender's order; our own messages are delivered too, as heartbeat
	// loops them back. Status, reqnodes and repnodes are included.
	Delivered
	// Lost: a gap Seq..LastSeq from Node ("%d lost packet(s) for [%s] [%d:%d]").
	Lost
	// LostForGood: Node refused to resend Seq ("Irretrievably lost packet: node %s seq %d").
	LostForGood
	// RexmitRefused: we could not resend Seq to Node; Reason is heartbeat's
	// ("Cannot rexmit pkt %d for %s: %s").
	RexmitRefused
	// NoneMissing: every gap from Node is filled or given up ("No pkts
	// missing from %s!").
	NoneMissing
)

var kindNames = [...]string{"local-status", "node-status", "node-dead", "link-status", "peer-restarted",
	"partition-healed", "late-heartbeat", "delivered", "lost", "lost-for-good", "rexmit-refused", "none-missing"}

func (k EventKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is something the daemon logs, counts or passes on (to the resource
// manager, API clients, cl_status).
type Event struct {
	Kind     EventKind
	Node     string
	Link     string
	Status   Status     // LocalStatus, NodeStatus, NodeDead ("dead")
	LinkStat LinkStatus // LinkStatusChange
	Gen      uint64
	OldGen   uint64
	Seq      uint64
	LastSeq  uint64
	Interval time.Duration
	Reason   string
	Msg      *wire.Message // Delivered
}

func (e Event) String() string {
	switch e.Kind {
	case LocalStatus:
		return fmt.Sprintf("local-status %s", e.Status)
	case NodeStatus:
		return fmt.Sprintf("node-status %s %s", e.Node, e.Status)
	case NodeDead:
		return "node-dead " + e.Node
	case LinkStatusChange:
		return fmt.Sprintf("link %s:%s %s", e.Node, e.Link, e.LinkStat)
	case PeerRestarted:
		return fmt.Sprintf("peer-restarted %s %x->%x", e.Node, e.OldGen, e.Gen)
	case PartitionHealed:
		return "partition-healed " + e.Node
	case LateHeartbeat:
		return fmt.Sprintf("late-heartbeat %s %dms", e.Node, e.Interval.Milliseconds())
	case Delivered:
		return fmt.Sprintf("delivered %s %d %s", e.Node, e.Seq, e.Msg.Value(wire.FType))
	case Lost:
		return fmt.Sprintf("lost %s %d..%d", e.Node, e.Seq, e.LastSeq)
	case LostForGood:
		return fmt.Sprintf("lost-for-good %s %d", e.Node, e.Seq)
	case RexmitRefused:
		return fmt.Sprintf("rexmit-refused %s %d (%s)", e.Node, e.Seq, e.Reason)
	case NoneMissing:
		return "none-missing " + e.Node
	}
	return e.Kind.String()
}

// DropReason says why Receive ignored a message; the daemon counts them.
type DropReason int

const (
	// Accepted: the message was used (perhaps only for link status).
	Accepted DropReason = iota
	// DropMalformed: no type, source or timestamp, or a bad seq/hg/ts.
	DropMalformed
	// DropUnknownNode: the source is not a configured node.
	DropUnknownNode
	// DropFromSelf: our own message looped back by the medium.
	DropFromSelf
	// DropReplay: an older generation than the source's current one.
	DropReplay
	// DropDuplicate: a sequence number already seen.
	DropDuplicate
	// DropNotForUs: addressed to another node (still sequence-tracked).
	DropNotForUs
)

var dropNames = [...]string{"accepted", "malformed", "unknown node", "from self", "replay", "duplicate", "not for us"}

func (d DropReason) String() string {
	if int(d) < len(dropNames) {
		return dropNames[d]
	}
	return fmt.Sprintf("drop(%d)", int(d))
}

// Output is everything one call asks of the daemon. Its slices are reused
// by the next call to the same Node: consume them first.
type Output struct {
	Send   []Outgoing
	Events []Event
	// Wake is when the Node needs Tick again at the latest (never zero once
	// started).
	Wake time.Time
	// Drop is why Receive ignored its message (Accepted otherwise).
	Drop DropReason
}

// Command is a local request: Send or SetStatus.
type Command interface{ command() }

// Send sends a cluster message (resource, starting, shutdone, ...). Msg
// holds the type and the caller's fields; the core appends heartbeat's
// control fields (destuuid, src, srcuuid, seq, hg, ts, ld, ttl) and, unless
// the type starts with "NS_", numbers it and keeps it for retransmission.
type Send struct{ Msg *wire.Message }

// SetStatus changes the local status and sends it at once.
type SetStatus struct{ Status Status }

func (Send) command()      {}
func (SetStatus) command() {}

// NodeInfo is a snapshot of one node for cl_status and the API.
type NodeInfo struct {
	Name       string
	Status     Status
	Generation uint64
	Links      []LinkInfo
}

// LinkInfo is one link of a node.
type LinkInfo struct {
	Name   string
	Status LinkStatus
}
