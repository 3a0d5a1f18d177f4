// Package cib converts a heartbeat v1 configuration (haresources plus a few
// ha.cf settings) into a CRM cluster information base (cib.xml), as
// heartbeat 2.1.3's haresources2cib.py did, in its heartbeat-2.1 form
// (Legacy) or in the form current Pacemaker validates (Pacemaker).
//
// The conversion follows the original rule by rule (ids, classes,
// parameters, operations, locations, clones, #rsc_order/#rsc_colocation
// lines, stonith_host lines) except for its plain bugs, which it fixes with
// a warning: words after an inline '#' became resources, IPaddr's netmask
// and interface landed under each other's names, and stonith was never
// enabled. What cannot be converted is an error with FILE:LINE; what
// changes meaning on the way to CRM mode is a warning.
//
// The package is pure: the caller says which scripts exist (Options).
package cib

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/diag"
)

// Schema selects the form of the output.
type Schema string

const (
	// Legacy is the heartbeat 2.1 form the original converter wrote.
	Legacy Schema = "legacy"
	// Pacemaker is the current form (validate-with="pacemaker-3.0").
	Pacemaker Schema = "pacemaker"
)

// Options steer the conversion.
type Options struct {
	Schema    Schema
	NoOCF     bool // --no-ocf: class every resource by the scripts on disk
	NoMonitor bool // --no-monitor: no operations at all
	// HeartbeatScript reports whether /etc/ha.d/resource.d/NAME exists;
	// InitScript whether /etc/init.d/NAME does. nil means "no".
	HeartbeatScript func(name string) bool
	InitScript      func(name string) bool
	// ResourceDir and InitDir name those directories in messages
	// (default /etc/ha.d/resource.d and /etc/init.d).
	ResourceDir, InitDir string
}

type nvpair struct{ id, name, value string }

type op struct {
	id, name, interval, timeout string
	prereq                      string // legacy stonith ops only
}

type primitive struct {
	id, class, typ string
	params         []nvpair
	ops            []op
	line           int
	resource       string // the haresources token
}

type itemKind int

const (
	kindPrimitive itemKind = iota
	kindGroup
	kindClone
)

// item is one top-level resource: a lone primitive, a group or a clone.
type item struct {
	kind    itemKind
	id      string
	members []*primitive // one for a lone primitive or a clone
	clone   []nvpair     // clone_max, clone_node_max
}

type constraint struct {
	kind          string // "location", "order", "colocation", "connectivity"
	id            string
	rsc, node     string // location
	from, to      string // order, colocation
	action, typ   string // order
	score         string // location, colocation
	line          int
	pingAttribute string // connectivity
}

// model is the converted cluster, independent of the output form.
type model struct {
	stonithEnabled bool
	stickiness     string // resource stickiness ("0" or "INFINITY")
	nodes          int    // clone_max
	items          []*item
	constraints    []*constraint
}

// converter holds the state of one conversion.
type converter struct {
	path       string
	cf         *HaCf
	opt        Options
	probs      diag.List
	m          model
	ids        map[string]idOwner
	groupIndex int
	idIndex    int
	v1         map[int]haresources.Group
}

type idOwner struct {
	line      int
	generated bool // numbered by the converter (may be renumbered)
}

// CIB is a converted configuration.
type CIB struct {
	Schema Schema
	m      model
	doc    *etree.Document
}

