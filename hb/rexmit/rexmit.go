// Package rexmit is heartbeat's receiver-initiated retransmission, as a pure
// data structure: per-peer sequence tracking with gap detection and a
// hold-back buffer (Receiver), and the sender's bounded history of sent
// messages that answers retransmission requests (History).
//
// Heartbeat 3.0.6 parameters kept here:
//
//   - MaxMsgHist (MAXMSGHIST = 200): messages kept for retransmission; a
//     request for an older one is refused (NS_nak_rexmit, "seqno too low").
//   - MaxMissing (MAXMISSING = MAXMSGHIST): missing sequence numbers tracked
//     per peer; when full, the lowest is given up.
//   - FlowControlLimit (MAXMSGHIST/2 = 100): a gap wider than this is not
//     repaired; tracking restarts at the new sequence number ("lost a lot of
//     packets!").
//   - max_rexmit_delay (ha.cf, default 250 ms): a gap is first requested after
//     a random delay in [50 ms, max_rexmit_delay] ([0, max] when the maximum
//     is below 100 ms), then again every max_rexmit_delay until it is filled
//     or refused. The sender does not resend one message twice within
//     max_rexmit_delay-10 ms, and resends at most MaxRexmitBatch messages per
//     request.
//   - Acknowledgements (NS_ackmsg): sent for sequence numbers whose value
//     modulo AckDiv (ACK_MSG_DIV = 10) equals a per-peer random trigger, and
//     only when nothing below them is missing.
//
// Differences from heartbeat, both invisible on the wire: gaps detected
// together are requested together, as one firstseq..lastseq range per run of
// consecutive numbers (heartbeat sends one request per number, with the same
// timing); and the Receiver holds messages back until the gap below them is
// filled or given up, so the caller sees every peer's messages in order.
package rexmit

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/mono"
)

// Heartbeat's constants (include/heartbeat.h, heartbeat.c).
const (
	MaxMsgHist       = 200
	MaxMissing       = MaxMsgHist
	FlowControlLimit = MaxMsgHist / 2
	MaxRexmitBatch   = 50
	AckDiv           = 10
	// DefaultMaxDelay is ha.cf "max_rexmit_delay" when not set.
	DefaultMaxDelay = 250 * time.Millisecond
)

// Verdict says what a received sequence number means.
type Verdict int

const (
	// InOrder is the next expected number (or the first one ever seen).
	InOrder Verdict = iota
	// Gap is newer than expected: the numbers in between are now missing.
	Gap
	// Recovered is a number that was missing (typically a retransmission).
	Recovered
	// Duplicate was seen before, or is older than anything still tracked.
	Duplicate
	// Restarted means the gap was too wide to repair (> FlowControlLimit):
	// tracking restarted at this number, everything before it is given up.
	Restarted
)

var verdictNames = [...]string{"in-order", "gap", "recovered", "duplicate", "restarted"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "verdict?"
}

// Fresh reports whether the number was never seen before: only such a
// message proves that its sender is alive now (a duplicate may be a replay).
func (v Verdict) Fresh() bool { return v != Duplicate }

type missing struct {
	seq uint64
	due mono.Time // when to (re)request it
}

// Tracker follows one peer's sequence numbers. The zero value is not
// usable; use NewTracker.
type Tracker struct {
	maxDelay time.Duration
	rng      *rand.Rand
	last     uint64    // highest number seen; 0 = none yet
	miss     []missing // sorted by seq, len <= MaxMissing
	trigger  uint64    // ack trigger, in [0, AckDiv)
}

// NewTracker returns a tracker using maxDelay (ha.cf max_rexmit_delay; <= 0
// means DefaultMaxDelay) and rng for request delays and the ack trigger.
func NewTracker(maxDelay time.Duration, rng *rand.Rand) *Tracker {
	if maxDelay <= 0 {
		maxDelay = DefaultMaxDelay
	}
	t := &Tracker{maxDelay: maxDelay, rng: rng}
	t.trigger = uint64(rng.IntN(AckDiv))
	return t
}

// Last returns the highest sequence number seen (0 if none).
func (t *Tracker) Last() uint64 { return t.last }

// Missing returns the missing numbers in increasing order (a copy).
func (t *Tracker) Missing() []uint64 {
	out := make([]uint64, len(t.miss))
	for i, m := range t.miss {
		out[i] = m.seq
	}
	return out
}

// NumMissing returns how many numbers are missing.
func (t *Tracker) NumMissing() int { return len(t.miss) }

// FirstMissing returns the lowest missing number, if any.
func (t *Tracker) FirstMissing() (uint64, bool) {
	if len(t.miss) == 0 {
		return 0, false
	}
	return t.miss[0].seq, true
}

// Reset forgets everything, as when a peer restarts with a new generation.
func (t *Tracker) Reset() {
	t.last = 0
	t.miss = t.miss[:0]
}

// Forget drops the missing numbers but remembers the highest number seen, so
// that old messages stay duplicates (used when a peer is declared dead).
func (t *Tracker) Forget() { t.miss = t.miss[:0] }

