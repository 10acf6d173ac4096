#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_listen.py: where ackd listens.

Several --bind flags (127.0.0.1 and ::1): one port, listen= names both,
the first first, and clients of each are ACKed and logged with their own
address. A host name (localhost) listens on every address it resolves to.
--bind :: is dual-stack: an IPv4 client is served and logged as the IPv4
address it is; with --ipv6-only it is refused. --reuseport: each worker
has its own listening socket and serves; SIGTTOU, recycling and SIGTERM
under load close no socket early and lose no ACKed message. Bad --bind
values: one clear line, exit 64 (form, count) or 69 (does not resolve).
"""

import os
import re
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

W = 3


def name(host, port):
    """A listen= or client= address: 1.2.3.4:P or [::1]:P."""
    return "[%s]:%s" % (host, port) if ":" in host else "%s:%s" % (host,
                                                                     port)


def acked_from(t, label, d, host, n=5):
    """n clients on host each get ACK! and their line, with their address."""
    res = []
    for i in range(n):
        msg = h.unique_msg(label, i)
        res.append(h.Result(msg, h.client(d.port, msg, host), 0, 0))
    bad = [r.reply for r in res if r.reply.data != h.ACK]
    t.ok("%s: %d clients on %s get ACK!" % (label, n, host), not bad,
         h.short(bad[:3]))
    want = {r.msg: name(host, r.reply.sport) for r in res}

    def logged():
        got = {r.get("msg"): r.get("client") for r in d.events("message")}
        return all(got.get(m) == c for m, c in want.items())
    t.ok("%s: each is logged with client=%s" % (label, name(host, "PORT")),
         h.wait_for(logged, 10), "want %s, log %s" % (h.short(want),
         h.short([r.raw for r in d.events("message")][-n:])))
    return res


def two_binds(t, tmp, v6):
    """--bind 127.0.0.1 --bind ::1: one port, both served."""
    binds = ["127.0.0.1", "::1"] if v6 else ["127.0.0.1"]
    d = h.Daemon(tmp, workers=2, bind=binds, log_name="two.log")
    t.eq("two binds: listen= names each, the first first",
         [a for a, _ in d.listens], binds)
    t.eq("two binds: one port for all", {p for _, p in d.listens},
         {d.port})
    for host in binds:
        acked_from(t, "two binds", d, host)
    # each worker holds every listener: a load on both, nothing lost
    loads = [h.Load(d.port, "two-%d" % i, threads=3, host=host,
                    per_thread=40, max_seconds=30).start()
             for i, host in enumerate(binds)]
    for load, host in zip(loads, binds):
        t.ok("two binds: the load on %s ends" % host, load.join(60),
             "still running")
    recs = d.records()
    for load, host in zip(loads, binds):
        res = load.snapshot()
        mine = {r.msg for r in res}
        h.check_acks_logged(t, "two binds, %s" % host, res,
                            [r for r in recs if r.event != "message" or
                             r.get("msg") in mine], host=host)
        t.eq("two binds: all %d clients on %s got ACK!" % (len(res), host),
             len(load.acked()), len(res))
    d.signal(signal.SIGTERM)
    t.eq("two binds: SIGTERM exits 0", d.wait_exit(20), 0)


def host_name(t, tmp):
    """--bind localhost: every address localhost resolves to."""
    want = []
    for fam, _, _, _, sa in socket.getaddrinfo("localhost", 0,
                                              type=socket.SOCK_STREAM):
        if fam in (socket.AF_INET, socket.AF_INET6) and sa[0] not in want:
            want.append(sa[0])
    d = h.Daemon(tmp, workers=1, bind="localhost", log_name="name.log")
    t.eq("localhost: listen= has each address it resolves to",
         sorted(a for a, _ in d.listens), sorted(want))
    for host in want:
        acked_from(t, "localhost", d, host, n=2)


def dual_stack(t, tmp):
    """--bind :: takes IPv4 too, logged as plain IPv4; not --ipv6-only."""
    d = h.Daemon(tmp, workers=2, bind="::", log_name="dual.log")
    t.eq("::: listen= is [::]:PORT", d.start_rec.get("listen"),
         "[::]:%d" % d.port)
    acked_from(t, ":: dual-stack", d, "127.0.0.1")
    acked_from(t, ":: dual-stack", d, "::1")
    d.signal(signal.SIGTERM)
    t.eq(":: dual-stack: SIGTERM exits 0", d.wait_exit(20), 0)

    d = h.Daemon(tmp, ["--ipv6-only"], workers=1, bind="::",
                 log_name="v6only.log")
    acked_from(t, "--ipv6-only", d, "::1", n=2)
    r = h.client(d.port, b"v4", "127.0.0.1")
    t.ok("--ipv6-only: an IPv4 client is refused",
         isinstance(r.error, ConnectionRefusedError), h.short(r))
    t.eq("--ipv6-only: and not logged", [x.raw for x in d.events("message")
                                         if x.get("msg") == b"v4"], [])


def listen_inodes(port):
    """Inodes of the sockets listening on port (IPv4 and IPv6)."""
    return {i for i, p in h.listening_ports().items() if p == port}


def owners(d):
    """{listening inode: [live workers holding it]}, and the master's."""
    lis = listen_inodes(d.port)
    held = {i: [] for i in lis}
    for pid in d.live_workers():
        for i in h.socket_inodes(pid) & lis:
            held[i].append(pid)
    return held, h.socket_inodes(d.pid) & lis


