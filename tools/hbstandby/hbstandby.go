// Package hbstandby implements the `hb_standby` tool of the heartbeat
// multi-call binary, and the request machinery hb_takeover shares.
//
// `hb_standby [all|local|foreign|failback]` asks the local daemon to give
// up resources so that the peer takes them over; `failback` means foreign,
// no argument means all. Arguments, output texts and exit codes are
// heartbeat 3.0.6's (/usr/share/heartbeat/hb_standby). The request goes to
// the daemon's control socket (package ctl). When no heartbeat-go daemon
// answers but heartbeat 3.0.6's FIFO ($HA_FIFO, /var/lib/heartbeat/fifo)
// has a reader (the C daemon still runs on this node), the request is
// written there byte for byte as heartbeat's scripts write it. A stopped
// daemon gives an error and exit 1 at once where heartbeat's script would
// block forever.
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
	// FIFO is heartbeat 3.0.6's command FIFO (HA_FIFO), used when no
	// heartbeat-go daemon answers: the C daemon may still run on this
	// node. "" disables it.
	FIFO string
}

// DefaultFIFO is heartbeat 3.0.6's FIFO on Debian.
const DefaultFIFO = "/var/lib/heartbeat/fifo"

// FromEnv fills a Tool from the process environment: $0 (when the binary
// was called by the tool's name), HA_RUNDIR, HA_LOGFILE, the terminal.
func FromEnv(name string, standby bool, stderr io.Writer) Tool {
	t := Tool{Name: name, Path: "/usr/share/heartbeat/" + name, Standby: standby,
		RunDir: ctl.DefaultRunDir, Now: time.Now, LogFile: os.Getenv("HA_LOGFILE"), FIFO: DefaultFIFO}
	if f := os.Getenv("HA_FIFO"); f != "" {
		t.FIFO = f
	}
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
		case ctl.NotRunning(err) && t.FIFO != "":
			return t.viaFIFO(what, stderr)
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

// viaFIFO sends the request as heartbeat 3.0.6's scripts do: a message
// written into the daemon's FIFO. Unlike the scripts it does not block
// when no daemon reads the FIFO: that is "not running".
func (t Tool) viaFIFO(what ctl.What, stderr io.Writer) int {
	msg := fmt.Sprintf(">>>\nt=hb_takeover\nrsc_hold=%s\n<<<\n", what)
	if t.Standby {
		msg = fmt.Sprintf(">>>\nt=ask_resources\nrsc_hold=%s\ninfo=me\n<<<\n", what)
	}
	fi, err := os.Stat(t.FIFO)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		fmt.Fprintf(stderr, "%s: heartbeat is not running (no control socket at %s)\n", t.Path, ctl.SocketPath(t.RunDir))
		return 1
	}
	fd, err := unix.Open(t.FIFO, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENXIO) {
			fmt.Fprintf(stderr, "%s: heartbeat is not running (nobody reads %s)\n", t.Path, t.FIFO)
		} else {
			fmt.Fprintf(stderr, "%s: cannot reach heartbeat: %s: %v\n", t.Path, t.FIFO, err)
		}
		return 1
	}
	defer unix.Close(fd)
	if t.Standby {
		t.log(stderr, fmt.Sprintf("Going standby [%s].", what))
	}
	// One write of less than PIPE_BUF bytes: the daemon gets it whole.
	if n, err := unix.Write(fd, []byte(msg)); err != nil || n != len(msg) {
		fmt.Fprintf(stderr, "%s: writing to %s: %v\n", t.Path, t.FIFO, err)
		return 1
	}
	return 0
}
