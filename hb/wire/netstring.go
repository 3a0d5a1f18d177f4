package wire

import (
	"bytes"
	"strconv"
	"strings"
)

// Framing of the two wire forms.
const (
	nsStart = "###\n"
	nsEnd   = "%%%\n"
	clStart = ">>>"
	clEnd   = "<<<"
)

// Limits. Heartbeat sizes its receive buffers with MAXMSG (256 KiB) and
// caps a decompressed message at MAXUNCOMPRESSED (2 MiB); it has no field
// count limit of its own (a field takes at least 7 bytes, so MaxMessage
// bounds it), and nests structs a few levels at most.
const (
	MaxMessage      = 256 * 1024
	MaxUncompressed = 2 * 1024 * 1024
	MaxFields       = MaxUncompressed / 7
	MaxDepth        = 10
)

// AppendNetstring appends the netstring form of m without any signature
// trailer: "###\n", one "LEN:(T)name=value," per field, "%%%\n". It is
// the form of a nested struct, and the signed part of a UDP packet.
func AppendNetstring(dst []byte, m *Message) ([]byte, error) {
	return appendNetstring(dst, m, 0)
}

func appendNetstring(dst []byte, m *Message, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, fail(DropTooDeep, 0, "structs nested deeper than %d", MaxDepth)
	}
	dst = append(dst, nsStart...)
	var err error
	for i := range m.Fields {
		dst, err = appendNSField(dst, &m.Fields[i], depth)
		if err != nil {
			return dst, err
		}
	}
	return append(dst, nsEnd...), nil
}

func appendNSField(dst []byte, f *Field, depth int) ([]byte, error) {
	if f.Name == "" {
		return dst, fail(DropMalformed, 0, "field with an empty name")
	}
	if strings.IndexByte(f.Name, '=') >= 0 {
		return dst, fail(DropMalformed, 0, "field name %q holds '='", f.Name)
	}
	if f.Type > Uncompress {
		return dst, fail(DropBadFieldType, 0, "field %q has type %d", f.Name, f.Type)
	}
	// Write the payload after a reserved length prefix, then move it into
	// place once its length is known (one memmove, no temporary buffer).
	const reserve = 8
	start := len(dst)
	dst = append(dst, "        "...)
	body := len(dst)
	dst = append(dst, '(', '0'+byte(f.Type), ')')
	dst = append(dst, f.Name...)
	dst = append(dst, '=')
	var err error
	switch f.Type {
	case String, Binary, Compressed:
		if f.Type == Compressed && f.Value == nil && f.Child != nil {
			var z []byte
			z, err = compressChild(f.Child, depth)
			dst = append(dst, z...)
		} else {
			dst = append(dst, f.Value...)
		}
	case Struct, Uncompress:
		child := f.Child
		if child == nil {
			child = &Message{}
		}
		dst, err = appendNetstring(dst, child, depth+1)
	case List:
		if len(f.List) == 0 {
			return dst, fail(DropMalformed, 0, "list field %q is empty (heartbeat refuses empty lists)", f.Name)
		}
		for _, s := range f.List {
			dst = strconv.AppendInt(dst, int64(len(s)), 10)
			dst = append(dst, ':')
			dst = append(dst, s...)
			dst = append(dst, ',')
		}
	}
	if err != nil {
		return dst, err
	}
	n := len(dst) - body
	var num [20]byte
	prefix := strconv.AppendInt(num[:0], int64(n), 10)
	prefix = append(prefix, ':')
	if len(prefix) == reserve {
		copy(dst[start:], prefix)
	} else if len(prefix) < reserve {
		shift := reserve - len(prefix)
		copy(dst[start+len(prefix):], dst[body:])
		dst = dst[:len(dst)-shift]
		copy(dst[start:], prefix)
	} else {
		grow := len(prefix) - reserve
		dst = append(dst, make([]byte, grow)...)
		copy(dst[body+grow:], dst[body:len(dst)-grow])
		copy(dst[start:], prefix)
	}
	return append(dst, ','), nil
}

