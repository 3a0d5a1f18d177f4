package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/heartbeat-go/heartbeat/hb/resource"
	"github.com/heartbeat-go/heartbeat/hb/rm"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// groupRunner carries out resource actions: groups are started and
// stopped by hb/resource (native IPaddr, IPaddr2 and SendArp through
// netlink, every other resource through its script, searched in
// <config-dir>/resource.d, /etc/ha.d/resource.d, then /etc/init.d), and
// event hooks run <config-dir>/rc.d/<type>.
type groupRunner struct {
	r      *runtime
	groups *resource.Groups
	native *resource.Native
	rcd    string
}

func newRunner(r *runtime) actionRunner {
	dirs := []string{filepath.Join(r.o.ConfigDir, "resource.d")}
	if r.o.ConfigDir != DefaultConfigDir {
		dirs = append(dirs, filepath.Join(DefaultConfigDir, "resource.d"))
	}
	dirs = append(dirs, "/etc/init.d")
	scripts := &resource.ScriptRunner{Dirs: dirs, Logger: r.log}
	native := &resource.Native{Fallback: scripts, Logger: r.log}
	return &groupRunner{r: r, native: native, groups: &resource.Groups{Runner: native, Logger: r.log, StopRetries: stopRetries(r.cfg.Env)},
		rcd: filepath.Join(r.o.ConfigDir, "rc.d")}
}

// stopRetries is ResourceManager's HA_STOPRETRYMAX: from "env
// STOPRETRYMAX=n" in ha.cf, else heartbeat's environment; unset means the
// default (10), n <= 0 retries a failing stop for ever.
func stopRetries(env map[string]string) int {
	v, ok := env["STOPRETRYMAX"]
	if !ok {
		v, ok = os.LookupEnv("HA_STOPRETRYMAX")
	}
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0
	}
	if n <= 0 {
		return -1
	}
	return n
}

func (g *groupRunner) Run(ctx context.Context, a rm.Action) rm.Result {
	var err error
	switch a.Kind {
	case rm.StartGroup:
		err = g.groups.Start(ctx, a.Group)
	case rm.StopGroup:
		err = g.groups.Stop(ctx, a.Group)
	case rm.RunEvent:
		g.event(ctx, a.Msg, a.OStatus)
		return rm.OK
	case rm.FenceSelf:
		// Handled by the runtime (fenceSelf), never run here.
		return rm.OK
	}
	switch {
	case err == nil:
		return rm.OK
	case errors.Is(err, resource.ErrStopFailedRunning):
		return rm.StopFailedRun
	}
	return rm.Failed
}

// stockEvents are the rc.d scripts heartbeat ships; their work (mach_down,
// ip-request handling, hb_takeover) is done by the resource manager
// itself, so running them would start or stop groups twice.
var stockEvents = map[string]bool{"status": true, "ip-request": true, "ip-request-resp": true, "hb_takeover": true, "ask_resources": true}

// event runs <config-dir>/rc.d/<type> <type> when such a file exists, with
// the message's string fields as HA_<name> in the environment.
func (g *groupRunner) event(ctx context.Context, m *wire.Message, ostatus rm.Status) {
	if m == nil {
		return
	}
	t := strings.ToLower(m.Value(wire.FType))
	if t == "" || strings.ContainsAny(t, "/.") || stockEvents[t] {
		return
	}
	path := filepath.Join(g.rcd, t)
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return
	}
	env := os.Environ()
	for _, f := range m.Fields {
		if f.Type == wire.String {
			env = append(env, "HA_"+f.Name+"="+string(f.Value))
		}
	}
	env = append(env, "HA_OSTATUS="+string(ostatus))
	ctx, cancel := context.WithTimeout(ctx, resource.DefaultTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, t)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	g.r.log.Info(fmt.Sprintf("Running %s %s", path, t))
	if err := cmd.Run(); err != nil {
		g.r.log.Error(fmt.Sprintf("%s %s: %v", path, t, err))
	}
}
