package authkeys

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/heartbeat-go/heartbeat/hb/diag"
)

// MaxIndex is the highest key index heartbeat accepts (it keeps 16 slots,
// 0..15).
const MaxIndex = 15

// maxFile caps what Load reads: authkeys files are a few lines, and a
// wrong path (a device, a huge file) must not exhaust memory.
const maxFile = 1 << 20

// Default path of the file, as heartbeat names it in its messages.
const DefaultPath = "/etc/ha.d/authkeys"

// Load reads and parses the authkeys file at path, applying heartbeat's
// checks on the file itself first: a file that cannot be opened is
// reported as "Cannot open keyfile [PATH].  Stop." and a file that group
// or others can read as "Bad permissions on keyfile [PATH], 600
// recommended."; in both cases the content is not parsed and Keys is nil.
// Load reads the file system; Parse does not.
func Load(path string) (*Keys, diag.List) {
	var probs diag.List
	f, err := os.Open(path)
	if err != nil {
		probs.Errorf(path, 0, "", "Cannot open keyfile [%s].  Stop.", path)
		return nil, probs
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Mode().Perm()&0o044 != 0 {
		probs.Errorf(path, 0, "", "Bad permissions on keyfile [%s], 600 recommended.", path)
		return nil, probs
	}
	// authkeys files are a few lines; cap what we read so a wrong path
	// (a device, a huge file) cannot exhaust memory.
	data, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		probs.Errorf(path, 0, "", "Cannot open keyfile [%s].  Stop.", path)
		return nil, probs
	}
	return Parse(data, path)
}

