#!/usr/bin/env python3
"""varlinkctl of systemd 257, from a Debian 13 (trixie) root, against the
greeterd of this build: every verb of varlinkctl, every method of io.greeter
and its errors, streaming, --oneway, --collect, --json, and validate-idl on the
shipped IDL. Every reply is parsed and checked against the types of the
shipped IDL and against what io.greeter(7) promises.

Skips (exit 77) only where no Debian 13 root can be had: not root, or the
Debian archive cannot be reached (tests/lib/debian-root.sh returns 2).
Anything else that goes wrong is a failure. See README.md here.
"""

import grp
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(SRC, "tests", "lib", "debian-root.sh")
IDL_PATH = os.environ.get("GREETER_IDL", os.path.join(SRC, "daemon", "api", "io.greeter.varlink"))
GREETERD = os.environ.get("GREETERD", os.path.join(SRC, "build", "daemon", "greeterd"))
GREETERCTL = os.environ.get("GREETERCTL", os.path.join(SRC, "build", "client", "greeterctl"))
SKIP = 77

# Where things appear inside the Debian 13 tree.
T_SOCKDIR = "/run/greeter-interop"
T_SOCK = T_SOCKDIR + "/greeter.sock"
ADDR = "unix:" + T_SOCK
T_IDL = "/idl/io.greeter.varlink"
T_BROKEN = "/idl-broken"

U = 501          # an ordinary user
U2 = 502         # another one, for the per-UID connection limit
ADMIN_GROUP = "adm"  # greeterd --admin-group: a group every Debian has

failures = []
state = {}


def say(msg):
    print(msg, flush=True)


def skip(reason):
    say("SKIP: " + reason)
    sys.exit(SKIP)


def check(cond, msg, detail=None):
    if cond:
        say("ok - " + msg)
    else:
        failures.append(msg)
        say("FAIL: " + msg + ("" if detail is None else "\n      " + str(detail).replace("\n", "\n      ")))
    return cond


def fatal(msg):
    failures.append(msg)
    say("FAIL: " + msg)
    raise SystemExit(1)


# ---------------------------------------------------------------- the IDL ----

TOKEN_RE = re.compile(r"[ \t\r\n]*(?:(#[^\n]*)|(->)|([()\[\],:?])|([A-Za-z_][A-Za-z0-9_.]*))")


def tokens(text):
    """The IDL as tokens: comments (stripped), '->', punctuation, names."""
    out, pos = [], 0
    while True:
        m = re.compile(r"[ \t\r\n]*").match(text, pos)
        pos = m.end()
        if pos >= len(text):
            return out
        m = TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError("bad IDL at offset %d: %r" % (pos, text[pos:pos + 20]))
        if m.group(1) is not None:
            out.append(("#", m.group(1)[1:].strip()))
        else:
            out.append(("t", m.group(2) or m.group(3) or m.group(4)))
        pos = m.end()


class Idl:
    """The subset of the varlink IDL grammar any interface uses."""

    def __init__(self, text):
        self.t = [v for k, v in tokens(text) if k == "t"]
        self.i = 0
        self.types, self.methods, self.errors = {}, {}, {}
        self.order = []
        self.eat("interface")
        self.name = self.next()
        while self.i < len(self.t):
            kw, name = self.next(), self.next()
            if kw == "type":
                self.types[name] = self.typedef()
            elif kw == "method":
                inp = self.struct()
                self.eat("->")
                self.methods[name] = (inp, self.struct())
            elif kw == "error":
                self.errors[name] = self.struct()
            else:
                raise ValueError("unexpected %r" % kw)
            self.order.append((kw, name))

    def next(self):
        self.i += 1
        return self.t[self.i - 1]

    def peek(self, k=0):
        return self.t[self.i + k] if self.i + k < len(self.t) else None

    def eat(self, tok):
        got = self.next()
        if got != tok:
            raise ValueError("expected %r, got %r" % (tok, got))

    def typedef(self):
        if self.peek() == "(" and self.peek(2) in (",", ")") and self.peek(1) != ")":
            self.eat("(")
            names = []
            while True:
                names.append(self.next())
                if self.next() == ")":
                    return ("enum", names)
        return self.struct()

    def struct(self):
        self.eat("(")
        fields = {}
        if self.peek() == ")":
            self.next()
            return ("struct", fields)
        while True:
            name = self.next()
            self.eat(":")
            fields[name] = self.type()
            if self.next() == ")":
                return ("struct", fields)

    def type(self):
        p = self.peek()
        if p == "?":
            self.next()
            return ("opt", self.type())
        if p == "[":
            self.next()
            if self.peek() == "]":
                self.next()
                return ("array", self.type())
            self.eat("string")
            self.eat("]")
            return ("map", self.type())
        if p == "(":
            return self.typedef()
        self.next()
        if p in ("bool", "int", "float", "string", "object"):
            return ("prim", p)
        return ("ref", p)

    def check(self, value, typ, path="", refs=None):
        """Problems of value against typ: [] when it conforms."""
        kind = typ[0]
        if kind == "opt":
            return [] if value is None else self.check(value, typ[1], path)
        if value is None:
            return ["%s: null for a non-optional %s" % (path or "value", typ)]
        if kind == "ref":
            if typ[1] not in self.types:
                return ["%s: unknown type %s" % (path, typ[1])]
            return self.check(value, self.types[typ[1]], path)
        if kind == "prim":
            ok = {"bool": lambda v: isinstance(v, bool),
                  "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
                  "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
                  "string": lambda v: isinstance(v, str),
                  "object": lambda v: True}[typ[1]](value)
            return [] if ok else ["%s: %r is not %s" % (path, value, typ[1])]
        if kind == "enum":
            return [] if value in typ[1] else ["%s: %r not one of %s" % (path, value, typ[1])]
        if kind == "array":
            if not isinstance(value, list):
                return ["%s: not an array" % path]
            return [p for n, v in enumerate(value) for p in self.check(v, typ[1], "%s[%d]" % (path, n))]
        if kind == "map":
            if not isinstance(value, dict):
                return ["%s: not a map" % path]
            return [p for k, v in value.items() for p in self.check(v, typ[1], "%s[%s]" % (path, k))]
        if kind == "struct":
            if not isinstance(value, dict):
                return ["%s: not an object" % path]
            probs = ["%s.%s: not in the IDL" % (path, k) for k in value if k not in typ[1]]
            for k, t in typ[1].items():
                if k in value:
                    probs += self.check(value[k], t, path + "." + k)
                elif t[0] != "opt":
                    probs.append("%s.%s: missing" % (path, k))
            return probs
        return ["%s: unknown kind %s" % (path, kind)]


# ---------------------------------------------------------- Debian root ----

def droot_cmd(func, *args, binds=()):
    """The command line running a function of tests/lib/debian-root.sh."""
    script = ('source "$1"; f=$2; shift 2; DROOT_BINDS=(); '
              'while [ "$1" != -- ]; do DROOT_BINDS+=("$1"); shift; done; shift; '
              '"$f" "$@"; rc=$?; [ -z "$DROOT_ERROR" ] || echo "$DROOT_ERROR" >&2; exit $rc')
    return ["bash", "-c", script, "droot", LIB, func, *binds, "--", *args]


