#!/usr/bin/env python3
"""greeterd as a service: READY=1 only once attached and serving, STATUS=
lines, watchdog pings, STOPPING=1 (against a NOTIFY_SOCKET made here);
socket activation through systemd-socket-activate; and a client that
connects while the daemon restarts is served by the next one."""
import os
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

with Daemon("service") as d:
    # Readiness, status, watchdog, stopping.
    ns_path = os.path.join(d.tmp, "notify")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(ns_path)
    ns.settimeout(IDLE_TIMEOUT)
    log = open(os.path.join(d.tmp, "notify.log"), "w")
    p = d.spawn(env={"NOTIFY_SOCKET": ns_path, "WATCHDOG_USEC": "400000"},
                stdout=subprocess.DEVNULL, stderr=log)
    msgs = []
    while not any("READY=1" in x for x in msgs):
        msgs.append(ns.recv(4096).decode())
    # At READY the socket must already answer and the programs be pinned.
    r = Varlink(d.socket).call("io.greeter.GetStatus")
    check("parameters" in r, "at READY=1 the API already answers")
    check(os.path.exists(os.path.join(d.pin_dir, "link_sched_exec")), "at READY=1 the links are pinned")
    pings = 0
    status = None
    while pings < 2:
        try:
            x = ns.recv(4096).decode()
        except socket.timeout:
            break
        msgs.append(x)
        pings += x.count("WATCHDOG=1")
        if x.startswith("STATUS="):
            status = x
    status = status or next((x for x in msgs if "STATUS=" in x), None)
    check(status is not None and "Attached (" in status and "message(s)" in status,
          "STATUS line readable: %r" % status)
    check(pings >= 2, "watchdog pinged %d times with WatchdogSec=0.4s" % pings)
    p.terminate()
    rc = p.wait(IDLE_TIMEOUT)
    rest = []
    ns.settimeout(0.5)
    try:
        while True:
            rest.append(ns.recv(4096).decode())
    except socket.timeout:
        pass
    check(any("STOPPING=1" in x for x in rest), "STOPPING=1 sent on SIGTERM")
    check(rc == 0, "exit status 0")

    # Socket activation with systemd-socket-activate: started by the first client.
    if shutil.which("systemd-socket-activate"):
        sa_sock = os.path.join(d.tmp, "activated.sock")
        sa = d.spawn(wrapper=["systemd-socket-activate", "-l", sa_sock], socket=False,
                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(d.tmp, "sa.log"), "w"))
        check(wait_for(lambda: os.path.exists(sa_sock)), "socket created by the activator")
        r = Varlink(sa_sock, timeout=IDLE_TIMEOUT).call("io.greeter.GetStatus")
        check("parameters" in r, "first client served by the socket-activated daemon")
        sa.terminate()
        sa.wait(IDLE_TIMEOUT)
        check("serving on the socket passed by the service manager" in open(os.path.join(d.tmp, "sa.log")).read(),
              "greeterd used the passed socket")
    else:
        print("note: systemd-socket-activate missing; activation by it not tested")

    # A client connects while no daemon runs; the next daemon serves it.
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls_path = os.path.join(d.tmp, "held.sock")
    lsock.bind(ls_path)
    lsock.listen(16)
    os.chmod(ls_path, 0o666)

    def start_with_fd():
        fd = lsock.fileno()
        # LISTEN_PID must name the daemon itself: set it in the shell that execs it.
        return d.spawn(wrapper=["sh", "-c", 'LISTEN_PID=$$ exec "$@" 3<&%d' % fd, "sh"], socket=False,
                       env={"LISTEN_FDS": "1"}, pass_fds=(fd,), stdout=subprocess.DEVNULL,
                       stderr=open(os.path.join(d.tmp, "held.log"), "a"))

    p1 = start_with_fd()
    check(wait_for(lambda: "parameters" in Varlink(ls_path).call("io.greeter.GetStatus")),
          "daemon serves the held socket")
    p1.terminate()
    p1.wait(IDLE_TIMEOUT)
    c = Varlink(ls_path, timeout=IDLE_TIMEOUT)  # no daemon now: the connection waits in the backlog
    c.send({"method": "io.greeter.GetMessage", "parameters": {"uid": 501}})
    p2 = start_with_fd()
    r = c.recv()
    check(r.get("parameters", {}).get("uid") == 501, "client connected during the restart is served after it")
    p2.terminate()
    p2.wait(IDLE_TIMEOUT)
