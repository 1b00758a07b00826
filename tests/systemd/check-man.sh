#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The built man pages pass `mandoc -T lint -W warning`, and every long option
# a program's --help prints is documented in its page.
#
# check-man.sh GREETERD GREETERCTL|- PAGE...
#   GREETERCTL is - when greeterctl is not built.
# Exit status: 0 pass, 1 fail, 77 skipped (no pages built, or no mandoc).
set -u
greeterd=$1 greeterctl=$2
shift 2

if [ $# = 0 ]; then
	echo "SKIP: no man pages built (scdoc missing, or -Dman=disabled)"
	exit 77
fi
if ! command -v mandoc >/dev/null; then
	echo "SKIP: mandoc is not installed"
	exit 77
fi

fail=0
bad() { echo "FAIL: $*"; fail=1; }

declare -A page_of
for page in "$@"; do
	page_of[$(basename "$page")]=$page
	if out=$(mandoc -T lint -W warning "$page" 2>&1); then
		echo "ok: mandoc -T lint -W warning $(basename "$page")"
	else
		bad "mandoc -T lint -W warning $(basename "$page"):"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
done

# long_options TEXT: the --options TEXT mentions, one a line.
long_options() { printf '%s\n' "$1" | grep -oE -- '--[a-z][a-z0-9-]*[a-z0-9]' | sort -u; }

# check_options PAGE HELP_TEXT WHAT: each long option in HELP_TEXT appears in
# PAGE's roff source as a word of its own.
check_options() {
	local page=$1 help=$2 what=$3 opt missing=0 n=0
	for opt in $(long_options "$help"); do
		n=$((n + 1))
		if ! grep -qE -- "(^|[^a-z0-9-])${opt}([^a-z0-9-]|\$)" "$page"; then
			bad "$(basename "$page") does not document $opt (from $what)"
			missing=1
		fi
	done
	[ "$n" -gt 0 ] || bad "no long options found in $what"
	[ "$missing" = 0 ] && [ "$n" -gt 0 ] &&
		echo "ok: $(basename "$page") documents all $n long options of $what"
}

if [ -n "${page_of[greeterd.8]:-}" ]; then
	check_options "${page_of[greeterd.8]}" "$("$greeterd" --help)" "greeterd --help"
else
	bad "greeterd.8 was not built"
fi

if [ "$greeterctl" = - ]; then
	echo "note: greeterctl is not built; its page is not checked against --help"
elif [ -z "${page_of[greeterctl.1]:-}" ]; then
	echo "note: greeterctl.1 is not written yet; not checked against --help"
else
	help=$("$greeterctl" --help)
	check_options "${page_of[greeterctl.1]}" "$help" "greeterctl --help"
	# Each command's own help: the words listed under "Commands:".
	for cmd in $(printf '%s\n' "$help" | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'); do
		check_options "${page_of[greeterctl.1]}" "$("$greeterctl" "$cmd" --help)" \
			"greeterctl $cmd --help"
	done
fi

exit $fail
