package config

import (
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/diag"
	"github.com/heartbeat-go/heartbeat/hb/hacf"
)

// builder applies ha.cf directives one by one, as heartbeat's parse_config
// calls each directive's handler.
type builder struct {
	c     *Config
	env   Env
	file  string // ha.cf path, for problems
	probs diag.List

	udpPort       int // udpport in effect so far (0: not given)
	udpPortCached int // port the bcast/ucast plugins cached at their first instance
	firstUDPLine  int
	firstSerial   int
	baudGiven     int
	watchdogGiven int
	pacemakerLine int
	niceFailback  bool
	useLogd       *bool
	facility      int // syslog facility number, -1 none
	apiClients    map[string]int
}

func (b *builder) errf(line int, directive, format string, args ...any) {
	b.probs.Errorf(b.file, line, directive, format, args...)
}

func (b *builder) warnf(line int, directive, format string, args ...any) {
	b.probs.Warnf(b.file, line, directive, format, args...)
}

func newBuilder(c *Config, env Env, file string) *builder {
	return &builder{c: c, env: env, file: file, facility: -1, apiClients: map[string]int{}}
}

// notRecorded are the scalar directives heartbeat does not keep in its
// parameter table.
var notRecorded = map[string]bool{"node": true, "nice_failback": true, "use_apphbd": true, "env": true}

// record keeps tok as the recorded value of directive name, as heartbeat
// does after a directive's handler accepted it.
func (b *builder) record(name, tok string) {
	if notRecorded[name] {
		return
	}
	if name == "crm" {
		name = "pacemaker"
	}
	if b.c.Raw == nil {
		b.c.Raw = map[string]string{}
	}
	b.c.Raw[name] = tok
}

// apply runs one directive.
func (b *builder) apply(d hacf.Directive) {
	spec, _ := hacf.LookupSpec(d.Name)
	if spec.Kind == hacf.Scalar {
		b.c.Given[d.Name] = d.Line
		for _, tok := range d.Args {
			errs := len(b.probs.Errors())
			b.scalar(d, tok)
			if len(b.probs.Errors()) == errs {
				b.record(d.Name, tok)
			}
		}
		return
	}
	switch d.Name {
	case Bcast, Serial, Ping, Ping6:
		for _, tok := range d.Args {
			b.tokenMedium(d, tok)
		}
	case Mcast, Mcast6:
		b.mcast(d)
	case Ucast, Ucast6:
		b.ucast(d)
	case PingGroup:
		b.pingGroup(d)
	case "apiauth":
		b.apiauth(d)
	case "respawn", "failfast":
		b.child(d)
	case "stonith", "stonith_host":
		b.stonith(d)
	}
}

func (b *builder) timeValue(d hacf.Directive, tok string) (time.Duration, bool) {
	v, ok := ParseTime(tok)
	if !ok {
		hint := ""
		if strings.HasSuffix(strings.ToLower(tok), "s") && !strings.HasSuffix(strings.ToLower(tok), "ms") && !strings.HasSuffix(strings.ToLower(tok), "us") {
			hint = " (heartbeat 3.0.6 does not accept an \"s\" suffix: write seconds bare)"
		}
		b.errf(d.Line, d.Name, "%s: invalid time %q: expected seconds (2, 1.5) or milliseconds (500ms)%s", d.Name, tok, hint)
	}
	return v, ok
}

func (b *builder) boolValue(d hacf.Directive, tok string) (bool, bool) {
	v, ok := ParseBool(tok)
	if !ok {
		b.errf(d.Line, d.Name, "%s: invalid value %q: expected a boolean (on/off, yes/no, true/false, y/n, 1/0)", d.Name, tok)
	}
	return v, ok
}

func (b *builder) oneOf(d hacf.Directive, tok string, fold bool, allowed ...string) (string, bool) {
	for _, a := range allowed {
		if tok == a || (fold && strings.EqualFold(tok, a)) {
			return a, true
		}
	}
	cs := " (case-sensitive)"
	if fold {
		cs = ""
	}
	b.errf(d.Line, d.Name, "%s: invalid value %q: expected one of %s%s", d.Name, tok, strings.Join(allowed, ", "), cs)
	return "", false
}

func (b *builder) intRange(d hacf.Directive, tok string, lo, hi int64, what string) (int, bool) {
	v := atoi(tok)
	if v < lo || v > hi {
		b.errf(d.Line, d.Name, "%s: invalid value %q: expected %s", d.Name, tok, what)
		return 0, false
	}
	return int(v), true
}

