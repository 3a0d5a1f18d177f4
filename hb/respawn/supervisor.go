package respawn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Spec is one child to run: a respawn or failfast line.
type Spec struct {
	User     string // user name or numeric uid
	Command  string // the whole command line, run by /bin/sh -c "exec ..."
	Path     string // the program (first word), checked for execute permission
	FailFast bool
}

// Cred is who a child runs as.
type Cred struct {
	UID, GID uint32
	Groups   []uint32
}

// Options configure a Supervisor.
type Options struct {
	Log *slog.Logger
	// Policy times; zero values are heartbeat's.
	ShortRun time.Duration
	MaxShort int
	Delay    time.Duration
	// StopTimeout bounds the wait for one child after SIGTERM before it
	// gets SIGKILL; 0 means 30 s.
	StopTimeout time.Duration
	// Lookup resolves a user; nil uses the system's user database.
	Lookup func(name string) (Cred, error)
	// Reboot is called when a failfast child fails; nil only logs.
	Reboot func(reason string)
	// Shell runs the command line; default /bin/sh.
	Shell string
}

// State is one child's state, for status reports.
type State struct {
	Command  string    `json:"command"`
	User     string    `json:"user"`
	PID      int       `json:"pid,omitempty"` // 0 when not running
	Starts   int       `json:"starts"`
	LastExit string    `json:"last_exit,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	Stopped  bool      `json:"stopped,omitempty"` // not restarted any more
}

// Supervisor runs children and restarts them.
type Supervisor struct {
	o        Options
	mu       sync.Mutex
	children []*child
	stopping bool
	wg       sync.WaitGroup
}

type child struct {
	spec   Spec
	policy Policy
	cred   Cred
	st     State
	proc   *os.Process
	exited chan struct{} // closed when the current process was reaped
	cancel chan struct{} // closed to stop restarting
	done   chan struct{} // closed when the supervising goroutine ends
}

// New makes a Supervisor.
func New(o Options) *Supervisor {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Lookup == nil {
		o.Lookup = LookupUser
	}
	if o.Shell == "" {
		o.Shell = "/bin/sh"
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 30 * time.Second
	}
	return &Supervisor{o: o}
}

// LookupUser resolves a user name (or numeric uid) to its uid, primary
// gid and supplementary groups.
func LookupUser(name string) (Cred, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.Atoi(name); nerr == nil {
			u, err = user.LookupId(name)
		}
		if err != nil {
			return Cred{}, err
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return Cred{}, fmt.Errorf("user %s: %w", name, err)
	}
	c := Cred{UID: uint32(uid), GID: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				c.Groups = append(c.Groups, uint32(n))
			}
		}
	}
	return c, nil
}

// Start starts a child and keeps it running. It returns an error (and
// logs it) when the user is unknown; a program that cannot be executed is
// logged as heartbeat logs it and not started.
func (s *Supervisor) Start(sp Spec) error {
	cred, err := s.o.Lookup(sp.User)
	if err != nil {
		s.o.Log.Error(fmt.Sprintf("Cannot start child client \"%s\": unknown user %s: %v", sp.Command, sp.User, err))
		return err
	}
	if sp.Path == "" {
		sp.Path, _, _ = strings.Cut(strings.TrimSpace(sp.Command), " ")
	}
	c := &child{spec: sp, cred: cred, cancel: make(chan struct{}), done: make(chan struct{}),
		policy: Policy{ShortRun: s.o.ShortRun, MaxShort: s.o.MaxShort, Delay: s.o.Delay, FailFast: sp.FailFast},
		st:     State{Command: sp.Command, User: sp.User}}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return errors.New("shutting down")
	}
	s.children = append(s.children, c)
	s.wg.Add(1)
	s.mu.Unlock()
	s.o.Log.Info(fmt.Sprintf("Starting child client \"%s\" (%d,%d)", sp.Command, cred.UID, cred.GID))
	go s.supervise(c)
	return nil
}

func (s *Supervisor) supervise(c *child) {
	defer s.wg.Done()
	defer close(c.done)
	var delay time.Duration
	for {
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-c.cancel:
				t.Stop()
				return
			}
		}
		if unix.Access(c.spec.Path, unix.X_OK) != nil {
			s.o.Log.Error(fmt.Sprintf("Cannot exec %s", c.spec.Command))
			s.mu.Lock()
			c.st.Stopped = true
			s.mu.Unlock()
			return
		}
		started := time.Now()
		p, err := s.spawn(c)
		if err != nil {
			s.o.Log.Error(fmt.Sprintf("Cannot exec %s: %v", c.spec.Command, err))
			s.mu.Lock()
			c.st.Stopped = true
			s.mu.Unlock()
			return
		}
		s.o.Log.Info(fmt.Sprintf("Starting \"%s\" as uid %d  gid %d (pid %d)", c.spec.Command, c.cred.UID, c.cred.GID, p.Pid))
		ps, _ := p.Wait()
		at := time.Now()
		e := exitOf(ps)
		s.mu.Lock()
		c.st.PID, c.proc = 0, nil
		close(c.exited)
		c.st.LastExit = describe(e)
		stopping := s.stopping || isClosed(c.cancel)
		s.mu.Unlock()
		if e.Signaled {
			s.o.Log.Warn(fmt.Sprintf("Managed %s process %d killed by signal %d [%s - %s].",
				c.spec.Command, p.Pid, e.Signal, unix.SignalName(syscall.Signal(e.Signal)), syscall.Signal(e.Signal)))
		} else {
			s.o.Log.Warn(fmt.Sprintf("Managed %s process %d exited with return code %d.", c.spec.Command, p.Pid, e.Code))
		}
		d := c.policy.Died(started, at, e, stopping)
		switch {
		case d.Reboot:
			why := fmt.Sprintf("failfast child %s failed (%s)", c.spec.Command, describe(e))
			s.o.Log.Error(why + ": rebooting")
			if s.o.Reboot != nil {
				s.o.Reboot(why)
			}
			return
		case d.TooFast:
			s.o.Log.Error(fmt.Sprintf("Client %s \"respawning too fast\"", c.spec.Command))
		case d.Restart:
			s.o.Log.Error(fmt.Sprintf("Respawning client \"%s\":", c.spec.Command))
			delay = d.Delay
			continue
		}
		s.mu.Lock()
		c.st.Stopped = true
		s.mu.Unlock()
		return
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (s *Supervisor) spawn(c *child) (*os.Process, error) {
	cmd := exec.Command(s.o.Shell, "-c", "exec "+c.spec.Command)
	attr := &syscall.SysProcAttr{Setpgid: true}
	if uint32(os.Geteuid()) != c.cred.UID || uint32(os.Getegid()) != c.cred.GID || os.Geteuid() == 0 {
		attr.Credential = &syscall.Credential{Uid: c.cred.UID, Gid: c.cred.GID, Groups: c.cred.Groups}
	}
	cmd.SysProcAttr = attr
	cmd.Dir = "/"
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || isClosed(c.cancel) {
		return nil, errors.New("shutting down")
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c.proc = cmd.Process
	c.exited = make(chan struct{})
	c.st.PID = cmd.Process.Pid
	c.st.Starts++
	c.st.Since = time.Now()
	return cmd.Process, nil
}

func exitOf(ps *os.ProcessState) Exit {
	if ps == nil {
		return Exit{Code: -1}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return Exit{Signaled: true, Signal: int(ws.Signal())}
	}
	return Exit{Code: ps.ExitCode()}
}

func describe(e Exit) string {
	if e.Signaled {
		return fmt.Sprintf("signal %d", e.Signal)
	}
	return fmt.Sprintf("exit %d", e.Code)
}

// Stop stops restarting and terminates the children in reverse order,
// each whole process group with SIGTERM, waiting for each before the
// next (SIGKILL after StopTimeout or when ctx ends). Stopping twice is
// harmless.
func (s *Supervisor) Stop(ctx context.Context) {
	s.mu.Lock()
	s.stopping = true
	kids := append([]*child(nil), s.children...)
	s.mu.Unlock()
	for i := len(kids) - 1; i >= 0; i-- {
		c := kids[i]
		s.mu.Lock()
		if isClosed(c.cancel) {
			s.mu.Unlock()
			continue
		}
		close(c.cancel)
		p, exited := c.proc, c.exited
		s.mu.Unlock()
		if p == nil {
			s.o.Log.Info(fmt.Sprintf("client [%s] is not running.", c.spec.Command))
			<-c.done
			continue
		}
		s.o.Log.Info(fmt.Sprintf("killing %s process group %d with signal 15", c.spec.Command, p.Pid))
		syscall.Kill(-p.Pid, syscall.SIGTERM)
		t := time.NewTimer(s.o.StopTimeout)
		select {
		case <-exited:
		case <-t.C:
			syscall.Kill(-p.Pid, syscall.SIGKILL)
			<-exited
		case <-ctx.Done():
			syscall.Kill(-p.Pid, syscall.SIGKILL)
			<-exited
		}
		t.Stop()
		<-c.done
	}
	s.wg.Wait()
}

// States reports every child, in start order.
func (s *Supervisor) States() []State {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []State
	for _, c := range s.children {
		out = append(out, c.st)
	}
	return out
}
