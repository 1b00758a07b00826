#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The journal path of greeter's events on this machine, at its own speed:
# greeterd --journal-events under an exec storm, into a journald of its own,
# shipped over TLS by systemd-journal-upload to systemd-journal-remote.
#
#   bench/journal.sh BUILD_DIR SECONDS [unit|none] [BURST]
#
# This machine runs no systemd, so the script stands in for it, as little
# as it can and as systemd does it: in private mount and network
# namespaces, net.unix.max_dgram_qlen 512 (PID 1 sets it at boot), a tmpfs
# on /run/systemd and /run/log (2 GiB: journald's runtime journal, at most
# 10 % of it), systemd-journald started by hand, greeterd in the cgroup of
# greeterd.service, and with "unit" (the default) the unit's
# LogRateLimitBurst= exported to journald as PID 1 exports it
# (/run/systemd/units/log-rate-limit-burst:greeterd.service); with "none"
# the unit sets nothing. BURST, when given, is journald.conf's
# RateLimitBurst= (default 10000): a machine of the kind 4x faster reaches
# the default limit at the rate this one reaches a quarter of it.
#
# Prints: execs and their rate, greeter's entries in the journal against the
# events greeterd handed to it, what greeterd counted as dropped, what
# journald said it suppressed; then the same entries on the collector and
# how long the upload took. Needs root, bpffs, systemd-journal-remote,
# openssl.
set -euo pipefail
build=$(realpath "${1:?usage: journal.sh BUILD_DIR SECONDS [unit|none] [BURST]}")
secs=${2:?usage}
mode=${3:-unit}
burst=${4:-}
here=$(dirname "$(realpath "$0")")

