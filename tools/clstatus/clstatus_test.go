package clstatus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/ctl/ctltest"
)

var update = flag.Bool("update", false, "rewrite testdata/extended.golden")

const version = "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)"

// captureCluster is the lab cluster of testdata/cl_status.txt (a copy of
// ../shared/captures/cl_status.txt) as the daemon on `on` sees it in
// `state`: ha.cf has "ping 198.18.0.254", "node hb1", "node hb2" in this
// order, one ucast medium on eth0, keepalive 1, deadtime 10,
// auto_failback on, ipfail respawned; haresources "hb1 IPaddr2::... marker::grp1".
func captureCluster(state, on string) ctl.Status {
	other := map[string]string{"hb1": "hb2", "hb2": "hb1"}[on]
	status := map[string]ctl.NodeStatus{"hb1": ctl.StatusActive, "hb2": ctl.StatusActive}
	link := map[string]ctl.LinkStatus{on: ctl.LinkDead, other: ctl.LinkUp} // a node never hears itself over ucast
	rsc := ctl.HoldLocal
	switch state {
	case "0":
		rsc = ctl.HoldTransition
	case "B": // hb2 killed, hb1 took everything over
		status["hb2"], link["hb2"], rsc = ctl.StatusDead, ctl.LinkDead, ctl.HoldAll
	}
	st := ctl.Status{
		Version: version, LocalNode: on, Pacemaker: "false", Resources: rsc,
		Keepalive: time.Second, DeadTime: 10 * time.Second, WarnTime: 5 * time.Second, InitDead: 20 * time.Second,
		Nodes: []ctl.Node{
			{Name: "198.18.0.254", Type: ctl.NodePing, Status: ctl.StatusPing, Weight: 100, Links: []ctl.Link{{Name: "198.18.0.254", Status: ctl.LinkUp}}},
			{Name: "hb1", Type: ctl.NodeNormal, Status: status["hb1"], Weight: 100, Links: []ctl.Link{{Name: "eth0", Status: link["hb1"]}}},
			{Name: "hb2", Type: ctl.NodeNormal, Status: status["hb2"], Weight: 100, Links: []ctl.Link{{Name: "eth0", Status: link["hb2"]}}},
		},
		Groups:  []ctl.Group{{Key: "IPaddr2::198.18.0.100/24/eth0", Home: "hb1", Resources: []string{"IPaddr2::198.18.0.100/24/eth0", "marker::grp1"}, Holder: "hb1", State: ctl.GroupRunning}},
		Clients: []ctl.APIClient{{Name: "ipfail", PID: 480, State: ctl.ClientOnline}},
		Parameters: map[string]string{
			// as written in ha.cf
			"keepalive": "1", "deadtime": "10", "udpport": "694", "auto_failback": "on",
			"logfacility": "none", "logfile": "/var/log/ha-log", "debugfile": "/var/log/ha-debug",
			// heartbeat's defaults, in the form it records them
			"deadping": "10000ms", "warntime": "5000ms", "initdead": "20000ms", "baud": "19200",
			"hopfudge": "1", "debug": "0", "pacemaker": "false", "conn_logd_time": "60",
			"compression": "zlib", "compression_threshold": "2", "traditional_compression": "no",
			"msgfmt": "classic", "autojoin": "none", "uuidfrom": "file", "realtime": "true",
			"coredumps": "true", "memreserve": "6500", "max_rexmit_delay": "250", "hbversion": version,
		},
	}
	return st
}

// running reports whether the daemon on `on` answers in `state`.
func running(state, on string) bool {
	switch state {
	case "B":
		return on == "hb1"
	case "C":
		return false
	}
	return true
}

type captured struct {
	line           int
	state, on      string
	args           []string
	stdout, stderr string
	exit           int
}

var (
	stateRE = regexp.MustCompile(`^######## State (\S+):`)
	cmdRE   = regexp.MustCompile(`^\$ cl_status ?(.*?)\s+# on (hb\d)`)
	exitRE  = regexp.MustCompile(`^\[exit (\d+)\]$`)
	// The log prefix carries the time and pid of the run: the test fixes both.
	logRE = regexp.MustCompile(`(?m)^\w{3} \d\d \d\d:\d\d:\d\d (\S+) cl_status: \[\d+\]: `)
)

