package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/diag"
)

// fakeEnv is a machine with interfaces eth0..eth3 and lo (all IPv4 with
// broadcast), users root and hacluster, groups root and haclient, the
// programs in progs, no serial ports, and a resolver that knows only
// address literals.
func fakeEnv(progs ...string) Env {
	return Env{
		Hostname: func() (string, error) { return "hb1", nil },
		LookupHost: func(h string) error {
			if _, ok := parseInetAton(h); ok || strings.Contains(h, ":") {
				return nil
			}
			return errors.New("Resource temporarily unavailable")
		},
		LookupUser: func(n string) error {
			if n == "root" || n == "hacluster" {
				return nil
			}
			return errors.New("unknown user")
		},
		LookupGroup: func(n string) error {
			if n == "root" || n == "haclient" {
				return nil
			}
			return errors.New("unknown group")
		},
		Interface: func(n string) (Iface, error) {
			switch n {
			case "eth0", "eth1", "eth2", "eth3", "lo":
				return Iface{IPv4: true, Broadcast: n != "lo"}, nil
			}
			return Iface{}, errors.New("No such device")
		},
		Executable: func(p string) error {
			for _, q := range progs {
				if p == q {
					return nil
				}
			}
			return errors.New("no such file")
		},
		Device:      func(p string) error { return errors.New("no such file") },
		StonithType: func(n string) error { return errors.New("no such plugin") },
	}
}

const (
	baseHaCf = "logfile /var/log/ha-log\nkeepalive 1\ndeadtime 10\nucast eth0 198.18.0.2\nbcast eth1\nauto_failback on\nnode hb1\nnode hb2\n"
	baseKeys = "auth 1\n1 sha1 secret\n"
	baseRes  = "hb1 IPaddr2::198.18.0.100/24/eth0 marker::grp1\n"
)

func loadMem(hacfText, keys string, res *string, node string, env Env) (*Config, diag.List) {
	o := Options{Node: node, Env: env,
		loadKeys: func(p string) (*authkeys.Keys, diag.List) { return authkeys.Parse([]byte(keys), p) },
		loadResources: func(p string) (*haresources.File, diag.List) {
			if res == nil {
				var l diag.List
				l.Errorf(p, 0, "", "cannot open resources file")
				return nil, l
			}
			return haresources.Parse([]byte(*res), p)
		},
		resourcesExist: func(string) bool { return res != nil },
	}
	return build("/etc/ha.d", "/etc/ha.d/ha.cf", []byte(hacfText), o)
}

func ptr(s string) *string { return &s }

func TestParseTime(t *testing.T) {
	cases := []struct {
		in   string
		ms   int64
		okay bool
	}{
		{"2", 2000, true}, {"1.5", 1500, true}, {".5", 500, true}, {"500ms", 500, true}, {"500MS", 500, true},
		{"500msec", 500, true}, {"500us", 1, true}, {"499us", 0, true}, {"501us", 1, true}, {"1000000us", 1000, true},
		{"0", 0, true}, {"1.2.3", 1200, true}, {"", 0, true}, {"30000ms", 30000, true},
		{"2s", 0, false}, {"1.5s", 0, false}, {"10m", 0, false}, {"1e3", 0, false}, {"-1", 0, false}, {"abc", 0, false},
		{"99999999999999999999999", 0, false},
	}
	for _, c := range cases {
		d, ok := ParseTime(c.in)
		if ok != c.okay || (ok && d != time.Duration(c.ms)*time.Millisecond) {
			t.Errorf("ParseTime(%q) = %v, %v; want %dms, %v", c.in, d, ok, c.ms, c.okay)
		}
	}
}

