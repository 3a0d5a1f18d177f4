package authkeys

import (
	"bufio"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/diag"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// heartbeatPath is the name heartbeat 3.0.6 gives the file in messages.
const heartbeatPath = "/etc/ha.d//authkeys"

func msgs(l diag.List) []string {
	var out []string
	for _, p := range l {
		out = append(out, p.Msg)
	}
	return out
}

// TestOracle replays every case recorded from the real daemon
// (testdata/oracle.tsv): same verdict, same messages in the same order.
func TestOracle(t *testing.T) {
	f, err := os.Open("testdata/oracle.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			t.Fatalf("bad oracle line %q", line)
		}
		content, err := strconv.Unquote(cols[1])
		if err != nil {
			t.Fatalf("%s: %v", cols[0], err)
		}
		var want []string
		if cols[3] != "" {
			want = strings.Split(cols[3], " | ")
		}
		n++
		t.Run(cols[0], func(t *testing.T) {
			k, probs := Parse([]byte(content), heartbeatPath)
			accepted := !probs.HasErrors()
			if accepted != (cols[2] == "ACCEPTED") {
				t.Fatalf("heartbeat %s, we accepted=%v: %v", cols[2], accepted, probs)
			}
			if accepted != (k != nil) {
				t.Fatalf("accepted=%v but keys=%v", accepted, k)
			}
			got := msgs(probs.Errors())
			if strings.Join(got, " | ") != strings.Join(want, " | ") {
				t.Errorf("messages\n got %q\nwant %q", got, want)
			}
		})
	}
	if n < 40 {
		t.Fatalf("only %d oracle cases", n)
	}
}

