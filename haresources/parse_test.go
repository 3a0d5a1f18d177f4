package haresources

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/diag"
)

func TestParseResource(t *testing.T) {
	tests := []struct {
		name, tok, script string
		args              []string
	}{
		{"bare address with mask and interface is IPaddr", "198.18.0.10/24/veth0", "IPaddr", []string{"198.18.0.10/24/veth0"}},
		{"bare address is IPaddr", "10.0.0.1", "IPaddr", []string{"10.0.0.1"}},
		{"bare address with broadcast", "10.0.0.1/24/eth0/10.0.0.255", "IPaddr", []string{"10.0.0.1/24/eth0/10.0.0.255"}},
		{"every :: separates an argument", "dummy1::a::b::c", "dummy1", []string{"a", "b", "c"}},
		{"IPaddr2 label form is one argument", "IPaddr2::198.18.0.30/24/veth0:lbl/198.18.0.255", "IPaddr2", []string{"198.18.0.30/24/veth0:lbl/198.18.0.255"}},
		{"single colons are kept", "x::y:z", "x", []string{"y:z"}},
		{"plain script has no arguments", "httpd", "httpd", nil},
		{"IPv6 address is cut at its ::", "IPv6addr::2001:db8::1/64", "IPv6addr", []string{"2001:db8", "1/64"}},
		{"empty arguments vanish in word splitting", "a::::b::", "a", []string{"b"}},
		{"a triple colon keeps one colon", "a:::b", "a", []string{":b"}},
		{"sed removes only the colon-free run before the first ::", "x:y::z", "x:y", []string{"x:z"}},
		{"script name that looks like an address runs IPaddr", "10.0.0.1::foo", "IPaddr", []string{"foo"}},
		{"three dots each followed by a digit make an address", "1a.2b.3c.4d", "IPaddr", []string{"1a.2b.3c.4d"}},
		{"not an address without a leading digit", "a1.2.3.4", "a1.2.3.4", nil},
		{"not an address with only two dot-digits", "1.2.3.x", "1.2.3.x", nil},
		{"Filesystem arguments", "Filesystem::/dev/drbd0::/data::ext3", "Filesystem", []string{"/dev/drbd0", "/data", "ext3"}},
		{"trailing :: gives no argument", "drbddisk::", "drbddisk", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ParseResource(tc.tok)
			if r.Raw != tc.tok || r.Script != tc.script || !reflect.DeepEqual(r.Args, tc.args) {
				t.Errorf("ParseResource(%q) = %q %q %q, want script %q args %q", tc.tok, r.Raw, r.Script, r.Args, tc.script, tc.args)
			}
		})
	}
}

func TestParseSpecExample(t *testing.T) {
	f, probs := Parse([]byte("# comment\nNodeA  198.18.0.10/24/veth0  dummy1::a::b::c   # c\n"), "hr")
	if len(probs) != 0 {
		t.Fatalf("unexpected problems: %v", probs)
	}
	want := []Group{{
		Node: "nodea", NodeRaw: "NodeA", Line: 2,
		Resources: []Resource{
			{Raw: "198.18.0.10/24/veth0", Script: "IPaddr", Args: []string{"198.18.0.10/24/veth0"}},
			{Raw: "dummy1::a::b::c", Script: "dummy1", Args: []string{"a", "b", "c"}},
		},
	}}
	if !reflect.DeepEqual(f.Groups, want) {
		t.Fatalf("groups = %#v\nwant %#v", f.Groups, want)
	}
	if k := f.Groups[0].Key(); k != "198.18.0.10/24/veth0" {
		t.Errorf("key = %q", k)
	}
	if l := f.Groups[0].NormalizedLine(); l != "nodea 198.18.0.10/24/veth0 dummy1::a::b::c " {
		t.Errorf("normalized line = %q", l)
	}
	if got := f.NodeRefs; !reflect.DeepEqual(got, []NodeRef{{Line: 2, Token: "NodeA"}}) {
		t.Errorf("node refs = %v", got)
	}
}

// lines returns each group as ResourceManager prints it.
func lines(f *File) []string {
	var out []string
	for _, g := range f.Groups {
		out = append(out, g.NormalizedLine())
	}
	return out
}

func TestLogicalLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		refs []NodeRef
	}{
		{"empty file has no groups", "", nil, nil},
		{"comments and blank lines are skipped", "#x\n\n   \n\t# y\n", nil, nil},
		{"node is lower-cased, resources are not", "ALPHA HTTPD\n", []string{"alpha HTTPD "}, []NodeRef{{1, "ALPHA"}}},
		{"tabs and runs of blanks squeeze", "\t a\t\tb   c \t\n", []string{"a b c "}, []NodeRef{{1, "a"}}},
		{"comment starts at the first # anywhere", "a b#c d\n", []string{"a b "}, []NodeRef{{1, "a"}}},
		{"backslash-newline joins lines", "a b \\\n c\\\nd\ne f\n", []string{"a b cd ", "e f "}, []NodeRef{{1, "a"}, {4, "e"}}},
		{"no final newline", "a b", []string{"a b "}, []NodeRef{{1, "a"}}},
		{"# on a continuation line is no comment", "a r1 \\\n  # x \\\nb r2 # c\n", []string{"a r1 # x b r2 # c "}, []NodeRef{{1, "a"}}},
		{"backslash before a comment continues", "a r1 \\#z\nr2\n", []string{"a r1 r2 "}, []NodeRef{{1, "a"}, {2, "r2"}}},
		{"a backslash in a comment does not continue for ResourceManager", "c r3#z \\\nd r4\n", []string{"c r3 ", "d r4 "}, []NodeRef{{1, "c"}}},
		{"backslash at end of file stays", "e r5 \\", []string{"e r5 \\ "}, []NodeRef{{1, "e"}}},
		{"comment line ending in backslash does not continue", "# x \\\na b\n", []string{"a b "}, []NodeRef{{2, "a"}}},
		{"node without resources", "a\n", []string{"a "}, []NodeRef{{1, "a"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := Parse([]byte(tc.in), "hr")
			if got := lines(f); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("lines = %q, want %q", got, tc.want)
			}
			if !reflect.DeepEqual(f.NodeRefs, tc.refs) {
				t.Errorf("node refs = %v, want %v", f.NodeRefs, tc.refs)
			}
		})
	}
}

func TestLongLineSplitsForDaemon(t *testing.T) {
	long := "alpha " + strings.Repeat("x", cLineMax) + " beta y\n"
	f, _ := Parse([]byte(long), "hr")
	if len(f.NodeRefs) != 2 || f.NodeRefs[1].Token != "xxxxxx" {
		t.Fatalf("node refs = %v, want the daemon to see a second record starting at byte %d", f.NodeRefs, cLineMax)
	}
	if probs := f.CheckNodes([]string{"alpha"}); !probs.HasErrors() {
		t.Errorf("a line longer than the daemon's buffer should fail its node check: %v", probs)
	}
}

func hasWarning(l diag.List, line int, substr string) bool {
	for _, p := range l {
		if p.Severity == diag.Warning && p.Line == line && strings.Contains(p.Msg, substr) {
			return true
		}
	}
	return false
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		line   int
		substr string
	}{
		{"duplicate keys", "a 10.0.0.1 httpd\nb 10.0.0.1 squid\n", 2, "duplicate group key 10.0.0.1"},
		{"key inside another group", "a httpd\nb 10.0.0.1 httpd\n", 1, "also matches a resource of the group on line 2"},
		{"IPv6 :: in arguments", "a IPv6addr::2001:db8::1/64\n", 1, "IPv6 address 2001:db8::1"},
		{"line without resources", "a\n", 1, "no resources"},
		{"key that is a broken regular expression", "a MailTo::me+x@y.z::subj\n", 1, "cannot find group"},
		{"comment ending in backslash", "a r1 # note \\\nb r2\n", 1, "skip line 2"},
		{"# inside a continued line", "a r1 \\\n r2 # note\n", 2, "does not start a comment"},
		{"continuation at end of file", "a r1 \\", 1, "ends in a continuation"},
		{"DOS line ending", "a httpd\r\n", 1, "carriage return"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Parse([]byte(tc.in), "hr")
			if probs.HasErrors() {
				t.Errorf("Parse reported errors: %v", probs)
			}
			if !hasWarning(probs, tc.line, tc.substr) {
				t.Errorf("want warning on line %d containing %q, got %v", tc.line, tc.substr, probs)
			}
		})
	}
	t.Run("clean file has no warnings", func(t *testing.T) {
		_, probs := Parse([]byte("alpha 10.0.0.1/24/eth0 Filesystem::/dev/sda1::/data::ext3 httpd\nbeta 10.0.0.2 squid\n"), "hr")
		if len(probs) != 0 {
			t.Errorf("problems: %v", probs)
		}
	})
}

