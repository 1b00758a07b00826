#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""greeterctl and the life of a program (ABI 4), against a fake greeterd:
tail's PARENT column, tail --exits and its exit lines, greeterctl chain and
its errors. Hostile names escaped everywhere; --json as sent.

Usage: test_life.py PATH/TO/greeterctl"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_greeterd import Checks, Served, event, run  # noqa: E402

ESC = b"\x1b"
EVIL = "\u001b[31mred"
BOOT = "0123456789abcdef0123456789abcdef"


def exit_event(seq, **fields):
    e = event(seq, kind="exit", comm="sleep", filename="/usr/bin/sleep",
              exec_id="%s-%d-%d" % (BOOT, 5000 + seq, 1000 + seq))
    for k in ("args", "message", "source"):
        e.pop(k, None)
    e.update(fields)
    return e


EVENTS = [
    event(6, kind="exec", parent_pid=77, parent_comm=EVIL, parent_file="/bin/evil",
          parent_exec_id="%s-1-77" % BOOT, exec_id="%s-2-1006" % BOOT),
    exit_event(7, exit_code=7, duration_usec=1002345),
    event(8, kind="exec", parent_pid=1, parent_comm="systemd", parent_file="/sbin/init"),
    exit_event(9, signal=9, core_dumped=False, duration_usec=250000),
    exit_event(10, comm=EVIL, signal=11, core_dumped=True, duration_usec=192000000),
]


def step(pid, comm, seeded=False, unit="session-3.scope"):
    return {"pid": pid, "exec_id": "%s-%d-%d" % (BOOT, pid * 1000, pid),
            "boot_usec": pid, "timestamp_usec": 1700000000123456 + pid * 1000,
            "uid": 0, "comm": comm, "filename": "/usr/bin/" + comm, "unit": unit,
            "seeded": seeded}


# The process first, its furthest known ancestor last, as greeterd sends it.
CHAIN = [step(4321, "sleep"), step(400, EVIL), step(300, "bash", unit=""),
         step(1, "systemd", seeded=True, unit="init.scope")]


def handler(conn, req):
    method = req.get("method")
    params = req.get("parameters") or {}
    if method == "io.greeter.WatchEvents":
        conn.reply({"seq": 5, "stream": "s1"}, continues=True)
        for e in EVENTS:
            # Sent regardless of "exits": greeterctl must still show none unasked.
            conn.reply({"event": e}, continues=True)
    elif method == "io.greeter.GetProcessChain":
        pid = params.get("pid")
        if pid == 4321:
            conn.reply({"chain": CHAIN})
        elif pid == 5:
            conn.error("io.greeter.PermissionDenied", {"reason": "process 5 is not UID 1000's"})
        else:
            conn.error("io.greeter.NoSuchProcess", {"pid": pid})
    else:
        conn.error("org.varlink.service.MethodNotFound", {"method": method})


def last_params(server, method):
    reqs = server.requests_for(method)
    return reqs[-1][1].get("parameters") if reqs else None


def check_tail(t, ctl, server, sock):
    # Without --exits: no exits asked for or shown, exec lines as before plus PARENT.
    r = run(ctl, sock, "tail", "-n", "2")
    lines = r.stdout.decode().splitlines()
    t.check(r.returncode == 0 and len(lines) == 3, "tail -n 2: header and two exec lines", r)
    t.check(last_params(server, "io.greeter.WatchEvents") == {},
            "tail without --exits asks for none", server.requests)
    t.check(ESC not in r.stdout, "tail: no raw ESC", r.stdout)
    if len(lines) == 3:
        col = lines[0].index("PARENT")
        t.check(lines[1][col:].startswith("\\x1b[31mred[77] "), "a hostile parent escaped",
                lines[1])
        t.check(lines[2][col:].startswith("systemd[1] "), "parent comm[pid]", lines[2])
        t.check(not any(" exit " in ln for ln in lines), "no exit line unasked", lines)

    r = run(ctl, sock, "tail", "--exits", "-n", "5")
    lines = r.stdout.decode().splitlines()
    t.check(last_params(server, "io.greeter.WatchEvents") == {"exits": True},
            "tail --exits asks for exits", server.requests)
    t.check(r.returncode == 0 and len(lines) == 6, "tail --exits -n 5: header, 5 lines", r)
    t.check(ESC not in r.stdout, "tail --exits: no raw ESC", r.stdout)
    if len(lines) == 6:
        # 1700000000.123456 + 7 ms = 22:13:20.130 UTC (TZ=UTC)
        t.check(lines[2] == "22:13:20.130 exit  sleep[1007] status=7 after 1.002s",
                "an exit with its status and duration", lines[2])
        t.check(lines[4] == "22:13:20.132 exit  sleep[1009] killed by signal 9 after 0.250s",
                "a process killed by a signal", lines[4])
        t.check(lines[5] == "22:13:20.133 exit  \\x1b[31mred[1010] killed by signal 11 "
                "(core dumped) after 3min 12s", "a core dump; a hostile comm escaped", lines[5])

    r = run(ctl, sock, "tail", "--exits", "--json", "-n", "5")
    got = [json.loads(ln) for ln in r.stdout.decode().splitlines()]
    t.check(r.returncode == 0 and got == EVENTS, "tail --exits --json: the events as sent",
            r.stdout)
    r = run(ctl, sock, "tail", "--json", "-n", "2")
    got = [json.loads(ln) for ln in r.stdout.decode().splitlines()]
    t.check(got == [EVENTS[0], EVENTS[2]], "tail --json without --exits: execs only", got)

    r = run(ctl, sock, "list", "--exits")
    t.check(r.returncode == 2 and b"--exits is an option of tail" in r.stderr,
            "--exits only for tail", r.stderr)
    r = run(ctl, sock, "tail", "--help")
    t.check(b"--exits" in r.stdout and b"PARENT" in r.stdout, "tail --help: --exits, PARENT",
            r.stdout)


