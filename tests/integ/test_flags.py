#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_flags.py: the command line and the start-up failures.

--help and --version; every class of bad value exits 64 with exactly one
line on stderr naming the flag; the boundary values are accepted; a port
in use or an address not on this machine exits 69 naming the address; an
unopenable --log-file exits 73 naming the path.
"""

import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# the exact lines the spec gives as the forms of the errors
SPEC_FORMS = [
    (["--port", "abc"],
     "ackd: --port: 'abc' is not a number (allowed: 0-65535)"),
    (["--port", "70000"],
     "ackd: --port: '70000' is out of range (allowed: 0-65535)"),
    (["--port"],
     "ackd: --port: missing value (allowed: 0-65535)"),
    (["--read-timeout", "x"],
     "ackd: --read-timeout: 'x' is not a number of seconds "
     "(allowed: 0.001-86400)"),
    (["--log-format", "xml"],
     "ackd: --log-format: 'xml' is not allowed (allowed: text, json)"),
    (["--bind", "foo..bar"],
     "ackd: --bind: 'foo..bar' is not an IPv4 or IPv6 address or a host "
     "name"),
    (["--ack", "a" * 2000],
     "ackd: --ack: 2000 bytes is too long (allowed: 1-1024 bytes)"),
    (["--foo"],
     "ackd: unknown option '--foo' (see ackd --help)"),
    (["foo"],
     "ackd: unexpected argument 'foo' (ackd takes only options)"),
]

# (class, args, words the line must hold); "allowed" is added for the
# classes where the spec says the line says what is allowed
BAD = [
    ("non-number", ["--workers", "x"], ["--workers"]),
    ("non-number", ["--threads", "1.5"], ["--threads"]),
    ("non-number", ["--queue", "10k"], ["--queue"]),
    ("non-number", ["--max-message", ""], ["--max-message"]),
    ("non-number", ["--backlog", "0x10"], ["--backlog"]),
    ("non-number", ["--shutdown-timeout", "abc"], ["--shutdown-timeout"]),
    ("non-number", ["--read-timeout", "1.2.3"], ["--read-timeout"]),
    ("non-number", ["--port=abc"], ["--port"]),
    ("non-number", ["-p", "abc"], ["--port"]),
    ("out of range", ["--port", "-1"], ["--port"]),
    ("out of range", ["--port", "99999999999999999999999"], ["--port"]),
    ("out of range", ["--backlog", "0"], ["--backlog"]),
    ("out of range", ["--backlog", "65536"], ["--backlog"]),
    ("out of range", ["--workers", "0"], ["--workers"]),
    ("out of range", ["--workers", "257"], ["--workers"]),
    ("out of range", ["-w", "0"], ["--workers"]),
    ("out of range", ["--threads", "0"], ["--threads"]),
    ("out of range", ["--threads", "1025"], ["--threads"]),
    ("out of range", ["--queue", "0"], ["--queue"]),
    ("out of range", ["--queue", "65537"], ["--queue"]),
    ("out of range", ["--max-connections", "0"], ["--max-connections"]),
    ("out of range", ["--max-connections", "1048577"],
     ["--max-connections"]),
    ("out of range", ["--max-message", "0"], ["--max-message"]),
    ("out of range", ["--max-message", "1048577"], ["--max-message"]),
    ("out of range", ["--read-timeout", "0"], ["--read-timeout"]),
    ("out of range", ["--read-timeout", "0.0009"], ["--read-timeout"]),
    ("out of range", ["--read-timeout", "86401"], ["--read-timeout"]),
    ("out of range", ["--shutdown-timeout", "-1"], ["--shutdown-timeout"]),
    ("out of range", ["--shutdown-timeout", "86400.5"],
     ["--shutdown-timeout"]),
    ("out of range", ["--event-interval", "-1"], ["--event-interval"]),
    ("out of range", ["--event-interval", "86401"], ["--event-interval"]),
    ("non-number", ["--event-interval", "10s"], ["--event-interval"]),
    ("out of range", ["--ack", ""], ["--ack"]),
    ("out of range", ["--ack", "a" * 1025], ["--ack", "1025"]),
    ("missing value", ["--workers"], ["--workers"]),
    ("missing value", ["-p"], ["--port"]),
    ("missing value", ["--log-file"], ["--log-file"]),
    ("missing value", ["--ack"], ["--ack"]),
    ("missing value", ["--shutdown-timeout"], ["--shutdown-timeout"]),
    ("unknown option", ["--verbose"], ["--verbose"]),
    ("unknown option", ["--check=yes"], ["--check=yes"]),
    ("out of range", ["--check", "--port", "70000"], ["--port"]),
    ("unknown option", ["-z"], ["-z"]),
    ("bad format", ["--log-format", "JSON"], ["--log-format", "JSON"]),
    ("bad format", ["-f", "yaml"], ["--log-format", "yaml"]),
    ("bad bind address", ["--bind", "256.1.1.1"], ["--bind"]),
    ("bad bind address", ["--bind", "local/host"], ["--bind"]),
    ("bad bind address", ["--bind", "127.0.0.1:80"], ["--bind"]),
    ("bad bind address", ["--bind", ""], ["--bind"]),
    ("bad address range", ["--allow", "10.0.0.0/33"],
     ["--allow", "'10.0.0.0/33'", "allowed"]),
    ("bad address range", ["--allow", "127.0.0.1,localhost"],
     ["--allow", "'localhost'", "allowed"]),
    ("bad address range", ["--allow", "127.0.0.1", "--allow", "::1/"],
     ["--allow", "'::1/'", "allowed"]),
    ("missing value", ["--allow"], ["--allow"]),
    ("stray argument", ["--port", "0", "extra"], ["extra"]),
    ("stray argument", ["-"], ["'-'"]),
]
SAYS_ALLOWED = {"non-number", "out of range", "missing value", "bad format"}


def base(tmp):
    """Harmless flags before the bad one: if ackd wrongly accepted the bad
    value it would start on a free loopback port (and be killed)."""
    return ["--bind", "127.0.0.1", "--port", "0", "--workers", "1",
            "--log-file", os.path.join(tmp, "bad-flag.log")]


def check_usage_error(t, tmp, label, args, words, exact=None):
    """args must exit 64 with one stderr line holding every word."""
    rc, out, err = h.run_ackd(base(tmp) + args)
    t.eq("%s: exits 64" % label, rc, 64)
    lines = err.decode("utf-8", "replace").split("\n")
    t.ok("%s: exactly one line on stderr" % label,
         len(lines) == 2 and lines[1] == "" and lines[0] != "",
         "stderr %s" % h.short(err))
    line = lines[0]
    if exact is not None:
        t.eq("%s: the line is the spec's" % label, line, exact)
        return
    t.ok("%s: the line starts 'ackd: '" % label, line.startswith("ackd: "),
         h.short(line))
    missing = [w for w in words if w not in line]
    t.ok("%s: the line names %s" % (label, " ".join(words)), not missing,
         "no %s in %s" % (missing, h.short(line)))


def check_bad_values(t, tmp):
    """Every class of bad value, and the spec's exact forms."""
    for args, line in SPEC_FORMS:
        label = "spec form %s" % h.short(" ".join(args)[:30])
        check_usage_error(t, tmp, label, args, [], exact=line)
    for cls, args, words in BAD:
        if cls in SAYS_ALLOWED:
            words = words + ["allowed"]
        label = "%s %s" % (cls, h.short(" ".join(args)[:30]))
        check_usage_error(t, tmp, label, args, words)


