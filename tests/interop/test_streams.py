#!/usr/bin/env python3
"""WatchEvents through varlinkctl call --more and -E, three streams at once
(root with a comm filter, UID 501 unfiltered, a member of the admin group
watching UID 0), with real execs on the host: the first reply, the
events' fields and order, what each may see; after_seq replays them; when
greeterd stops, --more gets the queued event then io.systemd.Disconnected
and --collect fails."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop import *  # noqa: E402,F403


def three_streams():
    """call --more and -E of WatchEvents, three at once, with execs on the
    host; then after_seq replays them."""
    idl, adm = state["idl"], admin_gid()

    expect_reply(call(G + "SetMessage", {"uid": 0, "message": "Interop hi root"}), G + "SetMessage", "set root's", {})
    expect_reply(call(G + "SetMessage", {"uid": U, "message": "Interop hi 501"}), G + "SetMessage", "set 501's", {})
    LC = state["lcomm"]
    s_root = Stream("root", ["--json=short", "call", "--more", ADDR, G + "WatchEvents", json.dumps({"comm": LC})])
    s_user = Stream("501", ["--json=short", "-E", "call", ADDR, G + "WatchEvents", "{}"], user=U)
    s_adm = Stream("admin", ["--json=short", "-E", "call", ADDR, G + "WatchEvents",
                             json.dumps({"uid": 0, "comm": LC})], user=U, groups=[adm])
    firsts = {}
    for s in (s_root, s_user, s_adm):
        rs = s.wait_replies(lambda rs: len(rs) >= 1)
        first = rs[0] if rs else None
        firsts[s.name] = first
        check(first is not None and idl.check(first, idl.methods["WatchEvents"][1], "first") == []
              and set(first) == {"seq", "stream"} and first["seq"] >= 0
              and isinstance(first["stream"], str) and first["stream"] != "",
              "WatchEvents (%s): the first reply is the state, {\"seq\": N, \"stream\": ID}" % s.name,
              (first, s.stderr()))
    st = status()
    check(st.get("watchers") == 3, "GetStatus: 3 watchers while three WatchEvents are open", st.get("watchers"))
    run0 = run_marker()
    run1 = run_marker(U)
    mk = state["marker"]
    rs = s_root.wait_replies(lambda rs: len(events_of(rs, mk)) >= 2)
    evs = events_of(rs, mk)
    check(len(evs) == 2 and len(rs) == 3, "WatchEvents as root, comm filter: exactly our two execs", rs)
    if len(evs) == 2:
        check_event(evs[0], run0, "Interop hi root", "uid", "root's exec")
        check_event(evs[1], run1, "Interop hi 501", "uid", "501's exec")
        check(firsts["root"]["seq"] < evs[0]["seq"] < evs[1]["seq"], "sequence numbers grow past the first reply's",
              (firsts["root"], evs))
        check(all(set(r) == {"event"} for r in rs[1:]), "later replies carry one event each (no dropped)", rs[1:])
    rs = s_user.wait_replies(lambda rs: len(events_of(rs, mk)) >= 1)
    evs = events_of(rs, mk)
    check(len(evs) == 1 and evs[0].get("uid") == U, "WatchEvents as 501, unfiltered: its own exec only", evs)
    if evs:
        check_event(evs[0], run1, "Interop hi 501", "uid", "501's exec, seen by 501")
    others = [r for r in rs[1:] if r.get("event", {}).get("uid") != U]
    check(not others, "WatchEvents as 501: no event of another user", others[:3])
    rs = s_adm.wait_replies(lambda rs: len(events_of(rs, mk)) >= 1)
    evs = events_of(rs, mk)
    check(len(evs) == 1 and len(rs) == 2, "WatchEvents uid 0 by a member of the admin group: root's exec", rs)
    if evs:
        check_event(evs[0], run0, "Interop hi root", "uid", "root's exec, seen by the admin group")
    for s in (s_root, s_user, s_adm):
        s.stop()
    # after_seq: the two execs again, from the replay window.
    after = firsts["root"]["seq"] if firsts.get("root") else 0
    s = Stream("replay", ["--json=short", "-E", "call", ADDR, G + "WatchEvents",
                          json.dumps({"comm": LC, "after_seq": after})])
    rs = s.wait_replies(lambda rs: len(events_of(rs, mk)) >= 2)
    s.stop()
    evs = events_of(rs, mk)
    stream = firsts["root"].get("stream") if firsts.get("root") else None
    check(len(rs) == 3 and set(rs[0]) == {"seq", "stream"} and rs[0]["stream"] == stream
          and len(evs) == 2 and evs[0]["pid"] == run0["pid"] and evs[1]["pid"] == run1["pid"],
          "WatchEvents after_seq: both execs replayed, in the same stream", rs)
    check(status_until(lambda st: st.get("watchers") == 0).get("watchers") == 0,
          "GetStatus: no watchers once varlinkctl has gone")


def streams_at_stop():
    """--more and --collect of WatchEvents while greeterd stops."""
    LC, mk = state["lcomm"], state["marker"]
    # -- --collect of WatchEvents, and greeterd stopping under open streams.
    # WatchEvents has no limit: its replies end only when greeterd closes the
    # connection. varlinkctl --more then reports io.systemd.Disconnected after
    # what it got; --collect prints nothing (the disconnection is an error).
    s_more = Stream("more-at-stop", ["--json=short", "--more", "call", ADDR, G + "WatchEvents", json.dumps({"comm": LC})])
    s_coll = Stream("collect", ["--json=short", "--collect", "call", ADDR, G + "WatchEvents", json.dumps({"comm": LC})])
    s_more.wait_replies(lambda rs: len(rs) >= 1)
    before = status_until(lambda st: st.get("watchers") == 2).get("counters", {}).get("delivered", 0)
    run2 = run_marker()
    rs = s_more.wait_replies(lambda rs: len(events_of(rs, mk)) >= 1)
    status_until(lambda st: st.get("counters", {}).get("delivered", 0) >= before + 2)
    rc = stop_greeterd()
    check(rc == 0, "greeterd stops on SIGTERM with two streams open, exit 0", (rc, greeterd_log()[-2000:]))
    s_more.wait_exit()
    s_coll.wait_exit()
    rs = s_more.replies()
    evs = events_of(rs, mk)
    check(len(rs) == 2 and len(evs) == 1 and evs[0]["pid"] == run2["pid"], "call --more: the event, then the end", rs)
    check(s_more.rc == 1 and s_more.stderr() == "Method call failed: io.systemd.Disconnected\n",
          "call --more when greeterd stops: io.systemd.Disconnected, exit 1", (s_more.rc, s_more.stderr()))
    with open(s_coll.path) as f:
        out = f.read()
    check(s_coll.rc == 1 and out == "" and
          s_coll.stderr() == "Failed to issue io.greeter.WatchEvents() call: Connection reset by peer\n",
          "call --collect of WatchEvents: ends only as greeterd stops, an error, exit 1", (s_coll.rc, out,
                                                                                            s_coll.stderr()))


def test():
    three_streams()
    streams_at_stop()


if __name__ == "__main__":
    sys.exit(main(test))
