#!/usr/bin/env python3
"""Who may call what: every io.greeter method (and the default message, and
WatchEvents with and without a uid filter) by every kind of caller, each
call made for real through setpriv, against a table of expectations, printed.

Callers: root; a member of the admin group (--admin-group) by a
supplementary group, and by its primary group; an ordinary user. "own" is
the caller's UID, "other" a UID that is not the caller's. Set and remove act
on messages that exist (root puts them back before each call), so "allowed"
means the call succeeded and "denied" means io.greeter.PermissionDenied.

WatchEvents without a filter is allowed to everyone, but an ordinary user
sees only its own events: the "scope" rows check which events arrive."""
import contextlib
import grp
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

GROUP = "greeterperm"
OTHER = 502
DEFAULT = None  # the default message: no "uid" parameter


def watch_main(path, marker, sentinel):
    print_watched_uids(path, marker, sentinel, "watching")


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "watch":
    watch_main(*sys.argv[2:])
    sys.exit(0)

require_root()  # here, not only on entering Daemon: the group below is made first
existed = subprocess.run(["getent", "group", GROUP], capture_output=True).returncode == 0
subprocess.run(["groupadd", "-f", GROUP], check=True)
ADMIN_GID = grp.getgrnam(GROUP).gr_gid

# name: (uid, gid, supplementary groups)
CALLERS = {
    "root": (0, 0, []),
    "admin (group)": (601, 601, [ADMIN_GID]),
    "admin (primary)": (602, ADMIN_GID, []),
    "user": (501, 501, []),
}
A, D = "allowed", "denied"
ALL_USERS, OWN = "all users", "own only"

# (row, method, parameters or a function of the caller's UID, more, expected per caller)
ROWS = [
    ("SetMessage own", "io.greeter.SetMessage", lambda u: {"uid": u, "message": "mine"}, False,
     [A, A, A, A]),
    ("SetMessage other", "io.greeter.SetMessage", {"uid": OTHER, "message": "yours"}, False,
     [A, D, D, D]),
    ("SetMessage default", "io.greeter.SetMessage", {"message": "all"}, False,
     [A, D, D, D]),
    ("RemoveMessage own", "io.greeter.RemoveMessage", lambda u: {"uid": u}, False,
     [A, A, A, A]),
    ("RemoveMessage other", "io.greeter.RemoveMessage", {"uid": OTHER}, False,
     [A, D, D, D]),
    ("RemoveMessage default", "io.greeter.RemoveMessage", {}, False,
     [A, D, D, D]),
    ("GetMessage own", "io.greeter.GetMessage", {}, False, [A, A, A, A]),
    ("GetMessage other", "io.greeter.GetMessage", {"uid": OTHER}, False, [A, A, A, A]),
    ("ListMessages", "io.greeter.ListMessages", {}, False, [A, A, A, A]),
    ("GetStatus", "io.greeter.GetStatus", {}, False, [A, A, A, A]),
    ("GetInfo", "org.varlink.service.GetInfo", {}, False, [A, A, A, A]),
    ("WatchEvents", "io.greeter.WatchEvents", {}, True, [A, A, A, A]),
    ("WatchEvents uid=own", "io.greeter.WatchEvents", lambda u: {"uid": u}, True,
     [A, A, A, A]),
    ("WatchEvents uid=other", "io.greeter.WatchEvents", {"uid": OTHER}, True,
     [A, A, A, D]),
]
SCOPE = [ALL_USERS, ALL_USERS, ALL_USERS, OWN]


def outcome(reply):
    if reply.get("error") == "io.greeter.PermissionDenied":
        return D
    if "error" in reply:
        return "error " + reply["error"]
    return A


def print_table(title, header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    print("# " + title)
    for r in [header] + rows:
        print("#  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def check_preset(reply):
    if "error" in reply:
        fail("root could not preset a message: %s" % reply)


with Daemon("perm", extra=["--admin-group", GROUP]) as d, Marker("perm") as m, \
        Marker("perm-end") as sentinel, contextlib.ExitStack() as stack:
    if not existed:
        stack.callback(subprocess.run, ["groupdel", GROUP])
    d.start()
    S = d.socket
    names = list(CALLERS)
    table, failures = [], []
    for row, method, params, more, expected in ROWS:
        cells = []
        for name, want in zip(names, expected):
            uid, gid, groups = CALLERS[name]
            p = params(uid) if callable(params) else params
            # What set and remove act on exists, whoever acted before.
            for preset in ({"uid": uid, "message": "own"}, {"uid": OTHER, "message": "other"},
                           {"message": "default"}):
                check_preset(d.call("io.greeter.SetMessage", preset))
            got = outcome(call_as(uid, gid, groups, S, method, p, more=more)[0])
            cells.append(got if got == want else "%s (expected %s)" % (got, want))
            if got != want:
                failures.append("%s by %s: %s, expected %s" % (row, name, got, want))
        table.append([row] + cells)

    # Scope of an unfiltered WatchEvents: whose events arrive.
    def watch(name):
        uid, gid, groups = CALLERS[name]
        cmd = as_user(uid, gid, groups, __file__, "watch", S, m.path, sentinel.path)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        stack.callback(reap, [p])
        return p

    watchers = [(name, watch(name)) for name in names]
    for name, p in watchers:
        check(p.stdout.readline().strip() == "watching", "%s is watching" % name)
    for uid in sorted({CALLERS[n][0] for n in names} | {OTHER}):
        m.run(uid=uid)
    # Events come in order: a watcher that has its own sentinel has seen all.
    for name in names:
        sentinel.run(uid=CALLERS[name][0], gid=CALLERS[name][1])
    scope_rows = []
    for (name, p), want in zip(watchers, SCOPE):
        out, _ = p.communicate(timeout=30)
        seen = sorted({int(u) for u in out.split()})
        own = CALLERS[name][0]
        got = OWN if seen == [own] else ALL_USERS if len(seen) > 1 and own in seen else \
            "UIDs %s" % seen
        scope_rows.append([name, ",".join(map(str, seen)), got if got == want else
                           "%s (expected %s)" % (got, want)])
        if got != want:
            failures.append("WatchEvents scope of %s: %s, expected %s" % (name, got, want))

    print_table("Permission matrix (admin group %s, GID %d; other UID %d)" % (GROUP, ADMIN_GID, OTHER),
                ["method"] + names, table)
    print_table("Unfiltered WatchEvents: whose events arrive", ["caller", "UIDs seen", "scope"],
                scope_rows)
    for f in failures:
        print("mismatch: " + f)
    check(not failures, "%d calls and %d scopes as expected" %
          (len(ROWS) * len(names), len(scope_rows)))
    check("BUG" not in d.log(), "no BUG in greeterd's log")
