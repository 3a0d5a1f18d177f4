package wire

import (
	"bytes"
	"compress/zlib"
	"io"
)

// Names heartbeat's compression uses.
const (
	// FCompressedPayload holds the whole compressed message when
	// "traditional_compression yes" is in effect (a binary field).
	FCompressedPayload = "_compressed_payload"
	// FCompressionAlgorithm names the plugin ("zlib").
	FCompressionAlgorithm = "_compression_algorithm"
	// DefaultCompressionThreshold is ha.cf "compression_threshold 2" (KB).
	DefaultCompressionThreshold = 2 * 1024
)

// compressChild returns the zlib stream of child's netstring form, the
// value of a Compressed field.
func compressChild(child *Message, depth int) ([]byte, error) {
	ns, err := appendNetstring(nil, child, depth+1)
	if err != nil {
		return nil, err
	}
	return zlibCompress(ns), nil
}

func zlibCompress(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zlibInflate(b []byte) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fail(DropBadCompression, 0, "not a zlib stream: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxUncompressed+1))
	if err != nil {
		return nil, fail(DropBadCompression, 0, "zlib: %v", err)
	}
	if len(out) > MaxUncompressed {
		return nil, fail(DropTooLarge, 0, "inflates beyond %d bytes", MaxUncompressed)
	}
	return out, nil
}

// Expand returns the message a Compressed field holds (its Child when
// already expanded). Heartbeat expands such fields only when they are
// read, so Decode leaves them as they came.
func (f *Field) Expand() (*Message, error) {
	if f.Child != nil {
		return f.Child, nil
	}
	if f.Type != Compressed {
		return nil, fail(DropBadFieldType, 0, "field %q is not compressed", f.Name)
	}
	raw, err := zlibInflate(f.Value)
	if err != nil {
		return nil, err
	}
	m, end, err := decodeNetstring(raw, 0, 1)
	if err != nil {
		return nil, err
	}
	if end != len(raw) {
		return nil, fail(DropMalformed, end, "bytes after the compressed struct")
	}
	return m, nil
}

// IsCompressed reports whether m is a whole compressed message
// (traditional compression): it carries FCompressedPayload.
func (m *Message) IsCompressed() bool {
	_, ok := m.GetBytes(FCompressedPayload)
	return ok
}

// Decompress returns the message a traditionally compressed message
// carries, or m itself when it is not compressed.
func Decompress(m *Message) (*Message, error) {
	payload, ok := m.GetBytes(FCompressedPayload)
	if !ok {
		return m, nil
	}
	if alg := m.Value(FCompressionAlgorithm); alg != "" && alg != "zlib" {
		return nil, fail(DropBadCompression, 0, "compression %q is not supported", alg)
	}
	raw, err := zlibInflate(payload)
	if err != nil {
		return nil, err
	}
	inner, end, err := decodeNetstring(raw, 0, 0)
	if err != nil {
		return nil, err
	}
	if end != len(raw) {
		return nil, fail(DropMalformed, end, "bytes after the compressed message")
	}
	return inner, nil
}

// Compress applies heartbeat's compression to an outgoing message, as its
// message library does (checked with libplumb and its zlib plugin):
//
//   - traditional (ha.cf "traditional_compression yes"): when the netstring
//     form is longer than threshold bytes, the whole message is replaced by
//     a binary FCompressedPayload (zlib of that netstring form) followed by
//     FCompressionAlgorithm=zlib;
//   - otherwise every Uncompress field (a struct marked for compression)
//     becomes a Compressed field holding the zlib stream of the struct's
//     netstring form, whatever the size, and FCompressionAlgorithm=zlib is
//     appended to the message.
//
// Messages needing neither are returned as they are; m is not modified.
// Our zlib stream decodes anywhere but need not be byte-identical to C
// zlib's.
func Compress(m *Message, threshold int, traditional bool) (*Message, error) {
	if traditional {
		ns, err := AppendNetstring(nil, m)
		if err != nil {
			return nil, err
		}
		if len(ns) <= threshold {
			return m, nil
		}
		out := &Message{}
		out.AddBinary(FCompressedPayload, zlibCompress(ns))
		out.Add(FCompressionAlgorithm, "zlib")
		return out, nil
	}
	out := m
	for i := range m.Fields {
		if m.Fields[i].Type != Uncompress {
			continue
		}
		if out == m {
			out = &Message{Fields: append([]Field(nil), m.Fields...)}
		}
		child := m.Fields[i].Child
		if child == nil {
			child = &Message{}
		}
		z, err := compressChild(child, 0)
		if err != nil {
			return nil, err
		}
		out.Fields[i] = Field{Name: m.Fields[i].Name, Type: Compressed, Value: z}
	}
	if out != m {
		if _, ok := out.Get(FCompressionAlgorithm); !ok {
			out.Add(FCompressionAlgorithm, "zlib")
		}
	}
	return out, nil
}
