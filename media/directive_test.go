package media

import (
	"strings"
	"testing"
)

func TestParseDirectives(t *testing.T) {
	cases := []struct {
		name      string
		kind      string
		args      []string
		wantNames []string
		wantLinks []string
		wantErr   string
	}{
		{"bcast makes one medium per interface", "bcast", []string{"eth0", "eth1"}, []string{"bcast eth0", "bcast eth1"}, []string{"eth0", "eth1"}, ""},
		{"serial makes one medium per device", "serial", []string{"/dev/ttyS0", "/dev/ttyS1"}, []string{"serial /dev/ttyS0", "serial /dev/ttyS1"}, []string{"/dev/ttyS0", "/dev/ttyS1"}, ""},
		{"serial needs a full path", "serial", []string{"ttyS0"}, nil, nil, "Serial port not full pathname [ttyS0] in config file"},
		{"ping makes one ping node per host, lowercased link", "ping", []string{"GW1", "10.0.0.254"}, []string{"ping GW1", "ping 10.0.0.254"}, []string{"gw1", "10.0.0.254"}, ""},
		{"ping without hosts is accepted", "ping", nil, nil, nil, ""},
		{"ping_group is one node named by the group", "ping_group", []string{"Net", "10.0.0.1", "10.0.0.2"}, []string{"ping_group Net 10.0.0.1 10.0.0.2"}, []string{"net"}, ""},
		{"ping_group without hosts is an error", "ping_group", []string{"net"}, nil, nil, "ping_group net: no hosts"},
		{"ucast takes interface and one peer", "ucast", []string{"eth0", "hb2", "ignored"}, []string{"ucast eth0 hb2"}, []string{"eth0"}, ""},
		{"ucast without peer", "ucast", []string{"eth0"}, nil, nil, "ucast: [eth0] missing target IP address/hostname"},
		{"empty ucast line makes nothing", "ucast", nil, nil, nil, ""},
		{"ucast6 without peer", "ucast6", []string{"eth0"}, nil, nil, "ucast6 [eth0] missing ucast6 address"},
		{"ucast6 link-local with scope", "ucast6", []string{"eth0", "fe80::1%eth0"}, []string{"ucast6 eth0 fe80::1%eth0"}, []string{"eth0"}, ""},
		{"ucast6 needs a numeric address", "ucast6", []string{"eth0", "hb2"}, nil, nil, "ucast6 [eth0] bad addr [hb2]"},
		{"ucast6 multicast peer", "ucast6", []string{"eth0", "ff02::1"}, nil, nil, "ucast6 [eth0] bad addr [ff02::1]"},
		{"ucast6 loopback peer", "ucast6", []string{"eth0", "::1"}, nil, nil, "ucast6 [eth0] bad addr [::1]"},
		{"ucast6 without device", "ucast6", nil, nil, nil, "ucast6 statement without device"},
		{"mcast6 interface-local scope", "mcast6", []string{"eth0", "ff11::1", "694", "1", "0"}, nil, nil, " mcast6 [eth0] bad addr [ff11::1]"},
		{"mcast6 global scope", "mcast6", []string{"eth0", "ff0e::1", "694", "1", "0"}, nil, nil, " mcast6 [eth0] bad addr [ff0e::1]"},
		{"mcast6 all-zero group", "mcast6", []string{"eth0", "ff02::", "694", "1", "0"}, nil, nil, " mcast6 [eth0] bad addr [ff02::]"},
		{"mcast6 site-local", "mcast6", []string{"eth0", "ff15::18", "694", "1", "1"}, []string{"mcast6 eth0 ff15::18 694 1 1"}, []string{"eth0"}, ""},
		{"mcast full line", "mcast", []string{"eth0", "239.18.0.1", "694", "1", "0", "extra"}, []string{"mcast eth0 239.18.0.1 694 1 0"}, []string{"eth0"}, ""},
		{"mcast numbers are atoi'd", "mcast", []string{"eth0", "239.18.0.1", "694x", "1abc", "0"}, []string{"mcast eth0 239.18.0.1 694 1 0"}, []string{"eth0"}, ""},
		{"empty mcast line makes nothing", "mcast", nil, nil, nil, ""},
		{"mcast missing address", "mcast", []string{"eth0"}, nil, nil, "mcast [eth0] missing mcast address"},
		{"mcast missing port", "mcast", []string{"eth0", "239.1.1.1"}, nil, nil, "mcast [eth0] missing port"},
		{"mcast missing ttl", "mcast", []string{"eth0", "239.1.1.1", "694"}, nil, nil, "mcast [eth0] missing ttl"},
		{"mcast missing loop", "mcast", []string{"eth0", "239.1.1.1", "694", "1"}, nil, nil, "mcast [eth0] missing loop"},
		{"mcast unicast group", "mcast", []string{"eth0", "10.1.1.1", "694", "1", "0"}, nil, nil, "mcast [eth0] bad addr [10.1.1.1]"},
		{"mcast bad port", "mcast", []string{"eth0", "239.1.1.1", "x", "1", "0"}, nil, nil, "mcast [eth0] bad port [0]"},
		{"mcast ttl above 4", "mcast", []string{"eth0", "239.1.1.1", "694", "5", "0"}, nil, nil, "mcast [eth0] bad ttl [5]"},
		{"mcast loop 2", "mcast", []string{"eth0", "239.1.1.1", "694", "1", "2"}, nil, nil, "mcast [eth0] bad loop [2]"},
		{"mcast6 without device", "mcast6", nil, nil, nil, "mcast6 statement without device"},
		{"mcast6 accepted", "mcast6", []string{"lo", "ff12::1", "694", "1", "0"}, []string{"mcast6 lo ff12::1 694 1 0"}, []string{"lo"}, ""},
		{"mcast6 bad hops", "mcast6", []string{"lo", "ff12::1", "694", "9", "0"}, nil, nil, " mcast6 [lo] bad hops [9]"},
		{"mcast6 IPv4 group", "mcast6", []string{"lo", "239.1.1.1", "694", "1", "0"}, nil, nil, " mcast6 [lo] bad addr [239.1.1.1]"},
		{"unknown medium", "udp6", []string{"eth0"}, nil, nil, `unknown medium "udp6"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			specs, err := Parse(c.kind, c.args, 0, 0)
			if c.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				if specs != nil {
					t.Fatalf("half-applied: %v", specs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(specs) != len(c.wantNames) {
				t.Fatalf("got %d specs, want %v", len(specs), c.wantNames)
			}
			for i, s := range specs {
				if s.Name != c.wantNames[i] || s.Link != c.wantLinks[i] || string(s.Kind) != c.kind {
					t.Errorf("spec %d = %q link %q kind %s", i, s.Name, s.Link, s.Kind)
				}
			}
		})
	}
}

func TestParseSerialBaud(t *testing.T) {
	if _, err := Parse("serial", []string{"/dev/ttyS0"}, 0, 12345); err == nil || !strings.Contains(err.Error(), "invalid baudrate [12345]") {
		t.Errorf("err = %v", err)
	}
	for _, b := range []int{9600, 19200, 38400, 57600, 115200, 230400, 460800} {
		if !ValidBaud(b) {
			t.Errorf("baud %d rejected", b)
		}
	}
}

func TestAtoiIsC(t *testing.T) {
	for in, want := range map[string]int{"694": 694, " 12x": 12, "x": 0, "-3": -3, "+7": 7, "": 0} {
		if got := atoi(in); got != want {
			t.Errorf("atoi(%q) = %d, want %d", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, k := range []string{"bcast", "mcast", "mcast6", "ucast", "ucast6", "serial", "ping", "ping6", "ping_group"} {
		f.Add(k, "eth0 239.18.0.1 694 1 0")
		f.Add(k, "/dev/ttyS0")
		f.Add(k, "")
	}
	f.Fuzz(func(t *testing.T, kind, line string) {
		specs, err := Parse(kind, strings.Fields(line), 694, 19200)
		if err != nil && specs != nil {
			t.Fatalf("error with specs")
		}
		for _, s := range specs {
			if s.Name == "" || s.Link == "" || s.open == nil || string(s.Kind) != kind {
				t.Fatalf("incomplete spec %+v", s)
			}
		}
	})
}
