package cib

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/diag"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

var idAttr = regexp.MustCompile(` id="([^"]*)"`)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// initScripts is what /etc/init.d holds on the machine the tests pretend to
// convert on: common distribution services. Site-specific scripts of the
// corpus are deliberately missing, so those files exercise the
// unknown-agent error.
var initScripts = []string{
	"apache2", "asterisk", "bind9", "dhcpd", "fail2ban", "haproxy", "httpd", "irqbalance", "mysql", "mysqld",
	"named", "nfs", "nfs-common", "nfs-kernel-server", "nfslock", "nginx", "ntp", "postfix", "samba", "smb",
	"squid", "ssh", "sshd", "tgtd", "vsftpd",
}

func testOptions(schema Schema, flags []string) Options {
	o := Options{
		Schema:          schema,
		HeartbeatScript: func(n string) bool { return slices.Contains(HeartbeatScripts, n) },
		InitScript:      func(n string) bool { return slices.Contains(initScripts, n) },
	}
	for _, f := range flags {
		switch f {
		case "--no-ocf":
			o.NoOCF = true
		case "--no-monitor":
			o.NoMonitor = true
		}
	}
	return o
}

// conversion is one converted input.
type conversion struct {
	name   string
	golden string // golden file path
	text   string // what the golden file must hold
	cib    *CIB
	cf     *HaCf
}

// convert converts hr (and cf, nil for none) and renders the result as its
// golden file holds it: the verdict, every problem, then the CIB.
func convert(name, golden string, hr, cf []byte, schema Schema, flags []string) conversion {
	var probs diag.List
	var hacf *HaCf
	if cf != nil {
		hacf, probs = ReadHaCf(cf, "ha.cf")
	}
	c, p := Convert(hr, "haresources", hacf, testOptions(schema, flags))
	probs = append(probs, p...)
	var b strings.Builder
	if c == nil {
		b.WriteString("verdict: refused\n")
	} else {
		b.WriteString("verdict: converted\n")
	}
	for _, pr := range probs {
		b.WriteString(pr.String() + "\n")
	}
	b.WriteString("---\n")
	if c != nil {
		c.WriteTo(&b)
	}
	return conversion{name: name, golden: golden, text: b.String(), cib: c, cf: hacf}
}

func checkGolden(t *testing.T, cv conversion) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(cv.golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cv.golden, []byte(cv.text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(cv.golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cib -update to create it)", err)
	}
	if string(want) != cv.text {
		t.Errorf("%s differs from the conversion (go test ./cib -update rewrites it); got:\n%s", cv.golden, cv.text)
	}
}

// cases returns the conversions of testdata/cases/* in both schemas.
func cases(t *testing.T) []conversion {
	dirs, err := filepath.Glob("testdata/cases/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	var out []conversion
	for _, dir := range dirs {
		hr, err := os.ReadFile(filepath.Join(dir, "haresources"))
		if err != nil {
			t.Fatal(err)
		}
		cf, err := os.ReadFile(filepath.Join(dir, "ha.cf"))
		if err != nil {
			cf = nil
		}
		flagText, _ := os.ReadFile(filepath.Join(dir, "flags"))
		for _, s := range []Schema{Legacy, Pacemaker} {
			name := filepath.Base(dir) + "." + string(s)
			out = append(out, convert(name, filepath.Join("testdata", name+".golden"), hr, cf, s, strings.Fields(string(flagText))))
		}
	}
	return out
}

// corpus returns the conversions of every haresources file of the shared
// corpus, with its paired ha.cf when it has one, in both schemas.
func corpus(t *testing.T) []conversion {
	shared := testbin.Shared(t)
	dir := filepath.Join(shared, "corpus")
	pairs := map[string]string{}
	if f, err := os.Open(filepath.Join(dir, "PAIRS.tsv")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			cols := strings.Split(sc.Text(), "\t")
			if len(cols) >= 3 && cols[1] != "" && cols[2] != "" && cols[1] != "ha.cf" {
				pairs[cols[2]] = cols[1]
			}
		}
		f.Close()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "haresources", "*"))
	if len(files) == 0 {
		t.Skip("no corpus haresources files")
	}
	var out []conversion
	for _, path := range files {
		base := filepath.Base(path)
		hr, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var cf []byte
		if p, ok := pairs["haresources/"+base]; ok {
			if cf, err = os.ReadFile(filepath.Join(dir, p)); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range []Schema{Legacy, Pacemaker} {
			name := strings.TrimSuffix(base, ".haresources") + "." + string(s)
			out = append(out, convert(name, filepath.Join("testdata", "corpus", name+".golden"), hr, cf, s, nil))
		}
	}
	return out
}

func TestGoldenCases(t *testing.T) {
	for _, cv := range cases(t) {
		t.Run(cv.name, func(t *testing.T) { checkGolden(t, cv) })
	}
}

