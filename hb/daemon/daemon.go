// Package daemon is the heartbeat runtime: it drives the pure cluster core
// (hb/core) and the v1 resource manager (hb/rm) with real media, timers
// and signals, and implements heartbeat 3.0.6's own command line.
//
// Command line: heartbeat's getopt string "dDkMrRsvWlC:Vf" with its
// texts and exit codes (-k stop, -s status, -r reload, -V version, -D/-DW
// defaults table, -v dump the effective config, -d debug, -f foreground,
// -M no resource management, -R/-C restart hand-over), plus heartbeat-go's
// long options for tests and the demo: --foreground, --config-dir DIR,
// --state-dir DIR, --run-dir DIR, --node NAME and --bind ADDR (ucast media
// receive on ADDR only, so several nodes can share one host's loopback).
// Without -f the daemon re-executes itself detached (Go cannot fork).
//
// Files, as Debian's heartbeat 3.0.6 keeps them:
//
//	<run-dir>/heartbeat.pid          pid, "%10d\n", created lock-file style, kept at exit
//	<run-dir>/heartbeat/ctl.sock     heartbeat-go's control socket (hb/ctl): cl_status, hb_standby, hb_takeover
//	<run-dir>/heartbeat/register     heartbeat 3.0.6's client API (stock cl_status), opened at comm-up
//	<run-dir>/heartbeat/rsctmp       HA_RSCTMP
//	<state-dir>/hb_generation        "%15d\n", bumped at every start (hb/membership/state)
//	<state-dir>/hb_uuid              16 raw bytes
//	<state-dir>/fifo                 ha_clustermsg FIFO (stock hb_standby/hb_takeover scripts)
//	<config-dir>/ha.cf, authkeys, haresources, nodeinfo, resource.d/, rc.d/
//
// Logging follows ha.cf's logfile, debugfile and logfacility in
// heartbeat's line format ("Nov 23 03:46:53 hb1 heartbeat: [35]: info:
// ..."); without any of them (heartbeat would use logd, which heartbeat-go
// does not have) lines go to syslog's daemon facility, and to stderr in
// the foreground. Signals: SIGTERM graceful shutdown (releases resources,
// tells the peers), SIGHUP rereads authkeys and, when ha.cf changed,
// restarts in place with -R -C HOLDING as heartbeat does, keeping its
// resources (restart.go), SIGUSR1/SIGUSR2 debug level up/down. systemd: READY=1 at
// comm-up, RELOADING=1, STOPPING=1, and WATCHDOG=1 when WATCHDOG_USEC is
// set, through $NOTIFY_SOCKET.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// HBVersion is the "hbversion" heartbeat-go reports (heartbeat -V,
// cl_status hbparameter -p hbversion): the heartbeat release it is
// compatible with, and its own build in place of the C build id.
var HBVersion = "3.0.6 (heartbeat-go)"

// LSB exit codes heartbeat uses.
const (
	ExitOK            = 0
	ExitGeneric       = 1
	ExitNotRunning    = 3 // heartbeat -s: no pid file
	ExitPrivilege     = 4
	ExitNotConfigured = 6
	ExitEmergency     = 100 // after an emergency shutdown
)

// ShutdownEmergency is how long a shutdown waits for resource activity in
// progress before heartbeat kills everything (its 60-minute emergency
// timer).
const ShutdownEmergency = 60 * time.Minute

// envDaemonized marks the re-executed child of a non-foreground start.
const envDaemonized = "HEARTBEAT_GO_DAEMONIZED"

// Run runs the heartbeat daemon (or acts on a running one, as heartbeat's
// -k, -r, -s flags do) and returns its exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	prog := "heartbeat"
	o, ok := parseArgs(prog, args, stderr)
	if !ok {
		return ExitUsage
	}
	switch o.Action {
	case ActVersion:
		fmt.Fprintln(stdout, HBVersion)
		return ExitOK
	case ActDump:
		return dumpDefaults(o, stdout)
	case ActKill:
		return killRunning(ctx, o, stderr)
	case ActStatus:
		return status(o, stdout)
	case ActReload:
		if pid := RunningPid(o.pidFile()); pid != 0 {
			return reload(o, pid, stderr)
		}
		// heartbeat -r with nothing running starts the daemon.
	}
	return start(ctx, o, stdout, stderr)
}

func (o Options) pidFile() string   { return filepath.Join(o.RunDir, PidFileName) }
func (o Options) socketDir() string { return filepath.Join(o.RunDir, "heartbeat") }

// LocalNodeName is heartbeat's local node name: --node if given, else the
// first line of <config-dir>/nodeinfo when it ends with a newline, else
// uname -n; always lower-cased.
func (o Options) LocalNodeName() string {
	if o.Node != "" {
		return strings.ToLower(o.Node)
	}
	if b, err := os.ReadFile(filepath.Join(o.ConfigDir, "nodeinfo")); err == nil {
		if line, _, found := strings.Cut(string(b), "\n"); found && line != "" {
			return strings.ToLower(line)
		}
	}
	return strings.ToLower(uname())
}

