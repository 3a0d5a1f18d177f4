package daemon

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/rm"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// clusterEngine composes the cluster core (membership, sequencing,
// retransmission) with the v1 resource manager: core events about nodes
// and delivered messages feed the resource manager, whose messages go out
// through the core. Both are pure; clusterEngine only routes between them
// and turns their events into heartbeat's log lines.
type clusterEngine struct {
	local    string
	nodes    []string             // normal nodes, ha.cf order
	groups   []haresources.Group  // haresources groups
	trigger  trigger              // why resources are moving now
	starting map[uint64]moving    // StartGroup actions in flight
	history  []ctl.Failover       // the most recent moves, oldest first
	now      time.Time            // time of the input being handled
	told     map[string]rm.Status // peer statuses the resource manager has been given
	drops    map[core.DropReason]uint64
	heard    map[string]time.Time // last accepted packet per node
	// tap, when set, sees every core event (ping nodes and ipfail use it).
	tap      func(core.Event)
	links    []string // link name per medium index
	core     *core.Node
	rm       *rm.Machine // nil with -M or in Pacemaker mode
	coreWake time.Time
	rmWake   time.Time
	active   bool
}

func rmLevel(l rm.Level) slog.Level {
	switch l {
	case rm.Debug:
		return slog.LevelDebug
	case rm.Warn:
		return slog.LevelWarn
	case rm.Error:
		return slog.LevelError
	case rm.Crit:
		return LevelCrit
	}
	return slog.LevelInfo
}

func (e *clusterEngine) linkIndex(names []string) int {
	if len(names) != 1 {
		return -1
	}
	for i, l := range e.links {
		if l == names[0] {
			return i
		}
	}
	return -1
}

