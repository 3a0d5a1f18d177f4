package ipfail

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// world is a two-node cluster in virtual time: each node has a ping
// tracker and an ipfail machine; resources move when a node gives up, as
// heartbeat's standby protocol moves them (a move takes moveTime, during
// which both nodes' resources are in transition).
type world struct {
	t         *testing.T
	now       time.Time
	start     time.Time
	keepalive time.Duration
	deadping  time.Duration
	names     [2]string
	pings     [2]*Pings
	ipf       [2]*Machine
	nextProbe time.Time
	reach     func(node int, at time.Duration) bool // node reaches the ping node at this offset
	inflight  []flight
	holder    map[string]int // group -> node index
	home      map[string]int
	moves     []string
	movingTil time.Time
	log       []string
}

type flight struct {
	at time.Time
	to int
	m  *wire.Message
}

const moveTime = 1500 * time.Millisecond

func newWorld(t *testing.T, autoFailback bool, reach func(int, time.Duration) bool) *world {
	w := &world{t: t, keepalive: 500 * time.Millisecond, deadping: 4 * time.Second,
		names: [2]string{"nodea", "nodeb"}, reach: reach,
		holder: map[string]int{"ga": 0, "gb": 1}, home: map[string]int{"ga": 0, "gb": 1}}
	w.start = time.Date(2026, 11, 23, 3, 46, 30, 0, time.UTC)
	w.now = w.start
	for i := range 2 {
		w.pings[i] = NewPings([]string{"198.18.1.254"}, w.deadping, 12*time.Second, w.now)
		w.ipf[i] = New(Config{Local: w.names[i], Peer: w.names[1-i], PingNodes: []string{"198.18.1.254"},
			Keepalive: w.keepalive, AutoFailback: autoFailback})
	}
	for i := range 2 {
		w.take(i, w.ipf[i].Start(w.now))
	}
	return w
}

func (w *world) take(i int, o Output) {
	for _, l := range o.Logs {
		w.log = append(w.log, fmt.Sprintf("%6.1fs %s: %s", w.now.Sub(w.start).Seconds(), w.names[i], l.Text))
	}
	for _, m := range o.Send {
		c := m.Clone()
		c.Add(wire.FOrig, w.names[i]) // the core adds src
		w.inflight = append(w.inflight, flight{at: w.now.Add(20 * time.Millisecond), to: 1 - i, m: c})
	}
	if o.GiveUp != "" {
		w.giveUp(i, o.GiveUp)
	}
}

func (w *world) giveUp(i int, scope string) {
	if w.now.Before(w.movingTil) {
		// heartbeat drops a standby request during a transition
		return
	}
	moved := false
	for g, h := range w.holder {
		if h != i || (scope == GiveForeign && w.home[g] == i) {
			continue
		}
		w.holder[g] = 1 - i
		moved = true
		w.moves = append(w.moves, fmt.Sprintf("%.1fs %s %s->%s", w.now.Sub(w.start).Seconds(), g, w.names[i], w.names[1-i]))
	}
	if moved {
		w.movingTil = w.now.Add(moveTime)
	}
}

func (w *world) step() {
	const dt = 50 * time.Millisecond
	w.now = w.now.Add(dt)
	off := w.now.Sub(w.start)
	tr := w.now.Before(w.movingTil)
	for i := range 2 {
		w.ipf[i].Resources(w.now, tr)
	}
	if !w.now.Before(w.nextProbe) {
		w.nextProbe = w.now.Add(w.keepalive)
		for i := range 2 {
			if w.reach(i, off) {
				for _, ev := range w.pings[i].Reply(w.now, "198.18.1.254") {
					w.take(i, w.ipf[i].NodeStatus(w.now, ev.Node, ev.Status))
					w.take(i, w.ipf[i].LinkStatus(w.now, ev.Node, ev.Node, LinkUp))
				}
			}
		}
	}
	for i := range 2 {
		for _, ev := range w.pings[i].Tick(w.now) {
			w.take(i, w.ipf[i].NodeStatus(w.now, ev.Node, ev.Status))
			w.take(i, w.ipf[i].LinkStatus(w.now, ev.Node, ev.Node, LinkDead))
		}
	}
	var keep []flight
	due := []flight{}
	for _, f := range w.inflight {
		if w.now.Before(f.at) {
			keep = append(keep, f)
		} else {
			due = append(due, f)
		}
	}
	w.inflight = keep
	for _, f := range due {
		w.take(f.to, w.ipf[f.to].Receive(w.now, f.m))
	}
	for i := range 2 {
		if wk := w.ipf[i].Tick(w.now); true {
			w.take(i, wk)
		}
	}
}