func parseCapture(t *testing.T) []captured {
	f, err := os.Open("testdata/cl_status.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []captured
	var cur *captured
	var into *string
	state := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case stateRE.MatchString(l):
			state = stateRE.FindStringSubmatch(l)[1]
		case cmdRE.MatchString(l):
			m := cmdRE.FindStringSubmatch(l)
			cur = &captured{line: n, state: state, on: m[2], args: strings.Fields(m[1])}
			into = nil
		case cur != nil && l == "--- stdout":
			into = &cur.stdout
		case cur != nil && l == "--- stderr":
			into = &cur.stderr
		case cur != nil && exitRE.MatchString(l):
			cur.exit, _ = strconv.Atoi(exitRE.FindStringSubmatch(l)[1])
			out = append(out, *cur)
			cur, into = nil, nil
		case into != nil:
			*into += l + "\n"
		}
	}
	if len(out) < 80 {
		t.Fatalf("parsed only %d commands from the capture", len(out))
	}
	return out
}

func testEnv(dir, host string) env {
	return env{runDir: dir, host: host, pid: 482,
		now: func() time.Time { return time.Date(2026, 11, 23, 4, 10, 28, 0, time.UTC) }}
}

func runTool(t *testing.T, e env, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, er bytes.Buffer
	code = run(context.Background(), e, args, &o, &er)
	return o.String(), er.String(), code
}

// TestCapturedOutputs replays every command of the real cl_status capture
// against a fake daemon in the same state and compares stdout, stderr and
// the exit code.
func TestCapturedOutputs(t *testing.T) {
	for _, c := range parseCapture(t) {
		t.Run(c.state+"/"+c.on+"/"+strings.Join(c.args, "_"), func(t *testing.T) {
			dir := t.TempDir() // no socket: heartbeat is not running
			if running(c.state, c.on) {
				dir = ctltest.Serve(t, &ctltest.Fake{St: captureCluster(c.state, c.on)})
			}
			stdout, stderr, code := runTool(t, testEnv(dir, c.on), c.args...)
			wantErr := logRE.ReplaceAllString(c.stderr, "Nov 23 04:10:28 $1 cl_status: [482]: ")
			if stdout != c.stdout || stderr != wantErr || code != c.exit {
				t.Errorf("capture line %d: cl_status %s on %s\n got stdout %q\nwant stdout %q\n got stderr %q\nwant stderr %q\n got exit %d, want %d",
					c.line, strings.Join(c.args, " "), c.on, stdout, c.stdout, stderr, wantErr, code, c.exit)
			}
		})
	}
}

// TestExtendedForms covers what the capture does not show: -m forms,
// hbstatus -v -m, the undocumented test sub-command, errors, --json.
// The expected outputs are in testdata/extended.golden (-update rewrites).
func TestExtendedForms(t *testing.T) {
	st := captureCluster("A", "hb1")
	f := &ctltest.Fake{St: st}
	dir := ctltest.Serve(t, f)
	pm := st
	pm.Pacemaker = "respawn"
	pmDir := ctltest.Serve(t, &ctltest.Fake{St: pm})
	down := t.TempDir()
	cases := []struct {
		dir  string
		args string
	}{
		{dir, "hbstatus -m"},
		{dir, "hbstatus -v -m"},
		{pmDir, "hbstatus -v"},
		{pmDir, "hbstatus -v -m"},
		{down, "hbstatus -v"},
		{dir, "listnodes -m"},
		{dir, "listnodes -n -p"},
		{dir, "listnodes -v -m -n"},
		{dir, "listnodes -pv"},
		{dir, "nodestatus -m hb2"},
		{dir, "nodestatus NODEB"},
		{dir, "nodestatus HB2 -m"},
		{dir, "nodetype -m 198.18.0.254"},
		{dir, "nodetype"},
		{dir, "nodeweight -m hb2"},
		{dir, "nodeweight"},
		{dir, "nodesite -m hb2"},
		{dir, "listhblinks"},
		{dir, "listhblinks -m hb2"},
		{dir, "listhblinks -v -m hb1"},
		{dir, "hblinkstatus -m hb2 eth0"},
		{dir, "hblinkstatus hb2"},
		{dir, "clientstatus -m hb1 ipfail"},
		{dir, "clientstatus hb1"},
		{dir, "rscstatus -m"},
		{pmDir, "rscstatus"},
		{dir, "hbparameter -m -p keepalive"},
		{dir, "hbparameter -pdeadtime"},
		{dir, "hbparameter -p"},
		{dir, "test"},
		{dir, "listnodes -x"},
		{dir, "--run-dir " + down + " listnodes"},
		{dir, "--json extra"},
		{down, "--json"},
	}
	var got bytes.Buffer
	for _, c := range cases {
		stdout, stderr, code := runTool(t, testEnv(c.dir, "hb1"), strings.Fields(c.args)...)
		args := strings.ReplaceAll(c.args, down, "EMPTYDIR")
		got.WriteString("$ cl_status " + args + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr + "[exit " + strconv.Itoa(code) + "]\n\n")
	}
	golden(t, "testdata/extended.golden", got.Bytes())
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update to accept):\n--- got\n%s", path, got)
	}
}

