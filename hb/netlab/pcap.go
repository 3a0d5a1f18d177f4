package netlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"
)

// Frame is one captured link-layer frame.
type Frame struct {
	At   time.Time
	Data []byte // Ethernet frame as captured
}

// ReadPcap reads a classic pcap file (microsecond or nanosecond, either
// byte order) with Ethernet link type. It is a small test helper, not a
// general pcap library.
func ReadPcap(path string) ([]Frame, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePcap(b)
}

// ParsePcap parses the bytes of a pcap file; see ReadPcap.
func ParsePcap(b []byte) ([]Frame, error) {
	if len(b) < 24 {
		return nil, errors.New("pcap: short file header")
	}
	var bo binary.ByteOrder
	nano := false
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, nano = binary.LittleEndian, true
	default:
		switch binary.BigEndian.Uint32(b) {
		case 0xa1b2c3d4:
			bo = binary.BigEndian
		case 0xa1b23c4d:
			bo, nano = binary.BigEndian, true
		default:
			return nil, errors.New("pcap: bad magic")
		}
	}
	if lt := bo.Uint32(b[20:]); lt != 1 {
		return nil, fmt.Errorf("pcap: link type %d, want 1 (Ethernet)", lt)
	}
	var out []Frame
	for off := 24; off < len(b); {
		if len(b)-off < 16 {
			return out, errors.New("pcap: truncated record header")
		}
		sec, frac := bo.Uint32(b[off:]), bo.Uint32(b[off+4:])
		incl := int(bo.Uint32(b[off+8:]))
		off += 16
		if incl < 0 || incl > len(b)-off {
			return out, errors.New("pcap: truncated record")
		}
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		out = append(out, Frame{At: time.Unix(int64(sec), ns), Data: b[off : off+incl]})
		off += incl
	}
	return out, nil
}

// UDP is an IPv4 or IPv6 UDP datagram taken apart from an Ethernet frame.
type UDP struct {
	At       time.Time
	Src, Dst netip.AddrPort
	TOS      uint8 // IPv4 TOS / IPv6 traffic class
	TTL      uint8 // IPv4 TTL / IPv6 hop limit
	DF       bool  // IPv4 don't-fragment flag
	DstMAC   [6]byte
	Payload  []byte
}

// ParseUDP returns the UDP datagram in an Ethernet frame (optionally one
// 802.1Q tag), or ok=false for anything else (ARP, ICMP, fragments...).
func ParseUDP(f Frame) (u UDP, ok bool) {
	d := f.Data
	if len(d) < 14 {
		return u, false
	}
	copy(u.DstMAC[:], d[:6])
	et := binary.BigEndian.Uint16(d[12:])
	d = d[14:]
	if et == 0x8100 && len(d) >= 4 {
		et = binary.BigEndian.Uint16(d[2:])
		d = d[4:]
	}
	u.At = f.At
	var l4 []byte
	switch et {
	case 0x0800:
		if len(d) < 20 || d[0]>>4 != 4 {
			return u, false
		}
		ihl := int(d[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(d[2:]))
		if ihl < 20 || total < ihl || total > len(d) || d[9] != 17 {
			return u, false
		}
		fl := binary.BigEndian.Uint16(d[6:])
		if fl&0x3fff != 0 { // fragment
			return u, false
		}
		u.TOS, u.TTL, u.DF = d[1], d[8], fl&0x4000 != 0
		src, _ := netip.AddrFromSlice(d[12:16])
		dst, _ := netip.AddrFromSlice(d[16:20])
		l4 = d[ihl:total]
		u.Src, u.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
	case 0x86dd:
		if len(d) < 40 || d[6] != 17 {
			return u, false
		}
		u.TOS = uint8(binary.BigEndian.Uint16(d[0:]) >> 4)
		u.TTL = d[7]
		plen := int(binary.BigEndian.Uint16(d[4:]))
		if 40+plen > len(d) {
			return u, false
		}
		src, _ := netip.AddrFromSlice(d[8:24])
		dst, _ := netip.AddrFromSlice(d[24:40])
		l4 = d[40 : 40+plen]
		u.Src, u.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
	default:
		return u, false
	}
	if len(l4) < 8 {
		return u, false
	}
	ulen := int(binary.BigEndian.Uint16(l4[4:]))
	if ulen < 8 || ulen > len(l4) {
		return u, false
	}
	u.Src = netip.AddrPortFrom(u.Src.Addr(), binary.BigEndian.Uint16(l4[0:]))
	u.Dst = netip.AddrPortFrom(u.Dst.Addr(), binary.BigEndian.Uint16(l4[2:]))
	u.Payload = l4[8:ulen]
	return u, true
}
