#!/bin/bash
# The main job, from a fresh Debian 12 or 13 machine: install the build
# dependencies, build, mount bpffs if needed, start greeterd, set "Hey root!"
# for UID 0 and "Hi user 501!" for UID 501, run a program as root and as UID
# 501, and show the greeted events. greeterd keeps running afterwards.
set -euo pipefail
cd "$(dirname "$0")"
. tests/lib/deps.sh
. tests/lib/build.sh

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: needs root (it loads BPF programs): run it as root (su -, or sudo $0)" >&2
	exit 2
fi
greeter_install_deps $GREETER_BUILD_DEPS

# The system's C compiler (gcc where installed, else the clang just
# installed), or $CC.
compiler=${CC:-cc}
command -v "$compiler" >/dev/null || compiler=clang
echo "==> building (build/, $compiler)"
greeter_build build "$compiler" || exit 1

GREETERD=$PWD/build/daemon/greeterd
GREETERCTL=$PWD/build/client/greeterctl

if ! mountpoint -q /sys/fs/bpf; then
	echo "==> mounting bpffs on /sys/fs/bpf"
	mount -t bpf bpf /sys/fs/bpf
fi

if "$GREETERCTL" status >/dev/null 2>&1; then
	echo "==> greeterd is already running"
else
	echo "==> starting greeterd (log: /run/greeter/greeterd.log)"
	mkdir -p /run/greeter
	"$GREETERD" >>/run/greeter/greeterd.log 2>&1 &
	echo $! >/run/greeter/greeterd.pid
	for _ in $(seq 100); do
		"$GREETERCTL" status >/dev/null 2>&1 && break
		sleep 0.1
	done
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
Stop it with:       kill \$(cat /run/greeter/greeterd.pid)
Remove the pins:    $GREETERD --remove-pins   (after stopping it)
EOT
