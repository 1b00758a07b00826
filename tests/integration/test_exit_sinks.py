#!/usr/bin/env python3
"""Exits in greeterd's own sinks: a shell runs sh -c 'exit 7' and
sh -c 'kill -9 $$', with --print-events and --journal-events. Each exec's
line and entry carry its exec id and its parent's (the outer shell's
exec); each exit's line and entry say how it ended and carry the id of the
exec they end; an exit is never read as an exec. In a private mount
namespace with a journal socket of its own, as test_journal."""
import os
import shutil
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

journal = fake_journal(net=True)  # a long queue: other tests exec too, many at once
journal.settimeout(0.2)


def parse_native(data):
    """KEY=value lines: greeterd escapes its values, so none holds a newline."""
    return dict(x.split("=", 1) for x in data.decode(errors="replace").split("\n") if "=" in x)


with Daemon("exit-sinks", extra=["--journal-events"]) as d:
    entries = []
    want = [None]  # the shell of this attempt: only its entries are kept
    reading = threading.Event()
    reading.set()

    def reader():
        while reading.is_set():
            try:
                data = journal.recv(65536)
            except socket.timeout:
                continue
            if not want[0] or want[0].encode() not in data:  # not parsed, to keep up
                continue
            f = parse_native(data)
            if f.get("GREETER_FILENAME") == want[0]:
                entries.append(f)

    t = threading.Thread(target=reader)
    t.start()
    d.start()
    # An entry the journal socket refused is counted (dropped_journal), never
    # lost in silence: then the shells run again, under another name, until
    # all their entries arrive.
    for attempt in range(10):
        # A shell of its own name: its execs and exits told apart from others'.
        sh = os.path.join(d.tmp, "greeter-exit-sh-%d-%d" % (os.getpid(), attempt))
        shutil.copy("/bin/sh", sh)
        os.chmod(sh, 0o755)
        dropped = d.status()["counters"]["dropped_journal"]
        want[0] = sh
        # The outer shell, exec'd after greeterd made its table, is the parent
        # whatever the table let go of before (a host of more processes than it holds).
        r = subprocess.run([sh, "-c", """"$0" -c 'exit 7'; a=$?; "$0" -c 'kill -9 $$'; echo $a $?""",
                            sh], capture_output=True, text=True)
        check(r.stdout.split() == ["7", "137"],
              "the shells ended: status 7, signal 9 (%s)" % r.stdout.strip())
        done = wait_for(lambda: len([e for e in d.events() if e["filename"] == sh]) == 3
                        and len([e for e in d.exits() if e["filename"] == sh]) == 3
                        and (len(entries) == 6
                             or d.status()["counters"]["dropped_journal"] > dropped))
        if not done or len(entries) == 6:
            break
        print("# the journal socket refused entries (dropped_journal %d, was %d): again"
              % (d.status()["counters"]["dropped_journal"], dropped))
        entries.clear()
    reading.clear()
    t.join()
    execs = [e for e in d.events() if e["filename"] == sh]
    exits = [e for e in d.exits() if e["filename"] == sh]
    check(done, "three execs and three exits printed, six journal entries (%d, %d, %d)"
          % (len(execs), len(exits), len(entries)))
    outer = execs.pop(0)
    check(outer["exec_id"] and outer["exec_id"].endswith("-%d" % outer["pid"]),
          "exec= is the exec's id, ending in its pid (%s)" % outer["exec_id"])
    check([e["exec_id"] for e in exits].pop() == outer["exec_id"], "the outer shell ends last")
    exits.pop()
    entries = [e for e in entries if e.get("GREETER_PID") != str(outer["pid"])]
    with open(d.out_path) as f:
        print("# " + "# ".join(x for x in f if " file=%s " % sh in x), end="")

    for ex, ended in zip(execs, exits):
        check(ex["exec_id"] and ex["exec_id"].endswith("-%d" % ex["pid"]),
              "exec= is the exec's id, ending in its pid (%s)" % ex["exec_id"])
        check(ex["parent_exec_id"] == outer["exec_id"],
              "parent= is the outer shell's exec (%s)" % ex["parent_exec_id"])
        check(ended["exec_id"] == ex["exec_id"] and ended["pid"] == ex["pid"],
              "the exit's exec= is the exec's (%s)" % ended["exec_id"])
        check(ended["seq"] > ex["seq"], "the exit comes after its exec in the sequence")
        check(ended["comm"] == os.path.basename(sh)[:15], "the exit's comm is the program's (%s)"
              % ended["comm"])
    check(exits[0]["exit_code"] == 7 and exits[0]["signal"] is None,
          "exit line: code=7 (%s)" % exits[0])
    check(exits[1]["signal"] == 9 and exits[1]["exit_code"] is None and not exits[1]["core_dumped"],
          "exit line: signal=9, no core (%s)" % exits[1])

    jexec = [e for e in entries if e.get("GREETER_KIND") == "exec"]
    jexit = [e for e in entries if e.get("GREETER_KIND") == "exit"]
    check(len(jexec) == 2 and len(jexit) == 2, "journal: two exec entries, two exit entries")
    for ex, je, jx, ended in zip(execs, jexec, jexit, exits):
        check(je.get("GREETER_EXEC_ID") == ex["exec_id"]
              and je.get("GREETER_PARENT_EXEC_ID") == ex["parent_exec_id"]
              and je.get("GREETER_PARENT_PID") == str(outer["pid"]),
              "exec entry: GREETER_EXEC_ID, GREETER_PARENT_EXEC_ID and GREETER_PARENT_PID as printed")
        check(je.get("GREETER_PARENT_COMM") == os.path.basename(sh)[:15]
              and je.get("GREETER_PARENT_FILE") == sh,
              "exec entry: the parent's comm and file (%s, %s)"
              % (je.get("GREETER_PARENT_COMM"), je.get("GREETER_PARENT_FILE")))
        check(jx.get("GREETER_EXEC_ID") == ex["exec_id"] and jx.get("GREETER_PID") == str(ex["pid"])
              and jx.get("GREETER_UID") == "0" and "GREETER_UNIT" in jx,
              "exit entry: the exec's id, pid, uid and unit")
        check(jx.get("GREETER_DURATION_USEC") == str(ended["duration_usec"]),
              "exit entry: GREETER_DURATION_USEC as printed (%s)" % jx.get("GREETER_DURATION_USEC"))
        check(jx.get("MESSAGE_ID") and jx["MESSAGE_ID"] != je.get("MESSAGE_ID"),
              "exit entries have a MESSAGE_ID of their own")
        check("GREETER_MESSAGE" not in jx, "exit entry: no greeting")
    check(jexit[0].get("GREETER_EXIT_CODE") == "7" and "GREETER_SIGNAL" not in jexit[0]
          and "exited with status 7 after " in jexit[0].get("MESSAGE", ""),
          "exit entry: GREETER_EXIT_CODE=7 (%s)" % jexit[0].get("MESSAGE"))
    check(jexit[1].get("GREETER_SIGNAL") == "9" and jexit[1].get("GREETER_CORE_DUMPED") == "0"
          and "GREETER_EXIT_CODE" not in jexit[1]
          and "killed by signal 9 after " in jexit[1].get("MESSAGE", ""),
          "exit entry: GREETER_SIGNAL=9, GREETER_CORE_DUMPED=0 (%s)" % jexit[1].get("MESSAGE"))
    check(d.stop() == 0, "greeterd stops on SIGTERM")
