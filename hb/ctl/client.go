package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"sync"
	"syscall"
	"time"
)

// Client talks to the local daemon's control socket. Its methods may be
// called from several goroutines; requests go out one at a time.
type Client struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
}

// Dial connects to the control socket in runDir.
func Dial(ctx context.Context, runDir string) (*Client, error) {
	return DialPath(ctx, SocketPath(runDir))
}

// DialPath connects to the control socket at path. Use NotRunning and
// errors.Is(err, ErrDenied) to tell "no daemon" from "not allowed".
func DialPath(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("%w: %s", ErrDenied, err)
		}
		return nil, err
	}
	return &Client{conn: c, r: bufio.NewReader(c)}, nil
}

// NotRunning reports whether a Dial error means no daemon listens: the
// socket (or its directory) is missing or nobody accepts on it.
func NotRunning(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR)
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// do sends one request and reads its response; ctx bounds both.
func (c *Client) do(ctx context.Context, req Request) (Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	req.V = Version
	b, err := json.Marshal(req)
	if err != nil {
		return Response{}, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Time{}
	}
	c.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return Response{}, c.ctxErr(ctx, err)
	}
	line, err := readLine(c.r, maxResponse)
	if err != nil {
		return Response{}, c.ctxErr(ctx, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return Response{}, fmt.Errorf("ctl: malformed response: %w", err)
	}
	if resp.Error != nil {
		return resp, resp.Error
	}
	if !resp.OK {
		return resp, errors.New("ctl: response neither ok nor error")
	}
	return resp, nil
}

// ctxErr reports an I/O error, as ctx's error when ctx caused it. The
// connection is closed: a late response would answer the next request.
func (c *Client) ctxErr(ctx context.Context, err error) error {
	c.conn.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ne net.Error
	if d, ok := ctx.Deadline(); ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return fmt.Errorf("ctl: %w", err)
}

// Status fetches the daemon's cluster snapshot.
func (c *Client) Status(ctx context.Context) (Status, error) {
	resp, err := c.do(ctx, Request{Op: OpStatus})
	if err != nil {
		return Status{}, err
	}
	if resp.Status == nil {
		return Status{}, errors.New("ctl: status response without status")
	}
	return *resp.Status, nil
}

// Standby asks the daemon to give up what (hb_standby).
func (c *Client) Standby(ctx context.Context, what What) error {
	_, err := c.do(ctx, Request{Op: OpStandby, What: what})
	return err
}

// Takeover asks the daemon to take what over (hb_takeover).
func (c *Client) Takeover(ctx context.Context, what What) error {
	_, err := c.do(ctx, Request{Op: OpTakeover, What: what})
	return err
}

// Reload asks the daemon to reread its configuration.
func (c *Client) Reload(ctx context.Context) error {
	_, err := c.do(ctx, Request{Op: OpReload})
	return err
}

// Shutdown asks the daemon to shut down gracefully.
func (c *Client) Shutdown(ctx context.Context) error {
	_, err := c.do(ctx, Request{Op: OpShutdown})
	return err
}

// ClientStatus asks for API client's state on node, waiting up to timeout
// for a remote node's answer (ErrNoResponse when none comes).
func (c *Client) ClientStatus(ctx context.Context, node, client string, timeout time.Duration) (ClientState, error) {
	ms := int(timeout / time.Millisecond)
	if ms < 0 {
		ms = 0
	}
	resp, err := c.do(ctx, Request{Op: OpClientStatus, Node: node, Client: client, TimeoutMS: ms})
	if err != nil {
		return "", err
	}
	return resp.ClientState, nil
}
