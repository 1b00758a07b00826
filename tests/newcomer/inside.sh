#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the fresh Debian root that newcomer.sh prepared, as root:
# what a newcomer does with a clone in /root/greeter. Steps:
#   fresh     the premise: the release asked for, no compiler, /root 0700
#   demo      ./demo.sh: it installs the build dependencies, builds, starts
#             greeterd and shows root greeted "Hey root!", UID 501 "Hi user 501!"
#   stop      stop the greeterd demo.sh left running, greeterd --remove-pins
#   tests     GREETER_TEST_SUITES="<the suites newcomer.sh names>" ./run-tests.sh:
#             last line "N passed, 0 failed", exit status 0, tests of each
#             of those suites passed in both builds
#   leftovers no greeterd of this clone still running
# Each step's output is printed prefixed; the logs, the failed step and the
# timings go to /var/tmp/greeter-newcomer (newcomer.sh reads them).
# Exit status: 0 pass, 1 fail.
set -uo pipefail
out=/var/tmp/greeter-newcomer
clone=/root/greeter
GREETERD=$clone/build/daemon/greeterd
# say, fail: tests/lib/checks.sh, which newcomer.sh put beside this script.
# shellcheck source=../lib/checks.sh
. "$(dirname "$0")/checks.sh"
SAY_NAME=inside
step=none
step_t0=$(date +%s)

begin() { # step, what it does
	step=$1 step_t0=$(date +%s)
	say "== $1: $2"
}
end_step() {
	printf '%-10s %4d s\n' "$step" "$(($(date +%s) - step_t0))" >>"$out/timings"
}
# What newcomer.sh reads when this script fails (fail runs it).
step_failed() {
	say "the step that failed: $step"
	echo "$step" >"$out/failed-step"
	end_step
}
FAIL_HOOK=step_failed

# The greeterd processes of this clone (build/ and build-asan/), by their
# executable: the host's own greeterds run from elsewhere.
our_greeterds() {
	local d exe
	for d in /proc/[0-9]*; do
		exe=$(readlink "$d/exe" 2>/dev/null) || continue
		case $exe in "$clone"/*/greeterd | "$clone"/*/greeterd" (deleted)") echo "${d#/proc/}" ;; esac
	done
}
# Stops a process that is not our child: SIGTERM, then SIGKILL after 10 s.
# Returns 1 when it needed SIGKILL.
stop_pid() { # pid
	local _
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	sleep 0.2
	return 1
}
# However it ends, no greeterd of this clone keeps running and no pins stay.
cleanup() {
	local pid
	for pid in $(our_greeterds); do
		say "cleanup: killing greeterd $pid ($(readlink "/proc/$pid/exe" 2>/dev/null))"
		kill -KILL "$pid" 2>/dev/null
	done
	if [ -d /sys/fs/bpf/greeter ] && [ -x "$GREETERD" ]; then
		sleep 0.2
		say "cleanup: $GREETERD --remove-pins"
		"$GREETERD" --remove-pins 2>&1 | sed 's/^/    remove-pins| /'
	fi
}
trap cleanup EXIT
trap 'say "interrupted"; echo "$step" >"$out/failed-step"; exit 1' INT TERM

rm -rf "$out" && mkdir -p "$out" || { echo "inside.sh: cannot create $out" >&2; exit 1; }

want=$(cat /opt/greeter-newcomer/release)
begin fresh "a fresh Debian $want minbase, no compiler, the clone in root's 0700 home"
release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ "$release" = "$want" ] || fail "this root is '$release', not $want"
say "$(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
for c in cc gcc clang c99 tcc; do
	command -v "$c" >/dev/null && fail "a compiler is preinstalled: $(command -v "$c")"
done
[ "$(stat -c '%a %U' /root)" = "700 root" ] || fail "/root is $(stat -c '%a %U' /root), not 700 root"
[ -x "$clone/demo.sh" ] || fail "no $clone/demo.sh"
mountpoint -q /sys/fs/bpf || fail "no bpffs on /sys/fs/bpf"
[ ! -e /sys/fs/bpf/greeter ] || fail "the bpffs on /sys/fs/bpf already has greeter's pins"
# What a new bpffs holds from the start (the kernel's preloaded iterators,
# maps.debug and progs.debug): only what is added later is left over.
bpffs_before=$(ls -A /sys/fs/bpf)
end_step

cd "$clone" || fail "cannot cd to $clone"