// syslogFacilities are the names heartbeat 3.0.6 accepts (glibc's
// facilitynames, case-sensitive; "mark" included, as the real daemon showed).
var syslogFacilities = map[string]int{
	"none": 0, "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "security": 4,
	"syslog": 5, "lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20,
	"local5": 21, "local6": 22, "local7": 23,
	"mark": 24 << 3, // glibc INTERNAL_MARK; accepted by heartbeat 3.0.6
}

var pacemakerValues = []string{"respawn", "minimal", "manual", "valgrind", "ccm-only"}

func (b *builder) scalar(d hacf.Directive, tok string) {
	c := b.c
	switch d.Name {
	case "cluster":
		c.Cluster = tok
	case "quorum_server":
		// heartbeat 3.0.6 also copies the value into the cluster name.
		c.QuorumServer, c.Cluster = tok, tok
	case "node":
		b.addNode(d, tok)
	case "hopfudge":
		if v, ok := b.intRange(d, tok, 0, 255, "an integer from 0 to 255"); ok {
			c.HopFudge = v
		}
	case "keepalive":
		if v, ok := b.timeValue(d, tok); ok {
			if v <= 0 {
				b.errf(d.Line, d.Name, "keepalive: %q is not a positive time", tok)
			} else {
				c.Keepalive = v
			}
		}
	case "deadtime":
		if v, ok := b.timeValue(d, tok); ok {
			c.DeadTime = v
		}
	case "deadping":
		if v, ok := b.timeValue(d, tok); ok {
			c.DeadPing = v
		}
	case "initdead":
		if v, ok := b.timeValue(d, tok); ok {
			c.InitDead = v
		}
	case "warntime":
		if v, ok := b.timeValue(d, tok); ok {
			if v <= 0 {
				b.errf(d.Line, d.Name, "warntime: %q is not a positive time (heartbeat: Warn time [%s] is invalid.)", tok, tok)
			} else {
				c.WarnTime = v
			}
		}
	case "watchdog":
		if b.watchdogGiven != 0 {
			b.errf(d.Line, d.Name, "watchdog: device given again (first on line %d); heartbeat allows one watchdog device", b.watchdogGiven)
			return
		}
		b.watchdogGiven = d.Line
		c.Watchdog = tok
	case "baud":
		if b.baudGiven != 0 {
			b.errf(d.Line, d.Name, "baud: given again (first on line %d); heartbeat allows one baud rate", b.baudGiven)
			return
		}
		v, ok := b.oneOf(d, tok, false, "9600", "19200", "38400", "57600", "115200", "230400", "460800")
		if !ok {
			return
		}
		b.baudGiven = d.Line
		c.Baud = int(atoi(v))
		if b.firstSerial != 0 {
			b.warnf(d.Line, d.Name, "baud: set after the serial line on line %d, which keeps the earlier speed; put baud before the media lines", b.firstSerial)
		}
	case "udpport":
		v := atoi(tok)
		if v <= 0 {
			b.errf(d.Line, d.Name, "udpport: invalid port %q: expected a UDP port number from 1 to 65535", tok)
			return
		}
		if v > 65535 {
			// heartbeat takes it and htons() keeps the low 16 bits.
			v &= 0xffff
			b.warnf(d.Line, d.Name, "udpport %s: above 65535; heartbeat 3.0.6 accepts it but uses port %d", tok, v)
		}
		c.UDPPort = int(v)
		b.udpPort = int(v)
		if b.firstUDPLine != 0 {
			b.warnf(d.Line, d.Name, "udpport: set after the bcast/ucast line on line %d, which already uses port %d; put udpport before the media lines", b.firstUDPLine, b.udpPortCached)
		}
	case "logfacility":
		n, ok := syslogFacilities[tok]
		if !ok {
			b.errf(d.Line, d.Name, "logfacility: invalid syslog facility %q: expected none, daemon, local0..local7, user, auth, authpriv, cron, ftp, kern, lpr, mail, news, security, syslog, uucp (lower case)", tok)
			return
		}
		c.LogFacility = tok
		b.facility = n
	case "logfile":
		c.LogFile = tok
	case "debugfile":
		c.DebugFile = tok
	case "nice_failback":
		if _, ok := b.boolValue(d, tok); !ok {
			return
		}
		// Obsolete: heartbeat logs its advice at error level but goes on.
		if b.niceFailback {
			c.AutoFailback = FailbackOff
			b.warnf(d.Line, d.Name, "nice_failback is obsolete: 'nice_failback %s' has been changed to 'auto_failback off'; use auto_failback {on, off, legacy}", tok)
		} else {
			c.AutoFailback = FailbackLegacy
			b.warnf(d.Line, d.Name, "nice_failback is obsolete: 'nice_failback %s' is read as 'auto_failback legacy'; use auto_failback {on, off, legacy}", tok)
		}
		b.niceFailback = c.AutoFailback != FailbackLegacy
	case "auto_failback":
		if strings.EqualFold(tok, "legacy") {
			c.AutoFailback, b.niceFailback = FailbackLegacy, false
			return
		}
		v, ok := ParseBool(tok)
		if !ok {
			b.errf(d.Line, d.Name, "auto_failback: invalid value %q: expected on, off or legacy", tok)
			return
		}
		b.niceFailback = true
		if v {
			c.AutoFailback = FailbackOn
		} else {
			c.AutoFailback = FailbackOff
		}
	case "rtprio":
		if v, ok := b.intRange(d, tok, 1, 99, "a SCHED_FIFO priority from 1 to 99"); ok {
			c.RTPrio = v
		}
	case "hbgenmethod":
		if v, ok := b.oneOf(d, tok, false, "file", "time"); ok {
			c.HBGenMethod = v
		}
	case "realtime":
		if v, ok := b.boolValue(d, tok); ok {
			c.RealTime = v
		}
	case "debug":
		if v, ok := b.intRange(d, tok, 0, 255, "a debug level from 0 to 255"); ok {
			c.Debug = v
		}
	case "msgfmt":
		if v, ok := b.oneOf(d, tok, false, "classic", "netstring"); ok {
			c.MsgFmt = v
		}
	case "use_logd":
		if v, ok := b.boolValue(d, tok); ok {
			b.useLogd = &v
		}
	case "conn_logd_time":
		if v, ok := b.timeValue(d, tok); ok {
			if v <= 0 {
				b.errf(d.Line, d.Name, "conn_logd_time: %q is not a positive time", tok)
			} else {
				c.ConnLogdTime = v
			}
		}
	case "use_apphbd":
		if v, ok := b.boolValue(d, tok); ok {
			c.UseAPPHBD = v
		}
	case "log_badpack":
		if v, ok := b.boolValue(d, tok); ok {
			c.LogBadPack = v
		}
	case "syslogmsgfmt":
		if v, ok := b.boolValue(d, tok); ok {
			c.SyslogMsgFmt = v
		}
	case "coredumps":
		if v, ok := b.boolValue(d, tok); ok {
			c.Coredumps = v
		}
	case "coreroot":
		c.CoreRoot = tok
	case "crm", "pacemaker":
		b.pacemaker(d, tok)
	case "crm_daemon_dir":
		// heartbeat 3.0.6 inverts the result of its own check and so
		// refuses every crm_daemon_dir line.
		if b.pacemakerLine != 0 {
			b.errf(d.Line, d.Name, "crm_daemon_dir: must come before the pacemaker/crm directive (line %d)", b.pacemakerLine)
		} else {
			b.errf(d.Line, d.Name, "crm_daemon_dir %q: heartbeat 3.0.6 rejects every crm_daemon_dir line (a bug in its check); remove it", tok)
		}
		c.CRMDaemonDir = tok
	case "crmd_spawns_pengine":
		v, ok := b.boolValue(d, tok)
		if !ok {
			return
		}
		if b.pacemakerLine != 0 {
			b.errf(d.Line, d.Name, "crmd_spawns_pengine: must come before the pacemaker/crm directive (line %d)", b.pacemakerLine)
			return
		}
		c.CRMDSpawnsPengine = v
	case "autojoin":
		if v, ok := b.oneOf(d, tok, true, "none", "other", "any"); ok {
			c.AutoJoin = v
		}
	case "uuidfrom":
		if v, ok := b.oneOf(d, tok, false, "file", "nodename"); ok {
			c.UUIDFrom = v
		}
	case "compression":
		if v, ok := b.oneOf(d, tok, false, "zlib", "bz2"); ok {
			c.Compression = v
		}
	case "compression_threshold":
		if v, ok := b.intRange(d, tok, 1, 1<<31-1, "a positive number of kilobytes"); ok {
			c.CompressionThreshold = v
		}
	case "traditional_compression":
		if v, ok := b.boolValue(d, tok); ok {
			c.TraditionalCompression = v
		}
	case "env":
		name, val, found := strings.Cut(tok, "=")
		if name == "" {
			b.errf(d.Line, d.Name, "env: invalid setting %q: expected NAME=value", tok)
			return
		}
		if !found {
			b.warnf(d.Line, d.Name, "env: %q has no '=': heartbeat 3.0.6 accepts it but sets garbage; set HA_%s to empty here", tok, name)
		}
		c.Env[name] = val
	case "max_rexmit_delay":
		if v, ok := b.intRange(d, tok, 1, 1<<31-1, "a positive number of milliseconds"); ok {
			c.MaxRexmitDelay = time.Duration(v) * time.Millisecond
		}
	case "record_config_changes":
		if v, ok := b.boolValue(d, tok); ok {
			c.RecordConfigChanges = v
		}
	case "record_pengine_inputs":
		if v, ok := b.boolValue(d, tok); ok {
			c.RecordPengineInputs = v
		}
	case "enable_config_writes":
		if v, ok := b.boolValue(d, tok); ok {
			c.EnableConfigWrites = v
		}
	case "memreserve":
		if v, ok := b.intRange(d, tok, 1, 1<<31-1, "a positive number of kilobytes"); ok {
			c.MemReserve = v
		}
	}
}

