#!/usr/bin/env python3
"""Cold starts and the kernel type cache (--cache-dir).

The first start on a kernel loads with the kernel's full BTF and, after
READY=1, writes the types the programs use to the cache directory. The next
cold start (no pins, as after a reboot) loads with that file and greets just
as correctly: pid, parent, caller and file name are read through CO-RE. A
damaged cache file costs a slower start, never a failed one, and is written
again; an unwritable cache directory and --cache-dir "" only cost speed."""
import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

FROM_CACHE = "kernel types from the cache"
WROTE = "wrote the kernel types"


def cache_files(d):
    return sorted(glob.glob(os.path.join(d.cache_dir, "vmlinux-*.btf")))


def greets_correctly(d, m, what):
    """One exec of the marker: every field CO-RE reads is right."""
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    m.run()
    evs = wait_for(lambda: m.mine(d.events()))
    check(len(evs) == 1, "%s: one event for the exec (%d)" % (what, len(evs)))
    e = evs[0]
    check(e["ppid"] == os.getpid(), "%s: the parent is this test (ppid %d, the test is %d)"
          % (what, e["ppid"], os.getpid()))
    check(e["filename"] == m.path, "%s: the file name (%s)" % (what, e["filename"]))
    check(e["comm"] == comm, "%s: the caller's comm %s (%s)" % (what, comm, e["comm"]))
    check(e["message"] == "Hello World", "%s: the message (%s)" % (what, e["message"]))


def check_log(cond, msg):
    """A check whose failure shows greeterd's log."""
    check(cond, msg if cond else msg + "; greeterd's log:\n" + d.log())


def cold_start(d):
    d.stop()
    r = d.remove_pins()
    check(r.returncode == 0, "pins removed (a reboot, as far as greeterd can tell)")
    d.start()


if not os.path.exists("/sys/kernel/notes"):
    skip("the kernel exports no build ID (/sys/kernel/notes): no type cache")
with Daemon("cold") as d, Marker("cold") as m:
    # 1. First start on this kernel: full BTF, then the cache is written.
    d.start()
    check(FROM_CACHE not in d.log(), "the first start reads the kernel's own BTF")
    check_log(wait_for(lambda: WROTE in d.log()), "the type cache is written after READY=1")
    files = cache_files(d)
    check(len(files) == 1, "one cache file (%s)" % files)
    path = files[0]
    size = os.path.getsize(path)
    check(0 < size < 1 << 20, "the cache file is small (%d bytes)" % size)
    greets_correctly(d, m, "kernel BTF")
    mtime = os.stat(path).st_mtime_ns

    # 2. A cold start with the cache.
    cold_start(d)
    check_log(FROM_CACHE in d.log(), "the next cold start loads with the cache")
    greets_correctly(d, m, "cached types")
    time.sleep(0.2)
    check(os.stat(path).st_mtime_ns == mtime and WROTE not in d.log(),
          "a cache that works is not written again")

    # 3. A warm start loads nothing, and leaves the cache alone.
    d.stop()
    d.start()
    check("reusing the objects pinned" in d.log() and WROTE not in d.log(),
          "a warm start reuses the pins and writes no cache")

    # 4. A damaged cache file: a warning, the kernel's BTF, and a new file.
    with open(path, "wb") as f:
        f.write(b"\x9f\xeb\x01\x00 not BTF at all")
    cold_start(d)
    log = d.log()
    check_log("cached kernel types" in log and "failed" in log,
              "the damaged cache file is reported")
    check(FROM_CACHE not in log, "the damaged cache file is not used")
    check(wait_for(lambda: WROTE in d.log()), "the cache is written again")
    check(os.path.getsize(path) == size, "the rewritten cache file is whole (%d bytes)"
          % os.path.getsize(path))
    greets_correctly(d, m, "after a damaged cache")

    # 5. A cache directory that cannot be written: a warning, nothing else.
    d.stop()
    shutil.rmtree(d.cache_dir)
    with open(d.cache_dir, "w") as f:
        f.write("a file, not a directory\n")
    cold_start(d)
    check_log(wait_for(lambda: "cannot write the kernel type cache" in d.log()),
              "an unwritable cache directory is reported")
    greets_correctly(d, m, "unwritable cache directory")
    os.unlink(d.cache_dir)

    # 6. --cache-dir "": no cache.
    d.extra = ["--cache-dir", ""]
    cold_start(d)
    greets_correctly(d, m, "no cache")
    time.sleep(0.2)
    check(not os.path.exists(d.cache_dir) and WROTE not in d.log(),
          '--cache-dir "" writes no cache')
