#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_proxy.py: --proxy-protocol and --proxy-from.

Raw headers written by the test: v1 and v2, IPv4 and IPv6 clients, the
header and the message in one write or split over several (each part
sent only once the daemon has taken the previous one off the socket, as
/proc/net/tcp shows), LOCAL and UNKNOWN served as connections from the
balancer, and the refusals (no header, garbage, oversized headers, a
header that never completes, a source outside --proxy-from) with their
event and counter. The header and the message share one --read-timeout:
each within it but both past it gets no ACK. Then a real haproxy on loopback, in TCP mode, with a
send-proxy backend and a send-proxy-v2 backend whose tcp-check health
check (a LOCAL header, a message, expect the ACK) must pass: clients
through it are logged with their own address, the balancer's as proxy=.
Without haproxy those checks are skipped.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(ver_cmd, fam, body):
    """A v2 header with its body (addresses, TLVs)."""
    return SIG + bytes([ver_cmd, fam]) + struct.pack("!H", len(body)) + body


def v2_inet(src, sport, dst="127.0.0.1", dport=9999, tlvs=b""):
    """A v2 PROXY header for TCP over IPv4."""
    return v2(0x21, 0x11, socket.inet_aton(src) + socket.inet_aton(dst) +
              struct.pack("!HH", sport, dport) + tlvs)


def v2_inet6(src, sport, dst="::1", dport=9999):
    """A v2 PROXY header for TCP over IPv6."""
    return v2(0x21, 0x21, socket.inet_pton(socket.AF_INET6, src) +
              socket.inet_pton(socket.AF_INET6, dst) +
              struct.pack("!HH", sport, dport))


def send_parts(port, parts, close=True):
    """Send parts one by one, each once the daemon has read what came
    before; half-close and read the reply (a Reply)."""
    c = h.Conn(port)
    try:
        for i, part in enumerate(parts):
            c.send(part, shutdown=False)
            if i + 1 < len(parts) and not h.wait_for(
                    lambda: h.unread_bytes(port, c.reply.sport) == 0, 10):
                c.reply.error = "the daemon did not take part %d" % i
                return c.reply
        if close:
            c.sock.shutdown(socket.SHUT_WR)
        return c.read_all()
    except OSError as e:
        c.reply.error = e
        return c.reply
    finally:
        c.close()


def by_msg(d, msg):
    """Wait for the event=message line of msg; the record or None."""
    recs = d.wait_records(lambda r: r.event == "message" and
                          r.get("msg") == msg, timeout=10)
    return recs[0] if recs else None


def check_relayed(t, label, d, reply, msg, client):
    """The ACK came, and msg is logged with client and proxy= the peer."""
    t.eq("%s: ACK" % label, reply.data, h.ACK)
    rec = by_msg(d, msg)
    t.ok("%s: logged client=%s proxy=127.0.0.1:%s" % (label, client,
         reply.sport), rec is not None and rec.get("client") == client and
         rec.get("proxy") == "127.0.0.1:%d" % reply.sport and
         "proxy_cmd" not in rec, rec.raw if rec else "no line")


def relayed(t, d):
    """Headers the daemon must take, v1 and v2, whole and in parts."""
    r = h.client(d.port, b"PROXY TCP4 192.0.2.7 127.0.0.1 4242 9999\r\n"
                 b"v1 one write")
    check_relayed(t, "v1 TCP4", d, r, b"v1 one write", "192.0.2.7:4242")
    r = send_parts(d.port, [b"PROXY TCP6 2001:db8::", b"5 ::1 65535 9",
                            b"\r", b"\n", b"v1 in parts"])
    check_relayed(t, "v1 TCP6 in parts", d, r, b"v1 in parts",
                  "[2001:db8::5]:65535")
    r = send_parts(d.port, [b"PROXY TCP4 198.51.100.1 127.0.0.1 1 2\r\n",
                            b"after the header"])
    check_relayed(t, "v1 then the message in its own write", d, r,
                  b"after the header", "198.51.100.1:1")
    r = h.client(d.port, v2_inet("203.0.113.9", 50000) + b"v2 one write")
    check_relayed(t, "v2 IPv4", d, r, b"v2 one write", "203.0.113.9:50000")
    hdr = v2_inet6("2001:db8::77", 1234)
    r = send_parts(d.port, [hdr[:5], hdr[5:16], hdr[16:30],
                            hdr[30:] + b"v2 in parts"])
    check_relayed(t, "v2 IPv6 in parts", d, r, b"v2 in parts",
                  "[2001:db8::77]:1234")
    tlvs = b"\x01\x00\x02h2" + b"\x05\x00\x08uniqueid" + b"\x04\x00\x00"
    r = h.client(d.port, v2_inet("192.0.2.200", 80, tlvs=tlvs) +
                 b"v2 with TLVs")
    check_relayed(t, "v2 with TLVs", d, r, b"v2 with TLVs",
                  "192.0.2.200:80")


