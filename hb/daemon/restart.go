package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/hb/rm"
)

// envRestartHeld carries, from a daemon to its -R re-exec, the exact
// keys of the groups it held (one per line). -C says only
// local/foreign/all, which cannot name the foreign groups with more than
// two nodes.
const envRestartHeld = "HEARTBEAT_GO_RESTART_HELD"

// quickState is the state of a quick restart (SIGHUP with a changed
// ha.cf): heartbeat re-execs itself with -R -C <holding> and keeps its
// resources running.
type quickState struct {
	hold    string // -C value once the restart is decided; "" = none decided
	waiting bool   // a resource transition is under way: retried every second
}

// reread is SIGHUP. As heartbeat: ha.cf changed → restart in place
// keeping the resources (-R -C <holding>); else authkeys changed → the
// keys are reread; else "Configuration unchanged.". Unlike heartbeat,
// which restarts whatever the new files say (heartbeat -r validates
// before signalling, a bare SIGHUP does not), the new configuration is
// validated first: with errors, nothing changes and the daemon keeps
// running on the old one. haresources changes are not looked at, as in
// heartbeat (they take effect at the next restart).
func (r *runtime) reread() {
	sdNotify("RELOADING=1")
	defer sdNotify("READY=1")
	if r.stopped || r.qr.hold != "" {
		return // shutting down or restarting already
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg, err := loadConfig(r.o, quiet)
	if err != nil || cfg == nil {
		r.log.Error("Configuration error: configuration not reread.")
		if err != nil {
			for _, l := range strings.Split(err.Error(), "\n") {
				if l != "" {
					r.log.Error(l)
				}
			}
		}
		return
	}
	if b, err := os.ReadFile(filepath.Join(r.o.ConfigDir, "ha.cf")); err == nil && string(b) != r.hacf {
		r.log.Info("ha.cf changed: restarting heartbeat without giving up resources.")
		r.quickRestart()
		return
	}
	if cfg.Keys != nil && r.cfg.Keys != nil && cfg.Keys.String() != r.cfg.Keys.String() {
		r.log.Info("Rereading authentication file.")
		r.cfg.Keys = cfg.Keys
		if k, ok := r.codec.(interface{ SetKeys(*config.Config) }); ok {
			k.SetKeys(cfg)
		}
		return
	}
	r.log.Info("Configuration unchanged.")
}

// quickRestart ends the main loop for a re-exec with -R -C once no
// resource moves: the peers are told (heartbeat-go's "resource
// info=restart"), the children are stopped, and runDaemon execs.
func (r *runtime) quickRestart() {
	if r.stopped || r.exit || r.qr.hold != "" {
		return
	}
	o, hold, keys, ok := r.quickRestartOutput(time.Now())
	if !ok {
		if !r.qr.waiting {
			r.qr.waiting = true
			r.log.Info("Resource transition in progress: restart delayed until it is over.")
			go r.retryQuickRestart()
		}
		return
	}
	r.qr.waiting = false
	r.apply(o)
	r.qr.hold = hold.String()
	os.Setenv(envRestartHeld, strings.Join(keys, "\n"))
	r.log.Info(fmt.Sprintf("%s Heartbeat shutdown complete.", r.cfg.LocalNode))
	r.log.Info("Heartbeat restart triggered.")
	r.restart = true
	r.exit = true
}

// retryQuickRestart asks the main loop to try the restart again in a
// second (quickRestart starts another retry if it is still too early).
func (r *runtime) retryQuickRestart() {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.ctx.Done():
		return
	}
	select {
	case r.calls <- func() {
		r.qr.waiting = false
		r.quickRestart()
	}:
	case <-r.ctx.Done():
	}
}

// quickRestartOutput asks the resource manager whether a restart may
// happen now and what it holds.
func (r *runtime) quickRestartOutput(now time.Time) (out, rm.Hold, []string, bool) {
	var e *clusterEngine
	switch x := r.eng.(type) {
	case *clusterEngine:
		e = x
	case *connEngine:
		e = x.in
	}
	if e == nil || e.rm == nil {
		return out{}, rm.HoldNone, nil, true // -M, or no v1 resources
	}
	ro, hold, keys, ok := e.rm.QuickRestart(now)
	if !ok {
		return out{}, rm.HoldNone, nil, false
	}
	return e.fromRM(now, ro), hold, keys, true
}

// resumeConfig is the resource manager's part of -R: what the previous
// incarnation held. The exact keys come from the environment (set by a
// heartbeat-go parent); a heartbeat-style -C alone gives the bits.
func (r *runtime) resumeConfig() rm.Config {
	var c rm.Config
	if !r.o.Restart {
		return c
	}
	c.Restarting = true
	if h, ok := rm.ParseHold(r.o.Holding); ok {
		c.InitialHolding = h // heartbeat -R without -C: nothing carried
	}
	if v, ok := os.LookupEnv(envRestartHeld); ok {
		c.InitialKeys = []string{}
		for _, k := range strings.Split(v, "\n") {
			if k != "" {
				c.InitialKeys = append(c.InitialKeys, k)
			}
		}
		os.Unsetenv(envRestartHeld) // not for the resource scripts, nor a later restart
	}
	return c
}

// restartArgs is argv for the re-exec: the daemon's own arguments without
// any -R/-C of an earlier quick restart, then -R -C hold when hold is set
// (a plain restart after a healed partition gets neither).
func restartArgs(argv []string, hold string) []string {
	if len(argv) == 0 {
		argv = []string{"heartbeat"}
	}
	out := []string{argv[0]}
	if hold != "" {
		out = append(out, "-R", "-C", hold)
	}
	rest := argv[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			out = append(out, rest[i:]...)
			return out
		case a == "-R":
			continue
		case a == "-C":
			i++ // and its argument
			continue
		case strings.HasPrefix(a, "-C") && !strings.HasPrefix(a, "--"):
			continue
		}
		out = append(out, a)
	}
	return out
}

// reexec restarts the daemon in place. After a healed partition (all
// resources released) it waits deadtime + 1 s first, so the peers see it
// dead, as heartbeat does; a quick restart (ha.cf changed) execs at once
// with -R -C <holding>. The pid stays the same, so the pid file and a
// supervising systemd keep following it.
func (r *runtime) reexec(ctx context.Context) {
	r.log.Info("Restarting heartbeat.")
	if r.qr.hold == "" {
		select {
		case <-time.After(r.cfg.DeadTime + time.Second):
		case <-ctx.Done():
			return
		}
	}
	exe, err := os.Executable()
	if err != nil {
		r.log.Error(fmt.Sprintf("Cannot restart: %v", err))
		return
	}
	r.log.Info("Performing heartbeat restart exec.")
	if r.qr.hold == "" {
		os.Unsetenv(envRestartHeld)
	}
	if err := syscall.Exec(exe, restartArgs(os.Args, r.qr.hold), os.Environ()); err != nil {
		r.log.Error(fmt.Sprintf("Cannot restart: %v", err))
	}
}
