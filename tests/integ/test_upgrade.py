#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_upgrade.py: SIGUSR2, a new master from the binary on disk with the
listening sockets handed over: a restart that drops nothing.

1. Ten upgrades in a row under ackd-bench --unique --record: each time
   SIGUSR2 to the master the pid file names; the pid file then names a
   new master, the old one exits, and the new one runs N workers. Then:
   no connect refused, no reset, no timeout, nothing wrong (ackd-bench's
   counts); every message ackd-bench saw ACKed is logged exactly once;
   the log tells the chain (start upgraded_from=, upgrade-done, stop
   status=0 for each old master); the last master holds no more
   descriptors than the first; SIGTERM leaves no process behind and
   removes the pid file. The time each upgrade takes is noted.
2. A failed upgrade: the binary (a copy in the test's directory) is
   replaced by a script that exits 64, then removed: event=upgrade-failed
   reason=exited:64, then reason=exec error=ENOENT, each with a warning on
   stderr; the old master keeps serving (a client gets its ACK, the pid
   file still names it, its workers are the same). With the binary back,
   SIGUSR2 upgrades.
3. A new master that never serves (a script that sleeps): a second
   SIGUSR2 is ignored with a warning, SIGHUP reopens the old master's
   log, which serves on; SIGTERM ends the old master and the new one.
4. Draining: a connection an old worker accepted, its line half sent,
   keeps the old master; the metrics port is the new master's already; a SIGUSR2 to the new master meanwhile is
   ignored with a warning, as is one to the old master (shutting down);
   the message then sent gets its ACK from the old worker, logged once,
   and only then does the old master exit.
5. --daemon: the new master leads a session of its own (the old one's
   signals do not reach it), outlives the old one, the pid file names
   it, and its warnings (a failed upgrade of its own) go to syslog.
6. systemd (a fake manager): the old master says RELOADING=1, then
   MAINPID=<new> with READY=1; no STOPPING=1 comes until the new master
   is stopped.

Before SIGUSR2 was the operator's, none of this happened: the pid file
never names a new master.
"""

import os
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_chaos as chaos  # noqa: E402
import test_metrics as tm  # noqa: E402
import test_syslog as ts  # noqa: E402
import test_systemd as sd  # noqa: E402

SLOW = h.valgrind_wrapped()
# each upgrade takes seconds under valgrind, while the load runs on
UPGRADES = 3 if SLOW else 10
WORKERS = 2
T_WAIT = 60 if SLOW else 20


def read_pid(path):
    """The pid in the pid file, or None (missing, empty, partial)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") and text.strip().isdigit() \
        else None


def reap(pid, timeout):
    """Wait for pid to end and reap it if it is ours (a re-parented
    master is: run() made us a subreaper); True if it is gone."""
    def gone():
        try:
            got, _ = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                return True
        except ChildProcessError:
            pass
        st = h.proc_stat(pid)
        return st is None or (st.state == "Z" and st.ppid != os.getpid())
    return h.wait_for(gone, timeout)


def gone_master(d, pid, timeout):
    """Wait for the old master pid to exit: d's own child, or one that
    came to us. True if it is gone (and exited 0, when we can tell)."""
    if pid == d.pid:
        return d.wait_exit(timeout) == 0
    return reap(pid, timeout)


def fd_count(pid):
    """Open descriptors of pid, but valgrind's own (its log, its pipes),
    which it adds at each exec: None if pid is gone."""
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return None
    n = 0
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        n += "valgrind" not in link and "vgdb" not in link
    return n


def remember_all(d, pid):
    """Note pid and its workers as the daemon's, for the cleanup."""
    d._remember(pid)
    for w in h.live_children(pid):
        d._remember(w)


def upgrade(t, label, d, old, pid_path):
    """SIGUSR2 to old; wait for the pid file to name a new master and
    for the old one to be gone. (new pid or None, ms to the new master
    serving, ms to the old one gone)."""
    t0 = time.monotonic()
    os.kill(old, signal.SIGUSR2)
    new = h.wait_for(lambda: read_pid(pid_path) not in (None, old) and
                     read_pid(pid_path), T_WAIT)
    t1 = time.monotonic()
    if not t.ok("%s: the pid file names a new master" % label, new,
                "still %s" % read_pid(pid_path)):
        return None, None, None
    remember_all(d, new)
    t.ok("%s: the old master %d exits" % (label, old),
         gone_master(d, old, T_WAIT))
    t2 = time.monotonic()
    t.ok("%s: the new master %d runs %d workers" % (label, new, WORKERS),
         h.wait_for(lambda: len(h.live_children(new)) == WORKERS, T_WAIT),
         "workers %s" % h.live_children(new))
    remember_all(d, new)
    return new, (t1 - t0) * 1000, (t2 - t0) * 1000


def stop_master(t, label, d, pid):
    """SIGTERM the master pid; wait for it and its workers to go."""
    kids = h.live_children(pid)
    os.kill(pid, signal.SIGTERM)
    t.ok("%s: the last master exits on SIGTERM" % label,
         gone_master(d, pid, T_WAIT))
    t.eq("%s: none of its processes is left" % label,
         d.pids_gone(kids + [pid], T_WAIT), [])


def check_chain(t, label, recs, masters):
    """The log tells each hand-over: every new master's start line names
    the one before, and each old master logged upgrade-done naming its
    successor and stopped with status 0."""
    starts = {r.get("pid"): r.get("upgraded_from") for r in recs
              if r.event == "start"}
    t.eq("%s: each new master's start says upgraded_from= the one "
         "before" % label, [starts.get(p) for p in masters[1:]],
         masters[:-1])
    done = {r.get("pid"): r.get("new_master") for r in recs
            if r.event == "upgrade-done"}
    t.eq("%s: each old master logged upgrade-done new_master=" % label,
         [done.get(p) for p in masters[:-1]], masters[1:])
    stops = {r.get("pid"): r.get("status") for r in recs
             if r.event == "stop"}
    t.eq("%s: each old master logged stop status=0" % label,
         [stops.get(p) for p in masters[:-1]], [0] * (len(masters) - 1))


def check_lock(t, label, pid_path, holder):
    """The pid file's lock went over with it: a second ackd with the same
    --pid-file exits 69 naming holder, and leaves the file as it was."""
    rc, _, err = h.run_ackd(["--bind", "127.0.0.1", "--port", "0",
                             "--log-file", pid_path + ".second.log",
                             "--pid-file", pid_path], timeout=T_WAIT)
    t.ok("%s: a second ackd with the pid file exits 69: locked by pid %d" %
         (label, holder), rc == 69 and
         ("locked by pid %d" % holder).encode() in err,
         "rc %s stderr %s" % (rc, h.short(err)))
    t.eq("%s: the pid file still names %d" % (label, holder),
         read_pid(pid_path), holder)


def ten_upgrades(t, tmp):
    """UPGRADES upgrades in a row under load: nothing refused or lost."""
    label = "%d upgrades under load" % UPGRADES
    pid_path = os.path.join(tmp, "up.pid")
    d = h.Daemon(tmp, ["--threads", "4", "--pid-file", pid_path],
                 workers=WORKERS, log_name="up.log")
    first = d.pid
    h.wait_for(lambda: read_pid(pid_path) == first, T_WAIT)
    fds0 = fd_count(first)
    masters, times = [first], []
    with chaos.Bench(tmp, "up", d.port, seconds=300, timeout=30,
                     concurrency=4) as b:
        chaos.wait_load(t, label, d, nbytes=4096, timeout=T_WAIT)
        for i in range(UPGRADES):
            new, ready_ms, gone_ms = upgrade(
                t, "%s: #%d" % (label, i + 1), d, masters[-1], pid_path)
            if new is None:
                break
            masters.append(new)
            times.append((ready_ms, gone_ms))
        # the last master serves the load a while too
        chaos.wait_load(t, label + " at the end", d, nbytes=4096,
                        timeout=T_WAIT)
        b.stop()
        status = b.wait(T_WAIT)
    t.ok("%s: ackd-bench ended with a JSON report" % label,
         status is not None and b.report, b.describe())
    errors = b.errors()
    for kind in ("connect", "reset", "timeout", "other"):
        t.eq("%s: ackd-bench counted no %s error" % (label, kind),
             errors.get(kind), 0)
    t.eq("%s: ackd-bench got no wrong reply" % label, b.get("wrong"), 0)
    t.eq("%s: %d new masters" % (label, UPGRADES), len(masters),
         UPGRADES + 1)
    recs = d.records()
    chaos.check_once(t, label, b, recs)
    check_chain(t, label, recs, masters)
    last = masters[-1]
    t.ok("%s: the last master holds no more descriptors than the first "
         "(%s)" % (label, fds0), (fd_count(last) or 0) <= fds0,
         "now %s" % fd_count(last))
    t.eq("%s: the old masters are all gone" % label,
         d.pids_gone(masters[:-1], T_WAIT), [])
    check_lock(t, label, pid_path, last)
    t.note("%s: refused connects %s, resets %s, timeouts %s; %d messages "
           "ACKed; load: %s" % (label, errors.get("connect"),
                                errors.get("reset"), errors.get("timeout"),
                                len(b.recorded()), b.summary()))
    t.note("%s: ms from SIGUSR2 to the new master serving / to the old "
           "one gone: %s" % (label, ", ".join("%.0f/%.0f" % x
                                              for x in times)))
    stop_master(t, label, d, last)
    t.eq("%s: the pid file is removed at the end" % label,
         os.path.exists(pid_path), False)


def copy_binary(tmp, name="bin"):
    """A copy of ackd in a directory of the test's: the one to replace."""
    bindir = os.path.join(tmp, name)
    os.makedirs(bindir, exist_ok=True)
    path = os.path.join(bindir, "ackd")
    shutil.copy2(h.ackd_path(), path + ".new")
    os.rename(path + ".new", path)
    return path


def failed_upgrade(t, tmp):
    """A binary that exits 64, then none: the old master keeps serving."""
    label = "failed upgrade"
    path = copy_binary(tmp)
    pid_path = os.path.join(tmp, "fail.pid")
    d = h.Daemon(tmp, ["--pid-file", pid_path], workers=WORKERS,
                 log_name="fail.log", binary=path)
    h.wait_for(lambda: read_pid(pid_path) == d.pid, T_WAIT)
    workers = h.live_children(d.pid)
    with open(path + ".new", "w") as f:
        f.write("#!/bin/sh\nexit 64\n")
    os.chmod(path + ".new", 0o755)
    os.rename(path + ".new", path)
    cases = [("a binary that exits 64", {"reason": "exited:64"},
              "exited:64; still serving"),
             ("no binary", {"reason": "exec", "error": "ENOENT"},
              "No such file or directory; still serving")]
    for i, (what, want, warning) in enumerate(cases):
        if i == 1:
            os.unlink(path)
        d.signal(signal.SIGUSR2)
        recs = d.wait_records(lambda r: r.event == "upgrade-failed",
                              count=i + 1, timeout=T_WAIT)
        got = recs[i] if len(recs) > i else {}
        t.ok("%s: %s: event=upgrade-failed %s" % (label, what, want),
             all(got.get(k) == v for k, v in want.items()),
             "lines %s" % h.short([r.raw for r in recs]))
        t.ok("%s: %s: a warning on stderr" % (label, what),
             h.wait_for(lambda: "upgrade failed" in d.stderr() and
                        warning in d.stderr(), T_WAIT), d.stderr())
        r = h.client(d.port, h.unique_msg("after-fail", i))
        t.eq("%s: %s: the old master still serves" % (label, what),
             r.data, h.ACK)
        t.eq("%s: %s: the pid file still names it" % (label, what),
             read_pid(pid_path), d.pid)
        t.eq("%s: %s: the same workers run" % (label, what),
             h.live_children(d.pid), workers)
        t.eq("%s: %s: the master is still running" % (label, what),
             d.proc.poll(), None)
    shutil.copy2(h.ackd_path(), path)
    new, _, _ = upgrade(t, label + ": the binary back", d, d.pid, pid_path)
    if new is not None:
        r = h.client(d.port, b"after the upgrade")
        t.eq("%s: the new master serves" % label, r.data, h.ACK)
        stop_master(t, label, d, new)


def hung_upgrade(t, tmp):
    """A new master that never serves: SIGUSR2 again is ignored, SIGHUP
    reopens the old master's log, SIGTERM ends the old master and the
    new one with it."""
    label = "hung upgrade"
    path = copy_binary(tmp, "hung")
    pid_path = os.path.join(tmp, "hung.pid")
    d = h.Daemon(tmp, ["--pid-file", pid_path], workers=WORKERS,
                 log_name="hung.log", binary=path)
    h.wait_for(lambda: read_pid(pid_path) == d.pid, T_WAIT)
    with open(path + ".new", "w") as f:
        f.write("#!/bin/sh\nexec sleep %d\n" % (T_WAIT * 3))
    os.chmod(path + ".new", 0o755)
    os.rename(path + ".new", path)
    d.signal(signal.SIGUSR2)
    recs = d.wait_records(lambda r: r.event == "upgrade", timeout=T_WAIT)
    child = recs[0].get("new_master") if recs else None
    if not t.ok("%s: event=upgrade names the new master" % label,
                isinstance(child, int), h.short([r.raw for r in recs])):
        return
    d._remember(child)
    d.signal(signal.SIGUSR2)
    t.ok("%s: a second SIGUSR2 is ignored with a warning" % label,
         h.wait_for(lambda: "an upgrade is under way (new master %d); "
                    "ignored" % child in d.stderr(), T_WAIT), d.stderr())
    d.signal(signal.SIGHUP)
    t.ok("%s: SIGHUP reopens the old master's log meanwhile" % label,
         d.wait_records(lambda r: r.event == "reopen" and
                        r.get("pid") == d.pid, timeout=T_WAIT))
    r = h.client(d.port, b"while the new master hangs")
    t.eq("%s: the old master serves meanwhile" % label, r.data, h.ACK)
    t.eq("%s: only one upgrade started" % label,
         len(d.events("upgrade")), 1)
    d.signal(signal.SIGTERM)
    t.eq("%s: SIGTERM: the old master exits 0" % label,
         d.wait_exit(T_WAIT), 0)
    t.eq("%s: and the new master it started is gone too" % label,
         d.pids_gone([child], T_WAIT) if reap(child, T_WAIT) else [child],
         [])
    t.eq("%s: the pid file is removed" % label, os.path.exists(pid_path),
         False)


def metrics_start(port):
    """ackd_start_time_seconds of the master answering GET /metrics on
    port (each master has its own), or None if the scrape failed."""
    r = tm.get(port)
    if r.status != 200:
        return None
    m = re.search(rb"^ackd_start_time_seconds ([0-9.]+)$", r.body, re.M)
    return float(m.group(1)) if m else None


def draining(t, tmp):
    """An old worker's open connection keeps the old master; SIGUSR2
    meanwhile is ignored, with a warning."""
    label = "draining"
    pid_path = os.path.join(tmp, "drain.pid")
    d = h.Daemon(tmp, ["--pid-file", pid_path, "--framing", "line",
                       "--read-timeout", str(T_WAIT * 2), "--metrics",
                       "127.0.0.1:0"], workers=WORKERS, log_name="drain.log")
    h.wait_for(lambda: read_pid(pid_path) == d.pid, T_WAIT)
    old = d.pid
    mport = int(d.wait_records(lambda r: r.event == "metrics")[0]
                .get("listen").rpartition(":")[2])
    before = metrics_start(mport)
    t.ok("%s: the old master answers GET /metrics" % label, before)
    c = h.Conn(d.port, timeout=T_WAIT)
    # the first half of a line: accepted, read, and waiting for the rest
    c.send(b"held through ", shutdown=False)
    t.ok("%s: an old worker accepted the held connection" % label,
         h.wait_accepted(d.port, [c.reply.sport], T_WAIT))
    os.kill(old, signal.SIGUSR2)
    new = h.wait_for(lambda: read_pid(pid_path) not in (None, old) and
                     read_pid(pid_path), T_WAIT)
    if not t.ok("%s: the pid file names a new master" % label, new):
        c.close()
        return
    remember_all(d, new)
    os.kill(new, signal.SIGUSR2)
    os.kill(old, signal.SIGUSR2)
    t.ok("%s: SIGUSR2 to the new master is ignored with a warning" %
         label, h.wait_for(lambda: "is still draining; ignored" in
                           d.stderr(), T_WAIT), d.stderr())
    t.ok("%s: SIGUSR2 to the old master is ignored with a warning" %
         label, h.wait_for(lambda: "shutting down; no upgrade" in
                           d.stderr(), T_WAIT), d.stderr())
    t.eq("%s: the old master still runs for its connection" % label,
         d.proc.poll(), None)
    after = metrics_start(mport)
    t.ok("%s: meanwhile the new master answers GET /metrics on the "
         "same port (handed over)" % label, before and after and
         after > before, "start times %s, then %s" % (before, after))
    c.send(b"the upgrade\n")
    r = c.read_all(T_WAIT)
    c.close()
    t.eq("%s: the held connection gets its ACK" % label, r.data, h.ACK)
    t.ok("%s: then the old master exits 0" % label,
         d.wait_exit(T_WAIT) == 0)
    msgs = [r for r in d.records() if r.event == "message" and
            r.get("msg") == b"held through the upgrade\n"]
    t.eq("%s: the message is logged once" % label, len(msgs), 1)
    t.ok("%s: by an old worker" % label, msgs and
         msgs[0].get("pid") in d.worker_pids,
         "%s, old workers %s" % (h.short([m.raw for m in msgs]),
                                 d.worker_pids))
    t.eq("%s: no upgrade started from the new master" % label,
         [r.raw for r in d.records() if r.event == "upgrade" and
          r.get("pid") == new], [])
    stop_master(t, label, d, new)


def daemon_upgrade(t, tmp):
    """--daemon: the new master leads a session of its own, and says what
    it has to say to syslog, as the old one did."""
    label = "--daemon"
    log_path = os.path.join(tmp, "daemon.log")
    pid_path = os.path.join(tmp, "daemon.pid")
    path = copy_binary(tmp, "dbin")
    syslog = ts.SyslogServer(os.path.join(tmp, "syslog.sock"))
    saved = os.environ.get("ACKD")
    os.environ["ACKD"] = path
    try:
        rc, out, err, d = h.run_detached(
            ["--bind", "127.0.0.1", "--port", "0", "--workers",
             str(WORKERS), "--daemon", "--log-file", log_path,
             "--pid-file", pid_path], log_path,
            env={"ACKD_SYSLOG_SOCKET": syslog.path})
    finally:
        if saved is None:
            del os.environ["ACKD"]
        else:
            os.environ["ACKD"] = saved
    try:
        if t.ok("%s: the daemon started" % label, rc == 0 and d,
                "rc %s stderr %s" % (rc, err)):
            daemon_checks(t, label, d, path, pid_path, syslog)
    finally:
        syslog.stop()


def daemon_checks(t, label, d, path, pid_path, syslog):
    """daemon_upgrade's checks, once the daemon runs."""
    d.wait_ready(T_WAIT)
    old = read_pid(pid_path)
    t.eq("%s: the pid file names the master" % label, old, d.pid)
    new, _, _ = upgrade(t, label, d, old, pid_path)
    if new is None:
        return
    st = h.proc_stat(new)
    t.ok("%s: the new master leads a session of its own" % label,
         st is not None and st.session == new and st.pgrp == new,
         "stat %s" % (st,))
    t.ok("%s: it outlived the old master (re-parented)" % label,
         st is not None and st.ppid != old, "stat %s" % (st,))
    r = h.client(d.port, b"daemon after the upgrade")
    t.eq("%s: the new master serves" % label, r.data, h.ACK)
    # a failed upgrade from the new master: its warning goes to syslog
    with open(path + ".new", "w") as f:
        f.write("#!/bin/sh\nexit 64\n")
    os.chmod(path + ".new", 0o755)
    os.rename(path + ".new", path)
    os.kill(new, signal.SIGUSR2)
    want = ("ackd[%d]: upgrade failed" % new).encode()
    t.ok("%s: the new master's warning of a failed upgrade reaches "
         "syslog" % label, h.wait_for(lambda: any(
             want in g for g in syslog.datagrams()), T_WAIT),
         h.short(syslog.datagrams()[-3:]))
    stop_master(t, label, d, new)


def systemd_upgrade(t, tmp):
    """The old master names the new one MAINPID= with READY=1."""
    label = "systemd"
    n = sd.Notify(sd.notify_path(tmp))
    pid_path = os.path.join(tmp, "sd.pid")
    try:
        d = h.Daemon(tmp, ["--pid-file", pid_path], workers=WORKERS,
                     log_name="sd.log", env={"NOTIFY_SOCKET": n.name})
        t.ok("%s: READY=1 at start" % label,
             n.follow(lambda: n.find("READY", "1") is not None))
        mark = len(n.got)
        old = d.pid
        new, _, _ = upgrade(t, label, d, old, pid_path)
        if new is None:
            return
        n.follow(lambda: any(g.get("MAINPID") == str(new) and
                             g.get("READY") == "1" for g in n.got[mark:]))
        got = n.got[mark:]
        reloading = n.find("RELOADING", "1", since=mark)
        handed = [i for i, g in enumerate(got, mark)
                  if g.get("MAINPID") == str(new) and g.get("READY") == "1"]
        t.ok("%s: RELOADING=1, then MAINPID=%d with READY=1" % (label, new),
             reloading is not None and handed and reloading < handed[0],
             "datagrams %s" % h.short(got))
        h.client(d.port, b"systemd after the upgrade")
        n.drain()
        t.eq("%s: no STOPPING=1 while the new master serves" % label,
             n.count("STOPPING", since=mark), 0)
        stop_master(t, label, d, new)
        t.ok("%s: STOPPING=1 when the new master stops" % label,
             n.follow(lambda: n.find("STOPPING", "1", since=mark)
                      is not None))
    finally:
        n.close()


def main(t, tmp):
    if not os.access(h.bench_path(), os.X_OK):
        raise h.Skip("no executable ackd-bench at %s (set ACKD_BENCH)" %
                     h.bench_path())
    for scenario in (ten_upgrades, failed_upgrade, hung_upgrade, draining,
                     daemon_upgrade, systemd_upgrade):
        t0 = time.monotonic()
        scenario(t, tmp)
        t.note("%s: %.1f s" % (scenario.__name__, time.monotonic() - t0))


if __name__ == "__main__":
    h.run("upgrade", main, deadline=300 if SLOW else 120)
