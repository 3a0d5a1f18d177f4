package resource

import (
	"net"
	"net/netip"
	"time"
)

// ARP is how many gratuitous ARP rounds are sent and how far apart. Each
// round is an ARP request ("who-has IP tell IP") and, half an interval
// later, an ARP reply ("IP is-at MAC", target MAC = own MAC), both to the
// Ethernet broadcast address: what heartbeat's send_arp puts on the wire.
type ARP struct {
	Count    int
	Interval time.Duration
}

// GARP defaults of the scripts heartbeat 3.0.6 ships (resource-agents).
var (
	IPaddrARP  = ARP{Count: 10, Interval: 500 * time.Millisecond} // ARP_REPEAT, ARP_INTERVAL_MS
	IPaddr2ARP = ARP{Count: 5, Interval: 200 * time.Millisecond}  // arp_count, arp_interval
	SendArpARP = ARP{Count: 5, Interval: 200 * time.Millisecond}  // ARP_REPEAT, ARP_INTERVAL_MS
)

// GARPFrame builds one 42-byte gratuitous ARP Ethernet frame for ip owned
// by mac: a request when reply is false, else a reply.
func GARPFrame(mac net.HardwareAddr, ip netip.Addr, reply bool) []byte {
	f := make([]byte, 42)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	f[12], f[13] = 0x08, 0x06 // ARP
	f[14], f[15] = 0x00, 0x01 // Ethernet
	f[16], f[17] = 0x08, 0x00 // IPv4
	f[18], f[19] = 6, 4
	f[20], f[21] = 0x00, 0x01 // request
	if reply {
		f[21] = 0x02
	}
	a := ip.As4()
	copy(f[22:28], mac)
	copy(f[28:32], a[:])
	if reply {
		copy(f[32:38], mac)
	}
	copy(f[38:42], a[:])
	return f
}
