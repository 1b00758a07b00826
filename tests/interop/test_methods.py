#!/usr/bin/env python3
"""varlinkctl calls every method of io.greeter as root with valid
parameters: the replies conform to the IDL and carry the expected values
(UTF-8, escapes, the highest UID, ListMessages ordered as greeterctl lists
them, GetStatus against uname, --help and bpftool), in every output mode
of call."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop import *  # noqa: E402,F403


def set_and_get():
    """Every method with valid parameters: the messages they set, listed."""
    expect_reply(call(G + "GetMessage", {"uid": U}), G + "GetMessage", "GetMessage 501, nothing set",
                 {"uid": U, "message": "Hello World", "source": "builtin"})
    expect_reply(call(G + "GetMessage"), G + "GetMessage", "GetMessage without parameters: the caller (root)",
                 {"uid": 0, "message": "Hello World", "source": "builtin"})
    expect_reply(call(G + "GetMessage", {"uid": None}), G + "GetMessage", "GetMessage uid null: the caller",
                 {"uid": 0, "message": "Hello World", "source": "builtin"})
    expect_reply(call(G + "SetMessage", {"message": "Interop default"}), G + "SetMessage",
                 "SetMessage without uid: the default", {})
    expect_reply(call(G + "GetMessage", {"uid": 777}), G + "GetMessage", "GetMessage 777: the default",
                 {"uid": 777, "message": "Interop default", "source": "default"})
    expect_reply(call(G + "SetMessage", {"uid": None, "message": "Interop default 2"}), G + "SetMessage",
                 "SetMessage uid null: the default", {})
    expect_reply(call(G + "GetMessage", {"uid": 777}), G + "GetMessage", "the default changed",
                 {"uid": 777, "message": "Interop default 2", "source": "default"})
    expect_reply(call(G + "SetMessage", {"uid": U, "message": "Hi 501, from varlinkctl"}), G + "SetMessage",
                 "SetMessage 501", {})
    expect_reply(call(G + "GetMessage", {"uid": U}), G + "GetMessage", "GetMessage 501: its own",
                 {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"})
    for uid, text, what in ((7, "Grüße, ☃ — ünïcödé", "UTF-8 in argv"),
                            (8, 'say "hi" \\ back\\slash / slash', "quotes and backslashes"),
                            (9, "☃" * 21, "63 bytes of 3-byte characters")):
        expect_reply(call(G + "SetMessage", {"uid": uid, "message": text}, ascii=False), G + "SetMessage",
                     "SetMessage: " + what, {})
        expect_reply(call(G + "GetMessage", {"uid": uid}), G + "GetMessage", "GetMessage: %s round-trips" % what,
                     {"uid": uid, "message": text, "source": "uid"})
    r = call(G + "SetMessage", '{"uid": 10, "message": "\\u00e9t\\u00e9 \\ud83d\\ude00"}')
    expect_reply(r, G + "SetMessage", "SetMessage: \\u escapes and a surrogate pair", {})
    expect_reply(call(G + "GetMessage", {"uid": 10}), G + "GetMessage", "GetMessage: the escapes decoded",
                 {"uid": 10, "message": "été 😀", "source": "uid"})
    expect_reply(call(G + "SetMessage", {"uid": 4294967294, "message": "highest UID"}), G + "SetMessage",
                 "SetMessage uid 4294967294 (the highest)", {})
    expect_reply(call(G + "RemoveMessage", {"uid": 4294967294}), G + "RemoveMessage",
                 "RemoveMessage uid 4294967294", {})
    want_list = [{"uid": 7, "message": "Grüße, ☃ — ünïcödé"}, {"uid": 8, "message": 'say "hi" \\ back\\slash / slash'},
                 {"uid": 9, "message": "☃" * 21}, {"uid": 10, "message": "été 😀"},
                 {"uid": U, "message": "Hi 501, from varlinkctl"}, {"message": "Interop default 2"}]
    r = call(G + "ListMessages", {})
    expect_reply(r, G + "ListMessages", "ListMessages: by UID, the default last", {"messages": want_list})
    p = subprocess.run([GREETERCTL, "--socket", os.path.join(state["sockdir"], "greeter.sock"), "--json", "list"],
                       capture_output=True, text=True)
    check(p.returncode == 0 and r.rc == 0 and json.loads(p.stdout or "null") == json.loads(r.out or "null"),
          "greeterctl --json list agrees with varlinkctl", "%s / %r" % (r, p.stdout))
    expect_reply(call(G + "ListMessages"), G + "ListMessages", "ListMessages without parameters",
                 {"messages": want_list})
    return want_list


def output_modes(want_list):
    """The output modes of call: plain, --json=pretty, -q, --more, --collect."""
    r = call(G + "GetMessage", {"uid": U}, opts=())
    check(r.rc == 0 and json.loads(r.out) == {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"},
          "call without --json: the reply", r)
    r = call(G + "GetMessage", {"uid": U}, opts=("--json=pretty",))
    check(r.rc == 0 and r.out.count("\n") > 1 and
          json.loads(r.out) == {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"},
          "call --json=pretty: the same reply, on several lines", r)
    r = call(G + "GetMessage", {"uid": U}, opts=("-q",))
    check(r.rc == 0 and r.out == "" and r.err == "", "call -q: nothing printed, exit 0", r)
    r = call(G + "GetMessage", {"uid": U}, opts=("--json=short", "--more"))
    expect_reply(r, G + "GetMessage", "call --more of a method with one reply",
                 {"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"})
    r = call(G + "GetMessage", {"uid": U}, opts=("--json=short", "--collect"))
    check(r.rc == 0 and r.err == "" and parse_json(r.out, "--collect") ==
          [{"uid": U, "message": "Hi 501, from varlinkctl", "source": "uid"}],
          "call --collect of a method with one reply: [reply]", r)
    r = call(G + "ListMessages", {}, opts=("--json=short", "--collect"))
    check(r.rc == 0 and parse_json(r.out, "--collect") == [{"messages": want_list}], "call --collect ListMessages", r)


def get_status(want_list):
    """GetStatus against what greeterd was started with, uname, greeterd
    --help and bpftool."""
    version = state["version"]
    st = expect_reply(call(G + "GetStatus", {}), G + "GetStatus", "GetStatus") or {}
    check(st.get("version") == version, "GetStatus: version %s" % version, st.get("version"))
    check(st.get("attach_mode") in ("kprobe", "tracepoint") and st.get("attach_reason"),
          "GetStatus: attach_mode kprobe or tracepoint (%s), and a reason" % st.get("attach_mode"))
    check(st.get("kernel_release") == os.uname().release, "GetStatus: kernel_release is uname -r")
    check(st.get("pin_dir") == state["pin_dir"] and st.get("state_dir") == state["state_dir"],
          "GetStatus: pin_dir and state_dir as greeterd was started", st)
    check(st.get("messages") == len(want_list), "GetStatus: messages = %d, as ListMessages" % len(want_list), st)
    check(st.get("watchers") == 0, "GetStatus: no watchers yet", st.get("watchers"))
    # The default, as greeterd --help states it ("(default 32M)").
    helptext = subprocess.run([GREETERD, "--help"], capture_output=True, text=True).stdout
    m = re.search(r"--ring-size[^(]*\(default (\d+)([KM])\)", helptext)
    default_ring = int(m.group(1)) << (20 if m.group(2) == "M" else 10) if m else None
    check(default_ring and st.get("ring_size") == default_ring,
          "GetStatus: ring_size is the default greeterd --help states (%s)" % default_ring, st.get("ring_size"))
    check(isinstance(st.get("uptime_usec"), int) and 0 < st["uptime_usec"] < 600e6, "GetStatus: uptime_usec", st)
    check(st.get("programs") and all(p["program_id"] > 0 and p["link_id"] > 0 for p in st["programs"]),
          "GetStatus: programs with their ids", st.get("programs"))
    check(all(v >= 0 for v in st.get("counters", {}).values()), "GetStatus: counters", st.get("counters"))
    if shutil.which("bpftool"):
        for key, name in (("config_map_id", "config"), ("events_map_id", "events"), ("stats_map_id", "stats")):
            p = subprocess.run(["bpftool", "-j", "map", "show", "id", str(st.get(key, 0))],
                               capture_output=True, text=True)
            got = json.loads(p.stdout).get("name") if p.returncode == 0 else p.stderr
            check(got == name, "GetStatus: %s is the %s map (bpftool)" % (key, name), got)


def test():
    want_list = set_and_get()
    output_modes(want_list)
    get_status(want_list)


if __name__ == "__main__":
    sys.exit(main(test))
