package wire

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/authkeys"
)

const realHeartbeat = "/usr/libexec/heartbeat/heartbeat"

// realVariants are status messages sent to the real heartbeat 3.0.6, one
// node name each, and whether it takes them (checked by hand first, see
// doc.go): the receiving side is as strict or as lenient as we are.
var realVariants = []struct {
	node   string
	accept bool
	build  func(m *Message, k *authkeys.Keys) []byte
}{
	{"hb2", true, func(m *Message, k *authkeys.Keys) []byte { b, _ := Encode(m, k); return b }},
	{"hb3", false, func(m *Message, k *authkeys.Keys) []byte { // upper-case hex digests
		text, _ := AppendAuthText(nil, m)
		m.Add(FAuth, upperSig(k.Sign(text)))
		ns, _ := AppendNetstring(nil, m)
		return appendTrailer(ns, upperSig(k.Sign(ns)))
	}},
	{"hb4", true, func(m *Message, k *authkeys.Keys) []byte { // auth field first
		text, _ := AppendAuthText(nil, m)
		m.Fields = append([]Field{{Name: FAuth, Value: []byte(k.Sign(text))}}, m.Fields...)
		ns, _ := AppendNetstring(nil, m)
		return appendTrailer(ns, k.Sign(ns))
	}},
	{"hb5", true, func(m *Message, k *authkeys.Keys) []byte { // a duplicated field
		m.Add(FStatus, "up")
		b, _ := Encode(m, k)
		return b
	}},
	{"hb6", true, func(m *Message, k *authkeys.Keys) []byte { // non-UTF-8 value
		m.Set(FLoad, "0.85 \xff\xfe 0.32")
		b, _ := Encode(m, k)
		return b
	}},
	{"hb7", false, func(m *Message, k *authkeys.Keys) []byte { // one bit off in the trailer
		b, _ := Encode(m, k)
		b[len(b)-2] ^= 1
		return b
	}},
}

func upperSig(s string) string {
	idx, digest, _ := strings.Cut(s, " ")
	return idx + " " + strings.ToUpper(digest)
}

func appendTrailer(ns []byte, sig string) []byte {
	return append(ns, []byte(strconv.Itoa(len(sig))+":"+sig+",")...)
}

const realKeys = "auth 1\n1 sha1 realhb-test-secret\n"

// TestHelperInject is not a test: TestRealHeartbeatAccepts runs the test
// binary inside the namespace with HBW_INJECT set to send the variants.
func TestHelperInject(t *testing.T) {
	if os.Getenv("HBW_INJECT") == "" {
		t.Skip("helper process only")
	}
	k, _ := authkeys.Parse([]byte(realKeys), "authkeys")
	conn, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP("127.0.0.2")}, &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: 694})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	for seq := 1; seq <= 40; seq++ {
		for i, v := range realVariants {
			m := &Message{}
			m.Add(FType, "status")
			m.Add(FStatus, "up")
			m.Add(FDeadTime, "2710")
			m.Add(FProtocol, "1")
			m.Add(FOrig, v.node)
			m.AddBinary(FOrigUUID, []byte(fmt.Sprintf("uuid-of-node-%03d", i)))
			m.Add(FSeq, strconv.FormatInt(int64(seq), 16))
			m.Add(FHg, "6b03b6a0")
			m.Add(FTime, strconv.FormatInt(now, 16))
			m.Add(FLoad, "0.85 0.61 0.32 2/98 40")
			m.Add(FTTL, "3")
			conn.Write(v.build(m, k))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestRealHeartbeatAccepts sends our packets to the real heartbeat 3.0.6
// in a throwaway namespace and checks which it takes: every one we sign
// properly, and the same edge cases as our decoder. Needs root, ip netns,
// unshare and Debian's heartbeat package; skips otherwise.
func TestRealHeartbeatAccepts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for ip netns and unshare")
	}
	if _, err := os.Stat(realHeartbeat); err != nil {
		t.Skip("needs the real heartbeat 3.0.6 (Debian package heartbeat): ", err)
	}
	ns := fmt.Sprintf("hbw-real-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("needs ip netns: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })

	dir := t.TempDir()
	etc, varlib := filepath.Join(dir, "etc"), filepath.Join(dir, "varlib")
	for _, d := range []string{etc, varlib} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", "-a", "/etc/ha.d/.", etc).CombinedOutput(); err != nil {
		t.Fatalf("copying /etc/ha.d: %v %s", err, out)
	}
	exec.Command("cp", "-a", "/var/lib/heartbeat/.", varlib).Run()
	log := filepath.Join(dir, "ha-log")
	hacf := "logfacility none\nlogfile " + log + "\nkeepalive 1\ndeadtime 10\nucast lo 127.0.0.2\nnode hb1\n"
	for _, v := range realVariants {
		hacf += "node " + v.node + "\n"
	}
	files := map[string]string{"ha.cf": hacf, "haresources": "", "authkeys": realKeys}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	script := `hostname hb1
mount -t tmpfs none /run
mkdir -p /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/rsctmp
mount --bind ` + etc + ` /etc/ha.d
mount --bind ` + varlib + ` /var/lib/heartbeat
ip link set lo up
ip addr add 127.0.0.2/8 dev lo 2>/dev/null
exec ` + realHeartbeat + ` -f`
	hb := exec.Command("ip", "netns", "exec", ns, "unshare", "-m", "-u", "-p", "-f", "--kill-child", "--mount-proc", "bash", "-c", script)
	var hbOut bytes.Buffer
	hb.Stdout, hb.Stderr = &hbOut, &hbOut
	if err := hb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		hb.Process.Kill() // unshare --kill-child takes heartbeat and its children with it
		hb.Wait()
	})
	// Wait until heartbeat listens (its log says so), then inject.
	waitFor(t, 20*time.Second, func() bool {
		b, _ := os.ReadFile(log)
		return bytes.Contains(b, []byte("ucast: started on port 694"))
	}, "heartbeat to start:\n"+hbOut.String())
	inj := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperInject$")
	inj.Env = append(os.Environ(), "HBW_INJECT=1")
	if err := inj.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inj.Process.Kill(); inj.Wait() })

	var logText string
	waitFor(t, 20*time.Second, func() bool {
		b, _ := os.ReadFile(log)
		logText = string(b)
		for _, v := range realVariants {
			if v.accept && !strings.Contains(logText, "Status update for node "+v.node+": status up") {
				return false
			}
		}
		// Both refused variants were sent before the last accepted one.
		return strings.Count(logText, "authtoken does not match") >= 2
	}, "heartbeat to take every good packet")
	for _, v := range realVariants {
		got := strings.Contains(logText, "Status update for node "+v.node+": status up")
		if got != v.accept {
			t.Errorf("%s: heartbeat accepted=%v, want %v", v.node, got, v.accept)
		}
		// Our decoder agrees with heartbeat on every variant.
		m := &Message{}
		m.Add(FType, "status")
		m.Add(FOrig, v.node)
		m.AddBinary(FOrigUUID, []byte("0123456789abcdef"))
		k, _ := authkeys.Parse([]byte(realKeys), "authkeys")
		_, err := Decode(v.build(m, k), k)
		if (err == nil) != v.accept {
			t.Errorf("%s: our Decode gave %v, heartbeat accepted=%v", v.node, err, v.accept)
		}
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond) // polling a log file, not synchronising
	}
}
