#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""scdoc SCDOC_BIN INPUT OUTPUT: INPUT through scdoc(1) into OUTPUT, minus the
paragraph macros scdoc puts where they do nothing (right after a section
header, or with no text before the next header, .RE, .P or the end), so
that the page passes `mandoc -T lint -W warning` clean."""
import subprocess
import sys

scdoc, src, dst = sys.argv[1:4]
with open(src, "rb") as f:
    roff = subprocess.run([scdoc], stdin=f, stdout=subprocess.PIPE, check=True).stdout
lines = roff.decode("utf-8").split("\n")


def is_paragraph(line):
    return line in (".P", ".PP", ".LP")


def ends_paragraph(line):
    return line is None or is_paragraph(line) or line == ".RE" or line.startswith((".SH", ".SS"))


# scdoc ends each indented block with ".P" then ".RE": the paragraph break
# belongs after the block, where it separates it from what follows.
for i in range(len(lines) - 1, 0, -1):
    if lines[i] == ".RE" and is_paragraph(lines[i - 1]):
        lines[i - 1], lines[i] = lines[i], lines[i - 1]

out = []
for i, line in enumerate(lines):
    if is_paragraph(line):
        prev = out[-1] if out else ""
        nxt = next((x for x in lines[i + 1:] if x != ""), None)
        if prev.startswith((".SH", ".SS", ".TH")) or ends_paragraph(nxt):
            continue
    out.append(line)

with open(dst, "w", encoding="utf-8") as f:
    f.write("\n".join(out))
