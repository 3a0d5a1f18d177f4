package core

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPurePackages keeps the protocol packages free of I/O, goroutines and
// the wall clock: no forbidden imports, no time.Now, no go statements.
func TestPurePackages(t *testing.T) {
	pkgs := []string{"../core", "../rexmit", "../membership", "../../media/memnet"}
	forbidden := []string{"net", "os", "os/exec", "syscall", "net/http", "github.com/heartbeat-go/heartbeat/media"}
	out, err := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}"}, pkgs...)...).Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		for _, imp := range strings.Fields(imports) {
			for _, f := range forbidden {
				if imp == f {
					t.Errorf("%s imports %s", pkg, imp)
				}
			}
		}
	}
	for _, dir := range pkgs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src := string(b)
			for _, bad := range []string{"time.Now(", "time.Since(", "go func", "time.Sleep(", "time.After("} {
				if strings.Contains(src, bad) {
					t.Errorf("%s uses %s", f, bad)
				}
			}
		}
	}
}
