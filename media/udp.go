package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultUDPPort is heartbeat's port when neither ha.cf's udpport nor
// /etc/services (ha-cluster/udp) names one.
const DefaultUDPPort = 694

// IP TOS values heartbeat uses: ucast write sockets ask for low delay,
// bcast and mcast leave the default.
const (
	TOSLowDelay = 0x10 // IPTOS_LOWDELAY
)

// UDP is a bcast, mcast, ucast, mcast6 or ucast6 medium. As in heartbeat,
// each has a write socket (unbound, so the kernel picks an ephemeral source
// port) and a read socket bound to the medium's port. One send plus one
// receive of a 400-byte datagram over lo takes about 11 µs and 3
// allocations (BenchmarkUcastLoopback).
type UDP struct {
	counters
	iface  string
	dst    *net.UDPAddr
	wconn  *net.UDPConn
	rconn  *net.UDPConn
	ifidx  int
	closed atomic.Bool

	rmu sync.Mutex // one reader at a time owns buf
	buf []byte
}

// sockopt sets one option on a raw connection.
type sockopt func(fd int) error

func intOpt(level, opt, v int, what string) sockopt {
	return func(fd int) error {
		if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
			return fmt.Errorf("setting socket option %s: %w", what, err)
		}
		return nil
	}
}

func bindToDevice(iface string) sockopt {
	return func(fd int) error {
		if iface == "" {
			return nil
		}
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, iface); err != nil {
			return fmt.Errorf("setting socket option SO_BINDTODEVICE on %s: %w", iface, err)
		}
		return nil
	}
}

// bufs1M asks for 1 MiB send and receive buffers (heartbeat's IPv6 media
// do; failures are ignored, as there).
func bufs1M(fd int) error {
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	return nil
}

func listenUDP(network, addr string, opts ...sockopt) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var oerr error
		err := c.Control(func(fd uintptr) {
			for _, o := range opts {
				if oerr = o(int(fd)); oerr != nil {
					return
				}
			}
		})
		if err != nil {
			return err
		}
		return oerr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

func rawControl(c *net.UDPConn, f func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// ifaceIPv4 returns the primary IPv4 address of iface (SIOCGIFADDR), as
// heartbeat's mcast plugin uses to choose the multicast interface.
func ifaceIPv4(iface string) (netip.Addr, error) {
	return ifreqAddr(iface, unix.SIOCGIFADDR)
}

// ifaceBroadcast returns the IPv4 broadcast address configured on iface
// (SIOCGIFBRDADDR), as heartbeat's bcast plugin does.
func ifaceBroadcast(iface string) (netip.Addr, error) {
	return ifreqAddr(iface, unix.SIOCGIFBRDADDR)
}

func ifreqAddr(iface string, req uint) (netip.Addr, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return netip.Addr{}, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return netip.Addr{}, err
	}
	if err := unix.IoctlIfreq(fd, req, ifr); err != nil {
		return netip.Addr{}, err
	}
	ip, err := ifr.Inet4Addr()
	if err != nil {
		return netip.Addr{}, err
	}
	a, _ := netip.AddrFromSlice(ip)
	return a, nil
}

