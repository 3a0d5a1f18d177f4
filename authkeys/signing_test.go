package authkeys_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/wire"
	"github.com/heartbeat-go/heartbeat/hb/wire/pcap"
)

// TestSigningOracle: for authkeys files whose meaning is not obvious
// (testdata/signing/*.authkeys), the real heartbeat 3.0.6 was started with
// the file and its packets captured (*.pcap). Every packet must carry the
// key index we call active, and verify with the key we parsed: this pins
// which key wins, how keys are cut (at a blank, at a NUL, quotes kept)
// and that there are no trailing comments.
func TestSigningOracle(t *testing.T) {
	files, err := filepath.Glob("testdata/signing/*.authkeys")
	if err != nil || len(files) < 6 {
		t.Fatalf("oracle files: %v %v", files, err)
	}
	wantSecret := map[string]string{
		"quoted":  `"cluster`,
		"nul":     "ab",
		"dup":     "b",
		"comment": "key",
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".authkeys")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			k, probs := authkeys.Parse(data, f)
			if probs.HasErrors() {
				t.Fatal(probs)
			}
			key, _ := k.ActiveKey()
			if s, ok := wantSecret[name]; ok && key.Secret != s {
				t.Fatalf("secret %q, want %q", key.Secret, s)
			}
			pf, err := os.Open(strings.TrimSuffix(f, ".authkeys") + ".pcap")
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			r, err := pcap.NewReader(pf)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				d, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				m, err := wire.Decode(d.Payload, k)
				if err != nil {
					t.Fatalf("record %d: %v", d.Index, err)
				}
				if idx, _, _ := strings.Cut(m.Value(wire.FAuth), " "); idx != strconv.Itoa(k.Active) {
					t.Fatalf("record %d signed with index %s, we call %d active", d.Index, idx, k.Active)
				}
				n++
			}
			if n == 0 {
				t.Fatal("no packets")
			}
		})
	}
}
