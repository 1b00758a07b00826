#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install` into a DESTDIR puts every file where it belongs, and (unless
# an option named an outside directory) nothing outside --prefix.
#
# install-layout.sh MESON BUILD_ROOT PREFIX SBINDIR STRICT PATH...
#   PATH: each file that must be installed, as an absolute path before DESTDIR.
#   STRICT: 1 when every installed file must lie below PREFIX.
# Exit status: 0 pass, 1 fail, 77 skipped (no meson to run).
set -u
meson=$1 build=$2 prefix=$3 sbindir=$4 strict=$5
shift 5

if [ "$meson" = - ] || ! command -v "$meson" >/dev/null; then
	echo "SKIP: meson not found"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
fail=0
bad() { echo "FAIL: $*"; fail=1; }

if ! out=$(DESTDIR=$dest "$meson" install -C "$build" --no-rebuild --quiet 2>&1); then
	echo "FAIL: meson install:"
	printf '%s\n' "$out" | sed 's/^/    /'
	exit 1
fi

for path in "$@"; do
	if [ -f "$dest$path" ] && [ -s "$dest$path" ]; then
		echo "ok: installed $path"
	else
		bad "not installed (or empty): $path"
	fi
done

# The installed service starts the installed greeterd.
for unit in $(printf '%s\n' "$@" | grep '/greeterd\.service$'); do
	exec_start=$(sed -n 's/^ExecStart=//p' "$dest$unit")
	[ "$exec_start" = "$sbindir/greeterd" ] ||
		bad "$unit: ExecStart=$exec_start, not $sbindir/greeterd"
done

if [ "$strict" = 1 ]; then
	outside=$(cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\.||' |
		grep -v "^${prefix%/}/" || true)
	if [ -n "$outside" ]; then
		bad "installed outside the prefix $prefix:"
		printf '%s\n' "$outside" | sed 's/^/    /'
	else
		echo "ok: everything installed below $prefix"
	fi
fi

exit $fail