func (b *builder) addNode(d hacf.Directive, tok string) {
	if len(b.c.Nodes) >= MaxNodes {
		b.errf(d.Line, d.Name, "node %q: too many nodes: heartbeat allows at most %d", tok, MaxNodes)
		return
	}
	name := lower(tok)
	if len(name) > MaxNodeName {
		b.warnf(d.Line, d.Name, "node %q: name longer than %d characters; heartbeat keeps only the first %d", tok, MaxNodeName, MaxNodeName)
		name = name[:MaxNodeName]
	}
	b.c.Nodes = append(b.c.Nodes, Node{Name: name, Type: NormalNode, Line: d.Line})
}

func (b *builder) pacemaker(d hacf.Directive, tok string) {
	if b.pacemakerLine != 0 {
		b.errf(d.Line, d.Name, "%s: pacemaker/crm directive used multiple times (first on line %d)", d.Name, b.pacemakerLine)
		return
	}
	val := ""
	if v, ok := ParseBool(tok); ok {
		val = "false"
		if v {
			val = "true"
		}
	} else {
		for _, p := range pacemakerValues {
			if strings.EqualFold(tok, p) {
				val = p
			}
		}
	}
	if val == "" {
		b.errf(d.Line, d.Name, "%s: invalid value %q: expected a boolean, respawn, minimal, manual, valgrind or ccm-only", d.Name, tok)
		return
	}
	b.pacemakerLine = d.Line
	b.c.Given["pacemaker"] = d.Line
	b.c.Pacemaker = val
	if val == "false" {
		return
	}
	b.c.CRM = true
	minimal := val == "minimal" || val == "manual"
	ccmOnly := val == "ccm-only"
	// Implicit API clients, registered now: a user apiauth line for the
	// same client, before or after, is a duplicate.
	if !ccmOnly {
		clients := []APIAuth{{Client: "cib", UIDs: []string{"hacluster"}}, {Client: "crmd", UIDs: []string{"hacluster"}}}
		if !minimal {
			clients = append(clients,
				APIAuth{Client: "stonithd", UIDs: []string{"root"}},
				APIAuth{Client: "stonith-ng", UIDs: []string{"root"}},
				APIAuth{Client: "attrd", UIDs: []string{"hacluster"}},
				APIAuth{Client: "pingd", UIDs: []string{"root"}})
		}
		for _, a := range clients {
			a.Implicit, a.Line = true, d.Line
			if l, dup := b.apiClients[a.Client]; dup {
				b.errf(d.Line, d.Name, "%s %s: duplicate apiauth for API client %s (written on line %d; Pacemaker mode adds its own)", d.Name, tok, a.Client, l)
				continue
			}
			b.apiClients[a.Client] = d.Line
			b.c.APIAuth = append(b.c.APIAuth, a)
		}
	}
	// The daemons heartbeat starts for Pacemaker, in order.
	type kid struct {
		name, user string
		failfast   bool
		args       string
	}
	fast := val == "true" || minimal
	var kids []kid
	kids = append(kids, kid{"ccm", "hacluster", fast, ""})
	if !ccmOnly {
		kids = append(kids, kid{"cib", "hacluster", fast, ""})
		if !minimal {
			kids = append(kids, kid{"stonithd", "root", false, ""})
		}
		kids = append(kids, kid{"lrmd", "root", false, " -r"})
		if !minimal {
			kids = append(kids, kid{"attrd", "hacluster", false, ""})
		}
		if !b.c.CRMDSpawnsPengine {
			kids = append(kids, kid{"pengine", "hacluster", fast, ""})
		}
		kids = append(kids, kid{"crmd", "hacluster", fast, ""})
	}
	for _, k := range kids {
		dirs := []string{"/usr/libexec/pacemaker", "/usr/libexec/heartbeat", "/usr/lib/heartbeat"}
		if k.name == "ccm" {
			dirs = dirs[1:]
		}
		found := ""
		for _, dir := range dirs {
			p := path.Join(dir, k.name)
			if b.env.Executable == nil || b.env.Executable(p) == nil {
				found = p
				break
			}
		}
		if found == "" {
			b.errf(d.Line, d.Name, "%s %s: cannot start Pacemaker daemon %q: not found in %s (heartbeat: Failed to add pacemaker client child)", d.Name, tok, k.name, strings.Join(dirs, ", "))
			continue
		}
		b.c.Children = append(b.c.Children, Child{User: k.user, Command: found + k.args, Path: found,
			FailFast: k.failfast, Line: d.Line, Implicit: true, Args: strings.Fields(k.args)})
	}
}

