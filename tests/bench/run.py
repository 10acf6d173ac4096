#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
run.py: ackd's benchmark, behind `make bench` and `make soak`.

Python 3 standard library only. Five servers answer the same load from
ackd-bench over loopback:

  ackd       the daemon, --workers <online CPUs>, logging to a file;
  ackd-reuseport  the same with --reuseport: a socket per worker;
  reference  tests/bench/reference.c: pre-forked processes doing blocking
             accept/recv/write/send/close, nothing else: the ceiling;
  baseline   tests/bench/baseline.c: the old Python script's design in C,
             listen(5) and one thread per client, stdio logging;
  seed       tests/bench/seed.py: the old Python script itself, run by
             this interpreter (sys.executable), only its I/O plumbing
             changed (--port/--bind/--log, "ready port=P", SIGTERM).

For each concurrency in {1, 64, 512} and message size in {16, 1024} bytes,
every round measures the five servers one after the other, the order
turning each round (A B C D, B C D A, C D A B, ...) so that slow drifts of
the machine hit all of them alike. Each measurement starts its server afresh,
runs `ackd-bench ... --json` once, then stops the server with SIGTERM
(SIGKILL after a deadline) and reaps it. Results are medians over rounds;
the ackd/other ratios are medians of the per-round pairs.

Server CPU per connection: utime+stime (+cutime+cstime, for children
already reaped) summed over the server's processes (its pid, every
descendant by the /proc ppid chain, and anything else in its session),
sampled when ackd-bench's warm-up ends and again when it exits, divided
by the connections ackd-bench counted as ok in that window. Context
switches per connection: voluntary + involuntary switches of every thread
of the same processes (/proc/PID/task/TID/status), differenced per thread
between the same two samples, over the same connections; a thread that
exits in between loses its count, so the runner reaps each server with
wait4 (whose rusage counts all its threads, exited or not) and marks the
figure a lower bound when switches went unseen. Peak RSS: the
sum of VmHWM over the same processes at the end of the measurement (a
fresh server per measurement makes it per measurement; shared pages such
as libc count once per process).

Noise: the machine's busy CPU time (/proc/stat) during each run, less the
server's and ackd-bench's (wait4), is "other work"; runs that shared the
machine with more than 0.2 CPUs of it are flagged, and so is bench.md.

TLS rows (tls_rows.py, issue 15): after the plain ones, ackd and nginx's
stream module each terminating TLS (ECDSA P-256 and RSA 2048, full and
resumed handshakes, c=64) with the same certificate, key and ciphers;
--quick measures one of them (ECDSA, full); --tls no leaves them out,
--tls only runs them alone and writes DIR/bench-tls.md instead.

Writes DIR/bench.md, DIR/bench.json and DIR/bench-throughput.svg (DIR is
--out, doc/ by default; --quick writes to a temporary directory unless
--out is given, so a smoke test never replaces real results).

--soak N runs ackd alone for N connections (ackd-bench --count, in 20
chunks), samples the RSS of its processes every second and after every
chunk, and writes DIR/soak.md and DIR/soak.json: RSS growth after the
first 10 % under 1 MiB is "flat".

Paths: --ackd, --ackd-bench, --reference, --baseline, --seed, else $ACKD,
$ACKD_BENCH, $BENCH_REFERENCE, $BENCH_BASELINE, $BENCH_SEED, else the
build tree around this script (seed.py: the source tree, next to it).
--ackd-args='FLAGS' adds flags to ackd (e.g. '--threads 4' or
'--log-format json'); --baseline may name any server with the same
command line and "ready port=P" line. Exit status: 0 done (targets may be MISS, unless --strict),
1 a server or ackd-bench failed or a target was missed under --strict,
2 bad arguments. Every process started runs in its own session and is
killed with its whole process group on any exit, ^C included.
"""

import argparse
import ctypes
import datetime
import html
import json
import os
import platform
import re
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

CONCURRENCY = (1, 64, 512)
SIZES = (16, 1024)
SERVERS = ("ackd", "ackd-reuseport", "reference", "baseline", "seed")
WARMUP = 0.5            # ackd-bench --warmup, seconds
# 5 servers x 6 configurations x 3 rounds x (2 + 0.5 + ~0.4 s): ~4.5 min
SECONDS = 2.0           # default --seconds
ROUNDS = 3              # default --rounds
QUICK_SECONDS = 1.0
QUICK_ROUNDS = 1
HOST = "127.0.0.1"
START_TIMEOUT = 10.0    # for a server to say it is ready
STOP_TIMEOUT = 15.0     # for SIGTERM to end a server (ackd drains first)
POLL = 0.02
OTHER_WARN = 0.2        # CPUs of unrelated work that make a run suspect
# a run's context switches are a lower bound (">=") when a thread exited
# in its window, or when the switches no live thread accounts for at the
# end (exited threads, the shutdown) exceed this share of the window's;
# ackd's shutdown (every pool thread wakes once more) is about 1-3 % of a
# 0.5 s window, a thread-per-client server's unseen share 30-400 %
CTX_UNSEEN_SHARE = 0.10
TARGET_CONFIG = (64, 16)
# at TARGET_CONFIG: (name, text, metric, ackd/which server, op, limit)
TARGETS = (
    ("thr_ref", "throughput >= 0.95 x reference", "rate", "reference", ">=",
     0.95),
    ("p99_ref", "p99 latency <= 1.2 x reference", "p99", "reference", "<=",
     1.2),
    ("cpu_ref", "CPU per connection <= 1.15 x reference", "cpu_us",
     "reference", "<=", 1.15),
    ("thr_base", "throughput >= 4 x baseline", "rate", "baseline", ">=", 4.0),
    ("thr_seed", "throughput >= 4 x seed (the original script)", "rate",
     "seed", ">=", 4.0),
)
SOAK_DEFAULT = 1000000
SOAK_CHUNKS = 20
SOAK_CONCURRENCY = 64
SOAK_SIZE = 16
SOAK_FLAT_MIB = 1.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
ACKD_EXTRA = []         # --ackd-args, after the runner's own ackd flags


class BenchError(Exception):
    """A server or ackd-bench failed: the message says which and why."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP to the runner: unwind and clean up like ^C."""


# --- processes we started -------------------------------------------------

_live = []          # Popen objects, each the leader of its own session
_live_lock = threading.Lock()


def spawn(cmd, **kw):
    """Popen cmd in a new session (so its process group is ours to kill)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
        start_new_session=True, **kw)
    with _live_lock:
        _live.append(proc)
    return proc


def kill_group(proc):
    """SIGKILL proc's whole process group and reap proc; forget it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    with _live_lock:
        if proc in _live:
            _live.remove(proc)


def kill_everything():
    """Last resort on every exit path: nothing we started survives us."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        kill_group(proc)
    reap_orphans()


def reap_orphans():
    """Reap zombies re-parented to us (we are a child subreaper)."""
    with _live_lock:
        ours = set(p.pid for p in _live)   # Popen reaps these itself
    for st in proc_table().values():
        if st["ppid"] == os.getpid() and st["state"] == "Z" and \
                st["pid"] not in ours:
            try:
                os.waitpid(st["pid"], os.WNOHANG)
            except ChildProcessError:
                pass


def become_subreaper():
    """Orphaned server processes then come to us, not to init."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def on_signal(signum, frame):
    """SIGTERM/SIGHUP: raise in the main thread so finally blocks run."""
    raise Interrupted("signal %d" % signum)


# --- /proc -----------------------------------------------------------------

