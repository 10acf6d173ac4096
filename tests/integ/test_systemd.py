#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_systemd.py: the two systemd protocols, against a fake manager.

Readiness: a datagram socket in the temporary directory (and one in the
abstract namespace, NOTIFY_SOCKET=@name) plays systemd. READY=1 comes
only once the daemon serves: at that moment the log holds the ready line
and a client gets its ACK. STATUS= counts workers and connections;
SIGHUP brings RELOADING=1 with MONOTONIC_USEC, then READY=1 once every
worker reopened its log; SIGTERM brings STOPPING=1, and a SIGHUP after it
no READY=1. WATCHDOG_USEC=200000 brings WATCHDOG=1 again and again, for
WATCHDOG_PID unset or ours; for another pid, none. A 1 ms watchdog does
not make the master spin; a manager that never reads does not make it
deaf to SIGTERM.

Socket activation: the test binds a listening socket and passes it as
descriptor 3 with LISTEN_FDS=1 and LISTEN_PID set to ackd's own pid.
Clients get their ACK there, the start line names it, and ackd listens on
nothing else (its descriptors against /proc/net/tcp). LISTEN_PID of
another process: ackd binds its own --port. LISTEN_FDS=17, a missing
second socket, a pipe, a
socket that does not listen, a non-blocking one, a unix one: exit 69
with one line.

Under valgrind ($ACKD_WRAPPER) all of it runs the same: valgrind runs ackd
in the process it was started as, so LISTEN_PID=$$ is ackd's pid there.
"""

import os
import random
import re
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# the master's status line (supervise.c)
STATUS_RE = re.compile(r"^serving: (\d+) workers, (\d+) connections, "
                       r"(\d+) acknowledged$")
# valgrind starts a daemon in seconds, not milliseconds
SLOW = h.valgrind_wrapped()
T_START = 60 if SLOW else 15
T_WAIT = 30 if SLOW else 10


class Notify:
    """A fake service manager's notification socket: AF_UNIX datagrams,
    each a list of VARIABLE=value lines. name: a path, or "@abstract"."""

    def __init__(self, name):
        self.name = name
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + name[1:] if name.startswith("@") else name)
        self.sock.setblocking(False)
        self.got = []  # datagrams, each a dict in the order of its lines

    def drain(self):
        """Take every datagram waiting; return how many there are now."""
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return len(self.got)
            self.got.append(self._parse(data))

    @staticmethod
    def _parse(data):
        """A datagram's lines as a dict, in their order."""
        fields = {}
        for line in data.decode("utf-8", "replace").split("\n"):
            key, _, value = line.partition("=")
            fields[key] = value
        return fields

    def follow(self, pred, timeout=T_WAIT):
        """Take each datagram as it comes (as the real manager does, so
        a sender never waits for room) until pred() holds or timeout
        passes; return pred()."""
        end = time.monotonic() + timeout
        try:
            while not pred() and time.monotonic() < end:
                self.sock.settimeout(max(0.001, end - time.monotonic()))
                try:
                    self.got.append(self._parse(self.sock.recv(65536)))
                except socket.timeout:
                    pass
        finally:
            self.sock.setblocking(False)
        return pred()

    def find(self, key, value=None, since=0):
        """Index of the first datagram from since on that sets key (to
        value, if given), or None."""
        for i in range(since, len(self.got)):
            if key in self.got[i] and (value is None or
                                       self.got[i][key] == value):
                return i
        return None

    def wait(self, key, value=None, since=0, timeout=T_WAIT):
        """Poll until a datagram from since on sets key (=value): its
        index, or None."""
        def look():
            self.drain()
            # index 0 is a find, but not true for wait_for
            return self.find(key, value, since) is not None
        h.wait_for(look, timeout)
        return self.find(key, value, since)

    def count(self, key, value=None, since=0):
        """How many datagrams from since on set key (=value)."""
        return sum(1 for g in self.got[since:] if key in g and
                   (value is None or g[key] == value))

    def close(self):
        self.sock.close()
        if not self.name.startswith("@"):
            try:
                os.unlink(self.name)
            except FileNotFoundError:
                pass


