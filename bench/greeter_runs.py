"""greeter's own figures: (2) start-up, (1) in-kernel cost, (3) delivery to
watchers, (4) a stall and (4b) a client away across a restart, (5) the
API, (10) idle watchers, (6) memory, (7) durable writes, (9) the API under
hostile clients."""

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

from common import (kv, loadgen, log, measure_kernel, proc_cpu, proc_status, start_times,
                    stop_proc, storm_stopped, watch, watch_result)


class Measured:
    """greeterd as measure_kernel() sees a tool: its programs, its process,
    the events it has read."""

    def __init__(self, g):
        self.g = g
        self.phase = None

    def prog_ids(self):
        return [p["program_id"] for p in self.g.status()["programs"]]

    def prog_names(self):
        return {p["program_id"]: p["name"] for p in self.g.status()["programs"]}

    def pid(self):
        return self.g.proc.pid

    def events_total(self):
        return counters(self.g)["received"]


def counters(g):
    return g.status()["counters"]


def remove_pins(g):
    """greeterd as after a reboot: no pins."""
    r = g.remove_pins()
    if r.returncode != 0:
        raise RuntimeError("greeterd --remove-pins failed: " + r.stderr)


def reset(g):
    """greeterd as on a machine it never ran on: no pins, no state."""
    remove_pins(g)
    shutil.rmtree(g.state_dir, ignore_errors=True)


def stream_state(g):
    """The first WatchEvents reply: the last seq and the stream id."""
    c = g.varlink()
    try:
        return c.call("io.greeter.WatchEvents", {}, more=True)["parameters"]
    finally:
        c.close()


def resume(b, g, first, want, timeout=15):
    """Resume after first's seq: our events (seqs) and the dropped count."""
    c = g.varlink()
    c.sock.settimeout(timeout)
    got, dropped = [], 0
    deadline = time.monotonic() + timeout
    try:
        c.send({"method": "io.greeter.WatchEvents", "more": True,
                "parameters": {"after_seq": first["seq"], "stream": first.get("stream")}})
        while len(got) < want and time.monotonic() < deadline:
            p = c.recv().get("parameters", {})
            dropped += p.get("dropped", 0)
            e = p.get("event")
            if e and e["filename"] == b.marker:
                got.append(e["seq"])
    except (socket.timeout, ConnectionError):
        pass
    finally:
        c.close()
    return got, dropped


def startup_run(b, g, res):
    """(2) Start-up: cold (no pins: the programs are loaded and attached) and
    warm (pins present: greeterd reuses them). Cold twice: the first start
    on a kernel (no type cache: libbpf parses the kernel's whole BTF), and
    every later one, after a reboot say (the cache written by the first)."""
    def cold_first():
        reset(g)
        shutil.rmtree(g.cache_dir, ignore_errors=True)
        t = g.start()
        if "kernel types from the cache" in g.log():
            raise RuntimeError("greeterd used a type cache where there was none")
        return t

    def cold():
        reset(g)
        t = g.start()
        if "kernel types from the cache" not in g.log():
            raise RuntimeError("greeterd did not use its type cache:\n" + g.log())
        res.setdefault("cold_attached", []).append(g.logged("attached"))
        return t

    # The first start writes the cache after READY=1, before it handles SIGTERM.
    res["cold_first_all"] = start_times(b, cold_first, g.stop, b.starts)
    res["start_cold_first"] = statistics.median(res["cold_first_all"])
    res["cold_all"] = start_times(b, cold, g.stop, b.starts)
    res["warm_all"] = start_times(b, g.start, g.stop, b.starts)
    res["start_cold"] = statistics.median(res["cold_all"])
    res["start_warm"] = statistics.median(res["warm_all"])


