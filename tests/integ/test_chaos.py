#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_chaos.py: faults injected while ackd-bench loads ackd over loopback.

1. kill -9 of a random live worker every 200-300 ms for 3 s;
2. SIGTERM to the master in the middle of the load;
3. a SIGHUP storm (20 in 3 s) with the log renamed at every 5th;
4. 500 idle connections (connected, silent) beside the load, with the
   default deferred accept and with --defer-accept 0 and a small pool
   (where they stall the load until we close them: see idle());
5. clients that reset halfway through a message or right after connect,
   that half-close without sending, that close without reading the ACK.

ackd-bench is the client-side checker: --unique --record lists every
message that got exactly ACK!, and each of those must be in the log
(the union of the files, after rotation) exactly once; no message may be
logged twice, and every logged message must come from one of our clients.
After each scenario: fresh clients get ACK! (except after SIGTERM, where
the log must end with event=stop status=0 instead), no zombie among the
master's children, N workers again (polled for, with a deadline), no
descriptor count of the master or a worker above its count before the
load, no worker killed by a signal we did not send, and no new core* file
in the current directory (ackd's working directory) or the test's tmpdir.
RLIMIT_CORE is raised to its hard limit so that a crash leaves one where
core_pattern allows.

ackd-bench is $ACKD_BENCH, or src/ackd-bench; without it the script is
skipped.
"""

import collections
import glob
import json
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CONCURRENCY = 32
IDLE = 500
LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() resets


# --- ackd-bench --------------------------------------------------------------


class Bench:
    """
    One ackd-bench in the background: --unique --json --quiet --record,
    and extra flags (--tls ...).
    Use as a context manager, so it never outlives its scenario.
    """

    def __init__(self, tmp, name, port, seconds, timeout=10,
                 concurrency=CONCURRENCY, extra=()):
        self.record = os.path.join(tmp, name + ".record")
        self.err_path = os.path.join(tmp, name + ".bench.stderr")
        self.args = [h.bench_path(), "--port", str(port), "--concurrency",
                     str(concurrency), "--duration", str(seconds),
                     "--timeout", str(timeout), "--unique", "--json",
                     "--quiet", "--record", self.record] + list(extra)
        self.status = None
        self.out = b""
        self.report = {}
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=err)
        self.pid = self.proc.pid
        self.prefix = ("b%d-" % self.pid).encode()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def stop(self):
        """SIGTERM: ackd-bench stops at once and still reports."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout):
        """Wait for the report; the exit status, or None if it hung."""
        try:
            self.out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.out, _ = self.proc.communicate()
            return None
        self.status = self.proc.returncode
        try:
            self.report = json.loads(self.out.decode("utf-8"))
        except ValueError:
            self.report = {}
        return self.status

    def get(self, key, default=0):
        return self.report.get(key, default)

    def errors(self):
        return self.report.get("errors") or {}

    def failed(self):
        """Counted connections that were not ok."""
        return self.get("wrong") + sum(self.errors().values())

    def recorded(self):
        """The messages that got exactly ACK!, as ackd-bench recorded them."""
        try:
            with open(self.record, "rb") as f:
                return f.read().split(b"\n")[:-1]
        except FileNotFoundError:
            return []

    def describe(self):
        with open(self.err_path, "rb") as f:
            err = f.read()
        return "cmd=%s status=%s stdout=%s stderr=%s" % (
            " ".join(self.args), self.status, h.short(self.out),
            h.short(err))

    def summary(self):
        """connections, ok, wrong, errors and the slowest, for a note."""
        lat = self.report.get("latency_us") or {}
        return "%d counted connections, %d ok, %d wrong, errors %s, " \
            "slowest ok %.2f s" % (
                self.get("connections"), self.get("ok"), self.get("wrong"),
                json.dumps(self.errors(), sort_keys=True),
                lat.get("max", 0) / 1e6)


# --- what the daemon looks like ---------------------------------------------

def fd_count(pid):
    """Open descriptors of pid, or None if it is gone."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def core_files(tmp):
    """core* files in the current directory and in tmp."""
    return set(glob.glob(os.path.join(os.getcwd(), "core*")) +
               glob.glob(os.path.join(tmp, "core*")))


def log_bytes(d, path=None):
    """Size of the log so far (cheap to poll while the load runs)."""
    try:
        return os.path.getsize(path or d.log_path)
    except OSError:
        return 0


def count_events(path, event):
    """event=EVENT lines in a text log, without parsing every line."""
    try:
        with open(path, "rb") as f:
            return f.read().count(b" event=%s " % event.encode())
    except FileNotFoundError:
        return 0


class Before:
    """What to compare with after a scenario: descriptors, core files."""

    def __init__(self, d, tmp):
        self.tmp = tmp
        self.master = fd_count(d.pid)
        self.workers = {p: fd_count(p) for p in d.live_workers()}
        self.cores = core_files(tmp)

    def worker_limit(self, pid):
        """A worker's count before, or for a new one the highest count."""
        return self.workers.get(pid, max(self.workers.values()))


def wait_load(t, label, d, nbytes=64 * 1024, timeout=15):
    """Poll until the log has grown by nbytes: the load is flowing."""
    start = log_bytes(d)
    ok = h.wait_for(lambda: log_bytes(d) >= start + nbytes, timeout)
    t.ok("%s: the load is flowing before the faults" % label, ok,
         "log grew by %d bytes only" % (log_bytes(d) - start))


def check_bench(t, label, b, status, want_ok=True):
    """ackd-bench ended with a report; with want_ok, every connection ok."""
    t.ok("%s: ackd-bench ended with a JSON report" % label,
         status is not None and b.report, b.describe())
    t.ok("%s: ackd-bench got ACKs" % label, b.get("ok") > 0 and
         len(b.recorded()) >= b.get("ok"), "%s, %d recorded" %
         (b.summary(), len(b.recorded())))
    if want_ok:
        t.ok("%s: every ackd-bench connection got ACK! (exit 0)" % label,
             status == 0 and b.failed() == 0 and b.get("connections") > 0,
             "%s; %s" % (b.summary(), b.describe()))


def check_once(t, label, b, recs, own=()):
    """
    Message by message: each message ackd-bench recorded as ACKed is in
    recs exactly once; no message is logged twice; each logged message is
    ackd-bench's (its b<pid>- prefix) or one of own.
    """
    recorded = b.recorded()
    own = set(own)
    logged = collections.Counter(r.get("msg") for r in recs
                                 if r.event == "message")
    t.eq("%s: ackd-bench recorded each message once" % label,
         len(set(recorded)), len(recorded))
    missing = [m for m in recorded if logged[m] == 0]
    t.ok("%s: each of the %d ACKed messages is in the log" %
         (label, len(recorded)), recorded and not missing,
         "%d ACKed but not logged, e.g. %s" % (len(missing),
                                              h.short(missing[:5])))
    dups = sorted(m for m, c in logged.items() if c > 1)
    t.ok("%s: no message is logged twice" % label, not dups,
         "%d logged more than once, e.g. %s" % (len(dups),
                                                h.short(dups[:5])))
    foreign = [m for m in logged
               if not m.startswith(b.prefix) and m not in own]
    t.ok("%s: every logged message was sent by one of our clients" %
         label, not foreign, "%d unknown, e.g. %s" % (len(foreign),
                                                       h.short(foreign[:5])))
    unacked = sum(1 for m in logged if m.startswith(b.prefix)) - \
        len(recorded) + len(missing)
    t.note("%s: %d ACKed messages logged once each; %d logged but not "
           "ACKed (allowed)" % (label, len(recorded) - len(missing),
                                unacked))


def check_files(t, label, paths):
    """Each file ends with a whole line and every line of it parses."""
    recs = []
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        name = os.path.basename(path)
        t.ok("%s: %s ends with a whole line" % (label, name),
             data.endswith(b"\n"), "ends %r" % data[-60:])
        part = h.read_log(path)
        h.check_lines_parse(t, "%s: %s" % (label, name), part)
        recs += part
    return recs


def serve_fresh(t, label, d, n=10):
    """n fresh clients must each get ACK!; returns their messages."""
    msgs, bad = [], []
    for i in range(n):
        msg = h.unique_msg("fresh-" + label, i)
        r = h.client(d.port, msg, timeout=15)
        msgs.append(msg)
        if r.data != h.ACK:
            bad.append(r)
    t.ok("%s: %d fresh clients get ACK! afterwards" % (label, n), not bad,
         h.short(bad[:3]))
    return msgs


def worker_starts(d, paths=()):
    """Pids of the worker-start lines in the log and in paths (rotated)."""
    pids = set(d.worker_starts())
    for path in paths:
        pids |= {r.get("pid") for r in d.events("worker-start", path)}
    return pids


def settle(t, label, d, n, paths=()):
    """Wait for n live workers, no zombie, each live one logged its start
    (in the log, or in one of paths, the rotated files)."""
    def settled():
        live = d.live_workers()
        return len(live) == n and not d.zombies() and \
            set(live) <= worker_starts(d, paths)
    ok = h.wait_for(settled, 30)
    t.ok("%s: the master has %d live workers again" % (label, n), ok,
         "live %s, logged %s" % (d.live_workers(),
                                 sorted(worker_starts(d, paths))))
    t.eq("%s: no zombie among the master's children" % label, d.zombies(),
         [])


def check_fds(t, label, d, before):
    """No descriptor count above its count before the load (polled: the
    last connections may still be closing)."""
    def grown():
        out = {}
        n = fd_count(d.pid)
        if n is None or n > before.master:
            out["master %d" % d.pid] = (before.master, n)
        for pid in d.live_workers():
            n = fd_count(pid)
            if n is not None and n > before.worker_limit(pid):
                out["worker %d" % pid] = (before.worker_limit(pid), n)
        return out
    h.wait_for(lambda: not grown(), 15)
    left = grown()
    t.ok("%s: no descriptor leak in the master or a worker" % label,
         not left, "(before, now): %s" % left)
    t.note("%s: descriptors master %s, workers %s (before: %s, %s)" % (
        label, fd_count(d.pid), sorted(fd_count(p) for p in d.live_workers()),
        before.master, sorted(before.workers.values())))


def check_exits(t, label, d, killed=(), stopped=()):
    """Every worker-exit line is for a worker we killed, status killed:9,
    or for one that stopped (SIGTERM), status exited:0."""
    exits = [(r.get("worker"), r.get("status"))
             for r in d.events("worker-exit")]
    killed, stopped = set(killed), set(stopped)
    odd = [e for e in exits if not (e[0] in killed and e[1] == "killed:9")
           and not (e[0] in stopped and e[1] == "exited:0")]
    t.ok("%s: no worker died of anything but what we sent" % label,
         not odd, "unexpected worker-exit %s" % h.short(odd))


def check_cores(t, label, before):
    """No new core* file in the current directory or the tmpdir."""
    new = sorted(core_files(before.tmp) - before.cores)
    t.eq("%s: no core file appeared" % label, new, [])


def stop_daemon(t, label, d):
    """SIGTERM: the daemon still shuts down cleanly after the chaos."""
    d.signal(signal.SIGTERM)
    t.eq("%s: SIGTERM afterwards, exit 0" % label, d.wait_exit(20), 0)


def after(t, label, d, b, before, n, own=(), killed=()):
    """The checks every surviving daemon gets after a scenario."""
    settle(t, label, d, n)
    own = list(own) + serve_fresh(t, label, d)
    recs = d.records()
    h.check_lines_parse(t, label, recs)
    check_once(t, label, b, recs, own)
    check_exits(t, label, d, killed)
    check_fds(t, label, d, before)
    check_cores(t, label, before)
    return recs


# --- the scenarios -----------------------------------------------------------

def kill_workers(t, tmp):
    """kill -9 a random live worker every 200-300 ms for 3 s, under load."""
    label, n = "kill -9", 3
    d = h.Daemon(tmp, ["--threads", "8"], workers=n, log_name="kill.log")
    before = Before(d, tmp)
    killed = []
    with Bench(tmp, "kill", d.port, seconds=4.5, timeout=20) as b:
        wait_load(t, label, d)
        end = time.monotonic() + 3
        while time.monotonic() < end:
            # only workers that have logged worker-start: under valgrind a
            # new worker can live a while before it does, and one killed
            # then would leave no line to count
            started = set(d.worker_starts())
            live = [p for p in d.live_workers() if p in started]
            if live:
                victim = random.choice(live)
                try:
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)
                except ProcessLookupError:
                    pass
            time.sleep(random.uniform(0.2, 0.3))  # pacing, not a sync
        status = b.wait(30)
    check_bench(t, label, b, status, want_ok=False)
    # each kill loses at most what that worker held: its threads, its
    # queue (at most the connections in flight) and one in accept()
    t.ok("%s: only connections held by killed workers failed" % label,
         b.errors().get("connect", 0) == 0 and
         b.errors().get("timeout", 0) == 0 and
         b.failed() <= len(killed) * CONCURRENCY,
         "%s after %d kills" % (b.summary(), len(killed)))
    t.ok("%s: a worker-exit killed:9 line for each of the %d kills" %
         (label, len(killed)), d.wait_records(
             lambda r: r.event == "worker-exit", count=len(killed),
             timeout=10), "only %d" % len(d.events("worker-exit")))
    after(t, label, d, b, before, n, killed=killed)
    t.ok("%s: %d worker-start lines (%d + one per kill)" %
         (label, n + len(killed), n), h.wait_for(
             lambda: len(d.worker_starts()) == n + len(killed), 20),
         "%d lines" % len(d.worker_starts()))
    t.note("%s: survived %d kills of %d workers; load: %s" %
           (label, len(killed), n, b.summary()))
    stop_daemon(t, label, d)


