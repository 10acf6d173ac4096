#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_basic.py: one client at a time against a real ackd on loopback.

The ACK and its log line, the client's address, escaping of every byte in
the text and json formats (JSON: UTF-8 text as msg, other bytes as
msg_b64, read back with nothing but the json module), empty connections,
truncation, --ack, the read timeout, IPv6, and a clean SIGTERM with the
worker counters.
"""

import base64
import collections
import json
import os
import random
import re
import shutil
import signal
import stat
import string
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def msg_lines(d, sport, host="127.0.0.1"):
    """The log's event=message lines of the client on source port sport."""
    client = "[%s]:%d" % (host, sport) if ":" in host else \
        "%s:%d" % (host, sport)
    return [r for r in d.records()
            if r.event == "message" and r.get("client") == client]


def one(t, label, recs):
    """Check there is exactly one record; return it (or an empty one)."""
    t.eq("%s: exactly one event=message line for the client" % label,
         len(recs), 1)
    return recs[0] if recs else h.Record()


def check_start(t, d):
    """The start line and the workers it announces."""
    s = d.start_rec
    t.eq("start: pid= is the master's", s.get("pid"), d.pid)
    t.eq("start: listen= is 127.0.0.1 and the real port",
         s.get("listen"), "127.0.0.1:%d" % d.port)
    t.ok("start: the reported port is not 0", d.port > 0, "port 0")
    t.eq("start: workers=2", s.get("workers"), 2)
    t.eq("start: threads=4", s.get("threads"), 4)
    t.eq("start: queue=256 (the default)", s.get("queue"), 256)
    t.eq("start: version=0.1.0", s.get("version"), "0.1.0")
    t.eq("start: the worker-start pids are the master's children",
         sorted(d.worker_pids), d.live_workers())
    mode = stat.S_IMODE(os.stat(d.log_path).st_mode)
    t.eq("log file created with mode 0640 (umask 022)", oct(mode),
         oct(0o640))


def check_hello(t, d):
    """hello -> ACK!, one exact line with the client's own port."""
    r = h.client(d.port, b"hello")
    t.eq("hello: the reply is exactly ACK!", r.data, h.ACK)
    t.ok("hello: the daemon then closes (EOF, no error)", r.error is None,
         repr(r.error))
    # read at once: the line must be written before the ACK is sent
    rec = one(t, "hello", msg_lines(d, r.sport))
    t.eq("hello: bytes=5", rec.get("bytes"), 5)
    t.eq('hello: msg="hello"', rec.get("msg"), b"hello")
    t.ok("hello: pid= is one of the worker pids",
         rec.get("pid") in d.worker_pids,
         "pid=%s, workers %s" % (rec.get("pid"), d.worker_pids))
    want = (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z 127\.0\.0\.1:%d "
            r"pid=%d event=message bytes=5 msg=\"hello\"$" %
            (r.sport, rec.get("pid", 0))).encode()
    t.ok("hello: the line is exactly TS CLIENT pid= event= bytes= msg=",
         re.match(want, rec.raw), "line %s" % h.short(rec.raw))
    return 1 if r.data == h.ACK else 0


def check_telnet(t, d):
    """hello\\r\\n is logged escaped, on one line."""
    r = h.client(d.port, b"hello\r\n")
    t.eq("telnet: the reply is ACK!", r.data, h.ACK)
    rec = one(t, "telnet", msg_lines(d, r.sport))
    t.ok('telnet: logged as msg="hello\\r\\n"',
         rec.raw.endswith(b' bytes=7 msg="hello\\r\\n"'),
         "line %s" % h.short(rec.raw))
    t.eq("telnet: the decoded msg is the sent bytes", rec.get("msg"),
         b"hello\r\n")
    return 1 if r.data == h.ACK else 0