// --- media ---

func (b *builder) addMedium(d hacf.Directive, m Medium) {
	if len(b.c.Media) >= MaxMedia {
		b.errf(d.Line, d.Name, "%s: too many media (more than %d)", m.String(), MaxMedia)
		return
	}
	m.Line = d.Line
	b.c.Media = append(b.c.Media, m)
}

// udpPortNow is the port a bcast/ucast instance gets: the plugins read
// udpport once, when the first of them is created.
func (b *builder) udpPortNow(line int) int {
	if b.firstUDPLine == 0 {
		b.firstUDPLine = line
		b.udpPortCached = b.udpPort
		if b.udpPortCached == 0 {
			b.udpPortCached = DefaultUDPPort
		}
	}
	return b.udpPortCached
}

func (b *builder) tokenMedium(d hacf.Directive, tok string) {
	switch d.Name {
	case Bcast:
		if b.env.Interface != nil {
			ifi, err := b.env.Interface(tok)
			if err != nil {
				b.errf(d.Line, d.Name, "bcast %s: interface %q does not exist (%v)", tok, tok, err)
				return
			}
			// heartbeat asks for the broadcast address (SIOCGIFBRDADDR), which
			// needs an IPv4 address but not a broadcast flag: "bcast lo" works.
			if !ifi.IPv4 {
				b.errf(d.Line, d.Name, "bcast %s: interface %q has no IPv4 address to take a broadcast address from", tok, tok)
				return
			}
		}
		b.addMedium(d, Medium{Type: Bcast, Iface: tok, Port: b.udpPortNow(d.Line)})
	case Serial:
		if b.env.Device != nil {
			if err := b.env.Device(tok); err != nil {
				b.errf(d.Line, d.Name, "serial %s: nonexistent serial port %q", tok, tok)
				return
			}
		}
		if b.firstSerial == 0 {
			b.firstSerial = d.Line
		}
		baud := b.c.Baud
		b.addMedium(d, Medium{Type: Serial, Device: tok, Baud: baud})
	case Ping, Ping6:
		if b.env.LookupHost != nil {
			if err := b.env.LookupHost(tok); err != nil {
				b.errf(d.Line, d.Name, "%s %s: unknown host %q: %v", d.Name, tok, tok, err)
				return
			}
		}
		name := lower(tok)
		b.addMedium(d, Medium{Type: d.Name, Name: name, Hosts: []string{tok}})
		b.c.Nodes = append(b.c.Nodes, Node{Name: name, Type: PingNode, Line: d.Line})
	}
}