func TestGoldenCorpus(t *testing.T) {
	for _, cv := range corpus(t) {
		t.Run(cv.name, func(t *testing.T) { checkGolden(t, cv) })
	}
}

// TestSpecIDs: the worked example of the spec's id numbering.
func TestSpecIDs(t *testing.T) {
	hr := "alpha 10.0.1.1 httpd\nbeta squid\nalpha 10.0.1.2 named vsftpd\nbeta 10.0.1.3\nbeta IPaddr2::10.0.1.4/24 postfix smb\n"
	c, probs := Convert([]byte(hr), "haresources", nil, testOptions(Legacy, nil))
	if c == nil {
		t.Fatalf("refused: %v", probs)
	}
	var got []string
	for _, it := range c.m.items {
		var ids []string
		for _, p := range it.members {
			ids = append(ids, p.id)
		}
		if it.kind == kindGroup {
			got = append(got, it.id+"{"+strings.Join(ids, ", ")+"}")
		} else {
			got = append(got, ids...)
		}
	}
	want := []string{"group_1{IPaddr_10_0_1_1, httpd_2}", "squid_4", "group_11{IPaddr_10_0_1_2, named_12, vsftpd_13}", "IPaddr_10_0_1_3", "group_21{IPaddr2_21, postfix_22, smb_23}"}
	if !slices.Equal(got, want) {
		t.Errorf("ids = %q\nwant %q", got, want)
	}
}

// specSeedLegacy is the spec's §9 example: the original converter's output
// for the seed article's files, from <nodes/> to </constraints>.
const specSeedLegacy = `		<nodes/>
		<resources>
			<group id="group_1">
				<primitive class="ocf" id="IPaddr_192_168_228_235" provider="heartbeat" type="IPaddr">
					<operations>
						<op id="IPaddr_192_168_228_235_mon" interval="5s" name="monitor" timeout="5s"/>
					</operations>
					<instance_attributes id="IPaddr_192_168_228_235_inst_attr">
						<attributes>
							<nvpair id="IPaddr_192_168_228_235_attr_0" name="ip" value="192.168.228.235"/>
						</attributes>
					</instance_attributes>
				</primitive>
				<primitive class="lsb" id="httpd_2" provider="heartbeat" type="httpd">
					<operations>
						<op id="httpd_2_mon" interval="120s" name="monitor" timeout="60s"/>
					</operations>
				</primitive>
			</group>
		</resources>
		<constraints>
			<rsc_location id="rsc_location_group_1" rsc="group_1">
				<rule id="prefered_location_group_1" score="100">
					<expression attribute="#uname" id="prefered_location_group_1_expr" operation="eq" value="hatest3"/>
				</rule>
			</rsc_location>
		</constraints>
`

// specSeedPacemaker is the spec's §11 example from <rsc_defaults> to
// </constraints>.
const specSeedPacemaker = `    <rsc_defaults>
      <meta_attributes id="rsc-options">
        <nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" value="0"/>
        <nvpair id="rsc-options-is-managed" name="is-managed" value="true"/>
      </meta_attributes>
    </rsc_defaults>
    <op_defaults>
      <meta_attributes id="op-options">
        <nvpair id="op-options-timeout" name="timeout" value="20s"/>
      </meta_attributes>
    </op_defaults>
    <nodes/>
    <resources>
      <group id="group_1">
        <primitive id="IPaddr_192_168_228_235" class="ocf" provider="heartbeat" type="IPaddr">
          <instance_attributes id="IPaddr_192_168_228_235_inst_attr">
            <nvpair id="IPaddr_192_168_228_235_attr_0" name="ip" value="192.168.228.235"/>
          </instance_attributes>
          <operations>
            <op id="IPaddr_192_168_228_235_mon" name="monitor" interval="5s" timeout="5s"/>
          </operations>
        </primitive>
        <primitive id="httpd_2" class="lsb" type="httpd">
          <operations>
            <op id="httpd_2_mon" name="monitor" interval="120s" timeout="60s"/>
          </operations>
        </primitive>
      </group>
    </resources>
    <constraints>
      <rsc_location id="rsc_location_group_1" rsc="group_1">
        <rule id="prefered_location_group_1" score="100">
          <expression id="prefered_location_group_1_expr" attribute="#uname" operation="eq" value="hatest3"/>
        </rule>
      </rsc_location>
    </constraints>
`

