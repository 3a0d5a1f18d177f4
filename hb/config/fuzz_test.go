package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
)

// FuzzLoad feeds arbitrary ha.cf and haresources text through the whole
// configuration build: it must never panic or hang, and a configuration
// without errors must be complete (media, nodes including this one, sane
// times, an active key, haresources in v1 mode).
func FuzzLoad(f *testing.F) {
	f.Add([]byte(baseHaCf), []byte(baseRes))
	f.Add([]byte("keepalive 100ms\ndeadtime 500ms\nbcast eth0\nnode hb1\ncrm respawn\n"), []byte(""))
	f.Add([]byte("mcast eth0 239.0.0.1 694 1 0\nnode hb1 hb2\nautojoin any\n"), []byte("hb1 10.0.0.1\n"))
	for _, sub := range []string{"ha.cf", "haresources"} {
		dir := filepath.Join("..", "..", "..", "shared", "corpus", sub)
		ents, _ := os.ReadDir(dir)
		if sub == "haresources" && len(ents) > 10 {
			ents = ents[:10] // keep the seed corpus small: fuzzing starts by running every seed
		}
		for _, e := range ents {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				if sub == "ha.cf" {
					f.Add(b, []byte(baseRes))
				} else {
					f.Add([]byte(baseHaCf), b)
				}
			}
		}
	}
	env := fakeEnv(debianPrograms...)
	f.Fuzz(func(t *testing.T, hacfText, res []byte) {
		r := string(res)
		c, probs := loadMem(string(hacfText), baseKeys, &r, "hb1", env)
		if c == nil {
			t.Fatal("nil config")
		}
		if probs.HasErrors() {
			return
		}
		switch {
		case len(c.Media) == 0:
			t.Fatal("accepted without media")
		case !c.HasNode(c.LocalNode):
			t.Fatal("accepted without the local node")
		case c.Keepalive <= 0 || c.DeadTime <= 2*c.Keepalive || c.InitDead < c.DeadTime || c.WarnTime <= 0 || c.DeadPing <= 0:
			t.Fatalf("accepted bad times: ka %v dead %v init %v warn %v ping %v", c.Keepalive, c.DeadTime, c.InitDead, c.WarnTime, c.DeadPing)
		case c.Keys == nil:
			t.Fatal("accepted without keys")
		case c.V1() && c.Resources == nil:
			t.Fatal("v1 mode without haresources")
		case c.V1() && c.AutoJoin != "none":
			t.Fatal("autojoin in v1 mode")
		}
		for _, m := range c.Media {
			if m.Type == "" || m.Line < 1 || (m.Type == Ucast && m.Peer == "") || (m.Type == Mcast && m.Group == "") {
				t.Fatalf("half-filled medium %+v", m)
			}
		}
		for _, n := range c.Nodes {
			if n.Name == "" || n.Name != strings.ToLower(n.Name) && n.Name != lower(n.Name) {
				t.Fatalf("bad node %+v", n)
			}
		}
		if _, err := c.MarshalJSON(); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkLoadConfig100Nodes(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(baseHaCf)
	for i := range 98 {
		sb.WriteString("node n")
		sb.WriteString(strings.Repeat("x", i%5))
		sb.WriteString(time.Duration(i).String())
		sb.WriteString("\n")
	}
	text := sb.String()
	env := Offline()
	res := baseRes
	b.ReportAllocs()
	for b.Loop() {
		if _, probs := loadMem(text, baseKeys, &res, "hb1", env); probs.HasErrors() {
			b.Fatal(probs)
		}
	}
}

// BenchmarkParseHaresources500 parses a 500-line haresources (the parser
// belongs to package haresources; the benchmark sits here with the other
// configuration-loading numbers).
func BenchmarkParseHaresources500(b *testing.B) {
	var sb strings.Builder
	for i := range 500 {
		switch i % 4 {
		case 0:
			sb.WriteString("# group comment\n")
		case 1:
			sb.WriteString("hb1 IPaddr::198.18.0.10/24/eth0 Filesystem::/dev/drbd0::/data::ext3 \\\n")
		case 2:
			sb.WriteString("\thttpd mysql # trailing\n")
		default:
			sb.WriteString("hb2 198.18.0.11 drbddisk::r0 MailTo::root@example.com::failover\n")
		}
	}
	data := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		haresources.Parse(data, "haresources")
	}
}
