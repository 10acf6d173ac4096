#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_signals.py: what the master does on each signal.

SIGTERM with clients in flight (exit 0, ACKed => logged exactly once, the
log ends with event=stop status=0); clients accepted but still silent at
SIGTERM are served; --shutdown-timeout kills a worker that cannot finish
(exit 1); SIGHUP after renaming the log loses and duplicates nothing under
load; SIGTTIN/SIGTTOU add and retire a worker; SIGPIPE does not kill a
worker whose client vanished; SIGINT stops like SIGTERM.
"""

import os
import signal
import socket
import stat
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def check_stopped(t, label, d, status):
    """The log's last line is event=stop status=<status>."""
    recs = d.records()
    last = recs[-1] if recs else h.Record()
    t.ok("%s: the log ends with event=stop status=%d" % (label, status),
         last.event == "stop" and last.get("status") == status and
         last.get("pid") == d.pid, "last line %s" % h.short(last.raw))


def sigterm_in_flight(t, tmp):
    """SIGTERM while 20 clients keep connecting and sending."""
    shutdown_timeout = 5
    d = h.Daemon(tmp, ["--threads", "4", "--shutdown-timeout",
                       str(shutdown_timeout)], workers=2,
                 log_name="term.log")
    load = h.Load(d.port, "term", threads=20, max_seconds=20,
                  timeout=10).start()
    t.ok("SIGTERM: 100 ACKs before the signal", load.wait_acked(100, 15),
         "only %d" % len(load.acked()))
    t_sig = time.monotonic()
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(shutdown_timeout + 5)
    t.eq("SIGTERM: the master exits 0 within shutdown-timeout + 5 s",
         rc, 0)
    t.ok("SIGTERM: the client threads end", load.stop(20), "still running")
    res = load.snapshot()
    flying = [r for r in res if r.t0 < t_sig < r.t1]
    t.note("SIGTERM: %d connections, %d ACKed, %d in flight at the signal "
           "(%d of those ACKed)" % (len(res), len(load.acked()), len(flying),
                                    sum(r.reply.data == h.ACK
                                        for r in flying)))
    recs = d.records()
    h.check_lines_parse(t, "SIGTERM log", recs)
    h.check_acks_logged(t, "SIGTERM", res, recs, logged_means_acked=True)
    t.ok("SIGTERM: an event=shutdown line from the master",
         any(r.event == "shutdown" and r.get("pid") == d.pid for r in recs),
         "none")
    check_stopped(t, "SIGTERM", d, 0)
    t.eq("SIGTERM: a worker-stop line from each worker",
         sorted(r.get("pid") for r in recs if r.event == "worker-stop"),
         sorted(d.worker_pids))
    t.eq("SIGTERM: no worker left", d.pids_gone(d.worker_pids), [])


def sigterm_accepted_slow(t, tmp):
    """
    Clients the daemon accepted but that have not sent yet when SIGTERM
    arrives are still served. Acceptance is observed, not guessed: in
    /proc/net/tcp the server side of a connection gets a socket inode only
    once accept() took it. With --threads 2, two clients wait in read()
    and the third waits in the worker's queue.
    """
    # --defer-accept 0: the clients must be accepted before they send.
    # Generous timeouts: each look at /proc/net/tcp takes about a second
    # when earlier tests left 100,000 sockets in TIME_WAIT, and the clients
    # send only after a few of them.
    d = h.Daemon(tmp, ["--threads", "2", "--read-timeout", "30",
                       "--shutdown-timeout", "30", "--defer-accept", "0"],
                 workers=1,
                 log_name="slow.log")
    conns = [h.Conn(d.port) for _ in range(3)]
    sports = [c.reply.sport for c in conns]
    t.ok("slow clients: the daemon accepted all 3 before SIGTERM",
         h.wait_accepted(d.port, sports, 10),
         "accept states %s" % h.accepted_clients(d.port))
    d.signal(signal.SIGTERM)
    t.ok("slow clients: event=shutdown logged",
         d.wait_records(lambda r: r.event == "shutdown", timeout=10),
         "no shutdown line")
    # the worker stops accepting; if it closes the listening socket we can
    # see that it is shutting down before the clients send (not required)
    gone = h.wait_for(lambda: h.listen_queue(d.port) is None, 3)
    t.note("slow clients: listening socket %s before the clients send" %
           ("closed" if gone else "still open"))
    msgs = [h.unique_msg("slow", i) for i in range(3)]
    for c, m in zip(conns, msgs):
        c.send(m)
    replies = [c.read_all(15) for c in conns]
    for c in conns:
        c.close()
    t.eq("slow clients: all 3 get ACK! after SIGTERM",
         [r.data for r in replies], [h.ACK] * 3)
    t.eq("slow clients: the master exits 0", d.wait_exit(20), 0)
    recs = d.records()
    logged = [r.get("msg") for r in recs if r.event == "message"]
    t.eq("slow clients: each message logged exactly once",
         sorted(logged), sorted(msgs))
    check_stopped(t, "slow clients", d, 0)