def check_help_version(t):
    """--help and --version print on stdout and exit 0."""
    for flag in ("--help", "-h"):
        rc, out, err = h.run_ackd([flag])
        text = out.decode("utf-8", "replace")
        t.eq("%s: exits 0" % flag, rc, 0)
        t.eq("%s: nothing on stderr" % flag, err, b"")
        # ackd(8)'s OPTIONS, held to the flag table by test_flagdoc.py
        page = h.man_options(os.path.join(h.SRCDIR, "doc", "ackd.8"))
        listed = h.help_flags(text)
        missing = [f for f in page if f not in listed]
        t.ok("%s: lists every long flag (%d in ackd(8))" % (flag, len(page)),
             len(page) > 30 and not missing, "missing %s" % missing)
        ranges = ["0-65535", "1-65535", "1-256", "1-1024", "1-65536",
                  "1-1048576", "0.001-86400", "0-86400", "text", "json"]
        missing = [r for r in ranges if r not in text]
        t.ok("%s: shows every range" % flag, not missing,
             "missing %s" % missing)
        defaults = ["0.0.0.0", "9999", "511", "16", "256", "1024", "10",
                    "ACK!"]
        missing = [d for d in defaults if d not in text]
        t.ok("%s: shows the defaults" % flag, not missing,
             "missing %s" % missing)
    for flag in ("--version", "-V"):
        rc, out, err = h.run_ackd([flag])
        t.eq("%s: exits 0" % flag, rc, 0)
        t.eq("%s: prints 'ackd 0.1.0'" % flag, out, b"ackd 0.1.0\n")
        t.eq("%s: nothing on stderr" % flag, err, b"")


