// Package membership keeps heartbeat's view of the cluster: each node's
// status (init, up, active, dead), each link's status (up, dead), and the
// timing rules that decide them (keepalive, warntime, deadtime, initdead).
// It is pure: time is passed in and nothing is read or written.
//
// Liveness. Heartbeat 3.0.6 declares a node dead when no status message
// from it was processed for its dead interval. This Table instead counts any
// proof of life the caller reports as fresh (package core: a message with a
// sequence number never seen before from the node's current generation,
// whether a status, a resource message or a retransmission that fills a
// gap; not a duplicate, which a replay cannot be told from). Under heavy
// loss this gives many more chances to hear a live node than status
// messages alone, without changing anything on the wire. Stale packets
// still keep a live node's links up, as in heartbeat, but wake nothing of a
// dead node.
package membership

import (
	"time"

	"github.com/heartbeat-go/heartbeat/hb/mono"
)

// Status is a node status as heartbeat reports it (include/heartbeat.h);
// users and scripts parse these strings.
type Status string

// Node statuses.
const (
	Init   Status = "init"   // never heard from; also the first status a starting node sends
	Up     Status = "up"     // daemon running, communication not yet established
	Active Status = "active" // communication up: a full member
	Dead   Status = "dead"   // timed out, or shut down
	Ping   Status = "ping"   // a ping node that answers
)

// LinkStatus is a link (medium) status.
type LinkStatus string

// Link statuses. A link starts dead and goes up on the first packet.
const (
	LinkUp   LinkStatus = "up"
	LinkDead LinkStatus = "dead"
)

// Timing holds the ha.cf durations the table uses.
type Timing struct {
	Keepalive time.Duration // ha.cf "keepalive"
	DeadTime  time.Duration // ha.cf "deadtime": default dead interval of a peer
	WarnTime  time.Duration // ha.cf "warntime": late-heartbeat warning threshold
	InitDead  time.Duration // ha.cf "initdead": dead interval until communication is up
}

// Link is one medium's view of one node.
type Link struct {
	Name   string
	Status LinkStatus
	Last   mono.Time // last packet through it
}

// Peer is what the table knows about one other node.
type Peer struct {
	Name     string
	Status   Status
	DeadTime time.Duration // advertised by the node ("dt"), else Timing.DeadTime
	Fresh    mono.Time     // last proof of life (start time until heard)
	Heard    bool          // any packet received since start or since death
	Links    []Link
}

// ChangeKind says what changed.
type ChangeKind int

const (
	// NodeDead: Node timed out.
	NodeDead ChangeKind = iota
	// LinkChanged: Node's link Link is now Status.
	LinkChanged
	// Late: Node was heard again after Interval > warntime.
	Late
)

// Change is one timing-driven change.
type Change struct {
	Kind     ChangeKind
	Node     string
	Link     string
	Status   LinkStatus
	Interval time.Duration
}

// Table is the membership table of the local node. Not safe for
// concurrent use.
type Table struct {
	self   string
	timing Timing
	peers  []*Peer
	byName map[string]*Peer
	commUp bool
}

// New returns a table for local node self, peers (the other configured
// normal nodes, in configuration order) and link names, started at now.
func New(self string, peers, links []string, t Timing, now mono.Time) *Table {
	tb := &Table{self: self, timing: t, byName: make(map[string]*Peer, len(peers))}
	for _, name := range peers {
		if name == self || tb.byName[name] != nil {
			continue
		}
		p := &Peer{Name: name, Status: Init, DeadTime: t.DeadTime, Fresh: now}
		for _, l := range links {
			p.Links = append(p.Links, Link{Name: l, Status: LinkDead, Last: now})
		}
		tb.peers = append(tb.peers, p)
		tb.byName[name] = p
	}
	return tb
}

// Peers returns the peers in configuration order. The pointers stay valid;
// callers must not modify them.
func (t *Table) Peers() []*Peer { return t.peers }

// Peer returns the named peer, or nil.
func (t *Table) Peer(name string) *Peer { return t.byName[name] }

// CommUp reports whether communication has been declared up.
func (t *Table) CommUp() bool { return t.commUp }

// SetCommUp switches dead intervals from initdead to deadtime.
func (t *Table) SetCommUp() { t.commUp = true }

// CommReady reports heartbeat's comm-up condition: every peer has sent a
// packet or has been declared dead.
func (t *Table) CommReady() bool {
	for _, p := range t.peers {
		if !p.Heard && p.Status != Dead {
			return false
		}
	}
	return true
}

