package state

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Unix(1795405975, 0)

func TestGenerationFileFormat(t *testing.T) {
	got := FormatGeneration(1795405976)
	if want := "     1795405976\n"; string(got) != want || len(got) != 16 {
		t.Fatalf("%q, want %q (16 bytes as heartbeat writes it)", got, want)
	}
}

func TestBumpGeneration(t *testing.T) {
	dir := t.TempDir()
	g, note, err := BumpGeneration(dir, now)
	if err != nil || g != 1795405976 || string(note) != "No Previous generation - starting at 1795405976" {
		t.Fatalf("first start: %d %q %v", g, note, err)
	}
	g2, note, err := BumpGeneration(dir, now.Add(time.Hour))
	if err != nil || g2 != g+1 || note != "" {
		t.Fatalf("restart: %d %q %v, want %d", g2, note, err, g+1)
	}
	b, _ := os.ReadFile(filepath.Join(dir, GenerationFile))
	if !bytes.Equal(b, FormatGeneration(g2)) {
		t.Fatalf("file holds %q", b)
	}
	if r, err := ReadGeneration(dir); err != nil || r != g2 {
		t.Fatalf("ReadGeneration %d %v", r, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestBumpGenerationBrokenFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, GenerationFile), []byte("garbage\n"), 0o644)
	g, note, err := BumpGeneration(dir, now)
	if err != nil || g != uint64(now.Unix())+1 || !strings.HasPrefix(string(note), "BROKEN previous generation") {
		t.Fatalf("%d %q %v", g, note, err)
	}
}

func TestParseGenerationAsHeartbeat(t *testing.T) {
	for in, want := range map[string]uint64{
		"     1795405976\n": 1795405976,
		"42":                42,
		"  7xyz":            7,
	} {
		if g, err := ParseGeneration([]byte(in)); err != nil || g != want {
			t.Errorf("%q: %d %v, want %d", in, g, err, want)
		}
	}
	for _, bad := range []string{"", "\n", "x1", "-3"} {
		if _, err := ParseGeneration([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseGeneration(f *testing.F) {
	f.Add([]byte("     1795405976\n"))
	f.Add([]byte("99999999999999999999999"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ParseGeneration(b)
		if err == nil {
			g2, err2 := ParseGeneration(FormatGeneration(g))
			if err2 != nil || g2 != g {
				t.Fatalf("round trip %d -> %d %v", g, g2, err2)
			}
		}
	})
}

func TestUUID(t *testing.T) {
	dir := t.TempDir()
	rnd := bytes.NewReader(bytes.Repeat([]byte{0xab}, 16))
	u, created, err := ReadOrCreateUUID(dir, rnd)
	if err != nil || !created || u[6]>>4 != 4 {
		t.Fatalf("create: %x %v %v", u, created, err)
	}
	u2, created, err := ReadOrCreateUUID(dir, bytes.NewReader(nil))
	if err != nil || created || u2 != u {
		t.Fatalf("reread: %x %v %v", u2, created, err)
	}
	os.WriteFile(filepath.Join(dir, UUIDFile), []byte("short"), 0o644)
	if _, _, err := ReadOrCreateUUID(dir, rnd); err == nil {
		t.Fatal("a 5-byte hb_uuid was accepted")
	}
}
