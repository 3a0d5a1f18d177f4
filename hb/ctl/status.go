package ctl

import (
	"fmt"
	"strings"
	"time"
)

// NodeType is a node's kind as cl_status prints it ("nodetype").
type NodeType string

// Node types.
const (
	NodeNormal NodeType = "normal" // ha.cf "node"
	NodePing   NodeType = "ping"   // ha.cf "ping" / "ping_group"
)

// NodeStatus is a node's status as cl_status prints it ("nodestatus").
type NodeStatus string

// Node statuses, spelled as heartbeat 3.0.6 reports them.
const (
	StatusActive NodeStatus = "active" // heartbeats arrive and the node is in the cluster
	StatusUp     NodeStatus = "up"     // heartbeats arrive, node not yet active
	StatusInit   NodeStatus = "init"   // never heard from since we started
	StatusDead   NodeStatus = "dead"   // deadtime passed without a heartbeat
	StatusPing   NodeStatus = "ping"   // a ping node that answers
)

// LinkStatus is one heartbeat link's status as seen for one node.
type LinkStatus string

// Link statuses.
const (
	LinkUp   LinkStatus = "up"
	LinkDead LinkStatus = "dead"
)

// Holding is what the local node claims to hold (heartbeat's rsc_hold,
// `cl_status rscstatus`).
type Holding string

// Holdings.
const (
	HoldNone       Holding = "none"
	HoldLocal      Holding = "local"
	HoldForeign    Holding = "foreign"
	HoldAll        Holding = "all"
	HoldTransition Holding = "transition" // a resource transition is running
)

// ClientState is an API client's state (`cl_status clientstatus`).
type ClientState string

// Client states; cl_status exits 0, 1, 2, 3 for them, in this order.
const (
	ClientOnline  ClientState = "online"
	ClientOffline ClientState = "offline"
	ClientJoin    ClientState = "join"
	ClientLeave   ClientState = "leave"
)

// What selects resource groups for standby and takeover, from the point
// of view of the node that asks (hb_standby / hb_takeover argument).
type What string

// Resource selections.
const (
	WhatAll      What = "all"
	WhatLocal    What = "local"    // groups whose home is the asking node
	WhatForeign  What = "foreign"  // groups whose home is another node
	WhatFailback What = "failback" // hb_standby maps it to foreign; hb_takeover passes it on
)

// ParseWhat checks a hb_standby/hb_takeover argument.
func ParseWhat(s string) (What, error) {
	switch w := What(s); w {
	case WhatAll, WhatLocal, WhatForeign, WhatFailback:
		return w, nil
	}
	return "", fmt.Errorf("wrong resources(%s)", s)
}

// GroupState is a resource group's state on the node that runs it.
type GroupState string

// Group states.
const (
	GroupRunning  GroupState = "running"
	GroupStopped  GroupState = "stopped"
	GroupStarting GroupState = "starting"
	GroupStopping GroupState = "stopping"
	GroupFailed   GroupState = "failed" // a start or stop failed
)

