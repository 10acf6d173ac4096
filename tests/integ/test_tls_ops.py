#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_tls_ops.py: TLS as an operator runs it (doc/tls.md).

1. Certificate rotation under load: ackd-bench --tls --unique --record
   runs against a TLS-only ackd while the certificate and key files are
   replaced (renamed into place, as doc/tls.md says) and SIGHUP goes to
   the master. Every process says event=tls-reload; a new client then
   sees the new certificate; a garbage certificate next gives
   event=tls-reload-failed and the new one stays in use. Through it all
   ackd-bench counts no error and no wrong reply, and every message it
   saw acknowledged is logged exactly once.
2. PROXY protocol before TLS, with a real haproxy in TCP mode: a
   send-proxy-v2 backend in front of the TLS listener. A TLS client
   through haproxy gets ACK!, and its line names the client's own address
   (client=), haproxy's side (proxy=) and the TLS session (tls=);
   haproxy's connects that send nothing are event=empty, no TLS failure.
   Without haproxy that part is skipped.
"""

import os
import signal
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_chaos as chaos  # noqa: E402
import test_proxy as tp  # noqa: E402

SLOW = h.checked_by(h.ackd_path())
T = 60 if SLOW else 20


OWN = []  # the messages served_cn sent


def served_cn(port, cafile):
    """The CN of the certificate the daemon shows a new client, which
    must verify against cafile; None if the handshake fails."""
    ctx = h.client_context(cafile)
    OWN.append(b"whose certificate %d" % len(OWN))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=T) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(OWN[-1])
                s.recv(64)
                subject = dict(x[0] for x in s.getpeercert()["subject"])
                return subject.get("commonName")
    except (OSError, ssl.SSLError):
        return None


def put(path, src):
    """Replace path with a copy of src as doc/tls.md says: write a new
    file beside it, then rename it into place."""
    with open(src, "rb") as f:
        data = f.read()
    with open(path + ".new", "wb") as f:
        f.write(data)
    os.chmod(path + ".new", 0o600)
    os.rename(path + ".new", path)


def rotation(t, tmp, pki):
    """1: rotation by SIGHUP under ackd-bench --tls --record."""
    label = "rotation under load"
    first = pki.leaf("first", "first")
    second = pki.leaf("second", "second")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    put(cert, first[0])
    put(key, first[1])
    d = h.Daemon(tmp, ["--tls-port", "0", "--tls-only", "--tls-cert", cert,
                       "--tls-key", key], workers=2, log_name="rot.log")
    every = 1 + 2  # the master and each worker reload
    t.eq("%s: the first certificate is served" % label,
         served_cn(d.tls_port, pki.ca[0]), "first")
    with chaos.Bench(tmp, "rot", d.tls_port, seconds=300, timeout=30,
                     concurrency=4, extra=["--tls", "--tls-ca",
                                           pki.ca[0]]) as b:
        chaos.wait_load(t, label, d, nbytes=4096, timeout=T)
        put(cert, second[0])
        put(key, second[1])
        d.signal(signal.SIGHUP)
        done = d.wait_records(lambda r: r.event == "tls-reload", every, T)
        t.eq("%s: event=tls-reload from the master and each worker" %
             label, len(done), every)
        t.eq("%s: a new client sees the new certificate" % label,
             served_cn(d.tls_port, pki.ca[0]), "second")
        with open(cert + ".new", "wb") as f:
            f.write(b"-----BEGIN CERTIFICATE-----\nnot one\n")
        os.rename(cert + ".new", cert)
        d.signal(signal.SIGHUP)
        bad = d.wait_records(lambda r: r.event == "tls-reload-failed",
                             every, T)
        t.eq("%s: a garbage certificate: event=tls-reload-failed from "
             "each" % label, len(bad), every)
        t.eq("%s: the new certificate stays in use" % label,
             served_cn(d.tls_port, pki.ca[0]), "second")
        chaos.wait_load(t, label + " after the reloads", d, nbytes=4096,
                        timeout=T)
        b.stop()
        status = b.wait(T)
    # connections in flight when it stopped are "unfinished": no failure
    t.ok("%s: ackd-bench ended with a JSON report" % label,
         status is not None and b.report, b.describe())
    errors = b.errors()
    for kind in ("connect", "reset", "timeout", "tls", "other"):
        t.eq("%s: ackd-bench counted no %s error" % (label, kind),
             errors.get(kind), 0)
    t.eq("%s: ackd-bench got no wrong reply" % label, b.get("wrong"), 0)
    chaos.check_once(t, label, b, d.records(), own=OWN)
    t.note("%s: %s" % (label, b.summary()))
    d.signal(signal.SIGTERM)
    t.eq("%s: SIGTERM: exit 0" % label, d.wait_exit(T), 0)


HAPROXY_CFG = tp.HAPROXY_HEAD + """\
frontend fe_tls
    bind 127.0.0.1:{front}
    default_backend be_tls

