package memnet

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func three(seed uint64) *Network[int] {
	n := New[int](rand.New(rand.NewPCG(seed, 0)))
	n.Attach("a", "eth0", "eth1")
	n.Attach("b", "eth0")
	n.Attach("c", "eth0", "eth1")
	return n
}

func TestBroadcastPerMedium(t *testing.T) {
	n := three(1)
	n.Send(t0, "a", "eth0", 1)
	n.Send(t0, "a", "eth1", 2)
	got := n.Deliver(t0, nil)
	var s []string
	for _, p := range got {
		s = append(s, fmt.Sprint(p.To, "/", p.Medium, "/", p.Payload))
	}
	want := []string{"b/eth0/1", "c/eth0/1", "c/eth1/2"}
	if !slices.Equal(s, want) {
		t.Fatalf("got %v, want %v", s, want)
	}
}

func TestDelayOrderAndNext(t *testing.T) {
	n := three(1)
	n.SetDelay(Link{To: "b"}, 30*time.Millisecond, 0)
	n.SetDelay(Link{To: "c"}, 10*time.Millisecond, 0)
	n.Send(t0, "a", "eth0", 7)
	if at, ok := n.Next(); !ok || at != t0.Add(10*time.Millisecond) {
		t.Fatalf("next %v %v", at, ok)
	}
	if got := n.Deliver(t0.Add(9*time.Millisecond), nil); len(got) != 0 {
		t.Fatalf("delivered early: %v", got)
	}
	got := n.Deliver(t0.Add(time.Second), nil)
	if len(got) != 2 || got[0].To != "c" || got[1].To != "b" || got[1].At != t0.Add(30*time.Millisecond) {
		t.Fatalf("got %+v", got)
	}
}

func TestLossRateAndDeterminism(t *testing.T) {
	run := func(seed uint64) (int, []int) {
		n := three(seed)
		n.SetLoss(AllLinks, 0.3)
		n.SetDelay(AllLinks, time.Millisecond, 5*time.Millisecond)
		for i := range 10000 {
			n.Send(t0.Add(time.Duration(i)*time.Millisecond), "a", "eth0", i)
		}
		var order []int
		for _, p := range n.Deliver(t0.Add(time.Hour), nil) {
			order = append(order, p.Payload)
		}
		return n.Stats.Lost, order
	}
	lost, o1 := run(42)
	if r := float64(lost) / 20000; r < 0.28 || r > 0.32 {
		t.Fatalf("loss rate %.3f, want about 0.30", r)
	}
	lost2, o2 := run(42)
	if lost2 != lost || !slices.Equal(o1, o2) {
		t.Fatal("same seed, different run")
	}
	if _, o3 := run(43); slices.Equal(o1, o3) {
		t.Fatal("different seeds gave the same run")
	}
	if slices.IsSorted(o1) {
		t.Fatal("jitter larger than the send interval did not reorder anything")
	}
}

func TestPerLinkRulesOverride(t *testing.T) {
	n := three(1)
	n.SetLoss(AllLinks, 1)
	n.SetLoss(Link{Medium: "eth1"}, 0)
	n.Send(t0, "a", "eth0", 1)
	n.Send(t0, "a", "eth1", 2)
	got := n.Deliver(t0, nil)
	if len(got) != 1 || got[0].Payload != 2 {
		t.Fatalf("got %+v, want only the eth1 packet", got)
	}
	if c := n.Conditions("eth1", "a", "c"); c.Loss != 0 {
		t.Fatalf("effective loss %v", c.Loss)
	}
}

func TestPartitionAndCrash(t *testing.T) {
	n := three(1)
	n.SetDelay(AllLinks, 10*time.Millisecond, 0)
	n.Partition([]string{"a"}, []string{"b", "c"})
	n.Send(t0, "a", "eth0", 1)
	n.Send(t0, "b", "eth0", 2)
	got := n.Deliver(t0.Add(time.Second), nil)
	if len(got) != 1 || got[0].From != "b" || got[0].To != "c" {
		t.Fatalf("across the partition: %+v", got)
	}
	n.Heal()
	n.Send(t0, "a", "eth0", 3)
	n.SetDown("b", true) // crashes while the packet is in flight
	got = n.Deliver(t0.Add(time.Second), nil)
	if len(got) != 1 || got[0].To != "c" {
		t.Fatalf("after heal with b down: %+v", got)
	}
	n.SetDown("b", false)
	n.Send(t0, "b", "eth0", 4)
	if got := n.Deliver(t0.Add(time.Second), nil); len(got) != 2 {
		t.Fatalf("b revived: %+v", got)
	}
}

