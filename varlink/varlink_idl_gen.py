#!/usr/bin/env python3
"""Turn a varlink interface definition into C: varlink_idl_gen.py IDL OUT.c OUT.h

The IDL is the one description of the interface. From it come:
- the names of its methods and errors (IO_GREETER_SET_MESSAGE,
  IO_GREETER_ERROR_NO_SUCH_MESSAGE), for the server and the clients;
- for each method, a struct of its parameters (struct
  io_greeter_set_message_params) and the table (io_greeter_set_message_idl)
  by which varlink_idl_dispatch() checks a call against the IDL (names,
  types, optional, "more" required) and fills the struct;
- the text itself, NUL-terminated, served by GetInterfaceDescription.

A method whose comment holds "[Requires 'more' flag]" must be called with
"more". Named types (structs, enums) as parameters reach the method as JSON
for it to read (ImportMessages says which entry of a list is wrong).
"""
import re
import sys

SCALARS = {"bool": "BOOL", "int": "INT", "float": "FLOAT", "string": "STRING", "object": "ANY"}


def tokens(text):
    """The IDL without comments, and the comments before each method."""
    body, comments, notes = [], [], {}
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#"):
            comments.append(s)
            continue
        m = re.match(r"method\s+(\w+)", s)
        if m:
            notes[m.group(1)] = comments
        if s:
            comments = []
        body.append(line)
    return "\n".join(body), notes


def split_fields(inner):
    """'a: int, b: ?[]string' -> [(name, type)], commas inside () kept."""
    fields, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            fields.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        fields.append(cur)
    out = []
    for f in fields:
        name, _, typ = f.partition(":")
        out.append((name.strip(), re.sub(r"\s+", "", typ)))
    return out


def balanced(text, start):
    """The text inside the parentheses opening at text[start]."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i], i + 1
    raise SystemExit("unbalanced parentheses in the IDL")


def c_name(camel):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", camel).lower()


def main():
    src, out_c, out_h = sys.argv[1:4]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    body, notes = tokens(text)
    iface = re.search(r"^\s*interface\s+([\w.]+)", body, re.M).group(1)
    prefix = iface.replace(".", "_")
    methods, errors = [], []
    for m in re.finditer(r"\b(method|error)\s+(\w+)\s*", body):
        inner, _ = balanced(body, m.end())
        if m.group(1) == "method":
            more = any("[Requires 'more' flag]" in c for c in notes.get(m.group(2), []))
            methods.append((m.group(2), split_fields(inner), more))
        else:
            errors.append(m.group(2))

    guard = prefix.upper() + "_VARLINK_H"
    h = ["/* Generated from %s by varlink_idl_gen.py; do not edit. */" % src.split("/")[-1],
         "#ifndef " + guard, "#define " + guard, "",
         "#include <cjson/cJSON.h>", "#include <stdbool.h>", "#include <stdint.h>", "",
         '#include "varlink_idl.h"', "",
         '#define %s_INTERFACE "%s"' % (prefix.upper(), iface), ""]
    for name in errors:
        h.append('#define %s_ERROR_%s "%s.%s"' % (prefix.upper(), c_name(name).upper(), iface, name))
    h.append("")
    c = ["/* Generated from %s by varlink_idl_gen.py; do not edit. */" % src.split("/")[-1],
         "#include <stddef.h>", "",
         '#include "%s"' % out_h.split("/")[-1], ""]
    for name, params, more in methods:
        base = "%s_%s" % (prefix, c_name(name))
        h.append('#define %s "%s.%s"' % (base.upper(), iface, name))
        h.append("struct %s_params {" % base)
        rows = []
        for pname, typ in params:
            nullable = typ.startswith("?")
            t = typ.lstrip("?")
            array = t.startswith("[]")
            t = t[2:] if array else t
            kind = "ANY" if array and t not in SCALARS else SCALARS.get(t, "ANY")
            has = "SIZE_MAX"
            if array or kind in ("ANY",):
                h.append("\tconst cJSON *%s; /* %s: NULL when absent */" % (pname, typ))
            elif kind == "STRING":
                h.append("\tconst char *%s; /* NULL when absent */" % pname)
            else:
                ctype = {"BOOL": "bool", "INT": "int64_t", "FLOAT": "double"}[kind]
                h.append("\t%s %s;" % (ctype, pname))
                if nullable:
                    h.append("\tbool has_%s;" % pname)
                    has = "offsetof(struct %s_params, has_%s)" % (base, pname)
            rows.append('\t{ "%s", VARLINK_IDL_%s, %s, %s, offsetof(struct %s_params, %s), %s },'
                        % (pname, kind, "true" if array else "false",
                           "true" if nullable else "false", base, pname, has))
        if not params:
            h.append("\tchar unused; /* no parameters */")
        h.append("};")
        h.append("extern const struct varlink_idl_method %s_idl;" % base)
        h.append("")
        if rows:
            c.append("static const struct varlink_idl_field %s_fields[] = {" % base)
            c += rows
            c.append("};")
        c.append("const struct varlink_idl_method %s_idl = {" % base)
        c.append('\t.name = "%s.%s",' % (iface, name))
        c.append("\t.fields = %s," % ("%s_fields" % base if rows else "NULL"))
        c.append("\t.n_fields = %d," % len(rows))
        c.append("\t.params_size = sizeof(struct %s_params)," % base)
        c.append("\t.requires_more = %s," % ("true" if more else "false"))
        c.append("};")
        c.append("")
    h.append("/* The interface definition, as served by GetInterfaceDescription. */")
    h.append("extern const char %s_description[];" % prefix)
    h += ["", "#endif"]
    # An array, not a string literal: ISO C bounds literals at 4095 bytes.
    data = text.encode("utf-8") + b"\0"
    c.append("const char %s_description[] = {" % prefix)
    for i in range(0, len(data), 16):
        c.append("\t" + " ".join("0x%02x," % b for b in data[i:i + 16]))
    c.append("};")
    with open(out_h, "w", encoding="utf-8") as f:
        f.write("\n".join(h) + "\n")
    with open(out_c, "w", encoding="utf-8") as f:
        f.write("\n".join(c) + "\n")


if __name__ == "__main__":
    main()