def shutdown_timeout_kill(t, tmp):
    """A worker stuck with a silent client is killed at the deadline."""
    # --defer-accept 0: the kernel would otherwise keep the silent client
    d = h.Daemon(tmp, ["--threads", "2", "--read-timeout", "30",
                       "--shutdown-timeout", "0.5", "--defer-accept", "0"],
                 workers=1,
                 log_name="deadline.log")
    wpid = d.worker_pids[0]
    c = h.Conn(d.port, timeout=30)
    t.ok("deadline: the silent client was accepted",
         h.wait_accepted(d.port, [c.reply.sport], 10), "not accepted")
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(0.5 + 10)
    t.eq("deadline: the master exits 1", rc, 1)
    r = c.read_all(10)
    c.close()
    t.eq("deadline: the held client gets no ACK", r.data, b"")
    recs = d.records()
    t.ok("deadline: event=worker-exit worker=%d status=killed:9" % wpid,
         any(x.event == "worker-exit" and x.get("worker") == wpid and
             x.get("status") == "killed:9" and x.get("pid") == d.pid
             for x in recs),
         h.short([x.raw for x in recs if x.event == "worker-exit"]))
    check_stopped(t, "deadline", d, 1)
    t.eq("deadline: the killed worker is gone", d.pids_gone([wpid]), [])


def sighup_rotation(t, tmp):
    """mv ackd.log ackd.log.1; kill -HUP: nothing lost, nothing twice."""
    d = h.Daemon(tmp, ["--threads", "4"], workers=2, log_name="hup.log")
    old = d.log_path + ".1"
    load = h.Load(d.port, "hup", threads=6, pause=0.002, max_seconds=25,
                  timeout=10).start()
    t.ok("HUP: 50 ACKs before the rename", load.wait_acked(50, 15),
         "only %d" % len(load.acked()))
    t_rename = time.monotonic()
    os.rename(d.log_path, old)
    d.signal(signal.SIGHUP)
    reopen = d.wait_records(lambda r: r.event == "reopen" and
                            r.get("pid") == d.pid, timeout=10)
    t.ok("HUP: event=reopen from the master in the new file", reopen,
         h.short([r.raw for r in d.records()[:5]]))
    # the master's line does not say the workers are done: wait until
    # each worker has written to the new file
    moved = h.wait_for(lambda: set(d.worker_pids) <= {
        r.get("pid") for r in d.records() if r.event == "message"}, 10)
    t.ok("HUP: every worker writes to the new file", moved,
         "pids in the new file %s" % sorted({r.get("pid")
                                             for r in d.records()}))
    t_moved = time.monotonic()
    n = len(load.acked())
    t.ok("HUP: 50 more ACKs after the reopen",
         load.wait_acked(n + 50, 15), "only %d" % (len(load.acked()) - n))
    t.ok("HUP: the client threads end", load.stop(20), "still running")
    res = load.snapshot()
    old_recs, new_recs = d.records(old), d.records()
    h.check_lines_parse(t, "HUP old file", old_recs)
    h.check_lines_parse(t, "HUP new file", new_recs)
    h.check_acks_logged(t, "HUP union of both files", res,
                        old_recs + new_recs, logged_means_acked=True)
    old_msgs = {r.get("msg") for r in old_recs if r.event == "message"}
    new_msgs = {r.get("msg") for r in new_recs if r.event == "message"}
    before = [r.msg for r in res if r.reply.data == h.ACK and
              r.t1 < t_rename]
    t.ok("HUP: the %d messages ACKed before the rename are in the renamed "
         "file" % len(before), before and all(m in old_msgs for m in before),
         "%d missing" % sum(m not in old_msgs for m in before))
    t.ok("HUP: the start and worker-start lines stayed in the renamed file",
         sum(r.event in ("start", "worker-start") for r in old_recs) == 3,
         "events %s" % [r.event for r in old_recs[:4]])
    after = [r.msg for r in res if r.reply.data == h.ACK and r.t0 > t_moved]
    t.ok("HUP: the %d messages sent after the reopen are in the new file" %
         len(after), after and all(m in new_msgs for m in after),
         "%d missing" % sum(m not in new_msgs for m in after))
    t.note("HUP: %d messages in the old file, %d in the new" %
           (len(old_msgs), len(new_msgs)))
    mode = stat.S_IMODE(os.stat(d.log_path).st_mode)
    t.eq("HUP: the new log file has mode 0640", oct(mode), oct(0o640))
    r = h.client(d.port, b"after-hup")
    t.eq("HUP: a client after the load gets ACK!", r.data, h.ACK)


