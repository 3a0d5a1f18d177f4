package ipfail

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ipfail is pure: no network, no processes, no clock reads,
// no goroutines, no logging.
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "net", "os/exec", "log/slog", "log", "math/rand", "math/rand/v2", "github.com/vishvananda/netlink":
			t.Errorf("hb/ipfail depends on %s", dep)
		}
	}
	files, _ := filepath.Glob("*.go")
	bad := regexp.MustCompile(`time\.Now\(|time\.Since\(|time\.Sleep\(|\bgo func\(|\bgo [a-zA-Z_.]+\(`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if loc := bad.FindIndex(b); loc != nil {
			t.Errorf("%s: %q", f, b[loc[0]:loc[1]])
		}
	}
}
