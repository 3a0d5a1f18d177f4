// Package hbstandby implements the `hb_standby` tool of the heartbeat
// multi-call binary, and the request machinery hb_takeover shares.
//
// `hb_standby [all|local|foreign|failback]` asks the local daemon to give
// up resources so that the peer takes them over; `failback` means foreign,
// no argument means all. Arguments, output texts and exit codes are
// heartbeat 3.0.6's (/usr/share/heartbeat/hb_standby). The request goes to
// the daemon's control socket (package ctl) instead of heartbeat's FIFO,
// so a stopped daemon gives an error and exit 1 at once where heartbeat's
// script would block forever.
package hbstandby

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
)

// Tool describes one of the two request tools.
type Tool struct {
	Name    string // "hb_standby"
	Path    string // $0 in messages, e.g. /usr/share/heartbeat/hb_standby
	Standby bool   // hb_standby (else hb_takeover)
	RunDir  string // control socket directory
	Now     func() time.Time
	LogFile string // HA_LOGFILE: log here instead of stderr
	TTY     bool   // stderr is a terminal: log without a date
}

// FromEnv fills a Tool from the process environment: $0 (when the binary
// was called by the tool's name), HA_RUNDIR, HA_LOGFILE, the terminal.
func FromEnv(name string, standby bool, stderr io.Writer) Tool {
	t := Tool{Name: name, Path: "/usr/share/heartbeat/" + name, Standby: standby,
		RunDir: ctl.DefaultRunDir, Now: time.Now, LogFile: os.Getenv("HA_LOGFILE")}
	if len(os.Args) > 0 && filepath.Base(os.Args[0]) == name {
		t.Path = os.Args[0]
	}
	if d := os.Getenv("HA_RUNDIR"); d != "" {
		t.RunDir = d
	}
	if f, ok := stderr.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		t.TTY = err == nil
	}
	return t
}

// Run runs hb_standby with args (without the program name) and returns
// its exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return FromEnv("hb_standby", true, stderr).Run(ctx, args, stdout, stderr)
}

func (t Tool) usage(stdout, stderr io.Writer) int {
	fmt.Fprintln(stdout, "usage:")
	fmt.Fprintf(stderr, "%s [all|foreign|local|failback]\n", t.Path)
	return 1
}

// Run checks args as heartbeat's script does and sends the request.
func (t Tool) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) >= 2 && args[0] == "--run-dir" {
		t.RunDir, args = args[1], args[2:]
	} else if len(args) >= 1 && strings.HasPrefix(args[0], "--run-dir=") {
		t.RunDir, args = strings.TrimPrefix(args[0], "--run-dir="), args[1:]
	}
	if len(args) >= 2 {
		fmt.Fprintf(stdout, "%s: too many arguments\n", t.Path)
		return t.usage(stdout, stderr)
	}
	arg := "all"
	if len(args) == 1 {
		arg = args[0]
	}
	if arg == "--help" {
		return t.usage(stdout, stderr)
	}
	what, err := ctl.ParseWhat(arg)
	if err != nil {
		fmt.Fprintf(stdout, "%s: wrong resources(%s).\n", t.Path, arg)
		return t.usage(stdout, stderr)
	}
	if t.Standby && what == ctl.WhatFailback {
		what = ctl.WhatForeign
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := ctl.Dial(ctx, t.RunDir)
	if err != nil {
		switch {
		case ctl.NotRunning(err):
			fmt.Fprintf(stderr, "%s: heartbeat is not running (no control socket at %s)\n", t.Path, ctl.SocketPath(t.RunDir))
		default:
			fmt.Fprintf(stderr, "%s: cannot reach heartbeat: %v\n", t.Path, err)
		}
		return 1
	}
	defer c.Close()
	if t.Standby {
		t.log(stderr, fmt.Sprintf("Going standby [%s].", what))
		err = c.Standby(ctx, what)
	} else {
		err = c.Takeover(ctx, what)
	}
	if err != nil {
		if errors.Is(err, ctl.ErrDenied) {
			fmt.Fprintf(stderr, "%s: heartbeat refused the request: only root may change resources\n", t.Path)
		} else {
			fmt.Fprintf(stderr, "%s: heartbeat refused the request: %v\n", t.Path, err)
		}
		return 1
	}
	return 0
}

// log writes a line as heartbeat's ha_log does for a script: into
// HA_LOGFILE when set, else on stderr, with a date unless on a terminal.
func (t Tool) log(stderr io.Writer, msg string) {
	stamp := t.Now().Format("Jan 02 15:04:05") + " "
	if t.LogFile != "" {
		f, err := os.OpenFile(t.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			_, err = fmt.Fprintf(f, "%s%s\n", stamp, msg)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err == nil {
			return
		}
	}
	if t.TTY {
		stamp = ""
	}
	fmt.Fprintf(stderr, "%s%s\n", stamp, msg)
}
