#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_allow.py: --allow, the clients ackd serves.

Over IPv4, clients bound to chosen 127.x source addresses: with only
127.0.0.1/32 allowed, 127.0.0.1 is served and 127.0.0.2 is refused; the
ranges of a comma list and of a repeated flag add up. A refused client
gets no ACK, and its connection is closed without anything read: a
client that sent its message sees a reset (the kernel resets a socket
closed with unread bytes; --defer-accept, on by default, has the bytes
there before the accept), a silent one (--defer-accept 0, so that the
kernel hands it over before it sends) sees the end of file long before
its --read-timeout. Each refusal is logged as event=refused
reason=not-allowed (repeats summarised, the summary saying
reason=not-allowed too) and counted in not_allowed, not in refused.
Over IPv6 (skipped without ::1): ::1 is judged by IPv6 ranges, and an
IPv4 client of a dual-stack (::) listener, ::ffff:127.0.0.x, by IPv4
ones. With --proxy-protocol the client the header names is judged, not
the peer: named clients inside the list are served, those outside are
refused with nothing after the header read, and a LOCAL header, which
names no client, is judged as its peer.
"""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def connect_from(port, source, host="127.0.0.1"):
    """A connection from source (an address of this host) to host:port."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(10)
    s.bind((source, 0))
    s.connect((host, port))
    return s


def read_reply(s):
    """Read until EOF: (bytes, "eof" | "reset" | "timeout" | error)."""
    out = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                return out, "eof"
            out += b
    except ConnectionResetError:
        return out, "reset"
    except socket.timeout:
        return out, "timeout"
    except OSError as e:
        return out, str(e)


def send_from(port, data, source, host="127.0.0.1"):
    """Send data from source, half-close, read the reply: (reply, how it
    ended, the client's port)."""
    s = connect_from(port, source, host)
    try:
        sport = s.getsockname()[1]
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass    # already reset: read_reply says so
        reply, end = read_reply(s)
        return reply, end, sport
    finally:
        s.close()


def refusals(d):
    """The event=refused reason=not-allowed lines, summaries included."""
    return [r for r in d.records() if r.event == "refused" and
            r.get("reason") == "not-allowed"]


def check_served(t, label, d, got, msg):
    """The ACK came, and msg was logged."""
    reply, end, sport = got
    t.eq("%s: ACK" % label, reply, h.ACK)
    t.ok("%s: the message is logged" % label,
         d.wait_records(lambda r: r.event == "message" and
                        r.get("msg") == msg, timeout=10),
         "no message line for %r" % msg)


def check_refused(t, label, d, got, msg, client):
    """No ACK; the connection was reset, its message unread; one line
    event=refused reason=not-allowed names client ("ADDR:%d", %d the
    client's port; None where repeats may be summarised); msg is not
    logged."""
    reply, end, sport = got
    t.ok("%s: no ACK, the connection reset with the message unread" %
         label, reply == b"" and end == "reset", "%r, %s" % (reply, end))
    if client is not None:
        want = client % sport if "%d" in client else client
        t.ok("%s: logged event=refused reason=not-allowed client=%s" %
             (label, want), d.wait_records(
                 lambda r: r.event == "refused" and
                 r.get("reason") == "not-allowed" and
                 r.get("client") == want and "limit" not in r, timeout=10),
             h.short([r.raw for r in d.records()][-3:]))
    t.ok("%s: the message is not logged" % label,
         not [r for r in d.events("message") if r.get("msg") == msg],
         "a message line for %r" % msg)


def ipv4_one_host(t, tmp):
    """Only 127.0.0.1/32: .1 served, .2 refused; the repeats of .2
    summarised with reason=not-allowed."""
    d = h.Daemon(tmp, ["--allow", "127.0.0.1/32", "--event-interval", "2"],
                 workers=1, log_name="one.log")
    check_served(t, "127.0.0.1/32: from 127.0.0.1", d,
                 send_from(d.port, b"from one", "127.0.0.1"), b"from one")
    # back to back, well within one --event-interval even under valgrind
    first = send_from(d.port, b"from two", "127.0.0.2")
    second = send_from(d.port, b"two again", "127.0.0.2")
    check_refused(t, "127.0.0.1/32: from 127.0.0.2", d, first, b"from two",
                  "127.0.0.2:%d")
    check_refused(t, "127.0.0.1/32: again from 127.0.0.2", d, second,
                  b"two again", None)
    want = {"accepted": 3, "acked": 1, "not_allowed": 2, "refused": 0}
    t.eq("127.0.0.1/32: counted in not_allowed, not refused",
         d.wait_counters(want), want)
    # the second refusal, within --event-interval, is in a summary
    summ = d.wait_records(lambda r: r.event == "refused" and
                          r.get("client") == "127.0.0.2" and
                          "count" in r, timeout=10)
    singles = [r for r in refusals(d) if "count" not in r]
    t.ok("127.0.0.1/32: one line, then a summary event=refused "
         "reason=not-allowed count=1", len(singles) == 1 and
         len(summ) == 1 and summ[0].get("reason") == "not-allowed" and
         summ[0].get("count") == 1, h.short([r.raw for r in refusals(d)]))


def ipv4_silent(t, tmp):
    """A silent client outside the list is closed at accept, not held
    for its read timeout (--defer-accept 0: accepted before it sends)."""
    d = h.Daemon(tmp, ["--allow", "127.0.0.1/32", "--defer-accept", "0",
                       "--read-timeout", "60"], workers=1,
                 log_name="silent.log")
    s = connect_from(d.port, "127.0.0.2")
    try:
        reply, end = read_reply(s)
    finally:
        s.close()
    t.ok("silent: a client from 127.0.0.2 that sends nothing sees EOF at "
         "once (within 10 s, its read timeout being 60 s)",
         reply == b"" and end == "eof", "%r, %s" % (reply, end))
    want = {"accepted": 1, "not_allowed": 1, "empty": 0, "timeout": 0}
    t.eq("silent: counted in not_allowed", d.wait_counters(want), want)


