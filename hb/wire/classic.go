package wire

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
)

// sep is the line separator of the classic form at a nesting depth: '\n'
// at the top, then 0x14, 0x15, ... for nested structs (what heartbeat's
// library writes, checked with its libplumb).
func sep(depth int) byte {
	if depth == 0 {
		return '\n'
	}
	return byte(0x13 + depth)
}

// nlEscape replaces '\n' inside a string value in the classic form.
const nlEscape = 0x13

// EncodeClassic returns the classic text form of m, as heartbeat writes it
// on serial links (and on UDP with "msgfmt classic" when a message has
// only string fields): ">>>\n", one "name=value\n" per field (non-string
// fields as "(T)name=value", binary and compressed values in base64,
// structs nested on one line, lists as netstrings), "<<<\n". m is written
// as it is: sign it first (Sign) when the peer checks signatures.
func EncodeClassic(m *Message) ([]byte, error) {
	return AppendClassic(nil, m)
}

// AppendClassic appends EncodeClassic(m) to dst.
func AppendClassic(dst []byte, m *Message) ([]byte, error) {
	dst = append(dst, clStart...)
	dst = append(dst, '\n')
	dst, err := appendClassicFields(dst, m, 0, false)
	if err != nil {
		return dst, err
	}
	dst = append(dst, clEnd...)
	return append(dst, '\n'), nil
}

// AppendAuthText appends the text heartbeat signs into the auth field: the
// classic form of every field except auth, without ">>>"/"<<<".
func AppendAuthText(dst []byte, m *Message) ([]byte, error) {
	return appendClassicFields(dst, m, 0, true)
}

func appendClassicFields(dst []byte, m *Message, depth int, skipAuth bool) ([]byte, error) {
	if depth > MaxDepth {
		return dst, fail(DropTooDeep, 0, "structs nested deeper than %d", MaxDepth)
	}
	s := sep(depth)
	for i := range m.Fields {
		f := &m.Fields[i]
		if skipAuth && f.Name == FAuth {
			continue
		}
		if f.Name == "" || strings.ContainsAny(f.Name, "=\n") {
			return dst, fail(DropMalformed, 0, "field name %q cannot be written", f.Name)
		}
		if f.Type != String {
			dst = append(dst, '(', '0'+byte(f.Type), ')')
		}
		dst = append(dst, f.Name...)
		dst = append(dst, '=')
		switch f.Type {
		case String:
			for _, c := range f.Value {
				if c == '\n' {
					c = nlEscape
				}
				dst = append(dst, c)
			}
		case Binary, Compressed:
			v := f.Value
			if f.Type == Compressed && v == nil && f.Child != nil {
				z, err := compressChild(f.Child, depth)
				if err != nil {
					return dst, err
				}
				v = z
			}
			dst = base64.StdEncoding.AppendEncode(dst, v)
		case Struct:
			child := f.Child
			if child == nil {
				child = &Message{}
			}
			cs := sep(depth + 1)
			dst = append(dst, clStart...)
			dst = append(dst, cs)
			var err error
			dst, err = appendClassicFields(dst, child, depth+1, false)
			if err != nil {
				return dst, err
			}
			dst = append(dst, clEnd...)
			dst = append(dst, cs)
		case List:
			for _, e := range f.List {
				dst = strconv.AppendInt(dst, int64(len(e)), 10)
				dst = append(dst, ':')
				dst = append(dst, e...)
				dst = append(dst, ',')
			}
		default:
			return dst, fail(DropBadFieldType, 0, "field %q of type %d has no classic form", f.Name, f.Type)
		}
		dst = append(dst, s)
	}
	return dst, nil
}

