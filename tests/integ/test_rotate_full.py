#!/usr/bin/env python3
"""
test_rotate_full.py: rotation while the log keeps hitting its size limit.

ackd runs with a small RLIMIT_FSIZE (64 KiB) and --max-message 4096;
ackd-bench sends 3,000-byte unique messages on 64 connections
(--unique --record) while the test renames the log and sends SIGHUP over
and over. Each file fills within a few dozen lines, so writes keep
coming up short against the limit, in every thread of every process, at
the same time as the descriptor under them is swapped for a new file.

A short write is a log failure: no ACK, and the partial line must be
taken back without touching anyone else's line. So across the union of
all the files, at the end:
- every message ackd-bench recorded as ACKed is logged exactly once,
  whole (missing: 0; cut: 0, where a cut message is one whose unique
  prefix is in the files but not its whole text);
- no line is malformed (every line parses) and every file ends with a
  whole line.

The rotation loop is the workload (a bounded count with short pauses),
not synchronisation. Under valgrind the counts are scaled down.
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

FSIZE = 64 * 1024       # RLIMIT_FSIZE of ackd, bytes
SIZE = 3000             # bytes per message
CONCURRENCY = 64
SLOW = h.valgrind_wrapped()
ROTATIONS = 30 if SLOW else 150
PAUSE = 0.05 if SLOW else 0.02  # between rotations: pacing, not a sync


def bench_path():
    """$ACKD_BENCH, or src/ackd-bench two directories above this script."""
    p = os.environ.get("ACKD_BENCH")
    if not p:
        here = os.path.dirname(os.path.abspath(__file__))
        p = os.path.join(here, "..", "..", "src", "ackd-bench")
    return os.path.abspath(p)


def limit_fsize():
    """In ackd's child before exec: the small file-size limit."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE, FSIZE))


def start_bench(tmp, port):
    """ackd-bench, recording each ACKed message, until we stop it."""
    record = os.path.join(tmp, "bench.record")
    args = [bench_path(), "--port", str(port), "--concurrency",
            str(CONCURRENCY), "--size", str(SIZE), "--duration", "600",
            "--timeout", "30", "--unique", "--json", "--quiet",
            "--record", record]
    err = open(os.path.join(tmp, "bench.stderr"), "wb")
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


def rotate(d, n):
    """n times: rename the log away, SIGHUP. The renamed paths."""
    rotated = []
    for i in range(n):
        path = "%s.%d" % (d.log_path, i + 1)
        try:
            os.rename(d.log_path, path)
            rotated.append(path)
        except FileNotFoundError:
            pass  # no one has reopened it yet: this HUP does it
        d.signal(signal.SIGHUP)
        time.sleep(PAUSE)
    return rotated


def read_files(paths):
    """(raw bytes of each file, parsed records of all files)."""
    datas, recs = {}, []
    for path in paths:
        with open(path, "rb") as f:
            datas[path] = f.read()
        recs += h.read_log(path)
    return datas, recs


def figures(recorded, datas, recs):
    """acknowledged, missing, cut, twice: message by message."""
    logged = collections.Counter(r.get("msg") for r in recs
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


def main(t, tmp):
    if not os.path.exists(bench_path()):
        t.skip("rotation at the size limit", "no ackd-bench at %s" %
               bench_path())
        return
    d = h.Daemon(tmp, ["--max-message", "4096"], workers=2,
                 log_name="full.log", preexec=limit_fsize)
    proc, record = start_bench(tmp, d.port)
    try:
        # the load is flowing: the first file fills up
        t.ok("the load reaches the log", h.wait_for(
            lambda: os.path.exists(d.log_path) and
            os.path.getsize(d.log_path) > FSIZE // 2, 20),
            "log never grew")
        rotated = rotate(d, ROTATIONS)
    finally:
        report = stop_bench(proc)
    t.ok("ackd-bench reported", report, "no JSON report")
    d.signal(signal.SIGTERM)
    t.eq("ackd stops cleanly (exit 0)", d.wait_exit(30), 0)

    paths = rotated + [d.log_path]
    datas, recs = read_files(paths)
    with open(record, "rb") as f:
        recorded = f.read().split(b"\n")[:-1]
    fig = figures(recorded, datas, recs)
    torn = [p for p, data in datas.items()
            if data and not data.endswith(b"\n")]
    bad = [r.raw[:120] for r in recs if r.error]
    acked = fig["acknowledged"]
    t.ok("some messages were ACKed", acked > 0, "none")
    t.ok("some messages were refused at the limit (log-failed)",
         report.get("ok", 0) < report.get("connections", 0),
         "all %s ok: the limit was never reached" % report.get("ok"))
    t.eq("ackd-bench recorded each message once", len(set(recorded)),
         len(recorded))
    t.eq("no ACKed message is missing from the files",
         len(fig["missing"]), 0)
    t.ok("no ACKed message is cut short (its prefix there, not all of "
         "it)", not fig["cut"], "%d cut, e.g. %s" %
         (len(fig["cut"]), h.short(fig["cut"][:2], 200)))
    t.eq("no ACKed message is logged twice", len(fig["twice"]), 0)
    t.ok("no malformed line in the %d files" % len(paths), not bad,
         "%d malformed, e.g. %s" % (len(bad), h.short(bad[:2], 300)))
    t.ok("every file ends with a whole line", not torn,
         "%d files end mid-line: %s" % (len(torn), h.short(
             [os.path.basename(p) for p in torn[:5]])))
    t.ok("ackd never had to leave a partial line behind",
         "partial log line" not in d.stderr(), h.short(d.stderr()[-300:]))
    t.ok("every file stayed within the limit",
         all(len(data) <= FSIZE for data in datas.values()), "larger")
    t.note("%d rotations, %d files, %d lines; acknowledged %d, missing "
           "%d, cut %d, twice %d, malformed %d, files ending mid-line %d; "
           "bench: %d connections, %d ok" % (
               len(rotated), len(paths), len(recs), acked,
               len(fig["missing"]), len(fig["cut"]), len(fig["twice"]),
               len(bad), len(torn), report.get("connections", 0),
               report.get("ok", 0)))


if __name__ == "__main__":
    h.run("rotate_full", main, deadline=120)
