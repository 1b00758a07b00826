"""The report: one table of every figure beside the comparison programs'
(greeter, the reference, bpftrace, execsnoop) and the issues' targets,
met or missed. Each part reads the results (res) of its measure."""

MS, MIB = 1000.0, 1 / 1024.0
RECORD_BEFORE = 384  # ABI 2: 376 bytes, 384 in the ring with its header


def fmt(v, unit="", digits=None):
    if v is None:
        return "n/a"
    if digits is None:
        digits = 0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2
    return ("%." + str(digits) + "f%s") % (v, unit)


def ratio(a, b):
    if a is None or b is None or a <= 0 or b <= 0:
        return ""
    x = a / b
    return ("%.1f×" if x >= 0.1 else "%.2f×") % x


def rss(x, k="VmRSS"):
    return x[k] * MIB if x else None


def no_ring(x):
    return (x["VmRSS"] - x["ring"]) * MIB if x else None


class Table:
    """The rows of the table: a figure of greeter's beside the reference's,
    bpftrace's and execsnoop's (row), or greeter's alone, as text (text)."""

    HEAD = ["| measure | greeter | reference | bpftrace | execsnoop | greeter ÷ reference | "
            "bpftrace ÷ greeter | execsnoop ÷ greeter |", "|---|---|---|---|---|---|---|---|"]

    def __init__(self, res):
        self.g, self.r = res["greeter"], res["reference"]
        self.t, self.e = res.get("bpftrace", {}), res.get("execsnoop", {})
        self.rows = []

    # ev: execsnoop's figure, where it has one.
    def row(self, what, gv, rv, tv, unit="", digits=None, ev=None):
        self.rows.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            what, fmt(gv, unit, digits), fmt(rv, unit, digits),
            fmt(tv, unit, digits) if self.t else "not run",
            fmt(ev, unit, digits) if self.e else "not run", ratio(gv, rv), ratio(tv, gv),
            ratio(ev, gv)))

    def text(self, what, gv, rv="", tv="", ev=""):
        self.rows.append("| %s | %s | %s | %s | %s | | | |" % (what, gv, rv, tv, ev))

    def greeter_only(self, what, gv, ratio_ref=""):
        """A figure of greeter's alone, perhaps its ratio to the reference."""
        self.rows.append("|" + "|".join(" %s " % c if c else " " for c in
                                        (what, gv, "", "", "", ratio_ref, "", "")) + "|")


class Targets:
    """The issues' targets: met, **missed**, or n/a where not measured."""

    def __init__(self):
        self.rows = ["| target | | |", "|---|---|---|"]

    def __call__(self, name, ok, detail):
        self.rows.append("| %s | %s | %s |" % (name, "n/a" if ok is None else
                                               "met" if ok else "**missed**", detail))


def kernel_rows(tab, res):
    """(1) In-kernel cost and exec rates."""
    g, r, t, e = tab.g, tab.r, tab.t, tab.e
    tab.row("(1) in-kernel ns per exec, one loop", g["ns_1"], r["ns_1"], t.get("ns_1"), " ns", 0,
            ev=e.get("ns_1"))
    tab.row("(1) in-kernel ns per exec, max rate (2 workers)", g["ns_2"], r["ns_2"],
            t.get("ns_2"), " ns", 0, ev=e.get("ns_2"))
    tab.text("(1) greeter per program, one loop", ", ".join(
        "%s %.0f ns" % (k, v) for k, v in sorted(g["parts_1"].items(), key=lambda x: -x[1])))
    tab.row("exec rate, one loop (no tool: %.0f/s)" % res["baseline"]["rate_1"],
            g["rate_1"], r["rate_1"], t.get("rate_1"), "/s", 0, ev=e.get("rate_1"))
    tab.row("exec rate, 2 workers (no tool: %.0f/s)" % res["baseline"]["rate_2"],
            g["rate_2"], r["rate_2"], t.get("rate_2"), "/s", 0, ev=e.get("rate_2"))


