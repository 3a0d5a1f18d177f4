package config

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPure: hb/config and hb/hacf stay free of network and process code
// (machine questions go through Env; package osenv answers them).
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "../hacf").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "net", "os/exec", "os/user", "github.com/heartbeat-go/heartbeat/media":
			t.Errorf("pure package depends on %s", dep)
		}
	}
}
