#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# greeter for arm64, cross-built on this (amd64) machine: in Debian 12's
# arm64 package build root of the tests' own (lib.sh's
# vm_package_build_root: Debian's cross gcc, debian/control's Build-Depends
# with the -dev libraries :arm64 and the build machine's meson, clang, llvm
# and bpftool), with cross/aarch64-linux-gnu.ini. The BPF object is built for
# arm64 (-D__TARGET_ARCH_arm64, which bpf/meson.build derives from the cross
# file's cpu_family) against the fixed arm64 vmlinux.h (bpf/vmlinux/arm64/:
# the types of Debian 12's arm64 kernel), never this machine's kernel. The
# build is warning-free or fails (werror, as on amd64).
#
# arm64-build.sh SOURCE_ROOT BUILD_DIR [MESON_SETUP_OPTION...]
#   BUILD_DIR (e.g. build/arm64) is set up again from scratch when the
#   options changed; the binaries are BUILD_DIR/daemon/greeterd and
#   BUILD_DIR/client/greeterctl.
# Cache: the root in $GREETER_TEST_CACHE/roots/bookworm-arm64-pkg-build-<hash>/.
# Exit status: 0 built, 1 failed, 77 skipped (not root, the archive cannot
# be reached).
set -uo pipefail
# shellcheck disable=SC2034 # read by lib.sh
VM_SUITE=cross
# shellcheck disable=SC2034
VM_ARCH=arm64
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"

usage="usage: arm64-build.sh SOURCE_ROOT BUILD_DIR [OPTION...]"
source_root=$(realpath "${1:?$usage}")
build_dir=$(realpath -m "${2:?$usage}")
shift 2
# The release whose cross toolchain and kernel are used: the oldest tested,
# so that the binaries run on every newer one (glibc symbol versions) and
# the BPF object relocates (CO-RE) from 6.1 to the newer kernels.
VM_CACHE_NAME=cross-arm64
vm_init bookworm
vm_need_tools debootstrap:debootstrap gzip:gzip python3:python3

vm_package_build_root "$source_root"

# ---- the build.

setup=(--cross-file "$source_root/cross/aarch64-linux-gnu.ini" "$@")
setup_stamp="${setup[*]}"
if [ -d "$build_dir" ] && { [ "$(cat "$build_dir/.greeter-arm64-setup" 2>/dev/null)" != "$setup_stamp" ] ||
	[ ! -f "$build_dir/build.ninja" ]; }; then
	say "$build_dir was set up otherwise: setting it up again"
	rm -rf "$build_dir"
fi
mkdir -p "$(dirname "$build_dir")"
say "building $build_dir (meson setup ${setup[*]}; ninja)"
t0=$(date +%s)
DROOT_BINDS=("$source_root:$source_root" "$(dirname "$build_dir"):$(dirname "$build_dir")")
droot_run "$VM_BUILD_TREE" bash -c '
	set -e
	b=$1 src=$2
	shift 2
	if [ ! -f "$b/build.ninja" ]; then
		cd "$(dirname "$b")"
		meson setup "$@" "$b" "$src"
		echo "$*" >"$b/.greeter-arm64-setup"
	fi
	ninja -C "$b"' sh "$build_dir" "$source_root" "${setup[@]}" >"$VM_TMP/build.log" 2>&1 || {
	vm_show "$VM_TMP/build.log" 60
	fail "the arm64 build failed (above)"
}
say "built in $(($(date +%s) - t0)) s"
warnings=$(grep -ci 'warning' "$VM_TMP/build.log")
[ "$warnings" = 0 ] || {
	grep -i 'warning' "$VM_TMP/build.log" | sed 's/^/    /'
	fail "the arm64 build gave $warnings warning(s) (above)"
}
for b in daemon/greeterd client/greeterctl; do
	m=$(LC_ALL=C readelf -h "$build_dir/$b" 2>/dev/null | sed -n 's/^ *Machine: *//p')
	[ "$m" = AArch64 ] || fail "$build_dir/$b is not an arm64 executable (readelf: '${m:-no ELF}')"
done
say "arm64: $build_dir/daemon/greeterd, $build_dir/client/greeterctl (no warnings)"
wall
