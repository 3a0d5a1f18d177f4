package clstatus

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heartbeat-go/heartbeat/hb/testbin"
)

// realCommands are run by both the real cl_status and ours against the
// same live heartbeat 3.0.6 daemon.
var realCommands = []string{
	"", "-h", "nosuchcmd", "numnodes",
	"hbstatus", "hbstatus -v", "hbstatus -m", "hbstatus -v -m",
	"listnodes", "listnodes -n", "listnodes -p", "listnodes -v", "listnodes -m", "listnodes -v -m", "listnodes -p -v -m",
	"nodestatus hbreal", "nodestatus HBPEER", "nodestatus 198.18.5.254", "nodestatus nosuch", "nodestatus", "nodestatus -m hbreal",
	"nodetype hbreal", "nodetype 198.18.5.254", "nodetype nosuch", "nodetype", "nodetype -m hbreal",
	"nodeweight hbreal", "nodeweight nosuch", "nodeweight", "nodeweight -m hbreal",
	"nodesite hbreal", "nodesite nosuch", "nodesite", "nodesite -m hbreal",
	"listhblinks hbreal", "listhblinks -v hbpeer", "listhblinks nosuch", "listhblinks", "listhblinks -m hbreal", "listhblinks -v -m 198.18.5.254",
	"hblinkstatus hbreal hb0", "hblinkstatus 198.18.5.254 198.18.5.254", "hblinkstatus hbreal eth9", "hblinkstatus hbreal", "hblinkstatus -m hbreal hb0",
	"clientstatus hbreal nosuchclient", "clientstatus hbpeer ipfail", "clientstatus hbreal", "clientstatus -m hbreal nosuchclient",
	"rscstatus", "rscstatus -m",
	"hbparameter -p keepalive", "hbparameter -p deadtime", "hbparameter -p deadping", "hbparameter -p initdead",
	"hbparameter -p udpport", "hbparameter -p crm", "hbparameter -p node", "hbparameter -p nosuch", "hbparameter",
	"hbparameter -m -p keepalive", "hbparameter -p",
	"test", "listnodes -x", "hbstatus -x", "hbstatus -x -v", "nodestatus -x hbreal", "nodetype -x hbreal", "nodeweight -x hbreal",
	"nodesite -x hbreal", "listhblinks -x hbreal", "hblinkstatus -x hbreal hb0", "clientstatus -x hbreal ipfail",
	"rscstatus -x", "hbparameter -x -p keepalive", "test -x",
}

// realScript runs inside its own network, mount and UTS namespaces: it
// starts heartbeat 3.0.6 as node hbreal with private /etc/ha.d,
// /var/lib/heartbeat and /run, waits until the daemon is stable, then
// runs every command with both tools.
const realScript = `set -e
W=$1; OURS=$2; CMDS=$3
hostname hbreal
ip link set lo up
ip link add hb0 type veth peer name hb0p
ip link set hb0p up
ip addr add 198.18.5.1/24 dev hb0
ip link set hb0 up
mount -t tmpfs none /run
mkdir -p /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/rsctmp
mkdir -p $W/etc $W/varlib
cp -a /etc/ha.d/. $W/etc/
printf 'logfile %s/ha-log\nkeepalive 1\ndeadtime 3\nwarntime 2\ninitdead 6\nucast hb0 198.18.5.2\nping 198.18.5.254\nauto_failback on\nnode hbreal\nnode hbpeer\n' $W > $W/etc/ha.cf
printf 'auth 1\n1 sha1 secret\n' > $W/etc/authkeys; chmod 600 $W/etc/authkeys
: > $W/etc/haresources
cp -a /var/lib/heartbeat/. $W/varlib/
mount --bind $W/etc /etc/ha.d
mount --bind $W/varlib /var/lib/heartbeat
/usr/libexec/heartbeat/heartbeat -f > $W/hb.out 2>&1 &
HB=$!
trap '/usr/libexec/heartbeat/heartbeat -k >/dev/null 2>&1 || true; kill -9 $HB 2>/dev/null || true' EXIT
# Stable: the peer declared dead after initdead, resources settled.
for i in $(seq 1 300); do
	[ "$(cl_status nodestatus hbpeer 2>/dev/null)" = dead ] && [ "$(cl_status rscstatus 2>/dev/null)" != transition ] && break
	sleep 0.1
done
set +e
P=
# Each command with both tools, eight commands at a time (the daemon's
# answers take a few hundred milliseconds each); printed in order after.
i=0
while IFS= read -r c; do
	i=$((i+1))
	echo "$c" > $W/c.$i
	( cl_status $c > $W/real.$i.o 2> $W/real.$i.e; echo $? > $W/real.$i.rc ) &
	P="$P $!"
	( $OURS cl_status $c > $W/ours.$i.o 2> $W/ours.$i.e; echo $? > $W/ours.$i.rc ) &
	P="$P $!"
	if [ $((i % 8)) = 0 ]; then wait $P; P=; fi
done < $CMDS
wait $P
for j in $(seq 1 $i); do
	for who in real ours; do
		echo "=== $who $(cat $W/c.$j)"
		cat $W/$who.$j.o
		echo "--- stderr"
		cat $W/$who.$j.e
		echo "[exit $(cat $W/$who.$j.rc)]"
	done
done
echo "=== status"
$OURS status
echo "[exit $?]"
echo "=== standby"
$OURS hb_standby all
echo "[exit $?]"
for i in $(seq 1 50); do grep -q "ask_resources\|standby" $W/ha-log && break; sleep 0.1; done
grep "ask_resources\|standby" $W/ha-log
echo "=== end"
`

