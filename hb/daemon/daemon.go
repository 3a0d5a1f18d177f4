// Package daemon is the heartbeat runtime: it drives the pure cluster core
// with real media, timers and signals, and implements heartbeat's own
// command-line flags.
package daemon

import (
	"context"
	"fmt"
	"io"
)

// Run runs the heartbeat daemon (or acts on a running one, as heartbeat's
// -k, -r, -s flags do) and returns its exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "heartbeat: the daemon is not built yet in this version of heartbeat-go")
	return 2
}