def local_unknown(t, d):
    """LOCAL (health checks) and UNKNOWN: the balancer is the client."""
    for label, hdr in (("v2 LOCAL", v2(0x20, 0x00, b"")),
                       ("v2 LOCAL with a body", v2(0x20, 0x11, bytes(12))),
                       ("v1 UNKNOWN", b"PROXY UNKNOWN\r\n"),
                       ("v1 UNKNOWN with addresses",
                        b"PROXY UNKNOWN ::1 ::2 3 4\r\n"),
                       ("v2 PROXY over AF_UNIX", v2(0x21, 0x31, bytes(216))),
                       ("v2 PROXY UNSPEC", v2(0x21, 0x00, b""))):
        msg = ("%s message" % label).encode()
        r = h.client(d.port, hdr + msg)
        t.eq("%s: ACK" % label, r.data, h.ACK)
        rec = by_msg(d, msg)
        want = "local" if "LOCAL" in label else "unknown"
        peer = "127.0.0.1:%d" % r.sport
        t.ok("%s: client= and proxy= are the peer, proxy_cmd=%s" %
             (label, want), rec is not None and rec.get("client") == peer
             and rec.get("proxy") == peer and rec.get("proxy_cmd") == want,
             rec.raw if rec else "no line")
    # a health check that sends only the header: closed quietly
    r = h.client(d.port, v2(0x20, 0x00, b""))
    t.eq("LOCAL alone: no reply, a clean close", (r.data, r.error),
         (b"", None))
    recs = d.wait_records(lambda r2: r2.get("client") == "127.0.0.1:%d" %
                          r.sport, timeout=10)
    t.ok("LOCAL alone: logged as event=empty proxy_cmd=local",
         len(recs) == 1 and recs[0].event == "empty" and
         recs[0].get("proxy_cmd") == "local", h.short([x.raw for x in recs]))


def refusals(t, d):
    """Connections without a valid header: no ACK, one proxy-refused line
    with the reason. Returns how many were refused."""
    cases = [
        ("no header", b"hello", None, "bad-signature"),
        ("garbage", b"\x16\x03\x01\x00\xa5\x01\x00", None, "bad-signature"),
        ("lowercase", b"proxy TCP4 1.2.3.4 1.2.3.5 1 2\r\nx", None,
         "bad-signature"),
        ("LF alone", b"PROXY TCP4 1.2.3.4 1.2.3.5 1 2\nx", None,
         "v1-bad-crlf"),
        ("leading zero", b"PROXY TCP4 1.2.3.04 1.2.3.5 1 2\r\nx", None,
         "v1-bad-address"),
        ("bad port", b"PROXY TCP4 1.2.3.4 1.2.3.5 1 65536\r\nx", None,
         "v1-bad-port"),
        ("v1 over 107 bytes", b"PROXY UNKNOWN " + b"A" * 200 + b"\r\n",
         None, "v1-too-long"),
        ("v2 over the limit", SIG + b"\x21\x11\xff\xff" + bytes(64), None,
         "v2-too-long"),
        ("v2 version 1", v2(0x11, 0x11, bytes(12)), None, "v2-bad-version"),
        ("v2 command 2", v2(0x22, 0x11, bytes(12)), None, "v2-bad-command"),
        ("v2 family 4", v2(0x21, 0x41, bytes(12)), None, "v2-bad-family"),
        ("v2 short addresses", v2(0x21, 0x21, bytes(12)), None,
         "v2-bad-length"),
        ("v2 bad TLV", v2_inet("1.2.3.4", 1, tlvs=b"\x01\x00\x09ab"), None,
         "v2-bad-tlv"),
        ("truncated v1", b"PROXY TCP4 1.2.3.4", None, "truncated"),
        ("never completes", b"PROXY TCP4 1.2.3.4 ", "open", "timeout"),
        ("v2 never completes", SIG + b"\x21", "open", "timeout"),
    ]
    for label, data, hold, why in cases:
        r = h.client(d.port, data, shutdown=hold is None)
        t.eq("%s: no ACK" % label, r.data, b"")
        peer = "127.0.0.1:%d" % r.sport
        recs = d.wait_records(lambda x: x.get("client") == peer,
                              timeout=10)
        t.ok("%s: event=proxy-refused reason=%s" % (label, why),
             len(recs) == 1 and recs[0].event == "proxy-refused" and
             recs[0].get("reason") == why and "proxy" not in recs[0],
             h.short([x.raw for x in recs]))
    return len(cases)


