// Package resource runs haresources resources the way heartbeat 3.0.6's
// ResourceManager does: resource scripts found in /etc/ha.d/resource.d then
// /etc/init.d, called with the "::" arguments followed by the operation,
// status decided by the text the script prints (not its exit code), groups
// started left to right and stopped right to left, a failed start giving
// the whole group up, a failed stop retried and, when the resource still
// runs, reported as needing a reboot.
//
// IPaddr, IPaddr2 and SendArp are built in (netlink and a raw packet
// socket, no fork): see Native. Event hooks (harc and /etc/ha.d/rc.d with
// the HA_* environment) are in Hooks. Groups.Do and Outcome connect all
// this to the resource manager's actions (hb/rm).
//
// Where this differs from heartbeat 3.0.6's shell tools:
//
//   - A script call that hangs is killed (with its process group) after
//     ScriptRunner.Timeout (start/stop, default 10 min) or StatusTimeout
//     (default 1 min) and counts as failed; heartbeat waits forever.
//   - Arguments are split on blanks like the unquoted shell expansion, but
//     glob characters are not expanded.
//   - The native IPaddr/IPaddr2 return once the address is up and the first
//     gratuitous ARP is out; the other rounds follow in the background.
//     SendArp's status is kept in memory (heartbeat's script uses a pid
//     file), so after a daemon restart it reads "stopped" until started.
//   - rc.d scripts for the event types the Go resource manager handles
//     itself (status, ip-request, ip-request-resp, hb_takeover,
//     ask_resources) are skipped when they call ResourceManager, mach_down
//     or hb_standby (the stock ones do); custom hooks still run.
//   - The "stop failed, resource still running" path is reported
//     (ErrStopFailedRunning / rm.StopFailedRun); rebooting is the daemon's
//     job (heartbeat's ResourceManager kills heartbeat and runs reboot -nf).
package resource

import (
	"context"
	"errors"
	"regexp"
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
)

// Op is a resource operation.
type Op string

// Operations heartbeat passes as the last argument.
const (
	Start  Op = "start"
	Stop   Op = "stop"
	Status Op = "status"
)

// Result is the outcome of one operation.
type Result struct {
	Path     string        // script run ("" for a built-in)
	Args     []string      // arguments passed (the op last)
	ExitCode int           // exit status; -1 when killed or not run
	Duration time.Duration // wall time of the call
	Output   string        // stdout (status only; trimmed to 4 KiB)
	Running  bool          // status: the resource runs here (stdout text rule)
	TimedOut bool          // the call was killed after the timeout
	Builtin  bool          // done natively, no fork
}

// Runner runs one operation on one resource. An error means the operation
// failed (for status: the state could not be determined).
type Runner interface {
	Run(ctx context.Context, res haresources.Resource, op Op) (Result, error)
}

// Errors reported by runners and group operations.
var (
	ErrNotFound    = errors.New("cannot locate resource script")
	ErrTimeout     = errors.New("resource script timed out")
	ErrExit        = errors.New("resource script failed")
	ErrStartFailed = errors.New("resource group start failed")
	// ErrStopFailedRunning: a stop kept failing and the resource still runs.
	// heartbeat reboots the machine ("Resource STOP failure. Reboot required!").
	ErrStopFailedRunning = errors.New("resource stop failed and the resource is still running")
)

var (
	notRunning = regexp.MustCompile(`(?s)[Nn][Oo][Tt] .*[Rr]unning`)
	isRunning  = regexp.MustCompile(`[Rr]unning|OK`)
)

// StatusRunning applies heartbeat's rule to a status call's stdout: "not
// ... running" (any case for NOT and the R) means stopped; otherwise
// "running", "Running" or "OK" anywhere means running; anything else
// (empty, "stopped") means stopped. The exit code plays no part.
func StatusRunning(stdout string) bool {
	if notRunning.MatchString(stdout) {
		return false
	}
	return isRunning.MatchString(stdout)
}