def start_rows(tab):
    """(2) Start-up."""
    g, r, t, e = tab.g, tab.r, tab.t, tab.e
    tab.row("(2) start, cold (type cache present): to READY=1 / attached line / first event "
            "(execsnoop: its header, printed once attached)", g["start_cold"] * MS,
            r["start_attached"] * MS, t["start_first_event"] * MS if t else None, " ms",
            ev=e["start_attached"] * MS if e else None)
    tab.row("(2) start, cold, first on this kernel (no type cache): to READY=1",
            g["start_cold_first"] * MS, None, None, " ms")
    tab.row("(2) start, warm (pins present): to READY=1", g["start_warm"] * MS, None, None, " ms")
    if t:
        tab.text("(2) bpftrace: start to its \"Attaching\" line", "", "",
                 fmt(t["start_attached"] * MS, " ms"))


def delivery_rows(tab, b):
    """(3) Delivery at the maximum rate."""
    g, r, t, e = tab.g, tab.r, tab.t, tab.e
    d1 = g["delivery"][b.watchers[0]]
    tab.row("(3) max rate, 1 consumer: events lost", d1["lost"], r["lost_max_rate"],
            t.get("lost_max_rate"), "", 0, ev=e.get("lost_max_rate"))
    tab.row("(3) max rate, 1 consumer: exec-to-consumer p50", d1["lat_p50_us"] / MS,
            r["lat_p50_ms"], t.get("lat_p50_ms"), " ms")
    tab.row("(3) max rate, 1 consumer: exec-to-consumer p99", d1["lat_p99_us"] / MS,
            r["lat_p99_ms"], t.get("lat_p99_ms"), " ms")
    tab.row("(3) user-space CPU per 1,000 events, max rate, no watcher / printing",
            g["cpu"], r["cpu"], t.get("cpu"), " ms", ev=e.get("cpu"))
    for n in b.watchers:
        d = g["delivery"][n]
        tab.text("(3) %d watcher%s: lost, p50, p99, greeterd CPU per 1,000 events, exec rate"
                 % (n, "s" if n > 1 else ""),
                 "%d, %s, %s, %s, %.0f/s" % (d["lost"],
                                            fmt(d["lat_p50_us"] / MS, " ms"),
                                            fmt(d["lat_p99_us"] / MS, " ms"),
                                            fmt(d["cpu_ms_per_1000"], " ms"), d["rate"]))


def stall_rows(tab, b):
    """(4) A stall during a storm; (4b) a client away across a restart."""
    g, r, t, e = tab.g, tab.r, tab.t, tab.e
    s = g["stall"]
    tab.row("(4) events lost, consumer stopped %.0f s during a storm" % b.stop_s,
            s["lost"], r["stall_lost"], t.get("stall_lost"), "", 0, ev=e.get("stall_lost"))
    tab.text("(4) greeter: lost_kernel, sequence gaps, dropped by greeterd", "%d, %d, %d" % (
        s["lost_kernel"], s["gaps"], s["dropped"]))
    a = g.get("away")
    if a:
        tab.text("(4b) events lost by a client away during a restart (%d execs; resumed with "
                 "after_seq)" % a["execs"], "%d" % a["lost"], "no resume", "no resume")
        tab.text("(4b) greeter: repeats, dropped, in order", "%d, %d, %s" % (
            a["repeats"], a["dropped"], "yes" if a["ordered"] else "no"))


def latencies(x):
    """p50, p99, ops/s of an api_bench run."""
    return "%s, %s, %s/s" % (fmt(x.get("p50_us"), " µs"), fmt(x.get("p99_us"), " µs"),
                             fmt(x.get("ops"), "", 0))


