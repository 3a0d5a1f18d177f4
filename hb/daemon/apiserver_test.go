package daemon

import (
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/ctl/hbapi"
)

func testAPI() (*apiServer, *ctl.Status) {
	cfg := config.Default()
	cfg.LocalNode = "hb1"
	st := &ctl.Status{LocalNode: "hb1", Pacemaker: "false", Resources: ctl.HoldLocal,
		Parameters: map[string]string{"udpport": "694", "pacemaker": "false"},
		Nodes: []ctl.Node{
			{Name: "hb1", Type: ctl.NodeNormal, Status: ctl.StatusActive, Weight: 100, Links: []ctl.Link{{Name: "eth0", Status: ctl.LinkDead}}},
			{Name: "hb2", Type: ctl.NodeNormal, Status: ctl.StatusActive, Weight: 100, Links: []ctl.Link{{Name: "eth0", Status: ctl.LinkUp}}},
		}}
	return &apiServer{r: &runtime{cfg: cfg}}, st
}

func TestAPIAnswers(t *testing.T) {
	s, st := testAPI()
	req := func(rt string, kv ...string) []hbapi.Message {
		m := hbapi.Message{{Name: "t", Value: "hbapi-req"}, {Name: "reqtype", Value: rt}}
		for i := 0; i+1 < len(kv); i += 2 {
			m = append(m, hbapi.Field{Name: kv[i], Value: kv[i+1]})
		}
		return s.answer(rt, m, st)
	}
	cases := []struct {
		name  string
		got   []hbapi.Message
		field string
		want  []string
	}{
		{"signon gives heartbeat's timings in hex ms", req("signon"), "deadtime", []string{"7530"}},
		{"nodelist in node-table order, last says OK", req("nodelist"), "node", []string{"hb1", "hb2"}},
		{"nodelist results", req("nodelist"), "result", []string{"ok/more", "OK"}},
		{"nodestatus is case-insensitive", req("nodestatus", "node", "HB2"), "st", []string{"active"}},
		{"unknown node is EINVAL", req("nodestatus", "node", "x"), "info", []string{"EINVAL"}},
		{"iflist", req("iflist", "node", "hb2"), "ifname", []string{"eth0"}},
		{"ifstatus", req("ifstatus", "node", "hb1", "ifname", "eth0"), "st", []string{"dead"}},
		{"getparm known", req("getparm", "pname", "udpport"), "pvalue", []string{"694"}},
		{"getparm crm answers pacemaker", req("getparm", "pname", "crm"), "pvalue", []string{"false"}},
		{"getparm unknown has no value but OK", req("getparm", "pname", "node"), "result", []string{"OK"}},
		{"getrsc", req("getrsc"), "rsc_hold", []string{"local"}},
		{"numnodes", req("numnodes"), "numnodes", []string{"2"}},
		{"unknown request", req("frobnicate"), "result", []string{"badreq"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, m := range c.got {
				if m.Value("t") != "hbapi-resp" {
					t.Fatalf("response without t=hbapi-resp: %v", m)
				}
				got = append(got, m.Value(c.field))
			}
			if len(got) != len(c.want) {
				t.Fatalf("%s = %q, want %q", c.field, got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("%s = %q, want %q", c.field, got, c.want)
				}
			}
		})
	}
}

func FuzzAPIRequest(f *testing.F) {
	f.Add([]byte(">>>\nt=hbapi-req\nreqtype=nodestatus\nnode=hb2\n<<<\n\x00"))
	f.Add([]byte(">>>\nt=hbapi-req\nreqtype=iflist\nnode=hb1\n<<<\n"))
	f.Add([]byte(">>>\nt=hbapi-req\nreqtype=ifstatus\nnode=hb1\nifname=\n<<<\n"))
	s, st := testAPI()
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := hbapi.DecodePayload(b)
		if err != nil {
			return
		}
		for _, r := range s.answer(m.Value("reqtype"), m, st) {
			if r.Value("t") != "hbapi-resp" {
				t.Fatalf("bad response %v", r)
			}
		}
	})
}
