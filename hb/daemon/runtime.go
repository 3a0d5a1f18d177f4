package daemon

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/config"
	"github.com/heartbeat-go/heartbeat/hb/config/osenv"
	"github.com/heartbeat-go/heartbeat/hb/ctl"
	"github.com/heartbeat-go/heartbeat/hb/membership/state"
	"github.com/heartbeat-go/heartbeat/hb/respawn"
	"github.com/heartbeat-go/heartbeat/hb/rm"
	"github.com/heartbeat-go/heartbeat/hb/wire"
	"github.com/heartbeat-go/heartbeat/media"
)

// outgoing is one message the engine wants sent.
type outgoing struct {
	Msg  *wire.Message
	Link int // index into the runtime's media; -1 = every medium
}

// event is something to log (heartbeat's wording in Text).
type event struct {
	Level slog.Level
	Text  string
	Ready bool // the node is a full member now (sd_notify READY=1)
}

// out is what one engine input produced.
type out struct {
	Send    []outgoing
	Events  []event
	Actions []rm.Action
	Wake    time.Time
	Exit    bool // shutdown complete
	Restart bool // give up and restart (partition heal)
}

func (o *out) add(p out) {
	o.Send = append(o.Send, p.Send...)
	o.Events = append(o.Events, p.Events...)
	o.Actions = append(o.Actions, p.Actions...)
	o.Wake = earliest(o.Wake, p.Wake)
	o.Exit = o.Exit || p.Exit
	o.Restart = o.Restart || p.Restart
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case b.Before(a):
		return b
	}
	return a
}

// engine is the pure cluster state machine the runtime drives: membership,
// retransmission and the v1 resource manager. It never blocks and never
// reads the clock.
type engine interface {
	Start(now time.Time) out
	Tick(now time.Time) out
	Receive(now time.Time, link int, m *wire.Message) out
	Command(now time.Time, c rm.Command) out
	Done(now time.Time, id uint64, r rm.Result) out
	// Snapshot fills the cluster part of a status snapshot.
	Snapshot(s *ctl.Status)
}

// codec turns messages into bytes for one medium and back, signing and
// verifying them.
type codec interface {
	Encode(m *wire.Message, link int) ([]byte, error)
	Decode(b []byte, link int) (*wire.Message, error)
}

type inPacket struct {
	media.Packet
	Link int
}

type actionDone struct {
	ID     uint64
	Result rm.Result
}

// runtime is one running daemon.
type runtime struct {
	o       Options
	cfg     *config.Config
	log     *slog.Logger
	level   *slog.LevelVar
	debug   int
	started time.Time
	gen     uint64
	uuid    [16]byte

	media   []media.Medium
	eng     engine
	codec   codec
	runner  actionRunner
	inbox   chan inPacket
	done    chan actionDone
	calls   chan func()
	drops   map[string]uint64
	wake    time.Time
	timer   *time.Timer
	actx    context.Context // resource actions; not cancelled by shutdown
	acancel context.CancelFunc
	code    int           // exit code of run once r.exit is set
	emerg   time.Duration // shutdown emergency timer; 0 = ShutdownEmergency
	stopped bool
	exit    bool
	restart bool                // exit to restart (a healed partition, or ha.cf changed: see qr)
	qr      quickState          // restart keeping the resources (restart.go)
	kids    *respawn.Supervisor // respawn/failfast children, started at comm-up
	api     *apiServer          // heartbeat's client API socket, opened at comm-up
	ctx     context.Context
	hacf    string // ha.cf as read at start, to notice changes on SIGHUP

	// sendErrs logs failed sends on media as heartbeat does (senderrors.go).
	sendErrs sendErrLog

	// For in-process tests: media to use instead of opening ha.cf's, and
	// no OS-level endpoints (signals, FIFO, sockets).
	testMedia []media.Medium
	noOS      bool
}

// actionRunner carries out resource actions (start or stop a group, run
// an event hook); it is called on its own goroutine.
type actionRunner interface {
	Run(ctx context.Context, a rm.Action) rm.Result
}

func levelFor(debug int) slog.Level {
	if debug > 0 {
		return DebugLevel(debug)
	}
	return slog.LevelInfo
}