def api_rows(tab):
    """(5) API round trips, idle connections."""
    a = tab.g["api"]
    for key, what in (("set1", "SetMessage, 1 connection"),
                      ("set32", "SetMessage, %d connections" % a["set32"]["conns"]),
                      ("get1", "GetMessage, 1 connection"),
                      ("get32", "GetMessage, %d connections" % a["get32"]["conns"]),
                      ("get1_idle", "GetMessage, 1 connection, %d idle ones open"
                       % a["get1_idle"]["idle"])):
        tab.text("(5) %s: p50, p99, ops/s" % what, latencies(a[key]), "no API", "no API")
    tab.text("(5) idle connections accepted, still open at the end", "%d of %d, %d" % (
        a["get1_idle"].get("idle_ok", 0), a["get1_idle"]["idle"],
        a["get1_idle"].get("idle_alive", 0)))
    if "nofile" in a:
        x = a["nofile"]
        tab.text("(5) soft RLIMIT_NOFILE 1024 (systemd's default): idle connections accepted; "
                 "another client then served", "%d of %d; %s (%d EMFILE logged)" % (
                     x.get("idle_ok", 0), x.get("idle", 0),
                     "yes" if x.get("errors") == 0 else "**no**", x["emfile"]))


def watch_latencies(x):
    """p50, p99, max of a watch_client, in ms."""
    return "%s, %s, %s" % (fmt(x.get("lat_p50_us", 0) / MS, " ms"),
                           fmt(x.get("lat_p99_us", 0) / MS, " ms"),
                           fmt(x.get("lat_max_us", 0) / MS, " ms"))


def durable_rows(tab):
    """(7) Durable writes, a restore, an import, a flood."""
    u = tab.g.get("durable")
    if not u:
        return
    for key, what in (("set_none", "no messages"), ("set_many", "%d messages" % u["many"])):
        tab.text("(7) SetMessage, 1 connection, %s set: p50, p99, ops/s" % what, latencies(u[key]))
    tab.text("(7) start restoring %d messages after a reboot (no pins): to READY=1 / "
             "greeterd's \"ready in\"" % u["restored"],
             "%s / %s" % (fmt(u["restore_ready_s"] * MS, " ms"),
                          fmt((u["restore_logged_s"] or 0) * MS, " ms")))
    tab.text("(7) of which: attached (cold start with the type cache) / the state read "
             "(snapshot + change log)", "%s / %s" % (
                 fmt((u["cold_logged_s"] or 0) * MS, " ms"),
                 fmt((u["state_read_s"] or 0) * MS, " ms")))
    tab.text("(7) ImportMessages of %d messages, one call" % u["import_n"],
             fmt(u["import_s"] * MS, " ms"))
    tab.text("(7) the same watcher and execs without the flood: p50, p99, max",
             watch_latencies(u["quiet_watch"]))
    f = u["flood_watch"]
    tab.text("(7) watcher exec-to-client p50, p99, max while 32 connections of UID 65534 "
             "pipeline GetStatus+ListMessages of %d messages; their calls/s; events lost"
             % u["flood_messages"],
             "%s; %s/s; %d" % (watch_latencies(f), fmt(f["flood"].get("ops"), "", 0),
                               max(f["execs"] - f.get("marker_min", 0),
                                   f.get("gaps", 0), f.get("dropped", 0))))


def beside_rows(tab, res):
    """(10) Idle watchers of another user; (9) a user beside hostile clients."""
    iw = tab.g.get("idle_watchers", {})
    if iw:
        tab.text("(10) greeterd CPU per 1,000 events beside %s idle watchers of another user"
                 % "/".join(str(n) for n in iw),
                 " / ".join(fmt(iw[n]["cpu_ms_per_1000"], " ms") for n in iw))
    for key, what in (("rest", "at rest"), ("attack", "under attack (1,000 connections, 100 MiB "
                                            "without a NUL, slowloris, 20,000 pipelined calls, "
                                            "a watcher that never reads in an exec storm)")):
        x = res.get("hostile", {}).get(key)
        if x:
            tab.text("(9) GetMessage of another user %s: p50, p99, max" % what,
                     "%s, %s, %s" % (fmt(x["p50_ms"], " ms"), fmt(x["p99_ms"], " ms"),
                                     fmt(x["max_ms"], " ms")))


