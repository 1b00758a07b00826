#!/usr/bin/env python3
"""greeterctl metrics against the real greeterd, after real program starts
(so the counters are not zero): the exposition parses with the Prometheus
client's own parser (Debian's python3-prometheus-client, under
/usr/bin/python3), has every family with its type and HELP, and its values
are those of `greeterctl status --json` (counters between a status taken just
before and one just after; what does not move, equal). Then a real
node_exporter (Debian's prometheus-node-exporter) with only its textfile
collector reads what `greeterctl metrics --output DIR/greeter.prom` wrote:
node_textfile_scrape_error is 0 and it serves the same greeter_ values."""
import contextlib
import json
import os
import socket
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

PROM_PARSE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "prom_parse.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # python3-prometheus-client is Debian's python's
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"

# family (counters without _total, as the parser names them), type, status member
GAUGES = [
    ("greeter_messages", "messages"),
    ("greeter_watchers", "watchers"),
    ("greeter_ring_size_bytes", "ring_size"),
    ("greeter_replay_window_events", "replay_window"),
    ("greeter_change_log_size_bytes", "change_log_size"),
    ("greeter_process_table_size", "process_table_size"),
]
COUNTERS = [
    ("greeter_events_emitted", "emitted"),
    ("greeter_events_lost_kernel", "lost_kernel"),
    ("greeter_failed_execs", "failed_execs"),
    ("greeter_events_received", "received"),
    ("greeter_events_delivered", "delivered"),
    ("greeter_events_dropped_late", "dropped_late"),
    ("greeter_events_repeated", "repeated"),
    ("greeter_events_malformed", "malformed"),
    ("greeter_change_log_compactions", "compactions"),
    ("greeter_change_log_compaction_failures", "compactions_failed"),
    ("greeter_exits", "exits"),
]

def ctl(*args):
    return subprocess.run([GREETERCTL, "--socket", d.socket] + list(args),
                          capture_output=True, text=True, timeout=30)


def status():
    r = ctl("status", "--json")
    check(r.returncode == 0, "greeterctl status --json")
    return json.loads(r.stdout)


def parse(text, what):
    r = subprocess.run([SYSTEM_PYTHON, PROM_PARSE], input=text, capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0, "%s parses with prometheus_client (%s)" % (what, r.stderr.strip()))
    return {f["name"]: f for f in json.loads(r.stdout)["families"]}


def value(fams, name, labels=None):
    f = fams.get(name)
    if f is None:
        fail("no family %s in %s" % (name, sorted(fams)))
    sample = name + ("_total" if f["type"] == "counter" else "")
    got = [s["value"] for s in f["samples"] if s["name"] == sample and s["labels"] == (labels or {})]
    if len(got) != 1:
        fail("%s%s: %d samples (%r)" % (sample, labels or "", len(got), f["samples"]))
    return got[0]


