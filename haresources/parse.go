package haresources

import (
	"bytes"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"github.com/heartbeat-go/heartbeat/hb/diag"
)

// DefaultPath is where heartbeat reads the file.
const DefaultPath = "/etc/ha.d/haresources"

// cLineMax is the longest record heartbeat's C daemon reads with one
// fgets call (buffer MAXLINE-1 = 5119 bytes, one of them the NUL): a longer
// physical line is seen by the daemon as several lines.
const cLineMax = 5118

// NodeRef is a node name as heartbeat's C daemon checks it: the first
// whitespace-delimited word of a physical line that is neither blank, a
// comment, nor a continuation of the line before.
type NodeRef struct {
	Line  int
	Token string // as written
}

// Load reads and parses the haresources file at path. A file that cannot be
// read is an error, as it is for heartbeat ("Cannot open resources file").
// An empty file is fine.
func Load(path string) (*File, diag.List) {
	data, err := os.ReadFile(path)
	if err != nil {
		var l diag.List
		l.Errorf(path, 0, "", "Cannot open resources file [%s]: %v", path, err)
		return nil, l
	}
	return Parse(data, path)
}

// Parse parses the contents of a haresources file the way heartbeat 3.0.6
// reads it: the node names the C daemon validates (File.NodeRefs, checked by
// CheckNodes) and the resource groups as ResourceManager normalises them
// (File.Groups). Nothing in a haresources file makes heartbeat itself fail
// apart from unknown node names, so Parse reports only warnings: for what
// heartbeat silently accepts but probably does not mean what it says.
// It never returns a nil File.
func Parse(data []byte, path string) (*File, diag.List) {
	f := &File{Path: path}
	var probs diag.List
	f.NodeRefs = scanNodeRefs(data)
	f.Groups = logicalLines(data, path, &probs)
	f.check(&probs)
	return f, probs
}

// scanNodeRefs reproduces the C daemon's scan (config.c parse_ha_resources).
func scanNodeRefs(data []byte) []NodeRef {
	var refs []NodeRef
	line := 1
	continuing := false
	for len(data) > 0 {
		// One fgets record: up to and including '\n', at most cLineMax bytes.
		n := bytes.IndexByte(data, '\n') + 1
		if n == 0 || n > cLineMax {
			n = min(len(data), cLineMax)
		}
		rec := data[:n]
		data = data[n:]
		recLine := line
		if rec[len(rec)-1] == '\n' {
			line++
		}
		if i := bytes.IndexByte(rec, 0); i >= 0 { // C string ends at a NUL
			rec = rec[:i]
		}
		if continuing {
			continuing = cContinues(rec)
			continue
		}
		s := bytes.TrimLeft(rec, cSpace)
		if len(s) == 0 || s[0] == '#' {
			continue
		}
		if i := bytes.IndexAny(s, cSpace); i >= 0 {
			s = s[:i]
		}
		refs = append(refs, NodeRef{Line: recLine, Token: string(s)})
		continuing = cContinues(rec)
	}
	return refs
}

const cSpace = " \t\n\r\f" // heartbeat's WHITESPACE

// cContinues: the daemon skips the next record while this one's
// next-to-last byte is a backslash.
func cContinues(rec []byte) bool {
	return len(rec) >= 2 && rec[len(rec)-2] == '\\'
}

// logicalLines reproduces ResourceManager's sed/awk normalisation (ipres).
func logicalLines(data []byte, path string, probs *diag.List) []Group {
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // final newline ends the last line
	}
	var groups []Group
	var fields []string
	for i := 0; i < len(lines); i++ {
		first := i + 1
		s := lines[i]
		if j := strings.IndexByte(s, '#'); j >= 0 {
			rest := s[j:]
			s = s[:j]
			// The daemon skips the next physical line after a line ending in a
			// backslash, even one inside a comment; ResourceManager does not.
			if strings.HasSuffix(rest, "\\") && !strings.HasSuffix(s, "\\") &&
				strings.Trim(s, cSpace) != "" && i+1 < len(lines) {
				probs.Warnf(path, first, "", "the backslash at the end of this comment makes heartbeat's daemon skip line %d when it checks node names, but ResourceManager reads line %d as a resource group of its own; remove the backslash", first+1, first+1)
			}
		}
		hashNote := false
		for strings.HasSuffix(s, "\\") {
			if i+1 >= len(lines) {
				probs.Warnf(path, i+1, "", "the file ends in a continuation backslash: ResourceManager keeps the \\ as a resource")
				break
			}
			i++
			next := lines[i]
			if strings.IndexByte(next, '#') >= 0 && !hashNote {
				hashNote = true
				probs.Warnf(path, i+1, "", "'#' on a continuation line does not start a comment for ResourceManager: the words after it are resources of the group on line %d", first)
			}
			s = s[:len(s)-1] + next
		}
		fields = splitBlanks(fields[:0], s)
		if len(fields) == 0 {
			continue
		}
		g := Group{NodeRaw: fields[0], Node: asciiLower(fields[0]), Line: first}
		if len(fields) > 1 {
			g.Resources = make([]Resource, len(fields)-1)
			for k, tok := range fields[1:] {
				g.Resources[k] = ParseResource(tok)
			}
		}
		if strings.HasSuffix(s, "\r") {
			probs.Warnf(path, i+1, "", "line ends in a carriage return (DOS line ending): ResourceManager keeps it as part of %q, which then names no script; convert the file to Unix line endings", fields[len(fields)-1])
		}
		groups = append(groups, g)
	}
	return groups
}