// NewBcast opens "bcast IFACE": datagrams to IFACE's broadcast address and
// port, sent with SO_BROADCAST, SO_DONTROUTE and SO_BINDTODEVICE(IFACE);
// received on 0.0.0.0:port bound to IFACE (SO_REUSEADDR, so several
// media may share the port).
func NewBcast(iface string, port int) (*UDP, error) {
	if err := checkPort(port); err != nil {
		return nil, err
	}
	brd, err := ifaceBroadcast(iface)
	if err != nil {
		return nil, fmt.Errorf("Get broadcast for interface %s failed: %w", iface, errnoOf(err))
	}
	u := &UDP{iface: iface, dst: &net.UDPAddr{IP: brd.AsSlice(), Port: port}}
	u.init(KindBcast, "bcast "+iface, iface)
	u.wconn, err = listenUDP("udp4", ":0",
		intOpt(unix.SOL_SOCKET, unix.SO_BROADCAST, 1, "SO_BROADCAST"),
		intOpt(unix.SOL_SOCKET, unix.SO_DONTROUTE, 1, "SO_DONTROUTE"),
		bindToDevice(iface))
	if err != nil {
		return nil, err
	}
	u.rconn, err = listenUDP("udp4", ":"+strconv.Itoa(port),
		intOpt(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR"),
		bindToDevice(iface))
	if err != nil {
		u.wconn.Close()
		return nil, err
	}
	return u.finish()
}

// NewUcast opens "ucast IFACE PEER" (PEER an IPv4 address or host name):
// datagrams to PEER:port with IP TOS IPTOS_LOWDELAY, SO_BINDTODEVICE and
// SO_REUSEPORT; received on 0.0.0.0:port bound to IFACE with SO_REUSEADDR
// and SO_REUSEPORT (several ucast lines share the port).
func NewUcast(iface, peer string, port int) (*UDP, error) {
	return newUcast(KindUcast, iface, peer, port)
}

// NewUcast6 opens "ucast6 IFACE PEER6" as heartbeat 3.0.6 does: like
// NewUcast over IPv6, but with the default traffic class, no SO_REUSEPORT
// on the write socket and 1 MiB socket buffers. A link-local PEER6 without
// "%scope" is taken to be on IFACE; with one, the scope must be IFACE.
func NewUcast6(iface, peer string, port int) (*UDP, error) {
	return newUcast(KindUcast6, iface, peer, port)
}

func newUcast(kind Kind, iface, peer string, port int) (*UDP, error) {
	if err := checkPort(port); err != nil {
		return nil, err
	}
	network := "udp4"
	if kind == KindUcast6 {
		network = "udp6"
	}
	ra, err := net.ResolveUDPAddr(network, net.JoinHostPort(peer, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot resolve %s: %w", kind, peer, err)
	}
	if kind == KindUcast6 && ra.IP.IsLinkLocalUnicast() {
		// A link-local peer without %scope is on IFACE, as in heartbeat.
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return nil, fmt.Errorf("ucast6 device [%s] is invalid or not set up properly", iface)
		}
		if ra.Zone == "" {
			ra.Zone = iface
		} else if zi, err := net.InterfaceByName(ra.Zone); err != nil || zi.Index != ifi.Index {
			return nil, fmt.Errorf("ucast6: scope %s does not match device %s", ra.Zone, iface)
		}
	}
	numericZone(ra)
	u := &UDP{iface: iface, dst: ra}
	u.init(kind, string(kind)+" "+iface+" "+peer, iface)
	var wopts, ropts []sockopt
	if kind == KindUcast {
		// ucast: low-delay TOS and SO_REUSEPORT on the write socket.
		wopts = []sockopt{intOpt(unix.IPPROTO_IP, unix.IP_TOS, TOSLowDelay, "IP_TOS"), bindToDevice(iface),
			intOpt(unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, "SO_REUSEPORT")}
		ropts = []sockopt{intOpt(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR"), bindToDevice(iface),
			intOpt(unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, "SO_REUSEPORT")}
	} else {
		// ucast6: default traffic class, 1 MiB socket buffers.
		wopts = []sockopt{bufs1M, bindToDevice(iface)}
		ropts = []sockopt{intOpt(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR"), bufs1M, bindToDevice(iface),
			intOpt(unix.SOL_SOCKET, unix.SO_REUSEPORT, 1, "SO_REUSEPORT")}
	}
	u.wconn, err = listenUDP(network, ":0", wopts...)
	if err != nil {
		return nil, err
	}
	u.rconn, err = listenUDP(network, ":"+strconv.Itoa(port), ropts...)
	if err != nil {
		u.wconn.Close()
		return nil, err
	}
	return u.finish()
}

// NewMcast opens "mcast IFACE GROUP PORT TTL LOOP": datagrams to
// GROUP:PORT leaving through IFACE's address (IP_MULTICAST_IF) with the
// given TTL and loopback; received on a socket bound to GROUP:PORT
// (SO_REUSEADDR) that joined GROUP on IFACE's address.
func NewMcast(iface, group string, port, ttl int, loop bool) (*UDP, error) {
	if err := checkPort(port); err != nil {
		return nil, err
	}
	g, err := netip.ParseAddr(group)
	if err != nil || !g.Is4() || !g.IsMulticast() {
		return nil, fmt.Errorf("mcast [%s] bad addr [%s]", iface, group)
	}
	if ttl < 0 || ttl > 255 {
		return nil, fmt.Errorf("mcast [%s] bad ttl [%d]", iface, ttl)
	}
	local, err := ifaceIPv4(iface)
	if err != nil {
		return nil, fmt.Errorf("Unable to retrieve local interface address for interface [%s] using ioctl(SIOCGIFADDR): %w", iface, errnoOf(err))
	}
	u := &UDP{iface: iface, dst: &net.UDPAddr{IP: g.AsSlice(), Port: port}}
	u.init(KindMcast, fmt.Sprintf("mcast %s %s %d %d %d", iface, group, port, ttl, b2i(loop)), iface)
	l4 := local.As4()
	u.wconn, err = listenUDP("udp4", ":0", func(fd int) error {
		if err := unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, l4); err != nil {
			return fmt.Errorf("setting outbound mcast interface: %w", err)
		}
		if err := unix.SetsockoptByte(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, byte(b2i(loop))); err != nil {
			return fmt.Errorf("setting outbound mcast loopback value: %w", err)
		}
		if err := unix.SetsockoptByte(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, byte(ttl)); err != nil {
			return fmt.Errorf("setting outbound mcast TTL: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	u.rconn, err = listenUDP("udp4", net.JoinHostPort(group, strconv.Itoa(port)),
		intOpt(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR"))
	if err == nil {
		err = rawControl(u.rconn, func(fd int) error {
			mreq := &unix.IPMreq{Multiaddr: g.As4(), Interface: l4}
			if err := unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
				return fmt.Errorf("Can't join multicast group %s on interface %s: %w", group, iface, err)
			}
			return nil
		})
	}
	if err != nil {
		u.wconn.Close()
		if u.rconn != nil {
			u.rconn.Close()
		}
		return nil, err
	}
	return u.finish()
}

// NewMcast6 opens "mcast6 IFACE GROUP PORT HOPS LOOP", the IPv6 version of
// NewMcast (interface chosen by index, 1 MiB socket buffers, read socket
// bound to [::]:PORT and joined to GROUP on IFACE).
func NewMcast6(iface, group string, port, hops int, loop bool) (*UDP, error) {
	if err := checkPort(port); err != nil {
		return nil, err
	}
	g, err := netip.ParseAddr(group)
	if err != nil || !g.Is6() || g.Is4In6() || !g.IsMulticast() {
		return nil, fmt.Errorf(" mcast6 [%s] bad addr [%s]", iface, group)
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("mcast6 device [%s] is invalid or not set up properly: %w", iface, err)
	}
	u := &UDP{iface: iface, dst: &net.UDPAddr{IP: g.AsSlice(), Port: port, Zone: strconv.Itoa(ifi.Index)}}
	u.init(KindMcast6, fmt.Sprintf("mcast6 %s %s %d %d %d", iface, group, port, hops, b2i(loop)), iface)
	u.wconn, err = listenUDP("udp6", ":0", bufs1M,
		intOpt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifi.Index, "IPV6_MULTICAST_IF"),
		intOpt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, b2i(loop), "IPV6_MULTICAST_LOOP"),
		intOpt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, hops, "IPV6_MULTICAST_HOPS"))
	if err != nil {
		return nil, err
	}
	// Heartbeat binds the mcast6 read socket to [::]:PORT (not to the
	// group) and joins the group on IFACE.
	u.rconn, err = listenUDP("udp6", "[::]:"+strconv.Itoa(port),
		intOpt(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR"), bufs1M)
	if err == nil {
		err = rawControl(u.rconn, func(fd int) error {
			mreq := &unix.IPv6Mreq{Multiaddr: g.As16(), Interface: uint32(ifi.Index)}
			if err := unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq); err != nil {
				return fmt.Errorf("Can't join multicast group %s on interface %s: %w", group, iface, err)
			}
			return nil
		})
	}
	if err != nil {
		u.wconn.Close()
		if u.rconn != nil {
			u.rconn.Close()
		}
		return nil, err
	}
	return u.finish()
}

func (u *UDP) finish() (*UDP, error) {
	idx, err := u.sockIfindex()
	if err != nil {
		u.wconn.Close()
		u.rconn.Close()
		return nil, fmt.Errorf("interface %s: %w", u.iface, errnoOf(err))
	}
	u.ifidx = idx
	return u, nil
}

// numericZone replaces an IPv6 zone name by the interface index, resolved
// now, in the network namespace the medium is opened in (a name would be
// looked up again at every send, in whatever namespace the sending thread
// is in).
func numericZone(a *net.UDPAddr) {
	if a.Zone == "" {
		return
	}
	if ifi, err := net.InterfaceByName(a.Zone); err == nil {
		a.Zone = strconv.Itoa(ifi.Index)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func checkPort(port int) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("invalid port [%d]", port)
	}
	return nil
}

func errnoOf(err error) error {
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	return err
}

// OpenLog returns the info lines heartbeat logs when it opens this medium.
func (u *UDP) OpenLog() []string {
	port := u.dst.Port
	switch u.kind {
	case KindBcast:
		return []string{fmt.Sprintf("UDP Broadcast heartbeat started on port %d (%d) interface %s", port, port, u.iface)}
	case KindUcast:
		return []string{
			"ucast: write socket priority set to IPTOS_LOWDELAY on " + u.iface,
			"ucast: bound send socket to device: " + u.iface,
			"ucast: set SO_REUSEPORT(w)",
			"ucast: set SO_REUSEADDR",
			"ucast: bound receive socket to device: " + u.iface,
			"ucast: set SO_REUSEPORT",
			fmt.Sprintf("ucast: started on port %d interface %s to %s", port, u.iface, u.dst.IP),
		}
	case KindMcast:
		f := strings.Fields(u.name) // mcast IF GROUP PORT TTL LOOP
		return []string{fmt.Sprintf("UDP multicast heartbeat started for group %s port %d interface %s (ttl=%s loop=%s)",
			u.dst.IP, port, u.iface, f[4], f[5])}
	case KindMcast6:
		f := strings.Fields(u.name) // mcast6 IF GROUP PORT HOPS LOOP
		return []string{fmt.Sprintf("UDP multicast heartbeat started for [%s]:%d on interface %s (hops=%s loop=%s)",
			u.dst.IP, port, u.iface, f[4], f[5])}
	case KindUcast6:
		peer := u.dst.IP.String()
		if u.dst.IP.IsLinkLocalUnicast() {
			peer += "%" + u.iface
		}
		return []string{
			"ucast6: bound send socket to device: " + u.iface,
			"ucast6: bound receive socket to device: " + u.iface,
			"ucast6: set SO_REUSEPORT",
			fmt.Sprintf("ucast6: heartbeat started for [%s]:%d on interface %s", peer, port, u.iface),
		}
	}
	return nil
}

// Dest is where Send sends: the broadcast address, group or peer.
func (u *UDP) Dest() *net.UDPAddr { return u.dst }

// LocalAddr is the read socket's address.
func (u *UDP) LocalAddr() net.Addr { return u.rconn.LocalAddr() }

// Send sends b as one datagram.
func (u *UDP) Send(ctx context.Context, b []byte) error {
	if u.closed.Load() {
		return ErrClosed
	}
	if len(b) > MaxMessage {
		u.drop(DropTooLarge)
		return ErrTooLarge
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := u.wconn.WriteToUDP(b, u.dst); err != nil {
		if u.closed.Load() {
			return ErrClosed
		}
		err = &SendError{Kind: u.kind, Iface: u.iface, Dest: u.dst, Len: len(b), Err: errnoOf(err)}
		u.fail(err, DropSendError)
		return err
	}
	u.countSent(time.Now())
	return nil
}

// Recv returns the next datagram (zero-length ones are counted and
// skipped, as heartbeat discards them).
func (u *UDP) Recv(ctx context.Context) (Packet, error) {
	u.rmu.Lock()
	defer u.rmu.Unlock()
	if u.buf == nil {
		u.buf = make([]byte, 65536)
	}
	buf := u.buf
	for {
		if u.closed.Load() {
			return Packet{}, ErrClosed
		}
		var n int
		var from netip.AddrPort
		at, err := readSocket(ctx, u.rconn, &u.closed, &u.counters, func() (err error) {
			n, from, err = u.rconn.ReadFromUDPAddrPort(buf)
			return err
		})
		if err != nil {
			return Packet{}, err
		}
		if n == 0 {
			u.drop(DropEmpty)
			continue
		}
		u.countRecv(at)
		data := make([]byte, n)
		copy(data, buf[:n])
		return Packet{Data: data, From: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()).String(), At: at}, nil
	}
}

// Close closes both sockets.
func (u *UDP) Close() error {
	if u.closed.Swap(true) {
		return nil
	}
	u.setState(StateClosed)
	err1 := u.wconn.Close()
	err2 := u.rconn.Close()
	return errors.Join(err1, err2)
}

// Check reports whether the medium's interface still exists as it did
// when the medium was opened (Keep reopens the medium when it does not).
// It asks through the medium's own socket, so the answer comes from the
// network namespace the medium lives in, whichever thread calls.
func (u *UDP) Check() error {
	idx, err := u.sockIfindex()
	if err != nil {
		return fmt.Errorf("interface %s: %w", u.iface, errnoOf(err))
	}
	if u.ifidx != 0 && idx != u.ifidx {
		return fmt.Errorf("interface %s was re-created (index %d, was %d)", u.iface, idx, u.ifidx)
	}
	return nil
}

func (u *UDP) sockIfindex() (int, error) {
	var idx int
	err := rawControl(u.rconn, func(fd int) error {
		ifr, err := unix.NewIfreq(u.iface)
		if err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
			return err
		}
		idx = int(ifr.Uint32())
		return nil
	})
	return idx, err
}

// fatalSendError reports whether a send error means the medium's socket
// is unusable (rather than a transient condition such as an unreachable
// peer).
func fatalSendError(err error) bool {
	return errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.EBADF) ||
		errors.Is(err, os.ErrClosed) || errors.Is(err, unix.EIO)
}
