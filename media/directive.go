package media

import (
	"fmt"
	"net/netip"
	"strings"
)

// Spec is one medium described by an ha.cf media directive, not yet open.
type Spec struct {
	Kind Kind
	Name string   // "bcast eth0", "ucast eth0 10.0.0.2", "ping_group g 1.2.3.4 ..."
	Link string   // heartbeat's link name (IF, DEV, HOST or group NAME)
	Args []string // the tokens that describe this one medium

	open Opener
}

// Open opens the medium once.
func (s Spec) Open() (Medium, error) { return s.open() }

// Keep opens the medium and keeps it open (see Keep). A medium that
// cannot be opened is retried in the background; at start-up use
// KeepOpen, which reports it as heartbeat does.
func (s Spec) Keep(opts KeepOptions) *Kept { return Keep(s.Kind, s.Name, s.Link, s.open, opts) }

// KeepOpen opens the medium now and keeps it open (see KeepOpen): the
// start-up form, failing with an *OpenError when the medium cannot be
// opened.
func (s Spec) KeepOpen(opts KeepOptions) (*Kept, error) {
	k, err := KeepOpen(s.Kind, s.Name, s.Link, s.open, opts)
	if err != nil {
		return nil, &OpenError{Name: s.Name, Kind: s.Kind, Link: s.Link, Err: err}
	}
	return k, nil
}

// Parse turns one ha.cf media directive into media specs, the way
// heartbeat 3.0.6 splits them: bcast, serial, ping and ping6 make one
// medium per argument; mcast, mcast6, ucast, ucast6 and ping_group take
// the whole line and make one. udpport is ha.cf's udpport (0 means
// DefaultUDPPort), baud ha.cf's baud (0 means DefaultBaud). Nothing is
// opened: interface and host checks happen at Open.
//
// Error texts are heartbeat's parse-time messages where it has one.
func Parse(kind string, args []string, udpport, baud int) ([]Spec, error) {
	if udpport == 0 {
		udpport = DefaultUDPPort
	}
	if baud == 0 {
		baud = DefaultBaud
	}
	k := Kind(kind)
	var out []Spec
	switch k {
	case KindBcast:
		for _, ifc := range args {
			ifc := ifc
			out = append(out, Spec{Kind: k, Name: "bcast " + ifc, Link: ifc, Args: []string{ifc},
				open: func() (Medium, error) { return NewBcast(ifc, udpport) }})
		}
	case KindSerial:
		if !ValidBaud(baud) {
			return nil, fmt.Errorf("invalid baudrate [%d] specified.", baud)
		}
		for _, dev := range args {
			dev := dev
			if !strings.HasPrefix(dev, "/") {
				return nil, fmt.Errorf("Serial port not full pathname [%s] in config file", dev)
			}
			out = append(out, Spec{Kind: k, Name: "serial " + dev, Link: dev, Args: []string{dev},
				open: func() (Medium, error) { return NewSerial(dev, baud) }})
		}
	case KindPing, KindPing6:
		for _, h := range args {
			h := h
			open := func() (Medium, error) { return NewPing(h) }
			if k == KindPing6 {
				open = func() (Medium, error) { return NewPing6(h) }
			}
			out = append(out, Spec{Kind: k, Name: kind + " " + h, Link: strings.ToLower(h), Args: []string{h}, open: open})
		}
	case KindPingGroup:
		if len(args) == 0 {
			return nil, nil
		}
		if len(args) < 2 {
			return nil, fmt.Errorf("ping_group %s: no hosts", args[0])
		}
		name, hosts := args[0], append([]string(nil), args[1:]...)
		out = append(out, Spec{Kind: k, Name: "ping_group " + strings.Join(args, " "), Link: strings.ToLower(name),
			Args: append([]string(nil), args...),
			open: func() (Medium, error) {
				p, _, err := NewPingGroup(name, hosts)
				if err != nil {
					return nil, err
				}
				return p, nil
			}})
	case KindUcast, KindUcast6:
		if len(args) == 0 {
			if k == KindUcast6 {
				return nil, fmt.Errorf("ucast6 statement without device")
			}
			return nil, nil // heartbeat accepts an empty ucast line and makes no medium
		}
		ifc := args[0]
		if len(args) < 2 {
			if k == KindUcast {
				return nil, fmt.Errorf("ucast: [%s] missing target IP address/hostname", ifc)
			}
			return nil, fmt.Errorf("ucast6 [%s] missing ucast6 address", ifc)
		}
		peer := args[1]
		if k == KindUcast6 && !validUcast6(peer) {
			return nil, fmt.Errorf("ucast6 [%s] bad addr [%s]", ifc, peer)
		}
		open := func() (Medium, error) { return NewUcast(ifc, peer, udpport) }
		if k == KindUcast6 {
			open = func() (Medium, error) { return NewUcast6(ifc, peer, udpport) }
		}
		out = append(out, Spec{Kind: k, Name: kind + " " + ifc + " " + peer, Link: ifc, Args: []string{ifc, peer}, open: open})
	case KindMcast, KindMcast6:
		s, err := parseMcast(k, args)
		if err != nil || s == nil {
			return nil, err
		}
		out = append(out, *s)
	default:
		return nil, fmt.Errorf("unknown medium %q", kind)
	}
	return out, nil
}

