package ipfail

import (
	"strings"
	"testing"
	"time"
)

func FuzzParsePingd(f *testing.F) {
	for _, s := range []string{"-m 100 -d 5s", "--multiplier=2 -h gw", "-a", "-d5 -m-1", "-D -V"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePingd(strings.Fields(s))
		if err == nil && (p.Multiplier < 0 || p.Dampen < 0 || p.Attr == "") {
			t.Fatalf("accepted %+v", p)
		}
	})
}

// FuzzReceive feeds arbitrary messages (cap3's lines as seeds) to a
// machine: it must never panic, and only ever answer its peer.
func FuzzReceive(f *testing.F) {
	for _, s := range []string{
		"t=num_ping_nodes src=nodeb num_ping=0 dest=nodea from_id=ipfail to_id=ipfail client_gen=0",
		"t=num_ping_nodes src=nodeb num_ping=1 dest=nodea",
		"t=you_are_dead dest=nodea src=nodeb",
		"t=abort_giveup src=nodeb dest=nodea",
		"t=hbapi-clstat st=join from_id=ipfail to_id=ipfail src=nodeb info=signon client_gen=0",
		"t=resource rsc_hold=local isstable=1 src=nodeb",
		"t=resource isstable=0 src=nodeb",
	} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, s string, off int64) {
		m := New(Config{Local: "nodea", Peer: "nodeb", PingNodes: []string{"p"}, Keepalive: time.Second, AutoFailback: true})
		now := time.Unix(1e6, 0)
		m.NodeStatus(now, "p", StatusPing)
		for _, line := range strings.Split(s, "\n") {
			o := m.Receive(now, msg(line))
			for _, x := range o.Send {
				if x.Value("dest") != "nodeb" {
					t.Fatalf("sent to %q", x.Value("dest"))
				}
			}
			now = now.Add(time.Duration(off%int64(time.Minute)) + time.Second)
			m.Tick(now)
		}
	})
}
