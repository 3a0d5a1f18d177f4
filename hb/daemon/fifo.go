package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/rm"
	"github.com/heartbeat-go/heartbeat/hb/wire"
	"github.com/heartbeat-go/heartbeat/media"
)

// FIFOName is heartbeat's "send a cluster message" named pipe in the
// state directory; /etc/ha.d/shellfuncs' ha_clustermsg (used by the stock
// hb_standby, hb_takeover, mach_down and req_resource scripts) writes
// classic-form messages into it.
const FIFOName = "fifo"

// openFIFO (re)creates the FIFO when it is missing or not a FIFO and
// starts its reader. It is opened read-write so that writers coming and
// going never make it return end-of-file.
func (r *runtime) openFIFO(ctx context.Context) error {
	path := filepath.Join(r.o.StateDir, FIFOName)
	if st, err := os.Lstat(path); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		os.Remove(path)
		r.log.Info(fmt.Sprintf("Creating FIFO %s.", path))
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			return fmt.Errorf("Cannot create FIFO %s: %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("Cannot open FIFO %s: %w", path, err)
	}
	os.Setenv("HA_FIFO", path)
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	go r.readFIFO(ctx, f)
	return nil
}

func (r *runtime) readFIFO(ctx context.Context, f *os.File) {
	var fr media.Framer
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return
			}
			time.Sleep(100 * time.Millisecond) // a broken pipe file: retry, not spin
			continue
		}
		for _, frame := range fr.Feed(buf[:n]) {
			m, _, err := wire.DecodeClassic(frame)
			if err != nil {
				r.log.Warn(fmt.Sprintf("Bad message in FIFO: %v", err))
				continue
			}
			select {
			case r.calls <- func() { r.fifoMessage(m) }:
			case <-ctx.Done():
				return
			}
		}
	}
}

// fifoMessage handles a message a local script wrote into the FIFO:
// standby and takeover requests go to the resource manager (as hb_standby
// and hb_takeover would through the control socket); anything else is
// sent to the cluster.
func (r *runtime) fifoMessage(m *wire.Message) {
	switch m.Value(wire.FType) {
	case "ask_resources":
		if m.Value("info") == "me" || m.Value("info") == "" {
			r.apply(r.eng.Command(time.Now(), rm.Command{Kind: rm.Standby, What: m.Value("rsc_hold")}))
			return
		}
	case "hb_takeover":
		r.apply(r.eng.Command(time.Now(), rm.Command{Kind: rm.Takeover, What: m.Value("rsc_hold")}))
		return
	}
	if s, ok := r.eng.(sender); ok {
		r.apply(s.Send(time.Now(), m))
		return
	}
	if c, ok := r.eng.(*connEngine); ok {
		r.apply(c.in.Send(time.Now(), m))
		return
	}
	r.log.Warn(fmt.Sprintf("FIFO message t=%s not sent: this engine cannot send", m.Value(wire.FType)))
}

// sender is an engine that can send a cluster message from a local script.
type sender interface {
	Send(now time.Time, m *wire.Message) out
}
