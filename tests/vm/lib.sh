# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the VM suites (kprobe.sh, refuse.sh, systemd.sh, package.sh,
# arm64-build.sh), which run per Debian release: progress and timing, the
# release's guest tree (tests/lib/debian-root.sh), its stock kernel and
# busybox fetched with its own apt, qemu under TCG. Sourced; the caller sets VM_SUITE (and VM_ARCH for another
# guest architecture than amd64: arm64), then calls vm_init CODENAME.
#
# Cache: $GREETER_TEST_CACHE/vm/<codename>/ (default /var/cache/greeter-test),
# outside git; the Debian trees are debian-root.sh's, in the same cache.
# Exit status of a suite: 0 pass, 1 fail, 77 skip. A skip is only for what
# this machine cannot do: not root, the Debian archive unreachable, qemu not
# installable. Anything else that goes wrong (a file missing from a package
# we downloaded, a module we cannot find, a build that fails) is a fault of
# ours: a failure, with the reason.

# shellcheck source=../lib/debian-root.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/debian-root.sh"
# say, wall, fail, skip here; ok, not_ok, check and the rest in the guests.
VM_CHECKS=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../lib/checks.sh")
# shellcheck source=../lib/checks.sh
. "$VM_CHECKS"
SAY_NAME=$VM_SUITE

VM_CACHE=$GREETER_TEST_CACHE/vm
VM_TMP=
VM_MARKER=GREETER-VM-RESULT
# The guest's architecture, Debian's name: amd64 (qemu-system-x86_64) or
# arm64 (qemu-system-aarch64 -M virt). The host is amd64: an arm64 guest
# takes its kernel, busybox and libraries as :arm64 packages (multiarch, in
# a tree of its own) and runs a cross-built greeter (arm64-build.sh).
VM_ARCH=${VM_ARCH:-amd64}

# What the architecture changes: set by vm_init.
#   VM_PKG_ARCH   suffix of the release's packages for the guest ("" native)
#   VM_KERNEL_META  the package that depends on the release's stock kernel
#   VM_QEMU, VM_QEMU_PKG, VM_QEMU_ARGS  the emulator, its package, machine
#   VM_TTY        the serial console's device in the guest
#   VM_QEMU_USER  for another architecture: "file:package" of qemu-user
# shellcheck disable=SC2034 # read by the suites
vm_arch_setup() {
	case $VM_ARCH in
	amd64)
		VM_PKG_ARCH=
		VM_QEMU=qemu-system-x86_64 VM_QEMU_PKG=qemu-system-x86
		VM_QEMU_ARGS=(-cpu max)
		VM_TTY=ttyS0 VM_QEMU_USER=
		;;
	arm64)
		VM_PKG_ARCH=:arm64
		VM_QEMU=qemu-system-aarch64 VM_QEMU_PKG=qemu-system-arm
		# -cpu max emulates pointer authentication with QARMA, which
		# costs TCG most of its time; the implementation-defined
		# algorithm is far cheaper (tests/vm/README.md: measured, with
		# GREETER_VM_ARM64_CPU naming another -cpu).
		VM_QEMU_ARGS=(-M virt -cpu "${GREETER_VM_ARM64_CPU:-max,pauth-impdef=on}")
		VM_TTY=ttyAMA0
		# What makes the arm64 system tree (debian-root.sh's
		# droot_with_arch): qemu-user and its binfmt line (Debian 13's
		# qemu-user-static is qemu-user and qemu-user-binfmt).
		VM_QEMU_USER=/usr/lib/binfmt.d/qemu-aarch64.conf:qemu-user-static
		;;
	*) fail "unknown guest architecture VM_ARCH=$VM_ARCH (amd64 or arm64)" ;;
	esac
	VM_KERNEL_META=linux-image-$VM_ARCH
	VM_BUSYBOX_PKG=busybox-static$VM_PKG_ARCH
}

# Shows the tail of a log, indented.
vm_show() { # log [lines]
	[ -f "$1" ] && tail -"${2:-30}" "$1" | sed 's/^/    /'
}

vm_cleanup() {
	[ -n "$VM_TMP" ] && rm -rf "$VM_TMP"
	VM_TMP=
}

# The suites of this machine's build (kprobe.sh, refuse.sh): CODENAME
# GREETERD GREETERCTL from their command line; the guest's architecture is
# the binaries' (amd64, or a cross build for arm64). Sets VM_GREETERD,
# VM_GREETERCTL and VM_ARCH, and calls vm_init.
vm_host_build() { # usage codename greeterd greeterctl
	local usage=$1
	VM_GREETERD=$(realpath "${3:?$usage}")
	VM_GREETERCTL=$(realpath "${4:?$usage}")
	case $(LC_ALL=C readelf -h "$VM_GREETERD" 2>/dev/null | sed -n 's/^ *Machine: *//p') in
	AArch64) VM_ARCH=arm64 ;;
	*) VM_ARCH=amd64 ;;
	esac
	vm_init "${2:?$usage}"
	[ -x "$VM_GREETERD" ] || fail "greeterd not built: $VM_GREETERD"
	[ -x "$VM_GREETERCTL" ] || fail "greeterctl not built: $VM_GREETERCTL"
}

