#!/usr/bin/env python3
"""greeterctl export and import against the real greeterd (ImportMessages):

- merge: the file's messages are set, the others kept;
- --replace: the set becomes the file;
- a bad file changes nothing (export before and after, byte for byte), and
  neither does an ImportMessages call with one bad entry among good ones
  (InvalidImport names its index);
- only root may import: UID 601, a member of the admin group, is refused,
  by greeterctl (status 1, in words) and by a raw call;
- a round trip: hostile messages (quotes, backslashes, bidi controls, line
  separators, 4-byte UTF-8, 63 bytes) exported from one greeterd, imported
  with --replace into a second one, export the same bytes there, also
  after that greeterd restarts;
- 10,000 messages through one `greeterctl import` (a request beyond the
  64 KiB bound of unprivileged callers, within root's 4 MiB), the map's
  16,384 messages of 63 quotes each (the largest request greeterctl
  makes), and calls over either bound refused.

ImportMessages missing from greeterd is a failure, never a skip."""
import contextlib
import grp
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

GROUP = "greeterimp"

HOSTILE = {
    "0": 'quote " backslash \\ slash /',
    "501": "bidi \u202egnp.exe\u202c isolate \u2066x\u2069",
    "601": "line \u2028 paragraph \u2029 separators",
    "602": "emoji \U0001F600 accents \u00e9\u00fc CJK \u4e16\u754c",
    "603": "x" * 63,
    "604": "{\"version\": 2, \"messages\": {}}",
    "605": "\\u001b[31m not an escape, just text",
    "4294967294": "the largest UID",
    "default": "<script>alert(1)</script>",
}


def ctl(d, *args, stdin=None, as_uid=None):
    cmd = [GREETERCTL, "--socket", d.socket, *args]
    if as_uid is not None:
        cmd = ["setpriv", "--reuid=%d" % as_uid, "--regid=%d" % as_uid, "--clear-groups"] + cmd
    return subprocess.run(cmd, input=stdin, capture_output=True, timeout=60,
                          env=dict(os.environ, LC_ALL="C.UTF-8"))


def said(r):
    """What a greeterctl run did, short."""
    return "status %d, stdout %r, stderr %r" % (r.returncode, r.stdout[:200], r.stderr[:300])


def export(d):
    r = ctl(d, "export")
    if r.returncode != 0:
        fail("greeterctl export: status %d: %s" % (r.returncode, r.stderr.decode()))
    return r.stdout


def messages_of(d):
    return json.loads(export(d))["messages"]


def document(messages):
    return json.dumps({"version": 1, "messages": messages}, ensure_ascii=False).encode()


def write(d, name, data):
    path = os.path.join(d.tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)
    return path


def require_import(d):
    """ImportMessages exists: a greeterd without it fails this test."""
    r = d.call("io.greeter.ImportMessages", {"messages": []})
    if r.get("error") in ("org.varlink.service.MethodNotFound",
                          "org.varlink.service.MethodNotImplemented"):
        fail("greeterd does not implement io.greeter.ImportMessages: %r" % r)
    check("error" not in r and r.get("parameters") == {"set": 0, "removed": 0, "added": 0,
                                                     "updated": 0, "unchanged": 0},
          "an empty merge: all 0 (%r)" % r)


