// Package hbtakeover implements the `hb_takeover` tool of the heartbeat
// multi-call binary: `hb_takeover [all|local|foreign|failback]` asks the
// peers to hand resources over to this node (no argument means all).
// Arguments, output texts and exit codes are heartbeat 3.0.6's; the
// request goes through the daemon's control socket (see package hbstandby).
package hbtakeover

import (
	"context"
	"io"

	"github.com/heartbeat-go/heartbeat/tools/hbstandby"
)

// Run runs the tool with args (without the program name) and returns its
// exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return hbstandby.FromEnv("hb_takeover", false, stderr).Run(ctx, args, stdout, stderr)
}