# The release, a work directory removed on exit however the suite ends,
# the release's cache folder. Sets VM_RELEASE, VM_RCACHE, VM_TMP.
vm_init() { # codename
	VM_RELEASE=$1
	VM_SUITE=$VM_SUITE-$1
	[ "$VM_ARCH" = amd64 ] || VM_SUITE=$VM_SUITE-$VM_ARCH
	SAY_NAME=$VM_SUITE
	vm_arch_setup
	droot_version "$1" >/dev/null || fail "unknown Debian release '$1'"
	[ "$(id -u)" = 0 ] || skip "needs root (Debian trees, BPF in the guest)"
	VM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/greeter-$VM_SUITE.XXXXXX") ||
		fail "cannot create a temporary directory"
	trap vm_cleanup EXIT
	trap 'say "interrupted"; exit 1' INT TERM
	VM_RCACHE=$VM_CACHE/$1
	[ "$VM_ARCH" = amd64 ] || VM_RCACHE=$VM_RCACHE-$VM_ARCH
	# (Or the cache folder the caller names: arm64-build.sh's.)
	[ -n "${VM_CACHE_NAME:-}" ] && VM_RCACHE=$VM_CACHE/$VM_CACHE_NAME
	mkdir -p "$VM_RCACHE" || fail "cannot create the cache directory $VM_RCACHE"
	say "Debian $(droot_version "$1") ($1) $VM_ARCH; cache $VM_RCACHE, work directory $VM_TMP"
}

# Runs "$@" holding the cache lock: suites run one at a time, but two
# builds (or two checkouts) may share the cache. (Not debian-root.sh's lock,
# which its functions take themselves.)
vm_locked() {
	(
		flock 9 || exit 1
		"$@"
	) 9>"$VM_CACHE/.lock"
}