func (b *builder) mcast(d hacf.Directive) {
	a := d.Args
	v6 := d.Name == Mcast6
	if len(a) == 0 {
		if v6 {
			b.errf(d.Line, d.Name, "mcast6: statement without device: expected mcast6 IFACE GROUP PORT HOPS LOOP")
		}
		return // heartbeat accepts an empty mcast line and creates nothing
	}
	dev := a[0]
	want := []string{"address", "port", "ttl", "loop"}
	if v6 {
		want[2] = "hops"
	}
	if len(a) < 5 {
		b.errf(d.Line, d.Name, "%s %s: missing %s %s: expected %s IFACE GROUP PORT %s LOOP", d.Name, dev, d.Name, want[len(a)-1], d.Name, strings.ToUpper(want[2]))
		return
	}
	ok := true
	if v6 {
		if ip, err := netip.ParseAddr(a[1]); err != nil || !ip.Is6() || ip.Is4In6() || !ip.IsMulticast() {
			b.errf(d.Line, d.Name, "mcast6 %s: bad address %q: expected an IPv6 multicast group (ff00::/8)", dev, a[1])
			ok = false
		}
	} else if ip4, ok4 := parseInetAton(a[1]); !ok4 || !ip4.IsMulticast() {
		b.errf(d.Line, d.Name, "mcast %s: bad address %q: expected an IPv4 multicast group (224.0.0.0/4)", dev, a[1])
		ok = false
	}
	port := atoi(a[2])
	if port <= 0 {
		b.errf(d.Line, d.Name, "%s %s: bad port %q: expected a UDP port from 1 to 65535", d.Name, dev, a[2])
		ok = false
	} else if port > 65535 {
		port &= 0xffff
		b.warnf(d.Line, d.Name, "%s %s: port %s is above 65535; heartbeat 3.0.6 accepts it but uses port %d", d.Name, dev, a[2], port)
	}
	ttl := atoi(a[3])
	if ttl < 0 || ttl > 4 {
		b.errf(d.Line, d.Name, "%s %s: bad %s %q: expected 0 to 4", d.Name, dev, want[2], a[3])
		ok = false
	}
	loop := atoi(a[4])
	if loop != 0 && loop != 1 {
		b.errf(d.Line, d.Name, "%s %s: bad loop %q: expected 0 or 1", d.Name, dev, a[4])
		ok = false
	}
	if b.env.Interface != nil {
		ifi, err := b.env.Interface(dev)
		if err != nil {
			b.errf(d.Line, d.Name, "%s %s: device %q is invalid or not set up (%v)", d.Name, dev, dev, err)
			ok = false
		} else if !v6 && !ifi.IPv4 {
			b.errf(d.Line, d.Name, "mcast %s: device %q has no IPv4 address", dev, dev)
			ok = false
		}
	}
	if !ok {
		return
	}
	group := a[1]
	if !v6 {
		ip4, _ := parseInetAton(a[1])
		group = ip4.String()
	}
	b.addMedium(d, Medium{Type: d.Name, Iface: dev, Group: group, Port: int(port), TTL: int(ttl), Loop: loop == 1})
}

