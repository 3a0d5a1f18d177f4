package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/media"
	"golang.org/x/sys/unix"
)

// TestOpenMediaRefusesStart: the second of two media cannot be opened
// (its interface does not exist): openMedia closes the first again and
// reports the second, and the log reads as heartbeat's start does, the
// working medium's start lines, then heartbeat-go's account of the
// failure, then heartbeat's closing lines.
func TestOpenMediaRefusesStart(t *testing.T) {
	buf := &syncBuf{}
	log := NewLogger(LogTargets{Stderr: buf, Host: "hb1", Pid: 35})
	cfg := &config.Config{UDPPort: 47694, Media: []config.Medium{
		{Type: config.Ucast, Iface: "lo", Peer: "127.0.0.1", Port: 47694},
		{Type: config.Ucast, Iface: "hbmo-nosuch9", Peer: "198.18.1.2", Port: 47694},
	}}
	probe, err := media.NewUcast("lo", "127.0.0.1", 47694)
	if err != nil {
		t.Skipf("cannot open ucast on lo here (SO_BINDTODEVICE needs CAP_NET_RAW on older kernels): %v", err)
	}
	probe.Close()
	r := &runtime{cfg: cfg, log: log, inbox: make(chan inPacket, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = r.openMedia(ctx)
	var oe *media.OpenError
	if !errors.As(err, &oe) || oe.Name != "ucast hbmo-nosuch9 198.18.1.2" || !errors.Is(err, unix.ENODEV) {
		t.Fatalf("openMedia = %v (%T), want an *media.OpenError for ucast hbmo-nosuch9 with ENODEV", err, err)
	}
	if r.media != nil {
		t.Errorf("media left open after a refused start: %v", r.media)
	}
	r.mediaOpenFailed(err)

	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		_, msg, _ := strings.Cut(l, "]: ")
		lines = append(lines, msg)
	}
	want := []string{
		"info: glib: ucast: started on port 47694 interface lo to 127.0.0.1",
		"ERROR: ucast hbmo-nosuch9 198.18.1.2: cannot open the medium: ",
		"CRIT: Emergency Shutdown: Master Control process died.",
		"CRIT: Emergency Shutdown(MCP dead): Killing ourselves.",
	}
	n := len(lines)
	if n < 4 || lines[n-4] != want[0] || !strings.HasPrefix(lines[n-3], want[1]) || lines[n-2] != want[2] || lines[n-1] != want[3] {
		t.Fatalf("log ends\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range []string{"no such device", "expected an existing network interface hbmo-nosuch9"} {
		if !strings.Contains(lines[n-3], s) {
			t.Errorf("error line lacks %q: %s", s, lines[n-3])
		}
	}
}