def wait_exit(d, n, timeout=T_WAIT):
    """The master's exit status (None if it runs on after timeout), with
    n's datagrams taken meanwhile, as a manager would."""
    h.wait_for(lambda: n.drain() is not None and d.proc.poll() is not None,
               timeout)
    return d.wait_exit(0.1)


def notify_path(tmp):
    """A path for the notification socket: in tmp, or (sun_path holds
    108 bytes) in a short directory of its own."""
    path = os.path.join(tmp, "notify.sock")
    if len(path) < 100:
        return path
    return os.path.join(tempfile.mkdtemp(prefix="ackd-n", dir="/tmp"),
                        "notify.sock")


def status_counts(n, since=0):
    """(workers, connections, acknowledged) of each STATUS=serving line."""
    out = []
    for g in n.got[since:]:
        m = STATUS_RE.match(g.get("STATUS", ""))
        if m:
            out.append(tuple(int(x) for x in m.groups()))
    return out


def notify_flow(t, tmp, label, name):
    """READY=1, STATUS=, RELOADING=1/READY=1 and STOPPING=1 on the
    socket called name, with a daemon of 2 workers."""
    n = Notify(name)
    try:
        d = h.Daemon(tmp, workers=2, log_name="%s.log" % label,
                     env={"NOTIFY_SOCKET": name}, ready=False)
        ready = n.wait("READY", "1", timeout=T_START)
        if not t.ok("%s: READY=1 arrives" % label, ready is not None,
                    "datagrams %s; %s" % (h.short(n.got), d.describe())):
            return
        # ackd logs the ready line, then notifies: it must be there now
        recs = d.records()
        t.ok("%s: at READY=1 the log holds the ready line" % label,
             any(r.event == "ready" and r.get("workers") == 2
                 for r in recs), "log %s" % h.short([r.raw for r in recs]))
        t.eq("%s: at READY=1 both workers have started" % label,
             len([r for r in recs if r.event == "worker-start"]), 2)
        t.eq("%s: READY=1 is the first datagram" % label, ready, 0)
        d.wait_ready(T_START)
        r = h.client(d.port, b"right after READY=1")
        t.eq("%s: a client gets its ACK right after READY=1" % label,
             r.data, h.ACK)

        for i in range(3):
            h.client(d.port, h.unique_msg(label, i))
        want = (2, 4, 4)
        t.ok("%s: a STATUS= line says %d workers, %d connections, %d "
             "acknowledged" % ((label,) + want),
             h.wait_for(lambda: n.drain() and want in status_counts(n),
                        T_WAIT),
             "STATUS lines %s" % h.short([g.get("STATUS") for g in n.got
                                          if "STATUS" in g]))

        n.drain()
        mark = len(n.got)
        before = time.monotonic_ns() // 1000
        d.signal(signal.SIGHUP)
        rel = n.wait("RELOADING", "1", since=mark)
        after = time.monotonic_ns() // 1000
        if t.ok("%s: SIGHUP brings RELOADING=1" % label, rel is not None,
                "datagrams since %s" % h.short(n.got[mark:])):
            usec = n.got[rel].get("MONOTONIC_USEC", "")
            t.ok("%s: RELOADING=1 carries MONOTONIC_USEC of the signal's "
                 "time" % label, usec.isdigit() and
                 before <= int(usec) <= after,
                 "MONOTONIC_USEC=%r, signal sent at %d, seen by %d" %
                 (usec, before, after))
            again = n.wait("READY", "1", since=rel + 1)
            t.ok("%s: READY=1 follows RELOADING=1" % label,
                 again is not None, "datagrams %s" % h.short(n.got[rel:]))
            t.eq("%s: at that READY=1 the master and both workers "
                 "reopened the log" % label, len(d.events("reopen")), 3)
            t.eq("%s: no READY=1 between the SIGHUP and RELOADING=1" %
                 label, n.find("READY", since=mark), again)
        t.eq("%s: a client gets its ACK after the reload" % label,
             h.client(d.port, b"after the reload").data, h.ACK)

        n.drain()
        mark = len(n.got)
        d.signal(signal.SIGTERM)
        stop = n.wait("STOPPING", "1", since=mark)
        t.ok("%s: SIGTERM brings STOPPING=1" % label, stop is not None,
             "datagrams since %s" % h.short(n.got[mark:]))
        t.eq("%s: the master exits 0" % label, wait_exit(d, n), 0)
        n.drain()
        if stop is not None:
            t.eq("%s: nothing but STOPPING=1 from then on" % label,
                 [g for g in n.got[stop + 1:] if "READY" in g or
                  "RELOADING" in g or STATUS_RE.match(g.get("STATUS", ""))],
                 [])
        t.eq("%s: no WATCHDOG=1 without WATCHDOG_USEC" % label,
             n.count("WATCHDOG"), 0)
    finally:
        n.close()


