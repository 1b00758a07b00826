#!/usr/bin/env python3
"""A process's end is kept while greeterd is down: a sleep whose exec was
reported ends while greeterd is killed (kill -9); greeterd started again on
the same pins reports its exit once, with the exec's id, to a watcher that
resumes after the exec (after_seq). GetProcessChain of a process lists it
and the execs that started it (sleep, sh, bash) with their events' exec
ids; an unknown pid is io.greeter.NoSuchProcess; another user may ask for
their own process, not for root's (io.greeter.PermissionDenied)."""
import contextlib
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

NOBODY = 65534
SHELLS = ("bash", "sh", "dash", "sleep")


def unused_pid():
    with open("/proc/sys/kernel/pid_max") as f:
        top = int(f.read()) - 1
    for pid in range(top, 1, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid


with Daemon("exit-restart") as d, Marker("exit-restart") as m, contextlib.ExitStack() as stack:
    procs = []
    stack.callback(reap, procs)
    d.start()
    sleep = os.path.join(m.dir, "greeter-sleep-%d" % os.getpid())
    shutil.copy("/bin/sleep", sleep)
    os.chmod(sleep, 0o755)
    mine = lambda e: e["filename"] in (sleep, m.path)  # noqa: E731

    # The exit of a sleep that ends while greeterd is down.
    w = Watch(d.socket, {"exits": True}, keep=mine)
    stream = w.first["parameters"]["stream"]
    p = subprocess.Popen([sleep, "300"])
    procs.append(p)
    w.wait(lambda w: [e for e in w.events if e["pid"] == p.pid], "the exec of sleep 300")
    ex = w.events[0]
    w.close()
    d.kill9()
    p.kill()
    p.wait()
    d.start()
    w = Watch(d.socket, {"exits": True, "after_seq": ex["seq"], "stream": stream}, keep=mine)
    try:
        w.wait(lambda w: [e for e in w.events if e["pid"] == p.pid and e["kind"] == "exit"],
               "the exit of the sleep ended while greeterd was down")
        # Numbered after it: once this exec is in, a second report would be too.
        m.run()
        w.wait(lambda w: [e for e in w.events if e["filename"] == m.path],
               "an exec after the restart")
        exits = [e for e in w.events if e["pid"] == p.pid and e["kind"] == "exit"]
        check(len(exits) == 1, "the exit is reported once after the restart (%d)" % len(exits))
        check(exits[0]["exec_id"] == ex["exec_id"] and exits[0].get("signal") == 9,
              "with the exec's id, killed by signal 9 (%s, %s; %r)"
              % (exits[0]["exec_id"], ex["exec_id"], exits[0].get("signal")))
        check(exits[0]["seq"] > ex["seq"], "numbered after its exec")
        check(not [e for e in w.events if e["pid"] == p.pid and e["kind"] == "exec"],
              "the resumed stream starts after the exec")
    finally:
        w.close()
    # From the start of the stream: still once.
    w = Watch(d.socket, {"exits": True, "after_seq": 0, "stream": stream}, keep=mine)
    try:
        w.wait(lambda w: [e for e in w.events if e["filename"] == m.path], "a replay from seq 0")
        got = [(e["kind"], e["exec_id"]) for e in w.events if e["pid"] == p.pid]
        check(got == [("exec", ex["exec_id"]), ("exit", ex["exec_id"])],
              "a replay from the stream's start: the sleep's exec, then its exit, once (%r)" % got)
    finally:
        w.close()

    # A chain: bash runs sh, which runs sleep (no exec in place of a fork:
    # each has a command after).
    w = Watch(d.socket, {}, keep=lambda e: os.path.basename(e["filename"]) in SHELLS)
    try:
        b = subprocess.Popen(["bash", "-c", 'sh -c "sleep 30; true"; true'])
        procs.append(b)
        child = lambda ppid: [e for e in w.events if e["ppid"] == ppid]  # noqa: E731
        w.wait(lambda w: [e for e in w.events if e["pid"] == b.pid], "the exec of bash")
        w.wait(lambda w: child(b.pid), "the exec of sh under bash")
        sh_ev = child(b.pid)[0]
        w.wait(lambda w: child(sh_ev["pid"]), "the exec of sleep under sh")
        sleep_ev = child(sh_ev["pid"])[0]
        bash_ev = [e for e in w.events if e["pid"] == b.pid][0]
    finally:
        w.close()
    r = d.call("io.greeter.GetProcessChain", {"pid": sleep_ev["pid"]})
    check("error" not in r, "GetProcessChain(sleep): %r" % r.get("error"))
    chain = r["parameters"]["chain"]
    got = [(c["pid"], c["exec_id"]) for c in chain[:3]]
    want = [(e["pid"], e["exec_id"]) for e in (sleep_ev, sh_ev, bash_ev)]
    check(got == want, "the chain of sleep: sleep, sh, bash with their exec events' ids "
          "(%r; want %r)" % (got, want))
    check([os.path.basename(c["filename"]) for c in chain[:3]]
          == [os.path.basename(e["filename"]) for e in (sleep_ev, sh_ev, bash_ev)]
          and not any(c["seeded"] for c in chain[:3]),
          "their files, none seeded (%r)" % [(c["filename"], c["seeded"]) for c in chain[:3]])
    # Then this test's own process. Every greeterd's table takes every exec
    # on the host: tests running beside this one (a storm of 20,000
    # processes) may have evicted it, least recently used, and then the
    # chain goes on from the nearest ancestor still held, counted as
    # evicted.
    def ancestors(pid):
        while pid > 1:
            yield pid
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
    evicted = d.call("io.greeter.GetStatus")["parameters"]["counters"]["processes_evicted"]
    up = list(ancestors(os.getpid()))
    check(chain[3:] and (chain[3]["pid"] == os.getpid() or
                         (evicted > 0 and chain[3]["pid"] in up)),
          "then this test's own process, or with %d evicted an ancestor of it (%r; %r)"
          % (evicted, [c["pid"] for c in chain[3:4]], up))

    pid = unused_pid()
    r = d.call("io.greeter.GetProcessChain", {"pid": pid})
    check(r.get("error") == "io.greeter.NoSuchProcess"
          and r.get("parameters", {}).get("pid") == pid,
          "GetProcessChain of a pid that runs nothing: NoSuchProcess (%r)" % r)

    # Another user: root's sleep refused, its own sleep served.
    r = call_as(NOBODY, NOBODY, [], d.socket, "io.greeter.GetProcessChain", {"pid": sleep_ev["pid"]})
    check(r[0].get("error") == "io.greeter.PermissionDenied",
          "another user asking for root's process: PermissionDenied (%r)" % r[0])
    own = subprocess.Popen(setpriv(NOBODY) + ["sleep", "30"])
    procs.append(own)
    def own_uid():
        r = d.call("io.greeter.GetProcessChain", {"pid": own.pid})
        return "error" not in r and r["parameters"]["chain"][0]["uid"] == NOBODY

    # setpriv's exec (root's) first, then sleep's (the other user's).
    drive_until(own_uid, "the table holds the other user's sleep", deadline=120)
    r = call_as(NOBODY, NOBODY, [], d.socket, "io.greeter.GetProcessChain", {"pid": own.pid})
    check("error" not in r[0] and r[0]["parameters"]["chain"][0]["uid"] == NOBODY,
          "the user asking for its own process is served (%r)" % r[0])
    for pr in (sleep_ev["pid"], sh_ev["pid"]):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pr, signal.SIGKILL)