func TestJSONIsTheWholeStatus(t *testing.T) {
	st := captureCluster("B", "hb1")
	st.Failovers = []ctl.Failover{{Group: "IPaddr2::198.18.0.100/24/eth0", From: "hb2", To: "hb1", Reason: "hb2 dead",
		Start: time.Date(2026, 11, 23, 4, 11, 5, 0, time.UTC), Took: 900 * time.Millisecond}}
	dir := ctltest.Serve(t, &ctltest.Fake{St: st})
	stdout, stderr, code := runTool(t, testEnv(dir, "hb1"), "--json")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var back ctl.Status
	if err := json.Unmarshal([]byte(stdout), &back); err != nil {
		t.Fatal(err)
	}
	if back.Failovers[0].Took != 900*time.Millisecond || back.Nodes[2].Status != ctl.StatusDead || back.Parameters["deadping"] != "10000ms" {
		t.Fatalf("--json lost data: %s", stdout)
	}
}

func TestHelpText(t *testing.T) {
	for _, args := range [][]string{nil, {"-h"}} {
		stdout, stderr, code := runTool(t, testEnv(t.TempDir(), "hb1"), args...)
		if code != 0 || stderr != "" || stdout != usage || !strings.HasPrefix(stdout, "Usage: cl_status <sub-command>") {
			t.Fatalf("%q: exit %d stderr %q", args, code, stderr)
		}
	}
}

// A daemon that accepts but never answers: cl_status gives up with 12.
func TestSilentDaemonTimesOut(t *testing.T) {
	if testing.Short() {
		t.Skip("waits cl_status's 5 s alarm")
	}
	dir := ctltest.Serve(t, &stuck{})
	start := time.Now()
	_, _, code := runTool(t, testEnv(dir, "hb1"), "listnodes")
	if code != exitTimeout {
		t.Fatalf("exit %d, want %d", code, exitTimeout)
	}
	if d := time.Since(start); d < answerTimeout || d > answerTimeout+3*time.Second {
		t.Fatalf("gave up after %v, want about %v", d, answerTimeout)
	}
}

type stuck struct{ ctltest.Fake }

func (*stuck) Status(ctx context.Context) (ctl.Status, error) {
	<-ctx.Done()
	return ctl.Status{}, ctx.Err()
}

func TestGetopt(t *testing.T) {
	for _, tc := range []struct {
		opts, args string
		flags      string
		operands   string
		bad        bool
	}{
		{"vm", "-v hb1", "v", "hb1", false},
		{"vm", "hb1 -m", "m", "hb1", false},
		{"vm", "-vm", "mv", "", false},
		{"p:m", "-p keepalive", "p=keepalive", "", false},
		{"p:m", "-mpkeepalive x", "mp=keepalive", "x", false},
		{"p:m", "-p", "", "", true},
		{"vm", "-- -v", "", "-v", false},
		{"vm", "-x", "", "", true},
		{"vm", "- x", "", "- x", false},
	} {
		flags, ops, err := getopt(tc.opts, strings.Fields(tc.args))
		if (err != nil) != tc.bad {
			t.Errorf("%s %q: err %v", tc.opts, tc.args, err)
			continue
		}
		if tc.bad {
			continue
		}
		var fs []string
		for _, c := range "abcdefghijklmnopqrstuvwxyz" {
			if v, ok := flags[byte(c)]; ok {
				if v != "" {
					fs = append(fs, string(c)+"="+v)
				} else {
					fs = append(fs, string(c))
				}
			}
		}
		if strings.Join(fs, "") != tc.flags || strings.Join(ops, " ") != tc.operands {
			t.Errorf("%s %q: flags %q operands %q", tc.opts, tc.args, fs, ops)
		}
	}
}

// FuzzGetopt: any argument list either fails or splits into flags the
// option string allows and operands taken verbatim, in order.
func FuzzGetopt(f *testing.F) {
	f.Add("p:m", "-p\x00keepalive\x00-m")
	f.Add("npvm", "-vn\x00--\x00-x")
	f.Add("vm", "hb1\x00-m\x00-\x00eth0")
	f.Fuzz(func(t *testing.T, opts, joined string) {
		args := strings.Split(joined, "\x00")
		flags, ops, err := getopt(opts, args)
		if err != nil {
			return
		}
		for c := range flags {
			if c == ':' || strings.IndexByte(opts, c) < 0 {
				t.Fatalf("flag %q not in %q", c, opts)
			}
		}
		// Operands appear in args in the same order.
		i := 0
		for _, a := range args {
			if i < len(ops) && a == ops[i] {
				i++
			}
		}
		if i != len(ops) {
			t.Fatalf("operands %q not a subsequence of %q", ops, args)
		}
	})
}
