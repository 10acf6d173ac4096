#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_tls.py: connections on a --tls-port listener (issue 15).

Certificates are made at test time (harness_tls.py's Pki: a CA,
another CA, ECDSA P-256 and RSA 2048 server certificates, an expired
one, client certificates from each CA). Skipped in a build without TLS.

- basics (ECDSA): a Python ssl client that verifies the server, over
  TLS 1.3 and over TLS 1.2, and `openssl s_client`, each get ACK! and
  then our close_notify; their lines carry tls=VERSION/CIPHER (the
  client's view of both), no subject, no resumed. A plain client on the
  TLS port gets no ACK, and event=tls-failed reason=plaintext is
  logged; the plain port beside it still serves plain clients, whose
  lines have no tls=. A TLS 1.0 or 1.1 client (offered with
  @SECLEVEL=0, as OpenSSL 3 wants) is refused: reason=version; where
  the client cannot even offer one, the check is skipped, saying so. A
  client that trusts another CA refuses our certificate: its handshake
  fails, and we log reason=bad-certificate alert=unknown-ca. tls_failed
  counts the tls-failed lines.
- expired: a client refuses the daemon's expired certificate; the
  daemon logs reason=bad-certificate alert=certificate-expired.
- client certificates (--tls-client-ca): one from the CA is served,
  and its line has subject="..." (RFC 2253, the subject's quotes
  escaped); none: reason=no-certificate; one from another CA:
  reason=bad-certificate verify=unknown-ca; none of them is ACKed.
- RSA and PROXY (--proxy-protocol, JSON log): a PROXY v2 header in
  clear, then the handshake: ACK!, the line names the header's client,
  proxy= the peer, and "tls" an ECDHE-RSA cipher under TLS 1.2.
- eof: under --framing eof, a TLS client's TCP half-close (no
  close_notify) ends its message, which is acknowledged over TLS.
- silent: with --threads 2 and --workers 1, SILENT connections that
  stop in the middle of a handshake (a TLS record header, then
  nothing), from addresses of their own, hold no thread: a well-behaved
  TLS client beside them is served within BOUND each time (far below
  the read timeout); each of them ends as reason=timeout once the read
  timeout has passed, none acknowledged.
"""

import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SLOW = h.checked_by(h.ackd_path())
SILENT = 10 if SLOW else 20         # stalled handshakes at once
MESSAGES = 4 if SLOW else 8         # the well-behaved client's, beside them
BOUND = 8.0 if SLOW else 3.0        # its ceiling per message, seconds
READ_TIMEOUT = 12 if SLOW else 5    # the silent test's --read-timeout
SETUP = 30.0 if SLOW else 15.0
WAIT = 30 if SLOW else 10           # for a line to appear
SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def tls_flags(cert, *more):
    """The flags of a TLS listener with cert ((certificate, key)); every
    event line written (no summaries)."""
    return ["--tls-port", "0", "--tls-cert", cert[0], "--tls-key",
            cert[1], "--event-interval", "0"] + list(more)


def failures(d):
    """The daemon's tls-failed lines."""
    return [r for r in d.records() if r.event == "tls-failed"]


def wait_failure(d, pred, timeout=WAIT):
    """Poll for a tls-failed line satisfying pred; the lines found."""
    return d.wait_records(lambda r: r.event == "tls-failed" and pred(r),
                          timeout=timeout)


def message_line(d, msg):
    """The one event=message line whose msg is msg (waits for it)."""
    found = d.wait_records(lambda r: r.event == "message" and
                           r.get("msg") == msg, timeout=WAIT)
    return found[0] if len(found) == 1 else None


def check_served(t, label, d, r, msg, version=None):
    """r got ACK! then a close_notify; msg's line has tls= as the client
    saw the version and cipher (version, if given, is the one wanted)."""
    t.eq("%s: the reply is ACK!" % label, (r.data, r.error), (h.ACK, None))
    t.ok("%s: then our close_notify" % label, r.closed_clean is True,
         repr(r))
    if version is not None:
        t.eq("%s: the client negotiated %s" % (label, version), r.version,
             version)
    rec = message_line(d, msg)
    t.ok("%s: one event=message line with the message" % label,
         rec is not None, h.short([x.raw for x in d.records()][-5:]))
    if rec is None:
        return None
    t.eq("%s: tls= is the version/cipher the client saw" % label,
         rec.get("tls"), "%s/%s" % (r.version, r.cipher))
    return rec


