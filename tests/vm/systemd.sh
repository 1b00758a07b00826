#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The systemd suite: greeter installed by `meson install` (prefix /usr) into
# a Debian minbase tree with systemd as PID 1, booted twice on Debian's stock
# kernel (6.1) under qemu TCG from the same disk image. A test unit runs
# systemd-guest.sh at each boot; it prints the result on the console.
#
# systemd.sh MESON SOURCE_ROOT BUILD_ROOT [MESON_SETUP_OPTION...]
#   The project is configured with --prefix=/usr in $GREETER_VM_BUILD
#   (default BUILD_ROOT-vm, e.g. build-vm) with the options given.
# Exit status: 0 pass, 1 fail, 77 skipped (no guest can boot here).
set -uo pipefail
VM_SUITE=vm-systemd
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"

meson=${1:?usage: systemd.sh MESON SOURCE_ROOT BUILD_ROOT [OPTION...]}
source_root=$(realpath "${2:?}")
build_root=$(realpath "${3:?}")
shift 3
vm_build=${GREETER_VM_BUILD:-$build_root-vm}

# What the guest has besides minbase: systemd as PID 1 and greeter's
# run-time libraries (what `ldd greeterd` needs beyond libc).
GUEST_PACKAGES="systemd,systemd-sysv,libbpf1,libcjson1,libsystemd0"
# Bump when the preparation of the cached tree changes.
ROOTFS_PREP=1

vm_init
vm_need_tools qemu-system-x86_64:qemu-system-x86 debootstrap:debootstrap \
	mkfs.ext4:e2fsprogs dpkg-deb:dpkg gzip:gzip systemd-sysusers:systemd
[ "$meson" != - ] && command -v "$meson" >/dev/null || vm_fail "meson not found"

# The mirror apt uses for this release (debootstrap fetches from it).
debian_mirror() { # codename
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v s="$1" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($(i+1) == s) print $i; break } }' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$1" '
			function flush() { if (deb && suite) print uri; deb = suite = 0; uri = "" }
			/^[ \t]*$/ { flush(); next }
			tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) suite = 1 }
			END { flush() }' "$f"
	done
}

