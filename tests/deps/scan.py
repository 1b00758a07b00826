"""The programs the project's scripts run, found by reading them.

A pragmatic scan, not a parser: in Python, the first string of an argv list
(a list passed to subprocess, a wrapper, a list starting with a program and
an option) and shutil.which's argument; in shell, the command word of each
simple command (and of what sudo, env, timeout, setpriv ... run); in
meson.build, find_program's argument. Words that are variables or relative
paths are left out: they name the project's own files.
"""
import ast
import os
import re

RUNNERS = {"run", "Popen", "check_output", "check_call", "call", "execvp", "execv",
           "execvpe", "spawnvp"}
# Commands that run the next word as a command, with how many arguments
# (besides options) come before it.
WRAPPERS = {"sudo": 0, "env": 0, "timeout": 1, "nice": 0, "nohup": 0, "setsid": 0,
            "exec": 0, "stdbuf": 0, "setpriv": 0, "unshare": 0, "prlimit": 0,
            "taskset": 1, "chroot": 1, "xargs": 0, "time": 0, "flock": 1, "strace": 0,
            "valgrind": 0}
KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for",
            "in", "case", "esac", "select", "function", "!", "{", "}", "[[", "]]", "time",
            "coproc"}


def _argv0(node):
    """The program of an argv list literal: its first string, if any."""
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        first = node.elts[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def _looks_like_option(node):
    if isinstance(node, ast.BinOp):  # "--reuid=%d" % uid
        node = node.left
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and \
        node.value.startswith("-")


def _func_name(call):
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")


def python_programs(path):
    """(line, program) of each argv list and shutil.which() in a Python file."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    argv_lists, data = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _func_name(node)
            args = node.args
            if name == "which" and args and isinstance(args[0], ast.Constant):
                found.append((node.lineno, args[0].value))
            if name == "callback" and args and _func_name(ast.Call(args[0], [], [])) in RUNNERS:
                args = args[1:]  # stack.callback(subprocess.run, [...])
            if name in RUNNERS and args:
                argv_lists.add(id(args[0]))
            for k in node.keywords:
                (argv_lists if k.arg in ("wrapper", "cmd", "argv") else data).add(id(k.value))
        elif isinstance(node, ast.Dict):
            data.update(id(v) for v in node.values)
        elif isinstance(node, (ast.Assign, ast.For)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [getattr(t, "id", getattr(t, "attr", "")) for t in targets]
            if any(re.search(r"(cmd|argv|wrapper)$", n, re.I) for n in names):
                value = node.value if isinstance(node, ast.Assign) else node.iter
                argv_lists.add(id(value))
                if isinstance(value, ast.BinOp):  # cmd = ["setpriv", ...] + cmd
                    argv_lists.update((id(value.left), id(value.right)))
                if isinstance(value, (ast.Tuple, ast.List)) and not _argv0(value):
                    argv_lists.update(id(e) for e in value.elts)
    for node in ast.walk(tree):
        prog = _argv0(node)
        if not prog or prog.startswith("-") or not re.fullmatch(r"[\w./+-]+", prog):
            continue
        if id(node) in argv_lists or \
                (id(node) not in data and any(_looks_like_option(e) for e in node.elts[1:2])):
            found.append((node.lineno, prog))
    return found


def _blank(text):
    """The script with quoted text, ${...}, $((...)) and comments blanked
    (newlines kept), and the $(...) inside double quotes kept as code."""
    out, stack, i, n = [], ["code"], 0, len(text)
    joined = 0  # newlines of continued lines, given back at the line's end

    def skip_to_close(i, opener, closer):
        depth = 0
        while i < n:
            if text.startswith(opener, i):
                depth += 1
                i += len(opener)
                continue
            if text.startswith(closer, i):
                depth -= 1
                i += len(closer)
                if depth == 0:
                    return i
                continue
            if text[i] == "\n":
                out.append("\n")
            i += 1
        return i

    while i < n:
        c, ctx = text[i], stack[-1]
        if ctx == "dq":
            if c == "\\":
                joined += text.startswith("\n", i + 1)
                i += 2
            elif c == '"':
                stack.pop()
                out.append(" Q ")
                i += 1
            elif text.startswith("$((", i):
                i = skip_to_close(i + (text[i] == "$"), "(", ")")
            elif text.startswith("$(", i):
                stack.append("sub")
                out.append(" $( ")
                i += 2
            elif text.startswith("${", i):
                i = skip_to_close(i + 1, "{", "}")
            else:
                if c == "\n":
                    out.append(c)
                i += 1
            continue
        # code, or a $(...)
        if c == "\\":
            if text.startswith("\n", i + 1):
                joined += 1
                out.append(" ")
            else:
                out.append("__")
            i += 2
        elif c == "'" or text.startswith("$'", i):
            j = text.find("'", i + (2 if c == "$" else 1))
            j = n if j < 0 else j + 1
            joined += text.count("\n", i, j)
            out.append(" Q ")
            i = j
        elif c == "\n":
            out.append("\n" * (1 + joined))
            joined = 0
            i += 1
        elif c == '"':
            stack.append("dq")
            i += 1
        elif text.startswith("$((", i) or text.startswith("((", i):
            out.append(" V ")
            i = skip_to_close(i + (text[i] == "$"), "(", ")")
        elif text.startswith("${", i):
            out.append(" V ")
            i = skip_to_close(i + 1, "{", "}")
        elif text.startswith("$(", i):
            stack.append("sub")
            out.append(" $( ")
            i += 2
        elif c == "(" and ctx == "sub":
            stack.append("sub")
            out.append(c)
            i += 1
        elif c == ")" and ctx == "sub":
            stack.pop()
            out.append(" ) ")
            i += 1
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n;("):
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _drop_heredocs(text):
    """The script with the bodies of here-documents emptied (lines kept)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.search(r"<<-?\s*(['\"]?)(\w+)\1", lines[i])
        i += 1
        if m and "<<<" not in lines[i - 1]:
            while i < len(lines) and lines[i].strip() != m.group(2):
                lines[i] = ""
                i += 1
            if i < len(lines):
                lines[i] = ""
                i += 1
    return "\n".join(lines)


def _commands(segment):
    """The command words of one simple command (a wrapper's command too)."""
    words = segment.split()
    out = []
    while words:
        w = words.pop(0)
        if re.fullmatch(r"[\w\[\]]+\+?=.*", w) or re.fullmatch(r"\d*[<>]+&?\S*", w):
            continue  # an assignment, a redirection
        if w in KEYWORDS:
            if w in ("for", "select", "case"):
                return out
            continue
        out.append(w)
        if w == "command" and words and words[0].startswith("-"):
            return out  # command -v: a look-up, not a run
        skip = WRAPPERS.get(w)
        if skip is None:
            return out
        while words and (words[0].startswith("-") or re.fullmatch(r"\w+=.*", words[0])):
            words.pop(0)
        del words[:skip]
    return out


def shell_programs(path):
    """(line, program) of each command word in a shell script."""
    with open(path, encoding="utf-8") as f:
        text = _blank(_drop_heredocs(f.read()))
    text = re.sub(r"\d*[<>]&\d*-?|&>>?", " ", text)  # 2>&1, >&2, &>
    text = re.sub(r"\b\w+\+?=\([^)]*\)", lambda m: "\n" * m.group().count("\n"), text)
    text = re.sub(r"\{[^\s{}]*\}", " ", text)  # {1..9}
    found = []
    in_case = 0
    for no, line in enumerate(text.split("\n"), 1):
        line = re.sub(r"^\s*(function\s+)?[\w-]+\s*\(\)", " ", line)  # a definition
        pieces = re.split(r";;", line)
        for k, piece in enumerate(pieces):
            m = re.search(r"\bcase\b.*?\bin\b", piece)
            if m:
                in_case += 1
                piece = piece[m.end():]
                k = 1
            if in_case and re.match(r"\s*esac\b", piece):
                in_case -= 1
                continue
            if in_case and (k or re.match(r"\s*\(?[^()]*\)", piece)):
                piece = re.sub(r"^\s*\(?[^()]*\)", " ", piece)  # a pattern
            for seg in re.split(r"\$\(|`|&&|\|\||[;|&(){}]|\bthen\b|\bdo\b|\belse\b",
                                piece):
                found.extend((no, w) for w in _commands(seg))
    return found


def meson_programs(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return [(text.count("\n", 0, m.start()) + 1, m.group(1))
            for m in re.finditer(r"find_program\(\s*'([^']+)'", text)]


def programs(path):
    name = os.path.basename(path)
    if name.endswith(".py"):
        found = python_programs(path)
    elif name == "meson.build":
        found = meson_programs(path)
    else:
        found = shell_programs(path)
    # Variables, and paths other than the system's (the project's own files).
    return [(no, p) for no, p in found
            if p not in ("Q", "V") and re.fullmatch(r"[\w.+/:\[-]+", p) and
            not p.startswith("-") and not p.isdigit() and (p == "[" or "[" not in p) and
            (p.startswith(("/usr/", "/bin/", "/sbin/")) or "/" not in p)]
