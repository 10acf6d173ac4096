#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_rotate_full.py: rotation while the log keeps hitting its size limit.

Issue 10, finding 2. ackd runs with a small RLIMIT_FSIZE (set in its child
before exec) while ackd-bench sends unique messages on 64 connections
(--unique --record) and the test renames the log and sends SIGHUP over
and over. Each file fills up, so writes keep coming up short against the
limit, in every thread of every process, while the descriptor under them
is swapped for a new file. Two scenarios:
- small: the issue's reproduction, 64 KiB, --max-message 4096, 3,000-byte
  messages; the limit is inside ackd's margin, so every write is careful
  (serialised under the shared lock, short writes undone exactly);
- large: 512 KiB, --max-message 1024, 2 threads, 1,000-byte messages;
  each new file is first written in the lock-free mode, then carefully
  as it nears the limit.

A short write is a log failure: no ACK, and the partial line must be
taken back without touching anyone else's line. So across the union of
all the files, at the end:
- every message ackd-bench recorded as ACKed is logged exactly once,
  whole (missing: 0; cut: 0, where a cut message is one whose unique
  prefix is in the files but not its whole text);
- no line is malformed (every line parses, bytes= matches the message)
  and every file ends with a whole line; ackd never warned that it had
  to leave a partial line.
The note gives the figures: acknowledged, missing, cut, malformed.

The rotation loop is the workload, not synchronisation: a bounded count,
each rotation once the file is nearly full (or after a second) and a
short pause. Under valgrind the counts are scaled down.
"""

import collections
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CONCURRENCY = 64
SLOW = h.valgrind_wrapped()
PAUSE = 0.05 if SLOW else 0.02  # between rotations: pacing, not a sync

# (label, RLIMIT_FSIZE, ackd's flags, message size, rotations):
# - "small": the case, a limit far inside the margin of fast
#   writes, so every write takes the careful (locked) path;
# - "large": a limit past the margin of 2 workers of 2 threads with
#   --max-message 1024 (about 210 KiB), so each new file is written fast
#   (one lock-free write a line) until it nears the limit, then carefully.
SCENARIOS = (
    ("small", 64 * 1024, ["--max-message", "4096"], 3000,
     30 if SLOW else 100),
    ("large", 512 * 1024, ["--max-message", "1024", "--threads", "2"], 1000,
     8 if SLOW else 20),
)



def limit_fsize(fsize):
    """What ackd's child runs before exec: the file-size limit fsize."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))


def start_bench(tmp, label, port, size):
    """ackd-bench, recording each ACKed message, until we stop it."""
    record = os.path.join(tmp, label + ".record")
    args = [h.bench_path(), "--port", str(port), "--concurrency",
            str(CONCURRENCY), "--size", str(size), "--duration", "600",
            "--timeout", "30", "--unique", "--json", "--quiet",
            "--record", record]
    err = open(os.path.join(tmp, label + ".bench.stderr"), "wb")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=err)
    err.close()
    return proc, record