// Convert converts haresources contents (read from path) and the ha.cf
// settings cf (nil when there is no ha.cf) into a CIB. It returns nil when
// there are errors; the problems list both errors and warnings.
func Convert(data []byte, path string, cf *HaCf, opt Options) (*CIB, diag.List) {
	if opt.Schema == "" {
		opt.Schema = Pacemaker
	}
	if opt.ResourceDir == "" {
		opt.ResourceDir = "/etc/ha.d/resource.d"
	}
	if opt.InitDir == "" {
		opt.InitDir = "/etc/init.d"
	}
	c := &converter{path: path, cf: cf, opt: opt, ids: map[string]idOwner{}, groupIndex: 1, idIndex: 1}
	c.m.stickiness = "0"
	if opt.Schema != Legacy && opt.Schema != Pacemaker {
		c.probs.Errorf(path, 0, "", "unknown schema %q: expected legacy or pacemaker", opt.Schema)
		return nil, c.probs
	}
	v1, _ := haresources.Parse(data, path)
	c.v1 = map[int]haresources.Group{}
	for _, g := range v1.Groups {
		c.v1[g.Line] = g
	}
	c.clusterSettings(v1)
	for _, l := range readLines(data) {
		c.line(l)
	}
	c.stonith()
	c.connectivity()
	c.checkReferences()
	if c.probs.HasErrors() {
		sortProblems(c.probs)
		return nil, c.probs
	}
	sortProblems(c.probs)
	cib := &CIB{Schema: opt.Schema, m: c.m}
	// Derived ids (R_mon, R_attr_N, rsc_location_R...) can still meet a
	// user's #name: every id of the document must be unique.
	cib.doc = cib.build()
	seen := map[string]bool{}
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if a := e.SelectAttr("id"); a != nil {
			if seen[a.Value] {
				c.errorf(0, a.Value, "the id %s would appear twice in the CIB (a #name that equals an id the converter derives); choose another #name", a.Value)
			}
			seen[a.Value] = true
		}
		for _, k := range e.ChildElements() {
			walk(k)
		}
	}
	walk(cib.doc.Root())
	if c.probs.HasErrors() {
		return nil, c.probs
	}
	return cib, c.probs
}

func (c *converter) errorf(line int, directive, format string, args ...any) {
	c.probs.Errorf(c.path, line, directive, format, args...)
}

func (c *converter) warnf(line int, directive, format string, args ...any) {
	c.probs.Warnf(c.path, line, directive, format, args...)
}

// clusterSettings reads what the conversion takes from ha.cf.
func (c *converter) clusterSettings(v1 *haresources.File) {
	cf := c.cf
	if cf == nil {
		seen := map[string]bool{}
		for _, g := range v1.Groups {
			if !seen[g.Node] {
				seen[g.Node] = true
				c.m.nodes++
			}
		}
		return
	}
	c.m.nodes = len(cf.Nodes)
	if c.opt.Schema == Pacemaker && len(cf.Nodes) == 2 {
		c.probs.Warnf(cf.Path, 0, "node", "no-quorum-policy is stop: when one of the two nodes fails, the survivor keeps its resources only if the cluster layer grants it quorum (corosync two_node: 1); heartbeat v1 had no quorum and always took over")
	}
	if len(cf.Nodes) > 0 {
		names := append([]string(nil), cf.Nodes...)
		for _, p := range cf.Ping {
			names = append(names, p.Name)
		}
		for _, p := range v1.CheckNodes(names) {
			if p.Severity == diag.Error {
				c.warnf(p.Line, p.Directive, "%s is not a node in %s (heartbeat 3.0.6 refuses to start with this file): the location preference names a node that does not exist", p.Directive, cf.Path)
			}
		}
	}
	switch cf.AutoFailback {
	case "off":
		if c.opt.Schema == Pacemaker {
			c.m.stickiness = "INFINITY"
		} else {
			c.probs.Warnf(cf.Path, cf.FailbackLine, "auto_failback", "auto_failback off is not converted in the legacy form: with default-resource-stickiness 0 every group moves back to its preferred node as soon as that node returns; set default-resource-stickiness to INFINITY to keep v1's behaviour (--schema pacemaker does)")
		}
	case "legacy":
		if cf.FailbackLine > 0 {
			c.probs.Warnf(cf.Path, cf.FailbackLine, "auto_failback", "auto_failback legacy has no CRM equivalent: converted as auto_failback on (groups move back to their preferred node)")
		}
	}
	for _, s := range cf.Stonith {
		c.probs.Warnf(cf.Path, s.Line, "stonith", "stonith %s is not converted (its settings are in a separate file): define the stonith resource in the CIB by hand", s.Value)
	}
}

// rawLine is one logical line as the original converter reads it.
type rawLine struct {
	line   int // first physical line
	tokens []string
	hash   int // index of the first token containing '#', -1 if none (the first token of a #rsc_ line does not count)
}

