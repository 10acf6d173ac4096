"""
harness.py: shared helpers for ackd's integration tests (not a test).

Python 3 standard library only. Each test_*.py script calls run(main, ...)
which prints one line per check (`ok - name` / `not ok - name: reason`),
enforces an overall deadline, and always kills and reaps every daemon it
started, then verifies that none of their processes is left behind.

Exit statuses follow automake: 0 pass, 1 fail, 77 skip.

Synchronisation is never a fixed sleep: tests poll an observable (the log
file, /proc, a client's reply) at a short interval up to a deadline.

Checked builds. A worker that dies of a sanitizer report is simply
respawned by its master, so run() reads every daemon's stderr at the end
and fails the script on any report (ASan, LeakSanitizer, UBSan, TSan),
quoting it. The daemon's TSan reports do not end it (halt_on_error=0):
it goes on and the report waits in stderr. $ACKD_WRAPPER, when set, goes
before the daemon's command line (make check-valgrind sets it to
valgrind); a valgrind wrapper gets one log file per process, which run()
reads the same way.
"""

import base64
import binascii
import collections
import ctypes
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_SKIP = 77

POLL = 0.02  # seconds between two looks at the log or /proc
ACK = b"ACK!"  # the default --ack text

# the source tree: tests/integ/../.., where doc/ and the README are
SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


class Skip(Exception):
    """Raised by a test to skip the whole script (exit 77)."""


class Deadline(Exception):
    """Raised in the main thread when the script's deadline passes."""


class DaemonError(Exception):
    """The daemon did not start or become ready."""


# --- checks and the script runner -------------------------------------

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


def short(v, limit=300):
    """repr(v), cut to limit characters for a failure reason."""
    r = repr(v)
    if len(r) > limit:
        r = r[:limit] + "...(%d chars)" % len(r)
    return r


_daemons = []  # every Daemon started, for cleanup
_daemons_lock = threading.Lock()
_tmpdir = None  # run()'s temporary directory, for valgrind logs

# what a sanitizer writes on stderr when it finds something
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
    "runtime error:", "WARNING: ThreadSanitizer")
# what a valgrind log says when it found an error or a definite leak: the
# marker the harness has valgrind put before each error (a process killed
# at cleanup never writes its summary), or the summary's counts
VALGRIND_MARK = "ackd-valgrind-error"
VALGRIND_BAD_RE = re.compile(r"%s|ERROR SUMMARY: [1-9]|definitely lost: [1-9]"
    % VALGRIND_MARK)
REPORT_LINES = 60  # lines of a report quoted in a failure reason


def _on_alarm(signum, frame):
    raise Deadline("the test's deadline passed")


def _watchdog(checks, seconds):
    """Last resort if the main thread is stuck where SIGALRM cannot reach."""
    time.sleep(seconds)
    print("not ok - hard deadline of %d s passed; killing everything" %
        seconds)
    sys.stdout.flush()
    for d in list(_daemons):
        d.kill_all()
    os._exit(EXIT_FAIL)


