package mono

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestElapsedIsSub(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	now := time.Now() // carries a monotonic reading
	fixed := []time.Time{{}, base, now, now.Round(0), time.Unix(1<<62, 0), time.Unix(-1<<62, 0),
		time.Unix(1<<40, 999999999), time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), base.Add(time.Duration(1<<63 - 1)),
		time.Unix(0, 0).In(time.FixedZone("x", 3600))}
	pick := func() time.Time {
		switch r.IntN(4) {
		case 0:
			return fixed[r.IntN(len(fixed))]
		case 1:
			return base.Add(time.Duration(r.Int64N(int64(time.Hour))))
		case 2:
			return now.Add(time.Duration(r.Int64N(int64(time.Hour))))
		default:
			return time.Unix(r.Int64()>>r.IntN(64), r.Int64N(1e9))
		}
	}
	for i := 0; i < 100000; i++ {
		a, b := pick(), pick()
		if got, want := Elapsed(a, b), a.Sub(b); got != want {
			t.Fatalf("Elapsed(%v, %v) = %v, Sub = %v", a, b, got, want)
		}
	}
	for _, a := range fixed {
		for _, b := range fixed {
			if got, want := Elapsed(a, b), a.Sub(b); got != want {
				t.Fatalf("Elapsed(%v, %v) = %v, Sub = %v", a, b, got, want)
			}
		}
	}
}

func TestOriginOfIsSub(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	now := time.Now()
	origins := []time.Time{base, now, now.Round(0), time.Unix(1<<62, 0), time.Unix(-1<<62, 0), {},
		time.Unix(0, 0).In(time.FixedZone("x", 3600))}
	for _, o := range origins {
		org := NewOrigin(o)
		for i := 0; i < 20000; i++ {
			var t2 time.Time
			switch r.IntN(4) {
			case 0:
				t2 = o.Add(time.Duration(r.Int64N(int64(time.Hour))))
			case 1:
				t2 = base.Add(time.Duration(r.Int64()>>r.IntN(64)) - time.Duration(r.Int64()>>r.IntN(64)))
			case 2:
				t2 = now.Add(time.Duration(r.Int64N(int64(time.Hour))))
			default:
				t2 = origins[r.IntN(len(origins))]
			}
			if got, want := org.Of(t2), Time(t2.Sub(o)); got != want {
				t.Fatalf("origin %v: Of(%v) = %d, Sub = %d", o, t2, got, want)
			}
		}
		if got := org.Time(org.Of(o.Add(time.Second))); !got.Equal(o.Add(time.Second)) {
			t.Errorf("origin %v: Time(Of(o+1s)) = %v", o, got)
		}
	}
}
