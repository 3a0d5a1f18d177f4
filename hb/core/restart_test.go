package core

import (
	"strconv"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/wire"
)

func hb2StatusGen(seq uint64, gen uint64, at time.Time) *wire.Message {
	return hb2Msg("t", "status", "st", "active", "dt", "2710", "protocol", "1", "src", "hb2",
		"srcuuid", "e0560bd3990441bdac1a26913cda94d5", "seq", strconv.FormatUint(seq, 16),
		"hg", strconv.FormatUint(gen, 16), "ts", strconv.FormatUint(uint64(at.Unix()), 16),
		"ld", "3.18 1.57 0.72 3/163 40", "ttl", "3")
}

// rexmitsTo returns the ranges of the NS_rexmit requests to hb2 in out.
func rexmitsTo(t *testing.T, out Output) [][2]uint64 {
	t.Helper()
	var rs [][2]uint64
	for _, m := range ofType(out, TypeRexmit) {
		if m.Value(wire.FTo) != "hb2" {
			continue
		}
		f, err1 := strconv.ParseUint(m.Value(wire.FFirstSeq), 10, 64)
		l, err2 := strconv.ParseUint(m.Value(wire.FLastSeq), 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad NS_rexmit %v", values(m))
		}
		rs = append(rs, [2]uint64{f, l})
	}
	return rs
}

// TestPeerRestartResetsSequenceState: hb2 sends 41 messages (39 and 40
// lost, 41 held back behind them), goes quiet and comes back with a new
// generation, sooner than the dead time or after being declared dead; the
// first thing heard from the new incarnation is either its status seq 1 or
// an unsequenced message (its ack, seq 1 being lost), then its statuses are
// lost for 4 s. From then on hb1 must not ask it for a number its new
// generation has not sent, and must deliver nothing held from the old one.
func TestPeerRestartResetsSequenceState(t *testing.T) {
	const oldGen, newGen = 0x6b03b72f, 0x6b03b730
	for _, down := range []time.Duration{3 * time.Second, 15 * time.Second} {
		for _, first := range []string{"status", "ack"} {
			t.Run(down.String()+"/"+first, func(t *testing.T) {
				n := newHb1(t)
				now := t0
				n.Tick(now)
				var seq uint64
				for seq = 1; seq <= 41; seq++ {
					now = now.Add(100 * time.Millisecond)
					if seq == 39 || seq == 40 {
						continue
					}
					n.Receive(now, "eth0", hb2StatusGen(seq, oldGen, now))
				}
				// hb2 restarts: silent for down, while hb1 ticks along.
				end := now.Add(down)
				for now.Before(end) {
					out := n.Tick(now)
					now = out.Wake
				}
				// The new incarnation sends seq 1 now and one status per
				// keepalive after it (lost, until the last).
				restartAt := now
				newSent := uint64(1)
				var out Output
				if first == "status" {
					out = n.Receive(now, "eth0", hb2StatusGen(1, newGen, now))
				} else {
					ack := hb2Msg("t", TypeAck, "dest", "hb1", "ackseq", "5", "src", "hb2",
						"srcuuid", "e0560bd3990441bdac1a26913cda94d5", "hg", strconv.FormatUint(newGen, 16),
						"ts", strconv.FormatUint(uint64(now.Unix()), 16), "ttl", "3")
					out = n.Receive(now, "eth0", ack)
				}
				check := func(out Output) {
					t.Helper()
					for _, e := range out.Events {
						if e.Kind == Delivered && e.Node == "hb2" && e.Msg.Value(wire.FHg) != strconv.FormatUint(newGen, 16) {
							t.Errorf("delivered old-generation message %v after the restart", values(e.Msg))
						}
					}
					for _, r := range rexmitsTo(t, out) {
						if r[1] > newSent {
							t.Errorf("at %v asked hb2 for %d-%d, its new generation sent %d", now.Sub(t0), r[0], r[1], newSent)
						}
					}
				}
				check(out)
				restarts := 0
				count := func(out Output) {
					for _, e := range out.Events {
						if e.Kind == PeerRestarted && e.Node == "hb2" {
							restarts++
							if e.OldGen != oldGen || e.Gen != newGen {
								t.Errorf("restart event %+v", e)
							}
						}
					}
				}
				count(out)
				end = now.Add(4 * time.Second)
				for now.Before(end) {
					newSent = 1 + uint64(now.Sub(restartAt)/time.Second)
					out = n.Tick(now)
					check(out)
					count(out)
					now = out.Wake
				}
				newSent++
				out = n.Receive(now, "eth0", hb2StatusGen(newSent, newGen, now))
				check(out)
				count(out)
				if restarts != 1 {
					t.Errorf("%d PeerRestarted events, want 1", restarts)
				}
			})
		}
	}
}
