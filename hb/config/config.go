// Package config builds heartbeat's effective configuration from ha.cf,
// authkeys and haresources the way heartbeat 3.0.6 does at start-up: every
// directive validated with heartbeat's rules, defaults applied and derived
// (warntime, initdead and deadping from deadtime), and the cross-directive
// and cross-file checks heartbeat makes before it agrees to start. It
// reports every problem (not just the first) as diag problems, errors for
// what makes heartbeat refuse to start, warnings for what is legal but
// risky.
//
// Checks that depend on the machine (does a host name resolve, does a user
// exist, is a program executable, does an interface exist) go through the
// Env functions, so they can be faked in tests or switched off when a
// configuration is checked away from the node that will run it. Package
// hb/config/osenv answers them from the running machine.
//
// Compatibility is tested against the real daemon's verdicts: every case
// of ../shared/captures/config-errors.txt (TestCaptureVerdicts), 47
// borderline lines run through heartbeat 3.0.6 (testdata/edge-verdicts.txt)
// and every file set of ../shared/corpus (TestCorpus, verdicts in
// testdata/corpus/verdicts.tsv at the module root).
//
// Cost: loading a 100-node configuration (BenchmarkLoadConfig100Nodes)
// takes well under a millisecond; haresources.Parse of a 500-line file
// (BenchmarkParseHaresources500) about 0.45 ms of CPU on the 2-core build VM.
package config

import (
	"time"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/haresources"
)

// Defaults, as heartbeat 3.0.6 applies them (`heartbeat -D`).
const (
	DefaultCluster              = "linux-ha"
	DefaultKeepalive            = 1000 * time.Millisecond
	DefaultDeadTime             = 30000 * time.Millisecond
	DefaultUDPPort              = 694
	DefaultBaud                 = 19200
	DefaultHopFudge             = 1
	DefaultConnLogdTime         = 60 * time.Second
	DefaultCompression          = "zlib"
	DefaultCompressionThreshold = 2 // KB
	DefaultMaxRexmitDelay       = 250 * time.Millisecond
	DefaultMemReserve           = 6500 // KB
	// MaxNodes is heartbeat's MAXNODE: a 101st node is refused.
	MaxNodes = 100
	// MaxMedia is the most media heartbeat accepts.
	MaxMedia = 64
	// MaxNodeName is the longest node name kept (HOSTLENG-1).
	MaxNodeName = 99
)

// AutoFailback is ha.cf "auto_failback".
type AutoFailback string

// auto_failback values.
const (
	FailbackOn     AutoFailback = "on"
	FailbackOff    AutoFailback = "off"
	FailbackLegacy AutoFailback = "legacy"
)

// NodeType tells normal cluster nodes from ping nodes.
type NodeType string

// Node types as heartbeat reports them.
const (
	NormalNode NodeType = "normal"
	PingNode   NodeType = "ping"
)

// Node is a cluster member: a "node" name or a ping node.
type Node struct {
	Name string   `json:"name"` // lower-cased, as heartbeat stores it
	Type NodeType `json:"type"`
	Line int      `json:"line"`
}

// Medium types (the HBcomm plugin names).
const (
	Bcast     = "bcast"
	Mcast     = "mcast"
	Mcast6    = "mcast6"
	Ucast     = "ucast"
	Ucast6    = "ucast6"
	Serial    = "serial"
	Ping      = "ping"
	Ping6     = "ping6"
	PingGroup = "ping_group"
)

// Medium is one heartbeat medium: one bcast interface, one mcast/ucast
// line, one serial device, one ping host or one ping group.
type Medium struct {
	Type   string   `json:"type"`
	Line   int      `json:"line"`
	Iface  string   `json:"iface,omitempty"`  // bcast, mcast, mcast6, ucast, ucast6
	Peer   string   `json:"peer,omitempty"`   // ucast, ucast6: the address or host name written
	Group  string   `json:"group,omitempty"`  // mcast, mcast6: multicast group address
	Port   int      `json:"port,omitempty"`   // UDP port (bcast/ucast: udpport when first instantiated; mcast: its own)
	TTL    int      `json:"ttl,omitempty"`    // mcast TTL / mcast6 hops (0..4)
	Loop   bool     `json:"loop,omitempty"`   // mcast, mcast6 loopback
	Device string   `json:"device,omitempty"` // serial
	Baud   int      `json:"baud,omitempty"`   // serial
	Name   string   `json:"name,omitempty"`   // ping, ping6, ping_group: the ping node's name
	Hosts  []string `json:"hosts,omitempty"`  // ping, ping6, ping_group hosts
}

