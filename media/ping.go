package media

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Ping is a "ping HOST", "ping6 HOST" or "ping_group NAME HOST..." pseudo
// medium. Send puts the given bytes (the daemon's signed NS_st message for
// this ping node) into one ICMP echo request per host; Recv returns the
// payload of echo replies from any of the hosts that carry our identifier.
// A group is thus up while any member answers. Needs CAP_NET_RAW, as
// heartbeat's plugin does (raw ICMP socket).
type Ping struct {
	counters
	v6      bool
	conn    *net.IPConn
	targets []netip.Addr
	ident   uint16
	seq     atomic.Uint32
	closed  atomic.Bool

	rmu sync.Mutex // one reader at a time owns buf
	buf []byte
}

// ICMP types.
const (
	icmpEchoReply     = 0
	icmpEcho          = 8
	icmp6EchoRequest  = 128
	icmp6EchoReply    = 129
	icmpHeaderLen     = 8
	pingReadBufferLen = 65536
)

// NewPing opens "ping HOST": HOST is an IPv4 address or host name. The
// ping node and its link are named HOST lowercased.
func NewPing(host string) (*Ping, error) {
	addr, err := resolveHost(host, false)
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(host)
	return openPing(KindPing, "ping "+host, name, []netip.Addr{addr}, false)
}

// NewPing6 opens "ping6 HOST6" (ICMPv6 echo).
func NewPing6(host string) (*Ping, error) {
	addr, err := resolveHost(host, true)
	if err != nil {
		return nil, err
	}
	return openPing(KindPing6, "ping6 "+host, strings.ToLower(host), []netip.Addr{addr}, true)
}

// NewPingGroup opens "ping_group NAME HOST...": one ping node NAME
// (lowercased) that answers when any HOST does. Unresolvable hosts are
// skipped (as heartbeat does, which only logs them) and reported in
// skipped; a group with no usable host is an error.
func NewPingGroup(name string, hosts []string) (p *Ping, skipped []error, err error) {
	var addrs []netip.Addr
	for _, h := range hosts {
		a, err := resolveHost(h, false)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, skipped, fmt.Errorf("ping_group %s: no usable host", name)
	}
	p, err = openPing(KindPingGroup, "ping_group "+name+" "+strings.Join(hosts, " "), strings.ToLower(name), addrs, false)
	return p, skipped, err
}

func resolveHost(host string, v6 bool) (netip.Addr, error) {
	network := "ip4"
	if v6 {
		network = "ip6"
	}
	ia, err := net.ResolveIPAddr(network, host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("unknown host: %s: %w", host, err)
	}
	a, ok := netip.AddrFromSlice(ia.IP)
	if !ok {
		return netip.Addr{}, fmt.Errorf("unknown host: %s", host)
	}
	if !v6 {
		return a.Unmap(), nil
	}
	if ia.Zone != "" {
		// Keep the zone as an interface index resolved now, in the
		// namespace the medium is opened in.
		zone := ia.Zone
		if ifi, err := net.InterfaceByName(zone); err == nil {
			zone = strconv.Itoa(ifi.Index)
		}
		a = a.WithZone(zone)
	}
	return a, nil
}

func openPing(kind Kind, name, link string, targets []netip.Addr, v6 bool) (*Ping, error) {
	network, laddr := "ip4:icmp", "0.0.0.0"
	if v6 {
		network, laddr = "ip6:ipv6-icmp", "::"
	}
	pc, err := net.ListenPacket(network, laddr)
	if err != nil {
		return nil, fmt.Errorf("Can't open RAW socket.: %w", errnoOf(err))
	}
	p := &Ping{v6: v6, conn: pc.(*net.IPConn), targets: targets, ident: uint16(os.Getpid())}
	p.init(kind, name, link)
	return p, nil
}

// OpenLog returns what heartbeat's ping plugin logs when it opens (nil for
// ping6 and ping_group, whose wording is not recorded).
func (p *Ping) OpenLog() []string {
	if p.kind == KindPing {
		return []string{"ping heartbeat started."}
	}
	return nil
}

