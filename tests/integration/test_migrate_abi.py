#!/usr/bin/env python3
"""Upgrade from a real pin set of the previous ABI's build: that greeterd
(built here from git, the commit before the current ABI version was
introduced) runs, greets, stops with events waiting in its ring; this
greeterd replaces its pins and loses nothing: messages carried over, the
old ring's events delivered in their layout (ABI 3: with arguments and
unit, and an exec id, their time and pid, but no parent: that layout had
none), the sequence and the stream continued."""
import fcntl
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

require_root()  # before the previous ABI's build: a run that skips builds nothing

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def git(*args):
    r = subprocess.run(["git", "-C", SRC] + list(args), capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def previous_build():
    """greeterd of the commit before this ABI version; built once, kept in /var/tmp."""
    with open(os.path.join(SRC, "bpf", "greeter.h")) as f:
        abi = re.search(r"#define GREETER_ABI_VERSION (\d+)", f.read()).group(1)
    if git("rev-parse", "--git-dir") is None:
        skip("not a git checkout: no previous build to migrate from")
    intro = git("log", "-1", "--format=%H", "-S#define GREETER_ABI_VERSION " + abi, "--",
                "bpf/greeter.h")
    # Not committed yet: HEAD is still of the previous ABI.
    rev = git("rev-parse", intro + "^" if intro else "HEAD")
    if not rev:
        skip("cannot find the commit before ABI %s" % abi)
    top = "/var/tmp/greeter-prev-abi-%s" % rev[:12]
    binary = os.path.join(top, "build", "daemon", "greeterd")
    os.makedirs(top, exist_ok=True)
    with open(os.path.join(top, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other build's suite may build it too
        if not os.access(binary, os.X_OK):
            src = os.path.join(top, "src")
            shutil.rmtree(src, ignore_errors=True)
            shutil.rmtree(os.path.join(top, "build"), ignore_errors=True)
            os.makedirs(src)
            archive = subprocess.run(["git", "-C", SRC, "archive", rev], capture_output=True,
                                     check=True).stdout
            subprocess.run(["tar", "-x", "-C", src], input=archive, check=True)
            env = {k: v for k, v in os.environ.items() if k not in ("CC", "CFLAGS", "LDFLAGS")}
            for cmd in (["meson", "setup", os.path.join(top, "build"), src, "-Dman=disabled"],
                        ["ninja", "-C", os.path.join(top, "build"), "daemon/greeterd"]):
                r = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if r.returncode != 0 and "-Dman=disabled" in cmd:
                    r = subprocess.run(cmd[:-1], capture_output=True, text=True, env=env)
                if r.returncode != 0:
                    fail("building the previous ABI's greeterd (%s): %s\n%s"
                         % (rev[:12], " ".join(cmd), r.stdout[-3000:] + r.stderr[-3000:]))
    return rev, binary


rev, old_binary = previous_build()
print("# previous build: %s (%s)" % (rev[:12], old_binary))
# new takes over old's pin and state directories: cleaned up first, then old
# (whose pins are gone by then).
with Daemon("migabi", binary=old_binary) as old, \
        Daemon("migabi", pin_dir=old.pin_dir, state_dir=old.state_dir) as new, Marker("migabi") as m:
    old.start()
    old.set_message(501, "Hi 501, from the previous ABI")
    c = old.varlink()
    first = c.call("io.greeter.WatchEvents", {}, more=True)["parameters"]
    c.close()
    stream = first["stream"]
    m.run(uid=501)
    handed = wait_for(lambda: m.mine(old.events()))
    check(handed and handed[0]["message"] == "Hi 501, from the previous ABI",
          "the previous build greets")
    check(old.stop() == 0, "the previous build stops")
    m.run(uid=501, count=2)  # wait in the old ring, in the old layout

    new.start()
    log = new.log()
    check("replacing the objects pinned" in log and "a different ABI version" in log,
          "the pins of the previous ABI are replaced")
    got = new.call("io.greeter.GetMessage", {"uid": 501})["parameters"]
    check(got["message"] == "Hi 501, from the previous ABI", "messages carried over")

    c = new.varlink()
    first = c.call("io.greeter.WatchEvents", {"after_seq": 0, "uid": 501}, more=True)["parameters"]
    check(first["stream"] == stream, "the stream continues (%s)" % stream)
    evs = []
    c.sock.settimeout(10)
    while len(evs) < 3:
        ev = c.recv()["parameters"].get("event")
        if ev and ev["filename"] == m.path:
            evs.append(ev)
    check(evs[0]["seq"] == handed[0]["seq"], "the event the previous build handed on is replayed")
    waiting = wait_for(lambda: [e for e in m.mine(new.events()) if e["uid"] == 501])
    check(len(waiting) == 2 and all(e["seq"] > handed[0]["seq"] for e in waiting),
          "the 2 events left in the old ring are delivered once, after it (%s)"
          % [e["seq"] for e in waiting])
    check(all(e["args"][0] == m.path and e["exec_id"] and "parent_exec_id" not in e
              and e["kind"] == "exec" for e in evs),
          "old records: their arguments, an exec id, no parent (%s)" % evs[0])
    check(all(e["message"] == "Hi 501, from the previous ABI" for e in evs),
          "with their messages")

    subprocess.run(["setpriv", "--reuid=501", "--regid=501", "--clear-groups", m.path, "now", "ABI 4"],
                   check=True)
    while True:
        ev = c.recv()["parameters"].get("event")
        if ev and ev["filename"] == m.path:
            break
    check(ev["args"] == [m.path, "now", "ABI 4"] and ev["seq"] > evs[-1]["seq"],
          "new events carry arguments, and the numbering continues (%d)" % ev["seq"])
    # setpriv execs the program in its own process: the parent is this test (seeded).
    check(ev.get("parent_exec_id") and ev.get("parent_pid") == os.getpid(),
          "and their parent's exec (%s)" % ev)
    c.close()
