package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// LevelCrit is heartbeat's CRIT level, above slog's Error.
const LevelCrit = slog.LevelError + 4

// DebugLevel maps heartbeat's debug level n (1..) to a slog level: debug 1
// is slog.LevelDebug, each further level one below it.
func DebugLevel(n int) slog.Level {
	if n < 1 {
		n = 1
	}
	return slog.LevelDebug - slog.Level(n-1)
}

// levelWord is the word heartbeat writes after the pid.
func levelWord(l slog.Level) string {
	switch {
	case l >= LevelCrit:
		return "CRIT"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARN"
	case l >= slog.LevelInfo:
		return "info"
	default:
		return "debug"
	}
}

// syslogSeverity maps a level to a syslog severity.
func syslogSeverity(l slog.Level) int {
	switch {
	case l >= LevelCrit:
		return 2
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	default:
		return 7
	}
}

// Facilities are the syslog facility names ha.cf accepts, with their codes.
var Facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// LogTargets says where log lines go, from ha.cf's logging directives.
type LogTargets struct {
	LogFile     string // ha.cf "logfile": info and above
	DebugFile   string // ha.cf "debugfile": every line, debug included
	Facility    string // ha.cf "logfacility": syslog facility name, "" or "none" for no syslog
	Stderr      io.Writer
	SyslogPath  string // default /dev/log
	Entity      string // program name in the lines, "heartbeat"
	Host        string // host column
	Pid         int
	Level       *slog.LevelVar
	DebugToFile bool
}

// logSink writes heartbeat-format lines to files, syslog and stderr. Files
// are opened per line in append mode, as heartbeat does, so logrotate
// needs no signal.
type logSink struct {
	mu  sync.Mutex
	t   LogTargets
	fac int // -1: no syslog
	sl  net.Conn
	now func() time.Time
}

func newLogSink(t LogTargets) *logSink {
	s := &logSink{t: t, fac: -1, now: time.Now}
	if f, ok := Facilities[t.Facility]; ok && f > 0 {
		s.fac = f
	}
	if s.t.Entity == "" {
		s.t.Entity = "heartbeat"
	}
	if s.t.SyslogPath == "" {
		s.t.SyslogPath = "/dev/log"
	}
	return s
}

func appendLine(path, line string) {
	if path == "" || path == "/dev/null" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	f.WriteString(line)
	f.Close()
}

func (s *logSink) write(l slog.Level, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	body := fmt.Sprintf("%s: [%d]: %s: %s", s.t.Entity, s.t.Pid, levelWord(l), msg)
	line := fmt.Sprintf("%s %s %s\n", now.Format(time.Stamp), s.t.Host, body)
	if l >= slog.LevelInfo {
		appendLine(s.t.LogFile, line)
	}
	appendLine(s.t.DebugFile, line)
	if s.fac > 0 {
		s.syslog(now, l, body)
	}
	if s.t.Stderr != nil {
		io.WriteString(s.t.Stderr, line)
	}
}

func (s *logSink) syslog(now time.Time, l slog.Level, body string) {
	if s.sl == nil {
		c, err := net.Dial("unixgram", s.t.SyslogPath)
		if err != nil {
			return
		}
		s.sl = c
	}
	pri := s.fac*8 + syslogSeverity(l)
	if _, err := fmt.Fprintf(s.sl, "<%d>%s %s", pri, now.Format(time.Stamp), body); err != nil {
		s.sl.Close()
		s.sl = nil
	}
}

// handler is a slog.Handler writing heartbeat's line format:
// "Nov 23 03:46:53 hb1 heartbeat: [35]: info: <message>".
type handler struct {
	sink  *logSink
	level *slog.LevelVar
	attrs string
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	level := r.Level
	r.Attrs(func(a slog.Attr) bool {
		// A "level" attribute names one of heartbeat's levels that slog
		// lacks (Logger.Error(..., "level", "CRIT")).
		if a.Key == "level" && a.Value.String() == "CRIT" {
			level = LevelCrit
			return true
		}
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.sink.write(level, b.String())
	return nil
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	n.attrs = b.String()
	return &n
}

func (h *handler) WithGroup(string) slog.Handler { return h }

// NewLogger returns a logger writing heartbeat-format lines to the given
// targets, filtered by t.Level.
func NewLogger(t LogTargets) *slog.Logger {
	if t.Level == nil {
		t.Level = new(slog.LevelVar)
	}
	return slog.New(&handler{sink: newLogSink(t), level: t.Level})
}

// crit logs at heartbeat's CRIT level.
func crit(l *slog.Logger, format string, a ...any) {
	l.Log(context.Background(), LevelCrit, fmt.Sprintf(format, a...))
}
