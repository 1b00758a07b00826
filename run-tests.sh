#!/bin/bash
# Run greeter's whole test suite on Debian 12 or 13: installs what it needs,
# builds twice and runs every test in both builds: build/ with gcc (the
# build that ships, and the one the vm, newcomer and interop suites use) and
# build-asan/ with clang under ASan+UBSan, so that both compilers build
# everything with -Werror. Needs root: the integration tests load real BPF
# programs. GREETER_TEST_NO_SUITES="vm ..." leaves those suites out;
# GREETER_TEST_SUITES="unit client ..." runs only those. GREETER_TEST_STRESS=1
# runs the tests beside two CPU-bound processes, one per core: a machine
# at a third of its speed, which every test must pass on.
# Last lines: the time each suite took in each build, "N skipped (...)",
# then "N passed, N failed"; the exit status is non-zero when anything
# failed.
set -uo pipefail
T0=$(date +%s)
cd "$(dirname "$0")"
. tests/lib/deps.sh
. tests/lib/build.sh

if [ "$(id -u)" != 0 ]; then
	echo "run-tests.sh: needs root (BPF programs are loaded): run it as root (su -, or sudo $0)" >&2
	exit 2
fi
# shellcheck disable=SC2086 # a list of suite names
greeter_install_test_deps ${GREETER_TEST_SUITES:-} || { echo "run-tests.sh: installing dependencies failed"; echo "0 passed, 1 failed"; exit 1; }

status=0
suites=()
for s in ${GREETER_TEST_SUITES:-}; do
	suites+=(--suite "$s")
done
for s in ${GREETER_TEST_NO_SUITES:-}; do
	suites+=(--no-suite "$s")
done

# Background work, ended with this script however it ends: the CPU hogs
# of GREETER_TEST_STRESS, and the Debian trees of the suites that enter
# other releases, made while the builds and the first suites run
# (tests/lib/prepare-trees.sh, in a process group of its own).
hogs=() prepare=
stop_hogs() {
	[ ${#hogs[@]} -gt 0 ] && kill "${hogs[@]}" 2>/dev/null
	hogs=()
}
trap 'stop_hogs; [ -n "$prepare" ] && kill -TERM -- -"$prepare" 2>/dev/null' EXIT
case " ${GREETER_TEST_SUITES:-vm} " in *" vm "* | *" package "* | *" newcomer "* | *" interop "*)
	plog=${GREETER_TEST_CACHE:-/var/cache/greeter-test}/prepare-trees.log
	mkdir -p "$(dirname "$plog")"
	echo "==> making the Debian trees in the background ($plog)"
	setsid tests/lib/prepare-trees.sh . >"$plog" 2>&1 &
	prepare=$!
	;;
esac

echo "==> building build/ (gcc)"
greeter_build build gcc || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
echo "==> building build-asan/ (clang, ASan+UBSan)"
greeter_build build-asan clang -Db_sanitize=address,undefined -Db_lundef=false || {
	echo "ASan build failed"; echo "0 passed, 1 failed"; exit 1; }

if [ "${GREETER_TEST_STRESS:-0}" = 1 ]; then
	echo "==> GREETER_TEST_STRESS=1: two CPU-bound processes beside the tests"
	for _ in 1 2; do
		/bin/bash -c 'while :; do :; done' &
		hogs+=($!)
	done
fi

rm -f build/meson-logs/testlog.json build-asan/meson-logs/testlog.json
echo "==> tests"
meson test -C build --print-errorlogs --num-processes 2 "${suites[@]}" || status=1
echo "==> tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --num-processes 2 --no-suite bench-smoke "${suites[@]}" || status=1
stop_hogs

python3 tests/lib/testlog.py summary "$(($(date +%s) - T0))" build/meson-logs/testlog.json \
	build-asan/meson-logs/testlog.json
count=$?
[ $status -ne 0 ] || [ $count -ne 0 ] && exit 1
exit 0