def check_boundaries(t, tmp):
    """The ends of every range are allowed, in every spelling."""
    flags = ["--port=0", "--backlog", "65535", "--threads", "1",
             "--queue=65536", "--max-message", "1048576",
             "--read-timeout", "0.001", "--shutdown-timeout", "0",
             "--event-interval", "86400", "--ack", "a" * 1024]
    try:
        d = h.Daemon(tmp, flags, workers=1, log_name="bounds.log")
        t.ok("upper and lower range ends (long forms) are accepted", True)
        t.eq("range ends: threads=1 and queue=65536 in the start line",
             (d.start_rec.get("threads"), d.start_rec.get("queue")),
             (1, 65536))
    except h.DaemonError as e:
        t.fail("upper and lower range ends (long forms) are accepted",
               str(e))
    flags = ["-b", "127.0.0.1", "-p", "0", "-w", "1", "-t", "2", "-q", "1",
             "-m", "1", "-r", "86400", "-a", "Y", "-f", "json",
             "-l", os.path.join(tmp, "short.log")]
    try:
        d = h.Daemon(tmp, flags, workers=1, fmt="json", log_name="short.log")
        t.ok("short flags are accepted", True)
        r = h.client(d.port, b"abc")
        t.eq("short flags: -a Y is the reply", r.data, b"Y")
        recs = [x for x in d.records() if x.event == "message"]
        t.ok("short flags: -m 1 -f json: bytes 1, truncated=1",
             len(recs) == 1 and recs[0].get("bytes") == 1 and
             recs[0].get("truncated") == 1 and recs[0].get("msg") == b"a",
             h.short([x.raw for x in recs]))
    except h.DaemonError as e:
        t.fail("short flags are accepted", str(e))


def check_bind_in_use(t, tmp):
    """A port held by another socket: exit 69 naming it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        rc, out, err = h.run_ackd(["--bind", "127.0.0.1", "--port", str(port),
                                   "--workers", "1", "--log-file",
                                   os.path.join(tmp, "inuse.log")])
    finally:
        s.close()
    text = err.decode("utf-8", "replace")
    t.eq("port in use: exits 69", rc, 69)
    t.ok("port in use: stderr names 127.0.0.1:%d" % port,
         "127.0.0.1:%d" % port in text, h.short(text))
    t.ok("port in use: stderr says the address is in use",
         "in use" in text.lower(), h.short(text))
    t.ok("port in use: the diagnostic is 'ackd[PID]: ...'",
         re.match(r"^ackd\[\d+\]: ", text), h.short(text))


def check_bind_unavailable(t, tmp):
    """An address not on this machine (TEST-NET-1): exit 69 naming it.
    Only bind() is tried; nothing is sent anywhere."""
    rc, out, err = h.run_ackd(["--bind", "192.0.2.1", "--port", "0",
                               "--workers", "1", "--log-file",
                               os.path.join(tmp, "notavail.log")])
    text = err.decode("utf-8", "replace")
    t.eq("address not available: exits 69", rc, 69)
    t.ok("address not available: stderr names 192.0.2.1 and the reason",
         "192.0.2.1" in text and "assign" in text.lower(), h.short(text))


def check_log_unopenable(t, tmp):
    """--log-file in a missing directory, or a directory: exit 73."""
    cases = [("log file in a missing directory",
              os.path.join(tmp, "no-such-dir", "ackd.log"), "no such file"),
             ("log file is a directory", tmp, "is a directory")]
    for label, path, reason in cases:
        rc, out, err = h.run_ackd(["--bind", "127.0.0.1", "--port", "0",
                                   "--workers", "1", "--log-file", path])
        text = err.decode("utf-8", "replace")
        t.eq("%s: exits 73" % label, rc, 73)
        t.ok("%s: stderr names the path" % label, path in text,
             h.short(text))
        t.ok("%s: stderr gives the reason" % label, reason in text.lower(),
             h.short(text))


def main(t, tmp):
    check_help_version(t)
    check_bad_values(t, tmp)
    check_boundaries(t, tmp)
    check_bind_in_use(t, tmp)
    check_bind_unavailable(t, tmp)
    check_log_unopenable(t, tmp)


if __name__ == "__main__":
    h.run("flags", main, deadline=90)
