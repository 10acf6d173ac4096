#!/usr/bin/env python3
"""
test_bench.py: ackd-bench against a real ackd, a wrong one and nobody.

2,000 unique messages from 32 connections in flight: exit 0, the JSON
report has exactly its documented keys, every connection ok; every message
ackd-bench recorded as acknowledged is in ackd's log exactly once, and the
log holds nothing else. Against ackd --ack NOPE every reply is wrong (exit
1); against a closed port every connection is a connect error (exit 1).
--duration 1 gives a positive rate. ackd-bench is $ACKD_BENCH, or
src/ackd-bench; the script is skipped if there is none.
"""

import collections
import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

COUNT = 2000
CONCURRENCY = 32

# the report's keys, as ackd-bench(1) promises them
KEYS = {"host", "port", "concurrency", "threads", "message_bytes",
        "duration_s", "connections", "ok", "wrong", "errors", "rate",
        "latency_us"}
ERROR_KEYS = {"connect", "reset", "timeout", "other"}
LATENCY_KEYS = {"p50", "p90", "p99", "p999", "max", "mean"}


def bench_path():
    """$ACKD_BENCH, or src/ackd-bench two directories above this script."""
    p = os.environ.get("ACKD_BENCH")
    if not p:
        here = os.path.dirname(os.path.abspath(__file__))
        p = os.path.join(here, "..", "..", "src", "ackd-bench")
    return os.path.abspath(p)


class Run:
    """One finished ackd-bench: status, stdout, stderr, parsed JSON."""

    def __init__(self, args, timeout=60):
        self.args = [bench_path()] + [str(a) for a in args]
        try:
            p = subprocess.run(self.args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout)
            self.status, self.out, self.err = \
                p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            self.status, self.out, self.err = None, e.stdout or b"", \
                e.stderr or b""
        self.report = None
        self.json_error = None
        try:
            self.report = json.loads(self.out.decode("utf-8"))
        except ValueError as e:
            self.json_error = str(e)

    def describe(self):
        return "cmd=%s status=%s stdout=%s stderr=%s" % (
            " ".join(self.args), self.status, h.short(self.out),
            h.short(self.err))

    def get(self, *path):
        """A value of the report by its path of keys, or None."""
        v = self.report
        for k in path:
            if not isinstance(v, dict):
                return None
            v = v.get(k)
        return v


def check_report_shape(t, label, r):
    """The report is one JSON object with exactly the documented keys."""
    if not t.ok("%s: stdout is one JSON object" % label,
                isinstance(r.report, dict), r.json_error or r.describe()):
        return False
    t.eq("%s: exactly the documented keys" % label,
         sorted(r.report), sorted(KEYS))
    t.eq("%s: errors has exactly connect, reset, timeout, other" % label,
         sorted(r.get("errors") or {}), sorted(ERROR_KEYS))
    t.eq("%s: latency_us has exactly p50 p90 p99 p999 max mean" % label,
         sorted(r.get("latency_us") or {}), sorted(LATENCY_KEYS))
    return True


def errors_total(r):
    return sum((r.get("errors") or {}).values())


def test_acked_and_logged(t, tmp):
    """The main run: every counted connection ok, recorded, logged once."""
    d = h.Daemon(tmp, ["--threads", "8"], workers=2)
    record = os.path.join(tmp, "record.txt")
    r = Run(["--port", d.port, "--count", COUNT, "--concurrency",
             CONCURRENCY, "--unique", "--json", "--record", record,
             "--quiet"])
    t.eq("count run: exit 0", r.status, 0) or t.note(r.describe())
    if not check_report_shape(t, "count run", r):
        return
    t.eq("count run: connections == %d" % COUNT, r.get("connections"),
         COUNT)
    t.eq("count run: ok == %d" % COUNT, r.get("ok"), COUNT)
    t.eq("count run: wrong == 0", r.get("wrong"), 0)
    t.eq("count run: every error count is 0", r.get("errors"),
         {k: 0 for k in ERROR_KEYS})
    t.eq("count run: host, port, concurrency, threads echoed",
         [r.get("host"), r.get("port"), r.get("concurrency"),
          r.get("threads")], ["127.0.0.1", d.port, CONCURRENCY, 1])
    lat = r.get("latency_us")
    t.ok("count run: 0 < p50 <= p90 <= p99 <= p999 <= max",
         0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <=
         lat["max"], h.short(lat))
    t.ok("count run: positive duration and rate",
         (r.get("duration_s") or 0) > 0 and (r.get("rate") or 0) > 0,
         r.describe())
    t.note("%d connections in %.3f s: %.0f/s, p50 %d us, p99 %d us "
           "(informational)" % (r.get("connections"), r.get("duration_s"),
                                r.get("rate"), lat["p50"], lat["p99"]))

    with open(record, "rb") as f:
        data = f.read()
    t.ok("record file ends with a newline", data.endswith(b"\n"),
         h.short(data[-40:]))
    recorded = data.split(b"\n")[:-1]
    t.eq("record file: one line per ok connection", len(recorded), COUNT)
    t.eq("record file: every line unique", len(set(recorded)),
         len(recorded))

    # the ACK follows the log write, so the lines are there when we look
    recs = d.records()
    h.check_lines_parse(t, "bench log", recs)
    logged = collections.Counter(rec.get("msg") for rec in recs
                                 if rec.event == "message")
    missing = [m for m in recorded if logged[m] == 0]
    t.ok("every recorded message is in the log", not missing,
         "%d missing, e.g. %s" % (len(missing), h.short(missing[:3])))
    dups = [m for m in recorded if logged[m] > 1]
    t.ok("no recorded message is logged twice", not dups,
         "%d twice, e.g. %s" % (len(dups), h.short(dups[:3])))
    extra = [m for m in logged if m not in set(recorded)]
    t.ok("the log holds no message that was not recorded", not extra,
         "%d extra, e.g. %s" % (len(extra), h.short(extra[:3])))
    odd = sorted({rec.event for rec in recs} -
                 {"start", "worker-start", "ready", "message"})
    t.eq("no other event in the log (reset, timeout, ack-failed...)",
         odd, [])


