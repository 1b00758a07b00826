# shellcheck shell=sh
# An exec storm against greeterd --journal-events (issue 32, item 1), in the
# Debian 13 package guest (package-guest.sh sources it, after
# package-ship-guest.sh): the packaged greeterd.service under Debian's journald
# defaults. Nothing may be lost between greeterd and the journal unsaid:
# every event of the storm's span is an entry in the journal, or counted
# by greeterd (dropped_journal: the journal's socket was full; lost_kernel:
# the ring was), and journald suppresses none of greeterd's entries.
#
# Storm 1: exec loops as fast as the guest goes for 60 s. Under TCG this
# stays far below what a real machine makes, and may stay below journald's
# default burst (10,000 entries per 30 s, scaled up with the free disk
# space), so storm 2 runs with a tiny burst (10 per 5 s, a journald.conf
# drop-in) and a control unit logging a line per exec, as fast as a loop:
# journald suppresses the control, not greeterd. journald's defaults are
# restored afterwards.

storm_marker=/usr/local/bin/gvm-storm
storm_exec_id=5e7a0a9a1d2c4f5b8b1e6c3d2a4f7b90
storm_exit_id=8e92b4000ffd4dd59d7c1a1ef5db4849

counter() { ctl status --json | grep -o "\"$1\":[0-9]*" | grep -o '[0-9]*$'; }
# journald's "Suppressed N messages from UNIT" lines this boot (written
# when the unit's next line comes after the interval it was limited in).
suppressed() {
	journalctl -b --no-pager -o cat -t systemd-journald 2>/dev/null | grep -cE "^Suppressed [0-9]+ messages from (.*/)?$1\$"
}

# LOOPS exec loops of the marker for SECONDS (a duration of load, not a
# proof); prints the number of execs they made.
storm_loops() { # seconds loops
	rm -f /tmp/storm-stop /tmp/storm.count.*
	_pids=
	_l=1
	while [ $_l -le "$2" ]; do
		(
			_n=0
			while [ ! -e /tmp/storm-stop ]; do
				"$storm_marker"
				_n=$((_n + 1))
			done
			echo $_n >/tmp/storm.count.$_l
		) &
		_pids="$_pids $!"
		_l=$((_l + 1))
	done
	sleep "$1"
	touch /tmp/storm-stop
	# shellcheck disable=SC2086 # a list of pids
	wait $_pids
	cat /tmp/storm.count.* | awk '{ s += $1 } END { print s + 0 }'
}

