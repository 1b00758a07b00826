#!/usr/bin/env python3
"""io.greeter.ImportMessages, the server side, by raw varlink calls: merge,
replace, a bad entry changes nothing, duplicates and too many are refused,
non-root callers are refused; and it is one durable write that survives a
reboot. Other users' calls stay bounded at 64 KiB (root's are 4 MiB)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403


USER = 65533


def listed(d):
    return {x.get("uid"): x["message"]
            for x in d.call("io.greeter.ListMessages")["parameters"]["messages"]}


def counts(set_, removed, added, updated, unchanged):
    """ImportMessages' reply."""
    return {"set": set_, "removed": removed, "added": added, "updated": updated,
            "unchanged": unchanged}


def imp(d, msgs, replace=None):
    p = {"messages": msgs}
    if replace is not None:
        p["replace"] = replace
    return d.call("io.greeter.ImportMessages", p)


with Daemon("importm") as d:
    d.start()
    d.set_message(10, "ten")
    d.set_message(11, "eleven")

    r = imp(d, [{"uid": 11, "message": "eleven again"}, {"uid": 12, "message": "twelve"},
                {"message": "the default"}])
    check(r.get("parameters") == counts(3, 0, 2, 1, 0),
          "merge: set 3, removed 0, added 2, updated 1 (%s)" % r)
    check(listed(d) == {10: "ten", 11: "eleven again", 12: "twelve", None: "the default"},
          "merge: the others kept, the listed ones set")
    check(d.call("io.greeter.GetStatus")["parameters"]["messages"] == 4, "GetStatus counts 4")

    before = listed(d)
    bad = [
        ([{"uid": 20, "message": "ok"}, {"uid": 21, "message": "a\nb"}], 1, "control"),
        ([{"uid": 20, "message": "ok"}, {"uid": 20, "message": "again"}], 1, "twice"),
        ([{"message": "one"}, {"uid": None, "message": "two"}], 1, "twice"),
        ([{"uid": 20, "message": "x" * 64}], 0, "longer"),
        ([{"uid": 4294967295, "message": "x"}], 0, "UID"),
        ([{"uid": -1, "message": "x"}], 0, "UID"),
        ([{"uid": 1.5, "message": "x"}], 0, "UID"),
        ([{"uid": 20}], 0, "message"),
        ([{"uid": 20, "message": 5}], 0, "message"),
        ([{"uid": 20, "message": "x", "colour": "red"}], 0, "unknown"),
        (["not an object"], 0, "object"),
        ([{"uid": 20, "message": ""}], 0, "message"),
    ]
    for msgs, index, word in bad:
        for replace in (False, True):
            r = imp(d, msgs, replace)
            check(r.get("error") == "io.greeter.InvalidImport" and
                  r["parameters"]["index"] == index and word in r["parameters"]["reason"],
                  "bad entry %r (replace=%s): InvalidImport at %d (%s)" %
                  (msgs[index], replace, index, r.get("parameters")))
    too_many = [{"uid": i, "message": "m"} for i in range(16385)]
    r = imp(d, too_many)
    check(r.get("error") == "io.greeter.InvalidImport", "16,385 messages: InvalidImport (%s)" %
          r.get("parameters", {}).get("reason"))
    for p in ({}, {"messages": {}}, {"messages": [], "replace": 1}, {"messages": [], "x": 1}):
        r = d.call("io.greeter.ImportMessages", p)
        check(r.get("error") == "org.varlink.service.InvalidParameter",
              "bad parameters %s: InvalidParameter (%s)" % (p, r.get("parameters")))
    check(listed(d) == before, "refused imports changed nothing")

    # Not root: refused, whatever the list.
    for msgs in ([], [{"uid": USER, "message": "mine"}]):
        r = call_as(USER, USER, [], d.socket, "io.greeter.ImportMessages", {"messages": msgs})[0]
        check(r.get("error") == "io.greeter.PermissionDenied",
              "UID %d: PermissionDenied (%s)" % (USER, r))
    check(listed(d) == before, "refused callers changed nothing")
    # Other users' requests stay bounded at 64 KiB; root's at 4 MiB (below).
    r = call_as(USER, USER, [], d.socket, "io.greeter.ImportMessages",
                {"messages": [{"uid": USER, "message": "x" * 60}] * 1200})[0]
    check(r.get("error") == "io.greeter.RequestTooLarge" and r["parameters"]["limit"] == 65536,
          "UID %d: a 90 kB call is RequestTooLarge at 64 KiB (%s)" % (USER, r))

    r = imp(d, [{"uid": 30, "message": "thirty"}, {"message": "new default"}], True)
    check(r.get("parameters") == counts(2, 3, 1, 1, 0),
          "replace: set 2, removed 3, added 1, updated 1 (%s)" % r)
    check(listed(d) == {30: "thirty", None: "new default"}, "replace: the set is the list")
    r = imp(d, [], False)
    check(r.get("parameters") == counts(0, 0, 0, 0, 0), "an empty merge changes nothing")
    check(stored_messages(d.state_dir) == {30: "thirty", None: "new default"},
          "the state holds the replaced set")

    big = [{"uid": 100000 + i, "message": "message number %d" % i} for i in range(16384)]
    r = imp(d, big, True)
    check(r.get("parameters") == counts(16384, 2, 16384, 0, 0),
          "the map's 16,384 in one call (%d bytes)" % len(json.dumps(big)))
    r = imp(d, [{"uid": 7, "message": "one too many"}])
    check(r.get("error") == "io.greeter.WriteFailed" and "16384" in r["parameters"]["reason"],
          "a merge past the map's capacity: WriteFailed, saying so (%s)" % r.get("parameters"))
    r = imp(d, [{"uid": 100000, "message": "replaced in place"}])
    check(r.get("parameters") == counts(1, 0, 0, 1, 0),
          "a full map still takes a change in place")

    # A large list is answered on a turn of its own; calls pipelined behind it
    # on the same connection still come back in order, and a hang-up while it
    # waits harms nothing.
    c = d.varlink()
    for m in ("ListMessages", "GetStatus", "ListMessages", "GetMessage"):
        c.send({"method": "io.greeter." + m, "parameters": {"uid": 100000} if m == "GetMessage" else {}})
    replies = [c.recv() for _ in range(4)]
    c.close()
    check([len(replies[0]["parameters"]["messages"]), replies[1]["parameters"]["messages"],
           len(replies[2]["parameters"]["messages"]), replies[3]["parameters"]["message"]] ==
          [16384, 16384, 16384, "replaced in place"], "pipelined behind a large ListMessages: in order")
    for _ in range(20):
        c = d.varlink()
        c.send({"method": "io.greeter.ListMessages", "parameters": {}})
        c.close()
    check(d.call("io.greeter.GetStatus")["parameters"]["messages"] == 16384,
          "callers hanging up on a waiting ListMessages harm nothing")

    d.stop()
    d.remove_pins()
    d.start()
    got = listed(d)
    check(len(got) == 16384 and got[100000] == "replaced in place" and
          got[116383] == "message number 16383", "after a reboot: all 16,384 back")
    check("BUG" not in d.log(), "no BUG in greeterd's log")
