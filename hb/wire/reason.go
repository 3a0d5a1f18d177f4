package wire

import (
	"errors"
	"fmt"
)

// DropReason says why a packet was refused. The daemon counts packets per
// reason and logs them; tests assert them.
type DropReason uint8

// Reasons a packet is refused.
const (
	Accepted           DropReason = iota // not a drop: the packet is good
	DropTooLarge                         // longer than MaxMessage, or inflates beyond MaxUncompressed
	DropNotMessage                       // does not start with "###\n" or ">>>\n"
	DropTruncated                        // ends inside a field, or before "%%%\n" / "<<<\n" / the trailer
	DropMalformed                        // bad netstring length, missing ',' or '=', empty name, bad list or struct
	DropBadFieldType                     // field type other than (0)..(5)
	DropTooDeep                          // structs nested deeper than MaxDepth
	DropTooManyFields                    // more than MaxFields fields in one message
	DropBadCompression                   // a compressed payload that does not inflate
	DropNoAuth                           // no auth field, or no netstring trailer
	DropBadAuthString                    // auth value or trailer is not "N HEX"
	DropUnknownKey                       // the signature names a key index not configured here
	DropBadSignature                     // digest mismatch
	numReasons
)

var reasonNames = [...]string{
	Accepted:           "ok",
	DropTooLarge:       "too-large",
	DropNotMessage:     "not-a-message",
	DropTruncated:      "truncated",
	DropMalformed:      "malformed",
	DropBadFieldType:   "bad-field-type",
	DropTooDeep:        "too-deep",
	DropTooManyFields:  "too-many-fields",
	DropBadCompression: "bad-compression",
	DropNoAuth:         "no-auth",
	DropBadAuthString:  "bad-auth-string",
	DropUnknownKey:     "unknown-key-index",
	DropBadSignature:   "bad-signature",
}

// String returns a short stable name, for counters and logs.
func (r DropReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// Reasons lists every DropReason except Accepted, for counter tables.
func Reasons() []DropReason {
	out := make([]DropReason, 0, numReasons-1)
	for r := DropTooLarge; r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}

// Error is the error every decoder in this package returns.
type Error struct {
	Reason DropReason
	Offset int    // byte offset in the input where the problem was seen
	Detail string // human detail, for logs
}

func (e *Error) Error() string {
	return fmt.Sprintf("wire: %s at byte %d: %s", e.Reason, e.Offset, e.Detail)
}

// ReasonOf returns the DropReason carried by err: Accepted for nil, and
// DropMalformed for errors not from this package.
func ReasonOf(err error) DropReason {
	if err == nil {
		return Accepted
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return DropMalformed
}

func fail(r DropReason, off int, format string, args ...any) error {
	return &Error{Reason: r, Offset: off, Detail: fmt.Sprintf(format, args...)}
}
