package media

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

func feedAll(f *Framer, chunks ...[]byte) [][]byte {
	var out [][]byte
	for _, c := range chunks {
		out = append(out, f.Feed(c)...)
	}
	return out
}

func TestFramerSplitsClassicFrames(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []string
		skipped uint64
	}{
		{"one frame", ">>>\nt=status\n<<<\n", []string{">>>\nt=status\n<<<\n"}, 0},
		{"garbage before start is skipped", "noise\n\n>>>\na=1\n<<<\n", []string{">>>\na=1\n<<<\n"}, 2},
		{"two frames back to back", ">>>\na=1\n<<<\n>>>\nb=2\n<<<\n", []string{">>>\na=1\n<<<\n", ">>>\nb=2\n<<<\n"}, 0},
		{"incomplete frame waits", ">>>\na=1\n", nil, 0},
		{"start and end lines match by prefix", ">>>x\na=1\n<<<y\n", []string{">>>x\na=1\n<<<y\n"}, 0},
		{"a second start inside a frame is content", ">>>\n>>>\n<<<\n", []string{">>>\n>>>\n<<<\n"}, 0},
		{"NUL cuts a line short", ">>>\na=1\x00junk\n<<<\n", []string{">>>\na=1\n<<<\n"}, 0},
		{"end line outside a frame is skipped", "<<<\n>>>\n<<<\n", []string{">>>\n<<<\n"}, 1},
		{"empty lines inside a frame are kept", ">>>\n\n<<<\n", []string{">>>\n\n<<<\n"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f Framer
			got := f.Feed([]byte(c.in))
			if len(got) != len(c.want) {
				t.Fatalf("got %d frames %q, want %q", len(got), got, c.want)
			}
			for i := range got {
				if string(got[i]) != c.want[i] {
					t.Errorf("frame %d = %q, want %q", i, got[i], c.want[i])
				}
			}
			if f.Skipped != c.skipped {
				t.Errorf("skipped %d lines, want %d", f.Skipped, c.skipped)
			}
		})
	}
}

func TestFramerDropsOversizedFramesAndResyncs(t *testing.T) {
	f := Framer{Max: 32}
	in := ">>>\n" + string(bytes.Repeat([]byte("x"), 40)) + "\nmore\n<<<\n>>>\nok=1\n<<<\n"
	got := f.Feed([]byte(in))
	if len(got) != 1 || string(got[0]) != ">>>\nok=1\n<<<\n" {
		t.Fatalf("got %q", got)
	}
	if f.Oversized != 1 {
		t.Errorf("oversized = %d, want 1", f.Oversized)
	}
	// A single endless line never grows the framer beyond its limit.
	f2 := Framer{Max: 64}
	for i := 0; i < 1000; i++ {
		f2.Feed(bytes.Repeat([]byte("y"), 1000))
	}
	if cap(f2.line) > 4*64 {
		t.Errorf("line buffer grew to %d bytes", cap(f2.line))
	}
}

// referenceFrames splits a stream with the plain rule (">>>\n" up to and
// including the next "<<<\n"), valid for streams without garbage.
func referenceFrames(b []byte) [][]byte {
	var out [][]byte
	for {
		i := bytes.Index(b, []byte(FrameStart))
		if i < 0 {
			return out
		}
		j := bytes.Index(b[i:], []byte("\n"+FrameEnd))
		if j < 0 {
			return out
		}
		end := i + j + 1 + len(FrameEnd)
		out = append(out, b[i:end])
		b = b[end:]
	}
}

func serialCaptures(t testing.TB) map[string]int {
	dir := filepath.Join(testbin.Shared(t), "captures", "serial-sha1")
	// Frame counts as decoded.txt's signature check reports them.
	return map[string]int{
		filepath.Join(dir, "serial-hb1-to-hb2.bin"): 83,
		filepath.Join(dir, "serial-hb2-to-hb1.bin"): 100,
	}
}

func TestFramerCapturedStreamsAnyChunking(t *testing.T) {
	for path, want := range serialCaptures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ref := referenceFrames(data)
			if len(ref) != want {
				t.Fatalf("reference split found %d frames, decoded.txt says %d", len(ref), want)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for round := 0; round < 20; round++ {
				var f Framer
				var got [][]byte
				for rest := data; len(rest) > 0; {
					n := 1 + rng.IntN(700)
					if round == 0 {
						n = len(rest)
					}
					n = min(n, len(rest))
					got = append(got, f.Feed(rest[:n])...)
					rest = rest[n:]
				}
				if len(got) != len(ref) {
					t.Fatalf("round %d: %d frames, want %d", round, len(got), len(ref))
				}
				for i := range got {
					if !bytes.Equal(got[i], ref[i]) {
						t.Fatalf("round %d frame %d differs:\n%q\n%q", round, i, got[i], ref[i])
					}
				}
				if f.Skipped != 0 || f.InFrame() {
					t.Fatalf("round %d: skipped=%d inFrame=%v", round, f.Skipped, f.InFrame())
				}
			}
		})
	}
}

func FuzzFramer(f *testing.F) {
	f.Add([]byte(">>>\nt=status\n<<<\n"), uint8(3))
	f.Add([]byte("x\n>>>\n\x00\n<<<\n<<<\n>>>"), uint8(1))
	if p := filepath.Join("..", "..", "shared", "captures", "serial-sha1", "serial-hb1-to-hb2.bin"); true {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b[:min(len(b), 2000)], uint8(7))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole := Framer{Max: 256}
		all := whole.Feed(data)
		chunked := Framer{Max: 256}
		n := int(step%64) + 1
		var got [][]byte
		for rest := data; len(rest) > 0; {
			k := min(n, len(rest))
			got = append(got, chunked.Feed(rest[:k])...)
			rest = rest[k:]
		}
		if len(got) != len(all) {
			t.Fatalf("chunking changed the frame count: %d vs %d", len(got), len(all))
		}
		for i := range all {
			if !bytes.Equal(all[i], got[i]) {
				t.Fatalf("chunking changed frame %d", i)
			}
			fr := all[i]
			if len(fr) > 256 || !bytes.HasPrefix(fr, []byte(">>>")) || fr[len(fr)-1] != '\n' {
				t.Fatalf("bad frame %q", fr)
			}
			lines := bytes.Split(fr[:len(fr)-1], []byte("\n"))
			if !bytes.HasPrefix(lines[len(lines)-1], []byte("<<<")) || bytes.IndexByte(fr, 0) >= 0 {
				t.Fatalf("bad frame end %q", fr)
			}
		}
	})
}

func BenchmarkFramer(b *testing.B) {
	var data []byte
	for p := range serialCaptures(b) {
		d, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, d...)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var f Framer
		f.Feed(data)
	}
}
