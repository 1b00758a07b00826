#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian package under the release's own systemd, per Debian release
# and architecture: two versions of the package built in a build root of
# the release (for arm64 cross-built there: dpkg-buildpackage -a arm64; the
# second from the same source, its version bumped, its BPF program
# changed by one constant and its ABI version one higher: an upgrade that
# replaces the programs and the maps), put into
# a copy of the release's guest tree (for arm64 the release's arm64 tree),
# which boots twice on the release's stock kernel under qemu TCG.
# package-guest.sh runs at each boot: boot 1 installs the first with dpkg
# under systemd and uses it; boot 2 checks what came back after the reboot,
# socket activation, upgrades under an exec load and purges.
#
# On amd64 the guest has a NIC and sshd, and this machine drives its
# greeterd with the build's greeterctl -H (package-net.sh,
# package-remote.sh); on Debian 13 it also ships greeterd's journal to a
# collector and storms the journal (package-ship-guest.sh, package-storm-guest.sh).
#
# package.sh CODENAME SOURCE_ROOT [ARCH [BUILD_ROOT]]
#   ARCH: amd64, the default, or arm64; BUILD_ROOT: the build whose
#   greeterctl drives the amd64 guest over ssh (none: those checks fail)
# Exit status: 0 pass, 1 fail, 77 skipped (this machine cannot boot a guest).
set -uo pipefail
VM_SUITE=vm-package
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"

usage="usage: package.sh CODENAME SOURCE_ROOT [ARCH [BUILD_ROOT]]"
release=${1:?$usage}
source_root=$(realpath "${2:?$usage}")
VM_ARCH=${3:-amd64}
build_root=${4:-}

vm_init "$release"
vm_need_tools "$VM_QEMU:$VM_QEMU_PKG" debootstrap:debootstrap mkfs.ext4:e2fsprogs gzip:gzip \
	${VM_QEMU_USER:+"$VM_QEMU_USER"}
net=
if [ "$VM_ARCH" = amd64 ]; then
	net=1
	# shellcheck source=package-net.sh
	. "$here/package-net.sh"
	vm_net_tools
	host_ctl=${build_root:+$(realpath "$build_root")/client/greeterctl}
	[ -n "$host_ctl" ] && [ -x "$host_ctl" ] || fail "no greeterctl built in '$build_root' (the build root is the 4th argument)"
fi
vm_fetch_all

# ---- the two packages, built in the release's package build root (for
# arm64 cross-built there: dpkg-buildpackage -a arm64).
vm_package_build_root "$source_root"
build_tree=$VM_BUILD_TREE build=(dpkg-buildpackage -us -uc -b)
# shellcheck disable=SC2054 # one option: the build profiles
[ "$VM_ARCH" = amd64 ] || build+=(-a "$VM_ARCH" -Pcross,nocheck)

pkgdir=$VM_TMP/pkgs
for v in 1 2; do
	mkdir -p "$pkgdir/v$v/greeter"
	(cd "$source_root" && git ls-files -z | tar --null -T - -cf -) | tar -C "$pkgdir/v$v/greeter" -xf - ||
		fail "cannot copy the source"
done
# Version 2: the next version, its BPF object one constant apart and its
# ABI version one higher: the upgrade replaces the programs and the maps
# (but for those every ABI shares), and the old ring's events are handed on.
v2=$pkgdir/v2/greeter
sed -i 's/^char LICENSE\[\] SEC("license") = .*;$/&\nconst volatile __u32 greeter_vm_next_version = 2;/' "$v2/bpf/greeter.bpf.c"
grep -q greeter_vm_next_version "$v2/bpf/greeter.bpf.c" || fail "cannot make the second version's program differ"
abi=$(sed -n 's/^#define GREETER_ABI_VERSION \([0-9]*\)$/\1/p' "$v2/bpf/greeter.h")
[ -n "$abi" ] && sed -i "s/^#define GREETER_ABI_VERSION $abi\$/#define GREETER_ABI_VERSION $((abi + 1))/" "$v2/bpf/greeter.h" &&
	grep -q "^#define GREETER_ABI_VERSION $((abi + 1))\$" "$v2/bpf/greeter.h" ||
	fail "cannot give the second version the next ABI version"
version=$(dpkg-parsechangelog -l "$v2/debian/changelog" -S Version)
{
	printf 'greeter (%s+vm2) unstable; urgency=medium\n\n  * The next version (tests/vm/package.sh).\n\n' "$version"
	printf ' -- greeter developers <greeter@users.noreply.github.com>  %s\n\n' "$(date -R -d @0)"
	cat "$v2/debian/changelog"
} >"$v2/debian/changelog.new" && mv "$v2/debian/changelog.new" "$v2/debian/changelog"
t0=$(date +%s)
DROOT_BINDS=("$pkgdir:/pkgs")
for v in 1 2; do
	droot_run "$build_tree" sh -c 'cd "/pkgs/v$1/greeter" && shift && DEB_BUILD_OPTIONS=nocheck "$@"' \
		sh "$v" "${build[@]}" >"$VM_TMP/build$v.log" 2>&1 || {
		vm_show "$VM_TMP/build$v.log" 60
		fail "building package $v in the Debian $release build root failed (above)"
	}
done
DROOT_BINDS=()
deb1=$(ls "$pkgdir"/v1/greeter_*_"$VM_ARCH".deb) && deb2=$(ls "$pkgdir"/v2/greeter_*_"$VM_ARCH".deb) ||
	fail "no greeter_*_$VM_ARCH.deb built"
say "built $(basename "$deb1") and $(basename "$deb2") in $(($(date +%s) - t0)) s"

# ---- the guest: the release's tree, the two packages, package-guest.sh.
tree=$VM_TMP/tree
vm_systemd_tree "$tree" "$here/package-guest.sh"
cp "$deb1" "$VM_SYSTEMD_DIR/greeter-1.deb"
cp "$deb2" "$VM_SYSTEMD_DIR/greeter-2.deb"
{
	echo "KERNEL_RELEASE=$VM_KERNEL_RELEASE"
	echo "RELEASE=$release"
	echo "VERSION1=$(dpkg-deb -f "$deb1" Version)"
	echo "VERSION2=$(dpkg-deb -f "$deb2" Version)"
} >"$VM_SYSTEMD_DIR/expected"
if [ -n "$net" ]; then
	# Debian 13 ships the journal; Debian 12 has the bridge checks only.
	ship=0
	[ "$release" = trixie ] && ship=1
	cp "$here/package-ship-guest.sh" "$here/package-storm-guest.sh" "$VM_SYSTEMD_DIR/" || fail "cannot copy the guest's scripts"
	vm_net_prepare "$tree" $ship
	vm_net_start_host_checks "$host_ctl" "$release"
	say "network: the guest's sshd on 127.0.0.1:$VM_NET_PORT$([ $ship = 1 ] && echo "; the journal shipped to the collector (10.77.0.2)")"
fi
# 1200 s a boot: boot 2 upgrades under an exec load and waits for every
# event (amd64 guests took 55-230 s, arm64 75 s here: TCG, 4x slower
# machines); on amd64 boot 1 waits for this machine's checks over ssh, and
# on Debian 13 boot 2 storms the journal for 75 s and counts. Boot 2 is
# not run after a failed install.
vm_systemd_boots "$tree" 1200 stop
