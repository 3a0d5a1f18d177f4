package e2e

import (
	"net"
	"strconv"
)

func listenUDP(addr string, port int) (net.PacketConn, error) {
	return net.ListenPacket("udp4", net.JoinHostPort(addr, strconv.Itoa(port)))
}