def sigpipe_ignored(t, tmp):
    """Clients that vanish (RST) right after sending: no worker dies."""
    d = h.Daemon(tmp, ["--threads", "4"], workers=2, log_name="pipe.log")
    for i in range(60):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(("127.0.0.1", d.port))
        s.sendall(h.unique_msg("gone", i))
        # linger 0: close() sends a reset, the ACK then hits a dead socket
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()
    r = h.client(d.port, b"after-resets")
    t.eq("SIGPIPE: a client after 60 resets gets ACK!", r.data, h.ACK)
    t.eq("SIGPIPE: no worker died", d.events("worker-exit"), [])
    t.eq("SIGPIPE: the same workers run", d.live_workers(),
         sorted(d.worker_pids))
    recs = d.records()
    h.check_lines_parse(t, "SIGPIPE log", recs)
    conn = [r for r in recs if r.get("client") is not None]
    odd = sorted({r.event for r in conn} -
                 {"message", "ack-failed", "reset", "empty"})
    t.eq("SIGPIPE: only message, ack-failed, reset or empty events", odd,
         [])
    msgs = {r.get("client") for r in conn if r.event == "message"}
    orphans = [r.raw for r in conn if r.event == "ack-failed" and
               r.get("client") not in msgs]
    t.ok("SIGPIPE: each ack-failed line follows its message line",
         not orphans, h.short(orphans[:3]))
    t.note("SIGPIPE: events %s" % sorted(
        (e, sum(r.event == e for r in conn)) for e in {r.event for r in conn}))


def ttin_ttou(t, tmp):
    """SIGTTIN: one worker more; SIGTTOU: one less, never below 1."""
    d = h.Daemon(tmp, ["--threads", "2"], workers=2, log_name="ttin.log")
    first = set(d.worker_pids)

    def serve(label, n=20):
        replies = [h.client(d.port, h.unique_msg(label, i)) for i in range(n)]
        bad = [r for r in replies if r.data != h.ACK]
        t.ok("%s: %d clients get ACK!" % (label, n), not bad,
             h.short(bad[:3]))

    d.signal(signal.SIGTTIN)
    starts = d.wait_records(lambda r: r.event == "worker-start", count=3)
    added = {r.get("pid") for r in starts} - first
    t.eq("SIGTTIN: one new worker-start line", len(added), 1)
    t.ok("SIGTTIN: the master has 3 live workers",
         h.wait_for(lambda: len(d.live_workers()) == 3, 10),
         "children %s" % d.live_workers())
    t.ok("SIGTTIN: the new worker is a child of the master",
         added and added <= set(d.live_workers()),
         "added %s, children %s" % (added, d.live_workers()))
    serve("after-ttin")
    workers = set(d.live_workers())

    d.signal(signal.SIGTTOU)
    t.ok("SIGTTOU: the master is down to 2 live workers",
         h.wait_for(lambda: len(d.live_workers()) == 2, 10),
         "children %s" % d.live_workers())
    stops = d.wait_records(lambda r: r.event == "worker-stop")
    retired = stops[0].get("pid") if stops else None
    t.ok("SIGTTOU: the retired worker logs worker-stop",
         len(stops) == 1 and retired in workers,
         h.short([r.raw for r in stops]))
    t.ok("SIGTTOU: the master logs worker-exit status=exited:0 for it",
         d.wait_records(lambda r: r.event == "worker-exit" and
                        r.get("worker") == retired and
                        r.get("status") == "exited:0"),
         h.short([r.raw for r in d.events("worker-exit")]))
    t.ok("SIGTTOU: no zombie among the master's children",
         h.wait_for(lambda: d.zombies() == [], 5), "zombies %s" % d.zombies())
    t.eq("SIGTTOU: the retired worker is gone", d.pids_gone([retired]), [])
    serve("after-ttou")

    d.signal(signal.SIGTTOU)
    t.ok("SIGTTOU again: down to 1 live worker",
         h.wait_for(lambda: len(d.live_workers()) == 1, 10),
         "children %s" % d.live_workers())
    last = d.live_workers()
    # at 1 worker SIGTTOU must do nothing: wait until the master took it
    # and went back to sleep, then look
    d.signal(signal.SIGTTOU)
    t.ok("SIGTTOU at 1 worker: the master takes the signal",
         h.wait_signal_taken(d.pid, signal.SIGTTOU),
         "masks %s" % (h.signal_masks(d.pid),))
    serve("at-one-worker", 10)
    t.eq("SIGTTOU at 1 worker: the last worker stays", d.live_workers(), last)
    t.eq("SIGTTOU at 1 worker: still 2 worker-stop lines in all",
         len(d.events("worker-stop")), 2)
    t.eq("no worker was respawned: 3 worker-start lines in all",
         len(d.events("worker-start")), 3)

    d.signal(signal.SIGINT)
    t.eq("SIGINT: the master exits 0", d.wait_exit(15), 0)
    check_stopped(t, "SIGINT", d, 0)
    t.eq("SIGINT: no worker left", d.pids_gone(list(workers | first)), [])


def main(t, tmp):
    sigterm_in_flight(t, tmp)
    sigterm_accepted_slow(t, tmp)
    shutdown_timeout_kill(t, tmp)
    sighup_rotation(t, tmp)
    sigpipe_ignored(t, tmp)
    ttin_ttou(t, tmp)


if __name__ == "__main__":
    h.run("signals", main, deadline=90)
