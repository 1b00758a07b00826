#!/usr/bin/env python3
"""Turn a varlink interface definition into C: varlink_idl_gen.py IDL OUT.c OUT.h

The IDL is the one description of the interface. From it come:
- the names of its methods and errors (IO_GREETER_SET_MESSAGE,
  IO_GREETER_ERROR_NO_SUCH_MESSAGE), for the server and the clients;
- for each method, a struct of its parameters (struct
  io_greeter_set_message_params) and the table (io_greeter_set_message_idl)
  by which varlink_idl_dispatch() checks a call against the IDL (names,
  types, optional, "more" required) and fills the struct;
- for each method, a struct of its reply (struct io_greeter_get_status_reply)
  and the function that writes it as JSON (io_greeter_get_status_reply_json);
- for each named struct type, a struct (struct io_greeter_counters), the
  function that writes it as JSON and, when its fields are all scalars,
  the one that reads and checks it (io_greeter_message_read);
- the rows of the server's method table, IO_GREETER_METHODS(method_): each
  method served by the function of its name, so that a method is its line
  in the IDL and the function that implements it;
- the text itself, NUL-terminated, served by GetInterfaceDescription.

A method whose comment holds "[Requires 'more' flag]" must be called with
"more". Named types (structs, enums) as parameters reach the method as JSON
for it to read (ImportMessages says which entry of a list is wrong). In
replies and types, an enum is its value's name (a string), an array is a C
array and its count, a struct type is its struct (a pointer when optional).
"""
import re
import sys

SCALARS = {"bool": "BOOL", "int": "INT", "float": "FLOAT", "string": "STRING", "object": "ANY"}
C_SCALAR = {"BOOL": "bool", "INT": "int64_t", "FLOAT": "double", "STRING": "const char *",
            "ANY": "const cJSON *"}
TOKEN = re.compile(r"\s*(->|[()\[\]?:,]|[A-Za-z][\w.]*)")


def fail(msg):
    raise SystemExit("varlink_idl_gen.py: " + msg)


def lex(text):
    """The IDL's tokens, comments left out."""
    toks = []
    for line in text.splitlines():
        code = line.partition("#")[0]
        pos = 0
        while code[pos:].strip():
            m = TOKEN.match(code, pos)
            if not m:
                fail("cannot read %r" % code[pos:].strip())
            toks.append(m.group(1))
            pos = m.end()
    return toks


class Parser:
    def __init__(self, toks):
        self.toks, self.i = toks, 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, want=None):
        t = self.peek()
        if t is None or (want and t != want):
            fail("expected %r, found %r" % (want or "more", t))
        self.i += 1
        return t

    def type_expr(self):
        """(nullable, array, base): base a scalar or a named type."""
        nullable = self.peek() == "?"
        if nullable:
            self.take()
        array = self.peek() == "["
        if array:
            self.take("[")
            if self.peek() != "]":
                fail("maps ([string]T) are not supported")
            self.take("]")
        base = self.take()
        if base in ("(", "?", "["):
            fail("inline types and nested arrays or optionals are not supported: name them")
        return (nullable, array, base)

    def fields(self):
        """'(' name: type, ... ')' as [(name, type)]; an enum's as [(name, None)]."""
        out = []
        self.take("(")
        while self.peek() != ")":
            name = self.take()
            typ = None
            if self.peek() == ":":
                self.take()
                typ = self.type_expr()
            out.append((name, typ))
            if self.peek() == ",":
                self.take()
        self.take(")")
        return out


def parse(text):
    """The interface's name, types (an enum's fields None), methods and errors."""
    notes, comments = {}, []
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
    p = Parser(lex(text))
    p.take("interface")
    iface = p.take()
    types, methods, errors = {}, [], []
    while p.peek():
        kind, name = p.take(), p.take()
        if kind == "type":
            fields = p.fields()
            enum = all(t is None for _, t in fields)
            if not enum and any(t is None for _, t in fields):
                fail("type %s mixes fields and enum values" % name)
            types[name] = None if enum else fields
        elif kind == "method":
            params = p.fields()
            p.take("->")
            reply = p.fields()
            more = any("[Requires 'more' flag]" in c for c in notes.get(name, []))
            methods.append((name, params, reply, more))
        elif kind == "error":
            p.fields()
            errors.append(name)
        else:
            fail("unknown member %r" % kind)
    for fields in [f for f in types.values() if f] + [m[1] + m[2] for m in methods]:
        for fname, (_, _, base) in fields:
            if base not in SCALARS and base not in types:
                fail("%s: unknown type %s" % (fname, base))
    return iface, types, methods, errors


def c_name(camel):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", camel).lower()


