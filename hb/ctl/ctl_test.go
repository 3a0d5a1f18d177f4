package ctl_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/ctl/ctltest"
)

func sample() ctl.Status {
	t0 := time.Date(2026, 11, 23, 4, 10, 0, 0, time.UTC)
	return ctl.Status{
		Version: "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)", LocalNode: "hb1", PID: 20,
		Started: t0, Pacemaker: "false", Resources: ctl.HoldLocal,
		Keepalive: time.Second, DeadTime: 10 * time.Second, WarnTime: 5 * time.Second, InitDead: 20 * time.Second,
		Nodes: []ctl.Node{
			{Name: "198.18.0.254", Type: ctl.NodePing, Status: ctl.StatusPing, Weight: 100, Links: []ctl.Link{{Name: "198.18.0.254", Status: ctl.LinkUp}}},
			{Name: "hb1", Type: ctl.NodeNormal, Status: ctl.StatusActive, Generation: 7, Weight: 100, Links: []ctl.Link{{Name: "eth0", Status: ctl.LinkDead}}},
			{Name: "hb2", Type: ctl.NodeNormal, Status: ctl.StatusActive, Generation: 3, Weight: 100, LastHeard: t0, Links: []ctl.Link{{Name: "eth0", Status: ctl.LinkUp}}},
		},
		Groups:     []ctl.Group{{Key: "IPaddr2::198.18.0.100/24/eth0", Home: "hb1", Resources: []string{"IPaddr2::198.18.0.100/24/eth0", "marker::grp1"}, Holder: "hb1", State: ctl.GroupRunning}},
		Clients:    []ctl.APIClient{{Name: "ipfail", PID: 99, State: ctl.ClientOnline}},
		Parameters: map[string]string{"keepalive": "1", "deadtime": "10"},
		Failovers:  []ctl.Failover{{Group: "IPaddr2::198.18.0.100/24/eth0", From: "hb2", To: "hb1", Reason: "hb2 dead", Start: t0, Done: t0.Add(1200 * time.Millisecond), Took: 1200 * time.Millisecond}},
	}
}