// interval is the dead interval of p.
func (t *Table) interval(p *Peer) time.Duration {
	if !t.commUp {
		return t.timing.InitDead
	}
	return p.DeadTime
}

// Deadline returns when p will be declared dead if nothing fresh arrives.
func (t *Table) Deadline(p *Peer) mono.Time { return p.Fresh.Add(t.interval(p)) }

// Heard records a packet from node through link at now; fresh says whether
// it proves the node alive now (see the package comment). It appends the
// resulting changes to dst.
func (t *Table) Heard(now mono.Time, node, link string, fresh bool, dst []Change) []Change {
	return t.HeardPeer(now, t.byName[node], link, fresh, dst)
}

// HeardPeer is Heard for a peer of this table (from Peer or Peers), without
// the lookup by name; a nil p changes nothing.
func (t *Table) HeardPeer(now mono.Time, p *Peer, link string, fresh bool, dst []Change) []Change {
	if p == nil || (!fresh && p.Status == Dead) {
		// A stale packet (perhaps a replay) does not wake a dead node's links.
		return dst
	}
	p.Heard = true
	for i := range p.Links {
		l := &p.Links[i]
		if l.Name != link {
			continue
		}
		l.Last = now
		if l.Status != LinkUp {
			l.Status = LinkUp
			dst = append(dst, Change{Kind: LinkChanged, Node: p.Name, Link: link, Status: LinkUp})
		}
	}
	if fresh {
		if gap := now.Sub(p.Fresh); p.Status != Dead && t.timing.WarnTime > 0 && gap > t.timing.WarnTime && p.Status != Init {
			dst = append(dst, Change{Kind: Late, Node: p.Name, Interval: gap})
		}
		if now.After(p.Fresh) {
			p.Fresh = now
		}
	}
	return dst
}

// SetStatus records the status a node reports for itself (its "st" field).
// It returns the previous status.
func (t *Table) SetStatus(node string, st Status) Status {
	p := t.byName[node]
	if p == nil {
		return ""
	}
	old := p.Status
	p.Status = st
	return old
}

// SetDeadTime records the dead interval a node advertises ("dt").
func (t *Table) SetDeadTime(node string, d time.Duration) { t.SetPeerDeadTime(t.byName[node], d) }

// SetPeerDeadTime is SetDeadTime for a peer of this table, without the
// lookup by name; a nil p changes nothing.
func (t *Table) SetPeerDeadTime(p *Peer, d time.Duration) {
	if p != nil && d > 0 {
		p.DeadTime = d
	}
}

// Check declares dead every node and link not heard from for its dead
// interval by now, appending the changes to dst. A node's links die with it.
func (t *Table) Check(now mono.Time, dst []Change) []Change {
	for _, p := range t.peers {
		dst = t.CheckPeer(now, p, dst)
	}
	return dst
}

// CheckPeer is Check for one peer of this table: Check is CheckPeer for
// every peer in order, and a peer whose PeerWake is after now has nothing
// to check.
func (t *Table) CheckPeer(now mono.Time, p *Peer, dst []Change) []Change {
	iv := t.interval(p)
	if p.Status != Dead && now.Sub(p.Fresh) > iv {
		p.Status = Dead
		p.Heard = false
		dst = append(dst, Change{Kind: NodeDead, Node: p.Name})
	}
	for i := range p.Links {
		l := &p.Links[i]
		if l.Status == LinkUp && now.Sub(l.Last) > iv {
			l.Status = LinkDead
			dst = append(dst, Change{Kind: LinkChanged, Node: p.Name, Link: l.Name, Status: LinkDead})
		}
	}
	return dst
}

// Wake returns the earliest time Check has something to do (mono.Never:
// never).
func (t *Table) Wake() mono.Time {
	w := mono.Never
	for _, p := range t.peers {
		w = min(w, t.PeerWake(p))
	}
	return w
}

// PeerWake returns the earliest time Check has something to do about p
// (mono.Never: never).
func (t *Table) PeerWake(p *Peer) mono.Time {
	// The earlier of Fresh (unless dead) and the earliest up link's Last,
	// plus the interval.
	base := mono.Never
	if p.Status != Dead {
		base = p.Fresh
	}
	for i := range p.Links {
		if l := &p.Links[i]; l.Status == LinkUp {
			base = min(base, l.Last)
		}
	}
	if base == mono.Never {
		return mono.Never
	}
	return base.Add(t.interval(p) + time.Nanosecond)
}
