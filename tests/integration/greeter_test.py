"""Shared pieces of the integration tests: a real greeterd on the real kernel.

Each test gets its own pin directory, state directory and socket, so tests
never touch a greeterd that runs on the machine, and cleans them up.
Tests skip (exit 77) only when they cannot run here: not root, no BPF.
"""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

# The launcher and the client: tests/lib, or beside this file in the copy
# that as_user() runs.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import greeter  # noqa: E402
from greeter import GREETERD, Varlink, cgroup2_root, ensure_bpffs, setpriv  # noqa: E402,F401 (for the tests)

GREETERCTL = os.environ.get("GREETERCTL", "build/client/greeterctl")
# The builds an upgrade goes to (tests/integration/variant/): another BPF
# object of the same ABI, and the next ABI version.
GREETERD_VARIANT = os.environ.get("GREETERD_VARIANT", "build/tests/integration/variant/greeterd-variant")
GREETERD_ABI_NEXT = os.environ.get("GREETERD_ABI_NEXT", "build/tests/integration/variant/greeterd-abi-next")
SKIP = 77
# How long a test waits while nothing at all happens (no event, no reply)
# before it gives up. Never a bound on how long work may take: a machine
# three times slower, or two CPU hogs beside the suite, only make the work
# take longer, and a test waits for it as long as it keeps moving.
IDLE_TIMEOUT = 120
# The overall deadline of a load driven until a state is observed.
DRIVE_DEADLINE = 900


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(SKIP)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok - " + msg)


def require_root():
    if os.geteuid() != 0:
        skip("needs root to load BPF programs")
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        skip("the kernel has no BTF (/sys/kernel/btf/vmlinux)")
    if not os.path.isdir("/sys/fs/bpf"):
        skip("the kernel has no /sys/fs/bpf")


def is_asan(pid):
    """Whether the process runs under AddressSanitizer, whose shadow memory
    and quarantine of freed blocks raise RSS: gcc links its runtime as
    libasan.so; clang links it into the binary."""
    with open("/proc/%d/maps" % pid) as f:
        if "libasan" in f.read():
            return True
    with open("/proc/%d/exe" % pid, "rb") as f:
        return b"__asan_init" in f.read()

class Daemon(greeter.Greeterd):
    """The launcher (tests/lib/greeter.py) as the tests use it: its events
    printed (--print-events, a file per run), read within 5 ms; a start or
    stop that goes wrong fails the test."""

    options = ["--max-delay", "5"]

    def __init__(self, name, pin_dir=None, **kw):
        super().__init__(name, print_events=True,
                         pin_dir=pin_dir or "/sys/fs/bpf/greeter-test-%s-%d" % (name, os.getpid()), **kw)

    def wait_ready(self, timeout=greeter.READY_TIMEOUT):
        try:
            return super().wait_ready(timeout)
        except greeter.GreeterdError as e:
            fail(str(e))

    def stop(self, sig=signal.SIGTERM, timeout=120):
        try:
            return super().stop(sig, timeout)
        except greeter.GreeterdError as e:
            fail(str(e))

    def _printed(self, parse, run=None):
        path = os.path.join(self.tmp, "events.%d.txt" % (run or self.runs))
        evs = []
        with open(path) as f:
            for line in f:
                ev = parse(line)
                if ev:
                    evs.append(ev)
        return evs

    def events(self, run=None):
        """Execs printed by one run of greeterd (--print-events lines)."""
        return self._printed(parse_event_line, run)

    def exits(self, run=None):
        """Exits printed by one run of greeterd (--print-events lines)."""
        return self._printed(parse_exit_line, run)

    def all_events(self):
        evs = []
        for r in range(1, self.runs + 1):
            evs += self.events(r)
        return evs

    def all_seqs(self):
        """The sequence numbers of every event printed, execs and exits, in
        all runs, as printed: exits take numbers of the same sequence."""
        any_line = lambda x: parse_event_line(x) or parse_exit_line(x)  # noqa: E731
        return [e["seq"] for r in range(1, self.runs + 1) for e in self._printed(any_line, r)]

    def wait_watchers(self, n):
        """Until exactly n watchers are connected: a client started in the
        background sees the events made after this (0: the ones before are
        gone, so the next one counts)."""
        if not wait_for(lambda: self.status()["watchers"] == n):
            fail("greeterd never had %d watcher(s): %d" % (n, self.status()["watchers"]))

    def set_message(self, uid, text):
        params = {"message": text}
        if uid is not None:
            params["uid"] = uid
        r = self.call("io.greeter.SetMessage", params)
        if "error" in r:
            fail("SetMessage(%r, %r) failed: %r" % (uid, text, r))

    # The harness: "with Daemon(name) as d:" needs root and bpffs (or
    # skips, saying why), and leaves no greeterd, pins or files behind.
    def __enter__(self):
        try:
            require_root()
            ensure_bpffs()
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)  # a skip leaves no files either
            raise
        return self


