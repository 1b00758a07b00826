#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kprobe suite on arm64: greeter cross-built for arm64 (arm64-build.sh,
# into BUILD_ROOT/arm64, shared by the releases' suites), then kprobe.sh
# with those binaries: the release's arm64 stock kernel under
# qemu-system-aarch64 (TCG), the release's arm64 libraries.
#
# kprobe-arm64.sh CODENAME SOURCE_ROOT BUILD_ROOT
# Exit status: 0 pass, 1 fail, 77 skipped (this machine cannot do it).
set -uo pipefail
here=$(dirname "$(realpath "$0")")
usage="usage: kprobe-arm64.sh CODENAME SOURCE_ROOT BUILD_ROOT"
release=${1:?$usage}
source_root=${2:?$usage}
build=${3:?$usage}/arm64
"$here/arm64-build.sh" "$source_root" "$build"
rc=$?
[ $rc -eq 0 ] || exit $rc
exec "$here/kprobe.sh" "$release" "$build/daemon/greeterd" "$build/client/greeterctl"
