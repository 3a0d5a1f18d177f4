// Package decode implements the `decode` tool of the heartbeat multi-call binary.
package decode

import (
	"context"
	"fmt"
	"io"
)

// Run runs the tool with args (without the program name) and returns its
// exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "decode: not built yet in this version of heartbeat-go")
	return 2
}
