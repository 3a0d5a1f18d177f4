package wire

import (
	"errors"
	"strconv"
	"sync"

	"github.com/heartbeat-go/heartbeat/authkeys"
)

// Format is a wire form.
type Format uint8

// The two wire forms.
const (
	Netstring Format = iota // "###\n" ... "%%%\n" + signature trailer: UDP
	Classic                 // ">>>\n" ... "<<<\n": serial (and UDP with msgfmt classic)
)

func (f Format) String() string {
	if f == Classic {
		return "classic"
	}
	return "netstring"
}

// Packet is one parsed message with what its signatures cover.
type Packet struct {
	Msg    *Message
	Format Format
	// Signed is the span the netstring trailer signs ("###\n" through
	// "%%%\n"); nil in the classic form, which has no trailer.
	Signed []byte
	// Trailer is the netstring signature, "N HEX"; nil in the classic
	// form or when the packet has none.
	Trailer []byte
	// Len is the number of input bytes the packet used.
	Len int
}

// Parse decodes one packet in either form without checking signatures
// (for the dissector and for tests). Bytes after the packet are ignored,
// as heartbeat ignores them. Every value slice in the result is a copy,
// b may be reused.
func Parse(b []byte) (*Packet, error) {
	p := new(Packet)
	if err := parseInto(p, b); err != nil {
		return nil, err
	}
	return p, nil
}

func parseInto(p *Packet, b []byte) error {
	if len(b) > MaxMessage {
		return fail(DropTooLarge, MaxMessage, "packet of %d bytes, limit %d", len(b), MaxMessage)
	}
	if len(b) > 0 && b[0] == '>' {
		m, n, err := DecodeClassic(b)
		if err != nil {
			return err
		}
		*p = Packet{Msg: m, Format: Classic, Len: n}
		return nil
	}
	// One copy of the input: every field value slices into it.
	b = append(make([]byte, 0, len(b)), b...)
	m, end, err := decodeNetstring(b, 0, 0)
	if err != nil {
		return err
	}
	*p = Packet{Msg: m, Format: Netstring, Signed: b[:end], Len: end}
	if end == len(b) {
		return nil // no trailer: Verify reports DropNoAuth
	}
	sig, next, err := peel(b, end)
	if err != nil {
		// Not a trailer: Verify reports DropNoAuth, as heartbeat refuses
		// a netstring message whose signature it cannot read.
		return nil
	}
	p.Trailer = sig
	p.Len = next
	return nil
}

// Verdicts of a packet's two signatures.
type Verdicts struct {
	Field   DropReason // the auth field (Accepted when good)
	Trailer DropReason // the netstring trailer; Accepted in the classic form
}

// OK reports whether both signatures are good.
func (v Verdicts) OK() bool { return v.Field == Accepted && v.Trailer == Accepted }

// First returns the reason heartbeat would log first: the trailer is
// checked before the auth field.
func (v Verdicts) First() DropReason {
	if v.Trailer != Accepted {
		return v.Trailer
	}
	return v.Field
}

// Verify checks both signatures of p with k: the auth field over the
// classic text of the other fields, and (netstring form) the trailer over
// Signed. A traditionally compressed message has its auth field inside
// the compressed payload; Verify looks there.
func (p *Packet) Verify(k *authkeys.Keys) Verdicts {
	var v Verdicts
	if p.Format == Netstring {
		if p.Trailer == nil {
			v.Trailer = DropNoAuth
		} else {
			v.Trailer = reasonFor(k.VerifyBytes(p.Signed, p.Trailer))
		}
	}
	m := p.Msg
	if _, ok := m.Get(FAuth); !ok && m.IsCompressed() {
		inner, err := Decompress(m)
		if err != nil {
			v.Field = ReasonOf(err)
			return v
		}
		m = inner
	}
	v.Field = VerifyField(m, k)
	return v
}

// VerifyField checks m's auth field (the last one, if there are several)
// against the classic text of its other fields.
func VerifyField(m *Message, k *authkeys.Keys) DropReason {
	var sig []byte
	found := false
	for i := len(m.Fields) - 1; i >= 0; i-- {
		if m.Fields[i].Name == FAuth {
			sig, found = m.Fields[i].Value, true
			break
		}
	}
	if !found {
		return DropNoAuth
	}
	bp := getBuf()
	defer putBuf(bp)
	text, err := AppendAuthText((*bp)[:0], m)
	*bp = text
	if err != nil {
		return ReasonOf(err)
	}
	return reasonFor(k.VerifyBytes(text, sig))
}

