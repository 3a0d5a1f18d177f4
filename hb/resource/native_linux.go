package resource

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Native runs IPaddr, IPaddr2 and SendArp without forking: addresses are
// added, removed and checked through netlink, gratuitous ARPs go out on a
// raw packet socket. Every other script goes to Fallback.
//
// The address, its label and its broadcast are what the scripts configure:
// IPaddr labels the address "<nic>:<n>" with the lowest free n from 0 (the
// old ifconfig alias), IPaddr2 labels it "<nic>:<label>" only when the
// argument names one. Without an interface the one whose route covers the
// address is used, and without a netmask that route's prefix, as findif
// does.
//
// Unlike the scripts, start returns as soon as the address is up and the
// first ARP request is out; the remaining rounds go out in the background
// (the IPaddr script's ARP_BACKGROUND=yes default; IPaddr2's script waits
// for all of them, about 1 s). Netlink and packet sockets are opened in the
// calling thread's network namespace.
type Native struct {
	Fallback Runner       // scripts other than IPaddr, IPaddr2, SendArp; nil = ErrNotFound
	Logger   *slog.Logger // nil = slog.Default()
	// ARP overrides the GARP rounds per script name ("IPaddr", "IPaddr2",
	// "SendArp"); missing entries use IPaddrARP, IPaddr2ARP, SendArpARP.
	ARP map[string]ARP

	mu sync.Mutex
	bg map[netip.Addr]*burst // running GARP bursts by address
	wg sync.WaitGroup
	sa map[string]bool // SendArp resources "started" (their status)
}

// Builtin reports whether script is handled natively.
func Builtin(script string) bool {
	switch script {
	case "IPaddr", "IPaddr2", "SendArp":
		return true
	}
	return false
}

func (n *Native) log() *slog.Logger {
	if n.Logger != nil {
		return n.Logger
	}
	return slog.Default()
}

func (n *Native) arp(script string) ARP {
	if a, ok := n.ARP[script]; ok && a.Count > 0 {
		return a
	}
	switch script {
	case "IPaddr":
		return IPaddrARP
	case "IPaddr2":
		return IPaddr2ARP
	}
	return SendArpARP
}

// Run implements Runner.
func (n *Native) Run(ctx context.Context, res haresources.Resource, op Op) (Result, error) {
	if !Builtin(res.Script) {
		if n.Fallback == nil {
			return Result{ExitCode: -1}, fmt.Errorf("%w %s", ErrNotFound, res.Script)
		}
		return n.Fallback.Run(ctx, res, op)
	}
	start := time.Now()
	args := Args(res)
	r := Result{Builtin: true, Args: append(append([]string(nil), args...), string(op)), ExitCode: 0}
	line := strings.Join(append([]string{res.Script}, r.Args...), " ")
	if op != Status {
		n.log().Info("Running " + line + " (built in)")
	}
	var err error
	if len(args) != 1 {
		err = fmt.Errorf("%w: %s takes one argument, got %d", ErrSpec, res.Script, len(args))
	} else if res.Script == "SendArp" {
		err = n.sendArp(args[0], op, &r)
	} else {
		err = n.ipaddr(res.Script, args[0], op, &r)
	}
	r.Duration = time.Since(start)
	attrs := []any{"resource", res.Raw, "op", string(op), "duration", r.Duration.Round(time.Microsecond).String()}
	if err != nil {
		r.ExitCode = 1
		n.log().Error(fmt.Sprintf("%s failed: %v", line, err), attrs...)
		return r, err
	}
	if op == Status {
		if r.Running {
			r.Output = "INFO:  Running OK\n"
		} else {
			r.Output = "INFO:  Resource is stopped\n"
		}
		n.log().Debug("status "+line, append(attrs, "running", r.Running)...)
		return r, nil
	}
	n.log().Info("Finished "+line, attrs...)
	return r, nil
}

// findAddr returns the link and address entry holding ip, if any.
func findAddr(h *netlink.Handle, ip netip.Addr) (netlink.Link, *netlink.Addr, error) {
	links, err := h.LinkList()
	if err != nil {
		return nil, nil, err
	}
	for _, l := range links {
		addrs, err := h.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			continue
		}
		for i := range addrs {
			if a, ok := netip.AddrFromSlice(addrs[i].IP.To4()); ok && a == ip {
				return l, &addrs[i], nil
			}
		}
	}
	return nil, nil, nil
}

