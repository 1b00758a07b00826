#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# greeterctl's command line without a daemon: help, usage errors (status 2),
# and "greeterd is not running" (status 3). Needs no root.
#
# Usage: test_cli.sh PATH/TO/greeterctl
set -u

ctl=${1:?usage: test_cli.sh GREETERCTL}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Never reach a real greeterd, whatever the environment says.
export GREETER_SOCKET="$tmp/none.sock"
export LC_ALL=C.UTF-8
failures=0

fail()
{
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# run ARGS...: runs greeterctl, leaves $status, $out, $err.
run()
{
	"$ctl" "$@" >"$tmp/out" 2>"$tmp/err"
	status=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# expect STATUS STREAM PATTERN -- ARGS...: STREAM (out or err) must contain
# the fixed string PATTERN ("" for any).
expect()
{
	local want=$1 stream=$2 pattern=$3 text
	shift 4
	run "$@"
	if [[ $stream == out ]]; then text=$out; else text=$err; fi
	if [[ $status != "$want" ]]; then
		fail "greeterctl $*: status $status, expected $want; stderr: $err"
	elif [[ -n $pattern && $text != *"$pattern"* ]]; then
		fail "greeterctl $*: std$stream lacks '$pattern'; got: $text"
	fi
}

# Usage errors say what is wrong, on stderr, and print nothing on stdout.
usage_error()
{
	local pattern=$1
	shift
	expect 2 err "$pattern" -- "$@"
	[[ -z $out ]] || fail "greeterctl $*: usage error printed on stdout: $out"
	[[ $err == *"Try 'greeterctl --help'."* ]] || fail "greeterctl $*: no --help hint"
}

# Help

for h in --help -h; do
	expect 0 out "Usage: greeterctl [OPTIONS] COMMAND [ARGS]" -- $h
	for cmd in set get unset list status tail export import; do
		grep -q "^  $cmd" "$tmp/out" || fail "greeterctl $h does not list $cmd"
	done
	for word in --socket --json --help --version "Exit status" "2 usage error" \
		"3 greeterd is not running" "4 (import)"; do
		[[ $out == *"$word"* ]] || fail "greeterctl $h does not mention '$word'"
	done
done
expect 0 out "greeterctl " -- --version
[[ $out =~ ^greeterctl\ [0-9]+\.[0-9]+ ]] || fail "--version printed '$out'"
expect 0 out "greeterctl " -- -V

for cmd in set get unset list status tail export import; do
	expect 0 out "Usage: greeterctl $cmd" -- "$cmd" --help
	expect 0 out "Usage: greeterctl $cmd" -- --help "$cmd"
	expect 0 out "Usage: greeterctl $cmd" -- "$cmd" -h
	[[ $out == *"Exit status"* ]] || fail "greeterctl $cmd --help lacks the exit status"
done
# Help wins over missing arguments.
expect 0 out "Usage: greeterctl set" -- set --help
for opt in --user --comm --count --failed --after --no-reconnect --json; do
	expect 0 out "$opt" -- tail --help
done
for opt in --replace --json --socket; do
	expect 0 out "$opt" -- import --help
done

# Usage errors

usage_error "no command given"
usage_error "unknown command 'frobnicate'" frobnicate
usage_error "unrecognized option" --frobnicate list
usage_error "unrecognized option" list --frobnicate
usage_error "set needs" set
usage_error "set needs" set 501
usage_error "unexpected argument 'there'" set 501 hello there
usage_error "unset needs" unset
usage_error "unexpected argument" unset 501 502
usage_error "unexpected argument" get 501 502
usage_error "unexpected argument 'x'" list x
usage_error "unexpected argument" status x
usage_error "unexpected argument" tail x
usage_error "unexpected argument 'x'" export x
usage_error "import needs a FILE" import
usage_error "import needs a FILE" import --replace
usage_error "unexpected argument 'b'" import a b
usage_error "--replace is an option of import, not of export" export --replace
usage_error "--replace is an option of import, not of set" set 501 hi --replace
usage_error "--count is an option of tail, not of import" import --count 1 f

usage_error "UID 4294967295 is out of range" set 4294967295 "hi"
usage_error "UID 4294967295 is out of range" get 4294967295
usage_error "UID 99999999999999999999 is out of range" unset 99999999999999999999
usage_error "UID 4294967295 is out of range" tail -u 4294967295
usage_error "unknown user 'no-such-user-greeter-test'" set no-such-user-greeter-test "hi"
usage_error "unknown user 'no-such-user-greeter-test'" get no-such-user-greeter-test
usage_error "unknown user 'no-such-user-greeter-test'" unset no-such-user-greeter-test
usage_error "unknown user 'no-such-user-greeter-test'" tail --user no-such-user-greeter-test
usage_error "'default' is not a user here" get default
usage_error "'default' is not a user here" tail -u default
# An escape in a bad name is not echoed raw.
usage_error 'unknown user '\''ev\x1b[31mil'\' get $'ev\e[31mil'
grep -q $'\e' "$tmp/err" && fail "a raw ESC reached stderr"

msg63=$(printf 'x%.0s' {1..63})
msg64=$(printf 'x%.0s' {1..64})
usage_error "invalid message: message is longer than 63 bytes" set 501 "$msg64"
usage_error "invalid message: message is longer than 63 bytes" set default "$msg64"
usage_error "invalid message: message contains a control character" set 501 $'hi\e[31m'
usage_error "invalid message: message contains a control character" set 501 $'two\nlines'
usage_error "invalid message: message is not valid UTF-8" set 501 $'bad \xff byte'
usage_error "invalid message: message is empty" set 501 ""

usage_error "--count is an option of tail, not of list" list --count 1
usage_error "--failed is an option of tail, not of get" get --failed
usage_error "--count takes a number" tail -n 0
usage_error "--count takes a number" tail -n abc
usage_error "--count takes a number" tail --count -1
usage_error "--after takes a number" tail --after x
usage_error "--after takes a number" tail --after 9007199254740992
usage_error "--comm takes a name of 1 to 15 bytes" tail --comm 0123456789abcdef
usage_error "--socket needs a path" --socket "" list

# No daemon: status 3, with the reason and what to do.

none="$tmp/none.sock"
notrunning="greeterctl: greeterd is not running (cannot connect to $none: No such file or directory); start it with: systemctl start greeterd"
for args in "list" "status" "get" "get 0" "unset default" "tail" "tail -n 1 --json"; do
	# shellcheck disable=SC2086
	expect 3 err "$notrunning" -- --socket "$none" $args
	[[ -z $out ]] || fail "greeterctl $args: printed on stdout without a daemon: $out"
done
# A valid message gets as far as connecting: 63 bytes, UTF-8, '-' after '--'.
expect 3 err "$notrunning" -- --socket "$none" set 501 "$msg63"
expect 3 err "$notrunning" -- --socket "$none" set default "Grüße, 世界"
expect 3 err "$notrunning" -- --socket "$none" set 0 -- "-dash first"
expect 3 err "$notrunning" -- set root "Hi user 501!"
# Options after the command, and the environment.
expect 3 err "$notrunning" -- list --socket "$none"
GREETER_SOCKET="$tmp/env.sock" expect 3 err "cannot connect to $tmp/env.sock: No such" -- list
expect 3 err "cannot connect to $tmp/opt.sock" -- --socket "$tmp/opt.sock" list

# export, and import of a valid file, get as far as connecting; a bad file
# is refused first, with status 4, daemon or not.
expect 3 err "$notrunning" -- --socket "$none" export
[[ -z $out ]] || fail "export printed on stdout without a daemon: $out"
printf '{"version": 1, "messages": {"501": "Hi", "default": "All"}}\n' >"$tmp/ok.json"
expect 3 err "$notrunning" -- --socket "$none" import "$tmp/ok.json"
expect 3 err "$notrunning" -- --socket "$none" import --replace - <"$tmp/ok.json"
printf '{"version": 1, "messages": {"501": "Hi", "bob": "x"}}\n' >"$tmp/bad.json"
expect 4 err '"bob" is neither a UID nor "default"; nothing was changed' -- \
	--socket "$none" import "$tmp/bad.json"
expect 4 err "standard input is not a valid messages document: empty file" -- \
	--socket "$none" import - </dev/null
expect 4 err "cannot read $tmp/missing.json: No such file or directory" -- \
	--socket "$none" import "$tmp/missing.json"

# A socket nobody listens on: refused, also "not running".
if python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
	"$tmp/dead.sock"; then
	expect 3 err "greeterd is not running (cannot connect to $tmp/dead.sock: Connection refused)" \
		-- --socket "$tmp/dead.sock" status
fi

if ((failures)); then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all checks passed"