// splitBlanks appends the blank- or tab-separated words of s to dst.
func splitBlanks(dst []string, s string) []string {
	start := -1
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			if start >= 0 {
				dst = append(dst, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, s[start:])
	}
	return dst
}

// ParseResource splits one resource token into script and arguments the way
// ResourceManager does (resource2script, resource2arg, canonname).
func ParseResource(tok string) Resource {
	r := Resource{Raw: tok}
	p := strings.Index(tok, "::")
	if p < 0 {
		r.Script = tok
		if IsIPv4Shorthand(tok) {
			r.Script = "IPaddr"
			r.Args = []string{tok}
		}
		return r
	}
	r.Script = tok[:p]
	if IsIPv4Shorthand(r.Script) {
		r.Script = "IPaddr"
	}
	// sed 's%[^:]*::%%' removes the run of non-colons before the first "::"
	// together with it; then every further "::" becomes a word separator.
	q := strings.LastIndexByte(tok[:p], ':') + 1
	rest := tok[p+2:]
	if q > 0 {
		rest = tok[:q] + rest
	}
	n := 0
	for a := range strings.SplitSeq(rest, "::") {
		if a != "" {
			n++
		}
	}
	if n > 0 {
		r.Args = make([]string, 0, n)
		for a := range strings.SplitSeq(rest, "::") {
			if a != "" {
				r.Args = append(r.Args, a)
			}
		}
	}
	return r
}

