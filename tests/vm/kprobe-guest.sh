#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of the kprobe suite's initramfs (busybox sh), on a Debian release's
# stock kernel (the one in /etc/greeter-vm-expected): mounts what the kernel
# does not, then checks greeterd end to end, prints
# "GREETER-VM-RESULT kprobe passed=N failed=N" and powers off.
GUEST_NAME=kprobe
. /initramfs-guest-lib.sh

# Starts greeterd and waits for its Nth "ready in" in the shared log.
start_greeterd() { # n [options...]
	n=$1
	shift
	greeterd "$@" >>/tmp/greeterd.log 2>&1 &
	pid=$!
	i=0
	while [ $i -lt 600 ]; do
		[ "$(grep -c 'ready in' /tmp/greeterd.log 2>/dev/null)" -ge "$n" ] && return 0
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
stop_greeterd() {
	kill $pid
	wait $pid
}
show_log() { sed 's/^/    log: /' /tmp/greeterd.log; }

# What an event carries, on the attach path in use ($1: kprobe, tracepoint):
# the exec of a program of ours, /run/gvm-argv (busybox under another name:
# a path, so the shell execs it), from `sh` in a cgroup of its own
# (gvm-args.scope), with hostile arguments; and at the 1 KiB bound of the
# arguments (GREETER_ARGS_SIZE, the NULs counted), once exactly on it and
# once past it. Arguments as greeterd's JSON has them: invalid UTF-8 as
# U+FFFD.
mkdir -p /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /sys/fs/cgroup/gvm-args.scope
cp /bin/busybox /run/gvm-argv
cgid=$(stat -c %i /sys/fs/cgroup/gvm-args.scope)
fffd=$(printf '\357\277\275')
e_acute=$(printf '\303\251')
# Runs /run/gvm-argv ARGS... from sh in gvm-args.scope.
in_scope() {
	sh -c 'echo $$ >/sys/fs/cgroup/gvm-args.scope/cgroup.procs && exec /run/gvm-argv "$@"' sh "$@" 2>/dev/null
	return 0
}
# The next event in gvm-args.scope after sequence number $after (each
# in_scope makes one: sh execs before it moves), into $e; $after moves on.
# Waits for up to a minute: a deadline for what should happen, not a time.
next_event() {
	e=$(timeout 60 greeterctl tail --after "$after" --unit gvm-args.scope -n 1 --json 2>/dev/null)
	s=$(seq_of "$e")
	[ -n "$s" ] && after=$s
	return 0
}
has() { echo "$2" | grep -qF -- "$1"; } # string, text
fill() { head -c "$1" /dev/zero | tr '\0' "$2"; } # length, character
event_checks() { # mode
	after=0 # (a new stream in each mode: --remove-pins between them)
	m=kpa-$1
	in_scope "$m" "" "two words" "$(printf '\377\376 ok')" "caf$e_acute"
	next_event
	echo "$e"
	check "$1: the event of /run/gvm-argv with $m" has "\"$m\"" "$e"
	check "$1: the exec's uid 0, the caller's comm (sh), the filename" eval \
		'has "\"uid\":0," "$e" && has "\"comm\":\"sh\"" "$e" && has "\"filename\":\"/run/gvm-argv\"" "$e"'
	check "$1: every argument exact (empty, with a space, not UTF-8, UTF-8)" has \
		"\"args\":[\"/run/gvm-argv\",\"$m\",\"\",\"two words\",\"$fffd$fffd ok\",\"caf$e_acute\"]" "$e"
	check "$1: not truncated" has '"args_truncated":false' "$e"
	check "$1: the unit (gvm-args.scope) and its cgroup id ($cgid)" eval \
		'has "\"unit\":\"gvm-args.scope\"" "$e" && echo "$e" | grep -qE "\"cgroup_id\":$cgid[,}]"'
	# 1,024 bytes with the NULs: "/run/gvm-argv" (14), the marker, the filler.
	m=kpb-$1
	n=$((1024 - 14 - ${#m} - 1 - 1))
	f=$(fill $n F)
	in_scope "$m" "$f"
	next_event
	check "$1: arguments of exactly 1,024 bytes arrive whole, not truncated" eval \
		'has "\"args\":[\"/run/gvm-argv\",\"$m\",\"$f\"]" "$e" && has "\"args_truncated\":false" "$e"'
	m=kpc-$1
	n=$((1024 - 14 - ${#m} - 1 - 1))
	in_scope "$m" "$(fill $((n + 10)) G)"
	next_event
	f=$(fill $((n + 1)) G)
	check "$1: 10 bytes past the bound: cut at 1,024 bytes, args_truncated" eval \
		'has "\"args\":[\"/run/gvm-argv\",\"$m\",\"$f\"]" "$e" && has "\"args_truncated\":true" "$e"'
}

# The whole life of a program, on the attach path in use ($1): exits with
# their status or signal and the id of the exec they end, an exec's
# parent's exec id, a live process's chain. /run/gvm/sh is busybox's shell
# under a path of our own, run in gvm-args.scope.
mkdir -p /run/gvm
cp /bin/busybox /run/gvm/sh
in_scope_sh() { # script
	sh -c 'echo $$ >/sys/fs/cgroup/gvm-args.scope/cgroup.procs && exec /run/gvm/sh -c "$1"' sh "$1" 2>/dev/null
	return 0
}
# The next n events (execs by sh, exits of sh) in gvm-args.scope after $after, one a
# line, into $e; $after moves on. A deadline of a minute, not a time.
next_life() { # n
	e=$(timeout 60 greeterctl tail --after "$after" --unit gvm-args.scope --comm sh --exits -n "$1" --json 2>/dev/null)
	s=$(seq_of "$(echo "$e" | tail -n 1)")
	[ -n "$s" ] && after=$s
	return 0
}
line() { echo "$e" | sed -n "${1}p"; } # n
id_of() { echo "$1" | grep -o "\"$2\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; } # json field
life_checks() { # mode
	in_scope_sh 'exit 7'
	next_life 2
	echo "$e"
	x=$(line 1) y=$(line 2)
	check "$1: an exit after its exec, status 7, with the exec's id" eval \
		'has "\"kind\":\"exec\"" "$x" && has "\"filename\":\"/run/gvm/sh\"" "$x" &&
		 has "\"kind\":\"exit\"" "$y" && has "\"exit_code\":7" "$y" &&
		 [ -n "$(id_of "$x" exec_id)" ] && [ "$(id_of "$x" exec_id)" = "$(id_of "$y" exec_id)" ]'
	in_scope_sh 'kill -9 $$'
	next_life 2
	check "$1: a process killed by SIGKILL: signal 9" has '"signal":9' "$(line 2)"
	in_scope_sh '/run/gvm/sh -c "exit 3"; true'
	next_life 4
	echo "$e"
	check "$1: a child's exec carries its parent's exec id, and its exit status 3" eval \
		'[ "$(id_of "$(line 2)" parent_exec_id)" = "$(id_of "$(line 1)" exec_id)" ] &&
		 has "\"exit_code\":3" "$(line 3)" && has "\"exit_code\":0" "$(line 4)"'
	# A process that waits (on a FIFO nobody opens) and starts nothing.
	[ -p /run/gvm/fifo ] || mkfifo /run/gvm/fifo
	sh -c 'echo $$ >/sys/fs/cgroup/gvm-args.scope/cgroup.procs && exec /run/gvm/sh -c "read x </run/gvm/fifo"' &
	bg=$!
	next_life 1
	c=$(ctl chain "$bg" --json)
	echo "$c"
	check "$1: greeterctl chain of a running process: its exec, then its parent's" eval \
		'[ "$(id_of "$c" exec_id)" = "$(id_of "$e" exec_id)" ] && has "\"pid\":1," "$c"'
	kill -9 "$bg" 2>/dev/null
	wait "$bg" 2>/dev/null
	next_life 1
	check "$1: its exit when killed, with the same exec id" eval \
		'has "\"signal\":9" "$e" && [ "$(id_of "$c" exec_id)" = "$(id_of "$e" exec_id)" ]'
}

echo "kernel $(uname -r), expected $KERNEL_RELEASE"
check "the release's stock kernel ($KERNEL_RELEASE)" test -n "$KERNEL_RELEASE" -a "$(uname -r)" = "$KERNEL_RELEASE"
check "BTF present (/sys/kernel/btf/vmlinux)" test -e /sys/kernel/btf/vmlinux
check "kprobes available (kprobe PMU)" test -e /sys/bus/event_source/devices/kprobe

if ! start_greeterd 1; then
	not_ok "greeterd started (log below)"
	show_log
	finish
fi
ok "greeterd ready"
st=$(ctl status --json)
echo "$st"
check "auto attach mode chose kprobe" eval 'echo "$st" | grep -q "\"attach_mode\":\"kprobe\""'
check "greeterd reports that kernel" eval 'echo "$st" | grep -qF "\"kernel_release\":\"$KERNEL_RELEASE\""'
check "programs, maps and links pinned" eval \
	'ls /sys/fs/bpf/greeter | grep -q "^link_" && ls /sys/fs/bpf/greeter | grep -q "^prog_" && test -e /sys/fs/bpf/greeter/config'
check "greeterctl set 501 \"Hi user 501!\"" ctl set 501 "Hi user 501!"
check "a program run as UID 501" as_501
ev=$(greeting_501)
echo "$ev"
check "UID 501's exec greeted with its message (tail -n 1 --json)" eval \
	'echo "$ev" | grep -q "\"uid\":501" && echo "$ev" | grep -q "\"message\":\"Hi user 501!\""'
check "root's exec greeted with the builtin Hello World" eval \
	'ctl tail --after 0 -u 0 -n 1 --json | grep -q "\"message\":\"Hello World\""'
event_checks kprobe
life_checks kprobe

# Restart: the pins and the links stay; an exec while greeterd is down waits
# in the pinned ring buffer and is delivered by the next greeterd.
links_before=$(link_ids)
progs_before=$(ctl status --json | grep -o '"program_id":[0-9]*' | sort | tr '\n' ' ')
stop_greeterd
check "pins kept after greeterd stopped" test -e /sys/fs/bpf/greeter/link_sched_exec
as_501
if start_greeterd 2; then ok "greeterd restarted"; else not_ok "greeterd restarted"; show_log; finish; fi
links_after=$(link_ids)
echo "links before: $links_before"
echo "links after:  $links_after"
check "the restart reused the links (same link IDs)" test -n "$links_before" -a "$links_before" = "$links_after"
check "and the programs (same program IDs)" eval \
	'[ "$progs_before" = "$(ctl status --json | grep -o "\"program_id\":[0-9]*" | sort | tr "\n" " ")" ]'
check "message kept across the restart" eval 'ctl get 501 | grep -q "Hi user 501!"'
# The pinned ring still holds what the last greeterd delivered: ask for what
# follows it.
ev2=$(greeting_501 "$(seq_of "$ev")" 2>/dev/null)
echo "$ev2"
check "the exec made while greeterd was down delivered by the next one" eval \
	'[ "$(seq_of "$ev2")" -gt "$(seq_of "$ev")" ] && echo "$ev2" | grep -q "\"message\":\"Hi user 501!\""'
check "still attached by kprobe" eval 'ctl status --json | grep -q "\"attach_mode\":\"kprobe\""'

# kill -9: the pins and links stay; an exec meanwhile is delivered after it.
kill -9 $pid
wait $pid 2>/dev/null
check "pins kept after kill -9" test -e /sys/fs/bpf/greeter/link_sched_exec
as_501
if start_greeterd 3; then ok "greeterd started after kill -9"; else not_ok "greeterd started after kill -9"; show_log; finish; fi
check "the start after kill -9 reused the links" eval '[ "$(link_ids)" = "$links_after" ]'
ev3=$(greeting_501 "$(seq_of "$ev2")" 2>/dev/null)
echo "$ev3"
check "the exec made after kill -9 delivered (after_seq $(seq_of "$ev2"))" eval \
	'[ "$(seq_of "$ev3")" -gt "$(seq_of "$ev2")" ] && echo "$ev3" | grep -q "\"message\":\"Hi user 501!\""'

# In-kernel cost of an exec, measured (printed, never checked: it says how
# fast this machine and its emulator are, nothing about greeter being
# right): BPF run-time statistics on, 50 execs of a real program (busybox
# applets may run without an exec), the run time of every greeter program
# over the execs sched_process_exec saw.
bpf_totals() { # "sum of run_time_ns, run_cnt of prog_sched_exec"
	t=0
	c=0
	for p in /sys/fs/bpf/greeter/prog_*; do
		j=$(bpftool -j prog show pinned "$p" 2>/dev/null)
		rt=$(echo "$j" | grep -o '"run_time_ns":[0-9]*' | grep -o '[0-9]*$')
		t=$((t + ${rt:-0}))
		case $p in */prog_sched_exec) c=$(echo "$j" | grep -o '"run_cnt":[0-9]*' | grep -o '[0-9]*$') ;; esac
	done
	echo "$t ${c:-0}"
}
if command -v bpftool >/dev/null && echo 1 >/proc/sys/kernel/bpf_stats_enabled 2>/dev/null; then
	read -r t0 c0 <<EOF_STATS
$(bpf_totals)
EOF_STATS
	i=0
	while [ $i -lt 50 ]; do
		greeterctl --version >/dev/null
		i=$((i + 1))
	done
	read -r t1 c1 <<EOF_STATS
$(bpf_totals)
EOF_STATS
	echo 0 >/proc/sys/kernel/bpf_stats_enabled
	n=$((c1 - c0))
	[ $n -gt 0 ] && echo "in-kernel cost (kprobe mode): $(((t1 - t0) / n)) ns/exec over $n execs ($(uname -m), TCG)"
fi

# --remove-pins detaches: no pins, no links, no programs left.
stop_greeterd
link_nums=$(echo "$links_after" | grep -o '[0-9][0-9]*')
check "greeterd --remove-pins" greeterd --remove-pins
check "pin directory removed" test ! -e /sys/fs/bpf/greeter
if command -v bpftool >/dev/null; then
	left=
	for l in $link_nums; do
		bpftool link show id "$l" >/dev/null 2>&1 && left="$left $l"
	done
	check "links detached (bpftool link show: none of$links_after)" test -z "$left"
fi
cnt=$(ctl status --json 2>/dev/null | wc -c)
check "greeterd not running" test "$cnt" = 0

# The other attach path on this kernel, and messages back from the state
# file when no pins are left (as after a reboot).
if start_greeterd 4 --attach tracepoint; then ok "greeterd --attach tracepoint started"; else
	not_ok "greeterd --attach tracepoint started"
	show_log
	finish
fi
check "attached by the syscall tracepoints" eval 'ctl status --json | grep -q "\"attach_mode\":\"tracepoint\""'
check "the first start wrote the kernel type cache" grep -q "wrote the kernel types" /tmp/greeterd.log
check "this cold start loaded with it" grep -q "kernel types from the cache" /tmp/greeterd.log
check "message restored from the state file" eval 'ctl get 501 | grep -q "Hi user 501!"'
as_501
check "UID 501's exec greeted by the tracepoint programs" eval \
	'greeting_501 2>/dev/null | grep -q "\"message\":\"Hi user 501!\""'
event_checks tracepoint
life_checks tracepoint
stop_greeterd
check "greeterd --remove-pins (tracepoint mode)" greeterd --remove-pins

echo "greeterd log:"
show_log
finish
