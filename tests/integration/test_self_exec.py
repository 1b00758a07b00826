#!/usr/bin/env python3
"""A program that execs itself has every exec reported once. Four
processes each exec their own program again and again (3,000 times in a
row, moving between CPUs as the scheduler likes), with one build attached:
each exec is its own event, none passed over as if another build's
program had reported it already (a task's execs look alike but for their
count: same pid, same start time, often the same mm address)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

SELF_EXEC = os.environ.get("GREETER_SELF_EXEC", "build/tests/integration/self_exec")
CHAINS = 4
EXECS = 3000

with Daemon("self-exec") as d, Marker("self-exec-end") as end:
    d.start()
    prog = os.path.join(end.dir, "greeter-self-exec-%d" % os.getpid())
    shutil.copy(SELF_EXEC, prog)
    os.chmod(prog, 0o755)
    chains = [subprocess.Popen([prog, str(EXECS)]) for _ in range(CHAINS)]
    codes = [p.wait() for p in chains]
    check(codes == [0] * CHAINS, "every chain of %d execs ran to its end: %r" % (EXECS, codes))
    # Numbered after every exec of the chains: once it is out, they all are.
    end.run()
    drive_until(lambda: end.mine(d.events()), "the exec after the chains is reported")
    mine = [e for e in d.events() if e["filename"] == prog]
    want = CHAINS * (EXECS + 1)
    st = d.status()["counters"]
    check(len(mine) == want,
          "every exec of a program that execs itself reported: %d of %d "
          "(lost_kernel %d, dropped_late %d)"
          % (len(mine), want, st["lost_kernel"], st["dropped_late"]))
    seqs = [e["seq"] for e in mine]
    check(len(set(seqs)) == len(seqs), "each once (%d numbers repeated)"
          % (len(seqs) - len(set(seqs))))
