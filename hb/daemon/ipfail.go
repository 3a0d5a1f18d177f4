package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/ipfail"
	"github.com/heartbeat-go/heartbeat/hb/rm"
	"github.com/heartbeat-go/heartbeat/hb/wire"
	"github.com/heartbeat-go/heartbeat/media"
)

// connEngine wraps the cluster engine with what issue 8 adds: the ping
// nodes (probed every keepalive over the ping media, "dead" after
// deadping), the built-in ipfail (switched on by "respawn USER .../ipfail"),
// and the pingd score ("respawn USER .../pingd ARGS"). Those two lines are
// taken out of cfg.Children, so the runtime runs only the other respawn
// and failfast lines as processes; connEngine reports them in the status.
//
// The decisions are the pure hb/ipfail machines; connEngine routes the
// core's node and link changes and the peer's messages to them, sends ipfail's
// messages through the core and turns a give-up into the resource
// manager's standby command, as heartbeat's ipfail client does through
// the API.
type connEngine struct {
	in  *clusterEngine
	r   *runtime
	cfg *config.Config

	pings     *ipfail.Pings
	pingLinks []*pingLink
	nextProbe time.Time

	ipf     *ipfail.Machine // nil: no built-in ipfail
	ipfWhy  string          // why a configured ipfail does not run
	ipfLine bool            // an ipfail respawn line exists
	score   *ipfail.Score   // nil: no pingd line

	tapped  []core.Event // core events seen by the cluster engine, not yet handled
	commUp  bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type pingLink struct {
	name string // ping node name = link name
	med  media.Medium
}

// isIpfail reports whether a respawn line runs heartbeat's ipfail.
func isIpfail(c config.Child) bool { return filepath.Base(c.Path) == "ipfail" }

// isPingd reports whether a respawn line runs pingd.
func isPingd(c config.Child) bool { return filepath.Base(c.Path) == "pingd" }

// withConnectivity wraps e when the configuration has ping nodes or
// respawn/failfast lines; otherwise it returns e unchanged.
func (r *runtime) withConnectivity(e *clusterEngine) engine {
	cfg := r.cfg
	var pingNames []string
	for _, n := range cfg.Nodes {
		if n.Type == config.PingNode {
			pingNames = append(pingNames, n.Name)
		}
	}
	var kids []config.Child
	for _, c := range cfg.Children {
		if !c.Implicit {
			kids = append(kids, c)
		}
	}
	if len(pingNames) == 0 && len(kids) == 0 {
		return e
	}
	c := &connEngine{in: e, r: r, cfg: cfg}
	for _, ch := range kids {
		switch {
		case isIpfail(ch):
			c.ipfLine = true
		case isPingd(ch):
			p, err := ipfail.ParsePingd(ch.Args)
			if err != nil {
				r.log.Error(fmt.Sprintf("%s (line %d): not computing the pingd score", err, ch.Line))
				continue
			}
			c.score = ipfail.NewScore(p)
		}
	}
	// ipfail and pingd are built in: the runtime runs the other lines as
	// processes (startChildren).
	var run []config.Child
	for _, ch := range cfg.Children {
		if ch.Implicit || !(isIpfail(ch) || isPingd(ch)) {
			run = append(run, ch)
		}
	}
	cfg.Children = run
	if c.ipfLine {
		peer := ""
		for _, n := range normalNodes(cfg) {
			if n != cfg.LocalNode {
				peer = n
				break
			}
		}
		switch {
		case e.rm == nil:
			// ipfail exits 100 ("not respawned") without resources.
			c.ipfWhy = "No managed resources"
		case cfg.AutoFailback == config.FailbackLegacy:
			c.ipfWhy = "auto_failback set to incompatible legacy option."
		default:
			c.ipf = ipfail.New(ipfail.Config{Local: cfg.LocalNode, Peer: peer, PingNodes: pingNames,
				Keepalive: cfg.Keepalive, AutoFailback: cfg.AutoFailback == config.FailbackOn})
		}
	}
	prev := e.tap
	e.tap = func(ev core.Event) {
		if prev != nil {
			prev(ev)
		}
		c.tapped = append(c.tapped, ev)
	}
	c.pings = ipfail.NewPings(pingNames, cfg.DeadPing, cfg.InitDead, time.Now())
	return c
}

// openPings opens the ping media and starts their receivers.
func (c *connEngine) openPings(now time.Time) {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	for _, m := range c.cfg.Media {
		if !m.IsPing() {
			continue
		}
		m := m
		open := func() (media.Medium, error) {
			switch m.Type {
			case config.Ping:
				return media.NewPing(m.Hosts[0])
			case config.Ping6:
				return media.NewPing6(m.Hosts[0])
			}
			p, skipped, err := media.NewPingGroup(m.Name, m.Hosts)
			for _, s := range skipped {
				c.r.log.Error(fmt.Sprintf("ping group %s: %v", m.Name, s))
			}
			return p, err
		}
		if len(m.Hosts) == 0 {
			continue
		}
		med := media.Keep(media.Kind(m.Type), m.String(), m.LinkName(), open, media.KeepOptions{Logger: pluginLogger(c.r.log)})
		pl := &pingLink{name: m.Name, med: med}
		c.pingLinks = append(c.pingLinks, pl)
		c.wg.Add(1)
		go c.receive(ctx, pl)
	}
	c.nextProbe = now
}

// receive reads echo replies and hands valid ones to the main loop.
func (c *connEngine) receive(ctx context.Context, pl *pingLink) {
	defer c.wg.Done()
	recvLoop(ctx, pl.med, func(p media.Packet) bool {
		m, err := c.r.codec.Decode(p.Data, -1)
		if err != nil || m.Value(wire.FType) != "NS_st" || m.Value(wire.FOrig) != pl.name {
			return true
		}
		at := p.At
		if at.IsZero() {
			at = time.Now()
		}
		name := pl.name
		return c.r.do(ctx, func() {
			if !c.stopped {
				c.r.apply(c.reply(at, name))
			}
		}) == nil
	})
}

// reply is an echo reply from ping node name.
func (c *connEngine) reply(now time.Time, name string) out {
	var o out
	c.pingEvents(now, c.pings.Reply(now, name), &o)
	c.finish(now, &o)
	return o
}

// probe sends one NS_st to every ping node when a keepalive passed.
func (c *connEngine) probe(now time.Time) {
	if len(c.pingLinks) == 0 || now.Before(c.nextProbe) {
		return
	}
	c.nextProbe = now.Add(c.cfg.Keepalive)
	for _, pl := range c.pingLinks {
		m := &wire.Message{}
		m.Add(wire.FType, "NS_st")
		m.Add(wire.FStatus, "ping")
		m.Add("info", "ping")
		m.Add(wire.FOrig, pl.name)
		m.Add(wire.FTime, strconv.FormatInt(now.Unix(), 16))
		b, err := c.r.codec.Encode(m, -1)
		if err != nil {
			continue
		}
		if err := pl.med.Send(context.Background(), b); err != nil {
			c.r.log.Debug(fmt.Sprintf("write failure on ping %s.: %v", pl.name, err))
		}
	}
}

func (c *connEngine) pingEvents(now time.Time, evs []ipfail.PingEvent, o *out) {
	for _, ev := range evs {
		if ev.Status == ipfail.StatusDead {
			o.Events = append(o.Events,
				event{Level: slog.LevelWarn, Text: fmt.Sprintf("node %s: is dead", ev.Node)},
				event{Level: slog.LevelInfo, Text: fmt.Sprintf("Link %s:%s dead.", ev.Node, ev.Node)})
		} else {
			if ev.Late {
				o.Events = append(o.Events, event{Level: slog.LevelWarn, Text: fmt.Sprintf("node %s: is dead", ev.Node)})
			}
			o.Events = append(o.Events,
				event{Level: slog.LevelInfo, Text: fmt.Sprintf("Status update for node %s: status %s", ev.Node, ev.Status)},
				event{Level: slog.LevelInfo, Text: fmt.Sprintf("Link %s:%s up.", ev.Node, ev.Node)})
		}
		if c.ipf != nil && c.commUp {
			link := ipfail.LinkUp
			if ev.Status == ipfail.StatusDead {
				link = ipfail.LinkDead
			}
			c.fromIpfail(now, c.ipf.NodeStatus(now, ev.Node, ev.Status), o)
			c.fromIpfail(now, c.ipf.LinkStatus(now, ev.Node, ev.Node, link), o)
		}
	}
	if c.score != nil && c.score.Update(now, c.scoreCount()) {
		c.logScore(o)
	}
}

func (c *connEngine) scoreCount() int {
	if h := c.score.Config().Hosts; len(h) > 0 {
		return c.pings.CountOf(h)
	}
	return c.pings.Count()
}

func (c *connEngine) logScore(o *out) {
	v, _ := c.score.Value()
	o.Events = append(o.Events, event{Level: slog.LevelInfo,
		Text: fmt.Sprintf("pingd: %s=%d (%d ping nodes reachable)", c.score.Config().Attr, v, c.scoreCount())})
}

// fromIpfail carries out an ipfail output.
func (c *connEngine) fromIpfail(now time.Time, io ipfail.Output, o *out) {
	for _, l := range io.Logs {
		lv := slog.LevelInfo
		switch l.Level {
		case ipfail.Debug:
			lv = slog.LevelDebug
		case ipfail.Warn:
			lv = slog.LevelWarn
		case ipfail.Error:
			lv = slog.LevelError
		}
		o.Events = append(o.Events, event{Level: lv, Text: "ipfail: " + l.Text})
	}
	for _, m := range io.Send {
		c.in.settle(now, c.in.core.Command(now, core.Send{Msg: m}), o)
	}
	if io.GiveUp != "" {
		o.add(c.in.Command(now, rm.Command{Kind: rm.Standby, What: io.GiveUp}))
		c.in.trigger = trigger{Reason: "ipfail: fewer ping nodes than " + c.peer(), At: now}
	}
}

func (c *connEngine) peer() string {
	if c.ipf == nil {
		return ""
	}
	return c.ipf.State().Peer
}

// drain hands the core events the cluster engine saw (through its tap)
// to ipfail, and notes comm-up.
func (c *connEngine) drain(now time.Time, o *out) {
	for guard := 0; len(c.tapped) > 0 && guard < 1000; guard++ {
		evs := c.tapped
		c.tapped = nil
		for _, ev := range evs {
			switch ev.Kind {
			case core.LocalStatus:
				if ev.Status == core.StatusActive && !c.commUp {
					c.commUp = true
					c.startClients(now, o)
				}
			case core.NodeStatus, core.NodeDead:
				if c.ipf != nil && c.commUp && ev.Node != c.cfg.LocalNode {
					st := string(ev.Status)
					if ev.Kind == core.NodeDead {
						st = ipfail.StatusDead
					}
					c.fromIpfail(now, c.ipf.NodeStatus(now, ev.Node, st), o)
				}
			case core.LinkStatusChange:
				if c.ipf != nil && c.commUp && ev.Node != c.cfg.LocalNode {
					c.fromIpfail(now, c.ipf.LinkStatus(now, ev.Node, ev.Link, string(ev.LinkStat)), o)
				}
			case core.Delivered:
				if c.ipf != nil && c.commUp && ev.Msg != nil && ev.Node != c.cfg.LocalNode {
					c.fromIpfail(now, c.ipf.Receive(now, ev.Msg), o)
				}
			}
		}
	}
}

// startClients is comm-up: heartbeat starts its children now.
func (c *connEngine) startClients(now time.Time, o *out) {
	for _, a := range c.cfg.APIAuth {
		o.Events = append(o.Events, event{Level: slog.LevelDebug,
			Text: fmt.Sprintf("apiauth %s: uid=%s gid=%s", a.Client, strings.Join(a.UIDs, ","), strings.Join(a.GIDs, ","))})
	}
	if c.ipfLine {
		if c.ipf == nil {
			o.Events = append(o.Events, event{Level: slog.LevelError, Text: "ipfail: " + c.ipfWhy})
		} else {
			o.Events = append(o.Events, event{Level: slog.LevelInfo, Text: "Starting built-in ipfail"})
			c.fromIpfail(now, c.ipf.Start(now), o)
			// What ipfail's first node walk sees.
			for _, n := range c.pings.Nodes() {
				if n.Status == ipfail.StatusPing {
					c.ipf.NodeStatus(now, n.Name, n.Status)
				}
			}
		}
	}
	if c.score != nil {
		p := c.score.Config()
		o.Events = append(o.Events, event{Level: slog.LevelInfo,
			Text: fmt.Sprintf("pingd: publishing %s = %d x reachable ping nodes (dampen %v)", p.Attr, p.Multiplier, p.Dampen)})
	}
}

// finish runs after every input: ipfail learns whether resources are in
// transition, due timers fire, probes go out, and the wake time covers
// everything pending.
func (c *connEngine) finish(now time.Time, o *out) {
	c.drain(now, o)
	c.pingEvents(now, c.pings.Tick(now), o)
	if c.ipf != nil && c.in.rm != nil {
		c.ipf.Resources(now, c.in.rm.Holding() == string(ctl.HoldTransition) || c.in.rm.Busy())
		if c.commUp {
			c.fromIpfail(now, c.ipf.Tick(now), o)
		}
	}
	if c.score != nil && c.score.Tick(now) {
		c.logScore(o)
	}
	c.drain(now, o)
	c.probe(now)
	if o.Exit || o.Restart {
		c.stop()
		return
	}
	w := earliest(o.Wake, c.pings.Wake())
	if len(c.pingLinks) > 0 {
		w = earliest(w, c.nextProbe)
	}
	if c.ipf != nil {
		if _, at := c.ipf.Pending(); !at.IsZero() {
			w = earliest(w, at)
		}
	}
	if c.score != nil {
		w = earliest(w, c.score.Wake())
	}
	if !w.IsZero() && w.Before(now) {
		w = now
	}
	o.Wake = w
}

// stop ends the ping receivers.
func (c *connEngine) stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	if c.cancel != nil {
		c.cancel()
	}
	for _, pl := range c.pingLinks {
		pl.med.Close()
	}
}