def reuseport(t, tmp):
    """--reuseport: a socket per worker; resizing and recycling close none."""
    d = h.Daemon(tmp, ["--reuseport"], workers=W, log_name="reuse.log")
    held, master = owners(d)
    t.eq("reuseport: %d sockets listen on the port" % W, len(held), W)
    t.ok("reuseport: each worker holds its own, one each",
         all(len(p) == 1 for p in held.values()) and
         len({p[0] for p in held.values()}) == W, h.short(held))
    t.eq("reuseport: the master keeps every one", master, set(held))
    load = h.Load(d.port, "reuse", threads=6, per_thread=60,
                  max_seconds=60).start()
    t.ok("reuseport: the load ends", load.join(90), "still running")
    res = load.snapshot()
    t.eq("reuseport: all %d clients got ACK!" % len(res),
         len(load.acked()), len(res))
    by_pid = {r.get("pid") for r in d.events("message")}
    t.ok("reuseport: every worker served (the kernel spreads them)",
         set(d.worker_pids) <= by_pid, "served by %s, workers %s" %
         (by_pid, d.worker_pids))
    h.check_acks_logged(t, "reuseport", res, d.records())

    # under load: one worker more (it shares), two fewer (sockets merge)
    load = h.Load(d.port, "resize", threads=4, per_thread=100000,
                  max_seconds=60).start()
    load.wait_acked(50, 20)
    d.signal(signal.SIGTTIN)
    t.ok("reuseport: SIGTTIN: %d workers" % (W + 1), h.wait_for(
         lambda: len(d.live_workers()) == W + 1, 15), d.live_workers())
    n = len(load.acked())
    # one at a time: two pending SIGTTOU are one signal
    for want, what in ((W, "the sharer goes"), (W - 1, "two merge")):
        d.signal(signal.SIGTTOU)

        def settled():
            held, _ = owners(d)
            return len(d.live_workers()) == want and not d.zombies() and \
                all(held.values())
        t.ok("reuseport: SIGTTOU (%s): %d workers, every socket served" %
             (what, want), h.wait_for(settled, 20),
             "live %s, sockets %s" % (d.live_workers(), owners(d)))
    held, master = owners(d)
    t.eq("reuseport: still %d sockets, none closed" % W, len(held), W)
    t.ok("reuseport: the load goes on", load.wait_acked(n + 50, 20),
         "%d ACKs since" % (len(load.acked()) - n))
    t.ok("reuseport: the load stops", load.stop(30), "still running")
    res = load.snapshot()
    bad = [r.reply for r in res if r.reply.data != h.ACK]
    t.eq("reuseport: no client lost while resizing", h.short(bad[:3]),
         h.short([]))
    h.check_acks_logged(t, "reuseport resize", res, [
        r for r in d.records() if r.event != "message" or
        r.get("msg", b"").startswith(b"resize")])

    # SIGTERM under load: the ACKed are logged
    load = h.Load(d.port, "term", threads=4, per_thread=100000,
                  max_seconds=60, stop_on_refused=True).start()
    load.wait_acked(50, 20)
    d.signal(signal.SIGTERM)
    t.eq("reuseport: SIGTERM under load exits 0", d.wait_exit(30), 0)
    load.stop(30)
    h.check_acks_logged(t, "reuseport SIGTERM", load.snapshot(), [
        r for r in d.records() if r.event != "message" or
        r.get("msg", b"").startswith(b"term")])


