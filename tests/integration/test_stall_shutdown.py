#!/usr/bin/env python3
"""Shutdown is bounded when the disk stalls, and what is not on disk is not
acknowledged.

The state directory lives on a small ext4 made here on a loop device and
frozen (fsfreeze -f) while a SetMessage is being written. greeterd gets
SIGTERM: it must exit while the file system is still frozen (it promises
2 s; the test allows 60, and asserts only that it exits before the thaw),
and the SetMessage's caller gets an error or a closed connection, never a
success. The change was not acknowledged, so it may be absent: its writer
ends with greeterd, and whether the disk took the write before that is not
known. After the thaw a restart with the pins and one from the files alone
show the acknowledged message, and the other either in both or in neither."""
import contextlib
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

EXIT_BOUND = 60  # seconds; greeterd's own bound is 2 s, the test does not time it


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True)


with contextlib.ExitStack() as stack:
    require_root()
    mnt = freezable_fs(stack, "greeter-stall-")
    frozen = []

    def thaw():
        if frozen:
            run("fsfreeze", "-u", mnt)
            frozen.clear()

    d = stack.enter_context(Daemon("stall", state_dir=os.path.join(mnt, "state")))
    stack.callback(thaw)  # runs before the daemon's cleanup and the unmount
    d.start()
    d.set_message(501, "stored before")
    r = run("fsfreeze", "-f", mnt)
    check(r.returncode == 0, "fsfreeze -f: %s" % r.stderr)
    frozen.append(True)

    c = d.varlink()
    c.send({"method": "io.greeter.SetMessage", "parameters": {"uid": 502, "message": "while frozen"}})
    pid = d.proc.pid
    if not wait_for(lambda: any(s == "D" for _, s in family(pid)), timeout=60):
        fail("the write never waited on the frozen disk: %s" % family(pid))
    writers = {p for p, s in family(pid) if p != pid}
    d.proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    try:
        d.proc.wait(timeout=EXIT_BOUND)
    except subprocess.TimeoutExpired:
        fail("greeterd still runs %d s after SIGTERM, the disk frozen: %s"
             % (EXIT_BOUND, family(pid)))
    print("# greeterd exited %.2f s after SIGTERM, the disk frozen (status %d)"
          % (time.monotonic() - t0, d.proc.returncode))
    try:
        reply = c.recv()
    except (ConnectionError, OSError) as e:
        reply = None
        print("# the caller's connection closed: %s" % e)
    check(reply is None or "error" in reply, "the caller got no success: %r" % reply)
    if reply:
        print("# the caller got %s: %s" % (reply["error"], reply.get("parameters")))
    c.close()
    check("not stored" in d.log() or reply is None, "the log says what was not stored")

    thaw()
    # A writer given up holds the state directory until it ends, once the disk answers.
    if not wait_for(lambda: not any(os.path.exists("/proc/%d" % p) for p in writers), timeout=60):
        fail("greeterd's writer did not end after the thaw")
    seen = []
    for how in ("with the pins", "from the files alone"):
        if how != "with the pins":
            d.stop()
            d.remove_pins()
        d.start()
        msgs = {x["uid"]: x["message"] for x in
                d.call("io.greeter.ListMessages")["parameters"]["messages"]}
        check(msgs.get(501) == "stored before" and msgs.get(502) in (None, "while frozen")
              and len(msgs) == 1 + (502 in msgs),
              "restarted %s: the acknowledged message, the other absent or whole: %s" % (how, msgs))
        check(stored_messages(d.state_dir) == msgs, "and so say the files")
        seen.append(msgs)
    check(seen[0] == seen[1], "the same after both restarts")
    print("# the change not acknowledged is %s after the restarts"
          % ("present" if 502 in seen[0] else "absent"))
print("ok")
