#!/usr/bin/env python3
"""greeterctl against the real daemon: the used-by lines end to end, escaping
of hostile strings, and a tail that runs across restarts (clean and kill -9)
printing every event exactly once, in sequence order."""
import contextlib
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

def ctl(*args, **kw):
    return subprocess.run([GREETERCTL, "--socket", d.socket] + list(args),
                          capture_output=True, text=True, timeout=30, **kw)


def tail(*args):
    p = subprocess.Popen([GREETERCTL, "--socket", d.socket, "tail"] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stack.callback(reap, [p])  # a tail reconnects for ever
    return p


with Daemon("ctl") as d, Marker("ctl") as m, contextlib.ExitStack() as stack:
    if not os.access(GREETERCTL, os.X_OK):
        fail("greeterctl not built at %s" % GREETERCTL)
    d.start()
    r = ctl("set", "501", "Hi user 501!")
    check(r.returncode == 0, "greeterctl set 501 \"Hi user 501!\" (%s)" % r.stderr.strip())
    r = ctl("get", "501")
    check(r.returncode == 0 and "Hi user 501!" in r.stdout, "greeterctl get 501")
    r = ctl("set", "501", "x" * 64)
    check(r.returncode == 2 or r.returncode == 1, "too long message refused (%d)" % r.returncode)
    r = ctl("--json", "list")
    check(r.returncode == 0 and json.loads(r.stdout)["messages"][0]["uid"] == 501, "list --json")
    r = ctl("status")
    check(r.returncode == 0 and ("tracepoint" in r.stdout or "kprobe" in r.stdout), "status shows the attach mode")

    t = tail("-n", "1", "--json", "-u", "501")
    d.wait_watchers(1)
    m.run(uid=501)
    out, err = t.communicate(timeout=20)
    lines = out.decode().splitlines()
    check(t.returncode == 0 and len(lines) == 1, "tail -n 1 --json printed one line (%r)" % lines)
    ev = json.loads(lines[0])
    check(ev["uid"] == 501 and ev["message"] == "Hi user 501!", "the exec by UID 501 greeted")

    # A caller whose comm carries a terminal escape sequence.
    evil_dir = m.dir
    evil = os.path.join(evil_dir, "\x1b[31mevil")
    shutil.copy("/bin/sh", evil)
    os.chmod(evil, 0o755)
    d.wait_watchers(0)
    t = tail("-n", "1", "--comm", "\x1b[31mevil")
    d.wait_watchers(1)
    subprocess.run([evil, "-c", "exec " + m.path], check=True)
    out, err = t.communicate(timeout=20)
    check(b"\x1b" not in out, "no raw escape byte reaches the terminal")
    check(b"\\x1b[31mevil" in out, "the escape is shown escaped: %r" % out)

    # Tail across a clean restart and a kill -9, execs going on all the time.
    # stdout to a file: a pipe nobody reads would fill up and stall the tail.
    d.wait_watchers(0)
    tail_out = open(os.path.join(d.tmp, "tail.json"), "w+b")
    t = subprocess.Popen([GREETERCTL, "--socket", d.socket, "tail", "--json", "--comm", "bash"],
                         stdout=tail_out, stderr=subprocess.PIPE)
    stack.callback(reap, [t])
    d.wait_watchers(1)

    def shown():
        return [e["seq"] for e in json_lines(tail_out.name) if e.get("filename") == m.path]

    def more_shown(k):
        """Until tail has shown k more of the loop's events."""
        n = len(shown())
        drive_until(lambda: len(shown()) >= n + k, "tail shows %d more events" % k)

    load = stack.enter_context(ExecLoad(m.path))
    more_shown(10)
    d.stop()
    d.start()
    more_shown(10)
    d.kill9()
    d.start()
    more_shown(10)
    load.stop()

    # Every event greeterd printed from tail's first on reaches tail.
    def caught_up():
        got = shown()
        truth = {e["seq"] for e in m.mine(d.all_events())}
        return got and not {s for s in truth if s >= got[0]} - set(got)
    wait_for(caught_up, IDLE_TIMEOUT)
    t.terminate()
    _, err = t.communicate(timeout=20)
    check(t.returncode == 0, "tail exits 0 on SIGTERM (%s)" % t.returncode)
    tail_out.seek(0)
    out = tail_out.read()
    got = [json.loads(x)["seq"] for x in out.decode().splitlines()
           if json.loads(x).get("filename") == m.path]
    truth = sorted({e["seq"] for e in m.mine(d.all_events())})
    truth = [s for s in truth if got and got[0] <= s <= got[-1]]
    check(len(got) > 20, "tail saw %d events across the restarts" % len(got))
    check(len(got) == len(set(got)), "no event printed twice")
    check(got == sorted(got), "in sequence order")
    missing = sorted(set(truth) - set(got))
    check(not missing, "no event missed (%d missing: %s)" % (len(missing), missing[:10]))
    check(b"reconnect" in err, "tail said it reconnected: rc=%s err=%r" % (t.returncode, err[-300:]))