def droot(func, *args, binds=(), timeout=None):
    """Runs a function of tests/lib/debian-root.sh in a process group of its
    own (all of it ends if this script is stopped); its CompletedProcess."""
    p = subprocess.Popen(droot_cmd(func, *args, binds=binds), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except BaseException:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        raise
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


# droot_run replaces TREE/etc/resolv.conf with a symbolic link (rm, then
# ln -s) in the tree itself, not in its private namespace: two droot_run
# starting at once on one tree can collide ("ln: failed to create symbolic
# link ... File exists") before the command runs. Such a start is retried.
RESOLV_RACE = "ln: failed to create symbolic link"


class R:
    def __init__(self, p, seq=False):
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr
        self.seq = seq  # --more: the output is JSON-SEQ (RFC 7464)

    def __repr__(self):
        return "rc=%s stdout=%r stderr=%r" % (self.rc, self.out[:2000], self.err[:2000])


def as_user(user, groups):
    if user is None:
        return []
    cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user]
    return cmd + (["--groups=" + ",".join(map(str, groups))] if groups else ["--clear-groups"])


def inside(*cmd, user=None, groups=None, timeout=60, seq=False):
    """A command run in the Debian 13 tree (as UID user when given)."""
    for attempt in range(5):
        p = droot("droot_run", state["tree"], *as_user(user, groups), *cmd, binds=state["binds"], timeout=timeout)
        if not (p.returncode == 1 and p.stdout == "" and p.stderr.startswith(RESOLV_RACE)):
            break
        say("# droot_run collided with another on the tree's resolv.conf; again")
        time.sleep(0.2 * (attempt + 1))
    return R(p, seq)


def vctl(*args, **kw):
    return inside("varlinkctl", *args, **kw)


def call(method, params=None, opts=("--json=short",), ascii=True, **kw):
    """varlinkctl [OPTS] call ADDR METHOD [PARAMS]; params as JSON text when a
    str, else encoded (with \\u escapes unless ascii is false)."""
    a = list(opts) + ["call", ADDR, method]
    if params is not None:
        a.append(params if isinstance(params, str) else json.dumps(params, ensure_ascii=ascii))
    return vctl(*a, seq=bool({"--more", "-E"} & set(opts)), **kw)


def json_seq(text, what):
    """The records of JSON-SEQ output (RS, JSON text, LF each); the last one
    only when complete. None (and a failure) when it is not JSON-SEQ."""
    if text == "":
        return []
    if not text.startswith("\x1e"):
        check(False, "%s: output is JSON-SEQ (each record starts with RS)" % what, repr(text[:500]))
        return None
    out = []
    parts = text.split("\x1e")[1:]
    for n, part in enumerate(parts):
        if not part.endswith("\n"):
            if n == len(parts) - 1:
                break  # still being written
            check(False, "%s: each JSON-SEQ record ends with a newline" % what, repr(part[:500]))
            return None
        try:
            out.append(json.loads(part))
        except ValueError as e:
            check(False, "%s: a JSON-SEQ record is JSON" % what, "%s: %r" % (e, part[:500]))
            return None
    return out


def parse_out(r, what):
    """The one JSON value a call printed: plain JSON, or with --more exactly
    one JSON-SEQ record."""
    if not r.seq:
        return parse_json(r.out, what)
    recs = json_seq(r.out, what)
    if recs is None:
        return None
    if len(recs) != 1:
        check(False, "%s: one JSON-SEQ record" % what, r.out)
        return None
    return recs[0]


def method_types(method):
    iface, name = method.rsplit(".", 1)
    idl = state["idl"] if iface == "io.greeter" else state["svc_idl"]
    return idl, idl.methods[name]


def error_type(error):
    iface, name = error.rsplit(".", 1)
    idl = state["idl"] if iface == "io.greeter" else state["svc_idl"]
    return idl, idl.errors.get(name)


def parse_json(text, what):
    try:
        return json.loads(text)
    except ValueError as e:
        check(False, "%s: output is JSON" % what, "%s: %r" % (e, text))
        return None


def expect_reply(r, method, what, expected=None):
    """A successful call: exit 0, nothing on stderr, one JSON object that
    conforms to the method's output type (and equals expected if given)."""
    if not check(r.rc == 0 and r.err == "", "%s: exit 0, quiet stderr" % what, r):
        return None
    v = parse_out(r, what)
    if v is None:
        return None
    idl, (_, out_t) = method_types(method)
    probs = idl.check(v, out_t, method)
    check(not probs, "%s: reply conforms to the IDL" % what, "\n".join(probs) + "\n" + r.out)
    if expected is not None:
        check(v == expected, "%s: %s" % (what, json.dumps(expected, ensure_ascii=False)), r.out)
    return v


def expect_error(r, method, error, what, params=None):
    """A call that failed: exit 1, "Method call M() failed: E" on stderr, the
    error's parameters on stdout conforming to the error's type."""
    if r.seq:  # varlinkctl 257 words it so with --more
        want_err = "Method call failed: %s\n" % error
    else:
        want_err = "Method call %s() failed: %s\n" % (method, error)
    check(r.rc == 1 and r.err == want_err, "%s: exit 1 and %s" % (what, error), r)
    v = parse_out(r, what)
    if v is None:
        return None
    idl, t = error_type(error)
    if check(t is not None, "%s: %s is declared in its interface" % (what, error)):
        probs = idl.check(v, t, error)
        check(not probs, "%s: error parameters conform to the IDL" % what, "\n".join(probs))
    if params is not None:
        check(v == params, "%s: parameters %s" % (what, json.dumps(params)), r.out)
    return v


# ---------------------------------------------------------- greeterd -------

def start_greeterd():
    tmp = state["tmp"]
    state["pin_dir"] = "/sys/fs/bpf/greeter-interop-%d" % os.getpid()
    statefs = os.path.join(tmp, "statefs")
    os.makedirs(statefs)
    # The state directory on a small tmpfs of its own: remounted read-only
    # later to provoke WriteFailed.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", statefs], check=True)
    state["statefs"] = statefs
    state["state_dir"] = os.path.join(statefs, "state")
    state["sockdir"] = os.path.join(tmp, "sock")
    os.makedirs(state["sockdir"])
    os.chmod(state["sockdir"], 0o755)
    state["log"] = os.path.join(tmp, "greeterd.log")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "STATE_DIRECTORY", "CACHE_DIRECTORY")}
    args = [GREETERD, "--pin-dir", state["pin_dir"], "--state-dir", state["state_dir"],
            "--cache-dir", os.path.join(tmp, "cache"), "--socket", os.path.join(state["sockdir"], "greeter.sock"),
            "--admin-group", ADMIN_GROUP, "--max-delay", "5", "--replay-window", "65536"]
    state["greeterd"] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(state["log"], "w"), env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        if state["greeterd"].poll() is not None:
            fatal("greeterd exited with %d:\n%s" % (state["greeterd"].returncode, greeterd_log()))
        if "ready in" in greeterd_log():
            return
        time.sleep(0.02)
    fatal("greeterd not ready after 60 s:\n" + greeterd_log())


def greeterd_log():
    try:
        with open(state["log"]) as f:
            return f.read()
    except OSError:
        return ""


def stop_greeterd():
    p = state.get("greeterd")
    if p and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            check(False, "greeterd stops on SIGTERM")
    return p.returncode if p else None


