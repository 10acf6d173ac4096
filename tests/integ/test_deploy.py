#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_deploy.py: the deployment doc/deploy-haproxy.md and ackd(8) show, end to end.

Two ackd instances (--log-tag eu1 and eu2) behind a real haproxy that
balances between them round-robin, one backend server with send-proxy
(v1), the other with send-proxy-v2 and a health check; both instances log
through --syslog=local0 to one collector (a stand-in syslog daemon on a
unix socket, as $ACKD_SYSLOG_SOCKET), with --framing line. Clients
connect to haproxy only. Checked: every client is acknowledged; every
acknowledged message reaches the collector exactly once, tagged with the
instance that served it, with the client's real address and haproxy's as
proxy=; both instances served; the datagrams are local0.info from the
instance's own worker. Skipped without haproxy.
"""

import collections
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_proxy as tp  # noqa: E402
import test_syslog as ts  # noqa: E402

N = 24
LOCAL0_INFO = 16 * 8 + 6

HAPROXY_CFG = tp.HAPROXY_HEAD + """\
frontend ackd_in
    bind 127.0.0.1:{front}
    default_backend ackd

backend ackd
    balance roundrobin
    option tcp-check
    tcp-check send health\\n
    tcp-check expect string {ack}
    server eu1 127.0.0.1:{a} send-proxy check check-send-proxy inter 1s rise 1
    server eu2 127.0.0.1:{b} send-proxy-v2 check check-send-proxy inter 1s rise 1
"""


class Instance(ts.SyslogDaemon):
    """An ackd logging to the shared collector; its records are the
    datagrams with its own tag."""

    def __init__(self, tmp, collector, tag, **kw):
        self.tag = tag
        super().__init__(tmp, collector, ["--log-tag", tag,
                         "--proxy-protocol", "--proxy-from", "127.0.0.1",
                         "--framing", "line"], facility="local0", **kw)

    def records(self, path=None):
        return [r for r in super().records()
                if getattr(r, "ident", None) == self.tag]


def deploy(t, tmp):
    """Two instances, one haproxy, one collector."""
    collector = ts.SyslogServer(os.path.join(tmp, "collector.sock"))
    a = Instance(tmp, collector, "eu1", workers=1, log_name="eu1.log")
    b = Instance(tmp, collector, "eu2", workers=1, log_name="eu2.log")
    front = h.free_port()
    sock = os.path.join(tmp, "haproxy.sock")
    hp = tp.Haproxy(tmp, HAPROXY_CFG.format(sock=sock, front=front,
                                            a=a.port, b=b.port,
                                            ack=h.ACK.decode()))
    try:
        rows = {}

        def up():
            if hp.proc.poll() is not None:
                return True
            for name in ("eu1", "eu2"):
                rows[name] = tp.server_stat(sock, "ackd", name)
            # a server starts UP: L7OK says a check really got the ACK
            return all(r.get("status", "").startswith("UP") and
                       r.get("check_status") == "L7OK"
                       for r in rows.values()) and tp.can_connect(front)
        t.ok("haproxy runs and sees both instances UP, their health "
             "checks answered (L7OK)", h.wait_for(up, 30) and
             hp.proc.poll() is None, "exit %r, rows %s, output %s" %
             (hp.proc.poll(), h.short(rows), h.short(hp.output()[-800:])))
        replies = []
        for i in range(N):
            msg = h.unique_msg("deploy", i) + b"\n"
            replies.append((msg, h.client(front, msg)))
        acked = [(m, r) for m, r in replies if r.data == h.ACK]
        t.eq("all %d clients get the ACK through haproxy" % N, len(acked), N)

        def arrived():
            got = [r for r in a.records() + b.records()
                   if r.event == "message" and r.get("msg") != b"health\n"]
            return len(got) >= len(acked)
        h.wait_for(arrived, 10)
        served = {"eu1": a.records(), "eu2": b.records()}
        seen = collections.Counter()
        wrong = []
        for tag, recs in served.items():
            d = a if tag == "eu1" else b
            workers = set(d.worker_starts())
            for r in recs:
                if r.event != "message" or r.get("msg") == b"health\n":
                    continue
                seen[r.get("msg")] += 1
                if r.pri != LOCAL0_INFO or r.hpid not in workers or \
                        r.get("tag") != tag:
                    wrong.append(r.gram)
        missing = [m for m, _ in acked if seen[m] != 1]
        t.eq("every ACKed message reached the collector exactly once",
             missing, [])
        t.eq("no datagram the collector did not expect",
             sorted(set(seen) - {m for m, _ in replies}), [])
        t.eq("each is local0.info, tagged by its instance, from its worker",
             wrong, [])
        per = {tag: sum(1 for r in recs if r.event == "message" and
                        r.get("msg") != b"health\n")
               for tag, recs in served.items()}
        t.ok("both instances served clients (round-robin)",
             per["eu1"] > 0 and per["eu2"] > 0, "per instance %s" % per)
        by_msg = {r.get("msg"): r for recs in served.values() for r in recs
                  if r.event == "message"}
        bad = []
        for m, r in acked:
            rec = by_msg.get(m)
            want = "127.0.0.1:%d" % r.sport
            if rec is None or rec.get("client") != want or \
                    not str(rec.get("proxy", "")).startswith("127.0.0.1:") \
                    or rec.get("proxy") == want:
                bad.append((want, rec.raw if rec is not None else None))
        t.eq("each line names the real client and haproxy as proxy=",
             bad[:3], [])
        # v1 checks name haproxy itself as the client; v2 checks are LOCAL
        checks = {tag: [r for r in recs if r.event == "message" and
                        r.get("msg") == b"health\n"]
                  for tag, recs in served.items()}
        t.ok("the health checks are logged as haproxy's own connections",
             checks["eu1"] and checks["eu2"] and
             all(r.get("client") == r.get("proxy") for rs in checks.values()
                 for r in rs), h.short([r.raw for rs in checks.values()
                                         for r in rs[:1]]))
        t.ok("the v2 server's checks carry proxy_cmd=local",
             all(r.get("proxy_cmd") == "local" for r in checks["eu2"]),
             h.short([r.raw for r in checks["eu2"][:2]]))
    finally:
        hp.stop()
    for d in (a, b):
        d.signal(signal.SIGTERM)
        t.eq("%s: SIGTERM, exit 0" % d.tag, d.wait_exit(20), 0)
    collector.stop()


def main(t, tmp):
    if tp.haproxy_path() is None:
        raise h.Skip("haproxy is not installed (./bootstrap installs it)")
    deploy(t, tmp)


if __name__ == "__main__":
    h.run("deploy", main, deadline=90)