def delivery_run(b, g, res):
    """(3) Delivery at the maximum rate to 1, 16, 64 watchers."""
    res["delivery"] = {}
    for n in b.watchers:
        w = watch(b, g, n)
        cpu0, st0 = proc_cpu(g.proc.pid), counters(g)
        lg = loadgen(b, n=b.n2, workers=2)
        r = watch_result(b, w, lg["execs"])
        cpu1, st1 = proc_cpu(g.proc.pid), counters(g)
        received = st1["received"] - st0["received"]
        r["execs"] = lg["execs"]
        r["rate"] = lg["rate"]
        # Missing from the count, or seen missing by sequence number.
        r["lost"] = max(lg["execs"] - r["marker_min"], r["gaps"], r["dropped"])
        r["lost_kernel"] = st1["lost_kernel"] - st0["lost_kernel"]
        r["received"] = received
        r["cpu_ms_per_1000"] = (cpu1[0] - cpu0[0]) * 1000 / (received / 1000)
        r["cpu_ms_per_1000_schedstat"] = (cpu1[1] - cpu0[1]) / 1e6 / (received / 1000)
        res["delivery"][n] = r
        b.check(r["lost"] == 0 and r["gaps"] == 0 and r["dropped"] == 0 and
                r["lost_kernel"] == 0 and r["errors"] == 0,
                "greeter: no event lost with %d watcher(s) (%s)" % (n, r))


def stall_run(b, g, res):
    """(4) Stall: greeterd stopped for stop_s during a storm."""
    w = watch(b, g, 1)
    st0 = counters(g)
    lg = storm_stopped(b, g.proc.pid)
    r = watch_result(b, w, lg["execs"])
    st1 = counters(g)
    r["execs"] = lg["execs"]
    r["lost"] = max(lg["execs"] - r["marker_min"], r["gaps"], r["dropped"])
    r["lost_kernel"] = st1["lost_kernel"] - st0["lost_kernel"]
    r["dropped_watchers"] = st1["dropped_watchers"] - st0["dropped_watchers"]
    res["stall"] = r
    b.check(r["lost"] == 0 and r["gaps"] == 0 and r["dropped"] == 0 and
            r["lost_kernel"] == 0, "greeter: no event lost across a %.0f s stall (%s)"
            % (b.stop_s, r))


def away_run(b, g, res):
    """(4b) A client away across a restart resumes with after_seq: the pinned
    ring retains what the old greeterd had read. 1,000 execs read by the
    old greeterd, a SIGTERM restart, 1,000 more; then the resume."""
    n_away = b.n1 // 3 if b.n1 >= 3000 else b.n1
    first = stream_state(g)
    r0 = counters(g)["received"]
    loadgen(b, n=n_away)
    deadline = time.monotonic() + 10
    while counters(g)["received"] - r0 < n_away and time.monotonic() < deadline:
        time.sleep(0.05)
    g.stop()
    g.start()
    loadgen(b, n=n_away)
    got, dropped = resume(b, g, first, 2 * n_away)
    res["away"] = {"execs": 2 * n_away, "got": len(set(got)), "lost": 2 * n_away - len(set(got)),
                   "repeats": len(got) - len(set(got)), "dropped": dropped,
                   "ordered": got == sorted(got)}
    b.check(res["away"]["lost"] == 0 and res["away"]["repeats"] == 0 and res["away"]["ordered"],
            "greeter: a client away during a restart lost nothing (%s)" % res["away"])


def api_run(b, g, res):
    """(5) API round trips; idle connections held while another client is served."""
    a = b.api
    api = {}
    for key, method, conns, calls, idle in (
            ("set1", "set", 1, a["set1"], 0),
            ("set32", "set", a["set32"][0], a["set32"][1], 0),
            ("get1", "get", 1, a["get1"], 0),
            ("get32", "get", a["get32"][0], a["get32"][1], 0),
            ("get1_idle", "get", 1, a["idle_get"], a["idle"])):
        p = subprocess.run([b.api_bench, g.socket, method, str(conns), str(calls), str(idle)],
                           capture_output=True, text=True)
        api[key] = kv(p.stdout)
        api[key]["conns"] = conns
        b.check(p.returncode == 0, "API %s on %d connection(s), %d idle held (%s %s)"
                % (method, conns, idle, p.stdout.strip(), p.stderr.strip()))
    res["api"] = api


def nofile_run(b, g, api):
    """Under systemd, greeterd gets LimitNOFILE's default soft limit, 1024:
    how many connections does it take then, below its own 4096?"""
    g.start(nofile=1024)
    p = subprocess.run([b.api_bench, g.socket, "get", "1", "1", str(b.api["nofile_probe"])],
                       capture_output=True, text=True)
    api["nofile"] = kv(p.stdout)
    api["nofile"]["emfile"] = g.log().count("Too many open files")
    g.stop()


