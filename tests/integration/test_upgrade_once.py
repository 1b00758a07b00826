#!/usr/bin/env python3
"""An upgrade reports every exec exactly once. greeterd of this build and of
another (tests/integration/variant/: its BPF object one constant apart)
take turns on the same pins, state directory and socket while execs run all
along: each start replaces the other build's programs, attaching its own
before the old ones go, and keeps the maps. greeterctl tail, resuming across
every switch, shows each exec once (none missed, none twice) under sequence
numbers that go on without a repeat, and the message stays."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

GREETERD_VARIANT = os.environ.get("GREETERD_VARIANT",
                                  "build/tests/integration/variant/greeterd-variant")
SWITCHES = 6

with Daemon("upgrade") as d, Marker("upgrade") as m:
    d.start()
    d.set_message(None, "hello from either build")
    tail_path = os.path.join(d.tmp, "tail.json")
    with open(tail_path, "wb") as tail_out:
        t = subprocess.Popen([GREETERCTL, "--socket", d.socket, "tail", "--json"],
                             stdout=tail_out, stderr=subprocess.DEVNULL)
    try:
        d.wait_watchers(1)

        def mine():
            return [e for e in json_lines(tail_path) if e.get("filename") == m.path]

        load = ExecLoad(m.path, loops=2)
        try:
            for i in range(SWITCHES):
                # Execs under the running build first: the switch happens under load.
                n = len(mine())
                drive_until(lambda: len(mine()) >= n + 20, "tail shows execs before switch %d" % i)
                d.stop()
                d.binary = GREETERD_VARIANT if i % 2 == 0 else GREETERD
                d.start()
                check("a different build of the BPF program" in d.log(),
                      "switch %d replaced the other build's programs" % i)
            n = len(mine())
            drive_until(lambda: len(mine()) >= n + 20, "tail shows execs after the last switch")
        finally:
            total = load.stop()
        drive_until(lambda: len(mine()) >= total, "tail shows all %d execs" % total)
        evs = mine()
        pids = [e["pid"] for e in evs]
        seqs = [e["seq"] for e in evs]
        check(len(evs) == total, "every exec reported once: %d execs, %d events" % (total, len(evs)))
        check(len(set(pids)) == len(pids),
              "no exec reported twice (%d pids repeated)" % (len(pids) - len(set(pids))))
        check(seqs == sorted(set(seqs)), "sequence numbers grow without a repeat")
        check(all(e["message"] == "hello from either build" for e in evs),
              "every exec greeted with the message set before the switches")
        check(d.call("io.greeter.GetMessage", {"uid": 4242})["parameters"]["message"]
              == "hello from either build", "the message kept across %d switches" % SWITCHES)
    finally:
        t.terminate()
        t.wait(timeout=60)
