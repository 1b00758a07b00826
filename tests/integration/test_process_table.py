#!/usr/bin/env python3
"""The process table holds process_table_size processes at most, however
many live: a storm of more processes than it holds, all alive at once
(each exec'd, then held on a pipe), makes it let go of the least recently
used (processes_evicted), never grow past its size, and loses no exec
event. Every exit of the storm reported is of an exec of it, once; those
not reported are no more than the table let go of. After the storm the
table still works: a fresh process's exit is reported."""
import os
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

LIFE = os.environ.get("GREETER_LIFE", "build/tests/integration/life")
STORM = 20000
# Pids left for the rest of the machine while the storm holds its own.
PID_MARGIN = 4096


def tasks():
    return sum(len(os.listdir("/proc/%s/task" % p)) for p in os.listdir("/proc")
               if p.isdigit() and os.path.isdir("/proc/%s/task" % p))


with Daemon("process-table") as d, Marker("process-table") as m:
    d.start()
    st = d.status()
    size = st["process_table_size"]
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    with open("/proc/sys/kernel/threads-max") as f:
        threads_max = int(f.read())
    n = min(STORM, pid_max - tasks() - PID_MARGIN, threads_max - tasks() - PID_MARGIN)
    if n < size + 1024:
        skip("the machine leaves %d pids, too few to overflow a table of %d" % (n, size))
    shutil.copy(LIFE, m.path)  # the marker is the held program
    sh = os.path.join(m.dir, "greeter-sh-%d" % os.getpid())
    shutil.copy("/bin/sh", sh)
    os.chmod(sh, 0o755)
    w = Watch(d.socket, {"exits": True}, keep=lambda e: e["filename"] in (m.path, sh),
              rcvbuf=4 << 20)

    # GetStatus through the storm: the table's count, never past its size.
    seen = {"max": 0, "samples": 0}
    done = threading.Event()

    def sample():
        c = Varlink(d.socket)
        while not done.is_set():
            p = c.parameters("io.greeter.GetStatus")["counters"]["processes"]
            seen["max"] = max(seen["max"], p)
            seen["samples"] += 1
            done.wait(0.05)
        c.close()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    storm = subprocess.Popen([m.path, "storm", str(n), m.path], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        line = storm.stdout.readline()
        check(line.strip() == "held %d" % n, "%d processes exec'd and held at once (%r)" % (n, line))
        execs = lambda: [e for e in w.events if e["kind"] == "exec" and e["filename"] == m.path]  # noqa: E731
        # The storm's parent too: n + 1 execs of the marker.
        w.wait(lambda w: len(execs()) >= n + 1, "the %d execs of the storm are reported" % (n + 1))
        held = d.status()
        c = held["counters"]
        check(c["processes"] <= size,
              "while %d are held the table holds %d of %d" % (n, c["processes"], size))
        check(c["processes_evicted"] > 0,
              "the table let go of processes for room (%d evicted)" % c["processes_evicted"])
        check(c["lost_kernel"] == 0 and c["emitted"] >= n + 1,
              "no event lost in the kernel (emitted %d, lost_kernel %d)"
              % (c["emitted"], c["lost_kernel"]))
        storm.stdin.write("go\n")
        storm.stdin.flush()
        out = storm.stdout.readline()
        check(out.strip() == "ended %d" % n, "every held process exited 0 (%r)" % out)
        check(storm.wait() == 0, "the storm's parent exited 0")
    finally:
        if storm.poll() is None:
            storm.kill()
            storm.wait()
        done.set()
        sampler.join()

    try:
        # Numbered after every exit of the storm: once it is in, they all are.
        p = subprocess.Popen([sh, "-c", "exit 5"])
        p.wait()
        w.wait(lambda w: [e for e in w.events if e["pid"] == p.pid and e["kind"] == "exit"
                          and e["filename"] == sh],
               "the exit of a fresh sh -c 'exit 5' after the storm")
        fresh = [e for e in w.events if e["pid"] == p.pid and e["filename"] == sh]
        check([e["kind"] for e in fresh] == ["exec", "exit"] and fresh[1].get("exit_code") == 5
              and fresh[1]["exec_id"] == fresh[0]["exec_id"],
              "after the storm the table still works: sh -c 'exit 5' ends with exit_code 5 "
              "and its exec's id (%r)" % [(e["kind"], e.get("exit_code")) for e in fresh])
        mine = execs()
        ids = set(e["exec_id"] for e in mine)
        check(len(mine) == n + 1 and len(ids) == n + 1,
              "every exec of the storm reported once, each its own id (%d of %d)" % (len(mine), n + 1))
        exits = [e for e in w.events if e["kind"] == "exit" and e["filename"] == m.path]
        exit_ids = [e["exec_id"] for e in exits]
        check(len(set(exit_ids)) == len(exit_ids), "no exit reported twice (%d exits)" % len(exits))
        check(set(exit_ids) <= ids, "every exit is of an exec of the storm")
        st = d.status()
        c = st["counters"]
        unreported = n + 1 - len(exits)
        check(unreported <= c["processes_evicted"],
              "the exits not reported (%d of %d) are no more than the table let go of (%d)"
              % (unreported, n + 1, c["processes_evicted"]))
        check(seen["samples"] > 0 and seen["max"] <= size,
              "GetStatus never showed more than %d processes through the storm "
              "(%d at most in %d samples)" % (size, seen["max"], seen["samples"]))
        check(c["processes"] <= size and c["lost_kernel"] == 0 and w.dropped == 0,
              "after the storm: %d processes, lost_kernel %d, dropped to the watcher %d"
              % (c["processes"], c["lost_kernel"], w.dropped))
    finally:
        w.close()