// firstDelay is heartbeat's initial request delay.
func (t *Tracker) firstDelay() time.Duration {
	lo := 50 * time.Millisecond
	if t.maxDelay < 100*time.Millisecond {
		lo = 0
	}
	span := int64(t.maxDelay - lo)
	if span <= 0 {
		return lo
	}
	return lo + time.Duration(t.rng.Int64N(span+1))
}

func (t *Tracker) find(seq uint64) (int, bool) {
	return slices.BinarySearchFunc(t.miss, seq, func(m missing, s uint64) int {
		switch {
		case m.seq < s:
			return -1
		case m.seq > s:
			return 1
		}
		return 0
	})
}

// Observe records a received sequence number (> 0) at time now. ack, when
// ok, is the sequence number to acknowledge to the sender with NS_ackmsg.
func (t *Tracker) Observe(now mono.Time, seq uint64) (v Verdict, ack uint64, ok bool) {
	if seq == 0 {
		return Duplicate, 0, false
	}
	switch {
	case t.last == 0 || seq == t.last+1:
		t.last = seq
		ack, ok = t.ackFor(seq)
		return InOrder, ack, ok
	case seq == t.last:
		return Duplicate, 0, false
	case seq > t.last:
		lost := seq - t.last - 1
		if lost > FlowControlLimit {
			t.miss = t.miss[:0]
			t.last = seq
			return Restarted, 0, false
		}
		due := now.Add(t.firstDelay())
		for k := t.last + 1; k < seq; k++ {
			if len(t.miss) >= MaxMissing {
				// Full: give up the lowest, as heartbeat does.
				t.miss = append(t.miss[:0], t.miss[1:]...)
			}
			t.miss = append(t.miss, missing{seq: k, due: due})
		}
		t.last = seq
		return Gap, 0, false
	}
	i, found := t.find(seq)
	if !found {
		return Duplicate, 0, false
	}
	wasFirst := i == 0
	t.miss = append(t.miss[:i], t.miss[i+1:]...)
	if wasFirst {
		ack, ok = t.ackAfterFill(seq)
	}
	return Recovered, ack, ok
}

// ackFor is heartbeat's rule for an in-order number.
func (t *Tracker) ackFor(seq uint64) (uint64, bool) {
	if fm, ok := t.FirstMissing(); ok && seq > fm {
		return 0, false
	}
	if seq%AckDiv != t.trigger {
		return 0, false
	}
	return seq, true
}

// ackAfterFill is heartbeat's rule when the lowest missing number arrives:
// acknowledge the highest trigger-aligned number below the next hole.
func (t *Tracker) ackAfterFill(filled uint64) (uint64, bool) {
	upto := t.last
	if fm, ok := t.FirstMissing(); ok {
		upto = fm - 1
	}
	base := upto / AckDiv * AckDiv
	var a uint64
	if upto%AckDiv >= t.trigger {
		a = base + t.trigger
	} else {
		if base < AckDiv {
			return 0, false
		}
		a = base - AckDiv + t.trigger
	}
	if a < filled || a == 0 {
		return 0, false
	}
	return a, true
}

// GiveUp stops waiting for seq (the sender refused it). It reports whether
// seq was missing.
func (t *Tracker) GiveUp(seq uint64) bool {
	i, found := t.find(seq)
	if !found {
		return false
	}
	t.miss = append(t.miss[:i], t.miss[i+1:]...)
	return true
}

// GiveUpThrough gives up every missing number <= seq.
func (t *Tracker) GiveUpThrough(seq uint64) {
	i := 0
	for i < len(t.miss) && t.miss[i].seq <= seq {
		i++
	}
	t.miss = append(t.miss[:0], t.miss[i:]...)
}

// Range is an inclusive run of sequence numbers to request.
type Range struct{ First, Last uint64 }

// Due returns the runs of missing numbers whose request time has come, and
// schedules their next request max_rexmit_delay later. It appends to dst.
func (t *Tracker) Due(now mono.Time, dst []Range) []Range {
	next := now.Add(t.maxDelay)
	for i := range t.miss {
		m := &t.miss[i]
		if m.due.After(now) {
			continue
		}
		m.due = next
		if n := len(dst); n > 0 && dst[n-1].Last+1 == m.seq {
			dst[n-1].Last = m.seq
		} else {
			dst = append(dst, Range{m.seq, m.seq})
		}
	}
	return dst
}

// Wake returns the earliest request time, or mono.Never when nothing is
// missing.
func (t *Tracker) Wake() mono.Time {
	w := mono.Never
	for _, m := range t.miss {
		w = min(w, m.due)
	}
	return w
}

// IsMissing reports whether seq is currently missing.
func (t *Tracker) IsMissing(seq uint64) bool {
	_, found := t.find(seq)
	return found
}

// Postpone moves the next request for every missing number in first..last
// to no earlier than at: someone else just asked for them, and the answer
// will reach everyone (request suppression; fewer requests on the wire).
func (t *Tracker) Postpone(first, last uint64, at mono.Time) {
	for i := range t.miss {
		m := &t.miss[i]
		if m.seq >= first && m.seq <= last && m.due.Before(at) {
			m.due = at
		}
	}
}