// newLogger builds the daemon's logger from ha.cf's logging directives.
// Without logfile, debugfile or a syslog facility (heartbeat would use
// logd, which heartbeat-go does not have) lines go to syslog's daemon
// facility, and to stderr in the foreground.
func newLogger(o Options, cfg *config.Config, stderr io.Writer, level *slog.LevelVar) *slog.Logger {
	t := LogTargets{Host: uname(), Pid: os.Getpid(), Level: level}
	if cfg != nil {
		t.LogFile, t.DebugFile, t.Facility = cfg.LogFile, cfg.DebugFile, cfg.LogFacility
		if o.Node != "" {
			t.Host = cfg.LocalNode
		}
		local := t.LogFile != "" || t.DebugFile != "" || (Facilities[t.Facility] > 0)
		if !local {
			t.Facility = "daemon"
			t.Stderr = stderr
		}
	} else {
		t.Stderr = stderr
	}
	return NewLogger(t)
}

// loadConfig reads and validates ha.cf, authkeys and haresources the way
// heartbeat does at start, logging every problem; it fails when heartbeat
// would refuse to start.
func loadConfig(o Options, log *slog.Logger) (*config.Config, error) {
	return loadConfigLogged(o, log, false)
}

// loadConfigLogged is loadConfig; with toFiles, a refused configuration's
// problems also go to the log files it names (logfile, debugfile), as
// heartbeat's do: its ha-log says why heartbeat did not start. (A running
// daemon rereading its files logs through its own logger instead.)
func loadConfigLogged(o Options, log *slog.Logger, toFiles bool) (*config.Config, error) {
	// The same checks as heartbeat --check: files and machine (peers and
	// ping hosts resolve, respawn users and programs exist, interfaces
	// exist), which heartbeat 3.0.6 also refuses to start without.
	// A ucast line's missing interface is found when the medium is
	// opened (openMedia), as heartbeat finds it.
	env := machineEnv()
	env.UcastIfaceAtOpen = true
	cfg, probs := config.LoadWith(o.ConfigDir, config.Options{Node: o.Node, Env: env})
	if toFiles && cfg != nil && probs.HasErrors() && (cfg.LogFile != "" || cfg.DebugFile != "") {
		host := uname()
		if o.Node != "" && cfg.LocalNode != "" {
			host = cfg.LocalNode // as newLogger names a node started with --node
		}
		files := NewLogger(LogTargets{LogFile: cfg.LogFile, DebugFile: cfg.DebugFile, Host: host, Pid: os.Getpid()})
		log = slog.New(slog.NewMultiHandler(log.Handler(), files.Handler()))
	}
	for _, p := range probs {
		if p.Severity == 0 {
			log.Error(p.Msg)
		} else {
			log.Warn(p.Msg)
		}
	}
	if cfg == nil || probs.HasErrors() {
		log.Error("Configuration error, heartbeat not started.")
		err := probs.Err()
		if err == nil {
			err = errors.New("configuration error")
		}
		if cfg == nil {
			if _, serr := os.Stat(filepath.Join(o.ConfigDir, "ha.cf")); errors.Is(serr, os.ErrPermission) {
				return nil, fmt.Errorf("%w: %w", err, os.ErrPermission)
			}
		}
		return nil, err
	}
	if o.NoManage {
		cfg.Resources = nil
	}
	return cfg, nil
}

// machineEnv answers hb/config's questions about this machine.
var machineEnv = osenv.Env

// exportEnv sets the HA_* variables heartbeat gives its children
// (resource scripts, harc, respawned programs).
func exportEnv(o Options, cfg *config.Config, debug int) {
	set := func(k, v string) { os.Setenv(k, v) }
	dir := o.ConfigDir + "/"
	set("HA_DIR", dir)
	set("HA_FUNCS", dir+"/shellfuncs")
	set("HA_DATEFMT", "%Y/%m/%d_%T\t")
	if os.Getenv("OCF_ROOT") == "" {
		set("OCF_ROOT", "/usr/lib/ocf")
	}
	set("HA_CURHOST", cfg.LocalNode)
	if cfg.LogFile != "" {
		set("HA_LOGFILE", cfg.LogFile)
	}
	if cfg.DebugFile != "" {
		set("HA_DEBUGLOG", cfg.DebugFile)
	}
	if cfg.LogFacility != "" {
		set("HA_LOGFACILITY", cfg.LogFacility)
	}
	if cfg.UseLogd {
		set("HA_LOGD", "yes")
	} else {
		set("HA_LOGD", "no")
	}
	if debug > 0 {
		set("HA_debug", strconv.Itoa(debug))
	}
	if cfg.AutoFailback != config.FailbackLegacy {
		set("HA_NICEFAILBACK", "yes")
	}
	set("HA_RSCTMP", filepath.Join(o.socketDir(), "rsctmp"))
	set("HA_VARRUN", o.RunDir)
	set("HA_RUNDIR", o.socketDir()) // where cl_status, hb_standby find the control socket
	set("HA_VARLIB", o.StateDir)
	// Every recorded ha.cf parameter, as heartbeat gives its event
	// scripts (HA_deadtime, HA_keepalive, HA_udpport, ...); hbversion
	// is not among them.
	for k, v := range parameters(cfg, debug) {
		if k != "debug" && k != "hbversion" {
			set("HA_"+k, v)
		}
	}
	for k, v := range cfg.Env {
		set("HA_"+k, v)
	}
}

