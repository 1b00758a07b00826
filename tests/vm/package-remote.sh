#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The package guest driven from this machine (issue 32): greeterctl -H over
# ssh to the guest's packaged greeterd, as root and as UID 501, with this
# machine's build of greeterctl. package-net.sh starts it in the background
# before boot 1; it waits for the guest's word on the console (the guest
# then waits for it), checks, prints TAP lines (package.sh reports them as
# the suite's), and releases the guest (touch /run/gvm-host-done over ssh).
#
# package-remote.sh CONSOLE_LOG PORT NET_DIR GREETERCTL RELEASE
set -u
# shellcheck source=../lib/checks.sh
. "$(dirname "$(realpath "$0")")/../lib/checks.sh"
SAY_NAME=host
console=$1 port=$2 d=$3 gctl=$4 release=$5
host=127.0.0.1:$port
ssh_() { timeout 120 "$d/ssh" -p "$port" "$@"; }
# greeterctl -H USER@127.0.0.1:PORT COMMAND..., through the run's ssh.
rctl() { # user command...
	local who=$1
	shift
	GREETER_SSH=$d/ssh timeout 120 "$gctl" -H "$who@$host" "$@"
}
# The guest has ended, or the suite (its work directory gone, or it).
ended() {
	[ -e "$d/guest-ended" ] || [ ! -d "$d" ] || ! kill -0 "$PPID" 2>/dev/null ||
		grep -aq 'GREETER-VM-RESULT' "$console" 2>/dev/null
}

# The guest's word, or its end (package.sh says so when qemu has exited).
until grep -aq 'GREETER-VM-HOST-CHECKS ready' "$console" 2>/dev/null; do
	if ended; then
		not_ok "the guest asked for the checks from this machine (it ended first)"
		exit 1
	fi
	sleep 1
done
say "the guest waits; greeterctl $("$gctl" --version 2>&1 | head -1), ssh to $host (Debian $release)"

check "ssh root@guest" ssh_ "root@127.0.0.1" true
check "ssh u501@guest" ssh_ "u501@127.0.0.1" true

# ---- root: what a local root gets.
st=$(rctl root status --json 2>"$d/err")
check "greeterctl -H root@guest status --json: greeterd's status" eval 'echo "$st" | grep -q "\"attach_mode\""'
echo "$st" | grep -q '"attach_mode"' || sed 's/^/# /' "$d/err"
check "greeterctl -H root@guest set 777" rctl root set 777 "Hi 777 from afar"
check "greeterctl -H root@guest get 777: that message" eval 'rctl root get 777 | grep -q "Hi 777 from afar"'
check "greeterctl get 777 in the guest: that message" eval 'ssh_ root@127.0.0.1 greeterctl get 777 | grep -q "Hi 777 from afar"'
# tail: an exec made in the guest (over ssh) in the stream followed from here.
rctl root tail --json >"$d/tail.json" 2>"$d/tail.err" &
tail_pid=$!
watching() { [ "$(rctl root status --json 2>/dev/null | grep -o '"watchers":[0-9]*' | grep -o '[0-9]*$')" -ge 1 ] 2>/dev/null; }
check "greeterctl -H root@guest tail is watching (status: a watcher)" wait_until 180 watching
check "an exec in the guest (ssh)" ssh_ root@127.0.0.1 /usr/local/bin/gvm-remote-mark
check "that exec in greeterctl -H root@guest tail's stream" \
	wait_until 180 grep -q '"filename":"/usr/local/bin/gvm-remote-mark"' "$d/tail.json"
kill "$tail_pid" 2>/dev/null
wait "$tail_pid" 2>/dev/null
grep -q gvm-remote-mark "$d/tail.json" || sed 's/^/# tail: /' "$d/tail.err"

# ---- u501: what UID 501 gets locally, no more.
check "greeterctl -H u501@guest set 501 (its own message)" rctl u501 set 501 "Hi 501 from afar"
check "greeterctl -H u501@guest get 501: that message" eval 'rctl u501 get 501 | grep -q "Hi 501 from afar"'
check "greeterctl -H u501@guest set 501 back" rctl u501 set 501 "Hi user 501!"
rctl u501 set 777 "not yours" >/dev/null 2>"$d/err501"
remote=$?
# (ssh joins its arguments for the remote shell: the message quoted for it.)
ssh_ u501@127.0.0.1 "greeterctl set 777 'not yours'" >/dev/null 2>"$d/err501l"
local_=$?
say "u501 setting 777's message: exit status $remote over -H, $local_ in the guest"
sed 's/^/# -H: /' "$d/err501"
sed 's/^/# local: /' "$d/err501l"
check "u501's edit of another UID's message refused over -H as in the guest (exit status $remote, $local_)" \
	eval '[ "$remote" = "$local_" ] && [ "$remote" != 0 ]'
check "777's message unchanged" eval 'rctl root get 777 | grep -q "Hi 777 from afar"'

echo "# host checks done: passed=$passed failed=$failed"
# Let the guest go on.
ssh_ root@127.0.0.1 touch /run/gvm-host-done || echo "# could not release the guest (it waits until its deadline)"
