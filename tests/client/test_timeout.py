#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A greeterd that accepts the call and never answers: greeterctl gives up
after 10 s with status 1, and says so.

Usage: test_timeout.py PATH/TO/greeterctl"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_greeterd import Checks, Served, run  # noqa: E402


def main():
    ctl = sys.argv[1]
    t = Checks()
    with Served(lambda conn, req: None) as (server, sock):
        started = time.monotonic()
        r = run(ctl, sock, "status", timeout=60)
        elapsed = time.monotonic() - started
        t.check(r.returncode == 1, "no answer: status 1", r)
        t.check(b"greeterctl: cannot get greeterd's status: greeterd did not answer within 10 s"
                in r.stderr, "no answer: said so", r.stderr)
        # Not before its 10 s; the upper bound only catches "never gives up".
        t.check(9.5 <= elapsed < 40, "gave up after about 10 s", elapsed)
        t.check(len(server.requests_for("io.greeter.GetStatus")) == 1, "the call was made")
    t.done()


if __name__ == "__main__":
    main()