def check_failed(t, label, d, reason, detail=None, client=None):
    """A tls-failed line with this reason (and detail: (key, value))."""
    def pred(r):
        return r.get("reason") == reason and (detail is None or
            r.get(detail[0]) == detail[1]) and (client is None or
            r.get("client") == client)
    want = "reason=%s%s" % (reason, "" if detail is None else
                            " %s=%s" % detail)
    found = wait_failure(d, pred)
    t.ok("%s: event=tls-failed %s" % (label, want), found,
         h.short([x.raw for x in failures(d)][-5:]))
    return found


def plain_client(port, data):
    """A plain TCP client: data, half-close, everything until the close
    (a reset ends it too)."""
    return h.client(port, data)


def old_versions(t, d, pki):
    """TLS 1.0 and 1.1 clients are refused: reason=version."""
    for name, v in (("TLS 1.0", ssl.TLSVersion.TLSv1),
                    ("TLS 1.1", ssl.TLSVersion.TLSv1_1)):
        label = "basics: a %s client" % name
        try:
            ctx = h.client_context(minimum=v, maximum=v,
                                    ciphers="DEFAULT:@SECLEVEL=0")
        except (ssl.SSLError, ValueError) as e:
            t.skip(label + " is refused", "cannot make one here: %s" % e)
            continue
        before = len(failures(d))
        r = h.tls_client(d.tls_port, b"old " + name.encode(), ctx)
        if r.error is not None and "NO_PROTOCOLS_AVAILABLE" in r.error:
            t.skip(label + " is refused", "this Python/OpenSSL cannot "
                   "offer %s even at @SECLEVEL=0: %s" % (name, r.error))
            continue
        t.ok("%s gets no ACK" % label, r.data != h.ACK, repr(r))
        t.ok("%s: event=tls-failed reason=version" % label,
             d.wait_records(lambda x: x.event == "tls-failed",
                            count=before + 1, timeout=WAIT) and
             failures(d)[-1].get("reason") == "version",
             h.short([x.raw for x in failures(d)][-3:]))


def basics(t, tmp, pki):
    """ECDSA: the clients that get ACK!, and those refused."""
    cert = pki.leaf("server-ec", "localhost")
    d = h.Daemon(tmp, tls_flags(cert), workers=1, log_name="basics.log")
    t.ok("basics: the start line names the TLS listener",
         d.tls_port not in (None, 0, d.port), repr(d.start_rec.raw))
    ca = pki.ca[0]
    r = h.tls_client(d.tls_port, b"over tls 1.3", h.client_context(ca))
    rec = check_served(t, "basics: Python ssl, TLS 1.3", d, r,
                       b"over tls 1.3", "TLSv1.3")
    if rec is not None:
        t.ok("basics: no subject, no resumed on a first connection "
             "without a client certificate", "subject" not in rec and
             "resumed" not in rec, rec.raw)
    r = h.tls_client(d.tls_port, b"over tls 1.2", h.client_context(
        ca, maximum=ssl.TLSVersion.TLSv1_2))
    rec = check_served(t, "basics: Python ssl, TLS 1.2", d, r,
                       b"over tls 1.2", "TLSv1.2")
    t.ok("basics: TLS 1.2's cipher is ECDHE-ECDSA with AEAD",
         rec is not None and str(rec.get("tls")).startswith(
             "TLSv1.2/ECDHE-ECDSA-"), rec and rec.raw)
    rc, out, err = h.s_client(d.tls_port, b"from s_client", ca)
    t.eq("basics: openssl s_client gets ACK!", (rc, out), (0, h.ACK))
    rec = message_line(d, b"from s_client")
    t.ok("basics: s_client's line has tls=TLSv1.3/...", rec is not None
         and str(rec.get("tls")).startswith("TLSv1.3/TLS_"),
         rec and rec.raw or err[-300:])

    got = plain_client(d.tls_port, b"plain words")
    t.ok("basics: a plain client on the TLS port gets no ACK",
         got.data != h.ACK, repr(got))
    check_failed(t, "basics: plaintext", d, "plaintext")
    t.ok("basics: its bytes are not logged as a message",
         not [x for x in d.records() if x.event == "message" and
              x.get("msg") == b"plain words"], "logged")
    got = plain_client(d.port, b"plain port")
    t.eq("basics: the plain port still serves plain clients", got.data,
         h.ACK)
    rec = message_line(d, b"plain port")
    t.ok("basics: a plain connection's line has no tls=",
         rec is not None and "tls" not in rec, rec and rec.raw)

    old_versions(t, d, pki)

    r = h.tls_client(d.tls_port, b"distrust",
                      h.client_context(pki.other[0]))
    t.ok("basics: a client that trusts another CA refuses us",
         r.error is not None and "CERTIFICATE_VERIFY_FAILED" in r.error and
         r.data == b"", repr(r))
    check_failed(t, "basics: unknown CA", d, "bad-certificate",
                 ("alert", "unknown-ca"))

    n = len(failures(d))
    t.ok("basics: every tls-failed line names a client, bytes=0",
         all(x.get("client") and x.get("bytes") == 0 for x in failures(d)),
         h.short([x.raw for x in failures(d)]))
    want = {"tls_failed": n}
    t.eq("basics: tls_failed counts the tls-failed lines",
         d.wait_counters(want), want)
    acked = len([x for x in d.records() if x.event == "message"])
    want = {"acked": acked}
    t.eq("basics: acked counts the message lines", d.wait_counters(want),
         want)
    h.check_lines_parse(t, "basics", d.records())


