#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A full greeterd refuses a connection as greeterd does: the error
io.greeter.TooManyConnections as the first message, then it closes, without
reading the call. Every command names the limit (status 1), whether the
close came before greeterctl sent its call (the send fails) or after.

Usage: test_refused.py PATH/TO/greeterctl"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_greeterd import Checks, TempDir, run  # noqa: E402

REFUSAL = b'{"error":"io.greeter.TooManyConnections","parameters":{"limit":512}}\0'
SAID = b"greeterd has too many connections open (limit 512)"
COMMANDS = [["status"], ["get", "501"], ["set", "501", "hi"], ["unset", "501"], ["list"],
            ["export"], ["metrics"], ["tail"], ["--json", "status"]]


class Refuser:
    """Accepts, sends the refusal, closes after delay seconds (0: at once)."""

    def __init__(self, path, delay):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        self.delay = delay
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            s.sendall(REFUSAL)
            if self.delay:
                time.sleep(self.delay)
            s.close()

    def close(self):
        self.listener.close()


def main():
    ctl = sys.argv[1]
    t = Checks()
    with TempDir() as tmp:
        for delay in (0, 0.3):
            sock = os.path.join(tmp, "greeter-%s.sock" % delay)
            server = Refuser(sock, delay)
            for cmd in COMMANDS:
                r = run(ctl, sock, *cmd)
                t.check(r.returncode == 1 and SAID in r.stderr,
                        "%s, closed %s: the limit named, status 1" % (" ".join(cmd),
                                                                     "after %.1f s" % delay if delay else "at once"),
                        (r.returncode, r.stderr))
            server.close()
    t.done()


if __name__ == "__main__":
    main()
