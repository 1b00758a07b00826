# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# greeterd's journal entries shipped by Debian's own tools (issue 32), in
# the Debian 13 package guest (package-guest.sh sources it; package-net.sh
# set the guest up): greeterd --journal-events (a drop-in, as greeterd(8)
# shows), the packaged systemd-journal-upload, and the packaged
# systemd-journal-remote as the collector in the network namespace
# "collector" (10.77.0.2, TLS both ways), writing /var/log/journal/remote.
#
# Boot 1: N execs of a marker become exactly N exec entries on the
# collector, each with the fields of this host's entry; the collector
# stopped, M more, started again: N+M, none twice; the uploader stopped, K
# more just before the reboot. Boot 2: all N+M+K, none twice (the uploader
# resumed from its saved cursor); L more after the reboot: every
# entry there once, fields equal; journalctl -x explains the entries
# (greeter's catalog).

ship_msgid=5e7a0a9a1d2c4f5b8b1e6c3d2a4f7b90
ship_marker=/usr/local/bin/gvm-ship
collector_dir=/var/log/journal/remote
SHIP_N=20 SHIP_M=20 SHIP_K=20 SHIP_L=20

# The GREETER_EXEC_ID of each exec entry of the marker's, one a line: in
# this host's journal, or with "-D DIR" in the collector's files.
ship_ids() {
	journalctl "$@" --no-pager -o cat --output-fields=GREETER_EXEC_ID \
		MESSAGE_ID=$ship_msgid GREETER_FILENAME=$ship_marker 2>/dev/null | grep .
}
ship_count() { ship_ids "$@" | wc -l; }
ship_distinct() { ship_ids "$@" | sort -u | wc -l; }
local_has() { [ "$(ship_count)" -ge "$1" ]; }
collector_has() { [ "$(ship_count -D $collector_dir)" -ge "$1" ]; }
ship_execs() { # count
	_se=0
	while [ $_se -lt "$1" ]; do
		"$ship_marker"
		_se=$((_se + 1))
	done
}

# After TOTAL execs: exactly TOTAL entries in this host's journal and,
# once uploaded, on the collector, each exec there once.
ship_expect() { # total what
	_want=$1
	wait_until 120 local_has "$_want"
	_local=$(ship_count)
	check "$2: $_want exec entries of the marker in this host's journal ($_local)" test "$_local" = "$_want"
	wait_until 300 collector_has "$_want"
	_got=$(ship_count -D $collector_dir)
	_uniq=$(ship_distinct -D $collector_dir)
	say "$2: the collector has $_got entries, $_uniq distinct GREETER_EXEC_IDs (of $_want)"
	check "$2: exactly $_want on the collector, none twice ($_got entries, $_uniq execs)" \
		eval '[ "$_got" = "$_want" ] && [ "$_uniq" = "$_want" ]'
}

# The marker's entries as "GREETER_EXEC_ID FIELD=VALUE" lines, sorted: every
# field but the journal's own (those beginning with "__": cursor, the
# receiver's timestamps and sequence numbers, which each journal sets).
ship_fields() {
	journalctl "$@" --no-pager -o export MESSAGE_ID=$ship_msgid GREETER_FILENAME=$ship_marker 2>/dev/null | awk '
		function flush() { for (i = 0; i < n; i++) print id, f[i]; n = 0; id = "" }
		/^$/ { flush(); next }
		/^__/ { next }
		/^GREETER_EXEC_ID=/ { id = substr($0, 17) }
		{ f[n++] = $0 }
		END { flush() }' | sort
}
ship_check_fields() {
	ship_fields >/tmp/ship-local.fields
	ship_fields -D $collector_dir >/tmp/ship-collector.fields
	_names=$(sed -n 's/^[^ ]* \(GREETER_[A-Z_]*\)=.*/\1/p' /tmp/ship-local.fields | sort -u | tr '\n' ' ')
	say "fields of the marker's entries: $_names"
	check "every field of each entry on the collector as in this host's journal ($(wc -l </tmp/ship-local.fields) fields, $(echo "$_names" | wc -w) of them GREETER_*)" \
		cmp -s /tmp/ship-local.fields /tmp/ship-collector.fields
	cmp -s /tmp/ship-local.fields /tmp/ship-collector.fields ||
		diff /tmp/ship-local.fields /tmp/ship-collector.fields | head -20 | sed 's/^/    fields: /'
	check "the entries carry GREETER_EXEC_ID, GREETER_MESSAGE, GREETER_UNIT, GREETER_ARGS" eval \
		'for _f in GREETER_EXEC_ID GREETER_MESSAGE GREETER_UNIT GREETER_ARGS; do case " $_names " in *" $_f "*) ;; *) exit 1 ;; esac; done'
}
upload_restarts() { systemctl show -P NRestarts systemd-journal-upload.service; }
upload_restarted() { [ "$(upload_restarts)" -gt "$1" ]; }
ship_show_units() {
	journalctl -b --no-pager -o short-monotonic -u systemd-journal-upload -u systemd-journal-remote \
		-u systemd-journal-remote.socket -u gvm-net | tail -25 | sed 's/^/    ship: /'
}