def sigterm(t, tmp):
    """SIGTERM to the master in the middle of the load."""
    label = "SIGTERM"
    d = h.Daemon(tmp, ["--threads", "8"], workers=2, log_name="term.log")
    before = Before(d, tmp)
    workers = list(d.worker_pids)
    with Bench(tmp, "term", d.port, seconds=5, timeout=15) as b:
        wait_load(t, label, d, nbytes=1024 * 1024)
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(20)
        # the daemon is gone: ackd-bench would only retry refused connects
        b.stop()
        status = b.wait(15)
    t.eq("%s: the master exits 0" % label, rc, 0)
    check_bench(t, label, b, status, want_ok=False)
    t.ok("%s: ackd-bench failed only with refused connects and cut "
         "connections" % label, b.errors().get("timeout", 0) == 0 and
         b.errors().get("other", 0) == 0, b.summary())
    recs = check_files(t, label, [d.log_path])
    check_once(t, label, b, recs)
    last = recs[-1] if recs else h.Record()
    t.ok("%s: the log ends with event=stop status=0" % label,
         last.event == "stop" and last.get("status") == 0 and
         last.get("pid") == d.pid, h.short(last.raw))
    t.eq("%s: a worker-stop line from each worker" % label,
         sorted(r.get("pid") for r in recs if r.event == "worker-stop"),
         sorted(workers))
    t.eq("%s: no worker is left, not even a zombie" % label,
         d.pids_gone(workers), [])
    check_exits(t, label, d, stopped=workers)
    check_cores(t, label, before)
    t.note("%s: load until the signal: %s" % (label, b.summary()))


