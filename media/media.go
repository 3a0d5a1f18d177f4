// Package media holds heartbeat's communication media ("HBcomm plugins"):
// UDP broadcast, multicast and unicast (IPv4 and IPv6), the serial ring and
// the ICMP ping pseudo-media, each behind the small Medium interface.
//
// A medium moves opaque byte strings. It neither encodes nor checks
// messages: signing, decoding, self-filtering and deciding what to send
// where are the daemon's job. In particular:
//
//   - Self-filtering. Heartbeat 3.0.6's media do not filter a node's own
//     packets (a bcast node hears its own broadcasts, an mcast node with
//     LOOP 1 its own multicasts, a "ucast IF <own address>" line sends to
//     itself). Heartbeat recognises them above the media by the message's
//     src field and uses them for the local node's own link status. This
//     package does the same: Recv returns them, the daemon drops (or
//     counts) messages whose src is the local node.
//   - Serial lines carry heartbeat's classic text form (">>>\n" ... "<<<\n");
//     heartbeat's serial plugin converts netstring messages to it before
//     writing. Serial.Send expects the classic form already and rejects
//     anything else (the daemon encodes per medium).
//   - Ping media send the NS_st message the daemon built for the ping node
//     as the ICMP echo payload, and Recv returns the payload of matching
//     echo replies.
//
// Media that fail (interface gone, device unplugged) are kept alive by
// Keep, which reopens them with exponential back-off and reports the
// failure through Stats; a failing medium never stops the daemon or the
// other media.
package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Packet is one message as read from a medium.
type Packet struct {
	Data []byte
	From string    // peer address ("198.18.0.2:40112") or serial device
	At   time.Time // taken as soon as the packet was read
}

// Medium is one heartbeat communication channel.
type Medium interface {
	// Name is the medium as written in ha.cf, e.g. "ucast eth1 10.0.0.2".
	Name() string
	// Send sends b to the cluster (or to this medium's peer or ping hosts).
	Send(ctx context.Context, b []byte) error
	// Recv blocks for the next packet; it returns ctx.Err() when ctx is
	// cancelled and ErrClosed after Close.
	Recv(ctx context.Context) (Packet, error)
	// Close releases the medium; blocked Recv calls return ErrClosed.
	Close() error
}

// Reporter is implemented by every medium of this package.
type Reporter interface {
	Stats() Stats
}

// OpenLogger is implemented by media that know the info lines heartbeat
// 3.0.6 logs when it opens the same medium (without the "glib: " prefix
// heartbeat puts before plugin messages). Keep logs them on every open.
type OpenLogger interface {
	OpenLog() []string
}

// Errors shared by the media.
var (
	ErrClosed   = errors.New("medium closed")
	ErrDown     = errors.New("medium down")
	ErrTooLarge = errors.New("message too large")
	ErrNotFrame = errors.New("not a classic heartbeat frame")
)

// MaxMessage is the largest message a medium accepts or delivers
// (heartbeat's MAXMSG, 256 KiB; UDP media are further bounded by the
// 64 KiB datagram limit).
const MaxMessage = 256 * 1024

// Kind names a medium type as ha.cf spells it.
type Kind string

// The media ha.cf can name.
const (
	KindBcast     Kind = "bcast"
	KindMcast     Kind = "mcast"
	KindMcast6    Kind = "mcast6"
	KindUcast     Kind = "ucast"
	KindUcast6    Kind = "ucast6"
	KindSerial    Kind = "serial"
	KindPing      Kind = "ping"
	KindPing6     Kind = "ping6"
	KindPingGroup Kind = "ping_group"
)

// IsPing reports whether media of this kind create ping nodes.
func (k Kind) IsPing() bool { return k == KindPing || k == KindPing6 || k == KindPingGroup }

// DropReason says why a medium discarded input or output.
type DropReason uint8

// Reasons counted in Stats.Dropped.
const (
	DropTooLarge  DropReason = iota // message above MaxMessage (or a serial line overflow)
	DropEmpty                       // zero-length datagram
	DropFraming                     // serial bytes outside a >>> ... <<< frame
	DropNotFrame                    // Send of a non-classic message on a serial line
	DropNotOurs                     // ICMP that is not an echo reply to us
	DropDown                        // Send while the medium was down
	DropSendError                   // the kernel refused the datagram / write failed
	numDropReasons
)

