#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd suite, per Debian release: greeter built for that release (in
# a build root of it), installed by `meson install` (prefix /usr) into a copy
# of the release's guest tree (minbase, systemd as PID 1, greeter's run-time
# libraries), booted twice on the release's stock kernel under qemu TCG from
# the same disk image. A test unit runs systemd-guest.sh at each boot; it
# prints the result on the console.
#
# systemd.sh CODENAME SOURCE_ROOT BUILD_ROOT [MESON_SETUP_OPTION...]
#   greeter is configured with --prefix=/usr and the options given in
#   BUILD_ROOT/vm-CODENAME, by the release's meson and gcc (a binary built on
#   a newer release does not run on an older one: glibc symbol versions).
# Exit status: 0 pass, 1 fail, 77 skipped (this machine cannot boot a guest).
set -uo pipefail
VM_SUITE=vm-systemd
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"

usage="usage: systemd.sh CODENAME SOURCE_ROOT BUILD_ROOT [OPTION...]"
release=${1:?$usage}
source_root=$(realpath "${2:?$usage}")
build_root=$(realpath "${3:?$usage}")
shift 3
vm_build=$build_root/vm-$release

vm_init "$release"
vm_need_tools qemu-system-x86_64:qemu-system-x86 debootstrap:debootstrap \
	mkfs.ext4:e2fsprogs gzip:gzip
vm_fetch_all

# ---- greeter, built for the release.

# The build packages as tests/lib/deps.sh names them for this release:
# evaluated inside the release's tree. gcc: the build that ships is gcc's.
deps=$(vm_in_guest "$source_root/tests/lib" bash -c '. /vm-dl/deps.sh && echo $GREETER_BUILD_DEPS' 2>"$VM_TMP/deps.log") &&
	[ -n "$deps" ] || {
	vm_show "$VM_TMP/deps.log"
	fail "cannot read GREETER_BUILD_DEPS from tests/lib/deps.sh in the Debian $release tree"
}
# shellcheck disable=SC2086
vm_droot build_tree droot_derived "$release" vm-build $deps gcc
say "Debian $release build root $build_tree"

# Set up again from scratch when the options changed (meson keeps them).
setup_stamp="--prefix=/usr $*"
if [ -d "$vm_build" ] && [ "$(cat "$vm_build/.greeter-vm-setup" 2>/dev/null)" != "$setup_stamp" ]; then
	say "$vm_build was set up with other options: setting it up again"
	rm -rf "$vm_build"
fi

# The guest tree, with the test unit that runs systemd-guest.sh.
tree=$VM_TMP/tree
vm_systemd_tree "$tree" "$here/systemd-guest.sh"

# Build with the release's meson and gcc (tests/lib/build.sh's greeter_build,
# as run-tests.sh does), the source bound at its own path, and install into
# the guest tree (bound at /vm-dest).
mkdir -p "$build_root" "$VM_TMP/out"
say "building $vm_build (Debian $release: meson setup --prefix=/usr $*; ninja; meson install)"
t0=$(date +%s)
DROOT_BINDS=("$source_root:$source_root" "$build_root:$build_root" "$tree:/vm-dest" "$VM_TMP/out:/vm-out")
# (greeter_build is not written for set -e.)
droot_run "$build_tree" bash -c '
	src=$1 dir=$2
	shift 2
	cd "$src" && . tests/lib/build.sh || exit 1
	greeter_build "$dir" gcc --prefix=/usr "$@" || exit 1
	meson introspect --buildoptions "$dir" | python3 -c "
import json, sys
o = {x[\"name\"]: x[\"value\"] for x in json.load(sys.stdin)}
print(\"prefix=%s\" % o[\"prefix\"])
print(\"pin_dir=%s\" % o[\"pin_dir\"])" >/vm-out/options || exit 1
	DESTDIR=/vm-dest meson install -C "$dir" --no-rebuild --quiet
' sh "$source_root" "$vm_build" "$@" >"$VM_TMP/build.log" 2>&1 || {
	vm_show "$VM_TMP/build.log" 60
	fail "building or installing greeter in the Debian $release build root failed (above)"
}
DROOT_BINDS=()
echo "$setup_stamp" >"$vm_build/.greeter-vm-setup"
say "built and installed in $(($(date +%s) - t0)) s"
prefix=$(sed -n 's/^prefix=//p' "$VM_TMP/out/options")
pin_dir=$(sed -n 's/^pin_dir=//p' "$VM_TMP/out/options")
[ "$prefix" = /usr ] || fail "$vm_build has prefix '$prefix', not /usr"
[ -n "$pin_dir" ] || fail "no pin_dir in $vm_build's options"
[ -x "$tree/usr/sbin/greeterd" ] && [ -x "$tree/usr/bin/greeterctl" ] ||
	fail "meson install did not put greeterd and greeterctl into /usr"
# What a package's postinst does: create the admin group from sysusers.d,
# with the release's systemd-sysusers.
droot_run "$tree" systemd-sysusers >"$VM_TMP/sysusers.log" 2>&1 || {
	vm_show "$VM_TMP/sysusers.log"
	fail "systemd-sysusers in the guest tree failed"
}

# What the guest compares against: the units as built (greeterd.service,
# greeter-metrics.service) and shipped (greeterd.socket,
# greeter-metrics.timer), the kernel.
{
	echo "UNIT_SHA256=$(sha256sum <"$vm_build/systemd/greeterd.service" | cut -d' ' -f1)"
	echo "SOCKET_SHA256=$(sha256sum <"$source_root/systemd/greeterd.socket" | cut -d' ' -f1)"
	echo "METRICS_SERVICE_SHA256=$(sha256sum <"$vm_build/systemd/greeter-metrics.service" | cut -d' ' -f1)"
	echo "METRICS_TIMER_SHA256=$(sha256sum <"$source_root/systemd/greeter-metrics.timer" | cut -d' ' -f1)"
	echo "PIN_DIR=$pin_dir"
	echo "KERNEL_RELEASE=$VM_KERNEL_RELEASE"
	echo "RELEASE=$release"
} >"$VM_SYSTEMD_DIR/expected"

# 300 s a boot: on a machine loaded by other builds and tests (load 9-13 on
# 2 cores) the guest took 32 s to reach systemd and missed a 180 s limit.
vm_systemd_boots "$tree" 300
