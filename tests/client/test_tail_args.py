#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""greeterctl tail and the fields of issue 14 (args, args_truncated, unit,
cgroup_id), against a fake greeterd: hostile arguments escaped and quoted in
the human form, the line cut to $COLUMNS with a mark, the JSON form
complete, --unit passed through, and events of an older greeterd (or of one
run with --no-args) still printed.

Usage: test_tail_args.py PATH/TO/greeterctl"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_greeterd import Checks, Served, event, legacy_event, run  # noqa: E402

ESC = b"\x1b"
LONG = "L" * 4000

# (argument, how the human form shows it)
HOSTILE = [
    ("/bin/echo", "/bin/echo"),
    ("\u001b[31mred", "\\x1b[31mred"),
    ("", '""'),
    ("two words", '"two words"'),
    ('say "hi"', '"say \\"hi\\""'),
    ('a"b', '"a\\"b"'),
    ("back\\slash", "back\\\\slash"),
    ("tab\there", "tab\\there"),
    ("new\nline", "new\\nline"),
    ("nbsp\u00a0x", '"nbsp\u00a0x"'),
    ("\u202eevil", "\\u202eevil"),
    ("\u0007bell", "\\x07bell"),
    ("caf\u00e9", "caf\u00e9"),
    ("-", "-"),
]

EVENTS = {
    # seq: the event
    6: event(6, args=[a for a, _ in HOSTILE], unit="nginx.service", cgroup_id=77),
    7: event(7, args=["/usr/bin/make", "-j2", LONG], args_truncated=True,
             unit="\u001b]0;t\u0007.service"),
    8: legacy_event(8, message="Old greeterd"),
    9: event(9, args=[], unit=""),
    10: event(10, unit="docker-0123456789abcdef0123456789abcdef0123456789abcdef.scope"),
    11: event(11, args=["x", 5, None, "y"], args_truncated=True),
    12: legacy_event(12, unit="cron.service", cgroup_id=9),  # greeterd --no-args
}


def handler(conn, req):
    if req.get("method") != "io.greeter.WatchEvents":
        conn.error("org.varlink.service.MethodNotFound", {"method": req.get("method")})
        return
    conn.reply({"seq": 5}, continues=True)
    for seq in sorted(EVENTS):
        conn.reply({"event": EVENTS[seq]}, continues=True)


def tail_lines(t, ctl, sock, env=None, *extra):
    r = run(ctl, sock, "tail", "-n", str(len(EVENTS)), *extra, env=env)
    t.check(r.returncode == 0, "tail: status 0 %s" % (env or ""), r.stderr)
    t.check(ESC not in r.stdout and b"\x07" not in r.stdout,
            "tail: no raw ESC or BEL on stdout %s" % (env or ""), r.stdout)
    lines = r.stdout.decode().splitlines()
    t.check(len(lines) == 1 + len(EVENTS), "tail: header and one line per event", lines)
    return lines


