#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian package under the release's own systemd, per Debian release:
# two versions of the package built in a build root of the release (the
# second from the same source, its version bumped and its BPF program
# changed by one constant: an upgrade that replaces the programs), put into
# a copy of the release's guest tree, which boots twice on the release's
# stock kernel under qemu TCG. package-guest.sh runs at each boot: boot 1
# installs the first with dpkg under systemd and uses it; boot 2 checks what
# came back after the reboot, upgrades under an exec load and purges.
#
# package.sh CODENAME SOURCE_ROOT
# Exit status: 0 pass, 1 fail, 77 skipped (this machine cannot boot a guest).
set -uo pipefail
VM_SUITE=vm-package
here=$(dirname "$(realpath "$0")")
. "$here/lib.sh"

usage="usage: package.sh CODENAME SOURCE_ROOT"
release=${1:?$usage}
source_root=$(realpath "${2:?$usage}")

vm_init "$release"
vm_need_tools qemu-system-x86_64:qemu-system-x86 debootstrap:debootstrap \
	mkfs.ext4:e2fsprogs gzip:gzip
vm_fetch_all

# ---- the two packages, built in the release's package build root (the
# one tests/package/package.sh uses: debian/control's Build-Depends).
deps=$(python3 "$source_root/tests/lib/build_depends.py" "$source_root/debian/control" "$release") || vm_fail "cannot read Build-Depends from debian/control"
# shellcheck disable=SC2086
vm_droot build_tree droot_derived "$release" pkg-build build-essential debhelper dpkg-dev lintian $deps
vm_log "Debian $release package build root $build_tree"

pkgs=$VM_TMP/pkgs
for v in 1 2; do
	mkdir -p "$pkgs/v$v/greeter"
	(cd "$source_root" && git ls-files -z | tar --null -T - -cf -) | tar -C "$pkgs/v$v/greeter" -xf - ||
		vm_fail "cannot copy the source"
done
# Version 2: the next version, its BPF object one constant apart.
v2=$pkgs/v2/greeter
sed -i 's/^char LICENSE\[\] SEC("license") = .*;$/&\nconst volatile __u32 greeter_vm_next_version = 2;/' "$v2/bpf/greeter.bpf.c"
grep -q greeter_vm_next_version "$v2/bpf/greeter.bpf.c" || vm_fail "cannot make the second version's program differ"
version=$(dpkg-parsechangelog -l "$v2/debian/changelog" -S Version)
{
	printf 'greeter (%s+vm2) unstable; urgency=medium\n\n  * The next version (tests/vm/package.sh).\n\n' "$version"
	printf ' -- greeter developers <greeter@users.noreply.github.com>  %s\n\n' "$(date -R -d @0)"
	cat "$v2/debian/changelog"
} >"$v2/debian/changelog.new" && mv "$v2/debian/changelog.new" "$v2/debian/changelog"
t0=$(date +%s)
DROOT_BINDS=("$pkgs:/pkgs")
for v in 1 2; do
	droot_run "$build_tree" sh -c 'cd "/pkgs/v$1/greeter" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b' \
		sh "$v" >"$VM_TMP/build$v.log" 2>&1 || {
		vm_show "$VM_TMP/build$v.log" 60
		vm_fail "building package $v in the Debian $release build root failed (above)"
	}
done
DROOT_BINDS=()
deb1=$(ls "$pkgs"/v1/greeter_*.deb) && deb2=$(ls "$pkgs"/v2/greeter_*.deb) || vm_fail "no .deb built"
vm_log "built $(basename "$deb1") and $(basename "$deb2") in $(($(date +%s) - t0)) s"