def stop_bench(proc):
    """SIGTERM (ackd-bench still reports); its JSON report, or {}."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {}
    try:
        return json.loads(out.decode("utf-8"))
    except ValueError:
        return {}


def log_size(d):
    """Size of the log at its path now (0 if it is not there yet)."""
    try:
        return os.path.getsize(d.log_path)
    except OSError:
        return 0


def rotate(d, n, fsize):
    """n times: once the log is nearly full (or after a second), rename it
    away and SIGHUP. The renamed paths."""
    rotated = []
    for i in range(n):
        # workload pacing, not a sync: rotate near the limit, where writes
        # come up short, the way a size-triggered logrotate would
        h.wait_for(lambda: log_size(d) >= fsize * 9 // 10, 1)
        time.sleep(PAUSE)
        path = "%s.%d" % (d.log_path, i + 1)
        try:
            os.rename(d.log_path, path)
            rotated.append(path)
        except FileNotFoundError:
            pass  # no one has reopened it yet: this HUP does it
        d.signal(signal.SIGHUP)
    return rotated


# a message line whose text needs no escape, as ackd-bench's filler: a line
# it matches whole, with bytes= the length of msg, is well formed (checked
# without the harness's slower, general parser)
PLAIN = re.compile(rb'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ pid=\d+ '
                   rb'event=message bytes=(\d+) msg="([\x20\x21\x23-\x5b'
                   rb'\x5d-\x7e]*)"')
Line = collections.namedtuple("Line", "event msg error raw")


def parse_line(raw):
    """(event, msg or None, error or None, raw) of one log line."""
    m = PLAIN.fullmatch(raw)
    if m and int(m.group(1)) == len(m.group(2)):
        return Line("message", m.group(2), None, raw)
    r = h.parse_text(raw)
    if not r.error and r.event == "message" and \
            r.get("bytes") != len(r.get("msg") or b""):
        r.error = "bytes=%s but %d in msg" % (r.get("bytes"),
                                               len(r.get("msg") or b""))
    return Line(r.event, r.get("msg"), r.error, raw)


def read_files(paths):
    """(raw bytes of each file, parsed lines of all files)."""
    datas, recs = {}, []
    for path in paths:
        with open(path, "rb") as f:
            datas[path] = f.read()
        recs += [parse_line(raw) for raw in datas[path].split(b"\n")[:-1]]
    return datas, recs


def figures(recorded, datas, recs):
    """acknowledged, missing, cut, twice: message by message."""
    logged = collections.Counter(r.msg for r in recs
                                 if r.event == "message" and not r.error)
    ids = set()
    for data in datas.values():
        ids.update(re.findall(rb"b\d+-\d+-\d+ ", data))
    out = {"acknowledged": len(recorded), "missing": [], "cut": [],
           "twice": []}
    for msg in recorded:
        if logged[msg] > 1:
            out["twice"].append(msg)
        if logged[msg] >= 1:
            continue
        uid = msg.split(b" ", 1)[0] + b" "
        out["cut" if uid in ids else "missing"].append(msg)
    return out


def scenario(t, tmp, label, fsize, flags, size, rotations):
    """Rotate under load at a file-size limit; check the union of files."""
    d = h.Daemon(tmp, flags, workers=2, log_name=label + ".log",
                 preexec=limit_fsize(fsize))
    proc, record = start_bench(tmp, label, d.port, size)
    try:
        # the load is flowing: the first file fills up
        t.ok("%s: the load reaches the log" % label, h.wait_for(
            lambda: os.path.exists(d.log_path) and
            os.path.getsize(d.log_path) > fsize // 2, 30),
            "log never grew")
        rotated = rotate(d, rotations, fsize)
    finally:
        report = stop_bench(proc)
    t.ok("%s: ackd-bench reported" % label, report, "no JSON report")
    d.signal(signal.SIGTERM)
    t.eq("%s: ackd stops cleanly (exit 0)" % label, d.wait_exit(30), 0)

    paths = rotated + [d.log_path]
    datas, recs = read_files(paths)
    with open(record, "rb") as f:
        recorded = f.read().split(b"\n")[:-1]
    fig = figures(recorded, datas, recs)
    torn = [p for p, data in datas.items()
            if data and not data.endswith(b"\n")]
    bad = [r.raw[:120] for r in recs if r.error]
    acked = fig["acknowledged"]
    t.ok("%s: some messages were ACKed" % label, acked > 0, "none")
    t.ok("%s: some messages were refused at the limit (log-failed)" %
         label, report.get("ok", 0) < report.get("connections", 0),
         "all %s ok: the limit was never reached" % report.get("ok"))
    t.eq("%s: ackd-bench recorded each message once" % label,
         len(set(recorded)), len(recorded))
    t.eq("%s: no ACKed message is missing from the files" % label,
         len(fig["missing"]), 0)
    t.ok("%s: no ACKed message is cut short (its prefix there, not all "
         "of it)" % label, not fig["cut"], "%d cut, e.g. %s" %
         (len(fig["cut"]), h.short(fig["cut"][:2], 200)))
    t.eq("%s: no ACKed message is logged twice" % label,
         len(fig["twice"]), 0)
    t.ok("%s: no malformed line in the %d files" % (label, len(paths)),
         not bad, "%d malformed, e.g. %s" % (len(bad),
                                              h.short(bad[:2], 300)))
    t.ok("%s: every file ends with a whole line" % label, not torn,
         "%d files end mid-line: %s" % (len(torn), h.short(
             [os.path.basename(p) for p in torn[:5]])))
    t.ok("%s: ackd never had to leave a partial line behind" % label,
         "partial log line" not in d.stderr(), h.short(d.stderr()[-300:]))
    t.ok("%s: every file stayed within the limit" % label,
         all(len(data) <= fsize for data in datas.values()), "larger")
    t.note("%s: %d rotations, %d files, %d lines; acknowledged %d, "
           "missing %d, cut %d, twice %d, malformed %d, files ending "
           "mid-line %d; bench: %d connections, %d ok" % (
               label, len(rotated), len(paths), len(recs), acked,
               len(fig["missing"]), len(fig["cut"]), len(fig["twice"]),
               len(bad), len(torn), report.get("connections", 0),
               report.get("ok", 0)))


def main(t, tmp):
    if not os.path.exists(h.bench_path()):
        t.skip("rotation at the size limit", "no ackd-bench at %s" %
               h.bench_path())
        return
    for args in SCENARIOS:
        scenario(t, tmp, *args)


if __name__ == "__main__":
    h.run("rotate_full", main, deadline=120)
