package daemon

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// settings is the effective configuration the runtime needs. It is
// filled from hb/config once that package's loader is available.
type settings struct{}

var errNotBuilt = errors.New("the cluster runtime is not wired up yet")

func loadConfig(o Options, log *slog.Logger) (*settings, error) {
	log.Error("Heartbeat not started: configuration error.")
	return nil, errNotBuilt
}

func runDaemon(ctx interface{ Done() <-chan struct{} }, o Options, s *settings, stderr io.Writer) int {
	fmt.Fprintln(stderr, errNotBuilt)
	return ExitGeneric
}

func dumpDefaults(o Options, w io.Writer) int {
	fmt.Fprintln(w, "heartbeat: -D is not available yet")
	return ExitGeneric
}
