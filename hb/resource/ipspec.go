package resource

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// IPSpec is an IPaddr/IPaddr2 argument, "IP[/MASK[/NIC-or-BCAST[/BCAST]]]",
// taken apart as the resource.d wrappers do.
type IPSpec struct {
	IP        netip.Addr
	Bits      int        // prefix length; -1 when not given (taken from the route)
	NIC       string     // interface; "" when not given (found by subnet)
	Label     string     // label part of "eth0:label"; "" when none
	Broadcast netip.Addr // zero when not given
}

// ErrSpec reports a malformed IPaddr/IPaddr2/SendArp argument.
var ErrSpec = errors.New("bad IP address argument")

// ParseIPSpec parses an IPaddr/IPaddr2 argument. The third field is a
// broadcast address when it starts with a digit, else an interface
// (optionally "iface:label") followed by an optional broadcast address.
func ParseIPSpec(arg string) (IPSpec, error) {
	s := IPSpec{Bits: -1}
	f := strings.Split(arg, "/")
	if len(f) > 4 {
		return s, fmt.Errorf("%w %q: too many fields", ErrSpec, arg)
	}
	ip, err := netip.ParseAddr(f[0])
	if err != nil || !ip.Is4() {
		return s, fmt.Errorf("%w %q: %q is not an IPv4 address", ErrSpec, arg, f[0])
	}
	s.IP = ip
	if len(f) > 1 && f[1] != "" {
		bits, err := parseMask(f[1])
		if err != nil {
			return s, fmt.Errorf("%w %q: %v", ErrSpec, arg, err)
		}
		s.Bits = bits
	}
	if len(f) > 2 && f[2] != "" {
		if f[2][0] >= '0' && f[2][0] <= '9' {
			if len(f) > 3 {
				return s, fmt.Errorf("%w %q: nothing may follow the broadcast address", ErrSpec, arg)
			}
			if s.Broadcast, err = parseV4(f[2]); err != nil {
				return s, fmt.Errorf("%w %q: %v", ErrSpec, arg, err)
			}
		} else {
			nic, label, _ := strings.Cut(f[2], ":")
			if nic == "" || len(nic) > 15 || strings.ContainsAny(nic, " \t") {
				return s, fmt.Errorf("%w %q: bad interface %q", ErrSpec, arg, f[2])
			}
			s.NIC, s.Label = nic, label
			if len(f) > 3 && f[3] != "" {
				if s.Broadcast, err = parseV4(f[3]); err != nil {
					return s, fmt.Errorf("%w %q: %v", ErrSpec, arg, err)
				}
			}
		}
	}
	return s, nil
}

func parseV4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", s)
	}
	return a, nil
}

// parseMask accepts a bit count ("24") or a dotted netmask ("255.255.255.0").
func parseMask(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 32 {
			return 0, fmt.Errorf("netmask %q out of range", s)
		}
		return n, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("bad netmask %q", s)
	}
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	if v != 0 {
		return 0, fmt.Errorf("netmask %q is not contiguous", s)
	}
	return n, nil
}

// ParseSendArp parses a SendArp argument, "ip/interface".
func ParseSendArp(arg string) (netip.Addr, string, error) {
	ipS, nic, ok := strings.Cut(arg, "/")
	ip, err := netip.ParseAddr(ipS)
	if !ok || err != nil || !ip.Is4() || nic == "" || strings.ContainsAny(nic, "/ \t") || len(nic) > 15 {
		return netip.Addr{}, "", fmt.Errorf("%w %q: want ip/interface", ErrSpec, arg)
	}
	return ip, nic, nil
}

// broadcastOf returns the directed broadcast address of ip/bits.
func broadcastOf(ip netip.Addr, bits int) netip.Addr {
	b := ip.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if bits < 32 {
		v |= (1 << (32 - bits)) - 1
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
