package resource

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestParseIPSpec(t *testing.T) {
	a := netip.MustParseAddr
	cases := []struct {
		in   string
		want IPSpec
	}{
		{"10.0.0.5", IPSpec{IP: a("10.0.0.5"), Bits: -1}},
		{"10.0.0.5/24", IPSpec{IP: a("10.0.0.5"), Bits: 24}},
		{"10.0.0.5/24/10.0.0.255", IPSpec{IP: a("10.0.0.5"), Bits: 24, Broadcast: a("10.0.0.255")}},
		{"10.0.0.5/24/eth0", IPSpec{IP: a("10.0.0.5"), Bits: 24, NIC: "eth0"}},
		{"10.0.0.5/24/eth0/10.0.0.255", IPSpec{IP: a("10.0.0.5"), Bits: 24, NIC: "eth0", Broadcast: a("10.0.0.255")}},
		{"198.18.0.30/24/veth0:lbl/198.18.0.255", IPSpec{IP: a("198.18.0.30"), Bits: 24, NIC: "veth0", Label: "lbl", Broadcast: a("198.18.0.255")}},
		{"10.0.0.5/255.255.0.0", IPSpec{IP: a("10.0.0.5"), Bits: 16}},
		{"10.0.0.5//eth0", IPSpec{IP: a("10.0.0.5"), Bits: -1, NIC: "eth0"}},
	}
	for _, c := range cases {
		got, err := ParseIPSpec(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseIPSpec(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "eth0", "2001:db8::1/64", "10.0.0.5/33", "10.0.0.5/255.0.255.0", "10.0.0.5/24/10.0.0.255/x",
		"10.0.0.5/24/eth0/bogus", "10.0.0.5/24/averyveryverylongname", "1.2.3.4/24/eth0/1.2.3.255/extra"} {
		if _, err := ParseIPSpec(bad); !errors.Is(err, ErrSpec) {
			t.Errorf("ParseIPSpec(%q) accepted", bad)
		}
	}
}

func TestParseSendArp(t *testing.T) {
	ip, nic, err := ParseSendArp("198.18.0.100/eth0")
	if err != nil || ip != netip.MustParseAddr("198.18.0.100") || nic != "eth0" {
		t.Fatalf("%v %v %v", ip, nic, err)
	}
	for _, bad := range []string{"198.18.0.100", "198.18.0.100/", "x/eth0", "198.18.0.100/eth0/x"} {
		if _, _, err := ParseSendArp(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBroadcastOf(t *testing.T) {
	for in, want := range map[string]string{"198.18.0.100/24": "198.18.0.255", "10.1.2.3/8": "10.255.255.255", "10.1.2.3/32": "10.1.2.3"} {
		p := netip.MustParsePrefix(in)
		if got := broadcastOf(p.Addr(), p.Bits()); got.String() != want {
			t.Errorf("%s: %s", in, got)
		}
	}
}

// The frames heartbeat's send_arp sent for 198.18.5.100 from
// 9e:20:b8:3a:f8:4f (captured with tcpdump in a lab namespace).
func TestGARPFrameMatchesSendArp(t *testing.T) {
	mac, _ := net.ParseMAC("9e:20:b8:3a:f8:4f")
	ip := netip.MustParseAddr("198.18.5.100")
	req, _ := hex.DecodeString("ffffffffffff9e20b83af84f080600010800060400019e20b83af84fc6120564000000000000c6120564")
	rep, _ := hex.DecodeString("ffffffffffff9e20b83af84f080600010800060400029e20b83af84fc61205649e20b83af84fc6120564")
	if got := GARPFrame(mac, ip, false); !bytes.Equal(got, req) {
		t.Errorf("request\n got %x\nwant %x", got, req)
	}
	if got := GARPFrame(mac, ip, true); !bytes.Equal(got, rep) {
		t.Errorf("reply\n got %x\nwant %x", got, rep)
	}
}

func FuzzParseIPSpec(f *testing.F) {
	for _, s := range []string{"198.18.1.100/24/hb0", "10.0.0.5/24/eth0:vip/10.0.0.255", "10.0.0.5/255.255.255.0", "1.2.3.4//x/", "10.0.0.5/24/10.0.0.255"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseIPSpec(s)
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("error %v does not wrap ErrSpec", err)
			}
			return
		}
		// Complete: a valid IPv4 address and a sane prefix.
		if !sp.IP.Is4() || sp.Bits < -1 || sp.Bits > 32 || (sp.Broadcast.IsValid() && !sp.Broadcast.Is4()) {
			t.Fatalf("half-filled %+v from %q", sp, s)
		}
		if !strings.HasPrefix(s, sp.IP.String()) && !strings.HasPrefix(s, "0") {
			// netip rejects leading zeros, so the text must start with the address.
			t.Fatalf("address %s not taken from %q", sp.IP, s)
		}
	})
}

func FuzzParseSendArp(f *testing.F) {
	for _, s := range []string{"198.18.0.100/eth0", "1.2.3.4/", "x/y", "10.0.0.1/eth0:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ip, nic, err := ParseSendArp(s)
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("error %v does not wrap ErrSpec", err)
			}
			return
		}
		if !ip.Is4() || nic == "" || strings.Contains(nic, "/") {
			t.Fatalf("half-filled %v %q from %q", ip, nic, s)
		}
	})
}

func BenchmarkStatusRunning(b *testing.B) {
	out := "INFO:  Resource is stopped\nsome more text that is not running at all\n"
	b.ReportAllocs()
	for b.Loop() {
		StatusRunning(out)
	}
}