def _become_subreaper():
    """Orphaned workers then come to us, so we can reap them in cleanup."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def run(name, main, deadline=60):
    """
    Run main(checks, tmpdir) with an overall deadline, then clean up every
    daemon and check none of its processes is left. Exits the script.
    """
    global _tmpdir
    checks = Checks(name)
    tmpdir = tempfile.mkdtemp(prefix="ackd-%s-" % name)
    _tmpdir = tmpdir
    os.umask(0o022)
    _become_subreaper()
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
        _remove_copies()
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
    """SIGKILL and reap every daemon; check that nothing is left."""
    left = []
    for d in list(_daemons):
        try:
            d.kill_all()
            left += d.leftovers(timeout=5)
        except Exception:
            checks.fail("cleanup of ackd pid %d" % d.pid,
                traceback.format_exc())
    if _daemons:
        checks.ok("no ackd process left behind (%d daemons started)" %
            len(_daemons), not left, "still there: %s" % left)
    _check_reports(checks)


def _check_reports(checks):
    """Fail on any sanitizer report in a daemon's stderr, and on any error
    or definite leak in its valgrind logs. Every process is dead by now,
    so every report is complete."""
    clean = True
    for d in list(_daemons):
        text = d.stderr()
        report = sanitizer_report(text)
        if report is not None:
            clean = checks.fail("no sanitizer report from ackd pid %d" %
                d.pid, "%s:\n%s" % (" ".join(d.args), report))
    if _daemons:
        checks.ok("no sanitizer report from any of the %d ackd runs" %
            len(_daemons), clean, "see above")
    if not valgrind_wrapped():
        return
    logs = []
    for d in list(_daemons):
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
            pid = path.rsplit(".", 1)[-1]
            start = m.start() if m.group(0) == VALGRIND_MARK else 0
            clean = checks.fail("no valgrind error in ackd pid %s" % pid,
                "%s:\n%s" % (path, text[start:start + 8000]))
    checks.ok("no valgrind error in the %d valgrind logs" % len(logs),
        clean and logs, "see above" if logs else "no valgrind log found")


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


# --- the binary and plain runs ------------------------------------------

def wrapper():
    """$ACKD_WRAPPER split into words (the command put before ackd's)."""
    return shlex.split(os.environ.get("ACKD_WRAPPER", ""))


def valgrind_wrapped():
    """Is the daemon run under valgrind?"""
    w = wrapper()
    return bool(w) and os.path.basename(w[0]) == "valgrind"


def ackd_command(args, log_base):
    """The wrapper (if any) and ackd's command line. Under valgrind, each
    process logs to log_base.valgrind.PID, with each error marked."""
    w = wrapper()
    if valgrind_wrapped():
        w += ["--log-file=%s.valgrind.%%p" % log_base,
            "--error-markers=%s-begin,%s-end" % (VALGRIND_MARK,
            VALGRIND_MARK)]
    return w + list(args)


def ackd_env(extra=None):
    """The environment ackd runs in: the tests', with TSan told not to end
    the daemon on a report (run() finds it in stderr), and the variables
    of extra (a dict; a None value removes the variable)."""
    env = dict(os.environ)
    tsan = env.get("TSAN_OPTIONS")
    env["TSAN_OPTIONS"] = (tsan + ":" if tsan else "") + "halt_on_error=0"
    for name, value in (extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def spawn_options(command, env=None, fd3=None, pid_env=(), preexec=None):
    """
    The command and subprocess.Popen keywords that start ackd the way a
    service manager does: env as for ackd_env(); fd3, a descriptor the
    daemon gets as its descriptor 3 (socket activation passes sockets from
    3 on), all others above 2 closed; pid_env, names of variables set to
    the daemon's own pid (LISTEN_PID, WATCHDOG_PID). That pid exists only
    once forked, so a shell sets them and execs the command in its place
    (under $ACKD_WRAPPER too: valgrind runs ackd in its own process).
    """
    if pid_env:
        assign = " ".join("%s=$$" % name for name in pid_env)
        command = ["/bin/sh", "-c", 'export %s; exec "$@"' % assign,
            "sh"] + list(command)
    kw = {"env": ackd_env(env)}
    steps = [preexec] if preexec is not None else []
    if fd3 is not None:
        # pass_fds would close descriptor 3 after preexec_fn put it there
        kw["close_fds"] = False
        steps.append(lambda: _as_fd3(fd3))
    if steps:
        kw["preexec_fn"] = lambda: [step() for step in steps]
    return command, kw


def _as_fd3(fd):
    """In the child before exec: make fd its descriptor 3, inherited;
    every other descriptor above 2 close-on-exec (what close_fds would
    do, without closing 3)."""
    if fd == 3:
        os.set_inheritable(3, True)
    else:
        os.dup2(fd, 3, inheritable=True)
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 3:
            try:
                os.set_inheritable(int(name), False)
            except OSError:
                pass  # listdir's own directory, closed by now


def ackd_path():
    """$ACKD, or src/ackd two directories above this script."""
    p = os.environ.get("ACKD")
    if not p:
        here = os.path.dirname(os.path.abspath(__file__))
        p = os.path.join(here, "..", "..", "src", "ackd")
    return os.path.abspath(p)


def bench_path():
    """$ACKD_BENCH, or src/ackd-bench two directories above this script."""
    p = os.environ.get("ACKD_BENCH")
    if not p:
        here = os.path.dirname(os.path.abspath(__file__))
        p = os.path.join(here, "..", "..", "src", "ackd-bench")
    return os.path.abspath(p)


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


def reachable_by_others(path):
    """Can a user who is neither path's owner nor in its group run path:
    every directory above it searchable by others, the file readable and
    executable by others? (What an unprivileged user needs to exec it.)"""
    path = os.path.abspath(path)
    if os.stat(path).st_mode & 0o005 != 0o005:
        return False
    d = os.path.dirname(path)
    while True:
        if not os.stat(d).st_mode & 0o001:
            return False
        if d == os.path.dirname(d):
            return True
        d = os.path.dirname(d)


_copies = []  # directories made by ackd_for_others(), removed by run()


def ackd_for_others():
    """
    The path of an ackd any user may run: the build's own if every
    directory above it lets others in, else a copy in a fresh directory
    of the system's temporary directory, mode 0755 (a clone in root's
    0700 home is the usual case). None if even that is out of reach.
    """
    if reachable_by_others(ackd_path()):
        return ackd_path()
    if not _copies:
        d = tempfile.mkdtemp(prefix="ackd-bin-")
        _copies.append(d)
        os.chmod(d, 0o755)
        shutil.copy2(ackd_path(), os.path.join(d, "ackd"))
        os.chmod(os.path.join(d, "ackd"), 0o755)
    copy = os.path.join(_copies[0], "ackd")
    return copy if reachable_by_others(copy) else None


def _remove_copies():
    """Remove what ackd_for_others() made."""
    while _copies:
        shutil.rmtree(_copies.pop(), ignore_errors=True)


def run_ackd(args, timeout=10, user=None, group=None, env=None, fd3=None,
    pid_env=()):
    """
    Run ackd with args to completion (for flag errors, --help...). Returns
    (status, stdout bytes, stderr bytes); status is None if it did not exit
    within timeout (it is then killed, with its whole session). user and
    group (ids), if given, are who runs it, without supplementary groups,
    and it runs as ackd_for_others() (the caller checks that is not None).
    env, fd3 and pid_env: as for spawn_options().
    """
    others = user is not None or group is not None
    args = [ackd_for_others() if others else ackd_path()] + list(args)
    log_base = os.path.join(_tmpdir or tempfile.gettempdir(),
        "run.%d" % len(_daemons))
    command, kw = spawn_options(ackd_command(args, log_base), env, fd3,
        pid_env)
    if others:
        kw.update(user=user, group=group, extra_groups=[])
    return _run_to_end(command, args, log_base, timeout, **kw)


def _run_to_end(command, args, log_base, timeout, **popen_args):
    """Run command (ackd with args) until it exits, or kill it with its
    session after timeout: (status or None, stdout bytes, stderr bytes)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL,
            stdout=out, stderr=err, start_new_session=True, **popen_args)
        d = Daemon._adopt(proc, args, log_base)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        d.kill_all()
        out.seek(0)
        err.seek(0)
        output, errput = out.read(), err.read()
        d.err_text = errput.decode("utf-8", "replace")
        return rc, output, errput


class Adopted:
    """
    Popen's pid, returncode, poll() and wait() for a process we did not
    start but reap: a detached ackd master, re-parented to us (run() makes
    us a subreaper) when the command that forked it exited. Should it not
    be our child after all, all we can tell is that it is gone
    (returncode -255).
    """

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        if self.returncode is not None:
            return self.returncode
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            st = proc_stat(self.pid)
            if st is None or st.state == "Z":
                self.returncode = -255
            return self.returncode
        if pid == self.pid:
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() >= end:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(POLL)
        return self.returncode


def run_detached(args, log_path, cwd=None, workers=2, fmt="text",
    timeout=20, env=None):
    """
    Run ackd with args (--daemon among them) in cwd as an operator's shell
    would, until the command returns. Returns (status, stdout bytes,
    stderr bytes, daemon): daemon is the detached master found running
    once the command returned (a session leader among our children that
    no Daemon knows), adopted for cleanup as a Daemon that logs to
    log_path, not yet waited for (see Daemon.wait_ready); None if there is
    none, as there should be none unless status is 0. A detached daemon's
    stderr is /dev/null once it is ready, so its sanitizer reports are
    sent to files, which Daemon.stderr() reads; under valgrind the command's
    log base holds every process's log. env: as for ackd_env().
    """
    args = [ackd_path()] + list(args)
    log_base = os.path.join(_tmpdir or tempfile.gettempdir(),
        "detached.%d" % len(_daemons))
    env = ackd_env(env)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
        env[var] = (env[var] + ":" if env.get(var) else "") + \
            "log_path=%s.san" % log_base
    rc, output, errput = _run_to_end(ackd_command(args, log_base), args,
        log_base, timeout, env=env, cwd=cwd)
    me = os.getpid()
    with _daemons_lock:
        known = {d.pid for d in _daemons}
    found = None
    for st in all_stats():
        if st.ppid != me or st.session != st.pid or st.pid in known:
            continue
        d = Daemon._adopt(Adopted(st.pid), args, log_base + ".master")
        d.log_path = log_path
        d.fmt = fmt
        d.workers = workers
        d.port = None
        d.worker_pids = []
        found = found or d
    return rc, output, errput, found


# --- /proc --------------------------------------------------------------

Stat = collections.namedtuple("Stat", "pid state ppid pgrp session start")


def proc_stat(pid):
    """The fields we need from /proc/PID/stat, or None if there is none."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    # comm may hold spaces and parentheses: split after the last ')'
    rest = data[data.rindex(b")") + 2:].split()
    return Stat(pid, rest[0].decode(), int(rest[1]), int(rest[2]),
        int(rest[3]), int(rest[19]))


def all_stats():
    """Stat of every process on the machine."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None:
                out.append(st)
    return out


def children(pid):
    """Stat of every child of pid, zombies included."""
    kids = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
        for tid in tasks:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
        return [s for s in map(proc_stat, kids) if s is not None]
    except (FileNotFoundError, ProcessLookupError):
        pass  # no CONFIG_PROC_CHILDREN, or pid is gone: scan
    except OSError:
        pass
    return [s for s in all_stats() if s.ppid == pid]


def live_children(pid):
    """Pids of pid's children that are not zombies."""
    return sorted(s.pid for s in children(pid) if s.state != "Z")


def zombie_children(pid):
    """Pids of pid's children in state Z (exited, not reaped)."""
    return sorted(s.pid for s in children(pid) if s.state == "Z")


def listen_queue(port, v6=False):
    """
    Connections waiting in the accept queue of the listening socket on
    port (rx_queue of a LISTEN socket in /proc/net/tcp), or None if no
    socket listens there. Lets a test see that the daemon has accepted.
    """
    path = "/proc/net/tcp6" if v6 else "/proc/net/tcp"
    total = None
    with open(path) as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) != port:
                continue
            total = (total or 0) + int(fields[4].split(":")[1], 16)
    return total


def accepted_clients(port, v6=False):
    """
    {client port: accepted?} for the server side of every connection to
    the local port: in /proc/net/tcp a connection still in the accept
    queue has inode 0, one accept() has taken has a socket inode.
    """
    path = "/proc/net/tcp6" if v6 else "/proc/net/tcp"
    out = {}
    with open(path) as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) != port:
                continue
            out[int(fields[2].rsplit(":", 1)[1], 16)] = fields[9] != "0"
    return out


