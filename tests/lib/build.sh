# shellcheck shell=bash
# Configure and build one build directory, as demo.sh and run-tests.sh do.
# Sourced.

# greeter_build DIR COMPILER [MESON_OPTION...]
#   Builds DIR with COMPILER (a command: cc, gcc, clang). A directory set up
#   for another compiler, or for one that is no longer installed, is set up
#   again from scratch (meson keeps the compiler it was configured with).
#   Quiet when all goes well; when setup or the build fails, its whole
#   output is shown and the status is non-zero.
greeter_build() {
	local dir=$1 compiler=$2 want had log
	shift 2
	want=$(command -v "$compiler") && want=$(realpath "$want") || {
		echo "no C compiler '$compiler' is installed" >&2
		return 1
	}
	had=$(cat "$dir/.greeter-compiler" 2>/dev/null || true)
	if [ -d "$dir" ] && { [ "$had" != "$want" ] || [ ! -f "$dir/build.ninja" ]; }; then
		if [ -n "$had" ] && [ "$had" != "$want" ]; then
			echo "==> $dir was set up for ${had}; setting it up again for $want"
		fi
		rm -rf "$dir"
	fi
	log=$(mktemp)
	if [ ! -d "$dir" ]; then
		if ! CC=$compiler meson setup "$dir" "$@" >"$log" 2>&1; then
			cat "$log" >&2
			rm -f "$log"
			rm -rf "$dir"
			echo "meson setup $dir failed (its output above)" >&2
			return 1
		fi
		echo "$want" >"$dir/.greeter-compiler"
	fi
	if ! ninja -C "$dir" >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		echo "building $dir failed (ninja's output above)" >&2
		return 1
	fi
	rm -f "$log"
}