func (w *world) runUntil(off time.Duration) {
	for w.now.Sub(w.start) < off {
		w.step()
	}
}

func (w *world) holderOf(g string) string { return w.names[w.holder[g]] }

func (w *world) fail(format string, a ...any) {
	w.t.Helper()
	w.t.Fatalf(format+"\nmoves: %v\nlog:\n%s", append(a, w.moves, strings.Join(w.log, "\n"))...)
}

// between reports whether off lies in any of the [from, to) windows.
func between(off time.Duration, windows ...[2]time.Duration) bool {
	for _, win := range windows {
		if off >= win[0] && off < win[1] {
			return true
		}
	}
	return false
}

func TestHolderLosingPingNodeGivesAllAway(t *testing.T) {
	cut := [2]time.Duration{30 * time.Second, 60 * time.Second}
	for _, fb := range []bool{true, false} {
		t.Run(fmt.Sprintf("auto_failback=%v", fb), func(t *testing.T) {
			w := newWorld(t, fb, func(n int, off time.Duration) bool { return n == 0 || !between(off, cut) })
			w.runUntil(cut[0])
			if len(w.moves) != 0 {
				w.fail("something moved with both nodes reaching the ping node")
			}
			// dead after deadping, count exchange, then 2 × keepalive.
			limit := cut[0] + w.deadping + 3*time.Second
			for w.now.Sub(w.start) < limit && w.holderOf("gb") != "nodea" {
				w.step()
			}
			if w.holderOf("gb") != "nodea" || w.holderOf("ga") != "nodea" {
				w.fail("nodeb lost the ping node: nodea should hold all by %v", limit)
			}
			w.runUntil(cut[1] + 20*time.Second)
			want := "nodea"
			if fb {
				want = "nodeb"
			}
			if w.holderOf("gb") != want || w.holderOf("ga") != "nodea" {
				w.fail("after recovery gb is on %s, want %s", w.holderOf("gb"), want)
			}
			if n := len(w.moves); (fb && n != 2) || (!fb && n != 1) {
				w.fail("%d moves", n)
			}
		})
	}
}

func TestBothLosingPingNodeMovesNothing(t *testing.T) {
	cut := [2]time.Duration{30 * time.Second, 60 * time.Second}
	w := newWorld(t, true, func(n int, off time.Duration) bool { return !between(off, cut) })
	w.runUntil(90 * time.Second)
	if len(w.moves) != 0 {
		w.fail("resources moved although both nodes lost the ping node")
	}
}

func TestBlipsShorterThanDeadpingMoveNothing(t *testing.T) {
	// 3 s outages every 5 s: shorter than deadping (4 s).
	w := newWorld(t, true, func(n int, off time.Duration) bool {
		return n == 0 || off < 20*time.Second || off%(5*time.Second) >= 3*time.Second
	})
	w.runUntil(3 * time.Minute)
	if len(w.moves) != 0 {
		w.fail("short outages moved resources")
	}
}

func TestFlappingPathDoesNotPingPong(t *testing.T) {
	// nodeb's path is down 8 s then up 8 s, twenty times, then stays up.
	flapEnd := 20*time.Second + 20*16*time.Second
	w := newWorld(t, true, func(n int, off time.Duration) bool {
		if n == 0 || off < 20*time.Second || off >= flapEnd {
			return true
		}
		return (off-20*time.Second)%(16*time.Second) >= 8*time.Second
	})
	w.runUntil(flapEnd)
	// Every loss must leave gb on nodea (it cannot stay where the
	// path is down), but hand-backs are held down after the second flap:
	// at most two round trips, not twenty.
	if n := len(w.moves); n > 4 {
		w.fail("%d moves while flapping: ping-pong", n)
	}
	if w.holderOf("gb") != "nodea" {
		w.fail("gb on %s while nodeb's path flaps", w.holderOf("gb"))
	}
	// Once the path is stable, the hold-down passes and gb goes home.
	w.runUntil(flapEnd + MaxHoldDown + time.Minute)
	if w.holderOf("gb") != "nodeb" || w.holderOf("ga") != "nodea" {
		w.fail("gb not home after the path became stable")
	}
}

