package core_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// Example shows the loop a daemon runs around a Node: feed it time and
// packets, carry out what comes back, sleep until Output.Wake. Here two
// nodes are wired back to back; a daemon would encode and sign each
// Outgoing.Msg (wire.Encode) and send it on every medium, and decode and
// verify packets (wire.Decode) before Receive.
func Example() {
	mk := func(name string, id byte) *core.Node {
		n, err := core.New(core.Config{
			Node: name, UUID: [16]byte{id}, Generation: 1, Nodes: []string{"hb1", "hb2"}, Media: []string{"eth0"},
			Keepalive: time.Second, DeadTime: 10 * time.Second, Rand: rand.New(rand.NewPCG(uint64(id), 0)),
		})
		if err != nil {
			panic(err)
		}
		return n
	}
	nodes := map[string]*core.Node{"hb1": mk("hb1", 1), "hb2": mk("hb2", 2)}
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	var queue []struct {
		to  string
		msg *wire.Message
	}
	handle := func(self string, out core.Output) {
		for _, s := range out.Send {
			for name := range nodes {
				if name != self {
					queue = append(queue, struct {
						to  string
						msg *wire.Message
					}{name, s.Msg})
				}
			}
		}
		for _, e := range out.Events {
			switch e.Kind {
			case core.LocalStatus, core.NodeStatus:
				fmt.Printf("%s: %v\n", self, e)
			}
		}
	}
	handle("hb1", nodes["hb1"].Tick(now))
	handle("hb2", nodes["hb2"].Tick(now))
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		handle(q.to, nodes[q.to].Receive(now, "eth0", q.msg))
	}
	// Output:
	// hb1: local-status up
	// hb2: local-status up
	// hb2: node-status hb1 up
	// hb1: node-status hb2 up
	// hb2: local-status active
	// hb1: local-status active
	// hb1: node-status hb2 active
	// hb2: node-status hb1 active
}
