#!/usr/bin/env python3
"""greeterctl -H through a real sshd to the real greeterd: root sets, gets,
reads the status and follows execs and exits (tail across a greeterd
restart, which runs ssh again); a user of UID 501 logged in over ssh is
what greeterd sees, may set its own message and is refused another's with
the status and words it gets locally; an ssh that fails gives status 3.

sshd (openssh-server) runs on 127.0.0.1 and a free port with a host key,
a configuration and authorized keys of the test's own, in a private mount
namespace (unshare -m) where /etc/passwd, /etc/shadow and /etc/group are
copies with a user greeter501 (UID 501) added and root's shell /bin/sh (no
.bashrc of this machine's may write into the stream), /run is its own
tmpfs (/run/sshd) and /usr/local/bin holds this build's greeterctl: the
host's files stay untouched. The client is the host's ssh with a
configuration of the test's (GREETER_SSH names a wrapper that adds -F).
Skips (77) only when sshd is not installed (tests/lib/deps.sh installs
openssh-server) or this machine cannot make a mount namespace."""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

# sshd wants its absolute path (it re-executes itself for each connection).
SSHD = shutil.which("sshd", path="/usr/sbin:/usr/bin:/sbin:/bin")
U = 501
USER = "greeter501"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_with(path, dest, change, extra):
    """path's lines, each through change(fields), then extra: written to dest."""
    with open(path) as f:
        lines = [ln.rstrip("\n") for ln in f if ln.strip()]
    out = [":".join(change(ln.split(":"))) for ln in lines] + [extra]
    with open(dest, "w") as f:
        f.write("\n".join(out) + "\n")
    os.chmod(dest, os.stat(path).st_mode & 0o777)


class Sshd:
    """sshd and the client's files, in the directory dir (mode 0755)."""

    def __init__(self, stack):
        for prog in ("ssh", "ssh-keygen", "unshare"):
            if not shutil.which(prog):
                skip("%s is not installed" % prog)
        if not SSHD:
            skip("sshd is not installed (openssh-server: tests/lib/deps.sh installs it)")
        if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
            skip("this machine cannot make a mount namespace (unshare -m) for sshd's own /etc/passwd")
        self.dir = tempfile.mkdtemp(prefix="greeter-ssh-")
        stack.callback(shutil.rmtree, self.dir, True)
        os.chmod(self.dir, 0o755)
        self.home = self.path("home501")
        os.makedirs(self.home)
        os.chown(self.home, U, U)
        for key in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", self.path(key)],
                           check=True)
        shutil.copy(self.path("client_key.pub"), self.path("authorized_keys"))
        os.chmod(self.path("authorized_keys"), 0o644)
        self.bin = self.path("bin")
        os.makedirs(self.bin)
        shutil.copy(GREETERCTL, os.path.join(self.bin, "greeterctl"))
        os.chmod(os.path.join(self.bin, "greeterctl"), 0o755)
        self.greeterctl_copy = os.path.join(self.bin, "greeterctl")

        def root_sh(f):
            if f[0] == "root":
                f[6] = "/bin/sh"
            return f

        def unlocked(f):
            if f[0] == "root":
                f[1] = "*"  # no password, not locked ("!"): a key may log in
            return f
        copy_with("/etc/passwd", self.path("passwd"), root_sh,
                  "%s:x:%d:%d:greeter -H test:%s:/bin/sh" % (USER, U, U, self.home))
        copy_with("/etc/shadow", self.path("shadow"), unlocked, "%s:*:19000:0:99999:7:::" % USER)
        copy_with("/etc/group", self.path("group"), lambda f: f, "%s:x:%d:" % (USER, U))

        self.port = free_port()
        with open(self.path("sshd_config"), "w") as f:
            f.write("\n".join([
                "Port %d" % self.port,
                "ListenAddress 127.0.0.1",
                "HostKey " + self.path("host_key"),
                "PidFile " + self.path("sshd.pid"),
                "AuthorizedKeysFile " + self.path("authorized_keys"),
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "X11Forwarding no",
                "PrintMotd no",
                "LogLevel VERBOSE",
                "Subsystem sftp internal-sftp",
            ]) + "\n")
        with open(self.path("known_hosts"), "w") as f, open(self.path("host_key.pub")) as k:
            f.write("[127.0.0.1]:%d %s" % (self.port, k.read()))
        with open(self.path("ssh_config"), "w") as f:
            f.write("\n".join([
                "Host *",
                "  IdentityFile " + self.path("client_key"),
                "  IdentitiesOnly yes",
                "  UserKnownHostsFile " + self.path("known_hosts"),
                "  GlobalKnownHostsFile /dev/null",
                "  StrictHostKeyChecking yes",
                "  BatchMode yes",
                "  LogLevel ERROR",
            ]) + "\n")
        # The ssh greeterctl runs: the host's, with the test's configuration.
        self.ssh_dir = self.path("ssh-bin")
        os.makedirs(self.ssh_dir)
        self.ssh = os.path.join(self.ssh_dir, "ssh")
        with open(self.ssh, "w") as f:
            f.write('#!/bin/sh\nexec %s -F %s "$@"\n' % (shutil.which("ssh"), self.path("ssh_config")))
        os.chmod(self.ssh, 0o755)

        setup = ('set -e; d=$1; mount --bind "$d/passwd" /etc/passwd; mount --bind "$d/shadow" /etc/shadow; '
                 'mount --bind "$d/group" /etc/group; mount -t tmpfs -o mode=0755 tmpfs /run; '
                 'mkdir -m 0755 /run/sshd; mount --bind "$d/bin" /usr/local/bin; '
                 'exec %s -D -e -f "$d/sshd_config"' % SSHD)
        self.log_path = self.path("sshd.log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "--", "sh", "-c", setup,
                                          "sshd", self.dir], stdout=log, stderr=subprocess.STDOUT)
        stack.callback(self.stop)
        if not wait_for(self.listening):
            fail("sshd did not come up on 127.0.0.1:%d: %s" % (self.port, self.log()))

    def path(self, name):
        return os.path.join(self.dir, name)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-3000:]

    def listening(self):
        if self.proc.poll() is not None:
            fail("sshd exited with %s: %s" % (self.proc.returncode, self.log()))
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                return s.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def env(self, **more):
        e = dict(os.environ, GREETER_SSH=self.ssh, LC_ALL="C.UTF-8")
        e.pop("GREETER_SOCKET", None)
        e.update(more)
        return e