def unread_bytes(port, sport):
    """Bytes waiting unread on the daemon's side of the connection from
    local port sport to port (None while it is not accepted): 0 once
    the handler has taken what the client sent."""
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":
                    continue
                if int(fields[1].rsplit(":", 1)[1], 16) != port or \
                    int(fields[2].rsplit(":", 1)[1], 16) != sport:
                    continue
                if fields[9] == "0":
                    return None     # still in the accept queue
                return int(fields[4].split(":")[1], 16)
    return None


def wait_accepted(port, sports, timeout=10, v6=False):
    """Poll until the daemon has accepted the connections from sports."""
    return wait_for(lambda: all(accepted_clients(port, v6).get(p)
                                for p in sports), timeout)


def signal_masks(pid):
    """(pending, blocked) signal sets of process pid from /proc/PID/status
    (pending = SigPnd | ShdPnd), or None if pid is gone."""
    masks = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, val = line.partition(":")
                if key in ("SigPnd", "ShdPnd", "SigBlk"):
                    masks[key] = int(val.strip(), 16)
    except (FileNotFoundError, ProcessLookupError):
        return None

    def sigs(m):
        return {n for n in range(1, 65) if m >> (n - 1) & 1}
    return (sigs(masks.get("SigPnd", 0) | masks.get("ShdPnd", 0)),
            sigs(masks.get("SigBlk", 0)))


