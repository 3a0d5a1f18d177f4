// Package hbapi is a client of heartbeat 3.0.6's own API socket
// (/run/heartbeat/register), for the subset cl_status needs: sign-on,
// node list, links, node weight and site, parameters, resource holding
// and client status. heartbeat-go's tools use it when the C daemon still
// runs on a node (a cluster migrated node by node), so cl_status keeps
// answering there.
//
// Wire format (shared/spec/tools.md §4): every message is an 8-byte header
// (int32 length, uint32 magic 0xabcd, little-endian) followed by length
// bytes: the classic text form ">>>\nname=value\n...<<<\n" and a NUL.
package hbapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
)

// SocketName is the API socket's name in heartbeat's run directory.
const SocketName = "register"

// Magic is the IPC header's magic number.
const Magic = 0xabcd

// MaxMessage bounds one message's payload, in bytes.
const MaxMessage = 1 << 20

// Field is one name=value line of a message.
type Field struct{ Name, Value string }

// Message is a message as an ordered list of fields.
type Message []Field

// Get returns the value of the first field called name.
func (m Message) Get(name string) (string, bool) {
	for _, f := range m {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}

// Value returns the value of name, "" if absent.
func (m Message) Value(name string) string { v, _ := m.Get(name); return v }

// Encode frames m for the socket.
func Encode(m Message) []byte {
	var body bytes.Buffer
	body.WriteString(">>>\n")
	for _, f := range m {
		body.WriteString(f.Name + "=" + f.Value + "\n")
	}
	body.WriteString("<<<\n\x00")
	out := make([]byte, 8, 8+body.Len())
	binary.LittleEndian.PutUint32(out[0:], uint32(body.Len()))
	binary.LittleEndian.PutUint32(out[4:], Magic)
	return append(out, body.Bytes()...)
}

// DecodePayload parses a message payload (what follows the header).
// Typed fields ("(1)name=value") keep their name without the type.
func DecodePayload(p []byte) (Message, error) {
	p = bytes.TrimRight(p, "\x00")
	s := string(p)
	body, ok := strings.CutPrefix(s, ">>>\n")
	if !ok {
		return nil, errors.New("hbapi: message does not start with >>>")
	}
	body, ok = strings.CutSuffix(body, "<<<\n")
	if !ok {
		if body, ok = strings.CutSuffix(body, "<<<"); !ok {
			return nil, errors.New("hbapi: message does not end with <<<")
		}
	}
	var m Message
	for _, l := range strings.Split(body, "\n") {
		if l == "" {
			continue
		}
		name, value, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("hbapi: line without '=': %.40q", l)
		}
		if strings.HasPrefix(name, "(") {
			if i := strings.IndexByte(name, ')'); i > 0 {
				name = name[i+1:]
			}
		}
		m = append(m, Field{name, value})
	}
	return m, nil
}

// ReadMessage reads one framed message.
func ReadMessage(r io.Reader) (Message, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := int32(binary.LittleEndian.Uint32(h[0:]))
	if magic := binary.LittleEndian.Uint32(h[4:]); magic != Magic {
		return nil, fmt.Errorf("hbapi: bad magic %#x", magic)
	}
	if n < 0 || n > MaxMessage {
		return nil, fmt.Errorf("hbapi: bad message length %d", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, err
	}
	return DecodePayload(p)
}

// Error is a request the daemon answered with a failure result.
type Error struct {
	Request string
	Result  string // "badreq", "fail"
	Info    string // heartbeat's reason, e.g. "EINVAL"
}

func (e *Error) Error() string {
	if e.Info != "" {
		return e.Info
	}
	return e.Result
}

// Info is what sign-on tells about the daemon.
type Info struct {
	Node        string // local node name
	Version     string // hbversion
	Pacemaker   string // ha.cf crm/pacemaker value
	DeadTime    time.Duration
	Keepalive   time.Duration
	LogFacility int // -1: none
}

// Conn is a signed-on casual client (its id is its pid, as cl_status's).
type Conn struct {
	c    net.Conn
	pid  string
	dest string
	Info Info
}

// Signon connects to the API socket in runDir and signs on. A refused
// sign-on returns an *Error.
func Signon(ctx context.Context, runDir string) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", filepath.Join(runDir, SocketName))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	conn := &Conn{c: c, pid: strconv.Itoa(os.Getpid()), dest: strings.ToLower(host)}
	m, err := conn.request(ctx, "signon", Field{"uid", strconv.Itoa(os.Geteuid())}, Field{"gid", strconv.Itoa(os.Getegid())})
	if err != nil {
		c.Close()
		return nil, err
	}
	conn.Info = Info{Node: m.Value("node"), Version: m.Value("hbversion"), Pacemaker: m.Value("pacemaker"), LogFacility: -1}
	if ms, err := strconv.ParseInt(m.Value("deadtime"), 16, 64); err == nil {
		conn.Info.DeadTime = time.Duration(ms) * time.Millisecond
	}
	if ms, err := strconv.ParseInt(m.Value("keepalive"), 16, 64); err == nil {
		conn.Info.Keepalive = time.Duration(ms) * time.Millisecond
	}
	if f, err := strconv.Atoi(m.Value("logfacility")); err == nil {
		conn.Info.LogFacility = f
	}
	if conn.Info.Node != "" {
		conn.dest = conn.Info.Node
	}
	return conn, nil
}

