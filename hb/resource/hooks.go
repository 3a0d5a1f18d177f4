package resource

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// Hooks runs heartbeat's event scripts: for a cluster event of type T
// (a node status change, ip-request, hb_takeover, a custom t= sent by a
// tool...), /etc/ha.d/harc T runs, which runs /etc/ha.d/rc.d/T T, but only
// when a file named T exists in rc.d (the directory is read once; names
// starting with "." are ignored). The script gets the triggering message's
// string fields as HA_<field>, HA_OSTATUS, and the daemon-wide variables
// in Env (see BaseEnv).
//
// The stock rc.d scripts of heartbeat (status, ip-request,
// ip-request-resp, hb_takeover, ask_resources) do resource management
// through ResourceManager, mach_down and hb_standby. The Go daemon does
// that natively, so running them too would act twice: a script for one of
// those types is skipped when it calls any of those programs (a stock or
// stock-derived script), and run otherwise (a user's notification hook).
//
// Run is synchronous; heartbeat runs event scripts one at a time, in
// order, so call it from a single goroutine.
type Hooks struct {
	Dir     string        // heartbeat's HA_DIR; "" = /etc/ha.d
	Env     []string      // daemon-wide variables (BaseEnv)
	Logger  *slog.Logger  // nil = slog.Default()
	Timeout time.Duration // per script; 0 = DefaultTimeout
	UseHarc bool          // run Dir/harc T (as heartbeat) instead of rc.d/T T directly

	once    sync.Once
	present map[string]bool
}

// NativeTypes are the event types whose stock scripts the Go resource
// manager replaces.
var NativeTypes = []string{"status", "ip-request", "ip-request-resp", "hb_takeover", "ask_resources"}

func (h *Hooks) dir() string {
	if h.Dir == "" {
		return "/etc/ha.d"
	}
	return h.Dir
}

func (h *Hooks) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// Has reports whether an rc.d script exists for event type t.
func (h *Hooks) Has(t string) bool {
	h.once.Do(func() {
		h.present = map[string]bool{}
		ents, err := os.ReadDir(filepath.Join(h.dir(), "rc.d"))
		if err != nil {
			return
		}
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), ".") {
				h.present[e.Name()] = true
			}
		}
	})
	return h.present[strings.ToLower(t)]
}

// stockLike reports whether an rc.d script does heartbeat's own resource
// management (which the Go daemon does natively).
func stockLike(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, w := range []string{"ResourceManager", "mach_down", "hb_standby"} {
		if bytes.Contains(b, []byte(w)) {
			return true
		}
	}
	return false
}

// EventEnv returns the HA_* variables for a message: one per string field
// (HA_t, HA_src, HA_st, ...; binary fields such as srcuuid are left out)
// and HA_OSTATUS, the local node's status.
func EventEnv(msg *wire.Message, ostatus string) []string {
	var env []string
	seen := map[string]bool{}
	for _, f := range msg.Fields {
		if f.Type != wire.String || seen[f.Name] || !validEnvName(f.Name) {
			continue
		}
		seen[f.Name] = true
		env = append(env, "HA_"+f.Name+"="+string(f.Value))
	}
	if ostatus != "" {
		env = append(env, "HA_OSTATUS="+ostatus)
	}
	return env
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// BaseEnv builds the daemon-wide variables heartbeat exports to its
// scripts: HA_CURHOST, HA_NICEFAILBACK=yes (auto_failback on or off),
// HA_LOGD, HA_DIR, HA_FUNCS, HA_DATEFMT, OCF_ROOT, and HA_<directive> for
// every ha.cf directive (lower-case name, value as written or defaulted).
// Logging variables (HA_LOGFILE, HA_DEBUGLOG, HA_LOGFACILITY, HA_debug)
// are for the caller to add.
func BaseEnv(curhost string, niceFailback, logd bool, directives map[string]string) []string {
	env := []string{
		"HA_CURHOST=" + curhost,
		"HA_DIR=/etc/ha.d/",
		"HA_FUNCS=/etc/ha.d//shellfuncs",
		"HA_DATEFMT=%Y/%m/%d_%T\t",
		"OCF_ROOT=/usr/lib/ocf",
	}
	if logd {
		env = append(env, "HA_LOGD=yes")
	} else {
		env = append(env, "HA_LOGD=no")
	}
	if niceFailback {
		env = append(env, "HA_NICEFAILBACK=yes")
	}
	names := make([]string, 0, len(directives))
	for k := range directives {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if validEnvName(k) {
			env = append(env, "HA_"+strings.ToLower(k)+"="+directives[k])
		}
	}
	return env
}

// Run runs the event script for msg, if there is one. It reports whether a
// script ran.
func (h *Hooks) Run(ctx context.Context, msg *wire.Message, ostatus string) (bool, error) {
	if msg == nil {
		return false, nil
	}
	t := strings.ToLower(msg.Value(wire.FType))
	if t == "" || strings.ContainsAny(t, "/\x00") || strings.HasPrefix(t, ".") || !h.Has(t) {
		return false, nil
	}
	rcdir := filepath.Join(h.dir(), "rc.d")
	script := filepath.Join(rcdir, t)
	for _, n := range NativeTypes {
		if n == t && stockLike(script) {
			h.log().Debug(fmt.Sprintf("rc.d/%s does heartbeat's resource management, done natively: not run", t))
			return false, nil
		}
	}
	st, err := os.Stat(script)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		h.log().Error(fmt.Sprintf("harc: %s: not executable", script))
		return false, fmt.Errorf("%w: %s not executable", ErrNotFound, script)
	}
	path, args := script, []string{t}
	if harc := filepath.Join(h.dir(), "harc"); h.UseHarc {
		path = harc
	}
	h.log().Info(fmt.Sprintf("Running %s %s", script, t))
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, path, args...)
	if h.UseHarc {
		cmd.Args[0] = "harc"
	}
	cmd.Env = append(append(append(os.Environ(), h.Env...), EventEnv(msg, ostatus)...), "HA_RCDIR="+rcdir)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &limited{w: &out, n: maxOutput}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	err = cmd.Run()
	attrs := []any{"event", t, "duration", time.Since(start).Round(time.Millisecond).String()}
	if cmd.ProcessState != nil {
		attrs = append(attrs, "rc", cmd.ProcessState.ExitCode())
	}
	if s := strings.TrimSpace(out.String()); s != "" {
		attrs = append(attrs, "output", s)
	}
	if cctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		h.log().Error(fmt.Sprintf("Event script %s timed out after %v and was killed", script, timeout), attrs...)
		return true, fmt.Errorf("%w: %s", ErrTimeout, script)
	}
	if err != nil {
		h.log().Warn(fmt.Sprintf("Event script %s failed", script), attrs...)
		return true, fmt.Errorf("%w: %s: %v", ErrExit, script, err)
	}
	h.log().Debug(fmt.Sprintf("Event script %s done", script), attrs...)
	return true, nil
}
