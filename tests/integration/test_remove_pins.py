#!/usr/bin/env python3
"""--remove-pins detaches and removes everything greeter pinned, leaves
foreign files alone, and refuses while a greeterd uses the directory;
stopping the daemon never removes pins."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

with Daemon("remove") as d, Marker("remove") as m:
    d.start()
    st = d.call("io.greeter.GetStatus")["parameters"]
    prog_ids = {p["program_id"] for p in st["programs"]}
    link_ids = {p["link_id"] for p in st["programs"]}
    r = d.remove_pins()
    check(r.returncode != 0 and "another greeterd" in r.stderr, "refused while greeterd runs")
    d.stop()
    check(os.path.exists(os.path.join(d.pin_dir, "config")), "stopping leaves the pins")
    r = d.remove_pins()
    check(r.returncode == 0, "--remove-pins exits 0")
    check(not os.path.exists(d.pin_dir), "pin directory removed")
    # The kernel frees detached links and programs asynchronously.
    check(wait_for(lambda: not (link_ids & {l["id"] for l in (bpftool_json("link", "show") or [])})),
          "links detached")
    check(wait_for(lambda: not (prog_ids & {p["id"] for p in (bpftool_json("prog", "show") or [])})),
          "programs unloaded")
    r = d.remove_pins()
    check(r.returncode == 0, "--remove-pins with nothing pinned exits 0")

    # A foreign file in the pin directory is left in place.
    d.start()
    d.stop()
    foreign = os.path.join(d.pin_dir, "not-ours")
    subprocess.run(["bpftool", "map", "create", foreign, "type", "array", "key", "4",
                    "value", "4", "entries", "1", "name", "not_ours"], check=True)
    r = d.remove_pins()
    check(r.returncode == 0 and "not-ours" in r.stderr, "foreign pin reported")
    check(os.path.exists(foreign) and not os.path.exists(os.path.join(d.pin_dir, "config")),
          "foreign pin kept, ours removed")
    os.unlink(foreign)
    os.rmdir(d.pin_dir)
