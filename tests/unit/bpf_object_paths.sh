#!/bin/bash
# The BPF object names no directory of the machine that built it (the
# source and build directories): the same source gives the same object,
# hence the same build id, wherever it is built. Args: OBJECT SOURCE_ROOT BUILD_ROOT
set -u
obj=$1 src=$2 build=$3
leaks=$(strings "$obj" | grep -F -e "$src" -e "$build" | sort -u)
if [ -n "$leaks" ]; then
	echo "FAIL: $obj holds the build machine's paths:"
	echo "$leaks"
	exit 1
fi
echo "ok - $(basename "$obj") names its source as $(strings "$obj" | grep -m1 'greeter\.bpf\.c')"
