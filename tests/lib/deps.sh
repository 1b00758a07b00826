# Debian 12 packages greeter needs to build and test. Sourced by demo.sh and run-tests.sh.
GREETER_BUILD_DEPS="meson ninja-build pkg-config clang llvm bpftool libbpf-dev libelf-dev
zlib1g-dev libsystemd-dev libcjson-dev libcmocka-dev scdoc mandoc python3 util-linux
bash-completion systemd valgrind"

greeter_install_deps() {
	local missing=() p
	for p in $GREETER_BUILD_DEPS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "==> installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