def sighup_while_stopping(t, tmp):
    """A SIGHUP during shutdown (logrotate knows no better) reopens the
    log but sends neither RELOADING=1 nor READY=1 after STOPPING=1."""
    label = "SIGHUP while stopping"
    n = Notify(notify_path(tmp))
    try:
        # a silent client the worker has accepted holds the shutdown open
        d = h.Daemon(tmp, ["--defer-accept", "0", "--read-timeout", "60"],
                     workers=1, log_name="stopping.log",
                     env={"NOTIFY_SOCKET": n.name}, timeout=T_START)
        t.ok("%s: READY=1" % label, n.wait("READY", "1") is not None,
             h.short(n.got))
        c = h.Conn(d.port)
        try:
            t.ok("%s: the silent client is accepted" % label,
                 h.wait_accepted(d.port, [c.reply.sport], T_WAIT), "not")
            n.drain()
            mark = len(n.got)
            d.signal(signal.SIGTERM)
            stop = n.wait("STOPPING", "1", since=mark)
            t.ok("%s: STOPPING=1" % label, stop is not None,
                 h.short(n.got[mark:]))
            d.signal(signal.SIGHUP)
            t.ok("%s: the master reopens its log" % label,
                 d.wait_records(lambda r: r.event == "reopen" and
                                r.get("pid") == d.pid, timeout=T_WAIT),
                 "no reopen line from the master")
            c.send(b"goodbye")
            t.eq("%s: the client still gets its ACK" % label,
                 c.read_all(T_WAIT).data, h.ACK)
        finally:
            c.close()
        t.eq("%s: the master exits 0" % label, wait_exit(d, n), 0)
        n.drain()
        if stop is not None:
            t.eq("%s: no RELOADING=1 or READY=1 after STOPPING=1" % label,
                 [g for g in n.got[stop:] if "RELOADING" in g or
                  "READY" in g], [])
    finally:
        n.close()


def watchdog(t, tmp, label, log_name, env, pid_env=(), want=True):
    """With WATCHDOG_USEC=200000 (ping every 100 ms): several WATCHDOG=1
    within a bounded wait if want; else none over two status ticks."""
    n = Notify(notify_path(tmp))
    try:
        env = dict(env, NOTIFY_SOCKET=n.name, WATCHDOG_USEC="200000")
        d = h.Daemon(tmp, workers=1, log_name=log_name,
                     env=env, pid_env=pid_env, timeout=T_START)
        t.ok("%s: READY=1" % label,
             n.wait("READY", "1", timeout=T_START) is not None,
             h.short(n.got))
        if want:
            pings = 5
            t.ok("%s: %d WATCHDOG=1 datagrams" % (label, pings),
                 h.wait_for(lambda: n.drain() and
                            n.count("WATCHDOG", "1") >= pings, T_WAIT),
                 "%d in %s" % (n.count("WATCHDOG", "1"),
                               h.short(n.got)))
        else:
            # STATUS= comes each second or two: over two of them a
            # 100 ms watchdog would have pinged a dozen times
            t.ok("%s: two STATUS= lines after READY=1" % label,
                 h.wait_for(lambda: n.drain() and
                            len(status_counts(n)) >= 3, T_WAIT),
                 h.short(n.got))
            t.eq("%s: no WATCHDOG=1" % label, n.count("WATCHDOG"), 0)
        d.signal(signal.SIGTERM)
        t.eq("%s: the master exits 0" % label, wait_exit(d, n), 0)
    finally:
        n.close()


