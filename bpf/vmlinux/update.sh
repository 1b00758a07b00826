#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Make bpf/vmlinux/ARCH/vmlinux.h.xz from a Debian kernel package: the
# kernel types the BPF program is compiled against, fixed and versioned, so
# that a build never reads the build machine's kernel (CO-RE relocates the
# program to the running kernel's types at load).
#
#   bpf/vmlinux/update.sh ARCH KERNEL.deb
#
# ARCH: the folder (x86, arm64: bpf/meson.build's __TARGET_ARCH names).
# KERNEL.deb: Debian's linux-image-*-<arch> package of the oldest release
# greeter supports (Debian 12's 6.1), e.g. from `apt-get download
# linux-image-6.1.0-57-amd64` (arm64: in a root with the arm64 architecture
# added). Needs bpftool, dpkg-deb, python3.
set -euo pipefail
arch=${1:?usage: update.sh ARCH KERNEL.deb}
deb=$(realpath "${2:?usage: update.sh ARCH KERNEL.deb}")
here=$(dirname "$(realpath "$0")")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

dpkg-deb -x "$deb" "$tmp/pkg"
vmlinuz=$(find "$tmp/pkg/boot" -name 'vmlinuz-*' | head -1)
[ -n "$vmlinuz" ] || { echo "update.sh: no /boot/vmlinuz-* in $deb" >&2; exit 1; }
python3 "$here/extract_btf.py" "$vmlinuz" "$tmp/vmlinux.btf"
mkdir -p "$here/$arch"
bpftool btf dump file "$tmp/vmlinux.btf" format c >"$tmp/vmlinux.h"
python3 -c 'import lzma, sys
data = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(lzma.compress(data, preset=9))' "$tmp/vmlinux.h" "$here/$arch/vmlinux.h.xz"
{
	echo "package: $(dpkg-deb -f "$deb" Package)"
	echo "version: $(dpkg-deb -f "$deb" Version)"
	echo "architecture: $(dpkg-deb -f "$deb" Architecture)"
	echo "sha256 of the package: $(sha256sum <"$deb" | cut -d' ' -f1)"
	echo "sha256 of vmlinux.h: $(sha256sum <"$tmp/vmlinux.h" | cut -d' ' -f1)"
} >"$here/$arch/SOURCE"
cat "$here/$arch/SOURCE"
