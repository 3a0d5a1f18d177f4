package wire

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/heartbeat-go/heartbeat/authkeys"
)

var fuzzKeys = func() *authkeys.Keys {
	k, _ := authkeys.Parse([]byte("auth 1\n1 sha1 realhb-test-secret\n2 md5 m\n3 crc\n"), "authkeys")
	return k
}()

// seedPackets adds a few captured packets and the serial stream's first
// messages as seeds (when ../shared is there), plus the library vectors.
func seedPackets(f *testing.F) {
	for _, v := range libVectors {
		f.Add([]byte(v.netstring))
		f.Add([]byte(v.classic))
	}
	dir := filepath.Join("..", "..", "..", "shared", "captures")
	for _, c := range []string{"ucast-crc", "ucast-md5", "ucast-sha1", "loss30-ucast-sha1"} {
		if ds := readDatagramsQuiet(filepath.Join(dir, c, "capture.pcap")); len(ds) > 0 {
			for i := 0; i < len(ds); i += len(ds)/8 + 1 {
				f.Add(ds[i])
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "serial-sha1", "serial-hb1-to-hb2.bin")); err == nil && len(b) > 2000 {
		f.Add(b[:2000])
	}
}

// FuzzParse: any input is refused with a reason or parsed completely;
// what parses re-encodes to a form that parses to the same message.
func FuzzParse(f *testing.F) {
	seedPackets(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if ReasonOf(err) == Accepted {
				t.Fatal("error without a reason")
			}
			if p != nil {
				t.Fatal("packet returned with an error")
			}
			return
		}
		if p.Msg == nil || p.Len <= 0 || p.Len > len(data) {
			t.Fatalf("half-filled packet %+v", p)
		}
		p.Verify(fuzzKeys) // must not panic
		ns, err := AppendNetstring(nil, p.Msg)
		if err != nil {
			t.Fatalf("re-encoding a parsed message: %v", err)
		}
		m2, end, err := decodeNetstring(ns, 0, 0)
		if err != nil || end != len(ns) || !equalMsg(m2, p.Msg) {
			t.Fatalf("netstring round trip: %v\n%q", err, ns)
		}
		if cl, err := EncodeClassic(p.Msg); err == nil {
			m3, end, err := DecodeClassic(cl)
			if err != nil || end != len(cl) || !equalMsg(m3, p.Msg) {
				// The classic form cannot carry every netstring value: a
				// string holding 0x13 comes back as '\n', and a name with
				// '=' or a line break splits differently. Heartbeat has the
				// same limits; only compare what it can carry.
				if classicSafe(p.Msg, 0) {
					t.Fatalf("classic round trip: %v\n%q", err, cl)
				}
			}
		}
		for i := range p.Msg.Fields {
			if p.Msg.Fields[i].Type == Compressed {
				p.Msg.Fields[i].Expand() // must not panic
			}
		}
	})
}

// classicSafe reports whether m survives the classic form unchanged.
func classicSafe(m *Message, depth int) bool {
	for _, f := range m.Fields {
		if f.Type == Uncompress {
			return false
		}
		name := []byte(f.Name)
		if bytes.IndexByte(name, '=') >= 0 || bytes.IndexByte(name, '\n') >= 0 || bytes.IndexByte(name, 0) >= 0 ||
			(len(name) >= 3 && name[0] == '(' && name[2] == ')') {
			return false
		}
		for d := 0; d <= MaxDepth+1; d++ {
			if bytes.IndexByte(name, sep(d)) >= 0 {
				return false
			}
		}
		switch f.Type {
		case String:
			for d := 1; d <= MaxDepth+1; d++ {
				if bytes.IndexByte(f.Value, sep(d)) >= 0 {
					return false
				}
			}
			if bytes.IndexByte(f.Value, nlEscape) >= 0 {
				return false
			}
		case List:
			for _, e := range f.List {
				for d := 0; d <= MaxDepth+1; d++ {
					if bytes.IndexByte([]byte(e), sep(d)) >= 0 {
						return false
					}
				}
			}
		case Struct:
			if !classicSafe(f.Child, depth+1) {
				return false
			}
		}
	}
	return true
}

// FuzzRoundTrip: a message built from arbitrary names and values encodes,
// decodes and verifies to the same message, in both forms.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("t\x00status\x00src\x00hb1"), uint8(0))
	f.Add([]byte("a\x00\xff\xfe\x00b\x00x y"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, kinds uint8) {
		m := &Message{}
		parts := bytes.Split(data, []byte{0})
		for i := 0; i+1 < len(parts) && len(m.Fields) < 64; i += 2 {
			name, val := parts[i], parts[i+1]
			if len(name) == 0 || bytes.ContainsAny(name, "=\n\x13\x14\x15") || string(name) == FAuth {
				continue
			}
			if len(name) >= 3 && name[0] == '(' && name[2] == ')' {
				continue
			}
			switch (int(kinds) + i) % 4 {
			case 0:
				if bytes.ContainsAny(val, "\x13\x14\x15") {
					continue
				}
				m.Add(string(name), string(val))
			case 1:
				m.AddBinary(string(name), val)
			case 2:
				if bytes.ContainsAny(val, "\n\x13\x14\x15") || len(val) == 0 {
					continue
				}
				m.Fields = append(m.Fields, Field{Name: string(name), Type: List, List: []string{string(val), "x"}})
			case 3:
				child := &Message{}
				if !bytes.ContainsAny(val, "\x13\x14\x15\x16") {
					child.Add("v", string(val))
				}
				m.Fields = append(m.Fields, Field{Name: string(name), Type: Struct, Child: child})
			}
		}
		for _, idx := range []int{1, 2, 3} {
			k := &authkeys.Keys{Active: idx, Keys: fuzzKeys.Keys}
			pkt, err := Encode(m, k)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(pkt, fuzzKeys)
			if err != nil {
				t.Fatalf("key %d: %v\n%q", idx, err, pkt)
			}
			signed := m.Clone()
			if err := Sign(signed, k); err != nil {
				t.Fatal(err)
			}
			if !equalMsg(got, signed) {
				t.Fatalf("netstring round trip differs\n%q", pkt)
			}
			cl, err := EncodeClassic(signed)
			if err != nil {
				t.Fatal(err)
			}
			got, err = Decode(cl, fuzzKeys)
			if err != nil || !equalMsg(got, signed) {
				t.Fatalf("classic round trip: %v\n%q", err, cl)
			}
		}
	})
}

func readDatagramsQuiet(path string) [][]byte {
	ds, err := loadDatagrams(path)
	if err != nil {
		return nil
	}
	out := make([][]byte, len(ds))
	for i, d := range ds {
		out[i] = d.Payload
	}
	return out
}