# Installs the Debian packages that provide the commands named, when missing
# (with this machine's apt: they run here, not in the guest); a name that
# starts with / is a file.
# vm_need_tools "command:package" ... ; skips when they cannot be installed.
vm_have() { case $1 in /*) [ -e "$1" ] ;; *) command -v "$1" >/dev/null ;; esac; }
vm_need_tools() {
	local spec missing=() pkgs=()
	for spec in "$@"; do
		vm_have "${spec%%:*}" || { missing+=("${spec%%:*}"); pkgs+=("${spec#*:}"); }
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${pkgs[*]} (for ${missing[*]}; tests/lib/deps.sh lists them)"
	command -v apt-get >/dev/null || skip "${missing[*]} missing and no apt-get to install ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get install -y -qq --no-install-recommends "${pkgs[@]}" ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; }; } \
		>"$VM_TMP/apt-install.log" 2>&1 || {
		vm_show "$VM_TMP/apt-install.log" 20
		skip "cannot install ${pkgs[*]} on this machine: no guest can be booted here"
	}
	# Installed, yet still missing: a wrong package name is our mistake.
	for spec in "$@"; do
		vm_have "${spec%%:*}" ||
			fail "${spec%%:*} still missing after installing ${spec#*:} (wrong package name?)"
	done
}

# ---- Debian trees (tests/lib/debian-root.sh).

# Runs a debian-root.sh function that prints a path; sets the variable named
# to that path. Skips when the archive could not be reached (status 2),
# fails otherwise, with debian-root.sh's reason.
vm_droot() { # variable function args...
	local var=$1 out rc
	shift
	rm -f "$VM_TMP/droot-error"
	# shellcheck disable=SC2030
	out=$(
		"$@"
		rc=$?
		[ $rc -eq 0 ] || echo "$DROOT_ERROR" >"$VM_TMP/droot-error"
		exit $rc
	)
	rc=$?
	if [ $rc -ne 0 ]; then
		# (DROOT_ERROR can be empty: set in a subshell of debian-root.sh's.)
		out=$(cat "$VM_TMP/droot-error" 2>/dev/null)
		out=${out:-"$* failed"}
		[ $rc -eq 2 ] && skip "$out (the Debian archive cannot be reached)"
		fail "$out (above)"
	fi
	[ -d "$out" ] || fail "$1 printed '$out', not a directory"
	printf -v "$var" %s "$out"
}

# The release's guest tree: minbase plus systemd and greeter's run-time
# libraries ($DROOT_GUEST_PACKAGES), cached and shared with other suites
# (never changed here but for its apt lists). Its apt fetches the kernel and
# busybox; the systemd suite boots a copy. Sets VM_GUEST_TREE.
# A suite that only downloads from the release (refuse.sh: Debian 11 has no
# libbpf1, so no guest tree) sets VM_APT_TREE=1 first: then the tree is the
# minbase with nothing added, a copy of its own ("<codename>-apt-<hash>"),
# as the minbase itself is never changed and apt-get update would.
# Another architecture's guest tree ("<codename>-<arch>-guest-<hash>") is
# minbase plus greeter's run-time libraries and bpftool of that
# architecture (:arm64, multiarch beside minbase's own): the initramfs takes
# them from there (VM_LIB_TREE), and its apt fetches that architecture's
# kernel and busybox. With VM_APT_TREE, that architecture's apt tree
# ("<codename>-<arch>-apt-<hash>": minbase with only the architecture added
# to its dpkg) fetches them instead, and the libraries come from the guest
# tree of the release VM_LIB_RELEASE names (refuse.sh on arm64: bookworm,
# the release the cross build is for), the suite's own when unset.
VM_APT_TREE=
VM_LIB_RELEASE=
vm_guest_tree() {
	local p pkgs=() apt_name=apt apt_arch=() lib_release=${VM_LIB_RELEASE:-$VM_RELEASE}
	if [ "$VM_ARCH" != amd64 ]; then
		for p in libbpf1 libelf1 zlib1g libsystemd0 libcjson1 bpftool; do pkgs+=("$p$VM_PKG_ARCH"); done
		vm_droot VM_LIB_TREE droot_derived "$lib_release" "$VM_ARCH-guest" "${pkgs[@]}"
		say "Debian $lib_release $VM_ARCH guest tree $VM_LIB_TREE"
		VM_GUEST_TREE=$VM_LIB_TREE
		apt_name=$VM_ARCH-apt apt_arch=("$VM_PKG_ARCH")
	fi
	if [ -n "$VM_APT_TREE" ]; then
		vm_droot VM_GUEST_TREE droot_derived "$VM_RELEASE" "$apt_name" "${apt_arch[@]}"
		# The release's own kernel and busybox, not its security suite's:
		# the refused release's security support has ended (Debian 11's LTS
		# in 2026-08) and mirrors keep its pool incompletely (this kind of
		# machine's answers 404 for its arm64 .debs); every mirror keeps
		# the point release. The refusal wants any kernel of the series.
		printf 'Package: *\nPin: release n=%s-security\nPin-Priority: -1\n' "$VM_RELEASE" \
			>"$VM_GUEST_TREE/etc/apt/preferences.d/greeter-no-security" ||
			fail "cannot write the apt preferences of $VM_GUEST_TREE"
		say "Debian $VM_RELEASE apt tree (minbase${apt_arch[*]:+, dpkg architecture $VM_ARCH added}) $VM_GUEST_TREE"
		return
	fi
	[ "$VM_ARCH" = amd64 ] || return 0
	vm_droot VM_GUEST_TREE droot_derived "$VM_RELEASE" guest $DROOT_GUEST_PACKAGES
	say "Debian $VM_RELEASE guest tree $VM_GUEST_TREE"
}

# Runs a command in the guest tree with the release's own apt, a directory
# of ours bound at /vm-dl.
vm_in_guest() { # dir command...
	local DROOT_BINDS=("$1:/vm-dl")
	shift
	droot_run "$VM_GUEST_TREE" "$@"
}

# apt-get update in the guest tree; returns 2 when the archive could not be
# reached, 1 for another failure (the log shown).
vm_guest_apt_update() {
	say "apt-get update in the Debian $VM_RELEASE tree"
	vm_locked vm_in_guest "$VM_TMP" apt-get update -q >"$VM_TMP/apt-update.log" 2>&1 && return 0
	vm_show "$VM_TMP/apt-update.log" 15
	droot_why "$VM_TMP/apt-update.log"
}

# What the release's apt offers: VM_KERNEL_PKG (the package linux-image-amd64
# depends on, or linux-image-arm64:arm64; the name moves with point
# releases), VM_KERNEL_VER, VM_BUSYBOX_VER.
vm_apt_resolve_once() {
	local out
	out=$(vm_in_guest "$VM_TMP" sh -c '
		cand() { apt-cache policy "$1" 2>/dev/null | sed -n "s/^ *Candidate: *//p" | grep -v "(none)"; }
		k=$(apt-cache depends "$1$2" 2>/dev/null |
			sed -n "s/^ *Depends: *\(linux-image-[0-9][^ :]*\).*/\1/p" | head -1)
		[ -n "$k" ] && k=$k$2
		echo "${k:--} $( [ -n "$k" ] && cand "$k" || echo -) $(cand "busybox-static$2" || echo -) $(cand busybox-static || echo -)"' \
		sh "$VM_KERNEL_META" "$VM_PKG_ARCH" 2>"$VM_TMP/resolve.log")
	read -r VM_KERNEL_PKG VM_KERNEL_VER VM_BUSYBOX_VER VM_HOST_BUSYBOX_VER <<<"$out"
	[ -n "$VM_KERNEL_VER" ] && [ "$VM_KERNEL_PKG" != - ] && [ "$VM_KERNEL_VER" != - ] &&
		[ -n "$VM_BUSYBOX_VER" ] && [ "$VM_BUSYBOX_VER" != - ] &&
		[ -n "$VM_HOST_BUSYBOX_VER" ] && [ "$VM_HOST_BUSYBOX_VER" != - ]
}
# The same, where the suite cannot go on without it: skips when the
# archive cannot be reached, fails otherwise.
vm_guest_apt_update_or_stop() {
	vm_guest_apt_update
	case $? in
	0) echo "$VM_GUEST_TREE" >"$VM_RCACHE/lists-updated" ;;
	2) skip "apt-get update of Debian $VM_RELEASE failed: the Debian archive cannot be reached" ;;
	*) fail "apt-get update in the Debian $VM_RELEASE tree failed (above)" ;;
	esac
}

# Package lists over a day old are refreshed first, so that a machine whose
# cache lives on tests the release's current kernel (offline, the cached
# kernel of the lists there are will do). $VM_RCACHE/lists-updated names the
# guest tree last updated (apt keeps the archive's dates on its files).
VM_LISTS_MAX_AGE_MIN=1440
vm_apt_resolve() {
	local stamp=$VM_RCACHE/lists-updated
	if [ "$(cat "$stamp" 2>/dev/null)" != "$VM_GUEST_TREE" ] ||
		[ -z "$(find "$stamp" -mmin -"$VM_LISTS_MAX_AGE_MIN" 2>/dev/null)" ]; then
		if vm_guest_apt_update; then
			echo "$VM_GUEST_TREE" >"$stamp"
		else
			say "(going on with the package lists there are)"
		fi
	fi
	vm_apt_resolve_once && return 0
	say "the Debian $VM_RELEASE tree's apt knows no $VM_KERNEL_META$VM_PKG_ARCH or busybox-static$VM_PKG_ARCH yet"
	vm_guest_apt_update_or_stop
	vm_apt_resolve_once || {
		vm_show "$VM_TMP/resolve.log"
		fail "Debian $VM_RELEASE's apt resolves no kernel or busybox-static after apt-get update (got: ${VM_KERNEL_PKG:-} ${VM_KERNEL_VER:-} ${VM_BUSYBOX_VER:-})"
	}
}