// takeCore copies a core output (its slices are reused by the next call)
// into o, gives the resource manager the inputs it implies as each event
// comes (so the manager's log lines follow the event that caused them, as
// in heartbeat's log), and returns the messages the manager wants sent.
func (e *clusterEngine) takeCore(now time.Time, co core.Output, o *out) []*wire.Message {
	var sends []*wire.Message
	feed := func(f func() rm.Output) {
		if e.rm != nil {
			sends = append(sends, e.takeRM(f(), o)...)
		}
	}
	for _, s := range co.Send {
		link := -1
		if s.Media != nil {
			link = e.linkIndex(s.Media)
			if link < 0 {
				// Several named media: send on each.
				for _, name := range s.Media {
					if i := e.linkIndex([]string{name}); i >= 0 {
						o.Send = append(o.Send, outgoing{Msg: s.Msg.Clone(), Link: i})
					}
				}
				continue
			}
		}
		o.Send = append(o.Send, outgoing{Msg: s.Msg.Clone(), Link: link})
	}
	if !co.Wake.IsZero() {
		e.coreWake = co.Wake
	}
	for _, ev := range co.Events {
		ev := ev
		if e.tap != nil {
			ev.Msg = ev.Msg.Clone() // the core reuses its buffers
			e.tap(ev)
		}
		switch ev.Kind {
		case core.LocalStatus:
			if ev.Status == core.StatusActive {
				o.Events = append(o.Events, event{Level: slog.LevelInfo, Text: "Comm_now_up(): updating status to active"})
			}
			o.Events = append(o.Events, event{Level: slog.LevelInfo, Text: fmt.Sprintf("Local status now set to: '%s'", ev.Status),
				Ready: ev.Status == core.StatusActive && !e.active})
			if ev.Status == core.StatusActive {
				e.active = true
				// Communication is up once every node was heard from, which
				// the core may decide before it reports a peer's status:
				// tell the resource manager about every peer first, so it
				// does not believe it is alone.
				for _, n := range e.core.Nodes() {
					n := n
					if n.Name == e.local || e.told[n.Name] != "" {
						continue
					}
					e.tell(n.Name, rm.Status(n.Status))
					feed(func() rm.Output { return e.rm.NodeStatus(now, n.Name, rm.Status(n.Status)) })
				}
			}
			feed(func() rm.Output { return e.rm.NodeStatus(now, e.local, rm.Status(ev.Status)) })
		case core.NodeStatus:
			o.Events = append(o.Events, event{Level: slog.LevelInfo, Text: fmt.Sprintf("Status update for node %s: status %s", ev.Node, ev.Status)})
			e.tell(ev.Node, rm.Status(ev.Status))
			feed(func() rm.Output { return e.rm.NodeStatus(now, ev.Node, rm.Status(ev.Status)) })
		case core.NodeDead:
			e.tell(ev.Node, rm.StatusDead)
			e.trigger = trigger{Reason: ev.Node + " dead", From: ev.Node, At: now}
			o.Events = append(o.Events, event{Level: slog.LevelWarn, Text: fmt.Sprintf("node %s: is dead", ev.Node)})
			feed(func() rm.Output { return e.rm.NodeStatus(now, ev.Node, rm.StatusDead) })
		case core.LinkStatusChange:
			o.Events = append(o.Events, event{Level: slog.LevelInfo, Text: fmt.Sprintf("Link %s:%s %s.", ev.Node, ev.Link, ev.LinkStat)})
		case core.PeerRestarted:
			// The resource manager logs "Heartbeat restart on node %s".
			feed(func() rm.Output { return e.rm.PeerRestarted(now, ev.Node) })
		case core.PartitionHealed:
			o.Events = append(o.Events,
				event{Level: LevelCrit, Text: fmt.Sprintf("Cluster node %s returning after partition.", ev.Node)},
				event{Level: slog.LevelInfo, Text: "For information on cluster partitions, See URL: http://linux-ha.org/wiki/Split_Brain"},
				event{Level: slog.LevelWarn, Text: "Deadtime value may be too small."},
				event{Level: slog.LevelInfo, Text: "See FAQ for information on tuning deadtime."},
				event{Level: slog.LevelInfo, Text: "URL: http://linux-ha.org/wiki/FAQ#Heavy_Load"})
		case core.LateHeartbeat:
			o.Events = append(o.Events, event{Level: slog.LevelWarn, Text: fmt.Sprintf("Late heartbeat: Node %s: interval %d ms", ev.Node, ev.Interval.Milliseconds())})
		case core.Lost:
			n := ev.LastSeq - ev.Seq + 1
			o.Events = append(o.Events, event{Level: slog.LevelWarn, Text: fmt.Sprintf("%d lost packet(s) for [%s] [%d:%d]", n, ev.Node, ev.Seq-1, ev.LastSeq+1)})
		case core.LostForGood:
			o.Events = append(o.Events, event{Level: slog.LevelError, Text: fmt.Sprintf("Irretrievably lost packet: node %s seq %d", ev.Node, ev.Seq)})
		case core.RexmitRefused:
			o.Events = append(o.Events, event{Level: slog.LevelError, Text: fmt.Sprintf("Cannot rexmit pkt %d for %s: %s", ev.Seq, ev.Node, ev.Reason)})
		case core.Delivered:
			msg := ev.Msg.Clone()
			if src := msg.Value(wire.FOrig); src != e.local {
				switch msg.Value(wire.FType) {
				case "ask_resources":
					if msg.Value("info") == "me" {
						e.trigger = trigger{Reason: "standby of " + src, From: src, At: now}
					}
				case "hb_takeover":
					e.trigger = trigger{Reason: "takeover by " + src, At: now}
				case "shutdone":
					e.trigger = trigger{Reason: src + " shut down", From: src, At: now}
				}
			}
			feed(func() rm.Output { return e.rm.Receive(now, msg) })
		}
	}
	return sends
}

func (e *clusterEngine) tell(node string, st rm.Status) {
	if e.told == nil {
		e.told = map[string]rm.Status{}
	}
	e.told[node] = st
}

