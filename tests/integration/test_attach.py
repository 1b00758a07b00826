#!/usr/bin/env python3
"""--attach: auto picks kprobe where the kernel has kprobes, the tracepoints
otherwise, and status says which and why; a forced mode is honoured or
refused with an error that says what to do."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

has_kprobes = os.path.exists("/sys/bus/event_source/devices/kprobe/type")
with Daemon("attach") as d, Marker("attach") as m:
    d.start()
    st = d.call("io.greeter.GetStatus")["parameters"]
    want = "kprobe" if has_kprobes else "tracepoint"
    check(st["attach_mode"] == want, "auto chose %s (%s)" % (st["attach_mode"], st["attach_reason"]))
    check(st["attach_reason"].startswith("auto:"), "the reason says why")
    d.stop()

    d.attach = "tracepoint"
    d.start()
    st = d.call("io.greeter.GetStatus")["parameters"]
    check(st["attach_mode"] == "tracepoint" and "--attach tracepoint" in st["attach_reason"],
          "--attach tracepoint honoured: %s" % st["attach_reason"])
    d.set_message(501, "Hi user 501!")
    m.run(uid=501)
    check(wait_for(lambda: [e for e in m.mine(d.events()) if e["message"] == "Hi user 501!"]),
          "greeted in tracepoint mode")
    d.stop()

    if not has_kprobes:
        with Daemon("attach-kprobe", attach="kprobe") as k:
            r = k.run(timeout=30)
        check(r.returncode == 1 and "no kprobe support" in r.stderr and "--attach tracepoint" in r.stderr,
              "--attach kprobe refused on a kernel without kprobes: %s" % r.stderr.strip())
    d.attach = "fentry"
    r = d.run()
    check(r.returncode == 2 and "auto, kprobe or tracepoint" in r.stderr, "bad --attach is a usage error")
