#!/usr/bin/env python3
"""Group commit under SIGKILL (issue 13): 32 writers, each on its own
connection, set their own UID's message over and over while greeterd is
killed at random moments. Every acknowledged write is there after the
restart (pins kept: the map) and after a restart from the state alone (pins
removed: snapshot + change log); a write that was in flight may or may not
be; nothing else. Then the state directory goes read-only: concurrent
writers all get WriteFailed, and none of their changes is there, in the map
or after a reboot."""
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

WRITERS = 32
ROUNDS = 8
BASE = 70000

acked = {}  # uid -> highest n acknowledged
sent = {}  # uid -> highest n sent
acks = [0]  # writes acknowledged, all rounds


def writer(uid, stop):
    n = acked.get(uid, -1)
    try:
        c = d.varlink()
        while not stop.is_set():
            n += 1
            sent[uid] = n
            r = c.call("io.greeter.SetMessage", {"uid": uid, "message": "n %d" % n})
            if "error" in r:
                return
            acked[uid] = n
            acks[0] += 1
    except (OSError, ValueError):
        return


def check_round(what, msgs):
    for i in range(WRITERS):
        uid = BASE + i
        got = msgs.get(uid)
        k = int(got.split()[1]) if got else -1
        if k < acked.get(uid, -1) or k > sent.get(uid, -1):
            fail("%s: UID %d has %r; acknowledged n %d, sent up to n %d" %
                 (what, uid, got, acked.get(uid, -1), sent.get(uid, -1)))
        acked[uid] = k  # what is there is what the next round starts from
        sent[uid] = k


def listed():
    return {x.get("uid"): x["message"]
            for x in d.call("io.greeter.ListMessages")["parameters"]["messages"]}


with Daemon("groupc") as d:
    small = d.state_on_tmpfs("16m")
    d.start()
    for rnd in range(ROUNDS):
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(BASE + i, stop)) for i in range(WRITERS)]
        for t in threads:
            t.start()
        # Killed at a random moment once the round's writes are acknowledged
        # (however long the first take on this machine).
        start = acks[0]
        wait_for(lambda: acks[0] > start)
        time.sleep(random.uniform(0.05, 0.6))
        d.kill9()
        stop.set()
        for t in threads:
            t.join()
        if rnd % 2:
            d.remove_pins()
        d.start()
        check_round("round %d (%s)" % (rnd, "pins removed" if rnd % 2 else "pins kept"), listed())
        if stored_messages(d.state_dir) != {k: v for k, v in listed().items()}:
            fail("round %d: the stored state differs from the map" % rnd)
    check(True, "%d rounds of %d writers killed at random: every acknowledged write kept, "
          "after restarts with and without the pins" % (ROUNDS, WRITERS))
    check(acks[0] >= ROUNDS, "writes were acknowledged in every round (%d)" % acks[0])

    before = listed()
    subprocess.run(["mount", "-o", "remount,ro", small], check=True)
    errors = []

    def failing(uid):
        r = d.call("io.greeter.SetMessage", {"uid": uid, "message": "read-only"})
        errors.append(r.get("error"))

    threads = [threading.Thread(target=failing, args=(BASE + i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    subprocess.run(["mount", "-o", "remount,rw", small], check=True)
    check(errors == ["io.greeter.WriteFailed"] * WRITERS,
          "read-only: all %d concurrent writers get WriteFailed (%s)" % (WRITERS, set(errors)))
    check(listed() == before, "read-only: the map is unchanged")
    d.set_message(BASE, "after")
    d.stop()
    d.remove_pins()
    d.start()
    after = listed()
    before[BASE] = "after"
    check(after == before and "read-only" not in after.values(),
          "after a reboot: the failed writes are not there, the one after is")
