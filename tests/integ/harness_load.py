# SPDX-License-Identifier: MIT
"""
harness_load.py: clients of ackd, one or many (not a test).

Owns the client side: client() (connect, send, half-close, read until
EOF; never raises, a failure is in its Reply), Conn (the same, step by
step), Load (client threads sending unique messages one connection
after the other) and check_acks_logged(), the project's promise checked
message by message: an acknowledged message is a logged message. Also
what a test asks of the local network first: free_port() and
ipv6_unavailable().
"""

import collections
import random
import socket
import threading
import time

from harness_base import ACK, short, wait_for

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


def free_port(host="127.0.0.1"):
    """A port free on host right now (bound, then released): for a
    server that cannot say which one it got, or as one nobody listens
    on."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ipv6_unavailable():
    """Why ::1 cannot be bound here, or None if it can."""
    if not socket.has_ipv6:
        return "Python has no IPv6"
    try:
        free_port("::1")
    except OSError as e:
        return "cannot bind ::1: %s" % e
    return None
