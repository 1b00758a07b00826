#!/usr/bin/env python3
"""The journal sink resumes: with --journal-events, greeterd killed with
SIGKILL 20 times during a load, every exec is written to the journal at
least once; the repeats are bounded (what a killed greeterd had handed on
after it last stored its read position: one batch at most per kill) and
counted: the "repeated" counters of the greeterds that followed the kills
add up to at least the repeats the journal got. In private mount and
network namespaces, with a journal socket of its own."""
import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

# A catch-up after a restart is a burst: the long queue and large buffer of
# fake_journal(net=True), room for 4,096 entries of up to 4 KiB of arguments.
journal = fake_journal(net=True)
journal.settimeout(0.2)

KILLS, BATCH = 20, 1024


def field(data, key):
    i = data.find(b"\n" + key + b"=")
    if i < 0:
        return None
    i += len(key) + 2
    return data[i:data.index(b"\n", i)]


with Daemon("journal-resume", extra=["--journal-events"]) as d, Marker("jresume") as m:
    seqs = []
    reading = threading.Event()
    reading.set()

    def reader():
        while reading.is_set():
            try:
                data = b"\n" + journal.recv(65536)
            except socket.timeout:
                continue
            # Execs only: each ends in an exit entry of the same file too.
            if field(data, b"GREETER_FILENAME") == m.path.encode() and \
                    field(data, b"GREETER_KIND") == b"exec":
                seqs.append(int(field(data, b"GREETER_SEQ")))

    t = threading.Thread(target=reader)
    t.start()
    d.start()
    # Two exec loops for as long as the KILLS kills take, however many
    # execs this machine runs meanwhile.
    load = ExecLoad(m.path, loops=2)
    kills = 0
    # Each greeterd's counters, read just before it is killed: "repeated",
    # and "dropped_journal" (entries the journal socket had no room for: this
    # test's reader is slower than journald, most of all on a loaded machine).
    counted = dropped = 0
    while kills < KILLS:
        time.sleep(random.uniform(0.05, 0.15))
        c = d.call("io.greeter.GetStatus")["parameters"]["counters"]
        counted += c["repeated"]
        dropped += c["dropped_journal"]
        d.kill9()
        kills += 1
        d.start()
    N = load.stop()
    print("# %d execs during %d kills" % (N, kills))
    # As long as entries keep coming: the last greeterd catches up. Once
    # every exec is journaled or may be among the entries counted as
    # dropped (which never come), 3 s without a new one ends the wait; the
    # idle timeout otherwise.
    got, moved = 0, time.monotonic()
    while True:
        st = d.call("io.greeter.GetStatus")["parameters"]["counters"]
        idle = time.monotonic() - moved
        if got >= N or idle >= IDLE_TIMEOUT or \
                (got + dropped + st["dropped_journal"] >= N and idle >= 3):
            break
        time.sleep(0.2)
        if len(set(seqs)) > got:
            got, moved = len(set(seqs)), time.monotonic()
    counted += st["repeated"]
    dropped += st["dropped_journal"]
    check(d.stop() == 0, "greeterd stops on SIGTERM")
    reading.clear()
    t.join(5)
    check(kills == KILLS, "greeterd killed %d times during the load" % kills)
    check(st["lost_kernel"] == 0, "the kernel lost nothing (%s)" % st)
    # An entry dropped for want of room is counted, never silently missing.
    check(len(set(seqs)) + dropped >= N,
          "every exec journaled at least once, or counted as dropped (%d of %d journaled, "
          "%d entries dropped)" % (len(set(seqs)), N, dropped))
    repeats = len(seqs) - len(set(seqs))
    check(repeats <= KILLS * BATCH, "repeats bounded: %d after %d kills" % (repeats, kills))
    check(repeats <= counted <= KILLS * BATCH,
          "GetStatus counted the repeats: %d counted, %d in the journal" % (counted, repeats))