func (b *builder) ucast(d hacf.Directive) {
	a := d.Args
	v6 := d.Name == Ucast6
	if len(a) == 0 {
		b.errf(d.Line, d.Name, "%s: missing interface and peer: expected %s IFACE PEER", d.Name, d.Name)
		return
	}
	dev := a[0]
	if len(a) < 2 {
		what := "target IP address/hostname"
		if v6 {
			what = "ucast6 address"
		}
		b.errf(d.Line, d.Name, "%s %s: missing %s: expected %s IFACE PEER", d.Name, dev, what, d.Name)
		return
	}
	peer := a[1]
	if len(a) > 2 {
		b.warnf(d.Line, d.Name, "%s %s %s: heartbeat takes one peer per line and ignores %q; write one %s line per peer", d.Name, dev, peer, strings.Join(a[2:], " "), d.Name)
	}
	ok := true
	if v6 {
		host, zone, hasZone := strings.Cut(peer, "%")
		if hasZone && zone != dev {
			b.errf(d.Line, d.Name, "ucast6 %s: peer %q names interface %q, expected %q", dev, peer, zone, dev)
			ok = false
		}
		if ip, err := netip.ParseAddr(host); err == nil && (ip.IsLoopback() || ip.IsUnspecified()) {
			// The real daemon refuses "ucast6 lo ::1" (bad addr).
			b.errf(d.Line, d.Name, "ucast6 %s: bad address %q: expected the peer's IPv6 address, not a loopback or unspecified one", dev, peer)
			ok = false
		} else if err != nil || !ip.Is6() {
			if b.env.LookupHost != nil && b.env.LookupHost(host) != nil {
				b.errf(d.Line, d.Name, "ucast6 %s: cannot resolve %q to an IPv6 address", dev, peer)
				ok = false
			}
		}
	} else if _, lit := parseInetAton(peer); !lit && b.env.LookupHost != nil {
		if err := b.env.LookupHost(peer); err != nil {
			b.errf(d.Line, d.Name, "ucast %s: cannot resolve hostname %q: expected an IPv4 address or a resolvable name (%v)", dev, peer, err)
			ok = false
		}
	}
	if b.env.Interface != nil && (v6 || !b.env.UcastIfaceAtOpen) {
		if _, err := b.env.Interface(dev); err != nil {
			b.errf(d.Line, d.Name, "%s %s: interface %q does not exist (%v); heartbeat fails when it opens the medium", d.Name, dev, dev, err)
			ok = false
		}
	}
	if !ok {
		return
	}
	b.addMedium(d, Medium{Type: d.Name, Iface: dev, Peer: peer, Port: b.udpPortNow(d.Line)})
}

