package config

import "os"

// Iface is what the media checks need to know about a network interface.
type Iface struct {
	IPv4      bool // has an IPv4 address (bcast and mcast need one)
	Broadcast bool // has the broadcast flag (informational: "bcast lo" works)
}

// Env answers the questions about the machine that heartbeat asks while it
// reads its configuration. A nil function skips that check. Offline()
// skips them all, for checking files away from the node that runs them;
// package osenv asks the real machine, as heartbeat does.
type Env struct {
	// Hostname returns uname -n. Not used when a node name is given.
	Hostname func() (string, error)
	// LookupHost resolves a ucast peer or ping host.
	LookupHost func(host string) error
	// LookupUser and LookupGroup check respawn and apiauth names.
	LookupUser  func(name string) error
	LookupGroup func(name string) error
	// Interface describes a bcast/mcast/ucast interface.
	Interface func(name string) (Iface, error)
	// Executable checks a respawn program or a Pacemaker daemon.
	Executable func(path string) error
	// Device checks that a serial port exists.
	Device func(path string) error
	// StonithType checks that a STONITH plugin exists.
	StonithType func(name string) error
	// ReadFile reads the optional nodeinfo file; nil means it is not read.
	ReadFile func(path string) ([]byte, error)
	// UcastIfaceAtOpen leaves a ucast line's interface unchecked:
	// heartbeat 3.0.6 accepts the config and finds a missing interface
	// only when it opens the medium, after it has started (exit 1, not
	// 6). The daemon sets it and fails there; --check reports it. (A
	// ucast6 interface is checked either way: heartbeat checks it while
	// reading ha.cf.)
	UcastIfaceAtOpen bool
}

// Offline returns an Env that checks nothing on the machine; the node name
// still comes from nodeinfo or the host name when it is not given.
func Offline() Env {
	return Env{Hostname: os.Hostname, ReadFile: os.ReadFile}
}
