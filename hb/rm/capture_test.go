package rm

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/wire"
)

// injections are extra inputs (node status changes the real core
// decided) given just before the capture line with that time stamp.
var injections map[string]func(m *Machine, now time.Time) []Output

// capLine is one decoded message of a capture (spec/lab/pcapdump.py output).
type capLine struct {
	at  string
	msg *wire.Message
	seq int64
}

func readCapture(t *testing.T, name string) []capLine {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "captures", "v1-resources", name)
	f, err := os.Open(p)
	if err != nil {
		t.Skipf("captures not available: %v", err)
	}
	defer f.Close()
	var out []capLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 3 || strings.Contains(sc.Text(), "nodelist=") {
			continue // repnodes carries a value with blanks; not a resource message anyway
		}
		m := &wire.Message{}
		for _, kv := range fs[2:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			if k == "ts" {
				continue
			}
			m.Add(k, v)
		}
		seq, _ := strconv.ParseInt(m.Value("seq"), 16, 64)
		m.Del("seq")
		out = append(out, capLine{at: fs[0], msg: m, seq: seq})
	}
	return out
}

// payload is a message without the fields the core adds.
func payload(m *wire.Message) string {
	var b []string
	for _, f := range m.Fields {
		if f.Name == wire.FOrig || f.Name == "seq" || f.Name == "ts" {
			continue
		}
		b = append(b, f.Name+"="+string(f.Value))
	}
	return strings.Join(b, " ")
}

// replay plays the local node against the real heartbeat peer's messages
// between from and to (capture timestamps), finishing every action at once,
// and returns what the Go node sent; want is what the real local node sent
// in that window, in its sequence order.
func replay(t *testing.T, file, local, peer, from, to string, af AutoFailback, setup func(m *Machine, now time.Time) []Output) (got, want []string) {
	got, want, _ = replayCmds(t, file, local, peer, from, to, af, setup, nil)
	return got, want
}

// replayCmds is replay with operator commands given to the local node just
// before the capture's message at the given time.
func replayCmds(t *testing.T, file, local, peer, from, to string, af AutoFailback, setup func(m *Machine, now time.Time) []Output, cmds map[string]Command) (got, want []string, m *Machine) {
	t.Helper()
	lines := readCapture(t, file)
	m, err := New(Config{Local: local, Nodes: []string{"nodea", "nodeb"}, Groups: twoGroups, AutoFailback: af})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	var collect func(o Output)
	collect = func(o Output) {
		for _, s := range o.Send {
			got = append(got, payload(s))
		}
		for _, a := range o.Actions {
			if a.Kind == StartGroup || a.Kind == StopGroup {
				collect(m.Done(now, a.ID, OK))
			}
		}
	}
	for _, o := range setup(m, now) {
		collect(o)
	}
	type own struct {
		seq int64
		p   string
	}
	var mine []own
	for _, l := range lines {
		if l.at < from || l.at > to {
			continue
		}
		if c, ok := cmds[l.at]; ok {
			delete(cmds, l.at)
			collect(m.Command(now, c))
		}
		if f, ok := injections[l.at]; ok {
			delete(injections, l.at)
			for _, o := range f(m, now) {
				collect(o)
			}
		}
		switch l.msg.Value(wire.FOrig) {
		case peer:
			if t := l.msg.Value(wire.FType); t == "reqnodes" || t == "repnodes" {
				continue
			}
			now = now.Add(10 * time.Millisecond)
			collect(m.Receive(now, l.msg))
		case local:
			switch l.msg.Value(wire.FType) {
			case "reqnodes", "repnodes", "query-cstatus", "respond-cstatus":
				continue // the core's and the API's, not the resource manager's
			}
			mine = append(mine, own{l.seq, payload(l.msg)})
		}
	}
	slices.SortStableFunc(mine, func(a, b own) int { return int(a.seq - b.seq) })
	for _, o := range mine {
		want = append(want, o.p)
	}
	return got, want, m
}

