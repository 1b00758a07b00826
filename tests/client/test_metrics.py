#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""greeterctl metrics against a fake greeterd: every number of GetStatus in
the exposition, exactly, parsed by the Prometheus client's own parser
(Debian's python3-prometheus-client, under /usr/bin/python3); hostile label
values escaped; --output replaces the file atomically, and every failure
(greeterd away, a malformed status, a bad directory, a write that fails
half-way) leaves the old file as it was, with a clear error and exit status.

Usage: test_metrics.py PATH/TO/greeterctl"""

import copy
import json
import os
import resource
import stat
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_greeterd import Checks, FakeGreeterd, TempDir, run  # noqa: E402

PROM_PARSE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "prom_parse.py")
# Debian's python3-prometheus-client is for Debian's python, whatever python3 is on PATH.
SYSTEM_PYTHON = "/usr/bin/python3"

# A version string no greeterd sends, but a hostile or broken one might.
EVIL_VERSION = 'v1 "quoted" back\\slash\nnewline} x="y'

STATUS = {
    "version": EVIL_VERSION,
    "attach_mode": "tracepoint",
    "attach_reason": "no kprobes",
    "kernel_release": "6.18.0-test",
    "pin_dir": "/sys/fs/bpf/greeter",
    "state_dir": "/var/lib/greeter",
    "uptime_usec": 3723000001,
    "messages": 3,
    "watchers": 2,
    "ring_size": 33554432,
    "ring_used": 123456,
    "replay_window": 32768,
    "retained": 1000,
    "change_log_size": 4567,
    "config_map_id": 11,
    "events_map_id": 12,
    "stats_map_id": 13,
    "programs": [{"name": "greeter_exec", "program_id": 42, "link_id": 7},
                 {"name": "evil\"\\\nprog", "program_id": 43, "link_id": 8}],
    "counters": {"emitted": 9007199254740991, "lost_kernel": 2, "failed_execs": 3,
                 "received": 98, "delivered": 97, "dropped_watchers": 5,
                 "dropped_journal": 6, "dropped_print": 12, "dropped_late": 7, "repeated": 8, "malformed": 9,
                 "compactions": 10, "compactions_failed": 11},
}

# family (as the parser names it: counters without _total), type, member, scale
NUMBERS = [
    ("greeter_uptime_seconds", "gauge", "uptime_usec", 1e-6),
    ("greeter_messages", "gauge", "messages", 1),
    ("greeter_watchers", "gauge", "watchers", 1),
    ("greeter_ring_size_bytes", "gauge", "ring_size", 1),
    ("greeter_ring_used_bytes", "gauge", "ring_used", 1),
    ("greeter_replay_window_events", "gauge", "replay_window", 1),
    ("greeter_replay_retained_events", "gauge", "retained", 1),
    ("greeter_change_log_size_bytes", "gauge", "change_log_size", 1),
    ("greeter_events_emitted", "counter", "counters.emitted", 1),
    ("greeter_events_lost_kernel", "counter", "counters.lost_kernel", 1),
    ("greeter_failed_execs", "counter", "counters.failed_execs", 1),
    ("greeter_events_received", "counter", "counters.received", 1),
    ("greeter_events_delivered", "counter", "counters.delivered", 1),
    ("greeter_events_dropped_late", "counter", "counters.dropped_late", 1),
    ("greeter_events_repeated", "counter", "counters.repeated", 1),
    ("greeter_events_malformed", "counter", "counters.malformed", 1),
    ("greeter_change_log_compactions", "counter", "counters.compactions", 1),
    ("greeter_change_log_compaction_failures", "counter", "counters.compactions_failed", 1),
]


def member(status, path):
    v = status
    for k in path.split("."):
        v = v[k]
    return v


def parse(text):
    """The families by name, as prometheus_client parses them; None when it cannot."""
    r = subprocess.run([SYSTEM_PYTHON, PROM_PARSE], input=text, capture_output=True, timeout=60)
    if r.returncode != 0:
        return None, r.stderr.decode(errors="replace")
    return {f["name"]: f for f in json.loads(r.stdout)["families"]}, ""


def check_exposition(c, text, status, where):
    """Every family, its type and HELP, and every value equal to status's."""
    fams, err = parse(text)
    if not c.check(fams is not None, where + ": the exposition parses", err):
        return
    raw = text.decode()
    for name, typ, path, scale in NUMBERS:
        f = fams.get(name)
        if not c.check(f is not None, "%s: family %s" % (where, name), sorted(fams)):
            continue
        c.check(f["type"] == typ, "%s: %s is a %s" % (where, name, typ), f["type"])
        c.check(bool(f["documentation"]), "%s: %s has HELP" % (where, name))
        sample = name + ("_total" if typ == "counter" else "")
        want = member(status, path) * scale
        got = [s for s in f["samples"] if s["name"] == sample]
        c.check(len(got) == 1 and got[0]["labels"] == {} and abs(got[0]["value"] - want) < 1e-6,
                "%s: %s = %s" % (where, sample, want), got)
        c.check("# TYPE %s %s\n" % (sample, typ) in raw and "# HELP %s " % sample in raw,
                "%s: # HELP and # TYPE name %s" % (where, sample))
    f = fams.get("greeter_events_dropped", {})
    c.check(f.get("type") == "counter" and f.get("documentation"),
            where + ": greeter_events_dropped_total is a counter with HELP", f)
    got = {s["labels"].get("sink"): s["value"] for s in f.get("samples", [])
           if s["name"] == "greeter_events_dropped_total"}
    want = {sink: status["counters"]["dropped_" + sink] for sink in ("watchers", "journal", "print")
            if "dropped_" + sink in status["counters"]}
    c.check(got == want, where + ": greeter_events_dropped_total{sink} for " + ", ".join(want), got)
    f = fams.get("greeter_build_info", {})
    c.check(f.get("type") == "gauge" and [(s["labels"], s["value"]) for s in f.get("samples", [])] ==
            [({"version": status["version"], "attach_mode": status["attach_mode"]}, 1.0)],
            where + ": greeter_build_info{version,attach_mode} 1, the version read back exactly", f)
    f = fams.get("greeter_bpf_map_info", {})
    got = {s["labels"]["map"]: s["labels"]["map_id"] for s in f.get("samples", [])}
    c.check(got == {m: str(status[m + "_map_id"]) for m in ("config", "events", "stats")},
            where + ": greeter_bpf_map_info", got)
    f = fams.get("greeter_bpf_program_info", {})
    got = sorted((s["labels"]["program"], s["labels"]["program_id"], s["labels"]["link_id"])
                 for s in f.get("samples", []))
    c.check(got == sorted((p["name"], str(p["program_id"]), str(p["link_id"]))
                          for p in status["programs"]),
            where + ": greeter_bpf_program_info", got)
    # No label names a user or a command.
    for fam in fams.values():
        for s in fam["samples"]:
            c.check(not set(s["labels"]) & {"uid", "user", "comm", "command", "filename"},
                    "%s: %s has no per-user or per-command label" % (where, s["name"]), s)
    # Every sample's family has HELP and TYPE (greeter_ ones: all of them).
    c.check(all(n.startswith("greeter_") for n in fams), where + ": only greeter_ families",
            sorted(fams))


def tmp_leftovers(d):
    return [n for n in os.listdir(d) if n.startswith(".")]


def main():
    ctl = os.path.abspath(sys.argv[1])
    c = Checks()
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        print("FAIL: no %s: install python3-prometheus-client" % SYSTEM_PYTHON, file=sys.stderr)
        sys.exit(1)

    mode = {"status": STATUS}

    def handler(conn, req):
        s = mode["status"]
        if req.get("method") == "io.greeter.GetStatus" and s is not None:
            conn.reply(s)
        elif req.get("method") == "io.greeter.GetStatus":
            conn.error("io.greeter.PermissionDenied", {"reason": "not today"})
        else:
            conn.error("org.varlink.service.MethodNotFound", {"method": req.get("method")})

    with TempDir() as tmp:
        sock = os.path.join(tmp, "greeter.sock")
        FakeGreeterd(sock, handler)

        # Standard output: the whole exposition, every number exact.
        r = run(ctl, sock, "metrics")
        c.check(r.returncode == 0 and not r.stderr, "metrics: status 0, nothing on stderr", r.stderr)
        check_exposition(c, r.stdout, STATUS, "metrics")
        c.check(b"\\\"quoted\\\" back\\\\slash\\nnewline} x=\\\"y" in r.stdout,
                "metrics: the version's quotes, backslash and newline are escaped",
                r.stdout[:400])
        c.check(r.stdout.count(b"\n# HELP ") + 1 == r.stdout.count(b"# TYPE ")
                and r.stdout.startswith(b"# HELP ") and r.stdout.endswith(b"\n"),
                "metrics: a HELP before each TYPE, a newline at the end")
        c.check(r.stdout.count(b"\n") == len(r.stdout.splitlines()) and
                all(not line or line.startswith(b"#") or line.startswith(b"greeter_")
                    for line in r.stdout.split(b"\n")),
                "metrics: no line broken by a hostile string")
        stdout_text = r.stdout

        # --output: the same bytes, mode 0644, no temporary file left.
        out_dir = os.path.join(tmp, "textfile")
        os.mkdir(out_dir)
        out = os.path.join(out_dir, "greeter.prom")
        r = run(ctl, sock, "metrics", "--output", out)
        c.check(r.returncode == 0 and not r.stdout and not r.stderr,
                "metrics --output: status 0, nothing printed", r.stdout + r.stderr)
        with open(out, "rb") as f:
            c.check(f.read() == stdout_text, "metrics --output: the file holds what stdout had")
        c.check(stat.S_IMODE(os.stat(out).st_mode) == 0o644, "metrics --output: mode 0644",
                oct(os.stat(out).st_mode))
        c.check(tmp_leftovers(out_dir) == [], "metrics --output: no temporary file left",
                tmp_leftovers(out_dir))
        r = run(ctl, sock, "metrics", "-o", out)
        c.check(r.returncode == 0, "metrics -o FILE: replaces an existing file", r.stderr)
        # A relative name: in the working directory.
        r = subprocess.run([ctl, "--socket", sock, "metrics", "--output", "rel.prom"],
                           cwd=out_dir, capture_output=True, timeout=15)
        c.check(r.returncode == 0 and os.path.exists(os.path.join(out_dir, "rel.prom")),
                "metrics --output rel.prom: written in the working directory", r.stderr)
        os.unlink(os.path.join(out_dir, "rel.prom"))

        # New values replace the file; a reader never sees a part of it.
        status2 = copy.deepcopy(STATUS)
        status2["counters"]["emitted"] = 12345
        mode["status"] = status2
        r = run(ctl, sock, "metrics", "--output", out)
        with open(out, "rb") as f:
            check_exposition(c, f.read(), status2, "metrics --output again")
        stop = threading.Event()
        seen = {"reads": 0, "partial": 0}

        def reader():
            while not stop.is_set():
                with open(out, "rb") as f:
                    data = f.read()
                seen["reads"] += 1
                if not data.endswith(b"} 1\n") or b"greeter_build_info{" not in data:
                    seen["partial"] += 1

        t = threading.Thread(target=reader)
        t.start()
        for i in range(60):
            status2["counters"]["emitted"] = 12345 + i
            run(ctl, sock, "metrics", "--output", out)
        stop.set()
        t.join()
        c.check(seen["reads"] > 0 and seen["partial"] == 0,
                "metrics --output 60 times under a reader: never a partial file (%d reads)"
                % seen["reads"], seen)
        c.check(tmp_leftovers(out_dir) == [], "no temporary file left after 60 writes",
                tmp_leftovers(out_dir))
        with open(out, "rb") as f:
            good = f.read()

        def unchanged(what):
            with open(out, "rb") as f:
                c.check(f.read() == good, what + ": the old file is left as it was")
            c.check(tmp_leftovers(out_dir) == [], what + ": no temporary file left",
                    tmp_leftovers(out_dir))

        # A write that fails half-way (the file size limit: EFBIG).
        def small_fsize():
            resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))

        full_env = dict(os.environ, LC_ALL="C.UTF-8")
        r = subprocess.run([ctl, "--socket", sock, "metrics", "--output", out],
                           capture_output=True, timeout=15, preexec_fn=small_fsize, env=full_env)
        err = r.stderr.decode(errors="replace")
        c.check(r.returncode == 4 and "cannot write " + out in err and "File too large" in err,
                "a write that fails half-way: status 4, says so", "%d %s" % (r.returncode, err))
        unchanged("a write that fails half-way")

        # greeterd away: status 3, the file kept.
        r = run(ctl, os.path.join(tmp, "nobody.sock"), "metrics", "--output", out)
        c.check(r.returncode == 3 and b"greeterd is not running" in r.stderr,
                "greeterd not running: status 3", r.stderr)
        unchanged("greeterd not running")

        # greeterd refuses: status 1.
        mode["status"] = None
        r = run(ctl, sock, "metrics", "--output", out)
        c.check(r.returncode == 1 and b"PermissionDenied" in r.stderr and b"not today" in r.stderr,
                "greeterd returns an error: status 1", r.stderr)
        unchanged("greeterd returns an error")

        # A malformed status: status 1, nothing written, nothing printed.
        for what, bad in [("a counter that is a string", ("counters", "emitted", "many")),
                          ("a negative gauge", (None, "messages", -1)),
                          ("a fraction", (None, "ring_size", 1.5)),
                          ("a dropped count that is negative", ("counters", "dropped_print", -1)),
                          ("no counters", (None, "counters", None)),
                          ("a version that is a number", (None, "version", 3))]:
            s = copy.deepcopy(STATUS)
            obj = s[bad[0]] if bad[0] else s
            if bad[2] is None:
                del obj[bad[1]]
            else:
                obj[bad[1]] = bad[2]
            mode["status"] = s
            r = run(ctl, sock, "metrics", "--output", out)
            c.check(r.returncode == 1 and b"malformed status (%s)" % bad[1].encode() in r.stderr,
                    "%s: status 1, names it" % what, r.stderr)
            unchanged(what)
            r = run(ctl, sock, "metrics")
            c.check(r.returncode == 1 and not r.stdout, "%s: nothing on stdout" % what, r.stdout)

        # An older greeterd, without the optional numbers: those families left out.
        s = copy.deepcopy(STATUS)
        for k in ("ring_used", "replay_window", "retained", "change_log_size"):
            del s[k]
        for k in ("dropped_late", "repeated", "malformed", "compactions", "compactions_failed",
                  "dropped_print"):
            del s["counters"][k]
        mode["status"] = s
        r = run(ctl, sock, "metrics")
        fams, err = parse(r.stdout)
        c.check(r.returncode == 0 and fams is not None and "greeter_ring_used_bytes" not in fams
                and "greeter_events_emitted" in fams,
                "an older greeterd's status: the numbers it has", err)
        got = {x["labels"].get("sink") for x in (fams or {}).get("greeter_events_dropped", {})
               .get("samples", []) if x["name"] == "greeter_events_dropped_total"}
        c.check(got == {"watchers", "journal"},
                "an older greeterd's status: no sink=\"print\" sample without dropped_print", got)
        mode["status"] = STATUS

        # Bad output paths: status 4 and why, nothing created.
        for what, path, why in [
                ("a missing directory", os.path.join(tmp, "missing", "greeter.prom"),
                 "No such file or directory"),
                ("a directory", out_dir, "Is a directory"),
                ("a name ending in /", out_dir + "/", "Is a directory"),
                ("a directory under a file", os.path.join(out, "x.prom"), "Not a directory")]:
            r = run(ctl, sock, "metrics", "--output", path)
            err = r.stderr.decode(errors="replace")
            c.check(r.returncode == 4 and ("cannot write " + path) in err and why in err,
                    "--output %s: status 4, says why" % what, "%d %s" % (r.returncode, err))
        unchanged("bad output paths")
        if os.geteuid() != 0:
            ro = os.path.join(tmp, "ro")
            os.mkdir(ro, 0o555)
            r = run(ctl, sock, "metrics", "--output", os.path.join(ro, "greeter.prom"))
            c.check(r.returncode == 4 and b"Permission denied" in r.stderr,
                    "--output in a read-only directory: status 4", r.stderr)

        # Usage.
        r = run(ctl, sock, "metrics", "--output")
        c.check(r.returncode == 2, "--output without a file: status 2", r.stderr)
        r = run(ctl, sock, "metrics", "--output", "")
        c.check(r.returncode == 2 and b"--output needs a file name" in r.stderr,
                "--output '': status 2", r.stderr)
        r = run(ctl, sock, "metrics", "extra")
        c.check(r.returncode == 2, "metrics takes no arguments: status 2", r.stderr)
        r = run(ctl, sock, "status", "--output", out)
        c.check(r.returncode == 2 and b"--output is an option of metrics" in r.stderr,
                "--output with another command: status 2", r.stderr)
        r = run(ctl, sock, "metrics", "--help")
        c.check(r.returncode == 0 and b"Usage: greeterctl metrics [--output FILE]" in r.stdout
                and b"greeter-metrics.timer" in r.stdout, "metrics --help", r.stdout)
        r = run(ctl, sock, "--help")
        c.check(r.returncode == 0 and b"  metrics [--output FILE]" in r.stdout,
                "--help lists metrics", r.stdout)
        unchanged("usage errors")
    c.done()


if __name__ == "__main__":
    main()
