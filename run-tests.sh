#!/bin/bash
# Run greeter's whole test suite on Debian 12 or 13: installs what it needs,
# builds twice and runs every test in both builds: build/ with gcc (the
# build that ships, and the one the vm, newcomer and interop suites use) and
# build-asan/ with clang under ASan+UBSan, so that both compilers build
# everything with -Werror. Needs root: the integration tests load real BPF
# programs. GREETER_TEST_NO_SUITES="vm ..." leaves those suites out.
# Last lines: "N skipped (...)", then "N passed, N failed"; the exit status
# is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")"
. tests/lib/deps.sh
. tests/lib/build.sh

if [ "$(id -u)" != 0 ]; then
	echo "run-tests.sh: needs root (BPF programs are loaded): sudo $0" >&2
	exit 2
fi
greeter_install_test_deps || { echo "run-tests.sh: installing dependencies failed"; echo "0 passed, 1 failed"; exit 1; }

status=0
no_suites=()
for s in ${GREETER_TEST_NO_SUITES:-}; do
	no_suites+=(--no-suite "$s")
done

echo "==> building build/ (gcc)"
greeter_build build gcc || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
echo "==> building build-asan/ (clang, ASan+UBSan)"
greeter_build build-asan clang -Db_sanitize=address,undefined -Db_lundef=false || {
	echo "ASan build failed"; echo "0 passed, 1 failed"; exit 1; }

echo "==> tests"
meson test -C build --print-errorlogs --num-processes 2 "${no_suites[@]}" || status=1
echo "==> tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-asan --print-errorlogs --num-processes 2 --no-suite bench "${no_suites[@]}" || status=1

python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        try:
            r = json.loads(line).get("result")
        except ValueError:
            r = "UNREADABLE"
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
# The last line is what CI reads: "N passed, N failed".
print("%d skipped (exit status 77: what this kernel or build cannot do)" % skipped)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
count=$?
[ $status -ne 0 ] || [ $count -ne 0 ] && exit 1
exit 0
