# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Debian roots for the suites that need another release than the host's, or
# a fresh machine: `debootstrap --variant=minbase` of a release, cached, trees
# derived from it with more packages (installed by that release's own apt),
# and commands run inside a tree through chroot, in a private mount
# namespace, on this machine's kernel. Sourced.
#
# Cache: $GREETER_TEST_CACHE (default /var/cache/greeter-test), outside git:
#   roots/<codename>-minbase/        debootstrap minbase, never changed after
#   roots/<codename>-<name>-<hash>/  minbase plus packages (droot_derived)
#   roots/<codename>_<arch>-...      the same, of another architecture
#   apt/<codename>/                  .debs apt fetched, shared by every tree
# A release is named by its codename (bookworm: this machine's architecture)
# or CODENAME:ARCH (bookworm:arm64): another architecture's tree, made by
# debootstrap --arch and run through qemu-user (droot_with_arch).
# Every function returns 0 on success; on failure it sets DROOT_ERROR to one
# sentence and returns 2 when the Debian archive could not be reached (the
# machine cannot do it: a caller may skip) or 1 for anything else (a fault
# of ours: a caller fails).

GREETER_TEST_CACHE=${GREETER_TEST_CACHE:-/var/cache/greeter-test}
DROOT_ERROR=
# The packages of a "guest" tree (droot_derived CODENAME guest
# $DROOT_GUEST_PACKAGES): systemd as PID 1 (and varlinkctl), greeter's
# run-time libraries, and bpftool (what the guest checks the kernel with);
# and what the package guests need past one host: systemd-journal-remote
# (journal-upload and journal-remote, which ship greeterd's journal
# entries), openssh-server (greeterctl -H, varlinkctl's ssh addresses) and
# iproute2 (the collector's network namespace). The vm-systemd and
# vm-package guests boot it; other suites borrow its systemd tools.
# Debian 12's arm64 system (bookworm:arm64, made through qemu-user, where
# every package costs) takes only the first list: its package guest checks
# none of the network.
DROOT_GUEST_ARM64_PACKAGES="systemd systemd-sysv libbpf1 libcjson1 libsystemd0 bpftool"
DROOT_GUEST_PACKAGES="$DROOT_GUEST_ARM64_PACKAGES systemd-journal-remote openssh-server iproute2"
# Extra bind mounts for droot_run, "HOST_PATH:PATH_IN_TREE" each, and extra
# environment, "NAME=VALUE" each; the caller sets them.
DROOT_BINDS=()
DROOT_ENV=()

droot_say() { echo "[debian-root] $*" >&2; }
# Sets DROOT_ERROR and DROOT_RC and says the error on stderr (callers that
# take a path from $(...) lose the variables).
droot_fail() { # rc sentence
	DROOT_RC=$1
	DROOT_ERROR=$2
	droot_say "$2"
}

# The Debian release number of a codename (what users call it).
droot_version() { # codename
	case $1 in
	bullseye) echo 11 ;; bookworm) echo 12 ;; trixie) echo 13 ;; forky) echo 14 ;;
	*) return 1 ;;
	esac
}

# A release's architecture when it is not this machine's (CODENAME:ARCH),
# else nothing; and the name its trees start with (bookworm, bookworm_arm64).
droot_arch() { case $1 in *:*) echo "${1#*:}" ;; esac; }
droot_prefix() { echo "${1%%:*}$(droot_arch "$1" | sed 's/^./_&/')"; }

# Prints the path of a release's package build root, made if missing:
# dpkg-buildpackage's tools and debian/control's Build-Depends
# (build_depends.py), with the release's lintian; for a cross build to ARCH,
# the cross toolchain instead of lintian and the Build-Depends as a build
# for ARCH needs them ("<codename>-<arch>-pkg-build-<hash>").
droot_pkg_build() { # source_root codename [arch]
	local name=pkg-build pkgs="build-essential debhelper dpkg-dev lintian" deps
	if [ -n "${3:-}" ]; then
		name=$3-pkg-build pkgs="build-essential debhelper dpkg-dev crossbuild-essential-$3"
	fi
	deps=$(python3 "$1/tests/lib/build_depends.py" "$1/debian/control" "$2" ${3:+"$3"}) ||
		{ droot_fail 1 "cannot read Build-Depends from $1/debian/control"; return 1; }
	# shellcheck disable=SC2086 # lists of packages
	droot_derived "$2" "$name" $pkgs $deps
}