// takeRM copies a resource-manager output into o and returns the
// messages it wants sent.
func (e *clusterEngine) takeRM(r rm.Output, o *out) []*wire.Message {
	for _, ev := range r.Events {
		o.Events = append(o.Events, event{Level: rmLevel(ev.Level), Text: ev.Text})
	}
	for _, a := range r.Actions {
		switch a.Kind {
		case rm.Exit:
			o.Exit = true
		case rm.Restart:
			o.Restart = true
		case rm.StartGroup:
			from := ""
			if e.trigger.From != "" {
				from = e.trigger.From
			}
			tr := e.trigger
			if tr.At.IsZero() {
				tr = trigger{Reason: "start-up", At: e.now}
			}
			if e.starting == nil {
				e.starting = map[uint64]moving{}
			}
			e.starting[a.ID] = moving{key: a.Key, from: from, trigger: tr}
			o.Actions = append(o.Actions, a)
		default:
			o.Actions = append(o.Actions, a)
		}
	}
	e.rmWake = r.Wake
	return r.Send
}

// settle runs the resource manager on what the core produced and sends
// the manager's messages through the core, until nothing is left.
func (e *clusterEngine) settle(now time.Time, co core.Output, o *out) {
	e.now = now
	sends := e.takeCore(now, co, o)
	for guard := 0; len(sends) > 0 && guard < 10000; guard++ {
		m := sends[0]
		sends = sends[1:]
		sends = append(sends, e.takeCore(now, e.core.Command(now, core.Send{Msg: m}), o)...)
	}
	o.Wake = earliest(e.coreWake, e.rmWake)
}

func (e *clusterEngine) Start(now time.Time) out {
	var o out
	e.settle(now, e.core.Tick(now), &o)
	return o
}

func (e *clusterEngine) Tick(now time.Time) out {
	var o out
	co := e.core.Tick(now)
	e.settle(now, co, &o)
	if e.rm != nil {
		var o2 out
		sends := e.takeRM(e.rm.Tick(now), &o2)
		o.add(o2)
		for _, m := range sends {
			e.settle(now, e.core.Command(now, core.Send{Msg: m}), &o)
		}
	}
	o.Wake = earliest(e.coreWake, e.rmWake)
	return o
}

func (e *clusterEngine) Receive(now time.Time, link int, m *wire.Message) out {
	var o out
	name := ""
	if link >= 0 && link < len(e.links) {
		name = e.links[link]
	}
	co := e.core.Receive(now, name, m)
	if co.Drop == core.Accepted {
		if e.heard == nil {
			e.heard = map[string]time.Time{}
		}
		e.heard[strings.ToLower(m.Value(wire.FOrig))] = now
	}
	if co.Drop != core.Accepted && co.Drop != core.DropFromSelf {
		e.drops[co.Drop]++
		if co.Drop == core.DropUnknownNode && e.drops[co.Drop] <= 10 {
			// heartbeat's wording; the first few only, a stray cluster on
			// the same port would otherwise flood the log.
			o.Events = append(o.Events, event{Level: slog.LevelError,
				Text: fmt.Sprintf("process_status_message: bad node [%s] in message", m.Value(wire.FOrig))})
			// followed by its dump of the message, as heartbeat 3.0.6 logs it.
			for _, l := range msgDump(m) {
				o.Events = append(o.Events, event{Level: slog.LevelError, Text: l})
			}
		}
		o.Events = append(o.Events, event{Level: slog.LevelDebug, Text: fmt.Sprintf("dropped t=%s from %s on %s: %s",
			m.Value(wire.FType), m.Value(wire.FOrig), name, co.Drop)})
	}
	e.settle(now, co, &o)
	return o
}

func (e *clusterEngine) fromRM(now time.Time, r rm.Output) out {
	e.now = now
	var o out
	sends := e.takeRM(r, &o)
	for _, m := range sends {
		e.settle(now, e.core.Command(now, core.Send{Msg: m}), &o)
	}
	o.Wake = earliest(e.coreWake, e.rmWake)
	return o
}

