#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_bootstrap.py: ./bootstrap installs what building and make check
need, and only that; CI's further tools come with --ci.

./bootstrap --list prints the Debian packages bootstrap would make sure
of, and does nothing else (no apt-get, no autoreconf, no configure).
Checked: the build and make check's needs are there, haproxy among them
(test_proxy.py and test_deploy.py run a real one on a fresh machine) and
OpenSSL's development files and command (TLS, and its tests' certificates);
clang, valgrind, systemd and the packaging tools (300 MB and more, only
for make fuzz, make check-valgrind and tests/pkg/run.sh) are not, and
--ci adds exactly them.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "..", "..", "bootstrap")
CHECK_NEEDS = {"autoconf", "automake", "pkg-config", "gcc", "make",
               "python3", "check", "haproxy", "strace", "logrotate",
               "libssl-dev", "openssl"}
CI_ONLY = {"clang", "valgrind", "systemd", "dpkg-dev", "debhelper",
           "lintian", "fakeroot"}


def listed(t, args):
    """The packages sh bootstrap ARGS --list prints, or None."""
    p = subprocess.run(["sh", BOOTSTRAP] + args + ["--list"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    out = p.stdout.decode()
    if not t.ok("bootstrap %s--list exits 0 and prints one package a line "
                "only" % "".join(a + " " for a in args),
                p.returncode == 0 and p.stderr == b"" and
                all(w.strip() == w and " " not in w and w
                    for w in out.splitlines()),
                "exit %d, stdout %s, stderr %s" % (p.returncode,
                                                   h.short(out),
                                                   h.short(p.stderr))):
        return None
    return set(out.split())


def main(t, tmp):
    if not os.path.exists(BOOTSTRAP):
        raise h.Skip("no bootstrap next to the tests (%s)" % BOOTSTRAP)
    plain = listed(t, [])
    ci = listed(t, ["--ci"])
    if plain is None or ci is None:
        return
    t.eq("bootstrap installs what building and make check need (haproxy "
         "too)", sorted(CHECK_NEEDS - plain), [])
    t.eq("bootstrap does not install CI's tools", sorted(plain & CI_ONLY),
         [])
    t.eq("bootstrap --ci adds exactly CI's tools", sorted(ci - plain),
         sorted(CI_ONLY))


if __name__ == "__main__":
    h.run("bootstrap", main, deadline=60)
