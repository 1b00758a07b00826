#!/usr/bin/env python3
"""An upgrade to the next ABI's build reports each exit once, with the id of
the exec it ends: the process table outlives the ring. Two groups of
processes exec'd under this build: the first ends as the upgrade begins,
the second after the next-ABI build (greeterd-abi-next) runs. A watcher
resuming across the switch (after_seq, stream) sees every exit of both
once, each matching an exec it saw before the upgrade."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

LIFE = os.environ.get("GREETER_LIFE", "build/tests/integration/life")
HELD = 500


def storm(path):
    p = subprocess.Popen([path, "storm", str(HELD), path], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    check(line.strip() == "held %d" % HELD, "%d processes held (%r)" % (HELD, line))
    return p


def release(p):
    p.stdin.write("go\n")
    p.stdin.flush()


def ended(p):
    out = p.stdout.readline()
    check(out.strip() == "ended %d" % HELD and p.wait() == 0, "all %d exited 0 (%r)" % (HELD, out))


with Daemon("upgrade-exits") as d, Marker("upgrade-exits") as m:
    shutil.copy(LIFE, m.path)
    mine = lambda e: e["filename"] == m.path  # noqa: E731
    d.start()
    w = Watch(d.socket, {"exits": True}, keep=mine)
    stream = w.first["parameters"]["stream"]
    try:
        first, second = storm(m.path), storm(m.path)
        # Each storm's parent and its HELD children.
        w.wait(lambda w: len(w.events) >= 2 * (HELD + 1), "the execs before the upgrade")
        execs = {e["exec_id"]: e for e in w.events if e["kind"] == "exec"}
        last = w.events[-1]["seq"]
        check(len(execs) == 2 * (HELD + 1) and not [e for e in w.events if e["kind"] == "exit"],
              "%d execs before the upgrade, each its own id, no exit yet" % len(execs))
    finally:
        w.close()
    release(first)
    d.stop()
    d.binary = GREETERD_ABI_NEXT
    d.start()
    check("a different ABI version" in d.log(),
          "the next ABI's greeterd replaced the pins (a different ABI version)")
    ended(first)
    release(second)
    ended(second)
    w = Watch(d.socket, {"exits": True, "after_seq": last, "stream": stream}, keep=mine)
    try:
        # Numbered after every exit of the storms: once it is in, they all are.
        end = subprocess.Popen([m.path, "hold"], stdin=subprocess.DEVNULL)
        end.wait()
        w.wait(lambda w: [e for e in w.events if e["pid"] == end.pid and e["kind"] == "exit"],
               "the exit of a program run after both groups ended")
        exits = [e for e in w.events if e["kind"] == "exit" and e["pid"] != end.pid]
        ids = [e["exec_id"] for e in exits]
        check(len(set(ids)) == len(ids), "no exit reported twice (%d exits, %d ids)"
              % (len(ids), len(set(ids))))
        check(set(ids) == set(execs),
              "every process exec'd before the upgrade has its exit, with its exec's id "
              "(%d without, %d not of those execs)"
              % (len(set(execs) - set(ids)), len(set(ids) - set(execs))))
        check(all(e.get("exit_code") == 0 for e in exits), "each with exit_code 0")
        c = d.status()["counters"]
        check(c["lost_kernel"] == 0 and c["dropped_late"] == 0 and w.dropped == 0,
              "nothing lost or dropped (lost_kernel %d, dropped_late %d, dropped %d)"
              % (c["lost_kernel"], c["dropped_late"], w.dropped))
    finally:
        w.close()
