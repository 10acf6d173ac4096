#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_spdx.py: every source file opens with the licence's SPDX line.

COPYING is the MIT licence, so every C file and header starts with
"/* SPDX-License-Identifier: MIT */", and every script, Python module,
m4 file, Makefile.am and configure.ac with "# SPDX-License-Identifier:
MIT" (after the "#!" line when there is one). Which files: those under
src/, tests/ and m4/ ending in .c, .h, .py, .sh or .m4, plus bootstrap,
configure.ac, Makefile.am and .ci/run. The tree is walked, not asked of
git, so the check holds in make distcheck's tarball too; the test fuzzers'
corpora and build output are not source and are skipped. A file without
the line fails here and is named.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

LICENCE = "MIT"
C_LINE = "/* SPDX-License-Identifier: %s */" % LICENCE
HASH_LINE = "# SPDX-License-Identifier: %s" % LICENCE
WALKED = ("src", "tests", "m4")
EXTENSIONS = (".c", ".h", ".py", ".sh", ".m4")
TOP_FILES = ("bootstrap", "configure.ac", "Makefile.am",
             os.path.join(".ci", "run"))
# not source: fuzz inputs, fuzz runs, and what a build leaves behind
SKIPPED_DIRS = {"corpus", "run", "__pycache__", ".deps", ".libs"}
# present in every tree, the tarball too: the walk found the files
MUST_FIND = ("src/daemon/ackd.h", "src/daemon/main.c", "tests/integ/harness.py",
             "tests/unit/check_queue.c", "m4/ackd_warnings.m4",
             "configure.ac", "Makefile.am", "bootstrap")


def sources():
    """The source files under SRCDIR, as paths relative to it."""
    found = [f for f in TOP_FILES
             if os.path.isfile(os.path.join(h.SRCDIR, f))]
    for top in WALKED:
        for root, dirs, files in os.walk(os.path.join(h.SRCDIR, top)):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(files):
                if name.endswith(EXTENSIONS):
                    found.append(os.path.relpath(os.path.join(root, name),
                                                 h.SRCDIR))
    return found


def has_line(path):
    """Does the file at path open with its SPDX line?"""
    with open(os.path.join(h.SRCDIR, path), encoding="utf-8",
              errors="replace") as f:
        lines = [f.readline().rstrip("\n") for _ in range(2)]
    if lines[0].startswith("#!"):
        lines = lines[1:]
    want = C_LINE if path.endswith((".c", ".h")) else HASH_LINE
    return lines[0] == want


def main(t, tmp):
    with open(os.path.join(h.SRCDIR, "COPYING")) as f:
        first = f.readline().strip()
    t.eq("COPYING is the %s licence the SPDX lines name" % LICENCE, first,
         "%s License" % LICENCE)
    found = sources()
    t.eq("the walk finds the files every tree has",
         [f for f in MUST_FIND if f not in found], [])
    t.eq("every source file opens with its SPDX line (%d files)" %
         len(found), [f for f in found if not has_line(f)], [])


if __name__ == "__main__":
    h.run("spdx", main, deadline=60)
