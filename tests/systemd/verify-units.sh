#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The generated units pass `systemd-analyze verify`, with ExecStart= pointing
# at the greeterd just built; their paths agree with greeterd's defaults; the
# sysusers.d file parses.
#
# verify-units.sh SERVICE SOCKET SYSUSERS GREETERD [MAN_PAGE...]
# Exit status: 0 pass, 1 fail, 77 skipped (no systemd-analyze).
set -u
service=$1 socket=$2 sysusers=$3 greeterd=$(realpath "$4")
shift 4

if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze is not installed"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

mkdir "$tmp/units"
sed "s|^ExecStart=.*/greeterd\\b|ExecStart=$greeterd|" "$service" >"$tmp/units/greeterd.service"
cp "$socket" "$tmp/units/greeterd.socket"
grep -qx "ExecStart=$greeterd" "$tmp/units/greeterd.service" ||
	bad "could not point ExecStart= at $greeterd"

# Documentation=man:... is checked against the pages just built, when all
# of them are there and man(1) can read them; otherwise not at all.
man_opt=--man=no
if [ $# -gt 0 ] && command -v man >/dev/null; then
	for page in "$@"; do
		name=$(basename "$page")
		mkdir -p "$tmp/man/man${name##*.}"
		ln -s "$(realpath "$page")" "$tmp/man/man${name##*.}/$name"
	done
	export MANPATH=$tmp/man
	man_opt=--man=yes
fi

for unit in greeterd.service greeterd.socket; do
	if out=$(cd "$tmp/units" && systemd-analyze verify $man_opt "$PWD/$unit" 2>&1) && [ -z "$out" ]; then
		echo "ok: systemd-analyze verify $man_opt $unit"
	else
		bad "systemd-analyze verify $man_opt $unit:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
done

# The units and greeterd agree on where things are.
help=$("$greeterd" --help)
default_of() { printf '%s\n' "$help" | tr -s ' \n' ' ' | sed -n "s/.*$1 [A-Z]* *[^(]*(default \\([^)]*\\)).*/\\1/p"; }
sock=$(default_of --socket)
pins=$(default_of --pin-dir)
grep -qx "ListenStream=$sock" "$socket" ||
	bad "greeterd.socket does not listen on greeterd's default socket $sock"
grep -qx "ReadWritePaths=-$pins" "$service" ||
	bad "greeterd.service does not make greeterd's default pin directory $pins writable"
grep -q "^ExecStartPre=+mkdir -p -m 0700 $pins\$" "$service" ||
	bad "greeterd.service does not create the pin directory $pins before the sandbox"
[ "$fail" = 0 ] && echo "ok: socket $sock and pin directory $pins agree with greeterd --help"

# sysusers.d: parses, and creates the admin group.
if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$tmp/root/etc"
	if out=$(systemd-sysusers --dry-run --root="$tmp/root" "$sysusers" 2>&1); then
		echo "ok: systemd-sysusers --dry-run: $out"
	else
		bad "systemd-sysusers --dry-run $sysusers: $out"
	fi
fi

exit $fail
