#!/usr/bin/env python3
"""greeterd's change log writer, a process of its own, killed: greeterd
starts another and loses nothing.

The writer is killed while idle: the next SetMessage succeeds. Then the
state directory's file system (a small ext4 on a loop device) is frozen
while a SetMessage is being written, the writer is killed there (it dies
once the disk lets it go) and the disk thawed: the next writer writes that
change again, and its caller gets a success. A restart from the files
alone shows every message, each once."""
import contextlib
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True)


def children(pid):
    """greeterd's child processes: (pid, state)."""
    return [(p, st) for p, st in family(pid) if p != pid]


def kill_children(pid):
    for p, _ in children(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)


with contextlib.ExitStack() as stack:
    require_root()
    mnt = freezable_fs(stack, "greeter-writer-")

    d = stack.enter_context(Daemon("writerkill", state_dir=os.path.join(mnt, "state")))
    stack.callback(run, "fsfreeze", "-u", mnt)  # runs before the daemon's cleanup
    d.start()
    d.set_message(501, "before")
    pid = d.proc.pid
    idle = children(pid)
    check(len(idle) == 1, "greeterd has its writer: %s" % idle)
    kill_children(pid)
    check("error" not in d.call("io.greeter.SetMessage", {"uid": 502, "message": "after idle kill"}),
          "a SetMessage after the idle writer was killed succeeds")
    check(wait_for(lambda: [p for p, _ in children(pid)] not in ([], [idle[0][0]])),
          "another writer runs: %s" % children(pid))

    r = run("fsfreeze", "-f", mnt)
    check(r.returncode == 0, "fsfreeze -f: %s" % r.stderr)
    c = d.varlink()
    c.send({"method": "io.greeter.SetMessage", "parameters": {"uid": 503, "message": "killed in"}})
    if not wait_for(lambda: any(s == "D" for _, s in children(pid)), timeout=60):
        fail("the write never waited on the frozen disk: %s" % children(pid))
    kill_children(pid)
    r = run("fsfreeze", "-u", mnt)
    check(r.returncode == 0, "fsfreeze -u: %s" % r.stderr)
    reply = c.recv()
    c.close()
    check("error" not in reply, "the write the writer was killed in succeeds: %r" % reply)
    check("writes that change again" in d.log(), "the log says the next writer wrote it again")
    check("error" not in d.call("io.greeter.SetMessage", {"uid": 504, "message": "after"}),
          "the next SetMessage succeeds")

    want = {501: "before", 502: "after idle kill", 503: "killed in", 504: "after"}
    with open(os.path.join(d.state_dir, "messages.log"), "rb") as f:
        log = f.read()
    check(log.count(b"\n") == len(want) and log.endswith(b"\n"),
          "the change log holds each change once, whole: %r" % log)
    d.stop()
    d.remove_pins()
    d.start()
    msgs = {x["uid"]: x["message"] for x in
            d.call("io.greeter.ListMessages")["parameters"]["messages"]}
    check(msgs == want, "restarted from the files: every message: %s" % msgs)
    check(stored_messages(d.state_dir) == want, "and so say the files")
print("ok")
