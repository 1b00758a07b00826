#!/usr/bin/env python3
"""greeterctl import run again and again by configuration management
(Ansible, Salt): a file whose messages are already set writes nothing and
says so; one that differs says exactly what it changed.

strace, attached to greeterd and its log writer (and, with -f, any compactor
they start), records every fsync they make. A change is answered only once
it is fsync'd, so when its reply arrives strace has written the fsync down
(the first import proves that it does). An import that changes nothing,
merge or --replace, the file reordered or not, also after a restart:

- its reply and greeterctl's words say unchanged ("changed": false), status 0;
- no fsync by any of greeterd's processes;
- the state directory (the change log, the snapshot) holds the same files,
  same inodes, sizes and mtimes; GetStatus's change_log_size is the same;
- greeterd's log has no line about it.

One message changed, one removed and one added: counted exactly, written."""
import contextlib
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from greeter_test import *  # noqa: E402,F403

SYNC_RE = re.compile(r"\b(fsync|fdatasync|sync_file_range|syncfs|sync|msync)\(")
UNCHANGED = {"changed": False, "set": 3, "removed": 0, "added": 0, "updated": 0, "unchanged": 3}


def document(messages, indent=None):
    return json.dumps({"version": 1, "messages": messages}, indent=indent).encode()


def write(d, name, data):
    path = os.path.join(d.tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def ctl(d, *args):
    r = subprocess.run([GREETERCTL, "--socket", d.socket, *args], capture_output=True,
                       timeout=60)
    check(r.returncode == 0 and r.stderr == b"", "greeterctl %s: status 0, quiet (%r)" %
          (" ".join(args[:-1]), r))
    return r.stdout


@contextlib.contextmanager
def traced(d):
    """strace attached to greeterd and its children: yields a function that
    counts the syncs they made since."""
    trace, said = os.path.join(d.tmp, "syncs.strace"), os.path.join(d.tmp, "strace.err")
    pids = sorted({p for p, _ in family(d.proc.pid)})
    args = ["strace", "-f", "-o", trace, "-e",
            "trace=fsync,fdatasync,sync_file_range,syncfs,sync,msync"]
    for p in pids:
        args += ["-p", str(p)]
    with open(said, "w") as err:
        proc = subprocess.Popen(args, stderr=err)

    def attached():
        with open(said) as f:
            text = f.read()
        return all("Process %d attached" % p in text for p in pids)

    def syncs():
        with open(trace) as f:
            return len(SYNC_RE.findall(f.read()))
    try:
        if not wait_for(attached):
            fail("strace did not attach to %s" % pids)
        yield syncs
    finally:
        proc.terminate()  # strace detaches; greeterd goes on
        proc.wait()


def state_files(d):
    """The state directory as ls -li would show it: name, inode, size, mtime."""
    out = {}
    for name in sorted(os.listdir(d.state_dir)):
        st = os.stat(os.path.join(d.state_dir, name))
        out[name] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


def messages_of(d):
    return json.loads(ctl(d, "export"))["messages"]


def expect_nothing_written(d, syncs, what, run):
    """run() is an import that changes nothing: it wrote nothing, logged nothing."""
    before = (state_files(d), syncs(), d.status().get("change_log_size"), len(d.log()))
    run()
    after = (state_files(d), syncs(), d.status().get("change_log_size"), len(d.log()))
    check(after[0] == before[0], "%s: the state directory is untouched (%s)" % (what, after[0]))
    check(after[1] == before[1], "%s: no fsync (%d before, %d after)" %
          (what, before[1], after[1]))
    check(after[2] == before[2], "%s: change_log_size stays %s" % (what, after[2]))
    check(after[3] == before[3], "%s: greeterd logged nothing (%r)" %
          (what, d.log()[before[3]:]))


with Daemon("import-same") as d, contextlib.ExitStack() as stack:
    d.start()
    syncs = stack.enter_context(traced(d))
    msgs = {"501": "five-oh-one", "502": "five-oh-two", "default": "everyone"}
    f = write(d, "messages.json", document(msgs))

    n = syncs()
    r = json.loads(ctl(d, "import", "--replace", "--json", f))
    check(r == {"changed": True, "set": 3, "removed": 0, "added": 3, "updated": 0,
                "unchanged": 0}, "the first import: changed, 3 added (%s)" % r)
    check(syncs() > n, "strace saw the first import's fsync (%d, then %d)" % (n, syncs()))
    check(os.path.getsize(os.path.join(d.state_dir, "messages.log")) > 0,
          "the first import is in the change log")

    for opts, what in [(["--replace"], "import --replace again"), ([], "import again (merge)")]:
        def again():
            r = json.loads(ctl(d, "import", *opts, "--json", f))
            check(r == UNCHANGED, "%s: changed false, 3 unchanged (%s)" % (what, r))
        expect_nothing_written(d, syncs, what, again)

    # The same messages in another order and layout, in words.
    same = write(d, "reordered.json", document(dict(reversed(list(msgs.items()))), indent=4))

    def reordered():
        out = ctl(d, "import", "--replace", same)
        check(out == b"unchanged: 3 messages already as in %s\n" % same.encode(),
              "a reordered file: 'unchanged: 3 messages already as in FILE' (%r)" % out)
    expect_nothing_written(d, syncs, "import --replace of a reordered file", reordered)

    # One message changed, one removed, one added.
    new = {"501": "five-oh-one, changed", "503": "five-oh-three", "default": "everyone"}
    n, size = syncs(), d.status()["change_log_size"]
    r = json.loads(ctl(d, "import", "--replace", "--json", write(d, "new.json", document(new))))
    check(r == {"changed": True, "set": 3, "removed": 1, "added": 1, "updated": 1,
                "unchanged": 1}, "one changed, one removed, one added: counted so (%s)" % r)
    check(syncs() > n and d.status()["change_log_size"] > size,
          "that import was fsync'd and grew the change log")
    check(messages_of(d) == new, "the messages are the new file's")
    check("import by UID 0: 1 message(s) added, 1 updated, 1 removed, 1 unchanged" in d.log(),
          "greeterd logged what it changed")
    part = write(d, "part.json", document({"503": "five-oh-three"}))

    def merged():
        out = ctl(d, "import", part)
        check(out == b"unchanged: 1 message already as in %s\n" % part.encode(),
              "a merge of a message set already: unchanged (%r)" % out)
    expect_nothing_written(d, syncs, "a merge of a message set already", merged)

    # After a restart, once the log is compacted into the snapshot: the same.
    stack.close()
    d.stop()
    d.start()
    if not wait_for(lambda: d.status()["counters"]["compactions"] >= 1):
        fail("greeterd never compacted the change log at start: %s" % d.status()["counters"])
    syncs = stack.enter_context(traced(d))

    def restarted():
        r = json.loads(ctl(d, "import", "--replace", "--json", write(d, "new.json",
                                                                     document(new))))
        check(r == UNCHANGED, "after a restart: changed false (%s)" % r)
    expect_nothing_written(d, syncs, "import --replace after a restart", restarted)
    check("messages.json" in state_files(d), "the snapshot is there, and was left alone")
    r = json.loads(ctl(d, "import", "--replace", "--json", f))
    check(r["changed"] and syncs() > 0, "after a restart too, strace sees a change's fsync")
    check("BUG" not in d.log(), "no BUG in greeterd's log")