def check_empty(t, d):
    """Connect and close without sending: event=empty, no crash."""
    c = h.Conn(d.port)
    sport = c.reply.sport
    c.close()
    client = "127.0.0.1:%d" % sport
    recs = d.wait_records(lambda r: r.get("client") == client, timeout=10)
    t.eq("empty: one line for the client", len(recs), 1)
    rec = recs[0] if recs else h.Record()
    t.eq("empty: event=empty", rec.event, "empty")
    t.eq("empty: bytes=0", rec.get("bytes"), 0)
    t.ok("empty: no msg field", "msg" not in rec, h.short(rec.raw))
    r = h.client(d.port, b"after-empty")
    t.eq("empty: the next client still gets ACK!", r.data, h.ACK)
    t.ok("empty: the master still runs", d.proc.poll() is None,
         "exited %s" % d.proc.returncode)
    t.eq("empty: no worker died", d.events("worker-exit"), [])
    t.eq("empty: the same workers still run", d.live_workers(),
         sorted(d.worker_pids))
    return 1 if r.data == h.ACK else 0


def check_sizes(t, d):
    """3000 bytes with --max-message 1024: truncated; 1024: not."""
    acks = 0
    data = "".join(random.choice(string.ascii_letters)
                   for _ in range(3000)).encode()
    r = h.client(d.port, data)
    t.eq("oversized: the reply is ACK!", r.data, h.ACK)
    if r.error is not None:
        t.note("oversized: after the ACK the client saw %r" % r.error)
    rec = one(t, "oversized", msg_lines(d, r.sport))
    t.eq("oversized: bytes=1024", rec.get("bytes"), 1024)
    t.eq("oversized: truncated=1", rec.get("truncated"), 1)
    t.ok("oversized: msg is the first 1024 bytes sent",
         rec.get("msg") == data[:1024],
         "logged %d bytes, equal prefix: %s" % (len(rec.get("msg", b"")),
                                               rec.get("msg") == data[:1024]))
    acks += r.data == h.ACK
    data = b"x" * 1023 + b"y"
    r = h.client(d.port, data)
    t.eq("exactly 1024 bytes: the reply is ACK!", r.data, h.ACK)
    rec = one(t, "exactly 1024 bytes", msg_lines(d, r.sport))
    t.eq("exactly 1024 bytes: bytes=1024", rec.get("bytes"), 1024)
    t.ok("exactly 1024 bytes: not marked truncated",
         rec.get("truncated") in (None, 0), h.short(rec.raw[:120]))
    t.ok("exactly 1024 bytes: logged whole", rec.get("msg") == data,
         "differs")
    acks += r.data == h.ACK
    return acks


def check_all_bytes(t, d):
    """Every byte value in one message, escaped per the spec."""
    data = bytes(range(256))
    r = h.client(d.port, data)
    t.eq("all bytes: the reply is ACK!", r.data, h.ACK)
    rec = one(t, "all bytes", msg_lines(d, r.sport))
    t.ok("all bytes: the line parses", rec.error is None, rec.error)
    t.eq("all bytes: bytes=256", rec.get("bytes"), 256)
    t.ok("all bytes: the decoded msg equals the bytes sent",
         rec.get("msg") == data, "decoded %s" % h.short(rec.get("msg")))
    bad = sorted({c for c in rec.raw if not 0x20 <= c <= 0x7e})
    t.ok("all bytes: the raw line has no byte outside 0x20-0x7E", not bad,
         "bytes %s" % ["0x%02x" % c for c in bad])
    t.ok("all bytes: the escaping is exactly the spec's "
         "(\\\\ \\\" \\n \\r \\t, else \\xNN lowercase)",
         rec.raw.endswith(b' msg="' + h.escape_text(data) + b'"'),
         "line %s" % h.short(rec.raw))
    return 1 if r.data == h.ACK else 0


def check_well_formed(t, d):
    """Every line parses; connection events have client and bytes."""
    recs = d.records()
    h.check_lines_parse(t, "text log", recs)
    bad = [r.raw for r in recs if not r.error and
           (r.get("client") is None) != ("bytes" not in r)]
    t.ok("text log: bytes= on connection lines only", not bad,
         h.short(bad[:3]))
    bad = [r.raw for r in recs if not r.error and
           (r.event == "message") != ("msg" in r)]
    t.ok("text log: msg= on event=message lines only", not bad,
         h.short(bad[:3]))


