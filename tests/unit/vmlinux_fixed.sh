#!/bin/bash
# The BPF program was compiled against the fixed vmlinux.h of its
# architecture (bpf/vmlinux/ARCH/), not the build machine's kernel: the
# header in the build is the one SOURCE names. Args: VMLINUX_H SOURCE_FILE
set -u
header=$1 source=$2
want=$(sed -n 's/^sha256 of vmlinux.h: //p' "$source")
got=$(sha256sum <"$header" | cut -d' ' -f1)
if [ -z "$want" ] || [ "$got" != "$want" ]; then
	echo "FAIL: $header (sha256 $got) is not the header $source names (${want:-none})"
	exit 1
fi
echo "ok - vmlinux.h is $(sed -n 's/^package: //p' "$source") $(sed -n 's/^version: //p' "$source")'s, as $source says"
