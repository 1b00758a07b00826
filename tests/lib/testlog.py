#!/usr/bin/env python3
"""What meson's test logs (build*/meson-logs/testlog.json) say, for
run-tests.sh and the newcomer suite:

  testlog.py summary SECONDS LOG...   the time each suite took in each build,
                                      "N skipped (...)", then "N passed, N
                                      failed"; exit status 1 when anything failed
  testlog.py suites LOG...            "BUILD SUITE RESULT=N ..." per suite

A log that cannot be read counts as a failure ("no-testlog")."""
import json
import sys


def suites_of(name):
    """meson names a test "project:suite / name" (its log has no suite
    field), "project:suite1+suite2 / name" for several; greeter's test
    names also start with their suite."""
    if " / " in name:
        return name.split(" / ")[0].split(":")[-1].split("+")
    return [name.split("-")[0]]


def tests(path):
    """(build, test) for each line of the log; test None when unreadable."""
    build = path.split("/")[0]
    try:
        lines = open(path).read().splitlines()
    except OSError:
        yield build, None
        return
    for line in lines:
        try:
            yield build, json.loads(line)
        except ValueError:
            yield build, {"result": "UNREADABLE"}


def summary(seconds, paths):
    passed = failed = skipped = 0
    times = {}
    for path in paths:
        for build, t in tests(path):
            r = t.get("result") if t else "no-testlog"
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
            if not t:
                continue
            suite = suites_of(t.get("name", "-"))[0]
            n, secs = times.get((build, suite), (0, 0.0))
            times[(build, suite)] = (n + 1, secs + t.get("duration", 0.0))
    # Where the time goes: the sum of each suite's test durations (tests of
    # a suite may run two at a time).
    for (build, suite), (n, secs) in sorted(times.items()):
        print("time: %-10s %-12s %3d test(s) %7.1f s" % (build, suite, n, secs))
    print("time: run-tests.sh %d s in all" % int(seconds))
    # The last line is what CI reads: "N passed, N failed".
    print("%d skipped (exit status 77: what this kernel or build cannot do)" % skipped)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def suites(paths):
    for path in paths:
        counts = {}
        build = path.split("/")[0]
        for _, t in tests(path):
            if t is None:
                print(build, "-", "no-testlog")
                continue
            for s in suites_of(t.get("name", "-")):
                c = counts.setdefault(s, {})
                c[t.get("result")] = c.get(t.get("result"), 0) + 1
        for s, c in sorted(counts.items()):
            print(build, s, " ".join("%s=%d" % kv for kv in sorted(c.items())))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "summary":
        sys.exit(summary(sys.argv[2], sys.argv[3:]))
    if len(sys.argv) > 1 and sys.argv[1] == "suites":
        sys.exit(suites(sys.argv[2:]))
    sys.exit(__doc__)
