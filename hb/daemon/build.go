package daemon

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/hb/rm"
)

func rmFailback(a config.AutoFailback) rm.AutoFailback {
	switch a {
	case config.FailbackOn:
		return rm.FailbackOn
	case config.FailbackOff:
		return rm.FailbackOff
	}
	return rm.FailbackLegacy
}

// normalNodes returns the ha.cf "node" names (no ping nodes), in order.
func normalNodes(cfg *config.Config) []string {
	var out []string
	for _, n := range cfg.Nodes {
		if n.Type == config.NormalNode {
			out = append(out, n.Name)
		}
	}
	return out
}

// build makes the codec, the engine and the resource runner from the
// configuration.
func (r *runtime) build() error {
	wc := &wireCodec{keys: r.cfg.Keys}
	var names []string
	for _, m := range links(r.cfg) {
		names = append(names, m.LinkName())
		wc.serial = append(wc.serial, m.Type == config.Serial)
	}
	r.codec = wc
	var groups []haresources.Group
	manage := r.cfg.V1() && r.cfg.Resources != nil
	if manage {
		groups = r.cfg.Resources.Groups
	}
	e, err := newClusterEngine(core.Config{
		Node: r.cfg.LocalNode, UUID: r.uuid, Generation: r.gen, Nodes: normalNodes(r.cfg), Media: names,
		Keepalive: r.cfg.Keepalive, DeadTime: r.cfg.DeadTime, WarnTime: r.cfg.WarnTime, InitDead: r.cfg.InitDead,
		MaxRexmitDelay: r.cfg.MaxRexmitDelay, TTL: len(r.cfg.Nodes) + r.cfg.HopFudge,
		LoadAvg: newLoadAvgCache().get, Rand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), r.gen)),
	}, manage, groups, rmFailback(r.cfg.AutoFailback), r.resumeConfig())
	if err != nil {
		return err
	}
	r.eng = r.withConnectivity(e)
	if r.runner == nil { // tests bring their own
		r.runner = newRunner(r)
	}
	return nil
}

// newClusterEngine builds the core and (when manage is set) the v1
// resource manager for one node; resume carries -R's holdings
// (Restarting, InitialHolding, InitialKeys; the rest is ignored).
func newClusterEngine(cc core.Config, manage bool, groups []haresources.Group, fb rm.AutoFailback, resume rm.Config) (*clusterEngine, error) {
	cn, err := core.New(cc)
	if err != nil {
		return nil, fmt.Errorf("cannot start the cluster core: %w", err)
	}
	local := strings.ToLower(cc.Node)
	var nodes []string
	for _, n := range cc.Nodes {
		nodes = append(nodes, strings.ToLower(n))
	}
	e := &clusterEngine{local: local, links: cc.Media, core: cn, nodes: nodes, drops: map[core.DropReason]uint64{}}
	if manage {
		m, err := rm.New(rm.Config{Local: local, Nodes: nodes, Groups: groups, AutoFailback: fb,
			Restarting: resume.Restarting, InitialHolding: resume.InitialHolding, InitialKeys: resume.InitialKeys})
		if err != nil {
			return nil, fmt.Errorf("cannot start the resource manager: %w", err)
		}
		e.rm = m
		e.groups = groups
	}
	return e, nil
}