// peel reads one netstring "LEN:data," at b[off:]. As heartbeat does, LEN
// is decimal digits (leading zeros allowed, no sign, no blank before).
func peel(b []byte, off int) (data []byte, next int, err error) {
	i := off
	n := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if n > MaxUncompressed {
			return nil, 0, fail(DropTooLarge, off, "netstring length too large")
		}
		n = n*10 + int(b[i]-'0')
		i++
	}
	if i == off {
		if i >= len(b) {
			return nil, 0, fail(DropTruncated, off, "input ends where a netstring should start")
		}
		return nil, 0, fail(DropMalformed, off, "netstring does not start with a length")
	}
	if i >= len(b) {
		return nil, 0, fail(DropTruncated, off, "input ends inside a netstring length")
	}
	if b[i] != ':' {
		// Heartbeat's reader skips other bytes up to the ':' ("6j:" reads
		// as "6:"), but not a blank or a ',' right after the digits.
		if isBlank(b[i]) || b[i] == ',' {
			return nil, 0, fail(DropMalformed, i, "netstring length not followed by ':'")
		}
		j := bytes.IndexByte(b[i:], ':')
		if j < 0 {
			return nil, 0, fail(DropTruncated, off, "input ends inside a netstring length")
		}
		i += j
	}
	i++
	if i+n >= len(b) {
		return nil, 0, fail(DropTruncated, off, "netstring of %d bytes runs past the end of the input", n)
	}
	if b[i+n] != ',' {
		return nil, 0, fail(DropMalformed, i+n, "netstring not terminated by ','")
	}
	return b[i : i+n], i + n + 1, nil
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// decodeNetstring parses "###\n fields %%%\n" at b[0:], returning the
// message and the offset just past "%%%\n". base is b's offset in the
// original input, for messages.
func decodeNetstring(b []byte, base, depth int) (*Message, int, error) {
	if depth > MaxDepth {
		return nil, 0, fail(DropTooDeep, base, "structs nested deeper than %d", MaxDepth)
	}
	if !bytes.HasPrefix(b, []byte(nsStart)) {
		if len(b) > 0 && len(b) < len(nsStart) && bytes.HasPrefix([]byte(nsStart), b) {
			return nil, 0, fail(DropTruncated, base, "input ends inside \"###\"")
		}
		return nil, 0, fail(DropNotMessage, base, "no \"###\" start")
	}
	m := &Message{Fields: make([]Field, 0, countFields(b))}
	off := len(nsStart)
	for {
		if off >= len(b) {
			return nil, 0, fail(DropTruncated, base+off, "no \"%%%%%%\" end")
		}
		if b[off] == '%' {
			if len(b)-off < len(nsEnd) {
				return nil, 0, fail(DropTruncated, base+off, "input ends inside \"%%%%%%\"")
			}
			if string(b[off:off+len(nsEnd)]) == nsEnd {
				return m, off + len(nsEnd), nil
			}
		}
		if len(m.Fields) >= MaxFields {
			return nil, 0, fail(DropTooManyFields, base+off, "more than %d fields", MaxFields)
		}
		data, next, err := peel(b, off)
		if err != nil {
			if e, ok := err.(*Error); ok {
				e.Offset += base
			}
			return nil, 0, err
		}
		f, err := decodeNSField(data, base+next-1-len(data), depth)
		if err != nil {
			return nil, 0, err
		}
		m.Fields = append(m.Fields, f)
		off = next
	}
}

// countFields estimates the number of fields, to size the slice once.
func countFields(b []byte) int {
	n := bytes.Count(b, []byte(",")) + 1
	if n > 64 {
		n = 64
	}
	return n
}

func decodeNSField(data []byte, off, depth int) (Field, error) {
	if len(data) < 4 || data[0] != '(' || data[2] != ')' {
		return Field{}, fail(DropMalformed, off, "field does not start with \"(T)\"")
	}
	if data[1] < '0' || data[1] > '5' {
		return Field{}, fail(DropBadFieldType, off, "field type %q", data[1])
	}
	t := FieldType(data[1] - '0')
	rest := data[3:]
	eq := bytes.IndexByte(rest, '=')
	if eq < 0 {
		return Field{}, fail(DropMalformed, off, "field without '='")
	}
	if eq == 0 {
		return Field{}, fail(DropMalformed, off, "field with an empty name")
	}
	f := Field{Name: internName(rest[:eq]), Type: t}
	// Cap the capacity: values share one buffer, and an append to one
	// must not overwrite the next.
	val := rest[eq+1 : len(rest) : len(rest)]
	voff := off + 3 + eq + 1
	switch t {
	case String:
		if bytes.IndexByte(val, 0) >= 0 {
			return Field{}, fail(DropMalformed, voff, "NUL byte in string field %q", f.Name)
		}
		f.Value = val
	case Binary:
		f.Value = val
	case Compressed:
		f.Value = val
	case Struct, Uncompress:
		child, end, err := decodeNetstring(val, voff, depth+1)
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
	}
	return f, nil
}

// decodeList reads the netstrings of a list value. As heartbeat does, it
// accepts a missing ',' after the last element.
func decodeList(val []byte, off int) ([]string, error) {
	if len(val) == 0 {
		return nil, fail(DropMalformed, off, "empty list")
	}
	var out []string
	i := 0
	for i < len(val) {
		data, next, err := peel(val, i)
		if err != nil {
			// Tolerate "LEN:data" ending exactly at the end of the value.
			if j := bytes.IndexByte(val[i:], ':'); j > 0 {
				n, aerr := strconv.Atoi(string(val[i : i+j]))
				if aerr == nil && n >= 0 && i+j+1+n == len(val) {
					out = append(out, string(val[i+j+1:]))
					return out, nil
				}
			}
			return nil, fail(DropMalformed, off+i, "bad list element")
		}
		out = append(out, string(data))
		i = next
	}
	return out, nil
}

// internName returns common field names without allocating.
func internName(b []byte) string {
	switch string(b) {
	case "t":
		return FType
	case "src":
		return FOrig
	case "srcuuid":
		return FOrigUUID
	case "dest":
		return FTo
	case "destuuid":
		return FToUUID
	case "seq":
		return FSeq
	case "hg":
		return FHg
	case "ts":
		return FTime
	case "ld":
		return FLoad
	case "ttl":
		return FTTL
	case "auth":
		return FAuth
	case "st":
		return FStatus
	case "dt":
		return FDeadTime
	case "protocol":
		return FProtocol
	case "firstseq":
		return FFirstSeq
	case "lastseq":
		return FLastSeq
	case "ackseq":
		return FAckSeq
	}
	return string(b)
}
