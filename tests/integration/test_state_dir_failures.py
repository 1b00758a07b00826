#!/usr/bin/env python3
"""The state directory full, then read-only, during SetMessage: the client
gets an error, the message in the kernel map is unchanged, and greeterd
keeps serving; once the directory is writable again, writes succeed."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

with Daemon("statefail") as d:
    small = d.state_on_tmpfs("64k")
    d.start()
    d.set_message(501, "before")
    # Fill the filesystem.
    subprocess.run(["dd", "if=/dev/zero", "of=" + os.path.join(small, "filler"), "bs=4k"],
                   capture_output=True)
    # An append fits in what is left of the log's last page: write until one does not.
    acked, r = "before", {}
    for i in range(400):
        r = d.call("io.greeter.SetMessage", {"uid": 501, "message": "during a full disk %d" % i})
        if r.get("error"):
            break
        acked = "during a full disk %d" % i
    check(r.get("error") == "io.greeter.WriteFailed" and "space" in r["parameters"]["reason"],
          "full: WriteFailed (%s)" % r.get("parameters"))
    r = d.call("io.greeter.GetMessage", {"uid": 501})["parameters"]
    check(r["message"] == acked, "full: the map holds the last acknowledged message")
    check(stored_messages(d.state_dir).get(501) == acked,
          "full: the failed write is not in the state")
    os.unlink(os.path.join(small, "filler"))

    subprocess.run(["mount", "-o", "remount,ro", small], check=True)
    r = d.call("io.greeter.SetMessage", {"uid": 501, "message": "during read-only"})
    check(r.get("error") == "io.greeter.WriteFailed" and "Read-only" in r["parameters"]["reason"],
          "read-only: WriteFailed (%s)" % r.get("parameters"))
    check(d.call("io.greeter.GetMessage", {"uid": 501})["parameters"]["message"] == acked,
          "read-only: the map is unchanged")
    subprocess.run(["mount", "-o", "remount,rw", small], check=True)

    d.set_message(501, "after")
    check(d.call("io.greeter.GetMessage", {"uid": 501})["parameters"]["message"] == "after",
          "writable again: SetMessage works")
    check(stored_messages(d.state_dir).get(501) == "after", "and reaches the state")
    check(d.proc.poll() is None, "greeterd kept running throughout")
    d.stop()
    d.remove_pins()
    d.start()
    check(d.call("io.greeter.GetMessage", {"uid": 501})["parameters"]["message"] == "after",
          "after a reboot: the last acknowledged message, no failed one")