# Runs COMMAND... with this machine able to run ARCH's programs through
# qemu-user: when binfmt_misc has no enabled entry for them that works in a
# tree (flag F: the emulator opened once, at registration), the line Debian
# ships for systemd-binfmt (qemu-user-static's /usr/lib/binfmt.d/) is
# registered under a name of ours for as long as the command runs, and
# removed afterwards however it ends (binfmt_misc unmounted again if it was
# mounted for it). One command at a time on the machine: the entry is the
# whole machine's. (A host booted with systemd registers Debian's own entry
# at every boot once qemu-user-static is installed; then that one is used.)
DROOT_BINFMT_LOCK=/run/lock/greeter-test-binfmt.lock
droot_with_arch() { # arch command...
	local arch=$1 q conf line
	shift
	case $arch in
	arm64) q=aarch64 ;;
	*) droot_fail 1 "no emulator known for $arch programs"; return 1 ;;
	esac
	conf=/usr/lib/binfmt.d/qemu-$q.conf
	line=$(grep -m1 "^:qemu-$q:" "$conf" 2>/dev/null) ||
		{ droot_fail 1 "$conf missing: install qemu-user-static to run $arch programs here"; return 1; }
	case ${line##*:} in *F*) ;; *) line=${line}F ;; esac
	mkdir -p "$(dirname "$DROOT_BINFMT_LOCK")" || return 1
	(
		flock 8 || exit 1
		bm=/proc/sys/fs/binfmt_misc entry=greeter-test-$q mounted='' registered=''
		undo() {
			[ -n "$registered" ] && echo -1 >"$bm/$entry"
			[ -n "$mounted" ] && umount "$bm"
			registered='' mounted=''
		}
		trap undo EXIT
		trap 'exit 130' INT TERM HUP
		if [ ! -e $bm/register ]; then
			mount -t binfmt_misc binfmt_misc $bm ||
				{ droot_say "cannot mount binfmt_misc on $bm: $arch programs cannot run here"; exit 1; }
			mounted=1
		fi
		if ! grep -qsx enabled "$bm/qemu-$q" || ! grep -qs '^flags:.*F' "$bm/qemu-$q"; then
			[ -e "$bm/$entry" ] && echo -1 >"$bm/$entry" # left by a run that was killed
			echo "${line/#:qemu-$q:/:$entry:}" >$bm/register ||
				{ droot_say "cannot register qemu-$q with binfmt_misc"; exit 1; }
			registered=1
		fi
		"$@"
	) 8>"$DROOT_BINFMT_LOCK"
}

# The mirror this machine's apt uses for Debian (the URI of a "deb" source
# whose suite is a Debian codename); GREETER_DEBIAN_MIRROR overrides it.
droot_mirror() {
	local f
	if [ -n "${GREETER_DEBIAN_MIRROR:-}" ]; then
		echo "$GREETER_DEBIAN_MIRROR"
		return 0
	fi
	{
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { print $i, $(i+1); break } }' "$f"
		done
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			awk '
				function flush() { if (deb) for (s in suites) print uri, s; deb = 0; uri = ""; split("", suites) }
				/^[ \t]*$/ { flush(); next }
				tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
				tolower($1) == "uris:" { uri = $2 }
				tolower($1) == "suites:" { for (i = 2; i <= NF; i++) suites[$i] = 1 }
				END { flush() }' "$f"
		done
	} | awk '$2 ~ /^(bullseye|bookworm|trixie|forky|sid)$/ { print $1; exit }' | grep . ||
		echo http://deb.debian.org/debian
}

droot_locked() { # command...: holds the cache lock (two checkouts may share it)
	mkdir -p "$GREETER_TEST_CACHE" || return 1
	(
		flock 9 || exit 1
		"$@"
	) 9>"$GREETER_TEST_CACHE/.lock"
}

# 2 when a log shows that the archive could not be reached, else 1.
droot_why() { # log
	grep -qiE "Failed getting release file|Couldn't download|Temporary failure resolving|Could not resolve|Connection failed|Failed to fetch|Unable to connect|Network is unreachable" "$1" && return 2
	return 1
}

# A step that made WORK failed: the end of its LOG on stderr, each line
# after "    WHAT: ", DROOT_ERROR set, WORK removed; droot_why's status.
droot_step_failed() { # log what work sentence
	local rc
	tail -20 "$1" | sed "s/^/    $2: /" >&2
	droot_why "$1"
	rc=$?
	DROOT_ERROR=$4
	rm -rf "$3"
	return $rc
}

