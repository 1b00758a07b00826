#!/usr/bin/env python3
"""Each process whose exec greeter saw has its end reported once, to a
watcher that asks for exits (WatchEvents exits: true) and to no other: the
exit code or the fatal signal the parent sees, how long the program ran,
and the exec_id of the exec it ends (the last one, for a process that
exec'd twice). A process of many threads ends once, whichever thread is
last; a thread other than the leader that execs leaves one process, which
ends as the new program. 10,000 short programs in a row: 10,000 execs and
10,000 exits, matched one to one by exec_id."""
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

LIFE = os.environ.get("GREETER_LIFE", "build/tests/integration/life")
LOOPS = 10000


class Ours:
    """The events of our processes: those of a program in the marker's
    directory, and every later one of their pids (an exec without a copy
    there: sh's exec of id). Kept in the order they come, so a pid is
    known before its next exec or its exit arrives."""

    def __init__(self, marker_dir):
        self.dir = marker_dir + "/"
        self.pids = set()

    def __call__(self, e):
        if e["filename"].startswith(self.dir):
            self.pids.add(e["pid"])
            return True
        return e["pid"] in self.pids


def copy(marker, program, name):
    path = os.path.join(marker.dir, "greeter-%s-%d" % (name, os.getpid()))
    shutil.copy(program, path)
    os.chmod(path, 0o755)
    return path


def of(w, pid, kind=None):
    return [e for e in w.events if e["pid"] == pid and (kind is None or e["kind"] == kind)]


def ended(w, pid):
    """The events of pid once its exit has come: the exit is its last."""
    w.wait(lambda w: of(w, pid, "exit"), "the exit of pid %d is reported" % pid)
    return of(w, pid)


def one_exit(w, pid, what):
    evs = ended(w, pid)
    execs = [e for e in evs if e["kind"] == "exec"]
    exits = [e for e in evs if e["kind"] == "exit"]
    check(len(exits) == 1, "%s: one exit (%d)" % (what, len(exits)))
    check(execs and exits[0]["exec_id"] == execs[-1]["exec_id"],
          "%s: the exit carries its exec's id (%s; execs %s)"
          % (what, exits[0].get("exec_id"), [e["exec_id"] for e in execs]))
    return execs, exits[0]


