package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// statusFrom builds a heartbeat status message from node src, signed
// with key, in the netstring form heartbeat sends over UDP.
func statusFrom(t *testing.T, src, key string) []byte {
	t.Helper()
	k, probs := authkeys.Parse([]byte("auth 1\n1 sha1 "+key+"\n"), "authkeys")
	if probs.HasErrors() {
		t.Fatal(probs)
	}
	now := strconv.FormatInt(time.Now().Unix(), 16)
	m := &wire.Message{}
	for _, f := range [][2]string{{wire.FType, "status"}, {wire.FStatus, "active"}, {wire.FDeadTime, "7d0"},
		{wire.FProtocol, "1"}, {wire.FOrig, src}, {wire.FSeq, "1"}, {wire.FHg, now}, {wire.FTime, now},
		{wire.FLoad, "0.00 0.00 0.00 1/100 1"}, {wire.FTTL, "3"}} {
		m.Add(f[0], f[1])
	}
	b, err := wire.Encode(m, k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoopbackRefusedPackets: a datagram signed with another key and one
// from a node ha.cf does not name reach a running daemon; it logs
// heartbeat's lines for them, and its status (cl_status --json and
// `heartbeat status`) counts them.
func TestLoopbackRefusedPackets(t *testing.T) {
	bin := testbin.Heartbeat(t)
	c := NewLoopback(t, bin, ClusterSpec{
		Nodes:     []NodeSpec{{Name: "hb1", Addr: "127.0.0.11"}, {Name: "hb2", Addr: "127.0.0.12"}},
		Keepalive: "200ms", DeadTime: "2", InitDead: "4", Port: FreePort(t),
		Extra: "apiauth ipfail uid=root\napiauth ccm gid=haclient\n",
	})
	hb1 := c.Nodes["hb1"]
	hb1.Start()
	if _, ok := WaitFor(10*time.Second, func() bool { _, code := clStatus(t, hb1, "hbstatus"); return code == 0 }); !ok {
		hb1.Dump()
		t.Fatal("hb1 never answered cl_status hbstatus")
	}

	conn, err := net.Dial("udp4", net.JoinHostPort("127.0.0.11", strconv.Itoa(c.Spec.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	badSig := statusFrom(t, "hb2", "not-the-cluster-key")
	stranger := statusFrom(t, "hb9", "heartbeat-go-e2e-test-key")

	var st ctl.Status
	status := func() bool {
		out, code := clStatus(t, hb1, "--json")
		if code != 0 {
			return false
		}
		st = ctl.Status{}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("cl_status --json: %v\n%s", err, out)
		}
		return true
	}
	// Datagrams may be lost on a busy machine: send until counted.
	sent := 0
	if _, ok := WaitFor(10*time.Second, func() bool {
		if st.Counters["bad-signature"] == 0 || st.Counters["unknown-node"] == 0 {
			conn.Write(badSig)
			conn.Write(stranger)
			sent++
		}
		return status() && st.Counters["bad-signature"] > 0 && st.Counters["unknown-node"] > 0
	}); !ok {
		hb1.Dump()
		t.Fatalf("counters never showed the refusals: %v", st.Counters)
	}
	if n := st.Counters["bad-signature"]; n > uint64(sent) {
		t.Errorf("bad-signature = %d after %d sent", n, sent)
	}
	if n := st.Counters["unknown-node"]; n > uint64(sent) {
		t.Errorf("unknown-node = %d after %d sent", n, sent)
	}

	// The media's own counters: the one ucast medium received them.
	if len(st.Media) != 1 {
		t.Fatalf("media = %+v, want the one ucast line", st.Media)
	}
	if m := st.Media[0]; !strings.HasPrefix(m.Name, "ucast") || m.State != "up" || m.Received < 2 || m.Sent == 0 {
		t.Errorf("medium stats = %+v", m)
	}
	// apiauth lines as written, then those heartbeat adds itself.
	want := []ctl.APIAuth{{Client: "ipfail", UIDs: []string{"root"}}, {Client: "ccm", GIDs: []string{"haclient"}}}
	if len(st.APIAuth) < 2 || fmt.Sprint(st.APIAuth[:2]) != fmt.Sprint(want) {
		t.Errorf("apiauth = %v, want %v first", st.APIAuth, want)
	}
	for _, a := range st.APIAuth[min(2, len(st.APIAuth)):] {
		if !a.Implicit {
			t.Errorf("apiauth %v after ha.cf's lines is not marked implicit", a)
		}
	}

	// heartbeat's log lines: the digest sent, then the one computed.
	k, _ := authkeys.Parse([]byte("auth 1\n1 sha1 heartbeat-go-e2e-test-key\n"), "authkeys")
	p, err := wire.Parse(badSig)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := k.ActiveKey()
	sentSig := strings.Fields(string(p.Trailer))[1]
	line := fmt.Sprintf("authtoken does not match, authtoken=%s, authstr=%s", sentSig, key.Sum(p.Signed))
	if l := hb1.LogLines(line); len(l) == 0 || !strings.Contains(l[0], "ERROR: ") {
		hb1.Dump()
		t.Errorf("no ERROR line %q in the log", line)
	}
	if l := hb1.LogLines("process_status_message: bad node [hb9] in message"); len(l) == 0 || !strings.Contains(l[0], "ERROR: ") {
		hb1.Dump()
		t.Error("no ERROR line for the unknown node in the log")
	}
	for _, l := range []string{"netstring authentication failed, s=###", "MSG: Dumping message with 11 fields", "MSG[4] : [src=hb9]"} {
		if len(hb1.LogLines(l)) == 0 {
			hb1.Dump()
			t.Errorf("no line %q in the log", l)
		}
	}

	// heartbeat status shows them.
	out, err := exec.Command(filepath.Join(testbin.Dir(t), "heartbeat"), "status", "--run-dir", filepath.Join(hb1.Run, "heartbeat")).CombinedOutput()
	if err != nil {
		t.Fatalf("heartbeat status: %v\n%s", err, out)
	}
	for _, w := range []string{"packets refused: ", "bad-signature ", "unknown-node ", "medium ucast lo 127.0.0.12: up, sent "} {
		if !strings.Contains(string(out), w) {
			t.Errorf("heartbeat status lacks %q:\n%s", w, out)
		}
	}
}
