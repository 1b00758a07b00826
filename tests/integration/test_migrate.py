#!/usr/bin/env python3
"""Pins of another build are replaced without losing a message: a pin set
in the book's layout (12-byte messages, no ABI metadata), a pin set whose
ABI version differs, and a change of ring buffer size."""
import json
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403


def bpftool(*args):
    r = subprocess.run(["bpftool"] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        fail("bpftool %s: %s" % (" ".join(args), r.stderr))


def hexbytes(b):
    return [str(x) for x in b]


# 1. An old pin set: config map with 12-byte values, no meta map.
with Daemon("migrate") as d, Marker("migrate") as m:
    os.makedirs(d.pin_dir)
    cfg = os.path.join(d.pin_dir, "config")
    bpftool("map", "create", cfg, "type", "hash", "key", "4", "value", "12",
            "entries", "128", "name", "config")
    bpftool("map", "update", "pinned", cfg, "key", *hexbytes(struct.pack("<I", 501)),
            "value", *hexbytes(b"Hi user 501".ljust(12, b"\0")))
    bpftool("map", "update", "pinned", cfg, "key", *hexbytes(struct.pack("<I", 0xffffffff)),
            "value", *hexbytes(b"Hello there".ljust(12, b"\0")))
    old_id = bpftool_json("map", "show", "pinned", cfg)["id"]
    d.start()
    check("replacing the objects pinned" in d.log(), "log says the old pins are replaced")
    check("carried 2 message(s) over" in d.log(), "log says 2 messages were carried over")
    got = d.call("io.greeter.GetMessage", {"uid": 501})["parameters"]
    check(got["message"] == "Hi user 501" and got["source"] == "uid", "UID 501's message carried over")
    got = d.call("io.greeter.GetMessage", {"uid": 7})["parameters"]
    check(got["message"] == "Hello there" and got["source"] == "default", "default message carried over")
    check(bpftool_json("map", "show", "pinned", cfg)["id"] != old_id, "config map replaced")
    m.run(uid=501)
    evs = wait_for(lambda: m.mine(d.events()))
    check(evs and evs[0]["message"] == "Hi user 501", "exec greeted with the carried message")
    check(stored_messages(d.state_dir).get(501) == "Hi user 501",
          "carried messages written to the state (snapshot and change log)")

    # 2. Same layout, different ABI version in the metadata.
    d.set_message(502, "Hi user 502!")
    d.stop()
    meta = os.path.join(d.pin_dir, "meta")
    raw = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", meta], capture_output=True, text=True)
    entry = json.loads(raw.stdout)[0]
    val = [int(x, 16) for x in entry["value"]] if isinstance(entry["value"], list) else None
    if val is None:
        fail("cannot read the meta map: %s" % raw.stdout)
    val[0:4] = list(struct.pack("<I", 999))
    bpftool("map", "update", "pinned", meta, "key", "0", "0", "0", "0", "value", *[str(x) for x in val])
    cfg_id = bpftool_json("map", "show", "pinned", cfg)["id"]
    d.start()
    check("a different ABI version" in d.log(), "log names the ABI version mismatch")
    msgs = d.call("io.greeter.ListMessages")["parameters"]["messages"]
    texts = sorted(x["message"] for x in msgs)
    check(texts == ["Hello there", "Hi user 501", "Hi user 502!"], "all messages kept (%s)" % texts)
    check(bpftool_json("map", "show", "pinned", cfg)["id"] != cfg_id, "maps of another ABI replaced")

    # 3. A new ring buffer size: ring replaced, config map and sequence kept.
    seq_before = d.call("io.greeter.GetStatus")["parameters"]["counters"]["emitted"]
    last = max(e["seq"] for e in d.all_events()) if d.all_events() else 0
    d.stop()
    cfg_id = bpftool_json("map", "show", "pinned", cfg)["id"]
    m.run(uid=502)  # waits in the old ring
    d.extra = ["--ring-size", "1M"]
    d.start()
    st = d.call("io.greeter.GetStatus")["parameters"]
    check(st["ring_size"] == 1 << 20, "ring buffer is now 1 MiB")
    check(bpftool_json("map", "show", "pinned", cfg)["id"] == cfg_id, "compatible config map reused")
    evs = wait_for(lambda: m.mine(d.events()))
    check(evs and evs[0]["message"] == "Hi user 502!", "event left in the old ring delivered")
    m.run(uid=501)
    evs = wait_for(lambda: len(m.mine(d.events())) >= 2 and m.mine(d.events()))
    check(evs[-1]["seq"] > last, "sequence numbers continue after the replacement")