def proc_table():
    """pid -> {pid, ppid, session, state, ticks} for every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                data = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: split after the last ')'
        rest = data[data.rindex(b")") + 2:].split()
        # rest[0] is field 3 (state); utime..cstime are fields 14-17
        table[int(name)] = {"pid": int(name), "state": rest[0].decode(),
            "ppid": int(rest[1]), "session": int(rest[3]),
            "ticks": sum(int(x) for x in rest[11:15])}
    return table


def tree(root, table):
    """root, its descendants by the ppid chain, and the rest of its session."""
    kids = {}
    for st in table.values():
        kids.setdefault(st["ppid"], []).append(st["pid"])
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in found or pid not in table:
            continue
        found.add(pid)
        todo.extend(kids.get(pid, ()))
    found.update(st["pid"] for st in table.values()
        if st["session"] == root)
    return sorted(found)


CTX_FIELDS = ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")


def task_switches(pid, fields=CTX_FIELDS):
    """
    tid -> the sum of fields (by default voluntary + involuntary context
    switches) of each live thread of pid, from /proc/PID/task/TID/status
    ({} if pid is gone). Per task, not /proc/PID/status: that counts the
    main thread only.
    """
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        n, seen = 0, 0
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.split(":")[0] in fields:
                        n += int(line.split()[1])
                        seen += 1
        except OSError:
            continue        # the thread exited while we looked
        if seen == len(fields):
            out[int(tid)] = n
    return out


def switch_delta(before, after):
    """
    Context switches between two samples ({tid: count}, as task_switches
    and Server.switches give them): (switches, tasks gone, tasks new).
    Summed per thread: a thread born in between counts in full, one that
    exited in between counts nothing after the first sample (the kernel
    keeps an exited thread's counts only for the whole process, which
    /proc does not show); so switches is a lower bound when tasks gone is
    not 0, and so are threads born and gone in between, which no sample
    sees at all.
    """
    n = sum(c - before.get(t, 0) for t, c in after.items())
    gone = sum(1 for t in before if t not in after)
    new = sum(1 for t in after if t not in before)
    return n, gone, new


def status_kib(pid, field):
    """A kB field of /proc/PID/status (VmHWM, VmRSS), 0 if there is none."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- servers ---------------------------------------------------------------

class Server:
    """One server process tree, started fresh and stopped for good."""

    def __init__(self, kind, exe, tmpdir, cpus, tag):
        self.kind = kind
        self.log = os.path.join(tmpdir, "%s-%s.log" % (kind, tag))
        self.errpath = os.path.join(tmpdir, "%s-%s.stderr" % (kind, tag))
        self.cmd = server_command(kind, exe, self.log, cpus)
        self.cpus = cpus
        self.proc = None
        self.port = None
        self.pids_seen = set()
        self.status = None
        self.exit_switches = None

    def start(self):
        """Start it and wait until it accepts; sets self.port."""
        with open(self.errpath, "wb") as err:
            self.proc = spawn(self.cmd, stdout=subprocess.PIPE, stderr=err)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            if self.kind.startswith("ackd"):
                self._wait_ackd(deadline)
            else:
                self._wait_ready_line(deadline)
        except BaseException:
            self.stop()
            raise
        self.pids()

    def _failed(self, why):
        """A BenchError naming the server, the reason and its stderr."""
        rc = self.proc.poll()
        try:
            with open(self.errpath, "rb") as f:
                err = f.read()[-2000:].decode("utf-8", "replace").strip()
        except OSError:
            err = ""
        msg = "%s did not start: %s" % (self.kind, why)
        if rc is not None:
            msg += " (exited with status %d)" % rc
        msg += "\n  command: %s" % shlex.join(self.cmd)
        if err:
            msg += "\n  stderr: " + err.replace("\n", "\n          ")
        return BenchError(msg)

    def _wait_ready_line(self, deadline):
        """reference/baseline: read "ready port=P" from stdout."""
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._failed("no 'ready port=P' line within %g s" %
                    START_TIMEOUT)
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise self._failed("stdout closed before 'ready port=P'")
                buf += chunk
        m = re.match(rb"ready port=(\d+)\n", buf)
        if not m or int(m.group(1)) == 0:
            raise self._failed("unexpected first line %r" % buf[:200])
        self.port = int(m.group(1))

    def _wait_ackd(self, deadline):
        """ackd: port from event=start, then one event=worker-start each."""
        workers = None
        while True:
            text = ""
            try:
                with open(self.log, "r", errors="replace") as f:
                    text = f.read()
            except FileNotFoundError:
                pass
            starts = ackd_worker_starts(text)
            if self.port is None:
                self.port, workers = self.start_line(text)
            if workers is not None and starts >= workers:
                return
            if self.proc.poll() is not None:
                raise self._failed("exited before it was ready")
            if time.monotonic() > deadline:
                if self.port is None:
                    raise self._failed("no event=start line with the port "
                        "in its log within %g s" % START_TIMEOUT)
                raise self._failed("%d of %d event=worker-start lines "
                    "within %g s" % (starts, workers, START_TIMEOUT))
            time.sleep(POLL)

    def start_line(self, text):
        """(port, workers) from ackd's log text (a TLS server: its own)."""
        return ackd_start_line(text)

    def pids(self):
        """Every process of this server now (remembered for the cleanup)."""
        pids = tree(self.proc.pid, proc_table())
        self.pids_seen.update(pids)
        return pids

    def cpu_ticks(self):
        """utime+stime+cutime+cstime over the server's processes."""
        table = proc_table()
        pids = tree(self.proc.pid, table)
        self.pids_seen.update(pids)
        return sum(table[p]["ticks"] for p in pids)

    def switches(self, fields=CTX_FIELDS):
        """tid -> context switches of every thread of its processes."""
        out = {}
        for p in self.pids():
            out.update(task_switches(p, fields))
        return out

    def mem_kib(self, field):
        """Sum of a /proc status field (VmHWM, VmRSS) over its processes."""
        return sum(status_kib(p, field) for p in self.pids())

    def stop(self):
        """SIGTERM, wait, SIGKILL the group if need be; reap everything."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                self._wait4(STOP_TIMEOUT)
            if self.proc.returncode is None:
                print("warning: %s ignored SIGTERM for %g s; killed" %
                    (self.kind, STOP_TIMEOUT), file=sys.stderr)
            else:
                self.status = self.proc.returncode
        finally:
            kill_group(self.proc)
            if self.proc.stdout:
                self.proc.stdout.close()
            reap_orphans()
            self._kill_escaped()

    def _wait4(self, timeout):
        """
        Reap it with wait4 within timeout, keeping its rusage's context
        switches in self.exit_switches: every thread's it ever had, the
        exited ones too, and those of the children it reaped.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
            except ChildProcessError:
                return              # Popen reaped it already
            if pid == self.proc.pid:
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.exit_switches = ru.ru_nvcsw + ru.ru_nivcsw
                return
            time.sleep(POLL)

    def _kill_escaped(self):
        """Kill its processes that left its process group; complain."""
        table = proc_table()
        left = [p for p in sorted(self.pids_seen) if p in table and
            table[p]["state"] != "Z" and (table[p]["ppid"] == os.getpid() or
            table[p]["session"] == self.proc.pid)]
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while any(proc_alive(p) for p in left) and \
                time.monotonic() < deadline:
            reap_orphans()
            time.sleep(POLL)
        reap_orphans()
        raise BenchError("%s left processes %s outside its process group "
            "after it stopped; killed them" % (self.kind, left))


def ackd_start_line(text):
    """(port, workers) from ackd's start line, text or json; else (None,)*2."""
    m = re.search(r" event=start listen=\S+:(\d+) workers=(\d+)", text) or \
        re.search(r'"event":"start","listen":"[^"]+:(\d+)","workers":(\d+)',
        text)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def ackd_worker_starts(text):
    """How many event=worker-start lines text holds (text or json)."""
    return text.count(" event=worker-start") + \
        text.count('"event":"worker-start"')


def proc_alive(pid):
    """Is pid a live process (not a zombie, not gone)?"""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rindex(b")") + 2:][:1] != b"Z"


