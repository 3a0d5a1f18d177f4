package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Builds left by exited test processes are removed; a running one's is kept.
func TestRemoveStale(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skipf("true: %v", err)
	}
	dead := filepath.Join(os.TempDir(), prefix+strconv.Itoa(gone.Process.Pid)+"-x")
	alive := filepath.Join(os.TempDir(), prefix+strconv.Itoa(os.Getpid())+"-x")
	for _, d := range []string{dead, alive} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(dead); os.RemoveAll(alive) })
	removeStale()
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the exited process's build %s is still there", dead)
	}
	if _, err := os.Stat(alive); err != nil {
		t.Errorf("the running process's build %s was removed: %v", alive, err)
	}
}
