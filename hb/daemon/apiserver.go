package daemon

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/ctl/hbapi"
)

// APISocketName is heartbeat 3.0.6's client API socket in the socket
// directory (/run/heartbeat/register).
const APISocketName = hbapi.SocketName

// apiServer answers heartbeat 3.0.6's client API (shared/spec/tools.md §4)
// for the queries the stock cl_status and monitoring scripts make:
// signon, signoff, nodelist, nodestatus, nodetype, nodeweight, nodesite,
// iflist, ifstatus, numnodes, getparm, getrsc, clientstatus. Cluster
// messages are not forwarded to API clients (heartbeat-go runs ipfail
// built in). Like heartbeat, it opens the socket at comm-up, mode 0777.
type apiServer struct {
	r    *runtime
	ln   *net.UnixListener
	path string
	wg   sync.WaitGroup
	mu   sync.Mutex
	cs   map[net.Conn]bool
}

func (r *runtime) startAPI(ctx context.Context) {
	if r.api != nil {
		return
	}
	path := filepath.Join(r.o.socketDir(), APISocketName)
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		r.log.Error(fmt.Sprintf("API socket %s is in use by another daemon", path))
		return
	}
	os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		r.log.Error(fmt.Sprintf("socket_wait_conn_new: trying to create in %s bind:: %v", path, err))
		return
	}
	os.Chmod(path, 0o777)
	s := &apiServer{r: r, ln: ln, path: path, cs: map[net.Conn]bool{}}
	r.api = s
	s.wg.Add(1)
	go s.serve(ctx)
}

func (s *apiServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.cs {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	os.Remove(s.path)
}

func (s *apiServer) serve(ctx context.Context) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.cs[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.conn(ctx, c)
			s.mu.Lock()
			delete(s.cs, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func (s *apiServer) conn(ctx context.Context, c net.Conn) {
	br := bufio.NewReader(c)
	signedOn := false
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Minute))
		req, err := hbapi.ReadMessage(br)
		if err != nil {
			return
		}
		if req.Value("t") != "hbapi-req" {
			return // a casual client may only make requests
		}
		rt := req.Value("reqtype")
		if rt == "signoff" {
			return
		}
		if rt != "signon" && !signedOn {
			c.Write(hbapi.Encode(resp(rt, "result", "badreq", "info", "not signed on")))
			continue
		}
		var st ctl.Status
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err = (*ctlHandler)(s.r).Status(qctx)
		cancel()
		if err != nil {
			return
		}
		for _, m := range s.answer(rt, req, &st) {
			if _, err := c.Write(hbapi.Encode(m)); err != nil {
				return
			}
		}
		if rt == "signon" {
			signedOn = true
		}
	}
}

func resp(rt string, fields ...string) hbapi.Message {
	m := hbapi.Message{{Name: "t", Value: "hbapi-resp"}, {Name: "reqtype", Value: rt}}
	for i := 0; i+1 < len(fields); i += 2 {
		m = append(m, hbapi.Field{Name: fields[i], Value: fields[i+1]})
	}
	return m
}

func badreq(rt, info string) []hbapi.Message {
	return []hbapi.Message{resp(rt, "result", "badreq", "info", info)}
}

// answer returns the response messages to one request.
func (s *apiServer) answer(rt string, req hbapi.Message, st *ctl.Status) []hbapi.Message {
	cfg := s.r.cfg
	node := func() *ctl.Node { return st.FindNode(req.Value("node")) }
	switch rt {
	case "signon":
		fac := "-1"
		if f, ok := Facilities[cfg.LogFacility]; ok {
			fac = strconv.Itoa(f)
		}
		return []hbapi.Message{resp(rt, "result", "OK",
			"deadtime", strconv.FormatInt(cfg.DeadTime.Milliseconds(), 16),
			"keepalive", strconv.FormatInt(cfg.Keepalive.Milliseconds(), 16),
			"node", cfg.LocalNode, "hbversion", HBVersion, "pacemaker", cfg.Pacemaker, "logfacility", fac)}
	case "nodelist":
		if len(st.Nodes) == 0 {
			return badreq(rt, "no nodes")
		}
		var out []hbapi.Message
		for i, n := range st.Nodes {
			res := "ok/more"
			if i == len(st.Nodes)-1 {
				res = "OK"
			}
			out = append(out, resp(rt, "node", n.Name, "nodetype", string(n.Type), "st", string(n.Status), "result", res))
		}
		return out
	case "numnodes":
		n := 0
		for _, nd := range st.Nodes {
			if nd.Type == ctl.NodeNormal {
				n++
			}
		}
		return []hbapi.Message{resp(rt, "numnodes", strconv.Itoa(n), "result", "OK")}
	case "nodestatus", "nodetype", "nodeweight", "nodesite", "iflist", "ifstatus":
		n := node()
		if n == nil {
			return badreq(rt, "EINVAL")
		}
		switch rt {
		case "nodestatus":
			return []hbapi.Message{resp(rt, "st", string(n.Status), "result", "OK")}
		case "nodetype":
			return []hbapi.Message{resp(rt, "nodetype", string(n.Type), "result", "OK")}
		case "nodeweight":
			return []hbapi.Message{resp(rt, "weight", strconv.Itoa(n.Weight), "result", "OK")}
		case "nodesite":
			return []hbapi.Message{resp(rt, "site", n.Site, "result", "OK")}
		case "ifstatus":
			l := n.FindLink(req.Value("ifname"))
			if l == nil {
				return badreq(rt, "EINVAL")
			}
			return []hbapi.Message{resp(rt, "st", string(l.Status), "result", "OK")}
		}
		if len(n.Links) == 0 {
			return badreq(rt, "EINVAL")
		}
		var out []hbapi.Message
		for i, l := range n.Links {
			res := "ok/more"
			if i == len(n.Links)-1 {
				res = "OK"
			}
			out = append(out, resp(rt, "ifname", l.Name, "st", string(l.Status), "result", res))
		}
		return out
	case "getparm":
		name := req.Value("pname")
		if name == "crm" {
			// "crm" is recorded as "pacemaker" (cl_status -p crm shows it).
			name = "pacemaker"
		}
		if v, ok := st.Parameters[name]; ok {
			return []hbapi.Message{resp(rt, "pvalue", v, "result", "OK")}
		}
		return []hbapi.Message{resp(rt, "result", "OK")}
	case "getrsc":
		if st.Managed() != "haresources" {
			return badreq(rt, "Resource is managed by crm. Use crm tool to query resource")
		}
		return []hbapi.Message{resp(rt, "rsc_hold", string(st.Resources), "result", "OK")}
	case "clientstatus":
		cs := "offline"
		if strings.EqualFold(req.Value("node"), st.LocalNode) {
			for _, c := range st.Clients {
				if c.Name == req.Value("cn") {
					cs = string(c.State)
				}
			}
		}
		return []hbapi.Message{resp(rt, "subt", "respond-cstatus", "cs", cs, "result", "OK")}
	case "setfilter", "setsignal":
		return []hbapi.Message{resp(rt, "result", "OK")}
	case "set_sendqlen":
		return nil
	}
	return badreq(rt, "")
}
