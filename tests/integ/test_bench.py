#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_bench.py: ackd-bench against a real ackd, a wrong one and nobody.

2,000 unique messages from 32 connections in flight: exit 0, the JSON
report has exactly its documented keys, every connection ok; every message
ackd-bench recorded as acknowledged is in ackd's log exactly once, and the
log holds nothing else. Against ackd --ack NOPE every reply is wrong (exit
1); against a closed port every connection is a connect error (exit 1).
--duration 1 gives a positive rate. Against a server that never answers,
every connection still in flight when the run ends (by --duration, after
a --warmup, or by SIGTERM) is counted as an unfinished error, with its age
in the latency figures; against ackd there is none.

The attack modes, each against a server of this script that holds what it
accepts and closes connections when told: --silent sends nothing, from
the --attack-sources addresses after those of --sources, and counts each
close by the server (FIN or reset), each reconnect and each connection
still open at the end; --trickle sends the filler a byte at a time, no
faster than it says, after --attack-size bytes at once, and on after the
server's FIN until its reset; --no-read sends
the message and never reads the reply (its close resets the unread reply).
Against a closed port every attack connection fails. Beside a real ackd,
one invocation reports both groups. ackd --framing eof answers a
--half-close client at once, and no other. ackd-bench is $ACKD_BENCH, or
src/ackd-bench; the script is skipped if there is none.