# Downloads PACKAGE=VERSION with the release's apt into DIR; returns 0, 2
# when the archive could not be reached, 1 otherwise (the log shown).
vm_apt_download() { # package version dir
	vm_in_guest "$3" sh -c 'cd /vm-dl && apt-get download -q -o APT::Sandbox::User=root "$1=$2"' \
		sh "$1" "$2" >"$VM_TMP/apt-download.log" 2>&1 && return 0
	vm_show "$VM_TMP/apt-download.log" 15
	droot_why "$VM_TMP/apt-download.log"
}

# Fetches one of the release's packages into the cache with LOCKED_FUNCTION
# (run under the cache lock: downloads PACKAGE VERSION, unpacks it into
# DEST). Stale package lists name versions the archive has dropped (the
# security suite keeps only the newest kernel): after a failed download, apt-get
# update, resolve again (RESOLVED_PKG/VER name the variables) and retry once.
# vm_fetch WHAT LOCKED_FUNCTION DEST_FUNCTION PKG_VARIABLE VER_VARIABLE
vm_fetch() {
	local what=$1 fn=$2 destfn=$3 pv=$4 vv=$5 dest rc try
	for try in 1 2; do
		dest=$("$destfn")
		[ -f "$dest/.complete" ] && {
			say "$what: ${!pv} ${!vv}, cached"
			VM_FETCHED=$dest
			return 0
		}
		say "$what: downloading ${!pv} ${!vv} (Debian $VM_RELEASE's apt-get download)"
		vm_locked "$fn" "${!pv}" "${!vv}" "$dest"
		rc=$?
		[ $rc -eq 0 ] && [ -f "$dest/.complete" ] && {
			VM_FETCHED=$dest
			return 0
		}
		case $rc in
		2) skip "cannot download $what ${!pv} ${!vv}: the Debian archive cannot be reached" ;;
		3) ;; # the download failed: maybe stale lists
		*) fail "preparing $what ${!pv} ${!vv} failed (above)" ;;
		esac
		[ $try = 2 ] && fail "apt-get download of ${!pv} ${!vv} failed again after apt-get update (above)"
		vm_guest_apt_update_or_stop
		vm_apt_resolve
	done
}