def check_stop(t, d, acks):
    """SIGTERM: exit 0, shutdown and stop lines, worker counters."""
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(15)
    t.eq("SIGTERM: the master exits 0", rc, 0)
    recs = d.records()
    last = recs[-1] if recs else h.Record()
    t.ok("SIGTERM: the last line is event=stop status=0",
         last.event == "stop" and last.get("status") == 0,
         "last line %s" % h.short(last.raw))
    t.ok("SIGTERM: an event=shutdown line from the master",
         any(r.event == "shutdown" and r.get("pid") == d.pid for r in recs),
         "none")
    stops = [r for r in recs if r.event == "worker-stop"]
    t.eq("SIGTERM: one worker-stop line per worker",
         sorted(r.get("pid") for r in stops), sorted(d.worker_pids))

    def total(key):
        return sum(r.get(key, 0) for r in stops
                   if isinstance(r.get(key), int))
    t.eq("worker-stop: acked adds up to the ACKs clients got",
         total("acked"), acks)
    t.eq("worker-stop: empty adds up to 1", total("empty"), 1)
    t.eq("worker-stop: truncated adds up to 1", total("truncated"), 1)
    t.eq("worker-stop: accepted adds up to every connection",
         total("accepted"), acks + 1)
    t.eq("SIGTERM: no worker left", d.pids_gone(d.worker_pids), [])


def check_json(t, tmp):
    """--log-format json: every line is JSON, msg decodes losslessly."""
    d = h.Daemon(tmp, ["--threads", "2"], workers=1, fmt="json",
                 log_name="json.log")
    sends = [("json hello", b"hello"), ("json all bytes", bytes(range(256))),
             ("json escapes", b'tab\there "q" \\ end\n'),
             ("json utf-8", "h\u00e9llo \u20ac \u2028 \x1b[1m \u0085 \U0001f600"
              .encode("utf-8"))]
    replies = [h.client(d.port, data) for _, data in sends]
    recs = d.records()
    h.check_lines_parse(t, "json log", recs)
    for (label, data), r in zip(sends, replies):
        t.eq("%s: the reply is ACK!" % label, r.data, h.ACK)
        mine = [x for x in recs if x.event == "message" and
                x.get("client") == "127.0.0.1:%d" % r.sport]
        rec = one(t, label, mine)
        t.ok("%s: msg (UTF-8) or msg_b64 gives back the bytes sent" % label,
             rec.get("msg") == data, "got %s" % h.short(rec.get("msg")))
        t.ok("%s: bytes is a JSON number equal to the length" % label,
             type(rec.get("bytes")) is int and rec["bytes"] == len(data),
             "bytes=%r" % (rec.get("bytes"),))
        t.ok("%s: pid is a JSON number, one of the workers" % label,
             type(rec.get("pid")) is int and rec["pid"] in d.worker_pids,
             "pid=%r" % (rec.get("pid"),))
        t.ok("%s: msg escaped exactly per the spec (%s)" % (label,
             "text" if h.is_utf8(data) else "base64"),
             h.json_msg_member(data) in rec.raw,
             "line %s" % h.short(rec.raw))
    s = d.start_rec
    t.ok("json start: workers is the number 1",
         type(s.get("workers")) is int and s["workers"] == 1,
         h.short(s.raw))
    t.eq("json start: version is the string 0.1.0", s.get("version"),
         "0.1.0")
    t.ok('json start: no "client" and no "bytes" on a daemon event',
         b'"client"' not in s.raw and b'"bytes"' not in s.raw,
         h.short(s.raw))



def raw_json_lines(path):
    """The log at path as a JSON consumer sees it: each line through
    json.loads, nothing of the harness in between."""
    with open(path, "rb") as f:
        return [json.loads(line.decode("utf-8"))
                for line in f.read().split(b"\n")[:-1]]


