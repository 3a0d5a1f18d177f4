package netlab

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func capturePath(name string) string {
	return filepath.Join("..", "..", "..", "shared", "captures", name, "capture.pcap")
}

func TestParseCapturedPcaps(t *testing.T) {
	// UDP datagram counts to port 694 per capture, and the IP header
	// facts the captures README states.
	for name, want := range map[string]struct {
		n        int
		tos, ttl uint8
	}{
		"ucast-sha1": {179, 0x10, 64},
		"bcast-sha1": {183, 0, 64},
		"mcast-sha1": {183, 0, 1},
	} {
		frames, err := ReadPcap(capturePath(name))
		if os.IsNotExist(err) {
			t.Skip("captures not beside the checkout")
		}
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range frames {
			u, ok := ParseUDP(f)
			if !ok || u.Dst.Port() != 694 {
				continue
			}
			n++
			if u.TOS != want.tos || u.TTL != want.ttl || !u.DF {
				t.Fatalf("%s: TOS %#x TTL %d DF %v", name, u.TOS, u.TTL, u.DF)
			}
			if string(u.Payload[:4]) != "###\n" {
				t.Fatalf("%s: payload %q", name, u.Payload[:4])
			}
		}
		if n != want.n {
			t.Errorf("%s: %d datagrams, want %d", name, n, want.n)
		}
	}
}

func TestParsePcapRejectsBadInput(t *testing.T) {
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr, 0xa1b2c3d4)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	if fr, err := ParsePcap(hdr); err != nil || len(fr) != 0 {
		t.Errorf("empty pcap: %v %v", fr, err)
	}
	rec := make([]byte, 16)
	binary.LittleEndian.PutUint32(rec, 5)
	binary.LittleEndian.PutUint32(rec[4:], 7)
	binary.LittleEndian.PutUint32(rec[8:], 100) // claims 100 bytes, has 0
	if _, err := ParsePcap(append(append([]byte{}, hdr...), rec...)); err == nil {
		t.Error("truncated record accepted")
	}
	binary.LittleEndian.PutUint32(rec[8:], 0)
	fr, err := ParsePcap(append(append([]byte{}, hdr...), rec...))
	if err != nil || len(fr) != 1 || !fr[0].At.Equal(time.Unix(5, 7000)) {
		t.Errorf("timestamp: %v %v", fr, err)
	}
	binary.LittleEndian.PutUint32(hdr[20:], 113)
	if _, err := ParsePcap(hdr); err == nil {
		t.Error("non-Ethernet link type accepted")
	}
	if _, err := ParsePcap([]byte("nope")); err == nil {
		t.Error("short file accepted")
	}
}

func FuzzParsePcap(f *testing.F) {
	if b, err := os.ReadFile(capturePath("ucast-sha1")); err == nil {
		f.Add(b[:min(len(b), 4000)])
	}
	if b, err := os.ReadFile(capturePath("mcast-sha1")); err == nil {
		f.Add(b[:min(len(b), 4000)])
	}
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1})
	f.Fuzz(func(t *testing.T, b []byte) {
		frames, _ := ParsePcap(b)
		for _, fr := range frames {
			if u, ok := ParseUDP(fr); ok {
				if len(u.Payload) > len(fr.Data) {
					t.Fatal("payload longer than frame")
				}
			}
		}
	})
}

func FuzzParseUDP(f *testing.F) {
	if frames, err := ReadPcap(capturePath("bcast-sha1")); err == nil {
		for _, fr := range frames[:min(len(frames), 8)] {
			f.Add(fr.Data)
		}
	}
	f.Add(make([]byte, 60))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, ok := ParseUDP(Frame{Data: b})
		if ok && (len(u.Payload) > len(b) || !u.Src.IsValid() || !u.Dst.IsValid()) {
			t.Fatalf("bad parse %+v", u)
		}
	})
}