def wait_signal_taken(pid, sig, timeout=10):
    """
    Poll until the single-threaded master pid has taken sig and is idle
    again: sig no longer pending and not blocked. ackd's master blocks its
    signals everywhere but in sigsuspend(), so "not blocked" means it is
    back asleep there, having acted on every flag.
    """
    def idle():
        m = signal_masks(pid)
        return m is not None and sig not in m[0] and sig not in m[1]
    return wait_for(idle, timeout)


def wait_for(fn, timeout, interval=POLL):
    """Poll fn() until it returns something true or timeout passes; return
    its last value."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


# --- the connection log -------------------------------------------------

class Record(dict):
    """One parsed log line: its fields, plus raw (bytes) and error;
    msg_form is how a JSON line carried msg ("msg" text or "msg_b64")."""

    raw = b""
    error = None
    json = False
    msg_form = None

    @property
    def event(self):
        return self.get("event")


TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
TEXT_HEAD_RE = re.compile(
    rb"^(\S+) (\S+) pid=([0-9]+)(?: tag=([A-Za-z0-9._-]+))? "
    rb"event=([a-z-]+)((?: [^ ]+)*?)"
    rb"(?: msg=\"(.*)\")?$", re.S)
FIELD_RE = re.compile(rb"^([a-z_]+)=([\x21\x23-\x7e]+)$")
INT_RE = re.compile(r"^(0|[1-9][0-9]{0,17})$")


def unescape_text(s):
    """
    Decode a text-format msg field (without its quotes) to the client's
    bytes. Strict: a raw byte outside 0x20-0x7E, an unescaped quote, an
    unknown escape or uppercase hex is an error (ValueError).
    """
    out = bytearray()
    i = 0
    simple = {ord("\\"): 0x5c, ord('"'): 0x22, ord("n"): 0x0a,
        ord("r"): 0x0d, ord("t"): 0x09}
    while i < len(s):
        c = s[i]
        if c < 0x20 or c > 0x7e:
            raise ValueError("raw byte 0x%02x at %d" % (c, i))
        if c == 0x22:
            raise ValueError("unescaped quote at %d" % i)
        if c != 0x5c:
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(s):
            raise ValueError("dangling backslash at the end")
        e = s[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == ord("x"):
            h = s[i + 2:i + 4]
            if len(h) != 2 or any(ch not in b"0123456789abcdef"
                for ch in h):
                raise ValueError("bad \\x escape %r at %d" %
                    (bytes(s[i:i + 4]), i))
            out.append(int(h, 16))
            i += 4
        else:
            raise ValueError("unknown escape %r at %d" %
                (bytes(s[i:i + 2]), i))
    return bytes(out)


SHORT_FORMS = {0x5c: "\\\\", 0x22: '\\"', 0x0a: "\\n", 0x0d: "\\r",
    0x09: "\\t"}


def json_must_escape(cp):
    """Is code point cp written \\uNNNN in JSON lines? The control
    characters (C0, DEL, C1) and U+2028/U+2029."""
    return cp < 0x20 or 0x7f <= cp <= 0x9f or cp in (0x2028, 0x2029)


def escape_text(b):
    """The spec's text escaping of bytes b (the reference to compare to)."""
    out = []
    for c in b:
        if c in SHORT_FORMS:
            out.append(SHORT_FORMS[c])
        elif 0x20 <= c <= 0x7e:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out).encode("ascii")


def escape_json(b):
    """
    The spec's JSON escaping of bytes b, which must be valid UTF-8
    (UnicodeDecodeError otherwise): each character as it is, but for
    SHORT_FORMS and \\uNNNN for json_must_escape. Bytes, UTF-8.
    """
    out = []
    for ch in b.decode("utf-8"):
        cp = ord(ch)
        if cp in SHORT_FORMS:
            out.append(SHORT_FORMS[cp])
        elif json_must_escape(cp):
            out.append("\\u%04x" % cp)
        else:
            out.append(ch)
    return "".join(out).encode("utf-8")


def is_utf8(b):
    """Is b valid UTF-8 (Python's codec is strict: no overlong forms, no
    surrogates, nothing past U+10FFFF)?"""
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def json_msg_member(b):
    """The member a JSON line carries for message bytes b, exactly:
    "msg" and its text if b is UTF-8, else "msg_b64" and its base64."""
    if is_utf8(b):
        return b'"msg":"' + escape_json(b) + b'"'
    return b'"msg_b64":"' + base64.b64encode(b) + b'"'


