#!/usr/bin/env python3
"""A crash loop: greeterd killed with SIGKILL every 10-50 ms during 20,000
execs from two workers, one greeterctl tail --json reconnecting all along:
every exec shown exactly once, in order."""
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

N = int(os.environ.get("GREETER_CRASH_EXECS", "20000"))

require_root()
ensure_bpffs()
d = Daemon("crash")
m = Marker("crash")
try:
    d.start()
    out = open(os.path.join(d.tmp, "tail.json"), "w+b")
    t = subprocess.Popen([GREETERCTL, "--socket", d.socket, "tail", "--json"],
                         stdout=out, stderr=subprocess.PIPE)
    time.sleep(0.5)
    loops = [subprocess.Popen(["bash", "-c", "for i in $(seq %d); do %s; done" % (N // 2, m.path)])
             for _ in range(2)]
    kills = 0
    while any(p.poll() is None for p in loops):
        time.sleep(random.uniform(0.010, 0.050))
        d.kill9()
        kills += 1
        d.start()
    for p in loops:
        check(p.wait() == 0, "exec loop ran")
    d.stop()
    d.start()
    deadline = time.time() + 30

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
    while len(mine()) < N and time.time() < deadline:
        time.sleep(0.2)
    t.terminate()
    _, err = t.communicate(timeout=20)
    got = mine()
    st = d.call("io.greeter.GetStatus")["parameters"]["counters"]
    check(kills >= 100, "greeterd killed %d times" % kills)
    check(st["lost_kernel"] == 0, "the kernel lost nothing")
    check(len(got) == N and len(set(got)) == N,
          "every exec shown exactly once (%d shown, %d distinct, of %d)" % (len(got), len(set(got)), N))
    check(got == sorted(got), "in sequence order")
    check(b"event(s) lost" not in err, "tail reported no loss: %r" % err[-300:])
finally:
    d.cleanup()
    m.cleanup()