def hup_storm(t, tmp):
    """20 SIGHUPs in 3 s under load, the log renamed at every 5th."""
    label, n = "HUP storm", 2
    d = h.Daemon(tmp, ["--threads", "8"], workers=n, log_name="hup.log")
    before = Before(d, tmp)
    rotated = []
    with Bench(tmp, "hup", d.port, seconds=4.5, timeout=10) as b:
        wait_load(t, label, d)
        for i in range(1, 21):
            if i % 5 == 0:
                rotated.append("%s.%d" % (d.log_path, len(rotated) + 1))
                os.rename(d.log_path, rotated[-1])
            d.signal(signal.SIGHUP)
            time.sleep(0.15)  # pacing, not a sync
        status = b.wait(30)
    check_bench(t, label, b, status)
    # the last SIGHUP came after the last rename: every process must end
    # up in the file at the path, and say so with a reopen line there
    pids = {d.pid} | set(d.live_workers())
    t.ok("%s: the master and each worker reopened the current file" %
         label, h.wait_for(lambda: pids <= {r.get("pid")
                                            for r in d.events("reopen")},
                           10), "reopen lines from %s of %s" %
         ({r.get("pid") for r in d.events("reopen")}, pids))
    settle(t, label, d, n, rotated)
    own = serve_fresh(t, label, d)
    current = d.records()
    t.ok("%s: the fresh clients are logged in the current file" % label,
         set(own) <= {r.get("msg") for r in current}, "not all there")
    recs = check_files(t, label, rotated + [d.log_path])
    check_once(t, label + " (union of %d files)" % (len(rotated) + 1), b,
               recs, own)
    check_exits(t, label, d)
    check_fds(t, label, d, before)
    check_cores(t, label, before)
    t.note("%s: 20 SIGHUPs, %d renames, %d reopen lines, %d files; "
           "load: %s" % (label, len(rotated),
                         sum(r.event == "reopen" for r in recs),
                         len(rotated) + 1, b.summary()))
    stop_daemon(t, label, d)


