# SPDX-License-Identifier: MIT
"""
harness_exec.py: ackd run to completion, and ackd --daemon (not a test).

Owns the runs that are not a Daemon started by the test: run_ackd(),
ackd run until it exits (flag errors, --help, --check), as another user
if asked, killed with its session past a timeout; and run_detached(),
ackd --daemon run as an operator's shell would, returning once the
command does, with the detached master it left behind adopted
(adopt_detached) so that the runner kills, reaps and checks it like any
other. Each run is adopted as a Daemon for that cleanup and for the
check of its sanitizer and valgrind reports.
"""

import os
import subprocess
import tempfile

from harness_daemon import Daemon, scratch_dir, started
from harness_proc import Adopted, all_stats
from harness_san import ackd_command
from harness_spawn import ackd_env, ackd_for_others, ackd_path, \
    spawn_options

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
    log_base = os.path.join(scratch_dir(), "run.%d" % len(started()))
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
        d = Daemon.adopt(proc, args, log_base)
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
    log_base = os.path.join(scratch_dir(), "detached.%d" % len(started()))
    env = ackd_env(env)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
        env[var] = (env[var] + ":" if env.get(var) else "") + \
            "log_path=%s.san" % log_base
    rc, output, errput = _run_to_end(ackd_command(args, log_base), args,
        log_base, timeout, env=env, cwd=cwd)
    me = os.getpid()
    known = {d.pid for d in started()}
    found = None
    for st in all_stats():
        if st.ppid != me or st.session != st.pid or st.pid in known:
            continue
        d = adopt_detached(st.pid, args, log_base + ".master", log_path,
            workers, fmt)
        found = found or d
    return rc, output, errput, found


def adopt_detached(pid, args, log_base, log_path, workers=2, fmt="text"):
    """
    A Daemon for the detached master pid (our child: run() makes us a
    subreaper) that ran args, for its cleanup and the check of its
    reports (log_base: as for ackd_command), logging to log_path in fmt
    with workers workers; not yet waited for (see Daemon.wait_ready).
    """
    d = Daemon.adopt(Adopted(pid), args, log_base)
    d.log_path = log_path
    d.fmt = fmt
    d.workers = workers
    d.port = None
    d.worker_pids = []
    return d