def server_command(kind, exe, log, cpus):
    """The command line of one server, logging to log."""
    if kind in ("ackd", "ackd-reuseport"):
        return [exe, "--bind", HOST, "--port", "0", "--workers", str(cpus),
            "--log-file", log] + (["--reuseport"] if kind !=
            "ackd" else []) + ACKD_EXTRA
    if kind == "reference":
        return [exe, "--bind", HOST, "--port", "0", "--procs", str(cpus),
            "--log", log]
    if kind == "seed":
        return [sys.executable, exe, "--bind", HOST, "--port", "0", "--log",
            log]
    return [exe, "--bind", HOST, "--port", "0", "--log", log]


def shown_command(kind, exe, log, cpus):
    """server_command as bench.md shows it: short paths, python3 for seed."""
    cmd = server_command(kind, exe, log, cpus)
    if kind == "seed":
        return ["python3", show_path(exe)] + cmd[2:]
    return [show_path(exe)] + cmd[1:]


# --- ackd-bench ------------------------------------------------------------

REPORT_KEYS = ("concurrency", "message_bytes", "duration_s", "connections",
    "ok", "wrong", "errors", "rate", "latency_us")


def bench_command(exe, port, conc, size, seconds=None, count=None):
    """ackd-bench's command line for one run."""
    cmd = [exe, "--host", HOST, "--port", str(port), "--concurrency",
        str(conc), "--size", str(size)]
    if count is not None:
        cmd += ["--count", str(count)]
    else:
        cmd += ["--duration", "%g" % seconds, "--warmup", "%g" % WARMUP]
    return cmd + ["--json"]


def parse_report(out, cmd):
    """The JSON object ackd-bench printed (its last JSON line)."""
    text = out.decode("utf-8", "replace")
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                rep = json.loads(line)
            except ValueError:
                continue
            missing = [k for k in REPORT_KEYS if k not in rep]
            if missing:
                raise BenchError("ackd-bench's report lacks %s\n  command: "
                    "%s" % (", ".join(missing), shlex.join(cmd)))
            return rep
    raise BenchError("ackd-bench printed no JSON report\n  command: %s\n"
        "  stdout: %s" % (shlex.join(cmd), text[-1000:]))


def run_bench(cmd, timeout, on_warm=None, warm_at=None):
    """
    Run ackd-bench to completion; call on_warm() warm_at seconds after it
    started. Returns (report, seconds it ran, CPU seconds it used, CPU
    seconds the whole machine used meanwhile).
    """
    # files, not pipes: nobody reads while we wait for the warm-up to end
    with tempfile.TemporaryFile() as outf, tempfile.TemporaryFile() as errf:
        busy0, _ = cpu_jiffies()
        t0 = time.monotonic()
        proc = spawn(cmd, stdout=outf, stderr=errf)
        try:
            usage = wait_usage(proc, t0, timeout, on_warm, warm_at)
            if usage is None:
                raise BenchError("ackd-bench ran over %g s; killed\n  "
                    "command: %s" % (timeout, shlex.join(cmd)))
        finally:
            kill_group(proc)
        elapsed = time.monotonic() - t0
        busy1, _ = cpu_jiffies()
        outf.seek(0)
        errf.seek(0)
        out, err = outf.read(), errf.read()
    # 1: some connection failed; the report counts them, and so do we
    if proc.returncode not in (0, 1):
        msg = "ackd-bench exited with status %d\n  command: %s" % (
            proc.returncode, shlex.join(cmd))
        if err.strip():
            msg += "\n  stderr: " + err.decode("utf-8", "replace").strip()
        raise BenchError(msg)
    return (parse_report(out, cmd), elapsed, usage,
        (busy1 - busy0) / CLK_TCK)


def wait_usage(proc, t0, timeout, on_warm, warm_at):
    """
    Wait for proc (calling on_warm at t0 + warm_at) with wait4, for its CPU
    time: user+system seconds, or None if timeout passed first.
    """
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            if on_warm is not None:
                on_warm()       # it ended within its warm-up: odd, but so
            return ru.ru_utime + ru.ru_stime
        now = time.monotonic() - t0
        if on_warm is not None and now >= warm_at:
            on_warm()
            on_warm = None
        if now > timeout:
            return None
        time.sleep(0.01)


# --- one measurement --------------------------------------------------------

def measure(kind, exes, conc, size, seconds, tmpdir, cpus, tag):
    """Start kind afresh, load it once with ackd-bench, stop it; a dict."""
    srv = Server(kind, exes[kind], tmpdir, cpus, tag)
    srv.start()
    try:
        cmd = bench_command(exes["bench"], srv.port, conc, size, seconds)
        samples = {}

        def warm():
            samples["warm"] = srv.cpu_ticks()
            samples["warm_sw"] = srv.switches()
            samples["warm_vol"] = srv.switches(CTX_FIELDS[:1])

        before = srv.cpu_ticks()
        before_sw = srv.switches()
        before_vol = srv.switches(CTX_FIELDS[:1])
        rep, elapsed, bench_cpu, machine_cpu = run_bench(cmd,
            timeout=seconds + WARMUP + 60, on_warm=warm, warm_at=WARMUP)
        after = srv.cpu_ticks()
        after_sw = srv.switches()
        after_vol = srv.switches(CTX_FIELDS[:1])
        hwm = srv.mem_kib("VmHWM")
        nprocs = len(srv.pids())
    finally:
        srv.stop()
    try:
        os.unlink(srv.log)
    except OSError:
        pass
    ok = rep["ok"]
    cpu_window = (after - samples.get("warm", before)) / CLK_TCK
    cpu_whole = (after - before) / CLK_TCK
    errors = sum(rep["errors"].values()) + rep["wrong"]
    sw, gone, new = switch_delta(samples.get("warm_sw", before_sw), after_sw)
    # what the threads alive at the end do not account for: threads that
    # exited at any time, and the shutdown (an upper bound of what the
    # window's figure missed)
    unseen = None if srv.exit_switches is None else \
        max(0, srv.exit_switches - sum(after_sw.values()))
    # the voluntary share: sleeps; the rest is preemption, which other
    # work on the machine inflates
    vol = switch_delta(samples.get("warm_vol", before_vol), after_vol)[0]
    partial = gone > 0 or unseen is None or unseen > CTX_UNSEEN_SHARE * sw
    return {
        "server": kind, "concurrency": conc, "size": size,
        "command": [os.path.basename(srv.cmd[0])] + srv.cmd[1:],
        "bench_command": [os.path.basename(cmd[0])] + cmd[1:],
        "rate": float(rep["rate"]), "ok": ok, "errors": errors,
        "p50": rep["latency_us"]["p50"], "p99": rep["latency_us"]["p99"],
        "p999": rep["latency_us"]["p999"],
        "cpu_s": cpu_window, "cpu_s_whole_run": cpu_whole,
        "cpu_us": cpu_window * 1e6 / ok if ok else None,
        "cpus_busy": cpu_window / rep["duration_s"] if rep["duration_s"]
            else None,
        "ctx": sw, "ctx_per_conn": sw / ok if ok else None,
        "ctx_voluntary_per_conn": vol / ok if ok else None,
        "ctx_tasks_gone": gone, "ctx_tasks_new": new,
        "ctx_exit_total": srv.exit_switches, "ctx_unseen": unseen,
        "ctx_unseen_per_conn": unseen / ok if ok and unseen is not None
            else None,
        "ctx_partial": partial,
        # whatever else ran meanwhile (other work on the machine, ksoftirqd)
        "bench_cpu_s": bench_cpu, "machine_cpu_s": machine_cpu,
        "other_cpus": max(0.0, machine_cpu - cpu_whole - bench_cpu) / elapsed,
        "rss_mib": hwm / 1024.0, "processes": nprocs,
        "exit_status": srv.status, "wall_s": elapsed, "report": rep,
    }