if [ "${GREETER_JOURNAL_BENCH_INNER:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "journal.sh: needs root" >&2; exit 77; }
	for t in /lib/systemd/systemd-journald /lib/systemd/systemd-journal-remote \
		/lib/systemd/systemd-journal-upload; do
		[ -x "$t" ] || { echo "journal.sh: $t missing (apt-get install systemd-journal-remote)" >&2; exit 77; }
	done
	command -v openssl >/dev/null || { echo "journal.sh: openssl missing" >&2; exit 77; }
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
	GREETER_JOURNAL_BENCH_INNER=1 exec unshare --propagation=private -m -n "$0" "$@"
fi

work=$(mktemp -d /tmp/greeter-journal-bench.XXXXXX)
pins=/sys/fs/bpf/greeter-journal-bench-$$
cg=system.slice/greeterd.service
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$build/daemon/greeterd" --pin-dir "$pins" --remove-pins >/dev/null 2>&1 || true
	for h in systemd unified; do rmdir "/sys/fs/cgroup/$h/$cg" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

ip link set lo up
sysctl -qw net.unix.max_dgram_qlen=512
mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/journal /run/systemd/units /run/log
mount -t tmpfs -o size=2g tmpfs /run/log
if [ -n "$burst" ]; then
	mkdir -p "$work/etc"
	printf '[Journal]\nRateLimitBurst=%s\n' "$burst" >"$work/etc/journald.conf"
	mount --bind "$work/etc/journald.conf" /etc/systemd/journald.conf
fi
[ "$mode" = unit ] &&
	ln -s "$(sed -n 's/^LogRateLimitBurst=//p' "$here/../systemd/greeterd.service.in")" \
		"/run/systemd/units/log-rate-limit-burst:greeterd.service"
/lib/systemd/systemd-journald >"$work/journald.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done

# greeterd in greeterd.service's cgroup: journald names the unit from it.
for h in systemd unified; do [ -d "/sys/fs/cgroup/$h" ] && mkdir -p "/sys/fs/cgroup/$h/$cg"; done
sock=$work/greeter.sock
mkdir -p "$work/state"
sh -c 'for h in systemd unified; do [ -d /sys/fs/cgroup/$h/$0 ] && echo $$ >/sys/fs/cgroup/$h/$0/cgroup.procs; done; exec "$@"' \
	"$cg" "$build/daemon/greeterd" --pin-dir "$pins" --socket "$sock" --state-dir "$work/state" \
	--journal-events >"$work/greeterd.log" 2>&1 &
pids+=($!)
status() { GREETER_SOCKET=$sock "$build/client/greeterctl" status --json; }
for _ in $(seq 300); do status >/dev/null 2>&1 && break; sleep 0.1; done

# The collector over TLS, with keys made here. Debian's journal-remote is
# built without client certificate checks ("Option --trust is not
# available"): the uploader checks the collector, not the other way round.
ssl() { openssl "$@" >/dev/null 2>&1; }
ssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench-ca -keyout "$work/ca.key" -out "$work/ca.pem"
for n in collector host; do
	ssl req -newkey rsa:2048 -nodes -subj "/CN=$n" -addext "subjectAltName=IP:127.0.0.1" \
		-keyout "$work/$n.key" -out "$work/$n.csr"
	ssl x509 -req -in "$work/$n.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
		-days 1 -copy_extensions copy -out "$work/$n.pem"
done
mkdir -p "$work/remote"
/lib/systemd/systemd-journal-remote --listen-https=127.0.0.1:19532 --output="$work/remote/" \
	--key="$work/collector.key" --cert="$work/collector.pem" \
	>"$work/remote.log" 2>&1 &
pids+=($!)
sleep 1
/lib/systemd/systemd-journal-upload --url=https://127.0.0.1:19532 -D /run/log/journal --follow \
	--key="$work/host.key" --cert="$work/host.pem" --trust="$work/ca.pem" \
	--save-state="$work/upload.state" >"$work/upload.log" 2>&1 &
pids+=($!)

before=$(status)
marker=$work/storm-marker
cp /bin/true "$marker"
t0=$(date +%s.%N)
"$build/bench/loadgen" -t "$secs" -w 2 "$marker" | tee "$work/loadgen.out"
t_storm=$(date +%s.%N)
execs=$(sed -n 's/.*execs=\([0-9]*\).*/\1/p' "$work/loadgen.out")

count() { journalctl "$@" -o export 2>/dev/null | grep -c "^GREETER_FILENAME=$marker\$" || true; }
# Until greeterd has handed on every event of the storm (its exits too), or
# the journal took nothing more for 10 s (what it dropped stays dropped).
want=$((2 * execs))
last=-1 still=0
while [ "$still" -lt 20 ]; do
	n=$(count -D /run/log/journal)
	[ "$n" -ge "$want" ] && break
	if [ "$n" = "$last" ]; then still=$((still + 1)); else still=0 last=$n; fi
	sleep 0.5
done
after=$(status)
local_entries=$(count -D /run/log/journal)
# The collector: until it has what the journal has, or nothing new for 60 s.
last=-1 still=0
while [ "$still" -lt 120 ]; do
	n=$(count -D "$work/remote")
	[ "$n" -ge "$local_entries" ] && break
	if [ "$n" = "$last" ]; then still=$((still + 1)); else still=0 last=$n; fi
	sleep 0.5
done
t_shipped=$(date +%s.%N)
remote_entries=$(count -D "$work/remote")

# The collector's throughput: the whole journal again, as a backlog, to a
# second collector by a second uploader with no state.
mkdir -p "$work/remote2"
/lib/systemd/systemd-journal-remote --listen-https=127.0.0.1:19533 --output="$work/remote2/" \
	--key="$work/collector.key" --cert="$work/collector.pem" >"$work/remote2.log" 2>&1 &
pids+=($!)
sleep 1
all=$(journalctl -D /run/log/journal -o export 2>/dev/null | grep -c '^__CURSOR=' || true)
tb0=$(date +%s.%N)
/lib/systemd/systemd-journal-upload --url=https://127.0.0.1:19533 -D /run/log/journal --follow=no \
	--key="$work/host.key" --cert="$work/host.pem" --trust="$work/ca.pem" >"$work/upload2.log" 2>&1 || true
tb1=$(date +%s.%N)
backlog=$(journalctl -D "$work/remote2" -o export 2>/dev/null | grep -c '^__CURSOR=' || true)
counter() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["counters"][sys.argv[2]])' "$1" "$2"; }
dropped=$(($(counter "$after" dropped_journal) - $(counter "$before" dropped_journal)))
suppressed=$(journalctl -D /run/log/journal -o cat 2>/dev/null | sed -n 's/^Suppressed \([0-9]*\) messages from greeterd.service.*/\1/p' |
	awk '{ s += $1 } END { print s + 0 }')

lost=$((want - local_entries))
awk -v e="$execs" -v s="$secs" -v w="$want" -v l="$local_entries" -v d="$dropped" -v q="$suppressed" \
	-v r="$remote_entries" -v t0="$t0" -v ts="$t_storm" -v t1="$t_shipped" -v all="$all" -v bl="$backlog" -v tb="$tb0" -v tb1="$tb1" -v m="$mode" -v b="${burst:-10000 (default)}" 'BEGIN {
	printf "unit setting: %s; journald RateLimitBurst=%s\n", m, b
	printf "storm: %d execs in %d s (%.0f/s): %d events (exec and exit) for the journal\n", e, s, e / s, w
	printf "journal: %d entries (%.1f %%), greeterd counted %d dropped, journald suppressed %d of greeterd.service\n", l, 100 * l / w, d, q
	printf "collector, live: %d entries (%.1f %% of the journal) %.1f s after the storm began (%.1f s after it ended)\n", r, 100 * r / (l ? l : 1), t1 - t0, t1 - ts
	printf "collector, backlog: %d of %d journal entries in %.1f s: %.0f entries/s shipped\n", bl, all, tb1 - tb, bl / (tb1 - tb)
}'
# Nothing lost but what greeterd counted, with the unit's setting; the
# collector has all the journal has.
[ "$mode" != unit ] || [ "$lost" -le "$dropped" ] || { echo "journal.sh: $lost entries lost, $dropped counted" >&2; exit 1; }
[ "$remote_entries" -ge "$local_entries" ] || { echo "journal.sh: the collector lacks entries" >&2; exit 1; }
