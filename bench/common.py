"""The bench's machinery: paths and sizes, processes and /proc, the exec
load, BPF run-time statistics, watchers, and greeterd as the bench starts
it (tests/lib/greeter.py's launcher)."""

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The launcher and the client, from this clone (no meson needed).
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import greeter  # noqa: E402

SKIP = 77
T0 = time.monotonic()


def log(msg):
    print("bench: %5.1f s: %s" % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


class Bench:
    """Paths, sizes and what to clean up."""

    def __init__(self, args):
        build = os.path.abspath(args.build or os.path.join(HERE, "..", "build"))
        env = os.environ.get

        self.greeterd = env("GREETERD", os.path.join(build, "daemon", "greeterd"))
        self.loadgen = env("BENCH_LOADGEN", os.path.join(build, "bench", "loadgen"))
        self.reference = env("BENCH_REFERENCE", os.path.join(build, "bench", "reference"))
        self.stats_hold = env("BENCH_STATS_HOLD", os.path.join(build, "bench", "stats_hold"))
        self.watch_client = env("BENCH_WATCH_CLIENT",
                                os.path.join(build, "bench", "watch_client"))
        self.api_bench = env("BENCH_API", os.path.join(build, "bench", "api_bench"))
        self.greeter_bt = env("BENCH_GREETER_BT", os.path.join(HERE, "greeter.bt"))
        self.execsnoop = env("BENCH_EXECSNOOP", shutil.which("execsnoop") or "/usr/sbin/execsnoop")
        # The project, compiled as the realistic load of the record-size row.
        self.source = os.path.abspath(os.path.join(HERE, ".."))
        self.smoke = args.smoke
        if args.smoke:
            self.shell_loops = 5                  # rounds of the record-size shell loop
            self.n1, self.n2 = 150, 300           # execs: one loop, two workers
            self.rounds = 1                       # of the in-kernel cost
            self.starts = 1                       # start-up repetitions
            self.watchers = [1, 4]
            self.idle_watchers = [0, 8]
            self.storm_s, self.stop_s = 2.5, 1.0  # storm length, SIGSTOP length
            self.api = {"set1": 50, "set32": (4, 10), "get1": 200, "get32": (4, 50),
                        "idle": 20, "idle_get": 100, "durable_many": 300,
                        "durable_import": 200, "durable_calls": 20, "flood_s": 3}
        else:
            self.shell_loops = 300
            self.n1, self.n2 = 3000, 6000
            self.rounds = 3
            self.starts = 5
            self.watchers = [1, 16, 64]
            self.idle_watchers = [0, 64, 512]
            self.storm_s, self.stop_s = 9.0, 5.0
            self.api = {"set1": 1000, "set32": (32, 100), "get1": 20000, "get32": (32, 500),
                        "idle": 1000, "idle_get": 5000, "nofile_probe": 2000,
                        "durable_many": 16000, "durable_import": 10000, "durable_calls": 500,
                        "flood_s": 10}
        self.cleanups = []
        self.failures = []
        self.work = tempfile.mkdtemp(prefix="greeter-bench-")
        os.chmod(self.work, 0o755)  # the idle clients of other UIDs reach the socket
        # Our own execs, told apart from everything else the machine runs.
        self.marker = os.path.join(self.work, "greeter-bench-%d" % os.getpid())
        shutil.copy("/bin/true", self.marker)
        os.chmod(self.marker, 0o755)
        greeter.GREETERD = self.greeterd  # its --remove-pins

    def check(self, ok, what):
        if not ok:
            self.failures.append(what)
            log("FAILED: " + what)
        return ok

    def cleanup(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:  # keep cleaning up
                log("cleanup: %s" % e)
        shutil.rmtree(self.work, ignore_errors=True)

    def greeterd_of(self, name):
        """A private greeterd (the launcher's), cleaned up with the bench:
        its state and cache where /var/lib is, unlike /tmp, which may be a
        tmpfs that makes fsync() free (SetMessage waits for it)."""
        var_dir = tempfile.mkdtemp(prefix="greeter-bench-", dir="/var/tmp")
        g = greeter.Greeterd("bench-" + name, binary=self.greeterd, attach="auto",
                             state_dir=os.path.join(var_dir, "state"),
                             cache_dir=os.path.join(var_dir, "cache"), tmp_parent=self.work)
        self.cleanups.append(lambda: shutil.rmtree(var_dir, ignore_errors=True))
        self.cleanups.append(g.cleanup)
        return g


# Processes and /proc

def stop_proc(p, sig=signal.SIGTERM, timeout=20):
    if p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        p.send_signal(sig)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def proc_status(pid):
    """VmRSS and its parts, in KiB; "ring": what BPF map mappings (the ring
    buffer, whose data pages are mapped twice) add to it."""
    out = {"ring": 0}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                out[k] = int(v.split()[0])
    name = ""
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5:
                name = fields[5] if len(fields) > 5 else ""
            elif fields[0] == "Rss:" and name == "anon_inode:bpf-map":
                out["ring"] += int(fields[1])
    return out


def proc_cpu(pid):
    """(utime + stime in seconds from /proc/PID/stat, run time in ns from schedstat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    ns = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            ns += int(f.read().split()[0])
    return ticks / os.sysconf("SC_CLK_TCK"), ns


def prog_ids_of(pid):
    """IDs of the BPF programs a process holds fds of."""
    ids = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "anon_inode:bpf-prog":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return sorted(ids)


def kv(line):
    """key=value pairs of a helper's summary line."""
    out = {}
    for tok in line.split():
        k, _, v = tok.partition("=")
        try:
            out[k] = float(v) if "." in v else int(v)
        except ValueError:
            out[k] = v
    return out


def median_index(samples):
    """Where the (upper) median stands in samples."""
    return samples.index(sorted(samples)[len(samples) // 2])


def percentile(samples, p):
    if not samples:
        return None
    s = sorted(samples)
    return s[int(p * (len(s) - 1) + 0.5)]


class StatsHold:
    """stats_hold as a coprocess: BPF stats on while it runs; reads run_time_ns/run_cnt."""

    def __init__(self, b):
        self.p = subprocess.Popen([b.stats_hold], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        b.cleanups.append(self.close)
        if self.p.stdout.readline().strip() != "ready":
            raise RuntimeError("stats_hold did not start")

    def sample(self, ids):
        self.p.stdin.write(" ".join(str(i) for i in ids) + "\n")
        self.p.stdin.flush()
        out = {}
        for tok in self.p.stdout.readline().split()[1:]:
            i, rt, cnt = (int(x) for x in tok.split(","))
            out[i] = (rt, cnt)
        return out

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait(timeout=5)


def kernel_cost(before, after):
    """ns per exec: the sum over programs of run_time_ns / run_cnt in the window."""
    total, parts = 0.0, {}
    for i, (rt, cnt) in after.items():
        rt0, cnt0 = before.get(i, (0, 0))
        if cnt - cnt0 > 0:
            parts[i] = (rt - rt0) / (cnt - cnt0)
            total += parts[i]
    return total, parts


def loadgen(b, n=None, seconds=None, workers=1, pause_usec=0, background=False):
    args = [b.loadgen, "-w", str(workers)]
    args += ["-n", str(n)] if n else ["-t", str(seconds)]
    if pause_usec:
        args += ["-i", str(pause_usec)]
    p = subprocess.Popen(args + [b.marker], stdout=subprocess.PIPE, text=True)
    if background:
        return p
    return loadgen_result(b, p)


def loadgen_result(b, p):
    out = p.communicate()[0]
    r = kv(out)
    if "rate" not in r:
        raise RuntimeError("loadgen failed (exit status %d)" % p.returncode)
    b.check(p.returncode == 0 and r.get("failed") == 0, "loadgen ran every exec (%s)" % out.strip())
    return r


# The tools

def start_times(b, start, stop, n):
    """Run start() (returning seconds) n times, with a light exec load going on
    (so that a tool that is only attached once it sees an exec can be timed
    too); the median."""
    gen = loadgen(b, seconds=3600, pause_usec=2000, background=True)
    try:
        times = []
        for _ in range(n):
            # Let the kernel finish tearing down the previous run first.
            time.sleep(0.2)
            times.append(start())
            stop()
        return times
    finally:
        stop_proc(gen, signal.SIGTERM)
        # Its last events reach the tool within one drain period.
        time.sleep(0.1)


def measure_kernel(b, stats, tool, res):
    """In-kernel ns per exec at one loop and at the maximum rate, the medians
    of a few rounds; exec rates; the tool's CPU per 1,000 events at the
    maximum rate. Returns how many execs were made."""
    ids = tool.prog_ids()
    names = tool.prog_names()
    execs = 0
    rounds = {"ns_1": [], "ns_2": [], "rate_1": [], "rate_2": [], "cpu": [],
              "parts_1": [], "parts_2": []}
    for _ in range(b.rounds):
        s0 = stats.sample(ids)
        lg1 = loadgen(b, n=b.n1, workers=1)
        s1 = stats.sample(ids)
        time.sleep(0.05)  # the last drain
        tool.phase = "max"
        # schedstat: a 10 ms tick is too coarse for a few seconds of this.
        cpu0, ev0 = proc_cpu(tool.pid())[1] / 1e9, tool.events_total()
        lg2 = loadgen(b, n=b.n2, workers=2)
        s2 = stats.sample(ids)
        time.sleep(0.05)
        cpu1, ev1 = proc_cpu(tool.pid())[1] / 1e9, tool.events_total()
        tool.phase = None
        for k, a, z in (("1", s0, s1), ("2", s1, s2)):
            ns, parts = kernel_cost(a, z)
            rounds["ns_" + k].append(ns)
            rounds["parts_" + k].append({names.get(i, str(i)): v for i, v in parts.items()})
        rounds["rate_1"].append(lg1["rate"])
        rounds["rate_2"].append(lg2["rate"])
        rounds["cpu"].append((cpu1 - cpu0) * 1000 / max(ev1 - ev0, 1) * 1000)
        execs += lg1["execs"] + lg2["execs"]
    for k in ("ns_1", "ns_2", "rate_1", "rate_2", "cpu"):
        res[k] = statistics.median(rounds[k])
    for k in ("1", "2"):
        # The breakdown of the round whose total is the median.
        res["parts_" + k] = rounds["parts_" + k][median_index(rounds["ns_" + k])]
    res["rounds"] = rounds
    res["prog_ids"] = ids
    return execs


def storm_stopped(b, pid):
    """An exec storm of storm_s during which the consumer pid is stopped
    (SIGSTOP) for stop_s: the loadgen's result."""
    gen = loadgen(b, seconds=b.storm_s, workers=2, background=True)
    time.sleep((b.storm_s - b.stop_s) / 3)
    os.kill(pid, signal.SIGSTOP)
    time.sleep(b.stop_s)
    os.kill(pid, signal.SIGCONT)
    return loadgen_result(b, gen)


def watch(b, g, conns, wait_s=15):
    p = subprocess.Popen([b.watch_client, g.socket, str(conns), b.marker, str(wait_s)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    b.cleanups.append(lambda: stop_proc(p))
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError("watch_client did not start")
    return p


def watch_result(b, p, expect):
    p.stdin.write("expect %d\n" % expect)
    p.stdin.flush()
    out = p.stdout.readline()
    p.stdin.close()
    p.wait(timeout=30)
    return kv(out)

