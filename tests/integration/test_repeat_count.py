#!/usr/bin/env python3
"""GetStatus counts the events a greeterd hands on that a killed one may
have handed on already (its batch in flight). greeterd is stopped with
events waiting in the ring and killed: idle, it had nothing in flight, so
the next greeterd counts no repeats. Then the same with the pinned
settings saying a batch was in flight over those events (what a kill in the
middle of a batch leaves): the next greeterd counts each of them."""
import os
import subprocess
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

N = 50


def settings(d):
    """The pinned settings value: wakeup_bytes, flags, handing, read_pos."""
    dump = bpftool_json("map", "dump", "pinned", os.path.join(d.pin_dir, "settings"))
    raw = bytes(int(b, 16) for b in dump[0]["value"])
    return list(struct.unpack("<QIIQ", raw[:24]))


def set_handing(d, handing):
    v = settings(d)
    v[2] = handing
    value = ["0x%02x" % b for b in struct.pack("<QIIQ", *v)]
    subprocess.run(["bpftool", "map", "update", "pinned", os.path.join(d.pin_dir, "settings"),
                    "key", "0", "0", "0", "0", "value"] + value, check=True)


def kill_with_events_waiting(d, m):
    """Stop greeterd, exec N times, kill it: the events wait in the ring."""
    os.kill(d.proc.pid, signal.SIGSTOP)
    m.run(count=N)
    os.kill(d.proc.pid, signal.SIGKILL)
    d.proc.wait()


with Daemon("repeat") as d, Marker("repeat") as m:
    d.start()
    m.run()
    wait_for(lambda: d.call("io.greeter.GetStatus")["parameters"]["counters"]["received"] > 0)
    kill_with_events_waiting(d, m)
    check(settings(d)[2] == 0, "an idle greeterd leaves nothing marked in flight (%s)" % settings(d))
    d.start()
    st = d.call("io.greeter.GetStatus")["parameters"]["counters"]
    check(st["repeated"] == 0, "so the next one counts no repeats (%s)" % st)

    kill_with_events_waiting(d, m)
    # Far more than N records: every event waiting counts as perhaps handed on.
    set_handing(d, 1 << 20)
    d.start()
    check(wait_for(lambda: d.call("io.greeter.GetStatus")["parameters"]["counters"]["repeated"] >= N),
          "the next greeterd counts each event of the batch in flight as repeated")
    st = d.call("io.greeter.GetStatus")["parameters"]["counters"]
    check(st["repeated"] <= st["received"], "and no more than it read (%s)" % st)
