#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian package on one Debian release, built as a user would build it:
# from a copy of the source with the standard sequence (dpkg-buildpackage
# -us -uc -b) in a build root of that release with the Build-Depends of
# debian/control, twice in two directories (the .debs must be
# byte-identical), lintian of that release clean at warnings. Then
# installed, removed and purged with dpkg in a copy of the release's tree,
# through chroot, without bpffs and without systemd running (as piuparts
# does): the maintainer scripts must work there, create the admin group,
# enable the socket and greeterd (not the metrics timer), and purge must
# leave no state, cache or unit links behind. Last, piuparts installs and
# purges it in a fresh minimal root of the release.
#
# package.sh CODENAME SOURCE_ROOT
# Exit status: 0 pass, 1 fail, 77 skipped (not root; the archive cannot be
# reached for the release's trees).
set -uo pipefail
usage="usage: package.sh CODENAME SOURCE_ROOT"
codename=${1:?$usage}
src=$(realpath "${2:?$usage}")
. "$src/tests/lib/debian-root.sh"
# shellcheck source=../lib/checks.sh
. "$src/tests/lib/checks.sh"
SAY_NAME=package-$codename
tree_or_exit() { # function args...: prints the path of the cached tree it made
	"$@" && return 0
	[ "${DROOT_RC:-1}" = 2 ] && skip "$DROOT_ERROR" >&2
	fail "$DROOT_ERROR" >&2
}
[ "$(id -u)" = 0 ] || skip "needs root (Debian trees, chroot)"
tmp=$(mktemp -d /tmp/greeter-package.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# ---- the build root: the Build-Depends of debian/control (the first of
# alternatives, but for systemd.pc, which Debian 12's systemd holds and
# Debian 13's systemd-dev), the standard tools and the release's lintian.
build_tree=$(tree_or_exit droot_pkg_build "$src" "$codename") || exit $?
say "Debian $codename build root $build_tree"

# ---- build twice, in two directories: what git tracks (debian/ with it).
copy_source() { # dest
	mkdir -p "$1"
	(cd "$src" && { git ls-files -z 2>/dev/null ||
		find . \( -name 'build*' -o -name 'obj-*' -o -name .git \) -prune -o -type f -print0; } |
		tar --null -T - -cf -) | tar -C "$1" -xf -
}
for d in a b/elsewhere; do
	copy_source "$tmp/$d/greeter" || fail "cannot copy the source"
	DROOT_BINDS=("$tmp:/pkg")
	if ! droot_run "$build_tree" sh -c 'cd "/pkg/$1/greeter" && dpkg-checkbuilddeps && dpkg-buildpackage -us -uc -b' \
		sh "$d" >"$tmp/$d/build.log" 2>&1; then
		tail -40 "$tmp/$d/build.log"
		fail "dpkg-buildpackage -us -uc -b failed in Debian $codename (above)"
	fi
done
deb=$(ls "$tmp"/a/greeter_*.deb)
say "built $(basename "$deb") ($(stat -c %s "$deb") bytes), twice"
grep -E '^(Ok|Fail|Skipped): ' "$tmp/a/build.log" | tr -s ' ' | sed 's/^/    dh_auto_test: /'
check "dh_auto_test ran the unit suite and nothing failed" \
	eval "grep -q '^Ok: *[1-9]' '$tmp/a/build.log' && grep -q '^Fail: *0' '$tmp/a/build.log'"
check "the same source built in two directories gives byte-identical .debs" \
	cmp "$deb" "$(ls "$tmp"/b/elsewhere/greeter_*.deb)"
if droot_run "$build_tree" sh -c 'lintian --fail-on error,warning /pkg/a/greeter_*.changes' >"$tmp/lintian.log" 2>&1; then
	ok "Debian $codename's lintian --fail-on error,warning: clean"
else
	not_ok "Debian $codename's lintian --fail-on error,warning:"
	sed 's/^/    /' "$tmp/lintian.log"
fi
DROOT_BINDS=()

# ---- install, remove, purge in this release's tree, without bpffs or systemd.
# shellcheck disable=SC2086
guest=$(tree_or_exit droot_derived "$codename" guest $DROOT_GUEST_PACKAGES) || exit $?
root=$tmp/root
mkdir "$root" && tar -C "$guest" --exclude=./var/cache/apt/archives/* -cf - . | tar -C "$root" -xf - ||
	fail "cannot copy $guest"
cp "$deb" "$root/tmp/greeter.deb"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
check "no bpffs and no running systemd in the root" \
	eval "[ ! -d '$root/run/systemd/system' ] && ! mountpoint -q '$root/sys/fs/bpf' 2>/dev/null"

if in_root dpkg -i /tmp/greeter.deb >"$tmp/install.log" 2>&1; then
	ok "dpkg -i: installed"
else
	not_ok "dpkg -i failed:"
	sed 's/^/    /' "$tmp/install.log"
fi
wants=$root/etc/systemd/system
check "greeterd and greeterctl installed" test -x "$root/usr/sbin/greeterd" -a -x "$root/usr/bin/greeterctl"
check "the admin group created (sysusers.d)" grep -q '^greeter:' "$root/etc/group"
check "greeterd.socket enabled" test -L "$wants/sockets.target.wants/greeterd.socket"
check "greeterd.service enabled" test -L "$wants/multi-user.target.wants/greeterd.service"
check "greeter-metrics.timer installed, not enabled" \
	eval "[ -f '$root/lib/systemd/system/greeter-metrics.timer' ] || [ -f '$root/usr/lib/systemd/system/greeter-metrics.timer' ]; \
		[ \$? = 0 ] && [ ! -e '$wants/timers.target.wants/greeter-metrics.timer' ]"
check "greeterd runs in the root (--version)" eval "in_root greeterd --version | grep -q '^greeterd '"

# What greeterd would have written by now: state and cache.
mkdir -p "$root/var/lib/greeter" "$root/var/cache/greeter"
echo '{"messages":[]}' >"$root/var/lib/greeter/messages.json"
touch "$root/var/cache/greeter/vmlinux-0.btf"
mkdir -p "$root/var/lib/prometheus/node-exporter"
echo 'greeter_up 1' >"$root/var/lib/prometheus/node-exporter/greeter.prom"
echo 'other_up 1' >"$root/var/lib/prometheus/node-exporter/other.prom"

if in_root dpkg -r greeter >"$tmp/remove.log" 2>&1; then ok "dpkg -r: removed"; else
	not_ok "dpkg -r failed:"
	sed 's/^/    /' "$tmp/remove.log"
fi
check "remove: the programs are gone" test ! -e "$root/usr/sbin/greeterd"
check "remove: the messages stay (until purge)" test -f "$root/var/lib/greeter/messages.json"
if in_root dpkg -P greeter >"$tmp/purge.log" 2>&1; then ok "dpkg -P: purged"; else
	not_ok "dpkg -P failed:"
	sed 's/^/    /' "$tmp/purge.log"
fi
check "purge: no state directory" test ! -e "$root/var/lib/greeter"
check "purge: no cache directory" test ! -e "$root/var/cache/greeter"
check "purge: greeter's metrics file gone, node_exporter's other files kept" \
	eval "[ ! -e '$root/var/lib/prometheus/node-exporter/greeter.prom' ] && [ -e '$root/var/lib/prometheus/node-exporter/other.prom' ]"
left=$(find "$wants" -name 'greeter*' 2>/dev/null)
check "purge: no unit links left${left:+ ($left)}" test -z "$left"
check "purge: dpkg knows the package no more" eval "! in_root dpkg -s greeter >/dev/null 2>&1"

# ---- piuparts: install and purge in a fresh minimal root of the release.
if command -v piuparts >/dev/null; then
	if piuparts -d "$codename" --mirror "$(droot_mirror)" --warn-on-leftovers-after-purge \
		"$deb" >"$tmp/piuparts.log" 2>&1; then
		ok "piuparts (Debian $codename): $(grep -o 'PASS: All tests.' "$tmp/piuparts.log" | head -1)"
	elif grep -qE "Failed to fetch|Could not resolve|Temporary failure|Couldn't download" "$tmp/piuparts.log"; then
		echo "note: piuparts could not reach the archive; not run"
	else
		not_ok "piuparts (Debian $codename):"
		grep -E "ERROR|FAIL" "$tmp/piuparts.log" | tail -20 | sed 's/^/    /'
	fi
else
	not_ok "piuparts is not installed (run-tests.sh installs it)"
fi

wall
if [ $failed != 0 ]; then
	echo "FAIL"
	exit 1
fi
echo "PASS"