// A heartbeat-go nodeb joins a real heartbeat 3.0.6 nodea that holds
// everything (auto_failback on): it answers with exactly the messages the
// real nodeb sent (cap.pcap 03:39:11-03:39:15).
func TestReplayJoinAgainstRealHeartbeat(t *testing.T) {
	got, want := replay(t, "cap.decoded.txt", "nodeb", "nodea", "03:39:11", "03:39:15", FailbackOn,
		func(m *Machine, now time.Time) []Output {
			return []Output{m.NodeStatus(now, "nodea", StatusActive), m.NodeStatus(now, "nodeb", StatusActive)}
		})
	if !slices.Equal(got, want) {
		t.Fatalf("heartbeat-go nodeb sent:\n%s\nreal nodeb sent:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A heartbeat-go nodea holding everything hands nodeb's groups back to a
// real heartbeat nodeb as the real nodea did (cap.pcap 03:41:47-03:41:51).
func TestReplayFailbackAgainstRealHeartbeat(t *testing.T) {
	got, want, m := replayCmds(t, "cap.decoded.txt", "nodea", "nodeb", "03:41:47", "03:41:51", FailbackOn,
		func(m *Machine, now time.Time) []Output {
			// nodea alone holds all after nodeb's death (as at 03:41:31).
			outs := []Output{m.NodeStatus(now, "nodeb", StatusDead), m.NodeStatus(now, "nodea", StatusActive)}
			outs = append(outs, m.PeerRestarted(now, "nodeb"), m.NodeStatus(now, "nodeb", StatusUp))
			return outs
		}, nil)
	// The set-up messages (our start alone) come first; compare from
	// nodeb's start on.
	i := slices.Index(got, "t=resource rsc_hold=foreign info=mach_down")
	if i < 0 {
		t.Fatalf("no mach_down takeover in %q", got)
	}
	got = got[i+1:]
	if h := m.Held(); !slices.Equal(h, []string{keyA}) || m.Holding() != "local" {
		t.Errorf("nodea ends holding %v (%s), want its own group (local)", h, m.Holding())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("heartbeat-go nodea sent:\n%s\nreal nodea sent:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Legacy: a heartbeat-go nodeb restarting next to a real nodea asks for
// its group and takes it on the real node's answer (cap2.pcap 03:43:20).
func TestReplayLegacyRequestAgainstRealHeartbeat(t *testing.T) {
	got, want := replay(t, "cap2.decoded.txt", "nodeb", "nodea", "03:43:19", "03:43:21", FailbackLegacy,
		func(m *Machine, now time.Time) []Output {
			return []Output{m.NodeStatus(now, "nodea", StatusActive), m.NodeStatus(now, "nodeb", StatusActive)}
		})
	if !slices.Equal(got, want) {
		t.Fatalf("heartbeat-go nodeb sent:\n%s\nreal nodeb sent:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The whole cap.pcap session from nodeb's first join to after its
// "hb_takeover local", played by a heartbeat-go nodeb against the real
// nodea: join and auto failback, hb_standby on nodea, hb_takeover on nodea,
// hb_takeover local on nodeb.
func TestReplaySessionAsNodeB(t *testing.T) {
	got, want, m := replayCmds(t, "cap.decoded.txt", "nodeb", "nodea", "03:39:11", "03:41:17", FailbackOn,
		func(m *Machine, now time.Time) []Output {
			return []Output{m.NodeStatus(now, "nodea", StatusActive), m.NodeStatus(now, "nodeb", StatusActive)}
		},
		map[string]Command{"03:41:14.176": {Kind: Takeover, What: "local"}})
	if h := m.Held(); !slices.Equal(h, []string{keyB}) || m.Holding() != "local" {
		t.Errorf("nodeb ends holding %v (%s), want its own group (local)", h, m.Holding())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("heartbeat-go nodeb sent:\n%s\nreal nodeb sent:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The same session played by a heartbeat-go nodea against the real nodeb,
// with nodea's hb_standby and hb_takeover given as commands.
func TestReplaySessionAsNodeA(t *testing.T) {
	got, want, m := replayCmds(t, "cap.decoded.txt", "nodea", "nodeb", "03:39:11", "03:41:17", FailbackOn,
		func(m *Machine, now time.Time) []Output {
			outs := []Output{m.NodeStatus(now, "nodeb", StatusDead), m.NodeStatus(now, "nodea", StatusActive)}
			return append(outs, m.PeerRestarted(now, "nodeb"), m.NodeStatus(now, "nodeb", StatusUp))
		},
		map[string]Command{"03:40:44.873": {Kind: Standby, What: "all"}, "03:41:00.419": {Kind: Takeover, What: "all"}})
	i := slices.Index(got, "t=resource rsc_hold=foreign info=mach_down")
	if i < 0 {
		t.Fatalf("no mach_down takeover in %q", got)
	}
	got = got[i+1:]
	if h := m.Held(); !slices.Equal(h, []string{keyA}) || m.Holding() != "local" {
		t.Errorf("nodea ends holding %v (%s), want its own group (local)", h, m.Holding())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("heartbeat-go nodea sent:\n%s\nreal nodea sent:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A heartbeat-go nodea starting alone (nodeb dead after initdead) sends
// what the real one sent (cap.pcap 03:38:54-03:38:56).
func TestReplayAloneStartAsNodeA(t *testing.T) {
	got, want := replay(t, "cap.decoded.txt", "nodea", "nodeb", "03:38:54", "03:38:56", FailbackOn,
		func(m *Machine, now time.Time) []Output {
			return []Output{m.NodeStatus(now, "nodeb", StatusDead), m.NodeStatus(now, "nodea", StatusActive)}
		})
	if !slices.Equal(got, want) {
		t.Fatalf("heartbeat-go nodea sent:\n%s\nreal nodea sent:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The whole cap.pcap session as seen by nodea, from nodeb's first join to
// nodeb's graceful shutdown: join and auto failback, hb_standby, hb_takeover
// both ways, nodeb killed and taken over, nodeb back with auto failback,
// nodeb's graceful shutdown. A heartbeat-go nodea sends exactly what the
// real one sent.
func TestReplayWholeSessionAsNodeA(t *testing.T) {
	injections = map[string]func(m *Machine, now time.Time) []Output{
		// nodeb killed at 03:41:26: declared dead after deadtime.
		"03:41:30.469": func(m *Machine, now time.Time) []Output {
			return []Output{m.NodeStatus(now, "nodeb", StatusDead)}
		},
		// nodeb restarts.
		"03:41:47.368": func(m *Machine, now time.Time) []Output {
			return []Output{m.PeerRestarted(now, "nodeb"), m.NodeStatus(now, "nodeb", StatusUp), m.NodeStatus(now, "nodeb", StatusActive)}
		},
		// After its shutdone, nodeb falls silent: dead after deadtime.
		"03:42:08.538": func(m *Machine, now time.Time) []Output {
			return []Output{m.NodeStatus(now, "nodeb", StatusDead)}
		},
	}
	defer func() { injections = nil }()
	got, want, m := replayCmds(t, "cap.decoded.txt", "nodea", "nodeb", "03:39:11", "03:42:10", FailbackOn,
		func(m *Machine, now time.Time) []Output {
			outs := []Output{m.NodeStatus(now, "nodeb", StatusDead), m.NodeStatus(now, "nodea", StatusActive)}
			return append(outs, m.PeerRestarted(now, "nodeb"), m.NodeStatus(now, "nodeb", StatusUp))
		},
		map[string]Command{"03:40:44.873": {Kind: Standby, What: "all"}, "03:41:00.419": {Kind: Takeover, What: "all"}})
	i := slices.Index(got, "t=resource rsc_hold=foreign info=mach_down")
	if i < 0 {
		t.Fatalf("no mach_down takeover in %q", got)
	}
	got = got[i+1:]
	if h := m.Held(); !slices.Equal(h, []string{keyA, keyB}) {
		t.Errorf("nodea ends holding %v, want everything", h)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("heartbeat-go nodea sent:\n%s\nreal nodea sent:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// nodeb restarted after being killed, joins again, then shuts down
// gracefully (cap.pcap 03:41:47-03:42:03), played by a heartbeat-go nodeb.
func TestReplayRejoinAndShutdownAsNodeB(t *testing.T) {
	got, want, m := replayCmds(t, "cap.decoded.txt", "nodeb", "nodea", "03:41:47", "03:42:03", FailbackOn,
		func(m *Machine, now time.Time) []Output {
			return []Output{m.NodeStatus(now, "nodea", StatusActive), m.NodeStatus(now, "nodeb", StatusActive)}
		},
		map[string]Command{"03:42:01.967": {Kind: Shutdown}})
	if len(m.Held()) != 0 || !m.shutdownStarted {
		t.Errorf("nodeb still holds %v after its shutdown", m.Held())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("heartbeat-go nodeb sent:\n%s\nreal nodeb sent:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Legacy mode as nodea (cap2.pcap): both start at once and self-grant,
// nodeb shuts down (its groups are taken over), comes back and asks for
// its group, which nodea releases and grants.
func TestReplayLegacySessionAsNodeA(t *testing.T) {
	injections = map[string]func(m *Machine, now time.Time) []Output{
		"03:43:15.092": func(m *Machine, now time.Time) []Output {
			return []Output{m.NodeStatus(now, "nodeb", StatusDead)}
		},
		"03:43:20.064": func(m *Machine, now time.Time) []Output {
			return []Output{m.PeerRestarted(now, "nodeb"), m.NodeStatus(now, "nodeb", StatusUp), m.NodeStatus(now, "nodeb", StatusActive)}
		},
	}
	defer func() { injections = nil }()
	var held []string
	got, want, m := replayCmds(t, "cap2.decoded.txt", "nodea", "nodeb", "03:42:42", "03:43:21", FailbackLegacy,
		func(m *Machine, now time.Time) []Output {
			return []Output{m.NodeStatus(now, "nodeb", StatusUp), m.NodeStatus(now, "nodea", StatusActive)}
		}, nil)
	held = m.Held()
	if !slices.Equal(held, []string{keyA}) {
		t.Errorf("nodea ends holding %v, want only its own group", held)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("heartbeat-go nodea sent:\n%s\nreal nodea sent:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