// Parse reads the content of an authkeys file the way heartbeat 3.0.6
// does; path is only used in messages. It returns the keys and every
// problem found. When the returned list holds an error, heartbeat would
// refuse to start ("Authentication configuration error."), and Keys is
// nil. Warnings (heartbeat starts) point at surprises: text after a key
// (a key written with blanks, a trailing comment), quotes kept in a key,
// an auth directive that does not change the signing key.
//
// The rules, each checked against the real daemon (testdata/oracle.tsv):
//   - Leading blanks and tabs are skipped. Empty lines and lines whose
//     first character is then '#', '\n' or '\r' are ignored. There are no
//     trailing comments: "1 crc # note" is a crc line with a key "#".
//   - A line starting with 'a' is an auth directive, "auth N" (the blank
//     is optional, anything after N is ignored); anything else starting
//     with 'a' is "Invalid auth line [...]". A negative N counts as no
//     directive.
//   - Other lines are "N METHOD [KEY]", C-blank-separated words; the key
//     is one word: a key written with spaces is cut at the first blank,
//     and quotes are kept as part of it. N must be 0..15, METHOD crc, md5
//     or sha1 (lower case); crc takes no key, md5 and sha1 need one. A
//     line that is not "N WORD" is "Auth line [...] is invalid.".
//   - Any bad line fails the file, even when its index is not active.
//   - The active key is the last valid key line whose index equals the
//     auth directive in effect at that line: a key line above its auth
//     directive does not make it active ("Auth Key [N] not found"), and a
//     later auth directive naming an undefined index does not undo an
//     earlier match (heartbeat starts; we keep the earlier match active).
//     Without any auth directive: "Missing auth directive in keyfile".
//   - Bytes after a NUL on a line are ignored, as C strings end there.
func Parse(data []byte, path string) (*Keys, diag.List) {
	var probs diag.List
	keys := &Keys{Active: -1, Keys: map[int]Key{}}
	ok := true
	authnum, authLine := -1, 0 // the auth directive in effect
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var raw []byte
		if i := indexByte(data, '\n'); i >= 0 {
			raw, data = data[:i+1], data[i+1:]
		} else {
			raw, data = data, nil
		}
		// C string semantics: the line ends at a NUL byte.
		if i := indexByte(raw, 0); i >= 0 {
			raw = raw[:i]
		}
		line := string(raw)
		shown := strings.TrimSuffix(line, "\n")
		bp := strings.TrimLeft(line, " \t")
		if bp == "" || bp[0] == '\n' || bp[0] == '\r' || bp[0] == '#' {
			continue
		}
		if bp[0] == 'a' {
			n, _, good := scanAuth(bp)
			if !good {
				probs.Errorf(path, lineNo, "auth", "Invalid auth line [%s] in %s", shown, path)
				ok = false
				continue
			}
			authnum, authLine = n, lineNo
			continue
		}
		idx, rest, good := scanInt(bp)
		var method, key, after string
		if good {
			method, rest = scanWord(rest)
			key, after = scanWord(rest)
			after = strings.TrimRight(skipSpace(after), " \t\n\v\f\r")
		}
		if !good || method == "" {
			probs.Errorf(path, lineNo, "", "Auth line [%s] is invalid.", shown)
			ok = false
			continue
		}
		if idx < 0 || idx > MaxIndex {
			probs.Errorf(path, lineNo, method, "Invalid authnum [%d] in %s", idx, path)
			ok = false
			continue
		}
		m := Method(method)
		switch m {
		case CRC, MD5, SHA1:
		default:
			probs.Errorf(path, lineNo, method, "Invalid authtype [%s]", method)
			ok = false
			continue
		}
		if m == CRC && key != "" {
			probs.Errorf(path, lineNo, method, "Auth method [%s] doesn't use a key", method)
			ok = false
			continue
		}
		if m != CRC && key == "" {
			probs.Errorf(path, lineNo, method, "Auth method [%s] requires a key", method)
			ok = false
			continue
		}
		switch {
		case after != "":
			probs.Warnf(path, lineNo, method, "text after the key is ignored (%q): heartbeat uses %q as the key", after, key)
		case key != "" && (key[0] == '"' || key[0] == '\''):
			probs.Warnf(path, lineNo, method, "quotes are part of the key: heartbeat uses %q as the key", key)
		}
		keys.Keys[idx] = Key{Index: idx, Method: m, Secret: key, Line: lineNo}
		if idx == authnum {
			keys.Active, keys.ActiveLine = idx, authLine
		}
	}
	if authnum < 0 {
		probs.Errorf(path, 0, "auth", "Missing auth directive in keyfile [%s]", path)
		ok = false
	} else if keys.Active < 0 {
		probs.Errorf(path, authLine, "auth", "Auth Key [%d] not found in keyfile [%s]", authnum, path)
		ok = false
	}
	if !ok {
		return nil, probs
	}
	if keys.Active != authnum {
		probs.Warnf(path, authLine, "auth", "auth %d names no key defined after it: heartbeat keeps signing with key %d", authnum, keys.Active)
	}
	return keys, probs
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func skipSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// scanAuth matches sscanf(s, "auth %d").
func scanAuth(s string) (int, string, bool) {
	if !strings.HasPrefix(s, "auth") {
		return 0, s, false
	}
	return scanInt(skipSpace(s[4:]))
}

// scanInt matches sscanf's %d: optional blanks, optional sign, at least
// one decimal digit. Values beyond the int range saturate, as glibc's
// strtol-based conversion does before the cast; any such value is out of
// heartbeat's index range anyway.
func scanInt(s string) (int, string, bool) {
	s = skipSpace(s)
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	n := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if n < 1<<40 {
			n = n*10 + int(s[i]-'0')
		}
		i++
	}
	if i == start {
		return 0, s, false
	}
	if neg {
		n = -n
	}
	return n, s[i:], true
}

// scanWord matches sscanf's %s: skip blanks, then read non-blanks.
func scanWord(s string) (string, string) {
	s = skipSpace(s)
	i := 0
	for i < len(s) && !isSpace(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// String renders the keys as an authkeys file (active directive first).
func (k *Keys) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "auth %d\n", k.Active)
	for i := 0; i <= MaxIndex; i++ {
		if key, ok := k.Keys[i]; ok {
			b.WriteString(strconv.Itoa(i) + " " + string(key.Method))
			if key.Secret != "" {
				b.WriteString(" " + key.Secret)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}
