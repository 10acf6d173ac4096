#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_metrics.py: --metrics, the master's Prometheus endpoint, and the
SIGUSR1 summary.

Known traffic (37 ACKed messages, 5 empty connections, 3 read timeouts)
must show up exactly in a scrape (summed over the worker="SLOT" series)
and in the event=stats lines SIGUSR1 makes the master write; so must
the failing kinds, each made certain (ACKs to clients that reset after
their EOF, resets after part of a message, a message cut to
--max-message): every counter is compared with the traffic that must
move it, never only with 0. The scrape
itself: status, headers, the exposition format (HELP and TYPE once per
metric, before its samples). Anything else: 404 for another path, 405
with Allow: GET for another method, 400 for garbage, 505 for HTTP/2, 431
for an oversized head, and a 64 KiB head answered or closed without harm.
Slow scrapers (a partial request each) filling every slot do not stop
the master: the daemon still serves, a worker killed meanwhile is reaped
and replaced while they hang; a newcomer evicts the oldest of them
instead of waiting; the rest are closed at their deadline; a scrape then
works and has kept the dead worker's counts. Under attack, a scrape is
answered at once: behind 40 slow lorises, and behind a flood of slow and
silent connections several times the slots. A metrics port already taken
fails the start with exit 69.
"""

import collections
import os
import re
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

W = 2
N_ACKED, N_EMPTY, N_TIMEOUT = 37, 5, 3
N_ERR = 3  # connections of each failing kind in error_counters
ERR_MAX = 64  # error_counters' --max-message
SCRAPERS = 64  # connections the master holds at once; one more evicts
READ_DEADLINE = 2  # seconds a scraper has to send its request
SCRAPE_TIMEOUT = 5  # seconds a scrape under attack may take, at most
LORIS = b"GET /metr"  # a request begun, never finished
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# metric name, log key (event=stats), type: the manual's METRICS table
COUNTERS = [
    ("ackd_connections_accepted_total", "accepted"),
    ("ackd_messages_acknowledged_total", "acked"),
    ("ackd_connections_empty_total", "empty"),
    ("ackd_connections_timed_out_total", "timeout"),
    ("ackd_connections_reset_total", "reset"),
    ("ackd_connections_failed_total", "error"),
    ("ackd_messages_truncated_total", "truncated"),
    ("ackd_log_write_failures_total", "log_failed"),
    ("ackd_ack_failures_total", "ack_failed"),
    ("ackd_connections_refused_total", "refused"),
    ("ackd_connections_not_allowed_total", "not_allowed"),
    ("ackd_connections_proxy_refused_total", "proxy_refused"),
    ("ackd_tls_failed_total", "tls_failed"),
    ("ackd_connections_memory_refused_total", "memory_refused"),
    ("ackd_connections_shed_total", "shed"),
    ("ackd_received_bytes_total", "bytes"),
    ("ackd_reopen_failed_total", "reopen_failed"),
]
# counters the master moves itself too, in a worker="master" series
MASTER_COUNTERS = ["ackd_reopen_failed_total"]
GAUGES = [
    ("ackd_queue_depth", "queue"),
    ("ackd_queue_depth_max", "queue_max"),
    ("ackd_threads_busy", "busy"),
    ("ackd_connections_open", "open"),
    ("ackd_connections_waiting", "waiting"),
]
MASTER_GAUGES = ["ackd_workers", "ackd_up", "ackd_start_time_seconds",
                 "ackd_build_info"]

NAME_RE = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME_RE)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)')
HELP_RE = re.compile(r"^# HELP (%s) (.*)$" % NAME_RE)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|"
                     r"untyped)$" % NAME_RE)


# --- HTTP and the exposition format ---------------------------------------

class Response:
    """A parsed HTTP response: status, headers (lowercase keys), body; or
    error (a reason) when there was none to parse."""

    def __init__(self, reply):
        self.reply = reply
        self.status = None
        self.headers = {}
        self.body = b""
        self.error = None
        head, sep, body = reply.data.partition(b"\r\n\r\n")
        if not sep:
            self.error = "no response head in %s (error %r)" % (
                h.short(reply.data), reply.error)
            return
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"^HTTP/1\.1 (\d{3}) [A-Za-z ]+$", lines[0])
        if m is None:
            self.error = "bad status line %r" % lines[0]
            return
        self.status = int(m.group(1))
        for line in lines[1:]:
            key, _, val = line.partition(":")
            self.headers[key.strip().lower()] = val.strip()
        self.body = body

    def __repr__(self):
        return "Response(status=%s, headers=%s, body=%s, error=%s)" % (
            self.status, self.headers, h.short(self.body, 120), self.error)


def request(port, data, timeout=10):
    """Send data to the metrics port as is; read until the daemon closes."""
    return Response(h.client(port, data, shutdown=False, timeout=timeout))


def get(port, path="/metrics", timeout=10):
    """A GET like Prometheus sends it."""
    return request(port, ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                          "User-Agent: test_metrics\r\nAccept: text/plain"
                          "\r\n\r\n" % (path, port)).encode(), timeout)


def parse_exposition(text):
    """
    The families of a text exposition: {name: {"help", "type", "samples":
    [(labels dict, value)]}}, and a list of what breaks the format: a
    HELP or TYPE twice, a sample before its TYPE or apart from the rest
    of its family, a line that parses as nothing.
    """
    fams, errors = {}, []
    current = None
    closed = set()
    if not text.endswith("\n"):
        errors.append("the body does not end with a newline")
    for line in text.split("\n")[:-1]:
        m = HELP_RE.match(line) or TYPE_RE.match(line)
        if m:
            kind = line.split(" ")[1].lower()
            name = m.group(1)
            fam = fams.setdefault(name, {"samples": []})
            if kind in fam:
                errors.append("%s %s twice" % (kind, name))
            if name != current:
                if current is not None:
                    closed.add(current)
                if name in closed:
                    errors.append("%s comes back after another" % name)
                current = name
            fam[kind] = m.group(2)
            continue
        m = SAMPLE_RE.match(line)
        if m is None:
            errors.append("unparsable line %r" % line)
            continue
        name, labels, value = m.groups()
        if name != current or "type" not in fams.get(name, {}):
            errors.append("sample %r outside its family" % line)
            continue
        lab = {}
        rest = labels or ""
        while rest:
            lm = LABEL_RE.match(rest)
            if lm is None:
                errors.append("bad labels in %r" % line)
                break
            lab[lm.group(1)] = lm.group(2)
            rest = rest[lm.end():]
        try:
            fams[name]["samples"].append((lab, float(value)))
        except ValueError:
            errors.append("bad value in %r" % line)
    return fams, errors


def scrape(t, label, port):
    """GET /metrics; check the response and the format; return the
    families (empty if the scrape failed)."""
    r = get(port)
    t.eq("%s: GET /metrics answers 200" % label, r.status, 200)
    if r.status != 200:
        t.fail("%s: a response" % label, repr(r))
        return {}
    t.eq("%s: Content-Type" % label, r.headers.get("content-type"),
         CONTENT_TYPE)
    t.eq("%s: Content-Length is the body's" % label,
         r.headers.get("content-length"), str(len(r.body)))
    t.eq("%s: Connection: close, then the end of the stream" % label,
         (r.headers.get("connection"), r.reply.error), ("close", None))
    fams, errors = parse_exposition(r.body.decode("utf-8"))
    t.ok("%s: the body is in the text exposition format" % label,
         not errors, h.short(errors[:5]))
    return fams


def per_worker(fams, name):
    """{worker label: value} of one metric."""
    return {lab.get("worker"): v for lab, v in
            fams.get(name, {}).get("samples", [])}


def totals(fams):
    """{log key: sum over the worker series} of every counter."""
    return {key: int(sum(per_worker(fams, name).values()))
            for name, key in COUNTERS}


def check_families(t, label, fams):
    """Every metric of the manual, of its type, with its help; the
    per-worker ones labelled worker="SLOT" and nothing else."""
    want = [(n, "counter") for n, _ in COUNTERS] + \
        [(n, "gauge") for n, _ in GAUGES] + \
        [(n, "gauge") for n in MASTER_GAUGES]
    got = [(n, fams.get(n, {}).get("type")) for n, _ in want]
    t.eq("%s: every metric with its TYPE" % label, got, want)
    t.ok("%s: every metric has a HELP text" % label,
         all(fams.get(n, {}).get("help") for n, _ in want),
         h.short({n: fams.get(n, {}).get("help") for n, _ in want}))
    bad = [(n, lab) for n, _ in COUNTERS + GAUGES
           for lab, _ in fams.get(n, {}).get("samples", [])
           if set(lab) != {"worker"} or not (lab["worker"].isdigit() or
                                             (n in MASTER_COUNTERS and
                                              lab["worker"] == "master"))]
    t.eq("%s: per-worker samples carry worker=\"SLOT\" alone" % label,
         bad, [])
    t.eq("%s: one worker=\"master\" series of each master counter" %
         label, [list(per_worker(fams, n)).count("master")
                 for n in MASTER_COUNTERS], [1] * len(MASTER_COUNTERS))
    t.eq("%s: ackd_up 1" % label, per_worker(fams, "ackd_up"), {None: 1.0})
    start = per_worker(fams, "ackd_start_time_seconds").get(None, 0)
    t.ok("%s: ackd_start_time_seconds is about now" % label,
         abs(start - time.time()) < 600, "got %s" % start)
    info = fams.get("ackd_build_info", {}).get("samples", [])
    t.ok("%s: ackd_build_info{version=...} 1" % label,
         len(info) == 1 and info[0][1] == 1 and info[0][0].get("version"),
         h.short(info))


# --- the traffic ------------------------------------------------------------

def send_traffic(t, d):
    """N_ACKED messages, N_EMPTY empty connections, N_TIMEOUT silent
    ones; wait until the workers logged all of them. Returns the bytes."""
    sent = 0
    acked = 0
    for i in range(N_ACKED):
        msg = h.unique_msg("metrics", i)
        sent += len(msg)
        acked += h.client(d.port, msg).data == h.ACK
    t.eq("traffic: %d messages ACKed" % N_ACKED, acked, N_ACKED)
    empty = [h.client(d.port, b"") for _ in range(N_EMPTY)]
    t.eq("traffic: %d empty connections closed without a reply" % N_EMPTY,
         [(r.data, r.error) for r in empty], [(b"", None)] * N_EMPTY)
    conns = [h.Conn(d.port) for _ in range(N_TIMEOUT)]
    replies = [None] * N_TIMEOUT

    def wait_eof(i):
        replies[i] = conns[i].read_all(timeout=20)
    threads = [threading.Thread(target=wait_eof, args=(i,), daemon=True)
               for i in range(N_TIMEOUT)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    for c in conns:
        c.close()
    t.eq("traffic: %d silent connections closed by the read timeout" %
         N_TIMEOUT, [(r.data, r.error) for r in replies if r is not None],
         [(b"", None)] * N_TIMEOUT)
    want = {"message": N_ACKED, "empty": N_EMPTY, "timeout": N_TIMEOUT}

    def logged():
        # a summary of repeated events stands for count= connections
        recs = d.records()
        return {e: sum(r.get("count", 1) for r in recs if r.event == e)
                for e in want}
    t.ok("traffic: the workers logged every connection",
         h.wait_for(lambda: logged() == want, 20), "logged %s" % logged())
    return sent


def expected(sent, extra_acked=0):
    """The counters the traffic must give, in log keys."""
    want = {key: 0 for _, key in COUNTERS}
    want.update(accepted=N_ACKED + N_EMPTY + N_TIMEOUT + extra_acked,
                acked=N_ACKED + extra_acked, empty=N_EMPTY,
                timeout=N_TIMEOUT, bytes=sent)
    return want


def scrape_until(port, want):
    """Scrape until the totals are want (an ACK reaches the client a
    moment before its worker counts it), checking nothing else."""
    def look():
        r = get(port)
        if r.status != 200:
            return False
        return totals(parse_exposition(r.body.decode("utf-8"))[0]) == want
    h.wait_for(look, 10, interval=0.05)


# --- the checks ---------------------------------------------------------------

def metrics_port(t, d):
    """The port of the master's event=metrics listen=ADDR:PORT line."""
    recs = d.wait_records(lambda r: r.event == "metrics", timeout=10)
    t.eq("one event=metrics line, from the master",
         [r.get("pid") for r in recs], [d.pid])
    listen = str(recs[0].get("listen", "")) if recs else ""
    host, _, port = listen.rpartition(":")
    t.eq("event=metrics: listen=127.0.0.1:PORT", host, "127.0.0.1")
    return int(port) if port.isdigit() else 0