def raise_nofile(need):
    """Raise our soft RLIMIT_NOFILE to need if it is lower (and can be)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        want = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def idle_open(t, label, port, src):
    """IDLE connections from address src that send nothing."""
    socks = []
    try:
        for _ in range(IDLE):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.settimeout(10)
            s.bind((src, 0))
            s.connect(("127.0.0.1", port))
    except OSError as e:
        t.fail("%s: %d idle connections" % (label, IDLE),
               "connection %d: %r" % (len(socks), e))
        raise
    return socks


def idle_close(socks):
    """Close the idle sockets; how many the daemon had closed already."""
    by_daemon = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(16, socket.MSG_PEEK) == b"":
                by_daemon += 1
        except OSError:
            pass  # EAGAIN: still open at the daemon's end
        s.close()
    return by_daemon


def idle_lines(d, src, socks_ports):
    """{client port: [events]} of the idle connections' lines."""
    out = collections.defaultdict(list)
    for r in d.records():
        c = r.get("client") or ""
        host, _, port = c.rpartition(":")
        if host == src and port.isdigit() and int(port) in socks_ports:
            out[int(port)].append(r.event)
    return out


def idle_run(t, tmp, label, flags, src, hold_until_timeouts):
    """
    IDLE silent connections beside ackd-bench. With hold_until_timeouts,
    they are closed (by us) once the daemon has timed out that many of
    them; otherwise they stay until ackd-bench is done.
    """
    n = 2
    # a line per connection (--event-interval 0: no summaries of
    # repeats), as the checks follow each connection by its port
    d = h.Daemon(tmp, flags + ["--event-interval", "0"], workers=n,
                 log_name="idle-%s.log" % src)
    before = Before(d, tmp)
    socks = idle_open(t, label, d.port, src)
    ports = collections.Counter(s.getsockname()[1] for s in socks)
    t0 = time.monotonic()
    with Bench(tmp, "idle-" + src, d.port, seconds=4, timeout=20) as b:
        stall = None
        if hold_until_timeouts:
            t.ok("%s: the daemon times out idle connections itself" % label,
                 h.wait_for(lambda: count_events(d.log_path, "timeout") >=
                            hold_until_timeouts, 15), "only %d timeouts" %
                 count_events(d.log_path, "timeout"))
            stall = (time.monotonic() - t0,
                     count_events(d.log_path, "message"))
            by_daemon = idle_close(socks)
        status = b.wait(30)
        if not hold_until_timeouts:
            by_daemon = idle_close(socks)
    check_bench(t, label, b, status)
    # each idle connection ends as one line: timeout (the daemon closed
    # it) or empty (we closed it: accepted on our FIN, read 0 bytes)
    lines = {}

    def accounted():
        lines.update(idle_lines(d, src, ports))
        return sum(len(v) for v in lines.values()) >= IDLE
    h.wait_for(accounted, 30)
    bad = {p: ev for p, ev in lines.items()
           if len(ev) != ports[p] or set(ev) - {"timeout", "empty"}}
    got = collections.Counter(e for ev in lines.values() for e in ev)
    t.ok("%s: each of the %d idle connections ended as one timeout or "
         "empty line" % (label, IDLE), sum(got.values()) == IDLE and
         not bad, "events %s; odd %s" % (dict(got), h.short(bad)))
    after(t, label, d, b, before, n)
    t.note("%s: %d idle connections (%d closed by the daemon, %d by us; "
           "log: %s); load: %s" % (label, IDLE, by_daemon,
                                   IDLE - by_daemon, dict(got), b.summary()))
    if stall:
        t.note("%s: while the %d idle connections were held (%.1f s), %d "
               "messages were logged; every client waited for them" %
               (label, IDLE, stall[0], stall[1]))
    stop_daemon(t, label, d)


