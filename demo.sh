#!/bin/bash
# The main job, from a fresh Debian 12 or 13 machine: install the build
# dependencies, build, mount bpffs if needed, start greeterd, set "Hey root!"
# for UID 0 and "Hi user 501!" for UID 501, run a program as root and as UID
# 501, and show the greeted events. greeterd keeps running afterwards. When
# greeterd exits instead of serving, its own log lines say why (exit status 1).
#
# Environment, to run a second demo beside another greeterd (tests do):
#   GREETER_PIN_DIR     greeterd's pin directory (default /sys/fs/bpf/greeter)
#   GREETER_SOCKET      its socket (default /run/greeter/greeter.sock); its log
#                       (greeterd.log) and pid file (greeterd.pid) go beside it
#   STATE_DIRECTORY, CACHE_DIRECTORY   read by greeterd itself (greeterd(8))
#   GREETER_DEMO_BUILD  a build directory already built: its greeterd and
#                       greeterctl are used, nothing is installed or built
set -euo pipefail
cd "$(dirname "$0")"
. tests/lib/deps.sh
. tests/lib/build.sh

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: needs root (it loads BPF programs): run it as root (su -, or sudo $0)" >&2
	exit 2
fi
pin_dir=${GREETER_PIN_DIR:-/sys/fs/bpf/greeter}
export GREETER_SOCKET=${GREETER_SOCKET:-/run/greeter/greeter.sock} # greeterctl reads it
run_dir=$(dirname "$GREETER_SOCKET")
log=$run_dir/greeterd.log

if [ -n "${GREETER_DEMO_BUILD:-}" ]; then
	build=$(realpath "$GREETER_DEMO_BUILD")
else
	# shellcheck disable=SC2086 # a list of packages
	greeter_install_deps $GREETER_BUILD_DEPS
	# The system's C compiler (gcc where installed, else the clang just
	# installed), or $CC.
	compiler=${CC:-cc}
	command -v "$compiler" >/dev/null || compiler=clang
	echo "==> building (build/, $compiler)"
	greeter_build build "$compiler" || exit 1
	build=$PWD/build
fi
GREETERD=$build/daemon/greeterd
GREETERCTL=$build/client/greeterctl

if ! mountpoint -q /sys/fs/bpf; then
	echo "==> mounting bpffs on /sys/fs/bpf"
	mount -t bpf bpf /sys/fs/bpf
fi

# not_serving FIRST_LOG_LINE WHAT: greeterd does not serve; its log lines
# of this start say why.
not_serving() {
	tail -n "+$1" "$log" | sed 's/^/    greeterd| /' >&2
	echo "demo.sh: greeterd $2; its reason is above (from $log). Do what it says, then run" \
		"$0 again (GREETER_PIN_DIR, GREETER_SOCKET and STATE_DIRECTORY give greeterd" \
		"other places: see the head of $0)." >&2
	exit 1
}

if "$GREETERCTL" status >/dev/null 2>&1; then
	echo "==> greeterd is already running"
else
	echo "==> starting greeterd (log: $log)"
	mkdir -p "$run_dir" && touch "$log"
	first=$(($(wc -l <"$log") + 1))
	"$GREETERD" --pin-dir "$pin_dir" --socket "$GREETER_SOCKET" >>"$log" 2>&1 &
	pid=$!
	echo "$pid" >"$run_dir/greeterd.pid"
	# Until it serves, or exits (bash reaps it: kill -0 fails at once). A
	# start takes milliseconds; a minute without either is a greeterd stuck.
	for _ in $(seq 600); do
		"$GREETERCTL" status >/dev/null 2>&1 && break
		if ! kill -0 "$pid" 2>/dev/null; then
			status=0
			wait "$pid" || status=$?
			not_serving "$first" "exited with status $status before it served"
		fi
		sleep 0.1
	done
	"$GREETERCTL" status >/dev/null 2>&1 ||
		not_serving "$first" "(pid $pid) runs but has not served on $GREETER_SOCKET for a minute"
fi
"$GREETERCTL" status | head -n 4

echo "==> setting messages"
echo "+ greeterctl set 0 \"Hey root!\""
"$GREETERCTL" set 0 "Hey root!"
echo "+ greeterctl set 501 \"Hi user 501!\""
"$GREETERCTL" set 501 "Hi user 501!"
"$GREETERCTL" list

echo "==> running /usr/bin/id as root and as UID 501, watching with greeterctl tail"
events=$(mktemp)
timeout 20 "$GREETERCTL" tail --comm setpriv -n 2 >"$events" &
tail_pid=$!
sleep 0.5
setpriv --reuid=0 --regid=0 --clear-groups /usr/bin/id >/dev/null
setpriv --reuid=501 --regid=501 --clear-groups /usr/bin/id >/dev/null
wait "$tail_pid" || true
cat "$events"
rm -f "$events"

cat <<EOT

greeterd keeps running. Try:
  $GREETERCTL tail            # follow every program start
  $GREETERCTL status
Stop it with:       kill \$(cat $run_dir/greeterd.pid)
Remove the pins:    $GREETERD --pin-dir $pin_dir --remove-pins   (after stopping it)
EOT
