package config

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/diag"
	"github.com/heartbeat-go/heartbeat/hb/hacf"
)

// DefaultDir is where heartbeat reads its configuration.
const DefaultDir = "/etc/ha.d"

// Options tune Load.
type Options struct {
	// Node is the local node's name. Empty means what heartbeat uses: the
	// first line of DIR/nodeinfo when there is one, else uname -n.
	Node string
	// Env answers questions about the machine; see Env.
	Env Env

	// Test hooks: read authkeys / haresources some other way.
	loadKeys       func(path string) (*authkeys.Keys, diag.List)
	loadResources  func(path string) (*haresources.File, diag.List)
	resourcesExist func(path string) bool
}

// Load reads ha.cf, authkeys and (in v1 mode) haresources from dir as node
// (empty: nodeinfo, else uname -n) with every check heartbeat makes on the
// files themselves, but none that asks the machine (see Env; use LoadWith
// with osenv.Env() for those, as `heartbeat --check` does). The Config is
// nil only when ha.cf cannot be read; the list holds every problem found.
func Load(dir, node string) (*Config, diag.List) {
	return LoadWith(dir, Options{Node: node, Env: Offline()})
}

// LoadWith is Load with explicit options.
func LoadWith(dir string, o Options) (*Config, diag.List) {
	hacfPath := filepath.Join(dir, "ha.cf")
	data, err := os.ReadFile(hacfPath)
	if err != nil {
		var probs diag.List
		probs.Errorf(hacfPath, 0, "", "cannot read ha.cf: %v", unwrapPath(err))
		return nil, probs
	}
	return build(dir, hacfPath, data, o)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func build(dir, hacfPath string, data []byte, o Options) (*Config, diag.List) {
	c := Default()
	c.Dir = dir
	var probs diag.List

	c.LocalNode, probs = localNode(dir, o)

	f, parseProbs := hacf.Parse(data, hacfPath)
	probs = append(probs, parseProbs...)
	b := newBuilder(c, o.Env, hacfPath)
	for _, d := range f.Directives {
		b.apply(d)
	}
	probs = append(probs, b.probs...)

	// authkeys is read first in heartbeat's init_config.
	keysPath := filepath.Join(dir, "authkeys")
	loadKeys := authkeys.Load
	if o.loadKeys != nil {
		loadKeys = o.loadKeys
	}
	keys, keyProbs := loadKeys(keysPath)
	probs = append(probs, keyProbs...)
	c.Keys = keys

	probs = append(probs, c.finish(b, hacfPath, keysPath, keyProbs.HasErrors())...)

	// haresources: read and checked only with v1 resource management.
	resPath := filepath.Join(dir, "haresources")
	loadRes := haresources.Load
	if o.loadResources != nil {
		loadRes = o.loadResources
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	if o.resourcesExist != nil {
		exists = o.resourcesExist
	}
	if c.V1() {
		res, resProbs := loadRes(resPath)
		probs = append(probs, resProbs...)
		if res != nil {
			c.Resources = res
			probs = append(probs, res.CheckNodes(c.NodeNames())...)
		}
	} else if exists(resPath) {
		probs.Warnf(resPath, 0, "", "haresources exists but is not used because pacemaker/crm is enabled in ha.cf")
	}
	sortProblems(probs, hacfPath, keysPath, resPath)
	return c, probs
}

// sortProblems orders problems as a reader goes through the files: ha.cf,
// authkeys, haresources, each by line, whole-file problems after the
// line-specific ones; problems at the same place keep their order.
func sortProblems(l diag.List, files ...string) {
	rank := func(p diag.Problem) int {
		for i, f := range files {
			if p.File == f {
				return i
			}
		}
		return len(files)
	}
	line := func(p diag.Problem) int {
		if p.Line == 0 {
			return math.MaxInt
		}
		return p.Line
	}
	sort.SliceStable(l, func(i, j int) bool {
		if ri, rj := rank(l[i]), rank(l[j]); ri != rj {
			return ri < rj
		}
		return line(l[i]) < line(l[j])
	})
}

// localNode works out the node name as heartbeat does: nodeinfo's first
// line (only when it ends in a newline), else uname -n; lower-cased.
func localNode(dir string, o Options) (string, diag.List) {
	var probs diag.List
	if o.Node != "" {
		return lower(o.Node), nil
	}
	if o.Env.ReadFile != nil {
		if b, err := o.Env.ReadFile(filepath.Join(dir, "nodeinfo")); err == nil {
			if line, _, ok := strings.Cut(string(b), "\n"); ok {
				return lower(strings.TrimSpace(line)), nil
			}
		}
	}
	hn := os.Hostname
	if o.Env.Hostname != nil {
		hn = o.Env.Hostname
	}
	name, err := hn()
	if err != nil {
		probs.Errorf(filepath.Join(dir, "ha.cf"), 0, "node", "cannot tell this node's name (uname -n): %v; give it with --node", err)
	}
	return lower(name), probs
}

// finish runs heartbeat's post-parse checks (init_config) and derives the
// times heartbeat derives.
func (c *Config) finish(b *builder, file, keysPath string, keysFailed bool) diag.List {
	var p diag.List
	line := func(names ...string) int {
		for _, n := range names {
			if l, ok := c.Given[n]; ok {
				return l
			}
		}
		return 0
	}

	// Media.
	if len(c.Media) == 0 {
		p.Errorf(file, 0, "", "no heartbeat media defined: expected at least one bcast, mcast, ucast or serial line")
	}
	// warntime: deadtime/2 unless given (heartbeat does not compare it with deadtime).
	c.deriveTimes()
	// Nodes.
	if len(c.Nodes) == 0 && c.AutoJoin != "any" {
		p.Errorf(file, 0, "node", "no nodes defined: expected a 'node' line naming every cluster node (uname -n of each)")
	}
	// Authentication.
	if !keysFailed {
		switch {
		case c.Keys == nil || c.Keys.Active == 0 && len(c.Keys.Keys) == 0:
			p.Errorf(keysPath, 0, "auth", "no authentication specified: expected an 'auth N' line and a key line 'N crc|md5 KEY|sha1 KEY'")
		default:
			if _, ok := c.Keys.Keys[c.Keys.Active]; !ok {
				p.Errorf(keysPath, c.Keys.ActiveLine, "auth", "auth %d: key %d not found in authkeys", c.Keys.Active, c.Keys.Active)
			}
		}
	}
	// The local node must be listed.
	if c.LocalNode != "" && !c.HasNode(c.LocalNode) {
		if c.AutoJoin == "any" {
			c.Nodes = append(c.Nodes, Node{Name: c.LocalNode, Type: NormalNode})
		} else {
			p.Errorf(file, 0, "node", "current node [%s] not in configuration: expected a 'node %s' line (nodes are named by uname -n; use --node to check as another node)", c.LocalNode, c.LocalNode)
		}
	}
	// deadtime must exceed twice keepalive.
	if c.DeadTime <= 2*c.Keepalive {
		p.Errorf(file, line("deadtime", "keepalive"), "deadtime", "deadtime %dms is too small compared to keepalive %dms: expected deadtime > 2 x keepalive", ms(c.DeadTime), ms(c.Keepalive))
	}
	if c.DeadTime > 2*c.Keepalive && c.DeadTime < 3*c.Keepalive {
		p.Warnf(file, line("deadtime", "keepalive"), "deadtime", "deadtime %dms is under three keepalives (%dms): two lost heartbeats in a row declare a node dead; use deadtime >= 3 x keepalive", ms(c.DeadTime), ms(c.Keepalive))
	}
	// initdead.
	if c.InitDead < c.DeadTime {
		p.Errorf(file, line("initdead", "deadtime"), "initdead", "initdead %dms is smaller than deadtime %dms: expected initdead >= deadtime", ms(c.InitDead), ms(c.DeadTime))
	} else if c.InitDead < 10*time.Second {
		p.Warnf(file, line("initdead", "deadtime"), "initdead", "initdead %dms may be too small: it covers slow network start-up and should be >= deadtime and >= 10 seconds", ms(c.InitDead))
	} else if l, ok := c.Given["initdead"]; ok && c.InitDead < 2*c.DeadTime {
		p.Warnf(file, l, "initdead", "initdead %dms is under twice deadtime %dms: nodes that boot slowly may be declared dead at start-up", ms(c.InitDead), ms(c.DeadTime))
	}
	// deadping.
	if l, ok := c.Given["deadping"]; ok && c.DeadPing <= 2*c.Keepalive {
		p.Errorf(file, l, "deadping", "deadping %dms is too small compared to keepalive %dms: expected deadping > 2 x keepalive", ms(c.DeadPing), ms(c.Keepalive))
	}
	if l, ok := c.Given["warntime"]; ok && c.WarnTime >= c.DeadTime {
		p.Warnf(file, l, "warntime", "warntime %dms is not below deadtime %dms: late-heartbeat warnings will never be logged", ms(c.WarnTime), ms(c.DeadTime))
	}
	// legacy auto_failback in v1 mode.
	if c.V1() && c.AutoFailback == FailbackLegacy {
		p.Warnf(file, line("auto_failback", "nice_failback"), "auto_failback", "deprecated 'legacy' auto_failback selected (the default); convert to 'auto_failback on' or 'off'")
	}
	// Logging (check_logd_usage).
	local := c.LogFile != "" || c.DebugFile != "" || b.facility > 0
	switch {
	case !local && b.useLogd == nil:
		c.UseLogd = true
	case !local && !*b.useLogd:
		p.Errorf(file, line("use_logd"), "use_logd", "no log entry found in ha.cf and use_logd is set to off: expected logfile, debugfile, logfacility or use_logd on")
	default:
		c.UseLogd = b.useLogd != nil && *b.useLogd
		if c.UseLogd {
			p.Warnf(file, line("use_logd"), "use_logd", "use_logd is on but logfile/debugfile/logfacility are still set: with logd, heartbeat's messages go where logd.cf says")
		}
	}
	// 3.0.6 records unset log files as /dev/null when syslog is used.
	if b.facility > 0 {
		if c.LogFile == "" {
			c.LogFile = "/dev/null"
		}
		if c.DebugFile == "" {
			c.DebugFile = "/dev/null"
		}
	}
	// autojoin conflicts with v1 resource management.
	if c.V1() && c.AutoJoin != "none" {
		p.Errorf(file, line("autojoin"), "autojoin", "autojoin %s: R1 style resource management conflicts with autojoin set: expected 'autojoin none', or enable crm", c.AutoJoin)
	}
	// Implicit API clients for every client ha.cf did not mention.
	for _, a := range []APIAuth{
		{Client: "ipfail", UIDs: []string{"hacluster"}},
		{Client: "ccm", UIDs: []string{"hacluster"}},
		{Client: "ping", GIDs: []string{"haclient"}},
		{Client: "lha-snmpagent", UIDs: []string{"root"}},
		{Client: "anon", UIDs: []string{"root"}, GIDs: []string{"haclient"}},
	} {
		if _, ok := b.apiClients[a.Client]; !ok {
			a.Implicit = true
			c.APIAuth = append(c.APIAuth, a)
		}
	}

	// Warnings for what works but is risky.
	seen := map[string]int{}
	for _, n := range c.Nodes {
		if l, dup := seen[n.Name]; dup && n.Type == NormalNode {
			p.Warnf(file, n.Line, "node", "node %s is listed twice (first on line %d); heartbeat does not check duplicates", n.Name, l)
		}
		seen[n.Name] = n.Line
	}
	if c.CRM && c.AutoJoin != "none" {
		p.Warnf(file, line("autojoin"), "autojoin", "autojoin %s: any node that knows the auth key can join the cluster and stays in the host cache until hb_delnode", c.AutoJoin)
	}
	hbMedia := c.HeartbeatMedia()
	switch {
	case len(c.Media) > 0 && len(hbMedia) == 0:
		p.Warnf(file, 0, "", "only ping media: no path carries heartbeats to the other nodes")
	case len(hbMedia) == 1:
		p.Warnf(file, hbMedia[0].Line, hbMedia[0].Type, "only one heartbeat medium (%s): a single failed link or switch splits the cluster; add a second medium", hbMedia[0].String())
	}
	if c.Keys != nil {
		if k, ok := c.Keys.Keys[c.Keys.Active]; ok && k.Method == authkeys.CRC {
			for _, m := range hbMedia {
				if m.IsNetwork() {
					p.Warnf(keysPath, c.Keys.ActiveLine, "auth", "auth %d uses crc on a network medium (%s line %d): anyone on the network can forge heartbeats; use sha1", c.Keys.Active, m.Type, m.Line)
					break
				}
			}
		}
	}
	return p
}

// Parse builds the configuration from the files' contents, without
// reading the file system (other than through o.Env): dir names the files
// in problems, res nil means there is no haresources file. The authkeys
// file-mode rule is not applied (it needs the file).
func Parse(dir string, hacfText, keys, res []byte, o Options) (*Config, diag.List) {
	o.loadKeys = func(p string) (*authkeys.Keys, diag.List) { return authkeys.Parse(keys, p) }
	o.loadResources = func(p string) (*haresources.File, diag.List) {
		if res == nil {
			var l diag.List
			l.Errorf(p, 0, "", "cannot open resources file: heartbeat needs haresources unless pacemaker/crm is on (an empty file is fine)")
			return nil, l
		}
		return haresources.Parse(res, p)
	}
	o.resourcesExist = func(string) bool { return res != nil }
	return build(dir, filepath.Join(dir, "ha.cf"), hacfText, o)
}
