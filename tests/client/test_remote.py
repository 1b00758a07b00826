#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""greeterctl -H/--host against a fake greeterd, through a fake ssh
($GREETER_SSH: a script that checks its arguments and runs the remote
command as sshd does, the words after the host joined and given to a shell,
here with this build's greeterctl on its PATH): every command gives what it
gives locally, tail streams and reconnects (running ssh again), and each way
of failing (ssh's 255, no greeterctl there, greeterd not running there, an
old greeterctl, no ssh here) gives its message and status 3.
greeterctl stdio-bridge alone: half-close, a megabytes-long call, errors.

Usage: test_remote.py PATH/TO/greeterctl"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_greeterd import Checks, FakeGreeterd, FakeMessages, TempDir, event, wait_for  # noqa: E402

ESC = b"\x1b"
# UIDs no user has here: the output is the same with and without names.
U1, U2 = 4000000001, 4000000002
BOOT = "0123456789abcdef0123456789abcdef"

# The fake ssh. Each run is logged, one [argument] after the other, then
# checked as greeterctl must call it; FAKE_SSH_MODE=fail is an ssh that
# cannot connect. The remote side's environment: its own PATH and
# GREETER_SOCKET, as a login there has them.
FAKE_SSH = r"""#!/bin/sh
{ for a in "$@"; do printf '[%s]' "$a"; done; echo; } >> "$FAKE_SSH_LOG"
if [ "$FAKE_SSH_MODE" = fail ]; then
	echo "ssh: connect to host $FAKE_SSH_HOST port 22: Connection refused" >&2
	exit 255
fi
[ "$1" = -xT ] && [ "$2" = -e ] && [ "$3" = none ] || { echo "fake ssh: options: $*" >&2; exit 254; }
shift 3
while [ "$1" != -- ]; do
	case $1 in
	-p | -l) shift 2 ;;
	*) echo "fake ssh: unexpected $1" >&2; exit 254 ;;
	esac
done
shift 2
PATH=$FAKE_REMOTE_PATH GREETER_SOCKET=$FAKE_REMOTE_SOCKET exec /bin/sh -c "$*"
"""

# A greeterctl from before stdio-bridge, as the remote one.
OLD_GREETERCTL = """#!/bin/sh
echo "greeterctl: unknown command '$1'" >&2
echo "Try 'greeterctl --help'." >&2
exit 2
"""

STATUS = {
    "version": "0.1.0", "attach_mode": "tracepoint", "attach_reason": "no kprobes \u001b[2J",
    "kernel_release": "6.18.0-test", "pin_dir": "/sys/fs/bpf/greeter", "state_dir": "/var/lib/greeter",
    "uptime_usec": 3723000001, "messages": 2, "watchers": 1, "ring_size": 16777216, "ring_used": 4096,
    "replay_window": 32768, "retained": 10, "change_log_size": 45, "config_map_id": 11,
    "events_map_id": 12, "stats_map_id": 13,
    "programs": [{"name": "greeter_exec", "program_id": 42, "link_id": 7}],
    "counters": {"emitted": 100, "lost_kernel": 2, "failed_execs": 3, "received": 98, "delivered": 97,
                 "dropped_watchers": 1, "dropped_journal": 0, "dropped_print": 0, "dropped_late": 0,
                 "repeated": 0, "malformed": 0, "compactions": 1, "compactions_failed": 0},
}

CHAIN = [{"pid": 4330, "exec_id": "%s-4330000-4330" % BOOT, "boot_usec": 4330,
          "timestamp_usec": 1700000000123456, "uid": U1, "comm": "cc1", "filename": "/usr/bin/cc1",
          "unit": "session-3.scope", "seeded": False},
         {"pid": 1, "exec_id": "%s-1000-1" % BOOT, "boot_usec": 1, "timestamp_usec": 1700000000000000,
          "uid": 0, "comm": "systemd", "filename": "/usr/lib/systemd/systemd", "unit": "init.scope",
          "seeded": True}]


def exit_event(seq, **fields):
    e = event(seq, kind="exit", comm="sleep", filename="/usr/bin/sleep", uid=U1,
              exec_id="%s-%d-%d" % (BOOT, 5000 + seq, 1000 + seq), exit_code=7, duration_usec=1002345)
    for k in ("args", "message", "source"):
        e.pop(k, None)
    e.update(fields)
    return e


EVENTS = [event(6, kind="exec", uid=U1, comm="\u001b[31mred", parent_pid=77, parent_comm="bash",
                parent_file="/bin/bash", exec_id="%s-2-1006" % BOOT),
          exit_event(7),
          event(8, kind="exec", uid=U2, args=["sh", "-c", "a b"])]


class Greeterd:
    """The fake greeterd: messages, status, chain and a stream of three
    events; hang: a stream that only says its state."""

    def __init__(self, path):
        self.messages = FakeMessages({U1: "Hi \u001b[2J there", None: "Default"})
        self.hang = False
        self.conns = []
        self.server = FakeGreeterd(path, self.handler)

    def handler(self, conn, req):
        method = req.get("method")
        params = req.get("parameters") or {}
        if conn not in self.conns:
            self.conns.append(conn)
        if self.messages.handle(conn, req):
            return
        if method == "io.greeter.GetMessage":
            uid = params.get("uid", U2)
            text = self.messages.messages.get(uid)
            source = "uid" if text else "default"
            conn.reply({"uid": uid, "message": text or self.messages.messages.get(None), "source": source})
        elif method == "io.greeter.SetMessage":
            if params.get("uid") == U2:
                conn.error("io.greeter.PermissionDenied",
                           {"reason": "UID %d may change only its own message, not UID %d's" % (U1, U2)})
            else:
                self.messages.messages[params.get("uid")] = params["message"]
                conn.reply({})
        elif method == "io.greeter.RemoveMessage":
            if params.get("uid") in self.messages.messages:
                del self.messages.messages[params.get("uid")]
                conn.reply({})
            else:
                conn.error("io.greeter.NoSuchMessage", {"uid": params.get("uid")})
        elif method == "io.greeter.GetStatus":
            conn.reply(STATUS)
        elif method == "io.greeter.GetProcessChain":
            if params.get("pid") == 4330:
                conn.reply({"chain": CHAIN})
            else:
                conn.error("io.greeter.NoSuchProcess", {"pid": params.get("pid")})
        elif method == "io.greeter.WatchEvents":
            conn.reply({"seq": 5, "stream": "s1"}, continues=True)
            if self.hang:
                return
            for e in EVENTS:
                if e.get("kind") != "exit" or params.get("exits"):
                    conn.reply({"event": e}, continues=True)
        else:
            conn.error("org.varlink.service.MethodNotFound", {"method": method})

    def calls(self):
        """The calls made, but greeterctl -H's first GetInfo: (method, parameters)."""
        with self.server.lock:
            reqs = list(self.server.requests)
        return [(r.get("method"), r.get("parameters")) for _, r in reqs
                if r.get("method") != "org.varlink.service.GetInfo"]

    def open_connections(self):
        return [c for c in self.conns if not c.closed]


class Remote:
    """greeterctl run here (--socket) or through the fake ssh (--host)."""

    def __init__(self, ctl, tmp, sock):
        self.ctl, self.tmp, self.sock = ctl, tmp, sock
        self.bin = os.path.join(tmp, "bin")
        os.makedirs(self.bin)
        os.symlink(os.path.abspath(ctl), os.path.join(self.bin, "greeterctl"))
        self.ssh = os.path.join(tmp, "fake-ssh")
        with open(self.ssh, "w") as f:
            f.write(FAKE_SSH)
        os.chmod(self.ssh, 0o755)
        self.log = os.path.join(tmp, "ssh.log")

    def env(self, **more):
        e = dict(os.environ, LC_ALL="C.UTF-8", TZ="UTC", GREETER_SSH=self.ssh, FAKE_SSH_LOG=self.log,
                 FAKE_REMOTE_PATH=self.bin + ":/usr/bin:/bin", FAKE_REMOTE_SOCKET=self.sock,
                 FAKE_SSH_HOST="host1",
                 # This host's: greeterctl --host must not use it.
                 GREETER_SOCKET=os.path.join(self.tmp, "not-here.sock"))
        e.pop("COLUMNS", None)
        e.update(more)
        return e

    def local(self, *args, **kw):
        return subprocess.run([self.ctl, "--socket", self.sock, *args], capture_output=True, timeout=60,
                              env=self.env(), **kw)

    def remote(self, *args, host="host1", env=None, **kw):
        return subprocess.run([self.ctl, "-H", host, *args], capture_output=True, timeout=60,
                              env=self.env(**(env or {})), **kw)

    def popen(self, *args, host="host1", env=None, **kw):
        return subprocess.Popen([self.ctl, "-H", host, *args], env=self.env(**(env or {})), **kw)

    def ssh_runs(self):
        try:
            with open(self.log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []


def check_verbs(t, g, r, tmp):
    """Every command over --host prints, sends and exits as it does here."""
    doc = os.path.join(tmp, "msgs.json")
    with open(doc, "w") as f:
        json.dump({"version": 1, "messages": {str(U1): "From the file", "default": "Imported"}}, f)
    verbs = [
        ("set", str(U1), "Hi from afar"),
        ("get", str(U1)),
        ("get",),
        ("--json", "get", str(U1)),
        ("set", str(U2), "not mine"),          # refused: status 1
        ("unset", str(U1)),
        ("unset", str(U1)),                    # no such message: status 1
        ("set", "default", "Welcome"),
        ("list",),
        ("--json", "list"),
        ("status",),
        ("--json", "status"),
        ("chain", "4330"),
        ("--json", "chain", "4330"),
        ("chain", "999"),                      # no such process: status 5
        ("export",),
        ("metrics",),
        ("import", doc),
        ("--json", "import", "--replace", doc),
        ("import", os.path.join(tmp, "missing.json")),  # read here: status 4
        ("tail", "-n", "2"),
        ("tail", "-n", "3", "--exits"),
        ("tail", "-n", "3", "--json", "--exits"),
        ("tail", "-n", "1", "-u", str(U1), "--comm", "bash", "--unit", "x.service", "--after", "3",
         "--failed", "--json"),
    ]
    for v in verbs:
        # Both runs start from the same messages.
        start = dict(g.messages.messages)
        before = len(g.calls())
        here = r.local(*v)
        sent_here = g.calls()[before:]
        g.messages.messages = dict(start)
        before = len(g.calls())
        there = r.remote(*v)
        sent_there = g.calls()[before:]
        name = " ".join(v)
        t.check((there.returncode, there.stdout, there.stderr) == (here.returncode, here.stdout, here.stderr),
                "%s over --host: the status, output and errors of a local run" % name,
                "here: %r\n  there: %r" % (here, there))
        t.check(sent_there == sent_here, "%s over --host: the same calls" % name, (sent_here, sent_there))
        t.check(ESC not in there.stdout + there.stderr, "%s over --host: escaped" % name, there)
    # The statuses a user checks, besides being those of local runs.
    t.check(r.remote("set", str(U2), "x").returncode == 1, "a refused set over --host: status 1")
    t.check(r.remote("chain", "999").returncode == 5, "chain of no process over --host: status 5")
    t.check(r.remote("import", os.path.join(tmp, "missing.json")).returncode == 4,
            "import of a missing file (read here) over --host: status 4")
    out = os.path.join(tmp, "greeter.prom")
    res = r.remote("metrics", "--output", out)
    t.check(res.returncode == 0 and os.path.exists(out) and "greeter_events_emitted_total 100" in open(out).read(),
            "metrics --output over --host writes the file here", res)


def check_ssh_arguments(t, g, r):
    """What ssh is given: -xT -e none [-p PORT] [-l USER] -- HOST greeterctl stdio-bridge."""
    cases = [
        ("host1", "[-xT][-e][none][--][host1][greeterctl][stdio-bridge]"),
        ("alice@host1", "[-xT][-e][none][-l][alice][--][host1][greeterctl][stdio-bridge]"),
        ("alice@host1:2222", "[-xT][-e][none][-p][2222][-l][alice][--][host1][greeterctl][stdio-bridge]"),
        ("host1:22", "[-xT][-e][none][-p][22][--][host1][greeterctl][stdio-bridge]"),
        ("[::1]:2200", "[-xT][-e][none][-p][2200][--][::1][greeterctl][stdio-bridge]"),
        ("fe80::1", "[-xT][-e][none][--][fe80::1][greeterctl][stdio-bridge]"),
        ("a@b@host1", "[-xT][-e][none][-l][a@b][--][host1][greeterctl][stdio-bridge]"),
    ]
    for host, want in cases:
        n = len(r.ssh_runs())
        res = r.remote("status", host=host)
        runs = r.ssh_runs()[n:]
        t.check(res.returncode == 0, "-H %s: status 0" % host, res)
        t.check(runs == [want], "-H %s: ssh %s" % (host, want), runs)
    n = len(r.ssh_runs())
    res = subprocess.run([r.ctl, "--host=alice@host1:2222", "status"], capture_output=True, env=r.env())
    t.check(res.returncode == 0 and r.ssh_runs()[n:] == [cases[2][1]], "--host=: the same as -H", res)

    # --socket names the socket there, quoted for the remote shell.
    odd = os.path.join(r.tmp, "it's a dir")
    os.makedirs(odd)
    odd_sock = os.path.join(odd, "g $x.sock")
    Greeterd(odd_sock)
    n = len(r.ssh_runs())
    res = r.remote("--socket", odd_sock, "status", "--json")
    runs = r.ssh_runs()[n:]
    t.check(res.returncode == 0 and json.loads(res.stdout or b"{}") == STATUS,
            "--host with --socket: the remote greeterctl reaches that socket", res)
    quoted = "'" + odd_sock.replace("'", "'\\''") + "'"
    t.check(runs == ["[-xT][-e][none][--][host1][greeterctl][stdio-bridge][--socket=%s]" % quoted],
            "--socket goes to ssh shell-quoted", runs)

    # User names are the other host's: given by UID, and none shown.
    res = r.remote("get", "root")
    t.check(res.returncode == 2 and b"with --host, give the user 'root' as a UID" in res.stderr,
            "--host: a user name is refused (status 2), with why", res)
    res = r.remote("tail", "-u", "root")
    t.check(res.returncode == 2 and b"as a UID" in res.stderr, "--host: tail -u NAME refused too", res)
    res = r.remote("get", "0")
    t.check(res.returncode == 0 and res.stdout.startswith(b"uid:     0\n"),
            "--host: get 0 shows the UID without this host's name for it", res.stdout)
    here = r.local("get", "0")
    t.check(here.stdout.startswith(b"uid:     0 (root)\n"), "(here it has the name)", here.stdout)

    # Usage errors, before any ssh.
    n = len(r.ssh_runs())
    for bad in ["", "@host1", "alice@", "host1:0", "host1:65536", "host1:x", "-oProxyCommand=x", "[::1",
                "[::1]x", "ho st", "alice@-host"]:
        res = r.remote("status", host=bad)
        t.check(res.returncode == 2 and b"Try 'greeterctl --help'" in res.stderr,
                "-H %r: usage error" % bad, res)
    res = r.remote("stdio-bridge")
    t.check(res.returncode == 2 and b"takes no --host" in res.stderr, "stdio-bridge with --host: usage error", res)
    t.check(len(r.ssh_runs()) == n, "no ssh run for a usage error", r.ssh_runs()[n:])


def check_failures(t, g, r, tmp):
    """Each way ssh or the other host fails: its message, status 3."""
    for verb in [("status",), ("tail",), ("set", "default", "x"), ("import", "/dev/stdin")]:
        name = " ".join(verb)
        res = r.remote(*verb, host="alice@host1:2222", env={"FAKE_SSH_MODE": "fail"},
                       input=b'{"version": 1, "messages": {}}')
        err = res.stderr.decode()
        t.check(res.returncode == 3, "%s, ssh exits 255: status 3" % name, res)
        t.check("ssh: connect to host host1 port 22: Connection refused" in err,
                "%s, ssh exits 255: ssh's message shown" % name, err)
        t.check("greeterctl: cannot reach greeterd on alice@host1:2222: ssh failed (exit status 255; its "
                "message is above). Check that 'ssh -p 2222 -l alice host1 greeterctl --version' works "
                "from here." in err, "%s, ssh exits 255: what failed and what to try" % name, err)

    res = r.remote("status", env={"FAKE_REMOTE_PATH": "/usr/bin:/bin"})
    err = res.stderr.decode()
    t.check(res.returncode == 3 and "greeterctl: not found" in err and
            "cannot reach greeterd on host1: the login shell there cannot run greeterctl (exit status 127). "
            "Install greeter on host1" in err, "no greeterctl there (127): status 3, what to do", res)

    res = r.remote("status", env={"FAKE_REMOTE_SOCKET": os.path.join(tmp, "none.sock")})
    err = res.stderr.decode()
    t.check(res.returncode == 3 and "greeterctl stdio-bridge: greeterd is not running (cannot connect to "
            in err and "greeterctl: cannot reach greeterd on host1 (the message from host1 is above)" in err,
            "greeterd not running there: status 3, the remote message and ours", res)

    old = os.path.join(tmp, "old-bin")
    os.makedirs(old)
    with open(os.path.join(old, "greeterctl"), "w") as f:
        f.write(OLD_GREETERCTL)
    os.chmod(os.path.join(old, "greeterctl"), 0o755)
    res = r.remote("status", env={"FAKE_REMOTE_PATH": old + ":/usr/bin:/bin"})
    err = res.stderr.decode()
    t.check(res.returncode == 3 and "unknown command 'stdio-bridge'" in err and
            "its greeterctl refused 'stdio-bridge'" in err, "an old greeterctl there: status 3, say so", res)

    res = r.remote("status", env={"GREETER_SSH": os.path.join(tmp, "no-such-ssh")})
    err = res.stderr.decode()
    t.check(res.returncode == 3 and "cannot run " in err and "No such file or directory" in err and
            "$GREETER_SSH" in err, "no ssh here: status 3, what to do", res)

    # Without GREETER_SSH, ssh is looked up on the PATH.
    path_dir = os.path.join(tmp, "path-ssh")
    os.makedirs(path_dir)
    os.symlink(r.ssh, os.path.join(path_dir, "ssh"))
    n = len(r.ssh_runs())
    env = r.env()
    del env["GREETER_SSH"]
    env["PATH"] = path_dir + ":" + env.get("PATH", "/usr/bin:/bin")
    res = subprocess.run([r.ctl, "-H", "host1", "status"], capture_output=True, env=env)
    t.check(res.returncode == 0 and len(r.ssh_runs()) == n + 1, "without $GREETER_SSH: ssh from the PATH", res)

    out = os.path.join(tmp, "kept.prom")
    with open(out, "w") as f:
        f.write("old\n")
    res = r.remote("metrics", "--output", out, env={"FAKE_SSH_MODE": "fail"})
    t.check(res.returncode == 3 and open(out).read() == "old\n", "metrics --output, ssh failing: 3, file kept", res)


class Replayer:
    """A stream that breaks after two new events, as test_reconnect.py's."""

    def __init__(self, path):
        self.state_seq = 100
        self.afters = []
        self.server = FakeGreeterd(path, self.handler)

    def handler(self, conn, req):
        if req.get("method") != "io.greeter.WatchEvents":
            conn.error("org.varlink.service.MethodNotFound", {"method": req.get("method")})
            return
        params = req.get("parameters") or {}
        after = params.get("after_seq", self.state_seq)
        self.afters.append(params.get("after_seq"))
        conn.reply({"seq": self.state_seq}, continues=True)
        for seq in range(after, after + 3):
            conn.reply({"event": event(seq, comm="c%d" % seq, uid=U1)}, continues=True)
            self.state_seq = max(self.state_seq, seq)
        time.sleep(0.05)
        conn.close()


def check_tail(t, g, r, tmp):
    # tail follows until stopped; SIGTERM: status 0, ssh and the bridge gone.
    g.hang = True
    n_open = len(g.open_connections())
    p = r.popen("tail", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t.check(wait_for(lambda: len(g.open_connections()) > n_open), "tail over --host: watching")
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    t.check(p.returncode == 0 and err == b"", "tail over --host: SIGTERM ends it with 0", (p.returncode, err))
    t.check(wait_for(lambda: len(g.open_connections()) == n_open),
            "tail over --host ended: its connection through ssh is closed",
            len(g.open_connections()))
    g.hang = False

    # A reconnect runs ssh again and resumes after the last event shown.
    sock = os.path.join(tmp, "replay.sock")
    rp = Replayer(sock)
    n = len(r.ssh_runs())
    res = r.remote("tail", "--json", "-n", "7", env={"FAKE_REMOTE_SOCKET": sock})
    seqs = [json.loads(x)["seq"] for x in res.stdout.decode().splitlines()]
    t.check(res.returncode == 0 and seqs == list(range(101, 108)),
            "tail over --host across broken streams: each event once, in order", (res, seqs))
    t.check(len(r.ssh_runs()) - n >= 3, "a reconnect runs ssh again", r.ssh_runs()[n:])
    t.check("reconnecting" in res.stderr.decode() and "reconnected" in res.stderr.decode(),
            "tail over --host says it reconnected", res.stderr)
    t.check(rp.afters[:3] == [None, 102, 104], "each reconnect asks for the events after the last shown",
            rp.afters)

    res = r.remote("tail", "--json", "--no-reconnect", env={"FAKE_REMOTE_SOCKET": sock})
    t.check(res.returncode == 3 and b"greeterctl: cannot follow events: the connection to greeterd on host1 "
            b"was lost" in res.stderr, "tail --no-reconnect over --host: status 3, said", res)


WATCH = json.dumps({"method": "io.greeter.WatchEvents", "parameters": {}, "more": True}).encode() + b"\0"
HELD_REPLY = b'{"parameters": {"seq": 5}, "continues": true}\0'


class Holding:
    """A greeterd that answers one call and then holds the connection, as
    greeterd does with a stream open for a client that closed its end."""

    def __init__(self, path):
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(4)
        self.held = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        conn, _ = self.listener.accept()
        self.held.append(conn)
        buf = b""
        while b"\0" not in buf:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
        conn.sendall(HELD_REPLY)


def ends(p):
    """p's exit status, once it ended (killed after a minute)."""
    try:
        return p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return "still running after 60 s"


def check_bridge(t, g, r, tmp):
    """greeterctl stdio-bridge by itself, as ssh runs it."""
    # The end of standard input is passed on; the reply still comes.
    call = json.dumps({"method": "io.greeter.GetStatus", "parameters": {}}).encode() + b"\0"
    res = subprocess.run([r.ctl, "stdio-bridge", "--socket", r.sock], input=call, capture_output=True,
                         timeout=60)
    t.check(res.returncode == 0 and res.stdout.endswith(b"\0") and
            json.loads(res.stdout[:-1]) == {"parameters": STATUS},
            "stdio-bridge: a call, standard input closed: the reply, status 0", res)
    res = subprocess.run([r.ctl, "stdio-bridge"], input=call, capture_output=True, timeout=60,
                         env=dict(os.environ, GREETER_SOCKET=r.sock))
    t.check(res.returncode == 0 and res.stdout.endswith(b"\0"), "stdio-bridge: $GREETER_SOCKET", res)
    res = subprocess.run([r.ctl, "stdio-bridge", "--socket", os.path.join(tmp, "none.sock")], input=call,
                         capture_output=True, timeout=60)
    t.check(res.returncode == 3 and res.stdout == b"" and
            res.stderr.startswith(b"greeterctl stdio-bridge: greeterd is not running"),
            "stdio-bridge, no greeterd: status 3 and why", res)
    res = subprocess.run([r.ctl, "stdio-bridge", "extra"], capture_output=True, timeout=60)
    t.check(res.returncode == 2, "stdio-bridge takes no arguments", res)
    res = subprocess.run([r.ctl, "stdio-bridge", "--help"], capture_output=True, timeout=60)
    t.check(res.returncode == 0 and res.stdout.startswith(b"Usage: greeterctl stdio-bridge"),
            "stdio-bridge --help", res)

    # Several calls at once, replies in order; then a half-closed socket pair as ssh's pipes.
    calls = b"".join(json.dumps({"method": "io.greeter.GetMessage", "parameters": {"uid": u}}).encode() + b"\0"
                     for u in range(1, 201))
    res = subprocess.run([r.ctl, "stdio-bridge", "--socket", r.sock], input=calls, capture_output=True,
                         timeout=60)
    replies = [json.loads(x) for x in res.stdout.split(b"\0")[:-1]]
    t.check(res.returncode == 0 and [x["parameters"]["uid"] for x in replies] == list(range(1, 201)),
            "stdio-bridge: 200 calls in one go, 200 replies in order", (res.returncode, len(replies)))

    # The client gone while greeterd holds the connection open (as it does for
    # a stream): the bridge ends, standard input and output a socket...
    hold = Holding(os.path.join(tmp, "hold.sock"))
    a, b = socket.socketpair()
    p = subprocess.Popen([r.ctl, "stdio-bridge", "--socket", hold.path], stdin=b.fileno(), stdout=b.fileno())
    b.close()
    a.sendall(WATCH)
    first = a.recv(4096)
    t.check(first == HELD_REPLY, "stdio-bridge (a socket): the stream's first reply", first)
    a.close()
    t.check(ends(p) == 0, "stdio-bridge (a socket): its client gone mid-stream, it ends with 0", p.returncode)
    # ... or two pipes, as sshd gives it.
    hold = Holding(os.path.join(tmp, "hold2.sock"))
    p = subprocess.Popen([r.ctl, "stdio-bridge", "--socket", hold.path], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    p.stdin.write(WATCH)
    p.stdin.flush()
    first = os.read(p.stdout.fileno(), 4096)
    t.check(first == HELD_REPLY, "stdio-bridge (pipes): the stream's first reply", first)
    p.stdin.close()
    p.stdout.close()
    t.check(ends(p) == 0, "stdio-bridge (pipes): its client gone mid-stream, it ends with 0", p.returncode)

    # A 1 MB import through ssh and the bridge's 64 KiB buffers, one way,
    # and its export back the other.
    big = {"version": 1, "messages": {str(u): "m%07d %s" % (u, "x" * 40) for u in range(100000, 116000)}}
    doc = os.path.join(tmp, "big.json")
    with open(doc, "w") as f:
        json.dump(big, f)
    res = r.remote("--json", "import", "--replace", doc)
    t.check(res.returncode == 0 and json.loads(res.stdout or b"{}").get("set") == 16000,
            "import of 16,000 messages over --host", res.stderr)
    res = r.remote("export")
    here = r.local("export")
    t.check(res.returncode == 0 and res.stdout == here.stdout and len(res.stdout) > 900000,
            "export of them over --host: what a local export prints", (res.returncode, len(res.stdout)))


def main():
    ctl = sys.argv[1]
    t = Checks()
    with TempDir() as tmp:
        sock = os.path.join(tmp, "greeter.sock")
        g = Greeterd(sock)
        r = Remote(ctl, tmp, sock)

        res = subprocess.run([ctl, "--help"], capture_output=True)
        t.check(b"-H, --host [USER@]HOST[:PORT]" in res.stdout and b"stdio-bridge" in res.stdout,
                "--help names --host and stdio-bridge", res.stdout)
        check_ssh_arguments(t, g, r)
        check_verbs(t, g, r, tmp)
        check_tail(t, g, r, tmp)
        check_failures(t, g, r, tmp)
        check_bridge(t, g, r, tmp)
    t.done()


if __name__ == "__main__":
    main()