func TestDuplicateAndReorder(t *testing.T) {
	n := three(5)
	n.SetDup(AllLinks, 1)
	n.Send(t0, "a", "eth1", 9)
	if got := n.Deliver(t0, nil); len(got) != 2 || n.Stats.Duplicated != 1 {
		t.Fatalf("dup: %+v", got)
	}
	m := three(5)
	m.SetReorder(AllLinks, 1, 20*time.Millisecond)
	m.SetReorder(Link{Medium: "eth1", From: "c"}, 0, 0)
	m.Send(t0, "a", "eth1", 1)
	m.Send(t0.Add(time.Millisecond), "c", "eth1", 2)
	got := m.Deliver(t0.Add(time.Second), nil)
	if len(got) != 2 || got[0].Payload != 2 || got[1].At != t0.Add(20*time.Millisecond) {
		t.Fatalf("reorder: %+v", got)
	}
}

func BenchmarkSendDeliver(b *testing.B) {
	n := New[int](rand.New(rand.NewPCG(1, 0)))
	for i := range 16 {
		n.Attach(fmt.Sprint("n", i), "eth0")
	}
	n.SetLoss(AllLinks, 0.3)
	n.SetDelay(AllLinks, time.Millisecond, time.Millisecond)
	var buf []Packet[int]
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		n.Send(now, "n0", "eth0", 1)
		buf = n.Deliver(now.Add(5*time.Millisecond), buf[:0])
	}
}

func TestToIndexIsAttachOrder(t *testing.T) {
	n := three(1)
	n.Send(t0, "b", "eth0", 1)
	n.Send(t0, "c", "eth1", 2)
	names := n.Nodes()
	got := n.Deliver(t0, nil)
	if len(got) != 3 {
		t.Fatalf("got %+v", got)
	}
	for _, p := range got {
		if names[p.ToIndex] != p.To {
			t.Errorf("packet to %s has index %d (%s)", p.To, p.ToIndex, names[p.ToIndex])
		}
	}
}

// TestArrivalOrderUnderJitter checks the heap against the rule it keeps:
// packets come out by arrival time, ties in send order, with sends and
// deliveries interleaved and the heap growing and shrinking.
func TestArrivalOrderUnderJitter(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := New[int](rand.New(rand.NewPCG(9, 0)))
	for i := range 6 {
		n.Attach(fmt.Sprint("n", i), "eth0")
	}
	n.SetDelay(AllLinks, time.Millisecond, 3*time.Millisecond)
	type sent struct {
		seq int       // send order of the payload
		at  time.Time // when it was sent
	}
	var sends []sent
	var got []Packet[int]
	now := t0
	for i := range 20000 {
		now = now.Add(time.Duration(rng.IntN(1500)) * time.Microsecond)
		got = n.Deliver(now, got)
		if rng.IntN(3) > 0 {
			n.Send(now, fmt.Sprint("n", rng.IntN(6)), "eth0", i)
			sends = append(sends, sent{i, now})
		}
	}
	got = n.Deliver(now.Add(time.Hour), got)
	if len(got) != 5*len(sends) {
		t.Fatalf("%d packets delivered, want %d", len(got), 5*len(sends))
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		switch {
		case b.At.Before(a.At):
			t.Fatalf("packet %d arrives at %v, before the previous one at %v", i, b.At, a.At)
		case b.At.Equal(a.At) && b.Payload < a.Payload:
			t.Fatalf("packets %d and %d arrive together out of send order (%d after %d)", i-1, i, b.Payload, a.Payload)
		}
		if d := b.At.Sub(b.Sent); d < time.Millisecond || d >= 4*time.Millisecond {
			t.Fatalf("packet %d took %v", i, d)
		}
	}
}
