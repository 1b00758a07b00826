#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The newcomer suite: the two commands of the README on a fresh Debian
# machine of a release. A copy of the cached minbase tree of it, no compiler
# in it, the project's files (the working tree as this test runs it) at
# /root/greeter; inside it, through tests/lib/debian-root.sh (chroot, a
# private mount namespace, its own bpffs), inside.sh runs ./demo.sh, stops
# the greeterd it left running and removes its pins, then runs
# ./run-tests.sh with the suites that prove what the host's own run does not
# (GREETER_TEST_SUITES):
#   - on every release, the README's test command from nothing: its
#     packages installed, both builds with -Werror, the suites that need no
#     kernel (unit, client, systemd) run and counted;
#   - on a release other than the host's, whose compilers, libbpf, libsystemd
#     and cJSON differ, the suite "release" as well: the integration tests
#     whose outcome rests on those libraries (loading, pinning, migrating,
#     attaching, the API's parsing, sd_notify, the journal), in both builds.
#     The integration tests of load and concurrency run on the host only:
#     the same code, the same kernel.
#
# newcomer.sh CODENAME SOURCE_ROOT   (bookworm, trixie)
# Exit status: 0 pass, 1 fail, 77 skipped (not root, or the Debian archive
# cannot be reached). A host of the same release runs it too: its root
# starts with no compiler and a 0700 /root, which the host may not have.
set -uo pipefail
self=$(realpath "$0")
here=$(dirname "$self")
# shellcheck source=../lib/checks.sh
. "$here/../lib/checks.sh"
SAY_NAME=newcomer

# The processes whose root directory is TREE: what runs inside it, whatever
# session or mount namespace it is in.
tree_procs() { # tree
	local want d
	want=$(stat -c %d:%i "$1" 2>/dev/null) || return 0
	for d in /proc/[0-9]*; do
		[ "$(stat -L -c %d:%i "$d/root" 2>/dev/null)" = "$want" ] && echo "${d#/proc/}"
	done
}
# Kills them, again while any is left (they may fork meanwhile).
kill_tree_procs() { # tree
	local pids _
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(tree_procs "$1" | tr '\n' ' ')
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086 # a list of pids
		kill -KILL $pids 2>/dev/null
		sleep 0.5
	done
	return 1
}
alive() { # pid: running, not a zombie
	[ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}

# newcomer.sh --reap PID WORK: runs in a session of its own, beyond meson's
# kill of the suite's process group on a timeout (SIGTERM, then SIGKILL half
# a second later, before the suite's own clean-up is done). When PID has
# ended, kills whatever still runs in WORK/tree (the inner meson starts its
# tests in sessions of their own) and removes WORK.
if [ "${1:-}" = --reap ]; then
	while alive "$2"; do sleep 1; done
	[ -d "$3/tree" ] && kill_tree_procs "$3/tree"
	rm -rf "$3"
	exit 0
fi

codename=${1:?usage: newcomer.sh CODENAME SOURCE_ROOT}
src=$(realpath "${2:?usage: newcomer.sh CODENAME SOURCE_ROOT}")
suites="unit client systemd"
host_release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ "$host_release" = "$codename" ] || suites="$suites release"
[ "$(id -u)" = 0 ] || skip "needs root (chroot, mount namespaces, BPF inside)"
command -v git >/dev/null || fail "git is not installed: cannot list the project's files in $src"
git -c safe.directory="$src" -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	fail "$src is not a git work tree: cannot list the project's files"

. "$here/../lib/debian-root.sh"
version=$(droot_version "$codename") || fail "unknown Debian release '$codename'"
if ! command -v debootstrap >/dev/null; then
	. "$here/../lib/deps.sh"
	greeter_install_deps debootstrap || skip "debootstrap is not installed and cannot be installed"
fi

# The work directory: on the disk of the cache (the tree is about 1.5 GiB
# once the build dependencies are in), removed however the suite ends.
mkdir -p "$GREETER_TEST_CACHE" || fail "cannot create $GREETER_TEST_CACHE"
avail=$(df -Pk "$GREETER_TEST_CACHE" | awk 'NR == 2 { print int($4 / 1048576) }')
[ "${avail:-0}" -ge 4 ] || skip "$GREETER_TEST_CACHE has ${avail:-0} GiB free; the tree needs about 4"
# Work directories of runs that ended without removing theirs (their reaper
# killed too, or a reboot) go first.
for d in "$GREETER_TEST_CACHE"/.newcomer.*; do
	[ -d "$d" ] || continue
	owner=$(cat "$d/owner" 2>/dev/null)
	if [ -z "$owner" ] || ! alive "$owner"; then
		say "removing the work directory $d of an earlier run"
		kill_tree_procs "$d/tree"
		rm -rf "$d"
	fi
