package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// file builds a pcap file (little-endian, µs) with the given link type.
func file(link uint32, frames ...[]byte) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], link)
	b.Write(h)
	for i, f := range frames {
		r := make([]byte, 16)
		binary.LittleEndian.PutUint32(r[0:], uint32(1700000000+i))
		binary.LittleEndian.PutUint32(r[4:], 250000)
		binary.LittleEndian.PutUint32(r[8:], uint32(len(f)))
		binary.LittleEndian.PutUint32(r[12:], uint32(len(f)))
		b.Write(r)
		b.Write(f)
	}
	return b.Bytes()
}

func udpHdr(sport, dport int, payload []byte) []byte {
	u := make([]byte, 8)
	binary.BigEndian.PutUint16(u[0:], uint16(sport))
	binary.BigEndian.PutUint16(u[2:], uint16(dport))
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	return append(u, payload...)
}

func ip4(src, dst string, proto byte, frag uint16, l4 []byte) []byte {
	h := make([]byte, 20)
	h[0] = 0x45
	h[1] = 0x10
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(l4)))
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8] = 64
	h[9] = proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	return append(h, l4...)
}

func ip6(src, dst string, l4 []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(l4)))
	h[6] = 17
	h[7] = 1
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, l4...)
}

func eth(etype uint16, vlan bool, p []byte) []byte {
	h := make([]byte, 12, 18)
	if vlan {
		h = append(h, 0x81, 0x00, 0, 5)
	}
	h = binary.BigEndian.AppendUint16(h, etype)
	return append(h, p...)
}

func sll(etype uint16, p []byte) []byte {
	h := make([]byte, 14)
	return append(binary.BigEndian.AppendUint16(h, etype), p...)
}

func readAll(t *testing.T, b []byte) []Datagram {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []Datagram
	for {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		d.Payload = append([]byte(nil), d.Payload...)
		out = append(out, d)
	}
}

func TestLinkTypesAndFamilies(t *testing.T) {
	pl := []byte("###\n%%%\n")
	v4 := ip4("198.18.0.1", "198.18.0.2", 17, 0x4000, udpHdr(40000, 694, pl))
	v6 := ip6("fe80::1", "ff12::1", udpHdr(40001, 694, pl))
	padded := append(eth(0x0800, false, v4), 0, 0, 0, 0) // Ethernet padding
	cases := map[string][]byte{
		"ethernet v4":      file(LinkEthernet, padded),
		"ethernet vlan v4": file(LinkEthernet, eth(0x0800, true, v4)),
		"ethernet v6":      file(LinkEthernet, eth(0x86dd, false, v6)),
		"sll v4":           file(LinkSLL, sll(0x0800, v4)),
		"sll2 v6":          file(LinkSLL2, append(append(binary.BigEndian.AppendUint16(nil, 0x86dd), make([]byte, 18)...), v6...)),
		"raw v4":           file(LinkRaw, v4),
		"null v6":          file(LinkNull, append([]byte{30, 0, 0, 0}, v6...)),
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			ds := readAll(t, f)
			if len(ds) != 1 {
				t.Fatalf("%d datagrams", len(ds))
			}
			d := ds[0]
			if !bytes.Equal(d.Payload, pl) || d.Dst.Port() != 694 || d.Index != 1 {
				t.Fatalf("%+v", d)
			}
			if !d.Time.Equal(time.Unix(1700000000, 250000000)) {
				t.Fatalf("time %v", d.Time)
			}
			if d.Src.Addr().Is4() && (d.Src.String() != "198.18.0.1:40000" || d.TOS != 0x10 || d.TTL != 64) {
				t.Fatalf("v4 %+v", d)
			}
			if d.Src.Addr().Is6() && d.Dst.Addr().String() != "ff12::1" {
				t.Fatalf("v6 %+v", d)
			}
		})
	}
}

func TestSkipsWhatIsNotUDP(t *testing.T) {
	pl := []byte("x")
	f := file(LinkEthernet,
		eth(0x0806, false, make([]byte, 28)), // ARP
		eth(0x0800, false, ip4("1.1.1.1", "2.2.2.2", 1, 0, append([]byte{3}, make([]byte, 7)...))), // ICMP unreachable
		eth(0x0800, false, ip4("1.1.1.1", "2.2.2.2", 17, 0x0010, udpHdr(1, 694, pl))),              // later fragment
		eth(0x0800, false, []byte{0x45}), // cut IP header
		eth(0x0800, false, ip4("1.1.1.1", "2.2.2.2", 17, 0, udpHdr(1, 694, pl))),
	)
	ds := readAll(t, f)
	if len(ds) != 1 || ds[0].Index != 5 || ds[0].Proto != ProtoUDP {
		t.Fatalf("%+v", ds)
	}
}

func TestICMPEcho(t *testing.T) {
	echo := append([]byte{8, 0, 0, 0, 0, 1, 0, 1}, "###\n%%%\n"...)
	f := file(LinkEthernet, eth(0x0800, false, ip4("198.18.1.1", "198.18.1.254", 1, 0, echo)))
	ds := readAll(t, f)
	if len(ds) != 1 || ds[0].Proto != ProtoICMP || ds[0].ICMPType != 8 || string(ds[0].Payload) != "###\n%%%\n" || ds[0].Dst.Port() != 0 {
		t.Fatalf("%+v", ds)
	}
}

func TestBadFiles(t *testing.T) {
	if _, err := NewReader(bytes.NewReader([]byte("\x0a\x0d\x0d\x0a" + string(make([]byte, 20))))); !errors.Is(err, ErrPcapNG) {
		t.Errorf("pcapng: %v", err)
	}
	if _, err := NewReader(bytes.NewReader(make([]byte, 24))); err == nil {
		t.Error("zero magic accepted")
	}
	if _, err := NewReader(bytes.NewReader([]byte("short"))); err == nil {
		t.Error("short header accepted")
	}
	f := file(LinkEthernet, eth(0x0800, false, ip4("1.1.1.1", "2.2.2.2", 17, 0, udpHdr(1, 694, []byte("abc")))))
	r, err := NewReader(bytes.NewReader(f[:len(f)-3]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut record: %v", err)
	}
}

// TestCaptures: the real captures read to the datagram counts tcpdump
// shows (every frame of ucast-crc is either ARP or UDP to 694).
func TestCaptures(t *testing.T) {
	p := filepath.Join("..", "..", "..", "..", "shared", "captures", "ucast-crc", "capture.pcap")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("captures not beside the checkout: %v", err)
	}
	ds := readAll(t, b)
	n := 0
	for _, d := range ds {
		if d.Dst.Port() == 694 {
			n++
		}
	}
	if n != 180 {
		t.Fatalf("%d heartbeat datagrams, want 180", n)
	}
	if ds[0].Src.String() != "198.18.0.1:43881" || ds[0].TOS != 0x10 || len(ds[0].Payload) != 239 {
		t.Fatalf("first %+v", ds[0])
	}
}

func FuzzReader(f *testing.F) {
	f.Add(file(LinkEthernet, eth(0x0800, false, ip4("1.1.1.1", "2.2.2.2", 17, 0, udpHdr(1, 694, []byte("abc"))))))
	f.Add(file(LinkSLL2, make([]byte, 30)))
	f.Add(file(LinkEthernet, eth(0x86dd, true, ip6("::1", "::2", udpHdr(1, 2, nil)))))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		for range 10000 {
			d, err := r.Next()
			if err != nil {
				return
			}
			if len(d.Payload) > len(data) {
				t.Fatal("payload larger than the file")
			}
		}
	})
}
