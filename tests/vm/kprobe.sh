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

vm_host_build "usage: kprobe.sh CODENAME GREETERD GREETERCTL" "$@"
vm_need_tools "$VM_QEMU:$VM_QEMU_PKG" debootstrap:debootstrap gzip:gzip readelf:binutils
vm_fetch_all

vm_initramfs_suite kprobe "$here/kprobe-guest.sh" "$VM_GREETERD" "$VM_GREETERCTL"
