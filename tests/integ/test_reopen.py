#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_reopen.py: the log file under rotation gone wrong (issue 10,
findings 3 and 4).

- A reopen that fails (the log's directory renamed away, so the path's
  directory is gone) is said where the lines still go: event=reopen-failed
  path=... error=ENOENT from the master and from each worker, in the file
  still open; counted as reopen_failed in the SIGUSR1 stats lines and as
  ackd_reopen_failed_total in /metrics (the master's as worker="master");
  in systemd's STATUS= until a SIGHUP reopens again. Messages meanwhile
  are acknowledged and logged in the old file.
- As root, the issue's own case: --user nobody, the log's directory owned
  by root, rename then SIGHUP: event=reopen-failed error=EACCES.
- A log file deleted, or replaced by another file, without a SIGHUP: a
  new file appears at the path (the master looks once a second), every
  process reopens (event=reopen reason=deleted / reason=replaced from the
  master) and new messages land in it.
- --log-file naming a FIFO: exit 73 with one line, at once (it used to
  block in open() forever, before binding).
- A FIFO put at the path, then SIGHUP: event=reopen-failed error=
  not-regular type=fifo; the master still serves /metrics and ends on
  SIGTERM (it used to block in open(), deaf to signals).
"""

import os
import pwd
import signal
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

W = 2
T = 30  # seconds: far above what any step takes, even under valgrind


class Notify:
    """A fake service manager's notification socket, read by a thread
    (so the daemon never waits for room): the STATUS= values it got."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.status = []
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.done:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            for line in data.decode("utf-8", "replace").split("\n"):
                if line.startswith("STATUS="):
                    with self.lock:
                        self.status.append(line[len("STATUS="):])

    def statuses(self):
        with self.lock:
            return list(self.status)

    def close(self):
        self.done = True
        self.thread.join(5)
        self.sock.close()


def start(tmp, log, flags=(), env=None, workers=W):
    """A daemon logging to log (any path, not only in tmp), ready."""
    d = h.Daemon(tmp, list(flags), workers=workers,
                 log_name=os.path.basename(log) + ".d", ready=False,
                 log_flags=["--log-file", log], env=env)
    d.log_path = log
    d.wait_ready(T)
    return d


def metrics_port(d):
    """The port of the master's event=metrics listen=127.0.0.1:PORT."""
    recs = d.wait_records(lambda r: r.event == "metrics", timeout=T)
    listen = str(recs[0].get("listen", "")) if recs else ""
    port = listen.rpartition(":")[2]
    return int(port) if port.isdigit() else None


def reopen_failed_samples(port):
    """{worker label: value} of ackd_reopen_failed_total in a scrape, or
    None if the scrape got no answer."""
    reply = h.client(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                     shutdown=False, timeout=10)
    head, _, body = reply.data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    out = {}
    for line in body.decode("utf-8", "replace").splitlines():
        name, _, rest = line.partition("{")
        if name != "ackd_reopen_failed_total":
            continue
        label, _, value = rest.partition("} ")
        out[label.partition('"')[2].rstrip('"')] = float(value)
    return out


def failed_lines(d, path, count):
    """Wait for event=reopen-failed lines in path from the master and
    every worker; return all there are."""
    pids = {d.pid} | set(d.worker_pids)
    d.wait_records(lambda r: r.event == "reopen-failed" and
                   r.get("pid") in pids, count=count, timeout=T, path=path)
    return d.events("reopen-failed", path)


def check_failed_lines(t, label, d, lines, path, error):
    """Master and workers each said it, naming path and error."""
    t.eq("%s: event=reopen-failed from the master and each worker" % label,
         {r.get("pid") for r in lines} >= ({d.pid} | set(d.worker_pids)),
         True)
    t.eq("%s: reopen-failed names the path and the error" % label,
         sorted({(r.get("path"), r.get("error")) for r in lines}),
         [(path, error)])


def sigusr1_counts(d, path):
    """SIGUSR1, then {worker field: reopen_failed} of the stats lines."""
    since = len(d.records(path))
    d.signal(signal.SIGUSR1)
    d.wait_records(lambda r: r.event == "stats" and
                   r.get("worker") == "all", timeout=T, path=path)
    return {r.get("worker"): r.get("reopen_failed")
            for r in d.records(path)[since:] if r.event == "stats"}


def send(d, tag, n):
    """n unique messages; their Results."""
    return [h.Result(m, h.client(d.port, m), 0, 0)
            for m in (h.unique_msg(tag, i) for i in range(n))]


def dir_gone(t, tmp):
    """The log's directory renamed away, then SIGHUP: the reopen fails."""
    logs = os.path.join(tmp, "logs")
    os.mkdir(logs)
    log = os.path.join(logs, "ackd.log")
    notify = Notify(os.path.join(tmp, "notify.sock"))
    try:
        d = start(tmp, log, ["--metrics", "127.0.0.1:0"],
                  env={"NOTIFY_SOCKET": notify.path})
        port = metrics_port(d)
        os.rename(logs, logs + ".old")
        old = os.path.join(logs + ".old", "ackd.log")
        d.signal(signal.SIGHUP)
        lines = failed_lines(d, old, W + 1)
        check_failed_lines(t, "dir-gone", d, lines, log, "ENOENT")
        res = send(d, "dir-gone", 5)
        t.eq("dir-gone: messages are still acknowledged",
             [r.reply.data for r in res], [h.ACK] * 5)
        h.check_acks_logged(t, "dir-gone (in the old file)", res,
                            d.records(old))
        counts = sigusr1_counts(d, old)
        t.ok("dir-gone: SIGUSR1: reopen_failed >= 1 for each worker and "
             ">= %d in all" % (W + 1),
             len(counts) == W + 1 and all(
                 isinstance(v, int) and v >= 1 for v in counts.values())
             and counts.get("all", 0) >= W + 1, h.short(counts))
        samples = reopen_failed_samples(port) if port else None
        t.ok("dir-gone: /metrics: ackd_reopen_failed_total >= 1 for the "
             "master and each worker",
             samples is not None and len(samples) == W + 1 and
             all(v >= 1 for v in samples.values()) and "master" in samples,
             h.short(samples))
        t.ok("dir-gone: systemd STATUS= says the reopen failed",
             h.wait_for(lambda: any("cannot reopen log file %s" % log in s
                                    for s in notify.statuses()), T),
             h.short(notify.statuses()[-3:]))
        # the directory is back: SIGHUP reopens, and all is well again
        os.mkdir(logs)
        d.signal(signal.SIGHUP)
        pids = {d.pid} | set(d.worker_pids)
        t.ok("dir-gone: with the directory back, every process reopens",
             d.wait_records(lambda r: r.event == "reopen" and
                            r.get("pid") in pids, count=W + 1, timeout=T),
             h.short([r.raw for r in d.records()]))
        res = send(d, "dir-back", 3)
        h.check_acks_logged(t, "dir-back (in the new file)", res,
                            d.records())
        seen = len(notify.statuses())
        t.ok("dir-gone: STATUS= no longer names the failure",
             h.wait_for(lambda: any(s.startswith("serving") and
                                    "cannot reopen" not in s
                                    for s in notify.statuses()[seen:]), T),
             h.short(notify.statuses()[-3:]))
    finally:
        notify.close()


def user_denied(t, tmp):
    """As root: --user nobody, the log's directory root's, rename, HUP."""
    if os.geteuid() != 0:
        t.skip("user-denied: --user with a root-owned log directory",
               "the tests do not run as root")
        return
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        t.skip("user-denied: --user with a root-owned log directory",
               "no user nobody")
        return
    try:
        status, _, _ = h.run_ackd(["--version"], user=pw.pw_uid,
                                  group=pw.pw_gid)
    except OSError:
        status = None
    if status != 0:
        t.skip("user-denied: --user with a root-owned log directory",
               "nobody cannot run %s (issue 10, finding 1)" % h.ackd_path())
        return
    # nobody may enter tmp and write valgrind's logs in work, but not
    # create files in logs, which is root's
    work = h.writable_dir(tmp, "user")
    logs = os.path.join(tmp, "rootlogs")
    os.mkdir(logs)
    os.chmod(logs, 0o755)
    log = os.path.join(logs, "ackd.log")
    d = start(work, log, ["--user", "nobody"])
    os.rename(log, log + ".1")
    d.signal(signal.SIGHUP)
    lines = failed_lines(d, log + ".1", W + 1)
    check_failed_lines(t, "user-denied", d, lines, log, "EACCES")


def deleted(t, tmp):
    """The log deleted, then replaced, without a SIGHUP."""
    log = os.path.join(tmp, "deleted.log")
    d = start(tmp, log)
    os.unlink(log)
    t.ok("deleted: a new log file appears at the path",
         h.wait_for(lambda: os.path.exists(log), T), "none")
    pids = {d.pid} | set(d.worker_pids)
    recs = d.wait_records(lambda r: r.event == "reopen" and
                          r.get("pid") in pids, count=W + 1, timeout=T)
    t.eq("deleted: every process reopened it",
         {r.get("pid") for r in recs}, pids)
    t.eq("deleted: the master says why",
         [r.get("reason") for r in recs if r.get("pid") == d.pid],
         ["deleted"])
    res = send(d, "deleted", 5)
    t.eq("deleted: messages are acknowledged",
         [r.reply.data for r in res], [h.ACK] * 5)
    h.check_acks_logged(t, "deleted (in the new file)", res, d.records())
    # another file renamed over the path
    other = os.path.join(tmp, "other.log")
    with open(other, "w"):
        pass
    os.rename(other, log)
    recs = d.wait_records(lambda r: r.event == "reopen" and
                          r.get("pid") in pids, count=W + 1, timeout=T)
    t.eq("replaced: every process reopened it",
         {r.get("pid") for r in recs}, pids)
    t.eq("replaced: the master says why",
         [r.get("reason") for r in recs if r.get("pid") == d.pid],
         ["replaced"])
    res = send(d, "replaced", 5)
    h.check_acks_logged(t, "replaced (in the new file)", res, d.records())


def fifo_at_start(t, tmp):
    """--log-file names a FIFO with no reader."""
    fifo = os.path.join(tmp, "start.fifo")
    os.mkfifo(fifo)
    status, _, err = h.run_ackd(["--port", "0", "--bind", "127.0.0.1",
                                 "--log-file", fifo], timeout=T)
    t.eq("fifo-start: exits 73 (it does not wait for a reader)", status, 73)
    lines = err.decode("utf-8", "replace").splitlines()
    t.ok("fifo-start: one line naming the path and what is allowed",
         len(lines) == 1 and fifo in lines[0] and "FIFO" in lines[0] and
         "regular file" in lines[0], h.short(err))


def fifo_at_reopen(t, tmp):
    """A FIFO put at the path, then SIGHUP."""
    log = os.path.join(tmp, "fifo.log")
    d = start(tmp, log, ["--metrics", "127.0.0.1:0"])
    port = metrics_port(d)
    os.rename(log, log + ".1")
    os.mkfifo(log)
    d.signal(signal.SIGHUP)
    lines = failed_lines(d, log + ".1", W + 1)
    check_failed_lines(t, "fifo-reopen", d, lines, log, "not-regular")
    t.eq("fifo-reopen: ... type=fifo", {r.get("type") for r in lines},
         {"fifo"})
    res = send(d, "fifo", 3)
    h.check_acks_logged(t, "fifo-reopen (in the old file)", res,
                        d.records(log + ".1"))
    samples = reopen_failed_samples(port) if port else None
    t.ok("fifo-reopen: the master still serves /metrics, counting it",
         samples is not None and samples.get("master", 0) >= 1,
         h.short(samples))
    d.signal(signal.SIGTERM)
    t.eq("fifo-reopen: the master ends on SIGTERM", d.wait_exit(T), 0)


def main(t, tmp):
    fifo_at_start(t, tmp)
    deleted(t, tmp)
    fifo_at_reopen(t, tmp)
    dir_gone(t, tmp)
    user_denied(t, tmp)


if __name__ == "__main__":
    h.run("test_reopen", main, deadline=240)