// runDaemon is the daemon proper: it owns the pid file, opens the media,
// and runs the main loop until shutdown completes.
func runDaemon(ctx context.Context, o Options, cfg *config.Config, stderr io.Writer) int {
	level := new(slog.LevelVar)
	debug := o.Debug
	if cfg.Debug > debug {
		debug = cfg.Debug
	}
	level.Set(levelFor(debug))
	log := newLogger(o, cfg, stderr, level)

	for _, d := range []string{o.RunDir, o.socketDir(), filepath.Join(o.socketDir(), "rsctmp"), o.StateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			log.Error(fmt.Sprintf("Cannot create %s: %v", d, err))
			return ExitGeneric
		}
	}
	if err := CreatePidFile(o.pidFile(), os.Getpid()); err != nil {
		var er ErrRunning
		if errors.As(err, &er) {
			log.Info(fmt.Sprintf("heartbeat: already running [pid %d].", er.Pid))
			return ExitOK
		}
		log.Error(fmt.Sprintf("Cannot create pid file %s: %v", o.pidFile(), err))
		return ExitGeneric
	}

	log.Info(fmt.Sprintf("Pacemaker support: %s", cfg.Pacemaker))
	if cfg.UseLogd {
		log.Warn("Logging daemon is not available in heartbeat-go: logging to syslog (facility daemon)")
	} else {
		log.Warn("Logging daemon is disabled --enabling logging daemon is recommended")
	}
	log.Info("**************************")
	log.Info("Configuration validated. Starting heartbeat 3.0.6")
	log.Info("heartbeat: version 3.0.6")

	r := &runtime{o: o, cfg: cfg, log: log, level: level, debug: debug, started: time.Now(),
		inbox: make(chan inPacket, 256), done: make(chan actionDone, 16), calls: make(chan func()),
		drops: map[string]uint64{}}
	if b, err := os.ReadFile(filepath.Join(o.ConfigDir, "ha.cf")); err == nil {
		r.hacf = string(b)
	}
	if err := r.stateFiles(); err != nil {
		log.Error(err.Error())
		return ExitGeneric
	}
	exportEnv(o, cfg, debug)
	code := r.run(ctx)
	if r.restart && ctx.Err() == nil {
		r.reexec(ctx)
	}
	return code
}

// stateFiles reads and bumps the generation and loads the node's UUID
// (hb/membership/state keeps heartbeat's file formats).
func (r *runtime) stateFiles() error {
	if r.cfg.HBGenMethod == "time" {
		r.gen = state.TimeGeneration(r.started)
	} else {
		gen, note, err := state.BumpGeneration(r.o.StateDir, r.started)
		if err != nil {
			return fmt.Errorf("Cannot write generation file: %v", err)
		}
		if note != "" {
			r.log.Warn(string(note))
		}
		r.gen = gen
	}
	r.log.Info(fmt.Sprintf("Heartbeat generation: %d", r.gen))
	id, created, err := state.ReadOrCreateUUID(r.o.StateDir, crand.Reader)
	if err != nil {
		return fmt.Errorf("Cannot read or write uuid file: %v", err)
	}
	if created {
		r.log.Info("No uuid found for current node - generating a new uuid.")
	}
	r.uuid = id
	return nil
}