# The unit and the arguments are quoted as common/args_text.h says: a word
# that is empty, or holds a space or a double quote, in double quotes.
ARG_RE = r'"(?:[^"\\]|\\.)*"|[^ "]+'
# Every string is quoted so (message= always): no value can forge a field.
# From ABI 4, the exec's id and (when known) its parent's follow the unit.
EVENT_RE = re.compile(
    r'^seq=(\d+) pid=(\d+) ppid=(\d+) uid=(\d+) comm=(%s) file=(%s) message=("(?:[^"\\]|\\.)*")'
    r'( failed)? unit=(%s)(?: exec=([0-9a-f]+-\d+-\d+))?(?: parent=([0-9a-f]+-\d+-\d+))?'
    r'( args_truncated)?(?: args=(.*))?$' % (ARG_RE, ARG_RE, ARG_RE))
# Lines of builds before ABI 3: no unit, no arguments.
EVENT_RE_OLD = re.compile(
    r'^seq=(\d+) pid=(\d+) ppid=(\d+) uid=(\d+) comm=(.*) file=(.*) message="(.*)"( failed)?()()()()()$')
# An exit (ABI 4 on): "exit" where an exec's line has pid=, so never taken for one.
EXIT_RE = re.compile(
    r'^seq=(\d+) exit pid=(\d+) ppid=(\d+) uid=(\d+) comm=(%s) file=(%s) unit=(%s)'
    r' exec=([0-9a-f]+-\d+-\d+)(?: parent=([0-9a-f]+-\d+-\d+))?'
    r' (?:code=(\d+)|signal=(\d+)( core)?) duration_usec=(\d+)$' % (ARG_RE, ARG_RE, ARG_RE))


def split_args_text(text):
    """The arguments of an args= line (or a GREETER_ARGS field), still escaped
    as greeter_escape() does, but unquoted: \\" inside quotes is a quote."""
    out = []
    for m in re.finditer(ARG_RE, text):
        w = m.group(0)
        if w.startswith('"'):
            w = re.sub(r'\\(.)', lambda x: x.group(1) if x.group(1) == '"' else x.group(0), w[1:-1])
        out.append(w)
    return out


def parse_event_line(line):
    """An exec line of --print-events (or a failed attempt's); None for
    anything else, an exit's line included."""
    m = EVENT_RE.match(line.rstrip("\n"))
    if not m:
        m = EVENT_RE_OLD.match(line.rstrip("\n"))
        if not m:
            return None
        text = lambda g: m.group(g)  # noqa: E731 (older builds: not quoted)
    else:
        text = lambda g: split_args_text(m.group(g))[0]  # noqa: E731
    return {"seq": int(m.group(1)), "pid": int(m.group(2)), "ppid": int(m.group(3)),
            "uid": int(m.group(4)), "comm": text(5), "filename": text(6),
            "message": text(7), "failed": bool(m.group(8)),
            "unit": None if not m.group(9) else split_args_text(m.group(9))[0]
            if m.group(9) != '""' else "",
            "exec_id": m.group(10), "parent_exec_id": m.group(11),
            "args_truncated": bool(m.group(12)),
            "args": split_args_text(m.group(13)) if m.group(13) else None}


