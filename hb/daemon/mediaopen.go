package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/media"
)

// links are the heartbeat (non-ping) media of the config, in ha.cf order;
// the runtime's media and the engine's link numbers follow this order.
func links(cfg *config.Config) []config.Medium { return cfg.HeartbeatMedia() }

// openMedia opens every heartbeat medium and starts one receive goroutine
// per medium. Every medium is opened once, now: when one cannot be
// opened, those already opened are closed and the *media.OpenError is
// returned, for the daemon does not start then, as heartbeat 3.0.6 does
// not (hb/daemon/testdata/media-open-verdicts.txt: "make_io_childpair:
// cannot open ...", whatever the other media do). A medium that opened
// is kept (media.KeepOpen): when it fails later (an interface removed at
// run time) it is reopened in the background and the daemon goes on with
// its other media.
func (r *runtime) openMedia(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			for _, m := range r.media {
				m.Close()
			}
			r.media = nil
		}
	}()
	shared := map[string]*boundUDP{}
	for i, m := range links(r.cfg) {
		var med media.Medium
		switch {
		case r.o.Bind != "" && m.Type == config.Ucast:
			key := r.o.Bind
			if u, ok := shared[key]; ok {
				// Several ucast lines share the one bound socket: the
				// first reads, the others only send.
				peer, err := openBoundPeer(u, m, r.cfg.UDPPort)
				if err != nil {
					return err
				}
				med = peer
				break
			}
			peers := []string{m.Peer}
			port := m.Port
			if port == 0 {
				port = r.cfg.UDPPort
			}
			u, err := openBoundUDP(m.String(), r.o.Bind, port, peers)
			if err != nil {
				return &media.OpenError{Name: m.String(), Kind: media.Kind(m.Type), Link: m.LinkName(), Err: err}
			}
			shared[key] = u
			med = u
		default:
			m := m
			open := func() (media.Medium, error) { return openMedium(m, r.cfg) }
			// The medium logs heartbeat's own start lines (OpenLog)
			// once open, "glib: " first as heartbeat does.
			k, err := media.KeepOpen(media.Kind(m.Type), m.String(), m.LinkName(), open, media.KeepOptions{Logger: pluginLogger(r.log)})
			if err != nil {
				return &media.OpenError{Name: m.String(), Kind: media.Kind(m.Type), Link: m.LinkName(), Err: err}
			}
			med = k
		}
		r.media = append(r.media, med)
		if r.o.Bind != "" && m.Type == config.Ucast {
			for _, line := range ucastOpenLog(m.Iface, portOf(m, r.cfg), m.Peer) {
				r.log.Info("glib: " + line)
			}
		}
		go r.receive(ctx, i, med)
	}
	if len(r.media) == 0 {
		return errors.New("No heartbeat media defined")
	}
	return nil
}

// mediaOpenFailed logs a start-up that openMedia refused: heartbeat-go's
// own account of the medium that did not open, then the lines heartbeat
// 3.0.6 closes with when a medium cannot be opened (its child processes
// see the master control process die and go down with it).
func (r *runtime) mediaOpenFailed(err error) {
	r.log.Error(err.Error())
	var oe *media.OpenError
	if !errors.As(err, &oe) {
		return
	}
	crit(r.log, "Emergency Shutdown: Master Control process died.")
	crit(r.log, "Emergency Shutdown(MCP dead): Killing ourselves.")
}

func portOf(m config.Medium, cfg *config.Config) int {
	if m.Port != 0 {
		return m.Port
	}
	return cfg.UDPPort
}

func openMedium(m config.Medium, cfg *config.Config) (media.Medium, error) {
	port := portOf(m, cfg)
	switch m.Type {
	case config.Bcast:
		return media.NewBcast(m.Iface, port)
	case config.Ucast:
		return media.NewUcast(m.Iface, m.Peer, port)
	case config.Ucast6:
		return media.NewUcast6(m.Iface, m.Peer, port)
	case config.Mcast:
		return media.NewMcast(m.Iface, m.Group, port, m.TTL, m.Loop)
	case config.Mcast6:
		return media.NewMcast6(m.Iface, m.Group, port, m.TTL, m.Loop)
	case config.Serial:
		baud := m.Baud
		if baud == 0 {
			baud = cfg.Baud
		}
		return media.NewSerial(m.Device, baud)
	}
	return nil, fmt.Errorf("medium %s is not supported by heartbeat-go yet", m.Type)
}

// boundPeer sends through a shared bound socket to one more peer and
// receives nothing itself.
type boundPeer struct {
	name string
	u    *boundUDP
	peer *boundUDP
}

func openBoundPeer(u *boundUDP, m config.Medium, port int) (*boundPeer, error) {
	if m.Port != 0 {
		port = m.Port
	}
	p := &boundUDP{name: m.String(), conn: u.conn}
	if m.Type == config.Ucast {
		pa, err := resolvePeer(m.Peer, port)
		if err != nil {
			return nil, err
		}
		p.peers = append(p.peers, pa)
	}
	return &boundPeer{name: m.String(), u: u, peer: p}, nil
}

func (b *boundPeer) Name() string                             { return b.name }
func (b *boundPeer) Send(ctx context.Context, d []byte) error { return b.peer.Send(ctx, d) }
func (b *boundPeer) Recv(ctx context.Context) (media.Packet, error) {
	<-ctx.Done()
	return media.Packet{}, ctx.Err()
}
func (b *boundPeer) Close() error { return nil }

