package wire

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
	"github.com/heartbeat-go/heartbeat/hb/wire/pcap"
)

// capture is one recorded pcap with the keys its nodes used.
type capture struct {
	name    string
	pcap    string
	keys    *authkeys.Keys
	packets int // heartbeat datagrams in it (decoded.txt's count where given)
}

func mustKeys(t testing.TB, data []byte) *authkeys.Keys {
	t.Helper()
	k, probs := authkeys.Parse(data, "authkeys")
	if probs.HasErrors() {
		t.Fatal(probs)
	}
	return k
}

func captures(t testing.TB) []capture {
	shared := testbin.Shared(t)
	dir := filepath.Join(shared, "captures")
	var out []capture
	for _, c := range []struct {
		name string
		n    int
	}{{"ucast-crc", 180}, {"ucast-md5", 187}, {"ucast-sha1", 179}, {"bcast-sha1", 183}, {"mcast-sha1", 183}, {"loss30-ucast-sha1", 667}} {
		kb, err := os.ReadFile(filepath.Join(dir, c.name, "hb1", "authkeys"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, capture{c.name, filepath.Join(dir, c.name, "capture.pcap"), mustKeys(t, kb), c.n})
	}
	// v1-resources/README.md: sha1, key "secret".
	v1 := mustKeys(t, []byte("auth 1\n1 sha1 secret\n"))
	for _, n := range []string{"cap", "cap2", "cap3", "cap4", "cap5"} {
		out = append(out, capture{"v1-resources/" + n, filepath.Join(dir, "v1-resources", n+".pcap"), v1, 0})
	}
	return out
}

func readDatagrams(t testing.TB, path string) []pcap.Datagram {
	t.Helper()
	ds, err := loadDatagrams(path)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// loadDatagrams returns the datagrams to port 694 in a capture, and the
// ICMP echoes that carry a heartbeat message (ping media).
func loadDatagrams(path string) ([]pcap.Datagram, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcap.NewReader(f)
	if err != nil {
		return nil, err
	}
	var out []pcap.Datagram
	for {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if d.Proto == pcap.ProtoUDP && d.Dst.Port() != 694 {
			continue
		}
		if d.Proto != pcap.ProtoUDP && !bytes.HasPrefix(d.Payload, []byte(nsStart)) {
			continue
		}
		d.Payload = append([]byte(nil), d.Payload...)
		out = append(out, d)
	}
}

// TestGoldenCaptures: every heartbeat datagram of every capture decodes,
// both signatures verify with the recorded key, Encode of the decoded
// message gives back the identical bytes and Sign the identical auth
// value; a wrong key fails.
func TestGoldenCaptures(t *testing.T) {
	wrong := mustKeys(t, []byte("auth 1\n1 sha1 not-the-secret\n"))
	for _, c := range captures(t) {
		t.Run(c.name, func(t *testing.T) {
			ds := readDatagrams(t, c.pcap)
			if len(ds) == 0 {
				t.Fatal("no heartbeat datagrams")
			}
			if c.packets != 0 && len(ds) != c.packets {
				t.Errorf("%d datagrams, decoded.txt says %d", len(ds), c.packets)
			}
			icmp := 0
			for _, d := range ds {
				if d.Proto != pcap.ProtoUDP {
					icmp++
				}
				p, err := Parse(d.Payload)
				if err != nil {
					t.Fatalf("record %d: %v", d.Index, err)
				}
				if p.Len != len(d.Payload) {
					t.Fatalf("record %d: used %d of %d bytes", d.Index, p.Len, len(d.Payload))
				}
				if v := p.Verify(c.keys); !v.OK() {
					t.Fatalf("record %d: verdicts %+v", d.Index, v)
				}
				if _, err := Decode(d.Payload, c.keys); err != nil {
					t.Fatalf("record %d: Decode: %v", d.Index, err)
				}
				enc, err := Encode(p.Msg, c.keys)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, d.Payload) {
					t.Fatalf("record %d: re-encoded differs\n got %q\nwant %q", d.Index, enc, d.Payload)
				}
				resigned := p.Msg.Clone()
				want := resigned.Value(FAuth)
				resigned.Del(FAuth)
				if err := Sign(resigned, c.keys); err != nil {
					t.Fatal(err)
				}
				if got := resigned.Value(FAuth); got != want {
					t.Fatalf("record %d: auth %q, want %q", d.Index, got, want)
				}
				if _, err := Decode(d.Payload, wrong); ReasonOf(err) != DropBadSignature {
					t.Fatalf("record %d: wrong key gave %v", d.Index, err)
				}
				// One byte changed at a position that varies with the packet
				// (TestGoldenOneByteChange tries every position of some).
				bad := append([]byte(nil), d.Payload...)
				pos := (d.Index * 7919) % len(bad)
				bad[pos] ^= 0x04
				if _, err := Decode(bad, c.keys); err == nil {
					t.Fatalf("record %d: byte %d changed, still verifies", d.Index, pos)
				}
			}
			if c.name == "v1-resources/cap3" && icmp == 0 {
				t.Fatal("cap3's ping media messages (in ICMP echoes) not found")
			}
			t.Logf("%d messages (%d in ICMP echoes)", len(ds), icmp)
		})
	}
}

// TestGoldenOneByteChange: changing any one byte of a packet makes it
// fail (with some reason), for one packet of each capture.
func TestGoldenOneByteChange(t *testing.T) {
	for _, c := range captures(t) {
		ds := readDatagrams(t, c.pcap)
		pkt := ds[len(ds)/2].Payload
		t.Run(c.name, func(t *testing.T) {
			b := append([]byte(nil), pkt...)
			for i := range b {
				for _, x := range []byte{0x01, 0x20, 0x80} {
					b[i] ^= x
					if _, err := Decode(b, c.keys); err == nil {
						t.Fatalf("byte %d ^ %#x still verifies", i, x)
					}
					b[i] ^= x
				}
			}
			for cut := range len(b) - 1 {
				if _, err := Decode(b[:cut], c.keys); err == nil {
					t.Fatalf("truncated to %d bytes still decodes", cut)
				}
			}
		})
	}
}

// TestGoldenSerial: both serial byte streams split into classic messages
// whose auth fields verify and which re-encode to the identical bytes.
func TestGoldenSerial(t *testing.T) {
	dir := filepath.Join(testbin.Shared(t), "captures", "serial-sha1")
	kb, err := os.ReadFile(filepath.Join(dir, "hb1", "authkeys"))
	if err != nil {
		t.Fatal(err)
	}
	k := mustKeys(t, kb)
	for _, c := range []struct {
		file string
		n    int
	}{{"serial-hb1-to-hb2.bin", 83}, {"serial-hb2-to-hb1.bin", 100}} {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for len(data) > 0 {
				m, used, err := DecodeClassic(data)
				if err != nil {
					t.Fatalf("message %d: %v", n+1, err)
				}
				if r := VerifyField(m, k); r != Accepted {
					t.Fatalf("message %d: %v", n+1, r)
				}
				enc, err := EncodeClassic(m)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, data[:used]) {
					t.Fatalf("message %d re-encoded differs\n got %q\nwant %q", n+1, enc, data[:used])
				}
				p, err := Parse(data[:used])
				if err != nil || p.Format != Classic || !p.Verify(k).OK() {
					t.Fatalf("message %d via Parse: %v %+v", n+1, err, p)
				}
				bad := append([]byte(nil), data[:used]...)
				bad[used/2] ^= 0x01
				if _, err := Decode(bad, k); err == nil {
					t.Fatalf("message %d: flipped byte still verifies", n+1)
				}
				data = data[used:]
				n++
			}
			if n != c.n {
				t.Fatalf("%d messages, want %d", n, c.n)
			}
		})
	}
}