def parse_exit_line(line):
    """An exit line of --print-events; None for anything else."""
    m = EXIT_RE.match(line.rstrip("\n"))
    if not m:
        return None
    text = lambda g: split_args_text(m.group(g))[0]  # noqa: E731
    return {"seq": int(m.group(1)), "pid": int(m.group(2)), "ppid": int(m.group(3)),
            "uid": int(m.group(4)), "comm": text(5), "filename": text(6),
            "unit": "" if m.group(7) == '""' else text(7),
            "exec_id": m.group(8), "parent_exec_id": m.group(9),
            "exit_code": None if m.group(10) is None else int(m.group(10)),
            "signal": None if m.group(11) is None else int(m.group(11)),
            "core_dumped": bool(m.group(12)), "duration_usec": int(m.group(13))}


class Marker(greeter.Scoped):
    """A copy of /bin/true under a unique name: our execs, told apart from others'."""

    def __init__(self, tag):
        self.dir = tempfile.mkdtemp(prefix="greeter-marker-")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "greeter-mark-%s-%d" % (tag, os.getpid()))
        shutil.copy("/bin/true", self.path)
        os.chmod(self.path, 0o755)

    def run(self, uid=None, gid=None, count=1):
        for _ in range(count):
            if uid is None:
                cmd = [self.path]
            else:
                cmd = setpriv(uid, gid) + [self.path]
            subprocess.run(cmd, check=True)

    def mine(self, events):
        return [e for e in events if e["filename"] == self.path]

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def json_lines(path):
    """The JSON objects of the whole lines a writer has put in path so far: a
    line still being written (no newline yet) is not one."""
    with open(path, "rb") as f:
        lines = f.read().decode().split("\n")[:-1]
    return [json.loads(x) for x in lines]


