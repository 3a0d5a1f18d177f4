package daemon

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/authkeys"
	"github.com/heartbeat-go/heartbeat/haresources"
	"github.com/heartbeat-go/heartbeat/hb/core"
	"github.com/heartbeat-go/heartbeat/hb/rm"
)

// pair runs two clusterEngines on a virtual clock, passing every message
// through the real codec (encode, sign, decode, verify), and carrying out
// resource actions instantly. No goroutines, no sockets.
type pair struct {
	t      *testing.T
	res    *haresources.File
	fb     rm.AutoFailback
	now    time.Time
	eng    map[string]*clusterEngine
	codec  *wireCodec
	wake   map[string]time.Time
	queue  []delivery
	down   map[string]bool // crashed: sends nothing, receives nothing
	logs   map[string][]string
	held   map[string]map[string]bool
	ready  map[string]bool
	exited map[string]bool
}

type delivery struct {
	to string
	b  []byte
}

func newPair(t *testing.T, failback rm.AutoFailback) *pair {
	keys, probs := authkeys.Parse([]byte("auth 1\n1 sha1 engine-test-key\n"), "authkeys")
	if probs.HasErrors() {
		t.Fatal(probs)
	}
	res, _ := haresources.Parse([]byte("hb1 demo::web\n"), "haresources")
	p := &pair{t: t, res: res, fb: failback, now: time.Unix(1_800_000_000, 0), eng: map[string]*clusterEngine{}, codec: &wireCodec{keys: keys},
		wake: map[string]time.Time{}, down: map[string]bool{}, logs: map[string][]string{},
		held: map[string]map[string]bool{"hb1": {}, "hb2": {}}, ready: map[string]bool{}, exited: map[string]bool{}}
	for _, n := range []string{"hb1", "hb2"} {
		p.boot(n, 100)
	}
	return p
}

// boot (re)creates node n's engine with generation gen.
func (p *pair) boot(n string, gen uint64) {
	i := map[string]int{"hb1": 0, "hb2": 1}[n]
	e, err := newClusterEngine(core.Config{Node: n, UUID: [16]byte{byte(i + 1)}, Generation: gen, Nodes: []string{"hb1", "hb2"},
		Media: []string{"eth0"}, Keepalive: 200 * time.Millisecond, DeadTime: 2 * time.Second, InitDead: 4 * time.Second,
		Rand: rand.New(rand.NewPCG(uint64(i), gen))}, true, p.res.Groups, p.fb, rm.Config{})
	if err != nil {
		p.t.Fatal(err)
	}
	p.eng[n] = e
}

func (p *pair) apply(node string, o out) {
	for _, ev := range o.Events {
		p.logs[node] = append(p.logs[node], ev.Text)
		if ev.Ready {
			p.ready[node] = true
		}
	}
	for _, s := range o.Send {
		if p.down[node] {
			continue
		}
		b, err := p.codec.Encode(s.Msg, 0)
		if err != nil {
			p.t.Fatalf("%s: encode: %v", node, err)
		}
		for _, to := range []string{"hb1", "hb2"} {
			if to != node {
				p.queue = append(p.queue, delivery{to: to, b: b})
			}
		}
	}
	if o.Exit || o.Restart {
		p.exited[node] = true
	}
	if !o.Wake.IsZero() {
		p.wake[node] = o.Wake
	}
	for _, a := range o.Actions {
		switch a.Kind {
		case rm.StartGroup:
			p.held[node][a.Key] = true
			p.apply(node, p.eng[node].Done(p.now, a.ID, rm.OK))
		case rm.StopGroup:
			delete(p.held[node], a.Key)
			p.apply(node, p.eng[node].Done(p.now, a.ID, rm.OK))
		}
	}
}

// run advances the virtual clock for d, delivering messages (1 ms
// latency) and firing timers.
func (p *pair) run(d time.Duration) {
	end := p.now.Add(d)
	for p.now.Before(end) {
		for len(p.queue) > 0 {
			q := p.queue[0]
			p.queue = p.queue[1:]
			if p.down[q.to] {
				continue
			}
			m, err := p.codec.Decode(q.b, 0)
			if err != nil {
				p.t.Fatalf("decode: %v", err)
			}
			p.apply(q.to, p.eng[q.to].Receive(p.now, 0, m))
		}
		for _, n := range []string{"hb1", "hb2"} {
			if !p.down[n] && !p.now.Before(p.wake[n]) {
				p.apply(n, p.eng[n].Tick(p.now))
			}
		}
		p.now = p.now.Add(10 * time.Millisecond)
	}
}

func (p *pair) start() {
	for _, n := range []string{"hb1", "hb2"} {
		p.apply(n, p.eng[n].Start(p.now))
	}
}

func (p *pair) logged(node, text string) bool {
	for _, l := range p.logs[node] {
		if l == text {
			return true
		}
	}
	return false
}

