package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/media"
)

// openLogged is a medium that says what heartbeat's ucast plugin says
// when it opens.
type openLogged struct{ closed chan struct{} }

func (o *openLogged) Name() string                       { return "ucast eth0 198.18.0.2" }
func (o *openLogged) Send(context.Context, []byte) error { return nil }
func (o *openLogged) Close() error                       { close(o.closed); return nil }
func (o *openLogged) OpenLog() []string                  { return ucastOpenLog("eth0", 694, "198.18.0.2") }
func (o *openLogged) Recv(ctx context.Context) (media.Packet, error) {
	select {
	case <-ctx.Done():
		return media.Packet{}, ctx.Err()
	case <-o.closed:
		return media.Packet{}, media.ErrClosed
	}
}

// TestMediaStartLines: a medium opened through media.Keep logs
// heartbeat's plugin lines, "glib: " first and nothing appended, as in
// captures/ucast-sha1/hb1/ha-log; Keep's own failure lines keep their
// details.
func TestMediaStartLines(t *testing.T) {
	buf := &syncBuf{}
	log := NewLogger(LogTargets{Stderr: buf, Host: "hb1", Pid: 35})
	fails := 1
	k := media.Keep(media.KindUcast, "ucast eth0 198.18.0.2", "eth0", func() (media.Medium, error) {
		if fails > 0 {
			fails--
			return nil, errors.New("no such device")
		}
		return &openLogged{closed: make(chan struct{})}, nil
	}, media.KeepOptions{Logger: pluginLogger(log), MinBackoff: time.Millisecond})
	defer k.Close()
	want := []string{
		"info: glib: ucast: write socket priority set to IPTOS_LOWDELAY on eth0",
		"info: glib: ucast: bound send socket to device: eth0",
		"info: glib: ucast: set SO_REUSEPORT(w)",
		"info: glib: ucast: set SO_REUSEADDR",
		"info: glib: ucast: bound receive socket to device: eth0",
		"info: glib: ucast: set SO_REUSEPORT",
		"info: glib: ucast: started on port 694 interface eth0 to 198.18.0.2",
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "started on port") {
		if time.Now().After(deadline) {
			t.Fatalf("no start lines:\n%s", buf)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.Contains(l, "glib: ") {
			_, rest, _ := strings.Cut(l, "]: ")
			got = append(got, rest)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("start lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(buf.String(), "medium failed to open; retrying") || !strings.Contains(buf.String(), "no such device") {
		t.Errorf("Keep's failure line lost its details:\n%s", buf)
	}
}