class Tail(greeter.Scoped):
    """greeterctl tail --json of d in the background, resuming across
    greeterd's restarts, once it watches: the events of a marker it has
    printed so far."""

    def __init__(self, d):
        self.path = os.path.join(d.tmp, "tail.json")
        with open(self.path, "wb") as out, open(os.path.join(d.tmp, "tail.err"), "wb") as err:
            self.proc = subprocess.Popen([GREETERCTL, "--socket", d.socket, "tail", "--json"],
                                         stdout=out, stderr=err)
        try:
            d.wait_watchers(1)
        except BaseException:
            self.cleanup()
            raise

    def of(self, marker):
        return [e for e in json_lines(self.path) if e.get("filename") == marker.path]

    def cleanup(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def check_each_once(evs, total, across=""):
    """Checks that evs shows each of total execs once, under sequence
    numbers without a repeat; their numbers."""
    pids = [e["pid"] for e in evs]
    seqs = [e["seq"] for e in evs]
    check(len(evs) == total, "every exec reported once%s: %d execs, %d events" % (across, total, len(evs)))
    check(len(set(pids)) == len(pids),
          "no exec reported twice (%d pids repeated)" % (len(pids) - len(set(pids))))
    check(seqs == sorted(set(seqs)), "sequence numbers grow without a repeat")
    return seqs


def wait_for(fn, timeout=120, interval=0.02):
    """fn()'s value once it is true; the last value after timeout seconds.
    A deadline for something that should happen, never a bound on how long
    it takes: it returns as soon as it has."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    return fn()


class Watch:
    """A WatchEvents stream read in a thread of its own: the events that keep()
    accepts, and the "dropped" counts, gathered as they come. wait() waits for
    a state of it as long as replies keep coming."""

    def __init__(self, socket_path, params, keep=lambda e: True, rcvbuf=None):
        self.conn = Varlink(socket_path, timeout=1)
        if rcvbuf:
            self.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.first = self.conn.call("io.greeter.WatchEvents", params, more=True)
        if "error" in self.first:
            fail("WatchEvents(%r) failed: %r" % (params, self.first))
        self.keep = keep
        self.events = []
        self.dropped = 0
        self.ended = None  # why reading stopped, when it has
        self.moved = time.monotonic()
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop:
            try:
                r = self.conn.recv()
            except socket.timeout:
                continue
            except (OSError, ConnectionError, ValueError) as e:
                self.ended = repr(e)
                return
            self.moved = time.monotonic()
            p = r.get("parameters", {})
            self.dropped += p.get("dropped", 0)
            e = p.get("event")
            if e and self.keep(e):
                self.events.append(e)

    def seqs(self):
        return [e["seq"] for e in self.events]

    def wait(self, cond, what, idle=IDLE_TIMEOUT):
        """Until cond(self) holds; fails when the stream ended, or when no
        reply came for idle seconds, naming what was awaited."""
        self.moved = time.monotonic()
        while not cond(self):
            if self.ended:
                fail("%s: the stream ended (%s) with %d kept, %d dropped"
                     % (what, self.ended, len(self.events), self.dropped))
            if time.monotonic() - self.moved > idle:
                fail("%s: no reply for %d s, %d kept, %d dropped"
                     % (what, idle, len(self.events), self.dropped))
            time.sleep(0.02)

    def close(self):
        self._stop = True
        self._thread.join()
        self.conn.close()


class ExecLoad(greeter.Scoped):
    """Loops exec'ing a program in the background (as uid when given) until
    stop(): a load driven until the state a test needs is observed, however
    fast the machine runs it. stop() returns how many execs ran, the same
    number if called again. Entered on a test's ExitStack, it is stopped when
    the test ends, a check failed or not: several tests start one, and a loop
    of /bin/true would otherwise run on after a failed check."""

    def __init__(self, program, loops=1, uid=None):
        self.count = None
        self.dir = tempfile.mkdtemp(prefix="greeter-load-")
        os.chmod(self.dir, 0o755)
        self.stopfile = os.path.join(self.dir, "stop")
        script = 'i=0; while [ ! -e "$1" ]; do "$2" || exit 1; i=$((i+1)); done; echo $i'
        cmd = ["bash", "-c", script, "load", self.stopfile, program]
        if uid is not None:
            cmd = setpriv(uid) + cmd
        self.procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(loops)]

    def stop(self):
        if self.count is not None:
            return self.count
        self.count = 0
        open(self.stopfile, "w").close()
        n = 0
        for p in self.procs:
            out, _ = p.communicate()
            if p.returncode != 0:
                fail("an exec loop failed (exit status %d)" % p.returncode)
            n += int(out.strip())
        shutil.rmtree(self.dir, ignore_errors=True)
        self.count = n
        return n

    cleanup = stop


def reap(procs):
    """Ends the helper processes of procs that still run (SIGTERM, SIGKILL
    after 10 s) and waits for them all. Several tests start helpers (other
    users' clients, tails, exec loops): registered on the test's ExitStack,
    stack.callback(reap, procs), none outlives a failed check; procs may
    still grow after."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        p.wait()


def drive_until(cond, what, step=None, deadline=DRIVE_DEADLINE):
    """Runs step() (or sleeps a little, while a background load runs) until
    cond() holds: a state observed, not a time waited. Fails when it has not
    come after deadline seconds, naming it. Returns cond()'s value."""
    end = time.monotonic() + deadline
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            fail("%s: not observed after %d s of load" % (what, deadline))
        if step:
            step()
        else:
            time.sleep(0.1)


def bpftool_json(*args):
    r = subprocess.run(["bpftool", "-j"] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)


_shared_scripts = None


def as_user(uid, gid, groups, script, *args):
    """The command line that runs one of these test scripts as another user.

    The checkout may lie in a home directory that only root can enter (mode
    0700, as /root and every home on Debian): the script, this module and
    the launcher's are copied once into a directory anyone can read, and run
    with the system's Python, which anyone can execute.
    """
    global _shared_scripts
    if _shared_scripts is None:
        _shared_scripts = tempfile.mkdtemp(prefix="greeter-test-scripts-")
        os.chmod(_shared_scripts, 0o755)
        import atexit
        atexit.register(shutil.rmtree, _shared_scripts, True)
    copies = []
    for src in (greeter.__file__, __file__, script):
        dst = os.path.join(_shared_scripts, os.path.basename(src))
        # Once, and whole: a script started earlier may be importing it.
        if not os.path.exists(dst):
            shutil.copyfile(src, dst + ".tmp")
            os.chmod(dst + ".tmp", 0o644)
            os.rename(dst + ".tmp", dst)
        copies.append(dst)
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
    return setpriv(uid, gid, groups) + [python, copies[-1]] + [str(a) for a in args]


def print_watched_uids(path, marker, sentinel, hello):
    """Run as another user (as_user): an unfiltered WatchEvents; prints hello
    (or "error NAME" when the call is refused), then the UID of every event
    of marker, until the caller's own event of sentinel comes."""
    c = Varlink(path, timeout=IDLE_TIMEOUT)
    reply = c.call("io.greeter.WatchEvents", {}, more=True)
    if "error" in reply:
        print("error " + reply["error"], flush=True)
        return
    print(hello, flush=True)
    uid = os.getuid()
    try:
        while True:
            e = c.recv()["parameters"].get("event")
            if not e:
                continue
            if e["filename"] == marker:
                print(e["uid"], flush=True)
            elif e["filename"] == sentinel and e["uid"] == uid:
                break
    except (OSError, ConnectionError):
        pass


def connections(path, n, request, timeout=None):
    """n connections to path (timeout: of their reads), each sent request
    (raw bytes); the replies are left for the caller to read, or not."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed before the request went: its error is there to read
        socks.append(s)
    return socks


def call_as(uid, gid, groups, socket_path, method, params=None, more=False, replies=1):
    """Make a varlink call as another user (through setpriv); the replies."""
    cmd = as_user(uid, gid, groups, __file__, "call", socket_path, method,
                  json.dumps(params), "1" if more else "0", replies)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=IDLE_TIMEOUT)
    if r.returncode != 0:
        fail("call as %d failed: %s" % (uid, r.stderr))
    return [json.loads(line) for line in r.stdout.splitlines()]


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "call":
    _, _, path, method, params, more, count = sys.argv
    c = Varlink(path)
    out = [c.call(method, json.loads(params), more == "1")]
    for _ in range(int(count) - 1):
        if "error" in out[-1]:
            break
        out.append(c.recv())
    for reply in out:
        print(json.dumps(reply))


def freezable_fs(stack, prefix):
    """A 32 MiB ext4 on a loop device, mounted (and unmounted by stack), for
    a state directory whose disk the test stalls with fsfreeze -f: its mount
    point. The test registers the thaw (fsfreeze -u) after its Daemon, whose
    cleanup writes there. Skips when the machine has no mkfs.ext4, fsfreeze
    or loop device."""
    def run(*args):
        return subprocess.run(list(args), capture_output=True, text=True)

    for tool in ("mkfs.ext4", "fsfreeze"):
        if not shutil.which(tool):
            skip("%s is not installed" % tool)
    top = tempfile.mkdtemp(prefix=prefix)
    stack.callback(shutil.rmtree, top, ignore_errors=True)
    img, mnt = os.path.join(top, "fs.img"), os.path.join(top, "mnt")
    os.mkdir(mnt)
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    r = run("mkfs.ext4", "-q", "-F", img)
    check(r.returncode == 0, "mkfs.ext4: %s" % r.stderr)
    r = run("mount", "-o", "loop", img, mnt)
    if r.returncode != 0:
        if not os.path.exists("/dev/loop-control") or "loop" in r.stderr:
            skip("no loop device to mount a file system on: %s" % r.stderr.strip())
        fail("mount -o loop: %s" % r.stderr)
    stack.callback(run, "umount", "-l", mnt)
    return mnt


def family(pid):
    """pid and its children: (pid, state of each of their threads)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(p) != pid and int(fields[1]) != pid:
                continue
            for t in os.listdir("/proc/%s/task" % p):
                with open("/proc/%s/task/%s/stat" % (p, t)) as f:
                    out.append((int(p), f.read().rsplit(")", 1)[1].split()[0]))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return out


def stored_messages(state_dir):
    """What greeterd would restore after a reboot: the snapshot (messages.json),
    then the change logs (messages.log.<N> in order, then messages.log), read
    here independently of greeterd's code. {uid or None: text}; a torn last
    record is ignored, a damaged one raises ValueError. A running greeterd may
    rotate or compact the logs while they are read (a log renamed, a snapshot
    replaced, old logs removed): such a read is started again."""
    for _ in range(50):
        before = _state_files(state_dir)
        try:
            state = _read_stored_messages(state_dir)
        except FileNotFoundError:
            state = None
        if state is not None and _state_files(state_dir) == before:
            return state
        time.sleep(0.05)
    fail("%s kept changing while it was read" % state_dir)


def _state_files(state_dir):
    """Which files (by inode) hold the state: changes when greeterd rotates or
    compacts, not when it appends."""
    out = []
    for name in sorted(os.listdir(state_dir)):
        if name == "messages.json" or name.startswith("messages.log"):
            try:
                out.append((name, os.stat(os.path.join(state_dir, name)).st_ino))
            except FileNotFoundError:
                pass
    return out


def _read_stored_messages(state_dir):
    import zlib

    def key(k):
        return None if k == "default" else int(k)

    state = {}
    snap = os.path.join(state_dir, "messages.json")
    if os.path.exists(snap):
        with open(snap) as f:
            state = {key(k): v for k, v in json.load(f)["messages"].items()}
    old = sorted(int(n.rsplit(".", 1)[1]) for n in os.listdir(state_dir)
                 if re.fullmatch(r"messages\.log\.[1-9][0-9]*", n))
    for name in ["messages.log.%d" % n for n in old] + ["messages.log"]:
        path = os.path.join(state_dir, name)
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        for line in lines[:-1]:  # the last is b"" or a torn record
            crc, _, body = line.partition(b" ")
            if int(crc, 16) != zlib.crc32(body):
                raise ValueError("%s: bad checksum: %r" % (name, line[:60]))
            fields = body.decode().split("\t")
            op, rest = fields[0], fields[1:]
            if op == "remove":
                for k in rest:
                    state.pop(key(k), None)
                continue
            pairs = {key(rest[i]): rest[i + 1] for i in range(0, len(rest), 2)}
            if op == "replace":
                state = pairs
            elif op == "set":
                state.update(pairs)
            else:
                raise ValueError("%s: unknown op %r" % (name, op))
    return state


def ring_records(pin_dir, ring_size):
    """The records the pinned ring buffer holds (what greeterd retains, and
    what it has not read yet), oldest first, as bytes."""
    try:
        ring = greeter.PinnedRing(os.path.join(pin_dir, "events"), ring_size)
    except OSError as e:
        fail("cannot open the pinned ring buffer: %s" % e)
    try:
        return [bytes(data) for _, data in ring.records(ring.consumer(), ring.producer())]
    finally:
        ring.close()


RECORD_HEADER = 88


def parse_record(rec):
    """An ABI-4 ring record (bpf/greeter.h struct greeter_record) as a dict."""
    (seq, boot_ns, cgroup_id, exec_ns, parent_exec_ns, pid, ppid, uid, gid, error, flags, source,
     kind, parent_pid, exit_status, comm_len, message_len, unit_len, filename_len,
     parent_comm_len, parent_file_len, args_len, _) = struct.unpack_from(
        "<QQQQQIIIIiHBBIIHHHHHHHH", rec, 0)
    p = RECORD_HEADER
    fields = {}
    for name, n in (("comm", comm_len), ("message", message_len), ("unit", unit_len),
                    ("filename", filename_len), ("parent_comm", parent_comm_len),
                    ("parent_file", parent_file_len), ("args", args_len)):
        fields[name] = rec[p:p + n]
        p += n
    fields.update(seq=seq, cgroup_id=cgroup_id, pid=pid, uid=uid, flags=flags, kind=kind,
                  exec_ns=exec_ns, size=len(rec), used=p)
    return fields


def fake_journal(net=False):
    """A journal socket of the test's own, where greeterd --journal-events
    writes: the test goes on in a private mount namespace, with a tmpfs on
    /run. With net, also in a network namespace of its own, whose datagram
    queue is made long (4,096) and the socket's buffer large (64 MiB): a
    reader in Python is slower than journald, and other tests exec too.
    Re-executes the test there; returns the bound socket."""
    require_root()
    if os.environ.get("GREETER_IN_NS") != "1":
        ns = ["--mount"] + (["--net"] if net else [])
        r = subprocess.run(["unshare"] + ns + ["--propagation", "private", sys.executable,
                            os.path.abspath(sys.argv[0])], env=dict(os.environ, GREETER_IN_NS="1"))
        sys.exit(r.returncode)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
    os.makedirs("/run/systemd/journal")
    journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journal.bind("/run/systemd/journal/socket")
    if net:
        with open("/proc/sys/net/unix/max_dgram_qlen", "w") as f:
            f.write("4096")
        SO_RCVBUFFORCE = 33  # past rmem_max (root)
        journal.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    return journal


def parse_journal_native(data):
    """The journal's native protocol: KEY=value lines, or KEY, le64 size, bytes."""
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            size = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
            k, v = line, data[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[k.decode()] = v.decode(errors="replace")
    return fields