def check_json_utf8(t, tmp):
    """
    Issue 10, finding 6: a client's UTF-8 text is the msg a JSON consumer
    reads (jq -r .msg, json.loads), not Latin-1 mojibake; a message that
    is not UTF-8 is msg_b64, which decodes to its bytes. With ackd-bench
    --unique --record: every acknowledged message is logged once, as text.
    """
    d = h.Daemon(tmp, ["--threads", "4"], workers=1, fmt="json",
                 log_name="utf8.log")
    text = "h\u00e9llo \u20ac"     # héllo €
    # not UTF-8: a Latin-1 byte, an overlong '/', a surrogate, a cut '€'
    bad = b"caf\xe9 \xc0\xaf \xed\xa0\x80 \xe2\x82"
    r1 = h.client(d.port, text.encode("utf-8"))
    r2 = h.client(d.port, bad)
    t.ok("utf-8: both messages are acknowledged",
         r1.data == h.ACK and r2.data == h.ACK, h.short((r1, r2)))
    objs = raw_json_lines(d.log_path)
    mine = [o for o in objs if o.get("event") == "message"]
    by = {o.get("client"): o for o in mine}
    o1 = by.get("127.0.0.1:%d" % r1.sport, {})
    o2 = by.get("127.0.0.1:%d" % r2.sport, {})
    t.eq("utf-8: json.loads(line)['msg'] is the client's text 'h\u00e9llo "
         "\u20ac'", o1.get("msg"), text)
    t.ok("utf-8: the line holds the characters themselves, no msg_b64",
         "msg_b64" not in o1 and text.encode("utf-8") in
         open(d.log_path, "rb").read(), h.short(o1))
    t.ok("not utf-8: no msg, and msg_b64 decodes to the bytes sent",
         "msg" not in o2 and isinstance(o2.get("msg_b64"), str) and
         base64.b64decode(o2["msg_b64"], validate=True) == bad,
         h.short(o2))
    t.eq("not utf-8: bytes counts the bytes sent", o2.get("bytes"), len(bad))

    if not os.access(h.bench_path(), os.X_OK):
        t.skip("utf-8: ackd-bench accounting", "no ackd-bench at %s" %
               h.bench_path())
        return
    record = os.path.join(tmp, "utf8.record")
    args = [h.bench_path(), "--port", str(d.port), "--count", "200",
            "--concurrency", "8", "--unique", "--record", record,
            "--message", text.encode("utf-8"), "--quiet"]
    p = subprocess.run(args, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    t.eq("utf-8 bench: ackd-bench exits 0", p.returncode, 0) or \
        t.note(h.short(p.stderr))
    with open(record, "rb") as f:
        recorded = f.read().split(b"\n")[:-1]
    logged = collections.Counter(o["msg"].encode("utf-8")
                                 for o in raw_json_lines(d.log_path)
                                 if o.get("event") == "message" and
                                 "msg" in o)
    t.eq("utf-8 bench: 200 acknowledged, recorded", len(recorded), 200)
    t.ok("utf-8 bench: every recorded message is a msg, exactly once",
         all(logged[m] == 1 and m.endswith(text.encode("utf-8"))
             for m in recorded),
         h.short([m for m in recorded if logged[m] != 1][:3]))


def check_custom_ack(t, tmp):
    """--ack TEXT is the reply, sent as given."""
    ack = "got it: 200\\n OK\r\n"
    d = h.Daemon(tmp, ["--ack", ack], workers=1, log_name="ack.log")
    r = h.client(d.port, b"custom")
    t.eq("--ack: the reply is exactly the given text", r.data,
         ack.encode())
    t.eq("--ack: the message is logged", len(msg_lines(d, r.sport)), 1)


def check_timeout(t, tmp):
    """--read-timeout 0.3, nothing sent: event=timeout, EOF, no ACK."""
    d = h.Daemon(tmp, ["--read-timeout", "0.3"], workers=1,
                 log_name="timeout.log")
    c = h.Conn(d.port)
    r = c.read_all(timeout=15)
    c.close()
    t.eq("timeout: the client gets no ACK, only the end of the stream",
         r.data, b"")
    t.ok("timeout: the daemon closes the connection (EOF, no error)",
         r.error is None, repr(r.error))
    client = "127.0.0.1:%d" % r.sport
    recs = [x for x in d.records() if x.get("client") == client]
    t.eq("timeout: one event=timeout line for the client",
         [x.event for x in recs], ["timeout"])
    if recs:
        t.eq("timeout: bytes=0", recs[0].get("bytes"), 0)
    r = h.client(d.port, b"after-timeout")
    t.eq("timeout: the next client gets ACK!", r.data, h.ACK)


def check_defer_accept(t, tmp):
    """
    Silent clients wait in the kernel (TCP_DEFER_ACCEPT), not in a handler:
    with one thread and a 30 s read timeout, a client that sends still gets
    its ACK while three silent ones are connected. Without deferred accept
    the thread would sit on the first silent client for 30 s, past the
    client's 10 s limit.
    """
    if not sys.platform.startswith("linux"):
        t.skip("defer-accept: silent clients hold no thread",
               "TCP_DEFER_ACCEPT is Linux only")
        return
    d = h.Daemon(tmp, ["--threads", "1", "--queue", "1", "--read-timeout",
                       "30"], workers=1, log_name="defer.log")
    silent = [h.Conn(d.port) for _ in range(3)]
    r = h.client(d.port, b"not-silent", timeout=10)
    t.eq("defer-accept: a client gets ACK! past 3 silent ones", r.data,
         h.ACK)
    t.eq("defer-accept: the silent ones were never handed to a thread",
         [x.event for x in d.records() if x.get("client") is not None],
         ["message"])
    for c in silent:
        c.close()


def check_sync(t, tmp):
    """
    --sync: concurrent clients are all ACKed, each message logged once; when
    strace is there, the daemon is run under it to see that it does call
    fdatasync, and fewer times than it acknowledges (the group commit).
    """
    trace = os.path.join(tmp, "sync.strace")
    saved = os.environ.get("ACKD")
    if shutil.which("strace"):
        wrap = os.path.join(tmp, "strace-ackd.sh")
        with open(wrap, "w") as f:
            f.write("#!/bin/sh\nexec strace -f -qq -e trace=fdatasync "
                    "-o '%s' '%s' \"$@\"\n" % (trace, h.ackd_path()))
        os.chmod(wrap, 0o755)
        os.environ["ACKD"] = wrap
    try:
        d = h.Daemon(tmp, ["--sync", "--threads", "8"], workers=2,
                     log_name="sync.log")
    finally:
        os.environ["ACKD"] = saved
    load = h.Load(d.port, "sync", threads=16, per_thread=25).start()
    t.ok("--sync: the clients finish", load.join(30), "still running")
    res = load.snapshot()
    t.eq("--sync: all 400 clients get ACK!",
         len([r for r in res if r.reply.data == h.ACK]), 400)
    h.check_acks_logged(t, "--sync", res, d.records(),
                        logged_means_acked=True)
    if not os.path.exists(trace):
        t.skip("--sync: fdatasync before the ACKs", "no strace")
        return
    with open(trace) as f:
        syncs = sum(1 for line in f if "fdatasync(" in line and
                    "= 0" in line)
    t.ok("--sync: the daemon called fdatasync", syncs > 0, "never")
    t.ok("--sync: at most one fdatasync per message", syncs <= 400,
         "%d syncs for 400 messages" % syncs)
    t.note("--sync: %d fdatasync calls for 400 messages" % syncs)


def check_ipv6(t, tmp):
    """--bind ::1: the ACK, and the client logged as [::1]:port."""
    why = h.ipv6_unavailable()
    if why:
        t.skip("IPv6: --bind ::1", why)
        return
    d = h.Daemon(tmp, [], workers=1, bind="::1", log_name="v6.log")
    t.eq("IPv6: listen= is [::1]:PORT", d.start_rec.get("listen"),
         "[::1]:%d" % d.port)
    r = h.client(d.port, b"hello6", host="::1")
    t.eq("IPv6: the reply is ACK!", r.data, h.ACK)
    recs = msg_lines(d, r.sport, host="::1")
    t.eq("IPv6: one line with client=[::1]:<source port>", len(recs), 1)


def main(t, tmp):
    d = h.Daemon(tmp, ["--threads", "4"], workers=2)
    check_start(t, d)
    acks = check_hello(t, d)
    acks += check_telnet(t, d)
    acks += check_empty(t, d)
    acks += check_sizes(t, d)
    acks += check_all_bytes(t, d)
    check_well_formed(t, d)
    check_stop(t, d, acks)
    check_json(t, tmp)
    check_json_utf8(t, tmp)
    check_custom_ack(t, tmp)
    check_timeout(t, tmp)
    check_defer_accept(t, tmp)
    check_sync(t, tmp)
    check_ipv6(t, tmp)


if __name__ == "__main__":
    h.run("basic", main, deadline=60)
