#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs at boot in the package suite's Debian guest (greeter-vm-test.service)
# under the release's systemd. Boot 1 (greeter_vm.phase=1): dpkg installs
# the first package: the socket and greeterd active, a message set, an exec
# as UID 501 greeted. Boot 2: greeterd back with the message (from the
# state file: a reboot empties bpffs), started again by its socket; then
# the upgrade to the second package (another BPF program, the next ABI) while execs run
# all along and greeterctl tail follows: each exec once, the message kept; then dpkg --purge: no
# greeter program or link left in the kernel, no pins, no state. Prints
# "GREETER-VM-RESULT package-bootN passed=N failed=N" and powers off.
# On amd64 (NET=1, package-net.sh), past one host: in boot 1 the guest
# waits while this machine drives greeterd over ssh (package-remote.sh),
# and on Debian 13 (SHIP=1) varlinkctl's ssh addresses, the journal shipped
# to a collector across the reboot (package-ship-guest.sh) and an exec storm
# against the journal (package-storm-guest.sh, boot 2).
set -u
here=/usr/local/lib/greeter-vm
# shellcheck source=../lib/checks.sh
. "$here/checks.sh"
# From the host: KERNEL_RELEASE, RELEASE, VERSION1, VERSION2; NET, SHIP.
under_systemd "$here" package greeterd.service greeterd.socket
NET=${NET:-0} SHIP=${SHIP:-0}
if [ "$SHIP" = 1 ]; then
	# shellcheck source=package-ship-guest.sh
	. "$here/package-ship-guest.sh"
	# shellcheck source=package-storm-guest.sh
	. "$here/package-storm-guest.sh"
fi
# shellcheck disable=SC2034 # read by ctl
CTL_TIMEOUT=60
installed_version() { dpkg-query -W -f='${Version}' greeter 2>/dev/null; }
greeted_501() { # an exec as UID 501 shows up greeted in the stream (its first of UID 501)
	as_501
	greeting_501 | grep -q '"message":"Hi user 501!"'
}

echo "boot $phase: Debian $RELEASE, kernel $(uname -r), $(systemctl --version | head -1)"
check "the release's stock kernel ($KERNEL_RELEASE)" eval '[ "$(uname -r)" = "$KERNEL_RELEASE" ]'

if [ "$phase" = 1 ]; then
	check "dpkg -i installs $VERSION1" eval "dpkg -i $here/greeter-1.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; false; }"
	check "greeterd.socket active after the install" active greeterd.socket
	check "greeterd.service active after the install" active greeterd.service
	check "greeterd.socket and greeterd.service enabled" eval \
		'[ "$(systemctl is-enabled greeterd.socket)" = enabled ] && [ "$(systemctl is-enabled greeterd.service)" = enabled ]'
	check "greeter-metrics.timer installed, not enabled" eval \
		'[ "$(systemctl is-enabled greeter-metrics.timer)" = disabled ]'
	check "the admin group exists" getent group greeter
	check "greeterctl set 501" ctl set 501 "Hi user 501!"
	check "an exec as UID 501 greeted" greeted_501
	if [ "$NET" = 1 ]; then
		# This machine's turn (package-remote.sh): it waits for this line
		# on the console, checks over ssh, then touches the file.
		cp /bin/true /usr/local/bin/gvm-remote-mark
		check "eth0 up with 10.0.2.15, sshd active" eval \
			'ip -o addr show dev eth0 | grep -q "10.0.2.15/24" && wait_until 60 active ssh.service'
		echo "GREETER-VM-HOST-CHECKS ready"
		check "this machine's checks over ssh done (it let the guest go on)" wait_until 900 test -e /run/gvm-host-done
	fi
	if [ "$SHIP" = 1 ]; then
		# varlinkctl (systemd 257) to greeterd over ssh, here to
		# localhost: ssh-unix: needs OpenSSH 9.4 on the server (Debian
		# 13's 10.0), ssh-exec: runs greeterctl's stdio bridge.
		check "varlinkctl call ssh-unix:root@localhost:/run/greeter/greeter.sock io.greeter.GetMessage" eval \
			'timeout 120 varlinkctl call ssh-unix:root@localhost:/run/greeter/greeter.sock io.greeter.GetMessage "{\"uid\":501}" | grep -q "Hi user 501!"'
		check "varlinkctl call ssh-exec:root@localhost:greeterctl stdio-bridge io.greeter.GetMessage" eval \
			'timeout 120 varlinkctl call "ssh-exec:root@localhost:greeterctl stdio-bridge" io.greeter.GetMessage "{\"uid\":501}" | grep -q "Hi user 501!"'
		ship_boot1
	fi
	finish
fi

# ---- boot 2: after the reboot
check "still $VERSION1 installed" eval '[ "$(installed_version)" = "$VERSION1" ]'
check "greeterd active after the reboot" active greeterd.service
check "the message for UID 501 back after the reboot" eval 'ctl get 501 | grep -q "Hi user 501!"'
check "an exec as UID 501 greeted after the reboot" greeted_501
if [ "$SHIP" = 1 ]; then
	ship_boot2
	ship_stop
	storm
	# Back to the packaged unit as it is, for what follows.
	rm -r /etc/systemd/system/greeterd.service.d
	check "greeterd restarted without the drop-in" eval \
		'systemctl daemon-reload && systemctl restart greeterd.service && active greeterd.service'
