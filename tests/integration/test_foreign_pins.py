#!/usr/bin/env python3
"""Something foreign under one of greeter's pin names (a map of another
type, a program where a link belongs): greeterd refuses with a clear error
and deletes nothing, at start and with --remove-pins."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

with Daemon("foreign") as d:
    os.makedirs(d.pin_dir)
    events = os.path.join(d.pin_dir, "events")
    subprocess.run(["bpftool", "map", "create", events, "type", "array", "key", "4", "value", "8",
                    "entries", "4", "name", "not_greeter"], check=True)
    map_id = bpftool_json("map", "show", "pinned", events)["id"]
    r = d.run(timeout=30)
    check(r.returncode == 1, "greeterd refuses to start (%d)" % r.returncode)
    check(events in r.stderr and "greeter never made" in r.stderr and "another --pin-dir" in r.stderr,
          "the error names the object and what to do: %s" % r.stderr.strip().splitlines()[-2:])
    check(bpftool_json("map", "show", "pinned", events)["id"] == map_id, "the foreign map is untouched")
    check(sorted(os.listdir(d.pin_dir)) == ["events"], "nothing else was pinned")
    r = d.remove_pins()
    check(r.returncode == 1 and "removed nothing" in r.stderr, "--remove-pins refuses too")
    check(os.path.exists(events), "and leaves the foreign map")
    os.unlink(events)

    # Our own pin set works again once the foreign map is gone.
    d.start()
    d.stop()
    # A program pinned where a link belongs.
    link = os.path.join(d.pin_dir, "link_sched_exec")
    prog = os.path.join(d.pin_dir, "prog_sched_exec")
    os.unlink(link)
    subprocess.run(["bpftool", "prog", "pin", "pinned", prog, link], check=True)
    r = d.run(timeout=30)
    check(r.returncode == 1 and "bpf-prog, not the bpf-link" in r.stderr,
          "a program under a link's name is refused: %s" % r.stderr.strip().splitlines()[-2:])
    os.unlink(link)
