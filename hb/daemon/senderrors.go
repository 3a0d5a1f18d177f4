package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/heartbeat-go/heartbeat/media"
)

// sendErrBurst is how many failed sends in a row heartbeat 3.0.6 logs on
// one medium before it warns that it suppresses the rest; a send that
// works starts the count over. It is a count, not a time: the same with
// keepalive 1 and 2 (testdata/send-errors.txt).
const sendErrBurst = 11

// sendErrRule is that rule for one medium. It only counts, so it needs no
// clock; the count stops at sendErrBurst, so it cannot overflow.
type sendErrRule struct{ run int }

// sendVerdict is what to log for one send.
type sendVerdict struct {
	log      bool // log the failure's lines
	suppress bool // then the two "Temporarily Suppressing" warnings
}

// failed counts a failed send.
func (s *sendErrRule) failed() sendVerdict {
	if s.run >= sendErrBurst {
		return sendVerdict{}
	}
	s.run++
	return sendVerdict{log: true, suppress: s.run == sendErrBurst}
}

// sent notes a send that worked: nothing is logged, the count restarts.
func (s *sendErrRule) sent() { s.run = 0 }

// sendErrLog applies the rule to the daemon's media, by their place in
// its media list (so it holds one rule per medium, however long the
// daemon runs). Used from the main loop only.
type sendErrLog struct {
	rules []sendErrSlot
}

type sendErrSlot struct {
	m    media.Medium
	rule sendErrRule
}

// note records the outcome err of sending on medium m, the i-th, and logs
// as heartbeat does. A medium being closed (shutdown, restart) is not a
// failure.
func (l *sendErrLog) note(log *slog.Logger, i int, m media.Medium, err error) {
	if i < 0 || errors.Is(err, media.ErrClosed) {
		return
	}
	for len(l.rules) <= i {
		l.rules = append(l.rules, sendErrSlot{})
	}
	s := &l.rules[i]
	if s.m != m { // another medium in this place: a fresh count
		*s = sendErrSlot{m: m}
	}
	if err == nil {
		s.rule.sent()
		return
	}
	v := s.rule.failed()
	if !v.log {
		return
	}
	for _, line := range sendErrLines(m.Name(), err) {
		log.Error(line)
	}
	if v.suppress {
		log.Warn("Temporarily Suppressing write error messages")
		log.Warn(fmt.Sprintf("Is a cable unplugged on %s?", mediumLink(m.Name())))
	}
}

// sendErrLines are the ERROR lines for one failed send on the medium
// named name (as in ha.cf): the plugin's line (heartbeat's
// "glib: KIND_write: ..."; only UDP media know its facts), then
// write_child's.
func sendErrLines(name string, err error) []string {
	var out []string
	why := errText(err)
	var se *media.SendError
	if errors.As(err, &se) {
		out = append(out, fmt.Sprintf("glib: %s_write: Unable to send HBcomm packet %s %s len=%d [-1]: %s",
			se.Kind, se.Iface, se.Dest, se.Len, why))
	}
	out = append(out, fmt.Sprintf("write_child: write failure on %s.: %s", mediumLink(name), why))
	return out
}

// mediumLink is how heartbeat names a medium in these lines: its type and
// interface or device ("ucast down0", "bcast eth1", "serial /dev/ttyS0").
func mediumLink(name string) string {
	f := strings.Fields(name)
	if len(f) > 2 {
		f = f[:2]
	}
	return strings.Join(f, " ")
}

// errText is err as C's strerror words it when it is an errno ("Network
// is unreachable"), else err's own text.
func errText(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		s := en.Error()
		r, size := utf8.DecodeRuneInString(s)
		return string(unicode.ToUpper(r)) + s[size:]
	}
	return err.Error()
}