func (r *runtime) run(parent context.Context) int {
	// The daemon's own goroutines (media readers, FIFO, sockets) live
	// until run returns: a cancelled parent (SIGTERM, SIGINT) only starts
	// the graceful shutdown, which still needs to hear the peers.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.ctx = ctx
	defer func() {
		if r.api != nil {
			r.api.close()
		}
	}()

	if err := r.build(); err != nil {
		r.log.Error(err.Error())
		return ExitGeneric
	}
	if r.testMedia != nil {
		r.media = r.testMedia
		for i, m := range r.media {
			go r.receive(ctx, i, m)
		}
	} else if err := r.openMedia(ctx); err != nil {
		r.mediaOpenFailed(err)
		return ExitGeneric
	}
	defer r.closeMedia()

	sigs := make(chan os.Signal, 8)
	if !r.noOS {
		if err := r.openFIFO(ctx); err != nil {
			r.log.Error(err.Error())
		}
		srv, err := ctl.Listen(ctl.SocketPath(r.o.socketDir()), (*ctlHandler)(r), ctl.Options{Logger: r.log})
		if err != nil {
			r.log.Error(fmt.Sprintf("Cannot create control socket: %v", err))
			return ExitGeneric
		}
		go srv.Serve(ctx)
		defer srv.Close()
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(sigs)
		signal.Ignore(syscall.SIGINT) // as heartbeat: stop it with -k or SIGTERM
	}

	r.timer = time.NewTimer(time.Hour)
	defer r.timer.Stop()
	actx, acancel := context.WithCancel(context.Background())
	defer acancel()
	r.actx, r.acancel = actx, acancel
	var emergency <-chan time.Time
	var emergencyTimer *time.Timer
	defer func() {
		if emergencyTimer != nil {
			emergencyTimer.Stop()
		}
	}()

	r.apply(r.eng.Start(time.Now()))
	sdNotify("STATUS=heartbeat up")

	shutdown := func(why string) {
		if r.stopped {
			return
		}
		r.stopped = true
		sdNotify("STOPPING=1")
		// heartbeat waits for resource activity in progress (a stop
		// that keeps failing is retried), but not forever.
		d := r.emerg
		if d <= 0 {
			d = ShutdownEmergency
		}
		emergencyTimer = time.NewTimer(d)
		emergency = emergencyTimer.C
		r.apply(r.eng.Command(time.Now(), rm.Command{Kind: rm.Shutdown}))
	}
	// systemd's watchdog (WatchdogSec=): ping at half the interval from
	// the main loop, so a stuck loop is noticed.
	var watchdog <-chan time.Time
	if us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && us > 0 {
		if pid := os.Getenv("WATCHDOG_PID"); pid == "" || pid == strconv.Itoa(os.Getpid()) {
			t := time.NewTicker(time.Duration(us) * time.Microsecond / 2)
			defer t.Stop()
			watchdog = t.C
		}
	}
	ctxDone := parent.Done()
	for !r.exit {
		select {
		case <-watchdog:
			sdNotify("WATCHDOG=1")
		case <-emergency:
			crit(r.log, "Emergency Shutdown: Attempting to kill everything ourselves")
			r.killEverything()
			r.exit, r.code = true, ExitEmergency
		case <-ctxDone:
			ctxDone = nil
			shutdown("context")
		case s := <-sigs:
			switch s {
			case syscall.SIGTERM:
				shutdown("SIGTERM")
			case syscall.SIGHUP:
				r.reread()
			case syscall.SIGUSR1:
				r.setDebug(r.debug + 1)
			case syscall.SIGUSR2:
				if r.debug > 0 {
					r.setDebug(r.debug - 1)
				}
			}
		case p := <-r.inbox:
			m, err := r.codec.Decode(p.Data, p.Link)
			if err != nil {
				r.countDrop(err, p)
				continue
			}
			r.apply(r.eng.Receive(p.At, p.Link, m))
		case d := <-r.done:
			r.apply(r.eng.Done(time.Now(), d.ID, d.Result))
		case f := <-r.calls:
			f()
		case <-r.timer.C:
			r.wake = time.Time{}
			r.apply(r.eng.Tick(time.Now()))
		}
	}
	r.stopChildren()
	return r.code
}

// killEverything ends, ungracefully, what the daemon runs: resource
// actions in flight (their scripts' process groups are killed) and the
// respawn/failfast children.
func (r *runtime) killEverything() {
	if r.acancel != nil {
		r.acancel()
	}
	if r.kids != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r.kids.Stop(ctx)
		r.kids = nil
	}
}

// fenceSelf is heartbeat's answer to a stop that failed with the resource
// still running ("Resource STOP failure. Reboot required!", "Killing
// heartbeat ungracefully!"): heartbeat kills itself with SIGKILL, sending
// nothing more, and reboots. heartbeat-go exits at once in the same way
// (no further stops, no shutdone: the peers declare this node dead after
// deadtime) with exit code 100, but does not reboot the machine.
func (r *runtime) fenceSelf() {
	r.killEverything()
	crit(r.log, "heartbeat-go does not reboot: reboot or fence this node before its resources run elsewhere")
	r.exit, r.code = true, ExitEmergency
}

// stopChildren stops the respawn/failfast children, last started first.
func (r *runtime) stopChildren() {
	if r.kids == nil {
		return
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Minute)
	r.kids.Stop(sctx)
	scancel()
	r.kids = nil
}

