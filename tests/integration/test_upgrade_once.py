#!/usr/bin/env python3
"""An upgrade reports every exec exactly once. greeterd of this build and of
another (tests/integration/variant/: its BPF object one constant apart)
take turns on the same pins, state directory and socket while execs run all
along: each start replaces the other build's programs, attaching its own
before the old ones go, and keeps the maps. greeterctl tail, resuming across
every switch, shows each exec once (none missed, none twice) under sequence
numbers that go on without a repeat, and the message stays."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

SWITCHES = 6

with Daemon("upgrade") as d, Marker("upgrade") as m:
    d.start()
    d.set_message(None, "hello from either build")
    with Tail(d) as tail:
        load = ExecLoad(m.path, loops=2)
        try:
            for i in range(SWITCHES):
                # Execs under the running build first: the switch happens under load.
                n = len(tail.of(m))
                drive_until(lambda: len(tail.of(m)) >= n + 20, "tail shows execs before switch %d" % i)
                d.stop()
                d.binary = GREETERD_VARIANT if i % 2 == 0 else GREETERD
                d.start()
                check("a different build of the BPF program" in d.log(),
                      "switch %d replaced the other build's programs" % i)
            n = len(tail.of(m))
            drive_until(lambda: len(tail.of(m)) >= n + 20, "tail shows execs after the last switch")
        finally:
            total = load.stop()
        drive_until(lambda: len(tail.of(m)) >= total, "tail shows all %d execs" % total)
        evs = tail.of(m)
        check_each_once(evs, total)
        check(all(e["message"] == "hello from either build" for e in evs),
              "every exec greeted with the message set before the switches")
        check(d.call("io.greeter.GetMessage", {"uid": 4242})["parameters"]["message"]
              == "hello from either build", "the message kept across %d switches" % SWITCHES)