// readLines splits haresources contents into logical lines the way the
// original converter does: each physical line trimmed, comment lines
// skipped except #rsc_order and #rsc_colocation, a trailing backslash joins
// with the next line (with a blank between), a continuation pending at the
// end of the file is dropped.
func readLines(data []byte) []rawLine {
	var out []rawLine
	pending, first := "", 0
	for i, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if l[0] == '#' && !strings.HasPrefix(l, "#rsc_order") && !strings.HasPrefix(l, "#rsc_colocation") {
			continue
		}
		if pending == "" {
			first = i + 1
		}
		if strings.HasSuffix(l, "\\") {
			pending += l[:len(l)-1] + " "
			continue
		}
		toks := strings.Fields(pending + l)
		pending = ""
		r := rawLine{line: first, tokens: toks, hash: -1}
		start := 0
		if strings.HasPrefix(toks[0], "#rsc_") {
			start = 1
		}
		for k := start; k < len(toks); k++ {
			if strings.Contains(toks[k], "#") {
				r.hash = k
				break
			}
		}
		out = append(out, r)
	}
	return out
}

// line converts one logical line.
func (c *converter) line(l rawLine) {
	toks := l.tokens
	userID, hasUserID := "", false
	if h := l.hash; h >= 0 {
		last := len(toks) - 1
		switch {
		case h == last && toks[h] == "#":
			toks = toks[:h]
		case h == last && toks[h][0] == '#':
			userID, hasUserID = toks[h][1:], true
			toks = toks[:h]
		default:
			// heartbeat reads everything from the first '#' as a comment;
			// the original made resources of the words.
			before, _, _ := strings.Cut(toks[h], "#")
			kept := append([]string(nil), toks[:h]...)
			if before != "" {
				kept = append(kept, before)
			}
			c.warnf(l.line, "", "%q starts a comment for heartbeat; the original converter made resources of the words after it (%s): converted as heartbeat reads the line", toks[h], strings.Join(toks[h:], " "))
			toks = kept
		}
	}
	if len(toks) == 0 {
		return
	}
	for _, t := range toks {
		if !xmlText(t) {
			c.errorf(l.line, "", "%q cannot be written to XML (control character or invalid UTF-8)", t)
			return
		}
	}
	switch {
	case toks[0] == "#rsc_order" || toks[0] == "#rsc_colocation":
		c.ordering(l.line, toks)
		return
	case strings.HasPrefix(toks[0], "#rsc_"):
		c.errorf(l.line, toks[0], "%s is neither #rsc_order nor #rsc_colocation", toks[0])
		return
	}
	c.compareV1(l.line, toks, hasUserID)
	switch {
	case hasUserID && strings.HasPrefix(userID, "clone:"):
		c.clone(l.line, toks, strings.TrimPrefix(userID, "clone:"))
	case len(toks) == 1:
		c.warnf(l.line, "", "node %s has no resources on this line: nothing to convert", toks[0])
	case len(toks) == 2:
		c.lone(l.line, toks, userID)
	default:
		c.group(l.line, toks, userID)
	}
}

// compareV1 warns when heartbeat v1 itself reads the line differently.
func (c *converter) compareV1(line int, toks []string, hasUserID bool) {
	g, ok := c.v1[line]
	if !ok {
		c.warnf(line, "", "heartbeat v1 does not read a resource group starting on this line; the converter does: %s", strings.Join(toks, " "))
		return
	}
	v1 := []string{g.NodeRaw}
	for _, r := range g.Resources {
		v1 = append(v1, r.Raw)
	}
	if strings.Join(v1, " ") != strings.Join(toks, " ") {
		c.warnf(line, "", "heartbeat v1 reads this group as %q; converted as %q", strings.Join(v1, " "), strings.Join(toks, " "))
	}
}