def rotated(round_no):
    """The server order of a round: A B C D, then B C D A, C D A B..."""
    k = round_no % len(SERVERS)
    return SERVERS[k:] + SERVERS[:k]


def median(values):
    """Median of the values that are not None, or None."""
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarize(runs, rounds):
    """Medians per configuration and server; per-round pair ratios."""
    med, ratios = {}, {}
    for conc in CONCURRENCY:
        for size in SIZES:
            key = "%d/%d" % (conc, size)
            med[key] = {}
            by = {s: {} for s in SERVERS}
            for r in runs:
                if r["concurrency"] == conc and r["size"] == size:
                    by[r["server"]][r["round"]] = r
            for s in SERVERS:
                rs = list(by[s].values())
                med[key][s] = {m: median(r[m] for r in rs) for m in
                    ("rate", "p50", "p99", "p999", "cpu_us", "cpus_busy",
                    "ctx_per_conn", "ctx_voluntary_per_conn", "rss_mib")}
                med[key][s]["errors"] = sum(r["errors"] for r in rs)
                med[key][s]["ctx_partial"] = any(r["ctx_partial"]
                    for r in rs)
            ratios[key] = {}
            for other, metrics in (("reference", ("rate", "p99", "cpu_us",
                    "ctx_per_conn")),
                    ("baseline", ("rate", "p999")),
                    ("seed", ("rate", "p999"))):
                for m in metrics:
                    ratios[key]["%s/%s" % (m, other)] = pair_ratio(by,
                        "ackd", other, m, rounds)
            # a socket per worker against the shared one (doc/performance.md)
            for m in ("rate", "p99", "cpu_us", "ctx_per_conn"):
                ratios[key]["reuseport_%s/ackd" % m] = pair_ratio(by,
                    "ackd-reuseport", "ackd", m, rounds)
            # how far the ceiling is above the C baseline: the headroom
            ratios[key]["reference_rate/baseline"] = pair_ratio(by,
                "reference", "baseline", "rate", rounds)
            # what the interpreter costs the same design
            ratios[key]["baseline_rate/seed"] = pair_ratio(by,
                "baseline", "seed", "rate", rounds)
    return med, ratios


def pair_ratio(by, one, other, m, rounds):
    """Median over rounds of one's metric m over other's, or None."""
    pairs = []
    for rnd in range(rounds):
        a, b = by[one].get(rnd), by[other].get(rnd)
        if a and b and a[m] is not None and b[m]:
            pairs.append(a[m] / b[m])
    return median(pairs)


def check_targets(ratios):
    """Each target as (text, measured ratio, PASS/MISS)."""
    key = "%d/%d" % TARGET_CONFIG
    out = []
    for name, text, metric, other, op, limit in TARGETS:
        got = ratios[key].get("%s/%s" % (metric, other))
        if got is None:
            verdict = "MISS"
        elif op == ">=":
            verdict = "PASS" if got >= limit else "MISS"
        else:
            verdict = "PASS" if got <= limit else "MISS"
        out.append({"name": name, "text": text, "ratio": got,
            "limit": limit, "op": op, "verdict": verdict})
    return out


# --- output ------------------------------------------------------------------

def fmt(v, spec="%.0f"):
    """A number for a table, or '-' if there is none."""
    return "-" if v is None else spec % v


def results_rows(med):
    """Rows of the results table: one per configuration and server."""
    rows = []
    for conc in CONCURRENCY:
        for size in SIZES:
            for s in SERVERS:
                m = med["%d/%d" % (conc, size)][s]
                rows.append([str(conc), str(size), s, fmt(m["rate"]),
                    fmt(m["p50"]), fmt(m["p99"]), fmt(m["p999"]),
                    fmt(m["cpu_us"], "%.1f"), fmt_ctx(m["ctx_per_conn"],
                    m["ctx_partial"]), fmt(m["cpus_busy"], "%.2f"),
                    fmt(m["rss_mib"], "%.1f"), str(m["errors"])])
    return rows


def fmt_ctx(v, partial):
    """Context switches per connection; ">=" marks a lower bound."""
    return fmt(v, ">=%.2f" if partial else "%.2f")


RESULT_HEAD = ["conc", "size", "server", "conn/s", "p50 us", "p99 us",
    "p99.9 us", "CPU us/conn", "ctx sw/conn", "CPUs", "peak RSS MiB",
    "errors"]
RATIO_HEAD = ["conc", "size", "ackd/ref conn/s", "ackd/ref p99",
    "ackd/ref CPU/conn", "ackd/ref ctx sw/conn", "ackd/base conn/s",
    "ackd/base p99.9", "ackd/seed conn/s", "ackd/seed p99.9",
    "reuseport/ackd conn/s", "reuseport/ackd p99", "reuseport/ackd CPU/conn",
    "reuseport/ackd ctx sw/conn"]


def ratio_rows(ratios):
    """Rows of the ratios table: one per configuration."""
    rows = []
    for conc in CONCURRENCY:
        for size in SIZES:
            r = ratios["%d/%d" % (conc, size)]
            rows.append([str(conc), str(size)] + [fmt(r[k], "%.2f") for k in
                ("rate/reference", "p99/reference", "cpu_us/reference",
                 "ctx_per_conn/reference", "rate/baseline", "p999/baseline",
                 "rate/seed", "p999/seed", "reuseport_rate/ackd",
                 "reuseport_p99/ackd", "reuseport_cpu_us/ackd",
                 "reuseport_ctx_per_conn/ackd")])
    return rows


