# SPDX-License-Identifier: MIT
"""
harness_spawn.py: which ackd to run, and how to start it (not a test).

Owns the binaries under test ($ACKD, $ACKD_BENCH, or the build's own
src/ beside this directory), a copy of ackd any user may run and a
directory any user may write (for tests that drop privileges; the copy
is removed by the runner), the environment ackd runs
in and the Popen keywords that start it the way a service manager does
(socket activation's descriptor 3, LISTEN_PID and the like). Starts
nothing itself: harness_daemon and harness_exec do.
"""

import os
import shutil
import tempfile


def _built(var, name):
    """$var, or src/name two directories above this script."""
    p = os.environ.get(var)
    if not p:
        here = os.path.dirname(os.path.abspath(__file__))
        p = os.path.join(here, "..", "..", "src", name)
    return os.path.abspath(p)


def ackd_path():
    """$ACKD, or src/ackd two directories above this script."""
    return _built("ACKD", "ackd")


def bench_path():
    """$ACKD_BENCH, or src/ackd-bench two directories above this script."""
    return _built("ACKD_BENCH", "ackd-bench")


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


def remove_copies():
    """Remove what ackd_for_others() made."""
    while _copies:
        shutil.rmtree(_copies.pop(), ignore_errors=True)


def writable_dir(parent, name):
    """
    A new directory parent/name any user may write (mode 0777), parent
    made searchable by all (0755) unless it is already: where a daemon
    that drops to another user keeps its own files (stderr, valgrind's
    and the sanitizers' per-process logs). Its path.
    """
    if not os.stat(parent).st_mode & 0o001:
        os.chmod(parent, 0o755)
    path = os.path.join(parent, name)
    os.mkdir(path)
    os.chmod(path, 0o777)  # mkdir's mode is cut by the umask
    return path


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
