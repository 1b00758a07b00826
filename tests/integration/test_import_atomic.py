#!/usr/bin/env python3
"""An ImportMessages with replace is all or nothing across kill -9 and across
a restart from the files alone.

16,000 messages A are replaced by 16,000 others B (and back), and greeterd
is killed with SIGKILL at a random moment of the import, again and again,
until several kills have landed while the change was being applied to the
pinned map (seen in the map: neither all A nor all B). After every kill, a
restart with the pins, then one from the files alone (pins removed, as after
a reboot), each show exactly A or exactly B, the same set both times: B
when the import was acknowledged."""
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

N = 16000
MID_APPLY_KILLS = 3  # kills to land while the map was being changed
MAX_ROUNDS = 60
SETS = {
    "A": {100000 + i: "A %d" % i for i in range(N)},
    "B": {200000 + i: "B %d" % i for i in range(N)},
}
rng = random.Random(int(os.environ.get("GREETER_CHAOS_SEED", time.time())))


def entries(name):
    return [{"uid": u, "message": t} for u, t in SETS[name].items()]


def which(msgs, what):
    """"A" or "B" when msgs is exactly one set; fails otherwise."""
    for name, want in SETS.items():
        if msgs == want:
            return name
    a = sum(1 for u in msgs if u in SETS["A"])
    b = sum(1 for u in msgs if u in SETS["B"])
    fail("%s: neither A nor B but %d of A, %d of B, %d others" % (what, a, b, len(msgs) - a - b))


def listed(d):
    return {x["uid"]: x["message"] for x in d.call("io.greeter.ListMessages")["parameters"]["messages"]}


def map_counts(d):
    """(of A, of B) in the pinned config map, read with bpftool."""
    dump = bpftool_json("map", "dump", "pinned", os.path.join(d.pin_dir, "config")) or []
    uids = [int.from_bytes(bytes(int(x, 16) for x in e["key"]), "little") for e in dump]
    return sum(1 for u in uids if u in SETS["A"]), sum(1 for u in uids if u in SETS["B"])


def replace(d, name):
    return d.call("io.greeter.ImportMessages", {"messages": entries(name), "replace": True})


with Daemon("impatomic") as d:
    d.start()
    check("error" not in replace(d, "A"), "16,000 messages A imported")
    cur = "A"
    # How long an import takes here, unkilled: the kills land within it.
    t0 = time.monotonic()
    check("error" not in replace(d, "B"), "replaced by 16,000 messages B")
    span = time.monotonic() - t0
    cur = "B"
    print("# an import with replace of %d messages takes %.3f s here" % (N, span))
    mid, rounds = 0, 0
    while mid < MID_APPLY_KILLS:
        rounds += 1
        if rounds > MAX_ROUNDS:
            fail("only %d of %d kills landed while the map was being changed" % (mid, rounds - 1))
        nxt = "A" if cur == "B" else "B"
        acked = []

        def importer():
            try:
                r = replace(d, nxt)
            except (OSError, ConnectionError, ValueError):
                return
            if "error" not in r:
                acked.append(True)

        t = threading.Thread(target=importer)
        t.start()
        time.sleep(rng.uniform(0, span * 1.2))
        d.kill9()
        t.join(60)
        a, b = map_counts(d)
        landed = (a, b) not in ((N, 0), (0, N))
        mid += landed
        d.start()
        with_pins = which(listed(d), "round %d, restarted with the pins" % rounds)
        d.stop()
        d.remove_pins()
        d.start()
        from_files = which(listed(d), "round %d, restarted from the files" % rounds)
        print("# round %d: the map held %d of A and %d of B after the kill%s; %s; restarts: %s, %s"
              % (rounds, a, b, " (mid-apply)" if landed else "",
                 "acknowledged" if acked else "not acknowledged", with_pins, from_files))
        check(with_pins == from_files, "round %d: the same set with the pins and from the files" % rounds)
        if acked:
            check(with_pins == nxt, "round %d: the acknowledged import is there" % rounds)
        cur = with_pins
    print("# %d kills in %d rounds landed while the map was being changed" % (mid, rounds))
print("ok")
