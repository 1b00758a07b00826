#!/usr/bin/env python3
# Turn a text file into a NUL-terminated C char array: embed_text.py NAME INPUT OUTPUT
# (an array, not a string literal: ISO C bounds literals at 4095 bytes).
import sys

name, src, dst = sys.argv[1:4]
with open(src, encoding="utf-8") as f:
    data = f.read().encode("utf-8") + b"\0"
with open(dst, "w", encoding="utf-8") as out:
    out.write("/* Generated from %s; do not edit. */\n" % src.split("/")[-1])
    out.write("extern const char %s[];\nconst char %s[] = {\n" % (name, name))
    for i in range(0, len(data), 16):
        out.write("\t" + " ".join("0x%02x," % b for b in data[i:i + 16]) + "\n")
    out.write("};\n")
