#!/usr/bin/env python3
"""The event stream has an id: the same across a restart and a kill -9, a new
one after the pins are removed. A running greeterctl tail then says so on
stderr and shows the new stream from its start, although its numbers are
below the last it printed."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403


def stream(d):
    w = d.varlink()
    try:
        first = w.call("io.greeter.WatchEvents", {}, more=True)["parameters"]
    finally:
        w.close()
    check(re.fullmatch(r"[0-9a-f]{16}", first.get("stream", "")), "stream id: %r" % first)
    return first["stream"], first["seq"]


with Daemon("stream") as d, Marker("stream") as m:
    d.start()
    m.run(count=3)
    first, _ = stream(d)
    d.stop()
    d.start()
    check(stream(d)[0] == first, "same stream after a restart")
    d.kill9()
    d.start()
    check(stream(d)[0] == first, "same stream after a kill -9")

    # A resume in the stream it names replays after its seq; in another, from the start.
    _, last = stream(d)
    w = d.varlink()
    r = w.call("io.greeter.WatchEvents", {"after_seq": last, "stream": "0" * 16}, more=True)
    check(r["parameters"]["stream"] == first, "the first reply names the stream served")
    ev = w.recv()["parameters"]["event"]
    check(ev["seq"] <= last, "another stream's after_seq: served from the start (seq %d)" % ev["seq"])
    w.close()

    d.wait_watchers(0)
    tail_out = open(os.path.join(d.tmp, "tail.json"), "w+b")
    t = subprocess.Popen([GREETERCTL, "--socket", d.socket, "tail", "--json"],
                         stdout=tail_out, stderr=subprocess.PIPE)
    d.wait_watchers(1)
    m.run(count=20)
    check(wait_for(lambda: len([e for e in json_lines(tail_out.name)
                                if e["filename"] == m.path]) >= 20),
          "tail shows the first stream")
    d.stop()
    check(d.remove_pins().returncode == 0, "pins removed")
    d.start()
    second, _ = stream(d)
    check(second != first, "a new stream after the pins were removed (%s, %s)" % (first, second))
    m.run(count=3)
    check(wait_for(lambda: len([e for e in json_lines(tail_out.name)
                                if e["filename"] == m.path]) >= 23),
          "tail shows the new stream's events")
    t.terminate()
    _, err = t.communicate(timeout=20)
    evs = json_lines(tail_out.name)
    mine = [e["seq"] for e in evs if e["filename"] == m.path]
    check(mine[-3:] == sorted(mine[-3:]) and mine[-1] < mine[-4],
          "the new stream's numbers start again (%s)" % mine[-6:])
    check(b"a new event stream began" in err, "tail said a new stream began: %r" % err[-300:])