def _intish(v):
    """A text field's value, as an int when it looks like one (as JSON)."""
    return int(v) if INT_RE.match(v) else v


def parse_text(raw):
    """Parse one text-format line (bytes, no newline) into a Record."""
    rec = Record()
    rec.raw = raw
    try:
        m = TEXT_HEAD_RE.match(raw)
        if m is None:
            raise ValueError("does not match TS CLIENT pid= event=")
        ts, client, pid, tag, event, extra, msg = m.groups()
        rec["ts"] = ts.decode("ascii")
        if not TS_RE.match(rec["ts"]):
            raise ValueError("bad timestamp %r" % rec["ts"])
        client = client.decode("ascii")
        rec["client"] = None if client == "-" else client
        rec["pid"] = int(pid)
        if tag is not None:
            rec["tag"] = tag.decode("ascii")
        rec["event"] = event.decode("ascii")
        for tok in extra.split(b" ")[1:]:
            fm = FIELD_RE.match(tok)
            if fm is None:
                raise ValueError("bad field %r" % tok)
            key = fm.group(1).decode("ascii")
            if key in rec:
                raise ValueError("field %s twice" % key)
            rec[key] = _intish(fm.group(2).decode("ascii"))
        if msg is not None:
            rec["msg"] = unescape_text(msg)
    except (ValueError, UnicodeDecodeError) as e:
        rec.error = str(e)
    return rec


