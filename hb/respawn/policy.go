// Package respawn runs ha.cf's "respawn USER PROGRAM ARGS" and "failfast
// USER PROGRAM ARGS" children as heartbeat 3.0.6 does: started at comm-up
// in file order as USER through /bin/sh -c "exec LINE" in a process group
// of their own, with /dev/null as standard input and outputs and the
// daemon's environment; restarted when they die, unless they exit with
// code 100 or die too fast; stopped in reverse order at shutdown, one
// process group at a time with SIGTERM.
//
// The restart decision is the pure Policy; Supervisor carries it out with
// real processes.
package respawn

import "time"

// Heartbeat's restart rules.
const (
	// ShortRun: a child that dies within this time of its start died
	// "short"; a longer run resets the count of short deaths.
	ShortRun = 30 * time.Second
	// MaxShort short deaths in a row are restarted; the next one is
	// "respawning too fast" and the child stays down.
	MaxShort = 10
	// ShortDelay is how long the next start waits after a short run.
	ShortDelay = time.Second
	// NoRespawnCode is the exit code that tells heartbeat not to restart
	// a child (ipfail uses it for a configuration it cannot work with).
	NoRespawnCode = 100
)

// Exit is how a child ended.
type Exit struct {
	Code     int  // exit code (when not Signaled)
	Signaled bool // killed by a signal
	Signal   int
}

// Decision is what to do after a child died.
type Decision struct {
	Restart bool
	Delay   time.Duration // wait before the restart
	TooFast bool          // "respawning too fast": not restarted
	Reboot  bool          // failfast: the node must reboot
}

// Policy decides restarts for one child. The zero value uses heartbeat's
// rules; tests shorten the times.
type Policy struct {
	ShortRun time.Duration // 0: ShortRun
	MaxShort int           // 0: MaxShort
	Delay    time.Duration // 0: ShortDelay
	FailFast bool          // a "failfast" line
	short    int
}

func (p *Policy) limits() (time.Duration, int, time.Duration) {
	sr, ms, d := p.ShortRun, p.MaxShort, p.Delay
	if sr <= 0 {
		sr = ShortRun
	}
	if ms <= 0 {
		ms = MaxShort
	}
	if d <= 0 {
		d = ShortDelay
	}
	return sr, ms, d
}

// Died decides what follows a child's death: it ran from started to at
// and ended as e; stopping is true while the daemon shuts down.
func (p *Policy) Died(started, at time.Time, e Exit, stopping bool) Decision {
	if stopping {
		return Decision{}
	}
	if p.FailFast && (e.Signaled || e.Code != 0) {
		return Decision{Reboot: true}
	}
	if !e.Signaled && e.Code == NoRespawnCode {
		p.short = 0
		return Decision{}
	}
	sr, ms, d := p.limits()
	if at.Sub(started) >= sr {
		p.short = 0
		return Decision{Restart: true}
	}
	p.short++
	if p.short > ms {
		p.short = 0
		return Decision{TooFast: true}
	}
	return Decision{Restart: true, Delay: d}
}
