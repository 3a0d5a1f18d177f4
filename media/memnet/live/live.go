// Package live puts a memnet network behind media.Medium endpoints, for
// tests of the runtime (goroutines, real or testing/synctest time): every
// endpoint's Send goes through one shared memnet.Network, with its loss,
// delay, duplication, reordering and partitions, and arrivals are pumped to
// the receivers' Recv by a timer at the next arrival time. Under
// testing/synctest the timer runs on the bubble's fake clock, so a lossy
// multi-node run over deadtimes passes instantly and deterministically.
package live

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/heartbeat-go/heartbeat/media"
	"github.com/heartbeat-go/heartbeat/media/memnet"
)

// QueueLen is how many packets an endpoint buffers before it drops (a
// socket's receive buffer).
const QueueLen = 1024

// Hub is the shared network. Safe for concurrent use.
type Hub struct {
	mu    sync.Mutex
	net   *memnet.Network[[]byte]
	eps   map[[2]string]*Endpoint // (node, medium)
	timer *time.Timer
	due   time.Time
	pkts  []memnet.Packet[[]byte]
	// Dropped counts packets lost because a receiver's queue was full.
	Dropped int
}

// NewHub returns an empty hub whose randomness comes from seed.
func NewHub(seed uint64) *Hub {
	return &Hub{net: memnet.New[[]byte](rand.New(rand.NewPCG(seed, 0x11fe))), eps: map[[2]string]*Endpoint{}}
}

// Do runs f with the network locked, to change its conditions or read its
// statistics.
func (h *Hub) Do(f func(n *memnet.Network[[]byte])) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h.net)
	h.schedule()
}

// Endpoint returns node's endpoint on the named medium, attaching it.
func (h *Hub) Endpoint(node, medium string) *Endpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := [2]string{node, medium}
	if e := h.eps[k]; e != nil {
		return e
	}
	h.net.Attach(node, medium)
	e := &Endpoint{hub: h, node: node, medium: medium, ch: make(chan media.Packet, QueueLen), done: make(chan struct{})}
	h.eps[k] = e
	return e
}

// schedule arms the timer for the next arrival; h.mu held.
func (h *Hub) schedule() {
	at, ok := h.net.Next()
	if !ok || (!h.due.IsZero() && !at.Before(h.due)) {
		return
	}
	if h.timer != nil {
		h.timer.Stop()
	}
	h.due = at
	h.timer = time.AfterFunc(max(0, time.Until(at)), h.pump)
}

func (h *Hub) pump() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.due = time.Time{}
	h.pkts = h.net.Deliver(time.Now(), h.pkts[:0])
	for _, p := range h.pkts {
		e := h.eps[[2]string{p.To, p.Medium}]
		if e == nil || e.isClosed() {
			continue
		}
		select {
		case e.ch <- media.Packet{Data: p.Payload, From: p.From, At: p.At}:
		default:
			h.Dropped++
		}
	}
	clear(h.pkts)
	h.schedule()
}

// Endpoint is one node's medium: a media.Medium.
type Endpoint struct {
	hub    *Hub
	node   string
	medium string
	ch     chan media.Packet
	once   sync.Once
	done   chan struct{}
}

var _ media.Medium = (*Endpoint)(nil)

// Name returns the medium name.
func (e *Endpoint) Name() string { return e.medium }

// Send offers a copy of b to every other node on the medium.
func (e *Endpoint) Send(ctx context.Context, b []byte) error {
	if e.isClosed() {
		return media.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	h := e.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	h.net.Send(time.Now(), e.node, e.medium, slices.Clone(b))
	h.schedule()
	return nil
}

// Recv returns the next packet for this endpoint.
func (e *Endpoint) Recv(ctx context.Context) (media.Packet, error) {
	select {
	case p := <-e.ch:
		return p, nil
	case <-ctx.Done():
		return media.Packet{}, ctx.Err()
	case <-e.done:
		return media.Packet{}, media.ErrClosed
	}
}

// Close ends the endpoint; blocked Recv calls return media.ErrClosed.
func (e *Endpoint) Close() error {
	e.once.Do(func() { close(e.done) })
	return nil
}

func (e *Endpoint) isClosed() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}
