package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/rm"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// scriptRunner carries out resource actions by running resource scripts
// the way heartbeat's ResourceManager does: each resource of a group is
// "<script> [args...] start" in order, "stop" in reverse; a failed start
// stops what had started; a failed stop is checked with "status". It is
// the runtime's built-in runner; hb/resource adds native IPaddr and the
// harc hooks.
type scriptRunner struct {
	r       *runtime
	dirs    []string      // resource.d search path, then init.d
	rcd     string        // <config-dir>/rc.d
	timeout time.Duration // per script call
}

func newRunner(r *runtime) actionRunner {
	dirs := []string{filepath.Join(r.o.ConfigDir, "resource.d")}
	if r.o.ConfigDir != DefaultConfigDir {
		dirs = append(dirs, filepath.Join(DefaultConfigDir, "resource.d"))
	}
	dirs = append(dirs, "/etc/init.d")
	return &scriptRunner{r: r, dirs: dirs, rcd: filepath.Join(r.o.ConfigDir, "rc.d"), timeout: 5 * time.Minute}
}

func (s *scriptRunner) find(script string) (string, error) {
	for _, d := range s.dirs {
		p := filepath.Join(d, script)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("Cannot locate resource script %s", script)
}

// call runs one script operation and logs it with its exit code and how
// long it took.
func (s *scriptRunner) call(ctx context.Context, res haresources.Resource, op string) (string, int, error) {
	path, err := s.find(res.Script)
	if err != nil {
		s.r.log.Error(err.Error())
		return "", -1, err
	}
	args := append(append([]string(nil), res.Args...), op)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var outb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outb, &outb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	if op != "status" {
		s.r.log.Info(fmt.Sprintf("Running %s %s", path, strings.Join(args, " ")))
	}
	err = cmd.Run()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	took := time.Since(start)
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		s.r.log.Error(fmt.Sprintf("Resource script %s %s timed out after %v", path, strings.Join(args, " "), s.timeout))
	case code != 0 && op != "status":
		s.r.log.Error(fmt.Sprintf("Return code %d from %s %s (%d ms)", code, path, strings.Join(args, " "), took.Milliseconds()))
	default:
		s.r.log.Debug(fmt.Sprintf("%s %s: exit %d in %d ms", path, strings.Join(args, " "), code, took.Milliseconds()))
	}
	return outb.String(), code, err
}

// running reports whether status says the resource runs.
func (s *scriptRunner) running(ctx context.Context, res haresources.Resource) bool {
	out, code, _ := s.call(ctx, res, "status")
	if code != 0 {
		return false
	}
	l := strings.ToLower(out)
	return strings.Contains(l, "running") || strings.Contains(l, "ok")
}

func (s *scriptRunner) Run(ctx context.Context, a rm.Action) rm.Result {
	switch a.Kind {
	case rm.StartGroup:
		for i, res := range a.Group.Resources {
			if _, code, _ := s.call(ctx, res, "start"); code != 0 {
				for j := i; j >= 0; j-- {
					s.call(ctx, a.Group.Resources[j], "stop")
				}
				return rm.Failed
			}
		}
		return rm.OK
	case rm.StopGroup:
		result := rm.OK
		for i := len(a.Group.Resources) - 1; i >= 0; i-- {
			res := a.Group.Resources[i]
			if _, code, _ := s.call(ctx, res, "stop"); code != 0 {
				if s.running(ctx, res) {
					return rm.StopFailedRun
				}
				result = rm.Failed
			}
		}
		return result
	case rm.RunEvent:
		s.event(ctx, a.Msg, a.OStatus)
	case rm.FenceSelf:
		crit(s.r.log, "Resource stop failed with the resource still running: this node must be rebooted.")
	}
	return rm.OK
}

// stockEvents are the rc.d scripts heartbeat ships; their work (mach_down,
// ip-request handling, hb_takeover) is done by the resource manager
// itself, so running them would start or stop groups twice.
var stockEvents = map[string]bool{"status": true, "ip-request": true, "ip-request-resp": true, "hb_takeover": true, "ask_resources": true}

// event runs <config-dir>/rc.d/<type> <type> when such a file exists, with
// the message's string fields as HA_<name> in the environment.
func (s *scriptRunner) event(ctx context.Context, m *wire.Message, ostatus rm.Status) {
	if m == nil {
		return
	}
	t := strings.ToLower(m.Value(wire.FType))
	if t == "" || strings.ContainsAny(t, "/.") || stockEvents[t] {
		return
	}
	path := filepath.Join(s.rcd, t)
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
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, t)
	cmd.Env = env
	s.r.log.Info(fmt.Sprintf("Running %s %s", path, t))
	if err := cmd.Run(); err != nil {
		s.r.log.Error(fmt.Sprintf("%s %s: %v", path, t, err))
	}
}
