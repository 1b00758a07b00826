#!/usr/bin/env python3
"""Every program the tests and the bench run comes from a package that
tests/lib/deps.sh installs, or that every Debian 12 and 13 has.

check_programs.py SOURCE_ROOT

Reads the scripts under tests/ and bench/, demo.sh, run-tests.sh and .ci/run
(scan.py says how), leaves out the project's own programs and functions and
the shell's builtins, and finds each other program's package: in
programs.txt, else with dpkg -S where the program is installed. A program
whose package deps.sh does not install fails, and so does one whose package
cannot be told (not installed here, not in programs.txt). Exit status: 0
pass, 1 fail.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scan  # noqa: E402

# In every minimal Debian 12 and 13 (debootstrap --variant=minbase: the
# Essential and required packages).
BASE = {"apt", "bash", "bsdutils", "coreutils", "dash", "debianutils", "diffutils", "dpkg",
        "findutils", "grep", "gzip", "libc-bin", "mawk", "mount", "ncurses-bin", "passwd",
        "perl-base", "sed", "tar", "util-linux"}
# Scripts run inside the qemu guests, whose programs the guest tree has.
IN_GUESTS = re.compile(r"tests/vm/(.*-guest\.sh|initramfs-guest-lib\.sh|systemd-init\.sh)$")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def scripts(root):
    out = [p for p in ("demo.sh", "run-tests.sh", ".ci/run") if os.path.exists(os.path.join(root, p))]
    for top in ("tests", "bench"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                rel = os.path.relpath(os.path.join(d, f), root)
                if f.endswith((".sh", ".py")) or f == "meson.build":
                    if not IN_GUESTS.search(rel):
                        out.append(rel)
    return sorted(out)


def project_names(root, shell_files):
    """The project's files, built programs and shell functions."""
    names = set()
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith((".git", "build"))]
        names.update(files)
        for f in files:
            if f == "meson.build":
                with open(os.path.join(d, f), encoding="utf-8") as m:
                    names.update(re.findall(r"executable\(\s*'([^']+)'", m.read()))
    for f in shell_files:
        with open(os.path.join(root, f), encoding="utf-8") as s:
            names.update(re.findall(r"^\s*(?:function\s+)?([\w-]+)\s*\(\)", s.read(), re.M))
    return names


def shell_words():
    r = subprocess.run(["bash", "-c", "compgen -b; compgen -k"], capture_output=True, text=True,
                       check=True)
    return set(r.stdout.split())


def deps_packages(root):
    r = subprocess.run(["bash", "-c", '. tests/lib/deps.sh && echo $GREETER_BUILD_DEPS '
                        '$GREETER_TEST_DEPS $GREETER_TEST_ROOT_DEPS $GREETER_TEST_SSH_DEPS'],
                       cwd=root, capture_output=True, text=True, check=True)
    return set(r.stdout.split())


def read_table(path):
    table = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                prog, pkg, *why = line.split(None, 2)
                table[prog] = (pkg, why[0].strip() if why else "")
    return table


def which(prog):
    if prog.startswith("/"):
        return prog if os.path.exists(prog) else None
    for d in SYSTEM_PATH.split(":"):
        p = os.path.join(d, prog)
        if os.access(p, os.X_OK):
            return p
    return None


def dpkg_owners(paths):
    """{path: the package that installed it (under either side of the /usr
    merge)} for those of paths dpkg knows; one dpkg-query for all."""
    cands = {}
    for path in paths:
        for p in {path, os.path.realpath(path)}:
            for c in (p, p[4:] if p.startswith("/usr/") else "/usr" + p):
                cands.setdefault(c, set()).add(path)
    r = subprocess.run(["dpkg-query", "-S", *sorted(cands)], capture_output=True, text=True)
    owners = {}
    for line in r.stdout.splitlines():
        pkgs, _, p = line.partition(": ")
        if p in cands and not line.startswith("diversion"):
            for path in cands[p]:
                owners.setdefault(path, pkgs.split(",")[0].split(":")[0].strip())
    return owners


def depends_of(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Pre-Depends}, ${Depends}", pkg],
                       capture_output=True, text=True)
    return set(re.findall(r"(?:^|[,|]\s*)([\w.+-]+)", r.stdout))


def main():
    root = sys.argv[1]
    files = scripts(root)
    shell_files = [f for f in files if not f.endswith((".py", "meson.build"))]
    own = project_names(root, shell_files) | shell_words()
    table = read_table(os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs.txt"))
    deps = deps_packages(root)
    have_dpkg = subprocess.run(["sh", "-c", "command -v dpkg-query"], capture_output=True).returncode == 0

    where = {}
    for f in files:
        path = os.path.join(root, f)
        for no, prog in scan.programs(path):
            name = os.path.basename(prog)
            if name not in own:
                where.setdefault(prog, []).append("%s:%d" % (f, no))

    paths = {prog: which(prog) for prog in where}
    owners = dpkg_owners([p for p in paths.values() if p]) if have_dpkg else {}
    failed = []
    for prog in sorted(where):
        at = where[prog][0] + (" and %d more" % (len(where[prog]) - 1) if len(where[prog]) > 1 else "")
        pkg, why = table.get(os.path.basename(prog), (None, ""))
        path = paths[prog]
        owner = owners.get(path)
        if pkg and owner and owner != pkg and owner not in depends_of(pkg):
            failed.append("%s (%s): programs.txt says package %s, dpkg says %s" % (prog, at, pkg, owner))
            continue
        if not pkg and owner and owner not in BASE:
            failed.append("%s (%s) is not in tests/deps/programs.txt: add the line \"%s %s\", and "
                          "%s to tests/lib/deps.sh" % (prog, at, os.path.basename(prog), owner, owner))
            continue
        pkg = pkg or owner
        if not pkg:
            failed.append("%s (%s): %s; name its Debian package in tests/deps/programs.txt and in "
                          "tests/lib/deps.sh" % (prog, at, "no package installed it" if path else
                                                 "not installed here, and not in tests/deps/programs.txt"))
        elif pkg in BASE:
            print("ok: %s (%s, every Debian has it)" % (prog, pkg))
        elif pkg in deps:
            print("ok: %s (%s, installed by tests/lib/deps.sh)" % (prog, pkg))
        elif why:
            print("ok: %s (%s, not installed by deps.sh: %s)" % (prog, pkg, why))
        else:
            failed.append("%s (%s) comes from the package %s, which tests/lib/deps.sh does not "
                          "install: add it there (and to tests/deps/programs.txt)" % (prog, at, pkg))
    stale = sorted(set(table) - {os.path.basename(p) for p in where})
    if stale:
        failed.append("tests/deps/programs.txt names programs nothing runs any more: " + " ".join(stale))
    for f in failed:
        print("FAIL: " + f)
    print("%d programs run by %d scripts, %d failed" % (len(where), len(files), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