func (e *clusterEngine) Command(now time.Time, c rm.Command) out {
	switch c.Kind {
	case rm.Standby:
		e.trigger = trigger{Reason: "standby", At: now}
	case rm.Takeover:
		e.trigger = trigger{Reason: "takeover", At: now}
	}
	if e.rm == nil {
		if c.Kind == rm.Shutdown {
			return out{Exit: true, Events: []event{{Level: slog.LevelInfo, Text: e.local + " Heartbeat shutdown complete."}}}
		}
		return out{Events: []event{{Level: slog.LevelWarn, Text: "No resource management: request ignored"}}}
	}
	return e.fromRM(now, e.rm.Command(now, c))
}

func (e *clusterEngine) Send(now time.Time, m *wire.Message) out {
	var o out
	e.settle(now, e.core.Command(now, core.Send{Msg: m}), &o)
	return o
}

func (e *clusterEngine) Done(now time.Time, id uint64, r rm.Result) out {
	if e.rm == nil {
		return out{}
	}
	if mv, ok := e.starting[id]; ok {
		delete(e.starting, id)
		f := ctl.Failover{Group: mv.key, From: mv.from, To: e.local, Reason: mv.trigger.Reason,
			Start: mv.trigger.At, Done: now, Took: now.Sub(mv.trigger.At)}
		if r != rm.OK {
			f.To, f.Error = "", "start failed"
		}
		e.history = append(e.history, f)
		if len(e.history) > 20 {
			e.history = e.history[len(e.history)-20:]
		}
	}
	return e.fromRM(now, e.rm.Done(now, id, r))
}

func (e *clusterEngine) Snapshot(s *ctl.Status) {
	for r, n := range e.drops {
		addCounter(s, strings.ReplaceAll(r.String(), " ", "-"), n)
	}
	// ha.cf order, as heartbeat's node table (cl_status prints it reversed).
	nodes := e.core.Nodes()
	pos := map[string]int{}
	for i, n := range e.nodes {
		pos[n] = i
	}
	sort.SliceStable(nodes, func(i, j int) bool { return pos[nodes[i].Name] < pos[nodes[j].Name] })
	for _, n := range nodes {
		cn := ctl.Node{Name: n.Name, Type: ctl.NodeNormal, Status: ctl.NodeStatus(n.Status), Generation: n.Generation, Weight: 100,
			LastHeard: e.heard[n.Name]}
		for _, l := range n.Links {
			cn.Links = append(cn.Links, ctl.Link{Name: l.Name, Status: ctl.LinkStatus(l.Status)})
		}
		s.Nodes = append(s.Nodes, cn)
	}
	s.Resources = ctl.HoldNone
	if e.rm == nil {
		return
	}
	s.Resources = ctl.Holding(e.rm.Holding())
	holder := map[string]string{}
	for _, n := range e.nodes {
		if n == e.local {
			continue
		}
		for _, k := range e.rm.PeerClaims(n) {
			holder[k] = n
		}
	}
	for _, k := range e.rm.Held() {
		holder[k] = e.local
	}
	for _, g := range e.groups {
		cg := ctl.Group{Key: g.Key(), Home: g.Node, Holder: holder[g.Key()], State: ctl.GroupStopped}
		for _, r := range g.Resources {
			cg.Resources = append(cg.Resources, r.Raw)
		}
		if cg.Holder != "" {
			cg.State = ctl.GroupRunning
		}
		s.Groups = append(s.Groups, cg)
	}
	s.Failovers = append(s.Failovers, e.history...)
}

// trigger is the latest reason for resources to move.
type trigger struct {
	Reason string
	From   string
	At     time.Time
}

// moving is a group start in flight.
type moving struct {
	key     string
	from    string
	trigger trigger
}
