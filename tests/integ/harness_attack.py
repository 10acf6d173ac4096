# SPDX-License-Identifier: MIT
"""
harness_attack.py: hostile clients, by the hundred, and the one
well-behaved client beside them (not a test).

Owns the client side of the attacks of issue 12: raise_nofile() (the
test process, and the daemons it starts, which inherit its limits, may
then hold thousands of descriptors), sources() (loopback addresses
other than 127.0.0.1: Linux routes all of 127/8 to lo, so a socket bound
to 127.1.2.3 before it connects is a client from another address, and
the well-behaved client, from 127.0.0.1, is told apart in the log),
Swarm (hundreds or thousands of connections driven by one thread around
one epoll set, never a thread each: silent ones, tricklers that send a
byte now and then and never finish, truncators that first send more
than --max-message) and well_behaved() (one client sending short
messages one connection after the other, each timed).

A Swarm keeps each connection's history (Hostile: when it was opened,
came up, sent its opening bytes, saw the daemon's end of file, saw its
socket gone, what it received), so a test judges the daemon connection
by connection once the swarm has stopped. The daemon's close is seen
at once whatever the client does: an end of file, or the reset that
epoll reports as an error even on a descriptor that asks for no event.
Linux only (epoll, 127/8 on lo).
"""

import errno
import heapq
import os
import random
import resource
import select
import socket
import threading
import time
import traceback

from harness_base import ACK, wait_for
from harness_load import Result, client, unique_msg

