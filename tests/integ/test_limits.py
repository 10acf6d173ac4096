#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_limits.py: --max-connections-per-ip.

Connections one address holds at once are counted across all workers
(the two held connections are put in different workers: the second is
made while the first one's worker is stopped); past the limit a
connection is closed without an ACK, logged as event=refused and counted
in refused; other addresses are not affected; a closed connection frees
its place; a worker killed with its connections leaves no count behind.
Silent clients hold their places (--defer-accept 0, so that the kernel
hands them over before they send); each worker has more threads than
there are silent clients, so a sending client is never stuck behind
them.
"""

import os
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def hold(port, source="127.0.0.1"):
    """A connection from source that sends nothing (holds its place)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def send_from(port, data, source):
    """Like h.client, from a chosen 127.x source address."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    out = b""
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
    except OSError:
        pass    # closed on us (a refusal): whatever came is the reply
    s.close()
    return out


def accepted(d, n):
    """Wait until the daemon has accepted n connections (any address)."""
    return h.wait_for(lambda: sum(1 for v in h.accepted_clients(d.port)
                                  .values() if v) >= n, 10)


def worker_of(d, s):
    """The pid of the worker holding the daemon's side of connection s
    (its socket inode, from /proc/net/tcp, among the workers' fds), or
    None while no worker has accepted it."""
    sport = s.getsockname()[1]
    inodes = [r.inode for r in h.tcp_sockets(False) if not r.listening and
              r.inode and r.lport == d.port and r.rport == sport]
    for pid in d.live_workers() if inodes else []:
        if inodes[-1] in h.socket_inodes(pid):
            return pid
    return None


def stopped(pid):
    """Is every thread of pid stopped (state T)? A thread stopped is out
    of accept(), so the kernel gives connections to other processes."""
    try:
        stats = [h.proc_stat(int(tid))
                 for tid in os.listdir("/proc/%d/task" % pid)]
        return all(st is None or st.state in "Tt" for st in stats)
    except OSError:
        return False


def hold_apart(t, d):
    """Two silent connections from 127.0.0.1 held by different workers:
    the second is made once every thread of the first one's worker has
    stopped, so only the other can accept it. Returns them."""
    first = hold(d.port)
    a = h.wait_for(lambda: worker_of(d, first), 10)
    t.ok("limit: a worker holds the first silent connection", a,
         h.short(h.accepted_clients(d.port)))
    if not a:
        return [first]
    os.kill(a, signal.SIGSTOP)
    try:
        t.ok("limit: its worker stops", h.wait_for(lambda: stopped(a), 10),
             "worker %d still runs" % a)
        second = hold(d.port)
        b = h.wait_for(lambda: worker_of(d, second), 10)
    finally:
        os.kill(a, signal.SIGCONT)
    t.ok("limit: the other worker holds the second",
         b and b != a, "first in %s, second in %s" % (a, b))
    return [first, second]


def limit_across_workers(t, tmp):
    d = h.Daemon(tmp, ["--max-connections-per-ip", "2", "--defer-accept",
                       "0", "--read-timeout", "30", "--threads", "4"],
                 workers=2, log_name="limit.log")
    held = hold_apart(t, d)
    t.eq("limit: a third connection from the address gets no ACK",
         send_from(d.port, b"third", "127.0.0.1"), b"")
    refused = d.wait_records(lambda r: r.event == "refused", timeout=10)
    t.ok("limit: it is logged as event=refused limit=2 with its address",
         refused and refused[0].get("limit") == 2 and
         refused[0].get("client", "").startswith("127.0.0.1:"),
         h.short([r.raw for r in d.records()][-3:]))
    t.eq("limit: another address is not limited",
         send_from(d.port, b"other", "127.0.0.2"), h.ACK)
    held.pop().close()
    # its handler sees the end of file and frees the place
    t.ok("limit: the closed connection is logged (event=empty)",
         d.wait_records(lambda r: r.event == "empty", timeout=10),
         "no empty line")
    t.eq("limit: then the address may connect again",
         send_from(d.port, b"again", "127.0.0.1"), h.ACK)
    want = {"accepted": 5, "refused": 1, "acked": 2, "empty": 1}
    t.eq("limit: SIGUSR1: refused counts the one refusal, accepted all 5",
         d.wait_counters(want), want)
    for s in held:
        s.close()


def worker_killed(t, tmp):
    d = h.Daemon(tmp, ["--max-connections-per-ip", "1", "--defer-accept",
                       "0", "--read-timeout", "30"], workers=1,
                 log_name="killed.log")
    s = hold(d.port)
    t.ok("killed: the silent connection was accepted", accepted(d, 1),
         "not accepted")
    victim = d.worker_pids[0]
    os.kill(victim, signal.SIGKILL)
    t.ok("killed: a new worker replaces the killed one",
         h.wait_for(lambda: len(d.worker_starts()) == 2, 15),
         "worker-start lines %d" % len(d.worker_starts()))
    s.close()
    t.eq("killed: the address is not held by the dead worker's count",
         send_from(d.port, b"after", "127.0.0.1"), h.ACK)


def main(t, tmp):
    limit_across_workers(t, tmp)
    worker_killed(t, tmp)


if __name__ == "__main__":
    h.run("limits", main, deadline=60)
