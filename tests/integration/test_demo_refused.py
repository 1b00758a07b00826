#!/usr/bin/env python3
"""demo.sh where another greeterd holds the pin directory and its socket is
not the one demo.sh looks at (a greeterd of another mount namespace, say):
demo.sh's greeterd refuses, and demo.sh says so as soon as it exits, with
greeterd's own sentence and what to do, exit status 1; not "cannot connect"
after a wait. The other greeterd serves on, its pins kept."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

with Daemon("demo-held") as a, tempfile.TemporaryDirectory(prefix="greeter-demo-") as tmp:
    a.start()
    a.set_message(71500, "kept")
    sock = os.path.join(tmp, "run", "greeter.sock")
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "LISTEN_FDS")}
    # The build this test runs: demo.sh installs and builds nothing.
    env.update(GREETER_DEMO_BUILD=os.path.dirname(os.path.dirname(GREETERD)),
               GREETER_PIN_DIR=a.pin_dir, GREETER_SOCKET=sock,
               STATE_DIRECTORY=os.path.join(tmp, "state"), CACHE_DIRECTORY=os.path.join(tmp, "cache"))
    r = subprocess.run(["bash", os.path.join(TOP, "demo.sh")], capture_output=True, text=True,
                       env=env, timeout=IDLE_TIMEOUT)
    print(r.stdout + r.stderr)
    want = "another greeterd (pid %d) is using the pin directory %s" % (a.proc.pid, a.pin_dir)
    check(r.returncode == 1, "demo.sh exits with status 1 (%d)" % r.returncode)
    check(want in r.stderr, "demo.sh shows greeterd's reason: %s" % want)
    check("demo.sh: greeterd exited with status 1 before it served" in r.stderr and
          "GREETER_PIN_DIR" in r.stderr, "and says that greeterd exited, and what to do")
    check("cannot connect" not in r.stdout + r.stderr, "not a bare 'cannot connect'")
    with open(os.path.join(tmp, "run", "greeterd.pid")) as f:
        pid = int(f.read())
    check(not os.path.exists("/proc/%d" % pid), "demo.sh's greeterd is gone")
    check(not os.path.exists(sock), "and left no socket")
    check(a.call("io.greeter.GetMessage", {"uid": 71500}).get("parameters", {}).get("message")
          == "kept", "the other greeterd serves on, its messages kept")
    check(a.proc.poll() is None and os.path.isdir(a.pin_dir), "its pins kept")
print("PASS")
