package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/rm"
	"github.com/heartbeat-go/heartbeat/media"
	"github.com/heartbeat-go/heartbeat/media/memnet"
	"github.com/heartbeat-go/heartbeat/media/memnet/live"
)

// syncBuf is a log sink safe for the runtime's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeRunner records which groups run on one node.
type fakeRunner struct {
	mu   sync.Mutex
	held map[string]bool
}

func (f *fakeRunner) Run(_ context.Context, a rm.Action) rm.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch a.Kind {
	case rm.StartGroup:
		f.held[a.Key] = true
	case rm.StopGroup:
		delete(f.held, a.Key)
	}
	return rm.OK
}

func (f *fakeRunner) holds(k string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held[k]
}

// testRuntime builds a runtime for node name from a real config directory,
// with an in-memory medium and no OS endpoints.
func testRuntime(t *testing.T, name string, ep media.Medium) (*runtime, *syncBuf, *fakeRunner) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ha.cf"), []byte("keepalive 1\ndeadtime 10\nwarntime 5\ninitdead 20\nudpport 694\nucast lo 127.0.0.2\nauto_failback on\nnode hb1\nnode hb2\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "authkeys"), []byte("auth 1\n1 sha1 runtime-test-key\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "haresources"), []byte("hb1 demo::web\n"), 0o644)
	o := Options{ConfigDir: dir, StateDir: filepath.Join(dir, "var"), RunDir: filepath.Join(dir, "run"), Node: name}
	os.MkdirAll(o.StateDir, 0o755)
	var errb bytes.Buffer
	cfg, err := loadConfig(o, NewLogger(LogTargets{Stderr: &errb}))
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	buf := &syncBuf{}
	level := new(slog.LevelVar)
	fr := &fakeRunner{held: map[string]bool{}}
	r := &runtime{o: o, cfg: cfg, level: level, started: time.Now(),
		log:   NewLogger(LogTargets{Stderr: buf, Host: name, Pid: 1, Level: level}),
		inbox: make(chan inPacket, 256), done: make(chan actionDone, 16), calls: make(chan func()),
		drops: map[string]uint64{}, testMedia: []media.Medium{ep}, noOS: true, runner: fr}
	if err := r.stateFiles(); err != nil {
		t.Fatal(err)
	}
	return r, buf, fr
}

// TestRuntimeFailoverSynctest runs two complete runtimes (goroutines, real
// timers, the real codec) over an in-memory network inside a synctest
// bubble: 30% loss for ten minutes causes no false death; a crash is
// detected within deadtime and the group taken over; a graceful shutdown
// ends the main loop. Fake time makes it take well under a second.
func TestRuntimeFailoverSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := live.NewHub(7)
		r1, log1, run1 := testRuntime(t, "hb1", hub.Endpoint("hb1", "lo"))
		r2, log2, run2 := testRuntime(t, "hb2", hub.Endpoint("hb2", "lo"))
		hub.Do(func(n *memnet.Network[[]byte]) { n.SetDelay(memnet.AllLinks, time.Millisecond, 0) })

		ctx1, stop1 := context.WithCancel(context.Background())
		ctx2, stop2 := context.WithCancel(context.Background())
		done1, done2 := make(chan int), make(chan int)
		go func() { done1 <- r1.run(ctx1) }()
		go func() { done2 <- r2.run(ctx2) }()

		time.Sleep(30 * time.Second) // start-up: RQSTDELAY and the rest
		if !run1.holds("demo::web") || run2.holds("demo::web") {
			t.Fatalf("after start-up: hb1 %v hb2 %v\n%s\n%s", run1.held, run2.held, log1, log2)
		}

		hub.Do(func(n *memnet.Network[[]byte]) { n.SetLoss(memnet.AllLinks, 0.30) })
		time.Sleep(10 * time.Minute)
		if strings.Contains(log1.String()+log2.String(), "is dead") {
			t.Fatalf("false death under 30%% loss:\n%s\n%s", log1, log2)
		}
		if !strings.Contains(log1.String()+log2.String(), "lost packet(s) for [") {
			t.Fatalf("ten minutes at 30%% loss and no gap reported:\n%s", log2)
		}
		hub.Do(func(n *memnet.Network[[]byte]) { n.SetLoss(memnet.AllLinks, 0) })

		// hb1 crashes: its medium goes silent.
		hub.Do(func(n *memnet.Network[[]byte]) { n.SetDown("hb1", true) })
		crashed := time.Now()
		for !strings.Contains(log2.String(), "WARN: node hb1: is dead") {
			if time.Since(crashed) > 20*time.Second {
				t.Fatalf("hb2 never declared hb1 dead:\n%s", log2)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if d := time.Since(crashed); d > 10*time.Second+time.Second {
			t.Errorf("death declared %v after the crash, want <= deadtime + keepalive", d)
		}
		time.Sleep(time.Second)
		if !run2.holds("demo::web") {
			t.Fatalf("hb2 did not take the group over:\n%s", log2)
		}

		stop1()
		stop2()
		if code := <-done2; code != ExitOK || !strings.Contains(log2.String(), "info: hb2 Heartbeat shutdown complete.") {
			t.Fatalf("hb2 shutdown: exit %d\n%s", code, log2)
		}
		if run2.holds("demo::web") {
			t.Error("hb2 kept the group after its shutdown")
		}
		<-done1
	})
}
