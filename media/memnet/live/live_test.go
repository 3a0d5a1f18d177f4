package live

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heartbeat-go/heartbeat/media"
	"github.com/heartbeat-go/heartbeat/media/memnet"
)

func TestDelayLossAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(1)
		a, b := h.Endpoint("a", "eth0"), h.Endpoint("b", "eth0")
		h.Do(func(n *memnet.Network[[]byte]) { n.SetDelay(memnet.AllLinks, 200*time.Millisecond, 0) })
		ctx := context.Background()
		start := time.Now()
		buf := []byte("hello")
		if err := a.Send(ctx, buf); err != nil {
			t.Fatal(err)
		}
		buf[0] = 'j' // the network keeps its own copy
		p, err := b.Recv(ctx)
		if err != nil || string(p.Data) != "hello" || p.From != "a" {
			t.Fatalf("%q %v", p.Data, err)
		}
		if d := time.Since(start); d != 200*time.Millisecond {
			t.Fatalf("arrived after %v, want the 200 ms delay", d)
		}
		h.Do(func(n *memnet.Network[[]byte]) { n.SetLoss(memnet.AllLinks, 0.5) })
		for range 1000 {
			a.Send(ctx, []byte("x"))
		}
		got := 0
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		for {
			if _, err := b.Recv(tctx); err != nil {
				break
			}
			got++
		}
		cancel()
		if got < 400 || got > 600 {
			t.Fatalf("%d of 1000 arrived at 50%% loss", got)
		}
		go b.Close()
		if _, err := b.Recv(ctx); !errors.Is(err, media.ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
		if err := b.Send(ctx, []byte("y")); !errors.Is(err, media.ErrClosed) {
			t.Fatalf("send after Close: %v", err)
		}
	})
}
