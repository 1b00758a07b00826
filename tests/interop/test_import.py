#!/usr/bin/env python3
"""ImportMessages through varlinkctl: a merge of two, an empty merge,
InvalidImport (a UID twice, a control character) and InvalidParameter set
nothing, UID 501 is refused."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop import *  # noqa: E402,F403


def test():
    set_up((None, DEFAULT))

    expect_reply(call(G + "ImportMessages", {"messages": [{"uid": 30, "message": "imported 30"},
                                                         {"uid": 31, "message": "imported 31"}]}),
                 G + "ImportMessages", "ImportMessages: a merge of two",
                 {"set": 2, "removed": 0, "added": 2, "updated": 0, "unchanged": 0})
    expect_reply(call(G + "GetMessage", {"uid": 31}), G + "GetMessage", "the imported message is set",
                 {"uid": 31, "message": "imported 31", "source": "uid"})
    expect_reply(call(G + "ImportMessages", {"messages": [], "replace": False}), G + "ImportMessages",
                 "ImportMessages: an empty merge, replace false",
                 {"set": 0, "removed": 0, "added": 0, "updated": 0, "unchanged": 0})
    v = expect_error(call(G + "ImportMessages", {"messages": [{"uid": 32, "message": "fine"},
                                                             {"uid": 32, "message": "twice"}]}),
                     G + "ImportMessages", G + "InvalidImport", "ImportMessages: a UID twice")
    check(isinstance(v, dict) and v.get("index") == 1 and v.get("reason"), "InvalidImport: index 1, a reason", v)
    expect_error(call(G + "ImportMessages", {"messages": [{"uid": 32, "message": "a\u0007bell"}]}),
                 G + "ImportMessages", G + "InvalidImport", "ImportMessages: a control character")
    expect_error(call(G + "ImportMessages", {"messages": {}}), G + "ImportMessages", E_INV,
                 "ImportMessages: messages not a list", {"parameter": "messages"})
    expect_error(call(G + "ImportMessages", {"messages": [], "replace": "yes"}), G + "ImportMessages", E_INV,
                 "ImportMessages: replace not a bool", {"parameter": "replace"})
    v = expect_error(call(G + "ImportMessages", {"messages": [{"uid": U, "message": "mine"}]}, user=U),
                     G + "ImportMessages", E_PD, "501 imports")
    check(isinstance(v, dict) and v.get("reason"), "501 imports: a reason", v)
    expect_reply(call(G + "GetMessage", {"uid": 32}), G + "GetMessage", "refused imports set nothing",
                 {"uid": 32, "message": "Interop default 2", "source": "default"})
    for uid in (30, 31):
        expect_reply(call(G + "RemoveMessage", {"uid": uid}), G + "RemoveMessage",
                     "RemoveMessage %d (imported)" % uid, {})


if __name__ == "__main__":
    sys.exit(main(test))