def counted(t, d, refused):
    """SIGUSR1: the refusals are in proxy_refused, the rest not."""
    since = len(d.records())
    d.signal(signal.SIGUSR1)

    def all_lines():
        return [r for r in d.records()[since:] if r.event == "stats" and
                r.get("worker") == "all"]
    lines = h.wait_for(all_lines, 10)
    t.ok("SIGUSR1: proxy_refused=%d, refused=0" % refused,
         lines and lines[0].get("proxy_refused") == refused and
         lines[0].get("refused") == 0, h.short([r.raw for r in lines]))


def shared_deadline(t, tmp):
    """
    The header and the message share one --read-timeout of T: a header
    that completes at 0.6 T and a message 0.7 T later each fit T alone,
    but the message comes at 1.3 T, past the shared deadline: no ACK, an
    event=timeout line for the relayed client, written before 2 T.
    """
    timeout = 3.0
    d = h.Daemon(tmp, ["--proxy-protocol", "--read-timeout", str(timeout)],
                 workers=1, log_name="deadline.log")
    c = h.Conn(d.port)
    t0, t0_wall = time.monotonic(), time.time()
    steps = [(0, b"PROXY TCP4 192.0.2.61 127.0.0.1 61 62"),
             (0.6 * timeout, b"\r\n"), (1.3 * timeout, b"too late")]
    try:
        for at, data in steps:
            time.sleep(max(0, t0 + at - time.monotonic()))  # the pacing
            c.send(data, shutdown=False)
        c.sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass    # the daemon closed first: what it should do
    r = c.read_all()
    c.close()
    t.eq("shared deadline: no ACK for a message past header + message "
         "time", r.data, b"")
    recs = d.wait_records(lambda x: x.get("client") == "192.0.2.61:61")
    t.ok("shared deadline: one event=timeout line for the relayed client",
         len(recs) == 1 and recs[0].event == "timeout" and
         recs[0].get("proxy") == "127.0.0.1:%d" % r.sport,
         h.short([x.raw for x in d.records()][-3:]))
    took = h.log_time(recs[0]) - t0_wall if recs else None
    t.ok("shared deadline: the daemon gave up within 2x the read timeout "
         "of the connect (%s s)" % ("%.2f" % took if took else "?"),
         took is not None and took < 2 * timeout, "took %s" % took)
    t.note("shared deadline: header done at %.1f s, message sent at %.1f s,"
           " read timeout %.1f s" % (0.6 * timeout, 1.3 * timeout, timeout))


def json_format(t, tmp):
    """The proxy= fields in the JSON log."""
    d = h.Daemon(tmp, ["--proxy-protocol"], workers=1, fmt="json",
                 log_name="json.log")
    r = h.client(d.port, b"PROXY TCP4 192.0.2.1 127.0.0.1 7 8\r\njson")
    rec = by_msg(d, b"json")
    t.ok("json: client and proxy are strings", r.data == h.ACK and
         rec is not None and rec.get("client") == "192.0.2.1:7" and
         rec.get("proxy") == "127.0.0.1:%d" % r.sport,
         rec.raw if rec else "no line: %r" % r)


