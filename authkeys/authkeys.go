// Package authkeys reads heartbeat's authkeys file and signs and verifies
// messages with its keys (crc, md5, sha1), as heartbeat 3.0.6 does. It is
// pure except for Load, which reads the file.
//
//	Load(path) (*Keys, diag.List)         // file-mode rule, then Parse
//	Parse(data, path) (*Keys, diag.List)  // heartbeat's line rules; nil Keys on error
//	(*Keys).Sign(data) string             // "N HEX" with the active key
//	(*Keys).AppendSign(dst, data) []byte
//	(*Keys).Verify(data, sig) error       // with the key sig names: nil, ErrMalformed,
//	(*Keys).VerifyBytes(data, sig) error  //   ErrUnknownKey, ErrBadSignature, ErrNoKeys
//	(*Keys).ActiveKey() (Key, bool)
//	Key.Sum(data) string, Key.AppendSum(dst, data) []byte
//	CRC32(data) uint32
//
// Digests are what heartbeat prints: HMAC-SHA1 and HMAC-MD5 keyed with
// the secret, in lower-case hex; for crc a 32-bit CRC (polynomial
// 0x04C11DB7, MSB first, initial value 0, complemented) printed in hex
// without leading zeros. Checked against every packet of the captures of
// real heartbeat 3.0.6 clusters (hb/wire golden tests).
package authkeys

// Method is an authentication method named in authkeys.
type Method string

// The methods heartbeat 3.0.6 ships.
const (
	CRC  Method = "crc"
	MD5  Method = "md5"
	SHA1 Method = "sha1"
)

// Key is one "N method [secret]" line.
type Key struct {
	Index  int
	Method Method
	Secret string
	Line   int // line number in the file, for messages
}

// Keys is a parsed authkeys file: the active index ("auth N") and every
// configured key. Messages are signed with the active key and verified with
// whichever key their index names, so keys can be rolled over.
type Keys struct {
	Active     int
	ActiveLine int
	Keys       map[int]Key
}
