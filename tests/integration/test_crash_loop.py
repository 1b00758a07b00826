#!/usr/bin/env python3
"""A crash loop: greeterd killed with SIGKILL every 10-50 ms while two
workers exec, KILLS times, one greeterctl tail --json reconnecting all
along: every exec shown exactly once, in order. Counted in kills, not in
seconds: a slower machine runs fewer execs between two kills and takes
longer, and proves the same."""
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

KILLS = int(os.environ.get("GREETER_CRASH_KILLS", "150"))

with Daemon("crash") as d, Marker("crash") as m:
    d.start()
    out = open(os.path.join(d.tmp, "tail.json"), "w+b")
    t = subprocess.Popen([GREETERCTL, "--socket", d.socket, "tail", "--json"],
                         stdout=out, stderr=subprocess.PIPE)
    # Execs only once tail watches: it starts from the events after it connected.
    drive_until(lambda: d.call("io.greeter.GetStatus")["parameters"]["watchers"] == 1,
                "greeterctl tail watching")
    load = ExecLoad(m.path, loops=2)
    kills = 0
    try:
        while kills < KILLS:
            time.sleep(random.uniform(0.010, 0.050))
            d.kill9()
            kills += 1
            d.start()
    finally:
        N = load.stop()
    print("# %d execs during %d kills" % (N, kills))
    d.stop()
    d.start()

    def mine():
        # Whole lines only: tail may be writing the last one. A file of its
        # own: a seek on out would move tail's write offset (one file).
        with open(out.name, "rb") as f:
            text = f.read().decode(errors="replace")
        got = []
        for line in text.split("\n")[:-1]:
            try:
                e = json.loads(line)
            except ValueError:
                fail("tail printed a line that is not JSON: %r" % line[:200])
            if e.get("filename") == m.path:
                got.append(e["seq"])
        return got
    # As long as tail keeps printing: it reads the backlog left by the loop.
    last, moved = 0, time.monotonic()
    while last < N and time.monotonic() - moved < IDLE_TIMEOUT:
        time.sleep(0.2)
        if len(mine()) > last:
            last, moved = len(mine()), time.monotonic()
    t.terminate()
    _, err = t.communicate(timeout=20)
    got = mine()
    st = d.call("io.greeter.GetStatus")["parameters"]["counters"]
    check(N >= KILLS, "%d execs during %d kills" % (N, kills))
    check(st["lost_kernel"] == 0, "the kernel lost nothing")
    check(len(got) == N and len(set(got)) == N,
          "every exec shown exactly once (%d shown, %d distinct, of %d)" % (len(got), len(set(got)), N))
    check(got == sorted(got), "in sequence order")
    check(b"event(s) lost" not in err, "tail reported no loss: %r" % err[-300:])
