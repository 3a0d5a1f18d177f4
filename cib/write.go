package cib

import (
	"bufio"
	"io"
	"sort"
	"strings"

	"github.com/beevik/etree"
)

// legacyOptions are the cluster options the original converter always
// wrote, in its order.
var legacyOptions = [][2]string{
	{"symmetric-cluster", "true"},
	{"no-quorum-policy", "stop"},
	{"default-resource-stickiness", "0"},
	{"default-resource-failure-stickiness", "0"},
	{"stonith-enabled", "false"},
	{"stonith-action", "reboot"},
	{"startup-fencing", "true"},
	{"stop-orphan-resources", "true"},
	{"stop-orphan-actions", "true"},
	{"remove-after-stop", "false"},
	{"short-resource-names", "true"},
	{"transition-idle-timeout", "5min"},
	{"default-action-timeout", "20s"},
	{"is-managed-default", "true"},
	{"cluster-delay", "60s"},
	{"pe-error-series-max", "-1"},
	{"pe-warn-series-max", "-1"},
	{"pe-input-series-max", "-1"},
}

// pacemakerOptions are those of legacyOptions that the pacemaker-3.x schema
// still has as cluster options and current Pacemaker still knows.
var pacemakerOptions = [][2]string{
	{"symmetric-cluster", "true"},
	{"no-quorum-policy", "stop"},
	{"stonith-enabled", "false"},
	{"stonith-action", "reboot"},
	{"startup-fencing", "true"},
	{"stop-orphan-resources", "true"},
	{"stop-orphan-actions", "true"},
	{"cluster-delay", "60s"},
	{"pe-error-series-max", "-1"},
	{"pe-warn-series-max", "-1"},
	{"pe-input-series-max", "-1"},
}

// Document returns the CIB as an etree document (a copy: changing it does
// not change the CIB).
func (c *CIB) Document() *etree.Document {
	return c.doc.Copy()
}

func (c *CIB) build() *etree.Document {
	doc := etree.NewDocument()
	if c.Schema == Legacy {
		doc.SetRoot(c.legacy())
	} else {
		doc.SetRoot(c.pacemaker())
	}
	return doc
}

func attrs(e *etree.Element, kv ...string) *etree.Element {
	for i := 0; i+1 < len(kv); i += 2 {
		e.CreateAttr(kv[i], kv[i+1])
	}
	return e
}

func child(parent *etree.Element, tag string, kv ...string) *etree.Element {
	return attrs(parent.CreateElement(tag), kv...)
}

func (c *CIB) legacy() *etree.Element {
	m := &c.m
	root := attrs(etree.NewElement("cib"), "admin_epoch", "0", "epoch", "0", "num_updates", "0")
	conf := child(root, "configuration")
	set := child(child(child(conf, "crm_config"), "cluster_property_set", "id", "cib-bootstrap-options"), "attributes")
	for _, o := range legacyOptions {
		v := o[1]
		if o[0] == "stonith-enabled" && m.stonithEnabled {
			v = "true"
		}
		if o[0] == "default-resource-stickiness" {
			v = m.stickiness
		}
		child(set, "nvpair", "id", "cib-bootstrap-options-"+o[0], "name", o[0], "value", v)
	}
	child(conf, "nodes")
	res := child(conf, "resources")
	prim := func(parent *etree.Element, p *primitive) {
		e := child(parent, "primitive", "id", p.id, "class", p.class, "type", p.typ, "provider", "heartbeat")
		if len(p.ops) > 0 {
			ops := child(e, "operations")
			for _, o := range p.ops {
				oe := child(ops, "op", "id", o.id, "name", o.name)
				if o.interval != "" {
					oe.CreateAttr("interval", o.interval)
				}
				oe.CreateAttr("timeout", o.timeout)
				if o.prereq != "" {
					oe.CreateAttr("prereq", o.prereq)
				}
			}
		}
		if len(p.params) > 0 {
			a := child(child(e, "instance_attributes", "id", p.id+"_inst_attr"), "attributes")
			for _, nv := range p.params {
				child(a, "nvpair", "id", nv.id, "name", nv.name, "value", nv.value)
			}
		}
	}
	for _, it := range m.items {
		switch it.kind {
		case kindPrimitive:
			prim(res, it.members[0])
		case kindGroup:
			g := child(res, "group", "id", it.id)
			for _, p := range it.members {
				prim(g, p)
			}
		case kindClone:
			cl := child(res, "clone", "id", it.id)
			if len(it.clone) > 0 {
				a := child(child(cl, "instance_attributes", "id", it.id+"_inst_attr"), "attributes")
				for _, nv := range it.clone {
					child(a, "nvpair", "id", nv.id, "name", nv.name, "value", nv.value)
				}
			}
			prim(cl, it.members[0])
		}
	}
	cons := child(conf, "constraints")
	for _, k := range m.constraints {
		switch k.kind {
		case "location":
			loc := child(cons, "rsc_location", "id", k.id, "rsc", k.rsc)
			rule := child(loc, "rule", "id", "prefered_location_"+k.rsc, "score", k.score)
			child(rule, "expression", "attribute", "#uname", "id", "prefered_location_"+k.rsc+"_expr", "operation", "eq", "value", k.node)
		case "order":
			child(cons, "rsc_order", "id", k.id, "from", k.from, "action", k.action, "type", k.typ, "to", k.to, "symmetrical", "true")
		case "colocation":
			child(cons, "rsc_colocation", "id", k.id, "from", k.from, "to", k.to, "score", k.score)
		}
	}
	child(root, "status")
	return root
}

