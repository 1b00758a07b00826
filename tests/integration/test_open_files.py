#!/usr/bin/env python3
"""Root is not locked out under a low open file limit: greeterd started
by hand under a hard limit of 1024 open files (as in a container) sizes
its connection limits to it (greeterd(8): 1024 less 128 for its own
files, an eighth of that per UID). UIDs 501 and up each open connections
one at a time until refused: every one is answered, served or refused
with io.greeter.TooManyConnections (112 per UID, then 832 for all other
users), none left waiting for a file descriptor; root is still answered,
three times of three (greeterctl status). Under a limit of 200, too few
for the reserves, greeterd refuses to start and says why."""
import contextlib
import json
import os
import select
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

NOFILE = 1024
OWN = 128  # OWN_FILES in daemon/api/api.c
MAX = NOFILE - OWN
PER_UID = MAX // 8
RESERVED = 64  # RESERVED_CONNECTIONS
GET = b'{"method":"io.greeter.GetMessage"}\0'


def answer(s):
    """The first reply on s: None if it never comes or the socket closes first."""
    buf = b""
    while b"\0" not in buf:
        if not select.select([s], [], [], IDLE_TIMEOUT)[0]:
            return None
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        buf += chunk
    return json.loads(buf.split(b"\0")[0])


def fill_main(path):
    """As another user: connections one at a time, each asked once, until
    one is not served; prints how many were and why the last was not, then
    holds them until stdin closes."""
    socks, last = [], None
    while last is None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        try:
            s.sendall(GET)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused: its reason waits to be read
        r = answer(s)
        if r and "error" not in r:
            socks.append(s)
        elif r:
            last = "%s limit=%s" % (r["error"], r.get("parameters", {}).get("limit"))
        else:
            last = "unanswered"
    print(json.dumps({"served": len(socks), "last": last}), flush=True)
    select.select([sys.stdin], [], [])


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "fill":
    fill_main(sys.argv[2])
    sys.exit(0)

with Daemon("open-files", wrapper=["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE)]) as d, \
        contextlib.ExitStack() as stack:
    holders = []
    stack.callback(reap, holders)
    d.start()
    users = {}
    for uid in range(501, 520):
        p = subprocess.Popen(as_user(uid, uid, [], __file__, "fill", d.socket),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        holders.append(p)
        users[uid] = json.loads(p.stdout.readline())
        # Refused at its own limit: the next user goes on.
        if users[uid]["last"] != "io.greeter.TooManyConnections limit=%d" % users[uid]["served"]:
            break
    print("# %s" % users)

    answers = []
    for _ in range(3):
        try:
            r = subprocess.run([GREETERCTL, "--socket", d.socket, "status"],
                               capture_output=True, text=True, timeout=IDLE_TIMEOUT)
            answers.append("ok" if r.returncode == 0 else r.stderr.strip())
        except subprocess.TimeoutExpired:
            answers.append("no answer after %d s" % IDLE_TIMEOUT)
    print("# root: %s" % answers)
    check(answers == ["ok"] * 3, "root is answered, 3 times of 3: %s" % answers)
    check(all(u["last"] != "unanswered" for u in users.values()),
          "every connection of the other users was answered, served or refused")
    last = users.pop(max(users))
    check(all(u["served"] == PER_UID for u in users.values()),
          "each user but the last was served %d connections, then refused naming that limit"
          % PER_UID)
    check(last["last"] == "io.greeter.TooManyConnections limit=%d" % (MAX - RESERVED),
          "the last was refused once the other users held %d: %s" % (MAX - RESERVED, last))
    check(sum(u["served"] for u in users.values()) + last["served"] == MAX - RESERVED,
          "other users held %d connections, the %d kept for root and the admin group free"
          % (MAX - RESERVED, RESERVED))
    check("allows %d connections, %d per UID" % (MAX, PER_UID) in d.log(),
          "greeterd logged the limits it sized")

    for p in holders:
        p.stdin.close()
    d.stop()
    d.wrapper = ["prlimit", "--nofile=200:200"]
    d.start(wait=False)
    d.proc.wait(timeout=IDLE_TIMEOUT)
    check(d.proc.returncode == 1 and "raise it (LimitNOFILE=, ulimit -n)" in d.log(),
          "under a limit of 200 greeterd refuses to start, saying why (%d): %s"
          % (d.proc.returncode, d.log().strip().splitlines()[-1:]))
