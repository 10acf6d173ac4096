#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_tls_resume.py: TLS session resumption across workers (issue 15).

The ticket keys live in memory the master shares with its workers
(tls_ticket.c), so a ticket one worker issued resumes at any other, and
still after SIGHUP has made every worker build a new context. Each part
runs over TLS 1.3 and over TLS 1.2 (Python's ssl client, certificates
made at test time).

- across workers (--workers 3 --reuseport: each connection lands on a
  worker the kernel picks): one full handshake gives a ticket; every
  connection that offers it gets ACK! and is resumed, in the client's
  view and in its line (resumed=1), and the resumed lines come from a
  worker other than the one that issued the ticket. (OpenSSL's own
  ticket keys would pass this part too, since the workers inherit the
  master's context; the next part would not.)
- after a reload: the certificate file is rewritten (same bytes, a new
  inode), SIGHUP: every worker logs event=tls-reload, its new context
  attached to the same keys; the ticket from before still resumes. A
  context with its own keys would make the client start over.
- a ticket the daemon cannot open (a client that made up its session
  elsewhere: another daemon's) is not an error: a full handshake, ACK!,
  no resumed.

The ticket keys' rotation and ageing (hours) are tested with a clock of
the test's own in tests/unit/check_tls_ticket.c.
"""

import os
import shutil
import signal
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import harness_tls as ht  # noqa: E402

SLOW = h.checked_by(h.ackd_path())
WORKERS = 3
TRIES = 12 if SLOW else 24      # resumed connections, over the workers
WAIT = 30 if SLOW else 10       # for a line to appear
VERSIONS = (("TLS 1.3", ssl.TLSVersion.TLSv1_3),
            ("TLS 1.2", ssl.TLSVersion.TLSv1_2))


class Reply:
    """One connection: data (until the close), resumed (the client's
    view), session (to offer next), error (a failed one)."""

    def __init__(self):
        self.data = b""
        self.resumed = None
        self.session = None
        self.error = None

    def __repr__(self):
        return "Reply(data=%r, resumed=%r, error=%r)" % (
            self.data, self.resumed, self.error)


def connect(port, msg, ctx, session=None, timeout=10):
    """msg over TLS offering session (or none); everything until the
    daemon's close. The session is read after the ACK: TLS 1.3's ticket
    comes after the handshake."""
    r = Reply()
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s = ctx.wrap_socket(raw, server_hostname="localhost",
                            session=session)
        s.sendall(msg)
        while True:
            try:
                got = s.recv(4096)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            if not got:
                break
            r.data += got
        r.resumed = s.session_reused
        r.session = s.session
    except (OSError, ssl.SSLError) as e:
        r.error = "%s: %s" % (type(e).__name__, e)
    finally:
        raw.close()
    return r


def line_of(d, msg):
    """The event=message line of msg, or None."""
    found = d.wait_records(lambda r: r.event == "message" and
                           r.get("msg") == msg, timeout=WAIT)
    return found[0] if len(found) == 1 else None


def first(t, label, d, ctx):
    """A full handshake: its Reply and its line."""
    msg = ("%s: first" % label).encode()
    r = connect(d.tls_port, msg, ctx)
    t.eq("%s: the first connection gets ACK!" % label, (r.data, r.error),
         (h.ACK, None))
    t.ok("%s: a full handshake, with a ticket" % label,
         r.resumed is False and r.session is not None and
         r.session.has_ticket, repr(r))
    rec = line_of(d, msg)
    t.ok("%s: its line, without resumed" % label,
         rec is not None and "resumed" not in rec, rec and rec.raw)
    return r, rec


def resume_many(t, label, d, ctx, session, issuer):
    """TRIES connections offering session: each resumed; some at a
    worker other than issuer."""
    bad, pids = [], set()
    for i in range(TRIES):
        msg = ("%s: again %d" % (label, i)).encode()
        r = connect(d.tls_port, msg, ctx, session)
        rec = line_of(d, msg)
        if r.data != h.ACK or not r.resumed or rec is None or \
                rec.get("resumed") != 1:
            bad.append((r, rec and rec.raw))
        elif rec is not None:
            pids.add(rec.get("pid"))
    t.ok("%s: %d connections offering the ticket: ACK!, resumed, "
         "resumed=1 in the line" % (label, TRIES), not bad,
         h.short(bad[:3]))
    t.ok("%s: resumed at a worker that did not issue it" % label,
         pids - {issuer}, "resumed at %s, issued at %s" %
         (sorted(pids), issuer))


def reload_keeps(t, label, d, ctx, session, cert):
    """A new context in every worker (SIGHUP, the certificate file
    replaced by a copy): the ticket still resumes."""
    before = len(d.events("tls-reload"))
    copy = cert + ".new"
    shutil.copyfile(cert, copy)
    os.replace(copy, cert)
    os.kill(d.master_pid(), signal.SIGHUP)
    # the workers', and the master's own for workers it forks later
    t.ok("%s: SIGHUP: every worker built a new context" % label,
         d.wait_records(lambda r: r.event == "tls-reload",
                        count=before + WORKERS + 1, timeout=WAIT),
         h.short([r.raw for r in d.records()][-5:]))
    bad = []
    for i in range(WORKERS * 2):
        msg = ("%s: after the reload %d" % (label, i)).encode()
        r = connect(d.tls_port, msg, ctx, session)
        rec = line_of(d, msg)
        if r.data != h.ACK or not r.resumed or rec is None or \
                rec.get("resumed") != 1:
            bad.append((r, rec and rec.raw))
    t.ok("%s: after the reload the ticket from before still resumes" %
         label, not bad, h.short(bad[:3]))


def foreign(t, label, d, ctx, session):
    """A ticket of another daemon's keys: a full handshake, served."""
    msg = ("%s: a foreign ticket" % label).encode()
    r = connect(d.tls_port, msg, ctx, session)
    t.eq("%s: a ticket it cannot open: ACK!" % label, (r.data, r.error),
         (h.ACK, None))
    t.ok("%s: ...after a full handshake" % label, r.resumed is False,
         repr(r))
    rec = line_of(d, msg)
    t.ok("%s: ...and its line has no resumed" % label,
         rec is not None and "resumed" not in rec, rec and rec.raw)


def main(t, tmp):
    ht.need_tls()
    pki = ht.Pki(tmp)
    cert = pki.leaf("server", "localhost")
    flags = ["--tls-port", "0", "--tls-cert", cert[0], "--tls-key",
             cert[1], "--reuseport"]
    d = h.Daemon(tmp, flags, workers=WORKERS, log_name="resume.log")
    other = h.Daemon(tmp, flags, workers=1, log_name="other.log")
    for name, version in VERSIONS:
        ctx = ht.client_context(pki.ca[0], minimum=version,
                                maximum=version)
        r, rec = first(t, name, d, ctx)
        if r.session is None or rec is None:
            continue
        resume_many(t, name, d, ctx, r.session, rec.get("pid"))
        reload_keeps(t, name, d, ctx, r.session, cert[0])
        theirs, _ = first(t, name + " (another daemon)", other, ctx)
        if theirs.session is not None:
            foreign(t, name, d, ctx, theirs.session)


if __name__ == "__main__":
    h.run("tls_resume", main, deadline=240 if SLOW else 90)