def ipv4_ranges(t, tmp):
    """Ranges in a comma list and in a repeated flag add up."""
    d = h.Daemon(tmp, ["--allow", "10.0.0.0/8,127.0.0.0/31", "--allow",
                       "127.0.0.5", "--event-interval", "0"],
                 workers=1, log_name="ranges.log")
    for src, ok in (("127.0.0.1", True), ("127.0.0.2", False),
                    ("127.0.0.5", True), ("127.0.0.6", False)):
        msg = ("ranges from %s" % src).encode()
        label = "10.0.0.0/8,127.0.0.0/31 + 127.0.0.5: from %s" % src
        got = send_from(d.port, msg, src)
        if ok:
            check_served(t, label, d, got, msg)
        else:
            check_refused(t, label, d, got, msg, src + ":%d")
    want = {"accepted": 4, "acked": 2, "not_allowed": 2}
    t.eq("ranges: two refused, counted", d.wait_counters(want), want)


def ipv6(t, tmp):
    """::1 by IPv6 ranges; IPv4 clients of :: by IPv4 ones."""
    why = h.ipv6_unavailable()
    if why:
        t.skip("IPv6", why)
        return
    d = h.Daemon(tmp, ["--allow", "::/127", "--event-interval", "0"],
                 workers=1, bind="::1", log_name="v6.log")
    check_served(t, "::/127: from ::1", d,
                 send_from(d.port, b"v6 in", "::1", "::1"), b"v6 in")
    # dual-stack: 127.0.0.2 arrives as ::ffff:127.0.0.2
    d = h.Daemon(tmp, ["--allow", "127.0.0.2,::2/127", "--event-interval",
                       "0"], workers=1, bind="::", log_name="dual.log")
    check_served(t, ":: with 127.0.0.2,::2/127: IPv4 127.0.0.2", d,
                 send_from(d.port, b"mapped in", "127.0.0.2"), b"mapped in")
    check_refused(t, ":: with 127.0.0.2,::2/127: IPv4 127.0.0.3", d,
                  send_from(d.port, b"mapped out", "127.0.0.3"),
                  b"mapped out", "127.0.0.3:%d")
    check_refused(t, ":: with 127.0.0.2,::2/127: ::1", d,
                  send_from(d.port, b"v6 out", "::1", "::1"), b"v6 out",
                  "[::1]:%d")
    want = {"accepted": 3, "acked": 1, "not_allowed": 2}
    t.eq("IPv6: two refused, counted", d.wait_counters(want), want)


def v2_local():
    """A v2 LOCAL header: no client named."""
    return SIG + bytes([0x20, 0x00]) + b"\x00\x00"


def v2_inet6(src, sport, dst="::1", dport=9999):
    """A v2 PROXY header for TCP over IPv6."""
    body = (socket.inet_pton(socket.AF_INET6, src) +
            socket.inet_pton(socket.AF_INET6, dst) +
            (sport).to_bytes(2, "big") + (dport).to_bytes(2, "big"))
    return SIG + bytes([0x21, 0x21]) + len(body).to_bytes(2, "big") + body


def proxied(t, tmp):
    """--proxy-protocol: the named client is judged, not the peer."""
    d = h.Daemon(tmp, ["--proxy-protocol", "--allow", "192.0.2.0/24",
                       "--allow", "2001:db8::7", "--event-interval", "0"],
                 workers=1, log_name="proxy.log")
    ok4 = b"PROXY TCP4 192.0.2.9 127.0.0.1 4000 9999\r\n"
    no4 = b"PROXY TCP4 198.51.100.1 127.0.0.1 4001 9999\r\n"
    check_served(t, "proxy: named 192.0.2.9, peer 127.0.0.1 not listed", d,
                 send_from(d.port, ok4 + b"named in", "127.0.0.1"),
                 b"named in")
    got = send_from(d.port, no4 + b"named out", "127.0.0.1")
    check_refused(t, "proxy: named 198.51.100.1", d, got, b"named out",
                  None)
    t.ok("proxy: the refusal names the header's client and the peer",
         d.wait_records(lambda r: r.event == "refused" and
                        r.get("reason") == "not-allowed" and
                        r.get("client") == "198.51.100.1:4001" and
                        r.get("proxy") == "127.0.0.1:%d" % got[2],
                        timeout=10), h.short([r.raw for r in refusals(d)]))
    check_served(t, "proxy: v2 named 2001:db8::7", d,
                 send_from(d.port, v2_inet6("2001:db8::7", 7) + b"v2 in",
                           "127.0.0.1"), b"v2 in")
    check_refused(t, "proxy: v2 named 2001:db8::8", d,
                  send_from(d.port, v2_inet6("2001:db8::8", 8) + b"v2 out",
                            "127.0.0.1"), b"v2 out", "[2001:db8::8]:8")
    check_refused(t, "proxy: v2 LOCAL from 127.0.0.1, judged as the peer",
                  d, send_from(d.port, v2_local() + b"local", "127.0.0.1"),
                  b"local", "127.0.0.1:%d")
    want = {"accepted": 5, "acked": 2, "not_allowed": 3, "refused": 0,
            "proxy_refused": 0}
    t.eq("proxy: three refused, counted in not_allowed",
         d.wait_counters(want), want)


def main(t, tmp):
    ipv4_one_host(t, tmp)
    ipv4_silent(t, tmp)
    ipv4_ranges(t, tmp)
    ipv6(t, tmp)
    proxied(t, tmp)


if __name__ == "__main__":
    h.run("allow", main, deadline=120)