with Daemon("remote") as d, Marker("remote") as m, contextlib.ExitStack() as stack:
    if not os.access(GREETERCTL, os.X_OK):
        fail("greeterctl not built at %s" % GREETERCTL)
    s = Sshd(stack)
    d.start()
    ROOT = "root@127.0.0.1:%d" % s.port
    USER_HOST = "%s@127.0.0.1:%d" % (USER, s.port)

    def ctl(host, *args, env=None, **kw):
        return subprocess.run([GREETERCTL, "-H", host, "--socket", d.socket] + list(args), capture_output=True,
                              text=True, timeout=300, env=s.env(**(env or {})), **kw)

    def local_as(uid, *args, **kw):
        return subprocess.run(setpriv(uid) + [s.greeterctl_copy, "--socket", d.socket] + list(args),
                              capture_output=True, text=True, timeout=300, env=s.env(), **kw)

    def message_of(uid):
        return d.call("io.greeter.GetMessage", {"uid": uid})["parameters"]

    # Root over ssh: set, get, status.
    r = ctl(ROOT, "set", "502", "Hi 502, over ssh")
    check(r.returncode == 0 and r.stderr == "", "root -H: set 502 (%r)" % r.stderr)
    check(message_of(502)["message"] == "Hi 502, over ssh", "greeterd holds what root set over ssh")
    r = ctl(ROOT, "get", "502")
    check(r.returncode == 0 and "message: Hi 502, over ssh\n" in r.stdout, "root -H: get 502 (%r)" % r)
    r = ctl(ROOT, "get")
    check(r.returncode == 0 and r.stdout.startswith("uid:     0\n"), "root -H: get without a UID is root's (%r)" % r)
    r = ctl(ROOT, "status", "--json")
    st = json.loads(r.stdout) if r.returncode == 0 else {}
    check(st.get("pin_dir") == d.pin_dir and st.get("state_dir") == d.state_dir,
          "root -H: status --json is this greeterd's (%r)" % r.stderr)
    r = ctl(ROOT, "status")
    check(r.returncode == 0 and d.pin_dir in r.stdout, "root -H: status")

    # ssh found on the PATH when $GREETER_SSH is not set.
    env = s.env(PATH=s.ssh_dir + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
    del env["GREETER_SSH"]
    r = subprocess.run([GREETERCTL, "--host=" + ROOT, "--socket", d.socket, "list", "--json"],
                       capture_output=True, text=True, timeout=300, env=env)
    check(r.returncode == 0 and {"uid": 502, "message": "Hi 502, over ssh"} in json.loads(r.stdout)["messages"],
          "--host= with the ssh on the PATH: list --json (%r)" % r.stderr)

    # tail over ssh: an exec on this host and its exit arrive; ended, nothing stays.
    out_path = os.path.join(s.dir, "tail.json")
    err_path = os.path.join(s.dir, "tail.err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t = subprocess.Popen([GREETERCTL, "-H", ROOT, "--socket", d.socket, "tail", "--json", "--exits"],
                             stdout=out, stderr=err, env=s.env())
    stack.callback(reap, [t])
    d.wait_watchers(1)

    def mine(kind):
        return [e for e in json_lines(out_path)
                if e.get("kind", "exec") == kind and (e.get("filename") == m.path or
                                                       kind == "exit" and e.get("exec_id") in execs())]

    def execs():
        return {e.get("exec_id") for e in json_lines(out_path) if e.get("filename") == m.path}

    m.run()
    check(wait_for(lambda: mine("exec"), IDLE_TIMEOUT), "tail -H --exits: the exec on the host arrives over ssh")
    check(wait_for(lambda: mine("exit"), IDLE_TIMEOUT), "tail -H --exits: its exit too")
    ev = mine("exec")[0]
    check(ev["uid"] == 0 and ev["message"] == "Hello World", "the exec's uid and message")

    # greeterd restarted: tail runs ssh again and goes on after the last event shown.
    d.stop()
    d.start()
    d.wait_watchers(1)
    n = len(mine("exec"))
    m.run()
    check(wait_for(lambda: len(mine("exec")) > n, IDLE_TIMEOUT),
          "tail -H after greeterd's restart: a new exec arrives (ssh run again)")
    seqs = [e["seq"] for e in json_lines(out_path)]
    check(len(seqs) == len(set(seqs)), "tail -H: no event twice across the restart")
    t.terminate()
    t.wait(timeout=60)
    with open(err_path) as f:
        tail_err = f.read()
    check(t.returncode == 0, "tail -H ends with 0 on SIGTERM (%s: %s)" % (t.returncode, tail_err))
    check("reconnect" in tail_err, "tail -H said it reconnected (%r)" % tail_err)
    d.wait_watchers(0)
    print("ok - tail -H ended: greeterd's watcher through ssh is gone")

    # A user logged in over ssh is that user to greeterd, no more.
    r = ctl(USER_HOST, "get")
    check(r.returncode == 0 and r.stdout.startswith("uid:     %d\n" % U),
          "%s -H: get without a UID is UID %d's (%r)" % (USER, U, r))
    r = ctl(USER_HOST, "set", str(U), "Mine, over ssh")
    check(r.returncode == 0, "UID %d -H: sets its own message (%r)" % (U, r.stderr))
    check(message_of(U) == {"uid": U, "message": "Mine, over ssh", "source": "uid"}, "greeterd holds it")
    for args in (["set", "502", "Not mine"], ["unset", "502"], ["set", "default", "Not mine"],
                 ["tail", "-u", "0"]):
        there = ctl(USER_HOST, *args)
        here = local_as(U, *args)
        check(there.returncode == here.returncode == 1 and there.stderr == here.stderr and
              "PermissionDenied" in there.stderr,
              "UID %d -H: %s refused with the status and words of a local run (%r, %r)" %
              (U, " ".join(args), there, here))
    doc = os.path.join(s.dir, "msgs.json")
    with open(doc, "w") as f:
        json.dump({"version": 1, "messages": {"502": "Imported"}}, f)
    os.chmod(doc, 0o644)
    there, here = ctl(USER_HOST, "import", doc), local_as(U, "import", doc)
    check(there.returncode == here.returncode == 1 and there.stderr == here.stderr,
          "UID %d -H: import refused as locally (%r)" % (U, there))
    check(message_of(502)["message"] == "Hi 502, over ssh", "nothing UID %d was refused changed" % U)
    r = ctl(ROOT, "import", doc)
    check(r.returncode == 0 and message_of(502)["message"] == "Imported",
          "root -H: import of a file read here (%r)" % r.stderr)

    # Failing: nobody on the port, an unknown user, no greeterd there.
    r = ctl("root@127.0.0.1:%d" % free_port(), "status")
    check(r.returncode == 3 and "Connection refused" in r.stderr and "ssh failed (exit status 255" in r.stderr,
          "-H to a port nobody listens on: status 3, ssh's message and ours (%r)" % r.stderr)
    r = ctl("nosuchuser@127.0.0.1:%d" % s.port, "status")
    check(r.returncode == 3 and "Permission denied" in r.stderr and "ssh failed (exit status 255" in r.stderr,
          "-H as a user sshd refuses: status 3 (%r)" % r.stderr)
    r = subprocess.run([GREETERCTL, "-H", ROOT, "--socket", os.path.join(s.dir, "none.sock"), "tail"],
                       capture_output=True, text=True, timeout=300, env=s.env())
    check(r.returncode == 3 and "greeterctl stdio-bridge: greeterd is not running" in r.stderr and
          "cannot reach greeterd on %s" % ROOT in r.stderr,
          "-H, no greeterd at that socket there: status 3, both messages (%r)" % r.stderr)
    check(s.proc.poll() is None, "sshd still runs")
