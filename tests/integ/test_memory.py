#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_memory.py: what a worker's handlers keep in memory, and the ACK of
a client that sends more than its message.

A client that sends far more than --max-message (or more after its
line) in one go, and only then reads, gets its ACK and a clean end of
file, not a reset. Under --framing read, a message longer than a
thread's small buffer is still logged whole. After a burst of large messages through every
thread, the worker's resident memory comes back near where it was
(large buffers are given back; each thread keeps only small ones).
--max-memory bounds what large messages hold: one smaller than one
message needs is refused at start; with room for only one, concurrent
large messages are served one after the other, and one that waits past
its read deadline is closed unacknowledged as event=memory-refused,
counted as memory_refused. Nothing asserts a duration.
"""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

EXCESS = 512 * 1024     # sent past the message, more than 64 KiB
BIG = 256 * 1024        # --max-message of the memory checks
THREADS = 16


def rss_kib(pid):
    """The resident memory of pid (VmRSS), in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def send_then_read(port, data):
    """Send all of data through a small send buffer (so the client is
    still sending while the server is done with the message), then read
    until EOF. A Reply; error set on a reset or timeout."""
    r = h.Reply()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    s.settimeout(20)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(data)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            r.data += chunk
    except OSError as e:
        r.error = e
    finally:
        s.close()
    return r


def excess_input(t, tmp):
    """The ACK reaches a client that keeps sending after its message."""
    for framing, limit in (("line", 1024), ("eof", 100000)):
        d = h.Daemon(tmp, ["--framing", framing, "--max-message",
                           str(limit)], workers=1,
                     log_name="excess-%s.log" % framing)
        cases = [("%d + %d bytes" % (limit, EXCESS),
                  b"x" * (limit + EXCESS), b"x" * limit)]
        if framing == "line":
            cases.append(("a line and %d bytes after it" % EXCESS,
                          b"short\n" + b"y" * EXCESS, b"short\n"))
        for label, data, logged in cases:
            label = "--framing %s, %s" % (framing, label)
            r = send_then_read(d.port, data)
            t.ok("%s: the client gets ACK! and EOF, no reset" % label,
                 r.data == h.ACK and r.error is None, repr(r))
            recs = d.wait_records(lambda rec: rec.event == "message" and
                                  rec.get("msg") == logged, timeout=10)
            t.eq("%s: the message is logged once" % label, len(recs), 1)


def read_mode_large(t, tmp):
    """--framing read: a message past the thread's small buffer is still
    what one read returns, whole."""
    d = h.Daemon(tmp, ["--max-message", "100000"], workers=1,
                 log_name="read-large.log")
    msg = h.unique_msg("read-large", 0) * 2000
    msg = msg[:20000]
    r = h.client(d.port, msg)
    t.eq("--framing read, 20000 bytes: acknowledged", r.data, h.ACK)
    recs = d.wait_records(lambda rec: rec.event == "message", timeout=10)
    t.eq("--framing read, 20000 bytes: logged whole",
         [(rec.get("bytes"), rec.get("msg") == msg) for rec in recs],
         [(20000, True)])


def rss_not_ours():
    """Why the worker's RSS is not a measure of its own memory (valgrind
    or ThreadSanitizer keep shadow memory for what it unmapped,
    AddressSanitizer keeps freed memory in quarantine), or None."""
    if h.valgrind_wrapped():
        return "valgrind"
    with open(h.ackd_path(), "rb") as f:
        binary = f.read()
    if b"__tsan_init" in binary:
        return "ThreadSanitizer"
    if b"__asan_init" in binary:
        return "AddressSanitizer"
    return None


