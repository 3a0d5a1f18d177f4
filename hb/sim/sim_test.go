package sim

import (
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/core"
)

func TestTwoNodesGoActive(t *testing.T) {
	s := New(t, Options{Nodes: 2, Seed: 1, AppEvery: 3 * time.Second})
	s.Run(time.Minute)
	for _, a := range s.Names() {
		for _, b := range s.Names() {
			if got := s.Status(a, b); got != core.StatusActive {
				t.Errorf("%s sees %s %q, want active", a, b, got)
			}
		}
	}
	s.RequireNoEvent(core.NodeDead)
	s.RequireInOrderExactlyOnce(time.Second)
	if s.Delivered("n01") < 60 {
		t.Fatalf("n01 delivered only %d messages", s.Delivered("n01"))
	}
	t.Log(s.Transcript(core.LocalStatus, core.NodeStatus, core.LinkStatusChange))
}