fi
# Socket activation of the installed units: greeterd stopped, the socket
# kept; the first client starts greeterd.
check "systemctl stop greeterd.service" systemctl stop greeterd.service
check "greeterd inactive, greeterd.socket still listening" eval '! active greeterd.service && active greeterd.socket'
check "the first greeterctl call served (by a socket-activated greeterd)" eval 'ctl get 501 | grep -q "Hi user 501!"'
check "greeterd active again, started by the socket" active greeterd.service
echo "before the upgrade: $(ctl status --json | grep -o '"programs":\[[^]]*\]')"

# ---- the upgrade, under an exec load, followed by greeterctl tail.
marker=/usr/local/bin/greeter-vm-mark
cp /bin/true "$marker"
# Not ctl: its 60 s limit would end the tail in the middle of a slow guest's upgrade.
greeterctl tail --json >/tmp/tail.json 2>/tmp/tail.err &
tail_pid=$!
# Until the tail is watching (a state seen, with a deadline for a slow guest).
watching() { [ "$(ctl status --json | grep -o '"watchers":[0-9]*' | grep -o '[0-9]*$')" -ge 1 ] 2>/dev/null; }
for i in $(seq 600); do
	watching && break
	sleep 0.5
done
check "greeterctl tail is watching" watching
rm -f /tmp/stop
loop() { local n=0; while [ ! -e /tmp/stop ]; do "$marker"; n=$((n + 1)); done; echo $n >"/tmp/count.$1"; }
loop 1 &
l1=$!
loop 2 &
l2=$!
sleep 2
check "dpkg -i upgrades to $VERSION2 while execs run" eval \
	"dpkg -i $here/greeter-2.deb >/tmp/dpkg2.log 2>&1 || { cat /tmp/dpkg2.log; false; }"
check "$VERSION2 installed" eval '[ "$(installed_version)" = "$VERSION2" ]'
check "greeterd.service active after the upgrade" active greeterd.service
check "the upgraded greeterd replaced the pins (the next ABI version)" eval \
	'journalctl -b -u greeterd --no-pager | grep -q "a different ABI version"'
sleep 2
touch /tmp/stop
wait $l1 $l2
total=$(($(cat /tmp/count.1) + $(cat /tmp/count.2)))
mine() { grep -F "\"filename\":\"$marker\"" /tmp/tail.json | grep -o '"pid":[0-9]*' ; }
for i in $(seq 1200); do
	[ "$(grep -cF "\"filename\":\"$marker\"" /tmp/tail.json)" -ge "$total" ] && break
	sleep 0.5
done
sleep 1
kill $tail_pid 2>/dev/null
wait $tail_pid 2>/dev/null
seen=$(mine | wc -l)
unique=$(mine | sort -u | wc -l)
echo "execs: $total, events: $seen, distinct pids: $unique"
check "every exec reported once across the upgrade ($total execs, $seen events)" \
	eval '[ "$seen" = "$total" ] && [ "$unique" = "$total" ]'
seqs() { grep -F "\"filename\":\"$marker\"" /tmp/tail.json | grep -o '"seq":[0-9]*' | grep -o '[0-9]*$'; }
check "their sequence numbers grow without a repeat" eval '[ "$(seqs)" = "$(seqs | sort -n -u)" ]'
if [ "$seen" != "$total" ] || [ "$unique" != "$total" ]; then
	# What the stream shows: its numbers' gaps and repeats, tail's words, the counters.
	echo "tail's stderr:"
	sed 's/^/    tail: /' /tmp/tail.err
	grep -o '"seq":[0-9]*' /tmp/tail.json | grep -o '[0-9]*$' | awk '
		NR > 1 && $1 != prev + 1 { printf "    seq gap or repeat: %d then %d\n", prev, $1; n++ }
		{ prev = $1 } END { printf "    %d events in the stream, %d breaks in its numbers\n", NR, n }' | tail -20
	ctl status --json | grep -o '"counters":{[^}]*}'
fi
check "the message for UID 501 kept across the upgrade" eval 'ctl get 501 | grep -q "Hi user 501!"'

# ---- purge: nothing of greeter left in the kernel or on disk.
check "dpkg --purge greeter" eval "dpkg --purge greeter >/tmp/purge.log 2>&1 || { cat /tmp/purge.log; false; }"
check "greeterd no longer runs" eval '! pgrep -x greeterd >/dev/null'
progs=$(bpftool prog show 2>/dev/null | grep -cE 'sched_exec|tp_execve|kp_execve')
links=$(bpftool link show 2>/dev/null | grep -cE 'sched_exec|tp_execve|kp_execve')
bpftool prog show 2>/dev/null | grep -E 'sched_exec|tp_execve|kp_execve'
check "no greeter program left in the kernel (bpftool prog show)" test "$progs" = 0
check "no greeter link left (bpftool link show)" test "$links" = 0
check "no pins (/sys/fs/bpf/greeter)" test ! -e /sys/fs/bpf/greeter
check "no state (/var/lib/greeter)" test ! -e /var/lib/greeter
check "no cache (/var/cache/greeter)" test ! -e /var/cache/greeter
check "no unit left enabled" eval '[ -z "$(find /etc/systemd/system -name "greeter*" ! -name "greeter-vm-test*")" ]'
finish
