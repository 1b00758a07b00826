#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""greeterctl against a fake greeterd: what it sends, how it prints replies
(hostile strings escaped, JSON kept pure), and how it reports errors.

Usage: test_fake_server.py PATH/TO/greeterctl"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_greeterd import Checks, Served, event, run, wait_for  # noqa: E402

ESC = b"\x1b"
EVIL_COMM = "\u001b[31mred"
EVIL_FILE = "/tmp/two\nlines"

STATUS = {
    "version": "0.1.0",
    "attach_mode": "kprobe",
    "attach_reason": "kprobes are available \u001b]0;pwned\u0007",
    "kernel_release": "6.1.0-test",
    "pin_dir": "/sys/fs/bpf/greeter",
    "state_dir": "/var/lib/greeter",
    "uptime_usec": 3723000000,
    "messages": 3,
    "watchers": 1,
    "ring_size": 16777216,
    "config_map_id": 11,
    "events_map_id": 12,
    "stats_map_id": 13,
    "programs": [{"name": "greeter_exec", "program_id": 42, "link_id": 7}],
    "counters": {"emitted": 100, "lost_kernel": 2, "failed_execs": 3, "received": 98,
                 "delivered": 97, "dropped_watchers": 1},
}

LIST = {"messages": [
    {"message": "Default \u001b[2J"},
    {"uid": 501, "message": "evil\n\u001b]0;title\u0007"},
    {"uid": 0, "message": "Hi root"},
    {"uid": 4000000000, "message": "nobody's"},
]}


def handler(conn, req):
    method = req.get("method")
    params = req.get("parameters") or {}
    if method == "io.greeter.GetMessage":
        uid = params.get("uid", 1234)
        conn.reply({"uid": uid, "message": "Hi \u001b[2J there", "source": "uid"})
    elif method == "io.greeter.ListMessages":
        conn.reply(LIST)
    elif method == "io.greeter.GetStatus":
        conn.reply(STATUS)
    elif method == "io.greeter.SetMessage":
        if params.get("uid") == 502:
            conn.error("io.greeter.PermissionDenied",
                       {"reason": "UID 1000 may change only its own message, not UID 502's"})
        elif params.get("uid") == 503:
            conn.error("io.greeter.MessageTooLong", {"limit": 63})
        elif params.get("uid") == 504:
            # An error greeterctl does not know.
            conn.error("io.greeter.SomethingNew", {"detail": "x\u001b"})
        else:
            conn.reply({})
    elif method == "io.greeter.RemoveMessage":
        if "uid" in params:
            conn.error("io.greeter.NoSuchMessage", {"uid": params["uid"]})
        else:
            conn.error("io.greeter.NoSuchMessage", {})
    elif method == "io.greeter.WatchEvents":
        if params.get("uid") == 77:
            conn.error("io.greeter.PermissionDenied",
                       {"reason": "UID 1000 may watch only its own events"})
            return
        if params.get("comm") == "hang":
            # State only: the client must wait until interrupted.
            conn.reply({"seq": 5}, continues=True)
            return
        conn.reply({"seq": 5}, continues=True)
        conn.reply({"event": event(6, comm=EVIL_COMM, filename=EVIL_FILE,
                                   message="Hi \u202eevil", uid=0)}, continues=True)
        conn.reply({"event": event(7, comm="ok"), "dropped": 3}, continues=True)
        conn.reply({"event": event(8, error=-2, comm="failing")}, continues=True)
    else:
        conn.error("org.varlink.service.MethodNotFound", {"method": method})


def last_params(server, method):
    reqs = server.requests_for(method)
    return reqs[-1][1] if reqs else {}