with Daemon("import-a", extra=["--admin-group", GROUP]) as a, Daemon("import-b") as b, \
        contextlib.ExitStack() as stack:
    existed = subprocess.run(["getent", "group", GROUP], capture_output=True).returncode == 0
    subprocess.run(["groupadd", "-f", GROUP], check=True)
    if not existed:
        stack.callback(subprocess.run, ["groupdel", GROUP])
    ADMIN_GID = grp.getgrnam(GROUP).gr_gid

    a.start()
    require_import(a)
    a.set_message(501, "five-oh-one")
    a.set_message(601, "six-oh-one")
    a.set_message(None, "everyone")

    # Merge.
    f = write(a, "merge.json", document({"501": "new 501", "700": "seven hundred"}))
    r = ctl(a, "import", f)
    check(r.returncode == 0 and r.stdout == b"added 1, updated 1, removed 0, unchanged 0\n",
          "merge: status 0, 'added 1, updated 1, removed 0, unchanged 0' (%s)" % said(r))
    check(messages_of(a) == {"501": "new 501", "601": "six-oh-one", "700": "seven hundred",
                             "default": "everyone"}, "merge: the others are kept")
    r = a.call("io.greeter.GetMessage", {"uid": 700})
    check(r.get("parameters", {}).get("message") == "seven hundred",
          "merge: GetMessage sees the imported message")

    # Replace, from standard input, with --json.
    r = ctl(a, "import", "--replace", "--json", "-",
            stdin=document({"42": "forty-two", "default": "all of you"}))
    check(r.returncode == 0 and json.loads(r.stdout) == {
        "changed": True, "set": 2, "removed": 3, "added": 1, "updated": 1, "unchanged": 0},
        "replace: changed, set 2, removed 3, added 1, updated 1 (%s)" % said(r))
    check(messages_of(a) == {"42": "forty-two", "default": "all of you"},
          "replace: the set is the file")
    r = ctl(a, "import", "--replace", write(a, "empty.json", document({})))
    check(r.returncode == 0 and r.stdout == b"added 0, updated 0, removed 2, unchanged 0\n",
          "replace with an empty document removes everything (%r)" % said(r))
    check(messages_of(a) == {}, "replace with an empty document: nothing is left")

    # A bad file changes nothing.
    a.set_message(501, "keep me")
    a.set_message(None, "keep us")
    before = export(a)
    bad = [
        ("a key that is no UID", document({"502": "fine", "bob": "x"}), '"bob" is neither'),
        ("a message too long", document({"502": "fine", "503": "y" * 64}),
         '"503": message is longer than 63 bytes'),
        ("an escape in a message", document({"502": "fine", "504": "red \u001b[31m"}),
         '"504": message contains a control character'),
        ("a UID twice", b'{"version": 1, "messages": {"502": "a", "0502": "b"}}',
         "UID 502 appears twice"),
        ("not JSON", b'{"version": 1, "messages": {"502": "a",', "not valid JSON"),
        ("another version", b'{"version": 2, "messages": {"502": "a"}}',
         "unsupported version 2"),
    ]
    for name, data, want in bad:
        for replace in ([], ["--replace"]):
            r = ctl(a, "import", *replace, write(a, "bad.json", data))
            err = r.stderr.decode(errors="replace")
            check(r.returncode == 4 and want in err and "nothing was changed" in err,
                  "bad file (%s%s): status 4, says %r" % (name, ", --replace" if replace else "",
                                                         want))
    check(export(a) == before, "bad files changed nothing (export byte-identical)")

    # greeterd itself refuses a bad entry among good ones, all or nothing.
    r = a.call("io.greeter.ImportMessages", {"messages": [
        {"uid": 1, "message": "good"}, {"uid": 2, "message": "bad \u001b[2J"},
        {"message": "good default"}], "replace": True})
    check(r.get("error") == "io.greeter.InvalidImport" and
          r.get("parameters", {}).get("index") == 1,
          "a bad entry: InvalidImport with index 1 (%r)" % r)
    check(export(a) == before, "a refused import changed nothing")

    # Only root.
    f = write(a, "user.json", document({"601": "mine", "502": "not mine"}))
    r = ctl(a, "import", f, as_uid=601)
    err = r.stderr.decode()
    check(r.returncode == 1 and "only root may import messages" in err,
          "UID 601: greeterctl import refused, status 1, in words (%r)" % said(r))
    r = call_as(601, 601, [ADMIN_GID], a.socket, "io.greeter.ImportMessages",
                {"messages": [{"uid": 601, "message": "mine"}]})[0]
    check(r.get("error") == "io.greeter.PermissionDenied",
          "UID 601 in the admin group: ImportMessages is PermissionDenied (%r)" % r)
    check(export(a) == before, "refused callers changed nothing")
    r = ctl(a, "export", as_uid=601)
    check(r.returncode == 0 and r.stdout == before, "UID 601 may export (ListMessages)")

    # Round trip to a second greeterd, hostile messages and all.
    r = ctl(a, "import", "--replace", write(a, "hostile.json", document(HOSTILE)))
    # 501 and the default were set: updated.
    check(r.returncode == 0 and r.stdout == b"added 7, updated 2, removed 0, unchanged 0\n",
          "hostile messages imported (%r)" % said(r))
    exported = export(a)
    check(json.loads(exported)["messages"] == HOSTILE, "export holds every hostile message")
    check(not any(c < 0x20 and c not in (0x09, 0x0a) for c in exported) and
          b"\x7f" not in exported, "export holds no raw control bytes")
    check(all(ch.encode() not in exported for ch in "\u202e\u202c\u2066\u2069\u2028\u2029") and
          b"bidi \\u202egnp.exe\\u202c isolate \\u2066x\\u2069" in exported,
          "export writes bidi controls and line separators as \\uXXXX")
    check(list(json.loads(exported)["messages"]) == sorted(
        (k for k in HOSTILE if k != "default"), key=int) + ["default"],
        "export: keys by UID, default last")
    b.start()
    b.set_message(777, "overwritten")
    f = write(b, "from-a.json", exported)
    r = ctl(b, "import", "--replace", f)
    check(r.returncode == 0 and r.stdout == b"added 9, updated 0, removed 1, unchanged 0\n",
          "second greeterd: import --replace of the export (%r)" % said(r))
    check(export(b) == exported, "second greeterd: export is byte-identical")
    b.stop()
    b.remove_pins()  # what a reboot does: only the state file is left
    b.start()
    check(export(b) == exported, "second greeterd, restarted without pins: the same export")

    # 10,000 messages in one call: beyond 64 KiB, within root's bound.
    many = {str(u): "message %d \u00e9 \"quoted\" \\" % u for u in range(10000, 1, -1)}
    many["default"] = "the default"
    data = document(many)
    f = write(b, "many.json", data)
    start = time.monotonic()
    r = ctl(b, "import", "--replace", f)
    took = time.monotonic() - start
    removed = len(set(HOSTILE) - set(many))
    # Of HOSTILE's keys, 501, 601 to 605 and the default are in many too: updated.
    check(r.returncode == 0 and r.stdout == b"added 9993, updated 7, removed %d, unchanged 0\n" %
          removed,
          "10,000 messages (%d bytes) in one import, in %.2f s (%s)" %
          (len(data), took, said(r)))
    got = messages_of(b)
    check(got == many, "all 10,000 messages are set")
    r = b.call("io.greeter.GetStatus")
    check(r.get("parameters", {}).get("messages") == 10000, "GetStatus counts 10,000")
    # The largest import there is: the map full, every message 63 quotes
    # (each sent as two bytes), UIDs of ten digits. It fits root's bound.
    full = {str(4294967294 - u): '"' * 63 for u in range(16383)}
    full["default"] = '"' * 63
    data = document(full)
    r = ctl(b, "import", "--replace", write(b, "full.json", data))
    check(r.returncode == 0 and
          r.stdout == b"added 16383, updated 1, removed %d, unchanged 0\n" %
          len(set(many) - set(full)),
          "16,384 messages of 63 quotes (%d bytes) in one import (%s)" % (len(data), said(r)))
    check(messages_of(b) == full, "all 16,384 messages are set")
    r = ctl(b, "import", "--replace", f)  # back to the 10,000
    check(r.returncode == 0 and
          r.stdout == b"added 9999, updated 1, removed %d, unchanged 0\n" %
          len(set(full) - set(many)),
          "back to 10,000 messages (%s)" % said(r))

    # The request bound: 64 KiB for other callers, 4 MiB for root.
    pad = [{"uid": 601, "message": "x" * 60}] * 1200  # about 100 KiB
    r = call_as(601, 601, [], b.socket, "io.greeter.ImportMessages", {"messages": pad})[0]
    check(r.get("error") == "io.greeter.RequestTooLarge" and
          r.get("parameters", {}).get("limit") == 65536,
          "UID 601: a 100 KiB call is RequestTooLarge, limit 65536 (%r)" % r)
    c = b.varlink()
    try:
        try:
            c.send({"method": "io.greeter.ImportMessages", "parameters": {
                "messages": [{"uid": 1, "message": "x" * 60}] * 60000}})  # about 4.3 MiB
        except (BrokenPipeError, ConnectionResetError):
            pass  # greeterd said why and hung up before taking it all
        try:
            r = c.recv()
        except (OSError, ConnectionError) as e:
            r = {"no reply": str(e)}
    finally:
        c.close()
    check(r.get("error") == "io.greeter.RequestTooLarge" and
          r.get("parameters", {}).get("limit") == 4 << 20,
          "root: a 4.3 MiB call is RequestTooLarge, limit 4 MiB (%r)" % r)
    check(messages_of(b) == many, "calls over the bound changed nothing")
    check("BUG" not in a.log() + b.log(), "no BUG in greeterd's logs")