func (c *converter) ordering(line int, toks []string) {
	switch {
	case toks[0] == "#rsc_order" && len(toks) == 5:
		if toks[3] != "before" && toks[3] != "after" {
			c.errorf(line, toks[0], "#rsc_order %s %s %s %s: the type must be before or after", toks[1], toks[2], toks[3], toks[4])
			return
		}
		if !isAction(toks[2]) {
			c.errorf(line, toks[0], "#rsc_order action %q: expected start, stop, promote or demote", toks[2])
			return
		}
		c.m.constraints = append(c.m.constraints, &constraint{kind: "order", id: "rsc_order_" + toks[1] + "_" + toks[4],
			from: toks[1], action: toks[2], typ: toks[3], to: toks[4], line: line})
	case toks[0] == "#rsc_colocation" && len(toks) == 4:
		if !isScore(toks[3]) {
			c.errorf(line, toks[0], "#rsc_colocation score %q: expected an integer or [+-]INFINITY", toks[3])
			return
		}
		c.m.constraints = append(c.m.constraints, &constraint{kind: "colocation", id: "rsc_colocation_" + toks[1] + "_" + toks[2],
			from: toks[1], to: toks[2], score: toks[3], line: line})
	case toks[0] == "#rsc_order":
		c.errorf(line, toks[0], "#rsc_order needs exactly FROM ACTION TYPE TO, got %d words (the original converter made a group on node #rsc_order of it)", len(toks)-1)
	default:
		c.errorf(line, toks[0], "#rsc_colocation needs exactly FROM TO SCORE, got %d words (the original converter made a group on node #rsc_colocation of it)", len(toks)-1)
	}
}

func xmlText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0xFFFE || r == 0xFFFF {
			return false
		}
	}
	return true
}

func isAction(s string) bool {
	return s == "start" || s == "stop" || s == "promote" || s == "demote"
}

func isScore(s string) bool {
	switch strings.TrimLeft(s, "+-") {
	case "INFINITY", "infinity":
		return true
	}
	_, err := strconv.Atoi(s)
	return err == nil
}

func (c *converter) location(line int, rsc, node string) {
	c.m.constraints = append(c.m.constraints, &constraint{kind: "location", id: "rsc_location_" + rsc, rsc: rsc, node: node, score: "100", line: line})
}

func (c *converter) lone(line int, toks []string, userID string) {
	p := c.primitive(line, toks[1], c.idIndex, userID)
	c.idIndex++
	if p == nil {
		return
	}
	c.m.items = append(c.m.items, &item{kind: kindPrimitive, id: p.id, members: []*primitive{p}})
	c.location(line, p.id, toks[0])
}

func (c *converter) group(line int, toks []string, userID string) {
	id := userID
	if id == "" {
		id = "group_" + strconv.Itoa(c.groupIndex)
	}
	c.claim(line, id, userID == "")
	it := &item{kind: kindGroup, id: id}
	for k, tok := range toks[1:] {
		if p := c.primitive(line, tok, c.groupIndex+k, ""); p != nil {
			it.members = append(it.members, p)
		}
	}
	c.groupIndex += 10
	c.idIndex += len(toks)
	c.m.items = append(c.m.items, it)
	c.location(line, id, toks[0])
}

func (c *converter) clone(line int, toks []string, name string) {
	if len(toks) < 2 {
		c.errorf(line, "", "#clone:%s: the line names no resource to clone", name)
		return
	}
	if len(toks) > 2 {
		c.warnf(line, "", "only %s is cloned; %s on this line are ignored (as the original converter does)", toks[1], strings.Join(toks[2:], " "))
	}
	c.warnf(line, "", "heartbeat v1 ran %s on %s only (the #clone:%s comment means nothing to it); as a clone it runs on every node", toks[1], toks[0], name)
	id := name
	if id == "" {
		id = "clone_" + strconv.Itoa(c.groupIndex)
	}
	c.claim(line, id, name == "")
	p := c.primitive(line, toks[1], c.groupIndex, "")
	c.groupIndex += 10
	c.idIndex++
	if p == nil {
		return
	}
	c.m.items = append(c.m.items, &item{kind: kindClone, id: id, members: []*primitive{p}, clone: c.cloneAttrs(id)})
}

func (c *converter) cloneAttrs(id string) []nvpair {
	return []nvpair{
		{id + "_attr_1", "clone_max", strconv.Itoa(c.m.nodes)},
		{id + "_attr_2", "clone_node_max", "1"},
	}
}

