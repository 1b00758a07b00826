#!/usr/bin/env python3
"""A slow client costs only itself: an unprivileged watcher that keeps
reading a little (16 KB every 0.3 s) while its own UID execs in two loops,
with a 1M ring, neither slows greeterd's reading nor makes the kernel drop
events: a root watcher gets every one of root's marked execs. (The ring is
the replay window: a 64K one holds ~170 events, under a second of slack for
the root watcher itself on a loaded CI machine; 1M still leaves the slow
watcher far behind.)"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

N = 1200

require_root()
ensure_bpffs()
d = Daemon("slow", extra=["--ring-size", "1M"])
m = Marker("slow")
try:
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
    if not s.recv(16384):
        break
    time.sleep(0.3)
""", d.socket])
    loops = [subprocess.Popen(["setpriv", "--reuid=501", "--regid=501", "--clear-groups", "bash", "-c",
                               "while :; do %s; done" % m.path]) for _ in range(2)]
    time.sleep(1)
    root = d.varlink()
    root.sock.settimeout(10)
    root.call("io.greeter.WatchEvents", {"uid": 0}, more=True)
    seen = []
    root_dropped = [0]

    def reader():
        while len(seen) < N:
            try:
                r = root.recv()["parameters"]
            except OSError:
                return
            root_dropped[0] += r.get("dropped", 0)
            e = r.get("event")
            if e and e["filename"] == m.path:
                seen.append(e["seq"])

    t = threading.Thread(target=reader)
    t.start()
    subprocess.run(["bash", "-c", "for i in $(seq %d); do %s; sleep 0.002; done" % (N, m.path)], check=True)
    t.join(20)
    for p in loops:
        p.terminate()
        p.wait()
    st = d.call("io.greeter.GetStatus")["parameters"]["counters"]
    slow.terminate()
    slow.wait()
    check(len(seen) == N, "the root watcher got all %d of root's marked execs (%d; told of %d dropped)"
          % (N, len(seen), root_dropped[0]))
    check(seen == sorted(seen), "in sequence order")
    check(st["lost_kernel"] == st0["lost_kernel"],
          "the kernel lost nothing (%d lost)" % (st["lost_kernel"] - st0["lost_kernel"]))
    check(st["dropped_watchers"] > 0, "the slow watcher lost its own events (%d)" % st["dropped_watchers"])
    root.close()
finally:
    d.cleanup()
    m.cleanup()
