#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs at boot in the systemd suite's Debian guest (greeter-vm-test.service),
# on the release's stock kernel, against greeter as `meson install` put there,
# with the shipped units unchanged. Boot 1 (greeter_vm.phase=1 on the kernel
# command line): start, API, the unit and arguments of execs (systemd-run
# into a service and a scope), restart, socket activation, status, watchdog.
# Then greeter-metrics.timer: enabled, it runs greeter-metrics.service at
# once and every 15 s, which writes the metrics for node_exporter; a drop-in
# moves the file, and the sandbox keeps it out of anywhere else.
# Boot 2, same disk: messages back from the state file; the timer, enabled,
# came back and writes the new greeterd's metrics. Prints
# "GREETER-VM-RESULT systemd-bootN passed=N failed=N" on the console and
# powers off.
set -u
here=/usr/local/lib/greeter-vm
# shellcheck source=../lib/checks.sh
. "$here/checks.sh"
# From the host: UNIT_SHA256, SOCKET_SHA256, METRICS_SERVICE_SHA256,
# METRICS_TIMER_SHA256, PIN_DIR, KERNEL_RELEASE (of the kernel package
# booted), RELEASE (the Debian codename of this tree).
under_systemd "$here" systemd greeterd.service greeterd.socket greeter-metrics.service \
	greeter-metrics.timer

greeted() { # json: UID 501's event with its message
	grep -q '"uid":501' <<<"$1" && grep -q '"message":"Hi user 501!"' <<<"$1"
}
inactive() { [ "$(systemctl is-active "$1")" = inactive ]; }
prop() { systemctl show -P "$2" "$1"; }
# The snapshot (messages.json) or, until it is compacted, the change log beside it.
state_has_501() { grep -qaF "Hi user 501!" /var/lib/greeter/messages.json /var/lib/greeter/messages.log* 2>/dev/null; }

echo "boot $phase: Debian $RELEASE, kernel $(uname -r), $(systemctl --version | head -1)"
check "the release's stock kernel ($KERNEL_RELEASE)" eval '[ -n "$KERNEL_RELEASE" ] && [ "$(uname -r)" = "$KERNEL_RELEASE" ]'
check "Debian $RELEASE's systemd is PID 1" eval \
	'[[ $(readlink /proc/1/exe) == */lib/systemd/systemd ]] && grep -qx "VERSION_CODENAME=$RELEASE" /etc/os-release'
unit=$(prop greeterd.service FragmentPath)
socket=$(prop greeterd.socket FragmentPath)
echo "units: $unit $socket"
check "the shipped greeterd.service, unchanged ($unit)" \
	eval '[ "$(sha256sum <"$unit" | cut -d" " -f1)" = "$UNIT_SHA256" ]'
check "the shipped greeterd.socket, unchanged ($socket)" \
	eval '[ "$(sha256sum <"$socket" | cut -d" " -f1)" = "$SOCKET_SHA256" ]'
check "no drop-ins for greeterd.service" eval '[ -z "$(prop greeterd.service DropInPaths)" ]'
munit=$(prop greeter-metrics.service FragmentPath)
mtimer=$(prop greeter-metrics.timer FragmentPath)
check "the shipped greeter-metrics.service, unchanged ($munit)" \
	eval '[ "$(sha256sum <"$munit" | cut -d" " -f1)" = "$METRICS_SERVICE_SHA256" ]'
check "the shipped greeter-metrics.timer, unchanged ($mtimer)" \
	eval '[ "$(sha256sum <"$mtimer" | cut -d" " -f1)" = "$METRICS_TIMER_SHA256" ]'