def cleanup():
    for s in list(state.get("streams", [])):
        s.stop()
    h = state.get("holder")
    if h:
        h.release()
    stop_greeterd()
    if state.get("pin_dir"):
        subprocess.run([GREETERD, "--pin-dir", state["pin_dir"], "--remove-pins"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if state.get("statefs"):
        subprocess.run(["umount", "-l", state["statefs"]], stderr=subprocess.DEVNULL)
    if state.get("tmp"):
        shutil.rmtree(state["tmp"], ignore_errors=True)


# ---------------------------------------------------------- streams --------

class Stream:
    """A varlinkctl call left running in the tree, its stdout in a file;
    started once the previous stream is under way (see RESOLV_RACE)."""

    def __init__(self, name, args, user=None, groups=None):
        self.name = name
        self.path = os.path.join(state["tmp"], "stream-%s.out" % name)
        self.errpath = self.path[:-4] + ".err"
        self.cmd = droot_cmd("droot_run", state["tree"], *as_user(user, groups), "varlinkctl", *args,
                             binds=state["binds"])
        self.seq = "--collect" not in args
        self.rc = None
        state.setdefault("streams", []).append(self)
        for attempt in range(5):
            self.p = subprocess.Popen(self.cmd, stdout=open(self.path, "w"), stderr=open(self.errpath, "w"),
                                      start_new_session=True)
            # Under way: varlinkctl runs (its first reply, or its connection).
            deadline = time.time() + 60
            while time.time() < deadline and self.p.poll() is None and not self.started():
                time.sleep(0.02)
            if not (self.p.poll() is not None and self.stderr().startswith(RESOLV_RACE)):
                break
            say("# droot_run collided with another on the tree's resolv.conf; again")

    def started(self):
        if self.seq:
            return os.path.getsize(self.path) > 0
        # --collect prints nothing before the end: wait for the exec instead.
        try:
            return any(os.path.basename(os.readlink("/proc/%s/exe" % pid)) == "varlinkctl"
                       for pid in os.listdir("/proc") if pid.isdigit() and os.getpgid(int(pid)) == self.p.pid)
        except OSError:
            return False

    def replies(self):
        with open(self.path) as f:
            text = f.read()
        return json_seq(text, "call --more (%s)" % self.name) or []

    def stderr(self):
        with open(self.errpath) as f:
            return f.read()

    def wait_replies(self, pred, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            rs = self.replies()
            if pred(rs):
                return rs
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        return self.replies()

    def wait_exit(self, timeout=60):
        try:
            self.rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
        if self in state.get("streams", []):
            state["streams"].remove(self)
        return self.rc

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
            except ProcessLookupError:
                self.p.wait()
        self.rc = self.p.returncode
        if self in state.get("streams", []):
            state["streams"].remove(self)


def events_of(replies, filename):
    return [r["event"] for r in replies if isinstance(r.get("event"), dict) and r["event"].get("filename") == filename]


class Holder:
    """512 connections held open by UID U2: greeterd's per-UID limit."""

    def __init__(self, sock, n):
        rd, self.wr = os.pipe()
        ready_r, ready_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.wr)
                os.close(ready_r)
                os.setgroups([])
                os.setgid(U2)
                os.setuid(U2)
                held = []
                for _ in range(n):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(sock)
                    held.append(s)
                os.write(ready_w, b"1")
                os.read(rd, 1)
            except BaseException as e:
                sys.stderr.write("the connection holder: %r\n" % e)
            finally:
                os._exit(0)
        os.close(rd)
        os.close(ready_w)
        self.ok = os.read(ready_r, 1) == b"1"
        os.close(ready_r)

    def release(self):
        if self.pid:
            os.close(self.wr)
            os.waitpid(self.pid, 0)
            self.pid = 0
        state["holder"] = None


# ---------------------------------------------------------- markers --------

def run_marker(uid=None):
    """Executes the marker through the launcher (comm = LCOMM) as uid; the
    process's pid, and the wall-clock and boot-clock windows around it."""
    cmd = [state["launcher"], state["marker"]]
    if uid is not None:
        cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"] + cmd
    t0, b0 = time.time(), time.clock_gettime(time.CLOCK_BOOTTIME)
    p = subprocess.Popen(cmd)
    p.wait()
    t1, b1 = time.time(), time.clock_gettime(time.CLOCK_BOOTTIME)
    if p.returncode != 0:
        fatal("running the marker as %s failed" % uid)
    return {"pid": p.pid, "uid": uid or 0, "wall": (t0, t1), "boot": (b0, b1)}


def check_event(ev, run, message, source, what):
    idl = state["idl"]
    probs = idl.check(ev, ("ref", "Event"), "Event")
    check(not probs, "%s: the event conforms to the IDL" % what, "\n".join(probs))
    want = {"pid": run["pid"], "ppid": os.getpid(), "uid": run["uid"], "gid": run["uid"],
            "comm": state["lcomm"], "filename": state["marker"], "message": message, "source": source}
    got = {k: ev.get(k) for k in want}
    check(got == want, "%s: pid, ppid, uid, gid, comm, filename, message, source" % what,
          "got %s\nwant %s" % (got, want))
    check("error" not in ev, "%s: no error field (a successful exec)" % what, ev)
    ts, bt = ev.get("timestamp_usec", 0) / 1e6, ev.get("boot_usec", 0) / 1e6
    check(run["wall"][0] - 1 <= ts <= run["wall"][1] + 1, "%s: timestamp_usec is the time of the exec" % what,
          "%s not in %s" % (ts, run["wall"]))
    check(run["boot"][0] - 0.01 <= bt <= run["boot"][1] + 0.01, "%s: boot_usec is the boot time of the exec" % what,
          "%s not in %s" % (bt, run["boot"]))


# ---------------------------------------------------------- the suite ------

def get_tree():
    t0 = time.time()
    p = droot("droot_derived", "trixie", "guest", *guest_packages())
    sys.stderr.write(p.stderr)
    if p.returncode == 2:
        skip("no Debian 13 root: the Debian archive cannot be reached (%s)" % p.stderr.strip().splitlines()[-1].strip())
    if p.returncode != 0 or not p.stdout.strip():
        fatal("cannot make the Debian 13 root (exit %d): %s" % (p.returncode, p.stderr.strip()))
    say("# Debian 13 root %s (%.1f s)" % (p.stdout.strip(), time.time() - t0))
    return p.stdout.strip()


def guest_packages():
    p = subprocess.run(["bash", "-c", 'source "$1"; echo $DROOT_GUEST_PACKAGES', "x", LIB],
                       capture_output=True, text=True, check=True)
    return p.stdout.split()


def suite():
    with open(IDL_PATH) as f:
        shipped = f.read()
    state["idl"] = Idl(shipped)
    idl = state["idl"]
    version = subprocess.run([GREETERD, "--version"], capture_output=True, text=True).stdout.split()[-1]

    # The broken copies validate-idl must refuse, each with its complaint.
    broken_dir = os.path.join(state["tmp"], "broken")
    os.makedirs(broken_dir)
    broken = {
        "bad-interface-name": (shipped.replace("interface io.greeter", "interface io..greeter", 1), "is not valid"),
        "unknown-type": (shipped.replace("source: MessageSource,", "source: NoSuchType,", 1), "unresolved type"),
        "misspelt-type": (shipped.replace("\tmessage: string\n)", "\tmessage: strin\n)", 1), "unresolved type"),
        "duplicate-method": (shipped + "\nmethod ListMessages() -> ()\n", "defined twice"),
        "duplicate-field": (shipped.replace("\tseq: int,\n", "\tseq: int,\n\tseq: int,\n", 1), "defined twice"),
        "unclosed": (shipped.replace("\tmessage: string\n)", "\tmessage: string\n", 1), "Bad syntax"),
        "no-interface-line": (shipped.replace("interface io.greeter\n", "", 1), "Bad syntax"),
    }
    for name, (text, _) in broken.items():
        if text == shipped:
            fatal("the broken copy %s is not broken: the IDL changed, update the suite" % name)
        with open(os.path.join(broken_dir, name + ".varlink"), "w") as f:
            f.write(text)
    os.chmod(broken_dir, 0o755)
    state["binds"] = [state["sockdir"] + ":" + T_SOCKDIR, IDL_PATH + ":" + T_IDL, broken_dir + ":" + T_BROKEN]

    # -- varlinkctl itself
    r = vctl("--version")
    check(r.rc == 0 and r.out.startswith("systemd 257 "), "varlinkctl is systemd 257 (%s)" % r.out.split("\n")[0], r)

    # -- validate-idl
    r = vctl("validate-idl", T_IDL)
    check(r.rc == 0 and r.err == "", "validate-idl accepts the shipped IDL", r)
    formatted = r.out
    check(tokens(formatted) == tokens(shipped),
          "validate-idl's reformatted IDL has the shipped file's tokens and comments")
    r = inside("sh", "-c", "varlinkctl validate-idl < " + T_IDL)
    check(r.rc == 0 and r.out == formatted, "validate-idl from standard input: the same", r)
    for name, (_, why) in broken.items():
        r = vctl("validate-idl", "%s/%s.varlink" % (T_BROKEN, name))
        check(r.rc == 1 and why in r.err and r.out == "", "validate-idl refuses a broken copy: %s (%s)" % (name, why), r)

    # -- info
    r = vctl("--json=short", "info", ADDR)
    info = parse_json(r.out, "info --json=short") if r.rc == 0 else None
    check(r.rc == 0 and isinstance(info, dict), "info --json=short", r)
    info = info or {}
    check(set(info) == {"vendor", "product", "version", "url", "interfaces"},
          "info: vendor, product, version, url, interfaces", info)
    check(info.get("vendor") == "greeter" and info.get("product") == "greeterd",
          "info: vendor greeter, product greeterd", info)
    check(info.get("version") == version, "info: version %s, as greeterd --version" % version, info)
    check(isinstance(info.get("url"), str) and info["url"].startswith("https://"), "info: an https URL", info)
    check(sorted(info.get("interfaces", [])) == ["io.greeter", "org.varlink.service"],
          "info: interfaces io.greeter and org.varlink.service", info)
    r2 = call("org.varlink.service.GetInfo", {})
    check(r2.rc == 0 and parse_json(r2.out, "GetInfo") == info, "call org.varlink.service.GetInfo equals info", r2)
    r2 = vctl("-j", "info", ADDR)
    check(r2.rc == 0 and r2.out == r.out, "-j info (not a tty) equals --json=short", r2)
    want_text = ("    Vendor: %s\n   Product: %s\n   Version: %s\n       URL: %s\n"
                 "Interfaces: io.greeter\n            org.varlink.service\n") % (
        info.get("vendor"), info.get("product"), info.get("version"), info.get("url"))
    r = vctl("info", ADDR)
    check(r.rc == 0 and r.out == want_text, "info (text): the table", r)
    r = vctl("info", T_SOCK)
    check(r.rc == 0 and r.out == want_text, "info with a plain path for an address", r)

    # -- list-interfaces, list-methods
    r = vctl("list-interfaces", ADDR)
    check(r.rc == 0 and r.out == "io.greeter\norg.varlink.service\n", "list-interfaces (text)", r)
    r = vctl("--json=short", "list-interfaces", ADDR)
    check(r.rc == 0 and parse_json(r.out, "list-interfaces") == info.get("interfaces"),
          "list-interfaces --json=short: GetInfo's list", r)
    want_methods = sorted("io.greeter." + m for m in idl.methods)
    check(want_methods == ["io.greeter." + m for m in ("GetMessage", "GetStatus", "ImportMessages",
                                                       "ListMessages", "RemoveMessage", "SetMessage",
                                                       "WatchEvents")],
          "the shipped IDL has the seven methods of io.greeter(7)", want_methods)
    r = vctl("list-methods", ADDR)
    check(r.rc == 0 and r.out.split("\n")[:-1] == want_methods + [
        "org.varlink.service.GetInfo", "org.varlink.service.GetInterfaceDescription"],
        "list-methods: the IDL's methods and GetInfo, GetInterfaceDescription", r)
    r = vctl("--json=short", "list-methods", ADDR, "io.greeter")
    check(r.rc == 0 and parse_json(r.out, "list-methods") == want_methods, "list-methods io.greeter --json=short", r)

    # -- introspect
    r = vctl("introspect", ADDR, "io.greeter")
    check(r.rc == 0 and r.out == formatted, "introspect io.greeter prints the shipped IDL (as validate-idl formats it)", r)
    g_text = r.out
    r = vctl("--json=short", "introspect", ADDR, "io.greeter")
    d = parse_json(r.out, "introspect --json=short") if r.rc == 0 else None
    check(isinstance(d, dict) and list(d) == ["description"] and d["description"] == shipped,
          "introspect --json=short: the description is the shipped file, byte for byte", r)
    r = vctl("introspect", ADDR, "org.varlink.service")
    check(r.rc == 0, "introspect org.varlink.service", r)
    s_text = r.out
    try:
        state["svc_idl"] = Idl(s_text)
    except (ValueError, IndexError) as e:
        fatal("org.varlink.service as greeterd describes it does not parse: %s" % e)
    svc = state["svc_idl"]
    check(svc.name == "org.varlink.service" and set(svc.methods) == {"GetInfo", "GetInterfaceDescription"},
          "org.varlink.service: GetInfo and GetInterfaceDescription", svc.methods)
    check({"InvalidParameter", "MethodNotFound", "InterfaceNotFound", "ExpectedMore",
           "MethodNotImplemented"} <= set(svc.errors),
          "org.varlink.service declares the errors io.greeter(7) says greeterd sends", svc.errors)
    r = vctl("introspect", ADDR)
    check(r.rc == 0 and r.out.startswith(g_text) and r.out.endswith(s_text)
          and r.out[len(g_text):len(r.out) - len(s_text)].strip() == "",
          "introspect without an interface: both interfaces", r)
    r = vctl("introspect", ADDR, "io.nope")
    check(r.rc == 1 and "InterfaceNotFound" in r.err and r.out == "", "introspect io.nope: InterfaceNotFound, exit 1", r)

    # -- the methods, as root
    G = "io.greeter."
    expect_reply(call(G + "GetMessage", {"uid": U}), G + "GetMessage", "GetMessage 501, nothing set",
                 {"uid": U, "message": "Hello World", "source": "builtin"})
    expect_reply(call(G + "GetMessage"), G + "GetMessage", "GetMessage without parameters: the caller (root)",
                 {"uid": 0, "message": "Hello World", "source": "builtin"})
    expect_reply(call(G + "GetMessage", {"uid": None}), G + "GetMessage", "GetMessage uid null: the caller",
                 {"uid": 0, "message": "Hello World", "source": "builtin"})
    expect_reply(call(G + "SetMessage", {"message": "Interop default"}), G + "SetMessage",
                 "SetMessage without uid: the default", {})
    expect_reply(call(G + "GetMessage", {"uid": 777}), G + "GetMessage", "GetMessage 777: the default",
                 {"uid": 777, "message": "Interop default", "source": "default"})
    expect_reply(call(G + "SetMessage", {"uid": None, "message": "Interop default 2"}), G + "SetMessage",
                 "SetMessage uid null: the default", {})
    expect_reply(call(G + "GetMessage", {"uid": 777}), G + "GetMessage", "the default changed",
                 {"uid": 777, "message": "Interop default 2", "source": "default"})
    expect_reply(call(G + "SetMessage", {"uid": U, "message": "Hi 501, from varlinkctl"}), G + "SetMessage",
                 "SetMessage 501", {})
    expect_reply(call(G + "GetMessage", {"uid": U}), G + "GetMessage", "GetMessage 501: its own",
                 {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"})
    for uid, text, what in ((7, "Grüße, ☃ — ünïcödé", "UTF-8 in argv"),
                            (8, 'say "hi" \\ back\\slash / slash', "quotes and backslashes"),
                            (9, "☃" * 21, "63 bytes of 3-byte characters")):
        expect_reply(call(G + "SetMessage", {"uid": uid, "message": text}, ascii=False), G + "SetMessage",
                     "SetMessage: " + what, {})
        expect_reply(call(G + "GetMessage", {"uid": uid}), G + "GetMessage", "GetMessage: %s round-trips" % what,
                     {"uid": uid, "message": text, "source": "uid"})
    r = call(G + "SetMessage", '{"uid": 10, "message": "\\u00e9t\\u00e9 \\ud83d\\ude00"}')
    expect_reply(r, G + "SetMessage", "SetMessage: \\u escapes and a surrogate pair", {})
    expect_reply(call(G + "GetMessage", {"uid": 10}), G + "GetMessage", "GetMessage: the escapes decoded",
                 {"uid": 10, "message": "été 😀", "source": "uid"})
    expect_reply(call(G + "SetMessage", {"uid": 4294967294, "message": "highest UID"}), G + "SetMessage",
                 "SetMessage uid 4294967294 (the highest)", {})
    expect_reply(call(G + "RemoveMessage", {"uid": 4294967294}), G + "RemoveMessage",
                 "RemoveMessage uid 4294967294", {})
    want_list = [{"uid": 7, "message": "Grüße, ☃ — ünïcödé"}, {"uid": 8, "message": 'say "hi" \\ back\\slash / slash'},
                 {"uid": 9, "message": "☃" * 21}, {"uid": 10, "message": "été 😀"},
                 {"uid": U, "message": "Hi 501, from varlinkctl"}, {"message": "Interop default 2"}]
    r = call(G + "ListMessages", {})
    expect_reply(r, G + "ListMessages", "ListMessages: by UID, the default last", {"messages": want_list})
    p = subprocess.run([GREETERCTL, "--socket", os.path.join(state["sockdir"], "greeter.sock"), "--json", "list"],
                       capture_output=True, text=True)
    check(p.returncode == 0 and r.rc == 0 and json.loads(p.stdout or "null") == json.loads(r.out or "null"),
          "greeterctl --json list agrees with varlinkctl", "%s / %r" % (r, p.stdout))
    expect_reply(call(G + "ListMessages"), G + "ListMessages", "ListMessages without parameters",
                 {"messages": want_list})

    # Output modes of call.
    r = call(G + "GetMessage", {"uid": U}, opts=())
    check(r.rc == 0 and json.loads(r.out) == {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"},
          "call without --json: the reply", r)
    r = call(G + "GetMessage", {"uid": U}, opts=("--json=pretty",))
    check(r.rc == 0 and r.out.count("\n") > 1 and
          json.loads(r.out) == {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"},
          "call --json=pretty: the same reply, on several lines", r)
    r = call(G + "GetMessage", {"uid": U}, opts=("-q",))
    check(r.rc == 0 and r.out == "" and r.err == "", "call -q: nothing printed, exit 0", r)
    r = call(G + "GetMessage", {"uid": U}, opts=("--json=short", "--more"))
    expect_reply(r, G + "GetMessage", "call --more of a method with one reply",
                 {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"})
    r = call(G + "GetMessage", {"uid": U}, opts=("--json=short", "--collect"))
    check(r.rc == 0 and r.err == "" and parse_json(r.out, "--collect") ==
          [{"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"}],
          "call --collect of a method with one reply: [reply]", r)
    r = call(G + "ListMessages", {}, opts=("--json=short", "--collect"))
    check(r.rc == 0 and parse_json(r.out, "--collect") == [{"messages": want_list}], "call --collect ListMessages", r)

    # GetStatus.
    st = expect_reply(call(G + "GetStatus", {}), G + "GetStatus", "GetStatus") or {}
    check(st.get("version") == version, "GetStatus: version %s" % version, st.get("version"))
    check(st.get("attach_mode") in ("kprobe", "tracepoint") and st.get("attach_reason"),
          "GetStatus: attach_mode kprobe or tracepoint (%s), and a reason" % st.get("attach_mode"))
    check(st.get("kernel_release") == os.uname().release, "GetStatus: kernel_release is uname -r")
    check(st.get("pin_dir") == state["pin_dir"] and st.get("state_dir") == state["state_dir"],
          "GetStatus: pin_dir and state_dir as greeterd was started", st)
    check(st.get("messages") == len(want_list), "GetStatus: messages = %d, as ListMessages" % len(want_list), st)
    check(st.get("watchers") == 0, "GetStatus: no watchers yet", st.get("watchers"))
    # The default, as greeterd --help states it ("(default 32M)").
    helptext = subprocess.run([GREETERD, "--help"], capture_output=True, text=True).stdout
    m = re.search(r"--ring-size[^(]*\(default (\d+)([KM])\)", helptext)
    default_ring = int(m.group(1)) << (20 if m.group(2) == "M" else 10) if m else None
    check(default_ring and st.get("ring_size") == default_ring,
          "GetStatus: ring_size is the default greeterd --help states (%s)" % default_ring, st.get("ring_size"))
    check(isinstance(st.get("uptime_usec"), int) and 0 < st["uptime_usec"] < 600e6, "GetStatus: uptime_usec", st)
    check(st.get("programs") and all(p["program_id"] > 0 and p["link_id"] > 0 for p in st["programs"]),
          "GetStatus: programs with their ids", st.get("programs"))
    check(all(v >= 0 for v in st.get("counters", {}).values()), "GetStatus: counters", st.get("counters"))
    if shutil.which("bpftool"):
        for key, name in (("config_map_id", "config"), ("events_map_id", "events"), ("stats_map_id", "stats")):
            p = subprocess.run(["bpftool", "-j", "map", "show", "id", str(st.get(key, 0))],
                               capture_output=True, text=True)
            got = json.loads(p.stdout).get("name") if p.returncode == 0 else p.stderr
            check(got == name, "GetStatus: %s is the %s map (bpftool)" % (key, name), got)

    # -- every documented error
    E_INV = "org.varlink.service.InvalidParameter"
    expect_error(call(G + "SetMessage", {"uid": U, "message": "x" * 64}), G + "SetMessage", G + "MessageTooLong",
                 "SetMessage of 64 bytes", {"limit": 63})
    expect_error(call(G + "SetMessage", {"uid": U, "message": "é" * 32}), G + "SetMessage", G + "MessageTooLong",
                 "SetMessage of 32 characters, 64 bytes", {"limit": 63})
    expect_reply(call(G + "SetMessage", {"uid": 11, "message": "x" * 63}), G + "SetMessage", "SetMessage of 63 bytes", {})
    for text, what in (("", "empty"), ("bell\u0007", "BEL"), ("esc\u001b[31m", "ESC"), ("tab\there", "TAB"),
                       ("del\u007f", "DEL"), ("c1\u0085", "C1 NEL"), ("nl\nx", "newline")):
        v = expect_error(call(G + "SetMessage", {"uid": U, "message": text}), G + "SetMessage", G + "InvalidMessage",
                         "SetMessage %s" % what)
        check(isinstance(v, dict) and v.get("reason"), "SetMessage %s: a reason" % what, v)
    r = call(G + "SetMessage", {"uid": U, "message": "a\u0000b"})
    check(r.rc == 1 and "Failed to parse parameters" in r.err,
          "SetMessage with \\u0000: varlinkctl refuses to send it (never reaches greeterd)", r)
    for params, param, what in (
            ({"uid": U}, "message", "no message"),
            ({}, "message", "no parameters"),
            ({"uid": U, "message": 5}, "message", "message a number"),
            ({"uid": U, "message": None}, "message", "message null"),
            ({"uid": -1, "message": "x"}, "uid", "uid -1"),
            ({"uid": 4294967295, "message": "x"}, "uid", "uid 4294967295 (the default's key)"),
            ({"uid": 1 << 40, "message": "x"}, "uid", "uid 2^40"),
            ({"uid": 1.5, "message": "x"}, "uid", "uid 1.5"),
            ({"uid": "501", "message": "x"}, "uid", "uid a string"),
            ({"uid": U, "message": "x", "bogus": 1}, "bogus", "an unknown parameter")):
        expect_error(call(G + "SetMessage", params), G + "SetMessage", E_INV, "SetMessage " + what, {"parameter": param})
    expect_error(call(G + "SetMessage", '{"uid": 12, "message": "x", "uid": 13}'), G + "SetMessage", E_INV,
                 "SetMessage with uid twice", {"parameter": "uid"})
    expect_reply(call(G + "GetMessage", {"uid": 11}), G + "GetMessage", "failed SetMessage calls changed nothing",
                 {"uid": 11, "message": "x" * 63, "source": "uid"})
    expect_reply(call(G + "GetMessage", {"uid": U}), G + "GetMessage", "501's message unchanged",
                 {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"})
    for params, param, what in (({"uid": True}, "uid", "uid true"), ({"uid": -3}, "uid", "uid -3"),
                                ({"uid": U, "x": 1}, "x", "an unknown parameter")):
        expect_error(call(G + "GetMessage", params), G + "GetMessage", E_INV, "GetMessage " + what, {"parameter": param})
    expect_error(call(G + "RemoveMessage", {"uid": 777}), G + "RemoveMessage", G + "NoSuchMessage",
                 "RemoveMessage 777", {"uid": 777})
    expect_error(call(G + "RemoveMessage", {"uid": -5}), G + "RemoveMessage", E_INV, "RemoveMessage uid -5",
                 {"parameter": "uid"})
    expect_error(call(G + "ListMessages", {"x": 1}), G + "ListMessages", E_INV, "ListMessages x", {"parameter": "x"})
    expect_error(call(G + "GetStatus", {"x": 1}), G + "GetStatus", E_INV, "GetStatus x", {"parameter": "x"})
    expect_error(call(G + "WatchEvents", {}), G + "WatchEvents", "org.varlink.service.ExpectedMore",
                 "WatchEvents without --more", {})
    for params, param, what in (({"comm": "0123456789abcdef"}, "comm", "comm of 16 bytes"),
                                ({"comm": 5}, "comm", "comm a number"),
                                ({"include_failed": 1}, "include_failed", "include_failed 1"),
                                ({"after_seq": -1}, "after_seq", "after_seq -1"),
                                ({"uid": "0"}, "uid", "uid a string"),
                                ({"limit": 1}, "limit", "an unknown parameter")):
        expect_error(call(G + "WatchEvents", params, opts=("--json=short", "--more")), G + "WatchEvents", E_INV,
                     "WatchEvents --more " + what, {"parameter": param})
    expect_error(call(G + "Nope", {}), G + "Nope", "org.varlink.service.MethodNotFound",
                 "an unknown method of io.greeter", {"method": G + "Nope"})
    expect_error(call("org.varlink.service.Nope", {}), "org.varlink.service.Nope",
                 "org.varlink.service.MethodNotFound", "an unknown method of org.varlink.service",
                 {"method": "org.varlink.service.Nope"})
    expect_error(call("io.nope.Foo", {}), "io.nope.Foo", "org.varlink.service.InterfaceNotFound",
                 "a method of an unknown interface", {"interface": "io.nope"})
    expect_error(call("org.varlink.service.GetInterfaceDescription", {"interface": "io.nope"}),
                 "org.varlink.service.GetInterfaceDescription", "org.varlink.service.InterfaceNotFound",
                 "GetInterfaceDescription io.nope", {"interface": "io.nope"})
    expect_error(call("org.varlink.service.GetInterfaceDescription", {}),
                 "org.varlink.service.GetInterfaceDescription", E_INV,
                 "GetInterfaceDescription without interface", {"parameter": "interface"})
    expect_error(call("org.varlink.service.GetInfo", {"x": 1}), "org.varlink.service.GetInfo", E_INV,
                 "GetInfo x", {"parameter": "x"})
    r = call(G + "RemoveMessage", {"uid": 777}, opts=("--json=short", "--graceful=io.greeter.NoSuchMessage"))
    check(r.rc == 0 and json.loads(r.out or "null") == {"uid": 777}
          and r.err == "Method call io.greeter.RemoveMessage() returned expected error: io.greeter.NoSuchMessage\n",
          "--graceful=io.greeter.NoSuchMessage: exit 0", r)
    r = call(G + "RemoveMessage", {"uid": 777}, opts=("--json=short", "--collect"))
    expect_error(r, G + "RemoveMessage", G + "NoSuchMessage", "--collect of a call that fails", {"uid": 777})
    # RequestTooLarge: a call over 64 KiB from a user (root's bound is 4 MiB); then
    # greeterd serves on.
    expect_error(call(G + "SetMessage", {"uid": U, "message": "x" * 70000}, user=U), G + "SetMessage",
                 G + "RequestTooLarge", "a call of 70 kB from UID 501", {"limit": 65536})
    expect_error(call(G + "SetMessage", {"uid": 12, "message": "x" * 70000}), G + "SetMessage",
                 G + "MessageTooLong", "a call of 70 kB from root: read, the message too long",
                 {"limit": 63})
    expect_reply(call(G + "GetMessage", {"uid": 12}), G + "GetMessage", "greeterd serves on after RequestTooLarge",
                 {"uid": 12, "message": "Interop default 2", "source": "default"})
    # WriteFailed: the state directory read-only.
    subprocess.run(["mount", "-o", "remount,ro", state["statefs"]], check=True)
    try:
        v = expect_error(call(G + "SetMessage", {"uid": 12, "message": "never stored"}), G + "SetMessage",
                         G + "WriteFailed", "SetMessage with the state directory read-only")
        check(isinstance(v, dict) and "Read-only" in v.get("reason", ""), "WriteFailed: the reason says read-only", v)
        expect_error(call(G + "RemoveMessage", {"uid": 11}), G + "RemoveMessage", G + "WriteFailed",
                     "RemoveMessage with the state directory read-only")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", state["statefs"]], check=True)
    expect_reply(call(G + "GetMessage", {"uid": 12}), G + "GetMessage", "WriteFailed: nothing changed",
                 {"uid": 12, "message": "Interop default 2", "source": "default"})
    expect_reply(call(G + "GetMessage", {"uid": 11}), G + "GetMessage", "WriteFailed: nothing removed",
                 {"uid": 11, "message": "x" * 63, "source": "uid"})

    # -- permissions: varlinkctl as UID 501 (setpriv inside the tree)
    E_PD = G + "PermissionDenied"
    adm = grp.getgrnam(ADMIN_GROUP).gr_gid
    expect_reply(call(G + "GetMessage", user=U), G + "GetMessage", "501: GetMessage without uid is its own",
                 {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"})
    expect_reply(call(G + "GetMessage", {"uid": 0}, user=U), G + "GetMessage", "501 reads root's message",
                 {"uid": 0, "message": "Interop default 2", "source": "default"})
    expect_reply(call(G + "ListMessages", {}, user=U), G + "ListMessages", "501 lists the messages")
    expect_reply(call(G + "GetStatus", {}, user=U), G + "GetStatus", "501 reads the status")
    expect_reply(call(G + "SetMessage", {"uid": U, "message": "mine, as 501"}, user=U), G + "SetMessage",
                 "501 sets its own message", {})
    for method, params, what in ((G + "SetMessage", {"uid": U2, "message": "yours"}, "501 sets 502's message"),
                                 (G + "SetMessage", {"message": "everyone's"}, "501 sets the default"),
                                 (G + "RemoveMessage", {"uid": 7}, "501 removes 7's message"),
                                 (G + "RemoveMessage", {}, "501 removes the default")):
        v = expect_error(call(method, params, user=U), method, E_PD, what)
        check(isinstance(v, dict) and v.get("reason"), what + ": a reason", v)
    v = expect_error(call(G + "SetMessage", {"uid": U2, "message": "x"}, user=U, groups=[adm]), G + "SetMessage",
                     E_PD, "a member of the admin group sets 502's message")
    v = expect_error(call(G + "WatchEvents", {"uid": 0}, opts=("--json=short", "--more"), user=U), G + "WatchEvents",
                     E_PD, "501 watches UID 0")
    check(isinstance(v, dict) and v.get("reason"), "501 watches UID 0: a reason", v)
    expect_error(call(G + "WatchEvents", {"uid": 0}, opts=("--json=short", "--collect"), user=U), G + "WatchEvents",
                 E_PD, "--collect of WatchEvents that fails: 501 watches UID 0")
    expect_reply(call(G + "GetMessage", {"uid": 7}), G + "GetMessage", "refused calls changed nothing",
                 {"uid": 7, "message": "Grüße, ☃ — ünïcödé", "source": "uid"})
    expect_reply(call(G + "RemoveMessage", {"uid": U}, user=U), G + "RemoveMessage", "501 removes its own message", {})
    expect_error(call(G + "RemoveMessage", {"uid": U}, user=U), G + "RemoveMessage", G + "NoSuchMessage",
                 "501 removes its message again", {"uid": U})

    # TooManyConnections: UID 502 holds 512 connections.
    h = state["holder"] = Holder(os.path.join(state["sockdir"], "greeter.sock"), 512)
    check(h.ok, "UID 502 holds 512 connections")
    expect_error(call(G + "GetMessage", {}, user=U2), G + "GetMessage", G + "TooManyConnections",
                 "the 513th connection of UID 502", {"limit": 512})
    expect_reply(call(G + "GetMessage", {}, user=503), G + "GetMessage", "UID 503 is served meanwhile",
                 {"uid": 503, "message": "Interop default 2", "source": "default"})
    h.release()
    deadline = time.time() + 60
    while True:
        r = call(G + "GetMessage", {}, user=U2)
        if r.rc == 0 or time.time() > deadline:
            break
        time.sleep(0.1)
    expect_reply(r, G + "GetMessage", "UID 502 is served once it let go",
                 {"uid": U2, "message": "Interop default 2", "source": "default"})

    # -- ImportMessages (root only, all or nothing)
    expect_reply(call(G + "ImportMessages", {"messages": [{"uid": 30, "message": "imported 30"},
                                                         {"uid": 31, "message": "imported 31"}]}),
                 G + "ImportMessages", "ImportMessages: a merge of two", {"set": 2, "removed": 0})
    expect_reply(call(G + "GetMessage", {"uid": 31}), G + "GetMessage", "the imported message is set",
                 {"uid": 31, "message": "imported 31", "source": "uid"})
    expect_reply(call(G + "ImportMessages", {"messages": [], "replace": False}), G + "ImportMessages",
                 "ImportMessages: an empty merge, replace false", {"set": 0, "removed": 0})
    v = expect_error(call(G + "ImportMessages", {"messages": [{"uid": 32, "message": "fine"},
                                                             {"uid": 32, "message": "twice"}]}),
                     G + "ImportMessages", G + "InvalidImport", "ImportMessages: a UID twice")
    check(isinstance(v, dict) and v.get("index") == 1 and v.get("reason"), "InvalidImport: index 1, a reason", v)
    expect_error(call(G + "ImportMessages", {"messages": [{"uid": 32, "message": "a\u0007bell"}]}),
                 G + "ImportMessages", G + "InvalidImport", "ImportMessages: a control character")
    expect_error(call(G + "ImportMessages", {"messages": {}}), G + "ImportMessages", E_INV,
                 "ImportMessages: messages not a list", {"parameter": "messages"})
    expect_error(call(G + "ImportMessages", {"messages": [], "replace": "yes"}), G + "ImportMessages", E_INV,
                 "ImportMessages: replace not a bool", {"parameter": "replace"})
    v = expect_error(call(G + "ImportMessages", {"messages": [{"uid": U, "message": "mine"}]}, user=U),
                     G + "ImportMessages", E_PD, "501 imports")
    check(isinstance(v, dict) and v.get("reason"), "501 imports: a reason", v)
    expect_reply(call(G + "GetMessage", {"uid": 32}), G + "GetMessage", "refused imports set nothing",
                 {"uid": 32, "message": "Interop default 2", "source": "default"})
    for uid in (30, 31):
        expect_reply(call(G + "RemoveMessage", {"uid": uid}), G + "RemoveMessage",
                     "RemoveMessage %d (imported)" % uid, {})

    # -- --oneway
    r = call(G + "SetMessage", {"uid": 13, "message": "set --oneway"}, opts=("--oneway",))
    check(r.rc == 0 and r.out == "" and r.err == "", "SetMessage --oneway: exit 0, nothing printed", r)
    deadline = time.time() + 60
    while True:
        r = call(G + "GetMessage", {"uid": 13})
        if '"set --oneway"' in r.out or time.time() > deadline:
            break
        time.sleep(0.05)
    expect_reply(r, G + "GetMessage", "GetMessage shows what --oneway set",
                 {"uid": 13, "message": "set --oneway", "source": "uid"})
    r = call(G + "SetMessage", {"uid": 13, "message": ""}, opts=("--oneway",))
    check(r.rc == 0 and r.out == "" and r.err == "", "an invalid SetMessage --oneway: no reply, exit 0", r)
    r = call(G + "RemoveMessage", {"uid": 777}, opts=("--oneway",))
    check(r.rc == 0 and r.out == "" and r.err == "", "a failing RemoveMessage --oneway: no reply, exit 0", r)
    r = call(G + "Nope", {}, opts=("--oneway",))
    check(r.rc == 0 and r.out == "" and r.err == "", "an unknown method --oneway: no reply, exit 0", r)
    r = call(G + "RemoveMessage", {"uid": 13}, opts=("--oneway",))
    check(r.rc == 0 and r.out == "" and r.err == "", "RemoveMessage --oneway", r)
    deadline = time.time() + 60
    while True:
        r = call(G + "GetMessage", {"uid": 13})
        if '"default"' in r.out or time.time() > deadline:
            break
        time.sleep(0.05)
    expect_reply(r, G + "GetMessage", "the invalid --oneway changed nothing; RemoveMessage --oneway removed it",
                 {"uid": 13, "message": "Interop default 2", "source": "default"})

    # -- call --more of WatchEvents, with real execs on the host
    expect_reply(call(G + "SetMessage", {"uid": 0, "message": "Interop hi root"}), G + "SetMessage", "set root's", {})
    expect_reply(call(G + "SetMessage", {"uid": U, "message": "Interop hi 501"}), G + "SetMessage", "set 501's", {})
    LC = state["lcomm"]
    s_root = Stream("root", ["--json=short", "call", "--more", ADDR, G + "WatchEvents", json.dumps({"comm": LC})])
    s_user = Stream("501", ["--json=short", "-E", "call", ADDR, G + "WatchEvents", "{}"], user=U)
    s_adm = Stream("admin", ["--json=short", "-E", "call", ADDR, G + "WatchEvents",
                             json.dumps({"uid": 0, "comm": LC})], user=U, groups=[adm])
    firsts = {}
    for s in (s_root, s_user, s_adm):
        rs = s.wait_replies(lambda rs: len(rs) >= 1)
        first = rs[0] if rs else None
        firsts[s.name] = first
        check(first is not None and idl.check(first, idl.methods["WatchEvents"][1], "first") == []
              and set(first) == {"seq", "stream"} and first["seq"] >= 0
              and isinstance(first["stream"], str) and first["stream"] != "",
              "WatchEvents (%s): the first reply is the state, {\"seq\": N, \"stream\": ID}" % s.name,
              (first, s.stderr()))
    st = json.loads(call(G + "GetStatus", {}).out or "{}")
    check(st.get("watchers") == 3, "GetStatus: 3 watchers while three WatchEvents are open", st.get("watchers"))
    run0 = run_marker()
    run1 = run_marker(U)
    mk = state["marker"]
    rs = s_root.wait_replies(lambda rs: len(events_of(rs, mk)) >= 2)
    evs = events_of(rs, mk)
    check(len(evs) == 2 and len(rs) == 3, "WatchEvents as root, comm filter: exactly our two execs", rs)
    if len(evs) == 2:
        check_event(evs[0], run0, "Interop hi root", "uid", "root's exec")
        check_event(evs[1], run1, "Interop hi 501", "uid", "501's exec")
        check(firsts["root"]["seq"] < evs[0]["seq"] < evs[1]["seq"], "sequence numbers grow past the first reply's",
              (firsts["root"], evs))
        check(all(set(r) == {"event"} for r in rs[1:]), "later replies carry one event each (no dropped)", rs[1:])
    rs = s_user.wait_replies(lambda rs: len(events_of(rs, mk)) >= 1)
    evs = events_of(rs, mk)
    check(len(evs) == 1 and evs[0].get("uid") == U, "WatchEvents as 501, unfiltered: its own exec only", evs)
    if evs:
        check_event(evs[0], run1, "Interop hi 501", "uid", "501's exec, seen by 501")
    others = [r for r in rs[1:] if r.get("event", {}).get("uid") != U]
    check(not others, "WatchEvents as 501: no event of another user", others[:3])
    rs = s_adm.wait_replies(lambda rs: len(events_of(rs, mk)) >= 1)
    evs = events_of(rs, mk)
    check(len(evs) == 1 and len(rs) == 2, "WatchEvents uid 0 by a member of the admin group: root's exec", rs)
    if evs:
        check_event(evs[0], run0, "Interop hi root", "uid", "root's exec, seen by the admin group")
    for s in (s_root, s_user, s_adm):
        s.stop()
    # after_seq: the two execs again, from the replay window.
    after = firsts["root"]["seq"] if firsts.get("root") else 0
    s = Stream("replay", ["--json=short", "-E", "call", ADDR, G + "WatchEvents",
                          json.dumps({"comm": LC, "after_seq": after})])
    rs = s.wait_replies(lambda rs: len(events_of(rs, mk)) >= 2)
    s.stop()
    evs = events_of(rs, mk)
    stream = firsts["root"].get("stream") if firsts.get("root") else None
    check(len(rs) == 3 and set(rs[0]) == {"seq", "stream"} and rs[0]["stream"] == stream
          and len(evs) == 2 and evs[0]["pid"] == run0["pid"] and evs[1]["pid"] == run1["pid"],
          "WatchEvents after_seq: both execs replayed, in the same stream", rs)
    deadline = time.time() + 60
    while json.loads(call(G + "GetStatus", {}).out or "{}").get("watchers") != 0 and time.time() < deadline:
        time.sleep(0.05)
    check(json.loads(call(G + "GetStatus", {}).out or "{}").get("watchers") == 0,
          "GetStatus: no watchers once varlinkctl has gone")

    # -- --collect of WatchEvents, and greeterd stopping under open streams.
    # WatchEvents has no limit: its replies end only when greeterd closes the
    # connection. varlinkctl --more then reports io.systemd.Disconnected after
    # what it got; --collect prints nothing (the disconnection is an error).
    s_more = Stream("more-at-stop", ["--json=short", "--more", "call", ADDR, G + "WatchEvents", json.dumps({"comm": LC})])
    s_coll = Stream("collect", ["--json=short", "--collect", "call", ADDR, G + "WatchEvents", json.dumps({"comm": LC})])
    s_more.wait_replies(lambda rs: len(rs) >= 1)
    deadline = time.time() + 60
    while json.loads(call(G + "GetStatus", {}).out or "{}").get("watchers") != 2 and time.time() < deadline:
        time.sleep(0.05)
    before = json.loads(call(G + "GetStatus", {}).out or "{}").get("counters", {}).get("delivered", 0)
    run2 = run_marker()
    rs = s_more.wait_replies(lambda rs: len(events_of(rs, mk)) >= 1)
    deadline = time.time() + 60
    while (json.loads(call(G + "GetStatus", {}).out or "{}").get("counters", {}).get("delivered", 0) < before + 2
           and time.time() < deadline):
        time.sleep(0.05)
    rc = stop_greeterd()
    check(rc == 0, "greeterd stops on SIGTERM with two streams open, exit 0", (rc, greeterd_log()[-2000:]))
    s_more.wait_exit()
    s_coll.wait_exit()
    rs = s_more.replies()
    evs = events_of(rs, mk)
    check(len(rs) == 2 and len(evs) == 1 and evs[0]["pid"] == run2["pid"], "call --more: the event, then the end", rs)
    check(s_more.rc == 1 and s_more.stderr() == "Method call failed: io.systemd.Disconnected\n",
          "call --more when greeterd stops: io.systemd.Disconnected, exit 1", (s_more.rc, s_more.stderr()))
    with open(s_coll.path) as f:
        out = f.read()
    check(s_coll.rc == 1 and out == "" and
          s_coll.stderr() == "Failed to issue io.greeter.WatchEvents() call: Connection reset by peer\n",
          "call --collect of WatchEvents: ends only as greeterd stops, an error, exit 1", (s_coll.rc, out,
                                                                                            s_coll.stderr()))


def main():
    if os.geteuid() != 0:
        skip("needs root: a Debian 13 root is made with debootstrap and entered with chroot")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.time()
    state["tmp"] = tempfile.mkdtemp(prefix="greeter-interop-")
    os.chmod(state["tmp"], 0o755)
    try:
        state["tree"] = get_tree()
        t_tree = time.time()
        # The marker: a copy of /bin/true under a unique name, started by a
        # copy of env under a unique name (the comm the events carry).
        state["lcomm"] = "gi-%d" % (os.getpid() % 10000000)
        state["launcher"] = os.path.join(state["tmp"], state["lcomm"])
        state["marker"] = os.path.join(state["tmp"], "greeter-interop-mark-%d" % os.getpid())
        shutil.copy("/usr/bin/env", state["launcher"])
        shutil.copy("/bin/true", state["marker"])
        os.chmod(state["launcher"], 0o755)
        os.chmod(state["marker"], 0o755)
        if subprocess.run(["mountpoint", "-q", "/sys/fs/bpf"]).returncode != 0:
            subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)
        start_greeterd()
        suite()
        say("# tree %.1f s, checks %.1f s" % (t_tree - t0, time.time() - t_tree))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cleanup()
    if failures:
        say("%d check(s) failed:\n  %s" % (len(failures), "\n  ".join(failures)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