// findIf picks the interface and prefix for spec as findif does: the most
// specific non-default route covering the address.
func findIf(h *netlink.Handle, spec IPSpec) (netlink.Link, int, error) {
	if spec.NIC != "" {
		l, err := h.LinkByName(spec.NIC)
		if err != nil {
			return nil, 0, fmt.Errorf("interface %s: %w", spec.NIC, err)
		}
		if spec.Bits >= 0 {
			return l, spec.Bits, nil
		}
		routes, err := h.RouteList(l, netlink.FAMILY_V4)
		if err != nil {
			return nil, 0, err
		}
		best := -1
		for _, rt := range routes {
			if bits, ok := covers(rt, spec.IP); ok && bits > best {
				best = bits
			}
		}
		if best < 0 {
			return nil, 0, fmt.Errorf("no route on %s covers %s: give a netmask", spec.NIC, spec.IP)
		}
		return l, best, nil
	}
	routes, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, 0, err
	}
	best, idx := -1, 0
	for _, rt := range routes {
		if bits, ok := covers(rt, spec.IP); ok && bits > best {
			best, idx = bits, rt.LinkIndex
		}
	}
	if best < 0 {
		return nil, 0, fmt.Errorf("no interface found for %s (no route covers it)", spec.IP)
	}
	l, err := h.LinkByIndex(idx)
	if err != nil {
		return nil, 0, err
	}
	if spec.Bits >= 0 {
		best = spec.Bits
	}
	return l, best, nil
}

func covers(rt netlink.Route, ip netip.Addr) (int, bool) {
	if rt.Dst == nil || rt.LinkIndex == 0 {
		return 0, false
	}
	ones, bitsTotal := rt.Dst.Mask.Size()
	if bitsTotal != 32 || ones == 0 || !rt.Dst.Contains(net.IP(ip.AsSlice())) {
		return 0, false
	}
	if rt.Type != unix.RTN_UNICAST && rt.Type != 0 {
		return 0, false // local/broadcast routes of the main table are not subnets
	}
	return ones, true
}

// freeAlias returns "<nic>:<n>" with the lowest n not used by a label on l.
func freeAlias(h *netlink.Handle, l netlink.Link) (string, error) {
	addrs, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return "", err
	}
	name := l.Attrs().Name
	used := map[string]bool{}
	for _, a := range addrs {
		used[a.Label] = true
	}
	for i := 0; ; i++ {
		lb := name + ":" + strconv.Itoa(i)
		if !used[lb] {
			if len(lb) > 15 {
				return "", fmt.Errorf("no free alias label on %s", name)
			}
			return lb, nil
		}
	}
}

func (n *Native) ipaddr(script, arg string, op Op, r *Result) error {
	spec, err := ParseIPSpec(arg)
	if err != nil {
		return err
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	link, have, err := findAddr(h, spec.IP)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	switch op {
	case Status:
		r.Running = have != nil
		return nil
	case Stop:
		n.stopGARP(spec.IP)
		if have == nil {
			return nil
		}
		if err := h.AddrDel(link, have); err != nil {
			return fmt.Errorf("removing %s from %s: %w", spec.IP, link.Attrs().Name, err)
		}
		n.log().Info(fmt.Sprintf("IP address %s removed from %s", spec.IP, link.Attrs().Name))
		return nil
	case Start:
	default:
		return fmt.Errorf("%w: %s does not know operation %q", ErrSpec, script, op)
	}
	if have != nil {
		return nil // already served here: nothing to do, as the scripts
	}
	l, bits, err := findIf(h, spec)
	if err != nil {
		return err
	}
	label := ""
	switch {
	case spec.Label != "":
		label = l.Attrs().Name + ":" + spec.Label
	case script == "IPaddr":
		if label, err = freeAlias(h, l); err != nil {
			return err
		}
	}
	if len(label) > 15 {
		return fmt.Errorf("%w: label %q longer than 15 characters", ErrSpec, label)
	}
	bcast := spec.Broadcast
	if !bcast.IsValid() && bits < 31 {
		bcast = broadcastOf(spec.IP, bits)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(spec.IP.AsSlice()), Mask: net.CIDRMask(bits, 32)}, Label: label}
	if bcast.IsValid() {
		a.Broadcast = net.IP(bcast.AsSlice())
	}
	if err := h.AddrAdd(l, a); err != nil {
		return fmt.Errorf("adding %s/%d to %s: %w", spec.IP, bits, l.Attrs().Name, err)
	}
	n.log().Info(fmt.Sprintf("IP address %s/%d added to %s", spec.IP, bits, l.Attrs().Name), "label", label)
	return n.startGARP(l, spec.IP, n.arp(script))
}

