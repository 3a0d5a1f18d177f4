package media

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DefaultLockDir is where serial device locks live (FHS /var/lock).
const DefaultLockDir = "/var/lock"

// LockPath is the UUCP-style lock file of a device: DIR/LCK..<basename>.
func LockPath(dir, device string) string {
	if dir == "" {
		dir = DefaultLockDir
	}
	return filepath.Join(dir, "LCK.."+filepath.Base(device))
}

// LockDevice takes the UUCP-style lock of a tty, as heartbeat (and uucp,
// minicom, ...) do: the lock file holds the owner's PID as ten
// right-aligned decimal digits and a newline. It is created atomically
// (written under a temporary name, then hard-linked into place). A lock
// whose owner no longer exists is stale and is taken over; a lock held by
// this process is accepted. The returned function removes the lock.
func LockDevice(dir, device string) (unlock func() error, err error) {
	path := LockPath(dir, device)
	me := os.Getpid()
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf("tmp%d-%s", me, filepath.Base(path)))
	content := fmt.Sprintf("%10d\n", me)
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return nil, fmt.Errorf("cannot lock line %s: %w", device, err)
	}
	defer os.Remove(tmp)
	for try := 0; try < 2; try++ {
		err := os.Link(tmp, path)
		if err == nil {
			return func() error { return unlockIfOurs(path, me) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("cannot lock line %s: %w", device, err)
		}
		owner, rerr := readLockPID(path)
		switch {
		case rerr == nil && owner == me:
			return func() error { return unlockIfOurs(path, me) }, nil
		case rerr == nil && processAlive(owner):
			return nil, fmt.Errorf("cannot lock line %s: locked by pid %d (%s)", device, owner, path)
		}
		// Stale (owner gone) or unreadable: remove and try once more.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cannot lock line %s: removing stale %s: %w", device, path, err)
		}
	}
	return nil, fmt.Errorf("cannot lock line %s: %s keeps reappearing", device, path)
}

func readLockPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if len(b) == 4 && !strings.ContainsAny(s, "0123456789") {
		// Binary (Kermit-style) lock: a native 4-byte int.
		return int(int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)), nil
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("bad lock file %s: %q", path, s)
	}
	return pid, nil
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func unlockIfOurs(path string, me int) error {
	if pid, err := readLockPID(path); err != nil || pid != me {
		return nil // not ours (any more): leave it alone
	}
	return os.Remove(path)
}
