#!/usr/bin/env python3
"""The packages of debian/control's Build-Depends, for installing into a
Debian tree of a release: the first of alternatives (but for systemd.pc,
which Debian 12's systemd holds and Debian 13's systemd-dev), without
versions, profiles or the packages debhelper provides itself.

    build_depends.py CONTROL CODENAME
"""
import re
import sys


def main():
    control, codename = sys.argv[1], sys.argv[2]
    text = open(control).read()
    field = re.search(r"^Build-Depends:(.*?)^\S", text, re.M | re.S).group(1)
    names = []
    for item in field.replace("\n", " ").split(","):
        alts = [re.sub(r"\(.*?\)|<.*?>|\[.*?\]", "", a).strip() for a in item.split("|")]
        alts = [a for a in alts if a]
        if alts and alts[0] == "systemd-dev" and codename == "bookworm":
            alts = alts[1:]
        if alts and not alts[0].startswith(("dh-sequence-", "debhelper-compat")):
            names.append(alts[0])
    print(" ".join(names))


if __name__ == "__main__":
    main()
