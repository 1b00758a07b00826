#!/usr/bin/env python3
"""Each exec's arguments, exact and bounded, and its unit (the leaf of its
cgroup v2 path) and cgroup id: in WatchEvents (with the unit filter), in
--print-events, in the ring records themselves; --no-args collects none."""
import contextlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

ARGS_SIZE = 1024  # bpf/greeter.h GREETER_ARGS_SIZE
ARGS_MAX = 128  # GREETER_ARGS_MAX


class Watch:
    """A WatchEvents call from after_seq 0, collecting our events."""

    def __init__(self, d, params=None):
        self.c = d.varlink()
        p = {"after_seq": 0}
        p.update(params or {})
        self.first = self.c.call("io.greeter.WatchEvents", p, more=True)
        self.events = []

    def until(self, pred, timeout=10):
        import socket as _s
        self.c.sock.settimeout(0.2)
        deadline = time.time() + timeout
        while time.time() < deadline and not pred(self.events):
            try:
                r = self.c.recv()
            except _s.timeout:
                continue
            ev = r.get("parameters", {}).get("event")
            if ev:
                self.events.append(ev)
        return pred(self.events)

    def close(self):
        self.c.close()


def run(path, args, cgroup=None, cpu=None):
    """Exec path with exactly args (bytes or str) after argv[0], in cgroup
    if given, on CPU cpu only if given."""
    argv = [path] + list(args)

    def before_exec():
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        # Move the child into the cgroup before it execs the program.
        if cgroup is not None:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
    subprocess.run(argv, check=True, preexec_fn=before_exec)


