# SPDX-License-Identifier: LGPL-2.1-or-later
"""greeterd as every test and bench starts it, and a varlink client.

Greeterd is the one launcher: a greeterd of its own (pin directory, state
and cache directories, socket), never the machine's, started with an
environment cleared of what a service manager passes and timed to its
READY=1 on a notification socket made here. The integration harness
(tests/integration/greeter_test.py), the interop suite, bench/run.py and
bench/upgrade.py all start greeterd through it. Beside it what several of
them use: a pinned ring buffer read as its consumer does (PinnedRing), the
cgroup v2 mount, setpriv's words. Plain Python, no meson: the benches
import it from a clone (sys.path: tests/lib).
"""

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time

# The greeterd of this build (a bench sets it to the one of its --build).
GREETERD = os.environ.get("GREETERD", "build/daemon/greeterd")
# How long a start may stay silent before it counts as hung: a deadline for
# what should happen (ASan and valgrind are slow), not a bound on how long.
READY_TIMEOUT = 300
# What a service manager hands a service: a greeterd started here is not one.
SERVICE_ENV = ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC",
               "WATCHDOG_PID", "STATE_DIRECTORY", "CACHE_DIRECTORY", "RUNTIME_DIRECTORY")


class GreeterdError(RuntimeError):
    """greeterd did not start, or did not stop."""


def parameters_of(method, reply):
    """A reply's parameters; an error reply raises."""
    if "error" in reply:
        raise RuntimeError("%s: %s" % (method, reply))
    return reply.get("parameters", {})


class Scoped:
    """"with X() as x:" cleans x up (x.cleanup()) however the block ends."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False


class Varlink:
    """A raw varlink connection: NUL-terminated JSON both ways."""

    def __init__(self, path, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, obj):
        self.sock.sendall(json.dumps(obj).encode() + b"\0")

    def recv(self):
        while b"\0" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            self.buf += data
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, more=False):
        """The (first) reply, an error one included."""
        msg = {"method": method}
        if params is not None:
            msg["parameters"] = params
        if more:
            msg["more"] = True
        try:
            self.send(msg)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a connection greeterd refused: its reason waits to be read
        return self.recv()

    def parameters(self, method, params=None):
        """The reply's parameters; an error reply raises."""
        return parameters_of(method, self.call(method, params or {}))

    def close(self):
        self.sock.close()


def ensure_bpffs():
    """Mount bpffs where the host has none, as an admin would."""
    if subprocess.run(["mountpoint", "-q", "/sys/fs/bpf"]).returncode != 0:
        subprocess.run(["mount", "-t", "bpf", "bpf", "/sys/fs/bpf"], check=True)


def setpriv(uid, gid=None, groups=()):
    """The words that run a command as uid, gid (uid's number when None)
    and the supplementary groups (none when empty)."""
    cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % (uid if gid is None else gid)]
    return cmd + (["--groups=" + ",".join(str(g) for g in groups)] if groups else ["--clear-groups"])


