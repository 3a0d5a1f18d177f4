package hacf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/lineartest"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

func TestLexing(t *testing.T) {
	type dir struct {
		name string
		line int
		args []string
	}
	cases := []struct {
		name string
		in   string
		want []dir
	}{
		{"comment anywhere ends the line", "keepalive 2 # two seconds\nnode a#b\n", []dir{{"keepalive", 1, []string{"2"}}, {"node", 2, []string{"a"}}}},
		{"tabs, CRLF and no final newline", "deadtime\t\t10\r\nnode\tx\ty", []dir{{"deadtime", 1, []string{"10"}}, {"node", 2, []string{"x", "y"}}}},
		{"indented lines and blank lines", "   \n\t  keepalive 1\n\n      bcast eth1\n", []dir{{"keepalive", 2, []string{"1"}}, {"bcast", 4, []string{"eth1"}}}},
		{"commas separate per-token values", "node a, b,c\n", []dir{{"node", 1, []string{"a", "b", "c"}}}},
		{"whole-line media split on blanks only", "ucast eth0 10.0.0.2,x\n", []dir{{"ucast", 1, []string{"eth0", "10.0.0.2,x"}}}},
		{"directive alone has no tokens", "keepalive\n", []dir{{"keepalive", 1, nil}}},
		{"udp is bcast", "udp eth0\n", []dir{{"bcast", 1, []string{"eth0"}}}},
		{"CR cuts the rest", "node a\rnode b\n", []dir{{"node", 1, []string{"a"}}}},
		{"NUL ends the line", "node a\x00b\n", []dir{{"node", 1, []string{"a"}}}},
		{"500 ms is two tokens", "keepalive 500 ms\n", []dir{{"keepalive", 1, []string{"500", "ms"}}}},
		{"comment-only and whitespace-only lines", "# x\n \t# y\n\f\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, probs := Parse([]byte(c.in), "ha.cf")
			if probs.HasErrors() {
				t.Fatalf("unexpected errors: %v", probs)
			}
			var got []dir
			for _, d := range f.Directives {
				got = append(got, dir{d.Name, d.Line, d.Args})
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %#v\nwant %#v", got, c.want)
			}
		})
	}
}

func TestIllegalDirectives(t *testing.T) {
	cases := []struct {
		in, wantName, wantNear string
	}{
		{"Keepalive 2", "Keepalive", "keepalive"},
		{"undport 694", "undport", "udpport"},
		{"ucast1 eth0 1.2.3.4", "ucast1", "ucast"},
		{"node, a", "node,", "node"},
		{"hbaping x", "hbaping", ""},
		{"tcp eth0 198.18.0.2", "tcp", ""},
		{"This is a sentence", "This", ""},
		{"normalpoll on", "normalpoll", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			f, probs := Parse([]byte("node a\n"+c.in+"\nnode b\n"), "/etc/ha.d/ha.cf")
			errs := probs.Errors()
			if len(errs) != 1 {
				t.Fatalf("want one error, got %v", probs)
			}
			p := errs[0]
			if p.Line != 2 || p.Directive != c.wantName || !strings.Contains(p.Msg, `"`+c.wantName+`"`) {
				t.Errorf("problem %+v: want line 2 naming %q", p, c.wantName)
			}
			if c.wantNear != "" && !strings.Contains(p.Msg, `did you mean "`+c.wantNear+`"`) {
				t.Errorf("%q: want suggestion %q", p.Msg, c.wantNear)
			}
			if len(f.Directives) != 2 {
				t.Errorf("parsing must go on after an illegal line: %v", f.Directives)
			}
		})
	}
}

func TestLongLineIsSplit(t *testing.T) {
	// A line longer than heartbeat's buffer continues as a new line: the
	// tail here reads as the directive "node".
	in := "cluster " + strings.Repeat("x", MaxLine-len("cluster ")) + "node b\n"
	f, probs := Parse([]byte(in), "ha.cf")
	if probs.HasErrors() {
		t.Fatal(probs)
	}
	if len(f.Directives) != 2 || f.Directives[1].Name != "node" || f.Directives[1].Args[0] != "b" || f.Directives[1].Line != 1 {
		t.Fatalf("got %+v", f.Directives)
	}
}