// claim records a resource id. A collision between numbered ids (a group
// of more than ten resources reuses the next group's numbers) is the
// original's bug; anything else is the user's.
func (c *converter) claim(line int, id string, generated bool) bool {
	c.checkID(line, id)
	if prev, ok := c.ids[id]; ok {
		where := "on this line"
		if prev.line != line {
			where = fmt.Sprintf("on line %d", prev.line)
		}
		c.errorf(line, id, "resource id %s is already used %s: every resource and group needs its own id (the same resource on two lines, or a repeated #name)", id, where)
		return false
	}
	c.ids[id] = idOwner{line: line, generated: generated}
	return true
}

// checkID reports an id that is not an XML ID.
func (c *converter) checkID(line int, id string) {
	if !validID(id) {
		c.errorf(line, id, "%q is not a valid CIB id (a letter or _ first, then letters, digits, '.', '-', '_'): name the line with a trailing #name", id)
	}
}

func validID(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		letter := ch|0x20 >= 'a' && ch|0x20 <= 'z' || ch == '_'
		if i == 0 && !letter || !(letter || ch >= '0' && ch <= '9' || ch == '.' || ch == '-') {
			return false
		}
	}
	return true
}

// splitResource splits a token into type and parameters as the original
// converter does.
func splitResource(tok string) (typ string, params []string, dropped string) {
	if !strings.Contains(tok, "::") {
		addr, _, _ := strings.Cut(tok, "/")
		if strings.Count(addr, ".") == 3 {
			return "IPaddr", []string{tok}, ""
		}
		return tok, nil, ""
	}
	f := strings.Split(tok, "::")
	if strings.HasPrefix(tok, "IPaddr") {
		return f[0], []string{f[1]}, strings.Join(f[2:], "::")
	}
	return f[0], f[1:], ""
}

// primitive builds the primitive for one resource token; number is its
// number in the original's scheme, userID overrides the id.
func (c *converter) primitive(line int, tok string, number int, userID string) *primitive {
	typ, params, dropped := splitResource(tok)
	if dropped != "" {
		c.warnf(line, tok, "%s: only the first argument of %s is used; %q is dropped (as the original converter does)", tok, typ, dropped)
	}
	if v1 := haresources.ParseResource(tok); (v1.Script == "IPaddr") != (typ == "IPaddr") {
		c.warnf(line, tok, "heartbeat v1 runs %s as script %s; the converter takes it for %s", tok, v1.Script, typ)
	}
	p := &primitive{typ: typ, line: line, resource: tok}
	ag, ocf := ocfTable[typ]
	ocf = ocf && !c.opt.NoOCF
	hbScript := c.opt.HeartbeatScript != nil && c.opt.HeartbeatScript(typ)
	switch {
	case ocf:
		p.class = "ocf"
	case hbScript:
		p.class = "heartbeat"
	case c.opt.InitScript != nil && c.opt.InitScript(typ):
		p.class = "lsb"
	default:
		what := "no OCF agent of that name, and "
		if c.opt.NoOCF {
			what = "(--no-ocf) "
		}
		c.errorf(line, tok, "%s is an unknown resource agent: %sneither %s/%s nor %s/%s exists", typ, what, c.opt.ResourceDir, typ, c.opt.InitDir, typ)
		return nil
	}
	switch {
	case userID != "":
		p.id = userID
	case typ == "IPaddr":
		addr, _, _ := strings.Cut(params[0], "/")
		p.id = "IPaddr_" + strings.ReplaceAll(addr, ".", "_")
	default:
		p.id = typ + "_" + strconv.Itoa(number)
	}
	generated := userID == "" && typ != "IPaddr"
	if prev, ok := c.ids[p.id]; ok && generated && prev.generated && validID(p.id) {
		// The original's numbering collides (a group of more than ten).
		n := number
		for ok {
			n++
			_, ok = c.ids[typ+"_"+strconv.Itoa(n)]
		}
		c.warnf(line, tok, "the original converter would give %s the id %s already used on line %d (a group of more than ten resources reuses the next group's numbers): named %s_%d instead", tok, p.id, prev.line, typ, n)
		p.id = typ + "_" + strconv.Itoa(n)
	}
	if !c.claim(line, p.id, generated) {
		return nil
	}
	if ocf && (typ == "IPaddr" || typ == "IPaddr2") {
		p.params = c.ipParams(line, tok, p.id, params[0])
	} else if ocf {
		if len(ag.params) == 0 && len(params) > 0 {
			c.errorf(line, tok, "%s takes no parameters, got %q", typ, strings.Join(params, "::"))
			return nil
		}
		for i, v := range params {
			if i == len(ag.params)-1 {
				p.params = append(p.params, nvpair{fmt.Sprintf("%s_attr_%d", p.id, i), ag.params[i], strings.Join(params[i:], " ")})
				break
			}
			p.params = append(p.params, nvpair{fmt.Sprintf("%s_attr_%d", p.id, i), ag.params[i], v})
		}
	} else {
		for i, v := range params {
			p.params = append(p.params, nvpair{fmt.Sprintf("%s_attr_%d", p.id, i+1), strconv.Itoa(i + 1), v})
		}
	}
	if !c.opt.NoMonitor {
		iv, to := "120s", "60s"
		if ocf {
			iv, to = ag.interval, ag.timeout
		}
		p.ops = []op{{id: p.id + "_mon", name: "monitor", interval: iv, timeout: to}}
	}
	c.agentWarnings(line, tok, p, ocf, hbScript)
	return p
}