# ---- the guest tree: the release's, with bpftool (to see what is attached).
tree=$VM_TMP/tree
vm_log "copying the guest tree"
mkdir -p "$tree" &&
	tar -C "$VM_GUEST_TREE" --exclude=./var/lib/apt/lists/* --exclude=./var/cache/apt/*.bin --exclude=./var/cache/apt/archives/* \
		--exclude=./usr/share/doc/* --exclude=./usr/share/man/* --exclude=./usr/share/locale/* \
		--exclude=./usr/share/info/* --exclude=./vm-dl -cf - . | tar -C "$tree" -xf - ||
	vm_fail "cannot copy $VM_GUEST_TREE"
bpftool_deb=$(ls "$GREETER_TEST_CACHE/apt/$release"/bpftool_*_amd64.deb 2>/dev/null | tail -1)
[ -n "$bpftool_deb" ] || vm_fail "no bpftool package in $GREETER_TEST_CACHE/apt/$release (the build root installs it)"
cp "$bpftool_deb" "$tree/var/tmp/bpftool.deb"
droot_run "$tree" dpkg -i /var/tmp/bpftool.deb >"$VM_TMP/bpftool.log" 2>&1 || {
	vm_show "$VM_TMP/bpftool.log"
	vm_fail "cannot install bpftool into the guest tree"
}
rm -f "$tree/var/tmp/bpftool.deb"
: >"$tree/etc/fstab"
echo greeter-vm >"$tree/etc/hostname"
tr -d - </proc/sys/kernel/random/uuid >"$tree/etc/machine-id"
for u in serial-getty@ttyS0.service getty@tty1.service getty.target systemd-logind.service \
	systemd-modules-load.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
	ln -sf /dev/null "$tree/etc/systemd/system/$u"
done
mkdir -p "$tree/usr/local/lib/greeter-vm"
cp "$deb1" "$tree/usr/local/lib/greeter-vm/greeter-1.deb"
cp "$deb2" "$tree/usr/local/lib/greeter-vm/greeter-2.deb"
install -m 0755 "$here/package-guest.sh" "$tree/usr/local/lib/greeter-vm/guest-test.sh"
{
	echo "KERNEL_RELEASE=$VM_KERNEL_RELEASE"
	echo "RELEASE=$release"
	echo "VERSION1=$(dpkg-deb -f "$deb1" Version)"
	echo "VERSION2=$(dpkg-deb -f "$deb2" Version)"
} >"$tree/usr/local/lib/greeter-vm/expected"
cat >"$tree/etc/systemd/system/greeter-vm-test.service" <<'UNIT'
[Unit]
Description=greeter VM test (tests/vm/package-guest.sh)
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/lib/greeter-vm/guest-test.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
UNIT
mkdir -p "$tree/etc/systemd/system/multi-user.target.wants"
ln -s ../greeter-vm-test.service "$tree/etc/systemd/system/multi-user.target.wants/"

image=$VM_TMP/root.img
size_mb=$(($(du -sm "$tree" | cut -f1) + 256))
mkfs.ext4 -q -F -L greeter-vm -d "$tree" "$image" "${size_mb}M" >"$VM_TMP/mkfs.log" 2>&1 || {
	vm_show "$VM_TMP/mkfs.log"
	vm_fail "mkfs.ext4 -d failed"
}
rm -rf "$tree"
vm_log "disk image ${size_mb} MB"

initrd=$VM_TMP/initramfs
vm_initramfs_root "$initrd"
install -m 0755 "$here/systemd-init.sh" "$initrd/init"
cp -r "$VM_MODULES" "$initrd/modules"
vm_pack_initramfs "$initrd" "$VM_TMP/initramfs.cpio.gz" || vm_fail "cannot pack the initramfs"

result=0
boots=
for phase in 1 2; do
	vm_boot "boot$phase" 600 -kernel "$VM_KERNEL" -initrd "$VM_TMP/initramfs.cpio.gz" \
		-drive "file=$image,format=raw,if=virtio,cache=unsafe" \
		-append "console=ttyS0 panic=-1 quiet greeter_vm.phase=$phase"
	rc=$?
	boots="$boots boot$phase ${VM_BOOT_SECONDS}s"
	[ $rc -eq 0 ] && continue
	result=1
	[ $phase = 1 ] && { vm_log "boot 1 failed: boot 2 (which needs its state) not run"; break; }
done
vm_wall " (guest:$boots)"
if [ $result -ne 0 ]; then
	vm_log "FAIL"
	exit 1
fi
vm_log "PASS"
