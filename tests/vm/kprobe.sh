#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kprobe suite: the greeterd and greeterctl just built on this host, run
# on a Debian release's stock kernel (Debian 12: 6.1, Debian 13: 6.12;
# kprobes built in) under qemu TCG, from a small initramfs (busybox, the two
# binaries with their shared libraries, bpftool). Same build as on the host
# kernel: CO-RE across kernels. What the guest checks: kprobe-guest.sh.
#
# kprobe.sh CODENAME GREETERD GREETERCTL     (CODENAME: bookworm, trixie)
# Exit status: 0 pass, 1 fail, 77 skipped (this machine cannot boot a guest).
set -uo pipefail
VM_SUITE=vm-kprobe
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"

usage="usage: kprobe.sh CODENAME GREETERD GREETERCTL"
release=${1:?$usage}
greeterd=$(realpath "${2:?$usage}")
greeterctl=$(realpath "${3:?$usage}")
vm_init "$release"
[ -x "$greeterd" ] || vm_fail "greeterd not built: $greeterd"
[ -x "$greeterctl" ] || vm_fail "greeterctl not built: $greeterctl"
vm_need_tools qemu-system-x86_64:qemu-system-x86 debootstrap:debootstrap gzip:gzip
vm_fetch_all

# The initramfs: busybox, /init (mounts, then the checks), the host build.
root=$VM_TMP/initramfs
vm_initramfs_root "$root"
cp "$here/kprobe-guest.sh" "$root/init"
chmod 0755 "$root/init"
bins=("$greeterd:/usr/sbin/greeterd" "$greeterctl:/usr/bin/greeterctl")
bpftool=$(command -v bpftool || ls /usr/sbin/bpftool 2>/dev/null)
[ -n "$bpftool" ] && bins+=("$(realpath "$bpftool"):/usr/sbin/bpftool")
vm_copy_with_libs "$root" "${bins[@]}" || vm_fail "cannot copy the binaries and their libraries"
# A user 501 to run a program as (busybox su), and the admin group.
printf 'root:x:0:0:root:/root:/bin/sh\nu501:x:501:501:UID 501:/tmp:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\ngreeter:x:990:\nu501:x:501:\n' >"$root/etc/group"
printf '/bin/sh\n' >"$root/etc/shells"
# What the guest checks the kernel against: the release of the package.
echo "KERNEL_RELEASE=$VM_KERNEL_RELEASE" >"$root/etc/greeter-vm-expected"
vm_pack_initramfs "$root" "$VM_TMP/initramfs.cpio.gz" || vm_fail "cannot pack the initramfs"
vm_log "initramfs: $(du -h "$VM_TMP/initramfs.cpio.gz" | cut -f1)"

vm_boot kprobe 120 -kernel "$VM_KERNEL" -initrd "$VM_TMP/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 quiet"
rc=$?
vm_wall " (guest ${VM_BOOT_SECONDS}s)"
if [ $rc -ne 0 ]; then
	vm_log "FAIL"
	exit 1
fi
vm_log "PASS"
