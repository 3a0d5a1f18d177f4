package daemon

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/heartbeat-go/heartbeat/media"
)

// sendFake is a medium whose sends fail with err (nil: they work).
type sendFake struct {
	name string
	err  error
}

func (f *sendFake) Name() string                       { return f.name }
func (f *sendFake) Send(context.Context, []byte) error { return f.err }
func (f *sendFake) Close() error                       { return nil }
func (f *sendFake) Recv(ctx context.Context) (media.Packet, error) {
	<-ctx.Done()
	return media.Packet{}, ctx.Err()
}

// loggedLines returns what buf holds as "LEVEL: message" lines.
func loggedLines(buf *syncBuf) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if _, rest, ok := strings.Cut(l, "]: "); ok {
			out = append(out, rest)
		}
	}
	return out
}

func TestSendErrRule(t *testing.T) {
	var r sendErrRule
	for round := 0; round < 3; round++ {
		for i := 1; i <= 40; i++ {
			v := r.failed()
			want := sendVerdict{log: i <= 11, suppress: i == 11}
			if v != want {
				t.Fatalf("round %d failure %d: %+v, want %+v", round, i, v, want)
			}
		}
		r.sent()
		r.sent() // more good sends change nothing
	}
	// A run shorter than the burst, then a success: the count starts over.
	for i := 0; i < 10; i++ {
		r.failed()
	}
	r.sent()
	for i := 1; i <= 11; i++ {
		if v := r.failed(); v.suppress != (i == 11) {
			t.Fatalf("after a good send, failure %d: %+v", i, v)
		}
	}
}

func TestSendErrLines(t *testing.T) {
	buf := &syncBuf{}
	log := NewLogger(LogTargets{Stderr: buf, Host: "hb1", Pid: 7})
	dst := &net.UDPAddr{IP: net.IPv4(198, 18, 1, 2), Port: 694}
	down := &sendFake{name: "ucast down0 198.18.1.2",
		err: &media.SendError{Kind: media.KindUcast, Iface: "down0", Dest: dst, Len: 280, Err: unix.ENETUNREACH}}
	var l sendErrLog
	for i := 0; i < 15; i++ {
		l.note(log, 0, down, down.Send(context.Background(), nil))
	}
	pair := []string{
		"ERROR: glib: ucast_write: Unable to send HBcomm packet down0 198.18.1.2:694 len=280 [-1]: Network is unreachable",
		"ERROR: write_child: write failure on ucast down0.: Network is unreachable",
	}
	var want []string
	for i := 0; i < 11; i++ {
		want = append(want, pair...)
	}
	want = append(want, "WARN: Temporarily Suppressing write error messages", "WARN: Is a cable unplugged on ucast down0?")
	if got := loggedLines(buf); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A closed medium is no failure; another medium in the same place
	// starts its own count; an error without a plugin's facts gets
	// write_child's line only.
	buf = &syncBuf{}
	log = NewLogger(LogTargets{Stderr: buf, Host: "hb1", Pid: 7})
	l.note(log, 0, down, media.ErrClosed)
	other := &sendFake{name: "serial /dev/ttyS1", err: media.ErrDown}
	l.note(log, 0, other, other.err)
	want = []string{"ERROR: write_child: write failure on serial /dev/ttyS1.: medium down"}
	if got := loggedLines(buf); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(l.rules) != 1 {
		t.Fatalf("%d rules for one medium place", len(l.rules))
	}
}

// TestSendErrorsAsHeartbeat replays each run of testdata/send-errors.txt:
// the failures heartbeat logged (with their lengths), a good send at each
// "down0 up" mark and more failures than the burst in each down phase,
// and wants exactly the send-error lines heartbeat logged.
func TestSendErrorsAsHeartbeat(t *testing.T) {
	f, err := os.Open("testdata/send-errors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type run struct {
		name   string
		events []string // "up" (down0 brought up), or a logged "LEVEL: message"
	}
	var runs []*run
	var cur *run
	upAt := "" // HH:MM:SS of the pending "down0 up" mark
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "== run "):
			cur = &run{name: line}
			upAt = ""
			runs = append(runs, cur)
		case cur == nil:
		case strings.HasPrefix(line, "> ") && strings.HasSuffix(line, "down0 up"):
			upAt = strings.Fields(line)[1] // the marks come before the log
		case strings.HasPrefix(line, "| ") && strings.Contains(line, "]: "):
			if f := strings.Fields(line); upAt != "" && len(f) > 3 && f[3] >= upAt {
				cur.events = append(cur.events, "up")
				upAt = ""
			}
			_, msg, _ := strings.Cut(line, "]: ")
			if strings.Contains(msg, "_write: ") || strings.Contains(msg, "write_child: ") ||
				strings.Contains(msg, "Suppressing write") || strings.Contains(msg, "cable") {
				cur.events = append(cur.events, msg)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 {
		t.Fatalf("%d runs in testdata/send-errors.txt, want 4", len(runs))
	}
	glib := regexp.MustCompile(`^ERROR: glib: (\w+)_write: Unable to send HBcomm packet (\S+) (\S+) len=(\d+) \[-1\]: Network is unreachable$`)
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			buf := &syncBuf{}
			log := NewLogger(LogTargets{Stderr: buf, Host: "hb1", Pid: 7})
			var l sendErrLog
			var m *sendFake
			var want []string
			phases := 0
			for _, ev := range r.events {
				if ev == "up" {
					if m != nil {
						for i := 0; i < 20; i++ { // failures heartbeat kept quiet about
							l.note(log, 0, m, m.err)
						}
						m.err = nil
						l.note(log, 0, m, nil)
					}
					continue
				}
				want = append(want, ev)
				g := glib.FindStringSubmatch(ev)
				if g == nil {
					continue
				}
				dst, err := net.ResolveUDPAddr("udp4", g[3])
				if err != nil {
					t.Fatal(err)
				}
				n, _ := strconv.Atoi(g[4])
				kind := media.Kind(g[1])
				if m == nil {
					m = &sendFake{name: fmt.Sprintf("%s %s", kind, g[2])}
				}
				if m.err == nil {
					phases++
				}
				m.err = &media.SendError{Kind: kind, Iface: g[2], Dest: dst, Len: n, Err: unix.ENETUNREACH}
				l.note(log, 0, m, m.err)
			}
			for i := 0; i < 20; i++ {
				l.note(log, 0, m, m.err)
			}
			if phases != 2 {
				t.Fatalf("%d failing phases recorded, want 2", phases)
			}
			if got := loggedLines(buf); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("lines:\n%s\nwant (heartbeat's):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
