// Package hapropagate implements the `ha_propagate` tool of the heartbeat multi-call binary.
package hapropagate

import (
	"context"
	"fmt"
	"io"
)

// Run runs the tool with args (without the program name) and returns its
// exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "ha_propagate: not built yet in this version of heartbeat-go")
	return 2
}
