package daemon

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// captureRaws returns the raw netstring payloads in a capture's decoded.txt.
func captureRaws(t testing.TB, dir string) [][]byte {
	f, err := os.Open(filepath.Join(dir, "decoded.txt"))
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "raw: ###") {
			continue
		}
		out = append(out, unescape(strings.TrimPrefix(line, "raw: ")))
	}
	return out
}

func unescape(s string) []byte {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err == nil {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		b = append(b, s[i])
	}
	return b
}

func captureKeys(t testing.TB) *authkeys.Keys {
	k, probs := authkeys.Parse([]byte("auth 1\n1 sha1 realhb-test-secret\n"), "authkeys")
	if probs.HasErrors() {
		t.Fatal(probs)
	}
	return k
}

func TestCodecMatchesRealHeartbeat(t *testing.T) {
	raws := captureRaws(t, filepath.Join(testbin.Shared(t), "captures", "ucast-sha1"))
	if len(raws) == 0 {
		t.Skip("no raw messages in the capture")
	}
	c := &netstringCodec{keys: captureKeys(t)}
	for i, raw := range raws {
		m, err := c.Decode(raw, 0)
		if err != nil {
			t.Fatalf("message %d: %v\n%q", i, err, raw)
		}
		again, err := c.Encode(m, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, raw) {
			t.Fatalf("message %d re-encoded differently:\n got %q\nwant %q", i, again, raw)
		}
	}
}

func TestCodecRejectsForgeries(t *testing.T) {
	c := &netstringCodec{keys: captureKeys(t)}
	m := &wire.Message{}
	m.Add("t", "status")
	m.Add("st", "active")
	m.AddBinary("srcuuid", []byte{0, 1, 2, 0xff})
	b, err := c.Encode(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decode(b, 0); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	other, _ := authkeys.Parse([]byte("auth 1\n1 sha1 another-key\n"), "authkeys")
	if _, err := (&netstringCodec{keys: other}).Decode(b, 0); !isDrop(err, DropBadAuth) {
		t.Fatalf("wrong key accepted: %v", err)
	}
	tampered := bytes.Replace(b, []byte("st=active"), []byte("st=dead!!"), 1)
	if _, err := c.Decode(tampered, 0); !isDrop(err, DropBadAuth) {
		t.Fatalf("tampered message accepted: %v", err)
	}
	for _, junk := range []string{"", "###\n", "###\n5:(0)t=x,", "hello", "###\n%%%\n3:1 a,"} {
		if _, err := c.Decode([]byte(junk), 0); err == nil {
			t.Fatalf("%q accepted", junk)
		}
	}
}

func isDrop(err error, r DropReason) bool {
	var d *dropError
	return errors.As(err, &d) && d.Reason == r
}

func FuzzNetstringDecode(f *testing.F) {
	if sh, err := os.Stat("../../../shared/captures/ucast-sha1"); err == nil && sh.IsDir() {
		for _, raw := range captureRaws(f, "../../../shared/captures/ucast-sha1") {
			f.Add(raw)
		}
	}
	f.Add([]byte("###\n11:(0)t=status,%%%\n3:1 a,"))
	keys, _ := authkeys.Parse([]byte("auth 1\n1 sha1 realhb-test-secret\n"), "authkeys")
	c := &netstringCodec{keys: keys}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := c.Decode(b, 0)
		if err != nil {
			if m != nil {
				t.Fatal("message returned with an error")
			}
			return
		}
		again, err := c.Encode(m, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Decode(again, 0); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
	})
}