def check_against(fams, s1, s2, what):
    """Families, types and HELP; values those of the status before (s1) and after (s2)."""
    for name, member in GAUGES:
        f = fams.get(name, {})
        check(f.get("type") == "gauge" and f.get("documentation"), "%s: %s is a gauge with HELP" % (what, name))
        v = value(fams, name)
        check(v == s1[member] == s2[member], "%s: %s %s = status's %s" % (what, name, v, member))
    for name, member in COUNTERS + [("greeter_events_dropped", "dropped_watchers"),
                                    ("greeter_events_dropped", "dropped_journal"),
                                    ("greeter_events_dropped", "dropped_print")]:
        f = fams.get(name, {})
        check(f.get("type") == "counter" and f.get("documentation"),
              "%s: %s_total is a counter with HELP" % (what, name))
        labels = None
        if name == "greeter_events_dropped":
            labels = {"sink": member.split("_")[1]}
        v = value(fams, name, labels)
        lo, hi = s1["counters"][member], s2["counters"][member]
        check(lo <= v <= hi, "%s: %s_total%s %s is status's %s (%s to %s)"
              % (what, name, labels or "", v, member, lo, hi))
    v = value(fams, "greeter_uptime_seconds")
    check(s1["uptime_usec"] / 1e6 <= v <= s2["uptime_usec"] / 1e6,
          "%s: greeter_uptime_seconds %s is status's uptime_usec" % (what, v))
    v = value(fams, "greeter_ring_used_bytes")
    check(0 <= v <= s1["ring_size"], "%s: greeter_ring_used_bytes %s within the ring" % (what, v))
    v = value(fams, "greeter_replay_retained_events")
    check(0 < v <= s1["replay_window"], "%s: greeter_replay_retained_events %s within the window" % (what, v))
    # Held and let go of: read from the table as it changes, not between s1 and s2.
    v = value(fams, "greeter_processes")
    check(fams["greeter_processes"]["type"] == "gauge" and 0 < v <= s1["process_table_size"],
          "%s: greeter_processes %s within the process table" % (what, v))
    v = value(fams, "greeter_process_table_evictions")
    check(fams["greeter_process_table_evictions"]["type"] == "counter" and v >= 0,
          "%s: greeter_process_table_evictions_total %s is a counter" % (what, v))
    v = value(fams, "greeter_build_info", {"version": s1["version"], "attach_mode": s1["attach_mode"]})
    check(v == 1, "%s: greeter_build_info{version=%r,attach_mode=%r} 1" % (what, s1["version"], s1["attach_mode"]))
    for mp in ("config", "events", "stats"):
        value(fams, "greeter_bpf_map_info", {"map": mp, "map_id": str(s1[mp + "_map_id"])})
    for p in s1["programs"]:
        value(fams, "greeter_bpf_program_info", {"program": p["name"], "program_id": str(p["program_id"]),
                                                 "link_id": str(p["link_id"])})
    check(True, "%s: every family and value as status --json says" % what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


with Daemon("metrics") as d, Marker("metrics") as m, contextlib.ExitStack() as stack:
    if not os.access(GREETERCTL, os.X_OK):
        fail("greeterctl not built at %s" % GREETERCTL)
    r = subprocess.run([SYSTEM_PYTHON, "-c", "import prometheus_client.parser"], capture_output=True)
    if r.returncode != 0:
        fail("%s has no prometheus_client: install python3-prometheus-client (tests/lib/deps.sh)"
             % SYSTEM_PYTHON)
    if not os.access(NODE_EXPORTER, os.X_OK):
        fail("no %s: install prometheus-node-exporter (tests/lib/deps.sh)" % NODE_EXPORTER)
    # The textfile directory, node_exporter's log and the fake greeterd's
    # socket are made in d.tmp: they go with it.
    procs = []
    stack.callback(reap, procs)

    d.start()
    d.set_message(None, "Hello metrics")
    d.set_message(501, "Hi 501")
    # A watcher, so that events are delivered (and counted).
    # Its output to /dev/null: a pipe nobody reads would fill with the
    # host's other execs and stall it.
    tail = subprocess.Popen([GREETERCTL, "--socket", d.socket, "tail", "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(tail)
    check(wait_for(lambda: status()["watchers"] == 1), "greeterctl tail is watching")
    watched = stack.enter_context(Marker("watched"))
    watched.run(count=20)
    m.run(uid=501, count=5)
    # Two failed attempts on a PATH walk (env execvp), then the program.
    subprocess.run(["env", "PATH=/nonexistent-greeter-a:/nonexistent-greeter-b:" + m.dir,
                    os.path.basename(m.path)], check=True)
    check(wait_for(lambda: len(m.mine(d.events())) == 6), "greeterd saw the 6 program starts")
    check(wait_for(lambda: status()["counters"]["delivered"] >= 20),
          "the watcher got the 20 program starts")
    watched.cleanup()

    s1 = status()
    r = ctl("metrics")
    s2 = status()
    check(r.returncode == 0 and not r.stderr, "greeterctl metrics: status 0 (%s)" % r.stderr.strip())
    fams = parse(r.stdout, "greeterctl metrics")
    check_against(fams, s1, s2, "greeterctl metrics")
    for name in ("greeter_events_emitted", "greeter_events_received", "greeter_events_delivered",
                 "greeter_failed_execs"):
        check(value(fams, name) > 0, "%s_total is not zero after real execs (%s)" % (name, value(fams, name)))
    check(value(fams, "greeter_messages") == 2 and value(fams, "greeter_watchers") == 1,
          "greeter_messages 2, greeter_watchers 1")
    check(all(not set(s["labels"]) & {"uid", "user", "comm", "command", "filename"}
              for f in fams.values() for s in f["samples"]), "no per-user or per-command labels")

    # node_exporter's textfile collector reads what --output wrote.
    textdir = os.path.join(d.tmp, "textfile")
    os.mkdir(textdir)
    prom = os.path.join(textdir, "greeter.prom")
    s3 = status()
    r = ctl("metrics", "--output", prom)
    s4 = status()
    check(r.returncode == 0 and not r.stdout and not r.stderr,
          "greeterctl metrics --output %s (%s)" % (prom, r.stderr.strip()))
    check(sorted(os.listdir(textdir)) == ["greeter.prom"], "only greeter.prom in the directory")
    check(os.stat(prom).st_mode & 0o777 == 0o644, "greeter.prom is mode 0644")
    with open(prom) as f:
        written = f.read()
    file_fams = parse(written, "greeter.prom")
    check_against(file_fams, s3, s4, "greeter.prom")

    version = subprocess.run([NODE_EXPORTER, "--version"], capture_output=True, text=True)
    print("# " + (version.stdout + version.stderr).splitlines()[0])
    port = free_port()
    ne_log = open(os.path.join(d.tmp, "node_exporter.log"), "w")
    ne = subprocess.Popen([NODE_EXPORTER, "--collector.disable-defaults", "--collector.textfile",
                           "--collector.textfile.directory=" + textdir,
                           "--web.listen-address=127.0.0.1:%d" % port],
                          stdout=ne_log, stderr=subprocess.STDOUT)
    procs.append(ne)

    def scrape():
        if ne.poll() is not None:
            with open(ne_log.name) as f:
                fail("node_exporter exited with %d:\n%s" % (ne.returncode, f.read()))
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as resp:
                return resp.read().decode()
        except OSError:
            return None

    body = wait_for(scrape, timeout=30, interval=0.2)
    check(body is not None, "node_exporter serves /metrics on 127.0.0.1:%d" % port)
    ne_fams = parse(body, "node_exporter's /metrics")
    check(value(ne_fams, "node_textfile_scrape_error") == 0, "node_textfile_scrape_error 0")
    check(any(s["labels"].get("file", "").endswith("greeter.prom")
              for s in ne_fams.get("node_textfile_mtime_seconds", {}).get("samples", [])),
          "node_textfile_mtime_seconds names greeter.prom")
    check_against(ne_fams, s3, s4, "node_exporter")
    # Every greeter_ sample of the file, served the same by node_exporter.
    for name, f in file_fams.items():
        nf = ne_fams.get(name)
        check(nf is not None and nf["type"] == f["type"] and nf["documentation"] == f["documentation"],
              "node_exporter serves %s with its type and HELP" % name)
        want = sorted((s["name"], sorted(s["labels"].items()), s["value"]) for s in f["samples"])
        got = sorted((s["name"], sorted(s["labels"].items()), s["value"]) for s in nf["samples"])
        check(got == want, "node_exporter: %s values as in greeter.prom" % name)

    # A second write replaces the file; node_exporter serves the new values.
    m.run(count=3)
    check(wait_for(lambda: len(m.mine(d.events())) == 9), "3 more program starts")
    r = ctl("metrics", "--output", prom)
    check(r.returncode == 0, "greeterctl metrics --output again")
    emitted = value(parse(open(prom).read(), "greeter.prom again"), "greeter_events_emitted")
    body = scrape()
    check(value(parse(body, "node_exporter again"), "greeter_events_emitted") == emitted
          and emitted >= s4["counters"]["emitted"] + 3,
          "node_exporter serves the replaced file (emitted %s)" % emitted)
    check(value(parse(body, "node_exporter again"), "node_textfile_scrape_error") == 0,
          "node_textfile_scrape_error still 0")

    # A hostile version string (from a fake greeterd: tests/client/) read by
    # node_exporter's own parser: escaped, so it reads back exactly.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "client"))
    from fake_greeterd import FakeGreeterd  # noqa: E402
    from test_metrics import STATUS as FAKE_STATUS, EVIL_VERSION  # noqa: E402
    fake_sock = os.path.join(d.tmp, "fake.sock")
    FakeGreeterd(fake_sock, lambda conn, req: conn.reply(FAKE_STATUS))
    r = subprocess.run([GREETERCTL, "--socket", fake_sock, "metrics", "--output", prom],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "greeterctl metrics --output from a greeterd with a hostile version")
    ne_fams = parse(scrape(), "node_exporter with the hostile version")
    check(value(ne_fams, "node_textfile_scrape_error") == 0,
          "hostile version: node_textfile_scrape_error 0")
    check(value(ne_fams, "greeter_build_info", {"version": EVIL_VERSION, "attach_mode": "tracepoint"}) == 1,
          "node_exporter reads the hostile version back exactly (quotes, backslash, newline)")
    check(value(ne_fams, "greeter_events_emitted") == FAKE_STATUS["counters"]["emitted"],
          "node_exporter: greeter_events_emitted_total 2^53 - 1, exactly")
    r = ctl("metrics", "--output", prom)
    check(r.returncode == 0, "greeterctl metrics --output from the real greeterd again")

    # A bad directory: a clear error, status 4, the old file untouched.
    r = ctl("metrics", "--output", os.path.join(d.tmp, "missing", "greeter.prom"))
    check(r.returncode == 4 and "cannot write" in r.stderr and "No such file or directory" in r.stderr,
          "--output into a missing directory: status 4 (%s)" % r.stderr.strip())
    # greeterd gone: status 3, the file left for node_exporter to show as old.
    before = open(prom).read()
    d.stop()
    r = ctl("metrics", "--output", prom)
    check(r.returncode == 3 and open(prom).read() == before,
          "greeterd stopped: status 3, greeter.prom left as it was (%s)" % r.stderr.strip())
