package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/wire"
)

func testKeys(t *testing.T, text string) *authkeys.Keys {
	t.Helper()
	k, probs := authkeys.Parse([]byte(text), "authkeys")
	if probs.HasErrors() {
		t.Fatal(probs)
	}
	return k
}

// TestExplainRefusal: only a netstring trailer whose digest does not
// match gets heartbeat's "authtoken does not match" line, with the
// digest computed here first and the one sent second; the reason is kept.
func TestExplainRefusal(t *testing.T) {
	ours := testKeys(t, "auth 1\n1 sha1 ours\n")
	m := &wire.Message{}
	m.Add(wire.FType, "status")
	m.Add(wire.FOrig, "hb2")
	codec := &wireCodec{keys: ours}

	theirs, err := wire.Encode(m, testKeys(t, "auth 1\n1 sha1 theirs\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = codec.Decode(theirs, 0)
	var rf *refusal
	if !errors.As(err, &rf) || wire.ReasonOf(err) != wire.DropBadSignature {
		t.Fatalf("Decode = %v, want a bad-signature refusal with heartbeat's line", err)
	}
	p, _ := wire.Parse(theirs)
	key, _ := ours.ActiveKey()
	sent := strings.Fields(string(p.Trailer))[1]
	// As heartbeat 3.0.6 logs it: the digest sent, then the one computed.
	want := []string{
		"authtoken does not match, authtoken=" + sent + ", authstr=" + key.Sum(p.Signed),
		"netstring authentication failed, s=" + string(theirs) + ", autotoken=1 " + sent + ",",
		"MSG: Dumping message with 3 fields",
		"MSG[0] : [t=status]",
		"MSG[1] : [src=hb2]",
	}
	if len(rf.lines) != 6 || !strings.HasPrefix(rf.lines[5], "MSG[2] : [auth=1 ") {
		t.Errorf("lines = %q", rf.lines)
	} else if got := strings.Join(rf.lines[:5], "\n"); got != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}

	// A key index not configured here: no digest to compare, no line.
	other, _ := wire.Encode(m, testKeys(t, "auth 2\n2 sha1 ours\n"))
	if _, err := codec.Decode(other, 0); errors.As(err, &rf) || wire.ReasonOf(err) != wire.DropUnknownKey {
		t.Errorf("unknown key index: %v", err)
	}
	// A good message decodes.
	good, _ := wire.Encode(m, ours)
	if _, err := codec.Decode(good, 0); err != nil {
		t.Errorf("good message: %v", err)
	}
}
