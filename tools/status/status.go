// Package status implements `heartbeat status`: one screen for a person,
// showing the nodes with their status and generation, every link of every
// node, each resource group and where it runs, and the last failovers with
// their timing, as the local daemon sees them (through package ctl).
//
// When only heartbeat 3.0.6 runs on the node, the screen is built from
// its API socket (package hbapi), with what that API tells.
//
// Exit codes follow heartbeat -s: 0 the daemon answered, 3 it is not
// running, 4 the control socket refused us, 1 anything else.
package status

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/ctl/hbapi"
)

// Run runs `heartbeat status [--run-dir DIR]` and returns its exit code.
// The control socket is looked for in --run-dir, $HA_RUNDIR or /run/heartbeat.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	dir := ctl.DefaultRunDir
	if d := os.Getenv("HA_RUNDIR"); d != "" {
		dir = d
	}
	switch {
	case len(args) == 2 && args[0] == "--run-dir":
		dir = args[1]
	case len(args) == 1 && strings.HasPrefix(args[0], "--run-dir="):
		dir = strings.TrimPrefix(args[0], "--run-dir=")
	case len(args) != 0:
		fmt.Fprintln(stderr, "usage: heartbeat status [--run-dir DIR]")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := ctl.Dial(ctx, dir)
	if err != nil {
		if _, serr := os.Stat(filepath.Join(dir, hbapi.SocketName)); ctl.NotRunning(err) && serr == nil {
			return fromHeartbeat(ctx, dir, stdout, stderr)
		}
		return fail(stderr, dir, err)
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return fail(stderr, dir, err)
	}
	Write(stdout, st, time.Now(), time.Local)
	return 0
}

// fromHeartbeat shows what heartbeat 3.0.6's API tells, when the C
// daemon runs on this node.
func fromHeartbeat(ctx context.Context, dir string, stdout, stderr io.Writer) int {
	c, err := hbapi.Signon(ctx, dir)
	if err != nil {
		var he *hbapi.Error
		if errors.As(err, &he) {
			err = fmt.Errorf("%w: %s", ctl.ErrDenied, he.Info)
		}
		return fail(stderr, dir, err)
	}
	defer c.Close()
	st, err := c.Snapshot(ctx, hbapi.All)
	if err != nil {
		return fail(stderr, dir, err)
	}
	Write(stdout, st, time.Now(), time.Local)
	fmt.Fprintln(stdout, "(answered by heartbeat 3.0.6: no generations, resource groups or failover history)")
	return 0
}

func fail(stderr io.Writer, dir string, err error) int {
	switch {
	case ctl.NotRunning(err):
		fmt.Fprintf(stderr, "heartbeat is not running (no control socket at %s)\n", ctl.SocketPath(dir))
		return 3
	case errors.Is(err, ctl.ErrDenied):
		fmt.Fprintf(stderr, "heartbeat refused the status request: run as root or a member of %s\n", ctl.DefaultGroup)
		return 4
	}
	fmt.Fprintf(stderr, "heartbeat status: %v\n", err)
	return 1
}

