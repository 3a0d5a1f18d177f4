package resource

import (
	"context"
	"errors"

	"github.com/heartbeat-go/heartbeat/hb/rm"
)

// Outcome maps the error of Groups.Start or Groups.Stop onto the result the
// resource manager expects in rm.Machine.Done.
func Outcome(err error) rm.Result {
	switch {
	case err == nil:
		return rm.OK
	case errors.Is(err, ErrStopFailedRunning):
		return rm.StopFailedRun
	default:
		return rm.Failed
	}
}

// Do carries out a StartGroup or StopGroup action of the resource manager
// and returns what to report with rm.Machine.Done(now, a.ID, result). Other
// action kinds are not group operations and return rm.OK untouched.
func (g *Groups) Do(ctx context.Context, a rm.Action) rm.Result {
	switch a.Kind {
	case rm.StartGroup:
		return Outcome(g.Start(ctx, a.Group))
	case rm.StopGroup:
		return Outcome(g.Stop(ctx, a.Group))
	}
	return rm.OK
}
