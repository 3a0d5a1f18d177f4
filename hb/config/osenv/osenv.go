// Package osenv answers hb/config's questions about the machine (host
// names, users, groups, interfaces, programs, serial ports, STONITH
// plugins) from the running system. It is kept out of hb/config so that
// package stays free of network code.
package osenv

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

	"github.com/heartbeat-go/heartbeat/hb/config"
)

// Env returns a config.Env that asks this machine, as heartbeat would when
// started here: DNS and /etc/hosts, the user and group databases, the
// network interfaces, the file system.
func Env() config.Env {
	return config.Env{
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
		Interface: func(name string) (config.Iface, error) {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return config.Iface{}, errors.New("no such device")
			}
			var out config.Iface
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
