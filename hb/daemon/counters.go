package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/wire"
	"github.com/heartbeat-go/heartbeat/media"
)

// logFirstDrops is how many refusals per reason are logged (all of them
// with debug on): a stray cluster or a wrong key on the same port would
// otherwise flood the log. Every refusal is counted in the status.
const logFirstDrops = 10

// refusal is a decode error that carries the line heartbeat 3.0.6 logs
// for the same refusal.
type refusal struct {
	err   error
	level slog.Level
	lines []string
}

func (e *refusal) Error() string { return e.err.Error() }
func (e *refusal) Unwrap() error { return e.err }

// explainRefusal gives a signature refusal heartbeat's log lines. For a
// netstring trailer whose digest does not match, heartbeat 3.0.6 logs
// (all at ERROR, as seen from the real daemon):
//
//	authtoken does not match, authtoken=<digest sent>, authstr=<digest computed>
//	netstring authentication failed, s=<the packet>, autotoken=<the trailer from its value on>
//	MSG: Dumping message with N fields
//	MSG[i] : [name=value]   (one per field)
//
// Other errors are returned as they are.
func explainRefusal(err error, b []byte, k *authkeys.Keys) error {
	if wire.ReasonOf(err) != wire.DropBadSignature || k == nil {
		return err
	}
	p, perr := wire.Parse(b)
	if perr != nil || p.Format != wire.Netstring || p.Trailer == nil {
		return err
	}
	f := strings.Fields(string(p.Trailer))
	if len(f) < 2 {
		return err
	}
	idx, aerr := strconv.Atoi(f[0])
	if aerr != nil {
		return err
	}
	key, ok := k.Keys[idx]
	if !ok {
		return err
	}
	computed := key.Sum(p.Signed)
	if computed == f[1] {
		return err // the trailer is good: the auth field is not
	}
	lines := []string{fmt.Sprintf("authtoken does not match, authtoken=%s, authstr=%s", f[1], computed)}
	// heartbeat prints the received buffer and its auth string up to the
	// end of the buffer (the netstring's closing comma included).
	rest := b[len(p.Signed):]
	if i := bytes.IndexByte(rest, ':'); i >= 0 {
		rest = rest[i+1:]
	}
	lines = append(lines, "netstring authentication failed, s="+cString(b)+", autotoken="+cString(rest))
	lines = append(lines, msgDump(p.Msg)...)
	return &refusal{err: err, level: slog.LevelError, lines: lines}
}

// cString is b as C prints it: up to the first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// msgDump is heartbeat's dump of a refused message: a count line, then
// "MSG[i] : [name=value]" per field. Values other than plain strings
// are shown in their classic text form.
func msgDump(m *wire.Message) []string {
	if m == nil {
		return nil
	}
	out := make([]string, 0, len(m.Fields)+1)
	out = append(out, fmt.Sprintf("MSG: Dumping message with %d fields", len(m.Fields)))
	for i, f := range m.Fields {
		v := string(f.Value)
		switch f.Type {
		case wire.List:
			v = strings.Join(f.List, ",")
		case wire.Struct, wire.Uncompress:
			v = "<struct>"
		case wire.Binary, wire.Compressed:
			v = fmt.Sprintf("<%d bytes>", len(f.Value))
		}
		out = append(out, fmt.Sprintf("MSG[%d] : [%s=%s]", i, f.Name, v))
	}
	return out
}

// countDrop counts a packet the codec refused and logs the first few of
// each reason: heartbeat's own line when there is one.
func (r *runtime) countDrop(err error, p inPacket) {
	reason := wire.ReasonOf(err).String()
	r.drops[reason]++
	if r.drops[reason] > logFirstDrops && r.debug == 0 {
		return
	}
	if rf, ok := errors.AsType[*refusal](err); ok {
		for _, l := range rf.lines {
			r.log.Log(r.ctx, rf.level, l)
		}
		return
	}
	name := "?"
	if p.Link >= 0 && p.Link < len(r.media) {
		name = r.media[p.Link].Name()
	}
	r.log.Warn(fmt.Sprintf("Dropped packet from %s on %s: %v", p.From, name, err))
}

// addCounter adds n to the status counter named reason.
func addCounter(s *ctl.Status, reason string, n uint64) {
	if n == 0 {
		return
	}
	if s.Counters == nil {
		s.Counters = map[string]uint64{}
	}
	s.Counters[reason] += n
}

// report adds to a status snapshot what the runtime itself keeps: the
// packets the codec refused, the media's counters and the API clients
// ha.cf authorises. It runs on the main loop.
func (r *runtime) report(s *ctl.Status) {
	for reason, n := range r.drops {
		addCounter(s, reason, n)
	}
	for _, m := range r.media {
		ms := ctl.MediumStats{Name: m.Name(), State: "up"}
		if rep, ok := m.(media.Reporter); ok {
			st := rep.Stats()
			ms = ctl.MediumStats{Name: st.Name, Kind: string(st.Kind), Link: st.Link, State: string(st.State),
				Sent: st.Sent, Received: st.Received, LastErr: st.LastErr, ErrAt: st.ErrAt, Reopens: st.Reopens}
			if ms.Name == "" {
				ms.Name = m.Name()
			}
			for d, n := range st.Dropped {
				if n > 0 {
					if ms.Dropped == nil {
						ms.Dropped = map[string]uint64{}
					}
					ms.Dropped[d.String()] += n
				}
			}
		}
		s.Media = append(s.Media, ms)
	}
	if r.cfg != nil {
		for _, a := range r.cfg.APIAuth {
			s.APIAuth = append(s.APIAuth, ctl.APIAuth{Client: a.Client, UIDs: a.UIDs, GIDs: a.GIDs, Implicit: a.Implicit})
		}
	}
}

// boundStats counts for the --bind medium what media.Stats reports for
// the media of package media.
type boundStats struct {
	mu sync.Mutex
	st media.Stats
}

func (b *boundStats) init(name, link string) {
	b.st = media.Stats{Name: name, Kind: media.KindUcast, Link: link, State: media.StateUp}
}

func (b *boundStats) sent(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.countDrop(media.DropSendError)
		b.st.LastErr, b.st.ErrAt = err.Error(), time.Now()
		return
	}
	b.st.Sent++
	b.st.LastSent = time.Now()
}

func (b *boundStats) received() {
	b.mu.Lock()
	b.st.Received++
	b.st.LastRecv = time.Now()
	b.mu.Unlock()
}

func (b *boundStats) drop(r media.DropReason) {
	b.mu.Lock()
	b.countDrop(r)
	b.mu.Unlock()
}

func (b *boundStats) countDrop(r media.DropReason) {
	if b.st.Dropped == nil {
		b.st.Dropped = map[media.DropReason]uint64{}
	}
	b.st.Dropped[r]++
}

func (b *boundStats) failed(err error) {
	b.mu.Lock()
	if b.st.State != media.StateClosed {
		b.st.LastErr, b.st.ErrAt = err.Error(), time.Now()
	}
	b.mu.Unlock()
}

func (b *boundStats) closed() {
	b.mu.Lock()
	b.st.State = media.StateClosed
	b.mu.Unlock()
}

func (b *boundStats) snapshot() media.Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.st
	s.Dropped = maps.Clone(b.st.Dropped)
	return s
}