func (b *builder) pingGroup(d hacf.Directive) {
	a := d.Args
	if len(a) == 0 {
		b.errf(d.Line, d.Name, "ping_group: missing group name and hosts: expected ping_group NAME HOST [HOST...]")
		return
	}
	var hosts []string
	for _, h := range a[1:] {
		if b.env.LookupHost != nil {
			if err := b.env.LookupHost(h); err != nil {
				b.warnf(d.Line, d.Name, "ping_group %s: unknown host %q skipped (%v)", a[0], h, err)
				continue
			}
		}
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		b.errf(d.Line, d.Name, "ping_group %s: no usable hosts: expected ping_group NAME HOST [HOST...]", a[0])
		return
	}
	name := lower(a[0])
	b.addMedium(d, Medium{Type: PingGroup, Name: name, Hosts: hosts})
	b.c.Nodes = append(b.c.Nodes, Node{Name: name, Type: PingNode, Line: d.Line})
}

// parseInetAton accepts what inet_aton does for the common forms: a dotted
// quad (also with fewer parts, as a.b.c / a.b / a). Hex and octal forms are
// rare in ha.cf and are accepted only in dotted-decimal spelling.
func parseInetAton(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, a.Is4()
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, p := range parts {
		if p == "" || len(p) > 10 {
			return netip.Addr{}, false
		}
		var v uint64
		for _, ch := range p {
			if ch < '0' || ch > '9' {
				return netip.Addr{}, false
			}
			v = v*10 + uint64(ch-'0')
		}
		vals = append(vals, v)
	}
	var n uint64
	switch len(vals) {
	case 1:
		n = vals[0]
		if n > 0xffffffff {
			return netip.Addr{}, false
		}
	default:
		for _, v := range vals[:len(vals)-1] {
			if v > 255 {
				return netip.Addr{}, false
			}
			n = n<<8 | v
		}
		last := vals[len(vals)-1]
		shift := uint(8 * (5 - len(vals)))
		if last >= 1<<shift {
			return netip.Addr{}, false
		}
		n = n<<shift | last
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// --- whole-line built-ins ---

func (b *builder) apiauth(d hacf.Directive) {
	a := d.Args
	syntax := "expected apiauth CLIENT [uid=UID1,UID2...] [gid=GID1,GID2...] (at least one list)"
	if len(a) < 2 {
		b.errf(d.Line, d.Name, "apiauth %s: invalid apiauth directive: %s", d.Rest, syntax)
		return
	}
	client := a[0]
	if len(client) >= 64 {
		b.errf(d.Line, d.Name, "apiauth: client name %q too long (at most 63 characters)", client)
		return
	}
	e := APIAuth{Client: client, Line: d.Line}
	ok := true
	var sawUID, sawGID bool
	for _, tok := range a[1:] {
		switch {
		case strings.HasPrefix(tok, "uid="):
			if sawUID {
				b.errf(d.Line, d.Name, "apiauth %s: duplicate uid list %q", client, tok)
				ok = false
				continue
			}
			sawUID = true
			for _, u := range strings.Split(tok[4:], ",") {
				if u == "" {
					continue
				}
				if b.env.LookupUser != nil {
					if err := b.env.LookupUser(u); err != nil {
						b.errf(d.Line, d.Name, "apiauth %s: invalid user id name %q: no such user", client, u)
						ok = false
						continue
					}
				}
				e.UIDs = append(e.UIDs, u)
			}
		case strings.HasPrefix(tok, "gid="):
			if sawGID {
				b.errf(d.Line, d.Name, "apiauth %s: duplicate gid list %q", client, tok)
				ok = false
				continue
			}
			sawGID = true
			for _, g := range strings.Split(tok[4:], ",") {
				if g == "" {
					continue
				}
				if b.env.LookupGroup != nil {
					if err := b.env.LookupGroup(g); err != nil {
						b.errf(d.Line, d.Name, "apiauth %s: invalid group id name %q: no such group", client, g)
						ok = false
						continue
					}
				}
				e.GIDs = append(e.GIDs, g)
			}
		default:
			b.errf(d.Line, d.Name, "apiauth %s: missing uid or gid in %q: %s", client, tok, syntax)
			ok = false
		}
	}
	if !ok {
		return
	}
	if l, dup := b.apiClients[client]; dup {
		b.errf(d.Line, d.Name, "apiauth %s: duplicate apiauth directive for API client %s (first on line %d)", client, client, l)
		return
	}
	b.apiClients[client] = d.Line
	b.c.APIAuth = append(b.c.APIAuth, e)
}

func (b *builder) child(d hacf.Directive) {
	a := d.Args
	if len(a) < 2 {
		b.errf(d.Line, d.Name, "%s %s: expected %s USER /full/path/command [args...]", d.Name, d.Rest, d.Name)
		return
	}
	usr, cmd := a[0], a[1]
	ok := true
	if len(usr) >= 64 {
		b.errf(d.Line, d.Name, "%s: user name %q too long", d.Name, usr)
		return
	}
	if b.env.LookupUser != nil {
		if err := b.env.LookupUser(usr); err != nil {
			b.errf(d.Line, d.Name, "%s %s %s: invalid uid %q: no such user", d.Name, usr, cmd, usr)
			ok = false
		}
	}
	if !strings.HasPrefix(cmd, "/") {
		b.errf(d.Line, d.Name, "%s %s %s: command %q is not a full path name", d.Name, usr, cmd, cmd)
		return
	}
	if ok && b.env.Executable != nil {
		if err := b.env.Executable(cmd); err != nil {
			b.errf(d.Line, d.Name, "%s %s %s: command %q is not executable (%v)", d.Name, usr, cmd, cmd, err)
			ok = false
		}
	}
	if !ok {
		return
	}
	// The command line is the rest of the line after the user name.
	rest := strings.TrimLeft(strings.TrimLeft(d.Rest, whitespace)[len(usr):], whitespace)
	b.c.Children = append(b.c.Children, Child{User: usr, Command: strings.TrimRight(rest, whitespace), Path: cmd,
		Args: slices.Clone(a[2:]), FailFast: d.Name == "failfast", Line: d.Line})
}

func (b *builder) stonith(d hacf.Directive) {
	a := d.Args
	s := Stonith{Line: d.Line}
	if d.Name == "stonith_host" {
		if len(a) == 0 {
			b.errf(d.Line, d.Name, "stonith_host: no STONITH host name given: expected stonith_host HOST|* TYPE PARAMS...")
			return
		}
		s.Host = a[0]
		a = a[1:]
	}
	if len(a) == 0 {
		b.errf(d.Line, d.Name, "%s: no STONITH type given", d.Name)
		return
	}
	s.Type = a[0]
	if d.Name == "stonith" {
		if len(a) < 2 {
			b.errf(d.Line, d.Name, "stonith %s: missing configuration file: expected stonith TYPE CONFIGFILE", s.Type)
			return
		}
		s.ConfigFile = a[1]
	} else {
		s.Params = slices.Clone(a[1:])
		if s.Host != "*" && lower(s.Host) != b.c.LocalNode {
			return // applies to another node; heartbeat ignores it here
		}
	}
	if b.env.StonithType != nil {
		if err := b.env.StonithType(s.Type); err != nil {
			b.errf(d.Line, d.Name, "%s: invalid STONITH type %q (%v)", d.Name, s.Type, err)
			return
		}
	}
	b.c.Stonith = &s
}