// TestSpecSeedExamples: the seed article's cluster comes out as the spec's
// worked examples show it, in both forms.
func TestSpecSeedExamples(t *testing.T) {
	hr := []byte("hatest3 192.168.228.235 httpd\n")
	cf := []byte("node hatest3\nnode hatest4\n")
	for _, tc := range []struct {
		schema     Schema
		head, body string
	}{
		{Legacy, "<?xml version=\"1.0\" ?>\n<cib admin_epoch=\"0\" epoch=\"0\" num_updates=\"0\">\n", specSeedLegacy},
		{Pacemaker, "<cib admin_epoch=\"0\" epoch=\"0\" num_updates=\"0\" validate-with=\"pacemaker-3.0\">\n", specSeedPacemaker},
	} {
		t.Run(string(tc.schema), func(t *testing.T) {
			cv := convert("seed", "", hr, cf, tc.schema, nil)
			_, out, _ := strings.Cut(cv.text, "---\n")
			if cv.cib == nil || !strings.HasPrefix(out, tc.head) || !strings.Contains(out, tc.body) {
				t.Errorf("output does not hold the spec's example:\n%s", cv.text)
			}
			if !strings.HasSuffix(out, "<status/>\n</cib>\n") {
				t.Errorf("output does not end with <status/></cib>:\n%s", out)
			}
		})
	}
}

func cibcheck(t *testing.T) string {
	t.Helper()
	script := filepath.Join(testbin.Shared(t), "tools", "cibcheck")
	if _, err := os.Stat(script); err != nil {
		t.Skipf("cibcheck not found: %v", err)
	}
	for _, tool := range []string{"crm_verify", "crm_simulate", "xsltproc"} {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err2 := os.Stat("/usr/sbin/" + tool); err2 != nil {
				t.Skipf("%s not installed (Debian packages pacemaker-cli-utils, xsltproc)", tool)
			}
		}
	}
	return script
}

// placement maps each resource id to the nodes cibcheck --placement puts it on.
func placement(t *testing.T, script, file string, nodes []string, down string) map[string][]string {
	t.Helper()
	args := []string{"--placement", "--nodes", strings.Join(nodes, ",")}
	if down != "" {
		args = append(args, "--down", down)
	}
	out, err := exec.Command(script, append(args, file)...).CombinedOutput()
	if err != nil {
		t.Fatalf("cibcheck %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	got := map[string][]string{}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 {
			got[f[0]] = append(got[f[0]], f[1])
		}
	}
	return got
}

// legacyPlacement names the legacy conversions whose placement is checked
// too: one of each construct (groups, lone primitives, user ids, clones,
// order and colocation, stonith).
var legacyPlacement = map[string]bool{"seed.legacy": true, "ids.legacy": true, "clone-order.legacy": true, "stonith.legacy": true}

// TestCibcheck validates every golden conversion the tool does not refuse
// with Pacemaker, and checks where Pacemaker places each group: on its
// preferred node when every node is up, elsewhere when that node is down.
// Checking a legacy file costs about a second (cibcheck translates it with
// xsltproc first), so most get the placement check in the pacemaker form
// only (legacyPlacement); -short skips the corpus.
func TestCibcheck(t *testing.T) {
	script := cibcheck(t)
	all := cases(t)
	if !testing.Short() {
		all = append(all, corpus(t)...)
	}
	tmp := t.TempDir()
	for _, cv := range all {
		if cv.cib == nil {
			continue
		}
		t.Run(cv.name, func(t *testing.T) {
			t.Parallel()
			_, xml, _ := strings.Cut(cv.text, "---\n")
			file := filepath.Join(tmp, cv.name+".xml")
			if err := os.WriteFile(file, []byte(xml), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(script, file).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte(": valid")) {
				t.Fatalf("cibcheck: %v\n%s", err, out)
			}
			if cv.cib.Schema == Pacemaker || legacyPlacement[cv.name] {
				checkPlacement(t, script, file, cv)
			}
		})
	}
}

func checkPlacement(t *testing.T, script, file string, cv conversion) {
	var nodes []string
	addNode := func(n string) {
		if !slices.ContainsFunc(nodes, func(m string) bool { return strings.EqualFold(m, n) }) {
			nodes = append(nodes, n)
		}
	}
	if cv.cf != nil {
		for _, n := range cv.cf.Nodes {
			addNode(n)
		}
	}
	preferred := map[string]string{} // item id -> node
	for _, k := range cv.cib.m.constraints {
		if k.kind == "location" {
			preferred[k.rsc] = k.node
			addNode(k.node)
		}
	}
	for _, k := range cv.cib.m.constraints {
		if k.kind == "colocation" {
			delete(preferred, k.from) // placed with k.to instead
		}
	}
	if len(nodes) < 2 {
		addNode("hbx-spare")
	}
	up := placement(t, script, file, nodes, "")
	for _, it := range cv.cib.m.items {
		home, ok := preferred[it.id]
		if !ok {
			continue // clones run everywhere
		}
		for _, p := range it.members {
			if got := up[p.id]; len(got) != 1 || !strings.EqualFold(got[0], home) {
				t.Errorf("all nodes up: %s of %s runs on %q, want its preferred node %s", p.id, it.id, got, home)
			}
		}
	}
	downs := map[string]bool{}
	for _, home := range preferred {
		if downs[strings.ToLower(home)] {
			continue
		}
		downs[strings.ToLower(home)] = true
		down := placement(t, script, file, nodes, home)
		for _, it := range cv.cib.m.items {
			if h, ok := preferred[it.id]; !ok || !strings.EqualFold(h, home) {
				continue
			}
			for _, p := range it.members {
				if got := down[p.id]; len(got) != 1 || got[0] == "-" || strings.EqualFold(got[0], home) {
					t.Errorf("%s down: %s of %s runs on %q, want another node", home, p.id, it.id, got)
				}
			}
		}
	}
}

