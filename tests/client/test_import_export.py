#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""greeterctl export and import against a fake greeterd: the document export
prints (sorted, JSON-escaped, byte-exact round trip), what import sends
(one ImportMessages call, merge or replace), what it says was done (in
words and with --json, "changed" false when nothing was, status 0 either way;
older greeterds' shorter replies too), every kind of bad file refused before
anything is sent (status 4), greeterd's errors in words (InvalidImport named
by the file's key), and 10,000 messages through both.

Usage: test_import_export.py PATH/TO/greeterctl"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_greeterd import Checks, FakeGreeterd, FakeMessages, TempDir, run  # noqa: E402

# Everything validate.c lets through that a terminal or a JSON writer could
# trip on: quotes, backslashes, bidi overrides, line separators, 4-byte UTF-8.
HOSTILE = {
    0: 'quote " and \\ backslash',
    501: "bidi \u202egnp.exe\u202c and \u2028 separator",
    601: "emoji \U0001F600 and \u00e9",
    4294967294: "the largest UID",
    None: "default {\"version\": 2}",
}


def doc(messages):
    return json.dumps({"version": 1, "messages": messages})


def expected_key(uid):
    return "default" if uid is None else str(uid)


def main():
    ctl = sys.argv[1]
    t = Checks()
    with TempDir() as tmp:
        sock = os.path.join(tmp, "greeter.sock")
        store = FakeMessages(HOSTILE)
        server = FakeGreeterd(sock, lambda conn, req: store.handle(conn, req) or
                              conn.error("org.varlink.service.MethodNotFound",
                                         {"method": req.get("method")}))

        def imports():
            return server.requests_for("io.greeter.ImportMessages")

        def write(name, data):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
            return path

        # export: the whole document, sorted, default last, no raw control bytes.
        r = run(ctl, sock, "export")
        t.check(r.returncode == 0, "export: status 0", r.stderr)
        out = r.stdout
        t.check(out.endswith(b"\n") and out.count(b"\n}\n") == 1 and out.endswith(b"}\n"),
                "export: one document, newline at the end", out)
        t.check(not any(b < 0x20 and b not in (0x09, 0x0a) for b in out) and b"\x7f" not in out,
                "export: no raw control bytes", out)
        # Bidi controls and line separators reorder or break a terminal's lines.
        t.check(all(ch.encode() not in out for ch in "\u202e\u202c\u2028") and
                b"bidi \\u202egnp.exe\\u202c and \\u2028 separator" in out,
                "export: bidi controls and separators as \\uXXXX", out)
        try:
            d = json.loads(out)
            t.check(d.get("version") == 1, "export: version 1", d)
            t.check(d.get("messages") == {expected_key(u): m for u, m in HOSTILE.items()},
                    "export: every message, as set", d)
            t.check(list(d.get("messages", {})) == ["0", "501", "601", "4294967294", "default"],
                    "export: keys by UID, default last", list(d.get("messages", {})))
        except ValueError:
            t.check(False, "export: valid JSON", out)
        t.check(r.stderr == b"", "export: nothing on stderr", r.stderr)
        # --json changes nothing: the document is JSON already.
        r = run(ctl, sock, "--json", "export")
        t.check(r.returncode == 0 and r.stdout == out, "export --json: the same document", r)

        # Round trip: import what was exported, with --replace, into an empty
        # store gives the same messages and the same bytes again.
        exported = write("exported.json", out)
        store.messages = {}
        r = run(ctl, sock, "import", "--replace", exported)
        t.check(r.returncode == 0 and r.stdout == b"added 5, updated 0, removed 0, unchanged 0\n",
                "import --replace of the export: added 5", r)
        t.check(store.messages == HOSTILE, "round trip: the same messages", store.messages)
        r = run(ctl, sock, "export")
        t.check(r.stdout == out, "round trip: export is byte-identical", (r.stdout, out))

        # What import sends: one call, the file's entries in order, uid absent
        # for the default, replace only with --replace.
        store.messages = {501: "old", 700: "kept"}
        n = len(imports())
        f = write("merge.json", doc({"default": "all", "501": "new", "0601": "zero-padded"}))
        r = run(ctl, sock, "import", f)
        t.check(r.returncode == 0 and r.stdout == b"added 2, updated 1, removed 0, unchanged 0\n",
                "import (merge): added 2, updated 1", r)
        t.check(len(imports()) == n + 1, "import: one ImportMessages call", imports()[n:])
        req = imports()[-1][1]
        t.check(req.get("parameters") == {"messages": [
            {"uid": 501, "message": "new"}, {"uid": 601, "message": "zero-padded"},
            {"message": "all"}]}, "import: the entries by UID, no replace", req)
        t.check(not req.get("more") and not req.get("oneway"), "import: a plain call", req)
        t.check(store.messages == {501: "new", 700: "kept", 601: "zero-padded", None: "all"},
                "import (merge): others kept", store.messages)

        r = run(ctl, sock, "import", "--replace", write("one.json", doc({"42": "only"})))
        req = imports()[-1][1]
        t.check(r.returncode == 0 and r.stdout == b"added 1, updated 0, removed 4, unchanged 0\n",
                "import --replace: added 1, removed 4", r)
        t.check(req.get("parameters", {}).get("replace") is True, "--replace sends replace",
                req)
        t.check(store.messages == {42: "only"}, "import --replace: the set is the file",
                store.messages)

        p = write("stdin.json", doc({"7": "from stdin"}))
        with open(p, "rb") as stdin:
            r = subprocess.run([ctl, "--socket", sock, "import", "--json", "-"], stdin=stdin,
                               capture_output=True, timeout=15)
        t.check(r.returncode == 0, "import - reads standard input", r)
        try:
            t.check(json.loads(r.stdout) == {"changed": True, "set": 1, "removed": 0, "added": 1,
                                             "updated": 0, "unchanged": 0},
                    "import --json prints the reply and changed", r.stdout)
            t.check(r.stdout.startswith(b'{"changed":true,') and r.stdout.count(b"\n") == 1,
                    "import --json: changed first, one line", r.stdout)
        except ValueError:
            t.check(False, "import --json: valid JSON", r.stdout)
        t.check(store.messages.get(7) == "from stdin", "import -: applied", store.messages)

        # Nothing to change: said so, in words and with --json; status 0 all the same.
        same = write("same\x1b[2J.json", doc({"7": "from stdin", "42": "only"}))
        for flags, what in [((), "merge"), (("--replace",), "replace")]:
            r = run(ctl, sock, "import", *flags, same)
            t.check(r.returncode == 0 and r.stdout == b"unchanged: 2 messages already as in " +
                    same.encode().replace(b"\x1b", b"\\x1b") + b"\n" and r.stderr == b"",
                    f"{what} of the same messages: status 0, unchanged, the name escaped", r)
            r = run(ctl, sock, "--json", "import", *flags, same)
            t.check(r.returncode == 0 and json.loads(r.stdout or b"null") == {
                "changed": False, "set": 2, "removed": 0, "added": 0, "updated": 0,
                "unchanged": 2}, f"{what} --json of the same messages: changed false", r)
        with open(write("one-same.json", doc({"7": "from stdin"})), "rb") as stdin:
            r = subprocess.run([ctl, "--socket", sock, "import", "-"], stdin=stdin,
                               capture_output=True, timeout=15)
        t.check(r.returncode == 0 and
                r.stdout == b"unchanged: 1 message already as in standard input\n",
                "import - of a message set already: unchanged, 'standard input'", r)
        store.messages[7] = "changed meanwhile"
        r = run(ctl, sock, "--json", "import", same)
        t.check(r.returncode == 0 and json.loads(r.stdout or b"null") == {
            "changed": True, "set": 2, "removed": 0, "added": 0, "updated": 1, "unchanged": 1},
            "one message different: changed, updated 1, unchanged 1", r)

        # Older greeterds say only set and removed; a reply without counts, or
        # with bad ones, is not trusted to say nothing changed.
        orig = store.handle
        for reply, text, changed in [
            ({"set": 2, "removed": 0}, b"set 2, removed 0\n", True),
            ({"set": 0, "removed": 0}, b"set 0, removed 0\n", False),
            ({"set": 2, "removed": 0, "added": -1, "updated": 0, "unchanged": 0},
             b"set 2, removed 0\n", True),
            ({"set": 2, "removed": 0, "added": 0, "updated": 0}, b"set 2, removed 0\n", True),
            ({}, b"imported (greeterd did not say how many were set and removed)\n", True),
        ]:
            store.handle = lambda conn, req, reply=reply: (
                conn.reply(reply) or True if req.get("method") == "io.greeter.ImportMessages"
                else orig(conn, req))
            r = run(ctl, sock, "import", same)
            t.check(r.returncode == 0 and r.stdout == text, f"reply {reply}: {text!r}", r)
            r = run(ctl, sock, "--json", "import", same)
            t.check(r.returncode == 0 and json.loads(r.stdout or b"null") ==
                    dict({"changed": changed}, **reply), f"reply {reply} --json: changed {changed}",
                    r)
        store.handle = orig

        # Bad files: status 4, named by key or byte, nothing sent, nothing raw.
        big = b'{"version": 1, "messages": {}, "pad": "' + b"x" * (4 << 20) + b'"}'
        bad_files = [
            ("empty", b"", "empty file"),
            ("not JSON", b'{"version": 1, "messages": {"7": "x",', "not valid JSON: error at byte"),
            ("not JSON, line 3", b'{"version": 1,\n "messages": {"7": "x",\n  "8" "y"}}',
             "not valid JSON: error at byte 45 (line 3, column 7)"),
            ("a raw control byte, line 2", b'{"version": 1,\n "messages": {"7": "\xc3\xa9\x01"}}',
             "control character in a string at byte 37 (line 2, column 22)"),
            ("trailing data", doc({}) + "x", "unexpected data after the JSON value at byte"),
            ("no version", json.dumps({"messages": {}}), 'no "version"'),
            ("version 2", json.dumps({"version": 2, "messages": {}}), "unsupported version 2"),
            ("not an object", "[1, 2]", "the top level is not an object"),
            ("bad key", doc({"501": "ok", "alice": "x"}), '"alice" is neither a UID'),
            ("escaped key", doc({"\u001b[31m": "x"}), '"\\x1b[31m" is neither a UID'),
            ("UID out of range", doc({"4294967295": "x"}), 'UID "4294967295" is out of range'),
            ("too long", doc({"501": "x" * 64}), '"501": message is longer than 63 bytes'),
            ("ESC in a message", doc({"502": "red \u001b[31m"}),
             '"502": message contains a control character'),
            ("not a string", '{"version": 1, "messages": {"503": 5}}',
             'message for "503" is not a string'),
            ("duplicate", '{"version": 1, "messages": {"501": "a", "0501": "b"}}',
             "UID 501 appears twice"),
            ("raw control byte", b'{"version": 1, "messages": {"1": "a\x1bb"}}',
             "control character in a string at byte"),
            ("NUL", b'{"version": 1, "messages": {"1": "a\\u0000"}}', "\\u0000 at byte"),
            ("over 4 MiB", big, "larger than 4194304 bytes"),
        ]
        for name, data, want in bad_files:
            n = len(imports())
            before = dict(store.messages)
            path = write("bad.json", data)
            r = run(ctl, sock, "import", path)
            err = r.stderr.decode(errors="replace")
            t.check(r.returncode == 4, f"bad file ({name}): status 4", (r.returncode, err))
            t.check(want in err and "nothing was changed" in err,
                    f"bad file ({name}): says '{want}'", err)
            t.check(b"\x1b" not in r.stderr and r.stdout == b"",
                    f"bad file ({name}): nothing raw, nothing on stdout", r)
            t.check(len(imports()) == n and store.messages == before,
                    f"bad file ({name}): nothing sent", imports()[n:])
        r = run(ctl, sock, "import", os.path.join(tmp, "no-such-file"))
        t.check(r.returncode == 4 and b"cannot read " in r.stderr and
                b"No such file or directory; nothing was changed" in r.stderr,
                "a missing file: status 4, why", r.stderr)
        r = run(ctl, sock, "import", tmp)
        t.check(r.returncode == 4 and b"Is a directory" in r.stderr, "a directory: status 4",
                r.stderr)
        evil = write("evil\x1b[2J.json", "nope")
        r = run(ctl, sock, "import", evil)
        t.check(r.returncode == 4 and b"evil\\x1b[2J.json" in r.stderr and
                b"\x1b" not in r.stderr, "a hostile file name is escaped", r.stderr)

        # greeterd's errors. InvalidImport names the file's key, not the index.
        store.messages = {1: "one"}
        f = write("three.json", doc({"default": "d", "9": "nine", "10": "ten"}))
        orig = store.handle

        def refuse_index(i, reason):
            def h(conn, req):
                if req.get("method") == "io.greeter.ImportMessages":
                    conn.error("io.greeter.InvalidImport", {"index": i, "reason": reason})
                    return True
                return orig(conn, req)
            return h
        for i, key in [(0, '"9"'), (1, '"10"'), (2, '"default"')]:
            store.handle = refuse_index(i, "no \u001b]0;room\u0007")
            r = run(ctl, sock, "import", f)
            err = r.stderr.decode()
            t.check(r.returncode == 4 and f"greeterd refused {key}: no \\x1b]0;room\\x07; "
                    "nothing was changed" in err, f"InvalidImport index {i} names {key}", err)
        store.handle = refuse_index(3, "out of range")
        r = run(ctl, sock, "import", f)
        t.check(r.returncode == 1 and b"io.greeter.InvalidImport" in r.stderr,
                "InvalidImport with an index beyond the file: status 1, shown as sent",
                r.stderr)
        store.handle = orig
        t.check(store.messages == {1: "one"}, "refused imports changed nothing", store.messages)

        store.allow_import = False
        r = run(ctl, sock, "import", f)
        t.check(r.returncode == 1 and b"greeterctl: cannot import " + f.encode() +
                b": io.greeter.PermissionDenied: only root may import messages, not UID 1000\n"
                == r.stderr, "PermissionDenied: status 1, greeterd's reason", r.stderr)
        store.reason = ""
        r = run(ctl, sock, "import", f)
        t.check(r.returncode == 1 and r.stderr.endswith(
            b": io.greeter.PermissionDenied: only root may import messages\n"),
            "PermissionDenied without a reason: status 1, says root only", r.stderr)
        store.allow_import = True
        store.write_fails = True
        r = run(ctl, sock, "import", f)
        t.check(r.returncode == 1 and b"cannot import the messages: io.greeter.WriteFailed: "
                b"cannot write the state file" in r.stderr, "WriteFailed: status 1", r.stderr)
        store.write_fails = False

        # A greeterd from before ImportMessages.
        server.handler = lambda conn, req: conn.error("org.varlink.service.MethodNotFound",
                                                      {"method": req["method"]})
        r = run(ctl, sock, "import", f)
        t.check(r.returncode == 1 and b"greeterd does not know io.greeter.ImportMessages" in
                r.stderr, "MethodNotFound: status 1, in words", r.stderr)

        # A greeterd that sends what no document may hold: nothing on stdout.
        for name, listing in [
            ("ESC", {"messages": [{"uid": 5, "message": "a\u001b[2Jb"}]}),
            ("duplicate", {"messages": [{"uid": 5, "message": "a"}, {"uid": 5, "message": "b"}]}),
            ("bad uid", {"messages": [{"uid": -1, "message": "a"}]}),
            ("no list", {}),
        ]:
            server.handler = lambda conn, req, listing=listing: conn.reply(listing)
            r = run(ctl, sock, "export")
            t.check(r.returncode == 1 and r.stdout == b"" and b"\x1b" not in r.stderr and
                    b"greeterd sent an invalid list" in r.stderr,
                    f"export of a bad list ({name}): status 1, nothing printed", r)
        server.handler = lambda conn, req: store.handle(conn, req)

        # 10,000 messages, in reverse order (no quadratic path), then 16,384.
        for count in (10000, 16384):
            msgs = {str(u): f"message {u} \u00e9 \"q\"" for u in range(count - 1, 0, -1)}
            msgs["default"] = "default"
            f = write("many.json", doc(msgs))
            store.messages = {}
            start = time.monotonic()
            r = run(ctl, sock, "import", "--replace", f, timeout=60)
            took = time.monotonic() - start
            t.check(r.returncode == 0 and
                    r.stdout == f"added {count}, updated 0, removed 0, unchanged 0\n".encode(),
                    f"import of {count} messages", r)
            t.check(len(store.messages) == count, f"{count} messages arrived",
                    len(store.messages))
            r = run(ctl, sock, "export", timeout=60)
            t.check(r.returncode == 0 and len(json.loads(r.stdout)["messages"]) == count,
                    f"export of {count} messages", r.stderr)
            print(f"{count} messages: import took {took:.2f} s (fake greeterd included)")
    t.done()


if __name__ == "__main__":
    main()
