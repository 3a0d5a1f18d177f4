package daemon

import (
	"net"
	"os"
)

// sdNotify sends a state string ("READY=1", "STOPPING=1", ...) to systemd
// through $NOTIFY_SOCKET, a unix datagram socket ("@" = abstract
// namespace). Without the variable it does nothing.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}
