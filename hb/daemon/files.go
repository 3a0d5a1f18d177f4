package daemon

import (
	"crypto/rand"
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

// writeAtomic writes data to path through a temporary file in the same
// directory, fsync'ed before the rename, so readers see the old or the new
// content and never a torn file.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Generation file and UUID file names in the state directory.
const (
	GenerationFile = "hb_generation"
	UUIDFile       = "hb_uuid"
)

// NextGeneration reads hb_generation from dir, increments it, writes it
// back (15 columns right-aligned and a newline, as heartbeat does) and
// returns it. first is true when there was no usable previous generation,
// in which case the generation starts at now+1 (Unix seconds).
func NextGeneration(dir string, now time.Time) (gen uint64, first bool, err error) {
	path := filepath.Join(dir, GenerationFile)
	b, rerr := os.ReadFile(path)
	if rerr == nil {
		if g, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); perr == nil {
			gen = g + 1
		}
	}
	if gen == 0 {
		gen = uint64(now.Unix()) + 1
		first = true
	}
	if err := writeAtomic(path, []byte(fmt.Sprintf("%15d\n", gen)), 0o644); err != nil {
		return 0, first, err
	}
	return gen, first, nil
}

// LoadUUID returns the node's UUID from hb_uuid in dir (16 raw bytes),
// creating a random (version 4) one on first start; created says so.
func LoadUUID(dir string) (id [16]byte, created bool, err error) {
	path := filepath.Join(dir, UUIDFile)
	b, rerr := os.ReadFile(path)
	if rerr == nil && len(b) == 16 {
		copy(id[:], b)
		return id, false, nil
	}
	if _, err := rand.Read(id[:]); err != nil {
		return id, false, err
	}
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	if err := writeAtomic(path, id[:], 0o644); err != nil {
		return id, true, err
	}
	return id, true, nil
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
