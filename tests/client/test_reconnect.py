#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""greeterctl tail outliving greeterd: when the stream drops it reconnects and
resumes with after_seq = the last seq it printed (or the first state's seq),
prints no event twice and skips none.

Usage: test_reconnect.py PATH/TO/greeterctl"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_greeterd import Checks, FakeGreeterd, TempDir, event, run  # noqa: E402

LOST = "greeterctl: connection to greeterd lost; reconnecting…"


class Replayer:
    """A greeterd whose stream breaks after `per_connection` new events. Each
    stream starts with after_seq itself (or the state's seq), as a careless
    replay would, so that greeterctl has to skip what it already showed."""

    def __init__(self, last_seq, per_connection, total, restart_gap=0.0):
        self.state_seq = last_seq
        self.per_connection = per_connection
        self.total = total
        self.restart_gap = restart_gap
        self.server = None
        self.watch_params = []

    def handler(self, conn, req):
        if req.get("method") != "io.greeter.WatchEvents":
            conn.error("org.varlink.service.MethodNotFound", {"method": req.get("method")})
            return
        params = req.get("parameters") or {}
        self.watch_params.append(params)
        after = params.get("after_seq", self.state_seq)
        conn.reply({"seq": self.state_seq}, continues=True)
        for seq in range(after, min(after + self.per_connection, self.total) + 1):
            conn.reply({"event": event(seq, comm=f"c{seq}")}, continues=True)
            self.state_seq = max(self.state_seq, seq)
        time.sleep(0.05)
        if self.restart_gap:
            # A real restart: the socket is gone for a while.
            self.server.stop_listening()
            conn.close()
            threading.Timer(self.restart_gap, self.server.listen).start()
        else:
            conn.close()


def json_seqs(stdout):
    return [json.loads(line)["seq"] for line in stdout.splitlines()]


def main():
    ctl = sys.argv[1]
    t = Checks()
    with TempDir() as tmp:
        sock = os.path.join(tmp, "greeter.sock")

        # Two events per connection, five wanted: three connections.
        rp = Replayer(last_seq=100, per_connection=2, total=200)
        rp.server = FakeGreeterd(sock, rp.handler)
        r = run(ctl, sock, "tail", "--json", "-n", "5", timeout=20)
        seqs = json_seqs(r.stdout)
        t.check(r.returncode == 0, "reconnect: status 0", r.stderr)
        t.check(seqs == [101, 102, 103, 104, 105],
                "reconnect: five events after the state's 100, in order, none twice", seqs)
        t.check(len(set(seqs)) == len(seqs), "reconnect: no duplicates", seqs)
        afters = [p.get("after_seq") for p in rp.watch_params]
        t.check(afters[0] is None, "first call has no after_seq", afters)
        t.check(len(afters) >= 3, "reconnected twice at least", afters)
        if len(afters) >= 3 and seqs:
            # Each reconnection resumes after the last event printed before it.
            t.check(afters[1] == seqs[1] and afters[2] == seqs[3],
                    "after_seq is the last printed seq", (afters, seqs))
        t.check(LOST in r.stderr.decode(), "the loss is said on stderr", r.stderr)
        t.check(b"lost" not in r.stdout, "stdout stays pure JSON", r.stdout)
        rp.server.stop_listening()

        # Human output: no duplicated lines either.
        rp = Replayer(last_seq=10, per_connection=2, total=200)
        rp.server = FakeGreeterd(sock, rp.handler)
        r = run(ctl, sock, "tail", "-n", "4", timeout=20)
        lines = r.stdout.decode().splitlines()
        comms = [ln.split()[5] for ln in lines[1:]]  # TIME PID PARENT USER UNIT COMM
        t.check(r.returncode == 0 and lines and lines[0].startswith("TIME"),
                "human reconnect: one header", r)
        t.check(len(comms) == 4 and len(set(comms)) == 4, "human reconnect: 4 distinct events",
                lines)
        t.check(sum(ln.startswith("TIME") for ln in lines) == 1, "header printed once", lines)
        rp.server.stop_listening()

        # Dropped before any event: resume after the first state's seq.
        class StateOnly:
            def __init__(self):
                self.calls = []

            def handler(self, conn, req):
                params = req.get("parameters") or {}
                self.calls.append(params)
                if len(self.calls) == 1:
                    conn.reply({"seq": 50}, continues=True)
                    time.sleep(0.05)
                    conn.close()
                    return
                # A later greeterd has seen more; the client must not take it.
                conn.reply({"seq": 60}, continues=True)
                conn.reply({"event": event(51)}, continues=True)
                conn.reply({"event": event(52)}, continues=True)
        so = StateOnly()
        server = FakeGreeterd(sock, so.handler)
        r = run(ctl, sock, "tail", "--json", "-n", "2", timeout=20)
        t.check(r.returncode == 0 and json_seqs(r.stdout) == [51, 52],
                "state-only: events after the state", r)
        t.check(len(so.calls) >= 2 and so.calls[1].get("after_seq") == 50,
                "state-only: after_seq is the first state's seq", so.calls)
        server.stop_listening()

        # --after is where the first call starts, and the resume point until
        # something is printed.
        so = StateOnly()
        server = FakeGreeterd(sock, so.handler)
        r = run(ctl, sock, "tail", "--json", "-n", "2", "--after", "40", timeout=20)
        t.check(len(so.calls) >= 2 and so.calls[0].get("after_seq") == 40 and
                so.calls[1].get("after_seq") == 40, "--after 40 used on both calls", so.calls)
        server.stop_listening()

        # The socket disappears for a while (a restart): retries with backoff.
        rp = Replayer(last_seq=300, per_connection=2, total=1000, restart_gap=0.7)
        rp.server = FakeGreeterd(sock, rp.handler)
        started = time.monotonic()
        r = run(ctl, sock, "tail", "--json", "-n", "4", timeout=60)
        elapsed = time.monotonic() - started
        seqs = json_seqs(r.stdout)
        t.check(r.returncode == 0 and len(seqs) == 4 and seqs == sorted(set(seqs)),
                "restart gap: 4 events, no duplicates", (seqs, r.stderr))
        t.check(r.stderr.decode().count(LOST) == 1, "restart gap: loss said once", r.stderr)
        # A bound on greeterctl's own waiting (its backoff stops growing at
        # 1 s after a 0.7 s gap), wide enough for any machine's slowness.
        t.check(elapsed < 20, "restart gap: reconnected within the backoff", elapsed)
        rp.server.stop_listening()

        # "dropped" on a resumed stream goes to stderr.
        def dropped_handler(conn, req):
            conn.reply({"seq": 9, "dropped": 4}, continues=True)
            conn.reply({"event": event(14)}, continues=True)
        # A socket of its own: a restart timer of the Replayer above may
        # still fire (unlinking and binding sock again) on a loaded machine.
        sock = os.path.join(tmp, "dropped.sock")
        server = FakeGreeterd(sock, dropped_handler)
        r = run(ctl, sock, "tail", "--json", "-n", "1", "--after", "9")
        t.check(r.returncode == 0 and json_seqs(r.stdout) == [14] and
                b"greeterctl: 4 event(s) lost" in r.stderr, "dropped in the state reply", r)
    t.done()


if __name__ == "__main__":
    main()