func TestHoldDownGrowsWithFlaps(t *testing.T) {
	m := New(Config{Local: "a", Peer: "b", PingNodes: []string{"p"}, Keepalive: time.Second, AutoFailback: true})
	now := time.Unix(1000, 0)
	m.NodeStatus(now, "p", StatusPing)
	recv := func(n int) Output {
		x := &wire.Message{}
		x.Add(wire.FType, TNumPingNodes)
		x.Add(FNumPing, fmt.Sprint(n))
		x.Add(wire.FTo, "a")
		x.Add(wire.FOrig, "b")
		return m.Receive(now, x)
	}
	var delays []time.Duration
	for range 5 {
		recv(0)
		now = now.Add(10 * time.Second)
		o := recv(1)
		scope, at := m.Pending()
		if scope != GiveForeign || o.Wake != at {
			t.Fatalf("no foreign give-up after balance: %+v", o)
		}
		delays = append(delays, at.Sub(now))
		now = now.Add(10 * time.Second)
	}
	want := []time.Duration{2 * time.Second, DefaultHoldDown, 2 * DefaultHoldDown, 4 * DefaultHoldDown, 8 * DefaultHoldDown}
	if fmt.Sprint(delays) != fmt.Sprint(want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
	// Outside the window the count starts over.
	now = now.Add(DefaultFlapWindow)
	recv(0)
	now = now.Add(time.Second)
	recv(1)
	if _, at := m.Pending(); at.Sub(now) != 2*time.Second {
		t.Fatalf("after a quiet flap window the delay is %v", at.Sub(now))
	}
}

// Both nodes see one change a probe apart: the counts differ for a moment,
// which is no flap; the next real failure and recovery fails back as
// quickly as heartbeat does.
func TestShortImbalanceIsNoFlap(t *testing.T) {
	m := New(Config{Local: "a", Peer: "b", PingNodes: []string{"p"}, Keepalive: time.Second, AutoFailback: true})
	now := time.Unix(1000, 0)
	m.NodeStatus(now, "p", StatusPing)
	recv := func(n int) {
		x := &wire.Message{}
		x.Add(wire.FType, TNumPingNodes)
		x.Add(FNumPing, fmt.Sprint(n))
		x.Add(wire.FTo, "a")
		x.Add(wire.FOrig, "b")
		m.Receive(now, x)
	}
	for range 5 {
		recv(0)
		now = now.Add(500 * time.Millisecond)
		recv(1)
		now = now.Add(10 * time.Second)
	}
	recv(0)
	now = now.Add(30 * time.Second)
	recv(1)
	if _, at := m.Pending(); at.Sub(now) != 2*time.Second {
		t.Fatalf("delay %v after short imbalances", at.Sub(now))
	}
}

// One failure on each node is no flapping: each node's resources come
// home as quickly as heartbeat brings them.
func TestFailuresOnBothNodesAreNoFlap(t *testing.T) {
	cutB := [2]time.Duration{30 * time.Second, 50 * time.Second}
	cutA := [2]time.Duration{80 * time.Second, 100 * time.Second}
	w := newWorld(t, true, func(n int, off time.Duration) bool {
		if n == 0 {
			return !between(off, cutA)
		}
		return !between(off, cutB)
	})
	w.runUntil(cutA[0])
	if w.holderOf("gb") != "nodeb" || len(w.moves) != 2 {
		w.fail("gb did not go and come back after nodeb's failure")
	}
	w.runUntil(cutA[0] + 10*time.Second)
	if w.holderOf("ga") != "nodeb" {
		w.fail("ga did not move after nodea's failure")
	}
	w.runUntil(cutA[1] + 10*time.Second)
	if w.holderOf("ga") != "nodea" || w.holderOf("gb") != "nodeb" || len(w.moves) != 4 {
		w.fail("ga not home within 10 s after nodea's path returned")
	}
}
