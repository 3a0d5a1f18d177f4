package wire

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/lineartest"
)

// Vectors recorded from heartbeat's own message library (libplumb.so.2 of
// cluster-glue, as shipped with Debian's heartbeat 3.0.6), by building
// each message with ha_msg_add/addbin/addstruct/cl_msg_list_add_string
// and printing msg2wirefmt (netstring form, trailer left off) and
// msg2string (classic form).
var libVectors = []struct {
	name      string
	msg       *Message
	netstring string
	classic   string
}{
	{
		name: "string binary struct list",
		msg: &Message{Fields: []Field{
			{Name: "t", Type: String, Value: []byte("status")},
			{Name: "u", Type: Binary, Value: []byte("\x00\x01\n,=")},
			{Name: "child", Type: Struct, Child: &Message{Fields: []Field{
				{Name: "a", Value: []byte("1")}, {Name: "b", Value: []byte("x y")}}}},
			{Name: "lst", Type: List, List: []string{"one", "two"}},
		}},
		netstring: "###\n11:(0)t=status,10:(1)u=\x00\x01\n,=,37:(2)child=###\n6:(0)a=1,8:(0)b=x y,%%%\n,19:(3)lst=3:one,3:two,,%%%\n",
		classic:   ">>>\nt=status\n(1)u=AAEKLD0=\n(2)child=>>>\x14a=1\x14b=x y\x14<<<\x14\n(3)lst=3:one,3:two,\n<<<\n",
	},
	{
		name: "struct in struct",
		msg: &Message{Fields: []Field{
			{Name: "t", Value: []byte("x")},
			{Name: "child", Type: Struct, Child: &Message{Fields: []Field{
				{Name: "a", Value: []byte("1")},
				{Name: "in", Type: Struct, Child: &Message{Fields: []Field{{Name: "z", Value: []byte("9")}}}}}}},
		}},
		netstring: "###\n6:(0)t=x,53:(2)child=###\n6:(0)a=1,23:(2)in=###\n6:(0)z=9,%%%\n,%%%\n,%%%\n",
		classic:   ">>>\nt=x\n(2)child=>>>\x14a=1\x14(2)in=>>>\x15z=9\x15<<<\x15\x14<<<\x14\n<<<\n",
	},
	{
		name:      "newline in a string value",
		msg:       &Message{Fields: []Field{{Name: "a", Value: []byte("1\n=2")}}},
		netstring: "###\n9:(0)a=1\n=2,%%%\n",
		classic:   ">>>\na=1\x13=2\n<<<\n",
	},
	{
		name:      "compressed field kept raw",
		msg:       &Message{Fields: []Field{{Name: "a", Type: Compressed, Value: []byte("xyz")}}},
		netstring: "###\n8:(4)a=xyz,%%%\n",
		classic:   ">>>\n(4)a=eHl6\n<<<\n",
	},
	{
		name: "duplicate names keep their order",
		msg: &Message{Fields: []Field{
			{Name: "a", Value: []byte("1")}, {Name: "a", Type: Binary, Value: []byte("2")}}},
		netstring: "###\n6:(0)a=1,6:(1)a=2,%%%\n",
		classic:   ">>>\na=1\n(1)a=Mg==\n<<<\n",
	},
}

func equalMsg(a, b *Message) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		x, y := &a.Fields[i], &b.Fields[i]
		if x.Name != y.Name || x.Type != y.Type || !bytes.Equal(x.Value, y.Value) || strings.Join(x.List, "\x00") != strings.Join(y.List, "\x00") || len(x.List) != len(y.List) {
			return false
		}
		if (x.Child == nil) != (y.Child == nil) || (x.Child != nil && !equalMsg(x.Child, y.Child)) {
			return false
		}
	}
	return true
}