class Gen:
    def __init__(self, iface, types):
        self.iface, self.types = iface, types
        self.prefix = iface.replace(".", "_")

    def struct_of(self, base):
        return "struct %s_%s" % (self.prefix, c_name(base))

    def is_struct(self, base):
        return base in self.types and self.types[base] is not None

    def kind(self, base):
        if base in SCALARS:
            return SCALARS[base]
        return "STRUCT" if self.is_struct(base) else "STRING"  # an enum: its name

    def readable(self, fields):
        """Fields varlink_idl_dispatch() reads into a struct of the same layout."""
        return all(not arr and self.kind(b) != "STRUCT" for _, (_, arr, b) in fields)

    def row(self, owner, name, kind, array=False, nullable=False, has=False, count=False,
            type_=None):
        off = lambda m: "offsetof(%s, %s)" % (owner, m)
        r = '\t{ .name = "%s", .kind = VARLINK_IDL_%s, ' % (name, kind)
        r += ".array = true, " if array else ""
        r += ".nullable = true, " if nullable else ""
        r += ".offset = %s,\n\t  .has_offset = %s, .count_offset = %s" % (
            off(name), off("has_" + name) if has else "SIZE_MAX",
            off("n_" + name) if count else "SIZE_MAX")
        r += ", .type = &%s_idl" % type_ if type_ else ""
        return r + " },"

    def param_fields(self, owner, fields):
        """As the method reads them: arrays and named types as JSON."""
        decls, rows = [], []
        for name, (nullable, array, base) in fields:
            kind = "ANY" if array and base not in SCALARS else SCALARS.get(base, "ANY")
            has = False
            if array or kind == "ANY":
                t = ("?" if nullable else "") + ("[]" if array else "") + base
                decls.append("\tconst cJSON *%s; /* %s: NULL when absent */" % (name, t))
            elif kind == "STRING":
                decls.append("\tconst char *%s; /* NULL when absent */" % name)
            else:
                decls.append("\t%s %s;" % (C_SCALAR[kind], name))
                if nullable:
                    decls.append("\tbool has_%s;" % name)
                    has = True
            rows.append(self.row(owner, name, kind, array, nullable, has))
        return decls, rows

    def value_fields(self, owner, fields):
        """As replies and types hold them: C arrays, structs, enums as names."""
        decls, rows = [], []
        for name, (nullable, array, base) in fields:
            kind = self.kind(base)
            type_ = "%s_%s" % (self.prefix, c_name(base)) if kind == "STRUCT" else None
            has = count = False
            if kind == "ANY":
                array = False  # []object too: the JSON as is
                decls.append("\tconst cJSON *%s;%s" % (name, " /* NULL when absent */"
                                                        if nullable else ""))
            elif array:
                if kind == "STRUCT":
                    elem = "const %s *" % self.struct_of(base)
                elif kind == "STRING":
                    elem = "const char *const *"
                else:
                    elem = "const %s *" % C_SCALAR[kind]
                decls.append("\t%s%s;%s" % (elem, name, " /* NULL when absent */"
                                              if nullable else ""))
                decls.append("\tsize_t n_%s;" % name)
                count = True
            elif type_:
                decls.append("\t%s%s%s%s;%s" % ("const " if nullable else "", self.struct_of(base),
                                              " *" if nullable else " ", name,
                                              " /* NULL when absent */" if nullable else ""))
            elif kind == "STRING":
                decls.append("\tconst char *%s;%s" % (name, " /* NULL when absent */"
                                                      if nullable else ""))
            else:
                decls.append("\t%s %s;" % (C_SCALAR[kind], name))
                if nullable:
                    decls.append("\tbool has_%s;" % name)
                    has = True
            rows.append(self.row(owner, name, kind, array, nullable, has, count, type_))
        return decls, rows

    def table(self, c, name, owner, rows, static=True):
        """A struct varlink_idl_struct for rows; returns its initializer."""
        if rows:
            c.append("static const struct varlink_idl_field %s_fields[] = {" % name)
            c += rows
            c.append("};")
        return "{ .fields = %s, .n_fields = %d, .size = sizeof(%s) }" % (
            "%s_fields" % name if rows else "NULL", len(rows), owner)


def ordered(types):
    """Struct types, each after those it holds."""
    out, seen = [], set()

    def visit(name, path):
        if name in seen:
            return
        if name in path:
            fail("type %s holds itself" % name)
        for _, (nullable, array, base) in types[name]:
            if base in types and types[base] is not None and not (nullable or array):
                visit(base, path + [name])
        seen.add(name)
        out.append(name)

    for name in types:
        if types[name] is not None:
            visit(name, [])
    return out


