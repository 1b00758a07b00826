#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of the refusal suite's initramfs (busybox sh), on a kernel too old
# for greeter (Debian 11's 5.10, the one in /etc/greeter-vm-expected):
# mounts what the kernel does not, then runs greeterd in each attach mode and
# checks that it refuses the kernel as greeterd(8) says (KERNEL REQUIREMENTS,
# EXIT STATUS): exit status 3, one sentence on stderr naming the kernel
# release and what it lacks, nothing pinned, no program, link or map left
# loaded. Prints "GREETER-VM-RESULT refuse passed=N failed=N" and powers off.
GUEST_NAME=refuse
. /initramfs-guest-lib.sh

PIN_DIR=/sys/fs/bpf/greeter
REL=$(uname -r)
# What the BPF objects of greeter's are named (bpf/greeter.bpf.c; libbpf
# names the global data maps "<object>.rodata" and the like).
OUR_MAPS="config events stats sequence settings meta pending"

# The IDs of the loaded programs, links or maps (bpftool's JSON), sorted.
ids() { # prog|link|map
	bpftool -j "$1" show | grep -o '"id":[0-9]*' | grep -o '[0-9]*$' | sort -n | tr '\n' ' '
}
# The words of AFTER that are not in BEFORE.
new_ids() { # before after
	for i in $2; do
		case " $1 " in *" $i "*) ;; *) printf ' %s' "$i" ;; esac
	done
}
# Every path on the bpf file system (pins, directories).
bpffs() { find /sys/fs/bpf -mindepth 1 | sort | tr '\n' ' '; }
# Names of loaded maps that are greeter's.
our_maps() {
	for n in $(bpftool -j map show | grep -o '"name":"[^"]*"' | cut -d'"' -f4); do
		case " $OUR_MAPS " in *" $n "*) printf ' %s' "$n" ;; esac
		case $n in greeter* | *.rodata | *.data | *.bss | *.kconfig) printf ' %s' "$n" ;; esac
	done
}

echo "kernel $REL, expected $KERNEL_RELEASE"
check "the release's stock kernel ($KERNEL_RELEASE)" test -n "$KERNEL_RELEASE" -a "$REL" = "$KERNEL_RELEASE"
check "BTF present (/sys/kernel/btf/vmlinux)" test -e /sys/kernel/btf/vmlinux
check "kprobes available (kprobe PMU): auto mode means kprobe" test -e /sys/bus/event_source/devices/kprobe
check "bpftool lists programs, links and maps" eval \
	'bpftool -j prog show >/dev/null && bpftool -j link show >/dev/null && bpftool -j map show >/dev/null'
echo "before: programs [$(ids prog)] links [$(ids link)] maps [$(ids map)] bpffs [$(bpffs)]"

