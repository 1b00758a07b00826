#!/usr/bin/env python3
"""WatchEvents: the first reply carries the state, then one reply per event;
filters by uid and comm; resume after a sequence number; a watcher that
stops reading loses its own oldest events, counted and told, and never
delays another watcher."""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

# A replay window the stalled watcher outruns: a storm of STORM execs, in
# chunks the live watcher reads through before the next starts, so that
# its lag stays far below WINDOW even on a loaded machine (ASan, other
# suites' exec storms filling the same window beside it).
WINDOW = 4096
STORM = 6000
CHUNK = 500
with Daemon("watch", extra=["--replay-window", str(WINDOW)]) as d, Marker("watch") as m:
    d.start()
    d.set_message(501, "Hi user 501!")
    w = d.varlink()
    first = w.call("io.greeter.WatchEvents", {"uid": 501, "comm": "setpriv"}, more=True)
    check(first.get("continues") is True and "event" not in first["parameters"], "first reply: state only")
    m.run(uid=502)
    m.run(uid=501)
    # Other tests may run setpriv as UID 501 at the same time: skip their events.
    while True:
        ev = w.recv()
        check(ev.get("continues") is True, "events come with continues")
        e = ev["parameters"]["event"]
        check(e["uid"] == 501 and e["comm"] == "setpriv", "event matches the filter")
        if e["filename"] == m.path:
            break
    check(e["message"] == "Hi user 501!" and e["source"] == "uid", "event carries the message")
    for k in ("seq", "boot_usec", "timestamp_usec", "pid", "ppid", "gid"):
        check(k in e, "event has %s" % k)
    check(abs(e["timestamp_usec"] / 1e6 - time.time()) < 30, "timestamp is wall-clock time")
    w.close()

    # Resume: after_seq replays what followed it.
    seq = e["seq"]
    m.run(uid=501)
    m.run(uid=501)
    time.sleep(0.2)
    w = d.varlink()
    w.call("io.greeter.WatchEvents", {"uid": 501, "after_seq": seq}, more=True)
    got = []
    while len(got) < 2:
        g = w.recv()["parameters"]["event"]
        if g["filename"] == m.path:
            got.append(g)
    check([g["seq"] > seq for g in got] == [True, True] and got[0]["seq"] < got[1]["seq"],
          "replayed the 2 events after seq %d" % seq)
    w.close()

    # A stalled watcher and a live one, during a storm of STORM execs.
    stalled = d.varlink()
    stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.call("io.greeter.WatchEvents", {"comm": "bash"}, more=True)
    live = Watch(d.socket, {"comm": "bash"}, keep=lambda e: e["filename"] == m.path)
    for done in range(CHUNK, STORM + 1, CHUNK):
        subprocess.run(["bash", "-c", "for i in $(seq %d); do %s; done" % (CHUNK, m.path)], check=True)
        live.wait(lambda w: len(w.events) >= done or w.dropped, "the live watcher reads the storm")
        if live.dropped:
            break
    check(len(live.events) == STORM and live.dropped == 0,
          "the live watcher got all %d events while the other stalled (%d, told of %d dropped)"
          % (STORM, len(live.events), live.dropped))
    check(live.seqs() == sorted(live.seqs()), "in sequence order")
    # Now the stalled one reads: it lost events, and is told how many.
    stalled.sock.settimeout(30)
    dropped = 0
    got = 0
    try:
        while got + dropped < STORM:
            r = stalled.recv()
            dropped += r["parameters"].get("dropped", 0)
            ev = r["parameters"].get("event")
            if ev and ev["filename"] == m.path:
                got += 1
    except (socket.timeout, ConnectionError):
        pass
    check(dropped > 0, "the stalled watcher was told it lost %d event(s)" % dropped)
    st = d.call("io.greeter.GetStatus")["parameters"]
    check(st["counters"]["dropped_watchers"] >= dropped, "GetStatus counts watcher losses")
    check(st["counters"]["lost_kernel"] == 0, "nothing lost in the kernel")
    check(st["watchers"] == 2, "2 watchers connected")
    live.close()
    stalled.close()

    # greeterd stopped during a storm: the backlog waits in the ring buffer,
    # greeterd reads it at once (no watcher holds reading up), and a live
    # watcher gets all of it from the retention, nothing dropped.
    d.stop()
    d.extra = []
    d.start()
    w = Watch(d.socket, {"comm": "bash"}, keep=lambda e: e["filename"] == m.path)
    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        subprocess.run(["bash", "-c", "for i in $(seq 1500); do %s; done" % m.path], check=True)
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    t0 = time.time()
    # The reader waits for greeterd however long the storm took; after it
    # resumes, for as long as events keep coming.
    w.wait(lambda w: len(w.events) >= 1500 or w.dropped, "the backlog after greeterd's stall")
    check(len(w.events) == 1500 and w.dropped == 0,
          "after greeterd's stall the watcher got all 1500 events, none dropped "
          "(%d, %d dropped, %.1f s after resuming)" % (len(w.events), w.dropped, time.time() - t0))
    check(w.seqs() == sorted(w.seqs()), "in sequence order")
    w.close()
