# SPDX-License-Identifier: MIT
"""
harness_daemon.py: one running ackd, and the list of all of them (not a
test).

Owns Daemon: an ackd started in its own session on 127.0.0.1, port 0,
logging to a file in the test's directory, and what a test asks of it
(wait until ready, its records, counters, workers, signals, exit) and
the cleanup the runner does (kill_all, leftovers). Every Daemon, also
those adopted for a process started otherwise (harness_exec), goes on
one list, started(), which the runner kills, reaps and checks at the
end: a test never has to clean up after itself. Also the runner's
scratch directory (scratch_dir), where runs that are not Daemons keep
their valgrind logs.
"""

import os
import signal
import subprocess
import tempfile
import threading
import time

from harness_base import POLL, DaemonError, short, wait_for
from harness_log import read_log
from harness_proc import all_stats, live_children, proc_stat, \
    zombie_children
from harness_san import ackd_command
from harness_spawn import ackd_path, spawn_options

_daemons = []  # every Daemon started, for cleanup
_daemons_lock = threading.Lock()
_scratch = [None]  # run()'s temporary directory, for valgrind logs


def started():
    """Every Daemon started or adopted so far, oldest first."""
    with _daemons_lock:
        return list(_daemons)


def set_scratch_dir(path):
    """Where runs that are not Daemons keep their files (run() sets it
    to its temporary directory)."""
    _scratch[0] = path


def scratch_dir():
    """run()'s temporary directory, or the system's outside run()."""
    return _scratch[0] or tempfile.gettempdir()


def _listeners(rec, key):
    """The (host, port) pairs of the start line rec's key=ADDR:PORT[,...];
    [] when it is absent or none."""
    value = rec.get(key)
    if value is None or value == "none":
        return []
    pairs = []
    for listen in str(value).split(","):
        host, _, port = listen.rpartition(":")
        if not port.isdigit() or not host:
            raise DaemonError("bad %s= in %r" % (key, rec.raw))
        pairs.append((host.strip("[]"), int(port)))
    return pairs


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
        tag = "%s.%d" % (log_name, len(started()))
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
        self.tls_port = None
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
    def adopt(cls, proc, args, log_base):
        """A Daemon for a process started otherwise (proc: a Popen, or
        harness_proc.Adopted), for its cleanup and the check of its
        reports: args, its command line; log_base, as for ackd_command;
        err_text, its stderr, is the caller's to fill in."""
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
        # listen=ADDR:PORT[,ADDR:PORT...]: every plain listener, the
        # first first (listen=none: --tls-only); tls_listen= the same for
        # --tls-port's, when given. port and tls_port: the first's.
        self.listens = _listeners(start[0], "listen")
        self.tls_listens = _listeners(start[0], "tls_listen")
        if not self.listens and not self.tls_listens:
            raise DaemonError("no listener in %r" % start[0].raw)
        self.listen_host, self.port = (self.listens or
            [(self.tls_listens[0][0], None)])[0]
        self.tls_port = self.tls_listens[0][1] if self.tls_listens \
            else None
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
