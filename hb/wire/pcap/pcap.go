// Package pcap reads UDP datagrams out of classic libpcap capture files
// (the format tcpdump -w writes), for `heartbeat decode` and for tests
// that replay captures. Pure Go, no cgo, no libpcap. Link types: Ethernet
// (with 802.1Q tags), Linux cooked (SLL and SLL2), raw IP and BSD
// loopback; IPv4 and IPv6; UDP and ICMP echo (the ping media carry
// heartbeat messages there); fragments other than the first are skipped.
// pcapng files are refused with an error that says so.
package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Link types this reader understands.
const (
	LinkNull     = 0
	LinkEthernet = 1
	LinkRaw      = 101
	LinkRawAlt   = 12
	LinkSLL      = 113
	LinkSLL2     = 276
)

// maxSnap bounds one record, so a corrupt length cannot exhaust memory.
const maxSnap = 256 * 1024

// IP protocol numbers of the datagrams Next returns.
const (
	ProtoICMP   = 1
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// Datagram is one UDP datagram, or one ICMP echo request or reply (the
// ping medium carries heartbeat messages in them), found in a capture.
type Datagram struct {
	Time     time.Time
	Proto    uint8          // ProtoUDP, ProtoICMP or ProtoICMPv6
	ICMPType uint8          // echo request 8 / reply 0 (ICMPv6: 128 / 129)
	Src, Dst netip.AddrPort // ports are 0 for ICMP
	TOS      uint8          // IPv4 TOS / IPv6 traffic class
	TTL      uint8          // IPv4 TTL / IPv6 hop limit
	Payload  []byte
	Index    int // 1-based record number in the file
}

// Reader reads datagrams from a capture.
type Reader struct {
	r        io.Reader
	order    binary.ByteOrder
	nano     bool
	LinkType uint32
	n        int
	hdr      [16]byte
	buf      []byte
}

// ErrPcapNG is returned for pcapng files.
var ErrPcapNG = errors.New("pcap: pcapng files are not supported; convert with: editcap -F pcap IN OUT")

// NewReader reads the file header.
func NewReader(r io.Reader) (*Reader, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("pcap: reading file header: %w", err)
	}
	rd := &Reader{r: r}
	switch {
	case binary.LittleEndian.Uint32(h[:4]) == 0xa1b2c3d4:
		rd.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[:4]) == 0xa1b2c3d4:
		rd.order = binary.BigEndian
	case binary.LittleEndian.Uint32(h[:4]) == 0xa1b23c4d:
		rd.order, rd.nano = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h[:4]) == 0xa1b23c4d:
		rd.order, rd.nano = binary.BigEndian, true
	case binary.LittleEndian.Uint32(h[:4]) == 0x0a0d0d0a:
		return nil, ErrPcapNG
	default:
		return nil, errors.New("pcap: not a pcap file (bad magic)")
	}
	rd.LinkType = rd.order.Uint32(h[20:24]) & 0x0fffffff
	switch rd.LinkType {
	case LinkNull, LinkEthernet, LinkRaw, LinkRawAlt, LinkSLL, LinkSLL2:
	default:
		return nil, fmt.Errorf("pcap: link type %d not supported", rd.LinkType)
	}
	return rd, nil
}

// Next returns the next UDP datagram or ICMP echo, skipping every other
// frame. It
// returns io.EOF at the end of the file; a file cut inside a record is
// io.ErrUnexpectedEOF. The payload is valid until the next call.
func (rd *Reader) Next() (Datagram, error) {
	for {
		if _, err := io.ReadFull(rd.r, rd.hdr[:]); err != nil {
			return Datagram{}, err
		}
		rd.n++
		sec := rd.order.Uint32(rd.hdr[0:4])
		frac := rd.order.Uint32(rd.hdr[4:8])
		incl := rd.order.Uint32(rd.hdr[8:12])
		if incl > maxSnap {
			return Datagram{}, fmt.Errorf("pcap: record %d claims %d bytes", rd.n, incl)
		}
		if cap(rd.buf) < int(incl) {
			rd.buf = make([]byte, incl)
		}
		frame := rd.buf[:incl]
		if _, err := io.ReadFull(rd.r, frame); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Datagram{}, err
		}
		ns := int64(frac) * 1000
		if rd.nano {
			ns = int64(frac)
		}
		d, ok := decodeFrame(rd.LinkType, frame)
		if !ok {
			continue
		}
		d.Time = time.Unix(int64(sec), ns).UTC()
		d.Index = rd.n
		return d, nil
	}
}

