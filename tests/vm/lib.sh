# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the VM suites (kprobe.sh, systemd.sh): progress and timing, the
# download cache, Debian's stock kernel and busybox, qemu under TCG.
# Sourced; the caller sets VM_SUITE first.
#
# Cache: $GREETER_VM_CACHE (default /var/cache/greeter-vm), outside git.
# Exit status of a suite: 0 pass, 1 fail, 77 skip (no guest can boot here for
# a reason outside the project, e.g. qemu cannot be installed).

VM_CACHE=${GREETER_VM_CACHE:-/var/cache/greeter-vm}
VM_T0=$(date +%s%N)
VM_TMP=
VM_MARKER=GREETER-VM-RESULT

vm_elapsed() { # seconds since the suite started, one decimal
	local now
	now=$(date +%s%N)
	echo "$(((now - VM_T0) / 1000000000)).$((((now - VM_T0) / 100000000) % 10))"
}
vm_log() { printf '[%s %6ss] %s\n' "$VM_SUITE" "$(vm_elapsed)" "$*"; }
vm_wall() { vm_log "wall time $(vm_elapsed) s$*"; }
vm_fail() {
	vm_log "FAIL: $*"
	vm_wall
	exit 1
}
vm_skip() {
	vm_log "SKIP: $*"
	exit 77
}

vm_cleanup() {
	[ -n "$VM_TMP" ] && rm -rf "$VM_TMP"
	VM_TMP=
}

# A work directory removed on exit, however the suite ends.
vm_init() {
	[ "$(id -u)" = 0 ] || vm_skip "needs root (debootstrap, BPF in the guest)"
	VM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/greeter-vm-$VM_SUITE.XXXXXX") ||
		vm_fail "cannot create a temporary directory"
	trap vm_cleanup EXIT
	trap 'vm_log "interrupted"; exit 1' INT TERM
	mkdir -p "$VM_CACHE" || vm_fail "cannot create the cache directory $VM_CACHE"
	vm_log "cache $VM_CACHE, work directory $VM_TMP"
}

# Runs "$@" holding the cache lock: suites run one at a time, but two
# builds (or two checkouts) may share the cache.
vm_locked() {
	(
		flock 9 || exit 1
		"$@"
	) 9>"$VM_CACHE/.lock"
}

# Installs the Debian packages that provide the commands named, when missing.
# vm_need_tools "command:package" ... ; skips when they cannot be installed.
vm_need_tools() {
	local spec missing=() pkgs=()
	for spec in "$@"; do
		command -v "${spec%%:*}" >/dev/null || { missing+=("${spec%%:*}"); pkgs+=("${spec#*:}"); }
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	vm_log "installing ${pkgs[*]} (for ${missing[*]}; tests/lib/deps.sh lists them)"
	command -v apt-get >/dev/null || vm_skip "${missing[*]} missing and no apt-get to install ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get install -y -qq --no-install-recommends "${pkgs[@]}" ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; }; } \
		>"$VM_TMP/apt-install.log" 2>&1 || {
		sed 's/^/    /' "$VM_TMP/apt-install.log" | tail -20
		vm_skip "cannot install ${pkgs[*]}: the guest cannot be booted here"
	}
	for spec in "$@"; do
		command -v "${spec%%:*}" >/dev/null || vm_skip "${spec%%:*} still missing after installing ${spec#*:}"
	done
}

# The candidate version of a Debian package ("" when apt does not know it).
vm_apt_candidate() {
	apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)'
}

# apt knows the package, after an `apt-get update` if needed.
vm_apt_knows() {
	[ -n "$(vm_apt_candidate "$1")" ] && return 0
	vm_log "apt does not know $1: apt-get update"
	apt-get update -qq >/dev/null 2>&1
	[ -n "$(vm_apt_candidate "$1")" ]
}

# Downloads a .deb into a directory; prints its path. Stale package lists
# name versions the archive has dropped (the security suite keeps only the
# newest kernel): update them and try once more.
vm_apt_download() { # package dir
	(cd "$2" && apt-get download -qq -o APT::Sandbox::User=root "$1" >/dev/null 2>&1) || {
		vm_log "apt-get download $1 failed: apt-get update, then again" >&2
		apt-get update -qq >/dev/null 2>&1
		(cd "$2" && apt-get download -qq -o APT::Sandbox::User=root "$1" >&2) || return 1
	}
	ls "$2"/"$1"_*.deb 2>/dev/null | head -1
}

# ---- Debian's stock kernel: vmlinuz and the modules for a virtio-blk ext4 root.

