#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_events.py: repeated event lines are summarised (issue 10, finding 9).

One client that connects and closes without a word, or storms
--max-connections-per-ip, used to write one line per connection: about
1 MB/s of event=empty from a single client that never sends a message.
Now each worker writes the first line of a burst from one address,
counts the rest, and writes one summary per --event-interval, such as
event=empty count=N interval_ms=MS, whose client is the address without
a port.

Checked, for event=empty (with messages from the same address in
between) and for event=refused (one connection held open under
--max-connections-per-ip 1): far fewer single lines than connections,
no more than one per worker and interval that passed; the single lines
and the summaries' counts add up exactly to the connections, and so do
the counters (SIGUSR1); every acknowledged message is logged exactly
once. Then that the tail of a burst is written within about a second of
its interval's end, with no more connections and no shutdown (JSON
format), and that --event-interval 0 writes every line.
"""

import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SLOW = h.valgrind_wrapped()
N_EMPTY = 200 if SLOW else 2000     # connect+close from one address
MSG_EVERY = 20                      # every 20th connection sends a message
N_REFUSED = 100 if SLOW else 1000   # connections past the per-IP limit
N_TAIL = 50                         # the burst whose tail must come out
DEFAULT_INTERVAL = 10.0             # --event-interval's default, seconds


def split(recs, event):
    """The single lines and the summaries (with count=) of one event."""
    ev = [r for r in recs if r.event == event]
    return ([r for r in ev if "count" not in r],
            [r for r in ev if "count" in r])


def check_summaries(t, label, summaries, source, extra_keys=()):
    """Each summary: its address without a port, bytes=0, count >= 1,
    interval_ms >= 0, and no other field (such as limit= or msg)."""
    keys = {"ts", "client", "pid", "event", "bytes", "count",
            "interval_ms"} | set(extra_keys)
    bad = [r.raw for r in summaries if r.get("client") != source or
           r.get("bytes") != 0 or not isinstance(r.get("count"), int) or
           r.get("count") < 1 or not isinstance(r.get("interval_ms"), int)
           or r.get("interval_ms") < 0 or set(r) - keys]
    t.ok("%s: every summary is CLIENT=%s bytes=0 count=N interval_ms=MS" %
         (label, source), not bad, h.short(bad[:3]))


def check_bounded(t, label, singles, summaries, n, workers, elapsed,
                  interval):
    """At most one single line and one summary per worker and interval
    begun (elapsed covers the whole run), and far fewer than the n
    connections."""
    bound = workers * (int(elapsed / interval) + 1)
    t.ok("%s: %d single lines for %d connections: at most %d (%d "
         "workers, %.1f s, --event-interval %g)" % (label, len(singles), n,
                                                  bound, workers, elapsed,
                                                  interval),
         len(singles) <= bound and len(singles) <= n // 10,
         "too many: %s" % h.short([r.raw for r in singles[:3]]))
    t.ok("%s: %d summaries, at most %d" % (label, len(summaries), bound),
         len(summaries) <= bound, h.short([r.raw for r in summaries[:3]]))


def connect_close(port):
    """Connect and close without sending anything (event=empty)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.close()


