package interop

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/e2e"
)

// TestInteropReloadKeepsResources: heartbeat-go next to heartbeat 3.0.6;
// the operator changes the Go node's ha.cf and runs heartbeat -r. The Go
// node restarts in place with -R -C local keeping its VIP, and heartbeat
// 3.0.6 takes nothing over, releases nothing and declares nobody dead.
func TestInteropReloadKeepsResources(t *testing.T) {
	c, g, _ := interopLab(t)
	c.start()
	g.Start()
	placed := func() bool {
		return c.hasAddr(vip) && !e2e.HasAddr(g.N, vip) && e2e.HasAddr(g.N, vip2) && !c.hasAddr(vip2)
	}
	if _, ok := e2e.WaitFor(60*time.Second, placed); !ok {
		c.dump()
		g.Dump()
		t.Fatal("the VIPs never settled on their home nodes")
	}
	count := func(text, s string) int { return strings.Count(text, s) }
	if _, ok := e2e.WaitFor(30*time.Second, func() bool {
		return count(g.LogText(), "Initial resource acquisition complete") == 1 &&
			count(c.logText(), "Initial resource acquisition complete") == 1 && c.clStatus("rscstatus") == "local"
	}); !ok {
		c.dump()
		g.Dump()
		t.Fatal("start-up never completed")
	}
	cBefore, gBefore := len(c.logText()), len(g.LogText())

	cf := filepath.Join(g.Etc(), "ha.cf")
	b, err := os.ReadFile(cf)
	if err != nil {
		t.Fatal(err)
	}
	e2e.WriteFile(t, cf, strings.Replace(string(b), "warntime 1\n", "warntime 1500ms\n", 1), 0o644)
	if out, err := g.N.Output(g.Bin, "-r"); err != nil {
		t.Fatalf("heartbeat -r: %v\n%s", err, out)
	}
	if _, ok := e2e.WaitFor(20*time.Second, func() bool {
		gl := g.LogText()
		return count(gl, "Heartbeat generation:") == 2 && count(gl, "Initial resource acquisition complete") == 2 &&
			c.clStatus("nodestatus", "hb2") == "active" && goStatus(g, "nodestatus", "hb1") == "active"
	}); !ok {
		c.dump()
		g.Dump()
		t.Fatal("the Go node did not restart and settle")
	}
	if n := count(g.LogText(), "Performing heartbeat restart exec."); n != 1 {
		t.Errorf("\"Performing heartbeat restart exec.\" logged %d times", n)
	}
	bad := func() string {
		for _, s := range []string{"is dead", "Taking over", "Acquiring resource group", "Releasing resource group",
			"resource.d/IPaddr2", "Giving up", "dead."} {
			if strings.Contains(c.logText()[cBefore:], s) {
				return "heartbeat 3.0.6 logged " + s
			}
			if strings.Contains(g.LogText()[gBefore:], s) {
				return "heartbeat-go logged " + s
			}
		}
		if !placed() {
			return "a VIP moved"
		}
		return ""
	}
	// Whatever heartbeat 3.0.6 would do about it, it does within a few
	// seconds of seeing the restart.
	if _, hit := e2e.WaitFor(6*time.Second, func() bool { return bad() != "" }); hit {
		c.dump()
		g.Dump()
		t.Fatalf("after the reload: %s", bad())
	}
	if s := c.clStatus("rscstatus"); s != "local" {
		t.Errorf("heartbeat 3.0.6 rscstatus %q after the reload", s)
	}
	if s := goStatus(g, "rscstatus"); s != "local" {
		t.Errorf("heartbeat-go rscstatus %q after the reload", s)
	}
}

// TestInteropCReloadKeepsResources: the other way round. heartbeat 3.0.6
// holds both VIPs (the Go node went standby) and restarts itself with
// heartbeat -R -C all after its ha.cf changed; heartbeat-go must not take
// back the group it gave away: the restarted node still claims it.
func TestInteropCReloadKeepsResources(t *testing.T) {
	c, g, _ := interopLab(t)
	c.start()
	g.Start()
	placed := func(onC, onGo string) func() bool {
		return func() bool {
			return c.hasAddr(onC) && !e2e.HasAddr(g.N, onC) && (onGo == "" || e2e.HasAddr(g.N, onGo)) && (onGo == "" || !c.hasAddr(onGo))
		}
	}
	if _, ok := e2e.WaitFor(60*time.Second, placed(vip, vip2)); !ok {
		c.dump()
		g.Dump()
		t.Fatal("the VIPs never settled on their home nodes")
	}
	if _, ok := e2e.WaitFor(30*time.Second, func() bool {
		return strings.Count(g.LogText(), "Initial resource acquisition complete") == 1 &&
			strings.Count(c.logText(), "Initial resource acquisition complete") == 1 && c.clStatus("rscstatus") == "local"
	}); !ok {
		c.dump()
		g.Dump()
		t.Fatal("start-up never completed")
	}
	g.Tool("hb_standby")
	bothOnC := func() bool { return placed(vip, "")() && placed(vip2, "")() }
	if _, ok := e2e.WaitFor(60*time.Second, func() bool {
		return bothOnC() && c.clStatus("rscstatus") == "all" && goStatus(g, "rscstatus") == "none"
	}); !ok {
		c.dump()
		g.Dump()
		t.Fatal("hb_standby on heartbeat-go did not move its VIP to heartbeat 3.0.6")
	}
	gBefore := len(g.LogText())

	cf := filepath.Join(c.n.Root, "etc-ha.d", "ha.cf")
	b, err := os.ReadFile(cf)
	if err != nil {
		t.Fatal(err)
	}
	e2e.WriteFile(t, cf, strings.Replace(string(b), "warntime 1\n", "warntime 1500ms\n", 1), 0o644)
	if out, err := c.n.Output(realHeartbeat, "-r"); err != nil {
		t.Fatalf("heartbeat -r: %v\n%s", err, out)
	}
	if _, ok := e2e.WaitFor(30*time.Second, func() bool {
		return strings.Contains(g.LogText()[gBefore:], "Heartbeat restart on node hb1") &&
			strings.Count(c.logText(), "Initial resource acquisition complete") == 2 &&
			goStatus(g, "nodestatus", "hb1") == "active"
	}); !ok {
		c.dump()
		g.Dump()
		t.Fatal("heartbeat 3.0.6 did not restart and settle")
	}
	bad := func() string {
		for _, s := range []string{"is dead", "Taking over", "Acquiring resource group", "Releasing resource group", "resource.d/IPaddr2"} {
			if strings.Contains(g.LogText()[gBefore:], s) {
				return "heartbeat-go logged " + s
			}
		}
		if !bothOnC() {
			return "a VIP moved"
		}
		return ""
	}
	if _, hit := e2e.WaitFor(6*time.Second, func() bool { return bad() != "" }); hit {
		c.dump()
		g.Dump()
		t.Fatalf("after heartbeat 3.0.6's reload: %s", bad())
	}
}
