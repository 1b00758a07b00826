"""The programs greeter is compared with, each run as greeter is: the
minimal libbpf program (the reference), bpftrace and execsnoop, all of
which print a line per exec. Start-up, in-kernel cost, delivery, a stall,
resident memory."""

import os
import signal
import statistics
import subprocess
import threading
import time

from common import (log, measure_kernel, percentile, proc_status, prog_ids_of, start_times,
                    stop_proc, storm_stopped)



class LineTool:
    """A tool that prints one line per exec: the reference, or bpftrace.

    A reader thread stamps each of our lines on arrival. clock is the clock
    of the tool's first field (CLOCK_BOOTTIME for the reference's
    bpf_ktime_get_boot_ns, CLOCK_MONOTONIC for bpftrace's nsecs).
    """

    def __init__(self, b, name, args, clock):
        self.b = b
        self.name = name
        self.args = args
        self.clock = clock
        self.p = None
        b.cleanups.append(self.stop)

    def start(self):
        """Start; returns (seconds to the attached line, seconds to the first event)."""
        self.lock = threading.Lock()
        self.attached = threading.Event()
        self.first = threading.Event()
        self.t_attached = self.t_first = None
        self.prog_id = None
        self.count = 0
        self.lines = 0
        self.lat = []
        self.phase = None  # latencies are kept for the "max" phase only
        self.err_path = os.path.join(self.b.work, "%s.err" % self.name)
        self.t0 = time.monotonic()
        self.t0_ns = time.monotonic_ns()
        self.p = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                  stderr=open(self.err_path, "w"))
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()
        if not self.attached.wait(30) or not self.first.wait(30):
            raise RuntimeError("%s did not start: %s" % (self.name, open(self.err_path).read()))
        return self.t_attached, self.t_first

    def read(self):
        marker = self.b.marker.encode()
        for line in self.p.stdout:
            now = time.clock_gettime_ns(self.clock)
            self.lines += 1
            f = line.split(b" ", 5)
            if len(f) == 6 and f[4] == marker:
                with self.lock:
                    self.count += 1
                    if self.t_first is None:
                        # The exec's own time: the tool was attached by then.
                        ev = int(f[0])
                        if self.clock != time.CLOCK_MONOTONIC:
                            ev += time.monotonic_ns() - now
                        self.t_first = (ev - self.t0_ns) / 1e9
                        self.first.set()
                    elif self.phase == "max":
                        self.lat.append((now - int(f[0])) / 1000)
            elif line.startswith(b"attached") or line.startswith(b"Attaching"):
                self.t_attached = time.monotonic() - self.t0
                if line.startswith(b"attached prog_id="):
                    self.prog_id = int(line.split(b"=")[1])
                self.attached.set()

    def take(self):
        """Our events seen and their latencies (us) since the last take."""
        with self.lock:
            count, lat = self.count, self.lat
            self.count, self.lat = 0, []
        return count, lat

    def wait_count(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.count >= n:
                    return
            time.sleep(0.05)

    def prog_ids(self):
        return [self.prog_id] if self.prog_id else prog_ids_of(self.p.pid)

    def prog_names(self):
        return {}

    def pid(self):
        return self.p.pid

    def events_total(self):
        return self.lines

    def stop(self):
        if self.p:
            stop_proc(self.p, signal.SIGINT)
            self.reader.join(timeout=10)
            self.p = None


class Execsnoop(LineTool):
    """libbpf-tools' execsnoop (Debian package libbpf-tools): reads argv in
    the kernel and wakes its reader through a perf buffer for every event.
    Its lines ("PCOMM PID PPID RET ARGS") carry no kernel timestamp: the
    first event is timed on arrival, and there is no exec-to-consumer
    latency. Line-buffered through stdbuf, as its stdout is a pipe."""

    def __init__(self, b):
        super().__init__(b, "execsnoop", ["stdbuf", "-oL", b.execsnoop], time.CLOCK_MONOTONIC)

    def read(self):
        marker = self.b.marker.encode()
        for line in self.p.stdout:
            self.lines += 1
            f = line.split(None, 4)
            if len(f) == 5 and f[4].split(b" ", 1)[0].strip() == marker:
                with self.lock:
                    self.count += 1
                    if self.t_first is None:
                        self.t_first = time.monotonic() - self.t0
                        self.first.set()
            elif line.startswith(b"PCOMM"):
                # Printed once its programs are attached, before the perf buffer is read.
                self.t_attached = time.monotonic() - self.t0
                self.attached.set()


def line_tool_run(b, stats, tool, res):
    """The reference or bpftrace: start-up, in-kernel cost, delivery, stall, RSS."""
    times = start_times(b, tool.start, tool.stop, b.starts)
    res["start_attached"] = statistics.median(t[0] for t in times)
    res["start_first_event"] = statistics.median(t[1] for t in times)
    res["start_all"] = times

    start_times(b, tool.start, lambda: None, 1)  # keep this one running
    time.sleep(1)
    res["rss_kib"] = proc_status(tool.p.pid)
    tool.take()
    log("%s: in-kernel cost" % tool.name)
    execs = measure_kernel(b, stats, tool, res)
    tool.wait_count(execs)
    seen, lat = tool.take()
    res["lost_max_rate"] = execs - seen
    res["lat_p50_ms"] = percentile(lat, 0.5) / 1000 if lat else None
    res["lat_p99_ms"] = percentile(lat, 0.99) / 1000 if lat else None

    # Stall: the tool's process stopped for stop_s during a storm.
    log("%s: stall" % tool.name)
    lg = storm_stopped(b, tool.p.pid)
    tool.wait_count(lg["execs"], timeout=10)
    seen, _ = tool.take()
    res["stall_execs"] = lg["execs"]
    res["stall_lost"] = lg["execs"] - seen
    res["rss_after_kib"] = proc_status(tool.p.pid)
    tool.stop()


def execsnoop_run(b, stats, res):
    """execsnoop as a peer: start-up, in-kernel cost, stall, RSS (line_tool_run)."""
    line_tool_run(b, stats, Execsnoop(b), res)
    res["prog_count"] = len(res["prog_ids"])