def empty_storm(t, tmp):
    d = h.Daemon(tmp, [], workers=2, log_name="empty.log")
    sent = []
    t0 = time.monotonic()
    for i in range(N_EMPTY + N_EMPTY // MSG_EVERY):
        if i % (MSG_EVERY + 1) == MSG_EVERY:
            msg = h.unique_msg("events", i)
            sent.append(h.Result(msg, h.client(d.port, msg), 0, 0))
        else:
            connect_close(d.port)
    n_msg = len(sent)
    n_empty = N_EMPTY + N_EMPTY // MSG_EVERY - n_msg
    acked = [r for r in sent if r.reply.data == h.ACK]
    t.eq("empty: each of the %d messages in between got its ACK" % n_msg,
         len(acked), n_msg)
    # every connection is counted, summarised or not
    st = d.wait_counters({"empty": n_empty, "acked": n_msg}, 20)
    t.eq("empty: SIGUSR1 counts empty=%d" % n_empty, st.get("empty"), n_empty)
    t.eq("empty: SIGUSR1 counts acked=%d" % n_msg, st.get("acked"), n_msg)
    d.signal(signal.SIGTERM)
    t.eq("empty: SIGTERM: exit 0", d.wait_exit(30), 0)
    elapsed = time.monotonic() - t0
    recs = d.records()
    h.check_lines_parse(t, "empty", recs)
    singles, summaries = split(recs, "empty")
    t.note("empty: %d connections, %d single lines, %d summaries: %s" %
           (n_empty, len(singles), len(summaries),
            h.short([r.raw for r in summaries[:2]])))
    check_bounded(t, "empty", singles, summaries, n_empty, 2, elapsed,
                  DEFAULT_INTERVAL)
    check_summaries(t, "empty", summaries, "127.0.0.1")
    t.eq("empty: single lines and summary counts add up to %d" % n_empty,
         len(singles) + sum(r.get("count", 0) for r in summaries), n_empty)
    h.check_acks_logged(t, "empty", sent, recs, logged_means_acked=True)
    t.eq("empty: %d event=message lines, one per message" % n_msg,
         len([r for r in recs if r.event == "message"]), n_msg)


def hold(port):
    """A connection that sends nothing: it holds its place."""
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def refused_once(port):
    """Connect and wait for the daemon to close: b'' if refused."""
    r = h.client(port, b"", shutdown=False, timeout=10)
    return r.data if r.error is None else r.error


def refused_storm(t, tmp):
    d = h.Daemon(tmp, ["--max-connections-per-ip", "1", "--defer-accept",
                       "0", "--read-timeout", "60"], workers=2,
                 log_name="refused.log")
    held = hold(d.port)
    t.eq("refused: the silent connection was accepted",
         d.wait_counters({"accepted": 1}, 20).get("accepted"), 1)
    t0 = time.monotonic()
    replies = [refused_once(d.port) for _ in range(N_REFUSED)]
    odd = [r for r in replies if r != b""]
    t.ok("refused: each of %d more connections was closed without an ACK"
         % N_REFUSED, not odd, h.short(odd[:3]))
    st = d.wait_counters({"refused": N_REFUSED}, 20)
    t.eq("refused: SIGUSR1 counts refused=%d" % N_REFUSED, st.get("refused"),
         N_REFUSED)
    held.close()
    t.ok("refused: the held connection ends as event=empty",
         d.wait_records(lambda r: r.event == "empty", timeout=10), "no line")
    d.signal(signal.SIGTERM)
    t.eq("refused: SIGTERM: exit 0", d.wait_exit(30), 0)
    elapsed = time.monotonic() - t0
    recs = d.records()
    h.check_lines_parse(t, "refused", recs)
    singles, summaries = split(recs, "refused")
    t.note("refused: %d connections, %d single lines, %d summaries: %s" %
           (N_REFUSED, len(singles), len(summaries),
            h.short([r.raw for r in summaries[:2]])))
    check_bounded(t, "refused", singles, summaries, N_REFUSED, 2, elapsed,
                  DEFAULT_INTERVAL)
    t.ok("refused: each single line keeps limit=1",
         all(r.get("limit") == 1 for r in singles),
         h.short([r.raw for r in singles[:3]]))
    check_summaries(t, "refused", summaries, "127.0.0.1")
    t.eq("refused: single lines and summary counts add up to %d" % N_REFUSED,
         len(singles) + sum(r.get("count", 0) for r in summaries), N_REFUSED)


def tail_flushed(t, tmp):
    """A burst's last summary comes by itself, without a shutdown."""
    interval = 0.5
    d = h.Daemon(tmp, ["--event-interval", str(interval)], workers=1,
                 fmt="json", log_name="tail.log")
    t0 = time.monotonic()
    for _ in range(N_TAIL):
        connect_close(d.port)

    def accounted():
        singles, summaries = split(d.records(), "empty")
        return len(singles) + sum(r.get("count", 0) for r in summaries)
    # the bound is generous: an interval, the once-a-second tick, a slow
    # machine; what matters is that it comes without more connections
    t.ok("tail: without more connections, the summaries account for all "
         "%d within the read timeout" % N_TAIL,
         h.wait_for(lambda: accounted() >= N_TAIL, 20),
         "%d of %d" % (accounted(), N_TAIL))
    elapsed = time.monotonic() - t0
    t.eq("tail: not more than that either", accounted(), N_TAIL)
    t.ok("tail: the daemon is still running", d.proc.poll() is None,
         "exited %s" % d.proc.poll())
    recs = d.records()
    h.check_lines_parse(t, "tail (JSON)", recs)
    singles, summaries = split(recs, "empty")
    check_bounded(t, "tail", singles, summaries, N_TAIL, 1, elapsed,
                  interval)
    check_summaries(t, "tail (JSON)", summaries, "127.0.0.1")


def interval_off(t, tmp):
    """--event-interval 0: a line per connection, as before."""
    n = 30
    d = h.Daemon(tmp, ["--event-interval", "0"], workers=1,
                 log_name="off.log")
    for _ in range(n):
        connect_close(d.port)
    found = d.wait_records(lambda r: r.event == "empty", count=n, timeout=20)
    t.eq("off: --event-interval 0 writes all %d empty lines" % n, len(found),
         n)
    t.eq("off: and no summary", [r.raw for r in found if "count" in r], [])


def main(t, tmp):
    empty_storm(t, tmp)
    refused_storm(t, tmp)
    tail_flushed(t, tmp)
    interval_off(t, tmp)


if __name__ == "__main__":
    h.run("events", main, deadline=150)