# A download directory in the cache and the download itself; returns 2 when
# the archive could not be reached, 3 when the download failed otherwise.
vm_download_into() { # package version: sets VM_DL, VM_DEB
	VM_DL=$(mktemp -d "$VM_RCACHE/.download.XXXXXX") || return 1
	vm_apt_download "$1" "$2" "$VM_DL"
	case $? in
	0) ;;
	2) rm -rf "$VM_DL"; return 2 ;;
	*) rm -rf "$VM_DL"; return 3 ;;
	esac
	VM_DEB=$(ls "$VM_DL"/*.deb 2>/dev/null | head -1)
	[ -n "$VM_DEB" ] || { say "ERROR: apt-get download $1=$2 succeeded but left no .deb"; rm -rf "$VM_DL"; return 1; }
}

# Unpacks a downloaded .deb (in VM_DL) into VM_DL/x with the release's dpkg-deb.
vm_unpack() { # deb
	mkdir -p "$VM_DL/x"
	vm_in_guest "$VM_DL" sh -c 'dpkg-deb --fsys-tarfile "/vm-dl/$1" | tar -x -C /vm-dl/x' sh "$(basename "$1")" \
		>"$VM_TMP/unpack.log" 2>&1 || {
		vm_show "$VM_TMP/unpack.log"
		say "ERROR: cannot unpack $(basename "$1")"
		return 1
	}
}

# Moves a finished cache entry into place and removes the older ones beside it.
vm_install_entry() { # work_dir dest
	touch "$1/.complete"
	rm -rf "$2" && mkdir -p "$(dirname "$2")" && mv "$1" "$2" || return 1
	find "$(dirname "$2")" -mindepth 1 -maxdepth 1 ! -path "$2" -exec rm -rf {} +
}
# The same for an entry made in the download folder, which goes in any case.
vm_install_download() { # work_dir dest
	vm_install_entry "$1" "$2"
	local rc=$?
	rm -rf "$VM_DL"
	return $rc
}

# ---- busybox-static, for the initramfs (and to decompress modules).

vm_busybox_dest() { echo "$VM_RCACHE/busybox/$VM_BUSYBOX_VER"; }
vm_host_busybox_dest() { echo "$VM_RCACHE/busybox-host/$VM_HOST_BUSYBOX_VER"; }
vm_fetch_busybox_locked() { # package version dest
	local f
	[ -f "$3/.complete" ] && return 0
	vm_download_into "$1" "$2" || return $?
	vm_unpack "$VM_DEB" || { rm -rf "$VM_DL"; return 1; }
	# bin/busybox up to Debian 12 (11 too), usr/bin/busybox from Debian 13.
	for f in usr/bin/busybox bin/busybox; do
		[ -f "$VM_DL/x/$f" ] && [ ! -L "$VM_DL/x/$f" ] && break
		f=
	done
	if [ -z "$f" ]; then
		say "ERROR: $(basename "$VM_DEB") has neither usr/bin/busybox nor bin/busybox"
		rm -rf "$VM_DL"
		return 1
	fi
	mkdir -p "$VM_DL/e" && mv "$VM_DL/x/$f" "$VM_DL/e/busybox" && rm -rf "$VM_DL/x" "$VM_DEB" ||
		{ rm -rf "$VM_DL"; return 1; }
	vm_install_download "$VM_DL/e" "$3"
}

# Sets VM_BUSYBOX. Needs vm_guest_tree and vm_apt_resolve.
vm_fetch_busybox() {
	vm_fetch busybox vm_fetch_busybox_locked vm_busybox_dest VM_BUSYBOX_PKG VM_BUSYBOX_VER
	VM_BUSYBOX=$VM_FETCHED/busybox
	[ -x "$VM_BUSYBOX" ] || fail "$VM_BUSYBOX missing from the cache"
	# Another architecture's busybox goes into the guest; the one that runs
	# here (cpio, xzcat) is the release's amd64 one, fetched beside it.
	VM_HOST_BUSYBOX=$VM_BUSYBOX
	[ "$VM_ARCH" = amd64 ] && return 0
	vm_fetch "busybox (amd64, for this machine)" vm_fetch_busybox_locked vm_host_busybox_dest \
		VM_HOST_BUSYBOX_PKG VM_HOST_BUSYBOX_VER
	VM_HOST_BUSYBOX=$VM_FETCHED/busybox
	[ -x "$VM_HOST_BUSYBOX" ] || fail "$VM_HOST_BUSYBOX missing from the cache"
}
VM_HOST_BUSYBOX_PKG=busybox-static

# ---- Debian's stock kernel: vmlinuz and the modules for a virtio-blk ext4 root.

# Modules a guest needs to mount an ext4 root on virtio-blk, and what they
# need (resolved from each module's "depends=", loaded in that order); those
# the kernel has built in (modules.builtin: virtio_pci on Debian 13) are
# left out. ext4 and jbd2 ask for crc32c through the crypto API (a soft
# dependency); systemd wants autofs4. And the package guests' network
# (package-net.sh): virtio_net for qemu's NIC, veth for the collector's
# network namespace (the guests have no /usr/lib/modules to load them from
# later). Bump VM_KERNEL_CACHE when the list or the layout of an entry
# changes.
VM_ROOT_MODULES="crc32c_generic virtio_pci virtio_blk ext4 autofs4 virtio_net veth"
VM_KERNEL_CACHE=kernel-v3

# "name path" for each module path read (dashes are underscores to modprobe).
vm_modnames() {
	awk '{ n = $0; sub(/.*\//, "", n); sub(/\.ko.*$/, "", n); gsub(/-/, "_", n); print n, $0 }'
}

# Copies a module, decompressed (.ko.xz on Debian 13, .ko on Debian 11 and 12),
# with its dependencies first, into DIR/modules/NAME.ko and appends NAME.ko
# to DIR/modules/order. Uses VM_MOD_INDEX ("name path" lines) and
# VM_MOD_BUILTIN (names).
vm_add_module() { # dir name
	local dir=$1 m=$2 f out d
	case " $VM_MOD_SEEN " in *" $m "*) return 0 ;; esac
	VM_MOD_SEEN="$VM_MOD_SEEN $m"
	if grep -qxF "$m" <<<"$VM_MOD_BUILTIN"; then
		say "module $m: built in"
		return 0
	fi
	f=$(awk -v m="$m" '$1 == m { print $2; exit }' <<<"$VM_MOD_INDEX")
	[ -n "$f" ] || { say "ERROR: module $m is neither in the kernel package nor built in (modules.builtin)"; return 1; }
	out=$dir/modules/$m.ko
	case $f in
	*.ko) cp "$f" "$out" ;;
	*.ko.xz) "$VM_HOST_BUSYBOX" xzcat "$f" >"$out" ;;
	*.ko.gz) "$VM_HOST_BUSYBOX" zcat "$f" >"$out" ;;
	*) say "ERROR: module $m: $f has a compression we cannot undo"; return 1 ;;
	esac || { say "ERROR: cannot decompress $f"; return 1; }
	for d in $(tr '\0' '\n' <"$out" | sed -n 's/^depends=//p' | head -1 | tr ',' ' '); do
		vm_add_module "$dir" "$d" || return 1
	done
	echo "$m.ko" >>"$dir/modules/order"
}

vm_kernel_dest() { echo "$VM_RCACHE/$VM_KERNEL_CACHE/${VM_KERNEL_PKG}_$VM_KERNEL_VER"; }
vm_fetch_kernel_locked() { # package version dest
	local pkg=$1 ver=$2 dest=$3 x rel mods m
	[ -f "$dest/.complete" ] && return 0
	vm_download_into "$pkg" "$ver" || return $?
	vm_unpack "$VM_DEB" || { rm -rf "$VM_DL"; return 1; }
	x=$VM_DL/x
	# The release string: lib/modules/<release>/ (Debian 11 and 12) or
	# usr/lib/modules/<release>/ (Debian 13), with boot/vmlinuz-<release>.
	mods=$(ls -d "$x"/usr/lib/modules/*/ "$x"/lib/modules/*/ 2>/dev/null | head -1)
	mods=${mods%/}
	rel=${mods##*/}
	if [ -z "$mods" ] || [ ! -f "$x/boot/vmlinuz-$rel" ] || [ ! -f "$mods/modules.builtin" ]; then
		say "ERROR: $(basename "$VM_DEB"): no {usr/,}lib/modules/<release>/modules.builtin with boot/vmlinuz-<release> (found '${rel:-nothing}')"
		rm -rf "$VM_DL"
		return 1
	fi
	mkdir -p "$VM_DL/k/modules"
	: >"$VM_DL/k/modules/order"
	cp "$x/boot/vmlinuz-$rel" "$VM_DL/k/vmlinuz" || { rm -rf "$VM_DL"; return 1; }
	echo "$rel" >"$VM_DL/k/release"
	VM_MOD_BUILTIN=$(vm_modnames <"$mods/modules.builtin" | cut -d' ' -f1)
	VM_MOD_INDEX=$(find "$mods/kernel" -name '*.ko*' | vm_modnames)
	VM_MOD_SEEN=
	for m in $VM_ROOT_MODULES; do
		vm_add_module "$VM_DL/k" "$m" || { rm -rf "$VM_DL"; return 1; }
	done
	say "kernel $rel; modules to load: $(tr '\n' ' ' <"$VM_DL/k/modules/order")"
	vm_install_download "$VM_DL/k" "$dest"
}