def check_chain(t, ctl, server, sock):
    r = run(ctl, sock, "chain", "4321")
    out = r.stdout.decode()
    lines = out.splitlines()
    t.check(last_params(server, "io.greeter.GetProcessChain") == {"pid": 4321},
            "chain sends the pid", server.requests)
    t.check(r.returncode == 0 and ESC not in r.stdout, "chain: status 0, no raw ESC", r)
    t.check(lines and lines[0] == "systemd \u2192 bash \u2192 \\x1b[31mred \u2192 sleep",
            "chain: root first, the process last, escaped", lines[:1])
    t.check(len(lines) == 6 and lines[1].split() == ["PID", "COMM", "UNIT", "STARTED", "EXEC",
                                                     "ID", "FILENAME"], "chain: header", lines)
    if len(lines) == 6:
        first, last = lines[2].split(), lines[5].split()
        t.check(first[:4] == ["1", "systemd", "init.scope", "2023-11-14"] and
                lines[2].endswith("/usr/bin/systemd (running before greeter)"),
                "chain: a seeded step marked", lines[2])
        t.check(last[:5] == ["4321", "sleep", "session-3.scope", "2023-11-14",
                             "22:13:24.444"] and last[5] == CHAIN[0]["exec_id"] and
                "running before" not in lines[5], "chain: the process's step", lines[5])
        t.check(lines[3].split()[2] == "-", "chain: no unit shown as -", lines[3])
    r = run(ctl, sock, "chain", "4321", env={"LC_ALL": "C"})
    t.check(r.stdout.decode().startswith("systemd -> bash"), "chain: -> outside UTF-8",
            r.stdout[:60])

    r = run(ctl, sock, "--json", "chain", "4321")
    t.check(r.returncode == 0 and json.loads(r.stdout) == {"chain": CHAIN},
            "chain --json: the reply", r.stdout)

    r = run(ctl, sock, "chain", "999")
    t.check(r.returncode == 5 and b"greeterd knows no process 999" in r.stderr and
            not r.stdout, "chain of an unknown pid: status 5", r)
    r = run(ctl, sock, "chain", "5")
    t.check(r.returncode == 1 and b"io.greeter.PermissionDenied: process 5 is not" in r.stderr,
            "chain of another's process: PermissionDenied, status 1", r)
    n = len(server.requests_for("io.greeter.GetProcessChain"))
    for bad in ("0", "-1", "x", "12x", "2147483648", ""):
        r = run(ctl, sock, "chain", "--", bad)
        t.check(r.returncode == 2, "chain %r: usage error" % bad, r)
    r = run(ctl, sock, "chain")
    t.check(r.returncode == 2 and b"chain needs a PID" in r.stderr, "chain without a PID", r)
    t.check(len(server.requests_for("io.greeter.GetProcessChain")) == n,
            "nothing sent for a bad PID")
    r = run(ctl, sock, "chain", "--help")
    t.check(r.returncode == 0 and b"Usage: greeterctl chain PID" in r.stdout, "chain --help", r)
    r = run(ctl, sock, "--help")
    t.check(b"chain PID" in r.stdout and b"5 (chain)" in r.stdout,
            "--help: chain and its exit status", r.stdout)


def main():
    ctl = sys.argv[1]
    t = Checks()
    with Served(handler) as (server, sock):
        check_tail(t, ctl, server, sock)
        check_chain(t, ctl, server, sock)
    t.done()


if __name__ == "__main__":
    main()