# Runs a command inside TREE: a private mount namespace in which TREE is a
# mount point (unshare and mount propagation want that), with proc, /sys and
# /dev from the host, a tmpfs on /run and /tmp, a bpffs of its own on
# /sys/fs/bpf (pins made inside never meet the host's), the host's DNS, the
# release's apt cache and DROOT_BINDS. Everything mounted goes away with the
# namespace, i.e. when the command and whatever it left running have ended:
# a command that starts a daemon stops it before it returns.
# droot_run TREE COMMAND...
droot_run() {
	local tree=$1 codename arch emulate=()
	shift
	codename=$(cat "$tree/etc/greeter-test-release" 2>/dev/null)
	arch=$(cat "$tree/etc/greeter-test-arch" 2>/dev/null)
	[ -n "$arch" ] && emulate=(droot_with_arch "$arch")
	mkdir -p "$GREETER_TEST_CACHE/apt/${codename:-unknown}/partial" || return 1
	"${emulate[@]}" unshare --mount --propagation private -- bash -c '
		set -e
		t=$1 apt=$2 nb=$3
		shift 3
		binds=("${@:1:$nb}")
		shift "$nb"
		mount --bind "$t" "$t"
		mount -t proc proc "$t/proc"
		mount --rbind /sys "$t/sys"
		mount --make-rslave "$t/sys"
		# A bpffs of its own, not on top of the host'"'"'s (which --rbind brought).
		umount -l "$t/sys/fs/bpf" 2>/dev/null || true
		mount -t bpf bpf "$t/sys/fs/bpf"
		mount --rbind /dev "$t/dev"
		mount --make-rslave "$t/dev"
		mount -t tmpfs -o mode=0755 tmpfs "$t/run"
		mount -t tmpfs -o mode=1777 tmpfs "$t/tmp"
		mount --bind "$apt" "$t/var/cache/apt/archives"
		# The tree'"'"'s resolv.conf points into its /run (droot_make_base).
		cp -L /etc/resolv.conf "$t/run/resolv.conf" 2>/dev/null || : >"$t/run/resolv.conf"
		for b in "${binds[@]}"; do
			src=${b%%:*} dst=$t${b#*:}
			if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; : >>"$dst"; fi
			mount --bind "$src" "$dst"
		done
		exec chroot "$t" "$@"
	' droot "$tree" "$GREETER_TEST_CACHE/apt/${codename:-unknown}" "${#DROOT_BINDS[@]}" "${DROOT_BINDS[@]}" \
		/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive "${DROOT_ENV[@]}" "$@"
}

droot_make_base() { # codename dest [arch]
	local work mirror t0 emulate=() archopt=()
	[ -x "$2/usr/bin/apt-get" ] && return 0
	[ -n "${3:-}" ] && emulate=(droot_with_arch "$3") archopt=("--arch=$3")
	mirror=$(droot_mirror)
	work=$(mktemp -d "$GREETER_TEST_CACHE/.minbase.XXXXXX") || return 1
	t0=$(date +%s)
	droot_say "debootstrap --variant=minbase ${archopt[*]} $1 from $mirror (cached afterwards)"
	mkdir -p "$GREETER_TEST_CACHE/apt/$1"
	if ! "${emulate[@]}" debootstrap --variant=minbase "${archopt[@]}" --cache-dir="$GREETER_TEST_CACHE/apt/$1" \
		"$1" "$work/tree" "$mirror" >"$work/log" 2>&1; then
		droot_step_failed "$work/log" debootstrap "$work" "debootstrap of Debian $1 from $mirror failed"
		return
	fi
	# The release's updates and security fixes, as a machine of it has.
	{
		echo "deb $mirror $1 main"
		echo "deb $mirror $1-updates main"
		case $mirror in */debian) echo "deb $mirror-security $1-security main" ;; esac
	} >"$work/tree/etc/apt/sources.list"
	echo "$1" >"$work/tree/etc/greeter-test-release"
	[ -n "${3:-}" ] && echo "$3" >"$work/tree/etc/greeter-test-arch"
	# The host's DNS, copied into the tree's private /run by droot_run.
	ln -sfn /run/resolv.conf "$work/tree/etc/resolv.conf"
	droot_say "debootstrap took $(($(date +%s) - t0)) s"
	rm -rf "$2" && mkdir -p "$(dirname "$2")" && mv "$work/tree" "$2"
	rm -rf "$work"
}