# greeter-metrics: where node_exporter's textfile collector reads (Debian's
# prometheus-node-exporter makes the directory; this guest has no
# node_exporter, so the test does).
textfile_dir=/var/lib/prometheus/node-exporter
prom=$textfile_dir/greeter.prom
# The metrics file's value of a sample (a line "NAME VALUE").
prom_value() { sed -n "s/^$1 //p" "${2:-$prom}"; }
# The metrics file holds the families of greeterctl metrics, whole.
prom_whole() { # file
	grep -q '^# TYPE greeter_events_emitted_total counter$' "$1" &&
		grep -q '^greeter_build_info{version="[^"]*",attach_mode="kprobe"} 1$' "$1" &&
		grep -q '^greeter_events_dropped_total{sink="journal"} [0-9]*$' "$1" &&
		tail -n 1 "$1" | grep -q '^greeter_bpf_program_info{.*} 1$' &&
		[ -z "$(tail -c 1 "$1")" ] # ends in a newline
}
# The service ran again: a new invocation id (at most $2 s).
new_run() { # old-invocation-id seconds
	local i
	for i in $(seq "$(($2 * 2))"); do
		[ -n "$(prop greeter-metrics.service InvocationID)" ] &&
			[ "$(prop greeter-metrics.service InvocationID)" != "$1" ] &&
			[ "$(prop greeter-metrics.service ActiveState)" != activating ] && return 0
		sleep 0.5
	done
	return 1
}

if [ "$phase" = 2 ]; then
	# A new boot: no pins yet; the messages come from the state file.
	check "no pins before greeterd starts (new boot)" test ! -e "$PIN_DIR"
	check "the state directory kept the message" state_has_501
	check "systemctl start greeterd" systemctl start greeterd
	check "greeterd active" active greeterd.service
	check "attached by kprobe" eval 'ctl status --json | grep -q "\"attach_mode\":\"kprobe\""'
	check "the cold start after the reboot loaded with the kernel type cache" eval \
		'journalctl -b -u greeterd --no-pager | grep -q "kernel types from the cache"'
	got=$(ctl get 501)
	echo "$got"
	check "message for UID 501 restored after the reboot" grep -q "Hi user 501!" <<<"$got"
	as_501
	ev=$(greeting_501)
	echo "$ev"
	check "UID 501's exec greeted after the reboot" greeted "$ev"

	# The timer was enabled at boot 1: back at this boot, it writes this
	# greeterd's metrics (its runs before greeterd started failed: status 3).
	check "greeter-metrics.timer enabled and active after the reboot" eval \
		'[ "$(systemctl is-enabled greeter-metrics.timer)" = enabled ] && active greeter-metrics.timer'
	up=$(ctl status --json | grep -o '"uptime_usec":[0-9]*' | grep -o '[0-9]*$')
	id=$(prop greeter-metrics.service InvocationID)
	check "greeter-metrics.service ran again within 30 s" new_run "$id" 30
	check "... and succeeded (Result=success)" eval '[ "$(prop greeter-metrics.service Result)" = success ]'
	cat "$prom"
	check "$prom: this boot's greeterd (its uptime, its emitted events)" eval \
		'prom_whole "$prom" && [ -n "$up" ] &&
		awk -v f="$(prom_value greeter_uptime_seconds)" -v u="$up" "BEGIN { exit !(f * 1e6 + 1e6 >= u && f < 600) }" &&
		[ "$(prom_value greeter_events_emitted_total)" -gt 0 ]'
	check "systemctl disable --now greeter-metrics.timer" systemctl disable --now greeter-metrics.timer
	finish
fi

check "greeterd not started before the test (not enabled)" inactive greeterd.service
check "systemctl start greeterd" systemctl start greeterd
check "greeterd active (Type=notify: READY=1 came)" active greeterd.service
check "Type=notify" eval '[ "$(prop greeterd.service Type)" = notify ]'
check "greeterd.socket active (pulled in by the service)" active greeterd.socket
st=$(ctl status --json)
echo "$st"
check "auto attach mode chose kprobe" grep -q '"attach_mode":"kprobe"' <<<"$st"
# Written right after READY=1, in CacheDirectory=.
check "kernel type cache written to /var/cache/greeter" eval \
	'for i in $(seq 600); do ls /var/cache/greeter/vmlinux-*.btf >/dev/null 2>&1 && break; sleep 0.1; done; ls /var/cache/greeter/vmlinux-*.btf'