// Close signs off and closes the connection.
func (c *Conn) Close() error {
	c.c.SetWriteDeadline(time.Now().Add(time.Second))
	c.send("signoff")
	return c.c.Close()
}

func (c *Conn) send(reqtype string, extra ...Field) error {
	m := Message{{"t", "hbapi-req"}, {"reqtype", reqtype}, {"dest", c.dest}, {"pid", c.pid}, {"from_id", c.pid}}
	_, err := c.c.Write(Encode(append(m, extra...)))
	return err
}

// read returns the next message that answers reqtype, skipping the
// cluster traffic a signed-on client may also receive.
func (c *Conn) read(reqtype string) (Message, error) {
	for {
		m, err := ReadMessage(c.c)
		if err != nil {
			return nil, err
		}
		if m.Value("t") == "hbapi-resp" && m.Value("reqtype") == reqtype {
			return m, nil
		}
		if reqtype == "clientstatus" && m.Value("t") == "respond-cstatus" {
			return m, nil
		}
	}
}

func (c *Conn) deadline(ctx context.Context) func() bool {
	d, _ := ctx.Deadline()
	c.c.SetDeadline(d)
	return context.AfterFunc(ctx, func() { c.c.SetDeadline(time.Unix(1, 0)) })
}

func (c *Conn) wrap(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ne net.Error
	if d, ok := ctx.Deadline(); ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return err
}

// request sends one request and returns its single answer.
func (c *Conn) request(ctx context.Context, reqtype string, extra ...Field) (Message, error) {
	stop := c.deadline(ctx)
	defer stop()
	if err := c.send(reqtype, extra...); err != nil {
		return nil, c.wrap(ctx, err)
	}
	m, err := c.read(reqtype)
	if err != nil {
		return nil, c.wrap(ctx, err)
	}
	if r := m.Value("result"); r != "OK" {
		return nil, &Error{Request: reqtype, Result: r, Info: m.Value("info")}
	}
	return m, nil
}

// list sends one request answered by a series of messages ending in
// result=OK (intermediate ones say "ok/more").
func (c *Conn) list(ctx context.Context, reqtype string, extra ...Field) ([]Message, error) {
	stop := c.deadline(ctx)
	defer stop()
	if err := c.send(reqtype, extra...); err != nil {
		return nil, c.wrap(ctx, err)
	}
	var out []Message
	for len(out) < 10000 {
		m, err := c.read(reqtype)
		if err != nil {
			return nil, c.wrap(ctx, err)
		}
		switch r := m.Value("result"); r {
		case "OK":
			return append(out, m), nil
		case "ok/more", "more":
			out = append(out, m)
		default:
			return nil, &Error{Request: reqtype, Result: r, Info: m.Value("info")}
		}
	}
	return nil, fmt.Errorf("hbapi: %s: endless answer", reqtype)
}

// Node is one entry of the node list.
type Node struct {
	Name   string
	Type   ctl.NodeType
	Status ctl.NodeStatus
}

// Nodes lists the nodes in heartbeat's node-table order.
func (c *Conn) Nodes(ctx context.Context) ([]Node, error) {
	ms, err := c.list(ctx, "nodelist")
	if err != nil {
		return nil, err
	}
	var out []Node
	for _, m := range ms {
		if n, ok := m.Get("node"); ok {
			out = append(out, Node{Name: n, Type: ctl.NodeType(m.Value("nodetype")), Status: ctl.NodeStatus(m.Value("st"))})
		}
	}
	return out, nil
}

