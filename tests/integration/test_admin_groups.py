#!/usr/bin/env python3
"""Admin group membership is checked against all of the caller's
supplementary groups, not the first 64 (SO_PEERGROUPS fills a small buffer
only when the caller has few groups).

Watchers, each an unfiltered WatchEvents made through setpriv:
- UID 601 with 70 supplementary groups, the admin group (--admin-group) the
  70th: sees UID 501's exec, as an admin does;
- UID 602 with 70 supplementary groups, none of them the admin group: sees
  only its own exec;
- UID 603 with 300 groups, the admin group last: sees all (the buffer grows
  more than once).
The other groups are numeric GIDs no group file names (setpriv --groups takes
numbers); the admin group is a throwaway group, removed in the end."""
import contextlib
import grp
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

GROUP = "greeteradm70"
OTHER = 501
FILLER_BASE = 47000  # GIDs 47000 and up: no group file needs to name them


def watch_main(path, marker, sentinel):
    print_watched_uids(path, marker, sentinel, "watching %d groups" % len(os.getgroups()))


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "watch":
    watch_main(*sys.argv[2:])
    sys.exit(0)

require_root()  # here, not only on entering Daemon: the group below is made first


def free_gid(start):
    """The highest GID at or below start that no group has."""
    g = start
    while True:
        try:
            grp.getgrgid(g)
            g -= 1
        except KeyError:
            return g


# The kernel keeps a task's groups sorted by GID and SO_PEERGROUPS hands them
# over in that order: the admin group is "last" only with the highest GID.
if subprocess.run(["getent", "group", GROUP], capture_output=True).returncode == 0:
    subprocess.run(["groupdel", GROUP], check=True)  # left by a run that was killed
ADMIN_GID = free_gid(FILLER_BASE + 1000)
subprocess.run(["groupadd", "-g", str(ADMIN_GID), GROUP], check=True)


def fillers(n):
    gids = list(range(FILLER_BASE, FILLER_BASE + n))
    if max(gids) >= ADMIN_GID:
        fail("no free GID above the filler groups for %s" % GROUP)
    return gids


# name: (uid, gid, supplementary groups in order, expected scope)
ALL_USERS, OWN = "all users", "own only"
WATCHERS = {
    "70 groups, admin the 70th": (601, 601, fillers(69) + [ADMIN_GID], ALL_USERS),
    "70 groups, no admin": (602, 602, fillers(70), OWN),
    "300 groups, admin the 300th": (603, 603, fillers(299) + [ADMIN_GID], ALL_USERS),
}

with Daemon("admgroups", extra=["--admin-group", GROUP]) as d, Marker("admgroups") as m, \
        Marker("admgroups-end") as sentinel, contextlib.ExitStack() as stack:
    stack.callback(subprocess.run, ["groupdel", GROUP])
    procs = []
    d.start()
    for name, (uid, gid, groups, _) in WATCHERS.items():
        cmd = as_user(uid, gid, groups, __file__, "watch", d.socket, m.path, sentinel.path)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        stack.callback(reap, [p])
        procs.append((name, p))
    for name, p in procs:
        line = p.stdout.readline().strip()
        want = "watching %d groups" % len(WATCHERS[name][2])
        check(line == want, "%s: %s (got %r)" % (name, want, line))
    m.run(uid=OTHER)
    for name, (uid, gid, _, _) in WATCHERS.items():
        m.run(uid=uid, gid=gid)
    # Events come in order: a watcher that has its own sentinel has seen all.
    for name, (uid, gid, _, _) in WATCHERS.items():
        sentinel.run(uid=uid, gid=gid)
    for name, p in procs:
        out, _ = p.communicate(timeout=30)
        uid, _, groups, want = WATCHERS[name]
        seen = sorted({int(u) for u in out.split()})
        if want == ALL_USERS:
            check(OTHER in seen and uid in seen,
                  "%s: sees UID %d's exec as well as its own (saw %s)" % (name, OTHER, seen))
        else:
            check(seen == [uid], "%s: sees only its own exec (saw %s)" % (name, seen))
    check("BUG" not in d.log(), "no BUG in greeterd's log")
