package daemon

import (
	"slices"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/hb/rm"
)

func TestRestartArgs(t *testing.T) {
	for _, c := range []struct {
		argv []string
		hold string
		want []string
	}{
		{[]string{"heartbeat", "-f", "--node", "a"}, "all", []string{"heartbeat", "-R", "-C", "all", "-f", "--node", "a"}},
		// An earlier quick restart's -R -C is replaced, not repeated.
		{[]string{"heartbeat", "-R", "-C", "all", "-f"}, "local", []string{"heartbeat", "-R", "-C", "local", "-f"}},
		{[]string{"heartbeat", "-R", "-Cnone", "-f"}, "foreign", []string{"heartbeat", "-R", "-C", "foreign", "-f"}},
		// A restart after a healed partition carries no holdings.
		{[]string{"heartbeat", "-R", "-C", "all", "-f", "-d"}, "", []string{"heartbeat", "-f", "-d"}},
		{[]string{"heartbeat", "-f", "--", "-C"}, "none", []string{"heartbeat", "-R", "-C", "none", "-f", "--", "-C"}},
		{nil, "all", []string{"heartbeat", "-R", "-C", "all"}},
	} {
		if got := restartArgs(c.argv, c.hold); !slices.Equal(got, c.want) {
			t.Errorf("restartArgs(%q, %q) = %q, want %q", c.argv, c.hold, got, c.want)
		}
	}
}

func TestResumeConfig(t *testing.T) {
	r := &runtime{o: Options{}, cfg: &config.Config{}}
	if c := r.resumeConfig(); c.Restarting {
		t.Errorf("without -R: %+v", c)
	}
	t.Setenv(envRestartHeld, "demo::web\n\ndemo::db")
	r.o = Options{Restart: true, Holding: "foreign"}
	c := r.resumeConfig()
	if !c.Restarting || c.InitialHolding != rm.HoldForeign || !slices.Equal(c.InitialKeys, []string{"demo::web", "demo::db"}) {
		t.Errorf("-R -C foreign with keys: %+v", c)
	}
	// The keys are for this start only.
	if c := r.resumeConfig(); c.InitialKeys != nil || c.InitialHolding != rm.HoldForeign {
		t.Errorf("second call: %+v", c)
	}
	// heartbeat's own -R (legacy mode: no -C).
	r.o = Options{Restart: true}
	if c := r.resumeConfig(); !c.Restarting || c.InitialHolding != rm.HoldNone || c.InitialKeys != nil {
		t.Errorf("-R alone: %+v", c)
	}
}