func TestCheckNodes(t *testing.T) {
	f, _ := Parse([]byte("Alpha 10.0.0.1\nbeta httpd\nGATEWAY x\ngamma y\ndelta z\n"), "/etc/ha.d/haresources")
	probs := f.CheckNodes([]string{"alpha", "BETA", "gateway"})
	errs := probs.Errors()
	if len(errs) != 2 || errs[0].Line != 4 || errs[1].Line != 5 {
		t.Fatalf("errors = %v, want lines 4 and 5", errs)
	}
	if want := "/etc/ha.d/haresources:4: Bad nodename in /etc/ha.d/haresources [gamma]"; !strings.HasPrefix(errs[0].String(), want) {
		t.Errorf("message %q does not start with %q", errs[0].String(), want)
	}
	if len(probs.Warnings()) != 0 {
		t.Errorf("unexpected warnings %v", probs.Warnings())
	}
	t.Run("node the daemon never checks", func(t *testing.T) {
		f, _ := Parse([]byte("alpha r1 # \\\nbogus r2\n"), "hr")
		probs := f.CheckNodes([]string{"alpha"})
		if probs.HasErrors() || !hasWarning(probs, 2, "not a node of ha.cf") {
			t.Errorf("problems = %v", probs)
		}
	})
}

func TestLookups(t *testing.T) {
	f, _ := Parse([]byte("alpha 10.0.0.1 httpd\nBeta squid\nalpha 10.0.0.2 named\n"), "hr")
	if got := f.Keys(); !reflect.DeepEqual(got, []string{"10.0.0.1", "squid", "10.0.0.2"}) {
		t.Errorf("Keys = %q", got)
	}
	if got := f.KeysFor("ALPHA"); !reflect.DeepEqual(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Errorf("KeysFor = %q", got)
	}
	if got := f.KeysFor("beta"); !reflect.DeepEqual(got, []string{"squid"}) {
		t.Errorf("KeysFor(beta) = %q", got)
	}
	if got := f.KeysFor("al.ha"); got != nil {
		t.Errorf("KeysFor compares names, not patterns: %q", got)
	}
	g, ok := f.Group("10.0.0.2")
	if !ok || g.Line != 3 || len(g.Resources) != 2 {
		t.Errorf("Group = %v %v", g, ok)
	}
	if _, ok := f.Group("httpd"); ok {
		t.Errorf("Group found a non-key member")
	}
	if n := len(f.GroupsFor("alpha")); n != 2 {
		t.Errorf("GroupsFor = %d groups", n)
	}
	if gs := f.GroupsNotFor("alpha"); len(gs) != 1 || gs[0].Key() != "squid" {
		t.Errorf("GroupsNotFor = %v", gs)
	}
}

// corpusFiles lists the shared corpus' haresources files (nil when the
// corpus is not beside the checkout).
func corpusFiles() []string {
	files, _ := filepath.Glob("../../shared/corpus/haresources/*")
	return files
}

func requireCorpus(t *testing.T) []string {
	files := corpusFiles()
	if len(files) == 0 {
		t.Skip("shared corpus not found at ../../shared/corpus")
	}
	return files
}

