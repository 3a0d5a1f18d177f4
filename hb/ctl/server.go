package ctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Handler is what the daemon implements to answer the control socket.
// Methods are called concurrently, one goroutine per connection.
type Handler interface {
	// Status returns a snapshot of the cluster as the local node sees it.
	Status(ctx context.Context) (Status, error)
	// Standby asks the local node to give up what (hb_standby); it returns
	// once the request is accepted, not when resources have moved.
	Standby(ctx context.Context, what What) error
	// Takeover asks the peers to hand what over to us (hb_takeover); it
	// returns once the request is sent.
	Takeover(ctx context.Context, what What) error
}

// Optional capabilities a Handler may also implement; the server answers
// CodeUnsupported for those it lacks.
type (
	// Reloader rereads the configuration (heartbeat -r, SIGHUP).
	Reloader interface {
		Reload(ctx context.Context) error
	}
	// Shutdowner starts a graceful shutdown (heartbeat -k).
	Shutdowner interface {
		Shutdown(ctx context.Context) error
	}
	// ClientQuerier asks an active remote node about one of its API
	// clients and waits for the answer until ctx ends (then it returns
	// ErrNoResponse). The server answers the local node and non-active
	// nodes from Status itself.
	ClientQuerier interface {
		ClientStatus(ctx context.Context, node, client string) (ClientState, error)
	}
)

// Options tunes a Server. The zero value is ready to use.
type Options struct {
	// Group owns the socket and may read the status; DefaultGroup if
	// empty. When the group does not exist the socket keeps the daemon's
	// group and only root and the daemon's user may use it.
	Group string
	// Mode of the socket file; 0660 if zero.
	Mode fs.FileMode
	// Logger receives one line per refused or failed request; discarded if nil.
	Logger *slog.Logger
	// IdleTimeout closes a connection that sends nothing for this long; 1 min if zero.
	IdleTimeout time.Duration
	// MaxConns bounds concurrent connections; 64 if zero.
	MaxConns int
}

// Server serves the control protocol on a Unix socket.
type Server struct {
	path  string
	h     Handler
	opts  Options
	log   *slog.Logger
	ln    *net.UnixListener
	info  fs.FileInfo // the socket file we created, to remove only ours
	gid   int         // the group's id, -1 if none
	euid  int
	slots chan struct{}

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen creates the control socket at path (normally SocketPath(runDir))
// with the mode and group of opts, replacing a stale socket left by a
// daemon that died. It fails when another daemon answers on path. The
// socket appears under its final name only once its mode and group are
// set, so nobody can connect through a wider mode.
func Listen(path string, h Handler, opts Options) (*Server, error) {
	if h == nil {
		return nil, errors.New("ctl: nil handler")
	}
	if opts.Group == "" {
		opts.Group = DefaultGroup
	}
	if opts.Mode == 0 {
		opts.Mode = 0o660
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = time.Minute
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 64
	}
	s := &Server{path: path, h: h, opts: opts, log: opts.Logger, gid: -1, euid: os.Geteuid(),
		slots: make(chan struct{}, opts.MaxConns), conns: map[net.Conn]struct{}{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if g, err := user.LookupGroup(opts.Group); err == nil {
		if id, err := strconv.Atoi(g.Gid); err == nil {
			s.gid = id
		}
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	_ = os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("ctl: listen: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*Server, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Chmod(tmp, opts.Mode); err != nil {
		return fail(fmt.Errorf("ctl: %w", err))
	}
	if s.gid >= 0 {
		if err := os.Lchown(tmp, -1, s.gid); err != nil {
			if s.euid == 0 {
				return fail(fmt.Errorf("ctl: %w", err))
			}
			// Not root and not in the group: the socket keeps our group.
			s.log.Warn("control socket keeps the daemon's group", "group", opts.Group, "err", err)
			s.gid = -1
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("ctl: %w", err))
	}
	if s.info, err = os.Lstat(path); err != nil {
		return fail(fmt.Errorf("ctl: %w", err))
	}
	s.ln = ln
	return s, nil
}

// removeStale removes a socket at path that nobody answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ctl: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("ctl: %s exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("ctl: %s is in use: is another heartbeat running?", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ctl: removing stale socket: %w", err)
	}
	return nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Serve accepts connections until ctx ends or Close is called, then
// closes every connection, waits for their handlers and returns nil.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				s.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.Close()
			s.wg.Wait()
			return fmt.Errorf("ctl: accept: %w", err)
		}
		select {
		case s.slots <- struct{}{}:
		default:
			s.log.Warn("control socket: too many connections, refusing one")
			writeResponse(c, errorResponse(&Error{Code: CodeFailed, Message: "too many connections"}))
			c.Close()
			continue
		}
		if !s.track(c) {
			<-s.slots
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			defer s.untrack(c)
			s.serveConn(ctx, c)
		}()
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// Close stops listening, closes every connection and removes the socket
// file if it is still the one Listen created. Serve returns after Close.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	if fi, e := os.Lstat(s.path); e == nil && os.SameFile(fi, s.info) {
		os.Remove(s.path)
	}
	return err
}

