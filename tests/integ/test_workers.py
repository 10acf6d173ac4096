#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_workers.py: the master supervises its workers.

kill -9 one worker under load: worker-exit status=killed:9, a new worker,
W workers again, no zombie, clients still ACKed. kill -9 every worker at
once: exactly W come back. Then SIGTERM: exit 0 and no process left. And
a worker exits by itself when its master dies.
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

W = 3


def exits_of(d, pids):
    """worker-exit lines of the master for pids, as {pid: status}."""
    return {r.get("worker"): r.get("status") for r in d.events("worker-exit")
            if r.get("worker") in pids and r.get("pid") == d.pid}


def back_to_w(t, label, d, gone):
    """Wait for W live workers, none of them in gone, and no zombie."""
    def settled():
        live = d.live_workers()
        return len(live) == W and not set(live) & set(gone) and \
            not d.zombies()
    t.ok("%s: the master has %d live workers again, none of the killed" %
         (label, W), h.wait_for(settled, 20),
         "children %s, zombies %s, killed %s" % (d.live_workers(),
                                                 d.zombies(), gone))
    t.eq("%s: no zombie among the master's children" % label, d.zombies(),
         [])
    # a worker is a live child a moment before it logs worker-start
    def all_logged():
        return set(d.live_workers()) <= set(d.worker_starts())
    t.ok("%s: every live worker logged worker-start" % label,
         h.wait_for(all_logged, 10), "live %s, logged %s" %
         (set(d.live_workers()), set(d.worker_starts())))


def serve(t, label, d, n=20):
    """n fresh clients, each must get ACK!; returns their Results."""
    res = []
    for i in range(n):
        msg = h.unique_msg(label, i)
        t0 = time.monotonic()
        res.append(h.Result(msg, h.client(d.port, msg), t0,
                            time.monotonic()))
    bad = [r.reply for r in res if r.reply.data != h.ACK]
    t.ok("%s: %d new clients get ACK!" % (label, n), not bad,
         h.short(bad[:3]))
    return res


def kill_one(t, d, load):
    """SIGKILL one worker while the load runs."""
    victim = d.worker_pids[0]
    before = len(load.acked())
    os.kill(victim, signal.SIGKILL)
    t.ok("kill one: worker-exit worker=%d status=killed:9" % victim,
         h.wait_for(lambda: exits_of(d, [victim]).get(victim) == "killed:9",
                    10), "exits %s" % exits_of(d, [victim]))
    starts = d.wait_records(lambda r: r.event == "worker-start",
                            count=W + 1, timeout=15)
    new = [r.get("pid") for r in starts][W:]
    t.ok("kill one: one new worker-start line", len(new) == 1 and
         new[0] not in d.worker_pids, "new %s" % new)
    back_to_w(t, "kill one", d, [victim])
    t.ok("kill one: the load's clients keep getting ACKs",
         load.wait_acked(before + 50, 15),
         "%d ACKs since the kill" % (len(load.acked()) - before))
    return victim, serve(t, "after-kill-one", d)


def kill_all(t, d, load):
    """SIGKILL every worker at once; exactly W come back."""
    victims = d.live_workers()
    n_starts = len(d.worker_starts())
    before = len(load.acked())
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    t.ok("kill all: worker-exit status=killed:9 for each of the %d" % W,
         h.wait_for(lambda: sorted(exits_of(d, victims).items()) ==
                    [(p, "killed:9") for p in sorted(victims)], 10),
         "exits %s" % exits_of(d, victims))
    back_to_w(t, "kill all", d, victims)
    t.ok("kill all: the load's clients get ACKs again",
         load.wait_acked(before + 50, 20),
         "%d ACKs since the kill" % (len(load.acked()) - before))
    res = serve(t, "after-kill-all", d)
    t.eq("kill all: exactly %d new worker-start lines" % W,
         len(d.worker_starts()) - n_starts, W)
    return victims, res


def supervise(t, tmp):
    """One worker killed, then all; then SIGTERM."""
    d = h.Daemon(tmp, ["--threads", "4"], workers=W)
    first = list(d.worker_pids)
    load = h.Load(d.port, "sup", threads=4, pause=0.005, max_seconds=40,
                  timeout=10, stop_on_refused=False).start()
    t.ok("load: 50 ACKs before any kill", load.wait_acked(50, 15),
         "only %d" % len(load.acked()))
    t0 = time.monotonic()
    victim, res1 = kill_one(t, d, load)
    t.note("kill one: done in %.2f s" % (time.monotonic() - t0))
    t0 = time.monotonic()
    victims, res2 = kill_all(t, d, load)
    t.note("kill all: done in %.2f s" % (time.monotonic() - t0))
    killed = [victim] + victims
    t.ok("load: the client threads end", load.stop(20), "still running")
    res = load.snapshot() + res1 + res2
    recs = d.records()
    h.check_lines_parse(t, "supervise log", recs)
    # a worker killed between its log line and its ACK leaves a logged,
    # unACKed message: allowed. ACKed and not logged never is.
    h.check_acks_logged(t, "supervise", res, recs)
    t.note("load: %d connections, %d ACKed" %
           (len(res), sum(r.reply.data == h.ACK for r in res)))
    t.eq("exactly %d worker-start lines in all (no extra respawn)" % (2 * W
         + 1), len(d.worker_starts()), 2 * W + 1)
    t.eq("exactly %d worker-exit lines, all killed:9" % (W + 1),
         sorted(r.get("status") for r in d.events("worker-exit")),
         ["killed:9"] * (W + 1))
    t.eq("the killed workers are gone", d.pids_gone(killed), [])

    children = set(d.live_workers()) | set(d.worker_starts()) | set(first)
    d.signal(signal.SIGTERM)
    t.eq("SIGTERM: the master exits 0", d.wait_exit(15), 0)
    recs = d.records()
    last = recs[-1] if recs else h.Record()
    t.ok("SIGTERM: the log ends with event=stop status=0",
         last.event == "stop" and last.get("status") == 0, h.short(last.raw))
    t.eq("SIGTERM: none of the master's former children exists",
         d.pids_gone(sorted(children)), [])


def master_dies(t, tmp):
    """SIGKILL the master: its workers exit by themselves."""
    d = h.Daemon(tmp, ["--threads", "2"], workers=2, log_name="orphan.log")
    workers = list(d.worker_pids)
    # only the master: its workers must notice on their own
    os.kill(d.pid, signal.SIGKILL)
    d.wait_exit(10)
    t0 = time.monotonic()
    # orphans come to the test (a subreaper), which reaps them here
    alive = d.leftovers(timeout=15)
    t.eq("master killed: every worker exits by itself", alive, [])
    t.note("master killed: workers gone after %.2f s" %
           (time.monotonic() - t0))
    stops = {r.get("pid") for r in d.events("worker-stop")}
    t.ok("master killed: the workers log worker-stop (graceful exit)",
         set(workers) <= stops, "worker-stop from %s of %s" %
         (sorted(stops), workers))


def main(t, tmp):
    supervise(t, tmp)
    master_dies(t, tmp)


if __name__ == "__main__":
    h.run("workers", main, deadline=90)
