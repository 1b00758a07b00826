#!/usr/bin/env python3
"""--print-events never holds greeterd up: its standard output is a FIFO
the test holds open and never reads (a reader that stalls, as journald
can under systemd). Execs run until greeterd counts lines it could not
write (dropped_print in GetStatus); greeterctl status answers then, and
SIGTERM ends greeterd. Then the FIFO is read: whole lines only, each an
event, and what was written and dropped accounts for every event handed
on."""
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

STOP_DEADLINE = 60  # generous: greeterd waits at most a second for a stalled reader

fifo_dir = tempfile.mkdtemp(prefix="greeter-fifo-")
fifo = os.path.join(fifo_dir, "events")
os.mkfifo(fifo)
reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # held open, not read until greeterd stopped
writer = os.open(fifo, os.O_WRONLY)

with Daemon("print-stall", stdout=writer) as d, Marker("print-stall") as m, \
        contextlib.ExitStack() as stack:
    stack.callback(shutil.rmtree, fifo_dir, ignore_errors=True)
    d.start()
    os.close(writer)  # greeterd's copy is the FIFO's only writer now: EOF when it exits

    def status():
        try:
            return d.status()
        except socket.timeout:
            fail("GetStatus got no answer in %d s while nobody reads standard output"
                 % d.call_timeout)

    load = stack.enter_context(ExecLoad(m.path, loops=2))
    drive_until(lambda: status()["counters"].get("dropped_print", 0) > 0,
                "greeterd drops (and counts) lines standard output does not take")
    load.stop()
    st = status()["counters"]
    check(st["dropped_print"] > 0, "the lines standard output did not take are counted (%d)"
          % st["dropped_print"])

    r = subprocess.run([GREETERCTL, "--socket", d.socket, "status"], capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0, "greeterctl status answers while standard output is not read (%d: %s)"
          % (r.returncode, r.stderr.strip()))
    got = re.search(r"(\d+) not written by --print-events", r.stdout)
    check(got and int(got.group(1)) >= st["dropped_print"],
          "greeterctl status shows them (%s)" % (got and got.group(0)))

    d.proc.send_signal(signal.SIGTERM)
    try:
        d.proc.wait(timeout=STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        fail("greeterd did not stop within %d s of SIGTERM while standard output is not read"
             % STOP_DEADLINE)
    check(d.proc.returncode == 0, "SIGTERM ends greeterd (exit status %d)" % d.proc.returncode)

    # Now read what the FIFO holds, to the end (greeterd, its one writer, is gone).
    os.set_blocking(reader, True)
    data = b""
    while True:
        chunk = os.read(reader, 65536)
        if not chunk:
            break
        data += chunk
    os.close(reader)
    lines = data.split(b"\n")
    check(lines.pop() == b"", "the FIFO ends with a whole line")
    events = [parse_event_line(x.decode(errors="replace")) or parse_exit_line(x.decode(errors="replace"))
              for x in lines]
    bad = [x for x, e in zip(lines, events) if e is None]
    check(lines and not bad, "%d lines, each a whole event (not: %r)" % (len(lines), bad[:3]))
    seqs = [e["seq"] for e in events]
    check(all(a < b for a, b in zip(seqs, seqs[1:])), "in sequence order, none twice")

    said = re.search(r"--print-events: (\d+) event\(s\) dropped.*; (\d+) written", d.log())
    check(said, "greeterd says at exit how many events it dropped and wrote")
    dropped, written = int(said.group(1)), int(said.group(2))
    check(written == len(lines), "the lines read are those greeterd wrote (%d, %d)"
          % (len(lines), written))
    check(dropped >= st["dropped_print"], "the dropped count only grew (%d, then %d)"
          % (st["dropped_print"], dropped))
    handed = st["received"] - st["dropped_late"]
    check(written + dropped >= handed,
          "every event handed on before the last status was written or counted (%d + %d >= %d)"
          % (written, dropped, handed))