# Sets VM_KERNEL (vmlinuz), VM_MODULES (directory with "order") and
# VM_KERNEL_RELEASE (what `uname -r` says in the guest). The kernel is the
# one linux-image-amd64 depends on in the release: its stock kernel (5.10 on
# Debian 11, 6.1 on Debian 12, 6.12 on Debian 13), kprobes and BTF built
# in. Needs vm_fetch_busybox (modules are decompressed with it).
vm_fetch_kernel() {
	vm_fetch kernel vm_fetch_kernel_locked vm_kernel_dest VM_KERNEL_PKG VM_KERNEL_VER
	VM_KERNEL=$VM_FETCHED/vmlinuz
	VM_MODULES=$VM_FETCHED/modules
	VM_KERNEL_RELEASE=$(cat "$VM_FETCHED/release" 2>/dev/null)
	[ -f "$VM_KERNEL" ] && [ -f "$VM_MODULES/order" ] && [ -n "$VM_KERNEL_RELEASE" ] ||
		fail "the cached kernel in $VM_FETCHED is incomplete"
}

# The guest tree, what its apt offers, busybox and the kernel.
vm_fetch_all() {
	vm_guest_tree
	vm_apt_resolve
	vm_fetch_busybox
	vm_fetch_kernel
	say "downloads done; Debian $VM_RELEASE kernel $VM_KERNEL_RELEASE, busybox $VM_BUSYBOX_VER"
}

# ---- initramfs.

# A root directory with busybox (its applets linked at boot by /init).
vm_initramfs_root() { # dir
	mkdir -p "$1"/{bin,sbin,dev,proc,sys,run,tmp,etc,newroot,usr/bin,usr/sbin}
	cp "$VM_BUSYBOX" "$1/bin/busybox"
	ln -s busybox "$1/bin/sh"
}