def expired(t, tmp, pki):
    """A client refuses the daemon's expired certificate."""
    cert = pki.leaf("server-expired", "localhost", days=-1)
    d = h.Daemon(tmp, tls_flags(cert), workers=1, log_name="expired.log")
    r = h.tls_client(d.tls_port, b"to an expired one",
                      h.client_context(pki.ca[0]))
    t.ok("expired: the client refuses the expired certificate",
         r.error is not None and "expired" in r.error and r.data == b"",
         repr(r))
    check_failed(t, "expired", d, "bad-certificate",
                 ("alert", "certificate-expired"))


def client_certs(t, tmp, pki):
    """--tls-client-ca: who is served, and the subject on the line."""
    cert = pki.leaf("server-cc", "localhost")
    good = pki.leaf("client-good", 'client "one"', server=False)
    stranger = pki.leaf("client-other", "stranger", ca=pki.other,
                        server=False)
    d = h.Daemon(tmp, tls_flags(cert, "--tls-client-ca", pki.ca[0]),
                 workers=1, log_name="clientca.log")
    r = h.tls_client(d.tls_port, b"with a certificate",
                      h.client_context(pki.ca[0], cert=good))
    rec = check_served(t, "client-ca: a certificate from the CA", d, r,
                       b"with a certificate")
    t.eq("client-ca: subject= is the certificate's, RFC 2253, its quotes "
         "escaped", rec and rec.get("subject"),
         'CN=client \\"one\\",O=ackd tests')

    for label, cc, reason, detail in (
            ("no certificate", None, "no-certificate", None),
            ("a certificate from another CA", stranger, "bad-certificate",
             ("verify", "unknown-ca"))):
        msg = ("without: %s" % label).encode()
        r = h.tls_client(d.tls_port, msg,
                          h.client_context(pki.ca[0], cert=cc))
        t.ok("client-ca: %s gets no ACK" % label, r.data != h.ACK,
             repr(r))
        check_failed(t, "client-ca: %s" % label, d, reason, detail)
        t.ok("client-ca: %s: its message is not logged" % label,
             not [x for x in d.records() if x.event == "message" and
                  x.get("msg") == msg], "logged")
    h.check_lines_parse(t, "client-ca", d.records())


def proxy_v2(src, sport, dst="127.0.0.1", dport=9999):
    """A PROXY v2 header for TCP over IPv4 naming src:sport."""
    body = (socket.inet_aton(src) + socket.inet_aton(dst) +
            sport.to_bytes(2, "big") + dport.to_bytes(2, "big"))
    return SIG + bytes([0x21, 0x11]) + len(body).to_bytes(2, "big") + body


def rsa_proxy(t, tmp, pki):
    """RSA 2048, and a PROXY v2 header before the handshake."""
    cert = pki.leaf("server-rsa", "localhost", kind="rsa")
    d = h.Daemon(tmp, tls_flags(cert, "--proxy-protocol"), workers=1,
                 fmt="json", log_name="proxy.log")
    r = h.tls_client(d.tls_port, b"behind a balancer", h.client_context(
        pki.ca[0], maximum=ssl.TLSVersion.TLSv1_2),
        before=proxy_v2("192.0.2.7", 4321))
    rec = check_served(t, "proxy: v2 header, then TLS 1.2 over RSA", d, r,
                       b"behind a balancer", "TLSv1.2")
    t.eq("proxy: the line names the header's client",
         rec and rec.get("client"), "192.0.2.7:4321")
    t.ok("proxy: and the balancer as proxy=",
         rec is not None and str(rec.get("proxy")).startswith("127.0.0.1:"),
         rec and rec.raw)
    t.ok("proxy: an ECDHE-RSA cipher (JSON's tls member)",
         rec is not None and str(rec.get("tls")).startswith(
             "TLSv1.2/ECDHE-RSA-"), rec and rec.raw)
    raw = socket.create_connection(("127.0.0.1", d.tls_port), timeout=10)
    raw.sendall(proxy_v2("192.0.2.8", 8) + b"clear after the header")
    raw.close()
    check_failed(t, "proxy: plaintext after the header", d, "plaintext",
                 client="192.0.2.8:8")
    h.check_lines_parse(t, "proxy", d.records())


