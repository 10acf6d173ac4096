#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_syslog.py: --syslog[=FACILITY] and --log-tag.

The test is the syslog daemon: a datagram socket in the temporary
directory, which ackd is pointed at with $ACKD_SYSLOG_SOCKET. Checked:
one datagram per connection, in the form syslog(3) uses ("<PRI>Mmm dd
hh:mm:ss TAG[PID]: MSG"), MSG being the very line the log file would
hold (same fields, same escaping); the priority is the facility with
LOG_INFO, or LOG_WARNING for failures; the tag is --log-tag (or ackd);
each worker sends under its own pid. SIGHUP reconnects and logging goes
on; a syslog daemon that restarts is found again; while none listens, or
while its queue stays full, messages are not acknowledged, and every
acknowledged message was delivered. Flag errors: --syslog with
--log-file, a facility not allowed, no socket. --log-tag shows in file
logs too, in both formats.

--syslog-max (issue 10, finding 5): the stand-in daemon then cuts each
datagram at that length, as rsyslog does at its maxMessageSize. A message
whose datagram would be longer is not acknowledged and not sent
(event=log-failed reason=too-long, counted in log_failed), checked with
ackd-bench --unique --record: every acknowledged message was delivered
once and whole. A --max-message that can never fit is refused at start
(64); a larger --syslog-max lets a 12,000-byte message through whole.
"""

import collections
import os
import re
import signal
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

LOG_WARNING = 4
LOG_INFO = 6
FACILITY = {"daemon": 3, "user": 1, "local3": 19}
HEAD_RE = re.compile(rb"^<([0-9]{1,3})>((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|"
                     rb"Sep|Oct|Nov|Dec) [ 1-3][0-9] \d\d:\d\d:\d\d) "
                     rb"([A-Za-z0-9._-]{1,32})\[([0-9]+)\]: (.*)$", re.S)


class SyslogServer:
    """A stand-in syslog daemon: receives datagrams at path, in a thread;
    pause() stops reading (its queue fills), resume() reads again. keep:
    like rsyslog's maxMessageSize, a longer datagram is cut to that many
    bytes (and counted in cut)."""

    def __init__(self, path, keep=None):
        self.path = path
        self.keep = keep
        self.cut = 0
        self.lock = threading.Lock()
        self.grams = []
        self.reading = threading.Event()
        self.reading.set()
        self.sock = None
        self.start()

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.stopped = False
        self.thread = threading.Thread(target=self._run, args=(self.sock,),
                                       daemon=True)
        self.thread.start()

    def _run(self, sock):
        sock.settimeout(0.05)
        while not self.stopped:
            if not self.reading.wait(0.05):
                continue
            try:
                g = sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                if self.keep is not None and len(g) > self.keep:
                    self.cut += 1
                    g = g[:self.keep]
                self.grams.append(g)

    def stop(self):
        """The syslog daemon goes away: socket closed and removed."""
        # the reader first: a socket closed under a waiting recv lives on
        # until that recv returns, and would swallow what comes meanwhile
        self.stopped = True
        self.thread.join(10)
        self.sock.close()
        os.unlink(self.path)

    def pause(self):
        self.reading.clear()

    def resume(self):
        self.reading.set()

    def datagrams(self):
        with self.lock:
            return list(self.grams)


def parse_gram(g, fmt):
    """A Record for datagram g, with the header's pri, tag and pid."""
    m = HEAD_RE.match(g)
    if m is None:
        rec = h.Record()
        rec.raw = g
        rec.error = "not <PRI>TIMESTAMP TAG[PID]: MSG"
        return rec
    pri, _, tag, pid, msg = m.groups()
    rec = h.parse_json(msg) if fmt == "json" else h.parse_text(msg)
    rec.pri = int(pri)
    rec.ident = tag.decode("ascii")
    rec.hpid = int(pid)
    rec.gram = g
    return rec


class SyslogDaemon(h.Daemon):
    """An ackd logging to server with --syslog[=facility]."""

    def __init__(self, tmpdir, server, flags=(), facility=None, **kw):
        self.server = server
        os.environ["ACKD_SYSLOG_SOCKET"] = server.path
        opt = "--syslog" if facility is None else "--syslog=" + facility
        super().__init__(tmpdir, flags, log_flags=[opt], **kw)

    def records(self, path=None):
        return [parse_gram(g, self.fmt) for g in self.server.datagrams()]


def describe(d, n=4):
    return h.short([r.raw for r in d.records()][-n:])


def format_and_pids(t, tmp):
    srv = SyslogServer(os.path.join(tmp, "log.sock"))
    d = SyslogDaemon(tmp, srv, ["--log-tag", "eu1", "--read-timeout", "1",
                                "--defer-accept", "0"], workers=2,
                     log_name="fmt")
    bad = [r for r in d.records() if r.error]
    t.ok("format: every datagram is a syslog header and a log line",
         not bad, h.short([(r.raw, r.error) for r in bad]))
    start = d.events("start")[0]
    t.ok("format: start comes from the master, tag eu1, daemon.info",
         start.hpid == d.pid == start["pid"] and start.ident == "eu1" and
         start.pri == FACILITY["daemon"] * 8 + LOG_INFO and
         start.get("tag") == "eu1", h.short(start.gram))
    ws = d.events("worker-start")
    t.ok("format: each worker sends under its own pid",
         sorted(r.hpid for r in ws) == sorted(d.worker_pids) and
         all(r.hpid == r["pid"] != d.pid for r in ws),
         h.short([r.gram for r in ws]))

    msgs = [b'he said "hi"\\\n\x00\x7f\xff\t' + h.unique_msg("odd", 0)]
    msgs += [h.unique_msg("plain", i) for i in range(1, 12)]
    replies = [h.client(d.port, m) for m in msgs]
    t.ok("format: every message is acknowledged",
         all(r.data == h.ACK for r in replies), h.short(replies))
    got = d.wait_records(lambda r: r.event == "message", count=len(msgs))
    t.eq("format: one datagram per connection", sorted(r["msg"] for r in
         got), sorted(msgs))
    odd = [r for r in got if r["msg"] == msgs[0]]
    t.ok("format: the message is escaped as in the log file",
         odd and (b' msg="' + h.escape_text(msgs[0]) + b'"') in odd[0].gram
         and h.printable(odd[0].gram), h.short(odd and odd[0].gram))
    t.ok("format: message datagrams: daemon.info, the worker's pid, eu1",
         all(r.pri == 30 and r.hpid == r["pid"] and r.hpid in
             d.worker_pids and r.ident == "eu1" and r.get("tag") == "eu1"
             for r in got), h.short([r.gram for r in got][:3]))
    t.ok("format: no datagram ends in a newline",
         all(not g.endswith(b"\n") for g in srv.datagrams()), "newline")

    # a client that sends nothing: a failure, so daemon.warning
    c = h.Conn(d.port)
    c.read_all()
    c.close()
    to = d.wait_records(lambda r: r.event == "timeout")
    t.ok("format: a timeout goes out as daemon.warning",
         len(to) == 1 and to[0].pri == FACILITY["daemon"] * 8 + LOG_WARNING,
         describe(d))

    # SIGHUP: every process reconnects, logging goes on
    d.signal(signal.SIGHUP)
    t.ok("sighup: the master and both workers log event=reopen",
         len(d.wait_records(lambda r: r.event == "reopen", count=3)) >= 3,
         describe(d))
    m = h.unique_msg("after-hup", 0)
    t.eq("sighup: a message after it is acknowledged",
         h.client(d.port, m).data, h.ACK)
    t.ok("sighup: and logged", d.wait_records(lambda r: r.get("msg") == m),
         describe(d))
    return d, srv


def restarts(t, d, srv):
    """The syslog daemon goes away, then comes back at the same path."""
    srv.stop()
    m = h.unique_msg("nobody-listens", 0)
    t.eq("restart: with no syslog daemon, a message gets no ACK",
         h.client(d.port, m).data, b"")
    t.ok("restart: the daemon says on stderr why",
         h.wait_for(lambda: "not acknowledged" in d.stderr(), 10),
         h.short(d.stderr()))
    srv.start()
    m = h.unique_msg("back", 0)
    t.eq("restart: once it is back, messages are acknowledged again",
         h.client(d.port, m).data, h.ACK)
    t.ok("restart: and logged", d.wait_records(lambda r: r.get("msg") == m),
         describe(d))


def full_queue(t, tmp):
    """The syslog daemon stops reading: its queue fills; no message is
    acknowledged that was not delivered."""
    srv = SyslogServer(os.path.join(tmp, "full.sock"))
    d = SyslogDaemon(tmp, srv, ["--threads", "8"], workers=1,
                     log_name="full")
    srv.pause()
    msgs = [h.unique_msg("full", i) for i in range(30)]
    replies = {}

    def one(m):
        replies[m] = h.client(d.port, m, timeout=30)
    threads = [threading.Thread(target=one, args=(m,)) for m in msgs]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    srv.resume()
    acked = {m for m, r in replies.items() if r.data == h.ACK}
    h.wait_for(lambda: len([r for r in d.events("message")]) >= len(acked),
               10)
    logged = {r["msg"] for r in d.events("message")}
    t.ok("full: every acknowledged message was delivered",
         acked <= logged, "acked, not logged: %s" % h.short(acked - logged))
    t.ok("full: every delivered message was acknowledged",
         logged <= acked, "logged, not acked: %s" % h.short(logged - acked))
    t.note("full: %d of %d acknowledged with the reader paused" %
           (len(acked), len(msgs)))
    try:
        qlen = int(open("/proc/sys/net/unix/max_dgram_qlen").read())
    except (OSError, ValueError):
        qlen = None
    if qlen is not None and qlen + 5 < len(msgs):
        t.ok("full: some were refused (the queue holds %d)" % qlen,
             len(acked) < len(msgs), "all acknowledged")


def facility_and_json(t, tmp):
    srv = SyslogServer(os.path.join(tmp, "local3.sock"))
    d = SyslogDaemon(tmp, srv, workers=1, fmt="json", facility="local3",
                     log_name="json")
    m = b"json \"quoted\" \xe9\n"
    t.eq("local3: a message is acknowledged", h.client(d.port, m).data,
         h.ACK)
    got = d.wait_records(lambda r: r.get("msg") == m)
    t.ok("local3: it is local3.info, tag ackd, MSG the JSON line",
         len(got) == 1 and got[0].pri == FACILITY["local3"] * 8 + LOG_INFO
         and got[0].ident == "ackd" and "tag" not in got[0] and
         got[0].error is None, describe(d))


def flag_errors(t, tmp):
    os.environ["ACKD_SYSLOG_SOCKET"] = os.path.join(tmp, "nobody.sock")
    cases = [
        ("--syslog with --log-file exits 64, says why",
         ["--syslog", "--log-file", os.path.join(tmp, "x.log")], 64,
         b"--syslog: cannot be used with --log-file"),
        ("--syslog=kern exits 64 naming the allowed facilities",
         ["--syslog=kern"], 64, b"daemon, user, local0-local7"),
        ("--syslog local0 (two words) exits 64, shows the form",
         ["--syslog", "local0"], 64, b"--syslog=FACILITY"),
        ("--syslog with --sync exits 64", ["--syslog", "--sync"], 64,
         b"--sync: nothing to sync with --syslog"),
        ("no syslog socket exits 73, naming it",
         ["--port", "0", "--syslog"], 73, b"nobody.sock"),
        ("a bad --log-tag exits 64", ["--log-tag", "eu 1"], 64,
         b"--log-tag: 'eu 1' is not a tag"),
    ]
    for name, args, want, say in cases:
        rc, _, err = h.run_ackd(args)
        t.ok("flags: " + name, rc == want and say in err,
             h.short((rc, err)))



def bench(port, message, count, record):
    """Run ackd-bench --unique --record; its exit status."""
    args = [h.bench_path(), "--port", str(port), "--count", str(count),
            "--concurrency", "4", "--unique", "--record", record,
            "--message", message, "--quiet", "--timeout", "20"]
    return subprocess.run(args, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=120).returncode


def read_record(path):
    """The messages an ackd-bench --record file lists."""
    try:
        with open(path, "rb") as f:
            return f.read().split(b"\n")[:-1]
    except FileNotFoundError:
        return []


def total_stats(d):
    """SIGUSR1, then the master's stats worker=all line."""
    d.signal(signal.SIGUSR1)
    got = d.wait_records(lambda r: r.event == "stats" and
                         r.get("worker") == "all")
    return got[-1] if got else h.Record()


def too_long_bench(t, d):
    """ackd-bench --unique --record with messages that fit and that do
    not: every acknowledged one delivered once, no other; the counts."""
    # 1,000 control bytes fit (6,000 escaped); 1,400 do not (8,400)
    fits = os.path.join(d.tmpdir, "fits.rec")
    over = os.path.join(d.tmpdir, "over.rec")
    rc_fits = bench(d.port, b"\x01" * 1000, 40, fits)
    rc_over = bench(d.port, b"\x01" * 1400, 20, over)
    acked_fits, acked_over = read_record(fits), read_record(over)
    t.ok("too-long bench: 40 messages that fit, all acknowledged",
         rc_fits == 0 and len(acked_fits) == 40,
         "exit %s, %d recorded" % (rc_fits, len(acked_fits)))
    t.ok("too-long bench: 20 that do not fit, none acknowledged",
         rc_over != 0 and acked_over == [],
         "exit %s, %d recorded" % (rc_over, len(acked_over)))
    recorded = acked_fits + acked_over
    h.wait_for(lambda: len(d.events("message")) >= len(recorded), 10)
    logged = collections.Counter(r.get("msg") for r in d.records()
                                 if r.event == "message")
    t.ok("too-long bench: every acknowledged message delivered once",
         all(logged[m] == 1 for m in recorded),
         h.short([m[:30] for m in recorded if logged[m] != 1][:3]))
    t.ok("too-long bench: nothing delivered that was not acknowledged",
         set(logged) <= set(recorded),
         h.short([m[:30] for m in logged if m not in set(recorded)][:3]))
    return len(acked_fits) + len(acked_over), 20


def too_long(t, tmp):
    """
    Issue 10, finding 5: a 2,000-byte message whose escaping takes its
    line past 8 KiB. rsyslog would cut it; ackd must not acknowledge it.
    """
    srv = SyslogServer(os.path.join(tmp, "long.sock"), keep=8192)
    # --framing read: ackd-bench does not half-close
    d = SyslogDaemon(tmp, srv, ["--max-message", "2000", "--threads", "4"],
                     workers=1, fmt="json", facility="local3",
                     log_name="long")
    t.ok("too-long: a start-up warning names --syslog-max",
         "--syslog-max 8192" in d.stderr() and "not acknowledged" in
         d.stderr(), h.short(d.stderr()))
    ctl = b"\x01" * 1500  # UTF-8 text; JSON writes each byte as \u0001
    r = h.client(d.port, ctl)
    t.eq("too-long: 1,500 control bytes (9,000+ in JSON): no ACK", r.data,
         b"")
    fail = d.wait_records(lambda r: r.event == "log-failed")
    t.ok("too-long: event=log-failed reason=too-long bytes=1500",
         len(fail) == 1 and fail[0].get("reason") == "too-long" and
         fail[0].get("bytes") == 1500, describe(d))
    t.ok("too-long: the message was not sent", not any(
         r.get("msg") == ctl for r in d.records()), describe(d))
    acked, failed = 0, 1
    if not os.access(h.bench_path(), os.X_OK):
        t.skip("too-long: ackd-bench accounting", "no ackd-bench")
    else:
        acked, over = too_long_bench(t, d)
        failed += over
    bad = [r.raw[:80] for r in d.records() if r.error]
    t.ok("too-long: no datagram was cut by the syslog daemon, all parse",
         srv.cut == 0 and not bad,
         "cut %d, bad %s" % (srv.cut, h.short(bad[:2])))
    st = total_stats(d)
    t.eq("too-long: stats log_failed counts every message not sent",
         st.get("log_failed"), failed)
    t.eq("too-long: stats acked counts the acknowledged ones",
         st.get("acked"), acked)


def too_long_partial(t, tmp):
    """A partial message too long to log (--framing eof, no half-close):
    its timeout still goes out, without it."""
    srv = SyslogServer(os.path.join(tmp, "part.sock"), keep=8192)
    d = SyslogDaemon(tmp, srv, ["--max-message", "2000", "--framing", "eof",
                                "--read-timeout", "1"], workers=1,
                     fmt="json", facility="local3", log_name="part")
    c = h.Conn(d.port)
    c.send(b"\x01" * 1500, shutdown=False)
    c.read_all()
    c.close()
    to = d.wait_records(lambda r: r.event == "timeout")
    t.ok("too-long: a timeout with such a partial message is logged, "
         "msg_omitted=too-long", len(to) == 1 and "msg" not in to[0] and
         to[0].get("msg_omitted") == "too-long" and
         to[0].get("bytes") == 1500 and srv.cut == 0, describe(d))


def syslog_max_flag(t, tmp):
    """At start: a --max-message that can never fit is refused (64); a
    larger --syslog-max lets the issue's 12,000-byte message through."""
    os.environ["ACKD_SYSLOG_SOCKET"] = os.path.join(tmp, "nobody.sock")
    rc, _, err = h.run_ackd(["--port", "0", "--max-message", "20000",
                             "--framing", "eof", "--syslog=local3"])
    lines = err.decode("utf-8", "replace").splitlines()
    t.ok("syslog-max: --max-message 20000 exits 64, one line naming "
         "--max-message, --syslog-max 8192 and what fits",
         rc == 64 and len(lines) == 1 and "--max-message" in lines[0] and
         "--syslog-max 8192" in lines[0] and
         re.search(r"up to [1-9][0-9]{3}\b", lines[0]) is not None,
         h.short((rc, err)))
    rc, _, err = h.run_ackd(["--port", "0", "--syslog-max", "9000"])
    t.ok("syslog-max: without --syslog exits 64",
         rc == 64 and b"--syslog-max: " in err, h.short((rc, err)))

    srv = SyslogServer(os.path.join(tmp, "big.sock"), keep=65536)
    d = SyslogDaemon(tmp, srv, ["--max-message", "20000", "--framing", "eof",
                                "--syslog-max", "65536"], workers=1,
                     facility="local3", log_name="big")
    m = h.unique_msg("big", 0) + b"y" * 12000
    t.eq("syslog-max 65536: a 12,000-byte message is acknowledged",
         h.client(d.port, m).data, h.ACK)
    got = d.wait_records(lambda r: r.get("msg") == m)
    t.ok("syslog-max 65536: and delivered whole",
         len(got) == 1 and srv.cut == 0, describe(d, 1))


def tag_in_files(t, tmp):
    for fmt in ("text", "json"):
        d = h.Daemon(tmp, ["--log-tag", "blue.2"], workers=1, fmt=fmt,
                     log_name="tag-%s.log" % fmt)
        m = h.unique_msg("tag", 0)
        h.client(d.port, m)
        d.wait_records(lambda r: r.get("msg") == m)
        recs = d.records()
        t.ok("tag: every %s line carries tag blue.2" % fmt,
             recs and all(r.error is None and r.get("tag") == "blue.2"
                          for r in recs), h.short([r.raw for r in recs]))


def main(t, tmp):
    d, srv = format_and_pids(t, tmp)
    restarts(t, d, srv)
    full_queue(t, tmp)
    facility_and_json(t, tmp)
    flag_errors(t, tmp)
    tag_in_files(t, tmp)
    too_long(t, tmp)
    too_long_partial(t, tmp)
    syslog_max_flag(t, tmp)


if __name__ == "__main__":
    h.run("syslog", main, deadline=120)
