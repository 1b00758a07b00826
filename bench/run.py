#!/usr/bin/env python3
"""greeter's bench: greeter against bpftrace, execsnoop and a minimal libbpf program.

One command, one run, every figure beside the comparison programs' figures
from the same run (see bench/README.md):

    sudo bench/run.py [--build DIR] [--no-bpftrace] [--no-execsnoop] [--markdown FILE]
                      [--json FILE]
    sudo bench/run.py --smoke          # tiny figures, greeter and the reference only

Each tool runs alone in turn (greeter, the reference, bpftrace, execsnoop), doing: start-up
times, in-kernel cost per exec at one loop and at the maximum rate (a held
BPF_ENABLE_STATS fd, see stats_hold.c), delivery, a 5 s SIGSTOP during a storm,
and for greeterd the API, resident memory and the size of its ring records
under a shell loop and a compile. greeterd always runs with a
private --pin-dir, --state-dir and --socket: a greeterd running on the
machine is never touched. Exit status: 0, 1 when a correctness check failed
(events lost, errors), 77 when the bench cannot run here.

The measures live beside this file: greeter_runs.py (greeter's own),
peers.py (the reference, bpftrace, execsnoop), records.py (ring record
sizes), report.py (the table and the targets), common.py (what they share;
greeterd through tests/lib/greeter.py).
"""

import argparse
import json
import os
import shutil
import signal
import sys
import time

from common import SKIP, Bench, StatsHold, loadgen, log
from greeter_runs import greeter_run, hostile_run
from peers import LineTool, execsnoop_run, line_tool_run
from records import record_size_run
from report import report


def machine():
    u = os.uname()
    return "%s, %d CPUs, kernel %s, %s, load average %.2f at the start" % (
        u.nodename, os.cpu_count(), u.release, time.strftime("%Y-%m-%d %H:%M %Z"),
        os.getloadavg()[0])


def on_term(signum, frame):
    # SIGTERM (meson's timeout) cleans up like Ctrl-C does.
    raise KeyboardInterrupt


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny figures; greeter and reference")
    ap.add_argument("--build", help="meson build directory (default: build)")
    ap.add_argument("--no-bpftrace", action="store_true", help="leave bpftrace out")
    ap.add_argument("--bpftrace", action="store_true", help="with --smoke: run bpftrace too")
    ap.add_argument("--no-execsnoop", action="store_true", help="leave execsnoop out")
    ap.add_argument("--execsnoop", action="store_true", help="with --smoke: run execsnoop too")
    ap.add_argument("--markdown", help="also write the table to this file")
    ap.add_argument("--json", help="write every figure to this file")
    args = ap.parse_args()
    args.use_bpftrace = not args.no_bpftrace and (not args.smoke or args.bpftrace)
    args.use_execsnoop = not args.no_execsnoop and (not args.smoke or args.execsnoop)
    return args


def cannot_run(args):
    """Why the bench cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root to load BPF programs"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "the kernel has no BTF"
    if args.use_bpftrace and not shutil.which("bpftrace"):
        return "bpftrace is missing (apt-get install bpftrace), or pass --no-bpftrace"
    execsnoop = os.environ.get("BENCH_EXECSNOOP", shutil.which("execsnoop") or "/usr/sbin/execsnoop")
    if args.use_execsnoop and not os.access(execsnoop, os.X_OK):
        return "execsnoop is missing (apt-get install libbpf-tools), or pass --no-execsnoop"
    return None


def run_all(b, args, res):
    """Each tool alone in turn: the figures into res."""
    stats = StatsHold(b)
    log("baseline exec rate, no tool")
    res["baseline"] = {"rate_1": loadgen(b, n=b.n1)["rate"],
                       "rate_2": loadgen(b, n=b.n2, workers=2)["rate"]}
    log("greeter")
    res["greeter"] = {}
    greeter_run(b, stats, res["greeter"])
    log("reference")
    res["reference"] = {}
    line_tool_run(b, stats, LineTool(b, "reference", [b.reference],
                                     time.CLOCK_BOOTTIME), res["reference"])
    b.check(res["reference"]["lost_max_rate"] == 0, "reference: no event lost")
    if args.use_bpftrace:
        log("bpftrace")
        res["bpftrace"] = {}
        line_tool_run(b, stats, LineTool(b, "bpftrace", ["bpftrace", b.greeter_bt],
                                         time.CLOCK_MONOTONIC), res["bpftrace"])
    if args.use_execsnoop:
        log("execsnoop")
        res["execsnoop"] = {}
        execsnoop_run(b, stats, res["execsnoop"])
    if not args.smoke:
        log("greeter: API latency under hostile clients")
        res["hostile"] = {}
        hostile_run(b, res["hostile"])
    log("greeter: record sizes")
    res["records"] = {}
    record_size_run(b, stats, res["records"])


def main():
    args = parse_args()
    why = cannot_run(args)
    if why:
        print("SKIP: " + why)
        return SKIP
    b = Bench(args)
    signal.signal(signal.SIGTERM, on_term)
    res = {"machine": machine()}
    t_start = time.monotonic()
    try:
        run_all(b, args, res)
        res["seconds"] = time.monotonic() - t_start
        res["load_end"] = os.getloadavg()[0]
        table = report(b, res)
        print(table)
        print("\n%.0f s; load average %.2f at the end" % (res["seconds"], res["load_end"]))
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(table + "\n")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=1, default=str)
    finally:
        b.cleanup()
    if b.failures:
        print("FAILED: " + "; ".join(b.failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