func (r *runtime) receive(ctx context.Context, link int, m media.Medium) {
	recvLoop(ctx, m, func(p media.Packet) bool {
		select {
		case r.inbox <- inPacket{Packet: p, Link: link}:
			return true
		case <-ctx.Done():
			return false
		}
	})
}

// recvLoop hands every packet m receives to handle until ctx ends, m is
// closed or handle returns false. A failed read (a medium being reopened)
// is retried after a pause.
func recvLoop(ctx context.Context, m media.Medium, handle func(media.Packet) bool) {
	for {
		p, err := m.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, media.ErrClosed) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if !handle(p) {
			return
		}
	}
}

// msString formats a duration as heartbeat records a defaulted time
// ("<n>ms").
func msString(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

// parameters are the values `cl_status hbparameter` reports: heartbeat's
// parameter table. A directive written in ha.cf is recorded as written
// ("keepalive 1" reads back "1"); a directive left out is recorded in
// the form heartbeat defaults it: the heartbeat -D string for those with
// a default, "<n>ms" for the times derived from deadtime, the port number
// for udpport, the -d count for debug, /dev/null for the log files when
// syslog is used, "yes" for use_logd when nothing else logs. Directives
// without a default that were not written are absent.
func parameters(cfg *config.Config, debug int) map[string]string {
	p := make(map[string]string, len(defaults)+12)
	for _, d := range defaults {
		p[d[0]] = d[1]
	}
	for name, v := range cfg.Raw {
		p[name] = v
	}
	derived := map[string]string{
		"warntime": msString(cfg.WarnTime),
		"initdead": msString(cfg.InitDead),
		"deadping": msString(cfg.DeadPing),
		"udpport":  strconv.Itoa(cfg.UDPPort),
		"debug":    strconv.Itoa(debug),
	}
	if cfg.LogFile != "" {
		derived["logfile"] = cfg.LogFile
	}
	if cfg.DebugFile != "" {
		derived["debugfile"] = cfg.DebugFile
	}
	if cfg.UseLogd {
		derived["use_logd"] = "yes"
	}
	for name, v := range derived {
		if _, ok := cfg.Raw[name]; !ok {
			p[name] = v
		}
	}
	p["hbversion"] = HBVersion
	return p
}

// defaults is heartbeat -D's table: the directives that have a default,
// in heartbeat's order. The descriptions are heartbeat-go's own words.
var defaults = [][3]string{
	{"cluster", "linux-ha", "Name of the cluster"},
	{"hopfudge", "1", "Extra hops allowed on serial rings"},
	{"keepalive", "1000ms", "Interval between heartbeats"},
	{"deadtime", "30000ms", "Silence after which a node is declared dead"},
	{"baud", "19200", "Serial line speed"},
	{"auto_failback", "legacy", "Whether groups move back to their home node"},
	{"hbgenmethod", "file", "How the generation number is kept"},
	{"realtime", "true", "Realtime scheduling and memory locking"},
	{"msgfmt", "classic", "Message format"},
	{"conn_logd_time", "60", "Interval between logd reconnection attempts"},
	{"log_badpack", "true", "Log packets that fail authentication"},
	{"syslogmsgfmt", "true", "Log messages in syslog format"},
	{"coredumps", "true", "Allow core dumps"},
	{"pacemaker", "false", "Run Pacemaker instead of haresources"},
	{"autojoin", "none", "Whether unknown nodes may join"},
	{"uuidfrom", "file", "Where node UUIDs come from"},
	{"compression", "zlib", "Compression method for large messages"},
	{"compression_threshold", "2", "Compress messages above this size (KB)"},
	{"traditional_compression", "no", "Compress whole messages"},
	{"max_rexmit_delay", "250", "Longest retransmission delay (ms)"},
	{"record_config_changes", "on", "Record CIB changes"},
	{"record_pengine_inputs", "on", "Record policy engine inputs"},
	{"enable_config_writes", "on", "Allow CIB writes"},
	{"memreserve", "6500", "Memory reserved (KB)"},
}

// dumpDefaults is heartbeat -D (-DW: wiki table).
func dumpDefaults(o Options, w io.Writer) int {
	if o.Wiki {
		fmt.Fprintln(w, "||'''Directive'''||'''Default'''||'''Description'''||")
		for _, d := range defaults {
			fmt.Fprintf(w, "||%s||%s||%s||\n", d[0], d[1], d[2])
		}
		return ExitOK
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Directive\tDefault\tDescription")
	fmt.Fprintln(tw, "---------\t-------\t-----------")
	for _, d := range defaults {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d[0], d[1], d[2])
	}
	tw.Flush()
	return ExitOK
}

// dumpConfig is heartbeat -v: the effective configuration after
// validation and defaults, one directive per line (heartbeat-go's own
// layout), recorded parameters first, then nodes and media.
func dumpConfig(cfg *config.Config, debug int, w io.Writer) {
	fmt.Fprintln(w, "# heartbeat effective configuration")
	p := parameters(cfg, debug)
	names := make([]string, 0, len(p))
	for k := range p {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "%s %s\n", k, p[k])
	}
	for _, n := range cfg.Nodes {
		if n.Type == config.PingNode {
			continue
		}
		fmt.Fprintf(w, "node %s\n", n.Name)
	}
	for _, m := range cfg.Media {
		fmt.Fprintln(w, m.String())
	}
	for _, c := range cfg.Children {
		kind := "respawn"
		if c.FailFast {
			kind = "failfast"
		}
		fmt.Fprintf(w, "%s %s %s\n", kind, c.User, c.Command)
	}
}