root = cgroup2_root()
cg = os.path.join(root, "greeter-test-%d.scope" % os.getpid()) if root else None
with Daemon("args", extra=["--report-failed"]) as d, Marker("args") as m, \
        contextlib.ExitStack() as stack:
    d.start()
    w = Watch(d, {"include_failed": True})

    def mine_with(pred):
        return lambda evs: [e for e in evs if e["filename"] == m.path and pred(e)]

    # Exact: empty strings and spaces kept, order kept.
    exact = ["", "a b", " lead", "trail ", "", 'say "hi"', "back\\slash", "tab\there", "x"]
    run(m.path, exact)
    got = w.until(mine_with(lambda e: e.get("args") == [m.path] + exact))
    check(got, "arguments exact in WatchEvents (empty strings, spaces, quotes)")
    ev = got[0]
    check(ev["args_truncated"] is False, "not truncated")
    line = wait_for(lambda: [e for e in d.events() if e["seq"] == ev["seq"]])
    check(line and line[0]["args"] is not None, "--print-events has args=")
    expect_line = [a.replace("\\", "\\\\").replace("\t", "\\t") for a in [m.path] + exact]
    check(line[0]["args"] == expect_line,
          "--print-events arguments split back exactly (%r)" % line[0]["args"])

    # 30 arguments: within the bound. ARGS_MAX + 12: cut at the bound.
    run(m.path, ["n%d" % i for i in range(30)])
    run(m.path, ["c%d" % i for i in range(ARGS_MAX + 12)])
    got = w.until(mine_with(lambda e: e["args"][1:2] == ["n0"]))
    check(got and len(got[0]["args"]) == 31 and not got[0]["args_truncated"],
          "30 arguments arrive whole")
    got = w.until(mine_with(lambda e: e["args"][1:2] == ["c0"]))
    check(got and len(got[0]["args"]) == ARGS_MAX and got[0]["args_truncated"],
          "%d arguments cut at %d, args_truncated" % (ARGS_MAX + 12, ARGS_MAX))
    check(got[0]["args"] == ([m.path] + ["c%d" % i for i in range(ARGS_MAX + 12)])[:ARGS_MAX],
          "the first %d kept, in order" % ARGS_MAX)
    line = wait_for(lambda: [e for e in d.events() if e["seq"] == got[0]["seq"]])
    check(line and line[0]["args_truncated"], "--print-events marks the cut (args_truncated)")

    # Long arguments: cut by bytes, at ARGS_SIZE bytes with their NULs.
    long_args = ["L" * 600, "M" * 600, "N" * 10]
    run(m.path, long_args)
    got = w.until(mine_with(lambda e: e["args"][1:2] == ["L" * 600]))
    check(got and got[0]["args_truncated"], "long arguments: args_truncated")
    kept = "\0".join(got[0]["args"])
    full = "\0".join([m.path] + long_args)
    check(len(kept) == ARGS_SIZE and full.startswith(kept),
          "cut after %d bytes, a prefix of the command line (%d)" % (ARGS_SIZE, len(kept)))

    # Bytes that are not UTF-8: U+FFFD in JSON, \xHH on --print-events.
    run(m.path, [b"\xff\xfe ok", b"caf\xc3\xa9"])
    got = w.until(mine_with(lambda e: len(e["args"]) == 3 and e["args"][2] == "caf\u00e9"))
    check(got and got[0]["args"][1] == "\ufffd\ufffd ok", "invalid UTF-8 replaced in JSON (%r)"
          % (got and got[0]["args"]))
    line = wait_for(lambda: [e for e in d.events() if e["seq"] == got[0]["seq"]])
    check(line and line[0]["args"][1:] == ["\\xff\\xfe ok", "caf\u00e9"],
          "--print-events escapes them (%r)" % (line and line[0]["args"]))

    # A path longer than the 255 bytes kept: cut there, a prefix of it; the comm is the caller's.
    deep = m.dir
    while len(deep) < 300:
        deep = os.path.join(deep, "d" * 40)
    os.makedirs(deep)
    long_path = os.path.join(deep, "greeter-long-path")
    shutil.copy(m.path, long_path)
    subprocess.run([long_path, "long"], check=True)
    got = w.until(lambda evs: [e for e in evs if e.get("args", [])[1:] == ["long"]
                               and long_path.startswith(e["filename"])])
    caller = open("/proc/self/comm").read().rstrip("\n")
    check(got and len(got[0]["filename"]) == 255 and got[0]["comm"] == caller,
          "a filename of %d bytes is cut at 255, a prefix of it (%r)"
          % (len(long_path), got and (len(got[0]["filename"]), got[0]["comm"])))

    # The ring record holds the arguments as the kernel read them, compact.
    ring = d.call("io.greeter.GetStatus")["parameters"]["ring_size"]
    recs = [parse_record(r) for r in ring_records(d.pin_dir, ring)]
    ours = [r for r in recs if r["filename"] == m.path.encode() and r["args"].startswith(
        m.path.encode() + b"\0\0a b\0")]
    check(ours and ours[0]["args"] == b"\0".join([m.path.encode()] + [a.encode() for a in exact]) + b"\0",
          "the ring record holds argv as the kernel has it")
    check(ours[0]["size"] - ours[0]["used"] < 128,
          "the record is its strings' size, rounded up to a class (%d for %d)"
          % (ours[0]["size"], ours[0]["used"]))

    # A failed attempt: the caller's unit, no arguments.
    subprocess.run(["env", "PATH=/nonexistent-greeter-args:" + m.dir, os.path.basename(m.path),
                    "fa"], check=True)
    got = w.until(lambda evs: [e for e in evs if "error" in e
                               and e["filename"].startswith("/nonexistent-greeter-args/")])
    check(got and "args" not in got[0] and got[0]["args_truncated"] is False and "unit" in got[0],
          "a failed attempt carries no arguments, and the unit")
    w.close()

    # Unit and cgroup id of a process in a cgroup of its own.
    if not cg:
        check(True, "# no cgroup v2 mounted: unit checks skipped")
    else:
        os.mkdir(cg)
        stack.callback(os.rmdir, cg)
        ino = os.stat(cg).st_ino
        name = os.path.basename(cg)
        uw = Watch(d, {"unit": name})
        run(m.path, ["in-unit"], cgroup=cg)
        run(m.path, ["outside"])
        got = uw.until(mine_with(lambda e: e["args"][1:] == ["in-unit"]))
        check(got and got[0]["unit"] == name, "unit is the cgroup's leaf name (%s)" % name)
        check(got[0]["cgroup_id"] == ino, "cgroup_id is the cgroup directory's inode (%d)" % ino)
        time.sleep(0.3)
        uw.until(lambda evs: False, timeout=0.5)
        check(all(e["unit"] == name for e in uw.events),
              "the unit filter passes only that unit's events (%d)" % len(uw.events))
        line = wait_for(lambda: [e for e in d.events() if e["seq"] == got[0]["seq"]])
        check(line and line[0]["unit"] == name, "--print-events has unit=")
        uw.close()
        # Execs from different cgroups in turn on one CPU: the kernel keeps
        # the unit it read last on each CPU, and must read again each time.
        cg2 = cg[:-len(".scope")] + "-b.service"
        os.mkdir(cg2)
        tw = Watch(d)
        try:
            ino2, name2 = os.stat(cg2).st_ino, os.path.basename(cg2)
            own = open("/proc/self/cgroup").read().strip().split("::", 1)[-1]
            own_name = os.path.basename(own) if own != "/" else ""
            own_id = os.stat(os.path.join(root, own.lstrip("/"))).st_ino
            turns = [(cg, name, ino), (cg, name, ino), (cg2, name2, ino2),
                     (None, own_name, own_id), (cg, name, ino), (cg2, name2, ino2),
                     (None, own_name, own_id)]
            for i, (where, _, _) in enumerate(turns):
                run(m.path, ["turn-%d" % i], cgroup=where, cpu=0)

            def turned(evs):
                return {e["args"][1]: e for e in evs if e["filename"] == m.path and
                        len(e.get("args", [])) == 2 and e["args"][1].startswith("turn-")}
            tw.until(lambda evs: len(turned(evs)) >= len(turns))
            by_turn = turned(tw.events)
            for i, (where, want, want_id) in enumerate(turns):
                e = by_turn.get("turn-%d" % i)
                check(e is not None and e["unit"] == want and e["cgroup_id"] == want_id,
                      "turn %d on CPU 0: unit %r, cgroup id %s (got %s)" % (
                          i, want, want_id, e and (e["unit"], e["cgroup_id"])))
        finally:
            tw.close()
            os.rmdir(cg2)

        # Combined with another filter by AND.
        aw = Watch(d, {"unit": name, "uid": 4242})
        aw.until(lambda evs: False, timeout=0.5)
        check(not aw.events, "unit and uid filters combine by AND")
        aw.close()
        c = d.varlink()
        r = c.call("io.greeter.WatchEvents", {"unit": "u" * 64}, more=True)
        c.close()
        check(r.get("error") == "org.varlink.service.InvalidParameter",
              "a unit longer than the kernel keeps is an invalid parameter")

    # --no-args: the kernel reads no arguments, events carry none.
    d.stop()
    d.extra = ["--no-args"]
    d.start()
    w = Watch(d)
    run(m.path, ["secret-" + "S" * 500])
    got = w.until(lambda evs: [e for e in evs if e["filename"] == m.path
                               and e["seq"] > ev["seq"] and "unit" in e and "args" not in e])
    check(got and got[-1]["args_truncated"] is False, "--no-args: no args field")
    recs = [parse_record(r) for r in ring_records(d.pin_dir, ring)]
    ours = [r for r in recs if r["seq"] == got[-1]["seq"]]
    check(ours and ours[0]["args"] == b"" and not ours[0]["flags"] & 4 and ours[0]["size"] < 256,
          "--no-args: the record holds no argument bytes (%d bytes)" % (ours and ours[0]["size"]))
    line = wait_for(lambda: [e for e in d.events() if e["seq"] == got[-1]["seq"]])
    check(line and line[0]["args"] is None and "secret" not in open(d.out_path).read(),
          "--no-args: no args= on --print-events")
    w.close()