// startChildren starts ha.cf's respawn and failfast children, in file
// order, once communication is up (as heartbeat does).
func (r *runtime) startChildren() {
	if r.kids != nil || len(r.cfg.Children) == 0 {
		return
	}
	r.kids = respawn.New(respawn.Options{Log: r.log})
	for _, c := range r.cfg.Children {
		if err := r.kids.Start(respawn.Spec{User: c.User, Command: c.Command, Path: c.Path, FailFast: c.FailFast}); err != nil {
			r.log.Error(fmt.Sprintf("Cannot start client child [%s]: %v", c.Command, err))
		}
	}
}

// apply carries out one engine output; r.exit says the daemon must exit.
func (r *runtime) apply(o out) {
	if o.Exit || o.Restart {
		// Resources are released: heartbeat stops its client children
		// (reverse order) before "<node> Heartbeat shutdown complete.".
		r.stopChildren()
	}
	for _, e := range o.Events {
		r.log.Log(context.Background(), e.Level, e.Text)
		if e.Ready {
			sdNotify("READY=1\nSTATUS=heartbeat active")
			if !r.noOS {
				r.startAPI(r.ctx)
			}
			r.startChildren()
		}
	}
	for _, s := range o.Send {
		r.send(s)
	}
	for _, a := range o.Actions {
		a := a
		if a.Kind == rm.FenceSelf {
			r.fenceSelf()
			continue
		}
		go func() {
			res := r.runner.Run(r.actx, a)
			if a.Kind == rm.StartGroup || a.Kind == rm.StopGroup {
				r.done <- actionDone{ID: a.ID, Result: res}
			}
		}()
	}
	if !o.Wake.IsZero() && (r.wake.IsZero() || o.Wake.Before(r.wake)) {
		r.wake = o.Wake
		r.timer.Reset(time.Until(o.Wake))
	}
	if o.Restart {
		r.log.Info("Heartbeat restart triggered.")
		r.restart = true
	}
	if o.Exit || o.Restart {
		r.exit = true
	}
}

func (r *runtime) send(s outgoing) {
	for i, m := range r.media {
		if s.Link >= 0 && s.Link != i {
			continue
		}
		b, err := r.codec.Encode(s.Msg, i)
		if err != nil {
			r.log.Error(fmt.Sprintf("cannot encode message t=%s: %v", s.Msg.Value(wire.FType), err))
			return
		}
		r.sendErrs.note(r.log, i, m, m.Send(context.Background(), b))
	}
}

func (r *runtime) setDebug(n int) {
	r.debug = n
	r.level.Set(levelFor(n))
	if n > 0 {
		os.Setenv("HA_debug", strconv.Itoa(n))
	} else {
		os.Unsetenv("HA_debug")
	}
	r.log.Info(fmt.Sprintf("debug now set to %d [pid %d]", n, os.Getpid()))
}

func (r *runtime) closeMedia() {
	for _, m := range r.media {
		m.Close()
	}
}

// do runs f on the main loop goroutine and waits for it.
func (r *runtime) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case r.calls <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handler answers the control socket (hb/ctl) for the runtime.
type ctlHandler runtime

func (h *ctlHandler) Status(ctx context.Context) (ctl.Status, error) {
	r := (*runtime)(h)
	var s ctl.Status
	err := r.do(ctx, func() {
		s = ctl.Status{
			Version: HBVersion, LocalNode: r.cfg.LocalNode, PID: os.Getpid(), Started: r.started,
			Pacemaker: r.cfg.Pacemaker, Keepalive: r.cfg.Keepalive, DeadTime: r.cfg.DeadTime,
			WarnTime: r.cfg.WarnTime, InitDead: r.cfg.InitDead, Parameters: parameters(r.cfg, r.debug),
		}
		r.eng.Snapshot(&s)
		r.report(&s)
	})
	return s, err
}

func (h *ctlHandler) command(ctx context.Context, c rm.Command) error {
	r := (*runtime)(h)
	return r.do(ctx, func() { r.apply(r.eng.Command(time.Now(), c)) })
}

func (h *ctlHandler) Standby(ctx context.Context, what ctl.What) error {
	return h.command(ctx, rm.Command{Kind: rm.Standby, What: string(what)})
}

func (h *ctlHandler) Takeover(ctx context.Context, what ctl.What) error {
	return h.command(ctx, rm.Command{Kind: rm.Takeover, What: string(what)})
}

func (h *ctlHandler) Shutdown(ctx context.Context) error {
	return syscall.Kill(os.Getpid(), syscall.SIGTERM)
}

func (h *ctlHandler) Reload(ctx context.Context) error {
	return syscall.Kill(os.Getpid(), syscall.SIGHUP)
}
