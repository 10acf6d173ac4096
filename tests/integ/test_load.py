#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_load.py: 2,000 connections from 50 concurrent clients.

--workers 2 --threads 8. Every client must get ACK!, and the log must hold
every message exactly once, checked message by message on what the daemon
logged (each sent message once, nothing else), with its client's address. The rate is printed, never asserted.
"""

import collections
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CONNECTIONS = 2000
CLIENTS = 50


def main(t, tmp):
    d = h.Daemon(tmp, ["--threads", "8"], workers=2)
    load = h.Load(d.port, "load", threads=CLIENTS,
                  per_thread=CONNECTIONS // CLIENTS, max_seconds=45,
                  timeout=15, stop_on_refused=False)
    t0 = time.monotonic()
    load.start()
    done = load.join(timeout=60)
    elapsed = time.monotonic() - t0
    t.ok("all %d client threads finished" % CLIENTS, done,
         "some still running")
    res = load.snapshot()
    t.eq("%d connections made" % CONNECTIONS, len(res), CONNECTIONS)
    bad = [(r.msg, r.reply) for r in res if r.reply.data != h.ACK]
    t.ok("every client got exactly ACK!", not bad,
         "%d did not, e.g. %s" % (len(bad), h.short(bad[:3])))
    t.note("%d connections in %.2f s: %.0f connections/s (informational)" %
           (len(res), elapsed, len(res) / max(elapsed, 1e-6)))

    recs = d.records()
    h.check_lines_parse(t, "load log", recs)
    h.check_acks_logged(t, "load", res, recs, logged_means_acked=True)
    msgs = [r for r in recs if r.event == "message"]
    t.eq("exactly %d event=message lines" % CONNECTIONS, len(msgs),
         CONNECTIONS)
    sent = collections.Counter(r.msg for r in res)
    logged = collections.Counter(r.get("msg") for r in msgs)
    extra = logged - sent
    missing = sent - logged
    t.ok("the log holds each sent message exactly once, and no other",
         not extra and not missing and set(logged.values()) == {1},
         "logged but not sent (or too often) %s, sent but not logged %s"
         % (h.short(list(extra.items())[:3]),
            h.short(list(missing.items())[:3])))
    odd = sorted({r.event for r in recs} -
                 {"start", "worker-start", "ready", "message"})
    t.eq("no other event (reset, error, timeout, worker-exit...)", odd, [])
    wrong = [r.raw for r in msgs if r.get("pid") not in d.worker_pids]
    t.ok("every message was logged by one of the workers", not wrong,
         h.short(wrong[:3]))
    for pid in d.worker_pids:
        t.note("worker %d logged %d messages" %
               (pid, sum(1 for r in msgs if r.get("pid") == pid)))

    d.signal(signal.SIGTERM)
    t.eq("SIGTERM after the load: exit 0", d.wait_exit(20), 0)
    stops = d.events("worker-stop")
    t.eq("worker-stop: acked adds up to %d" % CONNECTIONS,
         sum(r.get("acked", 0) for r in stops), CONNECTIONS)
    t.eq("worker-stop: accepted adds up to %d" % CONNECTIONS,
         sum(r.get("accepted", 0) for r in stops), CONNECTIONS)
    t.eq("no worker left after the stop", d.pids_gone(d.worker_pids), [])


if __name__ == "__main__":
    h.run("load", main, deadline=80)
