#!/usr/bin/env python3
"""greeterd under valgrind through a whole scenario: a cold start, set,
list, a watcher, a clean restart on the pins, remove: no memory errors and
no definite leaks (tests/valgrind.supp holds valgrind's own false reports
about the bpf(2) syscall)."""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

if not shutil.which("valgrind"):
    skip("valgrind is not installed")
if "asan" in GREETERD:
    skip("the ASan build cannot run under valgrind; the plain build covers it")
supp = os.path.join(os.path.dirname(__file__), "..", "valgrind.supp")
wrapper = ["valgrind", "-q", "--error-exitcode=9", "--leak-check=full",
           "--errors-for-leak-kinds=definite", "--suppressions=" + supp]
with Daemon("valgrind", wrapper=wrapper) as d, Marker("valgrind") as m:
    # Under valgrind, on a loaded machine, the first start's kernel type cache
    # (a parse of the whole kernel BTF, after READY) can hold a call for seconds.
    d.call_timeout = 120
    for run in ("cold start", "restart on the pins"):
        d.start()
        d.set_message(501, "Hi user 501!")
        check(len(d.call("io.greeter.ListMessages")["parameters"]["messages"]) == 1, "list (%s)" % run)
        w = d.varlink()
        w.call("io.greeter.WatchEvents", {"uid": 501}, more=True)
        m.run(uid=501)
        while True:
            ev = w.recv()["parameters"]["event"]
            if ev["filename"] == m.path:
                break
        check(ev["message"] == "Hi user 501!", "watched an event (%s)" % run)
        d.call("io.greeter.GetStatus")
        rc = d.stop()
        log = d.log()
        errors = re.findall(r"==\d+== (.*(?:Invalid|uninitialised|definitely lost).*)", log)
        check(rc == 0 and not errors, "no valgrind errors (%s): rc=%s %s" % (run, rc, errors[:3]))
        w.close()
