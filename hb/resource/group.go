package resource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/heartbeat-go/heartbeat/haresources"
)

// DefaultStopRetries is HA_STOPRETRYMAX's default.
const DefaultStopRetries = 10

// Groups starts and stops haresources groups (ResourceManager's
// takegroup and givegroup).
type Groups struct {
	Runner      Runner
	Logger      *slog.Logger  // nil = slog.Default()
	StopRetries int           // retries of a failed stop; 0 = DefaultStopRetries, < 0 = forever
	RetryDelay  time.Duration // between stop retries; 0 = 1 s
}

func (g *Groups) log() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.Default()
}

// Start starts the group's resources left to right, skipping those whose
// status says they run already. On the first failure it logs "Giving up
// resources due to failure of <res>", stops the whole group (every member,
// right to left) and returns an error wrapping ErrStartFailed (and
// ErrStopFailedRunning if that stop failed too).
func (g *Groups) Start(ctx context.Context, grp haresources.Group) error {
	for _, res := range grp.Resources {
		if st, err := g.Runner.Run(ctx, res, Status); err == nil && st.Running {
			continue
		}
		if _, err := g.Runner.Run(ctx, res, Start); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			g.log().Error(fmt.Sprintf("Giving up resources due to failure of %s", res.Raw), "level", "CRIT", "error", err.Error())
			serr := g.Stop(ctx, grp)
			return errors.Join(fmt.Errorf("%w: %s: %w", ErrStartFailed, res.Raw, err), serr)
		}
	}
	return nil
}

// Stop stops every member right to left, running stop even for members
// that do not run (scripts must succeed then). A failing stop is retried;
// if it still fails and the status says the resource runs, the result
// wraps ErrStopFailedRunning: heartbeat reboots the machine at that point.
func (g *Groups) Stop(ctx context.Context, grp haresources.Group) error {
	retries := g.StopRetries
	if retries == 0 {
		retries = DefaultStopRetries
	}
	delay := g.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	var errs []error
	for i := len(grp.Resources) - 1; i >= 0; i-- {
		res := grp.Resources[i]
		_, err := g.Runner.Run(ctx, res, Stop)
		for try := 0; err != nil && (retries < 0 || try < retries); try++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			g.log().Info(fmt.Sprintf("Retrying failed stop operation [%s]", res.Raw))
			_, err = g.Runner.Run(ctx, res, Stop)
		}
		if err == nil {
			continue
		}
		st, serr := g.Runner.Run(ctx, res, Status)
		if serr == nil && !st.Running {
			g.log().Error(fmt.Sprintf("Resource script for %s probably not LSB-compliant.", res.Raw))
			g.log().Warn(fmt.Sprintf("it (%s) MUST succeed on a stop when already stopped", res.Raw))
			g.log().Warn("Machine reboot narrowly avoided!")
			continue
		}
		g.log().Error("Resource STOP failure. Reboot required!", "level", "CRIT", "resource", res.Raw)
		errs = append(errs, fmt.Errorf("%w: %s: %w", ErrStopFailedRunning, res.Raw, err))
	}
	return errors.Join(errs...)
}
