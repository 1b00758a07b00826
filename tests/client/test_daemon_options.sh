#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# greeterd's command line: a value that does not fit is refused with
# status 2 and says what is allowed, before anything is touched. Needs no root.
#
# Usage: test_daemon_options.sh PATH/TO/greeterd
set -u

daemon=${1:?usage: test_daemon_options.sh GREETERD}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# refuse OPTION VALUE PATTERN: greeterd exits 2 and stderr names PATTERN.
refuse()
{
	local status
	"$daemon" --pin-dir "$tmp/pins" --state-dir "$tmp/state" --socket "$tmp/sock" \
		"$1" "$2" >"$tmp/out" 2>"$tmp/err"
	status=$?
	if [[ $status != 2 ]] || ! grep -qF -- "$3" "$tmp/err"; then
		echo "FAIL: greeterd $1 $2: status $status, stderr: $(cat "$tmp/err")" >&2
		failures=$((failures + 1))
	fi
	if [[ -e $tmp/pins || -e $tmp/state || -e $tmp/sock ]]; then
		echo "FAIL: greeterd $1 $2 made something before refusing" >&2
		failures=$((failures + 1))
	fi
}

# 17592186044417M is 2^44 + 1 MiB: shifted by 20 it wraps to 1M.
refuse --ring-size 17592186044417M "--ring-size must be a power of two"
refuse --ring-size 18446744073709551616 "--ring-size must be a power of two"
refuse --ring-size 3M "--ring-size must be a power of two"
refuse --ring-size -4K "--ring-size must be a power of two"
refuse --max-delay 18014398509481985K "--max-delay must be"
refuse --replay-window 0 "--replay-window"

if ((failures)); then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "all refused"