// Links lists node's links in configuration order.
func (c *Conn) Links(ctx context.Context, node string) ([]ctl.Link, error) {
	ms, err := c.list(ctx, "iflist", Field{"node", node})
	if err != nil {
		return nil, err
	}
	var out []ctl.Link
	for _, m := range ms {
		if n, ok := m.Get("ifname"); ok {
			out = append(out, ctl.Link{Name: n, Status: ctl.LinkStatus(m.Value("st"))})
		}
	}
	return out, nil
}

// Weight returns node's weight.
func (c *Conn) Weight(ctx context.Context, node string) (int, error) {
	m, err := c.request(ctx, "nodeweight", Field{"node", node})
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(m.Value("weight"))
}

// Site returns node's site.
func (c *Conn) Site(ctx context.Context, node string) (string, error) {
	m, err := c.request(ctx, "nodesite", Field{"node", node})
	if err != nil {
		return "", err
	}
	return m.Value("site"), nil
}

// Parameter returns the recorded value of a parameter; ok is false when
// heartbeat has none.
func (c *Conn) Parameter(ctx context.Context, name string) (value string, ok bool, err error) {
	m, err := c.request(ctx, "getparm", Field{"pname", name})
	if err != nil {
		return "", false, err
	}
	v, ok := m.Get("pvalue")
	return v, ok, nil
}

// Resources returns the local holding (rsc_hold).
func (c *Conn) Resources(ctx context.Context) (ctl.Holding, error) {
	m, err := c.request(ctx, "getrsc")
	if err != nil {
		return "", err
	}
	return ctl.Holding(m.Value("rsc_hold")), nil
}

// ClientStatus asks for an API client's state on node; a remote node's
// answer comes over the cluster, and ctl.ErrNoResponse when it does not
// come within timeout.
func (c *Conn) ClientStatus(ctx context.Context, node, client string, timeout time.Duration) (ctl.ClientState, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := c.deadline(ctx)
	defer stop()
	if err := c.send("clientstatus", Field{"node", node}, Field{"cn", client}); err != nil {
		return "", err
	}
	m, err := c.read("clientstatus")
	if err != nil {
		var ne net.Error
		if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
			return "", ctl.ErrNoResponse
		}
		return "", err
	}
	if r, ok := m.Get("result"); ok && r != "OK" {
		return "", &Error{Request: "clientstatus", Result: r, Info: m.Value("info")}
	}
	return ctl.ClientState(m.Value("cs")), nil
}

// Want says what Snapshot should ask for: heartbeat answers each request
// in turn, a few hundred milliseconds apiece on a busy node, so a tool asks
// only for what it shows.
type Want struct {
	Nodes     bool   // the node list (implied by Links, Weight, Site)
	Links     bool   // each node's links
	Weight    bool   // each node's weight
	Site      bool   // each node's site
	Only      string // restrict Links, Weight, Site to this node (case-insensitive); "" for all
	Resources bool   // the local holding (skipped under Pacemaker)
}

// All asks for everything.
var All = Want{Nodes: true, Links: true, Weight: true, Site: true, Resources: true}

// Snapshot gathers what w asks for into a ctl.Status (Parameters are
// never filled: ask Parameter for one).
func (c *Conn) Snapshot(ctx context.Context, w Want) (ctl.Status, error) {
	st := ctl.Status{Version: c.Info.Version, LocalNode: c.Info.Node, Pacemaker: c.Info.Pacemaker,
		DeadTime: c.Info.DeadTime, Keepalive: c.Info.Keepalive}
	if w.Nodes || w.Links || w.Weight || w.Site {
		nodes, err := c.Nodes(ctx)
		if err != nil {
			return ctl.Status{}, err
		}
		for _, n := range nodes {
			cn := ctl.Node{Name: n.Name, Type: n.Type, Status: n.Status}
			if w.Only == "" || strings.EqualFold(w.Only, n.Name) {
				if w.Links {
					if cn.Links, err = c.Links(ctx, n.Name); err != nil {
						return ctl.Status{}, err
					}
				}
				if w.Weight {
					if cn.Weight, err = c.Weight(ctx, n.Name); err != nil {
						return ctl.Status{}, err
					}
				}
				if w.Site {
					if cn.Site, err = c.Site(ctx, n.Name); err != nil {
						return ctl.Status{}, err
					}
				}
			}
			st.Nodes = append(st.Nodes, cn)
		}
	}
	if w.Resources && st.Managed() == "haresources" {
		var err error
		if st.Resources, err = c.Resources(ctx); err != nil {
			return ctl.Status{}, err
		}
	}
	return st, nil
}