backend be_tls
    server ackd 127.0.0.1:{ackd} send-proxy-v2
"""


def behind_haproxy(t, tmp, pki):
    """2: haproxy relays TLS with a PROXY v2 header before it."""
    if tp.haproxy_path() is None:
        t.skip("haproxy in front of a TLS listener", "haproxy is not "
               "installed (./bootstrap installs it with apt-get)")
        return
    cert = pki.leaf("hp", "haproxy-test")
    d = h.Daemon(tmp, ["--tls-port", "0", "--tls-only", "--tls-cert",
                       cert[0], "--tls-key", cert[1], "--proxy-protocol",
                       "--proxy-from", "127.0.0.1"], workers=2,
                 log_name="hp.log")
    front = h.free_port()
    sock = os.path.join(tmp, "haproxy.sock")
    hp = tp.Haproxy(tmp, HAPROXY_CFG.format(sock=sock, front=front,
                                            ackd=d.tls_port))
    try:
        up = h.wait_for(lambda: hp.proc.poll() is not None or
                        tp.can_connect(front), T)
        if not up or hp.proc.poll() is not None:
            t.fail("haproxy starts", "exit %r: %s" % (
                hp.proc.poll(), hp.output()[-2000:]))
            return
        msg = b"tls behind haproxy"
        r = h.tls_client(front, msg, h.client_context(pki.ca[0]),
                          timeout=T)
        t.eq("haproxy: the TLS client gets ACK! through haproxy",
             (r.data, r.error), (h.ACK, None))
        recs = d.wait_records(lambda x: x.event == "message" and
                              x.get("msg") == msg, timeout=T)
        rec = recs[0] if recs else None
        proxy = str(rec.get("proxy", "")) if rec else ""
        t.ok("haproxy: client= is the client's own address and port, "
             "proxy= haproxy's side", rec is not None and
             rec.get("client") == "127.0.0.1:%s" % r.sport and
             proxy.startswith("127.0.0.1:") and
             rec.get("proxy_cmd") is None, rec.raw if rec else "no line")
        t.eq("haproxy: tls= is the session the client saw",
             rec.get("tls") if rec else None,
             "%s/%s" % (r.version, r.cipher))
        # haproxy's own connects (tp.can_connect above) come through
        # as a PROXY header and a close: empty lines, no TLS failure
        t.ok("haproxy: nothing refused, no TLS failure",
             not d.events("proxy-refused") and not d.events("tls-failed"),
             h.short([x.raw for x in d.records()][-5:]))
    finally:
        hp.stop()
    t.ok("haproxy: stopped and reaped", hp.proc.returncode is not None,
         "pid %d still there" % hp.proc.pid)


def main(t, tmp):
    pki = h.Pki(tmp)  # skips the test in a build without TLS
    rotation(t, tmp, pki)
    behind_haproxy(t, tmp, pki)


if __name__ == "__main__":
    h.run("tls_ops", main, deadline=240 if SLOW else 120)
