package sim

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/media/memnet"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt")

// TestTranscript pins the membership story of one scenario (start, lossy
// steady state, partition and heal, crash and restart) as a transcript in
// testdata; regenerate with go test ./hb/sim -run Transcript -update and
// review the diff.
func TestTranscript(t *testing.T) {
	s := New(t, Options{Nodes: 3, Seed: 42, Keepalive: time.Second, DeadTime: 5 * time.Second, InitDead: 10 * time.Second})
	s.Net.SetLoss(memnet.AllLinks, 0.2)
	s.Run(30 * time.Second)
	s.Partition([]string{"n01"}, []string{"n02", "n03"})
	s.Run(10 * time.Second)
	s.Heal()
	s.Run(10 * time.Second)
	s.Crash("n03")
	s.Run(10 * time.Second)
	s.Restart("n03")
	s.Run(20 * time.Second)
	s.RequireNoViolations()
	got := s.Transcript(core.LocalStatus, core.NodeStatus, core.NodeDead, core.PeerRestarted, core.PartitionHealed)
	path := filepath.Join("testdata", "transcript.txt")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("transcript changed (-update to accept):\n%s", got)
	}
}