func TestEngineJoinsAndTakesOver(t *testing.T) {
	p := newPair(t, rm.FailbackOn)
	p.start()
	p.run(15 * time.Second)
	for _, n := range []string{"hb1", "hb2"} {
		if !p.ready[n] {
			t.Fatalf("%s never became active:\n%s", n, strings.Join(p.logs[n], "\n"))
		}
		if !p.logged(n, "Comm_now_up(): updating status to active") || !p.logged(n, "Local status now set to: 'active'") {
			t.Errorf("%s: heartbeat's comm-up lines missing:\n%s", n, strings.Join(p.logs[n], "\n"))
		}
	}
	if !p.logged("hb2", "Status update for node hb1: status active") || !p.logged("hb2", "Link hb1:eth0 up.") {
		t.Errorf("hb2: peer lines missing:\n%s", strings.Join(p.logs["hb2"], "\n"))
	}
	if !p.held["hb1"]["demo::web"] || p.held["hb2"]["demo::web"] {
		t.Fatalf("after start-up: hb1 %v hb2 %v, want the group on hb1 only", p.held["hb1"], p.held["hb2"])
	}
	var s ctlStatusProbe
	s.fill(p.eng["hb2"])
	if s.holder != "hb1" {
		t.Errorf("hb2's snapshot says the group runs on %q", s.holder)
	}

	// hb1 crashes: hb2 declares it dead within deadtime and takes over.
	p.down["hb1"] = true
	killed := p.now
	var deadAt time.Time
	for p.now.Sub(killed) < 5*time.Second && deadAt.IsZero() {
		p.run(10 * time.Millisecond)
		if p.logged("hb2", "node hb1: is dead") {
			deadAt = p.now
		}
	}
	if deadAt.IsZero() || deadAt.Sub(killed) > 2*time.Second+200*time.Millisecond {
		t.Fatalf("hb2 declared hb1 dead at %v after the crash:\n%s", deadAt.Sub(killed), strings.Join(p.logs["hb2"], "\n"))
	}
	p.run(time.Second)
	if !p.held["hb2"]["demo::web"] {
		t.Fatalf("hb2 did not take the group over:\n%s", strings.Join(p.logs["hb2"], "\n"))
	}
	if !p.logged("hb2", "Link hb1:eth0 dead.") {
		t.Error("no link-dead line")
	}
	var s2 ctlStatusProbe
	s2.fill(p.eng["hb2"])
	if len(s2.failovers) == 0 || s2.failovers[len(s2.failovers)-1] != "demo::web hb1->hb2 (hb1 dead)" {
		t.Errorf("failover history %q", s2.failovers)
	}
}

func TestEngineShutdown(t *testing.T) {
	p := newPair(t, rm.FailbackOn)
	p.start()
	p.run(15 * time.Second)
	p.apply("hb1", p.eng["hb1"].Command(p.now, rm.Command{Kind: rm.Shutdown}))
	p.run(5 * time.Second)
	if !p.exited["hb1"] || !p.logged("hb1", "hb1 Heartbeat shutdown complete.") {
		t.Fatalf("hb1 did not finish its shutdown:\n%s", strings.Join(p.logs["hb1"], "\n"))
	}
	if p.held["hb1"]["demo::web"] || !p.held["hb2"]["demo::web"] {
		t.Fatalf("after hb1's shutdown: hb1 %v hb2 %v", p.held["hb1"], p.held["hb2"])
	}
}

// index returns the position of text in node's log at or after from, or -1.
func (p *pair) index(node, text string, from int) int {
	for i := from; i < len(p.logs[node]); i++ {
		if p.logs[node][i] == text {
			return i
		}
	}
	return -1
}

// TestEngineLogOrderAsHeartbeat: heartbeat logs a peer's link coming up
// before the status its packet carries, and a restart before both (see the
// captures' ha-log: "Heartbeat restart on node hb1", "Link hb1:eth0 up.",
// "Status update for node hb1: status init").
func TestEngineLogOrderAsHeartbeat(t *testing.T) {
	p := newPair(t, rm.FailbackOn)
	p.start()
	p.run(10 * time.Second)
	link, status := p.index("hb2", "Link hb1:eth0 up.", 0), p.index("hb2", "Status update for node hb1: status up", 0)
	if link < 0 || status < 0 || link > status {
		t.Fatalf("start-up: link up at %d, status up at %d, want the link first:\n%s", link, status, strings.Join(p.logs["hb2"], "\n"))
	}

	p.down["hb1"] = true
	p.run(4 * time.Second)
	if !p.logged("hb2", "node hb1: is dead") {
		t.Fatalf("hb1 not declared dead:\n%s", strings.Join(p.logs["hb2"], "\n"))
	}
	mark := len(p.logs["hb2"])
	p.boot("hb1", 101)
	p.down["hb1"] = false
	p.apply("hb1", p.eng["hb1"].Start(p.now))
	p.run(5 * time.Second)
	restart := p.index("hb2", "Heartbeat restart on node hb1", mark)
	link = p.index("hb2", "Link hb1:eth0 up.", mark)
	initSt := p.index("hb2", "Status update for node hb1: status init", mark)
	if restart < 0 || link < 0 || initSt < 0 || !(restart < link && link < initSt) {
		t.Fatalf("restart at %d, link up at %d, status init at %d; want them in that order:\n%s",
			restart, link, initSt, strings.Join(p.logs["hb2"][mark:], "\n"))
	}
}
