// Package check implements `heartbeat --check`: it reads ha.cf, authkeys
// and haresources as heartbeat 3.0.6 would at start-up and says whether
// heartbeat would start with them.
//
//	heartbeat --check [--config-dir DIR] [--node NAME] [--json] [--offline]
//
// Exit status 0 when heartbeat 3.0.6 would start (warnings may be printed),
// 1 when it would refuse, printing every problem as FILE:LINE: message, and
// 2 for a usage error. --json prints the effective configuration on stdout
// (problems still go to stderr). --offline skips the checks that ask this
// machine (host names, users, programs, interfaces, serial ports), for files
// checked away from the node that runs them.
package check

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/hb/config/osenv"
)

// Run runs the tool with args (without the program name) and returns its
// exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(args, stdout, stderr, osenv.Env())
}

func run(args []string, stdout, stderr io.Writer, env config.Env) int {
	fs := flag.NewFlagSet("heartbeat --check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("config-dir", config.DefaultDir, "directory holding ha.cf, authkeys and haresources")
	node := fs.String("node", "", "check as this node (default: nodeinfo, else uname -n, as heartbeat does)")
	asJSON := fs.Bool("json", false, "print the effective configuration as JSON")
	offline := fs.Bool("offline", false, "skip checks that ask this machine (hosts, users, programs, interfaces)")
	quiet := fs.Bool("quiet", false, "print errors only, not warnings")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: heartbeat --check [--config-dir DIR] [--node NAME] [--json] [--offline] [--quiet]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "heartbeat --check: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *offline {
		env = config.Offline()
	}
	cfg, probs := config.LoadWith(*dir, config.Options{Node: *node, Env: env})
	for _, p := range probs {
		if *quiet && p.Severity != 0 {
			continue
		}
		fmt.Fprintln(stderr, p.String())
	}
	if *asJSON && cfg != nil {
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "heartbeat --check: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", b)
	}
	if probs.HasErrors() {
		n := len(probs.Errors())
		fmt.Fprintf(stderr, "heartbeat --check: %d error(s): heartbeat 3.0.6 would not start with %s\n", n, *dir)
		return 1
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "heartbeat --check: %s OK: heartbeat 3.0.6 would start as node %s\n", *dir, cfg.LocalNode)
	}
	return 0
}
