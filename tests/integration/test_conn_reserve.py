#!/usr/bin/env python3
"""No local user can lock root out: UIDs 501-508 each hold as many
connections as greeterd lets them (512 per UID), filling all it serves to
other users; a member of the admin group then holds as many as it may,
and is served from the 64 kept for root and the admin group, all but
the 16 kept for root alone, then refused with io.greeter.TooManyConnections
naming that limit; root is still served, three times of three (greeterctl
set); a ninth user is refused, naming the limit for other users. Once the
connections close, everyone is served again."""
import contextlib
import json
import os
import resource
import select
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

MAX = 4096       # MAX_CONNECTIONS in daemon/api/api.c
PER_UID = 512    # MAX_CONNECTIONS_PER_UID
RESERVED = 64    # RESERVED_CONNECTIONS
ROOT_RESERVED = 16  # ROOT_CONNECTIONS
USERS = range(501, 509)
ADMIN_UID = 509
OTHER_UID = 510
GROUP = "greeter-test-reserve"
GET = b'{"method":"io.greeter.GetMessage"}\0'


def first_reply(s):
    buf = b""
    while b"\0" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            return None
        buf += chunk
    return json.loads(buf.split(b"\0")[0])


def hold_main(path, n):
    """As another user: n connections, each asked once; prints how many were
    served and the errors of the others, then holds them until stdin closes."""
    socks, served, errors = connections(path, n, GET, IDLE_TIMEOUT), 0, {}
    for s in socks:
        r = first_reply(s)
        if r and "error" not in r:
            served += 1
        else:
            key = "%s limit=%s" % (r.get("error"), r.get("parameters", {}).get("limit")) if r else "closed"
            errors[key] = errors.get(key, 0) + 1
    print(json.dumps({"served": served, "errors": errors}), flush=True)
    select.select([sys.stdin], [], [])


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "hold":
    hold_main(sys.argv[2], int(sys.argv[3]))
    sys.exit(0)

with Daemon("reserve", extra=["--admin-group", GROUP]) as d, contextlib.ExitStack() as stack:
    # Room for every connection in this process's children (setpriv keeps it).
    resource.setrlimit(resource.RLIMIT_NOFILE,
                       (MAX + 1024, max(MAX + 1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1])))
    subprocess.run(["groupdel", GROUP], capture_output=True)
    subprocess.run(["groupadd", GROUP], check=True)
    stack.callback(subprocess.run, ["groupdel", GROUP], capture_output=True)
    gid = int(subprocess.run(["getent", "group", GROUP], capture_output=True, text=True,
                             check=True).stdout.split(":")[2])
    holders = []
    stack.callback(reap, holders)
    d.start()
    counts = {}
    for uid in USERS:
        p = subprocess.Popen(as_user(uid, uid, [], __file__, "hold", d.socket, PER_UID),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        holders.append(p)
        counts[uid] = json.loads(p.stdout.readline())
    print("# %s" % counts)
    served = sum(c["served"] for c in counts.values())
    check(served == MAX - RESERVED, "other users hold %d connections: all but the %d kept "
          "(%d)" % (MAX - RESERVED, RESERVED, served))
    check(all(c["served"] == PER_UID for uid, c in counts.items() if uid != USERS[-1]),
          "each of the first 7 users was served its %d" % PER_UID)
    check(counts[USERS[-1]]["errors"] == {"io.greeter.TooManyConnections limit=%d" % (MAX - RESERVED):
                                          PER_UID - (MAX - RESERVED - 7 * PER_UID)},
          "the rest refused with io.greeter.TooManyConnections, limit %d: %s"
          % (MAX - RESERVED, counts[USERS[-1]]["errors"]))

    p = subprocess.Popen(as_user(ADMIN_UID, ADMIN_UID, [gid], __file__, "hold", d.socket, PER_UID),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    holders.append(p)
    admin = json.loads(p.stdout.readline())
    print("# admin group: %s" % admin)
    check(admin["served"] == RESERVED - ROOT_RESERVED,
          "a member of the admin group is served %d times, all the reserve but root's %d (%d)"
          % (RESERVED - ROOT_RESERVED, ROOT_RESERVED, admin["served"]))
    check(admin["errors"] == {"io.greeter.TooManyConnections limit=%d" % (MAX - ROOT_RESERVED):
                              PER_UID - (RESERVED - ROOT_RESERVED)},
          "then refused with io.greeter.TooManyConnections, limit %d: %s"
          % (MAX - ROOT_RESERVED, admin["errors"]))
    for i in range(3):
        r = subprocess.run([GREETERCTL, "--socket", d.socket, "set", "0", "hi %d" % i],
                           capture_output=True, text=True, timeout=IDLE_TIMEOUT)
        check(r.returncode == 0, "root is served, %d of 3: greeterctl set 0 'hi %d' (%d: %s)"
              % (i + 1, i, r.returncode, r.stderr.strip()))
    r = call_as(OTHER_UID, OTHER_UID, [], d.socket, "io.greeter.GetMessage")[0]
    check(r.get("error") == "io.greeter.TooManyConnections"
          and r.get("parameters", {}).get("limit") == MAX - RESERVED,
          "another user is refused, limit %d: %s" % (MAX - RESERVED, r))

    for p in holders:
        p.stdin.close()
        p.wait()
    ok = wait_for(lambda: "error" not in call_as(OTHER_UID, OTHER_UID, [], d.socket,
                                                  "io.greeter.GetMessage")[0])
    check(ok, "once they closed, another user is served again")