check "pins in $PIN_DIR" eval 'ls "$PIN_DIR" | grep -q "^link_"'
check "greeterctl set 501 \"Hi user 501!\"" ctl set 501 "Hi user 501!"
check "a program run as UID 501 (setpriv --reuid 501)" as_501
ev=$(greeting_501)
echo "$ev"
check "UID 501's exec greeted with its message (tail -n 1 --json)" greeted "$ev"
check "the message written to the state directory" state_has_501

# Issue 14: the unit and the arguments of an exec, on this release's kernel
# and systemd. A uniquely named program, run in a transient service, in a
# scope, and here (in greeter-vm-test.service) with 20 arguments.
argv_marker=/run/greeter-vm-argv
cp /bin/true "$argv_marker"
e_acute=$(printf '\303\251')
# The events of unit $1 that greeterd holds, as JSON lines (tail stops after 4 s).
unit_events() { timeout 4 greeterctl tail --after 0 --unit "$1" --json 2>/dev/null; }
# The first of those lines of our program's execs that holds $1.
marker_event() { grep -F "\"filename\":\"$argv_marker\"" | grep -F -- "$1" | head -1; }
has() { grep -qF -- "$1" <<<"$2"; } # string, text
# The event of our program's exec in unit $1 holding $2, once it came (for
# up to a minute: a deadline for something that should happen, not a time).
wait_event() {
	local ev
	for _ in $(seq 12); do
		ev=$(unit_events "$1" | marker_event "$2")
		[ -n "$ev" ] && break
		sleep 1
	done
	echo "$ev"
}
# Without --wait: it watches the unit over D-Bus, and minbase has no dbus.
check "systemd-run --unit=gvm-plain (a transient service)" \
	systemd-run --unit=gvm-plain "$argv_marker" plain-run
ev=$(wait_event gvm-plain.service '"plain-run"')
echo "$ev"
check "its exec has unit gvm-plain.service" has '"unit":"gvm-plain.service"' "$ev"
check "systemd-run --unit=gvm-svc (a transient service) with hostile arguments" \
	systemd-run --unit=gvm-svc "$argv_marker" svc-run "" "two words" \
	'q"uote' "$(printf 'tab\tx')" 'back\slash' "caf$e_acute"
ev=$(wait_event gvm-svc.service '"svc-run"')
echo "$ev"
check "the service's exec has unit gvm-svc.service (tail --unit)" \
	has '"unit":"gvm-svc.service"' "$ev"
check "its arguments arrive exactly (empty, space, quote, tab, backslash, UTF-8)" has \
	"\"args\":[\"$argv_marker\",\"svc-run\",\"\",\"two words\",\"q\\\"uote\",\"tab\\tx\",\"back\\\\slash\",\"caf$e_acute\"]" "$ev"
check "not truncated" has '"args_truncated":false' "$ev"
check "a cgroup id" eval 'grep -qE "\"cgroup_id\":[1-9][0-9]*" <<<"$ev"'
line=$(timeout 4 greeterctl tail --after 0 --unit gvm-svc.service 2>/dev/null | grep -F svc-run)
echo "$line"
check "greeterctl tail: the unit, and the arguments quoted" eval \
	'has gvm-svc.service "$line" && has "svc-run \"\" \"two words\" \"q\\\"uote\" tab\\tx back\\\\slash" "$line"'

check "systemd-run --scope --unit=gvm-scope (a scope, as a login session has)" \
	systemd-run --quiet --scope --unit=gvm-scope "$argv_marker" scope-run "x y"
