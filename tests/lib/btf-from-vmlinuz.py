#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the BTF of a kernel image out as a raw BTF file, for
`bpftool btf dump file BLOB format c` (an arm64 vmlinux.h made on any
machine, from Debian's kernel package rather than the running kernel).

btf-from-vmlinuz.py VMLINUZ BLOB

VMLINUZ: Debian's arm64 /boot/vmlinuz-* (a gzip-compressed raw Image) or
the raw Image itself. The kernel's .BTF section lies in the image as it is:
found by its header (struct btf_header: magic 0xeB9F little-endian, version
1, flags 0, hdr_len 24, then type_off, type_len, str_off, str_len, all
u32); the blob is hdr_len + str_off + str_len bytes. Of the candidates,
the one whose sections are consistent (types start at 0, strings right
after them, a string section that starts with the empty string and ends
with a NUL) and that is largest is vmlinux's. Exit status 1 with a
sentence when there is none.
"""
import gzip
import struct
import sys

HEADER = struct.Struct("<HBBIIIII")  # magic version flags hdr_len type_off type_len str_off str_len
PREFIX = b"\x9f\xeb\x01\x00\x18\x00\x00\x00"  # magic, version 1, flags 0, hdr_len 24


def candidates(image):
    pos = image.find(PREFIX)
    while pos >= 0:
        if pos + HEADER.size <= len(image):
            _, _, _, hdr_len, type_off, type_len, str_off, str_len = HEADER.unpack_from(image, pos)
            size = hdr_len + str_off + str_len
            strings = image[pos + hdr_len + str_off:pos + size]
            if (type_off == 0 and type_len > 0 and str_off == type_len and str_len > 0
                    and pos + size <= len(image) and strings[:1] == b"\0" and strings[-1:] == b"\0"):
                yield pos, size
        pos = image.find(PREFIX, pos + 1)


def main(argv):
    if len(argv) != 3:
        print("usage: btf-from-vmlinuz.py VMLINUZ BLOB", file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        image = f.read()
    if image[:2] == b"\x1f\x8b":
        image = gzip.decompress(image)
    found = sorted(candidates(image), key=lambda c: c[1])
    if not found:
        print(f"btf-from-vmlinuz.py: no BTF header (0xeB9F, version 1, hdr_len 24) in {argv[1]}",
              file=sys.stderr)
        return 1
    pos, size = found[-1]
    with open(argv[2], "wb") as f:
        f.write(image[pos:pos + size])
    print(f"BTF of {size} bytes at offset {pos:#x} of the image ({len(found)} candidate(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
