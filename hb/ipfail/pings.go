package ipfail

import (
	"sort"
	"time"
)

// Ping node statuses, as heartbeat and cl_status spell them.
const (
	StatusInit = "init" // not answered since we started
	StatusPing = "ping" // answers
	StatusDead = "dead" // no answer for deadping

	LinkUp   = "up"
	LinkDead = "dead"
)

// PingNode is the tracked state of one ping node ("ping HOST" or
// "ping_group NAME ...").
type PingNode struct {
	Name   string
	Status string    // StatusInit, StatusPing or StatusDead
	Link   string    // LinkUp or LinkDead (init counts as dead)
	Last   time.Time // last reply; zero if none
}

// PingEvent is a ping node status change.
type PingEvent struct {
	Node   string
	Status string // new status: StatusPing or StatusDead
	Late   bool   // a reply after the node had been declared dead
}

// Pings tracks the ping nodes' reachability as heartbeat does: a node is
// "ping" while replies arrive and "dead" once deadping passes without one
// (initdead for a node that never answered). It is pure: time is passed in.
type Pings struct {
	deadPing time.Duration
	initDead time.Duration
	start    time.Time
	nodes    []PingNode
	index    map[string]int
}

// NewPings starts tracking the named ping nodes at now. deadPing is ha.cf's
// "deadping"; initDead is "initdead", the grace a node that never
// answered gets from start (deadPing when initDead is shorter).
func NewPings(names []string, deadPing, initDead time.Duration, now time.Time) *Pings {
	if deadPing <= 0 {
		deadPing = time.Second
	}
	if initDead < deadPing {
		initDead = deadPing
	}
	p := &Pings{deadPing: deadPing, initDead: initDead, start: now, index: map[string]int{}}
	for _, n := range names {
		if _, dup := p.index[n]; dup || n == "" {
			continue
		}
		p.index[n] = len(p.nodes)
		p.nodes = append(p.nodes, PingNode{Name: n, Status: StatusInit, Link: LinkDead})
	}
	return p
}

// Reply records an echo reply carrying a valid message from the ping
// node name. It reports the node coming up (again); replies from unknown
// nodes are ignored.
func (p *Pings) Reply(now time.Time, name string) []PingEvent {
	i, ok := p.index[name]
	if !ok {
		return nil
	}
	n := &p.nodes[i]
	if now.After(n.Last) {
		n.Last = now
	}
	if n.Status == StatusPing {
		return nil
	}
	late := n.Status == StatusDead
	n.Status, n.Link = StatusPing, LinkUp
	return []PingEvent{{Node: n.Name, Status: StatusPing, Late: late}}
}

func (p *Pings) deadline(n *PingNode) time.Time {
	if n.Last.IsZero() {
		return p.start.Add(p.initDead)
	}
	return n.Last.Add(p.deadPing)
}

// Tick declares dead every node whose deadline passed.
func (p *Pings) Tick(now time.Time) []PingEvent {
	var ev []PingEvent
	for i := range p.nodes {
		n := &p.nodes[i]
		if n.Status == StatusDead {
			continue
		}
		if !now.Before(p.deadline(n)) {
			n.Status, n.Link = StatusDead, LinkDead
			ev = append(ev, PingEvent{Node: n.Name, Status: StatusDead})
		}
	}
	return ev
}

// Wake is the next time Tick may change something; zero if never.
func (p *Pings) Wake() time.Time {
	var w time.Time
	for i := range p.nodes {
		n := &p.nodes[i]
		if n.Status == StatusDead {
			continue
		}
		if d := p.deadline(n); w.IsZero() || d.Before(w) {
			w = d
		}
	}
	return w
}

// Count is the number of ping nodes whose status is "ping".
func (p *Pings) Count() int {
	c := 0
	for i := range p.nodes {
		if p.nodes[i].Status == StatusPing {
			c++
		}
	}
	return c
}

// CountOf counts the named nodes whose status is "ping" (pingd -h).
func (p *Pings) CountOf(names []string) int {
	c := 0
	for _, n := range names {
		if i, ok := p.index[n]; ok && p.nodes[i].Status == StatusPing {
			c++
		}
	}
	return c
}

// Nodes returns a copy of every ping node's state, in configuration order.
func (p *Pings) Nodes() []PingNode { return append([]PingNode(nil), p.nodes...) }

// Names returns the tracked names, sorted.
func (p *Pings) Names() []string {
	var out []string
	for _, n := range p.nodes {
		out = append(out, n.Name)
	}
	sort.Strings(out)
	return out
}