# One refused start: greeterd OPTIONS..., with the pin directory as the
# caller left it. LINKS is what the sentence says of the missing BPF links
# in that mode. The documented sentence (greeterd(8), KERNEL REQUIREMENTS)
# is checked word for word: 5.10 lacks exactly these two features.
refused() { # label links options...
	label=$1 links=$2
	shift 2
	pb=$(ids prog) lb=$(ids link) mb=$(ids map) fb=$(bpffs)
	touch /tmp/.before-greeterd
	sleep 1 # (busybox find -newer compares whole seconds)
	timeout 60 greeterd "$@" >/tmp/greeterd.out 2>/tmp/greeterd.err
	rc=$?
	echo "greeterd${*:+ $*}: exit status $rc; stderr ($(wc -l </tmp/greeterd.err) lines):"
	sed 's/^/    stderr: /' /tmp/greeterd.err
	sed 's/^/    stdout: /' /tmp/greeterd.out
	# The probes' tiny programs and maps go with their last file
	# descriptor; give the kernel a moment all the same.
	i=0
	while [ $i -lt 300 ]; do
		np=$(new_ids "$pb" "$(ids prog)") nl=$(new_ids "$lb" "$(ids link)") nm=$(new_ids "$mb" "$(ids map)")
		[ -z "$np$nl$nm" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$np$nl$nm" ] && { bpftool prog show; bpftool link show; bpftool map show; } | sed 's/^/    left: /'
	made=$(find / \( -path /proc -o -path /sys -o -path /dev \) -prune -o -newer /tmp/.before-greeterd \
		! -path /tmp ! -path /tmp/.before-greeterd ! -path '/tmp/greeterd.*' -print 2>/dev/null |
		tr '\n' ' ')
	echo "files greeterd made or changed outside bpffs: ${made:-none}"

	expected="greeterd: kernel $REL lacks the BPF instruction atomic fetch-and-add (Linux 5.12) and BPF links for $links (Linux 5.15), which keep the programs attached without greeterd; greeter needs Linux 5.15 or later, or these features backported"
	check "$label: exit status 3 (the kernel lacks a feature)" test "$rc" = 3
	check "$label: exactly one line on stderr" eval \
		'[ "$(wc -l </tmp/greeterd.err)" = 1 ] && [ -s /tmp/greeterd.err ]'
	check "$label: it names the kernel release and says it lacks" grep -qF "kernel $REL lacks " /tmp/greeterd.err
	check "$label: it says greeter needs Linux 5.15" grep -qF "greeter needs Linux 5.15 or later" /tmp/greeterd.err
	check "$label: it names BPF links for $links" grep -qF "BPF links for $links (Linux 5.15)" /tmp/greeterd.err
	check "$label: the sentence greeterd(8) shows for Debian 11" test "$(cat /tmp/greeterd.err)" = "$expected"
	check "$label: nothing on stdout" test ! -s /tmp/greeterd.out
	check "$label: no program left loaded (bpftool prog show:$np)" test -z "$np"
	check "$label: no link left (bpftool link show:$nl)" test -z "$nl"
	check "$label: no map left (bpftool map show:$nm)" test -z "$nm"
	lm=$(our_maps)
	check "$label: no map named like greeter's loaded ($lm)" test -z "$lm"
	fa=$(bpffs)
	check "$label: bpffs as before (before [$fb], after [$fa])" test "$fa" = "$fb"
}

# Auto mode, on a kernel with kprobes: kprobe mode. The pin directory is
# missing: greeterd makes it, and must remove it again.
check "no pin directory yet" test ! -e $PIN_DIR
refused "auto" "kprobes and tracepoints"
check "auto: the pin directory greeterd made removed again" test ! -e $PIN_DIR

# Tracepoint mode, with an empty pin directory already there: it stays, empty.
mkdir $PIN_DIR
refused "--attach tracepoint" "tracepoints" --attach tracepoint
check "--attach tracepoint: the pin directory that was there kept, empty" eval \
	'[ -d $PIN_DIR ] && [ -z "$(ls -A $PIN_DIR)" ]'
rmdir $PIN_DIR

# Kprobe mode asked for by name: the same as auto here.
refused "--attach kprobe" "kprobes and tracepoints" --attach kprobe
check "--attach kprobe: no pin directory left" test ! -e $PIN_DIR

# No greeterd runs: the client finds none.
timeout 30 greeterctl status >/tmp/ctl.out 2>&1
rc=$?
sed 's/^/    greeterctl: /' /tmp/ctl.out
check "greeterctl status fails: no greeterd (exit status $rc)" test "$rc" != 0

# For the log: the refusal with --verbose, greeterd's own lines (the
# probe's time), not libbpf's reading of the object.
timeout 60 greeterd --verbose >/tmp/greeterd.verbose 2>&1
echo "greeterd --verbose: exit status $?, $(grep -c '^greeterd: libbpf: ' /tmp/greeterd.verbose) lines of libbpf's and:"
grep -v '^greeterd: libbpf: ' /tmp/greeterd.verbose | sed 's/^/    verbose: /'
finish