func decodeFrame(link uint32, f []byte) (Datagram, bool) {
	var etype uint16
	switch link {
	case LinkEthernet:
		if len(f) < 14 {
			return Datagram{}, false
		}
		etype, f = binary.BigEndian.Uint16(f[12:14]), f[14:]
		for (etype == 0x8100 || etype == 0x88a8) && len(f) >= 4 {
			etype, f = binary.BigEndian.Uint16(f[2:4]), f[4:]
		}
	case LinkSLL:
		if len(f) < 16 {
			return Datagram{}, false
		}
		etype, f = binary.BigEndian.Uint16(f[14:16]), f[16:]
	case LinkSLL2:
		if len(f) < 20 {
			return Datagram{}, false
		}
		etype, f = binary.BigEndian.Uint16(f[0:2]), f[20:]
	case LinkNull:
		if len(f) < 4 {
			return Datagram{}, false
		}
		f = f[4:]
		etype = ipVersionType(f)
	case LinkRaw, LinkRawAlt:
		etype = ipVersionType(f)
	}
	switch etype {
	case 0x0800:
		return ipv4(f)
	case 0x86dd:
		return ipv6(f)
	}
	return Datagram{}, false
}

func ipVersionType(f []byte) uint16 {
	if len(f) == 0 {
		return 0
	}
	switch f[0] >> 4 {
	case 4:
		return 0x0800
	case 6:
		return 0x86dd
	}
	return 0
}

func ipv4(f []byte) (Datagram, bool) {
	if len(f) < 20 || f[0]>>4 != 4 {
		return Datagram{}, false
	}
	ihl := int(f[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(f[2:4]))
	if ihl < 20 || total < ihl || len(f) < ihl {
		return Datagram{}, false
	}
	if total < len(f) {
		f = f[:total] // Ethernet padding
	}
	if binary.BigEndian.Uint16(f[6:8])&0x1fff != 0 {
		return Datagram{}, false // not the first fragment
	}
	src, _ := netip.AddrFromSlice(f[12:16])
	dst, _ := netip.AddrFromSlice(f[16:20])
	switch f[9] {
	case ProtoUDP:
		return udp(f[ihl:], src, dst, f[1], f[8])
	case ProtoICMP:
		return icmpEcho(f[ihl:], ProtoICMP, 8, 0, src, dst, f[1], f[8])
	}
	return Datagram{}, false
}

func ipv6(f []byte) (Datagram, bool) {
	if len(f) < 40 || f[0]>>4 != 6 {
		return Datagram{}, false
	}
	plen := int(binary.BigEndian.Uint16(f[4:6]))
	tc := uint8(binary.BigEndian.Uint16(f[0:2]) >> 4)
	next, hop := f[6], f[7]
	src, _ := netip.AddrFromSlice(f[8:24])
	dst, _ := netip.AddrFromSlice(f[24:40])
	p := f[40:]
	if plen < len(p) {
		p = p[:plen]
	}
	for range 8 {
		switch next {
		case ProtoUDP:
			return udp(p, src, dst, tc, hop)
		case ProtoICMPv6:
			return icmpEcho(p, ProtoICMPv6, 128, 129, src, dst, tc, hop)
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(p) < 8 {
				return Datagram{}, false
			}
			n := (int(p[1]) + 1) * 8
			if len(p) < n {
				return Datagram{}, false
			}
			next, p = p[0], p[n:]
		case 44: // fragment: only the first fragment carries the UDP header
			if len(p) < 8 || binary.BigEndian.Uint16(p[2:4])&0xfff8 != 0 {
				return Datagram{}, false
			}
			next, p = p[0], p[8:]
		default:
			return Datagram{}, false
		}
	}
	return Datagram{}, false
}

func udp(p []byte, src, dst netip.Addr, tos, ttl uint8) (Datagram, bool) {
	if len(p) < 8 {
		return Datagram{}, false
	}
	sport := binary.BigEndian.Uint16(p[0:2])
	dport := binary.BigEndian.Uint16(p[2:4])
	ulen := int(binary.BigEndian.Uint16(p[4:6]))
	payload := p[8:]
	if ulen >= 8 && ulen-8 < len(payload) {
		payload = payload[:ulen-8]
	}
	return Datagram{
		Proto: ProtoUDP,
		Src:   netip.AddrPortFrom(src.Unmap(), sport), Dst: netip.AddrPortFrom(dst.Unmap(), dport),
		TOS: tos, TTL: ttl, Payload: payload,
	}, true
}

func icmpEcho(p []byte, proto, request, reply uint8, src, dst netip.Addr, tos, ttl uint8) (Datagram, bool) {
	if len(p) < 8 || (p[0] != request && p[0] != reply) {
		return Datagram{}, false
	}
	return Datagram{
		Proto: proto, ICMPType: p[0],
		Src: netip.AddrPortFrom(src.Unmap(), 0), Dst: netip.AddrPortFrom(dst.Unmap(), 0),
		TOS: tos, TTL: ttl, Payload: p[8:],
	}, true
}
