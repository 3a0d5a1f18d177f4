// Package testbin builds the heartbeat multi-call binary once per test
// process, so that end-to-end tests in any package can run the real
// program (and its tool links) without depending on `make build`.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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
		dir, err = os.MkdirTemp("", "heartbeat-go-bin-")
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

func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(b))), nil
}