func TestLibraryVectors(t *testing.T) {
	for _, v := range libVectors {
		t.Run(v.name, func(t *testing.T) {
			ns, err := AppendNetstring(nil, v.msg)
			if err != nil || string(ns) != v.netstring {
				t.Fatalf("netstring %q, %v\nwant %q", ns, err, v.netstring)
			}
			cl, err := EncodeClassic(v.msg)
			if err != nil || string(cl) != v.classic {
				t.Fatalf("classic %q, %v\nwant %q", cl, err, v.classic)
			}
			m, end, err := decodeNetstring([]byte(v.netstring), 0, 0)
			if err != nil || end != len(v.netstring) || !equalMsg(m, v.msg) {
				t.Fatalf("netstring decode: %v %+v", err, m)
			}
			m, end, err = DecodeClassic([]byte(v.classic))
			if err != nil || end != len(v.classic) || !equalMsg(m, v.msg) {
				t.Fatalf("classic decode: %v %+v", err, m)
			}
		})
	}
}

// What heartbeat's library accepts and refuses when parsing, recorded
// with wirefmt2msg/string2msg (a refusal there is a NULL message or an
// assertion failure, which would kill the daemon: we refuse those).
func TestParseAcceptsWhatHeartbeatAccepts(t *testing.T) {
	accept := map[string]string{
		"duplicate names":               "###\n6:(0)a=1,6:(0)a=2,%%%\n",
		"duplicate names, other type":   "###\n6:(0)a=1,6:(1)a=2,%%%\n",
		"non-UTF-8 value":               "###\n6:(0)a=\xff,%%%\n",
		"non-UTF-8 name":                "###\n6:(0)\xff=1,%%%\n",
		"no fields":                     "###\n%%%\n",
		"'=' in value":                  "###\n6:(0)a==,%%%\n",
		"blank in name":                 "###\n8:(0)a b=1,%%%\n",
		"newline in name":               "###\n8:(0)a\nb=1,%%%\n",
		"leading zeros in a length":     "###\n006:(0)a=1,%%%\n",
		"junk after a length":           "###\n6j:(0)a=1,%%%\n",
		"junk and blank after a length": "###\n6j :(0)a=1,%%%\n",
		"bytes after the end":           "###\n6:(0)t=1,%%%\nXX",
		"list without the last comma":   "###\n10:(3)l=3:abc,%%%\n",
		"binary with NUL and newline":   "###\n7:(1)a=\x00\n,%%%\n",
		"empty nested struct":           "###\n6:(0)a=1,13:(2)s=###\n%%%\n,%%%\n",
		"struct to compress":            "###\n13:(5)a=###\n%%%\n,%%%\n",
		"two auth fields":               "###\n11:(0)auth=1 x,11:(0)auth=2 y,%%%\n",
		"classic, duplicate names":      ">>>\na=1\na=2\n<<<\n",
		"classic, empty line":           ">>>\na=1\n\n<<<\n",
		"classic, bytes after the end":  ">>>\na=1\n<<<\njunk",
		"classic, CR kept in value":     ">>>\na=1\r\n<<<\n",
	}
	for name, in := range accept {
		if _, err := Parse([]byte(in)); err != nil {
			t.Errorf("%s: %q refused: %v", name, in, err)
		}
	}
	refuse := map[string]struct {
		in   string
		want DropReason
	}{
		"blank before a length":      {"###\n 6junk:(0)a=1,%%%\n", DropMalformed},
		"signed length":              {"###\n+6:(0)a=1,%%%\n", DropMalformed},
		"blank after a length":       {"###\n6 j:(0)a=1,%%%\n", DropMalformed},
		"tab after a length":         {"###\n6\t:(0)a=1,%%%\n", DropMalformed},
		"comma after a length":       {"###\n6,:(0)a=1,%%%\n", DropMalformed},
		"negative length":            {"###\n-1:(0)a=1,%%%\n", DropMalformed},
		"empty name":                 {"###\n4:(0)=1,%%%\n", DropMalformed},
		"no '='":                     {"###\n5:(0)a1,%%%\n", DropMalformed},
		"no type":                    {"###\n3:a=1,%%%\n", DropMalformed},
		"unknown type":               {"###\n6:(7)a=1,%%%\n", DropBadFieldType},
		"two-digit type":             {"###\n7:(00)a=1,%%%\n", DropMalformed},
		"NUL in a string":            {"###\n8:(0)a=1\x002,%%%\n", DropMalformed},
		"empty list":                 {"###\n6:(0)a=1,5:(3)l=,%%%\n", DropMalformed},
		"struct that is not one":     {"###\n6:(0)a=1,9:(2)s=junk,%%%\n", DropNotMessage},
		"no end":                     {"###\n6:(0)a=1,", DropTruncated},
		"end without newline":        {"###\n6:(0)a=1,%%%", DropTruncated},
		"cut in a field":             {"###\n6:(0)a=", DropTruncated},
		"not a message":              {"hello", DropNotMessage},
		"empty":                      {"", DropNotMessage},
		"classic, no '='":            {">>>\na=1\nnoeq\n<<<\n", DropMalformed},
		"classic, empty name":        {">>>\n=1\n<<<\n", DropMalformed},
		"classic, unterminated":      {">>>\na=1\n", DropTruncated},
		"classic, unknown type":      {">>>\n(7)a=1\n<<<\n", DropBadFieldType},
		"classic, string type given": {">>>\n(0)a=1\n<<<\n", DropBadFieldType},
		"classic, bad base64":        {">>>\n(1)u=AAEKLD0\n<<<\n", DropMalformed},
		"classic, junk before":       {"junk>>>\na=1\n<<<\n", DropNotMessage},
	}
	for name, c := range refuse {
		_, err := Parse([]byte(c.in))
		if ReasonOf(err) != c.want {
			t.Errorf("%s: %q gave %v, want %v", name, c.in, err, c.want)
		}
	}
}