// Status is one snapshot of the local daemon's view of the cluster: all a
// cl_status sub-command, `cl_status --json` or `heartbeat status` needs.
// The daemon fills it; the tools only read it.
type Status struct {
	// Version is heartbeat's "hbversion" string, e.g.
	// "3.0.6 (node: 958e11be...)" (cl_status hbstatus -v).
	Version string `json:"version"`
	// LocalNode is this node's name (uname -n or /etc/ha.d/nodeinfo, lowercased).
	LocalNode string `json:"local_node"`
	// PID of the daemon's master process.
	PID int `json:"pid,omitempty"`
	// Started is when the daemon started.
	Started time.Time `json:"started,omitzero"`

	// Pacemaker is ha.cf's "crm"/"pacemaker" value as recorded ("false"
	// for a haresources cluster). Anything but false/off/no/0 means the
	// resources are managed by Pacemaker (cl_status "managed by").
	Pacemaker string `json:"pacemaker"`
	// Resources is the local holding (cl_status rscstatus). In
	// auto_failback legacy mode heartbeat reports "none" (or "transition").
	Resources Holding `json:"resources"`

	// Keepalive, DeadTime, WarnTime, InitDead are the effective timings.
	Keepalive time.Duration `json:"keepalive_ns"`
	DeadTime  time.Duration `json:"deadtime_ns"`
	WarnTime  time.Duration `json:"warntime_ns,omitempty"`
	InitDead  time.Duration `json:"initdead_ns,omitempty"`

	// Nodes holds every node, normal and ping, in heartbeat's node-table
	// order: the order of the node/ping lines in ha.cf (cl_status lists
	// them in reverse of this order, as heartbeat's client library does).
	Nodes []Node `json:"nodes"`
	// Groups holds every haresources group, in haresources order.
	Groups []Group `json:"groups,omitempty"`
	// Clients are the API clients connected to the local daemon (respawned
	// ipfail and the like), for cl_status clientstatus on the local node.
	Clients []APIClient `json:"clients,omitempty"`
	// Parameters are heartbeat's recorded configuration values by name,
	// as `cl_status hbparameter -p NAME` prints them: the value as written
	// in ha.cf, or heartbeat's default in the form heartbeat records it
	// (e.g. "keepalive": "1", "deadping": "10000ms", "udpport": "694",
	// "hbversion": "3.0.6 (...)", "pacemaker": "false"). Names heartbeat
	// does not record (node, ping, respawn, apiauth, ...) are absent.
	Parameters map[string]string `json:"parameters,omitempty"`
	// Failovers are the most recent resource moves, oldest first.
	Failovers []Failover `json:"failovers,omitempty"`
	// Connectivity is what ping nodes, ipfail, pingd and the respawned
	// children report; nil when none is configured.
	Connectivity *Connectivity `json:"connectivity,omitempty"`
	// Counters counts the packets the daemon refused since it started, by
	// reason: wire-level refusals ("bad-signature", "unknown-key-index",
	// "no-auth", "malformed", "too-large", ...) and message-level ones
	// ("unknown-node", "replay", "duplicate", "not-for-us"). Reasons never
	// seen are absent. Duplicates and not-for-us are normal with several
	// media or more than two nodes.
	Counters map[string]uint64 `json:"counters,omitempty"`
	// Media are the communication media's own counters, in ha.cf order.
	Media []MediumStats `json:"media,omitempty"`
	// APIAuth are the API clients allowed to sign on: ha.cf's "apiauth"
	// lines in ha.cf order, then those heartbeat adds itself (Implicit:
	// ping, lha-snmpagent, anon, and the Pacemaker daemons in CRM mode).
	APIAuth []APIAuth `json:"apiauth,omitempty"`
}

// MediumStats is one communication medium's counters.
type MediumStats struct {
	Name     string            `json:"name"`           // as in ha.cf, e.g. "ucast eth1 10.0.0.2"
	Kind     string            `json:"kind,omitempty"` // bcast, mcast, ucast, serial, ping, ...
	Link     string            `json:"link,omitempty"` // heartbeat's link name: IF, DEV or ping host
	State    string            `json:"state"`          // up, down (being reopened), closed
	Sent     uint64            `json:"sent"`
	Received uint64            `json:"received"`
	Dropped  map[string]uint64 `json:"dropped,omitempty"` // by reason: too-large, empty, send-error, ...
	LastErr  string            `json:"last_error,omitempty"`
	ErrAt    time.Time         `json:"last_error_at,omitzero"`
	Reopens  uint64            `json:"reopens,omitempty"`
}

// APIAuth is one API client's authorisation (ha.cf "apiauth CLIENT
// uid=... gid=...").
type APIAuth struct {
	Client   string   `json:"client"`
	UIDs     []string `json:"uids,omitempty"`
	GIDs     []string `json:"gids,omitempty"`
	Implicit bool     `json:"implicit,omitempty"` // added by heartbeat, not written in ha.cf
}

// Node is one cluster node (or ping node) as the local daemon sees it.
type Node struct {
	Name       string     `json:"name"`
	Type       NodeType   `json:"type"`
	Status     NodeStatus `json:"status"`
	Generation uint64     `json:"generation,omitempty"` // the node's hb_generation, 0 if unknown
	Weight     int        `json:"weight"`               // 100 unless hb_setweight changed it
	Site       string     `json:"site"`
	UUID       string     `json:"uuid,omitempty"`
	// Links in configuration order (the order of the media in ha.cf; for a
	// ping node its one link named after it).
	Links []Link `json:"links"`
	// LastHeard is when the last packet from the node arrived; zero if never.
	LastHeard time.Time `json:"last_heard,omitzero"`
}

