package daemon

import (
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/rm"
)

func connRuntime(t *testing.T, fb config.AutoFailback, children []config.Child, withRM bool) (*runtime, *clusterEngine) {
	t.Helper()
	cfg := config.Default()
	cfg.LocalNode = "hb1"
	cfg.AutoFailback = fb
	cfg.Nodes = []config.Node{{Name: "hb1", Type: config.NormalNode}, {Name: "hb2", Type: config.NormalNode},
		{Name: "198.18.0.254", Type: config.PingNode}, {Name: "grp", Type: config.PingNode}}
	cfg.Children = children
	r := &runtime{cfg: cfg, log: slog.New(slog.DiscardHandler), codec: &wireCodec{}}
	cn, err := core.New(core.Config{Node: "hb1", Nodes: []string{"hb1", "hb2"}, Media: []string{"eth0"},
		Keepalive: time.Second, DeadTime: 10 * time.Second, WarnTime: 5 * time.Second, InitDead: 20 * time.Second,
		Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	e := &clusterEngine{local: "hb1", core: cn, nodes: []string{"hb1", "hb2"}}
	if withRM {
		m, err := rm.New(rm.Config{Local: "hb1", Nodes: []string{"hb1", "hb2"}, AutoFailback: rmFailback(fb)})
		if err != nil {
			t.Fatal(err)
		}
		e.rm = m
	}
	return r, e
}

var (
	ipfailLine = config.Child{User: "hacluster", Command: "/usr/lib/heartbeat/ipfail", Path: "/usr/lib/heartbeat/ipfail"}
	pingdLine  = config.Child{User: "root", Command: "/usr/lib/heartbeat/pingd -m 100 -d 5s", Path: "/usr/lib/heartbeat/pingd",
		Args: []string{"-m", "100", "-d", "5s"}}
	otherLine = config.Child{User: "root", Command: "/usr/local/bin/watch -x", Path: "/usr/local/bin/watch"}
	crmLine   = config.Child{User: "hacluster", Command: "/usr/lib/pacemaker/crmd", Path: "/usr/lib/pacemaker/crmd", Implicit: true}
)

func TestConnectivityBuiltIns(t *testing.T) {
	r, e := connRuntime(t, config.FailbackOn, []config.Child{ipfailLine, otherLine, pingdLine, crmLine}, true)
	c, ok := r.withConnectivity(e).(*connEngine)
	if !ok {
		t.Fatal("no connectivity engine with ping nodes and respawn lines")
	}
	// ipfail and pingd are not run as processes; the others are.
	if len(r.cfg.Children) != 2 || r.cfg.Children[0].Path != otherLine.Path || r.cfg.Children[1].Path != crmLine.Path {
		t.Fatalf("children left to run: %+v", r.cfg.Children)
	}
	if c.ipf == nil || c.ipfWhy != "" || c.score == nil || c.score.Config().Multiplier != 100 || c.score.Config().Dampen != 5*time.Second {
		t.Fatalf("ipfail %v (%q), pingd %+v", c.ipf, c.ipfWhy, c.score)
	}
	if st := c.ipf.State(); st.Peer != "hb2" {
		t.Fatalf("peer %q", st.Peer)
	}
	// The ping nodes follow the normal nodes in the status, not answered yet.
	var s ctl.Status
	c.Snapshot(&s)
	n := len(s.Nodes)
	if n < 3 || s.Nodes[0].Type != ctl.NodeNormal || s.Nodes[n-3].Type != ctl.NodeNormal {
		t.Fatalf("%+v", s.Nodes)
	}
	p := s.Nodes[n-2]
	if p.Name != "198.18.0.254" || p.Type != ctl.NodePing || p.Status != ctl.StatusInit || len(p.Links) != 1 ||
		p.Links[0].Name != "198.18.0.254" || p.Links[0].Status != ctl.LinkDead || s.Nodes[n-1].Name != "grp" {
		t.Fatalf("%+v", s.Nodes)
	}
	if s.Connectivity == nil || s.Connectivity.Ipfail == nil || s.Connectivity.PingdAttr != "pingd" || s.Connectivity.Pingd != nil {
		t.Fatalf("%+v", s.Connectivity)
	}
}

func TestConnectivityIpfailRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fb     config.AutoFailback
		withRM bool
		want   string
	}{
		{"legacy auto_failback", config.FailbackLegacy, true, "auto_failback set to incompatible legacy option."},
		{"no resources (-M or Pacemaker)", config.FailbackOn, false, "No managed resources"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, e := connRuntime(t, tc.fb, []config.Child{ipfailLine}, tc.withRM)
			c := r.withConnectivity(e).(*connEngine)
			if c.ipf != nil || c.ipfWhy != tc.want {
				t.Fatalf("ipfail %v, why %q", c.ipf, c.ipfWhy)
			}
			var s ctl.Status
			c.Snapshot(&s)
			if s.Connectivity.Ipfail == nil || s.Connectivity.Ipfail.Disabled != tc.want {
				t.Fatalf("%+v", s.Connectivity)
			}
		})
	}
}

func TestConnectivityBadPingdIgnored(t *testing.T) {
	bad := pingdLine
	bad.Args = []string{"-m", "many"}
	r, e := connRuntime(t, config.FailbackOn, []config.Child{bad}, true)
	c := r.withConnectivity(e).(*connEngine)
	if c.score != nil || len(r.cfg.Children) != 0 {
		t.Fatalf("score %+v, children %+v", c.score, r.cfg.Children)
	}
}

func TestNoConnectivityEngineWithoutPingOrRespawn(t *testing.T) {
	r, e := connRuntime(t, config.FailbackOn, nil, true)
	r.cfg.Nodes = r.cfg.Nodes[:2]
	if got := r.withConnectivity(e); got != engine(e) {
		t.Fatalf("wrapped: %T", got)
	}
}