def proxy_from(t, tmp):
    """--proxy-from: headers only from the listed ranges."""
    d = h.Daemon(tmp, ["--proxy-protocol", "--proxy-from",
                       "10.0.0.0/8,::1", "--proxy-from", "127.0.0.0/8"],
                 workers=1, log_name="from-ok.log")
    r = h.client(d.port, b"PROXY TCP4 192.0.2.3 127.0.0.1 3 4\r\ntrusted")
    check_relayed(t, "--proxy-from 127.0.0.0/8", d, r, b"trusted",
                  "192.0.2.3:3")
    d = h.Daemon(tmp, ["--proxy-protocol", "--proxy-from", "10.0.0.0/8"],
                 workers=1, log_name="from-no.log")
    r = h.client(d.port, b"PROXY TCP4 192.0.2.3 127.0.0.1 3 4\r\nspoof")
    t.eq("--proxy-from 10.0.0.0/8: loopback gets no ACK", r.data, b"")
    recs = d.wait_records(lambda x: x.event == "proxy-refused", timeout=10)
    t.ok("--proxy-from 10.0.0.0/8: proxy-refused reason=untrusted-source "
         "client=the peer", len(recs) == 1 and
         recs[0].get("reason") == "untrusted-source" and
         recs[0].get("client") == "127.0.0.1:%d" % r.sport,
         h.short([x.raw for x in recs]))
    t.ok("--proxy-from 10.0.0.0/8: the message is not logged",
         not d.events("message"), "a message line")


def flag_errors(t):
    """--proxy-from needs --proxy-protocol and valid ranges: exit 64."""
    for args, want in (
            (["--proxy-from", "127.0.0.1"], "--proxy-protocol"),
            (["--proxy-protocol", "--proxy-from", "10.0.0.0/33"],
             "is not an address range (allowed: "),
            (["--proxy-protocol", "--proxy-from", "localhost"],
             "is not an address range (allowed: ")):
        rc, out, err = h.run_ackd(["--port", "0"] + args)
        text = err.decode("utf-8", "replace")
        t.ok("%s: exit 64, one line naming the flag" % " ".join(args),
             rc == 64 and text.count("\n") == 1 and "--proxy-from" in text
             and want in text, "rc=%r stderr=%r" % (rc, text))


# --- a real haproxy ---------------------------------------------------------

# what every haproxy of the tests starts with (test_deploy's too): the
# stats socket {sock}, where server_stat() reads a server's state
HAPROXY_HEAD = """\
global
    maxconn 100
    nbthread 1
    stats socket {sock} mode 600 level admin

defaults
    mode tcp
    timeout connect 5s
    timeout client 5s
    timeout server 5s
    timeout check 5s

"""

HAPROXY_CFG = HAPROXY_HEAD + """\
frontend fe_v1
    bind 127.0.0.1:{p1}
    default_backend be_v1

backend be_v1
    server ackd 127.0.0.1:{ackd} send-proxy

frontend fe_v2
    bind 127.0.0.1:{p2}
{bind6}    default_backend be_v2

backend be_v2
    option tcp-check
    tcp-check send health\\n
    tcp-check expect string {ack}
    server ackd 127.0.0.1:{ackd} send-proxy-v2 check check-send-proxy inter 1s rise 1 fall 3
"""


