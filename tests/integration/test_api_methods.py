#!/usr/bin/env python3
"""Every method and error path, and the permission matrix: root, UID 501 on
itself, UID 501 on UID 502, a member of the admin group; for set, remove and
watch."""
import grp
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

require_root()
GROUP = "greetertest"
subprocess.run(["groupadd", "-f", GROUP], check=True)
admin_gid = grp.getgrnam(GROUP).gr_gid
with Daemon("methods", extra=["--admin-group", GROUP]) as d, Marker("methods") as m:
    d.start()
    c = d.varlink()
    r = c.call("io.greeter.GetMessage", {"uid": 501})["parameters"]
    check(r == {"uid": 501, "message": "Hello World", "source": "builtin"}, "built-in message: %s" % r)
    check(c.call("io.greeter.SetMessage", {"message": "Default hi"}).get("parameters") == {}, "set default")
    r = c.call("io.greeter.GetMessage", {"uid": 501})["parameters"]
    check(r["source"] == "default" and r["message"] == "Default hi", "default message")
    c.call("io.greeter.SetMessage", {"uid": 501, "message": "Hi user 501!"})
    r = c.call("io.greeter.GetMessage", {"uid": 501})["parameters"]
    check(r["source"] == "uid" and r["message"] == "Hi user 501!", "own message")
    r = c.call("io.greeter.GetMessage")["parameters"]
    check(r["uid"] == 0, "GetMessage without uid is the caller's")
    # Validation errors change nothing.
    r = c.call("io.greeter.SetMessage", {"uid": 501, "message": "x" * 64})
    check(r.get("error") == "io.greeter.MessageTooLong" and r["parameters"]["limit"] == 63, "64 bytes: MessageTooLong")
    check(c.call("io.greeter.SetMessage", {"uid": 501, "message": "x" * 63}).get("parameters") == {}, "63 bytes accepted")
    for bad in ("", "bell\u0007", "esc\u001b[31m", "c1\u0085", "del\u007f"):
        r = c.call("io.greeter.SetMessage", {"uid": 501, "message": bad})
        check(r.get("error") == "io.greeter.InvalidMessage", "rejected %r: %s" % (bad, r.get("error")))
    c.sock.sendall(b'{"method":"io.greeter.SetMessage","parameters":{"uid":501,"message":"a\\u0000b"}}\0')
    r = c.recv()
    check("error" in r, "embedded NUL rejected: %s" % r.get("error"))
    c.sock.sendall(b'{"method":"io.greeter.SetMessage","parameters":{"uid":501,"message":"\xff\xfe"}}\0')
    try:
        r = c.recv()
        check("error" in r, "invalid UTF-8 rejected")
    except ConnectionError:
        c = d.varlink()
        check(True, "invalid UTF-8: connection closed")
    r = c.call("io.greeter.GetMessage", {"uid": 501})["parameters"]
    check(r["message"] == "x" * 63, "failed sets changed nothing")
    r = c.call("io.greeter.SetMessage", {"uid": 501})
    check(r.get("error") == "org.varlink.service.InvalidParameter", "message missing")
    # Remove.
    r = c.call("io.greeter.RemoveMessage", {"uid": 777})
    check(r.get("error") == "io.greeter.NoSuchMessage" and r["parameters"]["uid"] == 777, "NoSuchMessage")
    check(c.call("io.greeter.RemoveMessage", {"uid": 501}).get("parameters") == {}, "remove")
    check(c.call("io.greeter.GetMessage", {"uid": 501})["parameters"]["source"] == "default", "removed")
    check(c.call("io.greeter.RemoveMessage").get("parameters") == {}, "remove default")
    lst = c.call("io.greeter.ListMessages")["parameters"]["messages"]
    check(lst == [], "list empty: %s" % lst)
    st = c.call("io.greeter.GetStatus")["parameters"]
    for k in ("version", "attach_mode", "attach_reason", "kernel_release", "pin_dir", "uptime_usec",
              "messages", "watchers", "programs", "counters", "config_map_id", "events_map_id"):
        check(k in st, "GetStatus has %s" % k)
    check(st["kernel_release"] == os.uname().release, "kernel release")
    check(st["attach_mode"] in ("kprobe", "tracepoint") and st["attach_reason"], "attach mode and reason")
    c.close()

    # Permission matrix.
    S = d.socket
    r = call_as(501, 501, [], S, "io.greeter.SetMessage", {"uid": 501, "message": "mine"})[0]
    check(r.get("parameters") == {}, "501 sets its own message")
    r = call_as(501, 501, [], S, "io.greeter.SetMessage", {"uid": 502, "message": "yours"})[0]
    check(r.get("error") == "io.greeter.PermissionDenied", "501 may not set 502's message")
    r = call_as(501, 501, [], S, "io.greeter.SetMessage", {"message": "all"})[0]
    check(r.get("error") == "io.greeter.PermissionDenied", "501 may not set the default")
    r = call_as(501, 501, [], S, "io.greeter.RemoveMessage", {"uid": 502})[0]
    check(r.get("error") == "io.greeter.PermissionDenied", "501 may not remove 502's message")
    r = call_as(501, 501, [admin_gid], S, "io.greeter.SetMessage", {"uid": 502, "message": "x"})[0]
    check(r.get("error") == "io.greeter.PermissionDenied", "admin group does not edit others")
    r = call_as(501, 501, [], S, "io.greeter.GetMessage", {"uid": 0})[0]
    check("parameters" in r, "anyone reads messages")
    r = call_as(501, 501, [], S, "io.greeter.GetStatus")[0]
    check("parameters" in r, "anyone reads status")
    r = call_as(501, 501, [], S, "io.greeter.RemoveMessage", {"uid": 501})[0]
    check(r.get("parameters") == {}, "501 removes its own message")
    r = call_as(501, 501, [], S, "io.greeter.WatchEvents", {"uid": 0}, more=True)[0]
    check(r.get("error") == "io.greeter.PermissionDenied", "501 may not watch UID 0")
    r = call_as(501, 501, [admin_gid], S, "io.greeter.WatchEvents", {"uid": 0}, more=True)[0]
    check(r.get("continues") is True, "admin group member watches UID 0")
    # Unfiltered: an ordinary user sees only its own events.
    import threading
    result = {}

    def watch():
        try:
            result["r"] = call_as(502, 502, [], S, "io.greeter.WatchEvents", {}, more=True,
                                  replies=2)
        except BaseException as e:  # a failure here must reach the main thread
            result["error"] = repr(e)

    d.wait_watchers(0)
    t = threading.Thread(target=watch)
    t.start()
    # Open, or already answered (another test's execs as 502): not failed.
    check(wait_for(lambda: d.status()["watchers"] == 1 or "error" in result or "r" in result)
          and "error" not in result, "502's WatchEvents is open (%s)" % result)
    m.run(uid=0)
    m.run(uid=501)
    m.run(uid=502)
    t.join()
    evs = [x["parameters"]["event"] for x in result.get("r", [])[1:]]
    check(len(evs) == 1 and evs[0]["uid"] == 502, "502 sees only its own events: %s" % evs)
