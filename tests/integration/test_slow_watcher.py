#!/usr/bin/env python3
"""A slow client costs only itself: an unprivileged watcher that keeps
reading a little (4 KB every 0.5 s) while its own UID execs in two loops,
with a 1M ring, neither slows greeterd's reading nor makes the kernel drop
events: a root watcher gets every one of root's marked execs, made until
the slow watcher has fallen behind the retention and AFTER more beyond it.

The load runs until greeterd reports the slow watcher's loss (GetStatus
dropped_watchers), however long that takes on this machine: the 1M ring
retains a few thousand records, which one machine execs in seconds and
another in a minute."""
import contextlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

AFTER = 300  # root's marked execs after the slow watcher fell behind

with Daemon("slow", extra=["--ring-size", "1M"]) as d, Marker("slow") as m, \
        contextlib.ExitStack() as stack:
    d.start()
    st0 = d.call("io.greeter.GetStatus")["parameters"]["counters"]
    # UID 501: a watcher of its own events that reads little and slowly.
    slow = subprocess.Popen(["setpriv", "--reuid=501", "--regid=501", "--clear-groups", sys.executable,
                             "-c", """
import socket, time, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b'{"method":"io.greeter.WatchEvents","parameters":{},"more":true}\\0')
while True:
    if not s.recv(4096):
        break
    time.sleep(0.5)
""", d.socket])
    stack.callback(reap, [slow])
    load = stack.enter_context(ExecLoad(m.path, loops=2, uid=501))
    root = Watch(d.socket, {"uid": 0}, keep=lambda e: e["filename"] == m.path)

    def status():
        return d.call("io.greeter.GetStatus")["parameters"]["counters"]

    # Root's own marked execs, one at a time, until the slow watcher has
    # lost events, then AFTER more.
    runs = [0]
    behind_at = []

    def root_execs():
        m.run(count=25)
        runs[0] += 25
        if not behind_at and status()["dropped_watchers"] > 0:
            behind_at.append(runs[0])

    drive_until(lambda: behind_at and runs[0] >= behind_at[0] + AFTER,
                "the slow watcher fell behind the retention (GetStatus dropped_watchers > 0)",
                step=root_execs)
    n = runs[0]
    execs_501 = load.stop()
    print("# %d execs of UID 501 and %d of root; the slow watcher fell behind after %d of root's"
          % (execs_501, n, behind_at[0]))
    root.wait(lambda w: len(w.events) >= n or w.dropped, "the root watcher gets all %d of root's execs" % n)
    st = status()
    slow.terminate()
    slow.wait()
    check(len(root.events) == n and root.dropped == 0,
          "the root watcher got all %d of root's marked execs (%d; told of %d dropped)"
          % (n, len(root.events), root.dropped))
    check(root.seqs() == sorted(root.seqs()), "in sequence order")
    check(st["lost_kernel"] == st0["lost_kernel"],
          "the kernel lost nothing (%d lost)" % (st["lost_kernel"] - st0["lost_kernel"]))
    check(st["dropped_watchers"] > 0, "the slow watcher lost its own events (%d)" % st["dropped_watchers"])
    root.close()