// TestAgainstRealHeartbeat compares our cl_status with heartbeat 3.0.6's
// own, both asking one live heartbeat 3.0.6 daemon (through its API
// socket, package hbapi).
func TestAgainstRealHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real heartbeat 3.0.6")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network, mount and UTS namespaces")
	}
	for _, p := range []string{"/usr/libexec/heartbeat/heartbeat", "/usr/bin/cl_status"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("real heartbeat 3.0.6 not installed: %v", err)
		}
	}
	ns := fmt.Sprintf("hbctl-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("needs ip netns: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	bin := testbin.Dir(t)
	w := t.TempDir()
	script := filepath.Join(w, "run.sh")
	cmds := filepath.Join(w, "commands")
	os.WriteFile(script, []byte(realScript), 0o755)
	os.WriteFile(cmds, []byte(strings.Join(realCommands, "\n")+"\n"), 0o644)
	cmd := exec.Command("ip", "netns", "exec", ns, "unshare", "-m", "-u", "--propagation", "private",
		"bash", script, filepath.Join(w, "ns"), filepath.Join(bin, "heartbeat"), cmds)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("namespace script: %v\n%s", err, out)
	}
	results := map[string]map[string]string{"real": {}, "ours": {}}
	text := string(out)
	section := func(name string) string {
		_, after, _ := strings.Cut(text, "=== "+name+"\n")
		body, _, _ := strings.Cut(after, "\n=== ")
		return body
	}
	if st := section("status"); !strings.Contains(st, "hbreal (this node)  normal  active") || !strings.Contains(st, "answered by heartbeat 3.0.6") || !strings.HasSuffix(st, "[exit 0]") {
		t.Errorf("heartbeat status against heartbeat 3.0.6:\n%s", st)
	}
	if sb := section("standby"); !strings.Contains(sb, "Going standby [all].\n[exit 0]") || !strings.Contains(sb, "info: hbreal wants to go standby [all]") {
		t.Errorf("hb_standby through heartbeat 3.0.6's FIFO: the daemon did not take it:\n%s", sb)
	}
	out = []byte(text[:strings.Index(text, "=== status\n")])
	header := regexp.MustCompile(`(?m)^=== (real|ours) (.*)$`)
	idx := header.FindAllStringSubmatchIndex(string(out), -1)
	for i, m := range idx {
		end := len(out)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		who, c := string(out[m[2]:m[3]]), string(out[m[4]:m[5]])
		// The log prefix carries the time and the pid of each run.
		body := logRE.ReplaceAllString(string(out[m[1]:end]), "TIME $1 cl_status: [PID]: ")
		results[who][c] = body
	}
	if len(results["real"]) != len(realCommands) || len(results["ours"]) != len(realCommands) {
		t.Fatalf("got %d/%d results for %d commands:\n%s", len(results["real"]), len(results["ours"]), len(realCommands), out)
	}
	for _, c := range realCommands {
		if r, o := results["real"][c], results["ours"][c]; r != o {
			t.Errorf("cl_status %s:\nreal:%s\nours:%s", c, r, o)
		}
	}
}
