package rexmit

import (
	"time"

	"github.com/heartbeat-go/heartbeat/hb/mono"
)

// Answer says what to do with one requested sequence number.
type Answer int

const (
	// Resend: send the stored message again, unchanged.
	Resend Answer = iota
	// TooSoon: it was resent less than max_rexmit_delay-10 ms ago; ignore.
	TooSoon
	// Acked: the requester already acknowledged it; ignore.
	Acked
	// TooLow: older than the history holds; refuse ("seqno too low").
	TooLow
	// NotFound: not in the history; refuse ("seqno not found").
	NotFound
	// TooHigh: never sent (the requester is confused); ignore.
	TooHigh
)

var answerNames = [...]string{"resend", "too soon", "acked", "seqno too low", "seqno not found", "too high"}

func (a Answer) String() string {
	if int(a) < len(answerNames) {
		return answerNames[a]
	}
	return "answer?"
}

// Refused reports whether the answer is a refusal (NS_nak_rexmit with the
// reason as its comment).
func (a Answer) Refused() bool { return a == TooLow || a == NotFound }

type slot[M any] struct {
	seq        uint64
	msg        M
	lastRexmit mono.Time
	resent     bool // lastRexmit is set
}

// History is the sender's record of its last MaxMsgHist sequenced
// messages. The zero value is not usable; use NewHistory.
type History[M any] struct {
	slots    [MaxMsgHist]slot[M]
	hi       uint64
	minGap   time.Duration
	batchCap int
}

// NewHistory returns an empty history for max_rexmit_delay maxDelay (<= 0:
// DefaultMaxDelay).
func NewHistory[M any](maxDelay time.Duration) *History[M] {
	if maxDelay <= 0 {
		maxDelay = DefaultMaxDelay
	}
	return &History[M]{minGap: maxDelay - 10*time.Millisecond, batchCap: MaxRexmitBatch}
}

// Add records message m sent with number seq; numbers must increase.
func (h *History[M]) Add(seq uint64, m M) {
	if seq <= h.hi {
		return
	}
	h.hi = seq
	h.slots[seq%MaxMsgHist] = slot[M]{seq: seq, msg: m}
}

// High returns the highest number recorded.
func (h *History[M]) High() uint64 { return h.hi }

// Lookup answers a request for seq at time now from a peer that has
// acknowledged everything up to peerAck. On Resend it returns the message
// and records the retransmission time.
func (h *History[M]) Lookup(now mono.Time, seq, peerAck uint64) (M, Answer) {
	var zero M
	switch {
	case seq == 0 || seq <= peerAck:
		return zero, Acked
	case seq > h.hi:
		return zero, TooHigh
	case h.hi >= MaxMsgHist && seq <= h.hi-MaxMsgHist:
		return zero, TooLow
	}
	s := &h.slots[seq%MaxMsgHist]
	if s.seq != seq {
		return zero, NotFound
	}
	if s.resent && now.Sub(s.lastRexmit) < h.minGap {
		return zero, TooSoon
	}
	s.lastRexmit, s.resent = now, true
	return s.msg, Resend
}

// Request is the answer to one retransmission request.
type Request[M any] struct {
	Resend  []M      // messages to send again, in order
	Refused []uint64 // numbers to refuse, in order
	Reasons []Answer // reason per refused number
}

// Answer handles a request for first..last (inclusive), resending at most
// MaxRexmitBatch messages. dst is reset and reused.
func (h *History[M]) Answer(now mono.Time, first, last, peerAck uint64, dst *Request[M]) {
	dst.Resend = dst.Resend[:0]
	dst.Refused = dst.Refused[:0]
	dst.Reasons = dst.Reasons[:0]
	if first == 0 || first > last {
		return
	}
	if last > h.hi {
		last = h.hi // beyond what we sent: nothing to do (heartbeat warns)
	}
	// Everything below the history is refused; bound the loop by the
	// history size so that a hostile range cannot make us spin.
	if h.hi >= MaxMsgHist && first <= h.hi-MaxMsgHist {
		low := h.hi - MaxMsgHist
		to := min(last, low)
		if to-first >= MaxRexmitBatch {
			to = first + MaxRexmitBatch - 1
		}
		for s := first; s <= to; s++ {
			if s > peerAck {
				dst.Refused = append(dst.Refused, s)
				dst.Reasons = append(dst.Reasons, TooLow)
			}
		}
		if last <= low {
			return
		}
		first = low + 1
	}
	for s := first; s <= last && s >= first; s++ {
		if len(dst.Resend) >= h.batchCap {
			return
		}
		m, a := h.Lookup(now, s, peerAck)
		switch {
		case a == Resend:
			dst.Resend = append(dst.Resend, m)
		case a.Refused():
			dst.Refused = append(dst.Refused, s)
			dst.Reasons = append(dst.Reasons, a)
		}
	}
}
