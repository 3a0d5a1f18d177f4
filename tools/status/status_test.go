package status

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/ctl/ctltest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var t0 = time.Date(2026, 11, 23, 4, 10, 0, 0, time.UTC)

// afterFailover is hb1 of the lab cluster (shared/captures/cl_status.txt)
// after hb2 died and came back: one automatic takeover, one failback,
// one standby whose start failed.
func afterFailover() ctl.Status {
	return ctl.Status{
		Version: "3.0.6 (heartbeat-go 0.1.0)", LocalNode: "hb1", PID: 20, Started: t0,
		Pacemaker: "false", Resources: ctl.HoldLocal,
		Keepalive: time.Second, DeadTime: 10 * time.Second, WarnTime: 5 * time.Second, InitDead: 20 * time.Second,
		Nodes: []ctl.Node{
			{Name: "198.18.0.254", Type: ctl.NodePing, Status: ctl.StatusPing, Weight: 100, LastHeard: t0.Add(299 * time.Second), Links: []ctl.Link{{Name: "198.18.0.254", Status: ctl.LinkUp}}},
			{Name: "hb1", Type: ctl.NodeNormal, Status: ctl.StatusActive, Generation: 1763870001, Weight: 100, Links: []ctl.Link{{Name: "eth0", Status: ctl.LinkDead}, {Name: "/dev/ttyS0", Status: ctl.LinkDead}}},
			{Name: "hb2", Type: ctl.NodeNormal, Status: ctl.StatusActive, Generation: 1763870007, Weight: 100, Site: "dc2", LastHeard: t0.Add(299500 * time.Millisecond), Links: []ctl.Link{{Name: "eth0", Status: ctl.LinkUp}, {Name: "/dev/ttyS0", Status: ctl.LinkDead}}},
		},
		Groups: []ctl.Group{
			{Key: "IPaddr2::198.18.0.100/24/eth0", Home: "hb1", Resources: []string{"IPaddr2::198.18.0.100/24/eth0", "marker::grp1"}, Holder: "hb1", State: ctl.GroupRunning},
			{Key: "198.18.0.101", Home: "hb2", Resources: []string{"198.18.0.101", "apache"}, Holder: "", State: ctl.GroupFailed},
		},
		Failovers: []ctl.Failover{
			{Group: "IPaddr2::198.18.0.100/24/eth0", From: "hb1", To: "hb2", Reason: "hb1 dead", Start: t0.Add(60 * time.Second), Took: 10*time.Second + 850*time.Millisecond},
			{Group: "IPaddr2::198.18.0.100/24/eth0", From: "hb2", To: "hb1", Reason: "auto_failback", Start: t0.Add(120 * time.Second), Took: 420 * time.Millisecond},
			{Group: "198.18.0.101", From: "hb2", To: "", Reason: "standby", Start: t0.Add(200 * time.Second), Took: 3 * time.Second, Error: "apache start exited 1"},
		},
	}
}

func TestScreenGolden(t *testing.T) {
	var b bytes.Buffer
	Write(&b, afterFailover(), t0.Add(300*time.Second), time.UTC)
	fresh := afterFailover()
	fresh.Failovers, fresh.Groups, fresh.Started, fresh.PID = nil, nil, time.Time{}, 0
	score := 100
	fresh.Connectivity = &ctl.Connectivity{Reachable: 1, PingdAttr: "pingd", Pingd: &score,
		Ipfail: &ctl.Ipfail{Peer: "hb2", Compare: "more", Pending: "all", PendingAt: t0.Add(5 * time.Second), Flaps: 1},
		Children: []ctl.Child{
			{Command: "/usr/lib/heartbeat/ipfail", User: "hacluster", PID: 481, Starts: 1},
			{Command: "/usr/local/bin/watcher", User: "root", Starts: 6, LastExit: "exit status 1", Stopped: true},
		}}
	b.WriteString("---- a daemon without groups or failovers yet, with ping nodes, ipfail and children ----\n")
	Write(&b, fresh, t0, time.UTC)
	counted := afterFailover()
	counted.Failovers, counted.Groups = nil, nil
	counted.Counters = map[string]uint64{"unknown-node": 1, "bad-signature": 3, "duplicate": 1200}
	counted.Media = []ctl.MediumStats{
		{Name: "ucast eth0 198.18.0.2", Kind: "ucast", Link: "eth0", State: "up", Sent: 300, Received: 1496},
		{Name: "serial /dev/ttyS0", Kind: "serial", Link: "/dev/ttyS0", State: "down", Reopens: 2, Sent: 12,
			Dropped: map[string]uint64{"framing": 4, "down": 7}, LastErr: "open /dev/ttyS0: no such file or directory", ErrAt: t0.Add(250 * time.Second)},
	}
	b.WriteString("---- refused packets and media counters ----\n")
	Write(&b, counted, t0.Add(300*time.Second), time.UTC)
	off := afterFailover()
	off.Connectivity = &ctl.Connectivity{Ipfail: &ctl.Ipfail{Disabled: "Not starting ipfail: no ping nodes"}}
	off.Failovers = nil
	b.WriteString("---- ipfail disabled ----\n")
	Write(&b, off, t0.Add(time.Minute), time.UTC)
	golden(t, "testdata/screen.golden", b.Bytes())
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
		t.Errorf("%s differs (go test -update to accept):\n%s", path, got)
	}
}

func TestRun(t *testing.T) {
	dir := ctltest.Serve(t, &ctltest.Fake{St: afterFailover()})
	for _, args := range [][]string{{"--run-dir", dir}, {"--run-dir=" + dir}} {
		var o, e bytes.Buffer
		if code := Run(context.Background(), args, nil, &o, &e); code != 0 || e.Len() != 0 || !strings.Contains(o.String(), "hb2") || !strings.Contains(o.String(), "auto_failback") {
			t.Fatalf("%q: exit %d stderr %q stdout %q", args, code, e.String(), o.String())
		}
	}
	empty := t.TempDir()
	var o, e bytes.Buffer
	if code := Run(context.Background(), []string{"--run-dir", empty}, nil, &o, &e); code != 3 || !strings.Contains(e.String(), "heartbeat is not running") {
		t.Fatalf("not running: exit %d stderr %q", code, e.String())
	}
	denied := ctltest.Serve(t, &ctltest.Fake{Err: ctl.ErrDenied})
	if code := Run(context.Background(), []string{"--run-dir", denied}, nil, &o, &e); code != 4 {
		t.Fatalf("denied: exit %d", code)
	}
	if code := Run(context.Background(), []string{"bogus"}, nil, &o, &e); code != 2 {
		t.Fatalf("bad usage: exit %d", code)
	}
}

func TestDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 420 * time.Millisecond: "420ms", time.Second: "1s", 10850 * time.Millisecond: "10.8s",
		1500 * time.Millisecond: "1.5s", 90 * time.Second: "1m30s",
	} {
		if got := dur(d); got != want {
			t.Errorf("dur(%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 500 * time.Millisecond: "500ms", 2*time.Hour + 10*time.Second: "2h0m0s", 72 * time.Hour: "3d",
	} {
		if got := ago(d); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
}