def check_counts(t, port, sent):
    """The traffic, exactly, in a scrape; and the gauges of each worker."""
    want = expected(sent)
    scrape_until(port, want)
    fams = scrape(t, "counts", port)
    check_families(t, "counts", fams)
    got = totals(fams)
    for _, key in COUNTERS:
        t.eq("counts: %s summed over the workers" % key, got[key],
             want[key])
    workers = sorted(per_worker(fams, COUNTERS[0][0]))
    t.eq("counts: a series for each worker slot", workers,
         [str(i) for i in range(W)])
    for name, _ in GAUGES:
        vals = per_worker(fams, name)
        t.eq("counts: %s for each worker" % name, sorted(vals), workers)
    t.eq("counts: no connection queued or in a thread now",
         [per_worker(fams, n) for n in ("ackd_queue_depth",
                                        "ackd_threads_busy")],
         [{w: 0.0 for w in workers}] * 2)
    t.eq("counts: ackd_workers", per_worker(fams, "ackd_workers"),
         {None: float(W)})
    return fams


def stats_lines(d, since):
    """event=stats lines of the master after the first since records."""
    return [r for r in d.records()[since:] if r.event == "stats" and
            r.get("pid") == d.pid]


def check_sigusr1(t, label, d, want, workers):
    """SIGUSR1: one stats line per live worker, then worker=all; the
    all line has want and the worker count. Returns the lines."""
    since = len(d.records())
    d.signal(signal.SIGUSR1)
    h.wait_for(lambda: any(r.get("worker") == "all"
                           for r in stats_lines(d, since)), 10)
    lines = stats_lines(d, since)
    every = [r for r in lines if r.get("worker") == "all"]
    each = [r for r in lines if r.get("worker") != "all"]
    t.eq("%s: one worker=all line" % label, len(every), 1)
    t.eq("%s: one line per live worker, by pid" % label,
         sorted(r.get("worker") for r in each), sorted(d.live_workers()))
    t.ok("%s: each worker line has its slot" % label,
         sorted(r.get("slot") for r in each) == list(range(workers)),
         h.short([r.raw for r in each]))
    keys = [k for _, k in COUNTERS] + [k for _, k in GAUGES]
    bad = [r.raw for r in lines if any(not isinstance(r.get(k), int)
                                       for k in keys)]
    t.eq("%s: every line has every counter and gauge" % label, bad, [])
    if every:
        t.eq("%s: worker=all workers=%d" % (label, workers),
             every[0].get("workers"), workers)
        t.eq("%s: worker=all counters match the traffic" % label,
             {k: every[0].get(k) for k in want}, want)
    return each, every


