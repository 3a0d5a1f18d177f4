// Package wire holds heartbeat's message model and its two wire forms,
// byte-compatible with heartbeat 3.0.6. It is pure: no sockets, no clock.
//
// # Model
//
// A Message is an ordered list of named, typed fields, as heartbeat's
// ha_msg is: order is significant (signatures cover the bytes in order),
// and names may repeat (heartbeat keeps duplicates, so Parse does too;
// Get returns the first). Field types are numbered as on the wire: String
// (0), Binary (1, e.g. the 16-byte srcuuid), Struct (2, a nested
// Message), List (3, strings), Compressed (4, a zlib-compressed nested
// message, kept raw until Field.Expand) and Uncompress (5, a struct to be
// compressed on send). Values are bytes: heartbeat does not require
// UTF-8 and neither do we.
//
// # Forms
//
// Netstring form, on UDP (and ICMP echoes of the ping media):
//
//	###\n  LEN:(T)name=value,  ...  %%%\n  LEN:N HEX,
//
// A struct's value is its own "###\n...%%%\n" (no trailer), a list's the
// netstrings of its elements. The last netstring is the trailer: the
// active key's signature over the bytes from "###\n" through "%%%\n".
//
// Classic form, on serial links (and on UDP when msgfmt is classic and a
// message has only string fields):
//
//	>>>\n  name=value\n  (1)name=BASE64\n  ...  <<<\n
//
// Binary and compressed values are base64 (standard, padded); a newline
// inside a string value is written as 0x13; a struct is written on one
// line as ">>>"+S+fields+"<<<"+S where the separator S is 0x14 at the
// first nesting level, 0x15 at the second, and so on; lists as netstrings.
// Heartbeat skips empty lines and refuses an explicit "(0)" prefix.
//
// Both forms carry the auth field, "auth=N HEX": the signature (key N of
// authkeys) of the classic text of every other field ("name=value\n"
// each, binary as "(1)name=BASE64\n", no ">>>"/"<<<"). Heartbeat checks
// the trailer first, then the auth field; a receiver verifies each with
// whatever key index the signature names, so keys can be rolled over.
// Digests: authkeys.Key.Sum.
//
// # API
//
//	Encode(m, k) ([]byte, error)            // signed UDP packet: auth field set, trailer added
//	AppendEncode(dst, m, k) ([]byte, error) // the same, appending to dst
//	Decode(b, k) (*Message, error)          // parse and verify both signatures (Error.Reason says why not)
//	Parse(b) (*Packet, error)               // parse without verifying (dissector), either form
//	(*Packet).Verify(k) Verdicts            // per-signature verdicts: Field, Trailer
//	VerifyField(m, k) DropReason            // the auth field alone (serial)
//	Sign(m, k) error                        // set m's auth field in place
//	EncodeClassic(m), AppendClassic(dst, m) // classic form of m as it is (Sign it first)
//	DecodeClassic(b) (*Message, int, error) // one classic message at the start of b, and its length
//	AppendNetstring(dst, m) ([]byte, error) // unsigned netstring form ("###\n".."%%%\n")
//	AppendAuthText(dst, m) ([]byte, error)  // the text the auth field signs
//	Compress(m, threshold, traditional)     // heartbeat's compression of an outgoing message
//	Decompress(m), (*Field).Expand()        // the reverse
//	ReasonOf(err) DropReason                // Accepted for nil
//
// Compression, as heartbeat's library and zlib plugin do it (recorded
// vectors in codec_test.go): a struct marked for compression is sent as
// "(4)name=ZLIB" (zlib of the struct's netstring form), with
// "_compression_algorithm=zlib" appended to the message; under
// traditional_compression a message over the threshold becomes
// "(1)_compressed_payload=ZLIB" (zlib of its whole netstring form, auth
// field inside) followed by "_compression_algorithm=zlib". Decode expands
// the latter; Compressed fields stay raw until Field.Expand, as heartbeat
// expands them only when read. v1 (haresources) clusters never compress.
//
// Retransmissions: heartbeat answers a retransmit request by sending the
// original packet again, byte for byte (same ts, same signatures); keep
// the encoded bytes rather than re-encoding.
//
// # Limits and refusals
//
// Every refusal is an *Error with a DropReason (too-large, not-a-message,
// truncated, malformed, bad-field-type, too-deep, too-many-fields,
// bad-compression, no-auth, bad-auth-string, unknown-key-index,
// bad-signature) for the daemon to count. MaxMessage is heartbeat's
// MAXMSG (256 KiB), MaxUncompressed its MAXUNCOMPRESSED (2 MiB); structs
// nest at most MaxDepth levels. What heartbeat's own library (libplumb)
// accepts we accept, checked case by case in codec_test.go: duplicate
// field names (of the same or different types), non-UTF-8 names and
// values, '=' in values, blanks and newlines in names, leading zeros in
// netstring lengths, junk between a length and its ':' ("6j:"), bytes
// after the trailer, a list without its last
// ','. What it refuses, or asserts on (which would kill the C daemon), we
// refuse: a NUL in a string, an empty name, a field without '=', an
// unknown or missing "(T)", an empty list, a missing "%%%\n", a missing
// or unreadable trailer. Parse costs time linear in its input
// (TestLinearTime) and never panics (FuzzParse).
//
// The real daemon's receiving side agrees (TestRealHeartbeatAccepts sends
// it our packets in a namespace): it takes a status with the auth field
// first, with a duplicated field, or with non-UTF-8 bytes, and refuses
// upper-case hex digests (the comparison is exact) and a bad trailer,
// logging "authtoken does not match, authtoken=SENT, authstr=COMPUTED"
// and a dump of the message.
//
// # Performance
//
// A status heartbeat (12 fields, about 240 bytes), go test -bench . -cpu 1
// ./hb/wire, on a 2-core x86-64 VM with SHA-NI that ~7 engineers shared
// (load 10-20): wall-clock ns/op swung 2-5x with the load, so the figures
// are CPU time per message from -cpuprofile (samples / iterations):
//
//	encode+sign     crc 1.1 µs   md5 2.0 µs   sha1 1.5 µs   1 alloc (64 B)
//	decode+verify   crc 1.5 µs   md5 3.4 µs   sha1 2.5 µs   6 allocs (1.6-1.7 KiB)
//
// that is about 400,000 sha1-signed status messages per second per core
// each way (the best wall-clock runs: encode+sign sha1 1.8 µs, decode+verify
// crc 1.6 µs). Each side computes both signatures: two HMACs per message.
package wire
