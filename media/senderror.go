package media

import (
	"fmt"
	"net"
)

// SendError is a datagram the kernel refused to send: which medium, to
// where, how long, and the errno. Its text is the one UDP media always
// returned; the fields let the daemon log the failure in heartbeat's
// shape (see hb/daemon/testdata/send-errors.txt).
type SendError struct {
	Kind  Kind
	Iface string
	Dest  *net.UDPAddr
	Len   int
	Err   error // usually a syscall.Errno
}

func (e *SendError) Error() string {
	return fmt.Sprintf("Unable to send %s packet %s %s len=%d: %v", e.Kind, e.Iface, e.Dest, e.Len, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }
