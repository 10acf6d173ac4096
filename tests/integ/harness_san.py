# SPDX-License-Identifier: MIT
"""
harness_san.py: checked builds, sanitizers and valgrind (not a test).

Owns how a checked daemon is run and how its reports are found. A
worker that dies of a sanitizer report is simply respawned by its
master, so the runner reads every daemon's stderr at the end and fails
the script on any report (ASan, LeakSanitizer, UBSan, TSan), quoting it
(check_reports). The daemon's TSan reports do not end it
(halt_on_error=0, set by harness_spawn.ackd_env): it goes on and the
report waits in stderr. $ACKD_WRAPPER, when set, goes before the
daemon's command line (make check-valgrind sets it to valgrind); a
valgrind wrapper gets one log file per process, with each error marked,
which check_reports reads the same way. A test that aborts a process
on purpose excuses its valgrind log (excuse_valgrind). A test whose
counts or bounds depend on the daemon's speed asks checked_by() whether
valgrind or a sanitizer slows it down.
"""

import os
import re
import shlex

# what a sanitizer writes on stderr when it finds something
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
    "runtime error:", "WARNING: ThreadSanitizer")
# what a valgrind log says when it found an error or a definite leak: the
# marker the harness has valgrind put before each error (a process killed
# at cleanup never writes its summary), or the summary's counts
VALGRIND_MARK = "ackd-valgrind-error"
# an error, a definite leak, or valgrind giving up on a process (which
# then exits 1, and the master only sees a worker die: CI once did)
VALGRIND_BAD_RE = re.compile(r"%s|ERROR SUMMARY: [1-9]|definitely lost: [1-9]"
    r"|[Vv]algrind cannot continue|the 'impossible' happened"
    r"|[Oo]ut of memory" % VALGRIND_MARK)
REPORT_LINES = 60  # lines of a report quoted in a failure reason


def wrapper():
    """$ACKD_WRAPPER split into words (the command put before ackd's)."""
    return shlex.split(os.environ.get("ACKD_WRAPPER", ""))


def valgrind_wrapped():
    """Is the daemon run under valgrind?"""
    w = wrapper()
    return bool(w) and os.path.basename(w[0]) == "valgrind"


# what a sanitizer's runtime leaves in the binary it is linked into
_RUNTIME_MARKS = ((b"__tsan_init", "ThreadSanitizer"),
    (b"__asan_init", "AddressSanitizer"), (b"__msan_init",
    "MemorySanitizer"), (b"__ubsan_handle", "UndefinedBehaviorSanitizer"))


def checked_by(binary):
    """What makes binary run many times slower than a plain build: valgrind
    (the wrapper) or the sanitizer it was built with (its name); None for
    a plain build. Tests scale their counts and bounds by it."""
    if valgrind_wrapped():
        return "valgrind"
    try:
        with open(binary, "rb") as f:
            data = f.read()
    except OSError:
        return None
    for mark, name in _RUNTIME_MARKS:
        if mark in data:
            return name
    return None


def ackd_command(args, log_base):
    """The wrapper (if any) and ackd's command line. Under valgrind, each
    process logs to log_base.valgrind.PID, with each error marked."""
    w = wrapper()
    if valgrind_wrapped():
        w += ["--log-file=%s.valgrind.%%p" % log_base,
            "--error-markers=%s-begin,%s-end" % (VALGRIND_MARK,
            VALGRIND_MARK)]
    return w + list(args)


# pid -> why: processes a test killed on purpose with a signal whose
# default action valgrind turns into a leak report (SIGABRT): their
# threads were never joined, so everything they held looks lost
_valgrind_excused = {}


def excuse_valgrind(pid, why):
    """Do not check pid's valgrind log (a test aborted it on purpose)."""
    _valgrind_excused[pid] = why


def sanitizer_report(text):
    """The first sanitizer report in text (its first REPORT_LINES lines,
    from the marker on), or None if there is none."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if any(mark in line for mark in SANITIZER_MARKS):
            # ASan and TSan open a report with a ==PID== or ===== line
            start = i - 1 if i > 0 and lines[i - 1].startswith("==") \
                else i
            return "\n".join(lines[start:start + REPORT_LINES])
    return None


def check_reports(checks, daemons):
    """Fail on any sanitizer report in the stderr of daemons (Daemon
    objects), and on any error or definite leak in their valgrind logs.
    Every process is dead by now, so every report is complete."""
    clean = True
    for d in daemons:
        report = sanitizer_report(d.stderr())
        if report is not None:
            clean = checks.fail("no sanitizer report from ackd pid %d" %
                d.pid, "%s:\n%s" % (" ".join(d.args), report))
    if daemons:
        checks.ok("no sanitizer report from any of the %d ackd runs" %
            len(daemons), clean, "see above")
    # a script that starts no daemon (it reads --help, or files) has
    # no valgrind log to look for
    if valgrind_wrapped() and daemons:
        _check_valgrind_logs(checks, daemons)


def _check_valgrind_logs(checks, daemons):
    """Fail on any error or definite leak in the valgrind logs of
    daemons, but for the excused pids."""
    logs = []
    for d in daemons:
        logs += d.valgrind_logs()
    clean = True
    for path in logs:
        pid = path.rsplit(".", 1)[-1]
        if pid.isdigit() and int(pid) in _valgrind_excused:
            checks.note("valgrind log of pid %s not checked: %s" %
                (pid, _valgrind_excused[int(pid)]))
            continue
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        m = VALGRIND_BAD_RE.search(text)
        if m:
            start = m.start() if m.group(0) == VALGRIND_MARK else 0
            clean = checks.fail("no valgrind error in ackd pid %s" % pid,
                "%s:\n%s" % (path, text[start:start + 8000]))
    checks.ok("no valgrind error in the %d valgrind logs" % len(logs),
        clean and logs, "see above" if logs else "no valgrind log found")
