#!/bin/bash
# Build the libFuzzer targets with clang (ASan + UBSan) in build-fuzz and run
# them, each from its seed corpus (tests/fuzz/corpus/<target>, which includes
# every crash ever found) plus what earlier runs found (build-fuzz/corpus).
#
#   tests/fuzz/run-fuzz.sh [--short | --time SECONDS] [target...]
#
# --short: 15 s per target (the meson test "fuzz-short"); the default is
# 150 s per target, 10 minutes for all four. Exit status: 0, 1 when a target
# crashed (the input is in build-fuzz/artifacts/) or the build failed, 77 when
# clang's libFuzzer is not available here.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${GREETER_FUZZ_BUILD:-$root/build-fuzz}
seconds=150
targets=()

while [ $# -gt 0 ]; do
	case $1 in
	--short) seconds=15 ;;
	--time) seconds=$2; shift ;;
	-h|--help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
	fuzz_*) targets+=("$1") ;;
	*) echo "run-fuzz.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[ ${#targets[@]} -gt 0 ] ||
	targets=(fuzz_varlink_server fuzz_varlink_framer fuzz_validate fuzz_messages_json fuzz_change_record fuzz_event_record)

# Is libFuzzer really there? (Debian: libclang-rt-14-dev, or clang 13's own.)
if ! command -v clang >/dev/null; then
	echo "SKIP: no clang"
	exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
	echo "SKIP: clang cannot link -fsanitize=fuzzer here:"
	cat "$probe/err"
	exit 77
fi

# One build at a time (two test runs may race for the directory).
exec 9<"$0"
flock 9

if [ ! -f "$build/build.ninja" ]; then
	rm -rf "$build"
	echo "==> setting up $build (clang, ASan + UBSan)"
	if ! CC=clang meson setup "$build" "$root" -Db_sanitize=address,undefined \
		-Db_lundef=false >"$probe/setup.log" 2>&1; then
		cat "$probe/setup.log"
		echo "FAIL: meson setup of $build"
		exit 1
	fi
fi
# Only the fuzz targets: the rest of the tree is not needed here.
if ! ninja -C "$build" "${targets[@]/#/tests/fuzz/}" >"$probe/build.log" 2>&1; then
	cat "$probe/build.log"
	echo "FAIL: building the fuzz targets"
	exit 1
fi

declare -A dict=(
	[fuzz_varlink_server]=varlink.dict
	[fuzz_varlink_framer]=varlink.dict
	[fuzz_validate]=json.dict
	[fuzz_messages_json]=json.dict
	[fuzz_change_record]=change_log.dict
	[fuzz_event_record]=event_record.dict
)
declare -A max_len=(
	[fuzz_varlink_server]=16384
	[fuzz_varlink_framer]=8192
	[fuzz_validate]=1024
	[fuzz_messages_json]=8192
	[fuzz_change_record]=8192
	[fuzz_event_record]=2048
)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
printf '%-22s %12s %10s %8s %8s %s\n' target runs exec/s cov ft result
for t in "${targets[@]}"; do
	work=$build/corpus/$t
	log=$build/logs/$t.log
	mkdir -p "$work" "$build/artifacts" "$build/logs"
	# New inputs go to the first directory, never to the committed seeds.
	# -error_exitcode: libFuzzer's default, 77, would mean "skipped" to meson.
	"$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -error_exitcode=1 -max_len="${max_len[$t]}" \
		-dict="$here/${dict[$t]}" -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$t-" "$work" "$here/corpus/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	if [ $rc -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc, log $log)"
		status=1
	fi
	printf '%-22s %12s %10s %8s %8s %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" \
		"${ft:-?}" "$result"
	if [ $rc -ne 0 ]; then
		grep -E 'ERROR|SUMMARY|Test unit written|^ +#[0-9]+ ' "$log" | head -40
	fi
done
exit $status