def idle(t, tmp):
    """500 idle connections beside the load, both accept modes."""
    raise_nofile(IDLE + CONCURRENCY + 256)
    # deferred accept (the default): silent connections never reach a
    # thread, the load does not notice them
    idle_run(t, tmp, "idle, deferred accept", ["--threads", "8"],
             "127.0.0.210", 0)
    # without it, 2 x (4 threads + 8 queued) idle connections are taken at
    # a time and each holds its thread for the 2 s read timeout: the pool
    # gets through 8 idle connections per 2 s, ~125 s for all 500, and the
    # load waits behind them (nothing is logged meanwhile). So we hold them
    # only until the daemon has timed out one per thread (it does close
    # idle connections itself), then close the rest, and the load's
    # connections, waiting meanwhile, must all still succeed.
    idle_run(t, tmp, "idle, --defer-accept 0",
             ["--defer-accept", "0", "--threads", "4", "--queue", "8",
              "--read-timeout", "2"], "127.0.0.211", 2 * 4)


class Rude:
    """Misbehaving clients, one kind per source address, run in a thread."""

    KINDS = {  # kind: source address
        "reset-mid-message": "127.0.0.201",
        "reset-after-connect": "127.0.0.202",
        "half-close": "127.0.0.203",
        "no-read": "127.0.0.204",
    }

    def __init__(self, port, seconds):
        self.port = port
        self.seconds = seconds
        self.conns = collections.defaultdict(collections.Counter)
        self.msgs = {kind: [] for kind in self.KINDS}
        self.replies = collections.Counter()
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _one(self, kind, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(10)
            s.bind((self.KINDS[kind], 0))
            s.connect(("127.0.0.1", self.port))
            self.conns[kind][s.getsockname()[1]] += 1
            msg = h.unique_msg("rude-" + kind, i)
            if kind == "reset-mid-message":
                # the first part of a longer message, then a reset
                s.sendall(msg + b" (first part")
                self.msgs[kind].append(msg + b" (first part")
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             LINGER_RST)
            elif kind == "reset-after-connect":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             LINGER_RST)
            elif kind == "half-close":
                s.shutdown(socket.SHUT_WR)
                data = b""
                while True:
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    data += chunk
                self.replies[data] += 1
            else:
                s.sendall(msg)
                self.msgs[kind].append(msg)
        except OSError as e:
            self.errors.append((kind, i, repr(e)))
        finally:
            s.close()

    def _run(self):
        end = time.monotonic() + self.seconds
        i = 0
        while time.monotonic() < end:
            for kind in self.KINDS:
                self._one(kind, i)
            i += 1
            time.sleep(0.01)  # pacing, not a sync

    def lines(self, recs):
        """{kind: {port: [events]}} of the rude clients' lines."""
        by_src = {v: k for k, v in self.KINDS.items()}
        out = {kind: collections.defaultdict(list) for kind in self.KINDS}
        for r in recs:
            host, _, port = (r.get("client") or "").rpartition(":")
            if host in by_src and port.isdigit():
                out[by_src[host]][int(port)].append(r.event)
        return out


