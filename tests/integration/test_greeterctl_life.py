#!/usr/bin/env python3
"""greeterctl and the whole life of a program, against the real greeterd:
tail --exits shows an exit status and a kill -9; each exec line names its
parent; greeterctl chain of a running sleep lists sh and bash under the
exec ids tail --json gave their execs; a process greeterd does not hold
gives chain's documented status (5)."""
import contextlib
import json
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

EXIT_NO_SUCH_PROCESS = 5


def ctl(*args):
    return subprocess.run([GREETERCTL, "--socket", d.socket] + list(args), capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, LC_ALL="C.UTF-8"))


def tail_to(name, *args):
    """greeterctl tail ARGS in the background, its stdout to a file (a pipe
    nobody reads would fill up); the file's path."""
    path = os.path.join(d.tmp, name)
    with open(path, "wb") as out:
        p = subprocess.Popen([GREETERCTL, "--socket", d.socket, "tail"] + list(args),
                             stdout=out, stderr=subprocess.DEVNULL,
                             env=dict(os.environ, LC_ALL="C.UTF-8"))
    stack.callback(reap, [p])
    return path


def lines_of(path):
    with open(path, "rb") as f:
        return f.read().decode().split("\n")[:-1]


def line_matching(path, pattern):
    return wait_for(lambda: next((ln for ln in lines_of(path) if re.search(pattern, ln)), None),
                    IDLE_TIMEOUT)


def event_where(what, cond):
    """The first event tail --json printed that cond() holds for."""
    ev = wait_for(lambda: next((e for e in json_lines(js) if cond(e)), None), IDLE_TIMEOUT)
    if not ev:
        fail("tail --json never showed %s" % what)
    return ev


def kill_group(p):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()


with Daemon("ctl-life") as d, contextlib.ExitStack() as stack:
    if not os.access(GREETERCTL, os.X_OK):
        fail("greeterctl not built at %s" % GREETERCTL)
    d.start()
    human = tail_to("tail.txt", "--exits")
    js = tail_to("tail.json", "--exits", "--json")
    d.wait_watchers(2)

    # An exit status.
    p = subprocess.Popen(["sh", "-c", "exit 7"])
    check(p.wait() == 7, "sh -c 'exit 7' exited with 7")
    ln = line_matching(human, r" exit  sh\[%d\] " % p.pid)
    check(ln and re.search(r" exit  sh\[%d\] status=7 after \d+\.\d{3}s$" % p.pid, ln),
          "tail --exits: sh's exit with status 7 and how long it ran: %r" % ln)
    ev = event_where("sh's exit", lambda e: e["kind"] == "exit" and e["pid"] == p.pid)
    check(ev.get("exit_code") == 7 and "signal" not in ev, "tail --json: exit_code 7: %r" % ev)
    exec_ev = event_where("sh's exec", lambda e: e["kind"] == "exec" and e["pid"] == p.pid)
    check(ev["exec_id"] == exec_ev["exec_id"], "the exit names the exec it ends")
    ln = line_matching(human, r"^\S+ +%d " % p.pid)
    check(ln and re.match(r"^\S+ +%d \S+\[%d\] " % (p.pid, os.getpid()), ln),
          "tail: the exec line names its parent, this test (pid %d): %r" % (os.getpid(), ln))

    # A kill -9, once sleep runs (its exec seen).
    p = subprocess.Popen(["sleep", "300"])
    stack.callback(reap, [p])
    event_where("sleep's exec", lambda e: e["kind"] == "exec" and e["pid"] == p.pid)
    p.kill()
    p.wait()
    ln = line_matching(human, r" exit  sleep\[%d\] " % p.pid)
    check(ln and re.search(r" exit  sleep\[%d\] killed by signal 9 after \d" % p.pid, ln)
          and "core dumped" not in ln, "tail --exits: sleep killed by signal 9: %r" % ln)
    ev = event_where("sleep's exit", lambda e: e["kind"] == "exit" and e["pid"] == p.pid)
    check(ev.get("signal") == 9 and ev.get("core_dumped") is False and "exit_code" not in ev,
          "tail --json: signal 9, no core: %r" % ev)
    gone = p.pid

    # A chain: bash starts sh, which starts sleep. The commands after them
    # ("; true") keep each shell from exec'ing its last command in place,
    # which would leave one process with one exec.
    b = subprocess.Popen(["bash", "-c", 'sh -c "sleep 300; true"; true'], start_new_session=True)
    stack.callback(kill_group, b)
    bash_ev = event_where("bash's exec", lambda e: e["kind"] == "exec" and e["pid"] == b.pid)
    sh_ev = event_where("sh's exec", lambda e: e["kind"] == "exec" and e["ppid"] == b.pid)
    sleep_ev = event_where("sleep's exec",
                           lambda e: e["kind"] == "exec" and e["ppid"] == sh_ev["pid"])
    check(os.path.basename(sleep_ev["filename"]) == "sleep" and
          os.path.basename(sh_ev["filename"]) == "sh", "bash → sh → sleep started")
    check(sh_ev.get("parent_exec_id") == bash_ev["exec_id"] and
          sleep_ev.get("parent_exec_id") == sh_ev["exec_id"],
          "each exec event names its parent's exec")

    r = ctl("--json", "chain", str(sleep_ev["pid"]))
    check(r.returncode == 0, "chain --json of sleep: status 0 (%s)" % r.stderr.strip())
    chain = json.loads(r.stdout)["chain"]
    got = [(s["pid"], s["exec_id"]) for s in chain[:3]]
    want = [(e["pid"], e["exec_id"]) for e in (sleep_ev, sh_ev, bash_ev)]
    check(got == want, "chain: sleep, sh, bash, under their exec events' ids: %r" % got)

    r = ctl("chain", str(sleep_ev["pid"]))
    out = r.stdout.splitlines()
    check(r.returncode == 0 and out and out[0].endswith("bash \u2192 sh \u2192 sleep"),
          "chain: '... → bash → sh → sleep' (%r, %s)" % (out[:1], r.stderr.strip()))
    steps = out[2:]
    for i, e in enumerate((bash_ev, sh_ev, sleep_ev)):
        s = steps[len(steps) - 3 + i].split() if len(steps) >= 3 else []
        check(s[:2] == [str(e["pid"]), os.path.basename(e["filename"])] and
              e["exec_id"] in s and "(running before greeter)" not in steps[len(steps) - 3 + i],
              "chain: the line of %s: pid, comm, its exec id: %r" % (e["filename"], s))
    check(not steps[-1].endswith("(running before greeter)"), "sleep is no seeded step")
    kill_group(b)

    # Processes greeterd does not hold: one that ended, one that cannot be.
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    for pid in (gone, pid_max):
        r = ctl("chain", str(pid))
        check(r.returncode == EXIT_NO_SUCH_PROCESS and "knows no process %d" % pid in r.stderr
              and not r.stdout, "chain %d: status %d, said why (%d, %r)"
              % (pid, EXIT_NO_SUCH_PROCESS, r.returncode, r.stderr.strip()))
