# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The checks and helpers of the scripts that try greeter in a guest or a
# Debian root: the VM guests (tests/vm/*-guest.sh, copied beside them by
# tests/vm/lib.sh), the package and newcomer suites and the VM suites' host
# side. POSIX sh, as busybox runs it in the initramfs guests.
#
# TAP lines, counted in $passed and $failed: ok, not_ok, check.
# Log lines "[SAY_NAME  12.3s] text" (say; SAY_T0: date +%s%N at the
# start), and the end of a script that fails (fail: FAIL_HOOK first, if
# set) or cannot run here (skip, exit status 77).
# greeterctl with a deadline (ctl, CTL_TIMEOUT seconds), a program run as
# UID 501 (as_501), what the guests read from greeterctl's JSON (seq_of,
# greeting_501, link_ids) and from systemd (active); a state waited for
# (wait_until); the start and end of a guest under systemd (under_systemd).

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok - $*"
}
not_ok() {
	failed=$((failed + 1))
	echo "not ok - $*"
}
check() { # description command...
	_check_what=$1
	shift
	if "$@"; then ok "$_check_what"; else not_ok "$_check_what"; fi
}

: "${SAY_T0:=$(date +%s%N)}"
elapsed() { # seconds since SAY_T0, one decimal
	_now=$(date +%s%N)
	echo "$(((_now - SAY_T0) / 1000000000)).$((((_now - SAY_T0) / 100000000) % 10))"
}
say() { printf '[%s %6ss] %s\n' "${SAY_NAME:-${0##*/}}" "$(elapsed)" "$*"; }
wall() { say "wall time $(elapsed) s$*"; }
fail() { # sentence
	say "FAIL: $*"
	[ -z "${FAIL_HOOK:-}" ] || "$FAIL_HOOK"
	wall
	exit 1
}
skip() { # sentence
	say "SKIP: $*"
	exit 77
}

ctl() { timeout "${CTL_TIMEOUT:-30}" greeterctl "$@"; }
# PROGRAM (default /bin/true) run as UID 501: util-linux's setpriv, or in
# the initramfs, whose busybox setpriv cannot change users, busybox su
# (which runs it as the user u501's shell).
as_501() { # [program]
	if setpriv --help 2>&1 | grep -q -- --reuid; then
		setpriv --reuid 501 --regid 501 --clear-groups "${1:-/bin/true}"
	else
		su -s "${1:-/bin/true}" u501
	fi
}
seq_of() { echo "$1" | grep -o '"seq":[0-9]*' | grep -o '[0-9]*$'; } # json
# The first event of UID 501's after sequence number $1 (default 0) that greeterd holds.
greeting_501() { ctl tail --after "${1:-0}" -u 501 -n 1 --json 2>/dev/null; }
link_ids() { ctl status --json | grep -o '"link_id":[0-9]*' | sort | tr '\n' ' '; }
active() { [ "$(systemctl is-active "$1")" = active ]; }
# Runs COMMAND every half second until it succeeds or SECONDS have passed
# (a state waited for, with a deadline for a slow guest); its last status.
wait_until() { # seconds command...
	_wu_end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$_wu_end" ] || return 1
		sleep 0.5
	done
}
# A guest under systemd (tests/vm/lib.sh vm_systemd_tree put this file
# beside it in DIR) begins so: its PATH, which boot this is (phase:
# greeter_vm.phase= on the kernel command line, 1 without), what the host
# expects of it (DIR/expected). Its finish then prints the journal of the
# UNITs, "GREETER-VM-RESULT NAME-bootN passed=N failed=N", and powers off.
under_systemd() { # dir name unit...
	export PATH=/usr/sbin:/usr/bin:/sbin:/bin
	phase=$(sed -n 's/.*greeter_vm\.phase=\([0-9]*\).*/\1/p' /proc/cmdline)
	phase=${phase:-1}
	. "$1/expected"
	_result=$2-boot$phase
	shift 2
	# The units' own lines and systemd's about them; not the entries of
	# greeterd --journal-events (thousands after a storm: a console
	# that slow, and journald's rate limit on this unit's output, would
	# lose the result line).
	_journal=
	for _unit; do
		_journal="$_journal${_journal:+ + }_SYSTEMD_UNIT=$_unit _TRANSPORT=stdout + _PID=1 UNIT=$_unit"
	done
	finish() {
		echo "greeterd's journal:"
		# shellcheck disable=SC2086 # matches, "+" between them
		journalctl -b -o cat --no-pager $_journal | sed 's/^/    journal: /'
		echo "GREETER-VM-RESULT $_result passed=$passed failed=$failed"
		sync
		systemctl --no-block --job-mode=replace-irreversibly start poweroff.target
		exit 0
	}
}
