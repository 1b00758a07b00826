#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An initramfs suite on arm64: greeter cross-built for arm64 (arm64-build.sh,
# into BUILD_ROOT/arm64, shared by the releases' suites), then SUITE.sh
# (kprobe.sh or refuse.sh) with those binaries: the release's arm64 stock
# kernel under qemu-system-aarch64 (TCG), arm64 libraries.
#
# arm64.sh SUITE CODENAME SOURCE_ROOT BUILD_ROOT     (SUITE: kprobe, refuse)
# Exit status: 0 pass, 1 fail, 77 skipped (this machine cannot do it).
set -uo pipefail
here=$(dirname "$(realpath "$0")")
usage="usage: arm64.sh SUITE CODENAME SOURCE_ROOT BUILD_ROOT"
suite=${1:?$usage}
release=${2:?$usage}
source_root=${3:?$usage}
build=${4:?$usage}/arm64
case $suite in
kprobe | refuse) ;;
*) echo "$usage (SUITE: kprobe or refuse)" >&2; exit 1 ;;
esac
"$here/arm64-build.sh" "$source_root" "$build"
rc=$?
[ $rc -eq 0 ] || exit $rc
exec "$here/$suite.sh" "$release" "$build/daemon/greeterd" "$build/client/greeterctl"