# greeterd's event entries of this boot as "SEQ KIND FILE" lines.
storm_dump() {
	journalctl -b --no-pager -o json --output-fields=GREETER_SEQ,GREETER_KIND,GREETER_FILENAME \
		_SYSTEMD_UNIT=greeterd.service MESSAGE_ID=$storm_exec_id MESSAGE_ID=$storm_exit_id 2>/dev/null | awk '{
		s = k = f = "-"
		if (match($0, /"GREETER_SEQ":"[0-9]+"/)) s = substr($0, RSTART + 15, RLENGTH - 16)
		if (match($0, /"GREETER_KIND":"[a-z]+"/)) k = substr($0, RSTART + 16, RLENGTH - 17)
		if (match($0, /"GREETER_FILENAME":"[^"]*"/)) f = substr($0, RSTART + 20, RLENGTH - 21)
		print s, k, f }'
}
# From the dump: the marker's exec and exit entries, the span of sequence
# numbers from its first event to its last, and the entries in that span
# (every event greeterd wrote meanwhile, the marker's or not):
# sets st_execs_seen st_exits_seen st_first st_last st_in_span.
storm_tally() {
	# shellcheck disable=SC2046 # five numbers
	set -- $(awk -v m="$storm_marker" '
		NR == FNR { if ($3 == m) { if ($2 == "exec") e++; else x++
			if (lo == "" || $1 + 0 < lo) lo = $1 + 0; if ($1 + 0 > hi) hi = $1 + 0 }; next }
		$1 != "-" && $1 + 0 >= lo && $1 + 0 <= hi { n++ }
		END { print e + 0, x + 0, lo + 0, hi + 0, n + 0 }' /tmp/storm.dump /tmp/storm.dump)
	st_execs_seen=$1 st_exits_seen=$2 st_first=$3 st_last=$4 st_in_span=$5
}
# Every event of the span accounted for: written, or counted as dropped or
# lost (lost events take a sequence number too: the gap shows the loss).
storm_accounted() {
	journalctl --sync
	storm_dump >/tmp/storm.dump
	storm_tally
	st_dropped=$(($(counter dropped_journal) - st_d0))
	st_lost=$(($(counter lost_kernel) - st_l0))
	[ $((st_in_span + st_dropped + st_lost)) = $((st_last - st_first + 1)) ]
}

# One storm: NAME SECONDS LOOPS; the checks and the figures.
storm_run() { # name seconds loops
	st_d0=$(counter dropped_journal)
	st_l0=$(counter lost_kernel)
	st_s0=$(suppressed greeterd.service)
	# A marker of its own per storm, so that each counts its own entries.
	storm_marker=/usr/local/bin/gvm-$1
	cp /bin/true "$storm_marker"
	st_t0=$(date +%s%N)
	st_made=$(storm_loops "$2" "$3")
	st_ms=$((($(date +%s%N) - st_t0) / 1000000))
	# Until greeterd and journald have caught up (journalctl --sync: all
	# that was sent before it is written), with a deadline for a slow guest.
	wait_until 600 storm_accounted
	say "$1: $3 loops for $2 s: $st_made execs ($((st_made * 1000 / st_ms))/s);" \
		"exec entries $st_execs_seen, exit entries $st_exits_seen; dropped_journal $st_dropped, lost_kernel $st_lost;" \
		"the span: seq $st_first-$st_last, $((st_last - st_first + 1)) events, $st_in_span entries"
	check "$1: every event of the span in the journal or counted by greeterd ($st_in_span entries + $st_dropped dropped + $st_lost lost = $((st_last - st_first + 1)) events)" \
		test $((st_in_span + st_dropped + st_lost)) = $((st_last - st_first + 1))
	check "$1: exec entries = execs made - dropped ($st_execs_seen of $st_made, $st_dropped dropped)" \
		eval '[ "$st_execs_seen" -le "$st_made" ] && [ "$st_execs_seen" -ge $((st_made - st_dropped - st_lost)) ] &&
		{ [ $((st_dropped + st_lost)) -gt 0 ] || [ "$st_execs_seen" = "$st_made" ]; }'
	st_s1=$(suppressed greeterd.service)
	check "$1: journald suppressed none of greeterd's entries (no \"Suppressed ... greeterd.service\")" test "$st_s1" = "$st_s0"
}

storm() {
	storm_run storm 60 3
	# ---- storm 2: a tiny burst, and a control unit that logs a line per
	# exec of the same marker.
	mkdir -p /etc/systemd/journald.conf.d
	# (5 s, not 30: journald says what it suppressed only when the next
	# interval begins, which a storm of 15 s must see.)
	printf '[Journal]\nRateLimitIntervalSec=5s\nRateLimitBurst=10\n' >/etc/systemd/journald.conf.d/gvm-storm.conf
	check "journald restarted with RateLimitBurst=10 per 5 s" eval 'systemctl restart systemd-journald && active systemd-journald'
	c0=$(suppressed gvm-control.service)
	rm -f /tmp/control-stop /tmp/control.count
	cp /bin/true /usr/local/bin/gvm-control-mark
	check "the control unit started (systemd-run)" systemd-run --quiet --unit=gvm-control sh -c \
		'n=0; while [ ! -e /tmp/control-stop ]; do /usr/local/bin/gvm-control-mark; echo "gvm-control line $n"; n=$((n + 1)); done; echo $n >/tmp/control.count'
	storm_run storm2 15 2
	touch /tmp/control-stop
	wait_until 120 test -s /tmp/control.count
	c_made=$(cat /tmp/control.count 2>/dev/null)
	c_seen=$(journalctl -b --no-pager -o cat -u gvm-control | grep -c '^gvm-control line')
	c1=$(suppressed gvm-control.service)
	say "storm2: the control logged $c_made lines, $c_seen in the journal; journald suppressed it $((c1 - c0)) times"
	check "storm2: journald suppressed the control unit (\"Suppressed ... gvm-control.service\")" \
		eval '[ "$c1" -gt "$c0" ] && [ "$c_seen" -lt "$c_made" ]'
	rm -f /etc/systemd/journald.conf.d/gvm-storm.conf
	check "journald's defaults restored" eval 'systemctl restart systemd-journald && active systemd-journald'
}