def reuseport_recycle(t, tmp):
    """--reuseport and recycling: the successor takes the socket."""
    d = h.Daemon(tmp, ["--reuseport", "--max-connections-per-worker",
                       "60"], workers=2, log_name="recycle.log")
    before = set(listen_inodes(d.port))
    load = h.Load(d.port, "recycle", threads=4, per_thread=100,
                  max_seconds=60, stop_on_refused=False).start()
    t.ok("reuseport recycle: the load ends", load.join(90), "running")
    res = load.snapshot()
    recycles = d.events("worker-recycle")
    t.ok("reuseport recycle: workers were recycled (>= 2 times)",
         len(recycles) >= 2, "%d worker-recycle lines" % len(recycles))
    t.eq("reuseport recycle: all %d clients got ACK!" % len(res),
         len(load.acked()), len(res))
    h.check_acks_logged(t, "reuseport recycle", res, d.records(),
                        logged_means_acked=True)

    def settled():
        held, _ = owners(d)
        return len(d.live_workers()) == 2 and all(held.values())
    t.ok("reuseport recycle: 2 workers, every socket served",
         h.wait_for(settled, 15), h.short(owners(d)))
    t.eq("reuseport recycle: the same sockets listen",
         set(listen_inodes(d.port)), before)


def bad_binds(t, tmp):
    """Bad --bind values: one line on stderr, and a documented status."""
    cases = [
        (["--bind", "ackd-test.invalid"], 69,
         "--bind: cannot resolve 'ackd-test.invalid': "),
        (["--bind", "a..b"], 64,
         "ackd: --bind: 'a..b' is not an IPv4 or IPv6 address or a host "
         "name"),
        (sum([["--bind", "127.0.0.%d" % i] for i in range(1, 18)], []), 64,
         "ackd: --bind: '127.0.0.17' is one address too many"),
        (["--bind", "127.0.0.1", "--bind", "127.0.0.1", "--bind",
          "256.1.1.1"], 64, "ackd: --bind: '256.1.1.1' is not"),
    ]
    for args, status, line in cases:
        rc, out, err = h.run_ackd(args + ["--port", "0", "--log-file",
                                          os.path.join(tmp, "bad.log")])
        text = err.decode("utf-8", "replace")
        t.eq("bad --bind %s: exit %d" % (h.short(args[-1]), status), rc,
             status)
        # start-up errors (fatalx) carry the pid: ackd[PID]: ...
        lines = [x for x in text.splitlines() if "running as root" not in x]
        msg = re.sub(r"^ackd\[\d+\]: ", "ackd: ", lines[0]) if lines else ""
        t.ok("bad --bind %s: one line saying why" % h.short(args[-1]),
             len(lines) == 1 and (msg.startswith(line) or
                                  msg.startswith("ackd: " + line)), text)


def main(t, tmp):
    v6 = h.ipv6_unavailable() is None
    two_binds(t, tmp, v6)
    host_name(t, tmp)
    if not v6:
        t.skip("dual-stack and --reuseport on ::", "no IPv6 here")
    else:
        dual_stack(t, tmp)
    reuseport(t, tmp)
    reuseport_recycle(t, tmp)
    bad_binds(t, tmp)


if __name__ == "__main__":
    h.run("listen", main, deadline=240)
