// Package mono is the protocol packages' time: an instant as a count of
// nanoseconds from an origin the caller chose (package core takes the time
// it first ran). Compared and moved with integer arithmetic, where
// time.Time carries a wall clock, an optional monotonic reading and a zone:
// the membership and retransmission timers are compared on every packet,
// and a simulated run (wall-clock-only times, where Time.Sub is slow)
// spent a tenth of its time in package time.
//
// Instants a few hundred years from the origin would overflow; the core
// only ever measures from its own start.
package mono

import (
	"math"
	"time"
)

// lim bounds the Unix seconds of times whose differences Elapsed and
// Origin.Of compute themselves.
const lim = 1 << 62

// Time is an instant: nanoseconds since the origin.
type Time int64

// Never is later than any instant: the wake time of a timer that is not set.
const Never Time = math.MaxInt64

// Add returns t+d.
func (t Time) Add(d time.Duration) Time { return t + Time(d) }

// Sub returns the duration t-u.
func (t Time) Sub(u Time) time.Duration { return time.Duration(t - u) }

// Before reports whether t is before u.
func (t Time) Before(u Time) bool { return t < u }

// After reports whether t is after u.
func (t Time) After(u Time) bool { return t > u }

// Origin converts between time.Time and Time: Of(origin) is 0.
type Origin struct {
	t        time.Time
	wallOnly bool  // t carries no monotonic reading and its seconds are in range
	sec      int64 // t.Unix(), when wallOnly
	nsec     int   // t.Nanosecond(), when wallOnly
}

// NewOrigin returns the conversion whose instant 0 is t.
func NewOrigin(t time.Time) Origin {
	o := Origin{t: t}
	if s := t.Unix(); s > -lim && s < lim && t == t.Round(0) {
		o.wallOnly, o.sec, o.nsec = true, s, t.Nanosecond()
	}
	return o
}

// Of returns t as an instant from the origin: t.Sub(origin), computed from
// seconds and nanoseconds when neither time carries a monotonic reading (as
// in simulations, where Time.Sub goes through Add and Equal).
func (o Origin) Of(t time.Time) Time {
	if o.wallOnly {
		if s := t.Unix(); s > -lim && s < lim && t == t.Round(0) {
			if d := s - o.sec; d > -9e9 && d < 9e9 {
				return Time(time.Duration(d)*time.Second + time.Duration(t.Nanosecond()-o.nsec))
			}
		}
	}
	return Time(t.Sub(o.t))
}

// Time returns the time.Time of instant m.
func (o Origin) Time(m Time) time.Time { return o.t.Add(time.Duration(m)) }

// Elapsed is a.Sub(b), computed from seconds and nanoseconds when neither
// time carries a monotonic reading and the difference fits a Duration
// exactly; otherwise it is a.Sub(b) itself.
func Elapsed(a, b time.Time) time.Duration {
	sa, sb := a.Unix(), b.Unix()
	if sa > -lim && sa < lim && sb > -lim && sb < lim && a == a.Round(0) && b == b.Round(0) {
		if d := sa - sb; d > -9e9 && d < 9e9 {
			return time.Duration(d)*time.Second + time.Duration(a.Nanosecond()-b.Nanosecond())
		}
	}
	return a.Sub(b)
}
