#!/usr/bin/env python3
"""The packages of debian/control's Build-Depends, for installing into a
Debian tree of a release: the first of alternatives (but for systemd.pc,
which Debian 12's systemd holds and Debian 13's systemd-dev), without
versions, profiles or the packages debhelper provides itself.

    build_depends.py CONTROL CODENAME [HOST_ARCH]

With HOST_ARCH (arm64), for a cross build: the libraries' -dev packages
(but the Architecture: all ones in ARCH_ALL) and pkgconf, which must be the host architecture's, named
PACKAGE:HOST_ARCH; everything else (the tools: :native, :any, Multi-Arch:
foreign or Architecture: all) this machine's. A rule by name, not by the
archive's Multi-Arch fields: dpkg-buildpackage -a HOST_ARCH checks the
result against the field itself.
"""
import re
import sys

# The -dev packages of Build-Depends that hold no library (Architecture: all).
ARCH_ALL = {"systemd-dev"}


def main():
    control, codename = sys.argv[1], sys.argv[2]
    host_arch = sys.argv[3] if len(sys.argv) > 3 else None
    text = open(control).read()
    field = re.search(r"^Build-Depends:(.*?)^\S", text, re.M | re.S).group(1)
    names = []
    for item in field.replace("\n", " ").split(","):
        alts = [re.sub(r"\(.*?\)|<.*?>|\[.*?\]", "", a).strip() for a in item.split("|")]
        alts = [a for a in alts if a]
        if alts and alts[0] == "systemd-dev" and codename == "bookworm":
            alts = alts[1:]
        if not alts or alts[0].startswith(("dh-sequence-", "debhelper-compat")):
            continue
        name, qualified = alts[0].split(":")[0], ":" in alts[0]
        if host_arch and not qualified and ((name.endswith("-dev") and name not in ARCH_ALL) or name == "pkgconf"):
            name += ":" + host_arch
        names.append(name)
    print(" ".join(names))


if __name__ == "__main__":
    main()