func (n *Native) sendArp(arg string, op Op, r *Result) error {
	ip, nic, err := ParseSendArp(arg)
	if err != nil {
		return err
	}
	n.mu.Lock()
	if n.sa == nil {
		n.sa = map[string]bool{}
	}
	running := n.sa[arg]
	n.mu.Unlock()
	switch op {
	case Status:
		r.Running = running
		return nil
	case Stop:
		n.stopGARP(ip)
		n.mu.Lock()
		delete(n.sa, arg)
		n.mu.Unlock()
		return nil
	case Start:
	default:
		return fmt.Errorf("%w: SendArp does not know operation %q", ErrSpec, op)
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	l, err := h.LinkByName(nic)
	if err != nil {
		return fmt.Errorf("interface %s: %w", nic, err)
	}
	if err := n.startGARP(l, ip, n.arp("SendArp")); err != nil {
		return err
	}
	n.mu.Lock()
	n.sa[arg] = true
	n.mu.Unlock()
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// startGARP sends the first request now and the rest in the background.
func (n *Native) startGARP(l netlink.Link, ip netip.Addr, p ARP) error {
	mac := l.Attrs().HardwareAddr
	if len(mac) != 6 {
		n.log().Info(fmt.Sprintf("no gratuitous ARP for %s: %s has no Ethernet address", ip, l.Attrs().Name))
		return nil
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: l.Attrs().Index, Halen: 6}
	copy(to.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	send := func(reply bool) error { return unix.Sendto(fd, GARPFrame(mac, ip, reply), 0, to) }
	if err := send(false); err != nil {
		unix.Close(fd)
		return fmt.Errorf("gratuitous ARP for %s on %s: %w", ip, l.Attrs().Name, err)
	}
	n.stopGARP(ip)
	b := &burst{stop: make(chan struct{})}
	stop := b.stop
	n.mu.Lock()
	if n.bg == nil {
		n.bg = map[netip.Addr]*burst{}
	}
	n.bg[ip] = b
	n.mu.Unlock()
	n.wg.Add(1)
	name := l.Attrs().Name
	go func() {
		defer n.wg.Done()
		defer unix.Close(fd)
		sent, failed := 1, 0
		half := p.Interval / 2
		t := time.NewTimer(half)
		defer t.Stop()
		for i := 0; i < 2*p.Count-1; i++ {
			select {
			case <-stop:
				n.log().Debug(fmt.Sprintf("gratuitous ARPs for %s stopped after %d", ip, sent))
				return
			case <-t.C:
			}
			if err := send(i%2 == 0); err != nil {
				failed++
			} else {
				sent++
			}
			t.Reset(half)
		}
		// One line per burst, not per packet.
		n.log().Info(fmt.Sprintf("Sent %d gratuitous ARPs for %s on %s", sent, ip, name), "failed", failed)
		n.mu.Lock()
		if n.bg[ip] == b {
			delete(n.bg, ip)
		}
		n.mu.Unlock()
	}()
	return nil
}

type burst struct {
	stop chan struct{}
	once sync.Once
}

func (b *burst) cancel() { b.once.Do(func() { close(b.stop) }) }

func (n *Native) stopGARP(ip netip.Addr) {
	n.mu.Lock()
	b := n.bg[ip]
	delete(n.bg, ip)
	n.mu.Unlock()
	if b != nil {
		b.cancel()
	}
}

// Wait waits until every background ARP burst has finished.
func (n *Native) Wait() { n.wg.Wait() }

// Close stops the background ARP bursts and waits for them.
func (n *Native) Close() error {
	n.mu.Lock()
	var bs []*burst
	for _, b := range n.bg {
		bs = append(bs, b)
	}
	n.bg = nil
	n.mu.Unlock()
	for _, b := range bs {
		b.cancel()
	}
	n.wg.Wait()
	return nil
}