func uname() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		h, _ := os.Hostname()
		return h
	}
	var b []byte
	for _, c := range u.Nodename {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// cliLogger logs the way heartbeat's command-line front end does before it
// has a config: heartbeat-format lines on stderr.
func cliLogger(o Options, stderr io.Writer) *slog.Logger {
	return NewLogger(LogTargets{Stderr: stderr, Host: uname(), Pid: os.Getpid()})
}

func status(o Options, stdout io.Writer) int {
	pid, err := ReadPid(o.pidFile())
	if err != nil {
		fmt.Fprintln(stdout, "heartbeat is stopped. No process")
		if errors.Is(err, os.ErrNotExist) {
			return ExitNotRunning
		}
		return ExitGeneric
	}
	if !Alive(pid) {
		fmt.Fprintln(stdout, "heartbeat is stopped. No process")
		return ExitGeneric
	}
	fmt.Fprintf(stdout, "heartbeat OK [pid %d et al] is running on %s [%s]...\n", pid, strings.ToLower(uname()), o.LocalNodeName())
	return ExitOK
}

// killRunning is heartbeat -k: SIGTERM the recorded pid and wait until it
// has gone (however long releasing the resources takes).
func killRunning(ctx context.Context, o Options, stderr io.Writer) int {
	pid := RunningPid(o.pidFile())
	if pid == 0 {
		fmt.Fprintln(stderr, "INFO: Heartbeat already stopped.")
		return ExitOK
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		fmt.Fprintf(stderr, "ERROR: Could not kill pid %d\n", pid)
		fmt.Fprintf(stderr, "%s: %v\n", "heartbeat", err)
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return ExitPrivilege
		}
		return ExitGeneric
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for Alive(pid) && !isZombieOrGone(pid) {
		select {
		case <-ctx.Done():
			return ExitGeneric
		case <-tick.C:
		}
	}
	return ExitOK
}

// isZombieOrGone reports whether pid has exited but not been reaped (a
// zombie still answers signal 0).
func isZombieOrGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

// reload is heartbeat -r with a running daemon: validate, then SIGHUP.
func reload(o Options, pid int, stderr io.Writer) int {
	log := cliLogger(o, stderr)
	if _, err := loadConfigLogged(o, log, true); err != nil {
		log.Info(fmt.Sprintf("Config errors: Heartbeat pid %d NOT restarted", pid))
		if errors.Is(err, os.ErrPermission) {
			return ExitPrivilege
		}
		return ExitGeneric
	}
	log.Info(fmt.Sprintf("Signalling heartbeat pid %d to reread config files", pid))
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		log.Error(fmt.Sprintf("Unable to send SIGHUP to pid %d: %v", pid, err))
		return ExitGeneric
	}
	return ExitOK
}

// start validates the config and runs the daemon: in this process with -f
// (--foreground), else in a detached copy of this program (Go cannot fork;
// the copy is started with -f in its own session, stdio on /dev/null) and
// this process exits 0 once the copy has written its pid file.
func start(ctx context.Context, o Options, stdout, stderr io.Writer) int {
	log := cliLogger(o, stderr)
	if pid := RunningPid(o.pidFile()); pid != 0 && pid != os.Getpid() {
		log.Info(fmt.Sprintf("heartbeat: already running [pid %d].", pid))
		return ExitOK
	}
	cfg, err := loadConfigLogged(o, log, true)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return ExitPrivilege
		}
		return ExitNotConfigured
	}
	if o.Verbose && os.Getenv(envDaemonized) == "" {
		dumpConfig(cfg, o.Debug, stdout)
	}
	if o.Foreground || os.Getenv(envDaemonized) != "" {
		return runDaemon(ctx, o, cfg, stderr)
	}
	return detach(o, stderr)
}

// withAbsDirs rewrites the --config-dir, --state-dir and --run-dir
// options of args to o's (absolute) directories: the detached copy runs
// in /, where relative ones would name other directories.
func withAbsDirs(args []string, o Options) []string {
	abs := map[string]string{"config-dir": o.ConfigDir, "state-dir": o.StateDir, "run-dir": o.RunDir}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		name, _, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if v, ok := abs[name]; ok && strings.HasPrefix(a, "--") {
			out = append(out, "--"+name+"="+v)
			if !hasVal {
				i++ // skip the separate value
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

func detach(o Options, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "heartbeat: cannot find own executable: %v\n", err)
		return ExitGeneric
	}
	args := append([]string{"-f"}, withAbsDirs(os.Args[1:], o)...)
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return ExitGeneric
	}
	defer devnull.Close()
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.Env = append(os.Environ(), envDaemonized+"=1")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "heartbeat: cannot start the daemon: %v\n", err)
		return ExitGeneric
	}
	child := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if pid, _ := ReadPid(o.pidFile()); pid == child {
			return ExitOK
		}
		select {
		case <-exited:
			if pid, _ := ReadPid(o.pidFile()); pid == child {
				// It had started (pid file written) and failed after,
				// as when a medium cannot be opened: heartbeat's parent
				// has returned 0 by then.
				return ExitOK
			}
			if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() > 0 {
				return cmd.ProcessState.ExitCode()
			}
			return ExitGeneric
		case <-deadline:
			return ExitOK // still starting; heartbeat's parent does not wait at all
		case <-tick.C:
		}
	}
}
