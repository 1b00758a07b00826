#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `meson install` into a DESTDIR puts every file where it belongs, and (unless
# an option named an outside directory) nothing outside --prefix.
#
# install-layout.sh MESON BUILD_ROOT PREFIX SBINDIR BINDIR STRICT PATH...
#   PATH: each file that must be installed, as an absolute path before DESTDIR.
#   STRICT: 1 when every installed file must lie below PREFIX.
# Exit status: 0 pass, 1 fail, 77 skipped (no meson to run).
set -u
meson=$1 build=$2 prefix=$3 sbindir=$4 bindir=$5 strict=$6
shift 6

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

# The installed metrics service runs the installed greeterctl; neither it nor
# its timer is enabled by the install (no symlink in a .wants directory).
for unit in $(printf '%s\n' "$@" | grep '/greeter-metrics\.service$'); do
	exec_start=$(sed -n 's/^ExecStart=//p' "$dest$unit")
	case $exec_start in
	"$bindir/greeterctl metrics --output "*) ;;
	*) bad "$unit: ExecStart=$exec_start, not $bindir/greeterctl metrics --output ..." ;;
	esac
done
wants=$(cd "$dest" && find . -path '*.wants/*' | sed 's|^\.||')
if [ -n "$wants" ]; then
	bad "meson install enabled units:"
	printf '%s\n' "$wants" | sed 's/^/    /'
else
	echo "ok: no unit enabled by meson install"
fi

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