// Link is one heartbeat medium's status for one node.
type Link struct {
	Name   string     `json:"name"` // the interface or device, e.g. "eth0", "/dev/ttyS0"
	Status LinkStatus `json:"status"`
}

// Group is one haresources resource group.
type Group struct {
	Key       string     `json:"key"`       // its first resource, heartbeat's identifier
	Home      string     `json:"home"`      // preferred node (first word of the line)
	Resources []string   `json:"resources"` // as written, e.g. "IPaddr2::198.18.0.100/24/eth0"
	Holder    string     `json:"holder"`    // node running it now, "" if none
	State     GroupState `json:"state"`
}

// APIClient is one API client of the local daemon.
type APIClient struct {
	Name  string      `json:"name"` // client id, e.g. "ipfail"
	PID   int         `json:"pid,omitempty"`
	State ClientState `json:"state"`
}

// Failover is one move of a resource group and how long it took.
type Failover struct {
	Group  string `json:"group"`  // group key
	From   string `json:"from"`   // node that held it, "" if nobody did
	To     string `json:"to"`     // node that runs it afterwards, "" if nobody does
	Reason string `json:"reason"` // e.g. "hb2 dead", "standby", "takeover", "auto_failback"
	// Start is when the trigger happened (the peer was declared dead, the
	// request arrived); Done when the group was up on To (or the attempt
	// ended). Took = Done - Start.
	Start time.Time     `json:"start"`
	Done  time.Time     `json:"done,omitzero"`
	Took  time.Duration `json:"took_ns"`
	Error string        `json:"error,omitempty"` // non-empty when the move failed
}

// Managed reports who manages the resources: "haresources" or "pacemaker".
func (s *Status) Managed() string {
	switch strings.ToLower(s.Pacemaker) {
	case "", "false", "off", "no", "n", "0":
		return "haresources"
	}
	return "pacemaker"
}

// FindNode returns the node named name, matched case-insensitively as
// heartbeat does, or nil.
func (s *Status) FindNode(name string) *Node {
	for i := range s.Nodes {
		if strings.EqualFold(s.Nodes[i].Name, name) {
			return &s.Nodes[i]
		}
	}
	return nil
}

// FindLink returns the node's link named name, or nil.
func (n *Node) FindLink(name string) *Link {
	for i := range n.Links {
		if n.Links[i].Name == name {
			return &n.Links[i]
		}
	}
	return nil
}

// Connectivity reports the ping nodes' reach and what the built-in ipfail
// and pingd made of it, and the state of the respawn/failfast children.
type Connectivity struct {
	// Reachable is the number of ping nodes whose status is "ping".
	Reachable int `json:"reachable"`
	// Ipfail is the built-in ipfail's state; nil when not configured.
	Ipfail *Ipfail `json:"ipfail,omitempty"`
	// PingdAttr and Pingd are the attribute and score pingd would publish
	// (multiplier x reachable ping nodes); Pingd is nil until published.
	PingdAttr string `json:"pingd_attr,omitempty"`
	Pingd     *int   `json:"pingd,omitempty"`
	// Children are the respawn/failfast lines run as processes.
	Children []Child `json:"children,omitempty"`
}

// Ipfail is the built-in ipfail's state.
type Ipfail struct {
	Peer      string    `json:"peer,omitempty"`
	Disabled  string    `json:"disabled,omitempty"` // why it does not run, as ipfail logs it
	Compare   string    `json:"compare,omitempty"`  // last count comparison: more, less, equal
	Pending   string    `json:"pending,omitempty"`  // scheduled give-up: all, foreign
	PendingAt time.Time `json:"pending_at,omitzero"`
	Flaps     int       `json:"flaps"` // unbalanced episodes within the hold-down window
}

// Child is one respawn/failfast child process.
type Child struct {
	Command  string `json:"command"`
	User     string `json:"user"`
	PID      int    `json:"pid,omitempty"` // 0 when not running
	Starts   int    `json:"starts"`
	LastExit string `json:"last_exit,omitempty"`
	Stopped  bool   `json:"stopped,omitempty"` // not restarted any more
}
