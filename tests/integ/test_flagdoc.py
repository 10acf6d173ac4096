#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_flagdoc.py: every flag is documented wherever the flags are listed.

The flag tables (src/daemon/conf.c, src/bench/bench_flags.c) are the one source of
the flags, and --help is made from them. The man pages are written by
hand, so this holds them to --help, for ackd and ackd-bench alike:

- the long flags of --help and of the man page's OPTIONS are the same
  set, with the same short forms;
- the SYNOPSIS names the same set, each flag by its short form or its
  long one;
- every flag the README names is one of ackd's or ackd-bench's (the
  README shows only the common ones), with its own short form;
- the unit test's and the fuzzer's own lists of ackd's flags
  (check_conf.c, fuzz_conf.c) hold the same set;
- no --help line is 80 columns or more.

A flag added to a table but left out of a page, or a page that keeps a
flag the table lost, fails here and names the flag.
"""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ACKD_PAGE = os.path.join(h.SRCDIR, "doc", "ackd.8")
BENCH_PAGE = os.path.join(h.SRCDIR, "doc", "ackd-bench.1")
README = os.path.join(h.SRCDIR, "README")
# the tests' own lists of ackd's flags, kept apart from conf.c on purpose
CHECK_CONF = os.path.join(h.SRCDIR, "tests", "unit", "check_conf.c")
FUZZ_CONF = os.path.join(h.SRCDIR, "tests", "fuzz", "fuzz_conf.c")

# options the README shows for other programs, not ackd's: the tool that
# takes them; and "--flag", the README's word for any flag
FOREIGN = {
    "--ci": "./bootstrap", "--list": "./bootstrap",
    "--prefix": "configure", "--now": "systemctl",
    "--create": "systemd-tmpfiles", "--status": "start-stop-daemon",
    "--flag": "the README's placeholder",
}
FOREIGN_PREFIXES = ("--enable-", "--disable-", "--with-", "--without-")

# a README table row: an indented line whose first word is a flag,
# "  -b     --bind   ADDR ..." or "         --ipv6-only ..."
README_ROW = re.compile(r"^\s+(?:(-[A-Za-z0-9])\s+)?(--[a-z0-9][a-z0-9-]*)")


def help_text(t, label, argv):
    """argv's --help: exit 0, nothing on stderr, every line under 80
    columns. Its text."""
    try:
        p = subprocess.run(argv + ["--help"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
    except subprocess.TimeoutExpired:
        t.fail("%s --help exits" % label, "still running after 30 s")
        return ""
    text = p.stdout.decode("utf-8", "replace")
    t.eq("%s --help: exits 0" % label, p.returncode, 0)
    t.eq("%s --help: nothing on stderr" % label, p.stderr, b"")
    wide = [line for line in text.split("\n") if len(line) >= 80]
    t.ok("%s --help: every line under 80 columns" % label, not wide,
         h.short(wide))
    return text


def diff(a, b, a_name, b_name):
    """Say which flags are only in a, and which only in b."""
    return "in %s, not in %s: %s; in %s, not in %s: %s" % (
        a_name, b_name, sorted(set(a) - set(b)), b_name, a_name,
        sorted(set(b) - set(a)))


def check_page(t, label, flags, page):
    """The page's OPTIONS and SYNOPSIS list exactly the flags of --help."""
    name = os.path.basename(page)
    t.ok("%s --help lists flags" % label, len(flags) > 10,
         "only %s" % sorted(flags))
    options = h.man_options(page)
    t.ok("%s: %s OPTIONS describes every flag of --help, and no other"
         % (label, name), set(options) == set(flags),
         diff(flags, options, "--help", "OPTIONS"))
    wrong = {f: (flags[f], options[f]) for f in flags
             if f in options and flags[f] != options[f]}
    t.ok("%s: %s OPTIONS gives each flag the short form of --help"
         % (label, name), not wrong, "(--help, OPTIONS): %s" % wrong)
    longs, shorts = h.man_synopsis(page)
    by_letter = {s: f for f, s in flags.items() if s is not None}
    unknown = sorted(s for s in shorts if s not in by_letter)
    t.ok("%s: %s SYNOPSIS uses only the short forms of --help"
         % (label, name), not unknown, "unknown %s" % unknown)
    named = longs | {by_letter[s] for s in shorts if s in by_letter}
    t.ok("%s: %s SYNOPSIS names every flag of --help, and no other"
         % (label, name), named == set(flags),
         diff(flags, named, "--help", "SYNOPSIS"))


def check_readme(t, ackd, bench):
    """Every flag the README names is ackd's or ackd-bench's."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    known = dict(bench)
    known.update(ackd)
    named = h.named_flags(text)
    unknown = sorted(f for f in named if f not in known and
                     f not in FOREIGN and not f.startswith(FOREIGN_PREFIXES))
    t.ok("README: names only flags ackd or ackd-bench has", not unknown,
         "no such flag: %s (another program's? add it to FOREIGN)" %
         unknown)
    wrong = []
    for line in text.split("\n"):
        m = README_ROW.match(line)
        if m and m.group(1) and m.group(2) in known and \
                m.group(1) not in (ackd.get(m.group(2)),
                                   bench.get(m.group(2))):
            wrong.append(line.strip())
    t.ok("README: a flag's short form in its table is the flag's own",
         not wrong, h.short(wrong))


def c_array(path, name):
    """The initializer of the C array name in path, as text."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"\b%s\[\]\s*=\s*\{(.*?)\};" % re.escape(name), text,
                  re.S)
    return m.group(1) if m else ""


def check_test_lists(t, ackd):
    """The tests' own lists of ackd's flags are the flags of --help."""
    rows = re.findall(r'\{\s*"([a-z0-9-]+)",\s*(\'.\'|0)',
                      c_array(CHECK_CONF, "check_conf_flags"))
    unit = {"--" + n: ("-" + c[1] if c != "0" else None) for n, c in rows}
    t.ok("check_conf.c: check_conf_flags lists every flag of ackd "
         "--help with its short form, and no other", unit == ackd,
         diff(ackd, unit, "--help", "check_conf_flags") +
         "; short forms differ: %s" % sorted(
             f for f in unit if f in ackd and unit[f] != ackd[f]))
    fuzz = {"--" + n for n in re.findall(
        r'"([a-z0-9-]+)"', c_array(FUZZ_CONF, "fuzz_conf_flags"))}
    t.ok("fuzz_conf.c: fuzz_conf_flags lists every flag of ackd "
         "--help, and no other", fuzz == set(ackd),
         diff(ackd, fuzz, "--help", "fuzz_conf_flags"))


def main(t, tmp):
    ackd = h.help_flags(help_text(t, "ackd", [h.ackd_path()]))
    bench = h.help_flags(help_text(t, "ackd-bench", [h.bench_path()]))
    check_page(t, "ackd", ackd, ACKD_PAGE)
    check_page(t, "ackd-bench", bench, BENCH_PAGE)
    check_readme(t, ackd, bench)
    check_test_lists(t, ackd)


if __name__ == "__main__":
    h.run("flagdoc", main, deadline=60)
