package daemon

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Action is what one invocation of heartbeat does.
type Action int

// Actions selected by heartbeat's flags.
const (
	ActStart   Action = iota // no action flag: start the daemon
	ActKill                  // -k: stop the running daemon
	ActStatus                // -s: report whether it runs
	ActReload                // -r: signal it to reread its config
	ActDump                  // -D: print the directive/default table
	ActVersion               // -V: print the version
)

// Default locations, as Debian's heartbeat 3.0.6 uses them.
const (
	DefaultConfigDir = "/etc/ha.d"
	DefaultStateDir  = "/var/lib/heartbeat"
	DefaultRunDir    = "/run"
)

// Options is heartbeat's parsed command line.
type Options struct {
	Action     Action
	Debug      int    // -d count
	Wiki       bool   // -W: -D prints a wiki table
	NoManage   bool   // -M: no v1 resource management
	Verbose    bool   // -v: dump the effective config after validation
	NoRealtime bool   // -l
	Foreground bool   // -f or --foreground
	Restart    bool   // -R: re-exec after a config change
	Holding    string // -C: resource holding carried by -R
	ConfigDir  string // --config-dir (default /etc/ha.d)
	StateDir   string // --state-dir (default /var/lib/heartbeat)
	RunDir     string // --run-dir (default /run): heartbeat.pid and heartbeat/ live here
	Node       string // --node: local node name instead of uname -n / nodeinfo
	// Bind (--bind ADDR) makes the ucast media receive on ADDR (and send
	// from it) instead of every address of their interface, so several
	// nodes can share one host's loopback (tests, make demo). Not a
	// heartbeat option.
	Bind string
}

// usageText is what heartbeat prints (to stderr, after a blank line) for a
// bad command line.
const usageText = "Usage: %s [-dDkMrRsvWlVf] [-C Current-resource-state]\n\t-C only valid with -R\n\t-r is mutually exclusive with -R\n"

// ExitUsage is heartbeat's exit code for a bad command line (LSB "invalid
// arguments").
const ExitUsage = 2

// parseArgs parses heartbeat's getopt option string "dDkMrRsvWlC:Vf" plus
// heartbeat-go's long options. It returns ok=false after printing the
// usage to stderr.
func parseArgs(prog string, args []string, stderr io.Writer) (Options, bool) {
	o := Options{ConfigDir: DefaultConfigDir, StateDir: DefaultStateDir, RunDir: DefaultRunDir}
	var kill, status, reload, dump, version, haveC bool
	bad := func(format string, a ...any) (Options, bool) {
		fmt.Fprintf(stderr, format, a...)
		fmt.Fprintf(stderr, "\n"+usageText, prog)
		return o, false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break // getopt stops here; heartbeat takes no operands
		}
		if strings.HasPrefix(a, "--") {
			name, val, hasVal := strings.Cut(a[2:], "=")
			long := map[string]*string{"config-dir": &o.ConfigDir, "state-dir": &o.StateDir, "run-dir": &o.RunDir, "node": &o.Node, "bind": &o.Bind}
			if name == "foreground" && !hasVal {
				o.Foreground = true
				continue
			}
			p, known := long[name]
			if !known {
				return bad("%s: unrecognized option '%s'\n", prog, a)
			}
			if !hasVal {
				if i+1 >= len(args) {
					return bad("%s: option '--%s' requires an argument\n", prog, name)
				}
				i++
				val = args[i]
			}
			*p = val
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			continue // getopt permutes operands to the end; heartbeat ignores them
		}
		for j := 1; j < len(a); j++ {
			switch c := a[j]; c {
			case 'd':
				o.Debug++
			case 'D':
				dump = true
			case 'W':
				o.Wiki = true
			case 'k':
				kill = true
			case 'M':
				o.NoManage = true
			case 'r':
				reload = true
			case 'R':
				o.Restart = true
			case 's':
				status = true
			case 'v':
				o.Verbose = true
			case 'l':
				o.NoRealtime = true
			case 'V':
				version = true
			case 'f':
				o.Foreground = true
			case 'C':
				haveC = true
				if j+1 < len(a) {
					o.Holding = a[j+1:]
				} else if i+1 < len(args) {
					i++
					o.Holding = args[i]
				} else {
					return bad("%s: option requires an argument -- 'C'\n", prog)
				}
				j = len(a)
			default:
				return bad("%s: invalid option -- '%c'\n", prog, c)
			}
		}
	}
	if haveC && !o.Restart {
		return bad("")
	}
	if reload && o.Restart {
		return bad("")
	}
	if haveC {
		switch o.Holding {
		case "none", "local", "foreign", "all":
		default:
			return bad("")
		}
	}
	// heartbeat acts on the first action flag it meets in main's order:
	// -D and -V exit at once, then -k, -s, -r.
	switch {
	case dump:
		o.Action = ActDump
	case version:
		o.Action = ActVersion
	case kill:
		o.Action = ActKill
	case status:
		o.Action = ActStatus
	case reload:
		o.Action = ActReload
	}
	// Resource scripts run with the config directory as a path prefix and
	// children may change directory: a relative --config-dir, --state-dir
	// or --run-dir is resolved against the directory heartbeat started in.
	for _, p := range []*string{&o.ConfigDir, &o.StateDir, &o.RunDir} {
		if *p != "" && !filepath.IsAbs(*p) {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	return o, true
}