func TestParseDetails(t *testing.T) {
	cases := []struct {
		name, in      string
		active        int
		method        Method
		secret        string
		activeLineNum int
	}{
		{"quotes are kept and the key ends at a blank", "auth 1\n1 md5 \"cluster twin test\"\n", 1, MD5, `"cluster`, 1},
		{"quoted key with trailing space", "auth 3\n3 md5 \"5a6847e54d5794f\" \n", 3, MD5, `"5a6847e54d5794f"`, 1},
		{"leading and trailing blanks", " auth 1 \n 1 sha1 89ba71805ce78861919e476047d3a4d8 \n", 1, SHA1, "89ba71805ce78861919e476047d3a4d8", 1},
		{"crlf", "auth 1\r\n1 sha1 x\r\n", 1, SHA1, "x", 1},
		{"no final newline", "auth 1\n1 sha1 aaa", 1, SHA1, "aaa", 1},
		{"zero-padded index", "auth 1\n01 sha1 x\n", 1, SHA1, "x", 1},
		{"glued index and method", "auth 1\n1crc\n", 1, CRC, "", 1},
		{"later line replaces earlier", "auth 1\n1 sha1 a\n1 md5 b\n", 1, MD5, "b", 1},
		{"earlier match survives an undefined later auth", "auth 1\n1 crc\nauth 3\n", 1, CRC, "", 1},
		{"key after NUL ignored", "auth 1\n1 sha1 ab\x00cd\n", 1, SHA1, "ab", 1},
		{"comment lines and blank lines anywhere", "#\n\nauth 2\n#1 crc\n\n2 sha1 HA_x\n# tail\n", 2, SHA1, "HA_x", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, probs := Parse([]byte(c.in), "authkeys")
			if probs.HasErrors() {
				t.Fatalf("rejected: %v", probs)
			}
			key, ok := k.ActiveKey()
			if !ok || k.Active != c.active || key.Method != c.method || key.Secret != c.secret || k.ActiveLine != c.activeLineNum {
				t.Fatalf("got active=%d line=%d key=%+v, want %d %s %q line %d", k.Active, k.ActiveLine, key, c.active, c.method, c.secret, c.activeLineNum)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	cases := map[string]string{
		"auth 1\n1 md5 \"cluster twin test\"\n": `text after the key is ignored ("twin test\""): heartbeat uses "\"cluster" as the key`,
		"auth 3\n3 md5 \"5a6847e54d5794f\" \n":  `quotes are part of the key: heartbeat uses "\"5a6847e54d5794f\"" as the key`,
		"auth 1\n1 sha1 key # comment\n":        `text after the key is ignored ("# comment"): heartbeat uses "key" as the key`,
		"auth 1\n1 crc\nauth 3\n":               "auth 3 names no key defined after it: heartbeat keeps signing with key 1",
		"2 crc\nauth 1\n1 crc\nauth 2\n":        "auth 2 names no key defined after it: heartbeat keeps signing with key 1",
		"auth 1\n1 sha1 plain\n":                "",
		"auth 1\n1 crc\nauth 1\n":               "",
	}
	for in, want := range cases {
		k, probs := Parse([]byte(in), "authkeys")
		if k == nil || probs.HasErrors() {
			t.Fatalf("%q rejected: %v", in, probs)
		}
		got := strings.Join(msgs(probs.Warnings()), " | ")
		if got != want {
			t.Errorf("%q: warnings %q, want %q", in, got, want)
		}
	}
}

func TestProblemLines(t *testing.T) {
	_, probs := Parse([]byte("auth 1\n# c\n1 sha256 x\nauthx\n"), "/x/authkeys")
	var lines []int
	for _, p := range probs {
		if p.File != "/x/authkeys" {
			t.Errorf("file %q", p.File)
		}
		lines = append(lines, p.Line)
	}
	if len(lines) != 3 || lines[0] != 3 || lines[1] != 4 || lines[2] != 1 {
		t.Fatalf("problem lines %v (%v)", lines, probs)
	}
}

// TestCorpus: every real-world authkeys file heartbeat 3.0.6 accepted
// (corpus/VERDICTS.tsv) is accepted here too.
func TestCorpus(t *testing.T) {
	shared := testbin.Shared(t)
	verdicts, err := os.ReadFile(filepath.Join(shared, "corpus", "VERDICTS.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(verdicts), "\n") {
		cols := strings.Split(line, "\t")
		if len(cols) < 3 || !strings.HasPrefix(cols[0], "authkeys/") {
			continue
		}
		n++
		t.Run(filepath.Base(cols[0]), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(shared, "corpus", cols[0]))
			if err != nil {
				t.Fatal(err)
			}
			k, probs := Parse(data, cols[0])
			switch cols[2] {
			case "ACCEPTED":
				if probs.HasErrors() || k == nil {
					t.Fatalf("heartbeat accepted it, we reject: %v", probs)
				}
			case "REJECTED":
				if !probs.HasErrors() {
					t.Fatalf("heartbeat rejected it (%s), we accept", cols[3])
				}
			}
		})
	}
	if n < 40 {
		t.Fatalf("only %d corpus authkeys verdicts found", n)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("auth 1\n1 sha1 s\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o700, true}, {0o620, true}, {0o602, true}, {0o640, false}, {0o604, false}, {0o644, false}} {
		t.Run(c.mode.String(), func(t *testing.T) {
			p := write("k"+strconv.Itoa(int(c.mode)), c.mode)
			k, probs := Load(p)
			if c.ok != !probs.HasErrors() || c.ok != (k != nil) {
				t.Fatalf("mode %o: keys=%v problems=%v", c.mode, k, probs)
			}
			if !c.ok {
				want := "Bad permissions on keyfile [" + p + "], 600 recommended."
				if len(probs) != 1 || probs[0].Msg != want {
					t.Fatalf("got %v want %q", msgs(probs), want)
				}
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		p := filepath.Join(dir, "nope")
		k, probs := Load(p)
		want := "Cannot open keyfile [" + p + "].  Stop."
		if k != nil || len(probs) != 1 || probs[0].Msg != want {
			t.Fatalf("got %v, want %q", msgs(probs), want)
		}
	})
}

func TestCRC32(t *testing.T) {
	// Check values of the CRC-32/POSIX polynomial without the length
	// suffix cksum adds: MSB first, init 0, complemented.
	if got := CRC32(nil); got != 0xffffffff {
		t.Errorf("CRC32(nil) = %x", got)
	}
	if got := CRC32([]byte("123456789")); got != 0x765e7680 {
		t.Errorf("CRC32(123456789) = %x, want 765e7680", got)
	}
	k := Key{Index: 1, Method: CRC}
	// %lx without padding: find an input whose CRC has a leading zero nibble.
	for i := 0; i < 1000; i++ {
		d := []byte(strconv.Itoa(i))
		if CRC32(d) < 0x10000000 {
			s := k.Sum(d)
			if len(s) >= 8 || s != strconv.FormatUint(uint64(CRC32(d)), 16) {
				t.Fatalf("Sum(%q) = %q, want unpadded %x", d, s, CRC32(d))
			}
			return
		}
	}
	t.Fatal("no short CRC found")
}

// TestCRC32Slicing: the four-bytes-at-a-time CRC equals the plain one
// for every length and alignment.
func TestCRC32Slicing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for start := range 5 {
		for end := start; end <= len(buf); end++ {
			if got, want := CRC32(buf[start:end]), crc32Bytewise(buf[start:end]); got != want {
				t.Fatalf("[%d:%d] %x != %x", start, end, got, want)
			}
		}
	}
}

func TestSignVerify(t *testing.T) {
	k, probs := Parse([]byte("auth 2\n1 md5 old\n2 sha1 new\n3 crc\n"), "authkeys")
	if probs.HasErrors() {
		t.Fatal(probs)
	}
	data := []byte("t=status\nsrc=hb1\n")
	sig := k.Sign(data)
	if !strings.HasPrefix(sig, "2 ") || len(sig) != 2+40 {
		t.Fatalf("sig %q", sig)
	}
	if err := k.Verify(data, sig); err != nil {
		t.Fatal(err)
	}
	// Rollover: a peer still signing with key 1 or 3 is accepted.
	for _, idx := range []int{1, 3} {
		old := &Keys{Active: idx, Keys: k.Keys}
		if err := k.Verify(data, old.Sign(data)); err != nil {
			t.Errorf("key %d: %v", idx, err)
		}
	}
	bad := append([]byte(nil), data...)
	for i := range bad {
		bad[i] ^= 0x20
		if err := k.Verify(bad, sig); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
		bad[i] ^= 0x20
	}
	cases := map[string]error{
		"9 " + sig[2:]:                  ErrUnknownKey,
		"16 " + sig[2:]:                 ErrUnknownKey,
		"-1 " + sig[2:]:                 ErrUnknownKey,
		"":                              ErrMalformed,
		"2":                             ErrMalformed,
		"x " + sig[2:]:                  ErrMalformed,
		"2 " + strings.ToUpper(sig[2:]): ErrBadSignature,
		"2 " + sig[2:] + " trailing":    nil, // sscanf("%d %s") ignores the rest
		"  2   " + sig[2:]:              nil,
	}
	for s, want := range cases {
		if err := k.Verify(data, s); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("Verify(%q) = %v, want %v", s, err, want)
		}
	}
	other, _ := Parse([]byte("auth 2\n2 sha1 other\n"), "authkeys")
	if err := other.Verify(data, sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("wrong key: %v", err)
	}
	var nilKeys *Keys
	if nilKeys.Sign(data) != "" || !errors.Is(nilKeys.Verify(data, sig), ErrNoKeys) {
		t.Error("nil keys")
	}
}

func FuzzParse(f *testing.F) {
	if entries, err := filepath.Glob("../../shared/corpus/authkeys/*"); err == nil {
		for _, e := range entries {
			if b, err := os.ReadFile(e); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("auth 1\n1 crc\n"))
	f.Add([]byte("auth 2\n1 md5 \"a b\"\n2 sha1 x\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, probs := Parse(data, "authkeys")
		if probs.HasErrors() {
			if k != nil {
				t.Fatal("keys returned with errors")
			}
			return
		}
		key, ok := k.ActiveKey()
		if !ok {
			t.Fatal("accepted without an active key")
		}
		if (key.Method == CRC) != (key.Secret == "") {
			t.Fatalf("key %+v", key)
		}
		// What String renders parses back to the same keys.
		k2, probs2 := Parse([]byte(k.String()), "authkeys")
		if probs2.HasErrors() || k2.Active != k.Active || len(k2.Keys) != len(k.Keys) {
			t.Fatalf("round trip of %q: %v", k.String(), probs2)
		}
		for i, kk := range k.Keys {
			if k2.Keys[i].Method != kk.Method || k2.Keys[i].Secret != kk.Secret {
				t.Fatalf("round trip key %d: %+v vs %+v", i, k2.Keys[i], kk)
			}
		}
		sig := k.Sign(data)
		if err := k.Verify(data, sig); err != nil {
			t.Fatalf("own signature: %v", err)
		}
		// Arbitrary signature strings are refused with one of the
		// sentinel errors, never a panic.
		if err := k.Verify(data, string(data)); err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify(%q): %v", data, err)
		}
	})
}

// TestConcurrentUse: Keys are shared by the daemon's media goroutines;
// signing and verifying at once must agree (run with -race).
func TestConcurrentUse(t *testing.T) {
	k, _ := Parse([]byte("auth 1\n1 sha1 a\n2 md5 b\n3 crc\n"), "authkeys")
	data := []byte("t=status\nsrc=hb1\n")
	want := map[int]string{}
	for i := 1; i <= 3; i++ {
		want[i] = (&Keys{Active: i, Keys: k.Keys}).Sign(data)
	}
	done := make(chan error)
	for g := range 6 {
		go func() {
			kk := &Keys{Active: g%3 + 1, Keys: k.Keys}
			for range 300 {
				s := kk.Sign(data)
				if s != want[kk.Active] {
					done <- errors.New("signature changed under concurrency: " + s)
					return
				}
				if err := k.Verify(data, s); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 6 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