func TestLimits(t *testing.T) {
	k := mustKeys(t, []byte("auth 1\n1 sha1 s\n"))
	big := &Message{}
	big.Add("t", strings.Repeat("x", MaxMessage))
	if _, err := Encode(big, k); ReasonOf(err) != DropTooLarge {
		t.Errorf("oversized encode: %v", err)
	}
	if _, err := Parse(make([]byte, MaxMessage+1)); ReasonOf(err) != DropTooLarge {
		t.Errorf("oversized parse: %v", err)
	}
	long := []byte(">>>\n" + strings.Repeat("a=1\n", MaxMessage/4) + "<<<\n")
	if _, _, err := DecodeClassic(long); ReasonOf(err) != DropTooLarge {
		t.Errorf("oversized classic: %v", err)
	}
	if _, n, err := DecodeClassic(append([]byte(">>>\na=1\n<<<\n"), long...)); err != nil || n != 12 {
		t.Errorf("a small message before a long stream: %d %v", n, err)
	}
	deep := &Message{}
	deep.Add("a", "1")
	for range MaxDepth + 1 {
		deep = &Message{Fields: []Field{{Name: "s", Type: Struct, Child: deep}}}
	}
	if _, err := AppendNetstring(nil, deep); ReasonOf(err) != DropTooDeep {
		t.Errorf("deep encode: %v", err)
	}
	// Build the too-deep netstring by hand and parse it.
	inner := "###\n6:(0)a=1,%%%\n"
	for range MaxDepth + 1 {
		f := "(2)s=" + inner
		inner = "###\n" + itoa(len(f)) + ":" + f + ",%%%\n"
	}
	if _, err := Parse([]byte(inner)); ReasonOf(err) != DropTooDeep {
		t.Errorf("deep parse: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestEncodeRefusesUnwritableNames(t *testing.T) {
	k := mustKeys(t, []byte("auth 1\n1 sha1 s\n"))
	for _, name := range []string{"", "a=b"} {
		m := &Message{Fields: []Field{{Name: name, Value: []byte("v")}}}
		if _, err := Encode(m, k); ReasonOf(err) != DropMalformed {
			t.Errorf("netstring, name %q: %v", name, err)
		}
	}
	for _, name := range []string{"", "a=b", "a\nb"} {
		m := &Message{Fields: []Field{{Name: name, Value: []byte("v")}}}
		if _, err := EncodeClassic(m); ReasonOf(err) != DropMalformed {
			t.Errorf("classic, name %q: %v", name, err)
		}
	}
}

func TestDecodedValuesDoNotShareCapacity(t *testing.T) {
	p, err := Parse([]byte("###\n6:(0)a=1,6:(0)b=2,%%%\n"))
	if err != nil {
		t.Fatal(err)
	}
	_ = append(p.Msg.Fields[0].Value, 'X', 'X', 'X', 'X', 'X', 'X')
	if p.Msg.Value("b") != "2" {
		t.Fatal("appending to one value overwrote the next")
	}
}

func TestSignatureVerdicts(t *testing.T) {
	k := mustKeys(t, []byte("auth 2\n1 md5 old\n2 sha1 new\n"))
	m := statusMessage()
	pkt, err := Encode(m, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(pkt, k); err != nil {
		t.Fatal(err)
	}
	// Sender still on key 1 (rollover): accepted.
	old := &authkeys.Keys{Active: 1, Keys: k.Keys}
	pkt1, _ := Encode(m, old)
	if _, err := Decode(pkt1, k); err != nil {
		t.Fatalf("rollover: %v", err)
	}
	// Receiver without key 2: unknown key index.
	only1 := mustKeys(t, []byte("auth 1\n1 md5 old\n"))
	if _, err := Decode(pkt, only1); ReasonOf(err) != DropUnknownKey {
		t.Fatalf("unknown index: %v", err)
	}
	// No trailer.
	p, _ := Parse(pkt)
	if _, err := Decode(p.Signed, k); ReasonOf(err) != DropNoAuth {
		t.Fatalf("no trailer: %v", err)
	}
	// No auth field but a good trailer.
	noAuth := m.Clone()
	ns, _ := AppendNetstring(nil, noAuth)
	sig := k.Sign(ns)
	withTrailer := append(ns, []byte(itoa(len(sig))+":"+sig+",")...)
	if _, err := Decode(withTrailer, k); ReasonOf(err) != DropNoAuth {
		t.Fatalf("no auth field: %v", err)
	}
	// A garbled auth string.
	bad := m.Clone()
	bad.Add(FAuth, "zz")
	ns, _ = AppendNetstring(nil, bad)
	sig = k.Sign(ns)
	if _, err := Decode(append(ns, []byte(itoa(len(sig))+":"+sig+",")...), k); ReasonOf(err) != DropBadAuthString {
		t.Fatalf("garbled auth: %v", err)
	}
	// Classic form over UDP carries only the auth field.
	signed := m.Clone()
	if err := Sign(signed, k); err != nil {
		t.Fatal(err)
	}
	cl, _ := EncodeClassic(signed)
	if got, err := Decode(cl, k); err != nil || !equalMsg(got, signed) {
		t.Fatalf("classic: %v", err)
	}
}

// Compressed messages as heartbeat's library writes them (libplumb with
// its zlib plugin; trailers left off): a struct added with
// ha_msg_addstruct_compress, and a whole message under
// traditional_compression.
const (
	libFieldCompressed = "###\x0a6:(0)t=x,48:(4)s=x\x9cSVV\xe622\xb7\xd20\xd0\xcc6\xb0-K\xcc)M\xd55@\xa5t\xa0\xd2\x86PiCTJGUU\x95\x0b\x00\xbb%\x14\x1d,30:(0)_compression_algorithm=zlib,%%%\x0a"
	libTraditional     = "###\x0a85:(1)_compressed_payload=x\x9cSVV\xe62\xb3\xd20\xd0,\xb1\xad\xd017\xb5\xd20\xd2,\xb6U\x06\x0a\x1a\x99\x83D\xb3\x0dl\xcb\x12sJSu\x0dP)\x1d\xa8\xb4!T\xda\x10\x95\xd2QUU\xe5\x02\x13\x00\xa6\x0d\x19T,30:(0)_compression_algorithm=zlib,%%%\x0a"
)

func TestLibraryCompression(t *testing.T) {
	child := &Message{}
	child.Add("k0", "value-0value-0value-0")
	child.Add("k1", "value-1value-1value-1")
	p, err := Parse([]byte(libFieldCompressed))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Msg.Fields) != 3 || p.Msg.Fields[1].Type != Compressed || p.Msg.Value(FCompressionAlgorithm) != "zlib" {
		t.Fatalf("%+v", p.Msg)
	}
	got, err := p.Msg.Fields[1].Expand()
	if err != nil || !equalMsg(got, child) {
		t.Fatalf("expand: %v %+v", err, got)
	}
	// Our Compress gives the same shape.
	m := &Message{}
	m.Add("t", "x")
	m.Fields = append(m.Fields, Field{Name: "s", Type: Uncompress, Child: child})
	c, err := Compress(m, DefaultCompressionThreshold, false)
	if err != nil || len(c.Fields) != 3 || c.Fields[1].Type != Compressed || c.Fields[2].Name != FCompressionAlgorithm {
		t.Fatalf("compress: %v %+v", err, c)
	}

	p, err = Parse([]byte(libTraditional))
	if err != nil {
		t.Fatal(err)
	}
	inner, err := Decompress(p.Msg)
	if err != nil {
		t.Fatal(err)
	}
	want := &Message{}
	want.Add("t", "x")
	want.Fields = append(want.Fields, Field{Name: "s", Type: Struct, Child: child})
	if !equalMsg(inner, want) {
		t.Fatalf("decompress: %+v", inner)
	}
	m.Fields[1].Type = Struct
	tc, err := Compress(m, 1, true)
	if err != nil || len(tc.Fields) != 2 || tc.Fields[0].Name != FCompressedPayload || tc.Fields[1].Name != FCompressionAlgorithm {
		t.Fatalf("traditional compress: %v %+v", err, tc)
	}
}

func TestCompression(t *testing.T) {
	k := mustKeys(t, []byte("auth 1\n1 sha1 s\n"))
	child := &Message{}
	for i := range 300 {
		child.Add("k"+itoa(i), strings.Repeat("v", 20))
	}
	m := statusMessage()
	m.Fields = append(m.Fields, Field{Name: "cib", Type: Uncompress, Child: child})

	// Field compression: the Uncompress struct becomes a Compressed field.
	c, err := Compress(m, DefaultCompressionThreshold, false)
	if err != nil {
		t.Fatal(err)
	}
	f := &c.Fields[len(c.Fields)-2]
	if f.Type != Compressed || len(f.Value) == 0 || m.Fields[len(m.Fields)-1].Type != Uncompress {
		t.Fatalf("field compression: %+v", f)
	}
	pkt, err := Encode(c, k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(pkt, k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := got.Fields[len(got.Fields)-3].Expand()
	if err != nil || !equalMsg(back, child) {
		t.Fatalf("expand: %v", err)
	}

	// Traditional compression: the whole message in one payload.
	signed := m.Clone()
	signed.Fields[len(signed.Fields)-1].Type = Struct
	if err := Sign(signed, k); err != nil {
		t.Fatal(err)
	}
	tc, err := Compress(signed, DefaultCompressionThreshold, true)
	if err != nil || !tc.IsCompressed() {
		t.Fatalf("traditional: %v", err)
	}
	pkt, err = AppendNetstring(nil, tc)
	if err != nil {
		t.Fatal(err)
	}
	sig := k.Sign(pkt)
	pkt = append(pkt, []byte(itoa(len(sig))+":"+sig+",")...)
	got, err = Decode(pkt, k)
	if err != nil || !equalMsg(got, signed) {
		t.Fatalf("traditional decode: %v", err)
	}

	// Small messages are left alone.
	if s, _ := Compress(statusMessage(), DefaultCompressionThreshold, true); s.IsCompressed() {
		t.Fatal("small message compressed")
	}
	// A payload that does not inflate.
	bad := &Message{}
	bad.Add(FCompressionAlgorithm, "zlib")
	bad.AddBinary(FCompressedPayload, []byte("not zlib"))
	if _, err := Decompress(bad); ReasonOf(err) != DropBadCompression {
		t.Fatalf("bad payload: %v", err)
	}
}

func TestDropReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range append([]DropReason{Accepted}, Reasons()...) {
		s := r.String()
		if s == "" || strings.HasPrefix(s, "DropReason(") || seen[s] {
			t.Errorf("reason %d named %q", r, s)
		}
		seen[s] = true
	}
	if DropBadSignature.String() != "bad-signature" || DropUnknownKey.String() != "unknown-key-index" {
		t.Error("reason names changed: the daemon's counters and logs use them")
	}
}

// TestLinearTime: adversarial inputs cost time in proportion to their
// size. Each shape is parsed at about 1/16 of MaxMessage and at
// MaxMessage: a linear decoder takes about 16x as long for the large one,
// a quadratic one about 256x. The bound is 40x with no absolute slack.
// Timings are the minimum of several interleaved runs, and a shape fails
// only when three separate measurements all exceed the bound, so a
// loaded machine does not fail it while a quadratic step always does.
// Allocated bytes must grow linearly too (that measure is exact).
func TestLinearTime(t *testing.T) {
	shapes := map[string]func(n int) []byte{
		"many fields": func(n int) []byte {
			return []byte("###\n" + strings.Repeat("6:(0)a=1,", n/9) + "%%%\n")
		},
		"long list": func(n int) []byte {
			l := "(3)l=" + strings.Repeat("1:x,", n/4)
			return []byte("###\n" + itoa(len(l)) + ":" + l + ",")
		},
		"unterminated classic": func(n int) []byte {
			return []byte(">>>\n" + strings.Repeat("a=1\n", n/4))
		},
		"classic fields": func(n int) []byte {
			return []byte(">>>\n" + strings.Repeat("a=1\n", n/4) + "<<<\n")
		},
		"structs": func(n int) []byte {
			s := "(2)s=###\n%%%\n"
			s = itoa(len(s)) + ":" + s + ","
			return []byte("###\n" + strings.Repeat(s, n/len(s)) + "%%%\n")
		},
	}
	for name, gen := range shapes {
		large := gen(MaxMessage - 64)
		if len(large) > MaxMessage {
			t.Fatalf("%s: generator made %d bytes, over MaxMessage", name, len(large))
		}
		lineartest.Check(t, name, gen((MaxMessage-64)/16), large, func(b []byte) { Parse(b) })
	}
}

// statusMessage is a status heartbeat as heartbeat 3.0.6 sends it.
func statusMessage() *Message {
	m := &Message{}
	m.Add(FType, "status")
	m.Add(FStatus, "active")
	m.Add(FDeadTime, "2710")
	m.Add(FProtocol, "1")
	m.Add(FOrig, "hb1")
	m.AddBinary(FOrigUUID, []byte("\xa5\xe5\x14Sf\xa7I\xcf\xbe\x0a\x0b\xc5\x97\xc8\xddK"))
	m.Add(FSeq, "2a")
	m.Add(FHg, "6b03b6a0")
	m.Add(FTime, "6b03b69f")
	m.Add(FLoad, "0.85 0.61 0.32 2/98 40")
	m.Add(FTTL, "3")
	return m
}