def clean_env(**more):
    """This environment without what a service manager passes, plus more."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_ENV}
    env.update(more)
    return env


class Greeterd(Scoped):
    """One greeterd with its own pin dir, state dir, cache dir and socket.

    name tells its pin dir (/sys/fs/bpf/greeter-NAME-PID) and temporary
    directory apart; binary, attach, extra (more options), wrapper (a
    command it runs under), stdout and print_events may change between
    starts. start() tracks one run at a time (a log per run, events.N.txt
    with print_events); run() and spawn() are the runs a test drives itself
    (one that must fail, one under its own NOTIFY_SOCKET or LISTEN_FDS)."""

    # Seconds without a reply before a call gives up; longer under valgrind.
    call_timeout = 60
    # Options of every start, before attach and extra.
    options = []

    def __init__(self, name, attach=None, extra=None, pin_dir=None, state_dir=None, cache_dir=None,
                 socket_path=None, wrapper=None, binary=None, stdout=None, print_events=False,
                 tmp_parent=None):
        self.binary = binary or GREETERD
        self.tmp = tempfile.mkdtemp(prefix="greeter-%s-" % name, dir=tmp_parent)
        os.chmod(self.tmp, 0o755)  # other users reach the socket
        self.pin_dir = pin_dir or "/sys/fs/bpf/greeter-%s-%d" % (name, os.getpid())
        self.state_dir = state_dir or os.path.join(self.tmp, "state")
        self.cache_dir = os.path.join(self.tmp, "cache") if cache_dir is None else cache_dir
        self.socket = socket_path or os.path.join(self.tmp, "greeter.sock")
        self.attach = attach
        self.extra = extra or []
        self.wrapper = wrapper or []
        # Where --print-events writes (an fd or file); None: a file per run.
        self.stdout = stdout
        self.print_events = print_events
        self.proc = None
        self.out = None
        self.out_path = None
        self.log_path = None
        self.runs = 0
        self._notify = None
        self._tmpfs = None

    def args(self, socket=True):
        """The command line; without --socket for a socket passed to it."""
        a = [self.binary, "--pin-dir", self.pin_dir, "--state-dir", self.state_dir,
             "--cache-dir", self.cache_dir]
        if socket:
            a += ["--socket", self.socket]
        if self.print_events:
            a.append("--print-events")
        a += self.options
        if self.attach:
            a += ["--attach", self.attach]
        return a + self.extra

    def state_on_tmpfs(self, size):
        """The state directory on a tmpfs of its own of size (mount's
        words: 64k, 16m), which a test may fill or remount read-only: the
        tmpfs's path. cleanup() unmounts it."""
        self._tmpfs = os.path.join(self.tmp, "statefs")
        os.makedirs(self._tmpfs)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs",
                        self._tmpfs], check=True)
        self.state_dir = os.path.join(self._tmpfs, "state")
        return self._tmpfs

    def spawn(self, more=(), wrapper=(), env=None, socket=True, **popen):
        """A greeterd run this object does not track (Popen): wrapper, the
        command line and more, in the clean environment plus env."""
        return subprocess.Popen(list(wrapper) + self.args(socket) + list(more),
                                env=clean_env(**(env or {})), **popen)

    def run(self, more=(), wrapper=(), env=None, timeout=120):
        """A greeterd run to its end (one that refuses to start): its
        CompletedProcess, output captured as text."""
        return subprocess.run(list(wrapper) + self.args() + list(more), capture_output=True,
                              text=True, timeout=timeout, env=clean_env(**(env or {})))

    def start(self, wait=True, nofile=None):
        """Start the next run; with wait, the seconds from spawn to READY=1.
        nofile: a soft RLIMIT_NOFILE to start with."""
        self._close_notify()
        self.runs += 1
        self.log_path = os.path.join(self.tmp, "greeterd.%d.log" % self.runs)
        self.out_path = os.path.join(self.tmp, "events.%d.txt" % self.runs)
        if self.stdout is not None:
            stdout = self.stdout
        elif self.print_events:
            stdout = self.out = open(self.out_path, "w")
        else:
            stdout = subprocess.DEVNULL
        notify_path = os.path.join(self.tmp, "notify.%d" % self.runs)
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify.bind(notify_path)
        limit = None
        if nofile:
            def limit():
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
        self.t0 = time.monotonic()
        with open(self.log_path, "w") as log:
            self.proc = self.spawn(wrapper=self.wrapper, env={"NOTIFY_SOCKET": notify_path},
                                   stdout=stdout, stderr=log, preexec_fn=limit)
        if wait:
            return self.wait_ready()
        return None

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Until this run's READY=1: the seconds since its spawn. Raises
        GreeterdError, with the log, when it exits first or stays silent."""
        deadline = time.monotonic() + timeout
        self._notify.settimeout(0.05)
        try:
            while time.monotonic() < deadline:
                try:
                    msg = self._notify.recv(4096).decode()
                except socket.timeout:
                    if self.proc.poll() is not None:
                        raise GreeterdError("greeterd exited with %d:\n%s"
                                            % (self.proc.returncode, self.log()))
                    continue
                if "READY=1" in msg.split("\n"):
                    return time.monotonic() - self.t0
            raise GreeterdError("greeterd not ready after %ds:\n%s" % (timeout, self.log()))
        finally:
            self._close_notify()

    def _close_notify(self):
        # Nobody reads it from now on: its later STATUS= lines go nowhere.
        if self._notify:
            path = self._notify.getsockname()
            self._notify.close()
            self._notify = None
            os.unlink(path)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def logged(self, what):
        """greeterd's own "WHAT in N ms" figure of this run, in seconds."""
        for line in self.log().splitlines():
            if what + " in " in line:
                return float(line.split(what + " in ")[1].split()[0]) / 1000
        return None

    def stop(self, sig=signal.SIGTERM, timeout=120):
        """Sends sig (a stopped greeterd is continued first) and waits: the
        exit status. Raises GreeterdError when it does not exit in time."""
        self._close_notify()
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise GreeterdError("greeterd did not stop on %s" % sig)
        if self.out:
            self.out.close()
            self.out = None
        return self.proc.returncode if self.proc else None

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def varlink(self):
        return Varlink(self.socket, timeout=self.call_timeout)

    def call(self, method, params=None):
        """One call on a connection of its own: the reply, an error one included."""
        c = self.varlink()
        try:
            return c.call(method, params)
        finally:
            c.close()

    def parameters(self, method, params=None):
        """One call: the reply's parameters; an error reply raises."""
        return parameters_of(method, self.call(method, params or {}))

    def status(self):
        return self.parameters("io.greeter.GetStatus")

    def remove_pins(self):
        # This build's greeterd: it removes the pins of any build.
        return subprocess.run([GREETERD, "--pin-dir", self.pin_dir, "--remove-pins"],
                              capture_output=True, text=True)

    def cleanup(self):
        """Stopped, its pins removed, its temporary directory gone."""
        try:
            self.stop()
        finally:
            self.remove_pins()
            if self._tmpfs:
                subprocess.run(["umount", "-l", self._tmpfs], stderr=subprocess.DEVNULL)
            shutil.rmtree(self.tmp, ignore_errors=True)


