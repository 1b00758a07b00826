# shellcheck shell=sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the /init of the initramfs guests (kprobe-guest.sh,
# refuse-guest.sh; busybox sh): mounts what the kernel does not, reads what
# the host expects, the checks (/checks.sh: tests/lib/checks.sh) and
# finish. GUEST_NAME names the result marker; the caller sets it first.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /var/lib
chmod 1777 /tmp
# From the host: KERNEL_RELEASE, the release of the kernel package booted.
KERNEL_RELEASE=
. /etc/greeter-vm-expected

# shellcheck source=../lib/checks.sh
. /checks.sh
finish() {
	echo "GREETER-VM-RESULT $GUEST_NAME passed=$passed failed=$failed"
	sync
	poweroff -f
	sleep 10
}
