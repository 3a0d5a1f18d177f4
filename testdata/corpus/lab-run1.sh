#!/bin/bash
# usage: run1.sh CASE_DIR HOSTNAME   (CASE_DIR holds ha.cf, authkeys, haresources)
# Runs the real heartbeat 3.0.6 -f on the case in netns hbc-lab with private
# mount+UTS namespaces; prints rc and the log. Interfaces: dummies in 198.18.0.0/15.
C=$1; H=$2
ip netns add hbc-lab 2>/dev/null
ip netns exec hbc-lab ip link set lo up
i=1
for dev in eth0 eth1 em1 network_adapter; do
  ip netns exec hbc-lab ip link add $dev type veth peer name hbcp$i 2>/dev/null && {
    ip netns exec hbc-lab ip link set hbcp$i up
    ip netns exec hbc-lab ip addr add 198.18.$i.1/24 brd 198.18.$i.255 dev $dev
    ip netns exec hbc-lab ip link set $dev up; }
  i=$((i+1))
done
exec ip netns exec hbc-lab unshare -m -u -p -f --mount-proc bash -c '
C='"$C"'; H='"$H"'
echo "$H" > /proc/sys/kernel/hostname; uname -n
mount -t tmpfs none /run; mount -t tmpfs none /var/log
mkdir -p /run/lock /run/heartbeat/ccm /run/heartbeat/crm /run/heartbeat/rsctmp
W=$C/work; rm -rf $W; mkdir -p $W/etc $W/varlib $W/dev
cp -a /etc/ha.d/. $W/etc/
cp $C/ha.cf $W/etc/ha.cf
cp $C/authkeys $W/etc/authkeys && chmod 600 $W/etc/authkeys
cp $C/haresources $W/etc/haresources
[ -f $C/nodeinfo ] && cp $C/nodeinfo $W/etc/nodeinfo
cp -a /var/lib/heartbeat/. $W/varlib/
mount --bind $W/etc /etc/ha.d
mount --bind $W/varlib /var/lib/heartbeat
if [ -n "$SERIAL" ]; then
  socat pty,raw,echo=0,link=$W/dev/A pty,raw,echo=0,link=$W/dev/B & sleep 1
  mount -t tmpfs none /dev/shm; touch /dev/shm/x
  # expose the pty as $SERIAL through a bind over a file in a private /dev overlay
  mkdir -p $W/devroot; mount --rbind /dev $W/devroot
  mount -t tmpfs none /dev; for f in null zero random urandom tty ptmx full; do touch /dev/$f; mount --bind $W/devroot/$f /dev/$f; done
  mkdir -p /dev/pts /dev/shm; mount --rbind $W/devroot/pts /dev/pts
  touch $SERIAL; mount --bind $(readlink -f $W/dev/A) $SERIAL
fi
timeout 20 /usr/libexec/heartbeat/heartbeat -f > $C/out 2> $C/err &
P=$!
sleep 4
if kill -0 $P 2>/dev/null; then echo "VERDICT: ACCEPTED (running after 4s)"; /usr/libexec/heartbeat/heartbeat -k >/dev/null 2>&1; sleep 1; kill $P 2>/dev/null; else wait $P; echo "VERDICT: REJECTED rc=$?"; fi
echo "--- log"; tail -8 /var/log/ha-log 2>/dev/null; echo "--- stderr"; cat $C/err | grep -v "Core dumps\|core_pattern\|core_uses_pid" | head -30
'