with Daemon("exits") as d, Marker("exits") as m:
    d.start()
    sh = copy(m, "/bin/sh", "sh")
    sleep = copy(m, "/bin/sleep", "sleep")
    life = copy(m, LIFE, "life")
    ours = Ours(m.dir)
    w = Watch(d.socket, {"exits": True}, keep=ours, rcvbuf=4 << 20)
    plain = Watch(d.socket, {}, keep=Ours(m.dir), rcvbuf=4 << 20)
    try:
        p = subprocess.Popen([sh, "-c", "exit 7"])
        p.wait()
        _, e = one_exit(w, p.pid, "sh -c 'exit 7'")
        check(e.get("exit_code") == 7 and "signal" not in e,
              "sh -c 'exit 7': exit_code 7 (%r)" % e)

        p = subprocess.Popen([sleep, "300"])
        w.wait(lambda w: of(w, p.pid, "exec"), "the exec of sleep 300 is reported")
        p.kill()
        p.wait()
        _, e = one_exit(w, p.pid, "sleep 300 killed")
        check(e.get("signal") == 9 and e.get("core_dumped") is False and "exit_code" not in e,
              "sleep 300 killed with SIGKILL: signal 9, no core (%r)" % e)

        p = subprocess.Popen([sleep, "1"])
        p.wait()
        _, e = one_exit(w, p.pid, "sleep 1")
        check(e.get("exit_code") == 0 and e["duration_usec"] >= 1000000,
              "sleep 1: exit_code 0, ran 1 s at least (%d us)" % e["duration_usec"])

        p = subprocess.Popen([sh, "-c", "exec id"], stdout=subprocess.DEVNULL)
        p.wait()
        execs, e = one_exit(w, p.pid, "sh -c 'exec id'")
        check(len(execs) == 2 and execs[1]["filename"].endswith("/id")
              and execs[0]["exec_id"] != execs[1]["exec_id"],
              "sh -c 'exec id': two execs, two ids (%r)"
              % [(x["filename"], x["exec_id"]) for x in execs])
        check(e["filename"].endswith("/id") and e.get("exit_code") == 0,
              "sh -c 'exec id' ends as id, exit_code 0 (%s, %r)" % (e["filename"], e.get("exit_code")))

        p = subprocess.Popen([life, "threads", "64", "3"])
        check(p.wait() == 3, "the 64-thread program exited 3")
        _, e = one_exit(w, p.pid, "64 threads, exit(3) from the main thread")
        check(e.get("exit_code") == 3, "64 threads: exit_code 3 (%r)" % e)

        p = subprocess.Popen([life, "thread-exec", "/bin/sh", "-c", "exit 4"])
        check(p.wait() == 4, "the program a non-leader thread exec'd exited 4")
        execs, e = one_exit(w, p.pid, "a non-leader thread's exec")
        check(len(execs) == 2 and execs[1]["filename"] == "/bin/sh",
              "a non-leader thread's exec: the process's second exec is sh's (%r)"
              % [x["filename"] for x in execs])
        check(e.get("exit_code") == 4 and e["filename"] == "/bin/sh",
              "a non-leader thread's exec ends as the new program, exit_code 4 (%s, %r)"
              % (e["filename"], e.get("exit_code")))

        # 10,000 short programs, each fork + exec of a copy of true.
        loop_start = len(w.events)
        p = subprocess.Popen([life, "loop", str(LOOPS), m.path])
        check(p.wait() == 0, "%d runs of %s, each exit 0" % (LOOPS, os.path.basename(m.path)))
        mine = lambda evs, kind: [e for e in evs if e["filename"] == m.path and e["kind"] == kind]  # noqa: E731
        w.wait(lambda w: len(mine(w.events, "exit")) >= LOOPS,
               "the exits of %d short programs are reported" % LOOPS)
        # The last exec's exit is in: a second look finds no more.
        m.run()
        w.wait(lambda w: len(mine(w.events, "exit")) >= LOOPS + 1, "the exit after the loop")
        execs = mine(w.events[loop_start:], "exec")
        exits = mine(w.events[loop_start:], "exit")
        st = d.status()["counters"]
        check(len(execs) == LOOPS + 1 and len(exits) == LOOPS + 1,
              "%d execs and %d exits of the loop (+1 after): %d execs, %d exits "
              "(lost_kernel %d, dropped to the watcher %d)"
              % (LOOPS, LOOPS, len(execs) - 1, len(exits) - 1, st["lost_kernel"], w.dropped))
        ids = [e["exec_id"] for e in execs]
        exit_ids = [e["exec_id"] for e in exits]
        check(len(set(ids)) == len(ids), "every exec of the loop has an id of its own")
        check(len(set(exit_ids)) == len(exit_ids), "no exit reported twice")
        check(set(ids) == set(exit_ids), "the exits match the execs one to one by exec_id "
              "(%d execs without an exit, %d exits without an exec)"
              % (len(set(ids) - set(exit_ids)), len(set(exit_ids) - set(ids))))
        check(all(e.get("exit_code") == 0 for e in exits), "each exit of true: exit_code 0")

        # The watcher that did not ask for exits saw the same execs, no exit.
        plain.wait(lambda w: len([e for e in w.events if e["filename"] == m.path]) >= LOOPS + 1,
                   "the watcher without exits sees the loop's execs")
        check(not [e for e in plain.events if e["kind"] == "exit"],
              "a watcher that did not ask for exits saw none (%d execs of ours)" % len(plain.events))
        check(st["exits"] >= len([e for e in w.events if e["kind"] == "exit"]),
              "the exits counter counts them (%d)" % st["exits"])
    finally:
        w.close()
        plain.close()