def greeter_run(b, stats, res):
    g = b.greeterd_of("greeter")
    startup_run(b, g, res)

    g.start()
    g.parameters("io.greeter.SetMessage", {"message": "Hello from greeter"})  # the default, as for the others
    time.sleep(1)
    res["rss_idle_kib"] = proc_status(g.proc.pid)
    res["ring_size"] = g.status()["ring_size"]

    log("greeter: in-kernel cost")
    measure_kernel(b, stats, Measured(g), res)
    log("greeter: delivery")
    delivery_run(b, g, res)
    log("greeter: stall")
    stall_run(b, g, res)
    log("greeter: a client away during a restart")
    away_run(b, g, res)
    log("greeter: API")
    api_run(b, g, res)
    log("greeter: idle watchers of another user")
    res["idle_watchers"] = idle_watchers_run(b, g)

    # (6) Memory after all that, once settled: greeterd gives freed heap
    # back every 2 s (daemon/heap_trim.c).
    time.sleep(3)
    res["rss_after_kib"] = proc_status(g.proc.pid)
    g.stop()

    if b.api.get("nofile_probe"):
        log("greeter: connections under a soft RLIMIT_NOFILE of 1024")
        nofile_run(b, g, res["api"])
    reset(g)

    log("greeter: durable writes")
    durable_run(b, g, res)


def api_bench(b, g, *args):
    p = subprocess.run([b.api_bench, g.socket] + [str(a) for a in args],
                       capture_output=True, text=True)
    b.check(p.returncode == 0, "api_bench %s (%s %s)" % (" ".join(str(a) for a in args),
                                                      p.stdout.strip(), p.stderr.strip()))
    return kv(p.stdout)


def import_messages(g, first_uid, text, n, replace=True):
    params = {"messages": [{"uid": first_uid + i, "message": text % i} for i in range(n)]}
    if replace:
        params["replace"] = True
    return g.parameters("io.greeter.ImportMessages", params)


def durable_writes(b, g, d):
    """What a SetMessage costs with 16,000 messages set against none; an
    import of 10,000. Returns how many messages are set."""
    a = b.api
    api_bench(b, g, "set", 1, 20)  # warm: the first calls after a start pay for its tail
    d["set_none"] = api_bench(b, g, "set", 1, a["durable_calls"])
    t0 = time.monotonic()
    r = import_messages(g, 200000, "Bench import %d", a["durable_import"])
    d["import_s"] = time.monotonic() - t0
    d["import_n"] = a["durable_import"]
    b.check(r.get("set") == a["durable_import"], "ImportMessages set %d (%s)" % (d["import_n"], r))
    import_messages(g, 300000, "Bench message number %d", a["durable_many"])
    # That import is past the log's bound: let its compaction (a snapshot
    # written and fsync'd by a thread) finish, so that its I/O is not counted
    # in the writes measured next. In use it happens once per ~2 snapshots
    # of log (with 16,000 messages, some 60,000 SetMessage calls).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
            re.fullmatch(r"messages\.log\.\d+", n) for n in os.listdir(g.state_dir)):
        time.sleep(0.05)
    time.sleep(0.5)
    api_bench(b, g, "set", 1, 20)
    d["many"] = a["durable_many"]
    d["set_many"] = api_bench(b, g, "set", 1, a["durable_calls"])
    return g.status()["messages"]


def restore_after_reboot(b, g, d, count):
    """A reboot: the pins go, the state stays; the start that restores it."""
    g.stop()
    remove_pins(g)
    d["restore_ready_s"] = g.start()
    d["restore_logged_s"] = g.logged("ready")
    d["cold_logged_s"] = g.logged("attached")
    d["state_read_s"] = g.logged("change log)")
    got = g.status()["messages"]
    b.check(got == count, "restored %d of %d messages after a reboot" % (got, count))
    d["restored"] = got


