package cib

import (
	"strings"

	"github.com/heartbeat-go/heartbeat/hb/diag"
)

// HaCf holds the few ha.cf settings the conversion uses, read the way
// heartbeat 3.0.6 reads ha.cf (comment from the first '#', no
// continuation, directive names case-sensitive).
type HaCf struct {
	Path         string
	Nodes        []string // "node" names, in order (duplicates dropped)
	Ping         []Ping   // "ping" hosts and "ping_group" groups
	PingLine     int      // first ping/ping_group line, 0 if none
	Respawn      []Respawn
	AutoFailback string // "on", "off" or "legacy" (heartbeat's default)
	FailbackLine int    // line of the auto_failback directive in force, 0 if none
	StonithHosts []StonithHost
	Stonith      []Line // "stonith TYPE FILE" lines
}

// Ping is one ping node: a "ping" host or a "ping_group" name and its hosts.
type Ping struct {
	Name  string
	Hosts []string
	Line  int
}

// Respawn is one "respawn USER COMMAND" line.
type Respawn struct {
	User, Command string
	Line          int
}

// StonithHost is one "stonith_host HOST TYPE PARAM..." line.
type StonithHost struct {
	Host, Type string
	Params     []string
	Line       int
}

// Line is a directive's raw value and where it was.
type Line struct {
	Value string
	Line  int
}

// ReadHaCf reads the settings the converter needs from ha.cf contents. It
// validates only what it uses; other directives are ignored.
func ReadHaCf(data []byte, path string) (*HaCf, diag.List) {
	cf := &HaCf{Path: path, AutoFailback: "legacy"}
	var probs diag.List
	seen := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if j := strings.IndexAny(line, "#\r"); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimLeft(line, " \t\f")
		name, rest, _ := strings.Cut(line, " ")
		if k := strings.IndexAny(name, "\t\f,"); k >= 0 {
			name, rest = name[:k], name[k+1:]+" "+rest
		}
		rest = strings.Trim(rest, " \t\f,")
		switch name {
		case "node":
			for _, nd := range splitDelims(rest) {
				if !seen[strings.ToLower(nd)] {
					seen[strings.ToLower(nd)] = true
					cf.Nodes = append(cf.Nodes, nd)
				}
			}
		case "ping", "ping6":
			for _, h := range splitDelims(rest) {
				cf.Ping = append(cf.Ping, Ping{Name: h, Hosts: []string{h}, Line: n})
			}
			if cf.PingLine == 0 {
				cf.PingLine = n
			}
		case "ping_group":
			f := strings.Fields(rest)
			if len(f) < 2 {
				probs.Errorf(path, n, name, "ping_group needs a name and at least one host")
				continue
			}
			cf.Ping = append(cf.Ping, Ping{Name: f[0], Hosts: f[1:], Line: n})
			if cf.PingLine == 0 {
				cf.PingLine = n
			}
		case "respawn":
			f := strings.Fields(rest)
			if len(f) < 2 {
				probs.Errorf(path, n, name, "respawn needs a user and a command")
				continue
			}
			cf.Respawn = append(cf.Respawn, Respawn{User: f[0], Command: strings.Join(f[1:], " "), Line: n})
		case "auto_failback":
			for _, v := range splitDelims(rest) {
				switch strings.ToLower(v) {
				case "on", "yes", "true", "y", "1":
					cf.AutoFailback = "on"
				case "off", "no", "false", "n", "0":
					cf.AutoFailback = "off"
				case "legacy":
					cf.AutoFailback = "legacy"
				default:
					probs.Errorf(path, n, name, "auto_failback %q: expected on, off or legacy", v)
					continue
				}
				cf.FailbackLine = n
			}
		case "stonith_host":
			f := strings.Fields(rest)
			if len(f) < 2 {
				probs.Errorf(path, n, name, "stonith_host needs a host (or *) and a stonith type")
				continue
			}
			cf.StonithHosts = append(cf.StonithHosts, StonithHost{Host: f[0], Type: f[1], Params: f[2:], Line: n})
		case "stonith":
			cf.Stonith = append(cf.Stonith, Line{Value: rest, Line: n})
		}
	}
	return cf, probs
}

func splitDelims(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '\f' })
}

// pingd reports the respawn line running ipfail or pingd, if any.
func (cf *HaCf) pingd() (Respawn, bool) {
	for _, r := range cf.Respawn {
		cmd, _, _ := strings.Cut(r.Command, " ")
		if b := cmd[strings.LastIndexByte(cmd, '/')+1:]; b == "ipfail" || b == "pingd" {
			return r, true
		}
	}
	return Respawn{}, false
}