func dial(t *testing.T, dir string) *ctl.Client {
	t.Helper()
	c, err := ctl.Dial(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestStatusRoundTrip(t *testing.T) {
	f := &ctltest.Fake{St: sample()}
	c := dial(t, ctltest.Serve(t, f))
	got, err := c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, f.St) {
		t.Fatalf("status changed on the way:\n got %+v\nwant %+v", got, f.St)
	}
	// Several requests on one connection.
	if _, err := c.Status(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestCommandsReachHandler(t *testing.T) {
	f := &ctltest.Fake{St: sample()}
	c := dial(t, ctltest.Serve(t, f))
	for _, step := range []func() error{
		func() error { return c.Standby(ctx(t), ctl.WhatAll) },
		func() error { return c.Takeover(ctx(t), ctl.WhatFailback) },
		func() error { return c.Reload(ctx(t)) },
		func() error { return c.Shutdown(ctx(t)) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"standby all", "takeover failback", "reload", "shutdown"}
	if got := f.Recorded(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

// minimal implements only ctl.Handler, as a daemon may at first.
type minimal struct{ err error }

func (m minimal) Status(context.Context) (ctl.Status, error) { return sample(), m.err }
func (m minimal) Standby(context.Context, ctl.What) error    { return m.err }
func (m minimal) Takeover(context.Context, ctl.What) error   { return m.err }

func TestOptionalOpsUnsupported(t *testing.T) {
	c := dial(t, ctltest.Serve(t, minimal{}))
	if err := c.Reload(ctx(t)); !errors.Is(err, ctl.ErrUnsupported) {
		t.Fatalf("reload: %v, want unsupported", err)
	}
	if err := c.Shutdown(ctx(t)); !errors.Is(err, ctl.ErrUnsupported) {
		t.Fatalf("shutdown: %v, want unsupported", err)
	}
	if _, err := c.ClientStatus(ctx(t), "hb2", "ipfail", 100*time.Millisecond); !errors.Is(err, ctl.ErrNoResponse) {
		t.Fatalf("remote clientstatus without querier: %v, want no response", err)
	}
}

func TestHandlerErrorKeepsCode(t *testing.T) {
	c := dial(t, ctltest.Serve(t, minimal{err: fmt.Errorf("standby in progress: %w", ctl.ErrFailed)}))
	err := c.Standby(ctx(t), ctl.WhatAll)
	if !errors.Is(err, ctl.ErrFailed) || !strings.Contains(err.Error(), "standby in progress") {
		t.Fatalf("got %v", err)
	}
	c2 := dial(t, ctltest.Serve(t, minimal{err: errors.New("plain")}))
	if err := c2.Takeover(ctx(t), ctl.WhatAll); !errors.Is(err, ctl.ErrFailed) || err.Error() != "plain" {
		t.Fatalf("got %v", err)
	}
}

type panicker struct{ minimal }

func (panicker) Standby(context.Context, ctl.What) error { panic("boom") }

func TestHandlerPanicIsAnError(t *testing.T) {
	c := dial(t, ctltest.Serve(t, panicker{}))
	if err := c.Standby(ctx(t), ctl.WhatAll); !errors.Is(err, ctl.ErrFailed) {
		t.Fatalf("got %v", err)
	}
	if _, err := c.Status(ctx(t)); err != nil {
		t.Fatalf("connection unusable after a panic: %v", err)
	}
}

func TestClientStatus(t *testing.T) {
	st := sample()
	st.Nodes = append(st.Nodes, ctl.Node{Name: "hb3", Type: ctl.NodeNormal, Status: ctl.StatusDead})
	f := &ctltest.Fake{St: st, Remote: map[string]map[string]ctl.ClientState{"hb2": {"ipfail": ctl.ClientJoin}}}
	c := dial(t, ctltest.Serve(t, f))
	for _, tc := range []struct {
		name, node, client string
		want               ctl.ClientState
		err                error
	}{
		{"local client online", "hb1", "ipfail", ctl.ClientOnline, nil},
		{"local node matched case-insensitively", "HB1", "ipfail", ctl.ClientOnline, nil},
		{"absent local client is offline", "hb1", "nosuchclient", ctl.ClientOffline, nil},
		{"dead peer's client is offline", "hb3", "ipfail", ctl.ClientOffline, nil},
		{"active peer answers", "hb2", "ipfail", ctl.ClientJoin, nil},
		{"active peer silent", "hb2", "other", "", ctl.ErrNoResponse},
		{"unknown node", "nosuchnode", "ipfail", "", ctl.ErrNoResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.ClientStatus(ctx(t), tc.node, tc.client, 50*time.Millisecond)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// raw sends lines as they are and returns the decoded responses.
func raw(t *testing.T, dir string, lines ...string) []ctl.Response {
	t.Helper()
	c, err := net.Dial("unix", ctl.SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	var out []ctl.Response
	for _, l := range lines {
		if _, err := c.Write([]byte(l + "\n")); err != nil {
			t.Fatal(err)
		}
		b, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("after %.40q: %v", l, err)
		}
		var resp ctl.Response
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatalf("bad response %q: %v", b, err)
		}
		out = append(out, resp)
	}
	return out
}

func TestProtocolErrors(t *testing.T) {
	f := &ctltest.Fake{St: sample()}
	dir := ctltest.Serve(t, f)
	cases := []struct {
		line string
		code ctl.Code
	}{
		{`{"v":2,"op":"status"}`, ctl.CodeVersion},
		{`{"op":"status"}`, ctl.CodeVersion},
		{`{"v":1,"op":"explode"}`, ctl.CodeBadRequest},
		{`not json`, ctl.CodeBadRequest},
		{`{"v":1,"op":"standby","what":"everything"}`, ctl.CodeBadRequest},
		{`{"v":1,"op":"standby"}`, ctl.CodeBadRequest},
		{`{"v":1,"op":"clientstatus","node":"hb1"}`, ctl.CodeBadRequest},
		{`{"v":1,"op":"clientstatus","node":"hb1","client":"x","timeout_ms":-1}`, ctl.CodeBadRequest},
	}
	lines := make([]string, len(cases))
	for i, c := range cases {
		lines[i] = c.line
	}
	// All on one connection: an error does not end it.
	resps := raw(t, dir, append(lines, `{"v":1,"op":"status","future_field":true}`)...)
	for i, c := range cases {
		if resps[i].OK || resps[i].Error == nil || resps[i].Error.Code != c.code || resps[i].V != ctl.Version {
			t.Errorf("%s: got %+v, want code %s", c.line, resps[i], c.code)
		}
	}
	if last := resps[len(cases)]; !last.OK || last.Status == nil {
		t.Errorf("unknown field not ignored: %+v", last)
	}
	if len(f.Recorded()) != 0 {
		t.Errorf("rejected requests reached the handler: %q", f.Recorded())
	}
}

func TestOverlongRequestClosesConnection(t *testing.T) {
	dir := ctltest.Serve(t, &ctltest.Fake{St: sample()})
	c, err := net.Dial("unix", ctl.SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go c.Write([]byte(`{"v":1,"op":"status","node":"` + strings.Repeat("x", ctl.MaxRequest+10) + "\"}\n"))
	b, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var resp ctl.Response
	if json.Unmarshal(b, &resp) != nil || resp.Error == nil || resp.Error.Code != ctl.CodeBadRequest {
		t.Fatalf("got %s", b)
	}
}

func TestSocketFile(t *testing.T) {
	dir := ctltest.Serve(t, &ctltest.Fake{St: sample()})
	fi, err := os.Lstat(ctl.SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Fatalf("mode %v, want socket 0660", fi.Mode())
	}
	if g, err := user.LookupGroup(ctl.DefaultGroup); err == nil && os.Geteuid() == 0 {
		gid, _ := strconv.Atoi(g.Gid)
		if st := fi.Sys().(*syscall.Stat_t); int(st.Gid) != gid {
			t.Fatalf("socket group %d, want %s (%d)", st.Gid, ctl.DefaultGroup, gid)
		}
	}
	// A second daemon on the same path is refused while the first answers.
	if _, err := ctl.Listen(ctl.SocketPath(dir), minimal{}, ctl.Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Listen: %v", err)
	}
}

func TestStaleSocketReplacedAndRemovedOnClose(t *testing.T) {
	dir, err := os.MkdirTemp("", "hbctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, ctl.SocketName)
	// A socket file nobody listens on, as a killed daemon leaves it.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := ctl.DialPath(context.Background(), path); !ctl.NotRunning(err) {
		t.Fatalf("stale socket: NotRunning(%v) = false", err)
	}
	srv, err := ctl.Listen(path, minimal{}, ctl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	c, err := ctl.DialPath(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(ctx(t)); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(ctx(t)); err == nil {
		t.Fatal("connection survived Close")
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	if _, err := ctl.Dial(context.Background(), dir); !ctl.NotRunning(err) {
		t.Fatalf("NotRunning(%v) = false after close", err)
	}
	// Not a socket: refused, and left alone.
	os.WriteFile(path, []byte("x"), 0o600)
	if _, err := ctl.Listen(path, minimal{}, ctl.Options{}); err == nil {
		t.Fatal("Listen replaced a regular file")
	}
}

func TestContextCancelsRequest(t *testing.T) {
	f := &ctltest.Fake{St: sample()}
	c := dial(t, ctltest.Serve(t, f))
	cx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// The silent peer makes the server wait its full timeout; our ctx ends first.
	_, err := c.ClientStatus(cx, "hb2", "ipfail", time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

// Access control needs other users: the test re-runs itself as nobody.
const helperEnv = "HBCTL_HELPER_SOCKET"

func TestHelperClient(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper for TestAccessControl")
	}
	c, err := ctl.DialPath(context.Background(), path)
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	_, err = c.Status(context.Background())
	fmt.Println("status:", code(err))
	fmt.Println("standby:", code(c.Standby(context.Background(), ctl.WhatAll)))
}

func code(err error) string {
	var e *ctl.Error
	if errors.As(err, &e) {
		return string(e.Code)
	}
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func TestAccessControl(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	g, err := user.LookupGroup(ctl.DefaultGroup)
	if err != nil {
		t.Skipf("no %s group on this machine", ctl.DefaultGroup)
	}
	hagid, _ := strconv.Atoi(g.Gid)
	dir, err := os.MkdirTemp("", "hbctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	// The go tool keeps the test binary in a private directory: copy it
	// where nobody can run it.
	bin := filepath.Join(dir, "ctl.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	f := &ctltest.Fake{St: sample()}
	path := filepath.Join(dir, ctl.SocketName)
	run := func(mode fs.FileMode, groups []uint32) string {
		t.Helper()
		srv, err := ctl.Listen(path, f, ctl.Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(context.Background()) }()
		defer func() { srv.Close(); <-done }()
		cmd := exec.Command(bin, "-test.run=^TestHelperClient$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: groups}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run(0o660, nil); !strings.Contains(out, "dial:") || !strings.Contains(out, "permission denied") {
		t.Errorf("nobody through mode 0660: %s", out)
	}
	if out := run(0o666, nil); !strings.Contains(out, "status: denied") || !strings.Contains(out, "standby: denied") {
		t.Errorf("nobody outside the group: %s", out)
	}
	if out := run(0o660, []uint32{uint32(hagid)}); !strings.Contains(out, "status: ok") || !strings.Contains(out, "standby: denied") {
		t.Errorf("member of %s: %s", ctl.DefaultGroup, out)
	}
	if len(f.Recorded()) != 0 {
		t.Errorf("a non-root standby reached the handler: %q", f.Recorded())
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"op":"status"}`, `{"v":1,"op":"standby","what":"all"}`, `{"v":1,"op":"takeover","what":"failback"}`,
		`{"v":1,"op":"clientstatus","node":"hb2","client":"ipfail","timeout_ms":500}`, `{"v":2}`, `[]`, `{"v":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ctl.DecodeRequest(b)
		if err != nil {
			var e *ctl.Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("error without code: %v", err)
			}
			if !reflect.DeepEqual(r, ctl.Request{}) {
				t.Fatalf("half-filled request on error: %+v", r)
			}
			return
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ctl.DecodeRequest(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %+v -> %s -> %+v, %v", r, again, r2, err)
		}
	})
}