def flood_run(b, g, d):
    """The map full (16,384), and 32 connections of UID 65534 pipelining
    GetStatus and ListMessages while a watcher measures exec-to-client."""
    a = b.api
    import_messages(g, 400000, "Fill %d", 16384 - d["restored"], replace=False)
    d["flood_messages"] = g.status()["messages"]
    # The same watcher and execs without the flood first: the machine's own latency.
    w = watch(b, g, 1)
    lg = loadgen(b, seconds=a["flood_s"] - 1.5, pause_usec=2000)
    d["quiet_watch"] = watch_result(b, w, lg["execs"])
    w = watch(b, g, 1)
    flood = subprocess.Popen([b.api_bench, g.socket, "flood", "32", str(a["flood_s"]), "65534"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    lg = loadgen(b, seconds=a["flood_s"] - 1.5, pause_usec=2000)
    r = watch_result(b, w, lg["execs"])
    out, err = flood.communicate(timeout=60)
    b.check(flood.returncode == 0, "flood client (%s %s)" % (out.strip(), err.strip()))
    r["flood"] = kv(out)
    r["execs"] = lg["execs"]
    d["flood_watch"] = r


def durable_run(b, g, res):
    """(7) Durable writes (issue 13): what a SetMessage costs with 16,000
    messages set against none; a start that restores 16,000 from the state
    after a reboot (no pins); an import of 10,000; a watcher's latency while
    an unprivileged client floods GetStatus and ListMessages of 16,384."""
    d = {}
    reset(g)
    g.start()
    count = durable_writes(b, g, d)
    restore_after_reboot(b, g, d, count)
    flood_run(b, g, d)
    g.stop()
    reset(g)
    res["durable"] = d


# As another user: N WatchEvents streams, read up to their first reply
# only, held until standard input closes.
IDLE_WATCHERS_PY = r'''
import socket, sys
socks = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(b'{"method":"io.greeter.WatchEvents","parameters":{},"more":true}\0')
    while b"\0" not in s.recv(4096):
        pass
    socks.append(s)
print("ready", flush=True)
sys.stdin.read()
'''


def idle_watchers_run(b, g):
    """(10) greeterd's CPU per 1,000 events (root's execs, at the maximum
    rate) while n watchers of another user (nobody) wait for their own
    events and never get one: what they cost is what their filter costs."""
    out = {}
    for n in b.idle_watchers:
        p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              sys.executable, "-c", IDLE_WATCHERS_PY, g.socket, str(n)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        b.cleanups.append(lambda p=p: stop_proc(p))
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("the idle watchers did not start")
        cpu0, st0 = proc_cpu(g.proc.pid), counters(g)
        loadgen(b, n=b.n2, workers=2)
        # Until greeterd has read them all.
        deadline = time.monotonic() + 30
        while counters(g)["received"] - st0["received"] < b.n2 and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu1, st1 = proc_cpu(g.proc.pid), counters(g)
        received = st1["received"] - st0["received"]
        out[n] = {"received": received,
                  "cpu_ms_per_1000": (cpu1[1] - cpu0[1]) / 1e6 / (received / 1000)}
        p.stdin.close()
        p.wait(timeout=30)
    return out


def hostile_run(b, res):
    """(9) GetMessage latency of a user while hostile clients attack greeterd:
    the scenario of tests/integration/test_hostile.py (which asserts that the
    user is served and nothing grows without bound), run once here for its
    figures: p50, p99 and max at rest and under attack."""
    script = os.path.join(b.source, "tests", "integration", "test_hostile.py")
    env = dict(os.environ, GREETERD=b.greeterd, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, script], capture_output=True, text=True, env=env)
    b.check(r.returncode == 0, "the hostile clients' scenario passed (%s)"
            % (r.stdout.strip().splitlines() or ["no output"])[-1])
    pat = r"# (GetMessage latency at rest|under attack)\b.*?(\d+) calls, p50 ([\d.]+) ms, " \
          r"p99 ([\d.]+) ms, max ([\d.]+) ms"
    for m in re.finditer(pat, r.stdout):
        key = "rest" if m.group(1).startswith("GetMessage") else "attack"
        res[key] = {"calls": int(m.group(2)), "p50_ms": float(m.group(3)),
                    "p99_ms": float(m.group(4)), "max_ms": float(m.group(5))}
