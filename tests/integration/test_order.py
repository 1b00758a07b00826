#!/usr/bin/env python3
"""Order: two CPUs exec at once, and every event reaches --print-events and a
watcher in strictly increasing sequence order, none missing (the kernel lost
none), although the ring can hold N + 1 after N + 2. Exits take numbers of
the same sequence: the watcher asks for them, and the printed lines hold them."""
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

N = 2000
with Daemon("order") as d, Marker("order") as m:
    d.start()
    w = d.varlink()
    w.call("io.greeter.WatchEvents", {"exits": True}, more=True)
    seen = []

    def reader():
        while True:
            try:
                r = w.recv()
            except Exception:
                return
            ev = r["parameters"].get("event")
            if ev:
                seen.append(ev["seq"])
                if ev["filename"] == m.path + "-end":
                    return

    t = threading.Thread(target=reader)
    t.start()
    loops = [subprocess.Popen(["taskset", "-c", str(cpu % os.cpu_count()), "bash", "-c",
                               "for i in $(seq %d); do %s; done" % (N // 2, m.path)])
             for cpu in range(2)]
    for p in loops:
        check(p.wait() == 0, "exec loop ran")
    os.symlink(m.path, m.path + "-end")
    subprocess.run([m.path + "-end"], check=True)
    t.join()
    st = d.call("io.greeter.GetStatus")["parameters"]["counters"]
    check(st["lost_kernel"] == 0, "the kernel lost nothing")
    check(len(seen) > N and all(b > a for a, b in zip(seen, seen[1:])),
          "the watcher got %d events in strictly increasing order" % len(seen))
    check(all(b == a + 1 for a, b in zip(seen, seen[1:])),
          "the watcher's events have no gap")
    w.close()
    d.stop()
    printed = d.all_seqs()
    check(printed == list(range(1, len(printed) + 1)) and len(printed) >= seen[-1],
          "--print-events: 1 to %d, each once, in order" % len(printed))
    check(len(m.mine(d.events())) == N, "all %d marked execs printed" % N)
