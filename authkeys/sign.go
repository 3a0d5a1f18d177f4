package authkeys

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"strconv"
	"sync"
)

// Verification failures. The daemon counts them apart, so they are distinct
// sentinel errors; test with errors.Is.
var (
	// ErrMalformed: the signature is not "N HEX" (heartbeat: "Bad/invalid
	// auth string").
	ErrMalformed = errors.New("authkeys: malformed signature")
	// ErrUnknownKey: the signature names a key index this node has not
	// configured (heartbeat: "Invalid authentication type [N] in message!").
	ErrUnknownKey = errors.New("authkeys: unknown key index")
	// ErrBadSignature: the digest does not match the data.
	ErrBadSignature = errors.New("authkeys: bad signature")
	// ErrNoKeys: Sign or Verify was called on nil Keys or Keys without an
	// active key.
	ErrNoKeys = errors.New("authkeys: no active key")
)

// Sum returns the digest of data under this key as heartbeat prints it:
// lower-case hex of HMAC-SHA1 or HMAC-MD5 keyed with the secret (40 or 32
// digits), or for crc the CRC-32 value printed with %lx, i.e. without
// leading zeros.
func (k Key) Sum(data []byte) string {
	return string(k.AppendSum(make([]byte, 0, 40), data))
}

// AppendSum appends Sum(data) to dst and returns the extended slice.
func (k Key) AppendSum(dst, data []byte) []byte {
	switch k.Method {
	case CRC:
		return strconv.AppendUint(dst, uint64(CRC32(data)), 16)
	case MD5, SHA1:
		h := getHMAC(k.Method, k.Secret)
		h.Write(data)
		// Sum appends the raw digest to dst (no allocation when dst has
		// room); move it aside and append its hex form in its place.
		n := len(dst)
		dst = h.Sum(dst)
		putHMAC(k.Method, k.Secret, h)
		var raw [sha1.Size]byte
		c := copy(raw[:], dst[n:])
		return hex.AppendEncode(dst[:n], raw[:c])
	}
	return dst
}

// Sign returns heartbeat's signature of data with the active key:
// "N HEX", N the active index. It returns "" when k has no active key.
func (k *Keys) Sign(data []byte) string {
	b := k.AppendSign(nil, data)
	return string(b)
}

// AppendSign appends Sign(data) to dst; it appends nothing when k has no
// active key.
func (k *Keys) AppendSign(dst, data []byte) []byte {
	key, ok := k.ActiveKey()
	if !ok {
		return dst
	}
	dst = strconv.AppendInt(dst, int64(key.Index), 10)
	dst = append(dst, ' ')
	return key.AppendSum(dst, data)
}

// ActiveKey returns the key named by the auth directive.
func (k *Keys) ActiveKey() (Key, bool) {
	if k == nil || k.Keys == nil {
		return Key{}, false
	}
	key, ok := k.Keys[k.Active]
	if ok && key.Index != k.Active {
		key.Index = k.Active
	}
	return key, ok
}

// Verify checks sig ("N HEX", as Sign makes it) against data with the key
// whose index the signature names, whichever index is active, so keys can
// be rolled over. It returns nil, ErrMalformed, ErrUnknownKey or
// ErrBadSignature (wrapped with the index). As heartbeat does, the digest
// must match exactly: upper-case hex or zero-padded crc values are bad.
func (k *Keys) Verify(data []byte, sig string) error {
	return k.verify(data, []byte(sig))
}

// VerifyBytes is Verify with the signature as bytes (no allocation).
func (k *Keys) VerifyBytes(data, sig []byte) error {
	return k.verify(data, sig)
}

func (k *Keys) verify(data, sig []byte) error {
	if k == nil || len(k.Keys) == 0 {
		return ErrNoKeys
	}
	idx, digest, ok := parseSig(sig)
	if !ok {
		return ErrMalformed
	}
	if idx < 0 || idx > MaxIndex {
		return ErrUnknownKey
	}
	key, ok := k.Keys[idx]
	if !ok {
		return ErrUnknownKey
	}
	var buf [64]byte
	want := key.AppendSum(buf[:0], data)
	if subtle.ConstantTimeCompare(want, digest) != 1 {
		return ErrBadSignature
	}
	return nil
}

// parseSig reads "N WORD" as heartbeat's sscanf("%d %s") does: blanks
// before N and before WORD are skipped, anything after WORD is ignored.
func parseSig(sig []byte) (int, []byte, bool) {
	i := 0
	for i < len(sig) && isSpace(sig[i]) {
		i++
	}
	neg := false
	if i < len(sig) && (sig[i] == '-' || sig[i] == '+') {
		neg = sig[i] == '-'
		i++
	}
	start, n := i, 0
	for i < len(sig) && sig[i] >= '0' && sig[i] <= '9' {
		if n < 1<<20 {
			n = n*10 + int(sig[i]-'0')
		}
		i++
	}
	if i == start {
		return 0, nil, false
	}
	if neg {
		n = -n
	}
	for i < len(sig) && isSpace(sig[i]) {
		i++
	}
	start = i
	for i < len(sig) && !isSpace(sig[i]) {
		i++
	}
	if i == start {
		return 0, nil, false
	}
	return n, sig[start:i], true
}

// HMAC states are reused through a pool per (method, secret): building an
// HMAC costs two extra hash blocks and several allocations.
type poolKey struct {
	m      Method
	secret string
}

var pools sync.Map // poolKey -> *sync.Pool

func getHMAC(m Method, secret string) hash.Hash {
	pk := poolKey{m, secret}
	p, ok := pools.Load(pk)
	if !ok {
		newHash := sha1.New
		if m == MD5 {
			newHash = md5.New
		}
		p, _ = pools.LoadOrStore(pk, &sync.Pool{New: func() any {
			return hmac.New(newHash, []byte(secret))
		}})
	}
	h := p.(*sync.Pool).Get().(hash.Hash)
	h.Reset()
	return h
}

func putHMAC(m Method, secret string, h hash.Hash) {
	if p, ok := pools.Load(poolKey{m, secret}); ok {
		p.(*sync.Pool).Put(h)
	}
}

// CRC32 is heartbeat's crc "digest": a 32-bit CRC with polynomial
// 0x04C11DB7, bits taken most significant first, initial value 0, result
// complemented. It works four bytes at a time (slicing-by-4);
// crc32Bytewise is the plain form it is tested against.
func CRC32(data []byte) uint32 {
	var c uint32
	for len(data) >= 4 {
		c ^= uint32(data[0])<<24 | uint32(data[1])<<16 | uint32(data[2])<<8 | uint32(data[3])
		c = crcTables[3][c>>24] ^ crcTables[2][byte(c>>16)] ^ crcTables[1][byte(c>>8)] ^ crcTables[0][byte(c)]
		data = data[4:]
	}
	for _, b := range data {
		c = (c << 8) ^ crcTables[0][byte(c>>24)^b]
	}
	return ^c
}

func crc32Bytewise(data []byte) uint32 {
	var c uint32
	for _, b := range data {
		c = (c << 8) ^ crcTables[0][byte(c>>24)^b]
	}
	return ^c
}

// crcTables[k][i] is the CRC register after byte i followed by k zero
// bytes.
var crcTables = func() (t [4][256]uint32) {
	for i := range t[0] {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[0][i] = c
	}
	for k := 1; k < 4; k++ {
		for i := range t[k] {
			p := t[k-1][i]
			t[k][i] = p<<8 ^ t[0][p>>24]
		}
	}
	return t
}()