// peer is who is on the other end of a connection.
type peer struct {
	uid, gid, pid int
	known         bool
}

func (s *Server) serveConn(ctx context.Context, c *net.UnixConn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := peerOf(c)
	r := bufio.NewReaderSize(c, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout))
		line, err := readLine(r, MaxRequest)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				writeResponse(c, errorResponse(&Error{Code: CodeBadRequest, Message: "request too long"}))
			}
			return
		}
		resp := s.handle(ctx, p, line)
		c.SetWriteDeadline(time.Now().Add(s.opts.IdleTimeout))
		if err := writeResponse(c, resp); err != nil {
			return
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine reads one "\n"-terminated line of at most max bytes (without
// the newline). EOF before a newline is an error.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) > max+1 {
			return nil, errLineTooLong
		}
		buf = append(buf, chunk...)
		if err == nil {
			return bytes.TrimSuffix(bytes.TrimSuffix(buf, []byte("\n")), []byte("\r")), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if err == io.EOF && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

func writeResponse(w io.Writer, r Response) error {
	b, err := json.Marshal(r)
	if err != nil {
		b, _ = json.Marshal(errorResponse(fmt.Errorf("encoding response: %w", err)))
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// allowed reports whether p may run op.
func (s *Server) allowed(p peer, op Op) bool {
	if !p.known {
		return false
	}
	if p.uid == 0 || p.uid == s.euid {
		return true
	}
	if op.changes() || s.gid < 0 {
		return false
	}
	if p.gid == s.gid {
		return true
	}
	for _, g := range procGroups(p.pid) {
		if g == s.gid {
			return true
		}
	}
	return false
}

func (s *Server) handle(ctx context.Context, p peer, line []byte) (resp Response) {
	req, err := DecodeRequest(line)
	if err != nil {
		return errorResponse(err)
	}
	if !s.allowed(p, req.Op) {
		s.log.Warn("control socket: request refused", "op", req.Op, "uid", p.uid, "pid", p.pid)
		return errorResponse(ErrDenied)
	}
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("control socket: handler panicked", "op", req.Op, "panic", v)
			resp = errorResponse(fmt.Errorf("internal error in %s", req.Op))
		}
	}()
	ok := Response{V: Version, OK: true}
	switch req.Op {
	case OpStatus:
		st, err := s.h.Status(ctx)
		if err != nil {
			return errorResponse(err)
		}
		ok.Status = &st
	case OpStandby:
		err = s.h.Standby(ctx, req.What)
	case OpTakeover:
		err = s.h.Takeover(ctx, req.What)
	case OpReload:
		if r, can := s.h.(Reloader); can {
			err = r.Reload(ctx)
		} else {
			err = ErrUnsupported
		}
	case OpShutdown:
		if r, can := s.h.(Shutdowner); can {
			err = r.Shutdown(ctx)
		} else {
			err = ErrUnsupported
		}
	case OpClientStatus:
		ok.ClientState, err = s.clientStatus(ctx, req)
	}
	if err != nil {
		s.log.Info("control socket: request failed", "op", req.Op, "err", err)
		return errorResponse(err)
	}
	return ok
}

// clientStatus answers as heartbeat does: the local node and nodes that
// are not active from the status; an active peer by asking it.
func (s *Server) clientStatus(ctx context.Context, req Request) (ClientState, error) {
	st, err := s.h.Status(ctx)
	if err != nil {
		return "", err
	}
	n := st.FindNode(req.Node)
	switch {
	case n != nil && strings.EqualFold(n.Name, st.LocalNode):
		for _, c := range st.Clients {
			if c.Name == req.Client {
				return c.State, nil
			}
		}
		return ClientOffline, nil
	case n != nil && n.Status != StatusActive:
		return ClientOffline, nil
	}
	q, can := s.h.(ClientQuerier)
	if n == nil || !can {
		return "", ErrNoResponse
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(req.TimeoutMS)*time.Millisecond)
	defer cancel()
	cs, err := q.ClientStatus(ctx, n.Name, req.Client)
	if err != nil && ctx.Err() != nil {
		return "", ErrNoResponse
	}
	return cs, err
}

// procGroups returns the supplementary groups of process pid, read from
// /proc (SO_PEERCRED only carries the primary group).
func procGroups(pid int) []int {
	if pid <= 0 {
		return nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "Groups:"); ok {
			var gs []int
			for _, f := range strings.Fields(rest) {
				if g, err := strconv.Atoi(f); err == nil {
					gs = append(gs, g)
				}
			}
			return gs
		}
	}
	return nil
}
