package daemon

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// DropReason says why the runtime dropped a received packet.
type DropReason int

// Drop reasons the runtime counts.
const (
	DropMalformed DropReason = iota + 1 // not a heartbeat message
	DropBadAuth                         // signature missing, unknown key or wrong
)

func (d DropReason) String() string {
	switch d {
	case DropMalformed:
		return "malformed"
	case DropBadAuth:
		return "bad-auth"
	}
	return "unknown"
}

// dropError is a decode failure with its reason.
type dropError struct {
	Reason DropReason
	Err    error
}

func (e *dropError) Error() string { return e.Reason.String() + ": " + e.Err.Error() }
func (e *dropError) Unwrap() error { return e.Err }

func malformed(format string, a ...any) error {
	return &dropError{DropMalformed, fmt.Errorf(format, a...)}
}

// netstringCodec is heartbeat's UDP message form: "###\n", one netstring
// "(T)name=value" per field, the last field auth="N HEX" signing the
// classic text of the fields before it, "%%%\n", then a netstring holding
// a second signature over everything from "###\n" to "%%%\n".
type netstringCodec struct {
	keys *authkeys.Keys
}

func (c *netstringCodec) SetKeys(k *authkeys.Keys) { c.keys = k }

// classicText is the text heartbeat's auth field signs: "name=value\n"
// per string field, "(1)name=<base64>\n" per binary field.
func classicText(dst []byte, fields []wire.Field) []byte {
	for _, f := range fields {
		if f.Type == wire.Binary {
			dst = append(dst, "(1)"...)
			dst = append(dst, f.Name...)
			dst = append(dst, '=')
			dst = base64.StdEncoding.AppendEncode(dst, f.Value)
		} else {
			dst = append(dst, f.Name...)
			dst = append(dst, '=')
			dst = append(dst, f.Value...)
		}
		dst = append(dst, '\n')
	}
	return dst
}

func appendNetstring(dst []byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, ':')
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return append(dst, ',')
}

func (c *netstringCodec) Encode(m *wire.Message, _ int) ([]byte, error) {
	if c.keys == nil {
		return nil, authkeys.ErrNoKeys
	}
	var fields []wire.Field
	for _, f := range m.Fields {
		if f.Name == wire.FAuth {
			continue
		}
		if f.Type != wire.String && f.Type != wire.Binary {
			return nil, fmt.Errorf("field %s: type %d not supported", f.Name, f.Type)
		}
		fields = append(fields, f)
	}
	auth := c.keys.Sign(classicText(nil, fields))
	b := []byte("###\n")
	for _, f := range fields {
		b = appendNetstring(b, []byte("("+strconv.Itoa(int(f.Type))+")"+f.Name+"="), f.Value)
	}
	b = appendNetstring(b, []byte("(0)auth="), []byte(auth))
	b = append(b, "%%%\n"...)
	return appendNetstring(b, []byte(c.keys.Sign(b))), nil
}

// readNetstring reads "<len>:<bytes>," from b.
func readNetstring(b []byte) (body, rest []byte, err error) {
	i := bytes.IndexByte(b, ':')
	if i <= 0 || i > 7 {
		return nil, nil, malformed("bad netstring length")
	}
	n, perr := strconv.Atoi(string(b[:i]))
	if perr != nil || n < 0 || i+1+n >= len(b) || b[i+1+n] != ',' {
		return nil, nil, malformed("bad netstring")
	}
	return b[i+1 : i+1+n], b[i+2+n:], nil
}

func (c *netstringCodec) Decode(b []byte, _ int) (*wire.Message, error) {
	if !bytes.HasPrefix(b, []byte("###\n")) {
		return nil, malformed("not a netstring message")
	}
	rest := b[4:]
	m := &wire.Message{}
	var authSig []byte
	for {
		if bytes.HasPrefix(rest, []byte("%%%\n")) {
			rest = rest[4:]
			break
		}
		body, r, err := readNetstring(rest)
		if err != nil {
			return nil, err
		}
		rest = r
		if len(body) < 4 || body[0] != '(' || body[2] != ')' {
			return nil, malformed("bad field")
		}
		eq := bytes.IndexByte(body, '=')
		if eq < 4 {
			return nil, malformed("bad field name")
		}
		name, val := string(body[3:eq]), body[eq+1:]
		switch body[1] {
		case '0':
			if name == wire.FAuth {
				authSig = val
				continue
			}
			m.Fields = append(m.Fields, wire.Field{Name: name, Type: wire.String, Value: append([]byte(nil), val...)})
		case '1':
			m.Fields = append(m.Fields, wire.Field{Name: name, Type: wire.Binary, Value: append([]byte(nil), val...)})
		default:
			return nil, malformed("field %s: type %c not supported", name, body[1])
		}
	}
	signed := b[:len(b)-len(rest)]
	sig, tail, err := readNetstring(rest)
	if err != nil || len(tail) != 0 {
		return nil, malformed("bad trailing signature")
	}
	if c.keys == nil {
		return nil, &dropError{DropBadAuth, authkeys.ErrNoKeys}
	}
	if err := c.keys.VerifyBytes(signed, sig); err != nil {
		return nil, &dropError{DropBadAuth, err}
	}
	if authSig == nil {
		return nil, &dropError{DropBadAuth, errors.New("no auth field")}
	}
	if err := c.keys.VerifyBytes(classicText(nil, m.Fields), authSig); err != nil {
		return nil, &dropError{DropBadAuth, err}
	}
	return m, nil
}