ev=$(wait_event gvm-scope.scope '"scope-run"')
echo "$ev"
check "the scope's exec has unit gvm-scope.scope" has '"unit":"gvm-scope.scope"' "$ev"
check "its arguments arrive exactly" has "\"args\":[\"$argv_marker\",\"scope-run\",\"x y\"]" "$ev"
check "tail --unit gvm-svc.service leaves the scope's exec out" eval \
	'! unit_events gvm-svc.service | grep -qF scope-run'

twenty=()
for i in $(seq 2 20); do twenty+=("arg$i-$(printf '%036d' "$i")"); done
"$argv_marker" "${twenty[@]}"
ev=$(unit_events greeter-vm-test.service | marker_event '"arg20-')
echo "$ev"
check "20 arguments (about 850 bytes) arrive whole, in this test's unit greeter-vm-test.service" \
	eval 'has "\"args\":[\"$argv_marker\"$(printf ",\"%s\"" "${twenty[@]}")]" "$ev" && has "\"args_truncated\":false" "$ev"'

status=$(systemctl status --no-pager greeterd.service)
echo "$status"
check "systemctl status shows the STATUS= line" grep -q 'Status: "Attached (kprobe), ' <<<"$status"
wd=$(prop greeterd.service WatchdogUSec)
check "watchdog configured (WatchdogUSec=$wd)" eval '[ -n "$wd" ] && [ "$wd" != 0 ] && [ "$wd" != infinity ]'

# Restart: a new process, the same pins, links and messages.
pid1=$(prop greeterd.service MainPID)
links1=$(link_ids)
check "systemctl restart greeterd" systemctl restart greeterd
pid2=$(prop greeterd.service MainPID)
links2=$(link_ids)
echo "MainPID $pid1 -> $pid2; links $links1 -> $links2"
check "greeterd active after the restart, a new process" eval 'active greeterd.service && [ "$pid1" != "$pid2" ]'
check "the restart kept the pins and the links (same link IDs)" eval '[ -n "$links1" ] && [ "$links1" = "$links2" ]'
check "the restart kept the message" eval 'ctl get 501 | grep -q "Hi user 501!"'
as_501
ev2=$(greeting_501 "$(seq_of "$ev")")
check "greeted after the restart" eval 'greeted "$ev2" && [ "$(seq_of "$ev2")" -gt "$(seq_of "$ev")" ]'

# Socket activation: the service stopped, the socket kept; the first client
# starts greeterd.
check "systemctl stop greeterd.service" systemctl stop greeterd.service
check "greeterd inactive" inactive greeterd.service
check "greeterd.socket still listening" active greeterd.socket
check "pins kept while greeterd is stopped" eval 'ls "$PIN_DIR" | grep -q "^link_"'
got=$(ctl get 501)
echo "$got"
check "the first greeterctl call served (by a socket-activated greeterd)" grep -q "Hi user 501!" <<<"$got"
check "greeterd active again, started by the socket" active greeterd.service
check "greeterd says it serves the passed socket" eval \
	'journalctl -b -o cat -u greeterd.service | grep -q "socket passed by the service manager"'
check "links kept across the socket activation" eval '[ "$(link_ids)" = "$links1" ]'
check "no restarts by the service manager (NRestarts=0)" eval '[ "$(prop greeterd.service NRestarts)" = 0 ]'

# greeter-metrics.timer: installed, not enabled; enable --now runs the
# service at once, then every 15 s.
check "greeter-metrics.timer installed, not enabled, not active" eval \
	'[ "$(systemctl is-enabled greeter-metrics.timer)" = disabled ] && inactive greeter-metrics.timer'
check "mkdir $textfile_dir (what prometheus-node-exporter's package makes)" \
	mkdir -p -m 0755 "$textfile_dir"
check "systemctl enable --now greeter-metrics.timer" systemctl enable --now greeter-metrics.timer
check "greeter-metrics.timer active" active greeter-metrics.timer
check "its first run (OnActiveSec=0) wrote $prom" eval \
	'for i in $(seq 60); do [ -s "$prom" ] && [ "$(prop greeter-metrics.service ActiveState)" != activating ] && break; sleep 0.5; done; [ -s "$prom" ]'