def _no_dup_keys(pairs):
    keys = [k for k, v in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key in %r" % keys)
    return dict(pairs)


def _json_msg(obj):
    """The client's bytes a JSON object carries: msg's text in UTF-8, or
    msg_b64 decoded, which only a message that is not UTF-8 may use (one
    of the two, never both); None if neither. ValueError if malformed."""
    if "msg" in obj and "msg_b64" in obj:
        raise ValueError("both msg and msg_b64")
    if "msg" in obj:
        if not isinstance(obj["msg"], str):
            raise ValueError("msg is not a string")
        return obj["msg"].encode("utf-8")  # a lone surrogate: error
    if "msg_b64" in obj:
        if not isinstance(obj["msg_b64"], str):
            raise ValueError("msg_b64 is not a string")
        try:
            b = base64.b64decode(obj["msg_b64"], validate=True)
        except binascii.Error as e:
            raise ValueError("msg_b64: %s" % e)
        if base64.b64encode(b).decode("ascii") != obj["msg_b64"]:
            raise ValueError("msg_b64 is not in canonical form")
        if is_utf8(b):
            raise ValueError("msg_b64 for a message that is UTF-8")
        return b
    return None


def parse_json(raw):
    """Parse one json-format line into a Record: msg is the client's
    bytes, from "msg" (UTF-8 text) or "msg_b64"; msg_form says which."""
    rec = Record()
    rec.raw = raw
    rec.json = True
    try:
        obj = json.loads(raw.decode("utf-8"),
            object_pairs_hook=_no_dup_keys)
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        rec.update(obj)
        rec["client"] = obj.get("client")
        if not isinstance(obj.get("ts"), str) or \
            not TS_RE.match(obj["ts"]):
            raise ValueError("bad ts %r" % (obj.get("ts"),))
        if not isinstance(obj.get("pid"), int) or \
            not isinstance(obj.get("event"), str):
            raise ValueError("pid or event missing or mistyped")
        rec.msg_form = "msg_b64" if "msg_b64" in obj else \
            "msg" if "msg" in obj else None
        msg = _json_msg(obj)
        rec.pop("msg_b64", None)
        if msg is not None:
            rec["msg"] = msg
    except (ValueError, UnicodeError) as e:
        rec.error = str(e)
    return rec


def read_log(path, fmt="text"):
    """
    Every complete line of the log at path, parsed. A last line without
    its newline (a write in progress) is left out. Missing file: [].
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")[:-1]
    parse = parse_json if fmt == "json" else parse_text
    return [parse(line) for line in lines]


def printable(raw):
    """Is every byte of raw in 0x20-0x7E?"""
    return all(0x20 <= c <= 0x7e for c in raw)


def safe_line(rec):
    """Is rec's raw line safe on a terminal: printable ASCII for text;
    for JSON, UTF-8 with no raw control character nor U+2028/9?"""
    if not rec.json:
        return printable(rec.raw)
    try:
        text = rec.raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(json_must_escape(ord(ch)) for ch in text)


# --- the daemon -----------------------------------------------------------

class Daemon:
    """
    One ackd started in its own session on 127.0.0.1, port 0, logging to
    a file in tmpdir. Always killed and reaped by run()'s cleanup. env,
    fd3 and pid_env: as for spawn_options() (systemd's variables);
    journal: set $JOURNAL_STREAM to its stderr file's "DEV:INO", as
    systemd does when a service's stderr is the journal.
    """

    def __init__(self, tmpdir, flags=(), workers=2, bind="127.0.0.1",
        fmt="text", log_name="ackd.log", ready=True, timeout=10,
        env=None, fd3=None, pid_env=(), preexec=None, log_flags=None,
        binary=None, journal=False):
        self.tmpdir = tmpdir
        self.workers = workers
        self.bind = bind
        self.fmt = fmt
        self.log_path = os.path.join(tmpdir, log_name)
        tag = "%s.%d" % (log_name, len(_daemons))
        self.out_path = os.path.join(tmpdir, tag + ".stdout")
        self.err_path = os.path.join(tmpdir, tag + ".stderr")
        # bind: one address, a list (one --bind each), or None (none)
        binds = [] if bind is None else [bind] if isinstance(bind, str) \
            else list(bind)
        # binary: another path to run, such as ackd_for_others()'s
        self.args = [binary or ackd_path()]
        for b in binds:
            self.args += ["--bind", b]
        # log_flags (such as ["--syslog"]) replace --log-file; records()
        # must then be overridden to read the log from where it goes
        self.args += ["--port", "0"]
        self.args += (["--log-file", self.log_path] if log_flags is None
            else list(log_flags))
        if workers is not None:
            self.args += ["--workers", str(workers)]
        if fmt != "text":
            self.args += ["--log-format", fmt]
        self.args += list(flags)
        self.port = None
        self.worker_pids = []
        self.known = {}  # pid -> start time, every pid we saw
        self.log_base = os.path.join(tmpdir, tag)
        with open(self.out_path, "wb") as out, \
            open(self.err_path, "wb") as err:
            if journal:
                st = os.fstat(err.fileno())
                env = dict(env or {}, JOURNAL_STREAM="%d:%d" % (
                    st.st_dev, st.st_ino))
            command, kw = spawn_options(ackd_command(self.args,
                self.log_base), env, fd3, pid_env, preexec)
            self.proc = subprocess.Popen(command,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True, **kw)
        self.pid = self.proc.pid
        self._remember(self.pid)
        with _daemons_lock:
            _daemons.append(self)
        if ready:
            self.wait_ready(timeout)

    @classmethod
    def _adopt(cls, proc, args, log_base):
        """A Daemon for a process run_ackd started, for its cleanup and
        the check of its reports (run_ackd fills in err_text)."""
        d = cls.__new__(cls)
        d.proc = proc
        d.pid = proc.pid
        d.args = args
        d.log_base = log_base
        d.err_path = None
        d.err_text = ""
        d.known = {}
        d.log_path = None
        d._remember(d.pid)
        with _daemons_lock:
            _daemons.append(d)
        return d

    def _remember(self, pid):
        """Note pid (and its start time, against pid reuse) as ours."""
        if pid not in self.known:
            st = proc_stat(pid)
            self.known[pid] = st.start if st is not None else None

    def describe(self):
        """The command line and stderr, for failure reasons."""
        return "cmd=%s stderr=%s" % (" ".join(self.args),
            short(self.stderr()))

    def stderr(self):
        """Everything the daemon wrote on stderr so far, and the
        sanitizer reports run_detached had written to files."""
        if self.err_path is None:
            text = self.err_text or ""
        else:
            with open(self.err_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        for path in self._logs(".san."):
            with open(path, "rb") as f:
                text += f.read().decode("utf-8", "replace")
        return text

    def _logs(self, kind):
        """The per-process files log_base + kind + PID."""
        d = os.path.dirname(self.log_base)
        head = os.path.basename(self.log_base) + kind
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return []
        return sorted(os.path.join(d, n) for n in names
            if n.startswith(head) and n[len(head):].isdigit())

    def valgrind_logs(self):
        """The valgrind log of each of the daemon's processes."""
        return self._logs(".valgrind.")

    def records(self, path=None):
        """The log (or another file in the same format), parsed."""
        return read_log(path or self.log_path, self.fmt)

    def events(self, event, path=None):
        """Records of one event."""
        return [r for r in self.records(path) if r.event == event]

    def wait_records(self, pred, count=1, timeout=10, path=None):
        """Poll until count records satisfy pred; return those found."""
        found = []

        def look():
            found[:] = [r for r in self.records(path) if pred(r)]
            return len(found) >= count
        wait_for(look, timeout)
        return list(found)

    def wait_ready(self, timeout=10):
        """Wait for event=start and W event=worker-start lines."""
        end = time.monotonic() + timeout
        while True:
            recs = self.records()
            start = [r for r in recs if r.event == "start"]
            ws = [r for r in recs if r.event == "worker-start"]
            if start and len(ws) >= (self.workers or 1):
                break
            if self.proc.poll() is not None:
                raise DaemonError("ackd exited %d before it was "
                    "ready: %s" % (self.proc.returncode,
                    self.describe()))
            if time.monotonic() > end:
                raise DaemonError("ackd not ready within %s s "
                    "(%d start, %d worker-start lines): %s" %
                    (timeout, len(start), len(ws),
                    self.describe()))
            time.sleep(POLL)
        self.start_rec = start[0]
        # listen=ADDR:PORT[,ADDR:PORT...]: every listener, the first first
        self.listens = []
        for listen in str(start[0].get("listen", "")).split(","):
            host, _, port = listen.rpartition(":")
            if not port.isdigit() or not host:
                raise DaemonError("bad listen= in %r" % start[0].raw)
            self.listens.append((host.strip("[]"), int(port)))
        self.listen_host, self.port = self.listens[0]
        self.worker_pids = [r["pid"] for r in ws]
        for pid in self.worker_pids:
            self._remember(pid)

    def master_pid(self):
        """The master's pid as its start line gives it: self.pid but
        under a wrapper that does not exec (strace, prlimit runs it as
        a child)."""
        pid = getattr(self, "start_rec", None) and self.start_rec.get("pid")
        return pid if isinstance(pid, int) else self.pid

    def counters(self, timeout=10):
        """SIGUSR1, then the counters of the master's worker=all
        event=stats line ({name: int}), or None if none came."""
        master = self.master_pid()
        since = len(self.records())
        os.kill(master, signal.SIGUSR1)

        def line():
            return [r for r in self.records()[since:] if r.event ==
                "stats" and r.get("worker") == "all" and
                r.get("pid") == master]
        found = wait_for(line, timeout)
        if not found:
            return None
        return {k: v for k, v in found[0].items() if isinstance(v, int)
            and k not in ("pid", "workers")}

    def wait_counters(self, want, timeout=10):
        """Poll counters() until those named in want (a dict) have its
        values (a worker counts an ACK a moment after sending it);
        return the last ones seen, restricted to want's names. The
        pause between two looks doubles, as each adds lines to the log
        (a test's log may have a size limit)."""
        end = time.monotonic() + timeout
        pause = 0.1
        while True:
            c = self.counters(timeout) or {}
            got = {k: c.get(k) for k in want}
            if got == want or time.monotonic() >= end:
                return got
            time.sleep(pause)
            pause = min(pause * 2, 2)

    def live_workers(self):
        """Live (non-zombie) children of the master."""
        pids = live_children(self.pid)
        for pid in pids:
            self._remember(pid)
        return pids

    def zombies(self):
        """The master's children in state Z."""
        return zombie_children(self.pid)

    def worker_starts(self):
        """Pids of every worker-start line so far (all remembered)."""
        pids = [r["pid"] for r in self.events("worker-start")]
        for pid in pids:
            self._remember(pid)
        return pids

    def signal(self, sig):
        """Send sig to the master."""
        os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        """The master's exit status, or None if it is still running."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def session(self):
        """Every process in the daemon's session (its workers too)."""
        return [s for s in all_stats() if s.session == self.pid]

    def _ours(self, pid):
        """Is pid still the very process we saw (same start time)?"""
        st = proc_stat(pid)
        if st is None:
            return None
        start = self.known.get(pid)
        if start is not None and st.start != start:
            return None
        return st

    def kill_all(self):
        """SIGKILL the master, its process group and session, and every
        pid we saw; reap what is ours to reap."""
        if self.proc.returncode is None and self.proc.poll() is None:
            for fn, arg in ((os.killpg, self.pid),
                (os.kill, self.pid)):
                try:
                    fn(arg, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        victims = {s.pid for s in self.session()}
        victims |= {p for p in self.known if self._ours(p)}
        victims.discard(os.getpid())
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._reap()

    def _reap(self):
        """Reap orphaned workers that came to us as subreaper."""
        me = os.getpid()
        cands = {s.pid for s in self.session() if s.ppid == me}
        cands |= {p for p in self.known if p != self.pid}
        for pid in cands:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass

    def leftovers(self, timeout=5):
        """Processes of this daemon still there after kill_all (zombies
        not ours to reap are ignored: their reaper is not ackd)."""
        def look():
            self._reap()
            left = []
            for pid in set(self.known) | {s.pid for s in
                self.session()}:
                st = self._ours(pid)
                if st is not None and st.state != "Z":
                    left.append(pid)
                elif st is not None and st.ppid == os.getpid():
                    left.append(pid)
            return left
        end = time.monotonic() + timeout
        while True:
            left = look()
            if not left or time.monotonic() >= end:
                return sorted(left)
            time.sleep(POLL)

    def pids_gone(self, pids, timeout=5):
        """Poll until none of pids exists (zombies count as existing:
        nothing is reaped here). Return those still there."""
        def still():
            return [p for p in pids if self._ours(p) is not None]
        end = time.monotonic() + timeout
        while True:
            left = still()
            if not left or time.monotonic() >= end:
                return left
            time.sleep(POLL)


# --- clients --------------------------------------------------------------

class Reply:
    """What a client got: data (bytes), error (exception or None), and
    sport, the client's own source port."""

    def __init__(self):
        self.data = b""
        self.error = None
        self.sport = None

    def __repr__(self):
        return "Reply(data=%s, error=%r, sport=%s)" % (short(self.data,
            80), self.error, self.sport)


class Conn:
    """A client connection driven step by step (connect now, send later)."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.reply = Reply()
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.reply.sport = self.sock.getsockname()[1]

    def send(self, data, shutdown=True):
        """Send data (all of it), then half-close unless told not to."""
        if data:
            self.sock.sendall(data)
        if shutdown:
            self.sock.shutdown(socket.SHUT_WR)

    def read_all(self, timeout=10):
        """Read until EOF or timeout; return the Reply (error set if the
        read failed or timed out; data holds what came before)."""
        end = time.monotonic() + timeout
        try:
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    raise socket.timeout("no EOF within %s s" %
                        timeout)
                self.sock.settimeout(left)
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.reply.data += chunk
        except OSError as e:
            self.reply.error = e
        return self.reply

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def client(port, data, host="127.0.0.1", shutdown=True, timeout=10):
    """Connect, send data, half-close (unless told not to), read until EOF.
    Never raises: a failure is in the Reply's error."""
    r = Reply()
    try:
        c = Conn(port, host, timeout)
    except OSError as e:
        r.error = e
        return r
    try:
        c.send(data, shutdown)
        return c.read_all(timeout)
    except OSError as e:
        c.reply.error = e
        return c.reply
    finally:
        c.close()


def unique_msg(tag, n):
    """A message no other client of this run sends."""
    return ("%s-%d-%08x" % (tag, n, random.getrandbits(32))).encode()


class Result:
    """One connection of a Load: its message, reply, and when it ran."""

    __slots__ = ("msg", "reply", "t0", "t1")

    def __init__(self, msg, reply, t0, t1):
        self.msg = msg
        self.reply = reply
        self.t0 = t0
        self.t1 = t1


class Load:
    """
    Client threads, each sending unique messages one connection after the
    other until stopped, a count per thread or max_seconds is reached.
    """

    def __init__(self, port, tag, threads=8, host="127.0.0.1",
        per_thread=100000, max_seconds=30, pause=0.0, timeout=10,
        stop_on_refused=True):
        self.port = port
        self.tag = tag
        self.host = host
        self.per_thread = per_thread
        self.max_seconds = max_seconds
        self.pause = pause
        self.timeout = timeout
        self.stop_on_refused = stop_on_refused
        self.results = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,),
            daemon=True) for i in range(threads)]

    def _run(self, i):
        end = time.monotonic() + self.max_seconds
        for n in range(self.per_thread):
            if self.stopping.is_set() or time.monotonic() > end:
                break
            msg = unique_msg("%s-%d" % (self.tag, i), n)
            t0 = time.monotonic()
            r = client(self.port, msg, self.host,
                timeout=self.timeout)
            with self.lock:
                self.results.append(Result(msg, r, t0,
                    time.monotonic()))
            if self.stop_on_refused and \
                isinstance(r.error, ConnectionRefusedError):
                break
            if self.pause:
                self.stopping.wait(self.pause)

    def start(self):
        for th in self.threads:
            th.start()
        return self

    def stop(self, timeout=20):
        """Stop and join every thread; True if all ended in time."""
        self.stopping.set()
        return self.join(timeout)

    def join(self, timeout=20):
        end = time.monotonic() + timeout
        for th in self.threads:
            th.join(max(0, end - time.monotonic()))
        return not any(th.is_alive() for th in self.threads)

    def snapshot(self):
        with self.lock:
            return list(self.results)

    def acked(self, ack=ACK):
        """Results whose client got exactly the ACK."""
        return [r for r in self.snapshot() if r.reply.data == ack]

    def wait_acked(self, n, timeout=10, ack=ACK):
        """Poll until at least n connections were acknowledged."""
        return wait_for(lambda: len(self.acked(ack)) >= n, timeout)