--tls against a TLS server of this script (Python's ssl, certificates
made by openssl req in the test's directory) that reads once, answers
ACK! and sends close_notify: every connection is ok, each a handshake,
each message read whole in one read (the --unique prefix and the
message in one record); --tls-ca with the server's certificate verifies
it, with another one every connection is a tls error naming the failed
verification. --tls-resume reports resumed handshakes exactly as many as
the server saw resumed: all but each client's first when the server
keeps one ticket key, none when it issues no tickets, and none (every
later connection offering a session) when it issues tickets it cannot
take back (a new key per connection). In a build without TLS, --tls
exits 64 with one line saying so, and these tests stop there.

Before all that, without ackd-bench: the benchmark runner's context-switch
sampling (tests/bench/run.py) on a Python child whose second thread
sleeps SLEEPS times: per thread, never decreasing, at least SLEEPS more
once the thread has slept, a thread that exits is counted gone and not
negative, a process that is gone has no threads, and the runner's wait4
reaping still counts the exited thread's switches. No timing is judged.
"""

import collections
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "bench"))
import run as rb  # noqa: E402  (tests/bench/run.py, the bench runner)

COUNT = 2000
CONCURRENCY = 32

# the report's keys, as ackd-bench(1) promises them
KEYS = {"host", "port", "concurrency", "threads", "message_bytes",
        "duration_s", "connections", "ok", "wrong", "errors", "rate",
        "unfinished_age_us", "latency_us", "attack", "tls"}
ATTACK_KEYS = {"mode", "concurrency", "sources", "first_bytes", "trickle_s",
               "duration_s", "connections", "reconnects", "opened",
               "failed", "closed", "reset", "open_at_end",
               "connecting_at_end", "oldest_open_us", "bytes_sent",
               "held_us"}
ERROR_KEYS = {"connect", "reset", "timeout", "other", "tls", "unfinished"}
LATENCY_KEYS = {"p50", "p90", "p99", "p999", "max", "mean"}
SLEEPS = 50         # each a voluntary context switch of the sleeper

# a child: "ready", then on a line a thread sleeps SLEEPS times, "slept",
# then on a line it exits, "joined"; it exits at the end of its input
SLEEPER = """
import sys, threading, time
def work():
    for _ in range(%d):
        time.sleep(0.001)
    print("slept", flush=True)
    sys.stdin.readline()
print("ready", flush=True)
sys.stdin.readline()
t = threading.Thread(target=work)
t.start()
t.join()
print("joined", flush=True)
sys.stdin.readline()
""" % SLEEPS



class Run:
    """
    One finished ackd-bench: status, stdout, stderr, parsed JSON. If given,
    during(proc) is called once it has started, to act on it.
    """

    def __init__(self, args, timeout=60, during=None):
        self.args = [h.bench_path()] + [str(a) for a in args]
        p = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            if during is not None:
                during(p)
            self.out, self.err = p.communicate(timeout=timeout)
            self.status = p.returncode
        except subprocess.TimeoutExpired:
            self.status = None
        finally:
            if p.poll() is None:
                p.kill()
                self.out, self.err = p.communicate()
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
    t.eq("%s: errors has exactly connect, reset, timeout, other, tls, "
         "unfinished" % label,
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


def test_closed_port(t):
    """Nobody listening: connect errors, non-zero exit, still a report."""
    r = Run(["--port", h.free_port(), "--count", 200, "--concurrency", 4,
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
    t.eq("duration run: no connection unfinished",
         [r.get("errors", "unfinished"), r.get("unfinished_age_us")], [0, 0])


class Silent:
    """
    A server that never answers: it listens with room in its backlog for
    every connection, so each connect completes in the kernel, and it never
    reads or writes. accept() takes n of them, to know they are there.
    """

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.held = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for s in self.held + [self.sock]:
            s.close()

    def accept(self, n, timeout):
        """Accept n connections within timeout s; False if fewer came."""
        self.sock.settimeout(timeout)
        try:
            while len(self.held) < n:
                self.held.append(self.sock.accept()[0])
        except socket.timeout:
            return False
        return True


def check_unfinished(t, label, r, n, age_us):
    """
    The n connections were all still waiting when the run ended: each is
    an unfinished error (exit 1), aged at least age_us, and the latency
    figures count them at their age.
    """
    t.eq("%s: exit 1" % label, r.status, 1) or t.note(r.describe())
    if not check_report_shape(t, label, r):
        return
    t.eq("%s: errors.unfinished == connections == %d, nothing else" %
         (label, n), [r.get("errors", "unfinished"), r.get("connections"),
                      r.get("ok"), r.get("wrong"), errors_total(r)],
         [n, n, 0, 0, n])
    age = r.get("unfinished_age_us") or 0
    lat = r.get("latency_us") or {}
    t.ok("%s: the oldest was open at least %d us" % (label, age_us),
         age >= age_us, r.describe())
    t.ok("%s: latency p50 and max count the waiting clients" % label,
         lat.get("p50", 0) >= age_us and lat.get("max", 0) >= age,
         r.describe())
    t.ok("%s: stderr names the unfinished connections" % label,
         b"%d unfinished errors, oldest " % n in r.err,
         h.short(r.err))


def test_silent(t):
    """
    --duration 0.5 against a server that never answers: all the clients are
    still waiting when the run ends, each at least 0.5 s old; the text
    report shows them among the errors.
    """
    n = 8
    with Silent() as srv:
        r = Run(["--port", srv.port, "--duration", 0.5, "--concurrency", n,
                 "--json"])
        check_unfinished(t, "silent server", r, n, 500000)
        r = Run(["--port", srv.port, "--duration", 0.2, "--concurrency", n,
                 "--quiet"])
    t.eq("silent server, text: exit 1", r.status, 1)
    t.ok("silent server, text: the errors line counts them",
         b"errors       %d: connect 0, reset 0, timeout 0, other 0, "
         b"unfinished %d\n" % (n, n) in r.out, h.short(r.out))
    t.ok("silent server, text: a line gives the oldest one's age",
         b"%d unfinished errors, oldest " % n in r.out,
         h.short(r.out))


def test_silent_warmup(t):
    """
    Connections started during --warmup and still open at the end waited
    through the whole measured time: they are unfinished too.
    """
    n = 4
    with Silent() as srv:
        r = Run(["--port", srv.port, "--warmup", 0.3, "--duration", 0.2,
                 "--concurrency", n, "--json"])
    check_unfinished(t, "silent server after warmup", r, n, 200000)


def test_silent_sigterm(t, tmp):
    """
    SIGTERM while every connection waits for a server that accepted it:
    the report counts each as unfinished, and none is recorded, since none
    was acknowledged.
    """
    n = 4
    record = os.path.join(tmp, "silent.record")

    def stop(p):
        # accepted: ackd-bench has connected, so its handlers are set
        t.ok("sigterm: ackd-bench connected %d times" % n,
             srv.accept(n, 30), "only %d" % len(srv.held))
        p.send_signal(signal.SIGTERM)

    with Silent() as srv:
        r = Run(["--port", srv.port, "--count", 1000, "--concurrency", n,
                 "--timeout", 60, "--unique", "--record", record, "--json"],
                timeout=30, during=stop)
    check_unfinished(t, "sigterm", r, n, 0)
    with open(record, "rb") as f:
        t.eq("sigterm: nothing recorded as acknowledged", f.read(), b"")


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
         b"(allowed: 0-100000)\n")
    r = Run(["--record", "/dev/null"])
    t.eq("--record without --unique: exit 64", r.status, 64)


# What the option engine (src/common/opt.c) says about one bad flag: ackd-bench's
# words, byte for byte, as ackd's are checked in test_flags.py.
BENCH_FLAG_ERRORS = [
    (["-m"], "--message: missing value (allowed: 0-1048576 bytes)"),
    (["-H"], "--host: missing value (allowed: a host name or a numeric "
             "IPv4 or IPv6 address)"),
    (["--duration"], "--duration: missing value (allowed: 0.001-86400)"),
    (["-p0"], "--port: '0' is out of range (allowed: 1-65535)"),
    (["--timeout=0.0001"],
     "--timeout: '0.0001' is out of range (allowed: 0.001-86400)"),
    (["--host="], "--host: empty value (allowed: a host name or a numeric "
                  "IPv4 or IPv6 address)"),
    (["extra"], "unexpected argument 'extra' (ackd-bench takes only "
                "options)"),
    (["--nope"], "unknown option '--nope' (see ackd-bench --help)"),
    (["--json=1"], "unknown option '--json=1' (see ackd-bench --help)"),
    # in a group of short flags the unknown letter is named, as ackd does
    # (the bench's own engine named the group, or argv[0] for -zj)
    (["-jz"], "unknown option '-z' (see ackd-bench --help)"),
    (["-zj"], "unknown option '-z' (see ackd-bench --help)"),
    (["-q1"], "unknown option '-1' (see ackd-bench --help)"),
    (["--silent"], "--silent: needs --attack-concurrency N (allowed: "
                   "1-100000 attack clients)"),
    (["--trickle", "0"], "--trickle: '0' is out of range (allowed: "
                         "0.001-86400)"),
    (["-a", "3"], "--attack-concurrency: needs an attack mode (allowed: "
                  "--trickle SEC, --silent or --no-read)"),
    (["--attack-size", "9"], "--attack-size: needs an attack mode "
                             "(allowed: --trickle SEC, --silent or "
                             "--no-read)"),
    (["-a", "3", "--silent", "--no-read"],
     "--trickle, --silent, --no-read: 2 of them given (allowed: one "
     "attack mode)"),
    (["-c", "0"], "--concurrency: 0 needs an attack (allowed: 1-100000, "
                  "or 0 with --attack-concurrency)"),
    (["-c", "0", "-a", "1", "--silent", "-n", "5"],
     "--count: counts well-behaved connections, but --concurrency is 0"),
]


def test_flag_errors(t):
    """Each bad flag: exit 64 and one line naming it and what is allowed."""
    for args, want in BENCH_FLAG_ERRORS:
        r = Run(args)
        name = " ".join(args)
        t.eq(name + ": exit 64", r.status, 64)
        t.eq(name + ": the line", r.err,
             ("ackd-bench: " + want + "\n").encode())


class Holder:
    """
    A server that accepts and holds connections, and closes one when the
    test says: with a FIN, or with a reset (SO_LINGER 0).
    """

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.held = []      # (socket, peer address) in accept order

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for s, _ in self.held:
            s.close()
        self.sock.close()

    def accept(self, n, timeout=30):
        """Accept n more connections within timeout s: their (sock, peer)."""
        self.sock.settimeout(timeout)
        new = []
        try:
            while len(new) < n:
                conn, peer = self.sock.accept()
                new.append((conn, peer[0]))
        except socket.timeout:
            pass
        self.held += new
        return new

    def close(self, conn, reset=False):
        """Close conn, with a reset if asked; forget it."""
        if reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        conn.close()
        self.held = [(s, p) for s, p in self.held if s is not conn]


def read_n(conn, n, timeout=30):
    """Read until n bytes came, the peer closed, or timeout s passed."""
    conn.settimeout(timeout)
    data = b""
    try:
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    return data


def filler(n, start=0):
    """The bytes start..start+n of ackd-bench's filler."""
    chars = (b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV"
             b"WXYZ")
    return bytes(chars[(start + i) % len(chars)] for i in range(n))


def check_attack_shape(t, label, r):
    """The report's attack object has exactly its documented keys."""
    a = r.get("attack")
    if not t.ok("%s: attack is an object" % label, isinstance(a, dict),
                r.describe()):
        return {}
    t.eq("%s: attack has exactly the documented keys" % label, sorted(a),
         sorted(ATTACK_KEYS))
    t.eq("%s: attack.held_us has exactly p50 p90 p99 p999 max mean" %
         label, sorted(a.get("held_us") or {}), sorted(LATENCY_KEYS))
    t.eq("%s: failed + closed + open + connecting == connections" % label,
         sum(a.get(k, 0) for k in ("failed", "closed", "open_at_end",
                                   "connecting_at_end")),
         a.get("connections"))
    return a


def test_attack_silent(t):
    """
    4 silent clients, from 2 addresses after --sources 3's, against a
    server that closes 2 of their connections with a FIN and 1 with a
    reset, then takes the 3 reconnects: nothing sent, 3 closed (1 reset),
    3 reconnects, 4 open at the end, exit 0 (--concurrency 0: the attack
    alone, and it connected).
    """
    with Holder() as srv:
        seen = {}

        def attack(p):
            first = srv.accept(4)
            seen["first"] = first
            if not t.eq("silent: 4 connections accepted", len(first), 4):
                return
            srv.close(first[0][0])
            srv.close(first[1][0])
            srv.close(first[2][0], reset=True)
            seen["again"] = srv.accept(3)
            seen["got"] = []
            for conn, _ in srv.held:
                conn.setblocking(False)
                try:
                    seen["got"].append(conn.recv(100))
                except BlockingIOError:
                    pass
            p.send_signal(signal.SIGTERM)

        r = Run(["--port", srv.port, "--concurrency", 0, "-a", 4,
                 "--silent", "--sources", 3, "--attack-sources", 2,
                 "--duration", 60, "--json"], during=attack)
    t.eq("silent: exit 0", r.status, 0) or t.note(r.describe())
    t.eq("silent: the 3 reconnects accepted", len(seen.get("again", ())), 3)
    t.eq("silent: the server got no byte, nor a close", seen.get("got"),
         [])
    peers = [p for _, p in seen.get("first", []) + seen.get("again", [])]
    t.eq("silent: from 127.0.0.5 and 127.0.0.6 in turn (after --sources "
         "3's 127.0.0.2-4)", peers[:4],
         ["127.0.0.5", "127.0.0.6", "127.0.0.5", "127.0.0.6"])
    if not check_report_shape(t, "silent", r):
        return
    a = check_attack_shape(t, "silent", r)
    t.eq("silent: mode, concurrency, sources, first_bytes, trickle_s",
         [a.get(k) for k in ("mode", "concurrency", "sources",
                             "first_bytes", "trickle_s")],
         ["silent", 4, 2, 0, 0])
    t.eq("silent: connections 7, reconnects 3, opened 7, failed 0",
         [a.get(k) for k in ("connections", "reconnects", "opened",
                             "failed")], [7, 3, 7, 0])
    t.eq("silent: closed 3, of them reset 1",
         [a.get("closed"), a.get("reset")], [3, 1])
    t.eq("silent: open at the end 4, none still connecting",
         [a.get("open_at_end"), a.get("connecting_at_end")], [4, 0])
    t.eq("silent: bytes_sent 0", a.get("bytes_sent"), 0)
    t.ok("silent: held and oldest open ages are positive",
         a["held_us"]["max"] > 0 and a["oldest_open_us"] > 0, h.short(a))
    t.eq("silent: no well-behaved connection",
         [r.get("connections"), r.get("ok")], [0, 0])


def test_attack_trickle(t):
    """
    2 tricklers with --attack-size 70 and --trickle 0.05: each connection
    gets the filler, 70 bytes then one at a time. The server's FIN does
    not stop one (a lingering close goes on reading); closing its socket
    does (the next byte is reset), and its client comes back. No more
    bytes were sent than 70 and one per 0.05 s of the attack allow.
    """
    with Holder() as srv:
        seen = {}

        def attack(p):
            first = srv.accept(2)
            if not t.eq("trickle: 2 connections accepted", len(first), 2):
                return
            seen["data"] = [read_n(c, 73) for c, _ in first]
            first[0][0].shutdown(socket.SHUT_WR)
            seen["after_fin"] = read_n(first[0][0], 2)
            srv.close(first[0][0])
            again = srv.accept(1)
            seen["again"] = [read_n(c, 71) for c, _ in again]
            p.send_signal(signal.SIGTERM)

        r = Run(["--port", srv.port, "--concurrency", 0, "-a", 2,
                 "--trickle", 0.05, "--attack-size", 70, "--duration", 60,
                 "--json"], during=attack)
    t.eq("trickle: exit 0", r.status, 0) or t.note(r.describe())
    t.eq("trickle: each connection got 70 bytes and 3 more of the filler",
         seen.get("data"), [filler(73)] * 2)
    t.eq("trickle: after the server's FIN, the bytes go on",
         seen.get("after_fin"), filler(2, 73))
    t.eq("trickle: the reconnect starts the filler again",
         seen.get("again"), [filler(71)])
    if not check_report_shape(t, "trickle", r):
        return
    a = check_attack_shape(t, "trickle", r)
    t.eq("trickle: mode, first_bytes, trickle_s",
         [a.get("mode"), a.get("first_bytes"), a.get("trickle_s")],
         ["trickle", 70, 0.05])
    t.eq("trickle: connections 3, closed 1 (by a reset: a FIN does not "
         "end a trickler), open at the end 2",
         [a.get(k) for k in ("connections", "closed", "reset",
                             "open_at_end")], [3, 1, 1, 2])
    sent = a.get("bytes_sent", 0)
    most = 3 * 70 + 2 * (a.get("duration_s", 0) / 0.05 + 1) + 1
    t.ok("trickle: bytes_sent at least what the server read",
         sent >= 2 * 73 + 2 + 71, h.short(a))
    t.ok("trickle: bytes_sent no more than 70 and a byte per 0.05 s of "
         "the attack, per connection (%d)" % most, sent <= most, h.short(a))


def test_attack_trickle_close(t):
    """
    A trickler with a byte a minute: the server's close is found at once
    (the FIN is answered with a byte, which the closed socket resets), not
    at the next tick: its client is back long before a minute.
    """
    with Holder() as srv:
        seen = {}

        def attack(p):
            first = srv.accept(1)
            if not t.eq("trickle close: 1 connection accepted", len(first),
                        1):
                return
            seen["first"] = read_n(first[0][0], 1)
            srv.close(first[0][0])
            seen["again"] = srv.accept(1, timeout=20)
            p.send_signal(signal.SIGTERM)

        r = Run(["--port", srv.port, "--concurrency", 0, "-a", 1,
                 "--trickle", 60, "--duration", 100, "--json"],
                during=attack)
    t.eq("trickle close: the first byte came at once", seen.get("first"),
         b"a")
    t.eq("trickle close: the client came back within 20 s",
         len(seen.get("again", ())), 1)
    if not check_report_shape(t, "trickle close", r):
        return
    a = check_attack_shape(t, "trickle close", r)
    t.eq("trickle close: closed 1 (reset), open at the end 1",
         [a.get("closed"), a.get("reset"), a.get("open_at_end")], [1, 1, 1])


def test_attack_no_read(t):
    """
    2 --no-read clients: the server gets the message, answers and closes
    with a FIN; the client never read the answer, so its close resets it
    (unread data); the bench counts the close, not as a reset.
    """
    with Holder() as srv:
        seen = {}

        def attack(p):
            first = srv.accept(2)
            if not t.eq("no-read: 2 connections accepted", len(first), 2):
                return
            seen["msgs"] = [read_n(c, 5) for c, _ in first]
            conn = first[0][0]
            conn.sendall(b"ACK!")
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(30)
            try:
                seen["after"] = conn.recv(10)
            except ConnectionResetError:
                seen["after"] = "reset"
            except socket.timeout:
                seen["after"] = "timeout"
            srv.close(conn)
            again = srv.accept(1)
            seen["again"] = [read_n(c, 5) for c, _ in again]
            p.send_signal(signal.SIGTERM)

        r = Run(["--port", srv.port, "--concurrency", 0, "-a", 2,
                 "--no-read", "--duration", 60, "--json"], during=attack)
    t.eq("no-read: exit 0", r.status, 0) or t.note(r.describe())
    t.eq("no-read: each connection sent the message", seen.get("msgs"),
         [b"hello"] * 2)
    t.eq("no-read: the client closed with the reply unread (a reset)",
         seen.get("after"), "reset")
    t.eq("no-read: the reconnect sent the message", seen.get("again"),
         [b"hello"])
    if not check_report_shape(t, "no-read", r):
        return
    a = check_attack_shape(t, "no-read", r)
    t.eq("no-read: mode, first_bytes", [a.get("mode"),
         a.get("first_bytes")], ["no-read", 5])
    t.eq("no-read: connections 3, closed 1 (no reset), open at the end 2, "
         "bytes_sent 15", [a.get(k) for k in ("connections", "closed",
                                              "reset", "open_at_end",
                                              "bytes_sent")],
         [3, 1, 0, 2, 15])


def test_attack_refused(t):
    """Nobody listening: every attack connection fails; exit 1."""
    r = Run(["--port", h.free_port(), "--concurrency", 0, "-a", 2,
             "--silent", "--duration", 0.3])
    t.eq("refused attack: exit 1", r.status, 1) or t.note(r.describe())
    t.ok("refused attack: connections failed, none opened",
         re.search(rb"attack conns (\d+) started \(\d+ reconnects\), 0 "
                   rb"opened, \1 failed, first: Connection refused\n", r.out)
         is not None, h.short(r.out))
    t.ok("refused attack: nothing open at the end",
         b"open at end  0, oldest 0 us; 0 still connecting\n" in r.out,
         h.short(r.out))


def test_half_close(t, tmp):
    """
    ackd --framing eof answers once the client has half-closed: with
    --half-close every connection is ok at once; without, none is within
    a 0.3 s --timeout.
    """
    d = h.Daemon(tmp, ["--framing", "eof"], workers=2, log_name="eof.log")
    r = Run(["--port", d.port, "--count", 100, "--concurrency", 4,
             "--half-close", "--json", "--quiet"])
    t.eq("half-close: exit 0", r.status, 0) or t.note(r.describe())
    t.eq("half-close: 100 ok", r.get("ok"), 100)
    r = Run(["--port", d.port, "--count", 4, "--concurrency", 4,
             "--timeout", 0.3, "--json", "--quiet"])
    t.eq("without --half-close: every connection timed out",
         [r.status, r.get("ok"), r.get("errors", "timeout")], [1, 0, 4])


def make_cert(tmp, name):
    """A self-signed ECDSA P-256 certificate and key made by openssl req."""
    cert = os.path.join(tmp, name + ".pem")
    key = os.path.join(tmp, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=" + name, "-keyout", key, "-out", cert],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=60)
    return cert, key


class TlsAck:
    """
    A TLS server of this script, one connection at a time: handshake, one
    read (kept), ACK!, close_notify. tickets: "on" (one context, so one
    ticket key: tickets resume), "off" (no tickets), "fresh" (a context
    per connection: tickets issued that no later one can decrypt). It
    counts the handshakes it did and those it resumed.
    """

    def __init__(self, cert, key, tickets, client_ca=None):
        self.cert, self.key, self.tickets = cert, key, tickets
        self.client_ca = client_ca      # require a client certificate
        self.ctx = self.context()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.handshakes, self.resumed, self.reads = 0, 0, []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # a close alone does not wake accept(); a shutdown does (Linux)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(30)
        self.sock.close()

    def context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        if self.tickets == "off":
            ctx.options |= ssl.OP_NO_TICKET
            ctx.num_tickets = 0
        if self.client_ca is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.client_ca)
        return ctx

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return          # closed: the test is over
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.settimeout(10)
            ctx = self.context() if self.tickets == "fresh" else self.ctx
            try:
                s = ctx.wrap_socket(c, server_side=True)
                self.handshakes += 1
                self.resumed += s.session_reused
                self.reads.append(s.recv(4096))
                s.sendall(b"ACK!")
                s.unwrap()
            except (OSError, ValueError):
                pass            # the client closed first: it is done
            finally:
                c.close()


def bench_has_tls(t):
    """Does this ackd-bench speak TLS? If not, --tls says so: exit 64."""
    r = Run(["--tls", "--port", h.free_port(), "--count", 1, "--quiet"])
    if r.status == 64:
        t.eq("no TLS: --tls exits 64 with one line", r.err,
             b"ackd-bench: --tls: this build has no TLS (configure "
             b"--with-tls)\n")
        return False
    return True


def test_tls(t, tmp):
    """--tls: ACK! over TLS is ok; --tls-ca verifies, or fails as tls."""
    cert, key = make_cert(tmp, "server")
    other, _ = make_cert(tmp, "other")
    n = 20
    with TlsAck(cert, key, "on") as srv:
        r = Run(["--tls", "--port", srv.port, "--count", n,
                 "--concurrency", 2, "--unique", "--json", "--quiet"])
        t.eq("tls: exit 0", r.status, 0) or t.note(r.describe())
        if not check_report_shape(t, "tls", r):
            return
        t.eq("tls: every connection ok", [r.get("ok"), r.get("wrong"),
                                          errors_total(r)], [n, 0, 0])
        t.eq("tls: a handshake each, all full, none offered",
             [r.get("tls", "handshakes"), r.get("tls", "full"),
              r.get("tls", "resumed"), r.get("tls", "offered")],
             [n, n, 0, 0])
        t.ok("tls: the protocol is named",
             (r.get("tls", "version") or "").startswith("TLSv1."),
             r.describe())
        bad = [m for m in srv.reads if not re.match(
            rb"b\d+-0-\d+ hello\Z", m)]
        t.ok("tls: the server read each message whole, in one read",
             len(srv.reads) == n and not bad, h.short(srv.reads[:4]))
        r = Run(["--tls", "--tls-ca", cert, "--port", srv.port, "--count",
                 4, "--concurrency", 2, "--json", "--quiet"])
        t.eq("tls-ca, the server's: verified, ok",
             [r.status, r.get("ok"), r.get("tls", "verify")], [0, 4, True])
        r = Run(["--tls", "--tls-ca", other, "--port", srv.port, "--count",
                 4, "--concurrency", 2, "--json"])
    t.eq("tls-ca, another: every connection a tls error",
         [r.status, r.get("ok"), r.get("errors", "tls")], [1, 0, 4])
    t.ok("tls-ca, another: stderr names the failed verification",
         b"4 tls errors, first: TLS: certificate verify failed" in r.err,
         h.short(r.err))


def test_tls_flags(t, tmp):
    """TLS flags: each needs --tls; a file that does not load exits 64."""
    missing = os.path.join(tmp, "missing.pem")
    for args, want in (
            (["--tls-resume"], "--tls-resume: needs --tls"),
            (["--tls", "--tls-key", missing],
             "--tls-key: needs --tls-cert (the client certificate the key "
             "goes with)"),
            (["--tls", "--tls-ca", missing],
             "--tls-ca: %s: No such file or directory" % missing)):
        r = Run(args + ["--port", h.free_port(), "--count", 1])
        t.eq("%s: exit 64 and one line" % " ".join(args[-2:]),
             [r.status, r.err], [64, ("ackd-bench: %s\n" % want).encode()])


def test_tls_client_cert(t, tmp):
    """--tls-cert/--tls-key: a server that requires one serves it."""
    cert, key = make_cert(tmp, "server2")
    ccert, ckey = make_cert(tmp, "client")
    with TlsAck(cert, key, "on", client_ca=ccert) as srv:
        r = Run(["--tls", "--tls-cert", ccert, "--tls-key", ckey, "--port",
                 srv.port, "--count", 4, "--concurrency", 2, "--json",
                 "--quiet"])
        t.eq("tls-cert: every connection ok, client_cert true",
             [r.status, r.get("ok"), r.get("tls", "client_cert")],
             [0, 4, True]) or t.note(r.describe())
        r = Run(["--tls", "--port", srv.port, "--count", 4,
                 "--concurrency", 2, "--json"])
    t.eq("no tls-cert: every connection a tls error",
         [r.status, r.get("ok"), r.get("errors", "tls")], [1, 0, 4])
    t.ok("no tls-cert: stderr names the server's alert",
         b"4 tls errors, first: TLS: " in r.err and b"certificate" in r.err,
         h.short(r.err))


def test_tls_resume(t, tmp):
    """--tls-resume counts resumed handshakes only where the server did."""
    cert, key = make_cert(tmp, "resume")
    n, c = 20, 2
    for tickets, offered in (("on", n - c), ("off", 0), ("fresh", n - c)):
        with TlsAck(cert, key, tickets) as srv:
            r = Run(["--tls", "--tls-resume", "--port", srv.port, "--count",
                     n, "--concurrency", c, "--json", "--quiet"])
        label = "tls-resume, tickets %s" % tickets
        t.eq("%s: exit 0, all ok" % label, [r.status, r.get("ok")],
             [0, n]) or t.note(r.describe())
        t.eq("%s: resumed as many as the server resumed, offered %d" %
             (label, offered), [r.get("tls", "handshakes"),
                                r.get("tls", "resumed"),
                                r.get("tls", "offered")],
             [srv.handshakes, srv.resumed, offered])
        if tickets == "on":
            t.eq("%s: all but each client's first resumed" % label,
                 [srv.resumed, r.get("tls", "full")], [n - c, c])
        else:
            t.eq("%s: none resumed" % label, srv.resumed, 0)


def test_attack_beside(t, tmp):
    """
    One invocation, both groups, against ackd: 300 well-behaved messages
    all acknowledged while 8 silent connections are held; the text report
    has both parts.
    """
    d = h.Daemon(tmp, workers=2, log_name="beside.log")
    r = Run(["--port", d.port, "--count", 300, "--concurrency", 4, "-a", 8,
             "--silent", "--json", "--quiet"])
    t.eq("beside ackd: exit 0", r.status, 0) or t.note(r.describe())
    if not check_report_shape(t, "beside ackd", r):
        return
    t.eq("beside ackd: 300 ok", [r.get("ok"), r.get("connections")],
         [300, 300])
    a = check_attack_shape(t, "beside ackd", r)
    t.ok("beside ackd: the 8 attack connections were opened",
         a.get("opened", 0) >= 8 and a.get("failed") == 0, h.short(a))
    r = Run(["--port", d.port, "--count", 50, "--concurrency", 2, "-a", 2,
             "--silent", "--quiet"])
    t.ok("beside ackd, text: the well-behaved lines, then the attack's",
         re.search(rb"\nok           50\n(.*\n)*attack       2 silent "
                   rb"clients: 0 bytes, then nothing; 1 source, ", r.out)
         is not None, h.short(r.out))


def step(proc, send, want):
    """Write a line to the sleeper (if send), read its next line."""
    if send:
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    line = proc.stdout.readline().strip().decode()
    if line != want:
        raise AssertionError("sleeper said %r, not %r" % (line, want))


def test_switch_delta(t):
    """Differences are per thread: a gone thread subtracts nothing."""
    t.eq("switch_delta: per-thread sum, one gone, one new",
         rb.switch_delta({1: 5, 2: 7}, {1: 9, 3: 4}), (8, 1, 1))
    t.eq("switch_delta: nothing happened", rb.switch_delta({1: 3}, {1: 3}),
         (0, 0, 0))


def test_task_switches(t, tmp):
    """run.py's sampling on a child whose thread sleeps SLEEPS times."""
    srv = rb.Server("baseline", sys.executable, tmp, 1, "sleeper")
    # its own session, as run.py's spawn gives (which takes no stdin)
    srv.proc = subprocess.Popen([sys.executable, "-c", SLEEPER],
                                stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                start_new_session=True)
    pid = srv.proc.pid
    try:
        step(srv.proc, False, "ready")
        s0 = rb.task_switches(pid)
        v0 = rb.task_switches(pid, rb.CTX_FIELDS[:1])
        step(srv.proc, True, "slept")
        s1 = rb.task_switches(pid)
        v1 = rb.task_switches(pid, rb.CTX_FIELDS[:1])
        step(srv.proc, True, "joined")
        # Python's join returns once the thread released its last lock,
        # a moment before the kernel task itself is gone (a loaded
        # machine, valgrind's stage of CI, makes that moment visible)
        h.wait_for(lambda: len(rb.task_switches(pid)) == 1, 10)
        s2 = rb.task_switches(pid)
        srv.proc.stdin.close()
        srv.stop()
    finally:
        rb.kill_group(srv.proc)
    t.eq("task_switches: the main thread alone at first", sorted(s0), [pid])
    t.eq("task_switches: then the main thread and the sleeper",
         len(s1), 2)
    t.ok("task_switches: no thread's count goes down",
         all(s1[k] >= s0[k] for k in s0) and
         all(s2[k] >= s1[k] for k in s2 if k in s1), "%s %s %s" %
         (s0, s1, s2))
    n, gone, new = rb.switch_delta(s0, s1)
    t.ok("task_switches: at least %d switches while the thread slept "
         "%d times (one new thread)" % (SLEEPS, SLEEPS),
         n >= SLEEPS and (gone, new) == (0, 1), "%s -> %s" % (s0, s1))
    t.ok("task_switches: at least %d of them voluntary, none more than "
         "in all" % SLEEPS, rb.switch_delta(v0, v1)[0] >= SLEEPS and
         all(v1[k] <= s1[k] for k in v1), "%s -> %s (all: %s)" %
         (v0, v1, s1))
    n, gone, new = rb.switch_delta(s1, s2)
    t.ok("task_switches: the exited thread is gone, nothing negative",
         n >= 0 and (gone, new) == (1, 0), "%s -> %s" % (s1, s2))
    t.eq("task_switches: a reaped process has no threads",
         rb.task_switches(pid), {})
    t.ok("Server.stop: wait4 counts the exited thread's switches",
         srv.exit_switches is not None and srv.exit_switches >= SLEEPS,
         "exit_switches=%s status=%s" % (srv.exit_switches, srv.status))


def main(t, tmp):
    test_switch_delta(t)
    test_task_switches(t, tmp)
    if not os.access(h.bench_path(), os.X_OK):
        raise h.Skip("no executable ackd-bench at %s (set ACKD_BENCH)" %
                     h.bench_path())
    test_flags(t)
    test_flag_errors(t)
    test_acked_and_logged(t, tmp)
    test_wrong_reply(t, tmp)
    test_closed_port(t)
    test_duration(t, tmp)
    test_silent(t)
    test_silent_warmup(t)
    test_silent_sigterm(t, tmp)
    test_attack_silent(t)
    test_attack_trickle(t)
    test_attack_trickle_close(t)
    test_attack_no_read(t)
    test_attack_refused(t)
    test_attack_beside(t, tmp)
    test_half_close(t, tmp)
    if bench_has_tls(t):
        test_tls_flags(t, tmp)
        test_tls(t, tmp)
        test_tls_client_cert(t, tmp)
        test_tls_resume(t, tmp)


if __name__ == "__main__":
    h.run("bench", main, deadline=120)
