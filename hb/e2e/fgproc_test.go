package e2e

import (
	"os/exec"
	"syscall"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/netlab"
)

// fgProc is a program a test started (heartbeat -f, mostly) in its own
// process group, with its output collected.
type fgProc struct {
	cmd  *exec.Cmd
	out  *netlab.SyncBuffer
	done chan struct{} // closed when it has exited
	pid  int
}

// startFG starts cmd with stdout and stderr collected, in its own process
// group; the test's cleanup kills the group if it is still running.
func startFG(t *testing.T, cmd *exec.Cmd) *fgProc {
	t.Helper()
	p := &fgProc{cmd: cmd, out: &netlab.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.pid = cmd.Process.Pid
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

// kill SIGKILLs the process group unless the program has exited, and
// waits for it.
func (p *fgProc) kill() {
	select {
	case <-p.done:
	default:
		syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
	}
}
