#!/usr/bin/env python3
"""Upgrades under load: execs missed and reported twice per upgrade, and the
time from stopping greeterd to the next one serving, for an upgrade (another
build: its programs replace the pinned ones) beside a same-build restart.

    sudo bench/upgrade.py [--build DIR] [--upgrades N] [--abi-next] [--smoke] [--json FILE]

Two exec loops run all along; greeterctl tail --json follows the stream
across every switch. Each switch: SIGTERM, wait for the exit, start the
other build (or the same one), time until its first GetStatus answer. At
the end each exec of the loops must be in the stream exactly once. Runs
with a private --pin-dir, --state-dir and --socket. With --abi-next the
first switch is an upgrade to this source's build of the next ABI version
(greeterd-abi-next: new maps and a new ring, the old ring's events handed
on), the others restarts of it; just after the upgrade a client replays
from after_seq 0: the events served, the numbers missing from them and
those it was told were dropped. Exit status: 0, 1 when an exec was missed or reported twice
(or a replayed number went missing untold), 77 when it cannot run here.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The launcher and the client (tests/lib/greeter.py), from this clone.
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import greeter  # noqa: E402


def replay_from_0(d):
    """WatchEvents from after_seq 0 up to the stream's last number: events
    served, numbers missing between them, and dropped as told."""
    retained = d.status()["retained"]
    c = d.varlink()
    try:
        # Exits too: they take numbers of the same sequence.
        last = c.call("io.greeter.WatchEvents", {"after_seq": 0, "exits": True},
                      more=True)["parameters"]["seq"]
        seqs, dropped = [], 0
        while not seqs or seqs[-1] < last:
            p = c.recv().get("parameters", {})
            dropped += p.get("dropped", 0)
            if "event" in p:
                seqs.append(p["event"]["seq"])
    finally:
        c.close()
    missing = sum(b - a - 1 for a, b in zip(seqs, seqs[1:]))
    return {"events": len(seqs), "retained": retained, "missing": missing, "dropped": dropped}


def start(d, binary):
    """Start binary; the seconds until it answers GetStatus."""
    t0 = time.monotonic()
    d.binary = binary
    d.start()
    d.status()
    return time.monotonic() - t0


def stop(d):
    """SIGTERM and wait: the seconds it took to exit."""
    t0 = time.monotonic()
    d.stop()
    return time.monotonic() - t0


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", help="meson build directory (default: build)")
    ap.add_argument("--upgrades", type=int, default=10, help="switches of each kind")
    ap.add_argument("--abi-next", action="store_true",
                    help="the first switch an upgrade to the next ABI version, then restarts")
    ap.add_argument("--smoke", action="store_true", help="2 switches of each kind")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    build = os.path.abspath(args.build or os.path.join(HERE, "..", "build"))
    variants = os.path.join(build, "tests", "integration", "variant")
    env = os.environ.get
    args.greeterd = env("GREETERD", os.path.join(build, "daemon", "greeterd"))
    args.variant = env("GREETERD_VARIANT", os.path.join(variants, "greeterd-variant"))
    args.abi_next_binary = env("GREETERD_ABI_NEXT", os.path.join(variants, "greeterd-abi-next"))
    args.greeterctl = env("GREETERCTL", os.path.join(build, "client", "greeterctl"))
    args.switches = 2 * (2 if args.smoke else args.upgrades)
    return args


def switch(d, args):
    """The switches, an upgrade then a restart of the same build, in turn
    (with --abi-next only the first an upgrade): their figures, and the
    replay just after the ABI upgrade."""
    figures = {"upgrade": [], "restart": []}
    binary, replay = args.greeterd, None
    for i in range(args.switches):
        kind = "upgrade" if i % 2 == 0 and not (args.abi_next and i) else "restart"
        time.sleep(0.3)  # execs under the running build first
        # Before the ABI upgrade, more retained than the window's scan looks at.
        while args.abi_next and i == 0 and d.status()["retained"] < 1500:
            time.sleep(0.1)
        stop_s = stop(d)
        if kind == "upgrade" and args.abi_next:
            binary = args.abi_next_binary  # no way back: an older ABI cannot read its records
        elif kind == "upgrade":
            binary = args.variant if binary == args.greeterd else args.greeterd
        serve_s = start(d, binary)
        figures[kind].append({"stop_s": stop_s, "serve_s": serve_s})
        if args.abi_next and i == 0:
            time.sleep(0.3)  # past the window's scan of the new ring too
            replay = replay_from_0(d)
    return figures, replay


def reported(tail_path, marker, total):
    """The events of marker that greeterctl tail printed, once it has total
    of them or after two minutes, and half a second for any repeat."""
    def mine():
        with open(tail_path, "rb") as f:
            lines = f.read().decode().split("\n")[:-1]
        return [e for e in map(json.loads, lines) if e.get("filename") == marker]

    deadline = time.monotonic() + 120
    while len(mine()) < total and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # a repeat would come now
    return mine()


def run(args):
    """Exec loops and a tail across the switches: the figures."""
    d = greeter.Greeterd("bench-upgrade", binary=args.greeterd)
    marker = os.path.join(d.tmp, "greeter-bench-upgrade-mark")
    shutil.copy("/bin/true", marker)
    stopfile = os.path.join(d.tmp, "stop")
    tail_path = os.path.join(d.tmp, "tail.json")
    loops, tail = [], None
    try:
        d.start()
        with open(tail_path, "wb") as out:
            tail = subprocess.Popen([args.greeterctl, "--socket", d.socket, "tail", "--json"],
                                    stdout=out, stderr=subprocess.DEVNULL)
        while d.status()["watchers"] < 1:
            time.sleep(0.01)
        script = 'i=0; while [ ! -e "$1" ]; do "$2" || exit 1; i=$((i+1)); done; echo $i'
        loops = [subprocess.Popen(["bash", "-c", script, "load", stopfile, marker],
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
        figures, replay = switch(d, args)
        time.sleep(0.3)
        open(stopfile, "w").close()
        total = sum(int(p.communicate()[0].strip()) for p in loops)
        loops = []
        pids = [e["pid"] for e in reported(tail_path, marker, total)]
        late = d.status()["counters"]["dropped_late"]
    finally:
        if not os.path.exists(stopfile):
            open(stopfile, "w").close()
        for p in loops:
            p.communicate()
        if tail:
            tail.terminate()
            tail.wait()
        d.cleanup()
    n = args.switches
    res = {"execs": total, "upgrades": len(figures["upgrade"]), "restarts": len(figures["restart"]),
           "dropped_late": late, "missed": total - len(set(pids)), "twice": len(pids) - len(set(pids))}
    res.update(missed_per_switch=res["missed"] / n, twice_per_switch=res["twice"] / n)
    for kind in ("upgrade", "restart"):
        for k in ("stop_s", "serve_s"):
            v = [f[k] for f in figures[kind]]
            res["%s_%s_median" % (kind, k)] = statistics.median(v)
            res["%s_%s_max" % (kind, k)] = max(v)
    if replay:
        res.update(("replay_" + k, v) for k, v in replay.items())
    return res, replay


def main():
    args = parse_args()
    if os.geteuid() != 0:
        print("bench/upgrade.py: needs root (BPF)", file=sys.stderr)
        return 77
    greeter.ensure_bpffs()
    greeter.GREETERD = args.greeterd  # its --remove-pins
    res, replay = run(args)
    print("execs %d across %d upgrade(s)%s and %d same-build restarts: %d missed, %d twice "
          "(dropped_late %d since the last start)"
          % (res["execs"], res["upgrades"], " to the next ABI" if args.abi_next else "",
             res["restarts"], res["missed"], res["twice"], res["dropped_late"]))
    if replay:
        print("replay from after_seq 0: %(events)d events of %(retained)d retained, "
              "%(missing)d numbers missing between them, %(dropped)d told as dropped" % replay)
    print("| | stop (SIGTERM to exit) | start to serving | stop + start |")
    print("|---|---|---|---|")
    for kind, name in (("restart", "same-build restart"), ("upgrade", "upgrade (another build)")):
        st, sv = res[kind + "_stop_s_median"], res[kind + "_serve_s_median"]
        print("| %s | %.0f ms | %.0f ms | %.0f ms |" % (name, st * 1e3, sv * 1e3, (st + sv) * 1e3))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 1 if res["missed"] or res["twice"] or (replay and replay["missing"] != replay["dropped"]) else 0


if __name__ == "__main__":
    sys.exit(main())
