package rexmit

import (
	"github.com/heartbeat-go/heartbeat/hb/mono"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = mono.Time(0).Add(time.Hour) // any instant

func newRng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0)) }

func TestTrackerVerdicts(t *testing.T) {
	tr := NewTracker(250*time.Millisecond, newRng(1))
	steps := []struct {
		seq  uint64
		want Verdict
		miss []uint64
	}{
		{1, InOrder, nil},
		{2, InOrder, nil},
		{2, Duplicate, nil},
		{5, Gap, []uint64{3, 4}},
		{4, Recovered, []uint64{3}},
		{4, Duplicate, []uint64{3}},
		{1, Duplicate, []uint64{3}},
		{6, InOrder, []uint64{3}},
		{3, Recovered, []uint64{}},
		{6 + FlowControlLimit + 2, Restarted, []uint64{}},
	}
	for i, s := range steps {
		v, _, _ := tr.Observe(t0, s.seq)
		if v != s.want {
			t.Fatalf("step %d seq %d: verdict %v, want %v", i, s.seq, v, s.want)
		}
		if got := tr.Missing(); !slices.Equal(got, s.miss) && !(len(got) == 0 && len(s.miss) == 0) {
			t.Fatalf("step %d seq %d: missing %v, want %v", i, s.seq, got, s.miss)
		}
	}
	if Duplicate.Fresh() || !Recovered.Fresh() {
		t.Fatal("Fresh: a duplicate proves nothing, a recovered number does")
	}
}

func TestRequestTimingFollowsMaxRexmitDelay(t *testing.T) {
	for _, maxDelay := range []time.Duration{250 * time.Millisecond, 60 * time.Millisecond} {
		tr := NewTracker(maxDelay, newRng(7))
		tr.Observe(t0, 1)
		tr.Observe(t0, 5) // 2..4 missing
		w := tr.Wake()
		lo := 50 * time.Millisecond
		if maxDelay < 100*time.Millisecond {
			lo = 0
		}
		if d := w.Sub(t0); d < lo || d > maxDelay {
			t.Fatalf("max %v: first request after %v, want in [%v, %v]", maxDelay, d, lo, maxDelay)
		}
		if got := tr.Due(w.Add(-time.Nanosecond), nil); len(got) != 0 {
			t.Fatalf("requested before due: %v", got)
		}
		got := tr.Due(w, nil)
		if want := []Range{{2, 4}}; !slices.Equal(got, want) {
			t.Fatalf("due %v, want %v (one range for one gap)", got, want)
		}
		if next := tr.Wake(); next.Sub(w) != maxDelay {
			t.Fatalf("repeat after %v, want %v", next.Sub(w), maxDelay)
		}
		tr.Observe(w, 3)
		if got := tr.Due(w.Add(maxDelay), nil); !slices.Equal(got, []Range{{2, 2}, {4, 4}}) {
			t.Fatalf("after filling 3: %v", got)
		}
	}
}

func TestAckTrigger(t *testing.T) {
	tr := NewTracker(0, newRng(3))
	trig := tr.trigger
	var acks []uint64
	for s := uint64(1); s <= 35; s++ {
		if _, a, ok := tr.Observe(t0, s); ok {
			acks = append(acks, a)
		}
	}
	for _, a := range acks {
		if a%AckDiv != trig {
			t.Fatalf("ack %d not on trigger %d", a, trig)
		}
	}
	if len(acks) < 3 {
		t.Fatalf("acks %v: want one per %d in-order messages", acks, AckDiv)
	}
	// A hole stops acknowledgements above it; filling it acknowledges the
	// highest trigger-aligned number below the next hole.
	tr2 := NewTracker(0, newRng(3))
	tr2.Observe(t0, 1)
	tr2.Observe(t0, 30) // 2..29 missing
	for s := uint64(31); s <= 45; s++ {
		if _, _, ok := tr2.Observe(t0, s); ok {
			t.Fatalf("acked %d above a hole", s)
		}
	}
	var last uint64
	var ok bool
	for s := uint64(2); s <= 29; s++ {
		_, a, k := tr2.Observe(t0, s)
		if k {
			last, ok = a, k
		}
	}
	if !ok || last%AckDiv != trig || last > 45 || last < 36 {
		t.Fatalf("after fill: ack %d ok=%v, want the trigger-aligned number in 36..45", last, ok)
	}
}

