package ipfail

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/config"
)

// DefaultPingdAttr is the node attribute pingd publishes by default.
const DefaultPingdAttr = "pingd"

// Pingd is a "respawn USER .../pingd ARGS" line's options: pingd publishes
// Multiplier × (number of reachable ping nodes) as a node attribute,
// waiting Dampen for further changes before it publishes.
type Pingd struct {
	Multiplier int           // -m, --multiplier; default 1
	Dampen     time.Duration // -d, --dampen; plain seconds, 500ms, 5s, 1min; default 0
	Attr       string        // -a, --attr-name; default "pingd"
	Hosts      []string      // -h, --ping-host: count only these ping nodes; default all
}

// ParsePingd parses pingd's command-line options (after the program
// name). Options heartbeat-go has no use for (-p pidfile, -D, -V, -U, -s
// set, -S section, -i interval) are accepted and ignored; anything else
// is an error naming the option.
func ParsePingd(args []string) (Pingd, error) {
	p := Pingd{Multiplier: 1, Attr: DefaultPingdAttr}
	withValue := map[string]string{
		"-m": "m", "--multiplier": "m", "-d": "d", "--dampen": "d", "-a": "a", "--attr-name": "a",
		"-h": "h", "--ping-host": "h", "-p": "", "--pid-file": "", "-U": "", "--user": "", "-s": "",
		"--attr-set": "", "-S": "", "--attr-section": "", "-i": "", "--interval": "", "-t": "", "--timeout": "",
	}
	flags := map[string]bool{"-D": true, "--daemonize": true, "-V": true, "--verbose": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, inline := a, "", false
		if strings.HasPrefix(a, "--") {
			if k, v, ok := strings.Cut(a, "="); ok {
				name, val, inline = k, v, true
			}
		} else if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			if _, ok := withValue[a[:2]]; ok {
				name, val, inline = a[:2], a[2:], true
			}
		}
		if flags[name] {
			continue
		}
		what, ok := withValue[name]
		if !ok {
			return p, fmt.Errorf("pingd: unknown option %q", a)
		}
		if !inline {
			if i+1 >= len(args) {
				return p, fmt.Errorf("pingd: option %s needs a value", name)
			}
			i++
			val = args[i]
		}
		switch what {
		case "m":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return p, fmt.Errorf("pingd: bad multiplier %q (want a whole number >= 0)", val)
			}
			p.Multiplier = n
		case "d":
			d, ok := config.ParseTime(val)
			if !ok {
				// pingd reads times as Pacemaker does: 5s, 1min, 500ms.
				var err error
				d, err = time.ParseDuration(strings.Replace(val, "min", "m", 1))
				ok = err == nil
			}
			if !ok || d < 0 {
				return p, fmt.Errorf("pingd: bad dampen %q (want a time such as 5s or 500ms)", val)
			}
			p.Dampen = d
		case "a":
			if val == "" {
				return p, fmt.Errorf("pingd: empty attribute name")
			}
			p.Attr = val
		case "h":
			p.Hosts = append(p.Hosts, strings.ToLower(val))
		}
	}
	return p, nil
}

// Score is the pingd connectivity score of one node: Multiplier × the
// reachable ping nodes, published once a change has held for Dampen.
type Score struct {
	cfg       Pingd
	value     int // published
	published bool
	pending   int
	since     time.Time // when pending was first seen; zero when nothing pending
}

// NewScore makes a score tracker.
func NewScore(p Pingd) *Score { return &Score{cfg: p} }

// Config returns the options.
func (s *Score) Config() Pingd { return s.cfg }

// Update gives the current count of reachable ping nodes (of cfg.Hosts
// when set). It reports whether the published value changed now.
func (s *Score) Update(now time.Time, count int) bool {
	v := count * s.cfg.Multiplier
	if s.published && v == s.value {
		s.since = time.Time{}
		return false
	}
	if s.since.IsZero() || v != s.pending {
		s.pending, s.since = v, now
	}
	return s.Tick(now)
}

// Tick publishes a pending value whose dampening passed.
func (s *Score) Tick(now time.Time) bool {
	if s.since.IsZero() || now.Sub(s.since) < s.cfg.Dampen {
		return false
	}
	s.value, s.published, s.since = s.pending, true, time.Time{}
	return true
}

// Wake is when Tick must run to publish a pending value; zero if none.
func (s *Score) Wake() time.Time {
	if s.since.IsZero() {
		return time.Time{}
	}
	return s.since.Add(s.cfg.Dampen)
}

// Value returns the published score and whether one was published yet.
func (s *Score) Value() (int, bool) { return s.value, s.published }