class Haproxy:
    """haproxy in the foreground (-db) in its own session; stop() kills
    and reaps it."""

    def __init__(self, tmp, cfg):
        self.path = os.path.join(tmp, "haproxy.cfg")
        with open(self.path, "w") as f:
            f.write(cfg)
        self.out = os.path.join(tmp, "haproxy.out")
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen([haproxy_path(), "-db", "-f",
                                          self.path],
                                         stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def output(self):
        with open(self.out, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def can_connect(port, host="127.0.0.1"):
    try:
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect((host, port))
        return True
    except OSError:
        return False


def server_stat(sock_path, backend, server):
    """The haproxy stats row of backend/server ({column: value}), or {}."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(sock_path)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
    except OSError:
        return {}
    lines = data.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    cols = lines[0][2:].split(",")
    for line in lines[1:]:
        row = dict(zip(cols, line.split(",")))
        if row.get("pxname") == backend and row.get("svname") == server:
            return row
    return {}


def through_haproxy(t, d, port, label, host="127.0.0.1"):
    """One client through haproxy's frontend: ACKed, logged with its own
    address and port, and haproxy's side as proxy=."""
    msg = h.unique_msg(label.replace(" ", "-"), 0)
    r = h.client(port, msg, host=host)
    t.eq("%s: the client gets the ACK through haproxy" % label, r.data,
         h.ACK)
    rec = by_msg(d, msg)
    want = "[%s]:%s" % (host, r.sport) if ":" in host else \
        "%s:%s" % (host, r.sport)
    proxy = str(rec.get("proxy", "")) if rec else ""
    t.ok("%s: client=%s (the real client), proxy= haproxy's side" %
         (label, want), rec is not None and rec.get("client") == want and
         proxy.startswith("127.0.0.1:") and proxy != want and
         "proxy_cmd" not in rec, rec.raw if rec else "no line")


def haproxy_path():
    """haproxy's path: in PATH, or in an sbin a user's PATH may lack."""
    return shutil.which("haproxy", path=os.environ.get("PATH", "") +
                        ":/usr/local/sbin:/usr/sbin:/sbin")


def with_haproxy(t, tmp):
    """ackd behind a real haproxy, v1 and v2, and its health check."""
    if haproxy_path() is None:
        t.skip("haproxy", "haproxy is not installed (./bootstrap installs "
               "it with apt-get)")
        return
    d = h.Daemon(tmp, ["--proxy-protocol", "--proxy-from", "127.0.0.1"],
                 workers=2, log_name="haproxy-ackd.log")
    p1, p2 = h.free_port(), h.free_port()
    p6 = h.free_port("::1") if h.ipv6_unavailable() is None else None
    sock = os.path.join(tmp, "haproxy.sock")
    cfg = HAPROXY_CFG.format(sock=sock, p1=p1, p2=p2, ackd=d.port,
                             ack=h.ACK.decode(),
                             bind6="    bind [::1]:%d\n" % p6 if p6 else "")
    hp = Haproxy(tmp, cfg)
    try:
        ready = h.wait_for(lambda: hp.proc.poll() is not None or
                           (can_connect(p1) and can_connect(p2) and
                            os.path.exists(sock)), 20)
        if not ready or hp.proc.poll() is not None:
            t.fail("haproxy starts", "exit %r: %s" % (hp.proc.poll(),
                   hp.output()[-2000:]))
            return
        # the v2 backend's check: a LOCAL header, "health\n", expect ACK!
        row = {}

        def checked():
            row.update(server_stat(sock, "be_v2", "ackd"))
            return row.get("check_status") == "L7OK" and \
                row.get("status", "").startswith("UP")
        t.ok("haproxy: the health check through a LOCAL header passes "
             "(L7OK, UP)", h.wait_for(checked, 20),
             "stat row %s; haproxy: %s" % (h.short(row),
                                           h.short(hp.output()[-1000:])))
        recs = d.wait_records(lambda r: r.event == "message" and
                              r.get("msg") == b"health\n", timeout=10)
        t.ok("haproxy: the check is logged as from haproxy, proxy_cmd=local",
             recs and recs[0].get("proxy_cmd") == "local" and
             recs[0].get("client") == recs[0].get("proxy") and
             str(recs[0].get("client")).startswith("127.0.0.1:"),
             h.short([r.raw for r in recs[:2]]))
        through_haproxy(t, d, p1, "haproxy send-proxy")
        through_haproxy(t, d, p2, "haproxy send-proxy-v2")
        if p6:
            through_haproxy(t, d, p6, "haproxy send-proxy-v2 IPv6",
                            host="::1")
        else:
            t.skip("haproxy IPv6 client", "no IPv6 loopback")
        t.ok("haproxy: nothing was refused", not d.events("proxy-refused"),
             h.short([r.raw for r in d.events("proxy-refused")]))
    finally:
        hp.stop()
    t.ok("haproxy: stopped and reaped", hp.proc.returncode is not None,
         "pid %d still there" % hp.proc.pid)


def main(t, tmp):
    flag_errors(t)
    # the parts arrive as fast as /proc/net/tcp shows the daemon took the
    # last one, which can take seconds on a loaded machine: a long timeout
    slow = h.Daemon(tmp, ["--proxy-protocol", "--read-timeout", "30"],
                    workers=2, log_name="parts.log")
    relayed(t, slow)
    # a line per refused connection, each with its reason: no summaries
    # of repeats (--event-interval 0), as the refusals all come from here
    d = h.Daemon(tmp, ["--proxy-protocol", "--read-timeout", "1",
                       "--event-interval", "0"], workers=2)
    local_unknown(t, d)
    counted(t, d, refusals(t, d))
    shared_deadline(t, tmp)
    json_format(t, tmp)
    proxy_from(t, tmp)
    with_haproxy(t, tmp)


if __name__ == "__main__":
    h.run("proxy", main, deadline=120)
