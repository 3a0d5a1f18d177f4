package media

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// OpenError is a medium that could not be opened when the daemon starts.
// Heartbeat 3.0.6 does not start then, whatever its other media do: it
// logs "make_io_childpair: cannot open <medium>" and goes down (see
// hb/daemon/testdata/media-open-verdicts.txt). Error is heartbeat-go's
// own wording: the ha.cf medium, what failed, and what to check.
type OpenError struct {
	Name string // the medium as in ha.cf ("ucast eth0 198.18.0.2")
	Kind Kind
	Link string // interface or device
	Err  error  // why opening failed
}

func (e *OpenError) Error() string {
	var b strings.Builder
	b.WriteString(e.Name)
	b.WriteString(": cannot open the medium: ")
	b.WriteString(e.Err.Error())
	b.WriteString("; heartbeat does not start unless every medium in ha.cf opens")
	if h := e.hint(); h != "" {
		b.WriteString(" (")
		b.WriteString(h)
		b.WriteString(")")
	}
	return b.String()
}

func (e *OpenError) Unwrap() error { return e.Err }

// hint says what to check for the common causes.
func (e *OpenError) hint() string {
	switch {
	case errors.Is(e.Err, unix.ENODEV) || errors.Is(e.Err, unix.ENXIO):
		if e.Kind == KindSerial {
			return "expected an existing serial device " + e.Link
		}
		return "expected an existing network interface " + e.Link
	case errors.Is(e.Err, unix.ENOENT):
		return "expected an existing device " + e.Link
	case errors.Is(e.Err, unix.EADDRINUSE):
		return "another program holds the port"
	case errors.Is(e.Err, unix.EACCES) || errors.Is(e.Err, unix.EPERM):
		return "heartbeat runs as root"
	}
	return ""
}
