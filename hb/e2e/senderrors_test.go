package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heartbeat-go/heartbeat/hb/netlab"
	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// sendErrLabs counts the namespace pairs sendErrLab made in this process.
var sendErrLabs int

// sendErrLab makes the namespaces of testdata/send-errors.txt's runs: the
// daemon's, with down0 198.18.2.1/24 administratively down, and the peer's
// with the other end of down0 as 198.18.2.2/24, up. It returns both.
func sendErrLab(t *testing.T) (daemonNS, peerNS string) {
	t.Helper()
	if err := netlab.Available(); err != nil {
		t.Skip("needs root and ip netns: " + err.Error())
	}
	sendErrLabs++
	daemonNS = fmt.Sprintf("hbwe-%d-%d", os.Getpid(), sendErrLabs)
	peerNS = daemonNS + "p"
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{daemonNS, peerNS} {
		exec.Command("ip", "netns", "del", ns).Run() // left by a killed run of this process id
		ip("netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ip("-n", ns, "link", "set", "lo", "up")
	}
	ip("-n", daemonNS, "link", "add", "down0", "type", "veth", "peer", "name", "hbwep0", "netns", peerNS)
	ip("-n", daemonNS, "addr", "add", "198.18.2.1/24", "brd", "198.18.2.255", "dev", "down0")
	ip("-n", peerNS, "addr", "add", "198.18.2.2/24", "brd", "198.18.2.255", "dev", "hbwep0")
	ip("-n", peerNS, "link", "set", "hbwep0", "up")
	return daemonNS, peerNS
}

var (
	reGlibSendErr = regexp.MustCompile(`^ERROR: glib: ucast_write: Unable to send HBcomm packet down0 198\.18\.2\.2:694 len=\d+ \[-1\]: Network is unreachable$`)
	sendErrLines  = []string{
		"ERROR: write_child: write failure on ucast down0.: Network is unreachable",
		"WARN: Temporarily Suppressing write error messages",
		"WARN: Is a cable unplugged on ucast down0?",
	}
)

// sendErrorLog returns the send-error lines of log text, messages only.
func sendErrorLog(text string) []string {
	var out []string
	for _, m := range messages(text) {
		if reGlibSendErr.MatchString(m) || contains(sendErrLines, m) || strings.Contains(m, "_write: ") || strings.Contains(m, "write_child") {
			out = append(out, m)
		}
	}
	return out
}

// checkBursts checks lines are bursts heartbeat 3.0.6's way
// (testdata/send-errors.txt): 11 failures, each the plugin's line then
// write_child's, then the two warnings.
func checkBursts(lines []string, bursts int) error {
	i := 0
	for b := 0; b < bursts; b++ {
		for f := 0; f < 11; f++ {
			if i+1 >= len(lines) || !reGlibSendErr.MatchString(lines[i]) || lines[i+1] != sendErrLines[0] {
				return fmt.Errorf("burst %d, failure %d: not heartbeat's two lines at line %d", b+1, f+1, i+1)
			}
			i += 2
		}
		if i+1 >= len(lines) || lines[i] != sendErrLines[1] || lines[i+1] != sendErrLines[2] {
			return fmt.Errorf("burst %d: no suppression warnings after the 11th failure (line %d)", b+1, i+1)
		}
		i += 2
	}
	if i != len(lines) {
		return fmt.Errorf("%d send-error lines after %d bursts", len(lines)-i, bursts)
	}
	return nil
}

// TestSendErrorsAsHeartbeat runs heartbeat-go with a ucast medium on an
// administratively down interface, brings it up until a packet arrives at
// the peer, and down again, and wants heartbeat 3.0.6's log pattern for
// failed sends: each run of failures logs 11 of them and the suppression
// warnings, then nothing until a send works.
func TestSendErrorsAsHeartbeat(t *testing.T) {
	ns, peerNS := sendErrLab(t)
	bin := testbin.Heartbeat(t)

	var conn *net.UDPConn
	if err := netlab.Do(peerNS, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(198, 18, 2, 2), Port: 694})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, _, err := conn.ReadFromUDP(buf); err != nil {
				return
			}
			select {
			case got <- struct{}{}:
			default:
			}
		}
	}()

	n := newMediaNode(t, &mediaCase{directive: "ucast down0 198.18.2.2"}, "alone")
	p := startFG(t, exec.Command("ip", "netns", "exec", ns, bin, "-f", "--node", "hb1",
		"--config-dir", n.etc, "--state-dir", n.state, "--run-dir", n.run))
	readLog := func() string { b, _ := os.ReadFile(n.log); return string(b) }
	describe := func() string { return fmt.Sprintf("our ha-log:\n%s\nour output:\n%s", readLog(), p.out.String()) }
	cable := sendErrLines[2]
	waitBursts := func(k int) {
		t.Helper()
		// 11 keepalives of failures (keepalive 1), with margin.
		if _, ok := WaitFor(40*time.Second, func() bool {
			return strings.Count(readLog(), cable) >= k
		}); !ok {
			t.Fatalf("no %d× %q in the log\n%s", k, cable, describe())
		}
		select {
		case <-p.done:
			t.Fatalf("the daemon exited (%d)\n%s", p.cmd.ProcessState.ExitCode(), describe())
		default:
		}
		if err := checkBursts(sendErrorLog(readLog()), k); err != nil {
			t.Fatalf("%v\n%s", err, describe())
		}
	}
	ipLink := func(state string) {
		t.Helper()
		if out, err := exec.Command("ip", "-n", ns, "link", "set", "down0", state).CombinedOutput(); err != nil {
			t.Fatalf("ip link set down0 %s: %v\n%s", state, err, out)
		}
	}

	waitBursts(1)
	// The sends go on failing, and nothing more is logged: watch three
	// keepalives for a line that must not come.
	if _, more := WaitFor(3*time.Second, func() bool { return len(sendErrorLog(readLog())) > 24 }); more {
		t.Fatalf("send errors logged after the suppression warning\n%s", describe())
	}

	ipLink("up")
	select {
	case <-got:
	case <-time.After(15 * time.Second):
		t.Fatalf("no packet at the peer after down0 came up\n%s", describe())
	}
	if err := checkBursts(sendErrorLog(readLog()), 1); err != nil {
		t.Fatalf("working sends logged something: %v\n%s", err, describe())
	}

	// Failing again: a fresh burst, as heartbeat logs it.
	ipLink("down")
	waitBursts(2)
}