# Modules a guest needs to mount an ext4 root on virtio-blk, and what they
# need (resolved from each module's "depends=", loaded in that order). ext4
# and jbd2 ask for crc32c through the crypto API (a soft dependency);
# systemd wants autofs4. Bump VM_KERNEL_CACHE when the list changes.
VM_ROOT_MODULES="crc32c_generic virtio_pci virtio_blk ext4 autofs4"
VM_KERNEL_CACHE=kernel-v1

# The module files in load order (dependencies first), from a tree of .ko.
vm_module_order() { # ko_dir module...
	local dir=$1 m f deps d
	shift
	for m in "$@"; do
		case " $VM_ORDER_SEEN " in *" $m "*) continue ;; esac
		VM_ORDER_SEEN="$VM_ORDER_SEEN $m"
		f=$(find "$dir" -name "$m.ko" | head -1)
		[ -n "$f" ] || { echo "missing module $m" >&2; return 1; }
		deps=$(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | head -1 | tr ',' ' ')
		for d in $deps; do
			vm_module_order "$dir" "$d" || return 1
		done
		echo "$f"
	done
}

vm_fetch_kernel_locked() { # pkg version dest
	local pkg=$1 dest=$3 dl deb f
	[ -f "$dest/vmlinuz" ] && return 0
	dl=$(mktemp -d "$VM_CACHE/.kernel.XXXXXX") || return 1
	vm_log "downloading $pkg $2 (apt-get download)"
	deb=$(vm_apt_download "$pkg" "$dl") && [ -n "$deb" ] || {
		rm -rf "$dl"
		echo "apt-get download $pkg failed" >&2
		return 1
	}
	vm_log "extracting vmlinuz and the root file system modules"
	mkdir -p "$dl/x" "$dl/k/modules"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dl/x" --wildcards \
		'./boot/vmlinuz-*' './lib/modules/*/kernel/drivers/virtio/*' \
		'./lib/modules/*/kernel/drivers/block/virtio_blk.ko' \
		'./lib/modules/*/kernel/fs/ext4/*' './lib/modules/*/kernel/fs/jbd2/*' \
		'./lib/modules/*/kernel/fs/mbcache.ko' './lib/modules/*/kernel/fs/autofs/*' \
		'./lib/modules/*/kernel/lib/*' \
		'./lib/modules/*/kernel/crypto/*' || { rm -rf "$dl"; return 1; }
	cp "$dl"/x/boot/vmlinuz-* "$dl/k/vmlinuz" || { rm -rf "$dl"; return 1; }
	VM_ORDER_SEEN=
	vm_module_order "$dl/x" $VM_ROOT_MODULES >"$dl/order" || { rm -rf "$dl"; return 1; }
	while read -r f; do
		cp "$f" "$dl/k/modules/"
		basename "$f" >>"$dl/k/modules/order"
	done <"$dl/order"
	basename "$dl"/x/boot/vmlinuz-* | sed 's/^vmlinuz-//' >"$dl/k/release"
	rm -rf "$dest" && mkdir -p "$(dirname "$dest")" && mv "$dl/k" "$dest"
	rm -rf "$dl"
	# Older kernels of the same flavour are not needed any more.
	find "$(dirname "$dest")" -mindepth 1 -maxdepth 1 ! -path "$dest" -exec rm -rf {} +
}