// IsPing reports whether the medium is a ping node rather than a path to
// the other cluster nodes.
func (m Medium) IsPing() bool {
	return m.Type == Ping || m.Type == Ping6 || m.Type == PingGroup
}

// IsNetwork reports whether the medium carries heartbeats over a network.
func (m Medium) IsNetwork() bool {
	return !m.IsPing() && m.Type != Serial
}

// LinkName is the name heartbeat gives the link (cl_status listhblinks).
func (m Medium) LinkName() string {
	switch {
	case m.Type == Serial:
		return m.Device
	case m.IsPing():
		return m.Name
	}
	return m.Iface
}

// String renders the medium as it would be written in ha.cf.
func (m Medium) String() string {
	switch m.Type {
	case Bcast:
		return "bcast " + m.Iface
	case Mcast, Mcast6:
		return m.Type + " " + m.Iface + " " + m.Group + " " + itoa(m.Port) + " " + itoa(m.TTL) + " " + btoa(m.Loop)
	case Ucast, Ucast6:
		return m.Type + " " + m.Iface + " " + m.Peer
	case Serial:
		return "serial " + m.Device
	case Ping, Ping6:
		return m.Type + " " + m.Name
	case PingGroup:
		s := "ping_group " + m.Name
		for _, h := range m.Hosts {
			s += " " + h
		}
		return s
	}
	return m.Type
}

// APIAuth is one "apiauth" entry: which uids/gids may sign on as Client.
type APIAuth struct {
	Client   string   `json:"client"`
	UIDs     []string `json:"uids,omitempty"`
	GIDs     []string `json:"gids,omitempty"`
	Line     int      `json:"line,omitempty"`
	Implicit bool     `json:"implicit,omitempty"` // added by heartbeat, not written in ha.cf
}

// Child is a "respawn" or "failfast" line, or a Pacemaker daemon heartbeat
// starts in CRM mode.
type Child struct {
	User     string   `json:"user"`
	Command  string   `json:"command"` // the whole command line
	Path     string   `json:"path"`    // its first word
	FailFast bool     `json:"failfast,omitempty"`
	Line     int      `json:"line,omitempty"`
	Implicit bool     `json:"implicit,omitempty"`
	Args     []string `json:"-"`
}

// Stonith is a "stonith" or "stonith_host" line that applies to this node.
type Stonith struct {
	Host       string   `json:"host,omitempty"` // stonith_host: the node it applies to, or "*"
	Type       string   `json:"type"`
	ConfigFile string   `json:"config_file,omitempty"` // stonith
	Params     []string `json:"params,omitempty"`      // stonith_host
	Line       int      `json:"line"`
}

// Config is heartbeat's effective configuration. Times are durations;
// heartbeat keeps them in whole milliseconds.
type Config struct {
	Dir       string // configuration directory the files were read from
	LocalNode string // this node's name, lower-cased (uname -n or nodeinfo)

	Cluster      string // "cluster" (also set by "quorum_server", as in C)
	QuorumServer string // "quorum_server"
	Nodes        []Node // "node" names then ping nodes, in file order per kind

	Keepalive time.Duration // "keepalive"
	DeadTime  time.Duration // "deadtime"
	WarnTime  time.Duration // "warntime"; default deadtime/2
	InitDead  time.Duration // "initdead"; default derived from deadtime
	DeadPing  time.Duration // "deadping"; default deadtime

	Media    []Medium // every medium in file order, ping nodes included
	UDPPort  int      // "udpport"
	Baud     int      // "baud"
	HopFudge int      // "hopfudge"
	Watchdog string   // "watchdog" device, "" when none

	AutoFailback AutoFailback // "auto_failback" (or "nice_failback")
	Pacemaker    string       // "crm"/"pacemaker" value, lower-cased; "false" when off
	CRM          bool         // Pacemaker mode: v1 resource management is off
	AutoJoin     string       // "autojoin": none, other, any
	UUIDFrom     string       // "uuidfrom": file, nodename
	HBGenMethod  string       // "hbgenmethod": file, time
	MsgFmt       string       // "msgfmt": classic, netstring

	LogFacility  string // "logfacility" name, "" when not set (no syslog)
	LogFile      string // "logfile"
	DebugFile    string // "debugfile"
	UseLogd      bool   // "use_logd" as decided by heartbeat's logging check
	ConnLogdTime time.Duration
	Debug        int // "debug"
	LogBadPack   bool
	SyslogMsgFmt bool

	RealTime   bool // "realtime"
	RTPrio     int  // "rtprio", 0 when not set (mid-range)
	Coredumps  bool
	CoreRoot   string
	MemReserve int // KB

	Compression            string // "compression" plugin
	CompressionThreshold   int    // KB
	TraditionalCompression bool
	MaxRexmitDelay         time.Duration

	CRMDaemonDir        string
	CRMDSpawnsPengine   bool
	RecordConfigChanges bool
	RecordPengineInputs bool
	EnableConfigWrites  bool
	UseAPPHBD           bool

	Env      map[string]string // "env NAME=value": exported as HA_NAME
	APIAuth  []APIAuth         // written entries, then implicit ones
	Children []Child           // respawn/failfast lines, then Pacemaker's daemons
	Stonith  *Stonith          // the last stonith/stonith_host line for this node

	Keys      *authkeys.Keys    // authkeys
	Resources *haresources.File // haresources (v1 mode only)

	// Given holds, for every directive written in ha.cf, the line of its
	// last occurrence.
	Given map[string]int

	// Raw holds, for every directive heartbeat records in its parameter
	// table (what API clients read with getparm and cl_status hbparameter
	// shows), the value exactly as written in ha.cf at its last accepted
	// occurrence ("crm" is recorded as "pacemaker"). Defaulted directives
	// are absent: heartbeat records their defaults in its own forms (the
	// heartbeat -D strings, and "<n>ms" for the derived times).
	Raw map[string]string
}