func TestParseBool(t *testing.T) {
	for _, s := range []string{"true", "ON", "Yes", "y", "1"} {
		if v, ok := ParseBool(s); !v || !ok {
			t.Errorf("%q should be true", s)
		}
	}
	for _, s := range []string{"false", "Off", "NO", "n", "0"} {
		if v, ok := ParseBool(s); v || !ok {
			t.Errorf("%q should be false", s)
		}
	}
	for _, s := range []string{"2", "enable", "maybe", ""} {
		if _, ok := ParseBool(s); ok {
			t.Errorf("%q should be refused", s)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := Default()
	if c.Keepalive != time.Second || c.DeadTime != 30*time.Second || c.WarnTime != 15*time.Second ||
		c.InitDead != 30*time.Second || c.DeadPing != 30*time.Second || c.UDPPort != 694 || c.Baud != 19200 ||
		c.AutoFailback != FailbackLegacy || c.Compression != "zlib" || c.CompressionThreshold != 2 ||
		c.MaxRexmitDelay != 250*time.Millisecond || c.MemReserve != 6500 || c.ConnLogdTime != time.Minute ||
		c.Cluster != "linux-ha" || c.HopFudge != 1 || c.MsgFmt != "classic" || !c.RealTime || !c.Coredumps {
		t.Fatalf("defaults differ from heartbeat -D: %+v", c)
	}
	for _, c := range []struct{ dead, init time.Duration }{
		{30 * time.Second, 30 * time.Second}, {10 * time.Second, 20 * time.Second},
		{6 * time.Second, 12 * time.Second}, {5 * time.Second, 12 * time.Second}, {11 * time.Second, 11 * time.Second},
	} {
		if got := DefaultInitDead(c.dead); got != c.init {
			t.Errorf("initdead for deadtime %v = %v, want %v", c.dead, got, c.init)
		}
	}
}

func TestBaselineAccepted(t *testing.T) {
	c, probs := loadMem(baseHaCf, baseKeys, ptr(baseRes), "hb1", fakeEnv())
	if probs.HasErrors() {
		t.Fatalf("baseline rejected: %v", probs)
	}
	if c.WarnTime != 5*time.Second || c.InitDead != 20*time.Second || c.DeadPing != 10*time.Second {
		t.Errorf("derived times: warn %v init %v deadping %v", c.WarnTime, c.InitDead, c.DeadPing)
	}
	if len(c.Media) != 2 || c.Media[0].Type != Ucast || c.Media[0].Peer != "198.18.0.2" || c.Media[0].Port != 694 || c.Media[1].Iface != "eth1" {
		t.Errorf("media: %+v", c.Media)
	}
	if len(c.Resources.Groups) != 1 || c.Resources.Groups[0].Key() != "IPaddr2::198.18.0.100/24/eth0" {
		t.Errorf("resources: %+v", c.Resources)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"keepalive_ms": 1000.0, "deadtime_ms": 10000.0, "warntime_ms": 5000.0, "initdead_ms": 20000.0, "udpport": 694.0, "auto_failback": "on", "local_node": "hb1"} {
		if m[k] != want {
			t.Errorf("json %s = %v, want %v", k, m[k], want)
		}
	}
	if strings.Contains(string(b), "secret") {
		t.Error("json leaks the auth key")
	}
	if g := m["resource_groups"].([]any); len(g) != 1 {
		t.Errorf("json resource groups: %v", g)
	}
}

// Each case changes the baseline ha.cf and says whether heartbeat 3.0.6
// starts, and for a refusal the ha.cf line of the cause (0: whole file).
func TestDirectives(t *testing.T) {
	cases := []struct {
		name   string
		add    string // appended to the baseline
		drop   string // baseline lines removed (substring match)
		reject bool
		line   int    // line of the error, counted in the changed file
		warn   string // substring of a warning that must appear
	}{
		{name: "time in ms", add: "keepalive 500ms\n"},
		{name: "time with s suffix is refused", add: "keepalive 2s\n", reject: true, line: 9},
		{name: "fractional seconds", add: "warntime 2.5\n"},
		{name: "two tokens 500 ms", add: "keepalive 500 ms\n", reject: true, line: 9},
		{name: "keepalive zero", add: "keepalive 0\n", reject: true, line: 9},
		{name: "warntime zero", add: "warntime 0\n", reject: true, line: 9},
		{name: "keepalive alone is ignored", add: "keepalive\n"},
		{name: "last value wins", add: "deadtime 1 20\n"},
		{name: "deadtime equal to twice keepalive", add: "deadtime 2\n", reject: true, line: 9},
		{name: "deadtime under three keepalives warns", add: "keepalive 2\ndeadtime 5\n", warn: "two lost heartbeats"},
		{name: "deadtime below keepalive", add: "keepalive 2\ndeadtime 1\n", reject: true, line: 10},
		{name: "initdead below deadtime", add: "initdead 5\n", reject: true, line: 9},
		{name: "initdead below 10s warns", add: "deadtime 5\ninitdead 8\n", warn: "may be too small"},
		{name: "fast timing accepted", add: "keepalive 100ms\ndeadtime 500ms\n"},
		{name: "initdead under twice deadtime warns", add: "initdead 15\n", warn: "under twice deadtime"},
		{name: "deadping too small", add: "deadping 2\n", reject: true, line: 9},
		{name: "deadping fine", add: "deadping 3\n"},
		{name: "warntime above deadtime warns", add: "warntime 20\n", warn: "never be logged"},
		{name: "unknown directive", add: "foobar 1\n", reject: true, line: 9},
		{name: "case matters", add: "Keepalive 2\n", reject: true, line: 9},
		{name: "udp alias", add: "udp eth2\n", warn: "replaced by 'bcast'"},
		{name: "bcast on missing interface", add: "bcast eth9\n", reject: true, line: 9},
		{name: "ucast on missing interface", add: "ucast eth9 198.18.0.2\n", reject: true, line: 9},
		{name: "ucast unresolvable", add: "ucast eth0 not-an-ip\n", reject: true, line: 9},
		{name: "ucast without peer", add: "ucast eth0\n", reject: true, line: 9},
		{name: "mcast good", add: "mcast eth0 239.0.0.1 694 1 0\n"},
		{name: "mcast empty is accepted", add: "mcast\n"},
		{name: "mcast6 empty is refused", add: "mcast6\n", reject: true, line: 9},
		{name: "mcast bad group", add: "mcast eth0 10.0.0.1 694 1 0\n", reject: true, line: 9},
		{name: "mcast ttl 5", add: "mcast eth0 239.0.0.1 694 5 0\n", reject: true, line: 9},
		{name: "mcast loop 2", add: "mcast eth0 239.0.0.1 694 1 2\n", reject: true, line: 9},
		{name: "mcast missing loop", add: "mcast eth0 239.0.0.1 694 1\n", reject: true, line: 9},
		{name: "serial missing", add: "serial /tmp/no-such-tty\n", reject: true, line: 9},
		{name: "ping unresolvable", add: "ping gateway\n", reject: true, line: 9},
		{name: "ping ok", add: "ping 198.18.0.254\n"},
		{name: "ping_group skips bad hosts", add: "ping_group g 198.18.0.254 nohost\n", warn: "skipped"},
		{name: "ping_group without hosts", add: "ping_group g\n", reject: true, line: 9},
		{name: "auto_failback maybe", add: "auto_failback maybe\n", reject: true, line: 9},
		{name: "auto_failback legacy warns", add: "auto_failback legacy\n", warn: "legacy"},
		{name: "nice_failback is obsolete but accepted", add: "nice_failback off\n", warn: "obsolete"},
		{name: "logfacility local10", add: "logfacility local10\n", reject: true, line: 9},
		{name: "logfacility is case-sensitive", add: "logfacility Daemon\n", reject: true, line: 9},
		{name: "use_logd off without local logging", drop: "logfile", add: "use_logd off\n", reject: true, line: 8},
		{name: "no logging at all uses logd", drop: "logfile"},
		{name: "autojoin any in v1", add: "autojoin any\n", reject: true, line: 9},
		{name: "autojoin bad", add: "autojoin some\n", reject: true, line: 9},
		{name: "baud twice", add: "baud 9600\nbaud 19200\n", reject: true, line: 10},
		{name: "baud invalid", add: "baud 1200\n", reject: true, line: 9},
		{name: "watchdog twice", add: "watchdog /dev/watchdog\nwatchdog /dev/watchdog\n", reject: true, line: 10},
		{name: "udpport zero", add: "udpport 0\n", reject: true, line: 9},
		{name: "udpport after media warns", add: "udpport 695\n", warn: "udpport"},
		{name: "hopfudge 256", add: "hopfudge 256\n", reject: true, line: 9},
		{name: "hopfudge garbage is 0", add: "hopfudge abc\n"},
		{name: "debug 300", add: "debug 300\n", reject: true, line: 9},
		{name: "rtprio 0", add: "rtprio 0\n", reject: true, line: 9},
		{name: "hbgenmethod Time", add: "hbgenmethod Time\n", reject: true, line: 9},
		{name: "msgfmt netstring", add: "msgfmt netstring\n"},
		{name: "compression lzo", add: "compression lzo\n", reject: true, line: 9},
		{name: "compression_threshold 0", add: "compression_threshold 0\n", reject: true, line: 9},
		{name: "max_rexmit_delay 0", add: "max_rexmit_delay 0\n", reject: true, line: 9},
		{name: "memreserve 0", add: "memreserve 0\n", reject: true, line: 9},
		{name: "env empty name", add: "env =x\n", reject: true, line: 9},
		{name: "env ok", add: "env FOO=bar\n"},
		{name: "crm_daemon_dir always refused", add: "crm_daemon_dir /usr/lib/pacemaker\n", reject: true, line: 9},
		{name: "crm twice", add: "crm off\ncrm off\n", reject: true, line: 10},
		{name: "crm bad value", add: "crm sometimes\n", reject: true, line: 9},
		{name: "crm yes without daemons", add: "crm yes\n", reject: true, line: 9},
		{name: "apiauth user missing", add: "apiauth foo uid=nobody2\n", reject: true, line: 9},
		{name: "apiauth no lists", add: "apiauth foo\n", reject: true, line: 9},
		{name: "apiauth duplicate", add: "apiauth foo uid=root\napiauth foo gid=haclient\n", reject: true, line: 10},
		{name: "apiauth good", add: "apiauth ipfail gid=haclient uid=hacluster\n"},
		{name: "respawn not full path", add: "respawn hacluster ipfail\n", reject: true, line: 9},
		{name: "respawn not executable", add: "respawn hacluster /usr/lib64/heartbeat/ipfail\n", reject: true, line: 9},
		{name: "respawn unknown user", add: "respawn cluster /usr/lib/heartbeat/ipfail\n", reject: true, line: 9},
		{name: "stonith bad type", add: "stonith nosuch /etc/ha.d/st.cf\n", reject: true, line: 9},
		{name: "stonith_host for another node is ignored", add: "stonith_host hb2 nosuch a b\n"},
		{name: "no media", drop: "cast", reject: true, line: 0},
		{name: "no nodes", drop: "node", reject: true, line: 0},
		{name: "local node missing", drop: "node hb1", reject: true, line: 0},
		{name: "node names are case-insensitive", drop: "node hb1", add: "node HB1\n"},
		{name: "several nodes on one line with commas", drop: "node", add: "node hb1,hb2 hb3\n"},
		{name: "one medium warns", drop: "bcast", warn: "only one heartbeat medium"},
		{name: "indented, tabs, CRLF, trailing comment", add: "\t  warntime\t5 # five\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var lines []string
			for _, l := range strings.SplitAfter(baseHaCf, "\n") {
				if l != "" && (c.drop == "" || !strings.Contains(l, c.drop)) {
					lines = append(lines, l)
				}
			}
			text := strings.Join(lines, "") + c.add
			_, probs := loadMem(text, baseKeys, ptr(baseRes), "hb1", fakeEnv("/usr/lib/heartbeat/ipfail"))
			if probs.HasErrors() != c.reject {
				t.Fatalf("reject=%v want %v\n%s---\n%v", probs.HasErrors(), c.reject, text, probs)
			}
			if c.reject {
				found := false
				for _, p := range probs.Errors() {
					if p.File == "/etc/ha.d/ha.cf" && p.Line == c.line {
						found = true
					}
				}
				if !found {
					t.Errorf("no error at ha.cf:%d: %v", c.line, probs)
				}
			}
			if c.warn != "" {
				found := false
				for _, p := range probs.Warnings() {
					found = found || strings.Contains(p.Msg, c.warn)
				}
				if !found {
					t.Errorf("no warning containing %q: %v", c.warn, probs)
				}
			}
		})
	}
}

func TestCrossFile(t *testing.T) {
	t.Run("haresources names an unknown node", func(t *testing.T) {
		_, probs := loadMem(baseHaCf, baseKeys, ptr(baseRes+"hb9 marker::grp9\n"), "hb1", fakeEnv())
		if !hasErrorAt(probs, "/etc/ha.d/haresources", 2) {
			t.Fatalf("want haresources:2 error: %v", probs)
		}
	})
	t.Run("haresources may name a ping node", func(t *testing.T) {
		_, probs := loadMem(baseHaCf+"ping 198.18.0.254\n", baseKeys, ptr("198.18.0.254 marker::x\n"), "hb1", fakeEnv())
		if probs.HasErrors() {
			t.Fatal(probs)
		}
	})
	t.Run("haresources missing", func(t *testing.T) {
		_, probs := loadMem(baseHaCf, baseKeys, nil, "hb1", fakeEnv())
		if !probs.HasErrors() {
			t.Fatal("accepted without haresources")
		}
	})
	t.Run("haresources not read in crm mode", func(t *testing.T) {
		env := fakeEnv("/usr/libexec/heartbeat/ccm", "/usr/libexec/pacemaker/cib", "/usr/libexec/pacemaker/stonithd",
			"/usr/libexec/pacemaker/lrmd", "/usr/libexec/pacemaker/attrd", "/usr/libexec/pacemaker/crmd")
		c, probs := loadMem(baseHaCf+"crm respawn\n", baseKeys, nil, "hb1", env)
		if probs.HasErrors() || !c.CRM || c.Resources != nil || len(c.Children) != 6 {
			t.Fatalf("crm: %v %+v", probs, c.Children)
		}
	})
	t.Run("crm apiauth collides with a user line", func(t *testing.T) {
		env := fakeEnv("/usr/libexec/heartbeat/ccm", "/usr/libexec/pacemaker/cib", "/usr/libexec/pacemaker/stonithd",
			"/usr/libexec/pacemaker/lrmd", "/usr/libexec/pacemaker/attrd", "/usr/libexec/pacemaker/crmd")
		_, probs := loadMem(baseHaCf+"apiauth cib uid=root\ncrm on\n", baseKeys, nil, "hb1", env)
		if !hasErrorAt(probs, "/etc/ha.d/ha.cf", 10) {
			t.Fatalf("want duplicate at line 10: %v", probs)
		}
	})
	t.Run("active key missing", func(t *testing.T) {
		_, probs := loadMem(baseHaCf, "auth 2\n1 sha1 x\n", ptr(baseRes), "hb1", fakeEnv())
		if !probs.HasErrors() {
			t.Fatal("accepted")
		}
	})
	t.Run("crc on a network medium warns", func(t *testing.T) {
		_, probs := loadMem(baseHaCf, "auth 1\n1 crc\n", ptr(baseRes), "hb1", fakeEnv())
		if probs.HasErrors() || !strings.Contains(warnText(probs), "crc") {
			t.Fatalf("%v", probs)
		}
	})
	t.Run("autojoin any adds the local node", func(t *testing.T) {
		env := fakeEnv("/usr/libexec/heartbeat/ccm", "/usr/libexec/pacemaker/cib", "/usr/libexec/pacemaker/stonithd",
			"/usr/libexec/pacemaker/lrmd", "/usr/libexec/pacemaker/attrd", "/usr/libexec/pacemaker/crmd")
		c, probs := loadMem("keepalive 1\ndeadtime 10\nbcast eth0\nbcast eth1\nautojoin any\ncrm on\n", baseKeys, nil, "hb7", env)
		if probs.HasErrors() || !c.HasNode("hb7") {
			t.Fatalf("%v", probs)
		}
	})
}

func warnText(l diag.List) string {
	var b strings.Builder
	for _, p := range l.Warnings() {
		b.WriteString(p.Msg)
	}
	return b.String()
}

func hasErrorAt(l diag.List, file string, line int) bool {
	for _, p := range l.Errors() {
		if p.File == file && p.Line == line {
			return true
		}
	}
	return false
}

func TestUDPPortIsReadAtTheFirstUDPMedium(t *testing.T) {
	text := "logfile /x\nkeepalive 1\ndeadtime 10\nudpport 700\nucast eth0 198.18.0.2\nudpport 701\nbcast eth1\nmcast eth0 239.0.0.1 702 1 0\nnode hb1\n"
	c, probs := loadMem(text, baseKeys, ptr(""), "hb1", fakeEnv())
	if probs.HasErrors() {
		t.Fatal(probs)
	}
	if c.UDPPort != 701 || c.Media[0].Port != 700 || c.Media[1].Port != 700 || c.Media[2].Port != 702 {
		t.Fatalf("udpport %d, media %+v", c.UDPPort, c.Media)
	}
}

func TestNodeNamesAndNodeinfo(t *testing.T) {
	env := fakeEnv()
	env.ReadFile = func(p string) ([]byte, error) {
		if p == "/etc/ha.d/nodeinfo" {
			return []byte("HB2\n"), nil
		}
		return nil, errors.New("no file")
	}
	c, probs := loadMem(baseHaCf, baseKeys, ptr(baseRes), "", env)
	if probs.HasErrors() || c.LocalNode != "hb2" {
		t.Fatalf("nodeinfo: local %q %v", c.LocalNode, probs)
	}
	// Without a final newline nodeinfo is ignored and uname -n is used.
	env.ReadFile = func(string) ([]byte, error) { return []byte("hb2"), nil }
	c, _ = loadMem(baseHaCf, baseKeys, ptr(baseRes), "", env)
	if c.LocalNode != "hb1" {
		t.Fatalf("nodeinfo without newline: local %q", c.LocalNode)
	}
	long := strings.Repeat("n", 120)
	c, _ = loadMem(baseHaCf+"node "+long+"\n", baseKeys, ptr(baseRes), "hb1", fakeEnv())
	if got := c.Nodes[len(c.Nodes)-1].Name; len(got) != MaxNodeName {
		t.Fatalf("long node name kept as %d chars", len(got))
	}
}

func TestParseFromText(t *testing.T) {
	c, probs := Parse("/etc/ha.d", []byte(baseHaCf), []byte(baseKeys), []byte(baseRes), Options{Node: "hb1", Env: fakeEnv()})
	if probs.HasErrors() || len(c.Resources.Groups) != 1 || c.Keys.Active != 1 {
		t.Fatalf("%v", probs)
	}
	_, probs = Parse("/etc/ha.d", []byte(baseHaCf), []byte(baseKeys), nil, Options{Node: "hb1", Env: fakeEnv()})
	if !hasErrorAt(probs, "/etc/ha.d/haresources", 0) {
		t.Fatalf("missing haresources not reported: %v", probs)
	}
}

func TestMoreWarnings(t *testing.T) {
	for _, c := range []struct{ add, warn string }{
		{"node HB2\n", "listed twice"},
		{"use_logd on\n", "use_logd is on"},
	} {
		_, probs := loadMem(baseHaCf+c.add, baseKeys, ptr(baseRes), "hb1", fakeEnv())
		if probs.HasErrors() || !strings.Contains(warnText(probs), c.warn) {
			t.Errorf("%q: %v", c.add, probs)
		}
	}
}
