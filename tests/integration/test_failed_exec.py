#!/usr/bin/env python3
"""A PATH search that fails in two directories before it finds the program is
one program start: the failed attempts are counted, and reported only when
asked for (--report-failed)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

for report in (False, True):
    with Daemon("failed", extra=["--report-failed"] if report else []) as d, Marker("failed") as m:
        d.start()
        before = d.call("io.greeter.GetStatus")["parameters"]["counters"]["failed_execs"]
        name = os.path.basename(m.path)
        path = "/nonexistent-greeter-a:/nonexistent-greeter-b:" + m.dir
        # env(1) walks PATH with execvp: two failed attempts, then the real exec.
        subprocess.run(["env", "PATH=" + path, name], check=True)
        ok = wait_for(lambda: any(e["filename"] == m.path for e in d.events()))
        check(ok, "the program start is reported")
        evs = d.events()
        starts = [e for e in evs if e["filename"] == m.path]
        tries = [e for e in evs if e["failed"] and e["filename"].endswith("/" + name)]
        check(len(starts) == 1 and not starts[0]["failed"], "exactly one start event")
        after = d.call("io.greeter.GetStatus")["parameters"]["counters"]["failed_execs"]
        check(after - before >= 2, "failed attempts counted (%d)" % (after - before))
        if report:
            check(len(tries) == 2, "--report-failed reports both failed attempts (%d)" % len(tries))
        else:
            check(len(tries) == 0, "failed attempts stay out of the stream by default")
