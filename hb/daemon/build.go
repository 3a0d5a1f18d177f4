package daemon

import (
	"fmt"
	"math/rand/v2"
	"time"

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
	seed := uint64(time.Now().UnixNano())
	cn, err := core.New(core.Config{
		Node: r.cfg.LocalNode, UUID: r.uuid, Generation: r.gen, Nodes: normalNodes(r.cfg), Media: names,
		Keepalive: r.cfg.Keepalive, DeadTime: r.cfg.DeadTime, WarnTime: r.cfg.WarnTime, InitDead: r.cfg.InitDead,
		MaxRexmitDelay: r.cfg.MaxRexmitDelay, TTL: len(r.cfg.Nodes) + r.cfg.HopFudge,
		LoadAvg: LoadAvg, Rand: rand.New(rand.NewPCG(seed, uint64(r.gen))),
	})
	if err != nil {
		return fmt.Errorf("cannot start the cluster core: %w", err)
	}
	e := &clusterEngine{local: r.cfg.LocalNode, links: names, core: cn, nodes: normalNodes(r.cfg),
		drops: map[core.DropReason]uint64{}}
	if r.cfg.V1() && r.cfg.Resources != nil {
		m, err := rm.New(rm.Config{Local: r.cfg.LocalNode, Nodes: normalNodes(r.cfg), Groups: r.cfg.Resources.Groups,
			AutoFailback: rmFailback(r.cfg.AutoFailback)})
		if err != nil {
			return fmt.Errorf("cannot start the resource manager: %w", err)
		}
		e.rm = m
		e.groups = r.cfg.Resources.Groups
	}
	r.eng = e
	r.runner = newRunner(r)
	return nil
}