# The Debian tree: debootstrap minbase plus GUEST_PACKAGES, prepared to boot
# without udev, logind or a getty (no dbus in minbase, nobody to log in).
prepare_rootfs() { # tree
	local t=$1 u
	: >"$t/etc/fstab" # a /dev/vda line would wait 90 s for udev
	echo greeter-vm >"$t/etc/hostname"
	rm -f "$t/etc/machine-id"
	systemd-machine-id-setup --root="$t" >/dev/null || return 1
	for u in serial-getty@ttyS0.service getty@tty1.service getty.target systemd-logind.service \
		apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
		ln -sf /dev/null "$t/etc/systemd/system/$u"
	done
	rm -rf "$t"/var/cache/apt/archives/*.deb "$t"/var/lib/apt/lists/* \
		"$t"/usr/share/doc/* "$t"/usr/share/man/* "$t"/usr/share/locale/* "$t"/usr/share/info/*
}

build_rootfs_locked() { # codename mirror dest
	local work t0
	[ -x "$3/sbin/init" ] && return 0
	work=$(mktemp -d "$VM_CACHE/.rootfs.XXXXXX") || return 1
	t0=$(date +%s)
	vm_log "debootstrap --variant=minbase --include=$GUEST_PACKAGES $1 from $2 (cached afterwards)"
	if ! debootstrap --variant=minbase --include="$GUEST_PACKAGES" "$1" "$work/tree" "$2" \
		>"$work/debootstrap.log" 2>&1; then
		tail -30 "$work/debootstrap.log" | sed 's/^/    debootstrap: /'
		rm -rf "$work"
		return 1
	fi
	prepare_rootfs "$work/tree" || { rm -rf "$work"; return 1; }
	vm_log "debootstrap took $(($(date +%s) - t0)) s; tree $(du -sh "$work/tree" | cut -f1)"
	rm -rf "$3" && mkdir -p "$(dirname "$3")" && mv "$work/tree" "$3"
	rm -rf "$work"
	find "$(dirname "$3")" -mindepth 1 -maxdepth 1 ! -path "$3" -exec rm -rf {} +
}

vm_fetch_kernel
vm_fetch_busybox
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || vm_skip "cannot tell this Debian release's codename"
key=$(echo "$codename $GUEST_PACKAGES $ROOTFS_PREP" | sha256sum | cut -c1-12)
rootfs=$VM_CACHE/rootfs/$codename-$key
if [ -x "$rootfs/sbin/init" ]; then
	vm_log "Debian $codename tree: cached ($rootfs)"
else
	mirror=${GREETER_VM_MIRROR:-$(debian_mirror "$codename" | head -1)}
	[ -n "$mirror" ] || vm_skip "no Debian mirror for $codename in apt's sources (set GREETER_VM_MIRROR)"
	vm_locked build_rootfs_locked "$codename" "$mirror" "$rootfs" ||
		vm_skip "debootstrap of $codename from $mirror failed: no guest to boot"
fi
vm_log "downloads done; kernel $VM_KERNEL_RELEASE"

# greeter, built with --prefix=/usr and installed into a copy of the tree.
if [ ! -f "$vm_build/build.ninja" ]; then
	vm_log "meson setup $vm_build --prefix=/usr $*"
	"$meson" setup "$vm_build" "$source_root" --prefix=/usr "$@" >"$VM_TMP/setup.log" 2>&1 || {
		sed 's/^/    /' "$VM_TMP/setup.log"
		vm_fail "meson setup $vm_build failed"
	}
fi
prefix=$("$meson" introspect --buildoptions "$vm_build" 2>/dev/null |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
[ "$prefix" = /usr ] || vm_fail "$vm_build has prefix '$prefix', not /usr (remove it, or set GREETER_VM_BUILD)"
ninja -C "$vm_build" >"$VM_TMP/ninja.log" 2>&1 || {
	sed 's/^/    /' "$VM_TMP/ninja.log" | tail -40
	vm_fail "building $vm_build failed"
}
tree=$VM_TMP/tree
vm_log "copying the tree; DESTDIR=<tree> meson install -C $vm_build"
cp -a "$rootfs" "$tree" || vm_fail "cannot copy $rootfs"
DESTDIR=$tree "$meson" install -C "$vm_build" --no-rebuild --quiet >"$VM_TMP/install.log" 2>&1 || {
	sed 's/^/    /' "$VM_TMP/install.log"
	vm_fail "meson install into the guest tree failed"
}
# What a package's postinst does: create the admin group from sysusers.d.
systemd-sysusers --root="$tree" >/dev/null 2>&1 || vm_fail "systemd-sysusers --root failed"
[ -x "$tree/usr/sbin/greeterd" ] && [ -x "$tree/usr/bin/greeterctl" ] ||
	vm_fail "meson install did not put greeterd and greeterctl into /usr"

# The test unit, its script and what it compares against: the units as
# built (greeterd.service) and shipped (greeterd.socket).
pin_dir=$("$meson" introspect --buildoptions "$vm_build" |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "pin_dir"))')
mkdir -p "$tree/usr/local/lib/greeter-vm"
install -m 0755 "$here/systemd-guest.sh" "$tree/usr/local/lib/greeter-vm/guest-test.sh"
{
	echo "UNIT_SHA256=$(sha256sum <"$vm_build/systemd/greeterd.service" | cut -d' ' -f1)"
	echo "SOCKET_SHA256=$(sha256sum <"$source_root/systemd/greeterd.socket" | cut -d' ' -f1)"
	echo "PIN_DIR=$pin_dir"
} >"$tree/usr/local/lib/greeter-vm/expected"
cat >"$tree/etc/systemd/system/greeter-vm-test.service" <<'EOF'
[Unit]
Description=greeter VM test (tests/vm/systemd-guest.sh)
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/lib/greeter-vm/guest-test.sh
StandardOutput=journal+console
StandardError=journal+console
EOF
mkdir -p "$tree/etc/systemd/system/multi-user.target.wants"
ln -s ../greeter-vm-test.service "$tree/etc/systemd/system/multi-user.target.wants/"

image=$VM_TMP/root.img
size_mb=$(($(du -sm "$tree" | cut -f1) + 256))
mkfs.ext4 -q -F -L greeter-vm -d "$tree" "$image" "${size_mb}M" >"$VM_TMP/mkfs.log" 2>&1 || {
	cat "$VM_TMP/mkfs.log"
	vm_fail "mkfs.ext4 -d failed"
}
rm -rf "$tree"
vm_log "disk image ${size_mb} MB"

# The initramfs: load virtio and ext4, mount the disk, switch to systemd.
initrd=$VM_TMP/initramfs
vm_initramfs_root "$initrd"
install -m 0755 "$here/systemd-init.sh" "$initrd/init"
cp -r "$VM_MODULES" "$initrd/modules"
vm_pack_initramfs "$initrd" "$VM_TMP/initramfs.cpio.gz" || vm_fail "cannot pack the initramfs"

result=0
boots=
for phase in 1 2; do
	vm_boot "boot$phase" 180 -kernel "$VM_KERNEL" -initrd "$VM_TMP/initramfs.cpio.gz" \
		-drive "file=$image,format=raw,if=virtio,cache=unsafe" \
		-append "console=ttyS0 panic=-1 quiet greeter_vm.phase=$phase"
	rc=$?
	boots="$boots boot$phase ${VM_BOOT_SECONDS}s"
	[ $rc -eq 0 ] && continue
	result=1
	if [ $rc -eq 2 ] && [ $phase = 1 ]; then
		vm_log "boot 1 did not finish: boot 2 (which needs its state) not run"
		break
	fi
done
vm_wall " (guest:$boots)"
if [ $result -ne 0 ]; then
	vm_log "FAIL"
	exit 1
fi
vm_log "PASS"
