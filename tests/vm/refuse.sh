#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The refusal suite: the greeterd and greeterctl just built on this host, run
# on a kernel too old for greeter (Debian 11's stock kernel, 5.10: no atomic
# fetch-and-add, no BPF links for kprobes and tracepoints; kprobes and BTF
# built in) under qemu TCG, from the same kind of initramfs as kprobe.sh's.
# greeterd must refuse it up front, in one sentence, with exit status 3, and
# leave nothing behind. What the guest checks: refuse-guest.sh.
#
# refuse.sh CODENAME GREETERD GREETERCTL     (CODENAME: bullseye)
# The guest's architecture is the binaries', as in kprobe.sh: amd64 (the
# host build) or arm64 (the cross build, arm64.sh refuse: the release's
# arm64 kernel, with Debian 12's arm64 libraries and bpftool).
# Exit status: 0 pass, 1 fail, 77 skipped (this machine cannot boot a guest).
set -uo pipefail
VM_SUITE=vm-refuse
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"

vm_host_build "usage: refuse.sh CODENAME GREETERD GREETERCTL" "$@"
# bpftool is what tells the guest that nothing was left loaded: this
# machine's on amd64, the arm64 guest tree's on arm64.
tools=("$VM_QEMU:$VM_QEMU_PKG" debootstrap:debootstrap gzip:gzip readelf:binutils)
[ "$VM_ARCH" = amd64 ] && tools+=(bpftool:bpftool)
vm_need_tools "${tools[@]}"
# Only the release's kernel and busybox are needed from it: its apt in a
# minbase copy (Debian 11 has none of the libbpf1 the guest trees list). On
# arm64 the libraries and bpftool come from Debian 12's arm64 guest tree,
# the release the cross build (arm64-build.sh) is made for.
VM_APT_TREE=1
VM_LIB_RELEASE=bookworm
vm_fetch_all

vm_initramfs_suite refuse "$here/refuse-guest.sh" "$VM_GREETERD" "$VM_GREETERCTL"
