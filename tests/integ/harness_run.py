# SPDX-License-Identifier: MIT
"""
harness_run.py: the script runner, its deadline and its checks (not a
test).

Each test_*.py script calls run(name, main, deadline), which runs
main(checks, tmpdir) and prints one line per check (Checks: `ok - name`
/ `not ok - name: reason`, `# note`). It enforces the script's deadline
(SIGALRM in the main thread, then a watchdog thread as a last resort),
makes the script a subreaper, and always, even on an exception or the
deadline, kills and reaps every daemon started (harness_daemon.started),
checks that none of their processes is left behind and that none left
a sanitizer or valgrind report (harness_san.check_reports). Exit
statuses follow automake: 0 pass, 1 fail, 77 skip.
"""

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback

from harness_base import EXIT_FAIL, EXIT_PASS, EXIT_SKIP, Deadline, \
    DaemonError, Skip, short
from harness_daemon import set_scratch_dir, started
from harness_proc import become_subreaper
from harness_san import check_reports
from harness_spawn import ackd_path, remove_copies

class Checks:
    """Counts and prints checks, one line each."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.lock = threading.Lock()

    def ok(self, name, cond, reason=""):
        """Print `ok - name` or `not ok - name: reason`; return cond."""
        with self.lock:
            if cond:
                self.passed += 1
                print("ok - %s" % name)
            else:
                self.failed += 1
                print("not ok - %s: %s" % (name, reason or "failed"))
            sys.stdout.flush()
        return bool(cond)

    def eq(self, name, got, want):
        """Check got == want and say both when not."""
        return self.ok(name, got == want,
            "expected %s, got %s" % (short(want), short(got)))

    def fail(self, name, reason):
        """Record a failed check."""
        return self.ok(name, False, reason)

    def skip(self, name, reason):
        """Say a check was skipped, and why."""
        with self.lock:
            self.skipped += 1
            print("ok - %s # SKIP %s" % (name, reason))
            sys.stdout.flush()

    def note(self, text):
        """Informational line (timings, counts): never a check."""
        with self.lock:
            print("# %s" % text)
            sys.stdout.flush()


def _on_alarm(signum, frame):
    raise Deadline("the test's deadline passed")


def _watchdog(checks, seconds):
    """Last resort if the main thread is stuck where SIGALRM cannot reach."""
    time.sleep(seconds)
    print("not ok - hard deadline of %d s passed; killing everything" %
        seconds)
    sys.stdout.flush()
    for d in started():
        d.kill_all()
    os._exit(EXIT_FAIL)


def run(name, main, deadline=60):
    """
    Run main(checks, tmpdir) with an overall deadline, then clean up every
    daemon and check none of its processes is left. Exits the script.
    """
    checks = Checks(name)
    tmpdir = tempfile.mkdtemp(prefix="ackd-%s-" % name)
    set_scratch_dir(tmpdir)
    os.umask(0o022)
    become_subreaper()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(deadline)
    threading.Thread(target=_watchdog, args=(checks, deadline + 20),
        daemon=True).start()
    skipped = None
    try:
        if not os.access(ackd_path(), os.X_OK):
            raise DaemonError("no executable ackd at %s (set ACKD)" %
                ackd_path())
        main(checks, tmpdir)
    except Skip as e:
        skipped = str(e)
    except Deadline:
        checks.fail("%s finishes within %d s" % (name, deadline),
            "deadline passed in:\n" + traceback.format_exc())
    except Exception:
        checks.fail("%s runs without an exception" % name,
            traceback.format_exc())
    finally:
        signal.alarm(0)
        _cleanup(checks)
        remove_copies()
    if checks.failed == 0:
        shutil.rmtree(tmpdir, ignore_errors=True)
    else:
        checks.note("files kept in %s" % tmpdir)
    checks.note("summary: %d passed, %d failed, %d skipped" %
        (checks.passed, checks.failed, checks.skipped))
    sys.stdout.flush()
    if checks.failed:
        os._exit(EXIT_FAIL)
    if skipped is not None and checks.passed == 0:
        print("# SKIP %s" % skipped)
        sys.stdout.flush()
        os._exit(EXIT_SKIP)
    os._exit(EXIT_PASS)


def _cleanup(checks):
    """SIGKILL and reap every daemon; check that nothing is left, and
    that none left a report."""
    daemons = started()
    left = []
    for d in daemons:
        try:
            d.kill_all()
            left += d.leftovers(timeout=5)
        except Exception:
            checks.fail("cleanup of ackd pid %d" % d.pid,
                traceback.format_exc())
    if daemons:
        checks.ok("no ackd process left behind (%d daemons started)" %
            len(daemons), not left, "still there: %s" % left)
    check_reports(checks, daemons)
