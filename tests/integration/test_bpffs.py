#!/usr/bin/env python3
"""Without bpffs: greeterd mounts it on /sys/fs/bpf itself, and for a pin
directory elsewhere it says exactly what to run. Runs in a private mount
namespace so the host's mounts are untouched."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

# The launcher, not the Daemon harness: greeterd runs here without bpffs.
require_root()
with greeter.Greeterd("bpffs", cache_dir="") as g:
    # A pin directory on tmpfs: refused with the mount command to run.
    g.pin_dir = os.path.join(g.tmp, "pins")
    r = g.run(timeout=30)
    check(r.returncode == 1, "exit status 1 when the pin dir is not on bpffs (%d)" % r.returncode)
    check("mount -t bpf bpf" in r.stderr, "the error says what to run: %s" % r.stderr.strip())

    # /sys/fs/bpf unmounted (in our own mount namespace): greeterd, the
    # command line after the script's two words, mounts it.
    script = """
set -e
sock=$1 pins=$2
shift 2
# Lazily, with whatever other tests mounted below it (a bind mount on a pin).
while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf 2>/dev/null || break; done
mountpoint -q /sys/fs/bpf && { echo still-mounted; exit 3; }
timeout 20 "$@" &
pid=$!
for i in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
mountpoint -q /sys/fs/bpf && echo mounted-by-greeterd
ls "$pins" | grep -qx link_sched_exec && echo pinned
kill $pid; wait $pid || true
"$1" --pin-dir "$pins" --remove-pins
"""
    g.pin_dir = "/sys/fs/bpf/greeter-bpffs-test"
    g.socket = os.path.join(g.tmp, "s2")
    p = g.spawn(wrapper=["unshare", "--mount", "--propagation", "private", "bash", "-c", script, "sh",
                         g.socket, g.pin_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=60)
    print(out, err)
    check("mounted-by-greeterd" in out, "greeterd mounted bpffs on /sys/fs/bpf")
    check("pinned" in out, "and pinned its objects there")
    check("mounted a bpf filesystem" in err, "and logged that it did")
