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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def call(path, method, params=None, timeout=30):
    """One varlink call; its reply, or None when nobody answers yet."""
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
    except OSError:
        return None
    with s:
        s.sendall(json.dumps({"method": method, "parameters": params or {}}).encode() + b"\0")
        buf = b""
        while not buf.endswith(b"\0"):
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
    return json.loads(buf[:-1])


def replay_from_0(path):
    """WatchEvents from after_seq 0 up to the stream's last number: events
    served, numbers missing between them, and dropped as told."""
    retained = call(path, "io.greeter.GetStatus")["parameters"]["retained"]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(path)
    with s:
        s.sendall(json.dumps({"method": "io.greeter.WatchEvents",
                              "parameters": {"after_seq": 0}, "more": True}).encode() + b"\0")
        buf, seqs, dropped, last = b"", [], 0, None
        while last is None or not seqs or seqs[-1] < last:
            while b"\0" not in buf:
                chunk = s.recv(1 << 16)
                if not chunk:
                    raise RuntimeError("greeterd closed the replay")
                buf += chunk
            msg, buf = buf.split(b"\0", 1)
            p = json.loads(msg).get("parameters", {})
            if last is None:
                last = p["seq"]
            elif "dropped" in p:
                dropped += p["dropped"]
            if "event" in p:
                seqs.append(p["event"]["seq"])
    missing = sum(b - a - 1 for a, b in zip(seqs, seqs[1:]))
    return {"events": len(seqs), "retained": retained, "missing": missing, "dropped": dropped}


