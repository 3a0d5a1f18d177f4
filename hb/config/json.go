package config

import (
	"encoding/json"
	"sort"
)

// jsonConfig is the JSON form of Config: every directive with its
// effective value, times in milliseconds.
type jsonConfig struct {
	ConfigDir              string            `json:"config_dir"`
	LocalNode              string            `json:"local_node"`
	Cluster                string            `json:"cluster"`
	QuorumServer           string            `json:"quorum_server,omitempty"`
	Nodes                  []Node            `json:"nodes"`
	KeepaliveMS            int64             `json:"keepalive_ms"`
	DeadTimeMS             int64             `json:"deadtime_ms"`
	WarnTimeMS             int64             `json:"warntime_ms"`
	InitDeadMS             int64             `json:"initdead_ms"`
	DeadPingMS             int64             `json:"deadping_ms"`
	Media                  []Medium          `json:"media"`
	UDPPort                int               `json:"udpport"`
	Baud                   int               `json:"baud"`
	HopFudge               int               `json:"hopfudge"`
	Watchdog               string            `json:"watchdog,omitempty"`
	AutoFailback           AutoFailback      `json:"auto_failback"`
	Pacemaker              string            `json:"pacemaker"`
	ResourceManager        string            `json:"resource_manager"` // "v1" (haresources) or "crm"
	AutoJoin               string            `json:"autojoin"`
	UUIDFrom               string            `json:"uuidfrom"`
	HBGenMethod            string            `json:"hbgenmethod"`
	MsgFmt                 string            `json:"msgfmt"`
	LogFacility            string            `json:"logfacility,omitempty"`
	LogFile                string            `json:"logfile,omitempty"`
	DebugFile              string            `json:"debugfile,omitempty"`
	UseLogd                bool              `json:"use_logd"`
	ConnLogdTimeMS         int64             `json:"conn_logd_time_ms"`
	Debug                  int               `json:"debug"`
	LogBadPack             bool              `json:"log_badpack"`
	SyslogMsgFmt           bool              `json:"syslogmsgfmt"`
	RealTime               bool              `json:"realtime"`
	RTPrio                 int               `json:"rtprio,omitempty"`
	Coredumps              bool              `json:"coredumps"`
	CoreRoot               string            `json:"coreroot,omitempty"`
	MemReserveKB           int               `json:"memreserve_kb"`
	Compression            string            `json:"compression"`
	CompressionThresholdKB int               `json:"compression_threshold_kb"`
	TraditionalCompression bool              `json:"traditional_compression"`
	MaxRexmitDelayMS       int64             `json:"max_rexmit_delay_ms"`
	CRMDSpawnsPengine      bool              `json:"crmd_spawns_pengine"`
	RecordConfigChanges    bool              `json:"record_config_changes"`
	RecordPengineInputs    bool              `json:"record_pengine_inputs"`
	EnableConfigWrites     bool              `json:"enable_config_writes"`
	UseAPPHBD              bool              `json:"use_apphbd"`
	Env                    map[string]string `json:"env"`
	APIAuth                []APIAuth         `json:"apiauth"`
	Children               []Child           `json:"respawn"`
	Stonith                *Stonith          `json:"stonith,omitempty"`
	Auth                   *jsonAuth         `json:"auth,omitempty"`
	ResourceGroups         []jsonGroup       `json:"resource_groups,omitempty"`
	Given                  []string          `json:"given"` // directives written in ha.cf
}

type jsonAuth struct {
	Active int    `json:"active"`
	Method string `json:"method"` // secrets are not printed
	Line   int    `json:"line,omitempty"`
	Keys   []int  `json:"keys"`
}

type jsonGroup struct {
	Key       string         `json:"key"`
	Node      string         `json:"node"`
	Line      int            `json:"line"`
	Resources []jsonResource `json:"resources"`
}

type jsonResource struct {
	Resource string   `json:"resource"`
	Script   string   `json:"script"`
	Args     []string `json:"args,omitempty"`
}

// MarshalJSON renders the effective configuration: every directive with
// defaults resolved, times in milliseconds, media, API clients, children
// and resource groups as objects. Key secrets are left out.
func (c *Config) MarshalJSON() ([]byte, error) {
	j := jsonConfig{
		ConfigDir: c.Dir, LocalNode: c.LocalNode, Cluster: c.Cluster, QuorumServer: c.QuorumServer,
		Nodes:       nonNil(c.Nodes),
		KeepaliveMS: ms(c.Keepalive), DeadTimeMS: ms(c.DeadTime), WarnTimeMS: ms(c.WarnTime),
		InitDeadMS: ms(c.InitDead), DeadPingMS: ms(c.DeadPing),
		Media:   nonNil(c.Media),
		UDPPort: c.UDPPort, Baud: c.Baud, HopFudge: c.HopFudge, Watchdog: c.Watchdog,
		AutoFailback: c.AutoFailback, Pacemaker: c.Pacemaker, ResourceManager: "v1",
		AutoJoin: c.AutoJoin, UUIDFrom: c.UUIDFrom, HBGenMethod: c.HBGenMethod, MsgFmt: c.MsgFmt,
		LogFacility: c.LogFacility, LogFile: c.LogFile, DebugFile: c.DebugFile, UseLogd: c.UseLogd,
		ConnLogdTimeMS: ms(c.ConnLogdTime), Debug: c.Debug, LogBadPack: c.LogBadPack, SyslogMsgFmt: c.SyslogMsgFmt,
		RealTime: c.RealTime, RTPrio: c.RTPrio, Coredumps: c.Coredumps, CoreRoot: c.CoreRoot, MemReserveKB: c.MemReserve,
		Compression: c.Compression, CompressionThresholdKB: c.CompressionThreshold,
		TraditionalCompression: c.TraditionalCompression, MaxRexmitDelayMS: ms(c.MaxRexmitDelay),
		CRMDSpawnsPengine: c.CRMDSpawnsPengine, RecordConfigChanges: c.RecordConfigChanges,
		RecordPengineInputs: c.RecordPengineInputs, EnableConfigWrites: c.EnableConfigWrites, UseAPPHBD: c.UseAPPHBD,
		Env: c.Env, APIAuth: nonNil(c.APIAuth), Children: nonNil(c.Children), Stonith: c.Stonith,
		Given: []string{},
	}
	if j.Env == nil {
		j.Env = map[string]string{}
	}
	if c.CRM {
		j.ResourceManager = "crm"
	}
	for n := range c.Given {
		j.Given = append(j.Given, n)
	}
	sort.Strings(j.Given)
	if c.Keys != nil {
		a := &jsonAuth{Active: c.Keys.Active, Line: c.Keys.ActiveLine, Keys: []int{}}
		if k, ok := c.Keys.Keys[c.Keys.Active]; ok {
			a.Method = string(k.Method)
		}
		for i := range c.Keys.Keys {
			a.Keys = append(a.Keys, i)
		}
		sort.Ints(a.Keys)
		j.Auth = a
	}
	if c.Resources != nil {
		j.ResourceGroups = []jsonGroup{}
		for _, g := range c.Resources.Groups {
			jg := jsonGroup{Key: g.Key(), Node: g.Node, Line: g.Line, Resources: []jsonResource{}}
			for _, r := range g.Resources {
				jg.Resources = append(jg.Resources, jsonResource{Resource: r.Raw, Script: r.Script, Args: r.Args})
			}
			j.ResourceGroups = append(j.ResourceGroups, jg)
		}
	}
	return json.Marshal(j)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