done
work=$(mktemp -d "$GREETER_TEST_CACHE/.newcomer.XXXXXX") || fail "cannot create a work directory"
echo $$ >"$work/owner"
tree=$work/tree
inner_pid=
setsid /bin/bash "$self" --reap $$ "$work" </dev/null >/dev/null 2>&1 &

cleanup() {
	trap - EXIT INT TERM
	if [ -n "$inner_pid" ] && kill -0 "$inner_pid" 2>/dev/null; then
		kill -TERM "$inner_pid" 2>/dev/null
		wait "$inner_pid" 2>/dev/null
	fi
	[ -d "$tree" ] && kill_tree_procs "$tree"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM

say "Debian $version root: a copy of the cached minbase tree in $work"
droot_copy "$codename" "$tree"
case $? in
0) ;;
2) skip "${DROOT_ERROR:-the Debian archive cannot be reached}" ;;
*) fail "${DROOT_ERROR:-droot_copy "$codename" failed}" ;;
esac
[ "$(cat "$tree/etc/greeter-test-release" 2>/dev/null)" = "$codename" ] || fail "$tree is not a Debian $version tree"

# The project as a clone has it, but as this test runs it: git's files of
# the source tree as they are in the work tree now (uncommitted edits
# included; new files not yet added too, unless .gitignore ignores them, as
# it does build directories), owned by root, in root's 0700 home.
say "the project's files from $src to /root/greeter"
chown root:root "$tree/root" && chmod 0700 "$tree/root" && mkdir -m 0755 "$tree/root/greeter" ||
	fail "cannot create /root/greeter in the tree"
(
	cd "$src" || exit 1
	git -c safe.directory="$src" ls-files -z --cached --others --exclude-standard --deduplicate |
		while IFS= read -r -d '' f; do
			{ [ -e "$f" ] || [ -L "$f" ]; } && printf '%s\0' "$f"
		done |
		tar --null --no-recursion -T - -cf - --owner=0 --group=0 --numeric-owner --mode=go-w
) | tar -xf - -C "$tree/root/greeter" || fail "copying the project's files failed"
[ -x "$tree/root/greeter/demo.sh" ] && [ -x "$tree/root/greeter/run-tests.sh" ] ||
	fail "demo.sh or run-tests.sh missing or not executable in the copy"
say "$(find "$tree/root/greeter" -type f | wc -l) files"

# The script that runs inside, out of the project's tree (a newcomer's clone
# does not run it).
mkdir -p "$tree/opt/greeter-newcomer" && cp "$here/inside.sh" "$here/../lib/checks.sh" "$tree/opt/greeter-newcomer/" ||
	fail "cannot copy inside.sh and checks.sh into the tree"
echo "$codename" >"$tree/opt/greeter-newcomer/release"
echo "$suites" >"$tree/opt/greeter-newcomer/suites"

say "inside the Debian $version root (chroot, private mount namespace); its output follows"
droot_run "$tree" /bin/bash /opt/greeter-newcomer/inside.sh &
inner_pid=$!
wait "$inner_pid"
rc=$?
inner_pid=

# Whatever it left running keeps the namespace alive: nothing may be left.
left=$(tree_procs "$tree" | tr '\n' ' ')
if [ -n "$left" ]; then
	# shellcheck disable=SC2086 # a list of pids
	ps -o pid=,user=,args= -p "$(echo $left | tr ' ' ,)" 2>/dev/null | sed 's/^/    left running: /'
	kill_tree_procs "$tree"
	fail "processes left running inside the Debian $version root after it returned: $left"
fi

result=$tree/var/tmp/greeter-newcomer
step=$(cat "$result/failed-step" 2>/dev/null)
[ -f "$result/timings" ] && sed 's/^/    time: /' "$result/timings"
if [ "$rc" -ne 0 ]; then
	# A step whose apt could not reach the archive: the machine cannot do it.
	if [ -n "$step" ] && [ -f "$result/$step.log" ]; then
		droot_why "$result/$step.log"
		[ $? -eq 2 ] && skip "inside the Debian $version root, step '$step': apt could not reach the Debian archive"
	fi
	fail "inside the Debian $version root, step '${step:-unknown}' failed (exit status $rc); see its output above"
fi
say "PASS: demo.sh greeted root and UID 501, run-tests.sh passed on Debian $version ($suites)"
wall
exit 0