def memory_rows(tab):
    """(6) Resident memory, with and without the ring's mappings."""
    g, r, t, e = tab.g, tab.r, tab.t, tab.e
    tab.row("(6) VmRSS idle (after start)", rss(g["rss_idle_kib"]), rss(r["rss_kib"]),
            rss(t.get("rss_kib")), " MiB", ev=rss(e.get("rss_kib")))
    tab.row("(6) VmRSS idle, less the ring buffer mappings", no_ring(g["rss_idle_kib"]),
            no_ring(r["rss_kib"]), no_ring(t.get("rss_kib")), " MiB", ev=no_ring(e.get("rss_kib")))
    tab.row("(6) VmRSS after the storms", rss(g["rss_after_kib"]), rss(r["rss_after_kib"]),
            rss(t.get("rss_after_kib")), " MiB", ev=rss(e.get("rss_after_kib")))
    tab.row("(6) VmRSS after the storms, less the ring buffer mappings",
            no_ring(g["rss_after_kib"]), no_ring(r["rss_after_kib"]),
            no_ring(t.get("rss_after_kib")), " MiB", ev=no_ring(e.get("rss_after_kib")))


def record_rows(tab, b, res):
    """(8) Record sizes, ring capacity, what the arguments cost (issue 14)."""
    rec, g = res.get("records"), tab.g
    if not rec:
        return
    loads = [("shell", "a shell loop (%d rounds of 8 commands)" % b.shell_loops),
             ("compile", "ninja -j2 of a fresh build of this project"),
             ("loadgen", "the bench's loadgen (one path, no arguments)")]
    for k, what in loads:
        if k in rec:
            x = rec[k]
            if x.get("ninja_status"):
                what += " (ninja failed part way: status %d)" % x["ninja_status"]
            tab.greeter_only(
                "(8) mean ring record size, header included: " + what,
                "%s (%d events%s; every record on the machine meanwhile: %s, %d)" % (
                    fmt(x["mean"], " B", 0), x["events"], " in its cgroup" if x["own_cgroup"] else "",
                    fmt(x["mean_all"], " B", 0), x["events_all"]))
    for k, what in loads[:2]:
        if k in rec and rec[k]["mean"]:
            m = rec[k]["mean"]
            tab.greeter_only(
                "(8) ring capacity in events at 16 / 32 MiB, %s (%d B records before: %d / %d)" % (
                    "the shell loop" if k == "shell" else "the compile", RECORD_BEFORE,
                    (16 << 20) // RECORD_BEFORE, (32 << 20) // RECORD_BEFORE),
                "%d / %d (%s)" % ((16 << 20) // m, (32 << 20) // m, ratio(RECORD_BEFORE, m)))
    tab.greeter_only(
        "(8) greeter with / without arguments (--no-args), in-kernel ns per exec, one "
        "loop, alternating rounds: what the arguments cost",
        "%s / %s: %s" % (fmt(rec["args_ns_1"], " ns", 0), fmt(rec["no_args_ns_1"], " ns", 0),
                         fmt(rec["args_ns_1"] - rec["no_args_ns_1"], " ns", 0)),
        ratio(rec["no_args_ns_1"], tab.r["ns_1"]))
    tab.greeter_only("(8) arguments and unit over the reference, one loop",
                     fmt(g["ns_1"] - tab.r["ns_1"], " ns", 0))


def kernel_targets(target, tab):
    """In-kernel cost against the reference and bpftrace; start against bpftrace's."""
    g, r, t = tab.g, tab.r, tab.t
    x1, x2 = g["ns_1"] / r["ns_1"], g["ns_2"] / r["ns_2"]
    target("in-kernel cost ≤ 2× reference", max(x1, x2) <= 2,
           "%.1f× (one loop), %.1f× (max rate)" % (x1, x2))
    if t:
        y1, y2 = t["ns_1"] / g["ns_1"], t["ns_2"] / g["ns_2"]
        target("in-kernel cost ≥ 10× below bpftrace", min(y1, y2) >= 10,
               "%.1f× (one loop), %.1f× (max rate)" % (y1, y2))
        y = t["start_first_event"] / g["start_cold"]
        target("READY ≥ 10× faster than bpftrace's start (cold)", y >= 10,
               "%.1f× (%s against %s); the first start on a kernel: %.1f× (%s)"
               % (y, fmt(g["start_cold"] * MS, " ms"), fmt(t["start_first_event"] * MS, " ms"),
                  t["start_first_event"] / g["start_cold_first"],
                  fmt(g["start_cold_first"] * MS, " ms")))
    else:
        target("in-kernel cost ≥ 10× below bpftrace", None, "bpftrace not run")
        target("READY ≥ 10× faster than bpftrace's start (cold)", None, "bpftrace not run")


def record_targets(target, res):
    """Against execsnoop (both read the arguments); ring capacity."""
    g, e, rec = res["greeter"], res.get("execsnoop"), res.get("records")
    if e:
        y1, y2 = e["ns_1"] / g["ns_1"], e["ns_2"] / g["ns_2"]
        target("in-kernel cost ≥ 6× below execsnoop (with arguments and unit)", min(y1, y2) >= 6,
               "%.1f× (one loop), %.1f× (max rate)" % (y1, y2))
    else:
        target("in-kernel cost ≥ 6× below execsnoop (with arguments and unit)", None,
               "execsnoop not run")
    if rec:
        mean = max(rec[k]["mean"] for k in ("shell", "compile") if k in rec and rec[k]["mean"])
        target("ring capacity in events ≥ 2× today's (%d B records), the larger mean of the "
               "realistic loads" % RECORD_BEFORE, RECORD_BEFORE / mean >= 2, ", ".join(
                   "%s %.1f× (%s)" % (k, RECORD_BEFORE / rec[k]["mean"],
                                      fmt(rec[k]["mean"], " B", 0))
                   for k in ("shell", "compile") if k in rec and rec[k]["mean"]))


def delivery_targets(target, g, b):
    """Warm start, nothing lost, exec-to-client latency."""
    target("warm start < 10 ms", g["start_warm"] < 0.010, fmt(g["start_warm"] * MS, " ms"))
    lost = [g["delivery"][n]["lost"] for n in b.watchers]
    s = g["stall"]
    target("0 events lost in (3) and (4)", sum(lost) == 0 and s["lost"] == 0,
           "(3): %s with %s watchers; (4): %d (lost_kernel %d, dropped by greeterd %d)"
           % ("/".join(str(x) for x in lost), "/".join(str(n) for n in b.watchers),
              s["lost"], s["lost_kernel"], s["dropped"]))
    p99 = {n: g["delivery"][n]["lat_p99_us"] / MS for n in b.watchers}
    target("p99 exec-to-client ≤ 25 ms", max(p99.values()) <= 25, ", ".join(
        "%s (%d)" % (fmt(v, " ms"), n) for n, v in p99.items()))


def api_targets(target, a):
    """SetMessage and GetMessage latency, SetMessage across connections."""
    target("SetMessage p99 < 1 ms", a["set1"].get("p99_us", 1e9) < 1000,
           "%s (1 connection), %s (%d)" % (fmt(a["set1"].get("p99_us"), " µs"),
                                           fmt(a["set32"].get("p99_us"), " µs"),
                                           a["set32"]["conns"]))
    target("GetMessage p99 < 200 µs", a["get1"].get("p99_us", 1e9) < 200,
           "%s (1 connection), %s (%d), %s (%d idle open)" % (
               fmt(a["get1"].get("p99_us"), " µs"), fmt(a["get32"].get("p99_us"), " µs"),
               a["get32"]["conns"], fmt(a["get1_idle"].get("p99_us"), " µs"),
               a["get1_idle"]["idle"]))
    s1, s32 = a["set1"].get("ops"), a["set32"].get("ops")
    target("SetMessage ops/s on %d connections ≥ 8× on 1" % a["set32"]["conns"],
           bool(s1 and s32 and s32 >= 8 * s1),
           "%s/s against %s/s: %s (before issue 13: 1,242/s against 1,513/s, 0.82×)"
           % (fmt(s32, "", 0), fmt(s1, "", 0), ratio(s32, s1)))
    target("SetMessage 1-connection p99 no worse than before issue 13 (531 µs)",
           a["set1"].get("p99_us", 1e9) <= 531, fmt(a["set1"].get("p99_us"), " µs"))


def durable_targets(target, u):
    """Writes with many messages set, a restore, an import, a flood."""
    if not u:
        return
    x0, x1 = u["set_none"].get("p50_us"), u["set_many"].get("p50_us")
    m0 = u["set_none"].get("seconds", 0) / max(u["set_none"].get("calls", 1), 1)
    m1 = u["set_many"].get("seconds", 0) / max(u["set_many"].get("calls", 1), 1)
    target("SetMessage latency with %d messages ≤ 2× with none" % u["many"],
           bool(m0 and m1 and m1 <= 2 * m0),
           "mean %s against %s (%s); p50 %s against %s" % (
               fmt(m1 * 1e6, " µs"), fmt(m0 * 1e6, " µs"), ratio(m1, m0),
               fmt(x1, " µs"), fmt(x0, " µs")))
    target("start restoring %d messages after a reboot well under 100 ms" % u["restored"],
           u["restore_ready_s"] < 0.100, fmt(u["restore_ready_s"] * MS, " ms") + " to READY=1")
    target("ImportMessages of %d well under a second" % u["import_n"], u["import_s"] < 0.5,
           fmt(u["import_s"] * MS, " ms"))
    f = u["flood_watch"]
    target("watcher p99 ≤ 25 ms under a GetStatus/ListMessages flood",
           f.get("lat_p99_us", 1e9) / MS <= 25, "%s (%s without the flood)" % (
               fmt(f.get("lat_p99_us", 0) / MS, " ms"),
               fmt(u["quiet_watch"].get("lat_p99_us", 0) / MS, " ms")))


def memory_target(target, g):
    ring = g["ring_size"] / 1024
    limit = 4 * 1024 + ring
    idle = g["rss_idle_kib"]
    counted_once = idle["VmRSS"] - idle["ring"] + ring
    target("idle RSS < 4 MiB + ring size", counted_once < limit,
           "%s with the ring counted once (VmRSS %s maps it twice: %s); limit %s"
           % (fmt(counted_once * MIB, " MiB"), fmt(idle["VmRSS"] * MIB, " MiB"),
              fmt(idle["ring"] * MIB, " MiB"), fmt(limit * MIB, " MiB")))


def report(b, res):
    tab = Table(res)
    kernel_rows(tab, res)
    start_rows(tab)
    delivery_rows(tab, b)
    stall_rows(tab, b)
    api_rows(tab)
    durable_rows(tab)
    beside_rows(tab, res)
    memory_rows(tab)
    record_rows(tab, b, res)

    target = Targets()
    kernel_targets(target, tab)
    record_targets(target, res)
    delivery_targets(target, tab.g, b)
    api_targets(target, tab.g["api"])
    durable_targets(target, tab.g.get("durable"))
    memory_target(target, tab.g)
    return "\n".join(["Machine: " + res["machine"], ""] + Table.HEAD + tab.rows + [""] +
                     target.rows)