def eof_framing(t, tmp, pki):
    """--framing eof: a TLS client's half-close of its TCP side (no
    close_notify) ends its message, which is acknowledged over TLS."""
    cert = pki.leaf("server-eof", "localhost")
    d = h.Daemon(tmp, tls_flags(cert, "--framing", "eof"), workers=1,
                 log_name="eof.log")
    ctx = h.client_context(pki.ca[0])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.tls_port),
                                                 timeout=10),
                        server_hostname="localhost")
    got = b""
    try:
        s.sendall(b"first part, ")
        s.sendall(b"second part")
        # the same socket, without the SSL: its TCP half-close
        with socket.socket(fileno=os.dup(s.fileno())) as raw:
            raw.shutdown(socket.SHUT_WR)
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except (OSError, ssl.SSLError) as e:
        got += repr(e).encode()
    finally:
        s.close()
    t.eq("eof: the half-close ends the message: ACK! over TLS", got, h.ACK)
    rec = message_line(d, b"first part, second part")
    t.ok("eof: logged whole, with tls=", rec is not None and
         str(rec.get("tls")).startswith("TLSv1.3/"),
         h.short([x.raw for x in d.records()][-3:]))


def silent(t, tmp, pki):
    """Stalled handshakes hold no thread, and end at the read timeout."""
    cert = pki.leaf("server-silent", "localhost")
    d = h.Daemon(tmp, tls_flags(cert, "--threads", "2", "--read-timeout",
                                str(READ_TIMEOUT), "--defer-accept", "0"),
                 workers=1, log_name="silent.log")
    srcs = h.sources(SILENT)
    ctx = h.client_context(pki.ca[0])
    res = []
    # a handshake record's header, then nothing: past the first byte
    with h.Swarm(d.tls_port, SILENT, srcs, opening=b"\x16\x03\x01") as s:
        t.ok("silent: %d stalled handshakes connected" % SILENT,
             s.wait_up(SILENT, SETUP), h.short(s.hostiles()[-3:]))
        t.ok("silent: the daemon accepted them all",
             h.wait_for(lambda: sum(1 for v in h.accepted_clients(
                 d.tls_port).values() if v) >= SILENT, SETUP),
             repr(h.accepted_clients(d.tls_port)))
        for i in range(MESSAGES):
            msg = h.unique_msg("silent", i)
            t0 = time.monotonic()
            r = h.tls_client(d.tls_port, msg, ctx, timeout=2 * BOUND)
            res.append((msg, r, time.monotonic() - t0))
        t.ok("silent: every one is closed by the daemon, within the read "
             "timeout and a margin",
             h.wait_for(lambda: all(x.closed is not None
                                    for x in s.hostiles()),
                        READ_TIMEOUT + SETUP), h.short(s.hostiles()[:3]))
        s.stop()
    bad = [(m, r) for m, r, _ in res if r.data != h.ACK]
    t.ok("silent: the well-behaved TLS client got its %d ACKs beside them"
         % MESSAGES, not bad, h.short(bad[:3]))
    slow = [round(dt, 2) for _, _, dt in res if dt >= BOUND]
    t.ok("silent: each within %.0f s (the read timeout is %d s)" %
         (BOUND, READ_TIMEOUT), not slow, repr(slow))
    early = [x for x in s.hostiles() if x.closed is not None and
             x.closed - x.up < READ_TIMEOUT - 0.25]
    t.ok("silent: none was closed before the read timeout", not early,
         h.short(early[:3]))
    t.ok("silent: none of them got a reply",
         not [x for x in s.hostiles() if x.got], "some did")
    timeouts = {str(x.get("client")).rpartition(":")[0]
                for x in failures(d) if x.get("reason") == "timeout"}
    t.eq("silent: each ends as event=tls-failed reason=timeout",
         sorted(set(srcs) - timeouts), [])


def main(t, tmp):
    pki = h.Pki(tmp)
    basics(t, tmp, pki)
    expired(t, tmp, pki)
    client_certs(t, tmp, pki)
    rsa_proxy(t, tmp, pki)
    eof_framing(t, tmp, pki)
    silent(t, tmp, pki)


if __name__ == "__main__":
    h.run("tls", main, deadline=300 if SLOW else 120)
