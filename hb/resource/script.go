package resource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
)

// DefaultDirs is heartbeat's script search path: $HA_RESOURCEDIR, then
// /etc/init.d.
var DefaultDirs = []string{"/etc/ha.d/resource.d", "/etc/init.d"}

// DefaultTimeout bounds one start or stop call, DefaultStatusTimeout one
// status call. heartbeat waits forever for a hung script (and so never
// fails over); we kill it and report the failure. Starts get long: a
// database recovering its log may legitimately take minutes.
const (
	DefaultTimeout       = 10 * time.Minute
	DefaultStatusTimeout = 1 * time.Minute
)

const maxOutput = 4096

// ScriptRunner runs resource scripts.
type ScriptRunner struct {
	Dirs          []string      // search path; nil = DefaultDirs
	Timeout       time.Duration // per start/stop call; 0 = DefaultTimeout
	StatusTimeout time.Duration // per status call; 0 = DefaultStatusTimeout (or Timeout if smaller)
	Env           []string      // added to the daemon's environment (HA_* variables)
	Logger        *slog.Logger  // nil = slog.Default()
}

func (r *ScriptRunner) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// Find returns the script for name: the first regular, executable file
// called name in the search path.
func (r *ScriptRunner) Find(name string) (string, error) {
	dirs := r.Dirs
	if dirs == nil {
		dirs = DefaultDirs
	}
	if name == "" || strings.ContainsRune(name, '/') || name == "." || name == ".." {
		return "", fmt.Errorf("%w %s", ErrNotFound, name)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		st, err := os.Stat(p)
		if err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w %s", ErrNotFound, name)
}

// Args returns the argument words heartbeat passes before the operation:
// the "::" parameters, each split on blanks as the unquoted shell
// expansion does (glob characters are not expanded).
func Args(res haresources.Resource) []string {
	var out []string
	for _, a := range res.Args {
		out = append(out, strings.Fields(a)...)
	}
	return out
}

// scriptEnv is the environment shellfuncs sets up for resource scripts.
func scriptEnv(extra []string) []string {
	env := os.Environ()
	have := map[string]bool{}
	for _, kv := range append(append([]string(nil), env...), extra...) {
		if i := strings.IndexByte(kv, '='); i > 0 {
			have[kv[:i]] = true
		}
	}
	def := func(k, v string) {
		if !have[k] {
			env = append(env, k+"="+v)
		}
	}
	def("HA_DIR", "/etc/ha.d")
	def("HA_RCDIR", "/etc/ha.d/rc.d")
	def("HA_RESOURCEDIR", "/etc/ha.d/resource.d")
	def("HA_FUNCS", "/etc/ha.d/shellfuncs")
	def("OCF_ROOT", "/usr/lib/ocf")
	def("OCF_AGENTS", "/usr/lib/ocf/resource.d/heartbeat/")
	if !have["PATH"] {
		env = append(env, "PATH=/usr/sbin:/usr/share/heartbeat:/usr/local/sbin:/usr/local/bin:/usr/bin:/sbin:/bin")
	}
	out := env[:0]
	for _, kv := range env {
		if strings.HasPrefix(kv, "LC_ALL=") || strings.HasPrefix(kv, "LANGUAGE=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// Run runs "<script> [args...] <op>".
func (r *ScriptRunner) Run(ctx context.Context, res haresources.Resource, op Op) (Result, error) {
	lg := r.log()
	res0 := Result{ExitCode: -1}
	path, err := r.Find(res.Script)
	if err != nil {
		lg.Error(fmt.Sprintf("Cannot locate resource script %s", res.Script), "resource", res.Raw, "op", string(op))
		return res0, err
	}
	args := append(Args(res), string(op))
	res0.Path, res0.Args = path, args
	line := strings.Join(append([]string{path}, args...), " ")
	if op != Status {
		lg.Info("Running " + line)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if op == Status {
		st := r.StatusTimeout
		if st <= 0 {
			st = DefaultStatusTimeout
		}
		timeout = min(timeout, st)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, path, args...)
	cmd.Env = scriptEnv(r.Env)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		// The whole process group: scripts fork.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &limited{w: &stdout, n: maxOutput}
	cmd.Stderr = &limited{w: &stderr, n: maxOutput}
	start := time.Now()
	err = cmd.Run()
	res0.Duration = time.Since(start)
	res0.Output = stdout.String()
	if cmd.ProcessState != nil {
		res0.ExitCode = cmd.ProcessState.ExitCode()
	}
	attrs := []any{"resource", res.Raw, "op", string(op), "rc", res0.ExitCode, "duration", res0.Duration.Round(time.Millisecond).String()}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		attrs = append(attrs, "stderr", s)
	}
	if cctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		res0.TimedOut = true
		lg.Error(fmt.Sprintf("Resource script %s timed out after %v and was killed", line, timeout), attrs...)
		return res0, fmt.Errorf("%w: %s after %v", ErrTimeout, line, timeout)
	}
	if ctx.Err() != nil {
		return res0, ctx.Err()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		lg.Error(fmt.Sprintf("Cannot run %s: %v", line, err), attrs...)
		return res0, fmt.Errorf("%w: %s: %v", ErrExit, line, err)
	}
	if op == Status {
		res0.Running = StatusRunning(res0.Output)
		attrs = append(attrs, "running", res0.Running)
		lg.Debug("status "+line, attrs...)
		return res0, nil
	}
	if res0.ExitCode != 0 {
		lg.Error(fmt.Sprintf("Return code %d from %s", res0.ExitCode, path), attrs...)
		return res0, fmt.Errorf("%w: return code %d from %s", ErrExit, res0.ExitCode, line)
	}
	lg.Info("Finished "+line, attrs...)
	return res0, nil
}

// limited keeps the first n bytes and discards the rest (a chatty script
// must not eat memory), while still consuming everything.
type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		if len(p) <= room {
			l.w.Write(p)
		} else {
			l.w.Write(p[:room])
		}
	}
	return len(p), nil
}