// parseMcast checks "mcast IF GROUP PORT TTL LOOP" (and mcast6) as
// heartbeat does: numbers with C atoi semantics, TTL/HOPS 0..4, LOOP 0/1;
// tokens after LOOP are ignored.
func parseMcast(k Kind, args []string) (*Spec, error) {
	v6 := k == KindMcast6
	p := "mcast"
	lead := ""
	if v6 {
		p, lead = "mcast6", " "
	}
	if len(args) == 0 {
		if v6 {
			return nil, fmt.Errorf("mcast6 statement without device")
		}
		return nil, nil
	}
	ifc := args[0]
	missing := []string{"mcast address", "port", "ttl", "loop"}
	if v6 {
		missing = []string{"mcast6 address", "port", "hops", "loop"}
	}
	if len(args) < 5 {
		return nil, fmt.Errorf("%s [%s] missing %s", p, ifc, missing[len(args)-1])
	}
	group := args[1]
	g, err := netip.ParseAddr(group)
	if err != nil || !g.IsMulticast() || g.Is4() == v6 || (v6 && !validMcast6(g)) {
		return nil, fmt.Errorf("%s%s [%s] bad addr [%s]", lead, p, ifc, group)
	}
	port, ttl, loop := atoi(args[2]), atoi(args[3]), atoi(args[4])
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("%s%s [%s] bad port [%d]", lead, p, ifc, port)
	}
	if ttl < 0 || ttl > 4 {
		what := "ttl"
		if v6 {
			what = "hops"
		}
		return nil, fmt.Errorf("%s%s [%s] bad %s [%d]", lead, p, ifc, what, ttl)
	}
	if loop != 0 && loop != 1 {
		return nil, fmt.Errorf("%s%s [%s] bad loop [%d]", lead, p, ifc, loop)
	}
	s := &Spec{Kind: k, Name: fmt.Sprintf("%s %s %s %d %d %d", k, ifc, group, port, ttl, loop), Link: ifc,
		Args: append([]string(nil), args[:5]...)}
	if v6 {
		s.open = func() (Medium, error) { return NewMcast6(ifc, group, port, ttl, loop == 1) }
	} else {
		s.open = func() (Medium, error) { return NewMcast(ifc, group, port, ttl, loop == 1) }
	}
	return s, nil
}

// validUcast6 is heartbeat's plausibility check of a ucast6 peer: a
// numeric IPv6 address (an optional %scope is ignored here) that is not
// multicast, unspecified or loopback.
func validUcast6(peer string) bool {
	host, _, _ := strings.Cut(peer, "%")
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is6() || a.Is4In6() {
		return false
	}
	return !a.IsMulticast() && !a.IsUnspecified() && !a.IsLoopback()
}

// validMcast6 is heartbeat's check of an mcast6 group: no flags but the
// transient bit, a link-, admin-, site- or organisation-local scope, and
// not all zeros after the scope.
func validMcast6(g netip.Addr) bool {
	b := g.As16()
	if b[0] != 0xff || b[1]&0xe0 != 0 {
		return false
	}
	switch b[1] & 0x0f {
	case 0x2, 0x4, 0x5, 0x8:
	default:
		return false
	}
	for _, x := range b[2:] {
		if x != 0 {
			return true
		}
	}
	return false
}

// atoi is C's atoi: optional blanks and sign, then leading digits; 0 when
// there are none.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<31 {
			break
		}
	}
	if neg {
		n = -n
	}
	return n
}

// FromDirective parses a media directive and opens every medium it
// names, keeping them open (Spec.KeepOpen): the one-call way from ha.cf
// to running media at start-up. When one of them cannot be opened,
// those already opened are closed and the *OpenError is returned, as
// heartbeat 3.0.6 refuses to start then; failures after that are retried
// in the background.
func FromDirective(kind string, args []string, udpport, baud int, opts KeepOptions) ([]*Kept, error) {
	specs, err := Parse(kind, args, udpport, baud)
	if err != nil {
		return nil, err
	}
	return keepOpenAll(specs, opts)
}

// keepOpenAll opens every spec in order (Spec.KeepOpen); on the first
// failure it closes those already open and returns the error.
func keepOpenAll(specs []Spec, opts KeepOptions) ([]*Kept, error) {
	out := make([]*Kept, 0, len(specs))
	for _, s := range specs {
		k, err := s.KeepOpen(opts)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}
