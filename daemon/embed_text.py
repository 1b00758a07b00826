#!/usr/bin/env python3
# Turn a text file into a C string constant: embed_text.py NAME INPUT OUTPUT
import sys

name, src, dst = sys.argv[1:4]
with open(src, encoding="utf-8") as f:
    text = f.read()
with open(dst, "w", encoding="utf-8") as out:
    out.write("/* Generated from %s; do not edit. */\n" % src.split("/")[-1])
    out.write("extern const char %s[];\nconst char %s[] =\n" % (name, name))
    for line in text.splitlines(keepends=True):
        esc = line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        out.write('\t"%s"\n' % esc)
    out.write(";\n")
