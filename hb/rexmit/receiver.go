package rexmit

import (
	"math/rand/v2"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/mono"
)

type held[M any] struct {
	seq uint64
	msg M
}

// Receiver is a Tracker plus a hold-back buffer: messages are released in
// sequence order, each exactly once, and a message is held while a lower
// number is still missing. A number given up (refused, evicted, or skipped
// by a restart) no longer holds anything back.
type Receiver[M any] struct {
	T    *Tracker
	buf  []held[M] // sorted by seq
	tmpl []M       // reused result slice
}

// NewReceiver returns an empty receiver; see NewTracker for the arguments.
func NewReceiver[M any](maxDelay time.Duration, rng *rand.Rand) *Receiver[M] {
	return &Receiver[M]{T: NewTracker(maxDelay, rng)}
}

// Accept records message m with number seq and returns the verdict, the
// acknowledgement to send (if ok), and the messages now deliverable, in
// order. The returned slice is reused by the next call.
func (r *Receiver[M]) Accept(now mono.Time, seq uint64, m M) (v Verdict, ack uint64, ok bool, out []M) {
	v, ack, ok = r.T.Observe(now, seq)
	out = r.tmpl[:0]
	switch v {
	case Duplicate:
		r.tmpl = out
		return v, ack, ok, out
	case Restarted:
		// Everything held is older than seq: release it first.
		for _, h := range r.buf {
			out = append(out, h.msg)
		}
		r.buf = r.buf[:0]
	}
	r.insert(seq, m)
	out = r.release(out)
	r.tmpl = out
	return v, ack, ok, out
}

func (r *Receiver[M]) insert(seq uint64, m M) {
	i := len(r.buf)
	for i > 0 && r.buf[i-1].seq > seq {
		i--
	}
	var zero held[M]
	r.buf = append(r.buf, zero)
	copy(r.buf[i+1:], r.buf[i:])
	r.buf[i] = held[M]{seq, m}
}

func (r *Receiver[M]) release(out []M) []M {
	fm, any := r.T.FirstMissing()
	n := 0
	for n < len(r.buf) && (!any || r.buf[n].seq < fm) {
		out = append(out, r.buf[n].msg)
		n++
	}
	if n > 0 {
		var zero held[M]
		copy(r.buf, r.buf[n:])
		for i := len(r.buf) - n; i < len(r.buf); i++ {
			r.buf[i] = zero
		}
		r.buf = r.buf[:len(r.buf)-n]
	}
	return out
}

// GiveUp stops waiting for seq and returns the messages it was holding back.
func (r *Receiver[M]) GiveUp(seq uint64) []M {
	r.T.GiveUp(seq)
	out := r.release(r.tmpl[:0])
	r.tmpl = out
	return out
}

// Flush gives up every missing number and returns all held messages, in
// order (used when the peer is declared dead).
func (r *Receiver[M]) Flush() []M {
	r.T.Forget()
	out := r.release(r.tmpl[:0])
	r.tmpl = out
	return out
}

// Reset forgets everything, held messages included (peer restarted).
func (r *Receiver[M]) Reset() {
	r.T.Reset()
	var zero held[M]
	for i := range r.buf {
		r.buf[i] = zero
	}
	r.buf = r.buf[:0]
}

// Held returns how many messages are held back.
func (r *Receiver[M]) Held() int { return len(r.buf) }
