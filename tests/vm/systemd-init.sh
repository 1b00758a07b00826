#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of the systemd suite's small initramfs (busybox sh): Debian's kernel
# package has virtio_blk and ext4 as modules (virtio_pci too on Debian 12)
# and no initrd of its own, so load them (decompressed by the host, in the
# order written to /modules/order, dependencies first), mount the root file
# system read-write and hand over to systemd.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules/order); do
	insmod "/modules/$m" || echo "initramfs: insmod $m failed"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
	echo "initramfs: cannot mount /dev/vda; modules loaded:"
	cat /proc/modules
	poweroff -f
fi
umount /dev /sys /proc
exec switch_root /newroot /sbin/init