var dropNames = [...]string{
	DropTooLarge:  "too-large",
	DropEmpty:     "empty",
	DropFraming:   "framing",
	DropNotFrame:  "not-classic",
	DropNotOurs:   "not-ours",
	DropDown:      "down",
	DropSendError: "send-error",
}

func (d DropReason) String() string {
	if int(d) < len(dropNames) {
		return dropNames[d]
	}
	return fmt.Sprintf("DropReason(%d)", uint8(d))
}

// State is a medium's operational state (not heartbeat's link status,
// which the membership layer derives from heartbeats received).
type State string

// Medium states.
const (
	StateUp     State = "up"     // open and usable
	StateDown   State = "down"   // failed; being reopened with back-off
	StateClosed State = "closed" // closed by the caller
)

// Stats is a snapshot of a medium's counters.
type Stats struct {
	Name     string // as in ha.cf
	Kind     Kind
	Link     string // heartbeat's link name: IF, DEV, ping HOST or group NAME
	State    State
	Sent     uint64 // messages handed to the kernel / written
	Received uint64 // messages delivered by Recv
	Dropped  map[DropReason]uint64
	LastSent time.Time
	LastRecv time.Time
	LastErr  string    // the most recent failure, "" if none
	ErrAt    time.Time // when LastErr happened
	Reopens  uint64    // successful reopens after a failure (Keep)
}

// counters is embedded by every medium.
type counters struct {
	mu       sync.Mutex
	name     string
	kind     Kind
	link     string
	state    State
	sent     uint64
	received uint64
	dropped  [numDropReasons]uint64
	lastSent time.Time
	lastRecv time.Time
	lastErr  string
	errAt    time.Time
	reopens  uint64
}

func (c *counters) init(kind Kind, name, link string) {
	c.kind, c.name, c.link, c.state = kind, name, link, StateUp
}

func (c *counters) countSent(now time.Time) {
	c.mu.Lock()
	c.sent++
	c.lastSent = now
	c.mu.Unlock()
}

func (c *counters) countRecv(now time.Time) {
	c.mu.Lock()
	c.received++
	c.lastRecv = now
	c.mu.Unlock()
}

func (c *counters) drop(r DropReason) {
	c.mu.Lock()
	c.dropped[r]++
	c.mu.Unlock()
}

func (c *counters) fail(err error, r DropReason) {
	c.mu.Lock()
	c.dropped[r]++
	c.lastErr = err.Error()
	c.errAt = time.Now()
	c.mu.Unlock()
}

func (c *counters) setErr(err error) {
	c.mu.Lock()
	c.lastErr = err.Error()
	c.errAt = time.Now()
	c.mu.Unlock()
}

func (c *counters) setState(s State) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

// Name returns the medium as written in ha.cf.
func (c *counters) Name() string { return c.name }

// Stats returns a snapshot of the counters.
func (c *counters) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{
		Name: c.name, Kind: c.kind, Link: c.link, State: c.state,
		Sent: c.sent, Received: c.received,
		LastSent: c.lastSent, LastRecv: c.lastRecv,
		LastErr: c.lastErr, ErrAt: c.errAt, Reopens: c.reopens,
		Dropped: map[DropReason]uint64{},
	}
	for r, n := range c.dropped {
		if n > 0 {
			s.Dropped[DropReason(r)] = n
		}
	}
	return s
}

// readSocket runs one blocking read on a socket that ctx can interrupt
// (through the read deadline) and sorts its failure: the context's error,
// ErrClosed once the medium is closed, or the read's own error, which is
// recorded in c. at is when the read returned.
func readSocket(ctx context.Context, conn interface{ SetReadDeadline(time.Time) error }, closed *atomic.Bool, c *counters, read func() error) (at time.Time, err error) {
	_ = conn.SetReadDeadline(time.Time{})
	stop := watchCtx(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	err = read()
	at = time.Now()
	stop()
	if err == nil {
		return at, nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return at, cerr
	}
	if closed.Load() || errors.Is(err, net.ErrClosed) {
		return at, ErrClosed
	}
	c.setErr(err)
	return at, err
}

// watchCtx arranges for unblock to run when ctx is cancelled while a
// blocking call is in progress; the returned stop must be called after.
func watchCtx(ctx context.Context, unblock func()) (stop func() bool) {
	if ctx.Done() == nil {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, unblock)
}
