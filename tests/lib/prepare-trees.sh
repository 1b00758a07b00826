#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Makes the Debian trees that the vm, package, newcomer and interop suites
# take from tests/lib/debian-root.sh's cache, in the background while
# run-tests.sh builds and runs the first suites: debootstrap and apt wait
# mostly on the archive and the disk, the builds on the CPU. Each tree is
# made by the function and with the packages its suite uses, under the
# cache lock, so a suite that needs one first waits for it or makes it
# itself. Nothing here decides a test: a tree that cannot be made is the
# suite's to report (skip or fail, with the reason); this only logs it.
#
# prepare-trees.sh SOURCE_ROOT
set -u
src=$(realpath "${1:?usage: prepare-trees.sh SOURCE_ROOT}")
. "$src/tests/lib/debian-root.sh"

try() {
	local t0=$SECONDS
	if "$@" >/dev/null; then
		echo "prepare-trees: $* ($((SECONDS - t0)) s)"
	else
		echo "prepare-trees: $* failed: ${DROOT_ERROR:-}"
	fi
}

# In the order the suites come to them (tests/meson.build's order).
try droot_derived bookworm guest $DROOT_GUEST_PACKAGES
try droot_derived trixie guest $DROOT_GUEST_PACKAGES
try droot_pkg_build "$src" bookworm arm64
try droot_base bullseye
try droot_pkg_build "$src" bookworm
try droot_pkg_build "$src" trixie
if [ -r /usr/lib/binfmt.d/qemu-aarch64.conf ]; then
	try droot_derived bookworm:arm64 guest $DROOT_GUEST_ARM64_PACKAGES
fi
echo "prepare-trees: done"
