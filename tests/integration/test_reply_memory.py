#!/usr/bin/env python3
"""What a user's replies cost greeterd is bounded by what greeterd holds,
not by what the user has left unread. With 16,383 messages set (a
ListMessages reply of 2.4 MB), UID 501 asks for the list on 48
connections and reads each reply but its end (more than the kernel's
socket buffer takes, so the rest stays in greeterd), reading the ends
only when nothing else comes. Then:
- greeterd never holds more such replies at once than fit in the UID's
  16 MiB (greeterd(8)): a reply read but for its end counts whole;
- every reply comes, whole, once the ones before are read;
- greeterd's peak RSS grew by less than twice the 16 MiB and 32 MiB.
(Under ASan, whose quarantine keeps 256 MiB of freed blocks, by less than
384 MiB.)"""
import contextlib
import json
import os
import select
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

CONNS = 48
MESSAGES = 16383
BUDGET = 16 << 20   # MAX_OUTPUT_PER_UID in daemon/api/api.c
RSS_GROWTH_KIB = (2 * BUDGET + (32 << 20)) // 1024
ASAN_RSS_GROWTH_KIB = 384 << 10
# While nothing comes for this long, the user reads the ends it left. Only
# the pace of the test: a slower machine makes it read them sooner, which
# holds fewer replies in greeterd, never more.
PAUSE = 1.0
LIST = b'{"method":"io.greeter.ListMessages"}\0'


def read_whole(s, buf):
    """The rest of the reply whose first bytes are buf: its messages."""
    s.settimeout(IDLE_TIMEOUT)
    while not buf.endswith(b"\0"):
        chunk = s.recv(1 << 20)
        if not chunk:
            return -1
        buf += chunk
    return len(json.loads(buf[:-1]).get("parameters", {}).get("messages", []))


def lists_main(path, size, tail):
    """As UID 501: CONNS lists, each read but its last tail bytes until
    nothing comes for PAUSE; then the ends are read. Prints the most
    replies held at once and how many came whole."""
    size, tail = int(size), int(tail)
    socks = connections(path, CONNS, LIST)
    got = {s: b"" for s in socks}
    parked, whole, most, idle = [], 0, 0, 0.0
    left = set(socks)
    while left and idle < IDLE_TIMEOUT:
        reading = [s for s in left if s not in parked]
        ready = select.select(reading, [], [], PAUSE)[0] if reading else []
        for s in ready:
            chunk = s.recv(min(1 << 20, size - tail - len(got[s])))
            if not chunk:
                left.discard(s)
                continue
            got[s] += chunk
            if len(got[s]) == size - tail:
                parked.append(s)
        most = max(most, len(parked))
        if ready:
            idle = 0.0
            continue
        idle += PAUSE
        for s in parked:
            whole += read_whole(s, got[s]) == MESSAGES
            left.discard(s)
        if parked:
            idle = 0.0
        parked = []
    print(json.dumps({"most": most, "whole": whole}), flush=True)


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "lists":
    lists_main(*sys.argv[2:])
    sys.exit(0)


def rss_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


with Daemon("reply-memory") as d, contextlib.ExitStack() as stack:
    d.start()
    pid = d.proc.pid
    # Quotes are sent escaped: 120 bytes of JSON for each 63-byte message.
    msgs = [{"uid": 100000 + i, "message": "%05d " % i + '"' * 57} for i in range(MESSAGES)]
    r = d.call("io.greeter.ImportMessages", {"messages": msgs, "replace": True})
    check(r.get("parameters", {}).get("set") == MESSAGES, "%d messages set: %s"
          % (MESSAGES, str(r)[:200]))
    c = d.varlink()
    c.sock.sendall(LIST)
    size = 0
    while True:
        chunk = c.sock.recv(1 << 20)
        size += len(chunk)
        if not chunk or chunk.endswith(b"\0"):
            break
    c.close()
    # Left unread: more than the kernel queues on greeterd's socket (its
    # send buffer and half of it again), so the rest waits in greeterd.
    with open("/proc/sys/net/core/wmem_default") as f:
        tail = 2 * int(f.read()) + (64 << 10)
    if tail > size // 2:
        skip("the socket buffers (net.core.wmem_default) take most of a reply: "
             "greeterd would hold little of it")
    before = rss_kib(pid, "VmRSS")
    print("# a reply of %d bytes, %d of them left unread; RSS %d KiB" % (size, tail, before))

    p = subprocess.Popen(as_user(501, 501, [], __file__, "lists", d.socket, size, tail),
                         stdout=subprocess.PIPE, text=True)
    stack.callback(reap, [p])
    result = json.loads(p.stdout.readline() or "{}")
    peak = rss_kib(pid, "VmHWM")
    print("# %s; peak RSS %d KiB" % (result, peak))
    most = BUDGET // size + 1
    check(result.get("most", CONNS + 1) <= most,
          "greeterd held at most %d of the replies read but for their end at once (%s)"
          % (most, result.get("most")))
    check(result.get("whole") == CONNS, "all %d replies came whole (%s)"
          % (CONNS, result.get("whole")))
    bound = ASAN_RSS_GROWTH_KIB if is_asan(pid) else RSS_GROWTH_KIB
    check(peak - before < bound, "peak RSS grew by %d KiB < %d KiB" % (peak - before, bound))
    r = subprocess.run([GREETERCTL, "--socket", d.socket, "status"], capture_output=True,
                       text=True, timeout=IDLE_TIMEOUT)
    check(r.returncode == 0, "root is served (%d: %s)" % (r.returncode, r.stderr.strip()))