def rude_run(t, tmp, label, flags, deferred):
    """
    Rude clients beside ackd-bench. With deferred accept, a reset right
    after connect never leaves the kernel (no data, so never accepted)
    and may have no line; without it, every rude connection has one.
    """
    n = 2
    # a line per connection, followed by its port: no summaries
    d = h.Daemon(tmp, flags + ["--event-interval", "0"], workers=n,
                 log_name="rude-%s.log" % ("deferred" if deferred else "0"))
    before = Before(d, tmp)
    workers = sorted(d.worker_pids)
    rude = Rude(d.port, 2.5)
    with Bench(tmp, "rude-%d" % deferred, d.port, seconds=3.5,
               timeout=10) as b:
        wait_load(t, label, d)
        rude.thread.start()
        rude.thread.join(30)
        status = b.wait(30)
    t.ok("%s: the rude clients ran" % label, not rude.thread.is_alive() and
         not rude.errors, h.short(rude.errors[:5]))
    check_bench(t, label, b, status)
    total = {k: sum(rude.conns[k].values()) for k in Rude.KINDS}
    maybe = {"reset-after-connect"} if deferred else set()

    def primary(recs):
        return sum(len([e for e in ev if e != "ack-failed"])
                   for kind, by_port in rude.lines(recs).items()
                   if kind not in maybe for ev in by_port.values())
    want = sum(v for k, v in total.items() if k not in maybe)
    h.wait_for(lambda: primary(d.records()) >= want, 15)
    recs = d.records()
    lines = rude.lines(recs)
    allowed = {
        "reset-mid-message": {"message", "reset", "ack-failed"},
        "reset-after-connect": {"reset", "empty"},
        "half-close": {"empty"},
        "no-read": {"message", "ack-failed"},
    }
    for kind, by_port in sorted(lines.items()):
        odd = {}
        for port, conns in rude.conns[kind].items():
            ev = by_port.get(port, [])
            first = [e for e in ev if e != "ack-failed"]
            if set(ev) - allowed[kind] or len(first) > conns or \
                    (kind not in maybe and len(first) != conns) or \
                    ev.count("ack-failed") > ev.count("message"):
                odd[port] = ev
        strange = set(by_port) - set(rude.conns[kind])
        t.ok("%s: %s: %s line of %s per connection" %
             (label, kind, "at most one" if kind in maybe else "one",
              "/".join(sorted(allowed[kind] - {"ack-failed"}))),
             not odd and not strange, "odd %s, unknown ports %s" %
             (h.short(odd), sorted(strange)[:5]))
    logged = collections.Counter(r.get("msg") for r in recs
                                 if r.event == "message")
    t.ok("%s: every no-read message is logged exactly once" % label,
         all(logged[m] == 1 for m in rude.msgs["no-read"]),
         h.short([m for m in rude.msgs["no-read"] if logged[m] != 1][:5]))
    t.eq("%s: every half-closing client got no reply" % label,
         dict(rude.replies), {b"": total["half-close"]})
    t.eq("%s: the same workers still run (none died)" % label,
         sorted(d.live_workers()), workers)
    own = [m for ms in rude.msgs.values() for m in ms]
    after(t, label, d, b, before, n, own=own)
    t.eq("%s: still the same workers after the fresh clients" % label,
         sorted(d.live_workers()), workers)
    got = collections.Counter(e for by_port in lines.values()
                              for ev in by_port.values() for e in ev)
    kinds = {"message", "empty"} | (set() if deferred else {"reset"})
    t.ok("%s: the rude clients left %s lines" % (label, "/".join(
        sorted(kinds))), kinds <= set(got), "only %s" % dict(got))
    t.note("%s: injected %s; their lines %s; load: %s" %
           (label, json.dumps(total, sort_keys=True), dict(got),
            b.summary()))
    stop_daemon(t, label, d)


def rude_clients(t, tmp):
    """Resets, half-closes and vanishing clients mixed into the load."""
    rude_run(t, tmp, "rude clients, deferred accept", ["--threads", "8"],
             True)
    rude_run(t, tmp, "rude clients, --defer-accept 0",
             ["--threads", "8", "--defer-accept", "0"], False)


def main(t, tmp):
    if not os.access(h.bench_path(), os.X_OK):
        raise h.Skip("no executable ackd-bench at %s (set ACKD_BENCH)" %
                     h.bench_path())
    # let a crash leave a core file where core_pattern says
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    for scenario in (kill_workers, sigterm, hup_storm, idle, rude_clients):
        t0 = time.monotonic()
        scenario(t, tmp)
        t.note("%s: %.1f s" % (scenario.__name__, time.monotonic() - t0))


if __name__ == "__main__":
    h.run("chaos", main, deadline=120)
