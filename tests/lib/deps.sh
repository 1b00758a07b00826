# Debian 12 packages greeter needs. Sourced by demo.sh and run-tests.sh.
# To build and run (cmocka too: meson configures the unit tests):
GREETER_BUILD_DEPS="meson ninja-build pkg-config clang llvm bpftool libbpf-dev libelf-dev
zlib1g-dev libsystemd-dev libcjson-dev libcmocka-dev scdoc mandoc python3 util-linux
bash-completion"
# To test as well: valgrind, systemd's tools, and for the VM suites
# (tests/vm/) qemu under TCG, debootstrap and an ext4 image for the systemd
# guest (the kernel and busybox are downloaded into their cache).
GREETER_TEST_DEPS="valgrind libclang-rt-14-dev systemd qemu-system-x86 debootstrap e2fsprogs"

# greeter_install_deps PACKAGES...: install those that are missing.
greeter_install_deps() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "==> installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
