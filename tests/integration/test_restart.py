#!/usr/bin/env python3
"""A restart (clean, then kill -9) reuses the pins: same link and map IDs; the
link stays attached while no daemon runs, and execs made meanwhile are
delivered after the restart with no gap in sequence numbers."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403


def ids(d):
    s = d.call("io.greeter.GetStatus")["parameters"]
    return (s["config_map_id"], s["events_map_id"],
            sorted((p["name"], p["program_id"], p["link_id"]) for p in s["programs"]))


with Daemon("restart") as d, Marker("restart") as m:
    d.start()
    d.set_message(501, "Hi user 501!")
    first = ids(d)
    m.run(uid=501)
    check(wait_for(lambda: m.mine(d.events())), "event before the restart")
    for how in ("SIGTERM", "SIGKILL"):
        if how == "SIGTERM":
            check(d.stop() == 0, "greeterd exits 0 on SIGTERM")
        else:
            d.kill9()
        # No daemon: the pinned link keeps the program on exec.
        links = bpftool_json("link", "show") or []
        link_ids = {l["id"] for l in links}
        check(all(p[2] in link_ids for p in first[2]), "links stay attached without a daemon (%s)" % how)
        m.run(uid=501, count=5)
        d.start()
        check(ids(d) == first, "same map, program and link IDs after %s restart" % how)
        got = wait_for(lambda: len(m.mine(d.events())) >= 5 and m.mine(d.events()))
        check(len(got) == 5, "the 5 execs made while stopped are delivered (%s)" % how)
        check(all(e["message"] == "Hi user 501!" for e in got), "messages kept across %s" % how)
        check("reusing the objects pinned" in d.log(), "log says the pins were reused")
    seqs = [e["seq"] for e in m.mine(d.all_events())]
    check(len(seqs) == 11, "11 events in all (%d)" % len(seqs))
    # Our events are interleaved with other processes' execs; across all
    # events the daemon printed, the sequence has no gap.
    allseq = sorted(set(d.all_seqs()))
    check(allseq == list(range(allseq[0], allseq[0] + len(allseq))),
          "no gap in sequence numbers across restarts (%d..%d)" % (allseq[0], allseq[-1]))
    check(seqs == sorted(seqs), "our events in sequence order")
