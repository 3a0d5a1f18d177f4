package daemon

import (
	"fmt"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
)

// ctlStatusProbe extracts what the engine tests check from a snapshot.
type ctlStatusProbe struct {
	holder    string
	failovers []string
}

func (p *ctlStatusProbe) fill(e *clusterEngine) {
	var s ctl.Status
	e.Snapshot(&s)
	for _, g := range s.Groups {
		if g.Key == "demo::web" {
			p.holder = g.Holder
		}
	}
	for _, f := range s.Failovers {
		p.failovers = append(p.failovers, fmt.Sprintf("%s %s->%s (%s)", f.Group, f.From, f.To, f.Reason))
	}
}
