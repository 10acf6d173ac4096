#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_fdlimit.py: the descriptor limit and --max-connections.

A worker needs --max-connections plus 91 descriptors of its own; the
limit (RLIMIT_NOFILE) is per process. Each daemon here starts with a
soft limit of 256 under a hard limit of 1024 (set before the exec):

- no --max-connections: the soft limit is raised to the hard one, in the
  master and in every worker, and --max-connections is sized from it,
  1024 - 91 = 933; the start says so in one line of its diagnostics, and
  --check prints the same line;
- --max-connections 500: the soft limit is raised to 591, exactly;
- --max-connections 1048576: 1048667 descriptors, more than the hard
  limit and than the kernel's ceiling (fs.nr_open) lets even root have:
  --check and the start both exit 71 with one line naming the flag, the
  descriptors needed and what the limit allows.

Under valgrind, which keeps descriptors at the top of the limit for
itself and shows the program a limit of its own, the numbers are not the
ones set: only the refusal is checked there.
"""

import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

OWN = 91                        # the manual's figure
SOFT, HARD = 256, 1024          # what each daemon here starts with
INFO = "descriptors: limit "


def low_limit():
    """In the child, before the exec: soft SOFT, hard HARD."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, HARD))


def limits_of(pid):
    """(soft, hard) 'Max open files' of pid, from /proc; None if gone."""
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith("Max open files"):
                    words = line.split()
                    return int(words[3]), int(words[4])
    except (OSError, ValueError, IndexError):
        pass
    return None


def info_lines(d):
    """The start's lines about the descriptor limit."""
    return [ln.split(": ", 1)[-1] for ln in d.stderr().splitlines()
            if INFO in ln]


def start(t, tmp, label, flags, want_soft, want_line):
    """Start with flags: every process has (want_soft, HARD), and the one
    line of information is want_line; --check prints the same."""
    d = h.Daemon(tmp, flags, log_name=label + ".log", preexec=low_limit)
    pids = [d.pid] + d.worker_pids
    t.eq("%s: master and workers have soft %d, hard %d" % (label,
         want_soft, HARD), [limits_of(p) for p in pids],
         [(want_soft, HARD)] * len(pids))
    t.eq("%s: the start says 'descriptors: %s', once" % (label, want_line),
         info_lines(d), ["descriptors: " + want_line])
    d.signal(15)
    t.eq("%s: SIGTERM: exit 0" % label, d.wait_exit(15), 0)

    c = h.Daemon(tmp, flags + ["--check"], log_name=label + "-check.log",
                 preexec=low_limit, ready=False)
    t.eq("%s: --check exits 0" % label, c.wait_exit(15), 0)
    with open(c.out_path) as f:
        out = f.read().splitlines()
    t.ok("%s: --check prints 'descriptors: %s'" % (label, want_line),
         "descriptors: " + want_line in out, h.short(out))


def refused(t, tmp):
    """More than even root may have: 71, one line, for --check and start."""
    with open("/proc/sys/fs/nr_open") as f:
        nr_open = int(f.read())
    if nr_open >= 1048576 + OWN:
        t.skip("1048576 connections refused", "fs.nr_open is %d here, "
               "root could have them" % nr_open)
        return
    # valgrind shows the program a hard limit of its own
    allows = "allows " if h.valgrind_wrapped() else "allows %d " % HARD
    for label, extra in (("--check", ["--check"]), ("start", [])):
        d = h.Daemon(tmp, ["--max-connections", "1048576"] + extra,
                     log_name="refused%s.log" % label, preexec=low_limit,
                     ready=False)
        t.eq("1048576 connections, %s: exits 71" % label,
             d.wait_exit(15), 71)
        err = [ln for ln in d.stderr().splitlines()
               if "consider --user" not in ln]
        t.ok("%s: one line naming the flag, the need and the limit" % label,
             len(err) == 1 and "--max-connections 1048576: " in err[0] and
             " 1048667 descriptors" in err[0] and
             allows in err[0], h.short(err))


def main(t, tmp):
    if not os.path.exists("/proc/self/limits"):
        raise h.Skip("no /proc/PID/limits to read the limits from")
    if not h.valgrind_wrapped():
        start(t, tmp, "sized", [], HARD, "limit %d, --max-connections %d "
              "per worker (sized from the limit)" % (HARD, HARD - OWN))
        start(t, tmp, "given", ["--max-connections", "500"], 500 + OWN,
              "limit %d, --max-connections 500 per worker" % (500 + OWN))
    else:
        t.skip("the limits set", "valgrind hides descriptors of its own")
    refused(t, tmp)


if __name__ == "__main__":
    h.run("fdlimit", main, deadline=60)