func (c *connEngine) Start(now time.Time) out {
	c.openPings(now)
	o := c.in.Start(now)
	c.finish(now, &o)
	return o
}

func (c *connEngine) Tick(now time.Time) out {
	o := c.in.Tick(now)
	c.finish(now, &o)
	return o
}

func (c *connEngine) Receive(now time.Time, link int, m *wire.Message) out {
	o := c.in.Receive(now, link, m)
	c.finish(now, &o)
	return o
}

func (c *connEngine) Command(now time.Time, cmd rm.Command) out {
	o := c.in.Command(now, cmd)
	c.finish(now, &o)
	return o
}

func (c *connEngine) Done(now time.Time, id uint64, res rm.Result) out {
	o := c.in.Done(now, id, res)
	c.finish(now, &o)
	return o
}

// Snapshot adds the ping nodes (after the normal nodes, as heartbeat's
// node table has them) and the connectivity report.
func (c *connEngine) Snapshot(s *ctl.Status) {
	c.in.Snapshot(s)
	for _, n := range c.pings.Nodes() {
		st := ctl.StatusPing
		switch n.Status {
		case ipfail.StatusDead:
			st = ctl.StatusDead
		case ipfail.StatusInit:
			st = ctl.StatusInit
		}
		s.Nodes = append(s.Nodes, ctl.Node{Name: n.Name, Type: ctl.NodePing, Status: st, Weight: 100,
			Links: []ctl.Link{{Name: n.Name, Status: ctl.LinkStatus(n.Link)}}, LastHeard: n.Last})
	}
	cn := &ctl.Connectivity{Reachable: c.pings.Count()}
	if c.ipfLine {
		ip := &ctl.Ipfail{Disabled: c.ipfWhy}
		if c.ipf != nil {
			st := c.ipf.State()
			ip.Peer, ip.Compare, ip.Pending, ip.PendingAt, ip.Flaps = st.Peer, st.Compare, st.Pending, st.PendingAt, st.Flaps
			if c.commUp {
				s.Clients = append(s.Clients, ctl.APIClient{Name: ipfail.ClientID, State: ctl.ClientOnline})
			}
		}
		cn.Ipfail = ip
	}
	if c.score != nil {
		cn.PingdAttr = c.score.Config().Attr
		if v, ok := c.score.Value(); ok {
			cn.Pingd = &v
		}
	}
	if c.r.kids != nil {
		for _, st := range c.r.kids.States() {
			cn.Children = append(cn.Children, ctl.Child{Command: st.Command, User: st.User, PID: st.PID,
				Starts: st.Starts, LastExit: st.LastExit, Stopped: st.Stopped})
		}
	}
	s.Connectivity = cn
}

// inner gives the wrapped cluster engine (for the FIFO's senders).
func (c *connEngine) inner() *clusterEngine { return c.in }

// Send sends a cluster message from a local script (the FIFO).
func (c *connEngine) Send(now time.Time, m *wire.Message) out {
	var o out
	c.in.settle(now, c.in.core.Command(now, core.Send{Msg: m}), &o)
	c.finish(now, &o)
	return o
}