# Prints the path of the cached minbase tree of a release, made if missing.
# Callers copy it (droot_copy) rather than change it.
droot_base() { # release
	local codename=${1%%:*} arch dest
	arch=$(droot_arch "$1")
	dest=$GREETER_TEST_CACHE/roots/$(droot_prefix "$1")-minbase
	DROOT_ERROR=
	droot_version "$codename" >/dev/null || { droot_fail 1 "unknown Debian release '$1'"; return 1; }
	command -v debootstrap >/dev/null || { droot_fail 1 "debootstrap is not installed"; return 1; }
	if [ ! -x "$dest/usr/bin/apt-get" ]; then
		droot_locked droot_make_base "$codename" "$dest" "$arch" ||
			{ droot_fail $? "${DROOT_ERROR:-debootstrap of Debian $1 failed}"; return $DROOT_RC; }
	fi
	# Trees made before resolv.conf pointed into /run.
	[ -L "$dest/etc/resolv.conf" ] || ln -sfn /run/resolv.conf "$dest/etc/resolv.conf"
	echo "$dest"
}

# A new copy of a release's minbase tree at DEST (a fresh machine).
droot_copy() { # codename dest
	local base
	base=$(droot_base "$1") || return $?
	rm -rf "$2" && cp -a "$base" "$2" || { droot_fail 1 "cannot copy $base to $2"; return 1; }
}

droot_make_derived() { # codename base dest packages...
	local codename=$1 base=$2 dest=$3 work log
	shift 3
	[ -x "$dest/usr/bin/apt-get" ] && return 0
	work=$(mktemp -d "$GREETER_TEST_CACHE/.derived.XXXXXX") || return 1
	cp -a "$base" "$work/tree" || { DROOT_ERROR="cannot copy $base"; rm -rf "$work"; return 1; }
	log=$work/log
	droot_say "Debian $codename: apt-get install $*"
	# Nothing a package installs is started in the tree (sshd would stay
	# behind, on this machine's network): Debian's policy-rc.d, while apt
	# runs.
	printf '#!/bin/sh\nexit 101\n' >"$work/tree/usr/sbin/policy-rc.d" &&
		chmod 0755 "$work/tree/usr/sbin/policy-rc.d" ||
		{ DROOT_ERROR="cannot write policy-rc.d into $work/tree"; rm -rf "$work"; return 1; }
	# A package named PACKAGE:ARCH (libbpf-dev:arm64) is another
	# architecture's: dpkg is told of that architecture first (multiarch).
	# A word :ARCH alone only adds the architecture (an apt tree that
	# downloads that architecture's packages).
	if ! droot_run "$work/tree" sh -c '
		n=$#
		for p in "$@"; do
			case $p in *:*) dpkg --add-architecture "${p##*:}" || exit 1 ;; esac
			case $p in :*) ;; *) set -- "$@" "$p" ;; esac
		done
		shift "$n"
		apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"' \
		apt "$@" >"$log" 2>&1; then
		droot_step_failed "$log" apt "$work" "installing $* into a Debian $codename root failed"
		return
	fi
	rm -f "$work/tree/usr/sbin/policy-rc.d"
	rm -rf "$dest" && mkdir -p "$(dirname "$dest")" && mv "$work/tree" "$dest"
	rm -rf "$work"
	# The older trees of this name (another package list), under the lock.
	for old in "${dest%-*}-"*; do
		[ "$old" = "$dest" ] || rm -rf "$old"
	done
}

# Prints the path of a cached tree: a release's minbase plus PACKAGES (given
# as words; PACKAGE:ARCH adds a foreign architecture to the tree's dpkg, and
# :ARCH alone only that), made if missing; NAME says what it is for. A
# changed package list is a new tree; the older trees of that NAME are
# removed.
droot_derived() { # release name packages...
	local codename=$1 name=$2 key dest old base
	shift 2
	key=$(echo "$*" | sha256sum | cut -c1-12)
	dest=$GREETER_TEST_CACHE/roots/$(droot_prefix "$codename")-$name-$key
	if [ ! -x "$dest/usr/bin/apt-get" ]; then
		base=$(droot_base "$codename") || return $?
		droot_locked droot_make_derived "$codename" "$base" "$dest" "$@" ||
			{ droot_fail $? "${DROOT_ERROR:-installing $* into a Debian $codename root failed}"; return $DROOT_RC; }
	fi
	echo "$dest"
}