func TestReadHaCf(t *testing.T) {
	cf, probs := ReadHaCf([]byte("node a b # two boxes\nnode c,A\nping 10.0.0.1 10.0.0.2\nping_group g 10.0.0.3 10.0.0.4\n"+
		"respawn hacluster /usr/lib/heartbeat/ipfail\nauto_failback on\nauto_failback off\nstonith_host * null a\nstonith ipmi /etc/x\nNode d\n"), "ha.cf")
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	if !slices.Equal(cf.Nodes, []string{"a", "b", "c"}) {
		t.Errorf("nodes = %q (the comment's words must not count, duplicates dropped, directive names are case-sensitive)", cf.Nodes)
	}
	if len(cf.Ping) != 3 || cf.Ping[2].Name != "g" || len(cf.Ping[2].Hosts) != 2 || cf.PingLine != 3 {
		t.Errorf("ping = %+v", cf.Ping)
	}
	if cf.AutoFailback != "off" || cf.FailbackLine != 7 {
		t.Errorf("auto_failback = %s (line %d)", cf.AutoFailback, cf.FailbackLine)
	}
	if r, ok := cf.pingd(); !ok || r.Line != 5 {
		t.Errorf("pingd() = %v %v", r, ok)
	}
	if len(cf.StonithHosts) != 1 || cf.StonithHosts[0].Type != "null" || len(cf.Stonith) != 1 {
		t.Errorf("stonith = %+v %+v", cf.StonithHosts, cf.Stonith)
	}
	if _, probs := ReadHaCf([]byte("auto_failback maybe\nping_group g\n"), "ha.cf"); len(probs.Errors()) != 2 {
		t.Errorf("want 2 errors, got %v", probs)
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{"group_1": true, "_x": true, "a.b-c_d9": true, "": false, "1a": false, "#_13": false, "a:b": false, "a/b": false} {
		if validID(id) != want {
			t.Errorf("validID(%q) = %v", id, !want)
		}
	}
}

func FuzzConvert(f *testing.F) {
	if dir := filepath.Join("..", "..", "shared", "corpus", "haresources"); true {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, p := range files {
			if data, err := os.ReadFile(p); err == nil {
				f.Add(data, []byte("node a b\n"), false)
			}
		}
	}
	dirs, _ := filepath.Glob("testdata/cases/*")
	for _, d := range dirs {
		hr, _ := os.ReadFile(filepath.Join(d, "haresources"))
		cf, _ := os.ReadFile(filepath.Join(d, "ha.cf"))
		f.Add(hr, cf, true)
	}
	f.Fuzz(func(t *testing.T, hr, cf []byte, legacy bool) {
		schema := Pacemaker
		if legacy {
			schema = Legacy
		}
		hacf, _ := ReadHaCf(cf, "ha.cf")
		c, probs := Convert(hr, "haresources", hacf, testOptions(schema, nil))
		if (c == nil) != probs.HasErrors() {
			t.Fatalf("result %v does not match errors %v", c != nil, probs)
		}
		if c == nil {
			return
		}
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		// Every id is a valid XML ID and unique.
		seen := map[string]bool{}
		for _, m := range idAttr.FindAllSubmatch(buf.Bytes(), -1) {
			id := string(m[1])
			if !validID(id) || seen[id] {
				t.Fatalf("bad or duplicate id %q in\n%s", id, buf.String())
			}
			seen[id] = true
		}
	})
}

func BenchmarkConvert500(b *testing.B) {
	var buf bytes.Buffer
	for i := range 500 {
		fmt.Fprintf(&buf, "node%d 10.0.%d.%d/24/eth0 Filesystem::/dev/drbd%d::/data%d::ext4 httpd\n", i%4, i/256, i%256, i, i)
	}
	cf := []byte("node node0 node1 node2 node3\n")
	hacf, _ := ReadHaCf(cf, "ha.cf")
	b.ReportAllocs()
	for b.Loop() {
		c, _ := Convert(buf.Bytes(), "haresources", hacf, testOptions(Pacemaker, nil))
		c.WriteTo(&bytes.Buffer{})
	}
}