check "greeter-metrics.service succeeded (Result=success, status 0)" eval \
	'[ "$(prop greeter-metrics.service Result)" = success ] && [ "$(prop greeter-metrics.service ExecMainStatus)" = 0 ]'
head -20 "$prom"
check "$prom holds greeterctl metrics, whole (HELP, TYPE, greeter_ families)" prom_whole "$prom"
check "... emitted and received events counted (greeter_events_emitted_total > 0)" eval \
	'[ "$(prom_value greeter_events_emitted_total)" -gt 0 ] && [ "$(prom_value greeter_events_received_total)" -gt 0 ]'
check "... greeter_messages 1 (UID 501's)" eval '[ "$(prom_value greeter_messages)" = 1 ]'
check "$prom is mode 0644, root's; no temporary file left" eval \
	'[ "$(stat -c %a:%U "$prom")" = 644:root ] && [ -z "$(ls -A "$textfile_dir" | grep -v "^greeter.prom$")" ]'
next=$(prop greeter-metrics.timer NextElapseUSecMonotonic)
echo "greeter-metrics.timer: next elapse $next; $(systemctl list-timers --no-pager greeter-metrics.timer | sed -n 2p)"
check "the timer has a next elapse ($next)" eval '[ -n "$next" ] && [ "$next" != infinity ] && [ "$next" != 0 ]'
id=$(prop greeter-metrics.service InvocationID)
emitted=$(prom_value greeter_events_emitted_total)
as_501
check "the timer ran the service again within 30 s (every 15 s)" new_run "$id" 30
check "... with the new events (greeter_events_emitted_total grew)" eval \
	'[ "$(prom_value greeter_events_emitted_total)" -gt "$emitted" ]'
sandbox=$(prop greeter-metrics.service ProtectSystem):$(prop greeter-metrics.service CapabilityBoundingSet):$(prop greeter-metrics.service PrivateNetwork)
check "greeter-metrics.service sandboxed (ProtectSystem:CapabilityBoundingSet:PrivateNetwork = $sandbox)" \
	eval '[ "$sandbox" = "strict::yes" ]'

# Another directory: a drop-in sets GREETER_METRICS_DIR and makes it writable.
mkdir -p /srv/textfile /etc/systemd/system/greeter-metrics.service.d
printf '[Service]\nEnvironment=GREETER_METRICS_DIR=/srv/textfile\nReadWritePaths=-/srv/textfile\n' \
	>/etc/systemd/system/greeter-metrics.service.d/dir.conf
systemctl daemon-reload
check "with a drop-in, the service writes /srv/textfile/greeter.prom" eval \
	'systemctl start greeter-metrics.service && prom_whole /srv/textfile/greeter.prom'
# The sandbox: without ReadWritePaths= for it, the directory is read-only.
printf '[Service]\nEnvironment=GREETER_METRICS_DIR=/srv/textfile\n' \
	>/etc/systemd/system/greeter-metrics.service.d/dir.conf
systemctl daemon-reload
rm -f /srv/textfile/greeter.prom
systemctl start greeter-metrics.service
check "a directory the unit does not make writable: refused (status 4, read-only), nothing written" eval \
	'[ "$(prop greeter-metrics.service ExecMainStatus)" = 4 ] && [ ! -e /srv/textfile/greeter.prom ] &&
	journalctl -b -o cat -u greeter-metrics.service | grep -q "cannot write /srv/textfile/greeter.prom: .*Read-only file system"'
rm -r /etc/systemd/system/greeter-metrics.service.d
systemctl daemon-reload
systemctl reset-failed greeter-metrics.service
check "without the drop-in, the timer's next run writes $prom again" eval \
	'new_run "$(prop greeter-metrics.service InvocationID)" 30 && [ "$(prop greeter-metrics.service Result)" = success ]'
finish
