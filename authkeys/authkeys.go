// Package authkeys reads heartbeat's authkeys file and signs and verifies
// messages with its keys (crc, md5, sha1), as heartbeat 3.0.6 does.
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