// agentWarnings reports agents whose meaning changes in CRM mode.
func (c *converter) agentWarnings(line int, tok string, p *primitive, ocf, hbScript bool) {
	pm := c.opt.Schema == Pacemaker
	switch {
	case ocf && !hbScript && c.opt.InitScript != nil && c.opt.InitScript(p.typ):
		c.warnf(line, tok, "%s now runs the OCF agent ocf:heartbeat:%s, not the /etc/init.d/%s script heartbeat v1 ran; check the agent's parameters", tok, p.typ, p.typ)
	case ocf && !hbScript:
		c.warnf(line, tok, "%s becomes the OCF agent ocf:heartbeat:%s; heartbeat v1 would have looked for a script %s in resource.d or init.d, and there is none here", tok, p.typ, p.typ)
	case p.class == "heartbeat" && pm:
		hint := ""
		if p.typ == "drbddisk" {
			hint = " (for DRBD use ocf:linbit:drbd as a promotable clone, colocated with and ordered before this group)"
		}
		c.warnf(line, tok, "%s is a heartbeat-class resource (resource.d script): current Pacemaker validates it but cannot run that class%s", tok, hint)
	case p.class == "lsb" && pm && len(p.params) > 0:
		c.warnf(line, tok, "%s: an LSB init script gets no arguments in CRM mode; %d argument(s) are kept as parameters but not passed", tok, len(p.params))
	}
	if pm && ocf {
		switch p.typ {
		case "drbd", "o2cb":
			c.warnf(line, tok, "ocf:heartbeat:%s no longer exists in current resource-agents (DRBD ships ocf:linbit:drbd, Pacemaker ocf:pacemaker:o2cb)", p.typ)
		case "pingd":
			c.warnf(line, tok, "ocf:heartbeat:pingd is deprecated; ocf:pacemaker:ping replaces it")
		}
		for _, nv := range p.params {
			if nv.name == "arp_mac" || nv.name == "ocfs2_cluster" || nv.name == "ocfs2_configfs" {
				c.warnf(line, tok, "%s: current resource-agents' %s has no parameter %s", tok, p.typ, nv.name)
			}
		}
	}
}