// TestTrackerAgainstNaiveSet drives the tracker and the receiver with random
// arrivals and checks them after every step against a plain set of missing
// numbers and a plain set of held messages.
func TestTrackerAgainstNaiveSet(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		rng := newRng(seed)
		r := NewReceiver[uint64](250*time.Millisecond, newRng(seed+1000))
		var last uint64
		missing := map[uint64]bool{}
		held := map[uint64]bool{}
		delivered := uint64(0) // highest delivered
		now := t0
		for step := 0; step < 400; step++ {
			now = now.Add(time.Duration(rng.IntN(100)) * time.Millisecond)
			var seq uint64
			op := rng.IntN(10)
			switch {
			case op < 4 || last == 0:
				seq = last + 1
			case op < 6:
				seq = last + 1 + uint64(rng.IntN(15))
				if rng.IntN(50) == 0 {
					seq = last + FlowControlLimit + 2 + uint64(rng.IntN(5))
				}
			case op < 8 && len(missing) > 0:
				ks := keys(missing)
				seq = ks[rng.IntN(len(ks))]
			case op < 9 && len(missing) > 0:
				ks := keys(missing)
				g := ks[rng.IntN(len(ks))]
				delete(missing, g)
				out := r.GiveUp(g)
				checkOut(t, seed, step, out, &delivered, held, missing)
				continue
			default:
				if last > 0 {
					seq = 1 + uint64(rng.IntN(int(last)))
				} else {
					seq = 1
				}
			}
			// naive classification
			var want Verdict
			switch {
			case last == 0 || seq == last+1:
				want = InOrder
				last = seq
			case seq == last:
				want = Duplicate
			case seq > last && seq-last-1 > FlowControlLimit:
				want = Restarted
				clear(missing)
				last = seq
			case seq > last:
				want = Gap
				for k := last + 1; k < seq; k++ {
					if len(missing) >= MaxMissing {
						delete(missing, slices.Min(keys(missing)))
					}
					missing[k] = true
				}
				last = seq
			case missing[seq]:
				want = Recovered
				delete(missing, seq)
			default:
				want = Duplicate
			}
			if want != Duplicate {
				held[seq] = true
			}
			v, _, _, out := r.Accept(now, seq, seq)
			if v != want {
				t.Fatalf("seed %d step %d seq %d: verdict %v, naive %v", seed, step, seq, v, want)
			}
			checkOut(t, seed, step, out, &delivered, held, missing)
			if got, w := r.T.Missing(), keys(missing); !slices.Equal(got, w) {
				t.Fatalf("seed %d step %d: missing %v, naive %v", seed, step, got, w)
			}
			r.T.Due(now, nil)
		}
	}
}

func checkOut(t *testing.T, seed uint64, step int, out []uint64, delivered *uint64, held, missing map[uint64]bool) {
	t.Helper()
	var fm uint64
	if len(missing) > 0 {
		fm = slices.Min(keys(missing))
	}
	var want []uint64
	for s := range held {
		if fm == 0 || s < fm {
			want = append(want, s)
		}
	}
	slices.Sort(want)
	if !slices.Equal(out, want) {
		t.Fatalf("seed %d step %d: released %v, naive %v", seed, step, out, want)
	}
	for _, s := range out {
		if s <= *delivered {
			t.Fatalf("seed %d step %d: %d released after %d", seed, step, s, *delivered)
		}
		*delivered = s
		delete(held, s)
	}
}

