package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// startRelative starts node n with its directories given relative to
// n.Dir, the directory it runs in, and returns its combined output.
func startRelative(t *testing.T, n *Node, env ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(testbin.Heartbeat(t), "-f", "--node", n.Spec.Name, "--bind", n.Spec.Addr,
		"--config-dir", "etc", "--state-dir", "var", "--run-dir", "run")
	cmd.Dir = n.Dir
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			syscall.Kill(pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", n.Spec.Name, out.String())
		}
	})
	return cmd, out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLoopbackRelativeDirs: heartbeat -f --config-dir etc ... started in
// the node's directory runs its resource scripts (resource.d/demo) and
// serves cl_status as with absolute paths.
func TestLoopbackRelativeDirs(t *testing.T) {
	d := newDemo(t, "on")
	hb1 := d.Nodes["hb1"]
	startRelative(t, hb1, "DEMO_DIR="+d.demoDir)
	d.start("hb2")
	d.waitHolder(t, "hb1", 20*time.Second)
	if out, code := clStatus(t, hb1, "rscstatus"); code != 0 || out != "local" {
		t.Errorf("cl_status rscstatus on hb1: exit %d %q", code, out)
	}
}
