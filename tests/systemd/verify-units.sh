#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The generated units pass `systemd-analyze verify`, with ExecStart= pointing
# at the greeterd just built; their paths agree with greeterd's defaults; the
# sysusers.d file parses.
#
# The metrics service and timer: verified the same way (ExecStart= pointing
# at the greeterctl just built, or at /bin/true when none is built); the
# service writes into the directory it makes writable, at most as exposed as
# greeterd.service (systemd-analyze security), and the timer runs it every 15 s.
#
# verify-units.sh SERVICE SOCKET SYSUSERS GREETERD METRICS_SERVICE METRICS_TIMER
#                 GREETERCTL|- [MAN_PAGE...]
# Exit status: 0 pass, 1 fail, 77 skipped (no systemd-analyze).
set -u
service=$1 socket=$2 sysusers=$3 greeterd=$(realpath "$4")
metrics_service=$5 metrics_timer=$6 greeterctl=$7
shift 7
[ "$greeterctl" = - ] && greeterctl=/bin/true || greeterctl=$(realpath "$greeterctl")

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
sed "s|^ExecStart=[^ ]*/greeterctl |ExecStart=$greeterctl |" "$metrics_service" >"$tmp/units/greeter-metrics.service"
cp "$metrics_timer" "$tmp/units/greeter-metrics.timer"
grep -q "^ExecStart=$greeterctl metrics --output " "$tmp/units/greeter-metrics.service" ||
	bad "could not point greeter-metrics.service's ExecStart= at $greeterctl"
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

for unit in greeterd.service greeterd.socket greeter-metrics.service greeter-metrics.timer; do
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

# The metrics service writes <dir>/greeter.prom into the directory it makes
# writable, runs as root without capabilities, and is started by its timer
# every 15 s (with an accuracy that keeps it so), not at install.
mdir=$(sed -n 's/^Environment=GREETER_METRICS_DIR=//p' "$metrics_service")
[ -n "$mdir" ] && grep -q '^ExecStart=.* metrics --output ${GREETER_METRICS_DIR}/greeter.prom$' "$metrics_service" ||
	bad "greeter-metrics.service does not write \${GREETER_METRICS_DIR}/greeter.prom"
grep -qx "ReadWritePaths=-$mdir" "$metrics_service" ||
	bad "greeter-metrics.service does not make $mdir writable (ReadWritePaths=-$mdir)"
grep -qx "CapabilityBoundingSet=" "$metrics_service" ||
	bad "greeter-metrics.service keeps capabilities"
grep -q '^\[Install\]' "$metrics_service" &&
	bad "greeter-metrics.service has an [Install] section: its timer starts it"
grep -qx "OnUnitActiveSec=15s" "$metrics_timer" && grep -qx "AccuracySec=1s" "$metrics_timer" &&
	grep -qx "WantedBy=timers.target" "$metrics_timer" ||
	bad "greeter-metrics.timer does not run it every 15 s from timers.target"
[ "$fail" = 0 ] && echo "ok: greeter-metrics.service writes $mdir/greeter.prom, every 15 s by its timer"

# Exposure (systemd-analyze security, offline: systemd 252 and later): the
# metrics service is at most as exposed as greeterd.service.
exposure() { # unit: the overall exposure, e.g. 1.3
	(cd "$tmp/units" && systemd-analyze security --offline=yes --no-pager "$PWD/$1" 2>/dev/null) |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
if systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
	m=$(exposure greeter-metrics.service) g=$(exposure greeterd.service)
	if [ -n "$m" ] && [ -n "$g" ] && awk -v m="$m" -v g="$g" 'BEGIN { exit !(m <= g && m <= 1.0) }'; then
		echo "ok: systemd-analyze security: greeter-metrics.service $m, greeterd.service $g"
	else
		bad "systemd-analyze security: greeter-metrics.service '${m}' is not at most 1.0 and greeterd.service's '${g}'"
	fi
fi

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
