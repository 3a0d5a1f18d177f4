package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// verdictsFile holds what heartbeat 3.0.6 does when a medium cannot be
// opened at start-up, recorded from the real daemon.
const verdictsFile = "../daemon/testdata/media-open-verdicts.txt"

// startVerdict is what one way of starting did: exit code, or still
// running after the observation window.
type startVerdict struct {
	known   bool
	exit    int  // when !running (heartbeat -f), or always (heartbeat)
	running bool // a daemon was running afterwards
}

// mediaCase is one "== NAME" block of the verdicts file.
type mediaCase struct {
	name, directive string
	// by variant ("alone", "with-medium"): heartbeat -f and heartbeat
	fg, plain map[string]startVerdict
	// by variant: the log messages of the heartbeat -f run, with date,
	// host and pid cut ("CRIT: Emergency Shutdown(MCP dead): ...")
	log map[string][]string
}

var (
	reFg    = regexp.MustCompile(`^heartbeat -f: (?:exit (\d+)|running after \d+ s)$`)
	rePlain = regexp.MustCompile(`^heartbeat: exit (\d+), (not )?running after \d+ s$`)
)

func loadMediaVerdicts(t *testing.T) []*mediaCase {
	t.Helper()
	f, err := os.Open(verdictsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*mediaCase
	var cur *mediaCase
	logOf := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "== "):
			cur = &mediaCase{name: l[3:], fg: map[string]startVerdict{}, plain: map[string]startVerdict{}, log: map[string][]string{}}
			out = append(out, cur)
			logOf = ""
		case cur == nil || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "directive: "):
			cur.directive = strings.TrimPrefix(l, "directive: ")
		case strings.HasPrefix(l, "alone: "), strings.HasPrefix(l, "with-medium: "):
			variant, rest, _ := strings.Cut(l, ": ")
			for _, part := range strings.Split(rest, " | ") {
				if m := reFg.FindStringSubmatch(part); m != nil {
					v := startVerdict{known: true, running: m[1] == ""}
					v.exit, _ = strconv.Atoi(m[1])
					cur.fg[variant] = v
				} else if m := rePlain.FindStringSubmatch(part); m != nil {
					code, _ := strconv.Atoi(m[1])
					cur.plain[variant] = startVerdict{known: true, exit: code, running: m[2] == ""}
				}
			}
		case strings.HasPrefix(l, "log alone:"):
			logOf = "alone"
		case strings.HasPrefix(l, "log with-medium:"):
			logOf = "with-medium"
		case strings.HasPrefix(l, "| ") && logOf != "":
			_, msg, ok := strings.Cut(l, "]: ")
			if !ok {
				msg = l[2:] // a plugin's bare perror line
			}
			cur.log[logOf] = append(cur.log[logOf], msg)
		default:
			logOf = ""
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no cases", verdictsFile)
	}
	for _, c := range out {
		if c.directive == "" || !c.fg["alone"].known || !c.fg["with-medium"].known || len(c.log["alone"]) == 0 {
			t.Fatalf("%s: case %s incomplete: %+v", verdictsFile, c.name, c)
		}
	}
	return out
}

