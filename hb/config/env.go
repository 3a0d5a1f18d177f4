package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"
)

// Iface is what the media checks need to know about a network interface.
type Iface struct {
	IPv4      bool // has an IPv4 address (mcast)
	Broadcast bool // has an IPv4 broadcast address (bcast)
}

// Env answers the questions about the machine that heartbeat asks while it
// reads its configuration. A nil function skips that check: Offline()
// skips them all, for checking files away from the node that runs them.
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
}

// Offline returns an Env that checks nothing on the machine (the node
// name must then be given, or it is taken from os.Hostname).
func Offline() Env {
	return Env{Hostname: os.Hostname, ReadFile: os.ReadFile}
}

// OSEnv returns an Env that asks this machine, as heartbeat would when
// started here.
func OSEnv() Env {
	return Env{
		Hostname: os.Hostname,
		LookupHost: func(host string) error {
			if net.ParseIP(host) != nil {
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := net.DefaultResolver.LookupHost(ctx, host)
			return err
		},
		LookupUser: func(name string) error {
			_, err := user.Lookup(name)
			return err
		},
		LookupGroup: func(name string) error {
			_, err := user.LookupGroup(name)
			return err
		},
		Interface: func(name string) (Iface, error) {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return Iface{}, err
			}
			var out Iface
			addrs, _ := ifi.Addrs()
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
					out.IPv4 = true
					if ifi.Flags&net.FlagBroadcast != 0 {
						out.Broadcast = true
					}
				}
			}
			return out, nil
		},
		Executable: func(path string) error {
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
				return fmt.Errorf("%s: not executable", path)
			}
			return nil
		},
		Device: func(path string) error {
			_, err := os.Stat(path)
			return err
		},
		StonithType: func(name string) error {
			p := filepath.Join("/usr/lib/stonith/plugins/stonith2", name+".so")
			if rest, ok := strings.CutPrefix(name, "external/"); ok {
				p = filepath.Join("/usr/lib/stonith/plugins/external", rest)
			}
			if _, err := os.Stat(p); err != nil {
				return errors.New("no such STONITH plugin")
			}
			return nil
		},
		ReadFile: os.ReadFile,
	}
}