// Write renders st for a person; now and loc place the times.
func Write(w io.Writer, st ctl.Status, now time.Time, loc *time.Location) {
	stamp := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04:05") }
	fmt.Fprintf(w, "heartbeat %s on %s", st.Version, st.LocalNode)
	if st.PID != 0 {
		fmt.Fprintf(w, ", pid %d", st.PID)
	}
	if !st.Started.IsZero() {
		fmt.Fprintf(w, ", up %s (since %s)", ago(now.Sub(st.Started)), stamp(st.Started))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "keepalive %s, warntime %s, deadtime %s, initdead %s\n",
		dur(st.Keepalive), dur(st.WarnTime), dur(st.DeadTime), dur(st.InitDead))
	fmt.Fprintf(w, "resources managed by %s; this node holds: %s\n", st.Managed(), st.Resources)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nNODE\tTYPE\tSTATUS\tGENERATION\tWEIGHT\tSITE\tLAST HEARD\tLINKS")
	for _, n := range st.Nodes {
		name := n.Name
		if strings.EqualFold(n.Name, st.LocalNode) {
			name += " (this node)"
		}
		gen, heard := "-", "-"
		if n.Generation != 0 {
			gen = fmt.Sprint(n.Generation)
		}
		if !n.LastHeard.IsZero() {
			heard = ago(now.Sub(n.LastHeard)) + " ago"
		}
		site := n.Site
		if site == "" {
			site = "-"
		}
		links := make([]string, len(n.Links))
		for i, l := range n.Links {
			links[i] = l.Name + " " + string(l.Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", name, n.Type, n.Status, gen, n.Weight, site, heard, strings.Join(links, ", "))
	}
	tw.Flush()

	if len(st.Groups) > 0 {
		fmt.Fprintln(tw, "\nRESOURCE GROUP\tHOME\tRUNNING ON\tSTATE\tRESOURCES")
		for _, g := range st.Groups {
			holder := g.Holder
			if holder == "" {
				holder = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Key, g.Home, holder, g.State, strings.Join(g.Resources, " "))
		}
		tw.Flush()
	}

	writeConnectivity(w, tw, st.Connectivity, stamp)
	writeCounters(w, st, stamp)

	if len(st.Failovers) == 0 {
		fmt.Fprintln(w, "\nno failovers since start")
		return
	}
	fmt.Fprintln(tw, "\nLAST FAILOVERS\tGROUP\tFROM\tTO\tREASON\tTOOK")
	for _, f := range st.Failovers {
		from, to := f.From, f.To
		if from == "" {
			from = "-"
		}
		if to == "" {
			to = "-"
		}
		took := dur(f.Took)
		if f.Error != "" {
			took += " FAILED: " + f.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", stamp(f.Start), f.Group, from, to, f.Reason, took)
	}
	tw.Flush()
}

// writeConnectivity shows ping reach, the built-in ipfail and pingd, and
// the respawned children, when the daemon reports any.
func writeConnectivity(w io.Writer, tw *tabwriter.Writer, c *ctl.Connectivity, stamp func(time.Time) string) {
	if c == nil {
		return
	}
	fmt.Fprintf(w, "\nping nodes reachable: %d\n", c.Reachable)
	if f := c.Ipfail; f != nil {
		switch {
		case f.Disabled != "":
			fmt.Fprintf(w, "ipfail: not running: %s\n", f.Disabled)
		default:
			line := "ipfail: peer " + orDash(f.Peer) + ", last ping-count comparison: " + orDash(f.Compare)
			if f.Pending != "" {
				line += ", giving up " + f.Pending + " at " + stamp(f.PendingAt)
			}
			fmt.Fprintf(w, "%s, %d flaps\n", line, f.Flaps)
		}
	}
	if c.Pingd != nil {
		fmt.Fprintf(w, "pingd: %s=%d\n", orDash(c.PingdAttr), *c.Pingd)
	}
	if len(c.Children) > 0 {
		fmt.Fprintln(tw, "\nCHILD\tUSER\tPID\tSTARTS\tLAST EXIT")
		for _, ch := range c.Children {
			pid := "-"
			if ch.PID != 0 {
				pid = fmt.Sprint(ch.PID)
			}
			last := orDash(ch.LastExit)
			if ch.Stopped {
				last += " (not restarted)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", ch.Command, ch.User, pid, ch.Starts, last)
		}
		tw.Flush()
	}
}

// normalDrops are counted but are not refusals: a message seen on two
// media arrives twice, and with more than two nodes messages addressed
// to another node are seen too.
var normalDrops = map[string]bool{"duplicate": true, "not-for-us": true}

// writeCounters shows the packets the daemon refused, by reason, and
// each medium's own counters, when the daemon reports them.
func writeCounters(w io.Writer, st ctl.Status, stamp func(time.Time) string) {
	if len(st.Counters) == 0 && len(st.Media) == 0 {
		return
	}
	fmt.Fprintln(w)
	var refused, ignored []string
	for _, r := range slices.Sorted(maps.Keys(st.Counters)) {
		item := fmt.Sprintf("%s %d", r, st.Counters[r])
		if normalDrops[r] {
			ignored = append(ignored, item)
		} else {
			refused = append(refused, item)
		}
	}
	if len(refused) == 0 {
		refused = []string{"none"}
	}
	fmt.Fprintf(w, "packets refused: %s\n", strings.Join(refused, ", "))
	if len(ignored) > 0 {
		fmt.Fprintf(w, "packets ignored: %s\n", strings.Join(ignored, ", "))
	}
	for _, m := range st.Media {
		line := fmt.Sprintf("medium %s: %s", m.Name, orDash(m.State))
		if m.Reopens > 0 {
			line += fmt.Sprintf(" (reopened %d times)", m.Reopens)
		}
		line += fmt.Sprintf(", sent %d, received %d", m.Sent, m.Received)
		if len(m.Dropped) > 0 {
			var d []string
			for _, r := range slices.Sorted(maps.Keys(m.Dropped)) {
				d = append(d, fmt.Sprintf("%s %d", r, m.Dropped[r]))
			}
			line += ", dropped " + strings.Join(d, ", ")
		}
		if m.LastErr != "" {
			line += "; last error"
			if !m.ErrAt.IsZero() {
				line += " at " + stamp(m.ErrAt)
			}
			line += ": " + m.LastErr
		}
		fmt.Fprintln(w, line)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dur prints a duration the way a person reads it: 500ms, 1.2s, 10s.
func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", d.Seconds()), "0"), ".") + "s"
	}
	return d.Round(time.Second).String()
}

// ago prints an elapsed time coarsely.
func ago(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return dur(d)
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