def check_acks_logged(t, label, results, records, ack=ACK,
    logged_means_acked=False, host="127.0.0.1"):
    """
    Message by message: every client that got the ACK has its message in
    records exactly once, logged with its own address; no message is
    logged twice; every logged message was sent by one of the clients.
    With logged_means_acked, every logged message's client also got the
    ACK (unless an ack-failed line explains why not).
    """
    sent = {r.msg: r for r in results}
    msgs = [r for r in records if r.event == "message"]
    logged = collections.Counter(r.get("msg") for r in msgs)
    by_msg = {r.get("msg"): r for r in msgs}
    acked = [r for r in results if r.reply.data == ack]
    missing = [r.msg for r in acked if logged[r.msg] == 0]
    t.ok("%s: each of the %d ACKed messages is in the log" %
        (label, len(acked)), not missing,
        "%d ACKed but not logged, e.g. %s" % (len(missing),
        short(missing[:5])))
    dups = [m for m, c in logged.items() if c > 1]
    t.ok("%s: no message logged twice" % label, not dups,
        "%d duplicated, e.g. %s" % (len(dups), short(dups[:5])))
    foreign = [m for m in logged if m not in sent]
    t.ok("%s: every event=message line belongs to a client" % label,
        not foreign, "%d unknown, e.g. %s" % (len(foreign),
        short(foreign[:5])))
    wrong = []
    for r in acked:
        rec = by_msg.get(r.msg)
        want = "%s:%s" % ("[%s]" % host if ":" in host else host,
            r.reply.sport)
        if rec is not None and rec.get("client") != want:
            wrong.append((r.msg, want, rec.get("client")))
    t.ok("%s: each logged message carries its client's address" % label,
        not wrong, "e.g. (msg, expected, logged) %s" % short(wrong[:3]))
    if logged_means_acked:
        failed = {r.get("client") for r in records
            if r.event == "ack-failed"}
        unacked = [r.msg for r in results if logged[r.msg] and
            r.reply.data != ack and
            by_msg[r.msg].get("client") not in failed]
        t.ok("%s: every logged message was ACKed (or ack-failed "
            "logged)" % label, not unacked,
            "%d logged without ACK, e.g. %s" % (len(unacked),
            short([(m, sent[m].reply) for m in unacked[:3]])))
    return not missing and not dups and not foreign and not wrong


def check_lines_parse(t, label, records):
    """Every line of the log parsed, and is safe_line: printable ASCII
    (text), UTF-8 without raw control characters (JSON)."""
    bad = [(r.error, r.raw[:200]) for r in records if r.error]
    t.ok("%s: all %d log lines parse" % (label, len(records)), not bad,
        "%d bad, e.g. %s" % (len(bad), short(bad[:3])))
    raw = [r.raw[:200] for r in records if not safe_line(r)]
    t.ok("%s: no raw control byte (text: nothing outside 0x20-0x7E)" %
        label, not raw, "e.g. %s" % short(raw[:3]))
