#!/usr/bin/env python3
"""An upgrade to a build whose ABI version is one higher (its pins cannot be
reused: a new ring, new maps) loses no exec and numbers none twice.
greeterd of this build runs under two exec loops until it retains more
events than the window's scan looks at, then the next-ABI build
(tests/integration/variant/, greeterd-abi-next) takes its place while the
loops go on. greeterctl tail, resuming across the switch, shows each exec
once under sequence numbers that never repeat; a replay from after_seq 0
afterwards serves every event it holds, and says how many it does not."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

# More than events.c looks at in the window when it releases the ring.
RETAINED_BEFORE = 1500

with Daemon("upgrade-abi") as d, Marker("upgrade-abi") as m:
    d.start()
    d.set_message(None, "hello from either ABI")
    with Tail(d) as tail:
        with ExecLoad(m.path, loops=2) as load:
            drive_until(lambda: d.status()["retained"] >= RETAINED_BEFORE,
                        "greeterd retains %d events before the upgrade" % RETAINED_BEFORE)
            d.stop()
            d.binary = GREETERD_ABI_NEXT
            d.start()
            check("a different ABI version" in d.log(),
                  "the next ABI's greeterd replaced the pins (a different ABI version)")
            n = len(tail.of(m))
            # Past the window's scan in the new ring too, and into the tail.
            drive_until(lambda: len(tail.of(m)) >= n + 600, "tail shows execs after the upgrade",
                        deadline=300)
            total = load.stop()
        drive_until(lambda: len(tail.of(m)) >= total, "tail shows all %d execs" % total, deadline=300)
        seqs = check_each_once(tail.of(m), total, " across the ABI upgrade")
        st = d.status()
        check(st["counters"]["dropped_late"] == 0,
              "no event dropped as late (%d): no number given twice"
              % st["counters"]["dropped_late"])

        # A replay of all the new greeterd holds: its own ring's events and
        # the replaced ring's, every gap in the numbers told as dropped.
        # Exits too: they take numbers of the same sequence.
        w = Watch(d.socket, {"after_seq": 0, "exits": True})
        try:
            last = w.first["parameters"]["seq"]
            w.wait(lambda w: w.seqs() and w.seqs()[-1] >= last,
                   "the replay from 0 reaches seq %d" % last)
            got = w.seqs()
            check(got == sorted(set(got)), "the replay is in order, each event once")
            gaps = sum(b - a - 1 for a, b in zip(got, got[1:]))
            check(gaps == w.dropped,
                  "every number missing from the replay is told as dropped "
                  "(%d missing between %d and %d, %d told; %d events replayed, %d retained)"
                  % (gaps, got[0], got[-1], w.dropped, len(got), st["retained"]))
            replayed = set(got)
            missing = [s for s in seqs if s >= got[0] and s not in replayed]
            check(not missing, "the replay holds every exec of ours it covers (%d missing)"
                  % len(missing))
        finally:
            w.close()
        check(d.call("io.greeter.GetMessage", {"uid": 4242})["parameters"]["message"]
              == "hello from either ABI", "the message kept across the ABI upgrade")