// DecodeClassic parses one classic-form message at the start of b
// (">>>\n" ... "<<<\n") and returns it with the number of bytes used. It
// does not check the auth field; Verify does.
func DecodeClassic(b []byte) (*Message, int, error) {
	if len(b) > MaxMessage {
		// Only the message itself must fit; look no further than that.
		m, n, err := decodeClassic(b[:MaxMessage], 0, 0)
		if ReasonOf(err) == DropTruncated {
			err = fail(DropTooLarge, MaxMessage, "no \"<<<\" within %d bytes", MaxMessage)
		}
		return m, n, err
	}
	return decodeClassic(b, 0, 0)
}

func decodeClassic(b []byte, base, depth int) (*Message, int, error) {
	if depth > MaxDepth {
		return nil, 0, fail(DropTooDeep, base, "structs nested deeper than %d", MaxDepth)
	}
	s := sep(depth)
	if len(b) < len(clStart)+1 {
		if bytes.HasPrefix([]byte(clStart+string(s)), b) {
			return nil, 0, fail(DropTruncated, base, "input ends inside \">>>\"")
		}
		return nil, 0, fail(DropNotMessage, base, "no \">>>\" start")
	}
	if string(b[:len(clStart)]) != clStart || b[len(clStart)] != s {
		return nil, 0, fail(DropNotMessage, base, "no \">>>\" start")
	}
	m := &Message{}
	off := len(clStart) + 1
	for {
		nl := bytes.IndexByte(b[off:], s)
		if nl < 0 {
			return nil, 0, fail(DropTruncated, base+off, "no \"<<<\" end")
		}
		line := b[off : off+nl]
		lineOff := base + off
		off += nl + 1
		if string(line) == clEnd {
			return m, off, nil
		}
		if len(line) == 0 {
			continue // heartbeat skips empty lines
		}
		if len(m.Fields) >= MaxFields {
			return nil, 0, fail(DropTooManyFields, lineOff, "more than %d fields", MaxFields)
		}
		f, err := decodeClassicField(line, lineOff, depth)
		if err != nil {
			return nil, 0, err
		}
		m.Fields = append(m.Fields, f)
	}
}

func decodeClassicField(line []byte, off, depth int) (Field, error) {
	t := String
	if len(line) >= 3 && line[0] == '(' && line[2] == ')' {
		// "(0)" is refused too: strings carry no type prefix.
		if line[1] < '1' || line[1] > '5' {
			return Field{}, fail(DropBadFieldType, off, "field type %q", line[1])
		}
		t = FieldType(line[1] - '0')
		line = line[3:]
		off += 3
	}
	eq := bytes.IndexByte(line, '=')
	if eq < 0 {
		return Field{}, fail(DropMalformed, off, "line without '='")
	}
	if eq == 0 {
		return Field{}, fail(DropMalformed, off, "field with an empty name")
	}
	f := Field{Name: internName(line[:eq]), Type: t}
	val := line[eq+1:]
	voff := off + eq + 1
	switch t {
	case String:
		if bytes.IndexByte(val, 0) >= 0 {
			return Field{}, fail(DropMalformed, voff, "NUL byte in string field %q", f.Name)
		}
		v := make([]byte, len(val))
		for i, c := range val {
			if c == nlEscape {
				c = '\n'
			}
			v[i] = c
		}
		f.Value = v
	case Binary, Compressed:
		v, err := base64.StdEncoding.AppendDecode(nil, val)
		if err != nil {
			return Field{}, fail(DropMalformed, voff, "bad base64 in field %q", f.Name)
		}
		f.Value = v
	case Struct:
		child, end, err := decodeClassic(val, voff, depth+1)
		if err != nil {
			return Field{}, err
		}
		if end != len(val) {
			return Field{}, fail(DropMalformed, voff+end, "bytes after the end of struct %q", f.Name)
		}
		f.Child = child
	case List:
		l, err := decodeList(val, voff)
		if err != nil {
			return Field{}, err
		}
		f.List = l
	default:
		return Field{}, fail(DropBadFieldType, off, "field type %d has no classic form", t)
	}
	return f, nil
}