// Default returns the configuration heartbeat uses for every directive
// that is not given, with the derived times resolved as they are when
// deadtime and keepalive are not given either.
func Default() *Config {
	c := &Config{
		Cluster:              DefaultCluster,
		Keepalive:            DefaultKeepalive,
		DeadTime:             DefaultDeadTime,
		UDPPort:              DefaultUDPPort,
		Baud:                 DefaultBaud,
		HopFudge:             DefaultHopFudge,
		AutoFailback:         FailbackLegacy,
		Pacemaker:            "false",
		AutoJoin:             "none",
		UUIDFrom:             "file",
		HBGenMethod:          "file",
		MsgFmt:               "classic",
		ConnLogdTime:         DefaultConnLogdTime,
		LogBadPack:           true,
		SyslogMsgFmt:         true,
		RealTime:             true,
		Coredumps:            true,
		MemReserve:           DefaultMemReserve,
		Compression:          DefaultCompression,
		CompressionThreshold: DefaultCompressionThreshold,
		MaxRexmitDelay:       DefaultMaxRexmitDelay,
		CRMDSpawnsPengine:    true,
		RecordConfigChanges:  true,
		RecordPengineInputs:  true,
		EnableConfigWrites:   true,
		Env:                  map[string]string{},
		Given:                map[string]int{},
		Raw:                  map[string]string{},
	}
	c.deriveTimes()
	return c
}

// deriveTimes fills warntime, initdead and deadping from deadtime where
// they were not given, as heartbeat's init_config does.
func (c *Config) deriveTimes() {
	if _, ok := c.Given["warntime"]; !ok || c.WarnTime <= 0 {
		c.WarnTime = c.DeadTime / 2
	}
	if _, ok := c.Given["initdead"]; !ok {
		c.InitDead = DefaultInitDead(c.DeadTime)
	}
	if _, ok := c.Given["deadping"]; !ok {
		c.DeadPing = c.DeadTime
	}
}

// DefaultInitDead is heartbeat's initdead for a given deadtime: deadtime
// itself above 10 s, 12 s below 6 s, twice deadtime in between.
func DefaultInitDead(dead time.Duration) time.Duration {
	switch {
	case dead > 10*time.Second:
		return dead
	case dead < 6*time.Second:
		return 12 * time.Second
	}
	return 2 * dead
}

// NodeNames returns every node name, ping nodes included.
func (c *Config) NodeNames() []string {
	out := make([]string, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// HasNode reports whether name (any case) is a node of the cluster.
func (c *Config) HasNode(name string) bool {
	l := lower(name)
	for _, n := range c.Nodes {
		if n.Name == l {
			return true
		}
	}
	return false
}

// V1 reports whether heartbeat's own (haresources) resource manager is on.
func (c *Config) V1() bool { return !c.CRM }

// HeartbeatMedia returns the media that carry heartbeats (not ping nodes).
func (c *Config) HeartbeatMedia() []Medium {
	var out []Medium
	for _, m := range c.Media {
		if !m.IsPing() {
			out = append(out, m)
		}
	}
	return out
}