func (c *CIB) pacemaker() *etree.Element {
	m := &c.m
	root := attrs(etree.NewElement("cib"), "admin_epoch", "0", "epoch", "0", "num_updates", "0", "validate-with", "pacemaker-3.0")
	conf := child(root, "configuration")
	set := child(child(conf, "crm_config"), "cluster_property_set", "id", "cib-bootstrap-options")
	for _, o := range pacemakerOptions {
		v := o[1]
		if o[0] == "stonith-enabled" && m.stonithEnabled {
			v = "true"
		}
		child(set, "nvpair", "id", "cib-bootstrap-options-"+o[0], "name", o[0], "value", v)
	}
	rd := child(child(conf, "rsc_defaults"), "meta_attributes", "id", "rsc-options")
	child(rd, "nvpair", "id", "rsc-options-resource-stickiness", "name", "resource-stickiness", "value", m.stickiness)
	child(rd, "nvpair", "id", "rsc-options-is-managed", "name", "is-managed", "value", "true")
	od := child(child(conf, "op_defaults"), "meta_attributes", "id", "op-options")
	child(od, "nvpair", "id", "op-options-timeout", "name", "timeout", "value", "20s")
	child(conf, "nodes")
	res := child(conf, "resources")
	prim := func(parent *etree.Element, p *primitive) {
		e := child(parent, "primitive", "id", p.id, "class", p.class)
		if p.class == "ocf" {
			prov := "heartbeat"
			if p.id == "ping" && p.typ == "ping" {
				prov = "pacemaker"
			}
			e.CreateAttr("provider", prov)
		}
		e.CreateAttr("type", p.typ)
		if len(p.params) > 0 {
			a := child(e, "instance_attributes", "id", p.id+"_inst_attr")
			for _, nv := range p.params {
				child(a, "nvpair", "id", nv.id, "name", nv.name, "value", nv.value)
			}
		}
		if len(p.ops) > 0 {
			ops := child(e, "operations")
			for _, o := range p.ops {
				iv := o.interval
				if iv == "" {
					iv = "0"
				}
				child(ops, "op", "id", o.id, "name", o.name, "interval", iv, "timeout", o.timeout)
			}
		}
	}
	for _, it := range m.items {
		switch it.kind {
		case kindPrimitive:
			prim(res, it.members[0])
		case kindGroup:
			g := child(res, "group", "id", it.id)
			for _, p := range it.members {
				prim(g, p)
			}
		case kindClone:
			cl := child(res, "clone", "id", it.id)
			if len(it.clone) > 0 {
				a := child(cl, "meta_attributes", "id", it.id+"_meta_attr")
				for _, nv := range it.clone {
					child(a, "nvpair", "id", nv.id, "name", strings.ReplaceAll(nv.name, "_", "-"), "value", nv.value)
				}
			}
			prim(cl, it.members[0])
		}
	}
	cons := child(conf, "constraints")
	for _, k := range m.constraints {
		switch k.kind {
		case "location":
			loc := child(cons, "rsc_location", "id", k.id, "rsc", k.rsc)
			rule := child(loc, "rule", "id", "prefered_location_"+k.rsc, "score", k.score)
			child(rule, "expression", "id", "prefered_location_"+k.rsc+"_expr", "attribute", "#uname", "operation", "eq", "value", k.node)
		case "connectivity":
			loc := child(cons, "rsc_location", "id", k.id, "rsc", k.rsc)
			rule := child(loc, "rule", "id", k.id+"_rule", "score-attribute", k.pingAttribute)
			child(rule, "expression", "id", k.id+"_expr", "attribute", k.pingAttribute, "operation", "defined")
		case "order":
			if k.typ == "before" {
				child(cons, "rsc_order", "id", k.id, "first", k.from, "then", k.to, "first-action", k.action, "symmetrical", "true")
			} else {
				child(cons, "rsc_order", "id", k.id, "first", k.to, "then", k.from, "then-action", k.action, "symmetrical", "true")
			}
		case "colocation":
			child(cons, "rsc_colocation", "id", k.id, "rsc", k.from, "with-rsc", k.to, "score", k.score)
		}
	}
	child(root, "status")
	return root
}

// WriteTo writes the CIB: the legacy form byte for byte as the original
// converter did (Python minidom: XML declaration "<?xml version="1.0" ?>",
// tab indentation, attributes sorted by name), the pacemaker form indented
// by two spaces without declaration.
func (c *CIB) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriter(cw)
	root := c.doc.Root()
	if c.Schema == Legacy {
		bw.WriteString("<?xml version=\"1.0\" ?>\n")
		writeElement(bw, root, 0, "\t", true)
	} else {
		writeElement(bw, root, 0, "  ", false)
	}
	err := bw.Flush()
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeElement(w *bufio.Writer, e *etree.Element, depth int, indent string, sorted bool) {
	for range depth {
		w.WriteString(indent)
	}
	w.WriteByte('<')
	w.WriteString(e.Tag)
	as := e.Attr
	if sorted {
		as = append([]etree.Attr(nil), as...)
		sort.SliceStable(as, func(i, j int) bool { return as[i].Key < as[j].Key })
	}
	for _, a := range as {
		w.WriteByte(' ')
		w.WriteString(a.Key)
		w.WriteString(`="`)
		w.WriteString(escapeAttr(a.Value))
		w.WriteByte('"')
	}
	kids := e.ChildElements()
	if len(kids) == 0 {
		w.WriteString("/>\n")
		return
	}
	w.WriteString(">\n")
	for _, k := range kids {
		writeElement(w, k, depth+1, indent, sorted)
	}
	for range depth {
		w.WriteString(indent)
	}
	w.WriteString("</")
	w.WriteString(e.Tag)
	w.WriteString(">\n")
}

var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func escapeAttr(s string) string { return attrEscaper.Replace(s) }
