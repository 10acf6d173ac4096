#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_framing.py: --framing read|line|eof.

A message sent in many small pieces, with pauses between them, is logged
whole under line and eof, and only its first piece under read (today's
rule: one read). Under line, bytes after the newline are dropped; a
message that is not finished by the read timeout (a client that trickles
a byte now and then counts too: the timeout bounds the whole message,
not each read) is logged as event=timeout with what arrived, and is not
acknowledged. --max-message cuts a message in every mode (truncated=1).
Nothing here asserts a duration: the machine may be slow or shared.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PIECES = 20     # a message of 20 pieces of 3 bytes,
PAUSE = 0.02    # 20 ms apart


def connect(port):
    """A client connection whose small writes go out one segment each."""
    c = h.Conn(port)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


def trickle(port, msg, end=b"", shutdown=False):
    """Send msg in PIECES pieces PAUSE apart, then end; read the reply."""
    c = connect(port)
    step = max(1, len(msg) // PIECES)
    try:
        for i in range(0, len(msg), step):
            c.sock.sendall(msg[i:i + step])
            time.sleep(PAUSE)
        c.send(end, shutdown=shutdown)
        return c.read_all()
    finally:
        c.close()


def message_with(d, msg, timeout=10):
    """The message records whose msg is msg (waiting for one)."""
    return d.wait_records(lambda r: r.event == "message" and
                          r.get("msg") == msg, timeout=timeout)


def split_message(t, d, mode):
    msg = h.unique_msg(mode, 0)
    msg = (msg * 4)[:PIECES * 3 - 1]
    if mode == "line":
        whole = msg + b"\n"
        reply = trickle(d.port, msg, b"\n")
    else:
        whole = msg
        reply = trickle(d.port, msg, shutdown=True)
    t.eq("%s: a message in %d pieces is acknowledged" % (mode, PIECES),
         reply.data, h.ACK)
    found = message_with(d, whole)
    t.ok("%s: it is logged whole, in one line" % mode,
         len(found) == 1 and "truncated" not in found[0],
         h.short([r.raw for r in d.records()][-4:]))


def split_under_read(t, d):
    # the daemon answers the first piece; wait for that before the rest
    msg = h.unique_msg("read", 0)
    c = connect(d.port)
    try:
        c.sock.sendall(msg[:3])
        reply = c.read_all()
        try:
            c.sock.sendall(msg[3:])
        except OSError:
            pass    # the daemon closed the connection: that is the point
    finally:
        c.close()
    t.eq("read: the first piece alone is acknowledged", reply.data, h.ACK)
    t.ok("read: only the first piece is logged",
         len(message_with(d, msg[:3])) == 1 and
         not [r for r in d.events("message") if r.get("msg") == msg],
         h.short([r.raw for r in d.records()][-3:]))


def pipelined(t, d):
    first = h.unique_msg("first", 1) + b"\n"
    second = h.unique_msg("second", 2) + b"\n"
    c = connect(d.port)
    try:
        c.send(first + second + b"third", shutdown=False)
        reply = c.read_all()
    finally:
        c.close()
    t.eq("line: pipelined lines get one ACK, then the end", reply.data,
         h.ACK)
    t.ok("line: the first line is the message, newline included",
         len(message_with(d, first)) == 1,
         h.short([r.raw for r in d.records()][-3:]))
    t.ok("line: what came after the newline is not logged",
         not [r for r in d.records() if second[:-1] in (r.get("msg") or
              b"")], h.short([r.raw for r in d.records()][-3:]))


def never_ends(t, d, mode):
    """A client that sends a byte every 50 ms and never finishes."""
    c = connect(d.port)
    sent = b""
    closed = False
    try:
        for i in range(600):   # 30 s of trickling, far past --read-timeout
            b = b"abcdefghijklmnopqrstuvwxyz"[i % 26:i % 26 + 1]
            try:
                c.sock.sendall(b)
                sent += b
                c.sock.setblocking(False)
                try:
                    if c.sock.recv(64) == b"":
                        closed = True
                except BlockingIOError:
                    pass
                finally:
                    c.sock.setblocking(True)
            except OSError:
                closed = True   # reset: the daemon closed on us
            if closed:
                break
            time.sleep(0.05)
    finally:
        c.close()
    t.ok("%s: the daemon closes on a client that never finishes" % mode,
         closed, "still open after %d bytes" % len(sent))
    recs = d.wait_records(lambda r: r.event == "timeout" and
                          r.get("bytes", 0) > 0, timeout=10)
    t.ok("%s: it logs event=timeout with the bytes that came" % mode,
         len(recs) == 1 and recs[0].get("msg") is not None and
         sent.startswith(recs[0]["msg"]) and
         recs[0]["bytes"] == len(recs[0]["msg"]),
         h.short([r.raw for r in d.records()][-3:]))
    t.ok("%s: and logs no message for it" % mode,
         not [r for r in d.events("message") if
              (r.get("msg") or b"").startswith(b"abcdef")],
         h.short([r.raw for r in d.records()][-3:]))


def unfinished(t, d, mode):
    """A message without its end, then silence: a timeout, no ACK."""
    c = connect(d.port)
    try:
        c.send(b"unfinished", shutdown=False)
        reply = c.read_all(timeout=20)
    finally:
        c.close()
    t.eq("%s: an unfinished message gets no ACK" % mode, reply.data, b"")
    recs = d.wait_records(lambda r: r.event == "timeout" and
                          r.get("msg") == b"unfinished", timeout=10)
    t.ok("%s: it is logged as event=timeout bytes=10" % mode,
         len(recs) == 1 and recs[0].get("bytes") == 10,
         h.short([r.raw for r in d.records()][-3:]))


def truncated(t, d, mode, limit):
    body = (h.unique_msg("trunc-" + mode, 3) * 8)[:limit * 3]
    if mode == "read":
        reply = h.client(d.port, body)
    elif mode == "line":
        reply = trickle(d.port, body, b"\n", shutdown=True)
    else:
        # no half-close: a full buffer ends the message by itself
        c = connect(d.port)
        try:
            c.send(body, shutdown=False)
            reply = c.read_all()
        finally:
            c.close()
    t.eq("%s: an oversized message is acknowledged" % mode, reply.data,
         h.ACK)
    recs = message_with(d, body[:limit])
    t.ok("%s: it is logged cut to --max-message, truncated=1" % mode,
         len(recs) == 1 and recs[0].get("truncated") == 1 and
         recs[0].get("bytes") == limit,
         h.short([r.raw for r in d.records()][-3:]))


def main(t, tmp):
    limit = 32
    flags = ["--max-message", str(limit), "--read-timeout", "1.5"]
    daemons = {}
    for mode in ("read", "line", "eof"):
        daemons[mode] = h.Daemon(tmp, flags + ["--framing", mode],
                                 workers=1, log_name="%s.log" % mode)
    # the split message stays under the limit: 59 bytes would be cut
    long_flags = ["--read-timeout", "10"]
    for mode in ("line", "eof"):
        d = h.Daemon(tmp, long_flags + ["--framing", mode], workers=1,
                     log_name="%s-long.log" % mode)
        split_message(t, d, mode)
    split_under_read(t, daemons["read"])
    pipelined(t, daemons["line"])
    for mode in ("line", "eof"):
        unfinished(t, daemons[mode], mode)
    for mode in ("line", "eof"):
        never_ends(t, h.Daemon(tmp, flags + ["--framing", mode], workers=1,
                               log_name="%s-trickle.log" % mode), mode)
    for mode in ("read", "line", "eof"):
        truncated(t, daemons[mode], mode, limit)


if __name__ == "__main__":
    h.run("framing", main, deadline=120)