# Sets VM_KERNEL (vmlinuz), VM_MODULES (dir with "order") and VM_KERNEL_RELEASE.
# The kernel is the one linux-image-amd64 depends on: Debian's stock kernel
# for this release (6.1 on bookworm), with kprobes and BTF built in.
vm_fetch_kernel() {
	local pkg ver dest
	pkg=
	if vm_apt_knows linux-image-amd64; then
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -1)
	fi
	if [ -n "$pkg" ]; then
		ver=$(vm_apt_candidate "$pkg")
		dest=$VM_CACHE/$VM_KERNEL_CACHE/${pkg}_$ver
		if [ -f "$dest/vmlinuz" ]; then
			vm_log "kernel $pkg $ver: cached"
		else
			vm_locked vm_fetch_kernel_locked "$pkg" "$ver" "$dest" ||
				vm_skip "cannot download Debian's kernel $pkg $ver: no guest to boot"
		fi
	else
		dest=$(ls -d "$VM_CACHE/$VM_KERNEL_CACHE"/*/ 2>/dev/null | head -1)
		[ -n "$dest" ] && [ -f "$dest/vmlinuz" ] ||
			vm_skip "apt cannot resolve linux-image-amd64 and no kernel is cached: no guest to boot"
		vm_log "apt cannot resolve linux-image-amd64; using the cached $(basename "$dest")"
	fi
	VM_KERNEL=${dest%/}/vmlinuz
	VM_MODULES=${dest%/}/modules
	VM_KERNEL_RELEASE=$(cat "${dest%/}/release")
}

# ---- busybox-static, for the initramfs.

vm_fetch_busybox_locked() { # version dest
	local dl deb
	[ -x "$2/busybox" ] && return 0
	dl=$(mktemp -d "$VM_CACHE/.busybox.XXXXXX") || return 1
	vm_log "downloading busybox-static $1 (apt-get download)"
	deb=$(vm_apt_download busybox-static "$dl") && [ -n "$deb" ] &&
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dl" ./bin/busybox || {
		rm -rf "$dl"
		return 1
	}
	rm -rf "$2" && mkdir -p "$2" && mv "$dl/bin/busybox" "$2/busybox"
	rm -rf "$dl"
	find "$(dirname "$2")" -mindepth 1 -maxdepth 1 ! -path "$2" -exec rm -rf {} +
}

# Sets VM_BUSYBOX.
vm_fetch_busybox() {
	local ver dest
	ver=
	vm_apt_knows busybox-static && ver=$(vm_apt_candidate busybox-static)
	if [ -n "$ver" ]; then
		dest=$VM_CACHE/busybox/$ver
		if [ -x "$dest/busybox" ]; then
			vm_log "busybox-static $ver: cached"
		else
			vm_locked vm_fetch_busybox_locked "$ver" "$dest" ||
				vm_skip "cannot download busybox-static: no initramfs to boot"
		fi
	else
		dest=$(ls -d "$VM_CACHE"/busybox/*/ 2>/dev/null | head -1)
		[ -n "$dest" ] && [ -x "$dest/busybox" ] ||
			vm_skip "apt does not know busybox-static and none is cached"
	fi
	VM_BUSYBOX=${dest%/}/busybox
}

# ---- initramfs.

# A root directory with busybox (its applets linked at boot by /init).
vm_initramfs_root() { # dir
	mkdir -p "$1"/{bin,sbin,dev,proc,sys,run,tmp,etc,newroot,usr/bin,usr/sbin}
	cp "$VM_BUSYBOX" "$1/bin/busybox"
	ln -s busybox "$1/bin/sh"
}

# Copies dynamic executables with every shared library they load (ldd) and
# the dynamic loader, at the paths they have here: the exact host build runs.
vm_copy_with_libs() { # root file:destpath...
	local root=$1 spec src dst lib
	shift
	for spec in "$@"; do
		src=${spec%%:*} dst=${spec#*:}
		mkdir -p "$root$(dirname "$dst")"
		cp -L "$src" "$root$dst" || return 1
		for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
			[ -e "$root$lib" ] && continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib" || return 1
		done
	done
}

vm_pack_initramfs() { # dir output
	(cd "$1" && find . | "$VM_BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1) >"$2"
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
	vm_log "booting $name (qemu TCG, limit ${limit}s)"
	t0=$(date +%s%N)
	# Console lines: strip escape sequences and CRs, prefix for the reader.
	# --foreground: qemu stays in our process group, so that whoever stops
	# this suite (meson's timeout, ^C) stops qemu too.
	timeout --foreground -k 5 "$limit" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 2 \
		-nographic -no-reboot -monitor none -nodefaults -serial stdio "$@" \
		</dev/null 2>&1 | tee "$VM_CONSOLE" |
		sed -u -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' -e 's/\r//g' -e 's/^/    | /'
	rc=${PIPESTATUS[0]}
	VM_BOOT_SECONDS=$((($(date +%s%N) - t0) / 100000000))
	VM_BOOT_SECONDS=$((VM_BOOT_SECONDS / 10)).$((VM_BOOT_SECONDS % 10))
	vm_log "$name: qemu ran ${VM_BOOT_SECONDS}s (exit status $rc)"
	result=$(tr -d '\r' <"$VM_CONSOLE" | grep -ao "$VM_MARKER [^ ]* passed=[0-9]* failed=[0-9]*" | tail -1)
	if [ -z "$result" ]; then
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			vm_log "$name: no result marker: the guest did not finish within ${limit}s (console above)"
		else
			vm_log "$name: no result marker: the guest stopped before printing it (console above)"
		fi
		return 2
	fi
	vm_log "$name: $result"
	case $result in
	*" failed=0") return 0 ;;
	*) return 1 ;;
	esac
}