ship_boot1() {
	cp /bin/true "$ship_marker"
	mkdir -p /etc/systemd/system/greeterd.service.d
	printf '[Service]\nExecStart=\nExecStart=/usr/sbin/greeterd --journal-events\n' \
		>/etc/systemd/system/greeterd.service.d/journal-events.conf
	check "greeterd restarted with --journal-events (a drop-in, as greeterd(8) shows)" eval \
		'systemctl daemon-reload && systemctl restart greeterd.service && active greeterd.service'
	check "the collector's socket listens in its namespace (10.77.0.2:19532), not in the host's" eval \
		'active systemd-journal-remote.socket && [ -z "$(ss -Hltn "sport = :19532")" ] &&
		ip netns exec collector ss -Hltn "sport = :19532" | grep -q 19532'
	check "systemd-journal-upload active" wait_until 120 active systemd-journal-upload.service
	# Debian builds systemd without GnuTLS (systemctl --version: -GNUTLS):
	# its journal-remote cannot check a client's certificate and says so
	# (TrustedCertificateFile= is ignored). The uploader checks the
	# collector's (curl: the CA, the address in the certificate).
	if journalctl -b --no-pager -o cat -u systemd-journal-remote | grep -q "Certificate checking disabled"; then
		say "the collector does not check the uploader's certificate: $(systemctl --version | grep -o '.GNUTLS') (journal-remote: \"Certificate checking disabled.\")"
	fi
	total=$SHIP_N
	ship_execs $SHIP_N
	ship_expect $total "$SHIP_N execs"
	ship_check_fields

	# The collector away for a while: the uploader fails, restarts, and
	# resumes from its saved cursor once the collector is back.
	r0=$(upload_restarts)
	check "the collector stopped (socket and service)" eval \
		'systemctl stop systemd-journal-remote.socket systemd-journal-remote.service &&
		! active systemd-journal-remote.socket && ! active systemd-journal-remote.service'
	total=$((total + SHIP_M))
	ship_execs $SHIP_M
	check "$SHIP_M more execs in this host's journal" wait_until 120 local_has $total
	check "the uploader met the collector's absence (restarted: NRestarts > $r0)" wait_until 300 upload_restarted "$r0"
	say "while the collector was stopped: $(ship_count -D $collector_dir) entries there, the uploader $(systemctl is-active systemd-journal-upload.service), NRestarts=$(upload_restarts)"
	check "the collector started again (its socket)" systemctl start systemd-journal-remote.socket
	ship_expect $total "the collector back, $SHIP_M more"
	[ "$failed" = 0 ] || ship_show_units

	# K execs just before the reboot, the uploader stopped first (as a
	# shutdown stops it): only boot 2's uploader, from the cursor this
	# one saved, can ship them.
	check "the uploader stopped" eval \
		'systemctl stop systemd-journal-upload.service && ! active systemd-journal-upload.service'
	total=$((total + SHIP_K))
	ship_execs $SHIP_K
	check "$SHIP_K execs just before the reboot, in this host's journal" wait_until 120 local_has $total
	_got=$(ship_count -D $collector_dir)
	check "before the reboot: none of them on the collector ($_got of $total)" test "$_got" = $((total - SHIP_K))
}

ship_boot2() {
	total=$((SHIP_N + SHIP_M + SHIP_K))
	check "greeterd with --journal-events after the reboot" eval \
		'active greeterd.service && systemctl show -P ExecStart greeterd.service | grep -q -- --journal-events'
	ship_expect $total "after the reboot"
	total=$((total + SHIP_L))
	ship_execs $SHIP_L
	ship_expect $total "$SHIP_L execs after the reboot"
	ship_check_fields
	[ "$failed" = 0 ] || ship_show_units
	# greeter's catalog entry (the package's /usr/lib/systemd/catalog/greeter.catalog).
	journalctl -x --no-pager -n 1 MESSAGE_ID=$ship_msgid GREETER_FILENAME=$ship_marker >/tmp/ship-x.txt 2>&1
	head -6 /tmp/ship-x.txt | sed 's/^/    journalctl -x: /'
	# (The catalog's lines begin with "░░ ", or "-- " without UTF-8; its
	# Subject names the entry's file: the fields are filled in.)
	check "journalctl -x explains greeter's exec entries (its catalog: Defined-By: greeter, the Subject filled in)" eval \
		'grep -qE "^(░░|--) Defined-By: greeter\$" /tmp/ship-x.txt &&
		grep -qE "^(░░|--) Subject: $ship_marker executed by " /tmp/ship-x.txt'
}

# The shipping's part done: uploader and collector stopped (the storm that
# follows competes with nothing the test started).
ship_stop() {
	systemctl stop systemd-journal-upload.service systemd-journal-remote.socket systemd-journal-remote.service
}