class PinnedRing:
    """A pinned BPF ring buffer read as its consumer sees it, read-only: the
    consumer and producer positions (the bytes taken since it was made, the
    8-byte record headers and padding included) and the records. Mapped as
    libbpf's consumer maps it: the consumer page, the producer page, then
    the data pages twice, so that a record that wraps reads whole."""

    BPF_OBJ_GET = 7
    NR_BPF = {"x86_64": 321, "aarch64": 280}
    BUSY, DISCARD = 1 << 31, 1 << 30

    def __init__(self, path, ring_size):
        import ctypes
        import mmap
        libc = ctypes.CDLL(None, use_errno=True)
        name = ctypes.create_string_buffer(path.encode())
        attr = ctypes.create_string_buffer(128)
        ctypes.memmove(attr, ctypes.byref(ctypes.c_uint64(ctypes.addressof(name))), 8)
        fd = libc.syscall(ctypes.c_long(self.NR_BPF[os.uname().machine]),
                          ctypes.c_int(self.BPF_OBJ_GET), attr, ctypes.c_uint(len(attr)))
        if fd < 0:
            raise OSError(ctypes.get_errno(), "BPF_OBJ_GET %s" % path)
        self.page, self.size = mmap.PAGESIZE, ring_size
        try:
            self.map = mmap.mmap(fd, 2 * self.page + 2 * ring_size, flags=mmap.MAP_SHARED,
                                 prot=mmap.PROT_READ)
        finally:
            os.close(fd)

    def consumer(self):
        return int.from_bytes(self.map[0:8], "little")

    def producer(self):
        return int.from_bytes(self.map[self.page:self.page + 8], "little")

    def records(self, start, end):
        """(ring bytes, payload) of each record submitted from position start
        to end; stops at one still being written."""
        pos = start
        while pos < end:
            at = 2 * self.page + (pos & (self.size - 1))
            head = int.from_bytes(self.map[at:at + 4], "little")
            if head & self.BUSY:
                return
            length = head & ~(self.BUSY | self.DISCARD)
            taken = (length + 8 + 7) & ~7
            if not head & self.DISCARD:
                yield taken, self.map[at + 8:at + 8 + length]
            pos += taken

    def close(self):
        self.map.close()


def cgroup2_root():
    """Where the cgroup v2 hierarchy is mounted, or None."""
    with open("/proc/self/mounts") as f:
        for line in f:
            mnt, fstype = line.split()[1:3]
            if fstype == "cgroup2":
                return mnt
    return None
