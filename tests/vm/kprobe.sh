#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kprobe suite: the greeterd and greeterctl just built on this host, run
# on a Debian release's stock kernel (Debian 12: 6.1, Debian 13: 6.12;
# kprobes built in) under qemu TCG, from a small initramfs (busybox, the two
# binaries with their shared libraries, bpftool). Same build as on the host
# kernel: CO-RE across kernels. What the guest checks: kprobe-guest.sh.
#
# kprobe.sh CODENAME GREETERD GREETERCTL     (CODENAME: bookworm, trixie)
# The guest's architecture is the binaries': amd64 (the host build, with
# the host's libraries) or arm64 (a cross build, arm64-build.sh, with the
# release's arm64 libraries; arm64.sh kprobe builds and runs it).
# Exit status: 0 pass, 1 fail, 77 skipped (this machine cannot boot a guest).
set -uo pipefail
VM_SUITE=vm-kprobe
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"

usage="usage: kprobe.sh CODENAME GREETERD GREETERCTL"
release=${1:?$usage}
greeterd=$(realpath "${2:?$usage}")
greeterctl=$(realpath "${3:?$usage}")
case $(LC_ALL=C readelf -h "$greeterd" 2>/dev/null | sed -n 's/^ *Machine: *//p') in
AArch64) VM_ARCH=arm64 ;;
*) VM_ARCH=amd64 ;;
esac
vm_init "$release"
[ -x "$greeterd" ] || vm_fail "greeterd not built: $greeterd"
[ -x "$greeterctl" ] || vm_fail "greeterctl not built: $greeterctl"
vm_need_tools "$VM_QEMU:$VM_QEMU_PKG" debootstrap:debootstrap gzip:gzip readelf:binutils
vm_fetch_all

vm_initramfs_suite kprobe "$here/kprobe-guest.sh" "$greeterd" "$greeterctl"