// ipParams turns an IPaddr/IPaddr2 argument (IP[/MASK[/NIC-or-BCAST[/BCAST]]])
// into OCF parameters the way heartbeat v1's IPaddr wrapper reads it. The
// original converter guessed the fields instead and named the netmask "nic"
// and the interface "cidr_netmask"; a warning shows what it would have written.
func (c *converter) ipParams(line int, tok, id, arg string) []nvpair {
	var slot [4]string
	ip, rest, _ := strings.Cut(arg, "/")
	slot[0] = ip
	if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
		c.warnf(line, tok, "%s: %q is not an IPv4 address; the resource will not start (a placeholder left in the file?)", tok, ip)
	}
	rest = strings.TrimLeft(rest, "/")
	if rest != "" {
		mask, after, _ := strings.Cut(rest, "/")
		slot[2] = mask
		after = strings.TrimLeft(after, "/")
		nic, after, _ := strings.Cut(after, "/")
		switch {
		case nic == "":
		case nic[0] >= '0' && nic[0] <= '9':
			slot[3] = nic
		default:
			slot[1] = nic
			bcast, _, _ := strings.Cut(strings.TrimLeft(after, "/"), "/")
			slot[3] = bcast
		}
	}
	names := [4]string{"ip", "nic", "cidr_netmask", "broadcast"}
	var out []nvpair
	for i, v := range slot {
		if v != "" {
			out = append(out, nvpair{fmt.Sprintf("%s_attr_%d", id, i), names[i], v})
		}
	}
	if orig := originalIPParams(arg); orig != describe(out) {
		c.warnf(line, tok, "%s: converted as heartbeat v1 reads it (%s); the original converter wrote %s", tok, describe(out), orig)
	}
	return out
}

// originalIPParams is what heartbeat 2.1.3's converter made of an IPaddr
// argument, for the warning.
func originalIPParams(arg string) string {
	pieces := strings.Split(arg, "/")
	var slot [4]string
	slot[0] = pieces[0]
	for _, p := range pieces[1:] {
		if strings.Count(p, ".") == 3 {
			slot[3] = p
			break
		}
		if _, err := strconv.Atoi(p); err == nil {
			slot[1] = p
		} else {
			slot[2] = p
		}
	}
	names := [4]string{"ip", "nic", "cidr_netmask", "broadcast"}
	var out []nvpair
	for i, v := range slot {
		if v != "" {
			out = append(out, nvpair{name: names[i], value: v})
		}
	}
	return describe(out)
}

func describe(nvs []nvpair) string {
	var b strings.Builder
	for i, nv := range nvs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(nv.name + "=" + nv.value)
	}
	return b.String()
}

// stonith converts the ha.cf stonith_host lines.
func (c *converter) stonith() {
	if c.cf == nil {
		return
	}
	for _, sh := range c.cf.StonithHosts {
		n := c.idIndex
		c.idIndex++
		id := "stonith_" + strconv.Itoa(n)
		names, known := stonithParams[sh.Type]
		if len(sh.Params) > 0 && !known {
			c.probs.Errorf(c.cf.Path, sh.Line, "stonith_host", "stonith type %s: parameter names unknown (known types: the heartbeat 2.1.3 plugins); cannot name %d parameter(s)", sh.Type, len(sh.Params))
			continue
		}
		if len(sh.Params) > len(names) {
			c.probs.Errorf(c.cf.Path, sh.Line, "stonith_host", "stonith type %s takes %d parameter(s) (%s), got %d", sh.Type, len(names), strings.Join(names, " "), len(sh.Params))
			continue
		}
		p := &primitive{id: id, class: "stonith", typ: sh.Type, line: sh.Line}
		for k, v := range sh.Params {
			p.params = append(p.params, nvpair{fmt.Sprintf("%s_attr_%d", id, k+2), names[k], v})
		}
		if !c.opt.NoMonitor {
			p.ops = []op{
				{id: id + "_mon", name: "monitor", interval: "5s", timeout: "20s", prereq: "nothing"},
				{id: id + "_start", name: "start", timeout: "20s", prereq: "nothing"},
			}
		}
		if _, dup := c.ids[id]; dup {
			c.probs.Errorf(c.cf.Path, sh.Line, "stonith_host", "id %s is already used by a haresources #name", id)
			continue
		}
		c.ids[id] = idOwner{line: sh.Line}
		c.m.stonithEnabled = true
		if sh.Host == "*" {
			cid := "clone_" + strconv.Itoa(n)
			c.ids[cid] = idOwner{line: sh.Line}
			c.m.items = append(c.m.items, &item{kind: kindClone, id: cid, members: []*primitive{p}, clone: c.cloneAttrs(cid)})
			continue
		}
		c.m.items = append(c.m.items, &item{kind: kindPrimitive, id: id, members: []*primitive{p}})
		c.location(0, id, sh.Host)
	}
	if c.m.stonithEnabled {
		c.probs.Warnf(c.cf.Path, c.cf.StonithHosts[0].Line, "stonith_host", "stonith-enabled is set to true: the original converter meant to but never did (it compared against the wrong spelling)")
		if c.opt.Schema == Pacemaker {
			c.probs.Warnf(c.cf.Path, c.cf.StonithHosts[0].Line, "stonith_host", "stonith_host types are heartbeat stonith plugins: current Pacemaker runs them only through cluster-glue's fence_legacy; consider the matching fence_* agent")
		}
	}
}