def main():
    ctl = sys.argv[1]
    t = Checks()
    with Served(handler) as (server, sock):

        # get: escaped, with its source; the uid goes as a number.
        r = run(ctl, sock, "get", "501")
        t.check(r.returncode == 0, "get: status 0", r.stderr)
        t.check(ESC not in r.stdout, "get: no raw ESC on stdout", r.stdout)
        t.check(b"Hi \\x1b[2J there" in r.stdout, "get: message escaped", r.stdout)
        t.check(b"source:  own" in r.stdout, "get: source shown as own", r.stdout)
        req = last_params(server, "io.greeter.GetMessage")
        t.check(req.get("parameters") == {"uid": 501}, "get 501 sends uid 501", req)
        t.check(not req.get("more") and not req.get("oneway"), "get: a plain call", req)

        r = run(ctl, sock, "get")
        req = last_params(server, "io.greeter.GetMessage")
        t.check(r.returncode == 0 and req.get("parameters", {}) == {},
                "get without argument sends no uid", req)
        r = run(ctl, sock, "get", "root")
        req = last_params(server, "io.greeter.GetMessage")
        t.check(req.get("parameters") == {"uid": 0}, "get root sends uid 0", req)
        t.check(b"0 (root)" in r.stdout, "get root shows the name", r.stdout)

        r = run(ctl, sock, "--json", "get", "501")
        t.check(r.returncode == 0, "get --json: status 0", r.stderr)
        try:
            t.check(json.loads(r.stdout) == {"uid": 501, "message": "Hi \u001b[2J there",
                                              "source": "uid"},
                    "get --json prints the reply parameters", r.stdout)
        except ValueError:
            t.check(False, "get --json prints valid JSON", r.stdout)
        t.check(ESC not in r.stdout, "get --json: JSON escapes ESC", r.stdout)

        # list: table, ordered by UID, default last, all escaped.
        r = run(ctl, sock, "list")
        t.check(r.returncode == 0, "list: status 0", r.stderr)
        out = r.stdout.decode()
        lines = out.splitlines()
        t.check(ESC not in r.stdout and b"\x07" not in r.stdout, "list: no raw controls", out)
        t.check(len(lines) == 5, "list: header and 4 rows", out)
        if len(lines) == 5:
            t.check(lines[0].split() == ["UID", "USER", "MESSAGE"], "list: header", lines[0])
            t.check(lines[1].split()[:3] == ["0", "root", "Hi"], "list: UID 0 first", lines[1])
            t.check(lines[2].startswith("501 ") and "evil\\n\\x1b]0;title\\x07" in lines[2],
                    "list: UID 501 second, escaped", lines[2])
            t.check(lines[3].startswith("4000000000 "), "list: big UID third", lines[3])
            t.check(lines[4].startswith("default ") and "Default \\x1b[2J" in lines[4],
                    "list: default last", lines[4])
            col = lines[0].index("MESSAGE")
            t.check(all(ln[col - 2:col] == "  " for ln in lines),
                    "list: MESSAGE column aligned", out)
        r = run(ctl, sock, "list", "--json")
        t.check(r.returncode == 0 and json.loads(r.stdout) == LIST,
                "list --json prints the reply", r.stdout)

        # status
        r = run(ctl, sock, "status")
        out = r.stdout.decode()
        t.check(r.returncode == 0, "status: status 0", r.stderr)
        t.check(ESC not in r.stdout and b"\x07" not in r.stdout, "status: no raw controls", out)
        for word in ["0.1.0", "kprobe", "kprobes are available \\x1b]0;pwned\\x07", "6.1.0-test",
                     "/sys/fs/bpf/greeter", "1h 2min 3s", "16 MiB", "greeter_exec",
                     "42", "config 11, events 12, stats 13", "100 emitted", "2 in the kernel",
                     "1 dropped"]:
            t.check(word in out, f"status shows '{word}'", out)
        t.check("Replay:" not in out and "Change log:" not in out and "in use" not in out,
                "status: an older greeterd's reply shows no fields it lacks", out)
        r = run(ctl, sock, "status", "--json")
        t.check(r.returncode == 0 and json.loads(r.stdout) == STATUS,
                "status --json prints the reply", r.stdout)
        # A greeterd with the metrics fields: shown too.
        newer = dict(STATUS, ring_used=1 << 20, replay_window=1024, retained=300,
                     change_log_size=4096,
                     counters=dict(STATUS["counters"], malformed=5, compactions=2,
                                   compactions_failed=1))
        server.handler = lambda conn, req: (conn.reply(newer) if req.get("method") ==
                                            "io.greeter.GetStatus" else handler(conn, req))
        r = run(ctl, sock, "status")
        out = r.stdout.decode()
        for word in ["16 MiB, 1 MiB in use", "300 events kept, of a window of 1024",
                     "4 KiB, 2 compactions (1 failed)", "5 ring buffer records of the wrong size"]:
            t.check(r.returncode == 0 and word in out, f"status shows '{word}'", out)
        server.handler = handler

        # set / unset: parameters, and errors in words.
        r = run(ctl, sock, "set", "501", "Hi user 501!")
        req = last_params(server, "io.greeter.SetMessage")
        t.check(r.returncode == 0 and r.stdout == b"", "set: status 0, quiet", r)
        t.check(req.get("parameters") == {"uid": 501, "message": "Hi user 501!"},
                "set sends uid and message", req)
        r = run(ctl, sock, "set", "default", "Welcome")
        req = last_params(server, "io.greeter.SetMessage")
        t.check(req.get("parameters") == {"message": "Welcome"}, "set default sends no uid",
                req)
        r = run(ctl, sock, "set", "502", "x")
        t.check(r.returncode == 1, "set refused: status 1", r)
        t.check(r.stderr.decode().strip() ==
                "greeterctl: cannot set the message for UID 502: io.greeter.PermissionDenied: "
                "UID 1000 may change only its own message, not UID 502's",
                "PermissionDenied printed with its reason", r.stderr)
        r = run(ctl, sock, "set", "503", "x")
        t.check(r.returncode == 1 and b"io.greeter.MessageTooLong: message is longer than 63 "
                b"bytes" in r.stderr, "MessageTooLong in words", r.stderr)
        r = run(ctl, sock, "set", "504", "x")
        t.check(r.returncode == 1 and b"io.greeter.SomethingNew: " in r.stderr and
                ESC not in r.stderr, "an unknown error: name and escaped details", r.stderr)
        r = run(ctl, sock, "unset", "501")
        t.check(r.returncode == 1 and b"cannot remove the message for UID 501: "
                b"io.greeter.NoSuchMessage: no message is set for UID 501" in r.stderr,
                "unset: NoSuchMessage in words", r.stderr)
        r = run(ctl, sock, "unset", "default")
        req = last_params(server, "io.greeter.RemoveMessage")
        t.check(r.returncode == 1 and b"no default message is set" in r.stderr and
                req.get("parameters", {}) == {}, "unset default", (r.stderr, req))

        # tail, human: escaped columns.
        r = run(ctl, sock, "tail", "-n", "3", "--failed", "--comm", "bash")
        out = r.stdout.decode()
        req = last_params(server, "io.greeter.WatchEvents")
        t.check(r.returncode == 0, "tail -n 3: status 0", r.stderr)
        t.check(req.get("more") is True, "tail calls with more", req)
        t.check(req.get("parameters") == {"comm": "bash", "include_failed": True},
                "tail sends its filters", req)
        t.check(ESC not in r.stdout, "tail: no raw ESC on stdout", out)
        t.check("\\x1b[31mred" in out, "tail: comm escaped", out)
        t.check("/tmp/two\\nlines" in out, "tail: filename escaped", out)
        t.check("\\u202eevil" in out, "tail: bidi override escaped", out)
        lines = out.splitlines()
        t.check(len(lines) == 4, "tail: header and 3 lines", out)
        if len(lines) == 4:
            t.check(lines[0].split() == ["TIME", "PID", "PARENT", "USER", "UNIT", "COMM",
                                         "FILENAME", "MESSAGE", "ARGS"],
                    "tail: header", lines[0])
            # 1700000000.129456 s = 22:13:20.129 UTC (TZ=UTC)
            t.check(lines[1].startswith("22:13:20.129 "), "tail: local time", lines[1])
            t.check(lines[1].split()[1:4] == ["1006", "-", "root"],
                    "tail: pid, no parent known, user", lines[1])
            t.check("(exec failed: No such file or directory)" in lines[3],
                    "tail: failed attempt", lines[3])
            col = lines[0].index("MESSAGE")
            t.check(lines[2][col:].startswith("Hello World"), "tail: columns aligned", out)
        t.check(b"greeterctl: 3 event(s) lost" in r.stderr, "tail: dropped on stderr", r.stderr)

        # tail --json: one object per line, exactly as sent.
        r = run(ctl, sock, "tail", "-n", "1", "--json")
        t.check(r.returncode == 0, "tail -n 1 --json: status 0", r.stderr)
        t.check(r.stdout.count(b"\n") == 1 and r.stdout.endswith(b"\n"),
                "tail -n 1 --json: one line", r.stdout)
        t.check(ESC not in r.stdout, "tail --json: no raw ESC", r.stdout)
        t.check("\u202e".encode() not in r.stdout and b"\\u202e" in r.stdout,
                "tail --json: the bidi override escaped (\\u202e), not raw", r.stdout)
        try:
            ev = json.loads(r.stdout)
            t.check(ev == event(6, comm=EVIL_COMM, filename=EVIL_FILE, message="Hi \u202eevil",
                                uid=0), "tail --json: the event object", ev)
        except ValueError:
            t.check(False, "tail -n 1 --json: valid JSON", r.stdout)
        r = run(ctl, sock, "tail", "--json", "--count", "2", "--user", "root", "--after", "4")
        req = last_params(server, "io.greeter.WatchEvents")
        t.check(req.get("parameters") == {"uid": 0, "after_seq": 4},
                "tail --user --after parameters", req)
        lines = r.stdout.splitlines()
        t.check(len(lines) == 2 and all(json.loads(ln) for ln in lines),
                "tail --json: 2 lines of JSON", r.stdout)
        t.check(b"greeterctl: 3 event(s) lost" in r.stderr and b"lost" not in r.stdout,
                "tail --json: dropped only on stderr", (r.stdout, r.stderr))

        r = run(ctl, sock, "tail", "--user", "77")
        t.check(r.returncode == 1 and b"cannot follow events: io.greeter.PermissionDenied: "
                b"UID 1000 may watch only its own events" in r.stderr,
                "tail: error reply, status 1", r.stderr)

        # tail ends with status 0 on SIGINT and SIGTERM.
        for sig in (signal.SIGINT, signal.SIGTERM):
            env = dict(os.environ, LC_ALL="C.UTF-8")
            # Counted before the start: tail may ask before this process runs again.
            n = len(server.requests_for("io.greeter.WatchEvents"))
            p = subprocess.Popen([ctl, "--socket", sock, "tail", "--comm", "hang"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            t.check(wait_for(lambda: len(server.requests_for("io.greeter.WatchEvents")) > n),
                    f"tail asked for events before {sig.name}")
            time.sleep(0.1)
            p.send_signal(sig)
            try:
                out, err = p.communicate(timeout=60)
                t.check(p.returncode == 0, f"tail: status 0 after {sig.name}", (p.returncode, err))
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                t.check(False, f"tail ends on {sig.name}")

        # Another method (e.g. an older greeterd): status 1, in words.
        server.handler = lambda conn, req: conn.error("org.varlink.service.MethodNotFound",
                                                      {"method": req["method"]})
        r = run(ctl, sock, "status")
        t.check(r.returncode == 1 and b"org.varlink.service.MethodNotFound: greeterd does not "
                b"know io.greeter.GetStatus" in r.stderr, "MethodNotFound in words", r.stderr)

        # The connection drops before the reply: status 3.
        server.handler = lambda conn, req: conn.close()
        r = run(ctl, sock, "list")
        t.check(r.returncode == 3 and b"connection to greeterd was lost" in r.stderr,
                "list: connection lost, status 3", r)
        r = run(ctl, sock, "tail", "--no-reconnect")
        t.check(r.returncode == 3 and b"connection to greeterd lost" in r.stderr,
                "tail --no-reconnect: status 3", r)

        # Garbage instead of JSON: status 1.
        def garbage(conn, req):
            conn.sock.sendall(b"this is not json\0")
        server.handler = garbage
        r = run(ctl, sock, "status")
        t.check(r.returncode == 1 and r.stdout == b"", "malformed reply: status 1", r)
    t.done()


if __name__ == "__main__":
    main()