# The shared libraries an executable loads and its dynamic loader, as paths
# in LIB_TREE ("" for this machine: ldd; for another architecture's binary,
# the guest tree: its DT_NEEDED entries, recursively, found in that tree's
# multiarch directories). Prints one path a line.
vm_libs_of() { # lib_tree file
	local tree=$1 f todo seen=" " n d found
	if [ -z "$tree" ]; then
		ldd "$2" | grep -o '/[^ ]*'
		return
	fi
	LC_ALL=C readelf -l "$2" | sed -n 's/.*Requesting program interpreter: \([^]]*\)]/\1/p'
	todo=("$2")
	while [ ${#todo[@]} -gt 0 ]; do
		f=${todo[0]}
		todo=("${todo[@]:1}")
		for n in $(LC_ALL=C readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case $seen in *" $n "*) continue ;; esac
			seen="$seen$n "
			found=
			for d in /usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu /usr/lib /lib; do
				[ -e "$tree$d/$n" ] && { found=$d/$n; break; }
			done
			[ -n "$found" ] || { echo "ERROR: $n (needed by $f) not in $tree" >&2; return 1; }
			echo "$found"
			todo+=("$tree$found")
		done
	done
}

# Copies dynamic executables with every shared library they load and the
# dynamic loader, at the paths they have here (or, for another
# architecture's guest, in $VM_LIB_TREE): the exact build runs.
VM_LIB_TREE=
vm_copy_with_libs() { # root file:destpath...
	local root=$1 spec src dst lib libs
	shift
	for spec in "$@"; do
		src=${spec%%:*} dst=${spec#*:}
		mkdir -p "$root$(dirname "$dst")"
		cp -L "$src" "$root$dst" || return 1
		libs=$(vm_libs_of "$VM_LIB_TREE" "$src") || return 1
		for lib in $libs; do
			[ -e "$root$lib" ] && continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$VM_LIB_TREE$lib" "$root$lib" || return 1
		done
	done
}

vm_pack_initramfs() { # dir output
	(cd "$1" && find . | "$VM_HOST_BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1) >"$2"
}

# The host build in an initramfs (kprobe.sh, refuse.sh): busybox, GUEST as
# /init (initramfs-guest-lib.sh and tests/lib/checks.sh beside it), the
# greeterd and greeterctl built here with their shared libraries and
# bpftool (when installed), a user 501 to run a program as (busybox su),
# the admin group, and the kernel's release string (KERNEL_RELEASE) in
# /etc/greeter-vm-expected. Needs vm_fetch_all; fails the suite if it cannot.
vm_host_initramfs() { # guest greeterd greeterctl output
	local root=$VM_TMP/initramfs bins bpftool
	vm_initramfs_root "$root"
	cp "$1" "$root/init" && chmod 0755 "$root/init" || fail "cannot copy $1 to the initramfs"
	cp "$(dirname "${BASH_SOURCE[0]}")/initramfs-guest-lib.sh" "$VM_CHECKS" "$root/" ||
		fail "cannot copy initramfs-guest-lib.sh and checks.sh to the initramfs"
	bins=("$2:/usr/sbin/greeterd" "$3:/usr/bin/greeterctl")
	if [ "$VM_ARCH" = amd64 ]; then
		bpftool=$(command -v bpftool || ls /usr/sbin/bpftool 2>/dev/null)
		[ -n "$bpftool" ] && bins+=("$(realpath "$bpftool"):/usr/sbin/bpftool")
	else
		# The architecture's own libraries and bpftool, from its guest
		# tree (VM_LIB_TREE, set by vm_guest_tree).
		bins+=("$VM_LIB_TREE/usr/sbin/bpftool:/usr/sbin/bpftool")
	fi
	vm_copy_with_libs "$root" "${bins[@]}" || fail "cannot copy the binaries and their libraries"
	printf 'root:x:0:0:root:/root:/bin/sh\nu501:x:501:501:UID 501:/tmp:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\ngreeter:x:990:\nu501:x:501:\n' >"$root/etc/group"
	printf '/bin/sh\n' >"$root/etc/shells"
	# What the guest checks the kernel against: the release of the package.
	echo "KERNEL_RELEASE=$VM_KERNEL_RELEASE" >"$root/etc/greeter-vm-expected"
	vm_pack_initramfs "$root" "$4" || fail "cannot pack the initramfs"
	say "initramfs: $(du -h "$4" | cut -f1)"
}

# The rest of an initramfs suite (kprobe.sh, refuse.sh): the initramfs with
# GUEST_SCRIPT as /init and the host build, one boot, its verdict as the
# suite's exit status.
vm_initramfs_suite() { # name guest_script greeterd greeterctl
	local rc
	vm_host_initramfs "$2" "$3" "$4" "$VM_TMP/initramfs.cpio.gz"
	vm_boot "$1" 120 -kernel "$VM_KERNEL" -initrd "$VM_TMP/initramfs.cpio.gz" \
		-append "console=$VM_TTY panic=-1 quiet"
	rc=$?
	wall " (guest ${VM_BOOT_SECONDS}s)"
	if [ $rc -ne 0 ]; then
		say "FAIL"
		exit 1
	fi
	say "PASS"
	exit 0
}

# ---- qemu.

# Boots the guest under TCG (KVM hangs on this kind of machine) and streams
# its console, prefixed, into our output; the console is also kept in
# $VM_CONSOLE. Returns 0 when the console shows the result marker with
# failed=0, 1 when it shows failed checks, 2 when it shows no marker (the
# reason printed).
# vm_boot NAME TIMEOUT_S QEMU_ARGS...
vm_boot() {
	local name=$1 limit=$2 rc t0 result
	shift 2
	VM_CONSOLE=$VM_TMP/console-$name.log
	say "booting $name (qemu TCG, limit ${limit}s)"
	t0=$(date +%s%N)
	# Console lines: strip escape sequences and CRs, prefix for the reader.
	# --foreground: qemu stays in our process group, so that whoever stops
	# this suite (meson's timeout, ^C) stops qemu too.
	timeout --foreground -k 5 "$limit" "$VM_QEMU" -accel tcg "${VM_QEMU_ARGS[@]}" -m 1024 -smp 2 \
		-nographic -no-reboot -monitor none -nodefaults -serial stdio "$@" \
		</dev/null 2>&1 | tee "$VM_CONSOLE" |
		sed -u -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' -e 's/\r//g' -e 's/^/    | /'
	rc=${PIPESTATUS[0]}
	VM_BOOT_SECONDS=$((($(date +%s%N) - t0) / 100000000))
	VM_BOOT_SECONDS=$((VM_BOOT_SECONDS / 10)).$((VM_BOOT_SECONDS % 10))
	say "$name: qemu ran ${VM_BOOT_SECONDS}s (exit status $rc)"
	result=$(tr -d '\r' <"$VM_CONSOLE" | grep -ao "$VM_MARKER [^ ]* passed=[0-9]* failed=[0-9]*" | tail -1)
	if [ -z "$result" ]; then
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			say "$name: no result marker: the guest did not finish within ${limit}s (console above)"
		else
			say "$name: no result marker: the guest stopped before printing it (console above)"
		fi
		return 2
	fi
	say "$name: $result"
	case $result in
	*" failed=0") return 0 ;;
	*) return 1 ;;
	esac
}

# ---- builds in a Debian tree.

# The release's package build root (debian-root.sh's droot_pkg_build, the
# one tests/package/package.sh uses); for another architecture its cross
# build root, which arm64-build.sh builds in as well. Sets VM_BUILD_TREE.
vm_package_build_root() { # source_root
	local cross=
	[ "$VM_ARCH" = amd64 ] || cross=$VM_ARCH
	vm_droot VM_BUILD_TREE droot_pkg_build "$1" "$VM_RELEASE" $cross
	say "Debian $VM_RELEASE package build root${cross:+ for $cross} $VM_BUILD_TREE"
}

# ---- a guest under the release's own systemd (systemd.sh, package.sh).

# The release's guest tree with systemd as PID 1 (droot_derived RELEASE guest
# $DROOT_GUEST_PACKAGES; for arm64 the release's arm64 tree, made through
# qemu-user: tests/lib/debian-root.sh), copied to DIR, trimmed (apt lists and
# caches, documentation) and prepared to boot without udev, logind or a
# getty (no dbus in minbase, nobody to log in), with a test unit that runs
# SCRIPT at each boot (as /usr/local/lib/greeter-vm/guest-test.sh, its
# output on the console; tests/lib/checks.sh beside it). Sets
# VM_SYSTEMD_DIR (its greeter-vm folder).
vm_systemd_tree() { # dir script
	local tree=$1 src u release=$VM_RELEASE pkgs=$DROOT_GUEST_PACKAGES
	[ "$VM_ARCH" = amd64 ] || {
		vm_need_tools "$VM_QEMU_USER"
		release=$VM_RELEASE:$VM_ARCH pkgs=$DROOT_GUEST_ARM64_PACKAGES
	}
	# shellcheck disable=SC2086 # a list of packages
	vm_droot src droot_derived "$release" guest $pkgs
	say "copying the guest tree $src"
	# (--numeric-owner: the tree's system users are its own, whatever IDs
	# this machine gives the same names.)
	mkdir -p "$tree" &&
		tar -C "$src" --numeric-owner --exclude=./var/lib/apt/lists/* --exclude=./var/cache/apt/*.bin --exclude=./var/cache/apt/archives/* \
			--exclude=./usr/share/doc/* --exclude=./usr/share/man/* --exclude=./usr/share/locale/* \
			--exclude=./usr/share/info/* --exclude=./vm-dl -cf - . | tar -C "$tree" --numeric-owner -xf - ||
		fail "cannot copy $src"
	: >"$tree/etc/fstab" # a /dev/vda line would wait 90 s for udev
	echo greeter-vm >"$tree/etc/hostname"
	tr -d - </proc/sys/kernel/random/uuid >"$tree/etc/machine-id" # no first-boot setup
	# No /usr/lib/modules in the guest (the initramfs loads what it needs):
	# systemd-modules-load would fail (systemd 257 says so on the console).
	for u in "serial-getty@$VM_TTY.service" getty@tty1.service getty.target systemd-logind.service \
		systemd-modules-load.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
		ln -sf /dev/null "$tree/etc/systemd/system/$u"
	done
	VM_SYSTEMD_DIR=$tree/usr/local/lib/greeter-vm
	mkdir -p "$VM_SYSTEMD_DIR" "$tree/etc/systemd/system/multi-user.target.wants"
	install -m 0755 "$2" "$VM_SYSTEMD_DIR/guest-test.sh" && install -m 0644 "$VM_CHECKS" "$VM_SYSTEMD_DIR/" ||
		fail "cannot copy $2 and checks.sh into the guest tree"
	cat >"$tree/etc/systemd/system/greeter-vm-test.service" <<UNIT
[Unit]
Description=greeter VM test (tests/vm/$(basename "$2"))
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/lib/greeter-vm/guest-test.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
UNIT
	ln -s ../greeter-vm-test.service "$tree/etc/systemd/system/multi-user.target.wants/"
}

# DIR made into a disk image (DIR removed), an initramfs that mounts it and
# hands over to systemd (systemd-init.sh), and two boots from it, each within
# LIMIT seconds (the second needs the first's state: it is not run when the
# first printed no result, or, with "stop", when any of its checks failed).
# Ends the suite: PASS when both boots' checks passed.
# The caller may set VM_IMAGE_FREE_MB (the image's free space, 256 MB by
# default), VM_QEMU_EXTRA (more qemu arguments: a NIC) and VM_AFTER_BOOT, a
# function called after each boot with its number, whose failure fails the
# suite (the package suite's checks made from this machine meanwhile).
VM_IMAGE_FREE_MB=256
VM_QEMU_EXTRA=()
VM_AFTER_BOOT=
vm_systemd_boots() { # dir limit [stop]
	local tree=$1 limit=$2 stop=${3:-} image=$VM_TMP/root.img initrd=$VM_TMP/initramfs size_mb phase rc result=0 boots=
	size_mb=$(($(du -sm "$tree" | cut -f1) + VM_IMAGE_FREE_MB))
	mkfs.ext4 -q -F -L greeter-vm -d "$tree" "$image" "${size_mb}M" >"$VM_TMP/mkfs.log" 2>&1 || {
		vm_show "$VM_TMP/mkfs.log"
		fail "mkfs.ext4 -d failed"
	}
	rm -rf "$tree"
	say "disk image ${size_mb} MB"
	vm_initramfs_root "$initrd"
	install -m 0755 "$(dirname "${BASH_SOURCE[0]}")/systemd-init.sh" "$initrd/init" &&
		cp -r "$VM_MODULES" "$initrd/modules" || fail "cannot put systemd-init.sh and the modules into the initramfs"
	vm_pack_initramfs "$initrd" "$VM_TMP/initramfs.cpio.gz" || fail "cannot pack the initramfs"
	for phase in 1 2; do
		vm_boot "boot$phase" "$limit" -kernel "$VM_KERNEL" -initrd "$VM_TMP/initramfs.cpio.gz" \
			-drive "file=$image,format=raw,if=virtio,cache=unsafe" "${VM_QEMU_EXTRA[@]}" \
			-append "console=$VM_TTY panic=-1 quiet greeter_vm.phase=$phase"
		rc=$?
		if [ -n "$VM_AFTER_BOOT" ] && ! "$VM_AFTER_BOOT" "$phase"; then
			[ $rc -eq 0 ] && rc=1
		fi
		boots="$boots boot$phase ${VM_BOOT_SECONDS}s"
		[ $rc -eq 0 ] && continue
		result=1
		[ $phase = 1 ] || continue
		if [ $rc -eq 2 ] || [ -n "$stop" ]; then
			say "boot 1 failed: boot 2 (which needs its state) not run"
			break
		fi
	done
	wall " (guest:$boots)"
	[ $result -eq 0 ] || { say "FAIL"; exit 1; }
	say "PASS"
	exit 0
}