def text_table(head, rows):
    """A plain table, numbers right-aligned, the server column left."""
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    lines = []
    for row in [head] + rows:
        cells = [c.ljust(w) if h == "server" else c.rjust(w)
            for h, c, w in zip(head, row, widths)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def md_table(head, rows):
    """A markdown table, numbers right-aligned."""
    align = ["---:" if h not in ("server", "target") else ":---"
        for h in head]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def target_rows(targets):
    """Rows of the targets table."""
    return [["%s (c=%d, %d B)" % ((t["text"],) + TARGET_CONFIG),
        fmt(t["ratio"], "%.2f"), t["verdict"]] for t in targets]


def machine():
    """What the numbers were measured on."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    u = platform.uname()
    return {"cpu": model, "nproc": len(os.sched_getaffinity(0)),
        "kernel": "%s %s %s" % (u.system, u.release, u.machine),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC")}


def cpu_jiffies():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(v) for v in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)   # idle + iowait
    total = sum(vals[:8])       # guest time is already in user
    return total - idle, total


def machine_busy(seconds=1.0):
    """How many CPUs' worth other processes keep busy now."""
    b0, t0 = cpu_jiffies()
    time.sleep(seconds)
    b1, t1 = cpu_jiffies()
    ncpu = os.cpu_count() or 1
    return (b1 - b0) / max(1, t1 - t0) * ncpu


def check_idle(info):
    """Measure and note the machine's load before we start; warn if busy."""
    info["busy_cpus_before"] = round(machine_busy(), 2)
    with open("/proc/loadavg") as f:
        info["loadavg_before"] = " ".join(f.read().split()[:3])
    if info["busy_cpus_before"] > 0.1:
        print("warning: something else keeps %.2f CPUs busy (load average "
            "%s): the numbers will be noisy" % (info["busy_cpus_before"],
            info["loadavg_before"]), file=sys.stderr)


def nice_step(top, ticks=6):
    """A round axis step (1, 2, 5 x 10^k) giving about ticks intervals."""
    raw = max(top, 1) / ticks
    mag = 10 ** len(str(int(raw))) / 10
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def svg_chart(med, title):
    """Throughput versus concurrency as a standalone SVG document."""
    w, h = 760, 460
    left, right, top, bottom = 84, 190, 56, 64
    pw, ph = w - left - right, h - top - bottom
    colors = {"ackd": "#1f77b4", "ackd-reuseport": "#9467bd",
        "reference": "#2ca02c",
        "baseline": "#d62728", "seed": "#ff7f0e"}
    rates = [med["%d/%d" % (c, s)][k]["rate"] or 0 for c in CONCURRENCY
        for s in SIZES for k in SERVERS]
    step = nice_step(max(rates) * 1.05)
    ymax = step * max(1, -(-max(rates) * 1.05 // step))

    def x(i):
        return left + pw * (i + 0.5) / len(CONCURRENCY)

    def y(v):
        return top + ph - ph * v / ymax

    def label(v):
        return "%gk" % (v / 1000) if v >= 1000 else "%g" % v

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
        'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">' %
        (w, h, w, h), '<rect width="100%" height="100%" fill="white"/>',
        '<text x="%d" y="28" font-size="15" font-weight="bold" '
        'text-anchor="middle">%s</text>' % (left + pw / 2,
        html.escape(title))]
    v = 0.0
    while v <= ymax + step / 2:
        out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" '
            'stroke="#ddd"/>' % (left, left + pw, y(v), y(v)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' %
            (left - 8, y(v) + 4, label(v)))
        v += step
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
        'stroke="#333"/>' % (left, top, pw, ph))
    for i, c in enumerate(CONCURRENCY):
        out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" '
            'stroke="#333"/>' % (x(i), x(i), top + ph, top + ph + 5))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' %
            (x(i), top + ph + 20, c))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">concurrent '
        'clients (ackd-bench --concurrency)</text>' % (left + pw / 2, h - 16))
    out.append('<text transform="translate(20 %.1f) rotate(-90)" '
        'text-anchor="middle">connections per second</text>' %
        (top + ph / 2))
    for s in SERVERS:
        for size in SIZES:
            pts = [(x(i), y(med["%d/%d" % (c, size)][s]["rate"] or 0))
                for i, c in enumerate(CONCURRENCY)]
            dash = ' stroke-dasharray="7 4"' if size != SIZES[0] else ""
            out.append('<polyline fill="none" stroke="%s" stroke-width="2"%s '
                'points="%s"/>' % (colors[s], dash,
                " ".join("%.1f,%.1f" % p for p in pts)))
            fill = colors[s] if size == SIZES[0] else "white"
            for px, py in pts:
                out.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s" '
                    'stroke="%s" stroke-width="1.5"/>' % (px, py, fill,
                    colors[s]))
    lx, ly = left + pw + 20, top + 10
    out.append('<text x="%d" y="%d" font-weight="bold">server</text>' %
        (lx, ly))
    for j, s in enumerate(SERVERS):
        yy = ly + 20 * (j + 1)
        out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" '
            'stroke-width="3"/>' % (lx, lx + 26, yy - 4, yy - 4, colors[s]))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 34, yy, s))
    ly += 20 * (len(SERVERS) + 2)
    out.append('<text x="%d" y="%d" font-weight="bold">message</text>' %
        (lx, ly))
    for j, size in enumerate(SIZES):
        yy = ly + 20 * (j + 1)
        dash = ' stroke-dasharray="7 4"' if size != SIZES[0] else ""
        out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333" '
            'stroke-width="2"%s/>' % (lx, lx + 26, yy - 4, yy - 4, dash))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 34, yy,
            "%d B" % size if size < 1024 else "%d KiB" % (size // 1024)))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def cmdline(args):
    """args as a shell line; $NAME placeholders stay unquoted."""
    return " ".join(a if re.match(r"^[\w./=:,$+-]+$", a) else
        shlex.quote(a) for a in args)


def write_file(path, text):
    """Write text to path through a temporary file (no half-written doc)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def show_path(p):
    """p relative to the working directory when it is under it."""
    rel = os.path.relpath(p)
    return p if rel.startswith("..") else rel


def bench_markdown(info, args, exes, med, ratios, targets, cpus, wall,
        runs):
    """doc/bench.md."""
    noisy = [r for r in runs if r["other_cpus"] > OTHER_WARN]
    quiet = ("- during the run: no measurement saw more than %.1f CPUs of "
        "other work" % OTHER_WARN if not noisy else
        "- during the run: **%d of %d measurements saw other work** on the "
        "machine (up to %.2f CPUs; see other_cpus in bench.json): noisy"
        % (len(noisy), len(runs), max(r["other_cpus"] for r in noisy)))
    cmds = [cmdline(shown_command(s, exes[s], "$TMP/%s.log" % s, cpus))
        for s in SERVERS]
    bcmd = cmdline([show_path(exes["bench"])] + bench_command("x", "$PORT",
        "$C", "$B", args.seconds)[1:])
    lines = [
        "# ackd benchmark", "",
        "Generated by `tests/bench/run.py`%s on %s; %d round(s) of %g s "
        "per measurement, %.0f s in all. Numbers are medians over the "
        "rounds; ratios are medians of the per-round ackd/other pairs." % (
            " (--quick: a smoke test, not a result)" if args.quick else "",
            info["date"], args.rounds, args.seconds, wall), "",
        "## Machine", "",
        "- CPU: %s, %d online" % (info["cpu"], info["nproc"]),
        "- kernel: %s" % info["kernel"],
        "- before the run: %.2f CPUs busy with other work, load average %s"
        % (info["busy_cpus_before"], info["loadavg_before"]),
        quiet,
        "- client and servers share the machine and talk over loopback;",
        "  ackd-bench (one event-loop thread) takes CPU from the server "
        "under test, alike for all of them.",
        "",
        "## Servers", "",
        "- **ackd**: the daemon, %d workers x 16 threads, text log to a file."
        % cpus,
        "- **ackd-reuseport**: the same with --reuseport, a listening "
        "socket per worker (SO_REUSEPORT) instead of one shared.",
        "- **reference** (`tests/bench/reference.c`): %d pre-forked "
        "processes, blocking accept, one recv, one write() of a plain "
        "line, send, close: the ceiling for this machine." % cpus,
        "- **baseline** (`tests/bench/baseline.c`): the original script's "
        "design in C: listen(5), a detached thread per client, three "
        "stdio lines per client.",
        "- **seed** (`tests/bench/seed.py`, Python %s): the original script "
        "itself, its logic unchanged: listen(5), a threading.Thread per "
        "client, three print() lines per client into a line-buffered log. "
        "Only the plumbing is new: --port/--bind/--log, the ready line, "
        "exit on SIGTERM." % info["python"], "",
        "## Commands", "",
        "    " + cmdline(["python3"] + [show_path(a) if os.path.exists(a)
            else a for a in sys.argv]),
        ""] + ["    " + c for c in cmds] + ["    " + bcmd, "",
        "Each measurement starts its server afresh (port from `ready "
        "port=P`, or for ackd from its event=start line after every "
        "event=worker-start), runs ackd-bench once and stops the server "
        "with SIGTERM. The server order turns every round (A B C D, "
        "B C D A, C D A B, ...). For C in %s and B in %s." % (
            ", ".join(map(str, CONCURRENCY)), ", ".join(map(str, SIZES))),
        "",
        "CPU us/conn: utime+stime of all the server's processes (all "
        "threads), from the end of the %g s warm-up to ackd-bench's exit, "
        "divided by the connections acknowledged in that window; CPUs: that "
        "CPU time over the measured seconds (how many CPUs the server kept "
        "busy; what is left of %d went to ackd-bench and the kernel). Peak "
        "RSS: sum of VmHWM over the server's processes at the end of the "
        "measurement. errors: connect/reset/timeout/other/unfinished "
        "errors plus wrong replies, summed over rounds." % (WARMUP, info["nproc"]), "",
        "ctx sw/conn: voluntary + involuntary context switches of every "
        "thread of the server's processes (/proc/PID/task/TID/status), "
        "per thread between the same two moments as the CPU time, divided "
        "by the same connections. A thread that exits between the samples "
        "takes its switches with it (the kernel keeps them only for the "
        "whole process, which /proc does not show). The runner therefore "
        "also reaps each server with wait4, whose rusage counts every "
        "thread it ever had, and marks a figure \">=\" (a lower bound) when "
        "a thread exited in the window or when the switches that no thread "
        "alive at the end accounts for (exited threads, the shutdown) "
        "exceed %.0f %% of the window's: the thread-per-client servers "
        "(baseline, seed) lose most of theirs this way; ackd's and the "
        "reference's threads and processes live through the window. "
        "Ratios use the figures as measured. bench.json also keeps the "
        "voluntary part (ctx_voluntary_per_conn: sleeps); the rest are "
        "preemptions, which other work on the machine inflates." % (
            CTX_UNSEEN_SHARE * 100), "",
        "## Results", "",
        md_table(RESULT_HEAD, results_rows(med)), "",
        "![throughput versus concurrency](bench-throughput.svg)", "",
        "## Ratios", "",
        md_table(RATIO_HEAD, ratio_rows(ratios)), "",
        "## Targets", "",
        md_table(["target", "ratio", "verdict"], target_rows(targets)), "",
        "## The baseline and seed rows", "",
    ] + baseline_notes(info, med, ratios, runs) + [""]
    return "\n".join(lines)


def headroom(med, ratios, runs):
    """At TARGET_CONFIG: reference/baseline and ackd/seed throughput, and
    the CPUs ackd-bench and the reference kept busy in the reference's runs."""
    key = "%d/%d" % TARGET_CONFIG
    ref_runs = [r for r in runs if r["server"] == "reference" and
        (r["concurrency"], r["size"]) == TARGET_CONFIG and r["wall_s"]]
    return {"ref_base": ratios[key]["reference_rate/baseline"],
        "ackd_base": ratios[key]["rate/baseline"],
        "ackd_seed": ratios[key]["rate/seed"],
        "base_seed": ratios[key]["baseline_rate/seed"],
        "bench_cpus": median(r["bench_cpu_s"] / r["wall_s"]
            for r in ref_runs),
        "ref_cpus": med[key]["reference"]["cpus_busy"]}


def baseline_notes(info, med, ratios, runs):
    """bench.md's explanation of the 4 x targets, numbers filled in."""
    h = headroom(med, ratios, runs)
    where = "c=%d, %d B" % TARGET_CONFIG
    return [
        "At %s the reference server, the ceiling for this machine, does "
        "%s x the throughput of the C thread-per-connection baseline, so "
        "%s: ackd does %s x. The "
        "C baseline is within reach of the reference on loopback because "
        "the load generator takes the largest share of the %d CPUs: "
        "ackd-bench, one event-loop thread, kept about %s CPUs busy during "
        "the reference's runs (one CPU is all it can use), the reference "
        "%s. With client and server on the same cores, throughput is "
        "bounded by how fast ackd-bench opens and closes connections, and "
        "a thread per connection in C is cheap enough not to show." % (
            where, fmt(h["ref_base"], "%.2f"), reach(h["ref_base"]),
            fmt(h["ackd_base"], "%.2f"),
            info["nproc"], fmt(h["bench_cpus"], "%.2f"),
            fmt(h["ref_cpus"], "%.2f")), "",
        "The seed row is the original Python script itself, the server "
        "ackd's users actually come from. The interpreter, its global lock "
        "and a Python thread started per client cost what the same design "
        "in C does not: the C baseline does %s x the script's throughput at "
        "%s, and ackd %s x (target: 4 x)." % (fmt(h["base_seed"], "%.2f"),
            where, fmt(h["ackd_seed"], "%.2f"))]


def reach(ref_base):
    """Whether 4 x the C baseline is possible below the reference's ceiling."""
    limit = [t[5] for t in TARGETS if t[0] == "thr_base"][0]
    if ref_base is None:
        return "whether %g x that baseline is reachable here is unknown" % \
            limit
    if ref_base < limit:
        return "no server could reach %g x that baseline here" % limit
    return "%g x that baseline is within the ceiling here" % limit


# --- the benchmark ------------------------------------------------------------

def benchmark(args, exes, cpus, outdir, tmpdir):
    """Every configuration x server x round; print and write the results."""
    info = machine()
    check_idle(info)
    plan = []
    for rnd in range(args.rounds):
        for conc in CONCURRENCY:
            for size in SIZES:
                for kind in rotated(rnd):
                    plan.append((rnd, conc, size, kind))
    per = args.seconds + WARMUP + 0.4
    print("%d measurements of about %.1f s each: about %.0f s" % (
        len(plan), per, len(plan) * per))
    t0 = time.monotonic()
    runs = []
    for i, (rnd, conc, size, kind) in enumerate(plan):
        r = measure(kind, exes, conc, size, args.seconds, tmpdir, cpus,
            "%d" % i)
        r["round"] = rnd
        runs.append(r)
        print("[%2d/%d] round %d  c=%-3d %4d B  %-9s %8.0f conn/s  "
            "p99 %6d us  cpu %6s us/conn  ctx %6s/conn  rss %5.1f MiB%s" % (
            i + 1, len(plan), rnd + 1, conc, size, kind, r["rate"], r["p99"],
            fmt(r["cpu_us"], "%.1f"), fmt_ctx(r["ctx_per_conn"],
            r["ctx_partial"]), r["rss_mib"],
            ("  errors %d" % r["errors"] if r["errors"] else "") +
            ("  [other work: %.2f CPUs]" % r["other_cpus"]
             if r["other_cpus"] > OTHER_WARN else "")))
        sys.stdout.flush()
    wall = time.monotonic() - t0
    noisy = [r for r in runs if r["other_cpus"] > OTHER_WARN]
    if noisy:
        print("warning: %d of %d measurements shared the machine with other "
            "work (up to %.2f CPUs): compare with care, or run again on a "
            "quiet machine" % (len(noisy), len(runs),
            max(r["other_cpus"] for r in noisy)), file=sys.stderr)
    med, ratios = summarize(runs, args.rounds)
    targets = check_targets(ratios)
    tls = tls_part(args, exes, cpus, tmpdir)
    print()
    print("medians of %d round(s):" % args.rounds)
    print(text_table(RESULT_HEAD, results_rows(med)))
    print()
    print("ratios (medians of per-round pairs):")
    print(text_table(RATIO_HEAD, ratio_rows(ratios)))
    print()
    print("targets:")
    for t in targets:
        print("  %-4s  %s (c=%d, %d B): %s" % ((t["verdict"], t["text"]) +
            TARGET_CONFIG + (fmt(t["ratio"], "%.2f"),)))
    h = headroom(med, ratios, runs)
    print("  note: the reference does %s x the C baseline's throughput "
        "(ackd-bench kept %s of %d CPUs busy meanwhile), so %s; baseline/"
        "seed: %s, ackd/seed: %s" % (fmt(h["ref_base"], "%.2f"),
        fmt(h["bench_cpus"], "%.2f"), info["nproc"], reach(h["ref_base"]),
        fmt(h["base_seed"], "%.2f"), fmt(h["ackd_seed"], "%.2f")))
    if tls is not None:
        tls_rows.print_text(tls)
    os.makedirs(outdir, exist_ok=True)
    write_file(os.path.join(outdir, "bench.md"), bench_markdown(info, args,
        exes, med, ratios, targets, cpus, wall, runs) + ("" if tls is None
        else "\n" + "\n".join(tls_rows.markdown(tls, exes, cpus, args.seconds))))
    write_file(os.path.join(outdir, "bench-throughput.svg"), svg_chart(med,
        "Throughput by concurrency (%d CPUs, median of %d round%s)" % (
        info["nproc"], args.rounds, "s" if args.rounds > 1 else "")))
    write_file(os.path.join(outdir, "bench.json"), json.dumps({
        "machine": info, "argv": sys.argv, "quick": args.quick,
        "rounds": args.rounds, "seconds": args.seconds, "warmup": WARMUP,
        "cpus": cpus, "wall_s": wall, "medians": med, "ratios": ratios,
        "targets": targets, "runs": runs, "tls": tls}, indent=1) + "\n")
    print()
    print("wrote %s/bench.md, bench-throughput.svg, bench.json (%.0f s)" %
        (show_path(outdir), wall))
    return all(t["verdict"] == "PASS" for t in targets) and tls_passed(tls)


# --- the TLS rows -------------------------------------------------------------

tls_rows = None     # tls_rows.py, imported when the TLS rows run


def tls_part(args, exes, cpus, tmpdir):
    """The TLS rows (tls_rows.py's dict), or None with --tls no."""
    global tls_rows
    if args.tls == "no":
        return None
    # tls_rows.py imports run: let it find this module, run as a script
    sys.modules.setdefault("run", sys.modules[__name__])
    import tls_rows as mod
    tls_rows = mod
    return tls_rows.run_rows(args, exes, cpus, tmpdir)


def tls_passed(tls):
    """No TLS target was missed (those that could not be judged aside)."""
    return tls is None or all(t["verdict"] != "MISS" for t in
        tls.get("targets", ()))


def tls_only(args, exes, cpus, outdir, tmpdir):
    """--tls only: the TLS rows alone, into DIR/bench-tls.md and .json."""
    info = machine()
    check_idle(info)
    t0 = time.monotonic()
    tls = tls_part(args, exes, cpus, tmpdir)
    wall = time.monotonic() - t0
    tls_rows.print_text(tls)
    os.makedirs(outdir, exist_ok=True)
    head = ["# ackd TLS benchmark", "",
        "Generated by `tests/bench/run.py --tls only%s` on %s; %d round(s) "
        "of %g s per measurement, %.0f s in all; %s, %d online; before the "
        "run %.2f CPUs busy with other work. The full `make bench` puts "
        "these rows into doc/bench.md." % (" --quick" if args.quick else "",
        info["date"], args.rounds, args.seconds, wall, info["cpu"],
        info["nproc"], info["busy_cpus_before"]), ""]
    write_file(os.path.join(outdir, "bench-tls.md"), "\n".join(head +
        tls_rows.markdown(tls, exes, cpus, args.seconds)))
    write_file(os.path.join(outdir, "bench-tls.json"), json.dumps({
        "machine": info, "argv": sys.argv, "tls": tls}, indent=1) + "\n")
    print("wrote %s/bench-tls.md, bench-tls.json (%.0f s)" % (
        show_path(outdir), wall))
    return tls_passed(tls)


# --- the soak test -------------------------------------------------------------

class LogCounter:
    """Counts event=message lines of a log that we truncate as we go."""

    def __init__(self, path):
        self.path = path
        self.messages = 0
        self.lines = 0

    def drain(self):
        """Count what is in the log now, then empty it (ackd appends)."""
        carry = b""
        with open(self.path, "rb") as f:
            while True:
                block = f.read(1 << 20)
                if not block:
                    break
                data = carry + block
                cut = data.rfind(b"\n") + 1
                whole, carry = data[:cut], data[cut:]
                self.lines += whole.count(b"\n")
                self.messages += whole.count(b" event=message ") + \
                    whole.count(b'"event":"message"')
        # no connection is in flight between chunks: nothing is lost
        os.truncate(self.path, 0)


def soak(args, exes, cpus, outdir, tmpdir):
    """Drive args.soak connections through one ackd; is its RSS flat?"""
    n = args.soak
    chunks = SOAK_CHUNKS if n >= SOAK_CHUNKS else 1
    sizes = [n // chunks + (1 if i < n % chunks else 0)
        for i in range(chunks)]
    info = machine()
    check_idle(info)
    srv = Server("ackd", exes["ackd"], tmpdir, cpus, "soak")
    per_second, samples = [], []
    stop = threading.Event()
    t0 = time.monotonic()

    def sampler():
        while not stop.wait(1.0):
            per_second.append((round(time.monotonic() - t0, 2),
                srv.mem_kib("VmRSS")))

    srv.start()
    thread = threading.Thread(target=sampler, daemon=True)
    counter = LogCounter(srv.log)
    try:
        counter.drain()
        samples.append({"chunk": 0, "conns": 0, "elapsed_s": 0.0,
            "rss_kib": srv.mem_kib("VmRSS"), "rate": None, "errors": 0})
        print("chunk  connections  elapsed s   conn/s  errors  RSS KiB")
        print("%5d  %11d  %9.1f  %7s  %6d  %7d" % (0, 0, 0.0, "-", 0,
            samples[0]["rss_kib"]))
        thread.start()
        done = 0
        for i, k in enumerate(sizes):
            cmd = bench_command(exes["bench"], srv.port, SOAK_CONCURRENCY,
                SOAK_SIZE, count=k)
            rep = run_bench(cmd, timeout=max(120.0, k / 200.0))[0]
            counter.drain()
            done += rep["ok"]
            errs = sum(rep["errors"].values()) + rep["wrong"]
            if srv.proc.poll() is not None:
                raise BenchError("ackd exited during the soak (status %s)" %
                    srv.proc.returncode)
            s = {"chunk": i + 1, "conns": done,
                "elapsed_s": round(time.monotonic() - t0, 2),
                "rss_kib": srv.mem_kib("VmRSS"), "rate": rep["rate"],
                "errors": errs}
            samples.append(s)
            print("%5d  %11d  %9.1f  %7.0f  %6d  %7d" % (s["chunk"], done,
                s["elapsed_s"], s["rate"], errs, s["rss_kib"]))
            sys.stdout.flush()
        hwm = srv.mem_kib("VmHWM")
        procs = len(srv.pids())
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(5)
        srv.stop()
    # warm-up: the samples up to 10 % of the connections are not judged
    warm = [s for s in samples if s["conns"] <= n * 0.1]
    base = warm[-1] if len(warm) < len(samples) else samples[0]
    after = [s for s in samples if s["conns"] >= base["conns"]]
    growth = (samples[-1]["rss_kib"] - base["rss_kib"]) / 1024.0
    spread = (max(s["rss_kib"] for s in after) - min(s["rss_kib"]
        for s in after)) / 1024.0
    flat = growth < SOAK_FLAT_MIB
    verdict = "flat" if flat else "GROWING"
    total_err = sum(s["errors"] for s in samples)
    print()
    print("RSS of %d ackd processes after %d connections: %.1f MiB; growth "
        "after the first 10 %% (from %d connections): %+.2f MiB (spread "
        "%.2f MiB); log lines event=message: %d; errors: %d" % (procs, done,
        samples[-1]["rss_kib"] / 1024.0, base["conns"], growth, spread,
        counter.messages, total_err))
    print("verdict: %s (growth < %g MiB is flat)" % (verdict, SOAK_FLAT_MIB))
    os.makedirs(outdir, exist_ok=True)
    rows = [[str(s["chunk"]), str(s["conns"]), "%.1f" % s["elapsed_s"],
        fmt(s["rate"]), str(s["errors"]), str(s["rss_kib"]),
        "%.2f" % (s["rss_kib"] / 1024.0)] for s in samples]
    md = [
        "# ackd soak test", "",
        "Generated by `tests/bench/run.py --soak %d` on %s." % (n,
            info["date"]), "",
        "- CPU: %s, %d online; kernel %s" % (info["cpu"], info["nproc"],
            info["kernel"]),
        "- before the run: %.2f CPUs busy with other work, load average %s"
        % (info["busy_cpus_before"], info["loadavg_before"]), "",
        "## Commands", "",
        "    " + cmdline([show_path(exes["ackd"])] + server_command("ackd",
            "", "$TMP/ackd.log", cpus)[1:]),
        "    " + cmdline([show_path(exes["bench"])] + bench_command("x",
            "$PORT", SOAK_CONCURRENCY, SOAK_SIZE, count=sizes[0])[1:]) +
            "    # %d times" % len(sizes), "",
        "One ackd (%d workers) serves all %d connections. After each chunk "
        "the runner counts and empties the log (ackd appends, so it keeps "
        "writing at the new end) and samples VmRSS summed over the master "
        "and the workers; a thread also samples every second (%d samples, "
        "%.2f-%.2f MiB)." % (cpus, n, len(per_second),
            min([v for _, v in per_second] or [0]) / 1024.0,
            max([v for _, v in per_second] or [0]) / 1024.0), "",
        "## Samples", "",
        md_table(["chunk", "connections", "elapsed s", "conn/s", "errors",
            "RSS KiB", "RSS MiB"], rows), "",
        "## Verdict", "",
        "- connections acknowledged: %d (log lines event=message: %d), "
        "errors: %d" % (done, counter.messages, total_err),
        "- RSS at %d connections (end of warm-up, first 10 %% excluded): "
        "%.2f MiB; at the end: %.2f MiB; peak (VmHWM): %.2f MiB" % (
            base["conns"], base["rss_kib"] / 1024.0,
            samples[-1]["rss_kib"] / 1024.0, hwm / 1024.0),
        "- growth after warm-up: %+.2f MiB (spread %.2f MiB)" % (growth,
            spread),
        "- **%s** (growth under %g MiB counts as flat)" % (verdict,
            SOAK_FLAT_MIB), ""]
    write_file(os.path.join(outdir, "soak.md"), "\n".join(md))
    write_file(os.path.join(outdir, "soak.json"), json.dumps({
        "machine": info, "argv": sys.argv, "connections": n, "ok": done,
        "log_messages": counter.messages, "errors": total_err,
        "workers": cpus, "samples": samples, "per_second": per_second,
        "growth_mib": growth, "spread_mib": spread, "verdict": verdict},
        indent=1) + "\n")
    print("wrote %s/soak.md, soak.json" % show_path(outdir))
    return flat


# --- main -------------------------------------------------------------------

def default_paths():
    """Where the five programs are unless told: the tree around us."""
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(os.path.dirname(here))
    return {"ackd": ("ACKD", os.path.join(top, "src", "ackd")),
        "bench": ("ACKD_BENCH", os.path.join(top, "src", "ackd-bench")),
        "reference": ("BENCH_REFERENCE", os.path.join(here, "reference")),
        "baseline": ("BENCH_BASELINE", os.path.join(here, "baseline")),
        "seed": ("BENCH_SEED", os.path.join(here, "seed.py"))}


def parse_args(argv):
    """The runner's flags."""
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(prog="run.py", description="Benchmark "
        "ackd against a reference server, a thread-per-client baseline "
        "and the original script (or soak-test it) with ackd-bench.")
    ap.add_argument("--ackd", help="ackd to test ($ACKD)")
    ap.add_argument("--ackd-bench", dest="bench",
        help="the load generator ($ACKD_BENCH)")
    ap.add_argument("--reference", help="reference server ($BENCH_REFERENCE)")
    ap.add_argument("--baseline", help="baseline server ($BENCH_BASELINE)")
    ap.add_argument("--seed", help="the original script, run by this "
        "python ($BENCH_SEED; default: seed.py next to run.py)")
    ap.add_argument("--out", help="where to write the results (default: "
        "doc/ next to tests/; with --quick a temporary directory)")
    ap.add_argument("--quick", action="store_true", help="one round of "
        "%g s per measurement: a smoke test" % QUICK_SECONDS)
    ap.add_argument("--rounds", type=int, help="rounds (default %d)" %
        ROUNDS)
    ap.add_argument("--seconds", type=float, help="seconds per measurement "
        "after the warm-up (default %g)" % SECONDS)
    ap.add_argument("--soak", type=int, nargs="?", const=SOAK_DEFAULT,
        metavar="N", help="soak ackd with N connections instead (default "
        "N: %d)" % SOAK_DEFAULT)
    ap.add_argument("--workers", type=int, help="ackd --workers and "
        "reference --procs (default: online CPUs)")
    ap.add_argument("--ackd-args", default="", metavar="FLAGS",
        help="more flags for ackd, e.g. --ackd-args='--threads 4'")
    ap.add_argument("--tls", choices=("yes", "no", "only"), default="yes",
        help="the TLS rows against nginx: after the others (yes, the "
        "default), not at all, or alone (only: into DIR/bench-tls.md)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a "
        "target is missed or the soak is not flat")
    args = ap.parse_args(argv)
    if args.rounds is None:
        args.rounds = QUICK_ROUNDS if args.quick else ROUNDS
    if args.seconds is None:
        args.seconds = QUICK_SECONDS if args.quick else SECONDS
    if args.rounds < 1 or args.seconds <= 0:
        ap.error("--rounds must be >= 1 and --seconds > 0")
    if args.soak is not None and args.soak < 1:
        ap.error("--soak N: N must be >= 1")
    if args.workers is not None and args.workers < 1:
        ap.error("--workers must be >= 1")
    if args.out is None:
        if args.quick:
            args.out = os.path.join(tempfile.gettempdir(), "ackd-bench-quick")
        else:
            args.out = os.path.join(os.path.dirname(os.path.dirname(here)),
                "doc")
    return args


def find_programs(args, ackd_only):
    """Absolute paths of the programs; BenchError if one is missing."""
    exes, missing = {}, []
    for key, (env, default) in default_paths().items():
        if ackd_only and key in ("reference", "baseline", "seed"):
            continue
        p = getattr(args, key) or os.environ.get(env) or default
        exes[key] = os.path.abspath(p)
        # seed.py is run by sys.executable: it need only be readable
        mode = os.R_OK if key == "seed" else os.X_OK
        if not os.access(exes[key], mode) or os.path.isdir(exes[key]):
            flag = "ackd-bench" if key == "bench" else key
            missing.append("%s: no %s at %s (--%s or $%s)" % (flag,
                "script" if key == "seed" else "executable", p, flag, env))
    if "seed" in exes and not sys.executable:
        missing.append("seed: no python interpreter (sys.executable) to "
            "run it with")
    if missing:
        raise BenchError("\n".join(missing))
    exes["ackd-reuseport"] = exes["ackd"]    # the same, with --reuseport
    return exes


def main(argv):
    """Parse, run the benchmark or the soak, clean up whatever happens."""
    args = parse_args(argv)
    ACKD_EXTRA[:] = shlex.split(args.ackd_args)
    # also when started in the background, where SIGINT comes ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    become_subreaper()
    cpus = args.workers or len(os.sched_getaffinity(0))
    tmpdir = tempfile.mkdtemp(prefix="ackd-runpy-")
    status = 0
    try:
        exes = find_programs(args, args.soak is not None or
            args.tls == "only")
        if args.soak is not None:
            ok = soak(args, exes, cpus, args.out, tmpdir)
        elif args.tls == "only":
            ok = tls_only(args, exes, cpus, args.out, tmpdir)
        else:
            ok = benchmark(args, exes, cpus, args.out, tmpdir)
        if args.strict and not ok:
            status = 1
    except BenchError as e:
        print("run.py: error: %s" % e, file=sys.stderr)
        status = 1
    except (KeyboardInterrupt, Interrupted):
        print("run.py: interrupted; stopping every server", file=sys.stderr)
        status = 130
    finally:
        kill_everything()
        # the TLS rows' nginx keeps a directory of its own in it
        shutil.rmtree(tmpdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
