#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of the kprobe suite's initramfs (busybox sh), on a Debian release's
# stock kernel (the one in /etc/greeter-vm-expected): mounts what the kernel
# does not, then checks greeterd end to end, prints
# "GREETER-VM-RESULT kprobe passed=N failed=N" and powers off.
GUEST_NAME=kprobe
. /initramfs-guest-lib.sh

ctl() { timeout 30 greeterctl "$@"; }
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
# A program run as UID 501: busybox su runs it straight as the "shell".
as_501() { su -s /bin/true u501; }
# The first event of UID 501's after sequence number $1 (default 0) that greeterd holds.
greeting_501() { ctl tail --after "${1:-0}" -u 501 -n 1 --json; }
link_ids() { ctl status --json | grep -o '"link_id":[0-9]*' | sort | tr '\n' ' '; }
show_log() { sed 's/^/    log: /' /tmp/greeterd.log; }
seq_of() { echo "$1" | grep -o '"seq":[0-9]*' | grep -o '[0-9]*$'; }

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
if start_greeterd 3 --attach tracepoint; then ok "greeterd --attach tracepoint started"; else
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
stop_greeterd
check "greeterd --remove-pins (tracepoint mode)" greeterd --remove-pins

echo "greeterd log:"
show_log
finish