func keys(m map[uint64]bool) []uint64 {
	ks := make([]uint64, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestHistory(t *testing.T) {
	h := NewHistory[string](250 * time.Millisecond)
	for s := uint64(1); s <= 250; s++ {
		h.Add(s, "m")
	}
	cases := []struct {
		name    string
		seq     uint64
		ack     uint64
		at      time.Duration
		want    Answer
		refused bool
	}{
		{"held message is resent", 240, 0, 0, Resend, false},
		{"not twice within max_rexmit_delay-10ms", 240, 0, 239 * time.Millisecond, TooSoon, false},
		{"again after max_rexmit_delay-10ms", 240, 0, 240 * time.Millisecond, Resend, false},
		{"overwritten message is refused", 50, 0, 0, TooLow, true},
		{"oldest kept message", 51, 0, 0, Resend, false},
		{"never sent", 251, 0, 0, TooHigh, false},
		{"acknowledged by the requester", 200, 210, 0, Acked, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, a := h.Lookup(t0.Add(c.at), c.seq, c.ack)
			if a != c.want || a.Refused() != c.refused {
				t.Fatalf("got %v (refused %v), want %v", a, a.Refused(), c.want)
			}
		})
	}
}

func TestHistoryAnswerBounded(t *testing.T) {
	h := NewHistory[uint64](0)
	for s := uint64(1); s <= 300; s++ {
		h.Add(s, s)
	}
	var req Request[uint64]
	h.Answer(t0, 1, ^uint64(0), 0, &req)
	if len(req.Resend) != MaxRexmitBatch {
		t.Fatalf("resent %d, want the batch limit %d", len(req.Resend), MaxRexmitBatch)
	}
	if req.Resend[0] != 101 || !slices.IsSorted(req.Resend) {
		t.Fatalf("resend starts at %d, want 101 in order", req.Resend[0])
	}
	if len(req.Refused) == 0 || len(req.Refused) > MaxRexmitBatch || req.Reasons[0] != TooLow {
		t.Fatalf("refused %d (%v)", len(req.Refused), req.Reasons)
	}
	// The same request again right away resends nothing it just resent.
	h.Answer(t0.Add(time.Millisecond), 101, 150, 0, &req)
	if len(req.Resend) != 0 {
		t.Fatalf("resent %d again within max_rexmit_delay", len(req.Resend))
	}
	h.Answer(t0, 5, 3, 0, &req)
	if len(req.Resend)+len(req.Refused) != 0 {
		t.Fatal("inverted range answered")
	}
}

func BenchmarkReceiverInOrder(b *testing.B) {
	r := NewReceiver[int](0, newRng(1))
	var s uint64
	b.ReportAllocs()
	for b.Loop() {
		s++
		r.Accept(t0, s, 1)
	}
}

// FuzzReceiver feeds arbitrary arrivals, refusals and clock steps: whatever
// comes, every message is released at most once and in increasing order,
// the missing set stays bounded, and a history request stays bounded.
func FuzzReceiver(f *testing.F) {
	f.Add([]byte{1, 2, 3, 5, 4, 200, 7, 250, 9})
	f.Add([]byte{10, 0, 255, 1, 128, 64})
	f.Fuzz(func(t *testing.T, ops []byte) {
		r := NewReceiver[uint64](100*time.Millisecond, newRng(9))
		h := NewHistory[uint64](0)
		now := t0
		var base, released uint64
		var req Request[uint64]
		for i, b := range ops {
			now = now.Add(time.Duration(b%16) * 10 * time.Millisecond)
			var out []uint64
			switch {
			case b == 255:
				if fm, ok := r.T.FirstMissing(); ok {
					out = r.GiveUp(fm)
				}
			case b == 254:
				base += 1000 // a jump far ahead
				_, _, _, out = r.Accept(now, base, base)
			default:
				seq := base + uint64(b) + 1
				_, _, _, out = r.Accept(now, seq, seq)
			}
			for _, s := range out {
				if s <= released {
					t.Fatalf("op %d: released %d after %d", i, s, released)
				}
				released = s
			}
			if r.T.NumMissing() > MaxMissing {
				t.Fatalf("%d missing", r.T.NumMissing())
			}
			r.T.Due(now, nil)
			h.Add(uint64(i+1), uint64(i))
			h.Answer(now, uint64(b), uint64(b)*uint64(i+1)+^uint64(0)>>1, uint64(b%7), &req)
			if len(req.Resend) > MaxRexmitBatch || len(req.Refused) > MaxRexmitBatch+MaxMsgHist {
				t.Fatalf("answer too big: %d resends, %d refusals", len(req.Resend), len(req.Refused))
			}
		}
	})
}
