#!/usr/bin/env python3
"""Messages come back from the state file when the pins are gone (a reboot),
and a corrupt state file is moved aside and reported, not fatal."""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

with Daemon("state") as d:
    d.start()
    d.set_message(0, "Hey root!")
    d.set_message(501, "Hi user 501!")
    d.set_message(None, "Welcome")
    d.stop()
    r = d.remove_pins()
    check(r.returncode == 0 and not os.path.exists(d.pin_dir), "pins removed (simulated reboot)")
    d.start()
    msgs = {x.get("uid"): x["message"] for x in d.call("io.greeter.ListMessages")["parameters"]["messages"]}
    check(msgs == {0: "Hey root!", 501: "Hi user 501!", None: "Welcome"},
          "messages restored from the state file: %s" % msgs)
    d.set_message(502, "in the change log")  # so that a log follows the snapshot
    d.stop()
    d.remove_pins()
    path = os.path.join(d.state_dir, "messages.json")
    with open(path, "w") as f:
        f.write('{"version":1,"messages":{"501":"Hi')
    d.start()
    check("state file" in d.log() and "corrupt" in d.log(), "corrupt state file reported")
    moved = glob.glob(path + ".corrupt-*")
    check(len(moved) == 1, "corrupt state file moved aside (%s)" % moved)
    check(d.call("io.greeter.ListMessages")["parameters"]["messages"] == [], "daemon runs without its messages")
    check(glob.glob(os.path.join(d.state_dir, "messages.log.corrupt-*")),
          "the change log that followed it moved aside with it")
    d.set_message(501, "Back again")
    check(stored_messages(d.state_dir) == {501: "Back again"}, "the change is stored")
    d.stop()
    d.remove_pins()
    d.start()
    msgs = d.call("io.greeter.ListMessages")["parameters"]["messages"]
    check(msgs == [{"uid": 501, "message": "Back again"}], "and comes back after a reboot: %s" % msgs)
