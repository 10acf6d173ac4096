#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_faults.py: ackd when its resources fail it.

- The log reaches its file-size limit (RLIMIT_FSIZE): writes fail, SIGXFSZ
  must not kill anyone, no ACK is sent for an unlogged message, no half
  line is left in the file, and after a rename + SIGHUP ACKs resume.
- The log is /dev/full (standard output: a --log-file on it is refused
  with 73, as it is not a regular file): no ACK while full, warnings on
  stderr rate-limited.
- Every fdatasync fails under --sync (strace injects EIO): no ACK, a
  log-failed line and the log_failed counter for each message.
- The process runs out of descriptors (RLIMIT_NOFILE far below the
  number of held connections): accept() fails with EMFILE, the worker
  pauses instead of spinning, warns once, and recovers by itself.

The limits are set with prlimit(1) (util-linux) through a wrapper given
to the harness as $ACKD; without prlimit those parts are skipped.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def wrapper(tmp, name, limit):
    """A script that runs the real ackd under one prlimit limit."""
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec prlimit %s -- '%s' \"$@\"\n" %
                (limit, h.ackd_path()))
    os.chmod(path, 0o755)
    return path


class Wrapped:
    """with Wrapped(path): Daemons started inside run the wrapper."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.saved = os.environ.get("ACKD")
        os.environ["ACKD"] = self.path

    def __exit__(self, *exc):
        os.environ["ACKD"] = self.saved


def cpu_seconds(pid):
    """utime + stime of pid (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def send_many(d, tag, n):
    """n unique messages one after the other; their Results."""
    out = []
    for i in range(n):
        msg = h.unique_msg(tag, i) + b"-" + b"x" * 80
        t0 = time.monotonic()
        out.append(h.Result(msg, h.client(d.port, msg), t0,
                            time.monotonic()))
    return out


def check_whole_lines(t, label, path):
    """The file ends with a newline and every line parses."""
    with open(path, "rb") as f:
        data = f.read()
    t.ok("%s: the log ends with a whole line" % label,
         data == b"" or data.endswith(b"\n"), "ends %r" % data[-40:])
    bad = [r.raw for r in h.read_log(path) if r.error]
    t.eq("%s: every line in the log parses" % label, bad, [])
    return len(data)


def fsize_limit(t, tmp):
    """RLIMIT_FSIZE of 16 KiB on the log."""
    limit = 16 * 1024
    with Wrapped(wrapper(tmp, "fsize.sh", "--fsize=%d" % limit)):
        d = h.Daemon(tmp, ["--threads", "2"], workers=2,
                     log_name="fsize.log")
    workers = sorted(d.worker_pids)
    res = send_many(d, "fsize", 200)
    acked = [r for r in res if r.reply.data == h.ACK]
    refused = [r for r in res if r.reply.data == b""]
    t.ok("fsize: some messages were ACKed before the limit", acked,
         "none")
    t.ok("fsize: past the limit messages get no ACK", refused,
         "all %d ACKed" % len(acked))
    size = check_whole_lines(t, "fsize", d.log_path)
    t.ok("fsize: the log stayed within the limit", size <= limit,
         "%d bytes" % size)
    h.check_acks_logged(t, "fsize", res, d.records())
    t.eq("fsize: no worker died of SIGXFSZ", sorted(d.live_workers()),
         workers)
    t.ok("fsize: the failures are reported on stderr",
         "not acknowledged" in d.stderr(), h.short(d.stderr()[-300:]))
    # rotate: the new file has room again
    os.rename(d.log_path, d.log_path + ".1")
    d.signal(signal.SIGHUP)
    t.ok("fsize: every worker reopened after SIGHUP",
         d.wait_records(lambda r: r.event == "reopen", count=3,
                        timeout=10), "reopen lines %d" %
         len(d.events("reopen")))
    after = send_many(d, "fsize-after", 20)
    t.eq("fsize: after rotation every message is ACKed again",
         [r.reply.data for r in after], [h.ACK] * 20)
    h.check_acks_logged(t, "fsize after", after, d.records())
    want = {"log_failed": len(refused), "acked": len(acked) + 20}
    t.eq("fsize: SIGUSR1: log_failed counts each message not ACKed",
         d.wait_counters(want), want)


def dev_full(t, tmp):
    """The log is standard output on /dev/full; as --log-file, /dev/full
    is refused at start (the log file must be a regular file)."""
    if not os.path.exists("/dev/full"):
        t.skip("dev-full: a full log", "no /dev/full")
        return
    link = os.path.join(tmp, "full.log")
    os.symlink("/dev/full", link)
    status, _, err = h.run_ackd(["--port", "0", "--bind", "127.0.0.1",
                                 "--log-file", link], timeout=20)
    t.eq("dev-full: --log-file on /dev/full exits 73", status, 73)
    t.ok("dev-full: ... saying it is not a regular file",
         b"not a regular file" in err, h.short(err))
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        d = h.Daemon(tmp, ["--threads", "2"], workers=1,
                     log_name="full.log", ready=False,
                     log_flags=["--log-file", "-"],
                     preexec=lambda: os.dup2(full, 1))
    finally:
        os.close(full)
    # the start lines went nowhere: find the port from the socket
    port = h.wait_for(lambda: min(h.listens_of(d.pid).values(),
                                  default=None), 10)
    t.ok("dev-full: the daemon listens", port, "no listening socket")
    if not port:
        return
    d.port = port
    res = send_many(d, "full", 30)
    t.eq("dev-full: no message is ACKed while the log is full",
         [r.reply.data for r in res if r.reply.data], [])
    warnings = d.stderr().count("not acknowledged")
    t.ok("dev-full: the failures are reported on stderr", warnings >= 1,
         h.short(d.stderr()[-300:]))
    t.ok("dev-full: stderr is rate-limited (at most one a second)",
         warnings <= 3, "%d warnings for 30 failures" % warnings)


def sync_fails(t, tmp):
    """
    --sync with every fdatasync failing (strace injects EIO): the line
    was written but may not be on disk, so no client gets the ACK, each
    message has its log-failed line, and log_failed counts every one.
    """
    wrap = os.path.join(tmp, "eio.sh")
    with open(wrap, "w") as f:
        f.write("#!/bin/sh\nexec strace -f -qq -o /dev/null -e "
                "trace=fdatasync -e inject=fdatasync:error=EIO '%s' \"$@\"\n"
                % h.ackd_path())
    os.chmod(wrap, 0o755)
    with Wrapped(wrap):
        d = h.Daemon(tmp, ["--sync", "--threads", "2"], workers=2,
                     log_name="eio.log")
    res = send_many(d, "eio", 10)
    t.eq("sync EIO: no message is ACKed when fdatasync fails",
         [r.reply.data for r in res if r.reply.data], [])
    failed = d.wait_records(lambda r: r.event == "log-failed", count=10)
    t.eq("sync EIO: one log-failed line per message", len(failed), 10)
    want = {"log_failed": 10, "acked": 0}
    t.eq("sync EIO: SIGUSR1: log_failed=10 acked=0",
         d.wait_counters(want), want)
    t.ok("sync EIO: the failures are reported on stderr",
         "not acknowledged" in d.stderr(), h.short(d.stderr()[-300:]))


def out_of_descriptors(t, tmp):
    """
    RLIMIT_NOFILE of 24 against 60 held connections. ackd sizes
    --max-connections from the limit it starts with, and refuses one as
    small as 24, so the worker's limit is lowered under it once it runs
    (as a careless prlimit(1) by an operator would): accept() then
    fails with EMFILE, the case the accept loop must survive.
    """
    d = h.Daemon(tmp, ["--threads", "1", "--queue", "100",
                       "--read-timeout", "60", "--defer-accept", "0"],
                 workers=1, log_name="nofile.log")
    worker = d.worker_pids[0]
    subprocess.run(["prlimit", "--pid", str(worker), "--nofile=24:24"],
                   check=True)
    held = []
    for _ in range(60):
        c = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        held.append(c)
    # the worker holds what it could accept; the rest waits in the backlog
    t.ok("nofile: accept failures are reported on stderr",
         h.wait_for(lambda: "accept failed" in d.stderr(), 10),
         h.short(d.stderr()[-300:]))
    before = cpu_seconds(worker)
    wall0 = time.monotonic()
    time.sleep(2)   # a measurement window, not a synchronisation
    busy = (cpu_seconds(worker) - before) / (time.monotonic() - wall0)
    t.ok("nofile: the worker does not spin while out of descriptors",
         busy < 0.5, "%.0f%% of a CPU" % (busy * 100))
    t.ok("nofile: one warning for the whole shortage",
         d.stderr().count("accept failed") == 1,
         h.short(d.stderr()[-500:]))
    for c in held:
        c.close()
    r = h.client(d.port, b"after-emfile", timeout=20)
    t.eq("nofile: once descriptors are free, a client gets ACK!",
         r.data, h.ACK)
    t.eq("nofile: the same worker still serves", d.live_workers(),
         [worker])


def main(t, tmp):
    if shutil.which("prlimit") is None:
        t.skip("fsize and nofile limits", "no prlimit(1)")
    elif os.environ.get("ACKD_WRAPPER"):
        # valgrind needs descriptors of its own and refuses a lowered
        # limit; the limits are tested in the plain and sanitizer runs
        t.skip("fsize and nofile limits", "not under $ACKD_WRAPPER")
    else:
        fsize_limit(t, tmp)
        out_of_descriptors(t, tmp)
    dev_full(t, tmp)
    if shutil.which("strace") is None:
        t.skip("sync EIO: no ACK when fdatasync fails",
               "no strace (./bootstrap installs it)")
    elif os.environ.get("ACKD_WRAPPER"):
        # valgrind cannot run strace, nor be traced by it
        t.skip("sync EIO: no ACK when fdatasync fails",
               "not under $ACKD_WRAPPER")
    else:
        sync_fails(t, tmp)


if __name__ == "__main__":
    h.run("faults", main, deadline=120)
