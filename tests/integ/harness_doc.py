# SPDX-License-Identifier: MIT
"""
harness_doc.py: what the documentation says about flags (not a test):
the flags a --help text lists, and those the man pages' OPTIONS and
SYNOPSIS sections and the README name, for test_flagdoc.py and
test_flags.py to hold them to the flag tables (--help is made from them).
"""

import os
import re

# the source tree: tests/integ/../.., where doc/ and the README are
SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


# the first line of a --help entry: "  -p, --port N", "      --backlog N";
# its continuation lines start further right, so never match
_HELP_ENTRY = re.compile(r"^  (?:-([A-Za-z0-9]), |    )--([a-z0-9][a-z0-9-]*)",
    re.M)
# a flag in roff-free text: --long-name, or -x / -dhV (letters grouped)
_LONG_FLAG = re.compile(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)")
_SHORT_FLAGS = re.compile(r"(?<![\w-])-([A-Za-z0-9]+)\b")


def help_flags(text):
    """The flags a --help text lists (the flag tables' own list, since
    --help is made from them): {"--port": "-p", "--backlog": None}."""
    return {"--" + m.group(2): ("-" + m.group(1) if m.group(1) else None)
            for m in _HELP_ENTRY.finditer(text)}


def named_flags(text):
    """The long flags text names anywhere: {"--port", "--sync"}."""
    return {"--" + n for n in _LONG_FLAG.findall(text)}


def roff_text(line):
    """A man page line as it reads: no leading macro, fonts, \\%, quotes."""
    line = re.sub(r"^\.[A-Z]+\s*", "", line)
    line = re.sub(r"\\f[BIRP]|\\%|\\&|\"", "", line)
    return line.replace("\\-", "-")


def man_section(path, name):
    """The lines of the section .SH name of the man page at path."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out, inside = [], False
    for line in lines:
        if line.startswith(".SH"):
            inside = line[3:].strip().strip('"') == name
        elif inside:
            out.append(line)
    return out


def man_options(path):
    """The flags the OPTIONS section describes, each by the tag of its
    .TP entry: {"--port": "-p", "--backlog": None}."""
    lines = man_section(path, "OPTIONS")
    flags = {}
    for prev, line in zip(lines, lines[1:]):
        if prev.startswith(".TP"):
            tag = roff_text(line)
            longs = _LONG_FLAG.findall(tag)
            shorts = _SHORT_FLAGS.findall(tag.split("--")[0])
            if longs:
                flags["--" + longs[0]] = "-" + shorts[0] if shorts else None
    return flags


def man_synopsis(path):
    """The flags the SYNOPSIS names: (long names, short letters), e.g.
    ({"--backlog"}, {"-d", "-h", "-V", "-p"})."""
    text = " ".join(roff_text(l) for l in man_section(path, "SYNOPSIS"))
    longs = {"--" + n for n in _LONG_FLAG.findall(text)}
    shorts = {"-" + c for group in _SHORT_FLAGS.findall(text)
              for c in group}
    return longs, shorts
