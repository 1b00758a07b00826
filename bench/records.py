"""(8) Record sizes: what greeter's events take in its ring under a
realistic load (a shell loop, a compile of this project), what the ring
holds in events, and what the arguments cost in the kernel (--no-args)."""

import os
import shutil
import statistics
import subprocess
import time

from common import greeter, kernel_cost, loadgen, log, median_index
from greeter_runs import Measured, counters, reset


SHELL_LOOP = r"""
for i in $(seq "$1"); do
    ls -l /usr/bin >/dev/null
    grep -c root /etc/passwd >/dev/null
    date +%Y-%m-%dT%H:%M:%S >/dev/null
    sed -n 's/^ID=//p' /etc/os-release >/dev/null
    env LC_ALL=C sort -u /etc/group | head -n 3 >/dev/null
    uname -r >/dev/null
    cat /proc/loadavg >/dev/null
    sh -c 'echo "$0 $1"' "an argument" "$i" >/dev/null
done
"""


# Where struct greeter_record (bpf/greeter.h, ABI 3 and 4) keeps cgroup_id: after seq and boot_ns.
RECORD_CGROUP_ID_OFFSET = 16


def ring_bytes_per_event(b, g, ring, name, args, **kw):
    """Run the command args in a cgroup v2 of its own (bench-NAME.scope, a
    unit-like name), where there is a cgroup2 mount; the ring bytes
    greeter's records took per event meanwhile: "mean" over the records
    of that cgroup (found by cgroup_id in the ring), "mean_all" over every
    record the machine made (producer position / GetStatus emitted)."""
    root, cg, cg_id = greeter.cgroup2_root(), None, None
    if root:
        cg = os.path.join(root, "bench-%s-%d.scope" % (name, os.getpid()))
        os.makedirs(cg, exist_ok=True)
        b.cleanups.append(lambda: os.path.isdir(cg) and os.rmdir(cg))
        cg_id = os.stat(cg).st_ino

    def enter():
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write("0")
    c0, p0 = counters(g), ring.producer()
    p = subprocess.run(args, preexec_fn=enter if cg else None, **kw)
    time.sleep(0.2)  # the last events are in the ring by now
    c1, p1 = counters(g), ring.producer()
    events = c1["emitted"] - c0["emitted"]
    r = {"events_all": events, "bytes_all": p1 - p0, "status": p.returncode,
         "lost_kernel": c1["lost_kernel"] - c0["lost_kernel"],
         "mean_all": (p1 - p0) / events if events > 0 else None}
    own = [taken for taken, data in ring.records(p0, p1)
           if cg_id is not None and len(data) >= RECORD_CGROUP_ID_OFFSET + 8 and
           int.from_bytes(data[RECORD_CGROUP_ID_OFFSET:RECORD_CGROUP_ID_OFFSET + 8],
                          "little") == cg_id]
    r["events"], r["bytes"] = (len(own), sum(own)) if own else (events, p1 - p0)
    r["own_cgroup"] = bool(own)
    r["mean"] = r["bytes"] / r["events"] if r["events"] else None
    if cg:
        os.rmdir(cg)
    return r


def record_size_run(b, stats, res):
    """Record sizes, then what the arguments cost, of one greeterd."""
    g = b.greeterd_of("records")
    record_sizes(b, g, res)
    args_cost(b, stats, g, res)


def record_sizes(b, g, res):
    """Mean ring record size of greeter's events (header and padding
    included: ring bytes consumed / events emitted, read from the ring's
    producer position and GetStatus) under a shell loop and a compile of
    this project, and what the ring holds in events at 16 and 32 MiB."""
    g.start()
    res["ring_size"] = g.status()["ring_size"]
    ring = greeter.PinnedRing(os.path.join(g.pin_dir, "events"), res["ring_size"])
    b.cleanups.append(ring.close)

    log("greeter: record sizes, a shell loop")
    res["shell"] = ring_bytes_per_event(b, g, ring, "shell",
                                        ["bash", "-c", SHELL_LOOP, "loop", str(b.shell_loops)])
    res["loadgen"] = ring_bytes_per_event(b, g, ring, "loadgen",
                                          [b.loadgen, "-n", str(b.n1 // 10), b.marker],
                                          stdout=subprocess.DEVNULL)
    if not b.smoke:
        # A fresh build directory of this project, set up first (not measured).
        build = os.path.join(b.work, "compile")
        log("greeter: record sizes, ninja -j2 of a fresh build of this project")
        with open(os.path.join(b.work, "compile.log"), "w") as out:
            subprocess.run(["meson", "setup", build, b.source], stdout=out, stderr=out,
                           check=True)
            # A compile that fails part way still ran its execs: the figure
            # stands, and the table says so.
            res["compile"] = ring_bytes_per_event(b, g, ring, "compile",
                                                  ["ninja", "-C", build, "-j2"],
                                                  stdout=out, stderr=out)
            res["compile"]["ninja_status"] = res["compile"]["status"]
        shutil.rmtree(build, ignore_errors=True)
    for k in ("shell", "loadgen", "compile"):
        if k in res:
            r = res[k]
            b.check(r["mean"] is not None and r["lost_kernel"] == 0 and
                    (k == "compile" or r["status"] == 0),
                    "record sizes (%s): events counted, none lost (%s)" % (k, r))
    ring.close()
    g.stop()


def args_cost(b, stats, g, res):
    """The in-kernel cost of the same programs with and without the
    arguments (greeterd --no-args), in alternating rounds: a figure taken
    minutes apart from the other moves by more than the arguments cost on
    a machine like this one."""
    log("greeter: in-kernel cost with and without --no-args, alternating")
    rounds = {"args": [], "no_args": []}
    parts_no_args = []
    for _ in range(b.rounds):
        for k, extra in (("args", []), ("no_args", ["--no-args"])):
            reset(g)
            g.extra = extra
            g.start()
            m = Measured(g)
            ids, names = m.prog_ids(), m.prog_names()
            s0 = stats.sample(ids)
            loadgen(b, n=b.n1)
            s1 = stats.sample(ids)
            ns, parts = kernel_cost(s0, s1)
            rounds[k].append(ns)
            if k == "no_args":
                parts_no_args.append({names.get(i, str(i)): v for i, v in parts.items()})
            g.stop()
    reset(g)
    res["args_rounds"] = rounds
    res["args_ns_1"] = statistics.median(rounds["args"])
    res["no_args_ns_1"] = statistics.median(rounds["no_args"])
    res["no_args_parts_1"] = parts_no_args[median_index(rounds["no_args"])]
