# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stand-in for greeterd in greeterctl's tests: speaks varlink (JSON
objects ended by NUL bytes) on a Unix socket and answers with canned replies.
Standard library only; needs no root."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


class Connection:
    """One accepted client. Handlers answer through it."""

    def __init__(self, server, sock, number):
        self.server = server
        self.sock = sock
        self.number = number
        self.closed = False

    def _send(self, obj):
        try:
            self.sock.sendall(json.dumps(obj).encode() + b"\0")
        except OSError:
            self.closed = True

    def reply(self, parameters=None, continues=False):
        msg = {"parameters": parameters if parameters is not None else {}}
        if continues:
            msg["continues"] = True
        self._send(msg)

    def error(self, name, parameters=None):
        self._send({"error": name, "parameters": parameters or {}})

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


class FakeGreeterd:
    """Listens on path; for each request calls handler(conn, request), in
    the connection's thread. Requests are recorded as (connection, request)."""

    def __init__(self, path, handler):
        self.path = path
        self.handler = handler
        self.requests = []
        self.connections = 0
        self.lock = threading.Lock()
        self.listener = None
        self.stopping = False
        self.listen()

    def listen(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def stop_listening(self):
        """Like a daemon going away: no more connections (refused, then absent)."""
        listener, self.listener = self.listener, None
        if listener is not None:  # already away, between a restart's stop and listen
            listener.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def _accept(self, listener):
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                conn = Connection(self, sock, self.connections)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        while not conn.closed:
            try:
                data = conn.sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            buf += data
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                request = json.loads(raw)
                with self.lock:
                    self.requests.append((conn.number, request))
                self.handler(conn, request)
        conn.close()

    def requests_for(self, method):
        with self.lock:
            return [(n, r) for n, r in self.requests if r.get("method") == method]


def event(seq, **fields):
    """An Event as greeterd sends it (issue 14: with args, args_truncated,
    unit and cgroup_id)."""
    e = legacy_event(seq)
    e.update({"args": ["/usr/bin/true", "--version"], "args_truncated": False,
              "unit": "session-3.scope", "cgroup_id": 4242})
    e.update(fields)
    return e


def legacy_event(seq, **fields):
    """An Event as a greeterd before issue 14 sent it (and as one run with
    --no-args does, but for its unit): no args, no unit."""
    e = {
        "seq": seq,
        "boot_usec": 1000000 + seq,
        "timestamp_usec": 1700000000123456 + seq * 1000,
        "pid": 1000 + seq,
        "ppid": 1,
        "uid": 0,
        "gid": 0,
        "comm": "bash",
        "filename": "/usr/bin/true",
        "message": "Hello World",
        "source": "builtin",
    }
    e.update(fields)
    return e


class Checks:
    """Collects failures so that one run reports all of them."""

    def __init__(self):
        self.failures = 0

    def check(self, cond, what, detail=""):
        if not cond:
            self.failures += 1
            print(f"FAIL: {what}" + (f"\n  {detail}" if detail else ""), file=sys.stderr)
        return cond

    def done(self):
        if self.failures:
            print(f"{self.failures} check(s) failed", file=sys.stderr)
            sys.exit(1)
        print("all checks passed")


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="greeterctl-test-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


class Served(TempDir):
    """A FakeGreeterd with handler on greeter.sock in a temporary directory:
    "with Served(handler) as (server, sock):"."""

    def __init__(self, handler):
        self.handler = handler

    def __enter__(self):
        sock = os.path.join(super().__enter__(), "greeter.sock")
        return FakeGreeterd(sock, self.handler), sock


def run(ctl, sock, *args, timeout=60, env=None):
    """Run greeterctl against sock; returns CompletedProcess with bytes."""
    full_env = dict(os.environ, LC_ALL="C.UTF-8", TZ="UTC")
    full_env.pop("GREETER_SOCKET", None)
    if env:
        full_env.update(env)
    return subprocess.run([ctl, "--socket", sock, *args], capture_output=True,
                          timeout=timeout, env=full_env)


def wait_for(cond, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def _message_problem(text):
    """Why greeterd would refuse text as a message (validate.c's rules), or None."""
    if not isinstance(text, str):
        return "not a string"
    raw = text.encode("utf-8", "surrogatepass")
    if not raw:
        return "message is empty"
    if len(raw) > 63:
        return "message is longer than 63 bytes"
    if any(ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f for ch in text):
        return "message contains a control character"
    return None


class FakeMessages:
    """greeterd's messages behind ListMessages and ImportMessages, as the IDL
    has them: an import is all or nothing, refused when not allowed (root
    only), with replace the set becomes the list, and the reply counts what
    was added, updated, removed and left unchanged. Keys: a UID, or None
    for the default message. handle() answers the two methods and returns
    True, else returns False."""

    def __init__(self, messages=None):
        self.messages = dict(messages or {})
        self.allow_import = True
        self.reason = "only root may import messages, not UID 1000"
        self.write_fails = False

    def listing(self):
        out = []
        for uid, text in self.messages.items():
            out.append({"message": text} if uid is None else {"uid": uid, "message": text})
        return {"messages": out}

    def handle(self, conn, req):
        method = req.get("method")
        params = req.get("parameters") or {}
        if method == "io.greeter.ListMessages":
            conn.reply(self.listing())
            return True
        if method != "io.greeter.ImportMessages":
            return False
        if not self.allow_import:
            conn.error("io.greeter.PermissionDenied",
                       {"reason": self.reason} if self.reason else {})
            return True
        new = {}
        for i, m in enumerate(params.get("messages", [])):
            uid = m.get("uid")
            why = _message_problem(m.get("message"))
            if uid is not None and (not isinstance(uid, int) or not 0 <= uid <= 4294967294):
                why = "invalid uid"
            if why is None and uid in new:
                why = "the uid appears twice"
            if why:
                conn.error("io.greeter.InvalidImport", {"index": i, "reason": why})
                return True
            new[uid] = m["message"]
        if self.write_fails:
            conn.error("io.greeter.WriteFailed", {"reason": "cannot write the state file"})
            return True
        added = len([u for u in new if u not in self.messages])
        unchanged = len([u for u in new if self.messages.get(u) == new[u]])
        removed = 0
        if params.get("replace"):
            removed = len([u for u in self.messages if u not in new])
            self.messages = {}
        self.messages.update(new)
        conn.reply({"set": len(new), "removed": removed, "added": added,
                    "updated": len(new) - added - unchanged, "unchanged": unchanged})
        return True
