#!/usr/bin/env python3
"""A state greeterd could not read is never replaced (issue 13).

Messages for 1000, 1001 and the default are set; greeterd stops and the pins
are removed (a reboot). Then messages.json cannot be read at the next start
(mode 000, greeterd without CAP_DAC_OVERRIDE): every change is refused with
WriteFailed and a reason that says what to do, and the file stays as it was.
Once it is readable again, a restart brings all three back. The same with a
directory in place of messages.json, with an unreadable change log, and with
a state directory that cannot be created."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

# Root without the capabilities that read any file (dropped from the bounding set,
# so the exec does not regain them).
NO_DAC = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
WANT = {1000: "Hi 1000", 1001: "Hi 1001", None: "Hello all"}


def listed(d):
    return {x.get("uid"): x["message"]
            for x in d.call("io.greeter.ListMessages")["parameters"]["messages"]}


def files(d):
    out = {}
    for name in sorted(os.listdir(d.state_dir)):
        path = os.path.join(d.state_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out[name] = f.read()
        else:
            out[name] = "dir"
    return out


def refused(d, what, count=0):
    """Every kind of change fails with WriteFailed; nothing on disk moves."""
    before = files(d)
    r = d.call("io.greeter.SetMessage", {"uid": 1000, "message": "would replace it"})
    check(r.get("error") == "io.greeter.WriteFailed" and "restart greeterd" in
          r["parameters"]["reason"], "%s: SetMessage refused with what to do (%s)" %
          (what, r.get("parameters")))
    r = d.call("io.greeter.RemoveMessage", {"uid": 1001})
    check(r.get("error") in ("io.greeter.WriteFailed", "io.greeter.NoSuchMessage"),
          "%s: RemoveMessage refused (%s)" % (what, r.get("error")))
    r = d.call("io.greeter.ImportMessages", {"messages": [{"uid": 7, "message": "x"}]})
    check(r.get("error") == "io.greeter.WriteFailed", "%s: ImportMessages refused" % what)
    check(files(d) == before, "%s: the state directory is as it was" % what)
    st = d.call("io.greeter.GetStatus")["parameters"]
    check(st["messages"] == count, "%s: greeterd runs on, with the %d message(s) it could read" %
          (what, count))


def setup(d):
    d.start()
    for uid, text in WANT.items():
        d.set_message(uid, text)
    d.stop()
    d.remove_pins()


with Daemon("unreadable", wrapper=NO_DAC) as d:
    # 1. messages.json mode 000.
    setup(d)
    snap = os.path.join(d.state_dir, "messages.json")
    log = os.path.join(d.state_dir, "messages.log")
    # The start after the reboot compacts the log into the snapshot (in the
    # background; a stop waits for it).
    d.start()
    d.stop()
    d.remove_pins()
    check(stored_messages(d.state_dir) == WANT, "the three messages are stored")
    with open(snap) as f:
        check("Hi 1001" in f.read(), "and are in the snapshot, messages.json")
    os.chmod(snap, 0)
    d.start()
    check("could not be read" in d.log(), "the log says the state could not be read")
    refused(d, "messages.json mode 000")
    d.stop()
    d.remove_pins()
    os.chmod(snap, 0o644)
    d.start()
    check(listed(d) == WANT, "readable again: all three messages back (%s)" % listed(d))
    d.stop()
    d.remove_pins()

    # 2. The change log unreadable: a change made since is in it.
    d.start()
    d.set_message(1002, "Hi 1002")
    d.stop()
    d.remove_pins()
    check(os.path.getsize(log) > 0, "the change is in messages.log")
    os.chmod(log, 0)
    d.start()
    check("could not be read" in d.log(), "the log says the change log could not be read")
    refused(d, "messages.log mode 000", count=3)
    d.stop()
    d.remove_pins()
    os.chmod(log, 0o644)
    d.start()
    WANT[1002] = "Hi 1002"
    check(listed(d) == WANT, "log readable again: all four back (%s)" % listed(d))
    d.stop()
    d.remove_pins()

    # 3. A directory in place of messages.json (the file kept aside by hand).
    os.rename(snap, snap + ".kept")
    os.mkdir(snap)
    d.start()
    check("not a regular file" in d.log(), "the log says it is not a regular file")
    refused(d, "a directory as messages.json")
    d.stop()
    d.remove_pins()
    os.rmdir(snap)
    os.rename(snap + ".kept", snap)
    d.start()
    check(listed(d) == WANT, "the file back: all three messages back (%s)" % listed(d))
    d.stop()

# 4. A state directory that cannot be created: changes refused, and said so.
with Daemon("nostatedir") as d:
    blocker = os.path.join(d.tmp, "file")
    open(blocker, "w").close()
    d.state_dir = os.path.join(blocker, "state")
    d.start()
    check("cannot be created" in d.log() and "refuses changes" in d.log(),
          "the log says the state directory cannot be created and changes are refused")
    r = d.call("io.greeter.SetMessage", {"uid": 1000, "message": "nowhere to keep it"})
    check(r.get("error") == "io.greeter.WriteFailed" and "cannot be created" in
          r["parameters"]["reason"], "SetMessage: WriteFailed saying why (%s)" % r.get("parameters"))
    check(d.call("io.greeter.GetMessage", {"uid": 1000})["parameters"]["source"] != "uid",
          "and nothing was set")