def main():
    src, out_c, out_h = sys.argv[1:4]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    iface, types, methods, errors = parse(text)
    g = Gen(iface, types)
    prefix, upper = g.prefix, g.prefix.upper()
    source = src.split("/")[-1]

    guard = upper + "_VARLINK_H"
    h = ["/* Generated from %s by varlink_idl_gen.py; do not edit. */" % source,
         "#ifndef " + guard, "#define " + guard, "",
         "#include <cjson/cJSON.h>", "#include <stdbool.h>", "#include <stddef.h>",
         "#include <stdint.h>", "", '#include "varlink_idl.h"', "",
         '#define %s_INTERFACE "%s"' % (upper, iface), ""]
    for name in errors:
        h.append('#define %s_ERROR_%s "%s.%s"' % (upper, c_name(name).upper(), iface, name))
    h.append("")
    c = ["/* Generated from %s by varlink_idl_gen.py; do not edit. */" % source,
         "#include <stddef.h>", "",
         '#include "%s"' % out_h.split("/")[-1], ""]

    for name in ordered(types):
        base = "%s_%s" % (prefix, c_name(name))
        owner = g.struct_of(name)
        decls, rows = g.value_fields(owner, types[name])
        h.append("/* %s.%s */" % (iface, name))
        h.append("%s {" % owner)
        h += decls or ["\tchar unused; /* no fields */"]
        h.append("};")
        h.append("extern const struct varlink_idl_struct %s_idl;" % base)
        h.append("cJSON *%s_json(const %s *v);" % (base, owner))
        c.append("const struct varlink_idl_struct %s_idl = %s;" % (
            base, g.table(c, base, owner, rows)))
        c.append("cJSON *%s_json(const %s *v)" % (base, owner))
        c += ["{", "\treturn varlink_idl_build(&%s_idl, v);" % base, "}", ""]
        if g.readable(types[name]):
            h.append("int %s_read(const cJSON *json, %s *out, const char **bad);"
                     % (base, owner))
            c.append("int %s_read(const cJSON *json, %s *out, const char **bad)"
                     % (base, owner))
            c += ["{", "\treturn varlink_idl_dispatch(&%s_idl, json, out, bad);" % base, "}", ""]
        h.append("")

    for name, params, reply, more in methods:
        base = "%s_%s" % (prefix, c_name(name))
        h.append('#define %s "%s.%s"' % (base.upper(), iface, name))
        owner = "struct %s_params" % base
        decls, rows = g.param_fields(owner, params)
        h.append("%s {" % owner)
        h += decls or ["\tchar unused; /* no parameters */"]
        h.append("};")
        ptable = g.table(c, base + "_params", owner, rows)
        rtable = "{ 0 }"
        if reply:
            owner = "struct %s_reply" % base
            decls, rows = g.value_fields(owner, reply)
            h.append("%s {" % owner)
            h += decls
            h.append("};")
            h.append("cJSON *%s_reply_json(const %s *r);" % (base, owner))
            rtable = g.table(c, base + "_reply", owner, rows)
        h.append("extern const struct varlink_idl_method %s_idl;" % base)
        h.append("")
        c.append("const struct varlink_idl_method %s_idl = {" % base)
        c.append('\t.name = "%s.%s",' % (iface, name))
        c.append("\t.parameters = %s," % ptable)
        c.append("\t.reply = %s," % rtable)
        c.append("\t.requires_more = %s," % ("true" if more else "false"))
        c.append("};")
        if reply:
            c.append("cJSON *%s_reply_json(const %s *r)" % (base, owner))
            c += ["{", "\treturn varlink_idl_build(&%s_idl.reply, r);" % base, "}"]
        c.append("")
    # The tables the reader fills its arrays from are bounded.
    for name, params, _, _ in methods:
        c.append("_Static_assert(%d <= VARLINK_IDL_FIELDS_MAX, \"%s: too many parameters\");"
                 % (len(params), name))
    for name in types:
        if types[name] is not None and g.readable(types[name]):
            c.append("_Static_assert(%d <= VARLINK_IDL_FIELDS_MAX, \"%s: too many fields\");"
                     % (len(types[name]), name))
    c.append("")

    h.append("/*")
    h.append(" * The rows of a struct varlink_method table (varlink_server.h), each")
    h.append(" * method served by fn_prefix<method>(): a method without its function")
    h.append(" * does not build.")
    h.append(" */")
    h.append("#define %s_METHODS(fn_prefix) \\" % upper)
    for i, (name, _, _, _) in enumerate(methods):
        base = "%s_%s" % (prefix, c_name(name))
        h.append("\t{ %s, fn_prefix##%s, &%s_idl },%s" % (
            base.upper(), c_name(name), base, " \\" if i + 1 < len(methods) else ""))
    h.append("")
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
