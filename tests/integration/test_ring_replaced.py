#!/usr/bin/env python3
"""A ring replaced (another --ring-size) while it retains events: the next
greeterd keeps them for replay, and its own, smaller, ring still releases
what leaves its retention: a storm afterwards loses nothing in the kernel."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

with Daemon("ring-replaced", extra=["--ring-size", "1M"]) as d, Marker("ringrep") as m:
    d.start()
    w = d.varlink()
    first = w.call("io.greeter.WatchEvents", {}, more=True)["parameters"]
    w.close()
    m.run(count=50)
    check(wait_for(lambda: len(m.mine(d.events())) >= 50), "50 execs read by the first greeterd")
    d.stop()
    d.extra = ["--ring-size", "256K"]
    d.start()
    check("it had delivered for replay" in d.log(), "the replaced ring's events kept for replay")
    # 256K holds about 680 events: 3000 only fit if greeterd releases its
    # own ring as events leave its retention. In chunks greeterd reads
    # through before the next, however fast this machine execs.
    for done in range(200, 3001, 200):
        subprocess.run(["bash", "-c", "for i in $(seq 200); do %s; done" % m.path], check=True)
        check(wait_for(lambda: len(m.mine(d.events())) >= done), "%d execs read" % done)
    st = d.call("io.greeter.GetStatus")["parameters"]
    check(st["ring_size"] == 256 << 10, "the ring is 256K now")
    check(st["counters"]["lost_kernel"] == 0, "the kernel lost nothing (%d)" % st["counters"]["lost_kernel"])
