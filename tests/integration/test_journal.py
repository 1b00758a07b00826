#!/usr/bin/env python3
"""--journal-events writes each event as a structured journal entry. The
test runs in a private mount namespace with its own /run, where it listens
on the journal's socket itself, so the host journal is untouched."""
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

journal = fake_journal()
journal.settimeout(10)


with Daemon("journal", extra=["--journal-events"]) as d, Marker("journal") as m:
    # Read the journal socket all along: other tests exec too, and a queue
    # left full would make greeterd drop (and count) our entry.
    found = []
    reading = threading.Event()
    reading.set()

    def reader():
        while reading.is_set() and len(found) < 3:
            try:
                f = parse_journal_native(journal.recv(65536))
            except socket.timeout:
                continue
            # Execs only: each ends in an exit entry of the same file too.
            if f.get("GREETER_FILENAME") == m.path and f.get("GREETER_KIND") == "exec":
                found.append(f)

    journal.settimeout(0.2)
    t = threading.Thread(target=reader)
    t.start()
    d.start()
    d.set_message(501, "Hi user 501!")
    m.run(uid=501)
    subprocess.run([m.path, "a b", "", 'q"x', "back\\slash\t"], check=True)
    subprocess.run([m.path] + ["x"] * 200, check=True)
    wait_for(lambda: len(found) == 3)
    reading.clear()
    t.join()
    if not found:
        fail("no journal entry for the exec")
    entry = found[0]
    check(entry["GREETER_UID"] == "501" and entry["GREETER_MESSAGE"] == "Hi user 501!",
          "structured fields: uid and message")
    check(entry["SYSLOG_IDENTIFIER"] == "greeterd" and entry["PRIORITY"] == "6", "identifier and priority")
    check(entry.get("MESSAGE_ID") and "Hi user 501!" in entry["MESSAGE"], "MESSAGE_ID and MESSAGE")
    check(entry["GREETER_COMM"] == "setpriv" and int(entry["GREETER_SEQ"]) > 0, "comm and sequence number")
    check(all(f.get("GREETER_SCHEMA") == "1" for f in found),
          "GREETER_SCHEMA=1 in every entry (greeter-journal-fields(7))")
    check(entry.get("GREETER_EXEC_ID", "").endswith("-%s" % entry["GREETER_PID"]),
          "GREETER_EXEC_ID names the exec (%s)" % entry.get("GREETER_EXEC_ID"))
    check(entry["GREETER_ARGS"] == m.path and "GREETER_ARGS_TRUNCATED" not in entry,
          "GREETER_ARGS: the arguments")
    check("GREETER_UNIT" in entry and int(entry["GREETER_CGROUP_ID"]) > 0,
          "GREETER_UNIT and GREETER_CGROUP_ID (%r, %s)" % (entry["GREETER_UNIT"], entry["GREETER_CGROUP_ID"]))
    check(len(found) == 3, "an entry for each exec")
    check(found[1]["GREETER_ARGS"] == '%s "a b" "" "q\\"x" back\\\\slash\\t' % m.path,
          "GREETER_ARGS quotes an argument that is empty or holds a space or a quote, escapes the rest (%s)"
          % found[1]["GREETER_ARGS"])
    check(found[2].get("GREETER_ARGS_TRUNCATED") == "1"
          and found[2]["GREETER_ARGS"] == " ".join([m.path] + ["x"] * 127),
          "GREETER_ARGS_TRUNCATED=1 when cut (at 128 arguments)")

    # Nobody reads the journal socket any more: its queue fills, and greeterd
    # drops (and counts) entries instead of stalling: execs until it has,
    # answering all along.
    st = drive_until(lambda: (lambda s: s if s["counters"]["dropped_journal"] > 0 else None)(
        d.call("io.greeter.GetStatus")["parameters"]),
        "greeterd drops journal entries the full socket cannot take",
        step=lambda: m.run(count=50))
    check(st["counters"]["dropped_journal"] > 0,
          "greeterd answers while the journal is full; the entries it could not take are counted (%d)"
          % st["counters"]["dropped_journal"])
    check(d.stop() == 0, "greeterd stops on SIGTERM with the journal full")