def test_wrong_reply(t, tmp):
    """ackd --ack NOPE: every reply is wrong, exit 1."""
    d = h.Daemon(tmp, ["--ack", "NOPE"], workers=2, log_name="nope.log")
    r = Run(["--port", d.port, "--count", 300, "--concurrency", 8,
             "--json"])
    t.eq("wrong reply: exit 1", r.status, 1) or t.note(r.describe())
    if not check_report_shape(t, "wrong reply", r):
        return
    t.eq("wrong reply: wrong == count", r.get("wrong"), 300)
    t.eq("wrong reply: ok == 0", r.get("ok"), 0)
    t.eq("wrong reply: no error", errors_total(r), 0)
    t.ok("wrong reply: stderr shows the reply", b'"NOPE"' in r.err,
         h.short(r.err))


def closed_port():
    """A port nobody listens on (bound, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_closed_port(t):
    """Nobody listening: connect errors, non-zero exit, still a report."""
    r = Run(["--port", closed_port(), "--count", 200, "--concurrency", 4,
             "--json"])
    t.ok("closed port: non-zero exit", r.status not in (0, None),
         r.describe())
    if not check_report_shape(t, "closed port", r):
        return
    t.ok("closed port: errors.connect > 0",
         (r.get("errors", "connect") or 0) > 0, r.describe())
    t.eq("closed port: ok == 0", r.get("ok"), 0)
    t.eq("closed port: every connection failed to connect",
         r.get("errors", "connect"), r.get("connections"))
    t.ok("closed port: stderr names the reason",
         b"refused" in r.err, h.short(r.err))


def test_duration(t, tmp):
    """--duration 1: about a second measured, a positive rate."""
    d = h.Daemon(tmp, workers=2, log_name="duration.log")
    r = Run(["--port", d.port, "--duration", 1, "--concurrency", 16,
             "--json", "--quiet"])
    t.eq("duration run: exit 0", r.status, 0) or t.note(r.describe())
    if not check_report_shape(t, "duration run", r):
        return
    t.ok("duration run: rate > 0", (r.get("rate") or 0) > 0, r.describe())
    t.ok("duration run: duration_s close to 1",
         0.9 <= (r.get("duration_s") or 0) <= 1.1, r.describe())
    t.eq("duration run: ok == connections", r.get("ok"),
         r.get("connections"))


def test_flags(t):
    """--help and --version exit 0; a bad value exits 64 with one line."""
    r = Run(["--help"])
    t.eq("--help: exit 0", r.status, 0)
    t.ok("--help: mentions --concurrency", b"--concurrency" in r.out,
         h.short(r.out))
    r = Run(["--version"])
    t.eq("--version: exit 0", r.status, 0)
    t.ok("--version: names ackd-bench", r.out.startswith(b"ackd-bench "),
         h.short(r.out))
    r = Run(["--concurrency", "abc"])
    t.eq("--concurrency abc: exit 64", r.status, 64)
    t.eq("--concurrency abc: one line on stderr", r.err,
         b"ackd-bench: --concurrency: 'abc' is not a number "
         b"(allowed: 1-100000)\n")
    r = Run(["--record", "/dev/null"])
    t.eq("--record without --unique: exit 64", r.status, 64)


def main(t, tmp):
    if not os.access(bench_path(), os.X_OK):
        raise h.Skip("no executable ackd-bench at %s (set ACKD_BENCH)" %
                     bench_path())
    test_flags(t)
    test_acked_and_logged(t, tmp)
    test_wrong_reply(t, tmp)
    test_closed_port(t)
    test_duration(t, tmp)


if __name__ == "__main__":
    h.run("bench", main, deadline=120)
