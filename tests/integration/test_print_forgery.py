#!/usr/bin/env python3
"""--print-events lines a parser can trust: UID 501 sets its message to
'hi" uid=0 pid=1 x="', runs a program named 'c uid=0' which execs one whose
path ends in 't uid=0 comm=sshd'. The line greeterd prints splits (as a
shell splits words) into exactly one field of each name, and gives back
the true uid, comm, file and message."""
import os
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

MESSAGE = 'hi" uid=0 pid=1 x="'

with Daemon("forgery") as d:
    # In greeterd's own directory (mode 0755): UID 501 runs them, and they go with it.
    caller = os.path.join(d.tmp, "c uid=0")
    target = os.path.join(d.tmp, "t uid=0 comm=sshd")
    shutil.copy("/bin/sh", caller)
    shutil.copy("/bin/true", target)
    os.chmod(caller, 0o755)
    os.chmod(target, 0o755)
    d.start()
    d.set_message(501, MESSAGE)
    subprocess.run(["setpriv", "--reuid=501", "--regid=501", "--clear-groups", caller, "-c",
                    'exec "$0"', target], check=True)

    def line():
        with open(d.out_path) as f:
            return next((x.rstrip("\n") for x in f if ' file="%s" ' % target in x), None)
    text = wait_for(line)
    check(text is not None, "greeterd printed the exec: %r" % text)
    print("# %s" % text)
    words = shlex.split(text)
    keys = [w.split("=", 1)[0] for w in words]
    # parent= is there when the parent is in the process table (a host running
    # more processes than it holds may have let go of it).
    check(sorted(k for k in keys if k != "parent")
          == sorted(["seq", "pid", "ppid", "uid", "comm", "file", "message", "unit", "exec", "args"])
          and keys.count("parent") <= 1,
          "one field of each name, no other: %s" % keys)
    fields = dict(w.split("=", 1) for w in words)
    check(fields["uid"] == "501", "uid is 501's (%s)" % fields["uid"])
    check(fields["comm"] == "c uid=0", "comm is the caller's name (%r)" % fields["comm"])
    check(fields["file"] == target, "file is the program's path (%r)" % fields["file"])
    check(fields["message"] == MESSAGE, "message is 501's message (%r)" % fields["message"])
    e = parse_event_line(text)
    check(e and (e["uid"], e["comm"], e["filename"], e["message"]) == (501, "c uid=0", target, MESSAGE),
          "the test harness's parser reads the same: %s" % e)

    # The exit of the same process: its comm is the program's own, cut at 15 bytes.
    def exit_line():
        with open(d.out_path) as f:
            return next((x.rstrip("\n") for x in f if x.split(" ", 2)[1] == "exit"
                         and ' file="%s" ' % target in x), None)
    text = wait_for(exit_line)
    check(text is not None, "greeterd printed the exit: %r" % text)
    print("# %s" % text)
    words = shlex.split(text)
    fields = dict(w.split("=", 1) for w in words if "=" in w)
    check(words[1] == "exit" and fields["comm"] == os.path.basename(target)[:15]
          and fields["file"] == target and fields["exec"] == e["exec_id"] and fields["code"] == "0",
          "the exit's line splits into its fields, its comm and file the program's")
    check(parse_event_line(text) is None and parse_exit_line(text)["exec_id"] == e["exec_id"],
          "the harness reads it as an exit, never as an exec")
