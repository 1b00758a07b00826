#!/usr/bin/env python3
"""The pinned ring is the replay window: a client away across a restart
(SIGTERM, then SIGKILL) resumes with after_seq and gets every event since,
those the old greeterd had read included, each once and in order."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

N = 1000


def execs(path, n):
    subprocess.run(["bash", "-c", "for i in $(seq %d); do %s; done" % (n, path)], check=True)


def resume(d, after, stream, want, **filters):
    w = d.varlink()
    first = w.call("io.greeter.WatchEvents", dict(filters, after_seq=after, stream=stream), more=True)
    got, dropped = [], first["parameters"].get("dropped", 0)
    try:
        while len(got) < want:
            r = w.recv()["parameters"]
            dropped += r.get("dropped", 0)
            e = r.get("event")
            if e and e["filename"] == m.path:
                got.append(e["seq"])
    except OSError:
        pass
    w.close()
    return got, dropped


with Daemon("resume") as d, Marker("resume") as m:
    d.start()
    start = None
    for how in ("SIGTERM", "SIGKILL"):
        w = d.varlink()
        first = w.call("io.greeter.WatchEvents", {}, more=True)["parameters"]
        w.close()
        after, stream = first["seq"], first["stream"]
        start = start or (after, stream)
        execs(m.path, N)
        # The old greeterd has read (and handed on) them all before it goes.
        check(wait_for(lambda: len(m.mine(d.events())) >= N), "greeterd read the first %d" % N)
        d.stop(signal.SIGTERM if how == "SIGTERM" else signal.SIGKILL)
        d.start()
        check("retained in the ring buffer for replay" in d.log(),
              "the new greeterd found the retained events (%s)" % how)
        execs(m.path, N)
        got, dropped = resume(d, after, stream, 2 * N)
        check(len(got) == 2 * N and len(set(got)) == 2 * N,
              "away across a %s restart: all %d events once (%d, %d distinct)"
              % (how, 2 * N, len(got), len(set(got))))
        check(got == sorted(got), "in sequence order")
        check(dropped == 0, "none dropped (%d)" % dropped)
    # A replay with a filter is read in slices of the window: every match, in order.
    comm = m.mine(d.all_events())[0]["comm"]
    got, dropped = resume(d, start[0], start[1], 4 * N, comm=comm)
    check(len(got) == 4 * N and got == sorted(set(got)) and dropped == 0,
          "filtered by comm %s from the start: all %d once, in order (%d, %d dropped)"
          % (comm, 4 * N, len(got), dropped))
    st = d.call("io.greeter.GetStatus")["parameters"]["counters"]
    check(st["lost_kernel"] == 0, "nothing lost in the kernel")
    # The next greeterd hands on only what the last one had not: no repeats.
    printed = [e["seq"] for e in d.all_events()]
    check(len(printed) == len(set(printed)), "--print-events repeats nothing across restarts")