def main():
    ctl = sys.argv[1]
    t = Checks()
    with Served(handler) as (server, sock):

        # A pipe, no $COLUMNS: whole lines.
        lines = tail_lines(t, ctl, sock)
        if len(lines) == 1 + len(EVENTS):
            head = lines[0]
            t.check(head.split() == ["TIME", "PID", "PARENT", "USER", "UNIT", "COMM",
                                     "FILENAME", "MESSAGE", "ARGS"],
                    "header names PARENT, UNIT and ARGS", head)
            col_args, col_unit = head.index("ARGS"), head.index("UNIT")
            line = {seq: lines[i + 1] for i, seq in enumerate(sorted(EVENTS))}

            want = " ".join(shown for _, shown in HOSTILE)
            t.check(line[6][col_args:] == want, "args escaped and quoted, exactly",
                    "%r\n  want %r" % (line[6][col_args:], want))
            t.check(line[6][col_unit:].startswith("nginx.service "), "the unit in its column",
                    line[6])
            t.check(line[6].split()[1:4] == ["1006", "-", "root"],
                    "pid, parent and user before it", line[6])

            t.check(line[7][col_args:] == "/usr/bin/make -j2 " + LONG + " [truncated]",
                    "a long argument whole in a pipe; args_truncated marked", line[7][:200])
            t.check(line[7][col_unit:].startswith("\\x1b]0;t\\x07.service "),
                    "a hostile unit escaped", line[7])

            t.check(line[8].endswith("Old greeterd") and len(line[8]) < col_args and
                    line[8][col_unit:].startswith("- "),
                    "an event without args or unit: '-', nothing after the message", line[8])
            t.check(line[9].endswith("Hello World") and line[9][col_unit:].startswith("- "),
                    "empty args and unit: nothing, '-'", line[9])
            t.check(line[10][col_unit:].startswith("docker-0123456789ab\u2026 "),
                    "a long unit cut to its column with a mark", line[10])
            t.check(line[10][col_args:] == "/usr/bin/true --version", "the columns stay aligned",
                    line[10])
            t.check(line[11][col_args:] == "x ? ? y [truncated]",
                    "arguments that are not strings shown as ?", line[11])
            t.check(line[12][col_unit:].startswith("cron.service ") and
                    line[12].endswith("Hello World"), "--no-args: the unit, no args", line[12])

        # $COLUMNS: every line with arguments fits, ending in the mark (the
        # columns before ARGS take 146).
        for cols in (171, 221):
            lines = tail_lines(t, ctl, sock, {"COLUMNS": str(cols)})
            for ln in lines[1:]:
                t.check(len(ln) <= cols, "COLUMNS=%d: the line fits" % cols, (len(ln), ln))
            if len(lines) == 1 + len(EVENTS):
                long7 = lines[2]
                t.check(len(long7) == cols and long7.endswith("\u2026"),
                        "COLUMNS=%d: a long command line cut with '\u2026'" % cols, long7)
                t.check(lines[1].endswith("\u2026") and '\\x1b[31mred ""' in lines[1],
                        "COLUMNS=%d: the start of the hostile args kept" % cols, lines[1])
                t.check(lines[5].endswith("/usr/bin/true --version"),
                        "COLUMNS=%d: short args not cut" % cols, lines[5])
        # Narrower than the columns before ARGS: still the start of the arguments.
        lines = tail_lines(t, ctl, sock, {"COLUMNS": "80"})
        if len(lines) > 2:
            args = lines[2][lines[0].index("ARGS"):]
            t.check(args == "/usr/bin/make -\u2026", "COLUMNS=80: 16 columns of arguments",
                    args)
        # Not a UTF-8 locale: an ASCII mark.
        lines = tail_lines(t, ctl, sock, {"COLUMNS": "171", "LC_ALL": "C"})
        if len(lines) > 2:
            t.check(lines[2].endswith("...") and len(lines[2].encode()) == 171,
                    "LC_ALL=C: cut with '...'", lines[2])

        # --json: the events whole, as sent.
        r = run(ctl, sock, "tail", "-n", str(len(EVENTS)), "--json")
        t.check(r.returncode == 0 and ESC not in r.stdout, "tail --json: status 0, no raw ESC",
                r.stderr)
        got = [json.loads(ln) for ln in r.stdout.splitlines()]
        t.check(got == [EVENTS[s] for s in sorted(EVENTS)],
                "tail --json: every event complete (args, args_truncated, unit, cgroup_id)",
                got[:2])
        if got:
            t.check(got[0]["args"] == [a for a, _ in HOSTILE] and got[0]["cgroup_id"] == 77,
                    "tail --json: args exact", got[0])

        # --unit goes to WatchEvents as unit, exactly.
        for unit in ("nginx.service", "session-3.scope", "we\u001bird unit.service"):
            r = run(ctl, sock, "tail", "-n", "1", "--unit", unit)
            req = server.requests_for("io.greeter.WatchEvents")[-1][1]
            t.check(r.returncode == 0 and req.get("parameters") == {"unit": unit},
                    "--unit %r sent as unit" % unit, req)
        r = run(ctl, sock, "tail", "-n", "1", "--unit", "a.service", "--comm", "bash", "-u", "0")
        req = server.requests_for("io.greeter.WatchEvents")[-1][1]
        t.check(req.get("parameters") == {"unit": "a.service", "comm": "bash", "uid": 0},
                "--unit with the other filters", req)
        n = len(server.requests_for("io.greeter.WatchEvents"))
        for bad in ("", "a/b.service", "u" * 64):
            r = run(ctl, sock, "tail", "--unit", bad)
            t.check(r.returncode == 2 and b"--unit takes a unit name" in r.stderr,
                    "--unit %r refused, status 2" % bad[:20], r)
        r = run(ctl, sock, "tail", "-n", "1", "--unit", "u" * 63)
        t.check(r.returncode == 0, "--unit of 63 bytes taken", r.stderr)
        r = run(ctl, sock, "list", "--unit", "a.service")
        t.check(r.returncode == 2 and b"--unit is an option of tail" in r.stderr,
                "--unit only for tail", r.stderr)
        t.check(len(server.requests_for("io.greeter.WatchEvents")) == n + 1,
                "nothing sent for a refused --unit")

        r = run(ctl, sock, "tail", "--help")
        for word in (b"--unit NAME", b"UNIT", b"ARGS", b"[truncated]"):
            t.check(word in r.stdout, "tail --help mentions %s" % word.decode(), r.stdout)
    t.done()


if __name__ == "__main__":
    main()
