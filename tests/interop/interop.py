"""What the interop tests share: varlinkctl of systemd 257 run in a Debian 13
(trixie) root (tests/lib/debian-root.sh) against this build's greeterd
(started by tests/lib/greeter.py's launcher); the shipped IDL parsed, and
every reply checked against its types; soft checks (a failure is counted,
the test goes on) and fatal ones; streams left running in the tree; the
markers whose execs the streams must report. See README.md here.

A test is a function run by main(): the tree, a greeterd of its own (its
socket bound at /run/greeter-interop in the tree, the IDL at /idl) and,
however it ends, everything cleaned up.
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
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
import greeter  # noqa: E402

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
G = "io.greeter."
E_INV = "org.varlink.service.InvalidParameter"
E_PD = G + "PermissionDenied"
# The default message and UID 501's as the tests after the first find them.
DEFAULT = "Interop default 2"
MSG_501 = "Hi 501, from varlinkctl"

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
    return greeter.setpriv(user, user, groups)


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


def call_until(done, method, params=None, timeout=60, interval=0.05, **kw):
    """call() again until done(its result), for timeout seconds at most:
    the last result."""
    deadline = time.time() + timeout
    while True:
        r = call(method, params, **kw)
        if done(r) or time.time() > deadline:
            return r
        time.sleep(interval)


def parsed(r):
    return json.loads(r.out or "{}")


def status():
    """GetStatus through varlinkctl, parsed ({} when it fails)."""
    return parsed(call(G + "GetStatus", {}))


def status_until(done, timeout=60):
    """status() again until done(it), for timeout seconds at most."""
    return parsed(call_until(lambda r: done(parsed(r)), G + "GetStatus", {}, timeout))


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
    idl = state["idl"] if iface == "io.greeter" else svc_idl()
    return idl, idl.methods[name]


def error_type(error):
    iface, name = error.rsplit(".", 1)
    idl = state["idl"] if iface == "io.greeter" else svc_idl()
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
    """This build's greeterd, its state directory on a small tmpfs of its
    own (remounted read-only to provoke WriteFailed), its socket in a
    directory the tree binds."""
    state["sockdir"] = os.path.join(state["tmp"], "sock")
    os.makedirs(state["sockdir"])
    os.chmod(state["sockdir"], 0o755)
    g = state["greeterd"] = greeter.Greeterd(
        "interop", binary=GREETERD, socket_path=os.path.join(state["sockdir"], "greeter.sock"),
        extra=["--admin-group", ADMIN_GROUP, "--max-delay", "5", "--replay-window", "65536"])
    state["statefs"] = g.state_on_tmpfs("1m")
    state["pin_dir"], state["state_dir"], state["socket"] = g.pin_dir, g.state_dir, g.socket
    try:
        g.start()
    except greeter.GreeterdError as e:
        fatal(str(e))


def greeterd_log():
    try:
        return state["greeterd"].log()
    except (KeyError, OSError):
        return ""


def stop_greeterd():
    """SIGTERM: greeterd's exit status."""
    try:
        return state["greeterd"].stop(timeout=20)
    except greeter.GreeterdError:
        check(False, "greeterd stops on SIGTERM")
        return state["greeterd"].proc.returncode


def set_up(*messages):
    """Messages a test starts from ((uid or None, text)), set as root
    through greeter's own client: not what it checks."""
    g = state["greeterd"]
    for uid, text in messages:
        params = {"message": text} if uid is None else {"uid": uid, "message": text}
        try:
            g.parameters(G + "SetMessage", params)
        except RuntimeError as e:
            fatal("setting up: %s" % e)


def cleanup():
    for s in list(state.get("streams", [])):
        s.stop()
    h = state.get("holder")
    if h:
        h.release()
    g = state.get("greeterd")
    if g:
        try:
            g.cleanup()
        except greeter.GreeterdError:
            pass
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
        cmd = greeter.setpriv(uid) + cmd
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


# ---------------------------------------------------------- the tree -------

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




def svc_idl():
    """org.varlink.service as greeterd describes it (introspect), parsed."""
    if "svc_idl" not in state:
        r = vctl("introspect", ADDR, "org.varlink.service")
        try:
            state["svc_idl"] = Idl(r.out)
        except (ValueError, IndexError) as e:
            fatal("org.varlink.service as greeterd describes it does not parse: %s" % e)
    return state["svc_idl"]


def make_markers():
    """The marker: a copy of /bin/true under a unique name, started by a
    copy of env under a unique name (the comm the events carry)."""
    state["lcomm"] = "gi-%d" % (os.getpid() % 10000000)
    state["launcher"] = os.path.join(state["tmp"], state["lcomm"])
    state["marker"] = os.path.join(state["tmp"], "greeter-interop-mark-%d" % os.getpid())
    shutil.copy("/usr/bin/env", state["launcher"])
    shutil.copy("/bin/true", state["marker"])
    os.chmod(state["launcher"], 0o755)
    os.chmod(state["marker"], 0o755)


def main(test, with_greeterd=True):
    """Runs test() in the tree against a greeterd of its own (unless
    with_greeterd is false); the exit status."""
    if os.geteuid() != 0:
        skip("needs root: a Debian 13 root is made with debootstrap and entered with chroot")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.time()
    state["tmp"] = tempfile.mkdtemp(prefix="greeter-interop-")
    os.chmod(state["tmp"], 0o755)
    try:
        state["tree"] = get_tree()
        t_tree = time.time()
        make_markers()
        with open(IDL_PATH) as f:
            state["shipped"] = f.read()
        state["idl"] = Idl(state["shipped"])
        state["version"] = subprocess.run([GREETERD, "--version"], capture_output=True,
                                          text=True).stdout.split()[-1]
        state["binds"] = [IDL_PATH + ":" + T_IDL]
        if with_greeterd:
            greeter.ensure_bpffs()
            start_greeterd()
            state["binds"].append(state["sockdir"] + ":" + T_SOCKDIR)
        test()
        say("# tree %.1f s, checks %.1f s" % (t_tree - t0, time.time() - t_tree))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cleanup()
    if failures:
        say("%d check(s) failed:\n  %s" % (len(failures), "\n  ".join(failures)))
        return 1
    return 0


def admin_gid():
    return grp.getgrnam(ADMIN_GROUP).gr_gid