begin demo "cd $clone && ./demo.sh"
./demo.sh </dev/null 2>&1 | tee "$out/demo.log" | sed -u 's/^/    demo.sh| /'
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
	if [ -s /run/greeter/greeterd.log ]; then
		say "the end of /run/greeter/greeterd.log:"
		tail -n 30 /run/greeter/greeterd.log | sed 's/^/    greeterd.log| /'
	fi
	fail "./demo.sh exited with status $rc"
fi
# The events of `greeterctl tail`: TIME PID USER UNIT COMM FILENAME MESSAGE ARGS.
grep -Eq '[[:space:]]root[[:space:]]+[^[:space:]]+[[:space:]]+setpriv[[:space:]]+/usr/bin/id[[:space:]]+Hey root![[:space:]]+/usr/bin/id[[:space:]]*$' "$out/demo.log" ||
	fail "demo.sh's output shows no event of root's /usr/bin/id greeted \"Hey root!\""
grep -Eq '[[:space:]]501[[:space:]]+[^[:space:]]+[[:space:]]+setpriv[[:space:]]+/usr/bin/id[[:space:]]+Hi user 501![[:space:]]+/usr/bin/id[[:space:]]*$' "$out/demo.log" ||
	fail "demo.sh's output shows no event of UID 501's /usr/bin/id greeted \"Hi user 501!\""
say "both greetings shown: root \"Hey root!\", UID 501 \"Hi user 501!\""
end_step

begin stop "stop the greeterd demo.sh left running; greeterd --remove-pins"
pid=$(cat /run/greeter/greeterd.pid 2>/dev/null) || fail "demo.sh left no /run/greeter/greeterd.pid"
exe=$(readlink "/proc/$pid/exe" 2>/dev/null)
[ "$exe" = "$GREETERD" ] || fail "pid '$pid' of /run/greeter/greeterd.pid is not $GREETERD (it is '${exe:-no process}')"
stop_pid "$pid" || fail "greeterd $pid did not stop within 10 s of SIGTERM (killed)"
say "greeterd $pid stopped"
[ -d /sys/fs/bpf/greeter ] || fail "no pins in /sys/fs/bpf/greeter after greeterd stopped (stopping must keep them)"
"$GREETERD" --remove-pins 2>&1 | tee "$out/stop.log" | sed 's/^/    remove-pins| /'
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || fail "greeterd --remove-pins exited with status $rc"
[ ! -e /sys/fs/bpf/greeter ] || fail "/sys/fs/bpf/greeter still there after greeterd --remove-pins: $(ls -A /sys/fs/bpf/greeter | tr '\n' ' ')"
say "pins removed"
end_step

suites=$(cat /opt/greeter-newcomer/suites)
begin tests "GREETER_TEST_SUITES=\"$suites\" ./run-tests.sh"
GREETER_TEST_SUITES=$suites ./run-tests.sh </dev/null 2>&1 |
	tee "$out/tests.log" | sed -u 's/^/    run-tests.sh| /'
rc=${PIPESTATUS[0]}
# What each suite did in each build, from meson's test logs.
python3 tests/lib/testlog.py suites build/meson-logs/testlog.json \
	build-asan/meson-logs/testlog.json >"$out/suites" 2>&1
sed 's/^/    suites| /' "$out/suites"
last=$(tail -n 1 "$out/tests.log")
[[ $last =~ ^[0-9]+\ passed,\ [0-9]+\ failed$ ]] ||
	fail "run-tests.sh's last line is '$last', not 'N passed, N failed' (exit status $rc)"
[[ $last =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]] || fail "run-tests.sh: $last (exit status $rc)"
[ "$rc" -eq 0 ] || fail "run-tests.sh exited with status $rc after '$last'"
for b in build build-asan; do
	for s in $suites; do
		grep -Eq "^$b $s .*OK=[1-9]" "$out/suites" || fail "no $s test passed in $b"
	done
done
say "run-tests.sh: $last"
end_step

begin leftovers "no greeterd of $clone left running"
left=$(our_greeterds | tr '\n' ' ')
[ -z "$left" ] || fail "greeterd left running after run-tests.sh: $left"
# shellcheck disable=SC2010 # pin names are plain words
stray=$(ls -A /sys/fs/bpf | grep -vxF "$bpffs_before")
[ -z "$stray" ] || say "note: left in this root's bpffs (gone with its namespace): $(echo "$stray" | tr '\n' ' ')"
end_step
say "PASS"
exit 0