// IsIPv4Shorthand reports whether ResourceManager takes tok for an address
// handled by IPaddr: it matches the shell pattern [0-9]*.[0-9]*.[0-9]*.[0-9]*
// (a digit first, then three dots each followed by a digit).
func IsIPv4Shorthand(tok string) bool {
	if tok == "" || !isDigit(tok[0]) {
		return false
	}
	dots := 0
	for i := 1; i+1 < len(tok) && dots < 3; i++ {
		if tok[i] == '.' && isDigit(tok[i+1]) {
			dots++
			i++
		}
	}
	return dots == 3
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func asciiEqualFold(a, b string) bool {
	return len(a) == len(b) && asciiLower(a) == asciiLower(b)
}

// check adds the warnings about groups that heartbeat accepts silently.
func (f *File) check(probs *diag.List) {
	firstByKey := make(map[string]int, len(f.Groups))
	for gi, g := range f.Groups {
		if len(g.Resources) == 0 {
			probs.Warnf(f.Path, g.Line, "", "node %s has no resources on this line: the group's key is empty and ResourceManager cannot take or give it", g.NodeRaw)
			continue
		}
		key := g.Key()
		if prev, ok := firstByKey[key]; ok {
			probs.Warnf(f.Path, g.Line, key, "duplicate group key %s (first used on line %d): heartbeat looks groups up by their first resource, so both lines are treated as one group", key, f.Groups[prev].Line)
		} else {
			firstByKey[key] = gi
		}
		for _, r := range g.Resources {
			if v6 := ipv6In(r); v6 != "" {
				probs.Warnf(f.Path, g.Line, r.Raw, "%s contains the IPv6 address %s: ResourceManager splits arguments at every \"::\", so the script gets %q", r.Raw, v6, r.Args)
			}
		}
	}
	// ResourceManager finds a group by grepping for " KEY " (an extended
	// regular expression) in every normalised line. Keys whose only special
	// character is "." are compared literally (a dot matching some other
	// character is left out); others go through the regular expression.
	nres := 0
	for _, g := range f.Groups {
		nres += len(g.Resources)
	}
	members := make(map[string][]int, nres) // non-key resource text -> group indexes
	for gi, g := range f.Groups {
		for _, r := range g.Resources[min(1, len(g.Resources)):] {
			members[r.Raw] = append(members[r.Raw], gi)
		}
	}
	var lines []string
	for gi, g := range f.Groups {
		key := g.Key()
		if key == "" || firstByKey[key] != gi {
			continue
		}
		var others []int
		if !strings.ContainsAny(key, `[]()*+?{}|^$\`) {
			for _, oi := range members[key] {
				if f.Groups[oi].Key() != key && (len(others) == 0 || others[len(others)-1] != oi) {
					others = append(others, oi)
				}
			}
		} else {
			if lines == nil {
				for _, g := range f.Groups {
					lines = append(lines, g.NormalizedLine())
				}
			}
			re, err := regexp.CompilePOSIX(" " + key + " ")
			if err != nil || !re.MatchString(lines[gi]) {
				probs.Warnf(f.Path, g.Line, key, "heartbeat's ResourceManager cannot find group %s: it looks the key up as a regular expression, and this one does not match itself; heartbeat 3.0.6 would never start this group", key)
				continue
			}
			for oi, other := range f.Groups {
				if oi != gi && other.Key() != key && re.MatchString(lines[oi]) {
					others = append(others, oi)
				}
			}
		}
		for _, oi := range others {
			probs.Warnf(f.Path, g.Line, key, "group key %s also matches a resource of the group on line %d: heartbeat's ResourceManager would run both lines as one group (keys must be unique in the file)", key, f.Groups[oi].Line)
		}
	}
}

// ipv6In returns the IPv6 address a resource's arguments were cut from, or "".
// It looks for a word with at least three colons that is an IPv6 address,
// or any IPv6 address in the arguments of an IPv6 script (IPv6addr).
func ipv6In(r Resource) string {
	p := strings.Index(r.Raw, "::")
	if p < 0 {
		return ""
	}
	text := r.Raw[p+2:]
	v6script := strings.Contains(asciiLower(r.Script), "ipv6")
	isHex := func(c byte) bool {
		return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
	}
	for i := 0; i < len(text); {
		if !(isHex(text[i]) || text[i] == ':') {
			i++
			continue
		}
		j := i
		for j < len(text) && (isHex(text[j]) || text[j] == ':' || text[j] == '.') {
			j++
		}
		run := text[i:j]
		wordStart := i == 0 || !isAlnum(text[i-1])
		wordEnd := j == len(text) || !isAlnum(text[j])
		if wordStart && wordEnd && strings.Contains(run, "::") && (v6script || strings.Count(run, ":") >= 3) {
			if a, err := netip.ParseAddr(run); err == nil && a.Is6() {
				return run
			}
		}
		i = j
	}
	return ""
}

func isAlnum(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// NormalizedLine returns the group as ResourceManager prints it: node
// lower-cased, fields separated by single spaces, a trailing space.
func (g Group) NormalizedLine() string {
	var b strings.Builder
	b.WriteString(g.Node)
	b.WriteByte(' ')
	for _, r := range g.Resources {
		b.WriteString(r.Raw)
		b.WriteByte(' ')
	}
	return b.String()
}

// CheckNodes reports every node name the C daemon would reject, as errors:
// the first word of each group must name a cluster node ("node" in ha.cf) or
// a ping node ("ping", "ping_group"), compared case-insensitively. nodes
// lists both. heartbeat stops at the first bad line; this reports them all.
func (f *File) CheckNodes(nodes []string) diag.List {
	var probs diag.List
	known := func(name string) bool {
		for _, n := range nodes {
			if asciiEqualFold(n, name) {
				return true
			}
		}
		return false
	}
	bad := map[int]bool{}
	for _, r := range f.NodeRefs {
		if !known(r.Token) {
			bad[r.Line] = true
			probs.Errorf(f.Path, r.Line, r.Token, "Bad nodename in %s [%s]: the first word of a line must name a node (or ping node) of ha.cf", f.Path, r.Token)
		}
	}
	for _, g := range f.Groups {
		if !bad[g.Line] && !known(g.NodeRaw) {
			probs.Warnf(f.Path, g.Line, g.NodeRaw, "ResourceManager reads %q as the node of this group, which is not a node of ha.cf: no node will take it as its own", g.NodeRaw)
		}
	}
	return probs
}

// Group returns the group whose key is key, and whether there is one. With
// duplicate keys, the first such group. ResourceManager instead greps every
// line for " KEY " as a regular expression and runs all matching lines as
// one group; Parse warns wherever the two differ (duplicate keys, a key
// inside another group, a key that does not match itself as a pattern).
func (f *File) Group(key string) (Group, bool) {
	for _, g := range f.Groups {
		if len(g.Resources) > 0 && g.Key() == key {
			return g, true
		}
	}
	return Group{}, false
}

// Keys returns every group key in file order (ResourceManager allkeys).
func (f *File) Keys() []string {
	keys := make([]string, 0, len(f.Groups))
	for _, g := range f.Groups {
		keys = append(keys, g.Key())
	}
	return keys
}

// KeysFor returns the keys of node's groups in file order (ResourceManager
// listkeys NODE), node compared case-insensitively. ResourceManager takes
// NODE as a regular expression; this compares names.
func (f *File) KeysFor(node string) []string {
	var keys []string
	for _, g := range f.Groups {
		if asciiEqualFold(g.Node, node) {
			keys = append(keys, g.Key())
		}
	}
	return keys
}

// GroupsFor returns node's groups in file order (ResourceManager ourkeys for
// the local node).
func (f *File) GroupsFor(node string) []Group {
	var gs []Group
	for _, g := range f.Groups {
		if asciiEqualFold(g.Node, node) {
			gs = append(gs, g)
		}
	}
	return gs
}

// GroupsNotFor returns the groups whose home is not node (ResourceManager
// otherkeys).
func (f *File) GroupsNotFor(node string) []Group {
	var gs []Group
	for _, g := range f.Groups {
		if !asciiEqualFold(g.Node, node) {
			gs = append(gs, g)
		}
	}
	return gs
}

// String renders the resource as written.
func (r Resource) String() string { return r.Raw }
