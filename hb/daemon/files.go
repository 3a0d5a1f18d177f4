package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PidFileName is heartbeat's pid file inside the run directory.
const PidFileName = "heartbeat.pid"

// formatPid is heartbeat's pid file content: the pid right-aligned in ten
// columns and a newline (11 bytes).
func formatPid(pid int) []byte { return []byte(fmt.Sprintf("%10d\n", pid)) }

// ReadPid returns the pid recorded in path, or 0 when there is no usable
// pid file.
func ReadPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: no pid in the file", path)
	}
	return pid, nil
}

// Alive reports whether a process with this pid exists (signal 0; EPERM
// means it exists but belongs to someone else).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// RunningPid returns the pid of a live heartbeat recorded in path, or 0.
func RunningPid(path string) int {
	pid, err := ReadPid(path)
	if err != nil || !Alive(pid) {
		return 0
	}
	return pid
}

// ErrRunning is returned by CreatePidFile when a live process holds it.
type ErrRunning struct{ Pid int }

func (e ErrRunning) Error() string { return fmt.Sprintf("already running [pid %d]", e.Pid) }

// CreatePidFile records pid in path the lock-file way: the content goes
// into a temporary file which is then hard-linked to path, so only one
// process can win; a stale file (its pid gone) is removed and the link
// retried. Heartbeat does not remove the file at exit.
func CreatePidFile(path string, pid int) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".heartbeat.pid.")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(formatPid(pid)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	for try := 0; try < 3; try++ {
		err = os.Link(tmp.Name(), path)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrExist) {
			return err
		}
		old, rerr := ReadPid(path)
		if rerr == nil && old == pid {
			return nil // -R re-exec keeps its own pid file
		}
		if rerr == nil && Alive(old) {
			return ErrRunning{Pid: old}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return err
}

// loadAvgEvery is how long a read of /proc/loadavg is reused: a status
// message goes out every keepalive (ten a second at 100 ms), opening and
// reading the file was a tenth of an idle daemon's CPU there, and the
// kernel recomputes the averages only every 5 s.
const loadAvgEvery = time.Second

// loadAvgCache is LoadAvg read at most once per loadAvgEvery. Not safe for
// concurrent use (the core calls it from the main loop).
type loadAvgCache struct {
	now  func() time.Time
	read func() string
	at   time.Time
	val  string
	ok   bool
}

func newLoadAvgCache() *loadAvgCache { return &loadAvgCache{now: time.Now, read: LoadAvg} }

func (c *loadAvgCache) get() string {
	t := c.now()
	if !c.ok || t.Before(c.at) || t.Sub(c.at) >= loadAvgEvery {
		c.val, c.at, c.ok = c.read(), t, true
	}
	return c.val
}

// LoadAvg returns /proc/loadavg as heartbeat puts it in the "ld" field:
// the line verbatim without its newline.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "0.00 0.00 0.00 1/1 1"
	}
	return strings.TrimRight(string(b), "\n")
}
