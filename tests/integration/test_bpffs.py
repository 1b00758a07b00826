#!/usr/bin/env python3
"""Without bpffs: greeterd mounts it on /sys/fs/bpf itself, and for a pin
directory elsewhere it says exactly what to run. Runs in a private mount
namespace so the host's mounts are untouched."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

# Not on the Daemon harness: greeterd runs here without bpffs, on command lines of its own.
require_root()
tmp = tempfile.mkdtemp(prefix="greeter-bpffs-")
try:
    # A pin directory on tmpfs: refused with the mount command to run.
    r = subprocess.run([GREETERD, "--pin-dir", tmp + "/pins", "--state-dir", tmp + "/state",
                        "--cache-dir", "", "--socket", tmp + "/s"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 1, "exit status 1 when the pin dir is not on bpffs (%d)" % r.returncode)
    check("mount -t bpf bpf" in r.stderr, "the error says what to run: %s" % r.stderr.strip())

    # /sys/fs/bpf unmounted (in our own mount namespace): greeterd mounts it.
    script = """
set -e
# Lazily, with whatever other tests mounted below it (a bind mount on a pin).
while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf 2>/dev/null || break; done
mountpoint -q /sys/fs/bpf && { echo still-mounted; exit 3; }
timeout 20 %s --pin-dir /sys/fs/bpf/greeter-bpffs-test --state-dir %s/state --cache-dir '' --socket %s/s2 &
pid=$!
for i in $(seq 200); do [ -S %s/s2 ] && break; sleep 0.05; done
mountpoint -q /sys/fs/bpf && echo mounted-by-greeterd
ls /sys/fs/bpf/greeter-bpffs-test | grep -qx link_sched_exec && echo pinned
kill $pid; wait $pid || true
%s --pin-dir /sys/fs/bpf/greeter-bpffs-test --remove-pins
""" % (GREETERD, tmp, tmp, tmp, GREETERD)
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
                       capture_output=True, text=True, timeout=60)
    print(r.stdout, r.stderr)
    check("mounted-by-greeterd" in r.stdout, "greeterd mounted bpffs on /sys/fs/bpf")
    check("pinned" in r.stdout, "and pinned its objects there")
    check("mounted a bpf filesystem" in r.stderr, "and logged that it did")
finally:
    subprocess.run(["rm", "-rf", tmp])