func TestCorpusFilesLex(t *testing.T) {
	dir := filepath.Join(testbin.Shared(t), "corpus", "ha.cf")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Skip(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		f, _ := Parse(b, e.Name())
		for _, d := range f.Directives {
			if !Known(d.Name) || d.Line < 1 {
				t.Errorf("%s: bad directive %+v", e.Name(), d)
			}
		}
	}
}

func FuzzParseHaCf(f *testing.F) {
	f.Add([]byte("keepalive 2\nnode a b\nucast eth0 10.0.0.2 # c\r\n"))
	f.Add([]byte("\x00\n#\n,\n"))
	if dir, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "corpus", "ha.cf")); err == nil {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, probs := Parse(data, "ha.cf")
		if file == nil {
			t.Fatal("nil file")
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, d := range file.Directives {
			if !Known(d.Written) || d.Line < 1 || d.Line > lines {
				t.Fatalf("bad directive %+v", d)
			}
			for _, a := range d.Args {
				if a == "" || strings.ContainsAny(a, "#\r\n") {
					t.Fatalf("bad token %q in %+v", a, d)
				}
			}
		}
		for _, p := range probs {
			if p.Line < 1 || p.Line > lines {
				t.Fatalf("bad problem line %+v", p)
			}
		}
	})
}

func BenchmarkParse200Nodes(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("keepalive 1\ndeadtime 10\nwarntime 5\ninitdead 30\nudpport 694\nauto_failback on\nbcast eth0\nmcast eth1 239.0.0.1 694 1 0\n")
	for i := range 200 {
		sb.WriteString("node node")
		sb.WriteString(strings.Repeat("x", i%7))
		sb.WriteString(" # a comment\n")
	}
	data := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		Parse(data, "ha.cf")
	}
}

// TestGarbageIsLinear: parsing costs CPU time and memory in proportion
// to the input, whatever the input. Each shape is parsed at 1x and 16x
// its size: a linear parser takes about 16x as long, a quadratic one
// about 256x; the bound is 40x with no absolute slack. Timings are the
// least of several interleaved runs of this thread's CPU time with GC
// off, and a shape fails only if three measurements all exceed the bound,
// so a loaded machine does not fail it while a quadratic step does.
func TestGarbageIsLinear(t *testing.T) {
	const lines = 2000
	shapes := map[string]func(n int) []byte{
		"long garbage": func(n int) []byte {
			return []byte(strings.Repeat(strings.Repeat("x", 100)+" y\n", n))
		},
		"nodes": func(n int) []byte {
			return []byte(strings.Repeat("node a, b,c # comment\n", n))
		},
		"over-long lines": func(n int) []byte {
			return []byte(strings.Repeat(strings.Repeat("node x ", 2*MaxLine/7)+"\n", n/100))
		},
		"no newline": func(n int) []byte {
			return []byte("node " + strings.Repeat("x, ", 10*n))
		},
		"blank and comments": func(n int) []byte {
			return []byte(strings.Repeat("   \t# just a comment\n\n\r\n", n))
		},
	}
	for name, gen := range shapes {
		lineartest.Check(t, name, gen(lines), gen(16*lines), func(b []byte) { Parse(b, "ha.cf") })
	}
}

// TestGarbageHintsBounded: a file of garbage is reported line by line,
// but only its first maxSuggestions problems pay for a "did you mean"
// hint (an edit distance to every directive name).
func TestGarbageHintsBounded(t *testing.T) {
	const n = 3 * maxSuggestions
	f, probs := Parse([]byte(strings.Repeat("keepaliv 2\n", n)), "ha.cf")
	if len(f.Directives) != 0 || len(probs) != n {
		t.Fatalf("%d directives, %d problems, want 0 and %d", len(f.Directives), len(probs), n)
	}
	hints := 0
	for i, p := range probs {
		if p.Line != i+1 || p.Directive != "keepaliv" {
			t.Fatalf("problem %d: %+v", i, p)
		}
		if strings.Contains(p.Msg, `(did you mean "keepalive"?)`) {
			if i >= maxSuggestions {
				t.Fatalf("problem %d has a hint, past the first %d: %s", i, maxSuggestions, p.Msg)
			}
			hints++
		}
	}
	if hints != maxSuggestions {
		t.Fatalf("%d hints, want one for each of the first %d problems", hints, maxSuggestions)
	}
}
