package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/heartbeat-go/heartbeat/media"
)

// boundUDP is a ucast/bcast-style medium whose receive socket is bound to
// one local address (--bind), so that several nodes can run on one
// host's loopback: it receives on bind:port and sends from that socket to
// every peer at peer:port.
type boundUDP struct {
	name  string
	conn  *net.UDPConn
	peers []*net.UDPAddr
	stats boundStats
}

func openBoundUDP(name, bind string, port int, peers []string) (*boundUDP, error) {
	la, err := net.ResolveUDPAddr("udp4", net.JoinHostPort(bind, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp4", la)
	if err != nil {
		return nil, err
	}
	u := &boundUDP{name: name, conn: c}
	for _, p := range peers {
		pa, err := resolvePeer(p, port)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if pa.IP.Equal(la.IP) {
			continue // heartbeat ignores ucast to its own address
		}
		u.peers = append(u.peers, pa)
	}
	u.stats.init(name, bind)
	return u, nil
}

func (u *boundUDP) Name() string { return u.name }

func (u *boundUDP) Send(_ context.Context, b []byte) error {
	var errs []error
	for _, p := range u.peers {
		if _, err := u.conn.WriteToUDP(b, p); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	u.stats.sent(err)
	return err
}

func (u *boundUDP) Recv(ctx context.Context) (media.Packet, error) {
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return media.Packet{}, err
		}
		u.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, from, err := u.conn.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			u.stats.failed(err)
			return media.Packet{}, err
		}
		if n == 0 {
			u.stats.drop(media.DropEmpty)
			continue
		}
		u.stats.received()
		return media.Packet{Data: append([]byte(nil), buf[:n]...), From: from.String(), At: time.Now()}, nil
	}
}

func (u *boundUDP) Close() error {
	u.stats.closed()
	return u.conn.Close()
}

// Stats reports the medium's counters (media.Reporter).
func (u *boundUDP) Stats() media.Stats { return u.stats.snapshot() }

func resolvePeer(host string, port int) (*net.UDPAddr, error) {
	return net.ResolveUDPAddr("udp4", net.JoinHostPort(host, strconv.Itoa(port)))
}