# the bytes a trickler sends, one at a time: never a newline
_TRICKLE = b"abcdefghijklmnopqrstuvwxyz"
# longest the loop sleeps in epoll: how soon it sees stop()
_SLICE = 0.05
# Linux's IP_BIND_ADDRESS_NO_PORT (Python 3.12 names it): bind() picks the
# address only, connect() the port, unique per four-tuple, so thousands of
# attackers reserve no ephemeral ports the other tests' clients need
_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def raise_nofile():
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (what
    the daemons it starts then inherit); return the soft limit in
    force. An infinite hard limit is capped at the kernel's nr_open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard
    if want == resource.RLIM_INFINITY:
        try:
            with open("/proc/sys/fs/nr_open") as f:
                want = int(f.read())
        except (OSError, ValueError):
            want = 65536
    if soft == resource.RLIM_INFINITY or soft >= want:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def sources(n):
    """n loopback addresses, none of them 127.0.0.1: 127.1.0.1, ...
    127.1.0.250, 127.1.1.1, ..."""
    return ["127.1.%d.%d" % (i // 250, i % 250 + 1) for i in range(n)]


class Hostile:
    """
    One connection of a Swarm and what befell it; times are
    time.monotonic(), None until it happened. opened: connect() called;
    up: connected; armed: its opening bytes all sent (up, if it has
    none); eof: the daemon shut its side (end of file); closed: the
    daemon's socket is gone (a reset, or an end of file where the swarm
    does not linger); why: how the connection ended ("eof", "reset",
    "connect: ...", "stopped" when the swarm stopped it); got: the bytes
    it received; sent: how many it sent.
    """

    __slots__ = ("source", "sport", "sock", "opened", "up", "armed", "eof",
        "closed", "why", "got", "sent")

    def __init__(self, source):
        self.source = source
        self.sport = None
        self.sock = None
        self.opened = time.monotonic()
        self.up = self.armed = self.eof = self.closed = None
        self.why = None
        self.got = b""
        self.sent = 0

    def client(self):
        """How the daemon's log names this client: ADDR:PORT."""
        return "%s:%s" % (self.source, self.sport)

    def __repr__(self):
        def rel(v):
            return None if v is None else round(v - self.opened, 3)
        return "Hostile(%s up=%s armed=%s eof=%s closed=%s why=%s " \
            "got=%r sent=%d)" % (self.client(), rel(self.up),
            rel(self.armed), rel(self.eof), rel(self.closed), self.why,
            self.got[:16], self.sent)


class Swarm:
    """
    count connections to host:port, the i-th from sources[i % len], run
    by one thread around one epoll set from start() to stop(). Once up,
    each sends opening (may be empty), then, if every is (lo, hi), one
    byte every uniform(lo, hi) seconds, forever. With linger, an end of
    file does not end a connection (the daemon may be draining after a
    half-close): it goes on sending until its socket is reset. With
    reconnect (seconds, not None), a connection the daemon closed is
    replaced that long after by a new one from the same source (a failed
    connect is not). Use as a context manager, so that it stops even
    when the test fails.
    """

    def __init__(self, port, count, srcs, opening=b"", every=None,
        linger=False, reconnect=None, host="127.0.0.1"):
        self.port = port
        self.count = count
        self.srcs = list(srcs)
        self.opening = opening
        self.every = every
        self.linger = linger
        self.reconnect = reconnect
        self.host = host
        self.crash = None        # the loop's traceback, if it died
        self.started = None      # when start() was called
        self.stopped = None      # when stop() was called
        self._all = []           # every Hostile, oldest first
        self._live = {}          # fd -> Hostile still open
        self._timers = []        # heap of (when, seq, what, argument)
        self._seq = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ep = select.epoll()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.started = time.monotonic()
        self._thread.start()
        return self

    def stop(self, timeout=10):
        """End the loop; it closes every connection still open. True if
        the thread ended in time."""
        if self.stopped is None:
            self.stopped = time.monotonic()
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def hold(self, seconds):
        """Keep the attack on until seconds have passed since start()."""
        left = self.started + seconds - time.monotonic()
        if left > 0:
            self._stopping.wait(left)

    def hostiles(self):
        """Every connection so far (a copy of the list), oldest first."""
        with self._lock:
            return list(self._all)

    def wait_up(self, n, timeout):
        """Poll until n connections came up (and sent their opening)."""
        return wait_for(lambda: sum(1 for x in self.hostiles()
            if x.armed is not None) >= n, timeout)

    def _run(self):
        """The loop: open every connection, then wait for events and
        timers until stop()."""
        try:
            for i in range(self.count):
                self._open(self.srcs[i % len(self.srcs)])
            while not self._stopping.is_set():
                self._wait_events()
                self._fire_timers()
        except Exception:
            self.crash = traceback.format_exc()
        finally:
            self._close_all()

    def _open(self, source):
        """Start a non-blocking connect from source to host:port."""
        x = Hostile(source)
        with self._lock:
            self._all.append(x)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.setsockopt(socket.IPPROTO_IP, _NO_PORT, 1)
            s.bind((source, 0))
            err = s.connect_ex((self.host, self.port))
            x.sport = s.getsockname()[1]
        except OSError as e:
            s.close()
            self._done(x, "connect: %s" % e, closed=False)
            return
        if err not in (0, errno.EINPROGRESS):
            s.close()
            self._done(x, "connect: %s" % os.strerror(err), closed=False)
            return
        x.sock = s
        self._live[s.fileno()] = x
        self._ep.register(s.fileno(), select.EPOLLOUT)

    def _wait_events(self):
        """Handle what epoll reports, sleeping at most until the next
        timer is due."""
        left = _SLICE
        if self._timers:
            left = min(left, max(0.0, self._timers[0][0] - time.monotonic()))
        for fd, ev in self._ep.poll(left):
            x = self._live.get(fd)
            if x is None:
                continue
            if x.up is None:
                self._connected(x)
            else:
                self._input(x, ev)

    def _connected(self, x):
        """A connect ended: on success send the opening, watch for input
        and start trickling."""
        err = x.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._done(x, "connect: %s" % os.strerror(err), closed=False)
            return
        x.up = time.monotonic()
        data = self.opening
        try:
            while data:
                n = x.sock.send(data)
                x.sent += n
                data = data[n:]
        except OSError as e:
            # a few hundred bytes fit any socket buffer: a failure here is
            # the daemon's close
            self._done(x, errno.errorcode.get(e.errno, str(e)))
            return
        x.armed = time.monotonic()
        self._ep.modify(x.sock.fileno(), select.EPOLLIN)
        self._schedule(x)

    def _input(self, x, ev):
        """Read what the daemon sent: bytes, its end of file, a reset."""
        while True:
            try:
                data = x.sock.recv(4096)
            except BlockingIOError:
                return
            except OSError as e:
                self._done(x, "reset" if e.errno == errno.ECONNRESET
                    else errno.errorcode.get(e.errno, str(e)))
                return
            if data:
                x.got += data
                continue
            if x.eof is None:
                x.eof = time.monotonic()
            if not self.linger:
                self._done(x, "eof")
            elif ev & select.EPOLLHUP:
                self._done(x, "hup")  # both ways shut: the socket is gone
            else:
                # an end of file stays readable: from now on only the
                # errors epoll always reports (the reset) wake us
                self._ep.modify(x.sock.fileno(), 0)
            return

    def _later(self, seconds, what, arg):
        """Call what(arg) in seconds, from the loop."""
        self._seq += 1
        heapq.heappush(self._timers, (time.monotonic() + seconds,
            self._seq, what, arg))

    def _schedule(self, x):
        """Queue x's next byte, if it trickles."""
        if self.every is not None:
            self._later(random.uniform(*self.every), self._trickle, x)

    def _fire_timers(self):
        """Run every timer whose time has come."""
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, what, arg = heapq.heappop(self._timers)
            what(arg)

    def _trickle(self, x):
        """Send x's next byte, unless it is gone."""
        if x.sock is None:
            return
        byte = _TRICKLE[x.sent % len(_TRICKLE):][:1]
        try:
            x.sent += x.sock.send(byte)
        except BlockingIOError:
            pass  # the daemon reads nothing: try again next time
        except OSError as e:
            self._done(x, "reset" if e.errno in (errno.ECONNRESET,
                errno.EPIPE) else errno.errorcode.get(e.errno, str(e)))
            return
        self._schedule(x)

    def _done(self, x, why, closed=True):
        """x ended (closed: by the daemon): note it, close our end, and
        open its replacement if the swarm reconnects."""
        x.why = why
        if closed:
            x.closed = time.monotonic()
        if x.sock is not None:
            fd = x.sock.fileno()
            self._live.pop(fd, None)
            try:
                self._ep.unregister(fd)
            except (OSError, ValueError):
                pass
            x.sock.close()
            x.sock = None
        if closed and self.reconnect is not None:
            self._later(self.reconnect, self._open, x.source)

    def _close_all(self):
        """Close every connection still open (the swarm stops)."""
        for x in list(self._live.values()):
            self._done(x, "stopped", closed=False)
        self._ep.close()


def well_behaved(port, tag, count, bound, end=b"", pause=0.1,
    give_up=2):
    """
    count short unique messages, each on its own connection, one after
    the other, pause seconds apart: msg + end, half-close, read the reply
    to its end (harness_load.client, from 127.0.0.1). A list of
    harness_load.Result, msg being all that was sent. Stops early once
    give_up replies were not the ACK or took bound seconds or more: the
    daemon is then not serving, and waiting for each of the rest would
    only make a failing test long. Each client waits 2 * bound at most.
    """
    results = []
    bad = 0
    for n in range(count):
        msg = unique_msg(tag, n) + end
        t0 = time.monotonic()
        r = client(port, msg, timeout=2 * bound)
        t1 = time.monotonic()
        results.append(Result(msg, r, t0, t1))
        if r.data != ACK or t1 - t0 >= bound:
            bad += 1
            if bad >= give_up:
                break
        time.sleep(pause)  # pacing, not synchronisation
    return results
