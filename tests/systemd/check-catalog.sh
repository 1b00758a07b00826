#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# greeter's journal catalog (systemd/greeter.catalog) builds into journald's
# catalog database, as systemd's package trigger does on install
# (journalctl --update-catalog, here into a root of our own), and explains
# both MESSAGE_IDs greeterd writes; every field it names is one greeterd
# writes and greeter-journal-fields(7) documents.
#
# check-catalog.sh CATALOG JOURNAL_SOURCE FIELDS_PAGE_SOURCE
# Exit status: 0 pass, 1 fail, 77 skipped (no journalctl).
set -u
catalog=$1 source=$2 page=$3
command -v journalctl >/dev/null || { echo "SKIP: journalctl is not installed"; exit 77; }

fail=0
bad() { echo "FAIL: $*"; fail=1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/lib/systemd/catalog" "$root/var/lib/systemd/catalog"
cp "$catalog" "$root/usr/lib/systemd/catalog/greeter.catalog"
if out=$(journalctl --root="$root" --update-catalog 2>&1) && [ -z "$out" ]; then
	echo "ok: journalctl --update-catalog takes it without a word"
else
	bad "journalctl --update-catalog: $out"
fi
list=$(journalctl --root="$root" --list-catalog 2>&1)
for id in $(sed -n 's/.*MESSAGE_ID "\([0-9a-f]*\)"$/\1/p' "$(dirname "$source")/include/eventlog.h"); do
	if printf '%s\n' "$list" | grep -q "^$id greeter: "; then
		echo "ok: MESSAGE_ID $id explained (defined by greeter)"
	else
		bad "MESSAGE_ID $id not in the catalog: $list"
	fi
done
# The fields the catalog names, written by journal.c and in the page.
for f in $(grep -o '@[A-Z_]*@\|GREETER_[A-Z_]*' "$catalog" | tr -d @ | sort -u); do
	grep -q "\"$f=" "$source" || bad "the catalog names $f, which greeterd does not write"
	grep -q "\*$f\*" "$page" || bad "the catalog names $f, which greeter-journal-fields(7) does not document"
done
# Every field greeterd writes is documented.
for f in $(grep -o '"GREETER_[A-Z_]*=' "$source" | tr -d '"=' | sort -u); do
	grep -q "\*$f\*" "$page" || bad "greeterd writes $f, which greeter-journal-fields(7) does not document"
done
[ $fail = 0 ] && echo "ok: every field named is written and documented"
exit $fail