def manager_stalled(t, tmp):
    """A manager that stops reading its socket (its queue holds ten
    datagrams) makes each notification wait a bounded time: the master
    still serves, answers SIGTERM and says once that it cannot notify."""
    label = "a manager that never reads"
    n = Notify(notify_path(tmp))
    try:
        # 1 ms pings fill the queue at once; nothing here reads it
        d = h.Daemon(tmp, workers=1, log_name="stalled.log",
                     env={"NOTIFY_SOCKET": n.name, "WATCHDOG_USEC": "2000"},
                     timeout=T_START)
        t.eq("%s: a client gets its ACK" % label,
             h.client(d.port, b"stalled").data, h.ACK)
        d.signal(signal.SIGTERM)
        t.eq("%s: SIGTERM still stops the master, exit 0" % label,
             d.wait_exit(T_WAIT), 0)
        warned = [line for line in d.stderr().splitlines()
                  if "cannot notify the service manager" in line]
        t.eq("%s: one warning on stderr" % label, len(warned), 1)
    finally:
        n.close()


def cpu_seconds(pid):
    """User plus system CPU time pid has used, in seconds."""
    with open("/proc/%d/stat" % pid, "rb") as f:
        rest = f.read().rsplit(b")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def watchdog_tiny(t, tmp):
    """WATCHDOG_USEC=1000 asks for a ping every millisecond at least: the
    master must still sleep between them, not spin."""
    label = "watchdog of 1 ms"
    n = Notify(notify_path(tmp))
    try:
        d = h.Daemon(tmp, workers=1, log_name="wd-tiny.log",
                     env={"NOTIFY_SOCKET": n.name, "WATCHDOG_USEC": "1000"},
                     timeout=T_START)
        cpu0, wall0 = cpu_seconds(d.pid), time.monotonic()
        # a window of two status ticks, each datagram taken at once
        t.ok("%s: two STATUS= lines" % label,
             n.follow(lambda: len(status_counts(n)) >= 3), "too few")
        wall = time.monotonic() - wall0
        share = (cpu_seconds(d.pid) - cpu0) / wall
        rate = n.count("WATCHDOG") / wall
        t.note("%s: %.0f%% of a CPU, %.0f WATCHDOG=1 a second" %
               (label, share * 100, rate))
        t.ok("%s: the master used under half a CPU and pinged at most "
             "about once a ms" % label, share < 0.5 and rate < 1500,
             "%.0f%% of a CPU, %.0f WATCHDOG=1 a second" % (share * 100,
                                                           rate))
        t.ok("%s: WATCHDOG=1 came" % label, n.count("WATCHDOG", "1") > 0,
             "none")
        d.signal(signal.SIGTERM)
        t.eq("%s: the master exits 0" % label, wait_exit(d, n), 0)
    finally:
        n.close()


def listener(family=socket.AF_INET, listen=True, blocking=True):
    """A TCP socket bound to the loopback, port 0; listening if told."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
    if listen:
        s.listen(64)
    s.setblocking(blocking)
    return s


def activation(t, tmp):
    """ackd serves on the socket it is passed, and listens on nothing
    else; its own --bind and --port go unused."""
    label = "socket activation"
    s = listener()
    port = s.getsockname()[1]
    try:
        d = h.Daemon(tmp, workers=2, log_name="activated.log", fd3=s.fileno(),
                     env={"LISTEN_FDS": "1"}, pid_env=("LISTEN_PID",),
                     timeout=T_START)
        t.eq("%s: the start line's listen= is the passed socket" % label,
             d.start_rec.get("listen"), "127.0.0.1:%d" % port)
        msgs = [h.unique_msg("activated", i) for i in range(10)]
        replies = [h.client(port, m) for m in msgs]
        t.eq("%s: 10 clients on the passed port get their ACK" % label,
             [r.data for r in replies], [h.ACK] * 10)
        h.check_acks_logged(t, label, [h.Result(m, r, 0, 0) for m, r in
                                       zip(msgs, replies)],
                            d.wait_records(lambda r: r.event == "message",
                                           10, T_WAIT))
        mine = os.fstat(s.fileno()).st_ino
        for pid in [d.pid] + d.worker_pids:
            heard = h.listens_of(pid)
            t.eq("%s: pid %d listens on the passed socket alone" %
                 (label, pid), heard, {mine: port})
        d.signal(signal.SIGTERM)
        t.eq("%s: the master exits 0" % label, d.wait_exit(T_WAIT), 0)
    finally:
        s.close()


def activation_not_ours(t, tmp):
    """LISTEN_PID of another process: the sockets are not for ackd, which
    binds its own --port."""
    label = "LISTEN_PID of another process"
    s = listener()
    port = s.getsockname()[1]
    try:
        d = h.Daemon(tmp, workers=1, log_name="notours.log", fd3=s.fileno(),
                     env={"LISTEN_FDS": "1", "LISTEN_PID": "1"},
                     timeout=T_START)
        t.ok("%s: ackd listens on a port of its own" % label,
             d.port not in (None, 0, port),
             "listen=%s, passed port %d" % (d.start_rec.get("listen"),
                                            port))
        t.eq("%s: a client on that port gets its ACK" % label,
             h.client(d.port, b"own port").data, h.ACK)
        d.signal(signal.SIGTERM)
        t.eq("%s: the master exits 0" % label, d.wait_exit(T_WAIT), 0)
    finally:
        s.close()


def refusals(t, tmp):
    """What ackd cannot serve on is refused at start: exit 69, one line."""
    args = ["--bind", "127.0.0.1", "--port", "0", "--log-file",
            os.path.join(tmp, "refused.log")]
    r, w = os.pipe()
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(os.path.join(tmp, "u.sock") if len(tmp) < 90 else "")
    unix.listen(4)
    cases = [
        ("LISTEN_FDS=17", listener(), "17", ["LISTEN_FDS=17",
                                              "allowed: 1-16"]),
        ("LISTEN_FDS=2 with one socket", listener(), "2",
         ["descriptor 4", "not a listening"]),
        ("descriptor 3 a pipe", r, "1", ["descriptor 3", "not a listening"]),
        ("a socket that does not listen", listener(listen=False), "1",
         ["descriptor 3", "not a listening"]),
        ("a unix socket", unix, "1", ["descriptor 3", "not a listening"]),
        ("a non-blocking socket", listener(blocking=False), "1",
         ["descriptor 3", "non-blocking", "NonBlocking=no"]),
    ]
    try:
        for name, fd, nfds, words in cases:
            fd = fd if isinstance(fd, int) else fd.fileno()
            rc, out, err = h.run_ackd(args, T_START, env={"LISTEN_FDS": nfds},
                                      fd3=fd, pid_env=("LISTEN_PID",))
            lines = err.decode("utf-8", "replace").splitlines()
            t.eq("refused, %s: exit 69" % name, rc, 69)
            t.ok("refused, %s: one line on stderr naming it" % name,
                 len(lines) == 1 and all(w in lines[0] for w in words),
                 "stderr %s, want the words %s" % (h.short(lines), words))
    finally:
        for _, fd, _, _ in cases:
            if isinstance(fd, int):
                os.close(fd)
            else:
                fd.close()
        os.close(w)


def main(t, tmp):
    notify_flow(t, tmp, "path", notify_path(tmp))
    notify_flow(t, tmp, "abstract",
                "@ackd-test-%016x" % random.getrandbits(64))
    sighup_while_stopping(t, tmp)
    watchdog(t, tmp, "watchdog, WATCHDOG_PID unset", "wd-unset.log", {})
    watchdog(t, tmp, "watchdog, WATCHDOG_PID ours", "wd-ours.log", {},
             pid_env=("WATCHDOG_PID",))
    watchdog(t, tmp, "watchdog, WATCHDOG_PID another's", "wd-other.log",
             {"WATCHDOG_PID": "1"}, want=False)
    watchdog_tiny(t, tmp)
    manager_stalled(t, tmp)
    activation(t, tmp)
    activation_not_ours(t, tmp)
    refusals(t, tmp)


if __name__ == "__main__":
    h.run("systemd", main, deadline=240 if SLOW else 90)