// Targets are the resolved hosts.
func (p *Ping) Targets() []netip.Addr { return append([]netip.Addr(nil), p.targets...) }

// Ident is the ICMP identifier of our echo requests.
func (p *Ping) Ident() uint16 { return p.ident }

// EchoRequest builds an ICMP (v6=false) or ICMPv6 echo request carrying
// payload. The ICMPv6 checksum is left zero: the kernel fills it in.
func EchoRequest(v6 bool, ident, seq uint16, payload []byte) []byte {
	b := make([]byte, icmpHeaderLen+len(payload))
	if v6 {
		b[0] = icmp6EchoRequest
	} else {
		b[0] = icmpEcho
	}
	binary.BigEndian.PutUint16(b[4:], ident)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[icmpHeaderLen:], payload)
	if !v6 {
		binary.BigEndian.PutUint16(b[2:], inetChecksum(b))
	}
	return b
}

// ParseEchoReply returns the payload of an ICMP(v6) echo reply with the
// given identifier, or ok=false for anything else.
func ParseEchoReply(v6 bool, ident uint16, b []byte) (payload []byte, ok bool) {
	if len(b) < icmpHeaderLen {
		return nil, false
	}
	want := byte(icmpEchoReply)
	if v6 {
		want = icmp6EchoReply
	}
	if b[0] != want || b[1] != 0 || binary.BigEndian.Uint16(b[4:]) != ident {
		return nil, false
	}
	return b[icmpHeaderLen:], true
}

func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Send sends one echo request carrying b to every host.
func (p *Ping) Send(ctx context.Context, b []byte) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(b)+icmpHeaderLen > 65000 {
		p.drop(DropTooLarge)
		return ErrTooLarge
	}
	seq := uint16(p.seq.Add(1) - 1)
	pkt := EchoRequest(p.v6, p.ident, seq, b)
	var errs []error
	for _, t := range p.targets {
		if _, err := p.conn.WriteToIP(pkt, &net.IPAddr{IP: t.AsSlice(), Zone: t.Zone()}); err != nil {
			err = fmt.Errorf("Error sending packet: %w", errnoOf(err))
			p.fail(err, DropSendError)
			errs = append(errs, fmt.Errorf("write failure on ping %s.: %w", t, err))
			continue
		}
		p.countSent(time.Now())
	}
	return errors.Join(errs...)
}

// Recv returns the payload of the next echo reply to us from one of the
// hosts.
func (p *Ping) Recv(ctx context.Context) (Packet, error) {
	p.rmu.Lock()
	defer p.rmu.Unlock()
	if p.buf == nil {
		p.buf = make([]byte, pingReadBufferLen)
	}
	buf := p.buf
	for {
		if p.closed.Load() {
			return Packet{}, ErrClosed
		}
		var n int
		var from *net.IPAddr
		at, err := readSocket(ctx, p.conn, &p.closed, &p.counters, func() (err error) {
			n, from, err = p.conn.ReadFromIP(buf)
			return err
		})
		if err != nil {
			return Packet{}, err
		}
		src, _ := netip.AddrFromSlice(from.IP)
		if !p.v6 {
			src = src.Unmap()
		}
		from.Zone = "" // compared without zone; printed with it below
		payload, ok := ParseEchoReply(p.v6, p.ident, buf[:n])
		if !ok || !p.isTarget(src) {
			// A raw ICMP socket sees every ICMP message of the host.
			p.drop(DropNotOurs)
			continue
		}
		p.countRecv(at)
		return Packet{Data: append([]byte(nil), payload...), From: src.String(), At: at}, nil
	}
}

func (p *Ping) isTarget(a netip.Addr) bool {
	for _, t := range p.targets {
		if t.WithZone("") == a.WithZone("") {
			return true
		}
	}
	return false
}

// Close closes the socket.
func (p *Ping) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.setState(StateClosed)
	return p.conn.Close()
}
