#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_supervise.py: the master's supervision beyond respawning.

The watchdog: a stopped worker with nothing to do is left alone; once a
connection waits for it, it is aborted and replaced after --worker-timeout,
and the waiting client gets its ACK from the replacement. A worker whose
only thread waits on silent clients is not stuck. The crash-loop breaker:
workers that cannot start (a memory limit too small for their threads)
make the master give up with exit 70 instead of forking forever, and
are replaced after a growing back-off meanwhile. Workers that had served
are replaced at once, however often they are killed (an OOM killer, an
operator's kill -9): no back-off, respawn_ms=0 on their worker-exit.
Recycling: with --max-connections-per-worker each worker is replaced
after its limit (within the jitter), gracefully, losing no message. The
gauges (busy threads, queue depth and its high-water mark) and the
--stats-interval summaries.
"""

import os
import resource
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def no_core():
    """preexec: the watchdog's SIGABRT must not leave core files around."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def state_of(pid):
    """The process state letter (T: stopped), or None if it is gone."""
    st = h.proc_stat(pid)
    return st.state if st is not None else None


def watchdog(t, tmp):
    """SIGSTOP the only worker: idle it stays; with work it is replaced."""
    d = h.Daemon(tmp, ["--read-timeout", "0.5", "--worker-timeout", "1"],
                 workers=1, log_name="watchdog.log", preexec=no_core)
    victim = d.worker_pids[0]
    h.excuse_valgrind(victim, "the watchdog test has it aborted")
    os.kill(victim, signal.SIGSTOP)
    t.ok("watchdog: the worker is stopped",
         h.wait_for(lambda: state_of(victim) == "T", 5),
         "state %s" % state_of(victim))
    # idle for three timeouts: nothing to do is not being stuck
    time.sleep(3)
    t.eq("watchdog: an idle stopped worker is left alone (no "
         "worker-timeout line)", d.events("worker-timeout"), [])
    t.eq("watchdog: it is still there, stopped", state_of(victim), "T")
    # a connection now waits in the backlog for the stopped worker
    msg = h.unique_msg("watchdog", 0)
    c = h.Conn(d.port, timeout=20)
    c.send(msg)
    recs = d.wait_records(lambda r: r.event == "worker-timeout", timeout=15)
    t.ok("watchdog: worker-timeout line for the stopped worker",
         [r.get("worker") for r in recs] == [victim], "lines %s" %
         [r.raw for r in recs])
    t.ok("watchdog: it was silent for at least the timeout",
         recs and int(recs[0].get("silent_ms", 0)) >= 1000,
         "lines %s" % [r.raw for r in recs])
    exits = d.wait_records(lambda r: r.event == "worker-exit" and
                           r.get("worker") == victim, timeout=15)
    t.ok("watchdog: the worker ended by SIGABRT (killed:6)",
         [r.get("status") for r in exits] == ["killed:6"],
         "exits %s" % [r.raw for r in exits])
    reply = c.read_all(20)
    c.close()
    logged = [r for r in d.events("message") if r.get("msg") == msg]
    if h.valgrind_wrapped() and reply.data == b"" and not logged:
        # Natively SIGABRT's default action ends every thread at once.
        # Valgrind catches the signal and emulates that action, and in
        # between SIGCONT lets the accept thread take the waiting
        # connection, which then dies with it: reset, never ACKed and
        # never logged, so the promise still holds.
        t.note("watchdog: under valgrind the aborted worker took the "
               "waiting connection before dying (reset, not logged)")
    else:
        t.eq("watchdog: the waiting client gets ACK! from the replacement",
             reply.data, h.ACK)
        t.ok("watchdog: its message is logged once, by the new worker",
             len(logged) == 1 and logged[0].get("pid") != victim,
             "lines %s" % [r.raw for r in logged])
    t.ok("watchdog: one live worker again",
         h.wait_for(lambda: len(d.live_workers()) == 1 and
                    victim not in d.live_workers(), 10),
         "live %s" % d.live_workers())
    t.ok("watchdog: stderr says why",
         "made no progress" in d.stderr(), d.stderr())
    d.signal(signal.SIGTERM)
    t.eq("watchdog: SIGTERM, exit 0", d.wait_exit(15), 0)


def slow_clients(t, tmp):
    """One thread held by silent clients for the read timeout each: slow,
    but making progress, so the watchdog leaves it alone."""
    d = h.Daemon(tmp, ["--threads", "1", "--read-timeout", "0.4",
                       "--defer-accept", "0", "--worker-timeout", "1"],
                 workers=1, log_name="slow.log", preexec=no_core)
    silent = [h.Conn(d.port, timeout=20) for _ in range(4)]
    res = [h.client(d.port, h.unique_msg("slow", i), timeout=20)
           for i in range(3)]
    for c in silent:
        c.close()
    t.ok("slow clients: the clients behind 4 silent ones get ACK!",
         all(r.data == h.ACK for r in res), h.short([r for r in res]))
    t.eq("slow clients: no worker-timeout line", d.events("worker-timeout"),
         [])
    t.eq("slow clients: no worker-exit line", d.events("worker-exit"), [])


def sanitized():
    """Is ackd built with a sanitizer, or run under valgrind? Both need
    far more address space than a worker, so RLIMIT_AS cannot be used."""
    if h.valgrind_wrapped():
        return "valgrind"
    with open(h.ackd_path(), "rb") as f:
        data = f.read()
    for mark, name in ((b"__asan_init", "ASan"), (b"__tsan_init", "TSan"),
                       (b"__msan_init", "MSan")):
        if mark in data:
            return name
    return None


def crash_loop(t, tmp):
    """Workers that die before serving, again and again: exit 70."""
    why = sanitized()
    if why is not None:
        t.skip("crash loop: workers that cannot start", "under %s the "
               "address-space limit that makes them fail breaks the "
               "tool itself" % why)
        return

    def small_memory():
        # the master needs a few MiB; a worker's 1024 thread stacks, far more
        resource.setrlimit(resource.RLIMIT_AS, (64 << 20, 64 << 20))
        no_core()

    d = h.Daemon(tmp, ["--threads", "1024"], workers=2,
                 log_name="crash.log", ready=False, preexec=small_memory)
    rc = d.wait_exit(30)
    t.eq("crash loop: the master gives up with exit 70", rc, 70)
    recs = d.records()
    loops = [r for r in recs if r.event == "crash-loop"]
    t.ok("crash loop: one crash-loop line with deaths=5",
         len(loops) == 1 and loops[0].get("deaths") == 5,
         "lines %s" % [r.raw for r in loops])
    exits = [r for r in recs if r.event == "worker-exit"]
    t.ok("crash loop: at least 5 workers died, none of them served",
         len(exits) >= 5 and not [r for r in recs if r.event == "ready"],
         "%d exits" % len(exits))
    t.ok("crash loop: no more forks than a few rounds (<= 10 workers)",
         len(exits) <= 10, "%d worker exits" % len(exits))
    delays = [r.get("respawn_ms") for r in exits
              if r.get("respawn_ms") is not None]
    t.ok("crash loop: those that never served were replaced after a "
         "back-off that grows (respawn_ms=100, 200, ... per slot)",
         delays and all(x >= 100 for x in delays) and 200 in delays,
         "respawn_ms %s" % delays)
    t.ok("crash loop: stderr says the workers keep dying at start",
         "workers keep dying at start" in d.stderr(), d.stderr())
    t.ok("crash loop: the workers' own reason is on stderr too",
         "cannot start 1024 handler threads" in d.stderr(), d.stderr())
    t.eq("crash loop: no worker left", d.leftovers(), [])


def kill_served(t, tmp):
    """
    kill -9 the only worker, again and again, each time once it has
    served (a message of its own is logged), so well within 2 s of its
    start under load: each replacement comes at once (respawn_ms=0),
    where the old back-off had grown to 6.4 s and 10 s by the 7th and
    8th kill.
    """
    rounds = 8
    d = h.Daemon(tmp, [], workers=1, log_name="killserved.log")
    load = h.Load(d.port, "killserved", threads=2, max_seconds=120,
                  timeout=20, stop_on_refused=False).start()
    missing = None
    for i in range(rounds):
        live = d.live_workers()
        victim = live[0] if len(live) == 1 else None
        if victim is None or not d.wait_records(
                lambda r: r.event == "message" and r.get("pid") == victim,
                timeout=20):
            missing = "round %d: worker %s logged no message" % (i, live)
            break
        os.kill(victim, signal.SIGKILL)
        # a generous bound: the old back-off was 10 s by round 8
        if not h.wait_for(lambda: len(d.events("worker-start")) == i + 2,
                          8):
            missing = "round %d: no new worker within 8 s of killing %d" \
                % (i, victim)
            break
        h.wait_for(lambda: victim not in d.live_workers(), 10)
    load.stop()
    t.ok("kill served: %d rounds of kill -9 after serving, a new worker "
         "each time (within 8 s)" % rounds, missing is None, missing)
    exits = d.events("worker-exit")
    t.eq("kill served: every worker-exit is killed:9 with respawn_ms=0",
         [(r.get("status"), r.get("respawn_ms")) for r in exits],
         [("killed:9", 0)] * rounds)
    starts = d.events("worker-start")
    t.note("kill served: seconds without a worker, per kill: %s" %
           ["%.3f" % (h.log_time(s) - h.log_time(e))
            for e, s in zip(exits, starts[1:])])
    t.ok("kill served: the load's clients kept getting ACKs",
         len(load.acked()) > 0, "%d ACKs" % len(load.acked()))
    d.signal(signal.SIGTERM)
    t.eq("kill served: SIGTERM, exit 0", d.wait_exit(15), 0)


def recycle(t, tmp):
    """--max-connections-per-worker 100: replaced within 100-110, nothing
    lost. A worker keeps serving until its successor is there, so it may
    accept a few more than its limit before it stops."""
    n = 100
    d = h.Daemon(tmp, ["--max-connections-per-worker", str(n)], workers=2,
                 log_name="recycle.log")
    load = h.Load(d.port, "recycle", threads=4, per_thread=200,
                  max_seconds=60, timeout=10, stop_on_refused=False).start()
    t.ok("recycle: the load ends", load.join(90), "still running")
    res = load.snapshot()
    recs = d.records()
    h.check_acks_logged(t, "recycle", res, recs, logged_means_acked=True)
    t.eq("recycle: every one of the 800 clients got ACK!",
         len([r for r in res if r.reply.data == h.ACK]), 800)
    recycles = [r for r in recs if r.event == "worker-recycle"]
    limits = [int(r.get("limit")) for r in recycles]
    # 800 connections, at most 2 x 110 per worker before each asks; a
    # worker serves on until its successor does, which on a loaded machine
    # (sanitizers, valgrind) lets it take hundreds more: so at least one
    # recycling per worker is certain, more is not
    t.ok("recycle: workers were recycled (>= 2 times)",
         len(recycles) >= 2, "%d worker-recycle lines" % len(recycles))
    t.note("recycle: %d worker-recycle lines" % len(recycles))
    t.ok("recycle: each limit is %d plus a jitter of at most %d" %
         (n, n // 10), all(n <= x <= n + n // 10 for x in limits),
         "limits %s" % limits)
    t.ok("recycle: each worker asked at exactly its limit",
         all(int(r.get("accepted")) == int(r.get("limit"))
             for r in recycles), [r.raw for r in recycles])
    # 11 possible values: all of 4 or more draws alike has p < 0.1 %
    if len(limits) >= 4:
        t.ok("recycle: the jitter differs between workers",
             len(set(limits)) > 1, "limits %s" % limits)

    def settled():
        return len(d.live_workers()) == 2 and not d.zombies()
    t.ok("recycle: two live workers afterwards, no zombie",
         h.wait_for(settled, 15), "live %s zombies %s" %
         (d.live_workers(), d.zombies()))
    exits = d.wait_records(lambda r: r.event == "worker-exit",
                           count=len(recycles), timeout=15)
    t.ok("recycle: every recycled worker exited 0 (gracefully)",
         all(r.get("status") == "exited:0" for r in exits),
         [r.raw for r in exits if r.get("status") != "exited:0"])
    stops = {r.get("pid"): r for r in recs if r.event == "worker-stop"}
    short = [(p, r.get("accepted")) for p, r in stops.items()
             if int(r.get("accepted")) < n]
    t.eq("recycle: no worker stopped before its limit", short, [])
    t.ok("recycle: no unexpected death on stderr",
         "died unexpectedly" not in d.stderr(), d.stderr())


def stats_of(d, pid):
    """The newest stats line of one worker (or "all"), or None."""
    lines = [r for r in d.events("stats") if r.get("worker") == pid]
    return lines[-1] if lines else None


def gauges(t, tmp):
    """
    The gauges, via SIGUSR1: silent clients wait in the event stage
    (open, waiting), holding no thread (busy) and no place in the queue.
    """
    d = h.Daemon(tmp, ["--threads", "1", "--queue", "8",
                       "--read-timeout", "30", "--defer-accept", "0"],
                 workers=1, log_name="gauges.log")
    worker = d.worker_pids[0]
    silent = [h.Conn(d.port, timeout=20) for _ in range(4)]

    def shows(**want):
        """A stats line whose fields have the values in want."""
        d.signal(signal.SIGUSR1)
        line = None
        end = time.monotonic() + 2
        while line is None and time.monotonic() < end:
            line = stats_of(d, worker)
            if line is not None and any(line.get(k) != v
                                        for k, v in want.items()):
                line = None
                d.signal(signal.SIGUSR1)
                time.sleep(h.POLL * 5)
        return line is not None
    t.ok("gauges: 4 silent clients: open=4 waiting=4 busy=0 queue=0",
         h.wait_for(lambda: shows(open=4, waiting=4, busy=0, queue=0), 15),
         "last %s" % (stats_of(d, worker).raw if stats_of(d, worker)
                      else None))
    peak = stats_of(d, worker).get("queue_max") if stats_of(d, worker) \
        else None
    # each went to a parked thread or through the ring (queue_max counts
    # only the ring): at most all 4 at once
    t.ok("gauges: queue_max is 0 to 4", peak in (0, 1, 2, 3, 4),
         "queue_max %s" % peak)
    for c in silent:
        c.send(b"", shutdown=True)
        c.read_all(10)
        c.close()
    t.ok("gauges: once they are gone: open=0 waiting=0 busy=0 queue=0, "
         "queue_max stays %s" % peak,
         h.wait_for(lambda: shows(open=0, waiting=0, busy=0, queue=0,
                                  queue_max=peak), 15),
         "last %s" % (stats_of(d, worker).raw if stats_of(d, worker)
                      else None))
    total = stats_of(d, "all")
    t.ok("gauges: the total line counts 4 empty connections",
         total is not None and total.get("empty") == 4 and
         total.get("workers") == 1, total.raw if total else None)


def interval(t, tmp):
    """--stats-interval 0.2: summaries keep coming and count the traffic."""
    d = h.Daemon(tmp, ["--stats-interval", "0.2"], workers=2,
                 log_name="interval.log")
    for i in range(10):
        h.client(d.port, h.unique_msg("interval", i))
    want = d.wait_records(lambda r: r.event == "stats" and
                          r.get("worker") == "all" and
                          r.get("acked") == 10, timeout=10)
    t.ok("interval: a summary counts the 10 ACKed messages", want,
         [r.raw for r in d.events("stats")][-3:])
    n = len([r for r in d.events("stats") if r.get("worker") == "all"])
    t.ok("interval: summaries keep coming",
         h.wait_for(lambda: len([r for r in d.events("stats")
                                 if r.get("worker") == "all"]) >= n + 2, 10),
         "%d summaries" % n)
    per = [r for r in d.events("stats") if r.get("worker") != "all"]
    t.ok("interval: one line per worker too, with its pid and slot",
         per and all(r.get("worker") in d.worker_starts() and
                     r.get("slot") in (0, 1) for r in per),
         [r.raw for r in per][:3])


def main(t, tmp):
    watchdog(t, tmp)
    slow_clients(t, tmp)
    crash_loop(t, tmp)
    kill_served(t, tmp)
    recycle(t, tmp)
    gauges(t, tmp)
    interval(t, tmp)


if __name__ == "__main__":
    h.run("supervise", main, deadline=150)
