# shellcheck shell=bash
# The Debian packages greeter needs, named for the release this machine runs
# (Debian 12 and 13 are tested). Sourced by demo.sh and run-tests.sh.
#
# To build and run (cmocka too: meson configures the unit tests). clang
# builds the BPF object; it is also a C compiler, so a machine with no gcc
# builds everything with it.
GREETER_BUILD_DEPS="meson ninja-build pkg-config clang llvm bpftool libbpf-dev libelf-dev
zlib1g-dev libsystemd-dev libcjson-dev libcmocka-dev scdoc mandoc python3 util-linux
bash-completion"
# To test as well: gcc (CI builds with both compilers), valgrind, strace (a
# start made to fail half-way), systemd's tools, git (the newcomer suite
# lists the clone's files), iproute2 (ss: a client's sockets), binutils
# (strings: paths in the BPF object; readelf); for `greeterctl metrics`
# (tests/integration/test_metrics.py, tests/client/test_metrics.py) the
# Prometheus client's parser for Debian's /usr/bin/python3 and a real
# node_exporter (only run by the tests, on a port of their own; Debian's
# package enables its own service, which starts where systemd runs and
# policy-rc.d allows it). The sanitizer runtime of the installed clang is
# added by greeter_install_test_deps. tests/deps/check_programs.py fails
# when a test runs a program none of these packages installs.
# For bench/journal.sh (bench-journal-smoke): journald's remote transport
# (systemd-journal-remote: -remote and -upload), openssl for its keys,
# procps (sysctl).
GREETER_TEST_DEPS="gcc valgrind strace systemd git iproute2 binutils
python3-prometheus-client prometheus-node-exporter systemd-journal-remote openssl procps"
# For greeterctl -H against a real sshd (tests/integration/test_remote_ssh.py,
# in the integration suite): openssh-server, and the client it depends on.
# The test runs its own sshd on 127.0.0.1 and a port of its own; Debian's
# package enables ssh.service, which starts where systemd runs and
# policy-rc.d allows it.
GREETER_TEST_SSH_DEPS="openssh-server openssh-client"
# For the suites that boot or enter other Debian releases (tests/vm/,
# tests/newcomer/, tests/interop/, tests/package/): qemu under TCG,
# debootstrap and an ext4 image; piuparts; qemu-user (the arm64 tree);
# dpkg-dev (dpkg-parsechangelog: the next version's package); procps (ps:
# what a Debian root left running); openssh-client and openssl (the amd64
# package guests: greeterctl -H over ssh from here, the certificates of
# their journal's collector, tests/vm/package-net.sh).
GREETER_TEST_ROOT_DEPS="qemu-system-x86 debootstrap e2fsprogs piuparts qemu-user-static
dpkg-dev procps openssh-client openssl"
# For arm64 the suites build in a Debian 12 root of their own (tests/vm/
# lib.sh's vm_package_build_root: the cross gcc and the :arm64 -dev packages
# need dpkg --add-architecture, never done on this machine) and install
# here, when missing, qemu-system-arm (qemu-system-aarch64),
# qemu-user-static (the arm64 guest tree is made through it), as the amd64
# ones install qemu-system-x86.

# The package with the sanitizer runtime of the clang that the `clang`
# package installs (libclang-rt-14-dev on Debian 12, libclang-rt-19-dev on
# Debian 13), asked of apt rather than assumed.
greeter_clang_rt_package() {
	local v p
	v=$(dpkg-query -W -f='${Depends}' clang 2>/dev/null | grep -o '^clang-[0-9][0-9]*' | cut -d- -f2)
	[ -n "$v" ] || return 1
	for p in "libclang-rt-$v-dev" "libclang-common-$v-dev"; do
		[ -n "$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)')" ] &&
			{ echo "$p"; return 0; }
	done
	return 1
}

greeter_missing() { # packages...: those not installed
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"
	done
}

# greeter_install_deps PACKAGES...: install those that are missing. apt's
# output is shown when it fails.
greeter_install_deps() {
	local missing log
	missing=$(greeter_missing "$@" | tr '\n' ' ')
	[ -z "${missing// /}" ] && return 0
	echo "==> installing $missing"
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp)
	# shellcheck disable=SC2086
	if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		echo "installing $missing failed (apt-get's output above)" >&2
		return 1
	fi
	rm -f "$log"
}

# greeter_install_test_deps [SUITES...]: installs what the test suites need
# (all of them when none is named): the build packages, the test packages
# and clang's sanitizer runtime (known once clang is chosen); the packages
# of the suites that use other Debian releases when one of those is named.
greeter_install_test_deps() {
	local rt roots=$GREETER_TEST_ROOT_DEPS ssh=$GREETER_TEST_SSH_DEPS s
	if [ $# -gt 0 ]; then
		roots= ssh=
		for s in "$@"; do
			case $s in vm | newcomer | interop | package) roots=$GREETER_TEST_ROOT_DEPS ;; esac
			case $s in integration) ssh=$GREETER_TEST_SSH_DEPS ;; esac
		done
	fi
	# shellcheck disable=SC2086
	greeter_install_deps $GREETER_BUILD_DEPS $GREETER_TEST_DEPS $roots $ssh || return 1
	rt=$(greeter_clang_rt_package) || { apt-get update -qq && rt=$(greeter_clang_rt_package); } || {
		echo "apt knows no sanitizer runtime for $(dpkg-query -W -f='${Depends}' clang 2>/dev/null | cut -d' ' -f1)" >&2
		return 1
	}
	greeter_install_deps "$rt"
}
