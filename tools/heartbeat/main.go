// Command heartbeat is heartbeat-go's single multi-call binary: the daemon
// and every admin tool. It picks the tool from the name it was called by
// (cl_status, hb_standby, ...) or from its first argument
// (`heartbeat cl_status ...`); anything else goes to the daemon.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/heartbeat-go/heartbeat/hb/daemon"
	"github.com/heartbeat-go/heartbeat/tools/check"
	"github.com/heartbeat-go/heartbeat/tools/clstatus"
	"github.com/heartbeat-go/heartbeat/tools/decode"
	"github.com/heartbeat-go/heartbeat/tools/hapropagate"
	"github.com/heartbeat-go/heartbeat/tools/haresources2cib"
	"github.com/heartbeat-go/heartbeat/tools/hbstandby"
	"github.com/heartbeat-go/heartbeat/tools/hbtakeover"
	"github.com/heartbeat-go/heartbeat/tools/status"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// runFunc is the signature every tool shares.
type runFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

// tools are reachable both as argv[0] (through the links make build
// creates) and as `heartbeat NAME`.
var tools = map[string]runFunc{
	"cl_status":       clstatus.Run,
	"hb_standby":      hbstandby.Run,
	"hb_takeover":     hbtakeover.Run,
	"ha_propagate":    hapropagate.Run,
	"haresources2cib": haresources2cib.Run,
	"decode":          decode.Run,
	"status":          status.Run, // heartbeat status: one screen for a person
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := dispatch(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name := "heartbeat"
	if len(argv) > 0 {
		name = filepath.Base(argv[0])
		argv = argv[1:]
	}
	if name != "heartbeat" {
		// Installed under a tool's name (a link), strip a ".py"-style
		// suffix users sometimes keep from old installs.
		name = strings.TrimSuffix(name, ".py")
		if run, ok := tools[name]; ok {
			return run(ctx, argv, stdin, stdout, stderr)
		}
	}
	if len(argv) > 0 {
		switch argv[0] {
		case "--version", "version":
			fmt.Fprintf(stdout, "heartbeat-go %s (compatible with heartbeat 3.0.6)\n", Version)
			return 0
		case "--check", "check":
			return check.Run(ctx, argv[1:], stdin, stdout, stderr)
		case "help", "--help-tools":
			names := make([]string, 0, len(tools))
			for n := range tools {
				names = append(names, n)
			}
			sort.Strings(names)
			fmt.Fprintf(stdout, "usage: heartbeat [daemon flags] | heartbeat --check [...] | heartbeat TOOL [args]\ntools: %s\n", strings.Join(names, " "))
			return 0
		}
		if run, ok := tools[argv[0]]; ok {
			return run(ctx, argv[1:], stdin, stdout, stderr)
		}
	}
	return daemon.Run(ctx, argv, stdin, stdout, stderr)
}