// mediaLab is the namespace the verdicts were recorded in: lo, eth0
// (198.18.1.1/24, up), down0 (198.18.2.1/24, administratively down),
// down1 (no address, down); the veth peers stay inside it.
func mediaLab(t *testing.T) string {
	t.Helper()
	if err := netlab.Available(); err != nil {
		t.Skip("needs root and ip netns: " + err.Error())
	}
	mediaLabs++
	ns := fmt.Sprintf("hbmo-%d-%d", os.Getpid(), mediaLabs)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	exec.Command("ip", "netns", "del", ns).Run() // left by a killed run of this process id
	ip("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	n := []string{"-n", ns}
	ip(append(n, "link", "set", "lo", "up")...)
	for i, dev := range []string{"eth0", "down0", "down1"} {
		peer := fmt.Sprintf("hbmop%d", i)
		ip(append(n, "link", "add", dev, "type", "veth", "peer", "name", peer)...)
		ip(append(n, "link", "set", peer, "up")...)
	}
	ip(append(n, "addr", "add", "198.18.1.1/24", "brd", "198.18.1.255", "dev", "eth0")...)
	ip(append(n, "link", "set", "eth0", "up")...)
	ip(append(n, "addr", "add", "198.18.2.1/24", "brd", "198.18.2.255", "dev", "down0")...)
	return ns
}

// mediaLabs counts the namespaces mediaLab made in this process.
var mediaLabs int

// mediaNode is one node's directories for one run.
type mediaNode struct{ dir, etc, state, run, log string }

func newMediaNode(t *testing.T, c *mediaCase, variant string) mediaNode {
	t.Helper()
	d := t.TempDir()
	n := mediaNode{dir: d, etc: filepath.Join(d, "etc"), state: filepath.Join(d, "var"), run: filepath.Join(d, "run"), log: filepath.Join(d, "ha-log")}
	for _, dir := range []string{n.etc, n.state, n.run} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hacf := "logfile " + n.log + "\nkeepalive 1\ndeadtime 10\ninitdead 20\n"
	if variant == "with-medium" {
		hacf += "ucast eth0 198.18.1.2\n"
	}
	hacf += c.directive + "\nauto_failback on\nnode hb1\nnode hb2\n"
	write(t, filepath.Join(n.etc, "ha.cf"), hacf, 0o644)
	write(t, filepath.Join(n.etc, "authkeys"), "auth 1\n1 sha1 secret\n", 0o600)
	write(t, filepath.Join(n.etc, "haresources"), "", 0o644)
	return n
}

// messages returns the lines of text with heartbeat's "date host
// heartbeat: [pid]: " cut.
func messages(text string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if _, msg, ok := strings.Cut(l, "]: "); ok {
			out = append(out, msg)
		}
	}
	return out
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

// TestMediaOpenAsHeartbeat runs heartbeat-go on each ha.cf of the
// verdicts file, in a namespace with the same interfaces, and checks it
// does what heartbeat 3.0.6 did: the exit code of heartbeat -f, or that
// it keeps running; the exit code of a daemonizing start and whether a
// daemon is left; whether the start got past the configuration
// ("Configuration validated. Starting heartbeat 3.0.6"); and, when it
// stopped, heartbeat's closing line as its last line.
func TestMediaOpenAsHeartbeat(t *testing.T) {
	cases := loadMediaVerdicts(t)
	ns := mediaLab(t)
	bin := testbin.Heartbeat(t)
	for _, c := range cases {
		for _, variant := range []string{"alone", "with-medium"} {
			t.Run(c.name+"/"+variant, func(t *testing.T) {
				real := c.log[variant]
				if len(real) == 0 {
					real = c.log["alone"]
				}
				fg := c.fg[variant]
				n := newMediaNode(t, c, variant)
				code, logText, stderr := runForeground(t, ns, bin, n, fg)
				ours := append(messages(logText), messages(stderr)...)
				describe := func() string {
					return fmt.Sprintf("ha.cf medium %q (%s)\nour ha-log:\n%s\nour stderr:\n%s", c.directive, variant, logText, stderr)
				}
				if fg.running {
					if code >= 0 {
						t.Fatalf("heartbeat -f exited %d; heartbeat 3.0.6 keeps running\n%s", code, describe())
					}
				} else if code < 0 {
					t.Fatalf("heartbeat -f still running after 20 s; heartbeat 3.0.6 exits %d\n%s", fg.exit, describe())
				} else if code != fg.exit {
					t.Fatalf("heartbeat -f: exit %d, heartbeat 3.0.6 exits %d\n%s", code, fg.exit, describe())
				}
				const validated = "info: Configuration validated. Starting heartbeat 3.0.6"
				if contains(real, validated) != contains(ours, validated) {
					t.Errorf("%q logged: %v, by heartbeat 3.0.6: %v (a refusal while reading ha.cf, or when opening the media)\n%s",
						validated, contains(ours, validated), contains(real, validated), describe())
				}
				if !fg.running {
					// Heartbeat's closing line ends our output too: the
					// log file's, or stderr's for a configuration error.
					closing := real[len(real)-1]
					ok := false
					for _, src := range [][]string{messages(logText), messages(stderr)} {
						if len(src) > 0 && src[len(src)-1] == closing {
							ok = true
						}
					}
					if !ok {
						t.Errorf("our output does not close with heartbeat's %q\n%s", closing, describe())
					}
				}

				if pv := c.plain[variant]; pv.known {
					n := newMediaNode(t, c, variant)
					runDaemonizing(t, ns, bin, n, pv)
				}
			})
		}
	}
}

// runForeground runs heartbeat -f; for a verdict of "running" it checks
// the daemon is still there after a few seconds, then kills it. It
// returns the exit code (-1 when it was still running), the log file
// and stderr.
func runForeground(t *testing.T, ns, bin string, n mediaNode, v startVerdict) (int, string, string) {
	t.Helper()
	p := startFG(t, exec.Command("ip", "netns", "exec", ns, bin, "-f", "--node", "hb1",
		"--config-dir", n.etc, "--state-dir", n.state, "--run-dir", n.run))
	defer p.kill()
	cmd, done, pid, stderr := p.cmd, p.done, p.pid, p.out
	readLog := func() string { b, _ := os.ReadFile(n.log); return string(b) }
	// Heartbeat 3.0.6 either stopped within two seconds or was still
	// running after ten; three seconds tell the two apart.
	window := 20 * time.Second
	if v.running {
		window = 3 * time.Second
	}
	select {
	case <-done:
		return cmd.ProcessState.ExitCode(), readLog(), stderr.String()
	case <-time.After(window):
	}
	if !v.running {
		return -1, readLog(), stderr.String()
	}
	// Still running: its pid file names it.
	if RunningPidOf(t, n.run) != pid {
		t.Errorf("running, but heartbeat.pid does not name it (pid %d)", pid)
	}
	p.kill()
	return -1, readLog(), stderr.String()
}

// runDaemonizing runs "heartbeat" (no -f) and checks its exit code and
// whether a daemon is left, as heartbeat 3.0.6 did; a daemon left is
// killed.
func runDaemonizing(t *testing.T, ns, bin string, n mediaNode, v startVerdict) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, bin, "--node", "hb1",
		"--config-dir", n.etc, "--state-dir", n.state, "--run-dir", n.run)
	out, _ := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	var pid int
	t.Cleanup(func() {
		if pid != 0 && !gone(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if code != v.exit {
		log, _ := os.ReadFile(n.log)
		t.Fatalf("heartbeat (daemonizing): exit %d, heartbeat 3.0.6 exits %d\n%s\n%s", code, v.exit, out, log)
	}
	if v.running {
		if _, ok := WaitFor(10*time.Second, func() bool { pid = RunningPidOf(t, n.run); return pid != 0 }); !ok {
			log, _ := os.ReadFile(n.log)
			t.Fatalf("heartbeat (daemonizing) left no daemon; heartbeat 3.0.6 keeps running\n%s\n%s", out, log)
		}
		// It has to stay: it must not be a daemon on its way out.
		if _, died := WaitFor(3*time.Second, func() bool { return gone(pid) }); died {
			log, _ := os.ReadFile(n.log)
			t.Fatalf("the daemon (pid %d) went away; heartbeat 3.0.6 keeps running\n%s", pid, log)
		}
		return
	}
	// No daemon may be left: one that wrote its pid file must go.
	if _, ok := WaitFor(10*time.Second, func() bool { pid = RunningPidOf(t, n.run); return pid == 0 }); !ok {
		log, _ := os.ReadFile(n.log)
		t.Fatalf("a daemon (pid %d) is still running; heartbeat 3.0.6 leaves none\n%s", pid, log)
	}
}

// TestMediaLostAfterStartIsRetried: a medium that opened at start-up
// and fails later (its interface deleted at run time) is not a start-up
// failure: the daemon keeps running on its other medium, retries the
// lost one in the background and takes it back when the interface
// returns.
func TestMediaLostAfterStartIsRetried(t *testing.T) {
	ns := mediaLab(t)
	bin := testbin.Heartbeat(t)
	c := &mediaCase{directive: "ucast down0 198.18.1.2"}
	n := newMediaNode(t, c, "with-medium")
	p := startFG(t, exec.Command("ip", "netns", "exec", ns, bin, "-f", "--node", "hb1",
		"--config-dir", n.etc, "--state-dir", n.state, "--run-dir", n.run))
	cmd, done, pid, out := p.cmd, p.done, p.pid, p.out
	readLog := func() string { b, _ := os.ReadFile(n.log); return string(b) }
	waitLog := func(what string, d time.Duration) {
		t.Helper()
		if _, ok := WaitFor(d, func() bool { return strings.Contains(readLog(), what) }); !ok {
			t.Fatalf("no %q in the log within %v\n%s\n%s", what, d, readLog(), out.String())
		}
		select {
		case <-done:
			t.Fatalf("the daemon exited (%d)\n%s\n%s", cmd.ProcessState.ExitCode(), readLog(), out.String())
		default:
		}
	}
	waitLog("ucast: started on port 694 interface down0 to 198.18.1.2", 10*time.Second)
	waitLog("Local status now set to: 'up'", 10*time.Second)

	if b, err := exec.Command("ip", "-n", ns, "link", "del", "down0").CombinedOutput(); err != nil {
		t.Fatalf("ip link del down0: %v\n%s", err, b)
	}
	// A send or the medium's check (every 5 s) finds the interface gone.
	waitLog("medium failed; reopening", 15*time.Second)

	if b, err := exec.Command("ip", "-n", ns, "link", "add", "down0", "type", "veth", "peer", "name", "hbmop1").CombinedOutput(); err != nil {
		t.Fatalf("ip link add down0: %v\n%s", err, b)
	}
	// Back-off is at most 30 s.
	waitLog("medium reopened", 40*time.Second)
	if RunningPidOf(t, n.run) != pid {
		t.Errorf("heartbeat.pid does not name the running daemon %d", pid)
	}
}