class Greeterd:
    def __init__(self, tmp, pin_dir):
        self.tmp, self.pin_dir = tmp, pin_dir
        self.socket = os.path.join(tmp, "greeter.sock")
        self.proc = None

    def start(self, binary):
        """Start binary; the seconds until it answers GetStatus."""
        t0 = time.monotonic()
        log = open(os.path.join(self.tmp, "greeterd.log"), "a")
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "LISTEN_FDS", "STATE_DIRECTORY", "CACHE_DIRECTORY")}
        self.proc = subprocess.Popen(
            [binary, "--pin-dir", self.pin_dir, "--state-dir", os.path.join(self.tmp, "state"),
             "--cache-dir", os.path.join(self.tmp, "cache"), "--socket", self.socket],
            stdout=subprocess.DEVNULL, stderr=log, env=env)
        while True:
            if self.proc.poll() is not None:
                sys.exit("greeterd exited with %d; see %s" % (self.proc.returncode, log.name))
            r = call(self.socket, "io.greeter.GetStatus", timeout=5)
            if r and "parameters" in r:
                return time.monotonic() - t0
            time.sleep(0.001)

    def stop(self):
        """SIGTERM and wait: the seconds it took to exit."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", help="meson build directory (default: build)")
    ap.add_argument("--upgrades", type=int, default=10, help="switches of each kind")
    ap.add_argument("--abi-next", action="store_true",
                    help="the first switch an upgrade to the next ABI version, then restarts")
    ap.add_argument("--smoke", action="store_true", help="2 switches of each kind")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    build = os.path.abspath(args.build or os.path.join(HERE, "..", "build"))
    greeterd = os.environ.get("GREETERD", os.path.join(build, "daemon", "greeterd"))
    variant = os.environ.get("GREETERD_VARIANT",
                             os.path.join(build, "tests", "integration", "variant",
                                          "greeterd-variant"))
    abi_next = os.environ.get("GREETERD_ABI_NEXT",
                              os.path.join(build, "tests", "integration", "variant",
                                           "greeterd-abi-next"))
    greeterctl = os.environ.get("GREETERCTL", os.path.join(build, "client", "greeterctl"))
    n = 2 if args.smoke else args.upgrades
    if os.geteuid() != 0:
        print("bench/upgrade.py: needs root (BPF)", file=sys.stderr)
        return 77
    if not os.path.ismount("/sys/fs/bpf"):
        subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=False)

    tmp = tempfile.mkdtemp(prefix="greeter-bench-upgrade-")
    os.chmod(tmp, 0o755)
    pin_dir = "/sys/fs/bpf/greeter-bench-upgrade-%d" % os.getpid()
    marker = os.path.join(tmp, "greeter-bench-upgrade-mark")
    shutil.copy("/bin/true", marker)
    stopfile = os.path.join(tmp, "stop")
    tail_path = os.path.join(tmp, "tail.json")
    d = Greeterd(tmp, pin_dir)
    loops, tail, replay = [], None, None
    try:
        d.start(greeterd)
        with open(tail_path, "wb") as out:
            tail = subprocess.Popen([greeterctl, "--socket", d.socket, "tail", "--json"],
                                    stdout=out, stderr=subprocess.DEVNULL)
        while call(d.socket, "io.greeter.GetStatus")["parameters"]["watchers"] < 1:
            time.sleep(0.01)
        script = 'i=0; while [ ! -e "$1" ]; do "$2" || exit 1; i=$((i+1)); done; echo $i'
        loops = [subprocess.Popen(["bash", "-c", script, "load", stopfile, marker],
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
        figures = {"upgrade": [], "restart": []}
        binary = greeterd
        # Alternate: an upgrade (the other build), then a restart of the same one.
        for i in range(2 * n):
            kind = "upgrade" if i % 2 == 0 and not (args.abi_next and i) else "restart"
            time.sleep(0.3)  # execs under the running build first
            # Before the ABI upgrade, more retained than the window's scan looks at.
            while args.abi_next and i == 0 and call(
                    d.socket, "io.greeter.GetStatus")["parameters"]["retained"] < 1500:
                time.sleep(0.1)
            stop_s = d.stop()
            if kind == "upgrade" and args.abi_next:
                binary = abi_next  # no way back: an older ABI cannot read its records
            elif kind == "upgrade":
                binary = variant if binary == greeterd else greeterd
            serve_s = d.start(binary)
            figures[kind].append({"stop_s": stop_s, "serve_s": serve_s})
            if args.abi_next and i == 0:
                time.sleep(0.3)  # past the window's scan of the new ring too
                replay = replay_from_0(d.socket)
        time.sleep(0.3)
        open(stopfile, "w").close()
        total = sum(int(p.communicate()[0].strip()) for p in loops)
        loops = []

        def mine():
            with open(tail_path, "rb") as f:
                lines = f.read().decode().split("\n")[:-1]
            return [e for e in map(json.loads, lines) if e.get("filename") == marker]

        deadline = time.monotonic() + 120
        while len(mine()) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # a repeat would come now
        evs = mine()
        late = call(d.socket, "io.greeter.GetStatus")["parameters"]["counters"]["dropped_late"]
        pids = [e["pid"] for e in evs]
        twice = len(pids) - len(set(pids))
        missed = total - len(set(pids))
    finally:
        if not os.path.exists(stopfile):
            open(stopfile, "w").close()
        for p in loops:
            p.communicate()
        if tail:
            tail.terminate()
            tail.wait()
        if d.proc and d.proc.poll() is None:
            d.stop()
        subprocess.run([greeterd, "--pin-dir", pin_dir, "--remove-pins"],
                       capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)

    upgrades = len(figures["upgrade"])
    res = {"execs": total, "upgrades": upgrades, "restarts": 2 * n - upgrades, "dropped_late": late,
           "missed": missed, "twice": twice,
           "missed_per_switch": missed / (2 * n), "twice_per_switch": twice / (2 * n)}
    for kind in ("upgrade", "restart"):
        for k in ("stop_s", "serve_s"):
            v = [f[k] for f in figures[kind]]
            res["%s_%s_median" % (kind, k)] = statistics.median(v)
            res["%s_%s_max" % (kind, k)] = max(v)
    print("execs %d across %d upgrade(s)%s and %d same-build restarts: %d missed, %d twice "
          "(dropped_late %d since the last start)"
          % (total, upgrades, " to the next ABI" if args.abi_next else "", 2 * n - upgrades,
             missed, twice, late))
    if replay:
        res.update(("replay_" + k, v) for k, v in replay.items())
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
    return 1 if missed or twice or (replay and replay["missing"] != replay["dropped"]) else 0


if __name__ == "__main__":
    sys.exit(main())
