#!/usr/bin/env python3
"""varlinkctl of systemd 257 (from a Debian 13 root) on the shipped IDL:
validate-idl accepts it, from a file and from standard input, and its
reformatted output has exactly the shipped file's tokens and comments;
seven broken copies are refused, each with its own complaint."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop import *  # noqa: E402,F403


def test():
    shipped = state["shipped"]

    # The broken copies validate-idl must refuse, each with its complaint.
    broken_dir = os.path.join(state["tmp"], "broken")
    os.makedirs(broken_dir)
    broken = {
        "bad-interface-name": (shipped.replace("interface io.greeter", "interface io..greeter", 1), "is not valid"),
        "unknown-type": (shipped.replace("source: ?MessageSource,", "source: ?NoSuchType,", 1), "unresolved type"),
        "misspelt-type": (shipped.replace("\tmessage: string\n)", "\tmessage: strin\n)", 1), "unresolved type"),
        "duplicate-method": (shipped + "\nmethod ListMessages() -> ()\n", "defined twice"),
        "duplicate-field": (shipped.replace("\tseq: int,\n", "\tseq: int,\n\tseq: int,\n", 1), "defined twice"),
        "unclosed": (shipped.replace("\tmessage: string\n)", "\tmessage: string\n", 1), "Bad syntax"),
        "no-interface-line": (shipped.replace("interface io.greeter\n", "", 1), "Bad syntax"),
    }
    for name, (text, _) in broken.items():
        if text == shipped:
            fatal("the broken copy %s is not broken: the IDL changed, update the suite" % name)
        with open(os.path.join(broken_dir, name + ".varlink"), "w") as f:
            f.write(text)
    os.chmod(broken_dir, 0o755)
    state["binds"].append(broken_dir + ":" + T_BROKEN)

    # -- varlinkctl itself
    r = vctl("--version")
    check(r.rc == 0 and r.out.startswith("systemd 257 "), "varlinkctl is systemd 257 (%s)" % r.out.split("\n")[0], r)

    # -- validate-idl
    r = vctl("validate-idl", T_IDL)
    check(r.rc == 0 and r.err == "", "validate-idl accepts the shipped IDL", r)
    formatted = r.out
    check(tokens(formatted) == tokens(shipped),
          "validate-idl's reformatted IDL has the shipped file's tokens and comments")
    r = inside("sh", "-c", "varlinkctl validate-idl < " + T_IDL)
    check(r.rc == 0 and r.out == formatted, "validate-idl from standard input: the same", r)
    for name, (_, why) in broken.items():
        r = vctl("validate-idl", "%s/%s.varlink" % (T_BROKEN, name))
        check(r.rc == 1 and why in r.err and r.out == "", "validate-idl refuses a broken copy: %s (%s)" % (name, why), r)


if __name__ == "__main__":
    sys.exit(main(test, with_greeterd=False))
