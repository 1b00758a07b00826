#!/usr/bin/env python3
"""varlinkctl --oneway: SetMessage and RemoveMessage take effect and print
nothing; an invalid or failing call and an unknown method print nothing,
exit 0, and change nothing."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop import *  # noqa: E402,F403


def test():
    set_up((None, DEFAULT))

    r = call(G + "SetMessage", {"uid": 13, "message": "set --oneway"}, opts=("--oneway",))
    check(r.rc == 0 and r.out == "" and r.err == "", "SetMessage --oneway: exit 0, nothing printed", r)
    r = call_until(lambda r: '"set --oneway"' in r.out, G + "GetMessage", {"uid": 13})
    expect_reply(r, G + "GetMessage", "GetMessage shows what --oneway set",
                 {"uid": 13, "message": "set --oneway", "source": "uid"})
    r = call(G + "SetMessage", {"uid": 13, "message": ""}, opts=("--oneway",))
    check(r.rc == 0 and r.out == "" and r.err == "", "an invalid SetMessage --oneway: no reply, exit 0", r)
    r = call(G + "RemoveMessage", {"uid": 777}, opts=("--oneway",))
    check(r.rc == 0 and r.out == "" and r.err == "", "a failing RemoveMessage --oneway: no reply, exit 0", r)
    r = call(G + "Nope", {}, opts=("--oneway",))
    check(r.rc == 0 and r.out == "" and r.err == "", "an unknown method --oneway: no reply, exit 0", r)
    r = call(G + "RemoveMessage", {"uid": 13}, opts=("--oneway",))
    check(r.rc == 0 and r.out == "" and r.err == "", "RemoveMessage --oneway", r)
    r = call_until(lambda r: '"default"' in r.out, G + "GetMessage", {"uid": 13})
    expect_reply(r, G + "GetMessage", "the invalid --oneway changed nothing; RemoveMessage --oneway removed it",
                 {"uid": 13, "message": "Interop default 2", "source": "default"})


if __name__ == "__main__":
    sys.exit(main(test))
