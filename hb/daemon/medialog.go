package daemon

import (
	"context"
	"fmt"
	"log/slog"
)

// Messages media.Keep logs in its own words (heartbeat-go's, not a
// plugin's): they keep their attributes and get no prefix.
var keepOwnLines = map[string]bool{
	"medium reopened":                 true,
	"medium failed to open; retrying": true,
	"medium failed; reopening":        true,
}

// pluginHandler logs what a medium says when it opens (media.OpenLogger)
// as heartbeat logs its communication plugins' lines: prefixed "glib: ",
// without heartbeat-go's medium attribute. So "ucast: started on port 694
// interface eth0 to 198.18.0.2" reads as in heartbeat's ha-log.
type pluginHandler struct{ slog.Handler }

func (h pluginHandler) Handle(ctx context.Context, r slog.Record) error {
	if keepOwnLines[r.Message] {
		return h.Handler.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, "glib: "+r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "medium" {
			out.AddAttrs(a)
		}
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h pluginHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return pluginHandler{h.Handler.WithAttrs(as)}
}

func (h pluginHandler) WithGroup(name string) slog.Handler {
	return pluginHandler{h.Handler.WithGroup(name)}
}

// pluginLogger is l for media: see pluginHandler.
func pluginLogger(l *slog.Logger) *slog.Logger { return slog.New(pluginHandler{l.Handler()}) }

// ucastOpenLog is what heartbeat's ucast plugin logs when it opens, for
// the --bind sockets heartbeat-go opens itself.
func ucastOpenLog(iface string, port int, peer string) []string {
	return []string{
		"ucast: write socket priority set to IPTOS_LOWDELAY on " + iface,
		"ucast: bound send socket to device: " + iface,
		"ucast: set SO_REUSEPORT(w)",
		"ucast: set SO_REUSEADDR",
		"ucast: bound receive socket to device: " + iface,
		"ucast: set SO_REUSEPORT",
		fmt.Sprintf("ucast: started on port %d interface %s to %s", port, iface, peer),
	}
}