// connectivity maps ping nodes watched by ipfail or pingd.
func (c *converter) connectivity() {
	cf := c.cf
	if cf == nil || len(cf.Ping) == 0 {
		return
	}
	rs, ok := cf.pingd()
	if !ok {
		return // v1 ping nodes without ipfail never move resources
	}
	if c.opt.Schema == Legacy {
		c.probs.Warnf(cf.Path, rs.Line, "respawn", "ping nodes and %s are not converted in the legacy form (ipfail does not work in CRM mode): resources no longer move to the node with better connectivity", rs.Command)
		return
	}
	c.probs.Warnf(cf.Path, rs.Line, "respawn", "%s is replaced by a cloned ocf:pacemaker:ping (attribute pingd, 1000 per reachable ping node) and a location rule per group preferring the better-connected node; remove the respawn line in CRM mode", rs.Command)
	var hosts []string
	for _, p := range cf.Ping {
		if len(p.Hosts) > 1 {
			c.probs.Warnf(cf.Path, p.Line, "ping_group", "ping_group %s counts as one node when any host answers; ocf:pacemaker:ping counts each host", p.Name)
		}
		hosts = append(hosts, p.Hosts...)
	}
	p := &primitive{id: "ping", class: "ocf", typ: "ping", params: []nvpair{
		{"ping_inst_attr_host_list", "host_list", strings.Join(hosts, " ")},
		{"ping_inst_attr_multiplier", "multiplier", "1000"},
		{"ping_inst_attr_dampen", "dampen", "5s"},
	}}
	if !c.opt.NoMonitor {
		p.ops = []op{{id: "ping_mon", name: "monitor", interval: "10s", timeout: "60s"}}
	}
	for _, id := range []string{"ping", "ping_clone"} {
		if _, dup := c.ids[id]; dup {
			c.probs.Errorf(cf.Path, rs.Line, "respawn", "id %s is needed for the connectivity clone but already used in haresources", id)
			return
		}
	}
	var cons []*constraint
	for _, it := range c.m.items {
		if it.kind != kindClone && it.members[0].class != "stonith" {
			cons = append(cons, &constraint{kind: "connectivity", id: "rsc_location_" + it.id + "_connected", rsc: it.id, pingAttribute: "pingd"})
		}
	}
	c.m.items = append(c.m.items, &item{kind: kindClone, id: "ping_clone", members: []*primitive{p}})
	c.m.constraints = append(c.m.constraints, cons...)
}

// checkReferences reports order and colocation constraints naming
// resources that do not exist.
func (c *converter) checkReferences() {
	defined := map[string]bool{}
	for _, it := range c.m.items {
		defined[it.id] = true
		for _, p := range it.members {
			defined[p.id] = true
		}
	}
	for _, k := range c.m.constraints {
		if k.kind != "order" && k.kind != "colocation" {
			continue
		}
		for _, ref := range []string{k.from, k.to} {
			if !defined[ref] {
				c.errorf(k.line, "#rsc_"+k.kind, "#rsc_%s refers to %s, which is not a resource or group id of this file", k.kind, ref)
			}
		}
	}
}

// sortProblems orders problems by file and line, keeping the order of
// those on the same line.
func sortProblems(l diag.List) {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].File != l[j].File {
			return l[i].File > l[j].File // haresources before ha.cf
		}
		return l[i].Line < l[j].Line
	})
}