def memory_returns(t, tmp):
    """A burst of large messages, one per thread: RSS goes back down."""
    why = rss_not_ours()
    if why is not None:
        t.skip("memory: RSS comes back after large messages",
               "under %s RSS holds memory the worker gave back" % why)
        return
    d = h.Daemon(tmp, ["--framing", "eof", "--max-message", str(BIG),
                       "--threads", str(THREADS)], workers=1,
                 log_name="memory.log")
    pid = d.worker_pids[0]
    r = h.client(d.port, b"warm-up")
    t.eq("memory: a small message is acknowledged", r.data, h.ACK)
    base = rss_kib(pid)
    conns = [h.Conn(d.port) for _ in range(THREADS)]
    msgs = [(b"%02d" % i) * (BIG // 2) for i in range(THREADS)]
    try:
        for c, m in zip(conns, msgs):
            c.send(m, shutdown=False)
        # every thread holds its message: the readiness signal is memory
        want = base + THREADS * BIG // 1024 // 2
        held = h.wait_for(lambda: rss_kib(pid) >= want, 30)
        peak = rss_kib(pid)
        t.ok("memory: RSS grows while %d messages of %d bytes are held"
             % (THREADS, BIG), held, "%d KiB, base %d KiB" % (peak, base))
        for c in conns:
            c.sock.shutdown(socket.SHUT_WR)
        replies = [c.read_all(20) for c in conns]
    finally:
        for c in conns:
            c.close()
    t.eq("memory: all %d acknowledged" % THREADS,
         [x.data for x in replies], [h.ACK] * THREADS)
    d.wait_records(lambda rec: rec.event == "message" and
                   rec.get("bytes") == BIG, count=THREADS, timeout=10)
    after = rss_kib(pid)
    t.note("memory: worker RSS %d KiB idle, %d KiB holding %d x %d bytes, "
           "%d KiB after" % (base, peak, THREADS, BIG, after))
    t.ok("memory: RSS after them is within %d KiB of before" %
         (THREADS * BIG // 1024 // 4), after - base < THREADS * BIG //
         1024 // 4, "%d KiB before, %d KiB after" % (base, after))


def one_message_need(t):
    """--max-memory below one message's need: exit 64 with one line
    naming the flag and the range; returns the least allowed value."""
    rc, out, err = h.run_ackd(["--bind", "127.0.0.1", "--port", "0",
                               "--workers", "1", "--max-message", str(BIG),
                               "--max-memory", "1"])
    line = err.decode("utf-8", "replace").strip()
    t.eq("--max-memory 1 with --max-message %d: exits 64" % BIG, rc, 64)
    m = re.search(r"--max-memory: .*allowed: (\d+)-\d+", line)
    t.ok("--max-memory too small: one line naming the flag and the range",
         m is not None and "\n" not in line, h.short(line))
    return int(m.group(1)) if m else 5 * BIG + 4096


def budget_of_one(t, tmp):
    """Room for one large message: they take turns; one that waits past
    its read deadline is refused, and counted."""
    need = one_message_need(t)
    d = h.Daemon(tmp, ["--framing", "eof", "--max-message", str(BIG),
                       "--max-memory", str(need), "--threads", "8",
                       "--read-timeout", "6", "--defer-accept", "0"],
                 workers=1, log_name="budget.log")
    pid = d.worker_pids[0]
    conns = [h.Conn(d.port) for _ in range(6)]
    try:
        for i, c in enumerate(conns):
            c.send((b"%d" % i) * BIG)
        replies = [c.read_all(20) for c in conns]
    finally:
        for c in conns:
            c.close()
    t.eq("one at a time: 6 concurrent messages of %d bytes all "
         "acknowledged" % BIG, [r.data for r in replies], [h.ACK] * 6)

    # b holds a thread with a small start; a becomes the owner; b's
    # growth then waits for a until b's deadline, which comes first
    b = h.Conn(d.port)
    a = None
    try:
        b.send(b"b" * 1024, shutdown=False)
        h.wait_accepted(d.port, [b.reply.sport])
        # not a synchronisation: this spaces the two read deadlines, so
        # that a's comes 2 s after b's, whatever the machine's speed
        time.sleep(2)
        base = rss_kib(pid)
        a = h.Conn(d.port)
        a.send(b"a" * (BIG // 2), shutdown=False)
        t.ok("refusal: a's message is held (RSS grows)", h.wait_for(
            lambda: rss_kib(pid) >= base + BIG // 1024 // 3, 10),
            "RSS %d KiB, was %d KiB" % (rss_kib(pid), base))
        b.send(b"b" * (BIG // 4), shutdown=False)
        refused = d.wait_records(lambda r: r.event == "memory-refused",
                                 timeout=15)
        t.eq("refusal: one event=memory-refused", len(refused), 1)
        t.eq("refusal: for b's connection",
             [r.get("client") for r in refused],
             ["127.0.0.1:%d" % b.reply.sport])
        rb = b.read_all(10)
        t.ok("refusal: b gets no ACK", h.ACK not in rb.data, repr(rb))
        a.sock.shutdown(socket.SHUT_WR)
        ra = a.read_all(10)
        t.eq("refusal: a, the owner, is acknowledged", ra.data, h.ACK)
    finally:
        b.close()
        if a is not None:
            a.close()
    st = d.counters() or {}
    t.eq("refusal: counted as memory_refused=1", st.get("memory_refused"), 1)


def main(t, tmp):
    excess_input(t, tmp)
    read_mode_large(t, tmp)
    memory_returns(t, tmp)
    budget_of_one(t, tmp)


if __name__ == "__main__":
    h.run("memory", main, deadline=150)