// TestCorpus: every haresources file real heartbeat accepted (with an ha.cf
// naming its nodes) parses, and passes the node check for its own nodes.
func TestCorpus(t *testing.T) {
	for _, path := range requireCorpus(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, probs := Load(path)
			if probs.HasErrors() {
				t.Fatalf("errors: %v", probs)
			}
			// The lab's ha.cf named the nodes of the file's groups; the
			// daemon's own scan must find only those.
			var nodes []string
			for _, g := range f.Groups {
				nodes = append(nodes, strings.ToUpper(g.NodeRaw))
			}
			if errs := f.CheckNodes(nodes).Errors(); len(errs) > 0 {
				t.Errorf("node check: %v", errs)
			}
			for _, p := range probs {
				t.Log(p)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	f, probs := Load(filepath.Join(t.TempDir(), "nope"))
	if f != nil || !probs.HasErrors() || !strings.Contains(probs[0].Msg, "Cannot open resources file") {
		t.Errorf("Load missing = %v, %v", f, probs)
	}
}

// resourceManagerLines runs heartbeat's ResourceManager normalisation (the
// sed and awk programs of its ipres function) on data.
func resourceManagerLines(t testing.TB, data []byte) []string {
	sed := exec.Command("sed", "-e", `s%#.*%%`, "-e", ":a", "-e", `/\\$/N; s/\\\n//; ta`, "-e", `s%$% %`,
		"-e", "s%[\t ][\t ]*% %g", "-e", "/^[\t ]*$/ d", "-e", `s%^ %%`)
	sed.Stdin = bytes.NewReader(data)
	sed.Env = append(os.Environ(), "LC_ALL=C")
	out, err := sed.Output()
	if err != nil {
		t.Fatalf("sed: %v", err)
	}
	awk := exec.Command("awk", `/.*/ {$1 = tolower($1); print $0, ""}`)
	awk.Stdin = bytes.NewReader(out)
	awk.Env = sed.Env
	out, err = awk.Output()
	if err != nil {
		t.Fatalf("awk: %v", err)
	}
	s := string(out)
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// TestAgainstResourceManager compares the groups with what heartbeat's own
// normalisation pipeline prints, for the corpus and for tricky inputs.
func TestAgainstResourceManager(t *testing.T) {
	for _, tool := range []string{"sed", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	inputs := map[string][]byte{
		"continuations": []byte("A r1 \\\n  # x \\\nb r2 # c\nC  r3#z \\\nD r4\nE r5 \\"),
		"blanks":        []byte("\n \t \n  x\ty  z\t\n#\n\\\nq w\n"),
		"case":          []byte("MiXeD 10.0.0.1/24 IPaddr::1.2.3.4 httpd\n"),
		"comment slash": []byte("a b \\#c\nd\n"),
	}
	for _, p := range corpusFiles() {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(p)] = data
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			f, _ := Parse(data, name)
			want := resourceManagerLines(t, data)
			if got := lines(f); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

// TestRandomAgainstResourceManager compares the groups with heartbeat's
// pipeline on random files built from the characters that matter to it.
func TestRandomAgainstResourceManager(t *testing.T) {
	for _, tool := range []string{"sed", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	const alphabet = "aB1.:# \t\\\n\n\r/x"
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 60 {
		b := make([]byte, rng.IntN(80))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		f, _ := Parse(b, "hr")
		if got, want := lines(f), resourceManagerLines(t, b); !reflect.DeepEqual(got, want) {
			t.Errorf("input %d %q:\ngot  %q\nwant %q", i, b, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range corpusFiles() {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("A r1 \\\n  # x \\\nb r2 # c\nC  r3#z \\\nD r4\nE r5 \\"))
	f.Add([]byte("a IPv6addr::2001:db8::1/64 x:y::z 1.2.3.4::q\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, probs := Parse(data, "hr")
		if file == nil {
			t.Fatal("nil file")
		}
		if probs.HasErrors() {
			t.Fatalf("Parse reports only warnings, got %v", probs)
		}
		prev := 0
		for _, g := range file.Groups {
			if g.Line <= prev {
				t.Fatalf("group lines not increasing: %d after %d", g.Line, prev)
			}
			prev = g.Line
			if g.NodeRaw == "" || g.Node != asciiLower(g.NodeRaw) || strings.ContainsAny(g.NodeRaw, " \t\n") {
				t.Fatalf("bad node %q/%q", g.Node, g.NodeRaw)
			}
			for _, r := range g.Resources {
				if r.Raw == "" || r.Script == "" && !strings.HasPrefix(r.Raw, "::") || strings.ContainsAny(r.Raw, " \t\n") {
					t.Fatalf("bad resource %#v", r)
				}
				if !reflect.DeepEqual(ParseResource(r.Raw), r) {
					t.Fatalf("resource not reproducible: %#v", r)
				}
			}
		}
		for _, ref := range file.NodeRefs {
			if ref.Token == "" || ref.Line < 1 {
				t.Fatalf("bad node ref %v", ref)
			}
		}
		again, _ := Parse(data, "hr")
		if !reflect.DeepEqual(file, again) {
			t.Fatal("Parse is not deterministic")
		}
		_ = file.CheckNodes([]string{"a"})
	})
}

func BenchmarkParse500(b *testing.B) {
	var buf bytes.Buffer
	for i := range 500 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&buf, "# group %d\n", i)
		case 1:
			fmt.Fprintf(&buf, "node%d 10.0.%d.%d/24/eth0/10.0.%d.255 Filesystem::/dev/drbd%d::/data%d::ext4 httpd%d\n", i%8, i/256, i%256, i/256, i, i, i)
		case 2:
			fmt.Fprintf(&buf, "Node%d IPaddr2::10.1.%d.%d/24 \\\n\tdrbddisk::r%d mysql%d\n", i%8, i/256, i%256, i, i)
		case 3:
			fmt.Fprintf(&buf, "node%d MailTo::ops@example.com::failover%d\n", i%8, i)
		}
	}
	data := buf.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		Parse(data, "hr")
	}
}
