#!/usr/bin/env python3
"""varlinkctl's ssh-exec: and ssh-unix: addresses against greeterd, through
greeterctl stdio-bridge: SYSTEMD_SSH names a fake ssh in the tree that
checks its arguments (as varlinkctl 257 passes them: "-e none -T HOST
COMMAND..." and "-W PATH HOST") and does what sshd would do on the host:
runs the command with a shell, or (ssh-unix:, which needs OpenSSH 9.4 on the
server) connects to the socket, here with greeterctl stdio-bridge. The
calls, a stream and UID 501's rights (greeterd sees the bridge's user, the
ssh login's) come out as over unix:."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop import *  # noqa: E402,F403

T_BIN = "/greeter-bin"
HOST = "somehost"
EXEC = "ssh-exec:%s:greeterctl stdio-bridge --socket %s" % (HOST, T_SOCK)
UNIX = "ssh-unix:%s:%s" % (HOST, T_SOCK)

FAKE_SSH = """#!/bin/sh
# ssh as varlinkctl runs it, doing here what sshd would do on the host.
PATH=%(bin)s:$PATH
case $1 in
-W)
	[ "$3" = %(host)s ] || { echo "fake ssh: not %(host)s: $*" >&2; exit 255; }
	# OpenSSH 9.4's streamlocal forward, in effect.
	exec greeterctl stdio-bridge --socket "$2" ;;
-e)
	[ "$2" = none ] && [ "$3" = -T ] && [ "$4" = %(host)s ] || { echo "fake ssh: $*" >&2; exit 255; }
	shift 4
	exec /bin/sh -c "$*" ;;
*)
	echo "fake ssh: unexpected arguments: $*" >&2
	exit 255 ;;
esac
""" % {"bin": T_BIN, "host": HOST}


def over(addr, method, params=None, opts=("--json=short",), user=None):
    """varlinkctl [OPTS] call ADDR METHOD PARAMS in the tree, with the fake ssh."""
    a = ["env", "SYSTEMD_SSH=%s/ssh" % T_BIN, "varlinkctl"] + list(opts) + ["call", addr, method]
    if params is not None:
        a.append(json.dumps(params))
    return inside(*a, user=user, seq=bool({"--more", "-E"} & set(opts)))


def test():
    d = os.path.join(state["tmp"], "ssh-bin")
    os.makedirs(d)
    os.chmod(d, 0o755)
    shutil.copy(GREETERCTL, os.path.join(d, "greeterctl"))
    os.chmod(os.path.join(d, "greeterctl"), 0o755)
    with open(os.path.join(d, "ssh"), "w") as f:
        f.write(FAKE_SSH)
    os.chmod(os.path.join(d, "ssh"), 0o755)
    state["binds"].append(d + ":" + T_BIN)
    set_up((None, DEFAULT), (U, MSG_501))

    r = inside("greeterctl", "--version")
    if not check(r.rc == 127, "the tree has no greeterctl of its own (this build's is the bridge)", r):
        return
    for addr in (EXEC, UNIX):
        r = inside("env", "SYSTEMD_SSH=%s/ssh" % T_BIN, "varlinkctl", "--json=short", "info", addr)
        v = parse_json(r.out, "info " + addr) if r.rc == 0 else None
        check(r.rc == 0 and r.err == "" and isinstance(v, dict) and v.get("product") == "greeterd" and
              v.get("version") == state["version"] and "io.greeter" in v.get("interfaces", []),
              "info %s: greeterd, its version and interfaces" % addr, r)
        st = expect_reply(over(addr, G + "GetStatus", {}), G + "GetStatus", "GetStatus over " + addr)
        check(isinstance(st, dict) and st.get("pin_dir") == state["pin_dir"] and
              st.get("state_dir") == state["state_dir"], "GetStatus over %s: this greeterd's" % addr, st)
        expect_reply(over(addr, G + "GetMessage", {"uid": U}), G + "GetMessage", "GetMessage over " + addr,
                     {"uid": U, "message": MSG_501, "source": "uid"})
    # The identity is the bridge's: UID 501 gets what it gets over unix:.
    expect_reply(over(EXEC, G + "GetMessage", {}, user=U), G + "GetMessage",
                 "501 over ssh-exec: GetMessage without uid is its own",
                 {"uid": U, "message": MSG_501, "source": "uid"})
    expect_reply(over(EXEC, G + "SetMessage", {"uid": U, "message": "mine, over ssh-exec"}, user=U),
                 G + "SetMessage", "501 over ssh-exec: sets its own message", {})
    expect_reply(call(G + "GetMessage", {"uid": U}), G + "GetMessage", "... and greeterd holds it",
                 {"uid": U, "message": "mine, over ssh-exec", "source": "uid"})
    for addr in (EXEC, UNIX):
        there = over(addr, G + "SetMessage", {"uid": U2, "message": "yours"}, user=U)
        expect_error(there, G + "SetMessage", E_PD, "501 over %s sets 502's message" % addr)
        here = call(G + "SetMessage", {"uid": U2, "message": "yours"}, user=U)
        check(there.out == here.out, "501 over %s: the error's parameters of unix:" % addr, (there, here))
    expect_error(over(EXEC, G + "RemoveMessage", {"uid": 777}), G + "RemoveMessage", "io.greeter.NoSuchMessage",
                 "RemoveMessage of no message over ssh-exec", {"uid": 777})

    # A stream over ssh-exec: the state, then an exec on the host.
    cmd = droot_cmd("droot_run", state["tree"], "env", "SYSTEMD_SSH=%s/ssh" % T_BIN, "varlinkctl",
                    "--json=short", "call", "--more", EXEC, G + "WatchEvents",
                    json.dumps({"comm": state["lcomm"]}), binds=state["binds"])
    out_path = os.path.join(state["tmp"], "ssh-stream.out")
    with open(out_path, "w") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def records():
            with open(out_path) as f:
                return json_seq(f.read(), "WatchEvents over ssh-exec") or []
        deadline = time.time() + 120
        while time.time() < deadline and not records() and p.poll() is None:
            time.sleep(0.05)
        first = records()
        check(first and set(first[0]) >= {"seq"} and "event" not in first[0],
              "WatchEvents over ssh-exec: the state first", first)
        run = run_marker()
        while time.time() < deadline and not events_of(records(), state["marker"]) and p.poll() is None:
            time.sleep(0.05)
        evs = events_of(records(), state["marker"])
        if check(len(evs) == 1, "WatchEvents over ssh-exec: the exec on the host", records()):
            check_event(evs[0], run, DEFAULT, "default", "the exec over ssh-exec")
        check(status()["watchers"] == 1, "greeterd counts the stream through the bridge as a watcher")
    finally:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        p.wait()
    st = status_until(lambda s: s.get("watchers") == 0)
    check(st.get("watchers") == 0, "varlinkctl gone: the bridge's connection closed", st)


if __name__ == "__main__":
    sys.exit(main(test))
