// Package testbin builds the heartbeat multi-call binary once per test
// process, so that end-to-end tests in any package can run the real
// program (and its tool links) without depending on `make build`.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	once    sync.Once
	dir     string
	buildEr error
	out     []byte
)

// Tools are the names make build links to the binary.
var Tools = []string{"cl_status", "hb_standby", "hb_takeover", "ha_propagate", "haresources2cib"}

// Dir returns a directory holding `heartbeat` and a link per tool, built
// from the current source tree. It fails the test when the build fails.
func Dir(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildEr = err
			return
		}
		removeStale()
		dir, err = os.MkdirTemp("", fmt.Sprintf("%s%d-", prefix, os.Getpid()))
		if err != nil {
			buildEr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "heartbeat"), "./tools/heartbeat")
		cmd.Dir = root
		out, buildEr = cmd.CombinedOutput()
		if buildEr != nil {
			return
		}
		for _, name := range Tools {
			if err := os.Symlink("heartbeat", filepath.Join(dir, name)); err != nil {
				buildEr = err
				return
			}
		}
	})
	if buildEr != nil {
		t.Fatalf("building heartbeat: %v\n%s", buildEr, out)
	}
	return dir
}

// Heartbeat returns the path of the built heartbeat binary.
func Heartbeat(t testing.TB) string {
	return filepath.Join(Dir(t), "heartbeat")
}

// Root returns the module's root directory (where go.mod is).
func Root(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Shared returns ../shared beside the module root, or skips the test when
// it is not there.
func Shared(t testing.TB) string {
	t.Helper()
	p := filepath.Join(Root(t), "..", "shared")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("../shared is not beside the checkout: %v", err)
	}
	return p
}

// prefix names the build directories; the building process's PID
// follows it, so a later test process can tell which builds are orphans.
const prefix = "heartbeat-go-bin-"

// removeStale deletes the build directories of test processes that have
// exited: a test binary has no hook that runs after its last test, so each
// one leaves its build behind, and the next one clears them.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), prefix)
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if ok && err == nil && pid > 0 && syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // its process still runs
		}
		if !ok || err != nil {
			// An older build without a PID: only once it is an hour old.
			if fi, err := os.Stat(d); err != nil || time.Since(fi.ModTime()) < time.Hour {
				continue
			}
		}
		os.RemoveAll(d)
	}
}

func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(b))), nil
}
