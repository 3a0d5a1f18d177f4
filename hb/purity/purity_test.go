// Package purity holds one test: the packages that make heartbeat-go's
// decisions and read its files stay free of I/O the caller did not ask
// for, goroutines and the wall clock, so they can run in simulated time
// and be fuzzed. It replaces a copy of the same check in each package.
package purity

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/heartbeat-go/heartbeat/"

// protocol packages: no I/O of any kind, no logging, randomness only
// through an injected *rand.Rand (math/rand/v2 types, not its globals).
var protocol = []string{"hb/core", "hb/rexmit", "hb/membership", "hb/mono", "media/memnet", "hb/rm", "hb/ipfail", "hb/sim"}

// parsers may read the file they are pointed at (os), nothing else.
var parsers = []string{"hb/config", "hb/hacf", "hb/wire", "authkeys", "haresources", "cib"}

var (
	// Never anywhere in either group's dependencies.
	neverDeps = []string{"net", "os/exec", "os/user", "log", "log/slog", module + "media", "github.com/vishvananda/netlink"}
	// Not imported directly by a protocol package.
	protocolImports = []string{"os", "syscall", "math/rand"}
	// Source patterns no pure package may use.
	clock = regexp.MustCompile(`time\.(Now|Since|Until|Sleep|After|Tick|NewTimer|NewTicker|AfterFunc)\(|\bgo func\(|\bgo [A-Za-z_][A-Za-z0-9_.]*\(|rand\.(Int|IntN|Float64|Uint64|Perm|Shuffle|N)\(`)
)

func TestPurePackages(t *testing.T) {
	root := moduleRoot(t)
	all := append(append([]string{}, protocol...), parsers...)
	for _, pkg := range all {
		t.Run(pkg, func(t *testing.T) {
			deps := goList(t, root, "{{join .Deps \" \"}}", pkg)
			for _, d := range deps {
				for _, bad := range neverDeps {
					if d == bad {
						t.Errorf("%s depends on %s", pkg, d)
					}
				}
			}
			if isProtocol(pkg) {
				for _, imp := range goList(t, root, "{{join .Imports \" \"}}", pkg) {
					for _, bad := range protocolImports {
						if imp == bad {
							t.Errorf("%s imports %s", pkg, imp)
						}
					}
				}
			}
			files, _ := filepath.Glob(filepath.Join(root, pkg, "*.go"))
			if len(files) == 0 {
				t.Fatalf("no Go files in %s", pkg)
			}
			for _, f := range files {
				if strings.HasSuffix(f, "_test.go") {
					continue
				}
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for _, line := range strings.Split(string(b), "\n") {
					code, _, _ := strings.Cut(line, "//")
					if m := clock.FindString(code); m != "" {
						t.Errorf("%s: %q", strings.TrimPrefix(f, root+"/"), m)
					}
				}
			}
		})
	}
}

// The check itself must be able to fail.
func TestPatternsCatchViolations(t *testing.T) {
	for _, s := range []string{"now := time.Now()", "go func() {}()", "go n.loop(ctx)", "time.Sleep(d)", "x := rand.IntN(3)", "t := time.AfterFunc(d, f)"} {
		if clock.FindString(s) == "" {
			t.Errorf("pattern misses %q", s)
		}
	}
	for _, s := range []string{"r.IntN(3)", "now time.Time", "a.Sub(b)", "// go on"} {
		code, _, _ := strings.Cut(s, "//")
		if m := clock.FindString(code); m != "" {
			t.Errorf("pattern wrongly matches %q in %q", m, s)
		}
	}
}

func isProtocol(pkg string) bool {
	for _, p := range protocol {
		if p == pkg {
			return true
		}
	}
	return false
}

func goList(t *testing.T, root, format, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", format, "./"+pkg)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
