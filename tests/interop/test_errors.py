#!/usr/bin/env python3
"""Every documented error of io.greeter and org.varlink.service through
varlinkctl: exit status 1, varlinkctl's exact message, the error's
parameters as declared; MessageTooLong, InvalidMessage, InvalidParameter,
NoSuchMessage, ExpectedMore, MethodNotFound, InterfaceNotFound,
RequestTooLarge (greeterd serves on), WriteFailed (the state directory
read-only); a failed call changes nothing."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop import *  # noqa: E402,F403


def message_errors():
    """SetMessage's and GetMessage's: MessageTooLong, InvalidMessage,
    InvalidParameter; none of them changed anything."""
    expect_error(call(G + "SetMessage", {"uid": U, "message": "x" * 64}), G + "SetMessage", G + "MessageTooLong",
                 "SetMessage of 64 bytes", {"limit": 63})
    expect_error(call(G + "SetMessage", {"uid": U, "message": "é" * 32}), G + "SetMessage", G + "MessageTooLong",
                 "SetMessage of 32 characters, 64 bytes", {"limit": 63})
    expect_reply(call(G + "SetMessage", {"uid": 11, "message": "x" * 63}), G + "SetMessage", "SetMessage of 63 bytes", {})
    for text, what in (("", "empty"), ("bell\u0007", "BEL"), ("esc\u001b[31m", "ESC"), ("tab\there", "TAB"),
                       ("del\u007f", "DEL"), ("c1\u0085", "C1 NEL"), ("nl\nx", "newline")):
        v = expect_error(call(G + "SetMessage", {"uid": U, "message": text}), G + "SetMessage", G + "InvalidMessage",
                         "SetMessage %s" % what)
        check(isinstance(v, dict) and v.get("reason"), "SetMessage %s: a reason" % what, v)
    r = call(G + "SetMessage", {"uid": U, "message": "a\u0000b"})
    check(r.rc == 1 and "Failed to parse parameters" in r.err,
          "SetMessage with \\u0000: varlinkctl refuses to send it (never reaches greeterd)", r)
    for params, param, what in (
            ({"uid": U}, "message", "no message"),
            ({}, "message", "no parameters"),
            ({"uid": U, "message": 5}, "message", "message a number"),
            ({"uid": U, "message": None}, "message", "message null"),
            ({"uid": -1, "message": "x"}, "uid", "uid -1"),
            ({"uid": 4294967295, "message": "x"}, "uid", "uid 4294967295 (the default's key)"),
            ({"uid": 1 << 40, "message": "x"}, "uid", "uid 2^40"),
            ({"uid": 1.5, "message": "x"}, "uid", "uid 1.5"),
            ({"uid": "501", "message": "x"}, "uid", "uid a string"),
            ({"uid": U, "message": "x", "bogus": 1}, "bogus", "an unknown parameter")):
        expect_error(call(G + "SetMessage", params), G + "SetMessage", E_INV, "SetMessage " + what, {"parameter": param})
    expect_error(call(G + "SetMessage", '{"uid": 12, "message": "x", "uid": 13}'), G + "SetMessage", E_INV,
                 "SetMessage with uid twice", {"parameter": "uid"})
    expect_reply(call(G + "GetMessage", {"uid": 11}), G + "GetMessage", "failed SetMessage calls changed nothing",
                 {"uid": 11, "message": "x" * 63, "source": "uid"})
    expect_reply(call(G + "GetMessage", {"uid": U}), G + "GetMessage", "501's message unchanged",
                 {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"})
    for params, param, what in (({"uid": True}, "uid", "uid true"), ({"uid": -3}, "uid", "uid -3"),
                                ({"uid": U, "x": 1}, "x", "an unknown parameter")):
        expect_error(call(G + "GetMessage", params), G + "GetMessage", E_INV, "GetMessage " + what, {"parameter": param})


def method_errors():
    """NoSuchMessage, the other methods' InvalidParameter, ExpectedMore,
    MethodNotFound, InterfaceNotFound; --graceful and --collect of them."""
    expect_error(call(G + "RemoveMessage", {"uid": 777}), G + "RemoveMessage", G + "NoSuchMessage",
                 "RemoveMessage 777", {"uid": 777})
    expect_error(call(G + "RemoveMessage", {"uid": -5}), G + "RemoveMessage", E_INV, "RemoveMessage uid -5",
                 {"parameter": "uid"})
    expect_error(call(G + "ListMessages", {"x": 1}), G + "ListMessages", E_INV, "ListMessages x", {"parameter": "x"})
    expect_error(call(G + "GetStatus", {"x": 1}), G + "GetStatus", E_INV, "GetStatus x", {"parameter": "x"})
    expect_error(call(G + "WatchEvents", {}), G + "WatchEvents", "org.varlink.service.ExpectedMore",
                 "WatchEvents without --more", {})
    for params, param, what in (({"comm": "0123456789abcdef"}, "comm", "comm of 16 bytes"),
                                ({"comm": 5}, "comm", "comm a number"),
                                ({"include_failed": 1}, "include_failed", "include_failed 1"),
                                ({"after_seq": -1}, "after_seq", "after_seq -1"),
                                ({"uid": "0"}, "uid", "uid a string"),
                                ({"limit": 1}, "limit", "an unknown parameter")):
        expect_error(call(G + "WatchEvents", params, opts=("--json=short", "--more")), G + "WatchEvents", E_INV,
                     "WatchEvents --more " + what, {"parameter": param})
    expect_error(call(G + "Nope", {}), G + "Nope", "org.varlink.service.MethodNotFound",
                 "an unknown method of io.greeter", {"method": G + "Nope"})
    expect_error(call("org.varlink.service.Nope", {}), "org.varlink.service.Nope",
                 "org.varlink.service.MethodNotFound", "an unknown method of org.varlink.service",
                 {"method": "org.varlink.service.Nope"})
    expect_error(call("io.nope.Foo", {}), "io.nope.Foo", "org.varlink.service.InterfaceNotFound",
                 "a method of an unknown interface", {"interface": "io.nope"})
    expect_error(call("org.varlink.service.GetInterfaceDescription", {"interface": "io.nope"}),
                 "org.varlink.service.GetInterfaceDescription", "org.varlink.service.InterfaceNotFound",
                 "GetInterfaceDescription io.nope", {"interface": "io.nope"})
    expect_error(call("org.varlink.service.GetInterfaceDescription", {}),
                 "org.varlink.service.GetInterfaceDescription", E_INV,
                 "GetInterfaceDescription without interface", {"parameter": "interface"})
    expect_error(call("org.varlink.service.GetInfo", {"x": 1}), "org.varlink.service.GetInfo", E_INV,
                 "GetInfo x", {"parameter": "x"})
    r = call(G + "RemoveMessage", {"uid": 777}, opts=("--json=short", "--graceful=io.greeter.NoSuchMessage"))
    check(r.rc == 0 and json.loads(r.out or "null") == {"uid": 777}
          and r.err == "Method call io.greeter.RemoveMessage() returned expected error: io.greeter.NoSuchMessage\n",
          "--graceful=io.greeter.NoSuchMessage: exit 0", r)
    r = call(G + "RemoveMessage", {"uid": 777}, opts=("--json=short", "--collect"))
    expect_error(r, G + "RemoveMessage", G + "NoSuchMessage", "--collect of a call that fails", {"uid": 777})


def limits():
    """RequestTooLarge and WriteFailed: nothing changes, greeterd serves on."""
    # RequestTooLarge: a call over 64 KiB from a user (root's bound is 4 MiB); then
    # greeterd serves on.
    expect_error(call(G + "SetMessage", {"uid": U, "message": "x" * 70000}, user=U), G + "SetMessage",
                 G + "RequestTooLarge", "a call of 70 kB from UID 501", {"limit": 65536})
    expect_error(call(G + "SetMessage", {"uid": 12, "message": "x" * 70000}), G + "SetMessage",
                 G + "MessageTooLong", "a call of 70 kB from root: read, the message too long",
                 {"limit": 63})
    expect_reply(call(G + "GetMessage", {"uid": 12}), G + "GetMessage", "greeterd serves on after RequestTooLarge",
                 {"uid": 12, "message": "Interop default 2", "source": "default"})
    # WriteFailed: the state directory read-only.
    subprocess.run(["mount", "-o", "remount,ro", state["statefs"]], check=True)
    try:
        v = expect_error(call(G + "SetMessage", {"uid": 12, "message": "never stored"}), G + "SetMessage",
                         G + "WriteFailed", "SetMessage with the state directory read-only")
        check(isinstance(v, dict) and "Read-only" in v.get("reason", ""), "WriteFailed: the reason says read-only", v)
        expect_error(call(G + "RemoveMessage", {"uid": 11}), G + "RemoveMessage", G + "WriteFailed",
                     "RemoveMessage with the state directory read-only")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", state["statefs"]], check=True)
    expect_reply(call(G + "GetMessage", {"uid": 12}), G + "GetMessage", "WriteFailed: nothing changed",
                 {"uid": 12, "message": "Interop default 2", "source": "default"})
    expect_reply(call(G + "GetMessage", {"uid": 11}), G + "GetMessage", "WriteFailed: nothing removed",
                 {"uid": 11, "message": "x" * 63, "source": "uid"})


def test():
    set_up((None, DEFAULT), (U, MSG_501))
    message_errors()
    method_errors()
    limits()


if __name__ == "__main__":
    sys.exit(main(test))