func reasonFor(err error) DropReason {
	switch {
	case err == nil:
		return Accepted
	case errors.Is(err, authkeys.ErrMalformed):
		return DropBadAuthString
	case errors.Is(err, authkeys.ErrUnknownKey), errors.Is(err, authkeys.ErrNoKeys):
		return DropUnknownKey
	default:
		return DropBadSignature
	}
}

// Decode parses a UDP datagram (or one classic message) and checks its
// signatures with k, as heartbeat does before it looks at a message. On
// success it returns the message (expanded when it was traditionally
// compressed); otherwise an *Error whose Reason the daemon counts.
func Decode(b []byte, k *authkeys.Keys) (*Message, error) {
	var p Packet
	if err := parseInto(&p, b); err != nil {
		return nil, err
	}
	v := p.Verify(k)
	if r := v.First(); r != Accepted {
		return nil, fail(r, 0, "signature check failed")
	}
	if p.Msg.IsCompressed() {
		return Decompress(p.Msg)
	}
	return p.Msg, nil
}

// Sign sets m's auth field to k's signature of the classic text of m's
// other fields, as heartbeat does before sending: the first auth field is
// updated in place (other auth fields are dropped), or one is appended.
func Sign(m *Message, k *authkeys.Keys) error {
	if _, ok := k.ActiveKey(); !ok {
		return authkeys.ErrNoKeys
	}
	bp := getBuf()
	defer putBuf(bp)
	text, err := AppendAuthText((*bp)[:0], m)
	*bp = text
	if err != nil {
		return err
	}
	sig := k.AppendSign(make([]byte, 0, 48), text)
	placed := false
	out := m.Fields[:0]
	for _, f := range m.Fields {
		if f.Name == FAuth {
			if placed {
				continue
			}
			f = Field{Name: FAuth, Type: String, Value: sig}
			placed = true
		}
		out = append(out, f)
	}
	m.Fields = out
	if !placed {
		m.Fields = append(m.Fields, Field{Name: FAuth, Type: String, Value: sig})
	}
	return nil
}

// Encode returns the UDP packet heartbeat would send for m: the netstring
// form with the auth field set (see Sign; m itself is not modified) and
// the signature trailer. It fails when k has no active key, when a field
// cannot be written, or when the packet would exceed MaxMessage.
func Encode(m *Message, k *authkeys.Keys) ([]byte, error) {
	return AppendEncode(make([]byte, 0, 256), m, k)
}

// AppendEncode appends Encode(m, k) to dst.
func AppendEncode(dst []byte, m *Message, k *authkeys.Keys) ([]byte, error) {
	if _, ok := k.ActiveKey(); !ok {
		return dst, authkeys.ErrNoKeys
	}
	bp := getBuf()
	defer putBuf(bp)
	text, err := AppendAuthText((*bp)[:0], m)
	*bp = text
	if err != nil {
		return dst, err
	}
	var sigBuf [64]byte
	sig := k.AppendSign(sigBuf[:0], text)
	authField := Field{Name: FAuth, Type: String, Value: sig}

	start := len(dst)
	dst = append(dst, nsStart...)
	placed := false
	for i := range m.Fields {
		f := &m.Fields[i]
		if f.Name == FAuth {
			if placed {
				continue
			}
			f, placed = &authField, true
		}
		if dst, err = appendNSField(dst, f, 0); err != nil {
			return dst[:start], err
		}
	}
	if !placed {
		dst, _ = appendNSField(dst, &authField, 0)
	}
	dst = append(dst, nsEnd...)
	trailer := k.AppendSign(sigBuf[:0], dst[start:])
	dst = strconv.AppendInt(dst, int64(len(trailer)), 10)
	dst = append(dst, ':')
	dst = append(dst, trailer...)
	dst = append(dst, ',')
	if len(dst)-start > MaxMessage {
		return dst[:start], fail(DropTooLarge, 0, "packet of %d bytes, limit %d", len(dst)-start, MaxMessage)
	}
	return dst, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= 64*1024 {
		bufPool.Put(b)
	}
}
