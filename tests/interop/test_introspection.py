#!/usr/bin/env python3
"""varlinkctl's introspection of greeterd: info (text, --json=short, -j, a
unix: address and a plain path), list-interfaces, list-methods, introspect
of io.greeter (the shipped IDL), of org.varlink.service (the errors
io.greeter(7) says greeterd sends), of both, and of an unknown interface."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop import *  # noqa: E402,F403


def test():
    shipped, idl, version = state["shipped"], state["idl"], state["version"]
    formatted = vctl("validate-idl", T_IDL).out  # what introspect must print

    # -- info
    r = vctl("--json=short", "info", ADDR)
    info = parse_json(r.out, "info --json=short") if r.rc == 0 else None
    check(r.rc == 0 and isinstance(info, dict), "info --json=short", r)
    info = info or {}
    check(set(info) == {"vendor", "product", "version", "url", "interfaces"},
          "info: vendor, product, version, url, interfaces", info)
    check(info.get("vendor") == "greeter" and info.get("product") == "greeterd",
          "info: vendor greeter, product greeterd", info)
    check(info.get("version") == version, "info: version %s, as greeterd --version" % version, info)
    check(isinstance(info.get("url"), str) and info["url"].startswith("https://"), "info: an https URL", info)
    check(sorted(info.get("interfaces", [])) == ["io.greeter", "org.varlink.service"],
          "info: interfaces io.greeter and org.varlink.service", info)
    r2 = call("org.varlink.service.GetInfo", {})
    check(r2.rc == 0 and parse_json(r2.out, "GetInfo") == info, "call org.varlink.service.GetInfo equals info", r2)
    r2 = vctl("-j", "info", ADDR)
    check(r2.rc == 0 and r2.out == r.out, "-j info (not a tty) equals --json=short", r2)
    want_text = ("    Vendor: %s\n   Product: %s\n   Version: %s\n       URL: %s\n"
                 "Interfaces: io.greeter\n            org.varlink.service\n") % (
        info.get("vendor"), info.get("product"), info.get("version"), info.get("url"))
    r = vctl("info", ADDR)
    check(r.rc == 0 and r.out == want_text, "info (text): the table", r)
    r = vctl("info", T_SOCK)
    check(r.rc == 0 and r.out == want_text, "info with a plain path for an address", r)

    # -- list-interfaces, list-methods
    r = vctl("list-interfaces", ADDR)
    check(r.rc == 0 and r.out == "io.greeter\norg.varlink.service\n", "list-interfaces (text)", r)
    r = vctl("--json=short", "list-interfaces", ADDR)
    check(r.rc == 0 and parse_json(r.out, "list-interfaces") == info.get("interfaces"),
          "list-interfaces --json=short: GetInfo's list", r)
    want_methods = sorted("io.greeter." + m for m in idl.methods)
    check(want_methods == ["io.greeter." + m for m in ("GetMessage", "GetProcessChain", "GetStatus",
                                                       "ImportMessages", "ListMessages",
                                                       "RemoveMessage", "SetMessage", "WatchEvents")],
          "the shipped IDL has the eight methods of io.greeter(7)", want_methods)
    r = vctl("list-methods", ADDR)
    check(r.rc == 0 and r.out.split("\n")[:-1] == want_methods + [
        "org.varlink.service.GetInfo", "org.varlink.service.GetInterfaceDescription"],
        "list-methods: the IDL's methods and GetInfo, GetInterfaceDescription", r)
    r = vctl("--json=short", "list-methods", ADDR, "io.greeter")
    check(r.rc == 0 and parse_json(r.out, "list-methods") == want_methods, "list-methods io.greeter --json=short", r)

    # -- introspect
    r = vctl("introspect", ADDR, "io.greeter")
    check(r.rc == 0 and r.out == formatted, "introspect io.greeter prints the shipped IDL (as validate-idl formats it)", r)
    g_text = r.out
    r = vctl("--json=short", "introspect", ADDR, "io.greeter")
    d = parse_json(r.out, "introspect --json=short") if r.rc == 0 else None
    check(isinstance(d, dict) and list(d) == ["description"] and d["description"] == shipped,
          "introspect --json=short: the description is the shipped file, byte for byte", r)
    r = vctl("introspect", ADDR, "org.varlink.service")
    check(r.rc == 0, "introspect org.varlink.service", r)
    s_text = r.out
    try:
        state["svc_idl"] = Idl(s_text)
    except (ValueError, IndexError) as e:
        fatal("org.varlink.service as greeterd describes it does not parse: %s" % e)
    svc = state["svc_idl"]
    check(svc.name == "org.varlink.service" and set(svc.methods) == {"GetInfo", "GetInterfaceDescription"},
          "org.varlink.service: GetInfo and GetInterfaceDescription", svc.methods)
    check({"InvalidParameter", "MethodNotFound", "InterfaceNotFound", "ExpectedMore",
           "MethodNotImplemented"} <= set(svc.errors),
          "org.varlink.service declares the errors io.greeter(7) says greeterd sends", svc.errors)
    r = vctl("introspect", ADDR)
    check(r.rc == 0 and r.out.startswith(g_text) and r.out.endswith(s_text)
          and r.out[len(g_text):len(r.out) - len(s_text)].strip() == "",
          "introspect without an interface: both interfaces", r)
    r = vctl("introspect", ADDR, "io.nope")
    check(r.rc == 1 and "InterfaceNotFound" in r.err and r.out == "", "introspect io.nope: InterfaceNotFound, exit 1", r)


if __name__ == "__main__":
    sys.exit(main(test))
