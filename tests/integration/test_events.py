#!/usr/bin/env python3
"""Pins have the expected names; execs as root and as UID 501 are greeted with
the right message: their own, the default, the built-in one."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

with Daemon("events") as d, Marker("events") as m:
    d.start()
    names = sorted(os.listdir(d.pin_dir))
    for want in ["config", "events", "stats", "sequence", "settings", "meta", "pending",
                 "prog_sched_exec", "link_sched_exec"]:
        check(want in names, "pin %s exists" % want)
    mode = "kp" if "link_kp_execve" in names else "tp"
    for p in ["execve", "execveat", "execve_ret", "execveat_ret"]:
        check("link_%s_%s" % (mode, p) in names, "link_%s_%s pinned" % (mode, p))
    info = bpftool_json("map", "show", "pinned", os.path.join(d.pin_dir, "config"))
    check(info and info["name"] == "config" and info["type"] == "hash", "bpftool shows the config map")

    d.set_message(0, "Hey root!")
    d.set_message(501, "Hi user 501!")
    m.run()
    m.run(uid=501)
    m.run(uid=502)  # no message of its own, no default: built-in
    d.set_message(None, "Hello, whoever you are")
    m.run(uid=502)  # now the default
    evs = wait_for(lambda: len(m.mine(d.events())) >= 4 and m.mine(d.events()))
    by = [(e["uid"], e["message"]) for e in evs]
    check((0, "Hey root!") in by, "UID 0 greeted with its message")
    check((501, "Hi user 501!") in by, "UID 501 greeted with its message")
    check((502, "Hello World") in by, "UID 502 greeted with the built-in message")
    check((502, "Hello, whoever you are") in by, "UID 502 greeted with the default message")
    check(len(evs) == 4, "one event per program started (%d)" % len(evs))
    e501 = [e for e in evs if e["uid"] == 501][0]
    check(e501["comm"] == "setpriv", "comm is the caller's (%s)" % e501["comm"])
    check(e501["filename"] == m.path, "filename is the program executed")
    check(e501["ppid"] > 0 and e501["pid"] > 0, "pid and ppid are set")
    seqs = [e["seq"] for e in d.events()]
    check(seqs == sorted(seqs), "events arrive in sequence order")