def check_errors(t, port):
    """What anything but a GET of /metrics gets."""
    r = get(port, "/foo")
    t.eq("GET /foo: 404", r.status, 404)
    t.eq("GET /foo: Connection: close, then the end of the stream",
         (r.headers.get("connection"), r.reply.error), ("close", None))
    r = get(port, "/metrics?name[]=ackd_up")
    t.eq("GET /metrics?query: 200 (the query is ignored)", r.status, 200)
    r = request(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 0\r\n\r\n")
    t.eq("POST /metrics: 405 with Allow: GET",
         (r.status, r.headers.get("allow")), (405, "GET"))
    r = request(port, b"garbage\r\n\r\n")
    t.eq("garbage: 400", r.status, 400)
    r = request(port, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")
    t.eq("a TLS ClientHello: 400", r.status, 400)
    r = request(port, b"GET /metrics HTTP/2.0\r\n\r\n")
    t.eq("HTTP/2.0: 505", r.status, 505)
    c = h.Conn(port)
    c.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n", shutdown=True)
    r = Response(c.read_all(10))
    c.close()
    t.eq("a head cut short by the client's end: 400", r.status, 400)
    big = b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 8192 + b"\r\n\r\n"
    r = request(port, big)
    t.eq("an 8 KiB head: 431", r.status, 431)
    check_huge(t, port)


def check_huge(t, port):
    """A 64 KiB header, sent while we read: 431, or the connection is
    closed (the daemon reads only so much); either way the daemon goes on."""
    huge = b"GET /metrics HTTP/1.1\r\nX-Huge: " + b"a" * 65536 + \
        b"\r\n\r\n"
    c = h.Conn(port)
    sender_error = []

    def send():
        try:
            c.sock.sendall(huge)
        except OSError as e:
            sender_error.append(e)
    th = threading.Thread(target=send, daemon=True)
    th.start()
    reply = c.read_all(15)
    th.join(15)
    c.close()
    r = Response(reply)
    t.ok("a 64 KiB head: 431 or closed, promptly",
         r.status == 431 or (r.status is None and not th.is_alive()),
         repr(r))
    t.note("64 KiB head: status %s, reader error %r, sender error %r" %
           (r.status, reply.error, sender_error))


def sockets_of(pid):
    """How many network sockets process pid has open (cheap: /proc/PID/fd),
    not counting unix ones: the master's channel to each worker is a
    socketpair, and scrapers come over TCP."""
    with open("/proc/net/unix") as f:
        unix = {"socket:[%s]" % line.split()[6] for line in
                f.readlines()[1:] if len(line.split()) >= 7}
    return len([t for t in h.fd_targets(pid) if t.startswith("socket:") and
                t not in unix])


def peer_open(c):
    """Is c still open at the daemon's end (no EOF, no reset, yet)?"""
    timeout = c.sock.gettimeout()
    c.sock.settimeout(0)  # with a timeout, recv would wait for data first
    try:
        c.sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        c.sock.settimeout(timeout)
    return False


def open_lorises(port, n):
    """n slow lorises: each sends a request's beginning, never its end."""
    conns = []
    for _ in range(n):
        c = h.Conn(port, timeout=30)
        c.send(LORIS, shutdown=False)
        conns.append(c)
    return conns


def check_silent(t, d, port, sent):
    """
    SCRAPERS slow lorises fill the table; a scrape evicts the oldest and
    is answered; the master supervises on while they hang; they are
    closed at their deadline; a scrape then works and has kept the killed
    worker's counts. What is timed is bounded from below (a loris is
    accepted after it connected, so its deadline is at least
    READ_DEADLINE after t0), or only checked when the machine was quick
    enough to tell: a slow machine cannot make the checks fail, only a
    master that waits.
    """
    # the master's own sockets: the listener it keeps, the metrics one
    t.ok("silent: no scraper connection open before",
         h.wait_for(lambda: sockets_of(d.pid) <= 2, 10),
         "%d sockets" % sockets_of(d.pid))
    base = sockets_of(d.pid)
    t0 = time.monotonic()
    idle = open_lorises(port, SCRAPERS)
    t.ok("silent: the master holds %d slow scrapers" % SCRAPERS,
         h.wait_for(lambda: sockets_of(d.pid) >= base + SCRAPERS, 10),
         "%d sockets, %d before" % (sockets_of(d.pid), base))
    quick = time.monotonic() - t0 < READ_DEADLINE - 0.5
    r = get(port, timeout=SCRAPE_TIMEOUT)
    t.eq("silent: with every slot taken, a scrape is answered 200 (within "
         "%d s)" % SCRAPE_TIMEOUT, r.status, 200)
    first = idle[0].read_all(SCRAPE_TIMEOUT)
    t.eq("silent: ... and the oldest slow one was closed without an answer",
         (first.data, first.error), (b"", None))
    quick = quick and time.monotonic() - t0 < READ_DEADLINE - 0.5
    if quick:
        t.ok("silent: ... evicted, before its deadline: the newest one is "
             "still open", peer_open(idle[-1]), "closed")
    else:
        t.note("silent: too slow a machine to tell eviction from deadline")

    msg = h.unique_msg("during", 0)
    t.eq("silent: a client still gets its ACK", h.client(d.port, msg).data,
         h.ACK)
    victim = d.live_workers()[0]
    os.kill(victim, signal.SIGKILL)

    def replaced():
        live = d.live_workers()
        return len(live) == W and victim not in live and \
            set(live) <= set(d.worker_starts()) and not d.zombies()
    t.ok("silent: the killed worker is reaped and replaced",
         h.wait_for(replaced, 20), "live %s, killed %d, zombies %s" %
         (d.live_workers(), victim, d.zombies()))
    exits = [r for r in d.events("worker-exit") if r.get("worker") == victim]
    t.eq("silent: worker-exit status=killed:9",
         [r.get("status") for r in exits], ["killed:9"])
    if time.monotonic() - t0 < READ_DEADLINE - 0.5:
        t.ok("silent: ... while the slow scrapers hung (the newest is "
             "still open)", peer_open(idle[-1]), "closed")
    else:
        t.note("silent: too slow a machine to tell whether the worker was "
               "replaced while the scrapers hung")

    ends, replies = [], []
    for c in idle[1:]:
        r = c.read_all(20)
        ends.append(time.monotonic() - t0)
        replies.append((r.data, r.error))
    t.eq("silent: the other %d are closed without an answer" %
         (SCRAPERS - 1), replies, [(b"", None)] * (SCRAPERS - 1))
    t.ok("silent: ... not before their deadline",
         min(ends) >= READ_DEADLINE - 0.1, "closed after %s s" %
         ["%.2f" % e for e in ends[:5]])
    want = expected(sent + len(msg), extra_acked=1)
    scrape_until(port, want)
    fams = scrape(t, "after", port)
    t.eq("after: the scrape sums the killed worker's counts too",
         totals(fams), want)
    t.eq("after: ackd_workers", per_worker(fams, "ackd_workers"),
         {None: float(W)})
    for c in idle:
        c.close()
    check_sigusr1(t, "second SIGUSR1", d, want, W)


def rst_close(s):
    """Close s with a reset (SO_LINGER on, 0 s) instead of a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def error_traffic(t, d):
    """
    N_ERR connections of each failing kind, every one made certain: while
    a silent client holds the only connection the worker may have
    (--max-connections 1; it waits in the event stage), N_ERR clients
    send a message and EOF from the backlog, then reset; once the holder
    leaves (empty) each is accepted in turn, its message is logged and
    its ACK fails on the dead socket (ack-failed).
    Then N_ERR clients send part of a message and reset once the handler
    has read it (reset), and one message longer than --max-message is cut
    and ACKed (truncated). Returns the counters that traffic must give.
    """
    holder = h.Conn(d.port)
    t.ok("errors: the silent client holds the connection",
         h.wait_accepted(d.port, [holder.reply.sport]), "not accepted")
    sent = 0
    for i in range(N_ERR):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        msg = h.unique_msg("ack-fails", i)
        s.sendall(msg)
        sent += len(msg)
        s.shutdown(socket.SHUT_WR)
        rst_close(s)
    holder.close()
    for i in range(N_ERR):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall(b"the first part of a message")
        t.ok("errors: reset %d: the handler read the first part" % i,
             h.wait_for(lambda: h.unread_bytes(d.port, s.getsockname()[1])
                        == 0, 10), "still unread")
        rst_close(s)
    long_msg = b"x" * (ERR_MAX + 10)
    t.eq("errors: a message past --max-message is ACKed",
         h.client(d.port, long_msg).data, h.ACK)
    want = {key: 0 for _, key in COUNTERS}
    want.update(accepted=1 + 2 * N_ERR + 1, acked=1, empty=1, reset=N_ERR,
                ack_failed=N_ERR, truncated=1, bytes=sent + ERR_MAX)
    return want


def error_counters(t, tmp):
    """reset, ack_failed, truncated and empty each moved by exactly the
    traffic that must move it, in SIGUSR1's line and in a scrape."""
    d = h.Daemon(tmp, ["--metrics", "127.0.0.1:0", "--threads", "1",
                       "--max-connections", "1",
                       "--defer-accept", "0", "--read-timeout", "30",
                       "--max-message", str(ERR_MAX), "--framing", "eof",
                       # a line per connection, to compare with the counts
                       "--event-interval", "0"],
                 workers=1, log_name="errors.log")
    want = error_traffic(t, d)
    got = d.wait_counters(want)
    for _, key in COUNTERS:
        t.eq("errors: SIGUSR1: %s" % key, got[key], want[key])
    events = collections.Counter(r.event for r in d.records())
    t.eq("errors: the log agrees (message, ack-failed, reset, empty)",
         [events[e] for e in ("message", "ack-failed", "reset", "empty")],
         [N_ERR + 1, N_ERR, N_ERR, 1])
    port = metrics_port(t, d)
    scrape_until(port, want)
    t.eq("errors: the scrape has the same counters",
         totals(scrape(t, "errors", port)), want)


def timed_scrapes(t, label, port, n=5):
    """n scrapes one after the other: each must be answered 200 with the
    whole body within SCRAPE_TIMEOUT. Returns the latencies."""
    lat, bad = [], []
    for _ in range(n):
        t1 = time.monotonic()
        r = get(port, timeout=SCRAPE_TIMEOUT)
        lat.append(time.monotonic() - t1)
        whole = r.status == 200 and \
            r.headers.get("content-length") == str(len(r.body)) and \
            r.body.endswith(b"\n") and b"\nackd_up 1\n" in r.body
        if not whole:
            bad.append(repr(r))
    t.eq("%s: %d scrapes, each answered 200 with the whole body within "
         "%d s" % (label, n, SCRAPE_TIMEOUT), bad, [])
    lat.sort()
    t.note("%s: scrape latency p50 %.3f s, max %.3f s" %
           (label, lat[len(lat) // 2], lat[-1]))
    return lat


def check_slowloris(t, port):
    """40 slow lorises, then scrapes: each answered at once, where the
    old 8 slots with 5 s deadlines let the first wait 25 s."""
    lorises = open_lorises(port, 40)
    timed_scrapes(t, "40 slow lorises", port)
    t.ok("40 slow lorises: none of them got an answer",
         all(peer_open(c) or c.read_all(1).data == b"" for c in lorises),
         "one was answered")
    for c in lorises:
        c.close()


def check_flood(t, port):
    """
    A flood several times the slots: 3 x SCRAPERS slow lorises (each
    accepted evicts an older one) and 200 silent connections, then
    scrapes: each answered at once. Every loris evicted is closed without
    an answer.
    """
    silent = []
    for _ in range(200):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        silent.append(s)
    lorises = open_lorises(port, 3 * SCRAPERS)
    timed_scrapes(t, "flood", port)
    early = lorises[:SCRAPERS]
    replies = [c.read_all(READ_DEADLINE + 10) for c in early]
    t.eq("flood: the oldest lorises were closed without an answer",
         [(r.data, r.error) for r in replies],
         [(b"", None)] * len(early))
    for c in lorises:
        c.close()
    for s in silent:
        s.close()


def check_port_taken(t, tmp, port):
    """--metrics on a port in use: exit 69 with one line naming it."""
    rc, _, err = h.run_ackd(["--port", "0", "--bind", "127.0.0.1",
                             "--log-file", os.path.join(tmp, "taken.log"),
                             "--metrics", "127.0.0.1:%d" % port])
    err = err.decode("utf-8", "replace")
    t.eq("port taken: exit 69", rc, 69)
    t.ok("port taken: stderr names --metrics and the address",
         "--metrics" in err and "127.0.0.1:%d" % port in err, repr(err))


def main(t, tmp):
    # repeated empty and timeout lines are summarised: a short interval
    # brings the summaries in soon
    d = h.Daemon(tmp, ["--metrics", "127.0.0.1:0", "--read-timeout", "0.3",
                       "--event-interval", "0.5"], workers=W)
    port = metrics_port(t, d)
    fams = scrape(t, "idle", port)
    check_families(t, "idle", fams)
    t.eq("idle: every counter 0", totals(fams),
         {k: 0 for _, k in COUNTERS})
    t.eq("idle: ackd_workers", per_worker(fams, "ackd_workers"),
         {None: float(W)})
    check_port_taken(t, tmp, port)
    sent = send_traffic(t, d)
    check_counts(t, port, sent)
    each, _ = check_sigusr1(t, "SIGUSR1", d, expected(sent), W)
    keys = [k for _, k in COUNTERS]
    t.eq("SIGUSR1: the worker lines add up to the traffic",
         {k: sum(r.get(k, 0) for r in each) for k in keys}, expected(sent))
    check_errors(t, port)
    t.ok("errors: the master and its workers still run",
         d.proc.poll() is None and len(d.live_workers()) == W,
         d.describe())
    check_silent(t, d, port, sent)
    check_slowloris(t, port)
    check_flood(t, port)
    d.signal(signal.SIGTERM)
    t.eq("SIGTERM: exit 0", d.wait_exit(30), 0)
    error_counters(t, tmp)


if __name__ == "__main__":
    h.run("test_metrics", main, deadline=120)
