package hbapi

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
)

// A signon response as the real daemon sent it (spec/tools.md §4.2, seen).
var signonResp = Message{{"t", "hbapi-resp"}, {"reqtype", "signon"}, {"result", "OK"}, {"deadtime", "fa0"},
	{"keepalive", "1f4"}, {"node", "nodea"}, {"hbversion", "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)"},
	{"pacemaker", "false"}, {"logfacility", "-1"}}

func TestEncodeDecode(t *testing.T) {
	b := Encode(signonResp)
	if !bytes.Equal(b[:8], []byte{byte(len(b) - 8), 0, 0, 0, 0xcd, 0xab, 0, 0}) {
		t.Fatalf("header % x", b[:8])
	}
	if !bytes.HasPrefix(b[8:], []byte(">>>\nt=hbapi-resp\n")) || !bytes.HasSuffix(b, []byte("<<<\n\x00")) {
		t.Fatalf("payload %q", b[8:])
	}
	m, err := ReadMessage(bytes.NewReader(b))
	if err != nil || !reflect.DeepEqual(m, signonResp) {
		t.Fatalf("round trip: %v %v", m, err)
	}
	typed, err := DecodePayload([]byte(">>>\n(1)queryuuid=xyz\nt=x\n<<<\n\x00"))
	if err != nil || typed.Value("queryuuid") != "xyz" {
		t.Fatalf("typed field: %v %v", typed, err)
	}
	for _, bad := range []string{"", "t=x\n", ">>>\nt=x\n", ">>>\nnoequals\n<<<\n"} {
		if _, err := DecodePayload([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	hdr := []byte{0xff, 0xff, 0xff, 0x7f, 0xcd, 0xab, 0, 0}
	if _, err := ReadMessage(bytes.NewReader(hdr)); err == nil {
		t.Error("2 GiB message accepted")
	}
	if _, err := ReadMessage(bytes.NewReader([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})); err == nil {
		t.Error("bad magic accepted")
	}
}

// fakeDaemon answers the API subset as heartbeat 3.0.6 does for a
// two-node cluster, nodeb's ipfail answering over the cluster late.
func fakeDaemon(t *testing.T, refuse bool) string {
	dir, err := os.MkdirTemp("", "hbapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveFake(c, refuse)
		}
	}()
	return dir
}

func serveFake(c net.Conn, refuse bool) {
	defer c.Close()
	resp := func(req Message, fields ...Field) {
		c.Write(Encode(append(Message{{"t", "hbapi-resp"}, {"reqtype", req.Value("reqtype")}}, fields...)))
	}
	for {
		req, err := ReadMessage(c)
		if err != nil {
			return
		}
		switch req.Value("reqtype") {
		case "signon":
			if refuse {
				resp(req, Field{"result", "badreq"}, Field{"info", "uid not allowed"})
				continue
			}
			// Unrelated cluster traffic first: the client skips it.
			c.Write(Encode(Message{{"t", "status"}, {"st", "active"}}))
			c.Write(Encode(signonResp))
		case "nodelist":
			resp(req, Field{"node", "ping1"}, Field{"nodetype", "ping"}, Field{"st", "ping"}, Field{"result", "ok/more"})
			resp(req, Field{"node", "nodea"}, Field{"nodetype", "normal"}, Field{"st", "active"}, Field{"result", "ok/more"})
			resp(req, Field{"node", "nodeb"}, Field{"nodetype", "normal"}, Field{"st", "active"}, Field{"result", "OK"})
		case "iflist":
			if req.Value("node") == "nosuch" {
				resp(req, Field{"result", "badreq"}, Field{"info", "EINVAL"})
				continue
			}
			resp(req, Field{"ifname", "eth0"}, Field{"st", "up"}, Field{"result", "ok/more"})
			resp(req, Field{"ifname", "eth1"}, Field{"st", "dead"}, Field{"result", "OK"})
		case "nodeweight":
			resp(req, Field{"weight", "100"}, Field{"result", "OK"})
		case "nodesite":
			resp(req, Field{"site", "dc" + req.Value("node")}, Field{"result", "OK"})
		case "getparm":
			if req.Value("pname") == "deadtime" {
				resp(req, Field{"pvalue", "4"}, Field{"result", "OK"})
			} else {
				resp(req, Field{"result", "OK"})
			}
		case "getrsc":
			resp(req, Field{"rsc_hold", "local"}, Field{"result", "OK"})
		case "clientstatus":
			switch req.Value("node") {
			case "nodea":
				resp(req, Field{"subt", "respond-cstatus"}, Field{"cs", "online"}, Field{"result", "OK"})
			case "nodeb":
				if req.Value("cn") == "ipfail" {
					c.Write(Encode(Message{{"t", "respond-cstatus"}, {"cs", "join"}}))
				} // else: the peer never answers
			}
		case "signoff":
			return
		default:
			resp(req, Field{"result", "badreq"})
		}
	}
}

func TestClientAgainstFakeDaemon(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Signon(ctx, fakeDaemon(t, false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := Info{Node: "nodea", Version: "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)", Pacemaker: "false",
		DeadTime: 4 * time.Second, Keepalive: 500 * time.Millisecond, LogFacility: -1}
	if c.Info != want {
		t.Fatalf("info %+v", c.Info)
	}
	st, err := c.Snapshot(ctx, Want{Links: true, Site: true, Only: "NODEB", Resources: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 3 || st.Nodes[0].Type != ctl.NodePing || st.Nodes[2].Site != "dcnodeb" || st.Nodes[1].Site != "" ||
		len(st.Nodes[2].Links) != 2 || st.Nodes[2].Links[1] != (ctl.Link{Name: "eth1", Status: ctl.LinkDead}) || st.Resources != ctl.HoldLocal {
		t.Fatalf("snapshot %+v", st)
	}
	if _, err := c.Links(ctx, "nosuch"); err == nil || err.Error() != "EINVAL" {
		t.Fatalf("unknown node links: %v", err)
	}
	if v, ok, err := c.Parameter(ctx, "deadtime"); v != "4" || !ok || err != nil {
		t.Fatalf("deadtime: %q %v %v", v, ok, err)
	}
	if _, ok, err := c.Parameter(ctx, "node"); ok || err != nil {
		t.Fatalf("unset parameter: %v %v", ok, err)
	}
	for _, tc := range []struct {
		node, client string
		want         ctl.ClientState
		err          error
	}{
		{"nodea", "ipfail", ctl.ClientOnline, nil},
		{"nodeb", "ipfail", ctl.ClientJoin, nil},
		{"nodeb", "silent", "", ctl.ErrNoResponse},
	} {
		cs, err := c.ClientStatus(ctx, tc.node, tc.client, 200*time.Millisecond)
		if cs != tc.want || !errors.Is(err, tc.err) {
			t.Fatalf("clientstatus %s %s: %q %v", tc.node, tc.client, cs, err)
		}
	}
}

func TestSignonRefused(t *testing.T) {
	_, err := Signon(context.Background(), fakeDaemon(t, true))
	var e *Error
	if !errors.As(err, &e) || e.Result != "badreq" || e.Info != "uid not allowed" {
		t.Fatalf("got %v", err)
	}
	if _, err := Signon(context.Background(), t.TempDir()); !ctl.NotRunning(err) {
		t.Fatalf("no socket: %v", err)
	}
}

func FuzzReadMessage(f *testing.F) {
	f.Add(Encode(signonResp))
	f.Add(Encode(Message{{"t", "hbapi-resp"}, {"reqtype", "nodelist"}, {"node", "a"}, {"result", "ok/more"}}))
	f.Add([]byte{5, 0, 0, 0, 0xcd, 0xab, 0, 0, '>', '>', '>', '\n', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadMessage(bytes.NewReader(b))
		if err != nil {
			return
		}
		// What decodes re-encodes to something that decodes the same.
		for _, fl := range m {
			if bytes.ContainsAny([]byte(fl.Name+fl.Value), "\n\x00") {
				return // not representable in the text form
			}
		}
		again, err := ReadMessage(bytes.NewReader(Encode(m)))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("%q -> %v -> %v %v", b, m, again, err)
		}
	})
}
