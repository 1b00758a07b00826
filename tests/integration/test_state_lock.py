#!/usr/bin/env python3
"""One greeterd per state directory: a second one started on the running
greeterd's state directory (with a pin directory and a socket of its own)
refuses to start, exit status 1, in one sentence naming the directory and
the running greeterd's pid, and changes nothing in it; while the first
acknowledges writes all along, none of them is lost, after a restart from
the files alone. The same for the pin directory."""
import contextlib
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

BASE = 71000
WRITERS = 4


def second(**kw):
    """A greeterd that shares a directory with a: its exit status and stderr."""
    b = others.enter_context(Daemon("slock2", **kw))
    return b, b.run(timeout=IDLE_TIMEOUT)


def state_files(d):
    """Every file of the state directory: name, inode, size, mtime."""
    out = {}
    for name in sorted(os.listdir(d)):
        st = os.stat(os.path.join(d, name))
        out[name] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


# others: the greeterds started beside a, each cleaned up before a is.
with Daemon("slock") as a, contextlib.ExitStack() as others:
    a.start()
    pid = a.proc.pid
    for i in range(WRITERS):
        a.set_message(BASE + i, "before")

    # Refused, and nothing touched, while the first greeterd is idle.
    before = state_files(a.state_dir)
    b, r = second(state_dir=a.state_dir)
    want = "another greeterd (pid %d) is using the state directory %s" % (pid, a.state_dir)
    check(r.returncode == 1 and want in r.stderr,
          "a second greeterd on the state directory refuses, naming it and pid %d (%d: %s)"
          % (pid, r.returncode, r.stderr.strip()[-300:]))
    check(r.stderr.count("another greeterd") == 1, "said once")
    check(state_files(a.state_dir) == before, "the state directory is as it was")
    check(not os.path.exists(b.pin_dir), "the second greeterd pinned nothing")

    # Refused again and again while the first acknowledges writes.
    acked = {}
    stop = threading.Event()

    def writer(uid):
        c = a.varlink()
        n = 0
        while not stop.is_set():
            n += 1
            if "error" in c.call("io.greeter.SetMessage", {"uid": uid, "message": "n %d" % n}):
                return
            acked[uid] = n
        c.close()

    threads = [threading.Thread(target=writer, args=(BASE + i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for k in range(3):
        start = sum(acked.values())
        wait_for(lambda: sum(acked.values()) > start)
        _, r = second(state_dir=a.state_dir)
        check(r.returncode == 1 and want in r.stderr, "refused while writes go on (%d)" % (k + 1))
    stop.set()
    for t in threads:
        t.join()
    check(all(acked.get(BASE + i) for i in range(WRITERS)), "writes were acknowledged: %s" % acked)

    # The pin directory: the same refusal.
    _, r = second(pin_dir=a.pin_dir)
    check(r.returncode == 1 and "another greeterd (pid %d) is using the pin directory %s"
          % (pid, a.pin_dir) in r.stderr, "a second greeterd on the pin directory refuses, naming "
          "it and the pid (%s)" % r.stderr.strip()[-300:])

    # After a reboot (pins removed), from the files alone: nothing acknowledged lost.
    a.stop()
    a.remove_pins()
    a.start()
    msgs = {x.get("uid"): x["message"] for x in a.call("io.greeter.ListMessages")["parameters"]["messages"]}
    lost = {u: (msgs.get(u), n) for u, n in acked.items() if msgs.get(u) != "n %d" % n}
    check(not lost, "every acknowledged write kept after a restart from the files (%s)" % lost)

    # Once the first has stopped, the directory is free.
    a.stop()
    b = others.enter_context(Daemon("slock3", state_dir=a.state_dir))
    b.start()
    check(b.call("io.greeter.GetMessage", {"uid": BASE})["parameters"]["message"] == "n %d" % acked[BASE],
          "another greeterd takes the state directory once the first stopped")
    b.stop()
