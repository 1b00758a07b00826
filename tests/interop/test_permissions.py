#!/usr/bin/env python3
"""varlinkctl as UID 501 (and 502, 503): what a user may read and change,
PermissionDenied for the rest (a member of the admin group may watch UID 0
but not edit others), refused calls change nothing; TooManyConnections
while UID 502 holds 512 connections, UID 503 served meanwhile."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop import *  # noqa: E402,F403


def test():
    set_up((None, DEFAULT), (U, MSG_501), (7, "Grüße, ☃ — ünïcödé"))
    adm = admin_gid()

    expect_reply(call(G + "GetMessage", user=U), G + "GetMessage", "501: GetMessage without uid is its own",
                 {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"})
    expect_reply(call(G + "GetMessage", {"uid": 0}, user=U), G + "GetMessage", "501 reads root's message",
                 {"uid": 0, "message": "Interop default 2", "source": "default"})
    expect_reply(call(G + "ListMessages", {}, user=U), G + "ListMessages", "501 lists the messages")
    expect_reply(call(G + "GetStatus", {}, user=U), G + "GetStatus", "501 reads the status")
    expect_reply(call(G + "SetMessage", {"uid": U, "message": "mine, as 501"}, user=U), G + "SetMessage",
                 "501 sets its own message", {})
    for method, params, what in ((G + "SetMessage", {"uid": U2, "message": "yours"}, "501 sets 502's message"),
                                 (G + "SetMessage", {"message": "everyone's"}, "501 sets the default"),
                                 (G + "RemoveMessage", {"uid": 7}, "501 removes 7's message"),
                                 (G + "RemoveMessage", {}, "501 removes the default")):
        v = expect_error(call(method, params, user=U), method, E_PD, what)
        check(isinstance(v, dict) and v.get("reason"), what + ": a reason", v)
    v = expect_error(call(G + "SetMessage", {"uid": U2, "message": "x"}, user=U, groups=[adm]), G + "SetMessage",
                     E_PD, "a member of the admin group sets 502's message")
    v = expect_error(call(G + "WatchEvents", {"uid": 0}, opts=("--json=short", "--more"), user=U), G + "WatchEvents",
                     E_PD, "501 watches UID 0")
    check(isinstance(v, dict) and v.get("reason"), "501 watches UID 0: a reason", v)
    expect_error(call(G + "WatchEvents", {"uid": 0}, opts=("--json=short", "--collect"), user=U), G + "WatchEvents",
                 E_PD, "--collect of WatchEvents that fails: 501 watches UID 0")
    expect_reply(call(G + "GetMessage", {"uid": 7}), G + "GetMessage", "refused calls changed nothing",
                 {"uid": 7, "message": "Grüße, ☃ — ünïcödé", "source": "uid"})
    expect_reply(call(G + "RemoveMessage", {"uid": U}, user=U), G + "RemoveMessage", "501 removes its own message", {})
    expect_error(call(G + "RemoveMessage", {"uid": U}, user=U), G + "RemoveMessage", G + "NoSuchMessage",
                 "501 removes its message again", {"uid": U})

    # TooManyConnections: UID 502 holds 512 connections.
    h = state["holder"] = Holder(os.path.join(state["sockdir"], "greeter.sock"), 512)
    check(h.ok, "UID 502 holds 512 connections")
    expect_error(call(G + "GetMessage", {}, user=U2), G + "GetMessage", G + "TooManyConnections",
                 "the 513th connection of UID 502", {"limit": 512})
    expect_reply(call(G + "GetMessage", {}, user=503), G + "GetMessage", "UID 503 is served meanwhile",
                 {"uid": 503, "message": "Interop default 2", "source": "default"})
    h.release()
    r = call_until(lambda r: r.rc == 0, G + "GetMessage", {}, interval=0.1, user=U2)
    expect_reply(r, G + "GetMessage", "UID 502 is served once it let go",
                 {"uid": U2, "message": "Interop default 2", "source": "default"})


if __name__ == "__main__":
    sys.exit(main(test))
