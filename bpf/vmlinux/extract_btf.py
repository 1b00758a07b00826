#!/usr/bin/env python3
"""The kernel's BTF from a Debian kernel image (vmlinuz), for a vmlinux.h
that does not depend on the build machine's kernel.

    extract_btf.py VMLINUZ OUT.btf

Works for x86's bzImage (a compressed ELF vmlinux inside) and arm64's
vmlinuz (a gzip-compressed raw Image): the compressed payload is found by
its magic and unpacked, then the BTF blob by its header (magic 0xeB9F,
version 1, a 24-byte header, types then strings). Exit status 1 when none
is found.
"""
import lzma
import struct
import sys
import zlib

BTF_MAGIC = b"\x9f\xeb\x01\x00"  # 0xeB9F little-endian, version 1, flags 0


def payloads(data):
    """Every decompressible payload found in data, largest first."""
    found = []
    for magic, unpack in ((b"\xfd7zXZ\x00", lambda b: lzma.LZMADecompressor().decompress(b)),
                          (b"\x1f\x8b\x08", lambda b: zlib.decompressobj(31).decompress(b))):
        start = 0
        while (i := data.find(magic, start)) >= 0:
            start = i + 1
            try:
                out = unpack(data[i:])
            except (lzma.LZMAError, zlib.error, EOFError):
                continue
            if len(out) > 1 << 20:
                found.append(out)
    found.append(data)  # an uncompressed image
    return sorted(found, key=len, reverse=True)


def find_btf(image):
    i = 0
    while (i := image.find(BTF_MAGIC, i)) >= 0:
        hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<5I", image, i + 4)
        if hdr_len == 24 and type_off == 0 and str_off == type_len and str_len > 4096 \
                and i + hdr_len + str_off + str_len <= len(image):
            return image[i:i + hdr_len + str_off + str_len]
        i += 1
    return None


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().split("\n\n")[1].strip())
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    for image in payloads(data):
        btf = find_btf(image)
        if btf:
            with open(sys.argv[2], "wb") as f:
                f.write(btf)
            print("%s: %d bytes of BTF" % (sys.argv[2], len(btf)))
            return 0
    print("%s: no BTF found" % sys.argv[1], file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
