// Package hacf reads heartbeat's ha.cf the way heartbeat 3.0.6 lexes it:
// lines of at most 5119 bytes (longer ones are split, as fgets does), the
// first '#' anywhere ends the line, everything from the first CR or LF is
// cut, leading blanks are skipped, the directive name is the first run of
// non-blank characters (matched case-sensitively) and the rest of the line
// is either split into tokens on commas and blanks (scalar directives and
// the per-token media bcast, serial, ping, ping6) or handed over whole
// (mcast, mcast6, ucast, ucast6, ping_group, apiauth, respawn, failfast,
// stonith, stonith_host), which split it on blanks only.
//
// The package is syntactic: it knows which directives exist and how their
// values are tokenised, and reports illegal directives with the nearest
// valid name. What the values mean, their defaults and their validation
// live in hb/config.
//
// The grammar is line oriented with C quirks (the 5119-byte split, '#'
// inside a token, commas as separators for some directives but not for
// others), so a hand-written lexer that mirrors those rules is used instead
// of a participle grammar; every directive keeps its line number.
//
// Cost (BenchmarkParse200Nodes, a 208-line ha.cf with 200 node lines):
// about 50 µs of CPU and 426 allocations per file on the 2-core build VM
// (wall time under load was 0.2-0.45 ms).
package hacf

import (
	"bytes"
	"strings"

	"github.com/heartbeat-go/heartbeat/hb/diag"
)

// MaxLine is the longest line heartbeat reads in one go (fgets with a
// 5120-byte buffer); the rest of a longer line is read as a new line.
const MaxLine = 5120 - 1

// maxSuggestions bounds the work spent on "did you mean" hints.
const maxSuggestions = 1000

const (
	whitespace = " \t\n\r\f"
	delims     = ", \t\n\r\f"
)

// Shape says how a directive's value is tokenised.
type Shape int

const (
	// PerToken: the value is split on commas and blanks and the
	// directive applies once per token (node, keepalive, bcast, ping ...).
	PerToken Shape = iota
	// WholeLine: the directive receives the rest of the line and splits
	// it on blanks itself (mcast, ucast, ping_group, apiauth, respawn ...).
	WholeLine
)

// Kind groups directives by what they configure.
type Kind int

const (
	// Scalar directives set one parameter (keepalive, node, crm ...).
	Scalar Kind = iota
	// Medium directives create heartbeat media (bcast, ucast, serial, ping ...).
	Medium
	// Builtin whole-line directives (apiauth, respawn, failfast, stonith, stonith_host).
	Builtin
)

// Spec describes one directive heartbeat 3.0.6 accepts.
type Spec struct {
	Name  string
	Shape Shape
	Kind  Kind
}

// Directive is one non-blank, non-comment line of ha.cf.
type Directive struct {
	Name    string   // canonical name ("bcast" for a "udp" line)
	Written string   // name as written
	Line    int      // 1-based physical line number
	Rest    string   // the value as heartbeat hands it to whole-line handlers
	Args    []string // the value split as heartbeat splits it for this directive
}

// Value returns the value as a single string (the rest of the line).
func (d Directive) Value() string { return d.Rest }

// File is a parsed ha.cf.
type File struct {
	Path       string
	Directives []Directive
}

// Lookup returns the directives named name (canonical), in file order.
func (f *File) Lookup(name string) []Directive {
	var out []Directive
	for _, d := range f.Directives {
		if d.Name == name {
			out = append(out, d)
		}
	}
	return out
}

// Parse reads an ha.cf file's contents. path is used in problems. Every
// line is parsed; illegal directives are reported (each with the nearest
// valid directive name) and left out of the result.
func Parse(data []byte, path string) (*File, diag.List) {
	f := &File{Path: path}
	var probs diag.List
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var phys []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			phys, data = data[:i+1], data[i+1:]
		} else {
			phys, data = data, nil
		}
		// fgets hands out at most MaxLine bytes at a time.
		for len(phys) > 0 {
			n := min(len(phys), MaxLine)
			parseLine(f, &probs, phys[:n], lineNo)
			phys = phys[n:]
		}
	}
	return f, probs
}

func parseLine(f *File, probs *diag.List, raw []byte, lineNo int) {
	// C string functions stop at a NUL byte.
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		raw = raw[:i]
	}
	s := string(raw)
	s = strings.TrimLeft(s, whitespace)
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return
	}
	nameLen := strings.IndexAny(s, whitespace)
	if nameLen < 0 {
		nameLen = len(s)
	}
	written := s[:nameLen]
	rest := strings.TrimLeft(s[nameLen:], delims)

	name := written
	if name == "udp" {
		name = "bcast"
		probs.Warnf(f.Path, lineNo, written, "directive 'udp' replaced by 'bcast' (heartbeat 3.0.6 treats udp as an old name for bcast)")
	}
	spec, ok := specs[name]
	if !ok {
		// Suggestions cost an edit distance per known name; a file of
		// garbage gets them only for its first illegal lines.
		near := ""
		if len(*probs) < maxSuggestions {
			near = Nearest(written)
		}
		if near != "" {
			probs.Errorf(f.Path, lineNo, written, "illegal directive %q: not a heartbeat 3.0.6 ha.cf directive (did you mean %q?)", written, near)
		} else {
			probs.Errorf(f.Path, lineNo, written, "illegal directive %q: not a heartbeat 3.0.6 ha.cf directive", written)
		}
		return
	}
	d := Directive{Name: name, Written: written, Line: lineNo, Rest: rest}
	if spec.Shape == PerToken {
		d.Args = split(rest, delims)
	} else {
		d.Args = split(rest, whitespace)
	}
	f.Directives = append(f.Directives, d)
}

// split cuts s into the non-empty runs of characters not in seps.
func split(s, seps string) []string {
	var isSep [256]bool
	for i := 0; i < len(seps); i++ {
		isSep[seps[i]] = true
	}
	n := 0
	for i := 0; i < len(s); {
		for i < len(s) && isSep[s[i]] {
			i++
		}
		if i < len(s) {
			n++
		}
		for i < len(s) && !isSep[s[i]] {
			i++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < len(s); {
		for i < len(s) && isSep[s[i]] {
			i++
		}
		j := i
		for j < len(s) && !isSep[s[j]] {
			j++
		}
		if j > i {
			out = append(out, s[i:j])
		}
		i = j
	}
	return out
}

// Known reports whether name is a directive heartbeat 3.0.6 accepts
// (case-sensitively; "udp" counts).
func Known(name string) bool {
	if name == "udp" {
		return true
	}
	_, ok := specs[name]
	return ok
}

// LookupSpec returns the description of a directive.
func LookupSpec(name string) (Spec, bool) {
	s, ok := specs[name]
	return s, ok
}

// Names returns every directive name heartbeat 3.0.6 accepts, sorted.
func Names() []string {
	out := make([]string, len(names))
	copy(out, names)
	return out
}

// Nearest returns the valid directive name closest to name, or "" when
// nothing is close enough to be a plausible misspelling.
func Nearest(name string) string {
	lname := strings.ToLower(name)
	best, bestD := "", 1<<30
	for _, n := range names {
		d := distance(lname, n)
		if d < bestD {
			best, bestD = n, d
		}
	}
	// Allow roughly one edit per three characters, at least two.
	if bestD <= max(2, len(best)/3) {
		return best
	}
	return ""
}

// distance is the Levenshtein distance between a and b (bytes), capped at
// the work of short directive names.
func distance(a, b string) int {
	if len(a) > 64 {
		return len(a)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
