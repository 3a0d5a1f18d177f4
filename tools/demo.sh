#!/bin/sh
# `make demo`: two heartbeat-go nodes on loopback holding one demo resource.
# No root needed. It starts hb1 and hb2 (ucast over 127.0.0.x, sha1 test
# key), shows who holds the resource, kills the holder with SIGKILL, shows
# the takeover and how long it took, restarts the killed node and shows
# auto_failback, then stops everything it started and removes its files.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${HEARTBEAT:-$here/bin/heartbeat}
if [ ! -x "$bin" ]; then
	echo "demo: building heartbeat" >&2
	(cd "$here" && go build -o bin/heartbeat ./tools/heartbeat)
fi

keepalive=${DEMO_KEEPALIVE:-200ms}
deadtime=${DEMO_DEADTIME:-2}
port=${DEMO_PORT:-$((20000 + $$ % 20000))}
work=$(mktemp -d "${TMPDIR:-/tmp}/heartbeat-demo.XXXXXX")
export DEMO_DIR="$work/demo"
mkdir -p "$DEMO_DIR"
pids=""

cleanup() {
	for p in $pids; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $pids; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ts() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# node NAME ADDR PEER: write NAME's config directory.
node() {
	d="$work/$1"
	mkdir -p "$d/etc/resource.d" "$d/state" "$d/run/heartbeat"
	cat >"$d/etc/ha.cf" <<CF
# heartbeat-go demo node $1
logfile $d/ha-log
keepalive $keepalive
deadtime $deadtime
warntime 1
initdead $((deadtime * 2))
udpport $port
ucast lo $3
auto_failback on
node hb1
node hb2
CF
	printf 'auth 1\n1 sha1 heartbeat-go-demo-test-key\n' >"$d/etc/authkeys"
	chmod 600 "$d/etc/authkeys"
	echo "hb1 demo::web" >"$d/etc/haresources"
	cp "$here/testdata/demo/resource.d/demo" "$d/etc/resource.d/demo"
}

start() {
	d="$work/$1"
	"$bin" --foreground --node "$1" --bind "$2" --config-dir "$d/etc" \
		--state-dir "$d/state" --run-dir "$d/run" >>"$d/stderr" 2>&1 &
	eval "pid_$1=$!"
	pids="$pids $!"
	echo "started $1 (pid $!, 127.0.0.x address $2)"
}

# show NODE: the cluster as NODE's daemon sees it (heartbeat status).
show() {
	HA_RUNDIR="$work/$1/run/heartbeat" "$bin" status 2>&1 | sed 's/^/    /' || true
}

holder() {
	h=""
	for n in hb1 hb2; do
		[ -e "$DEMO_DIR/web.$n" ] && h="$h $n"
	done
	echo "${h# }"
}

# wait_for NODE SECONDS: until NODE, and only NODE, holds the resource.
wait_for() {
	i=0
	while [ "$(holder)" != "$1" ]; do
		i=$((i + 1))
		if [ $i -gt $(($2 * 20)) ]; then
			echo "demo: $1 did not get the resource within $2 s" >&2
			tail -n 20 "$work"/hb*/ha-log "$work"/hb*/stderr >&2 || true
			exit 1
		fi
		sleep 0.05
	done
}

node hb1 127.0.0.11 127.0.0.12
node hb2 127.0.0.12 127.0.0.11

say "starting two heartbeat-go nodes on loopback (keepalive $keepalive, deadtime ${deadtime}s, udp port $port)"
start hb1 127.0.0.11
start hb2 127.0.0.12
wait_for hb1 60
say "resource demo::web is held by $(holder)"
cat "$DEMO_DIR/events.log"
echo "hb2's view (heartbeat status):"
show hb2

say "steady state for 5 s (a node that just started advertises deadtime + 2 s)"
sleep 5
say "kill -9 hb1 (the holder)"
t0=$(ts)
kill -KILL "$pid_hb1"
wait "$pid_hb1" 2>/dev/null || true
# A crashed machine's resources die with it: forget hb1's demo resource.
rm -f "$DEMO_DIR/web.hb1"
echo "$(date +%H:%M:%S.%N | cut -c1-12) hb1: killed (SIGKILL)" >>"$DEMO_DIR/events.log"
wait_for hb2 $((deadtime * 5))
t1=$(ts)
say "hb2 took over demo::web $(elapsed "$t0" "$t1") s after the kill (deadtime ${deadtime}s)"
grep -h "is dead\|Resources being acquired\|takeover complete" "$work/hb2/ha-log" || true
echo "hb2's view (heartbeat status):"
show hb2

say "restarting hb1 (auto_failback on)"
t0=$(ts)
start hb1 127.0.0.11
wait_for hb1 60
t1=$(ts)
say "demo::web is back on $(holder), $(elapsed "$t0" "$t1") s after the restart"
echo "hb1's view (heartbeat status):"
show hb1

say "resource events"
cat "$DEMO_DIR/events.log"
say "stopping both nodes"
"$bin" -k --run-dir "$work/hb1/run" 2>/dev/null || true
"$bin" -k --run-dir "$work/hb2/run" 2>/dev/null || true
grep -h "shutdown complete" "$work"/hb*/ha-log || true
echo "demo: done"
