package decode

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

type capFile struct {
	file, keys string
	messages   int
}

func allCaptures(t *testing.T) []capFile {
	dir := filepath.Join(testbin.Shared(t), "captures")
	v1 := filepath.Join(t.TempDir(), "v1-authkeys")
	if err := os.WriteFile(v1, []byte("auth 1\n1 sha1 secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := []capFile{
		{filepath.Join(dir, "ucast-crc", "capture.pcap"), filepath.Join(dir, "ucast-crc", "hb1", "authkeys"), 180},
		{filepath.Join(dir, "ucast-md5", "capture.pcap"), filepath.Join(dir, "ucast-md5", "hb1", "authkeys"), 187},
		{filepath.Join(dir, "ucast-sha1", "capture.pcap"), filepath.Join(dir, "ucast-sha1", "hb1", "authkeys"), 179},
		{filepath.Join(dir, "bcast-sha1", "capture.pcap"), filepath.Join(dir, "bcast-sha1", "hb1", "authkeys"), 183},
		{filepath.Join(dir, "mcast-sha1", "capture.pcap"), filepath.Join(dir, "mcast-sha1", "hb1", "authkeys"), 183},
		{filepath.Join(dir, "loss30-ucast-sha1", "capture.pcap"), filepath.Join(dir, "loss30-ucast-sha1", "hb1", "authkeys"), 667},
		{filepath.Join(dir, "serial-sha1", "serial-hb1-to-hb2.bin"), filepath.Join(dir, "serial-sha1", "hb1", "authkeys"), 83},
		{filepath.Join(dir, "serial-sha1", "serial-hb2-to-hb1.bin"), filepath.Join(dir, "serial-sha1", "hb1", "authkeys"), 100},
	}
	for _, n := range []string{"cap", "cap2", "cap3", "cap4", "cap5"} {
		out = append(out, capFile{filepath.Join(dir, "v1-resources", n+".pcap"), v1, -1})
	}
	return out
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, nil, &out, &errb)
	return code, out.String(), errb.String()
}

// jsonRecords runs decode --json and parses every line.
func jsonRecords(t *testing.T, args ...string) (int, []record) {
	t.Helper()
	code, out, errs := run(append([]string{"--json"}, args...)...)
	var recs []record
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if errs != "" {
		t.Logf("stderr: %s", errs)
	}
	return code, recs
}

func TestEveryCaptureVerifies(t *testing.T) {
	for _, c := range allCaptures(t) {
		t.Run(filepath.Base(filepath.Dir(c.file))+"/"+filepath.Base(c.file), func(t *testing.T) {
			code, recs := jsonRecords(t, "--authkeys", c.keys, c.file)
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			if c.messages >= 0 && len(recs) != c.messages {
				t.Fatalf("%d messages, want %d", len(recs), c.messages)
			}
			if len(recs) == 0 {
				t.Fatal("no messages")
			}
			for _, r := range recs {
				if r.Verdict != VerdictOK || len(r.Fields) == 0 || r.Fields[0].Name == "" {
					t.Fatalf("record %d: %+v", r.Index, r)
				}
				if strings.HasSuffix(c.file, ".pcap") && (r.Time == "" || r.Src == "" || (r.ICMP == "" && !strings.HasSuffix(r.Dst, ":694"))) {
					t.Fatalf("record %d lacks time or addresses: %+v", r.Index, r)
				}
			}
		})
	}
}

func TestWrongKeys(t *testing.T) {
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("auth 1\n1 sha1 not-the-secret\n"), 0o600)
	otherIndex := filepath.Join(dir, "other-index")
	os.WriteFile(otherIndex, []byte("auth 2\n2 sha1 realhb-test-secret\n"), 0o600)
	for _, c := range allCaptures(t)[:8] {
		code, recs := jsonRecords(t, "--authkeys", wrong, c.file)
		if code != 1 || len(recs) == 0 {
			t.Fatalf("%s: exit %d, %d records", c.file, code, len(recs))
		}
		for _, r := range recs {
			if r.Verdict != VerdictBad {
				t.Fatalf("%s record %d: verdict %q with the wrong key", c.file, r.Index, r.Verdict)
			}
		}
		code, recs = jsonRecords(t, "--authkeys", otherIndex, c.file)
		if code != 1 || len(recs) == 0 || recs[0].Verdict != VerdictUnknown {
			t.Fatalf("%s: exit %d, first %+v", c.file, code, recs[0])
		}
	}
}

func TestTextOutput(t *testing.T) {
	c := allCaptures(t)[0]
	code, out, _ := run("--authkeys", c.keys, c.file)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "2026-11-23T03:44:32.207893Z 198.18.0.1:43881 > 198.18.0.2:694 len=239 netstring verdict=ok") {
		t.Fatalf("first line %q", lines[0])
	}
	for i, want := range []string{"t            status", "st           init", "dt           2ee0"} {
		if strings.TrimSpace(lines[1+i]) != want {
			t.Fatalf("line %d %q, want %q", 2+i, lines[1+i], want)
		}
	}
	if !strings.Contains(out, "srcuuid      (binary) hex:a5e5145366a749cfbe0a0bc597c8dd4b") {
		t.Fatal("binary field not shown as hex")
	}
	if !strings.Contains(out, "# "+c.file+": 180 messages, ok=180\n") {
		t.Fatalf("summary missing:\n%s", out[len(out)-200:])
	}
	// Without keys: unchecked, exit 0.
	code, out, _ = run(c.file)
	if code != 0 || !strings.Contains(out, "verdict=unchecked") {
		t.Fatalf("unchecked: exit %d", code)
	}
}

func TestStdin(t *testing.T) {
	c := allCaptures(t)[0]
	data, err := os.ReadFile(c.file)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"--authkeys", c.keys, "-"}, bytes.NewReader(data), &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "# -: 180 messages, ok=180") {
		t.Fatalf("exit %d, %s %s", code, errb.String(), out.String()[max(0, out.Len()-100):])
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.bin")
	os.WriteFile(junk, []byte("noise>>>\nt=status\nnoequals\n<<<\n>>>\nt=x\n<<<\n"), 0o600)
	code, recs := jsonRecords(t, junk)
	if code != 1 || len(recs) != 2 || recs[0].Verdict != "undecodable" || recs[1].Verdict != VerdictUnchecked {
		t.Fatalf("exit %d, %+v", code, recs)
	}
	if code, _, _ := run(); code != 2 {
		t.Fatalf("no args: exit %d", code)
	}
	if code, _, _ := run(filepath.Join(dir, "missing")); code != 2 {
		t.Fatalf("missing file: exit %d", code)
	}
	bad := filepath.Join(dir, "badkeys")
	os.WriteFile(bad, []byte("auth 1\n"), 0o600)
	if code, _, errs := run("--authkeys", bad, junk); code != 2 || !strings.Contains(errs, "Auth Key [1] not found") {
		t.Fatalf("bad authkeys: exit %d %q", code, errs)
	}
}
