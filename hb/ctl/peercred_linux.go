package ctl

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerOf reads the connecting process's credentials (SO_PEERCRED).
func peerOf(c *net.UnixConn) peer {
	raw, err := c.SyscallConn()
	if err != nil {
		return peer{}
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil || cred == nil {
		return peer{}
	}
	return peer{uid: int(cred.Uid), gid: int(cred.Gid), pid: int(cred.Pid), known: true}
}
