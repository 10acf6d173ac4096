#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_daemon.py: --daemon, --pid-file, --user and --group.

--daemon: the command returns 0 only once the daemon serves; the master
is a session leader without a terminal, in /, with 0-2 on /dev/null; a
relative --log-file and --pid-file still work after the chdir, SIGHUP
included; SIGTERM removes the pid file. A second ackd with the same pid
file exits 69 naming it and the holder's pid, daemon or not. Start-up
failures of a daemon reach the command's stderr with their status and
leave nothing running. As root: --user/--group drop master and workers
(uid, gid and groups), the log is given to the user so that SIGHUP can
reopen it, a non-root ackd cannot change user (77), and root without
--user warns. ps (/proc/PID/cmdline) shows "ackd: master COMMAND" and
"ackd: worker SLOT", a respawned worker its predecessor's slot.
Diagnostics that reach someone: once detached, the master
and the workers send their warnings to syslog (a datagram socket the
test reads, named by $ACKD_SYSLOG_SOCKET) as daemon.warning; under
systemd ($JOURNAL_STREAM naming stderr) each stderr line starts with its
<N> priority, and with any other $JOURNAL_STREAM it does not.
"""

import grp
import os
import pwd
import shutil
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

WARN_ROOT = "running as root; consider --user"
# the start's one line of information: what the descriptor limit allows
INFO_FDS = "descriptors: limit "
LOG_DAEMON = 3 << 3
LOG_ERR = 3
LOG_WARNING = 4
# what syslog(3) sends: "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG"
SYSLOG_RE = re.compile(rb"^<([0-9]{1,3})>[A-Z][a-z]{2} [ 1-3][0-9] "
                       rb"\d\d:\d\d:\d\d ([A-Za-z0-9._-]+)\[([0-9]+)\]: (.*)$",
                       re.S)


def lines(b):
    """The lines of a command's stderr bytes."""
    return b.decode("utf-8", "replace").splitlines()


def tty_nr(pid):
    """The controlling terminal field of /proc/PID/stat (0: none)."""
    with open("/proc/%d/stat" % pid, "rb") as f:
        data = f.read()
    return int(data[data.rindex(b")") + 2:].split()[4])


def status_ids(pid):
    """Uid, Gid (four numbers each) and Groups of /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                out[key] = [int(x) for x in val.split()]
    return out


def ackd_with(marker):
    """Pids of the processes whose command line holds marker."""
    pids = []
    for name in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                if marker.encode() in f.read():
                    pids.append(int(name))
        except (OSError, ValueError):
            pass
    return pids


def reopened(d, count=1):
    """Wait until the master and every worker have logged count reopen
    lines in the current log: only then do all write to it."""
    def done():
        pids = [r.get("pid") for r in d.records() if r.event == "reopen"]
        return all(pids.count(p) >= count for p in [d.pid] + d.worker_pids)
    return h.wait_for(done, 10)


def detach(t, label, tmp, name, flags, cwd=None, log=None, workers=2,
           syslog=None):
    """ackd --daemon on 127.0.0.1 port 0, logging to log (relative to cwd,
    or tmp/name.log), its diagnostics sent to the syslog socket at path
    syslog (by default one that does not exist: not the host's syslog):
    (status, stderr bytes, daemon or None)."""
    log = log or os.path.join(tmp, name + ".log")
    log_path = os.path.join(cwd or tmp, log)
    args = ["--daemon", "--bind", "127.0.0.1", "--port", "0",
            "--workers", str(workers), "--log-file", log] + list(flags)
    env = {"ACKD_SYSLOG_SOCKET": syslog or os.path.join(tmp, "no.sock")}
    rc, out, err, d = h.run_detached(args, log_path, cwd=cwd,
                                     workers=workers, env=env)
    t.eq("%s: nothing on standard output" % label, out, b"")
    return rc, err, d


def serves_at_return(t, label, d):
    """Right when the command has returned: the start line is there and a
    client gets the ACK at the first try."""
    start = [r for r in d.records() if r.event == "start"]
    if not t.ok("%s: the start line is in the log when the command returns"
                % label, start, h.short([r.raw for r in d.records()])):
        return False
    port = int(str(start[0].get("listen")).rpartition(":")[2])
    r = h.client(port, b"first-" + label.encode())
    return t.eq("%s: a client gets ACK! at once" % label, r.data, h.ACK)


def daemon_mode(t, tmp):
    """The detached master, relative paths, SIGHUP, SIGTERM."""
    work = os.path.join(tmp, "cwd")
    os.mkdir(work)
    pid_path = os.path.join(work, "ackd.pid")
    rc, err, d = detach(t, "daemon", tmp, "rel", ["--pid-file", "ackd.pid"],
                        cwd=work, log="rel.log")
    t.eq("daemon: the command exits 0", rc, 0)
    if not t.ok("daemon: a detached master runs", d is not None,
                "stderr %s" % h.short(err)):
        return
    extra = [ln for ln in lines(err) if WARN_ROOT not in ln and
             INFO_FDS not in ln]
    t.eq("daemon: nothing else on the command's stderr", extra, [])
    t.eq("daemon: the start says what the descriptor limit allows, once",
         len([ln for ln in lines(err) if INFO_FDS in ln]), 1)
    serves_at_return(t, "daemon", d)
    with open(pid_path) as f:
        t.eq("daemon: the pid file holds the master's pid", f.read(),
             "%d\n" % d.pid)
    t.eq("daemon: the pid file has mode 0644 (umask 022)",
         oct(stat.S_IMODE(os.stat(pid_path).st_mode)), oct(0o644))
    t.eq("daemon: the log has mode 0640 (umask 022)",
         oct(stat.S_IMODE(os.stat(d.log_path).st_mode)), oct(0o640))
    d.wait_ready()
    st = h.proc_stat(d.pid)
    t.eq("daemon: the master leads its own session", st.session, d.pid)
    t.eq("daemon: the master has no controlling terminal", tty_nr(d.pid), 0)
    t.eq("daemon: the master works in /", os.readlink("/proc/%d/cwd" %
                                                       d.pid), "/")
    fds = [os.readlink("/proc/%d/fd/%d" % (d.pid, fd)) for fd in range(3)]
    t.eq("daemon: the master's fds 0-2 are /dev/null", fds,
         ["/dev/null"] * 3)
    t.eq("daemon: the relative log file is in the start directory",
         os.path.exists(os.path.join(work, "rel.log")), True)
    os.rename(d.log_path, d.log_path + ".1")
    d.signal(signal.SIGHUP)
    t.ok("daemon: after a rename and SIGHUP every process reopens rel.log",
         reopened(d), h.short([r.raw for r in d.records()]))
    msg = h.unique_msg("daemon-hup", 0)
    t.eq("daemon: a client after the reopen gets ACK!",
         h.client(d.port, msg).data, h.ACK)
    t.ok("daemon: its message is in the new rel.log",
         d.wait_records(lambda r: r.get("msg") == msg),
         h.short([r.raw for r in d.records()]))
    workers = d.live_workers()
    d.signal(signal.SIGTERM)
    t.eq("daemon: SIGTERM: the master exits 0", d.wait_exit(15), 0)
    t.eq("daemon: SIGTERM: the pid file is removed",
         os.path.exists(pid_path), False)
    t.eq("daemon: SIGTERM: no worker left", d.pids_gone(workers), [])


def second_instance(t, tmp):
    """The same pid file, daemon and foreground: 69, naming the holder."""
    pid_path = os.path.join(tmp, "one.pid")
    rc, err, first = detach(t, "lock daemon", tmp, "one",
                            ["--pid-file", pid_path])
    if not t.ok("lock daemon: the first ackd runs", rc == 0 and first,
                "status %s, stderr %s" % (rc, h.short(err))):
        return
    first.wait_ready()
    rc, err, second = detach(t, "lock daemon", tmp, "two",
                             ["--pid-file", pid_path])
    t.eq("lock daemon: a second ackd --daemon exits 69", rc, 69)
    t.eq("lock daemon: no second daemon runs", second, None)
    want = "pid file %s is locked by pid %d" % (pid_path, first.pid)
    t.ok("lock daemon: one line naming the pid file and the holder",
         len(lines(err)) == 1 and want in lines(err)[0],
         "stderr %s" % h.short(err))
    t.eq("lock daemon: the first still serves",
         h.client(first.port, b"still-one").data, h.ACK)
    with open(pid_path) as f:
        t.eq("lock daemon: the pid file still holds the first's pid",
             f.read(), "%d\n" % first.pid)

    fg_pid = os.path.join(tmp, "fg.pid")
    d = h.Daemon(tmp, ["--pid-file", fg_pid], log_name="fg.log")

    def written():
        with open(fg_pid) as f:
            return f.read()
    t.eq("lock foreground: the pid file holds the master's pid",
         h.wait_for(written, 10), "%d\n" % d.pid)
    rc, out, err = h.run_ackd(["--bind", "127.0.0.1", "--port", "0",
                               "--log-file", os.path.join(tmp, "fg2.log"),
                               "--pid-file", fg_pid])
    t.eq("lock foreground: a second ackd exits 69", rc, 69)
    want = "pid file %s is locked by pid %d" % (fg_pid, d.pid)
    t.ok("lock foreground: one line naming the pid file and the holder",
         len(lines(err)) == 1 and want in lines(err)[0],
         "stderr %s" % h.short(err))
    t.eq("lock foreground: the first still serves",
         h.client(d.port, b"still-fg").data, h.ACK)
    d.signal(signal.SIGTERM)
    t.eq("lock foreground: SIGTERM: exit 0", d.wait_exit(15), 0)
    t.eq("lock foreground: SIGTERM: the pid file is removed",
         os.path.exists(fg_pid), False)


def startup_failures(t, tmp):
    """A daemon that cannot start says why on the command's stderr."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    missing = os.path.join(tmp, "missing")
    cases = [
        ("port in use", ["--port", str(port)], 69,
         "127.0.0.1:%d" % port),
        ("unwritable log", ["--log-file", os.path.join(missing, "x.log")],
         73, os.path.join(missing, "x.log")),
        ("pid file cannot be created",
         ["--pid-file", os.path.join(missing, "x.pid")], 73,
         os.path.join(missing, "x.pid")),
        ("unknown user", ["--user", "ackd-no-such-user"], 64,
         "ackd-no-such-user"),
    ]
    try:
        for i, (label, flags, want, word) in enumerate(cases):
            name = "fail%d" % i
            rc, err, d = detach(t, label, tmp, name, flags)
            t.eq("%s: the command exits %d" % (label, want), rc, want)
            t.ok("%s: one line on its stderr naming %s" % (label, word),
                 len(lines(err)) == 1 and word in lines(err)[0],
                 "stderr %s" % h.short(err))
            t.eq("%s: no daemon left running" % label, d, None)
            t.eq("%s: no ackd process left" % label,
                 ackd_with(os.path.join(tmp, name + ".log")), [])
    finally:
        busy.close()


def receive(sock, grams, pred, timeout=10):
    """Read datagrams from sock into grams until one satisfies pred (the
    syslog head and message, parsed): that one's match, or None."""
    end = time.monotonic() + timeout
    for g in grams:
        m = SYSLOG_RE.match(g)
        if m and pred(m):
            return m
    while time.monotonic() < end:
        sock.settimeout(max(end - time.monotonic(), 0.01))
        try:
            g = sock.recv(65536)
        except socket.timeout:
            break
        grams.append(g)
        m = SYSLOG_RE.match(g)
        if m and pred(m):
            return m
    return None


def daemon_syslog(t, tmp):
    """Once detached, warnings go to syslog as daemon.warning: the
    master's (a worker died) and a worker's (cannot reopen the log), that
    worker forked before the command returned, when its stderr was the
    pipe to it."""
    path = os.path.join(tmp, "syslog.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    grams = []
    try:
        rc, err, d = detach(t, "syslog", tmp, "sl", [], syslog=path)
        if not t.ok("syslog: a detached master runs", rc == 0 and d,
                    "status %s, stderr %s" % (rc, h.short(err))):
            return
        d.wait_ready()
        victim, other = d.worker_pids[0], d.worker_pids[1]
        os.kill(victim, signal.SIGKILL)
        died = "worker %d died unexpectedly" % victim
        m = receive(sock, grams, lambda m: died.encode() in m.group(4))
        if t.ok("syslog: '%s' arrives as a datagram" % died, m,
                h.short(grams)):
            t.eq("syslog: it is daemon.warning (<%d>)" % (LOG_DAEMON +
                 LOG_WARNING), int(m.group(1)), LOG_DAEMON + LOG_WARNING)
            t.eq("syslog: from ackd[master]", (m.group(2), int(m.group(3))),
                 (b"ackd", d.pid))
        # the log's path becomes a directory: every reopen fails
        os.rename(d.log_path, d.log_path + ".1")
        os.mkdir(d.log_path)
        d.signal(signal.SIGHUP)
        for who, pid in (("master", d.pid), ("pre-ready worker", other)):
            m = receive(sock, grams, lambda m: int(m.group(3)) == pid and
                        b"cannot reopen log file" in m.group(4))
            t.ok("syslog: the %s's 'cannot reopen the log' arrives" % who,
                 m and int(m.group(1)) == LOG_DAEMON + LOG_WARNING,
                 h.short(grams))
        os.rmdir(d.log_path)
        d.signal(signal.SIGTERM)
        t.eq("syslog: SIGTERM: the master exits 0", d.wait_exit(15), 0)
    finally:
        sock.close()


def kill_a_worker(t, label, d):
    """SIGKILL a worker; wait for the master's line about it on stderr:
    the line's text, or None."""
    died = "worker %d died unexpectedly" % d.worker_pids[0]
    os.kill(d.worker_pids[0], signal.SIGKILL)
    found = h.wait_for(lambda: [ln for ln in d.stderr().splitlines()
                                if died in ln], 10)
    t.ok("%s: the master says '%s'" % (label, died), found,
         h.short(d.stderr()))
    return found[0] if found else None


def journal_stream(t, tmp):
    """$JOURNAL_STREAM naming stderr: <N> before each line, the text as
    ever; naming another file: no prefix."""
    d = h.Daemon(tmp, [], log_name="journal.log", journal=True)
    line = kill_a_worker(t, "journal", d)
    t.ok("journal: it is <4>ackd[master]: ...", line and line.startswith(
         "<%d>ackd[%d]: worker " % (LOG_WARNING, d.pid)), line)
    text = d.stderr().splitlines()
    t.ok("journal: every stderr line starts with <N>ackd[PID]: ",
         all(re.match(r"<[0-7]>ackd\[[0-9]+\]: ", ln) for ln in text),
         h.short(text))
    d.signal(signal.SIGTERM)
    t.eq("journal: SIGTERM: exit 0", d.wait_exit(15), 0)

    bad = os.path.join(tmp, "missing", "x.pid")
    d = h.Daemon(tmp, ["--pid-file", bad], log_name="jfail.log",
                 journal=True, ready=False)
    t.eq("journal: a start-up failure exits 73", d.wait_exit(15), 73)
    t.ok("journal: its line is <3>ackd[PID]: cannot open pid file",
         any(ln.startswith("<%d>ackd[%d]: cannot open pid file %s" %
                           (LOG_ERR, d.pid, bad))
             for ln in d.stderr().splitlines()), d.stderr())

    d = h.Daemon(tmp, ["--port", "70000"], log_name="jflag.log",
                 journal=True, ready=False)
    t.eq("journal: a bad flag exits 64", d.wait_exit(15), 64)
    t.ok("journal: its line is <3>ackd: --port: ...",
         d.stderr().startswith("<%d>ackd: --port: " % LOG_ERR), d.stderr())

    st = os.stat(tmp)
    d = h.Daemon(tmp, [], log_name="nojournal.log",
                 env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
    line = kill_a_worker(t, "other stream", d)
    t.ok("other stream: no prefix, ackd[master]: ...", line and
         line.startswith("ackd[%d]: worker " % d.pid), line)
    d.signal(signal.SIGTERM)
    t.eq("other stream: SIGTERM: exit 0", d.wait_exit(15), 0)


def target_user():
    """A user other than root to drop to, and a group: (pw, group name)."""
    users = [pw for pw in pwd.getpwall() if pw.pw_uid != 0]
    users.sort(key=lambda pw: (pw.pw_name != "nobody", pw.pw_uid))
    if not users:
        return None, None
    pw = users[0]
    try:
        group = grp.getgrgid(pw.pw_gid).gr_name
    except KeyError:
        group = str(pw.pw_gid)
    return pw, group


def privilege_drop(t, tmp):
    """--user/--group: the ids of every process, the log, SIGHUP."""
    if os.geteuid() != 0:
        t.skip("privilege drop", "the tests do not run as root")
        return
    pw, group = target_user()
    if pw is None:
        t.skip("privilege drop", "no user other than root on this system")
        return
    # the user must reach and write the log's directory (and valgrind's
    # per-process logs)
    work = h.writable_dir(tmp, "priv")
    gid = grp.getgrnam(group).gr_gid if not group.isdigit() else int(group)
    d = h.Daemon(work, ["--user", pw.pw_name, "--group", group],
                 log_name="priv.log")
    label = "drop to %s:%s" % (pw.pw_name, group)
    groups = sorted(set(os.getgrouplist(pw.pw_name, gid)))
    for pid in [d.pid] + d.worker_pids:
        ids = status_ids(pid)
        who = "master" if pid == d.pid else "worker %d" % pid
        t.eq("%s: %s's uids (real, effective, saved, fs)" % (label, who),
             ids.get("Uid"), [pw.pw_uid] * 4)
        t.eq("%s: %s's gids" % (label, who), ids.get("Gid"), [gid] * 4)
        t.eq("%s: %s's groups" % (label, who), sorted(ids.get("Groups",
                                                                [])), groups)
    msg = h.unique_msg("priv", 0)
    t.eq("%s: a client gets ACK!" % label, h.client(d.port, msg).data, h.ACK)
    t.ok("%s: its message is logged" % label,
         d.wait_records(lambda r: r.get("msg") == msg), "not in the log")
    st = os.stat(d.log_path)
    t.eq("%s: the log belongs to the user and group" % label,
         (st.st_uid, st.st_gid), (pw.pw_uid, gid))
    t.eq("%s: the log has mode 0640" % label,
         oct(stat.S_IMODE(st.st_mode)), oct(0o640))
    t.ok("%s: no root warning" % label, WARN_ROOT not in d.stderr(),
         h.short(d.stderr()))
    # the same file again: possible only because it was given to the user
    d.signal(signal.SIGHUP)
    t.ok("%s: SIGHUP: every process reopens the same file" % label,
         reopened(d), h.short(d.stderr()))
    os.rename(d.log_path, d.log_path + ".1")
    d.signal(signal.SIGHUP)
    t.ok("%s: after a rename, SIGHUP: every process writes a new log" %
         label, reopened(d), h.short(d.stderr()))
    msg = h.unique_msg("priv", 1)
    t.eq("%s: a client after the reopen gets ACK!" % label,
         h.client(d.port, msg).data, h.ACK)
    t.ok("%s: its message is in the new log" % label,
         d.wait_records(lambda r: r.get("msg") == msg), "not in the log")
    t.eq("%s: the new log belongs to the user" % label,
         os.stat(d.log_path).st_uid, pw.pw_uid)
    t.ok("%s: no warning on stderr" % label, "cannot" not in d.stderr(),
         h.short(d.stderr()))
    d.signal(signal.SIGTERM)
    t.eq("%s: SIGTERM: exit 0" % label, d.wait_exit(15), 0)

    # not root: asking for another user is refused
    if h.valgrind_wrapped():
        t.skip("not root: --user root exits 77",
               "valgrind's logs cannot be written by %s" % pw.pw_name)
        return
    binary = h.ackd_for_others()
    if binary is None:
        t.skip("not root: --user root exits 77", "%s cannot reach %s, nor "
               "a copy in %s" % (pw.pw_name, h.ackd_path(),
                                 tempfile.gettempdir()))
        return
    if binary != h.ackd_path():
        t.note("not root: %s cannot reach %s: running a copy, %s" %
               (pw.pw_name, h.ackd_path(), binary))
    rc, out, err = h.run_ackd(["--bind", "127.0.0.1", "--port", "0",
                               "--log-file", os.path.join(work, "nr.log"),
                               "--user", "root"], user=pw.pw_uid, group=gid)
    t.eq("not root: --user root exits 77", rc, 77)
    t.ok("not root: one line saying why", len(lines(err)) == 1 and
         "cannot become user root" in lines(err)[0], h.short(err))


def ssd_status(pid_path):
    """start-stop-daemon --status on pid_path: 0 running, 1 dead with a
    pid file, 3 not running, 4 unknown (LSB)."""
    return subprocess.call(["start-stop-daemon", "--status", "--pidfile",
                            pid_path])


def read_pid_file(path):
    """The pid file's text, or None if there is none."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def stale_pid_file(path):
    """Leave at path what a crashed root run leaves: root's, a dead pid."""
    with open(path, "w") as f:
        f.write("999999\n")
    os.chown(path, 0, 0)
    os.chmod(path, 0o644)


def stop_and_check(t, label, d, pid_path):
    """Check the pid file names the master, stop it, check it is gone."""
    t.eq("%s: the pid file names the master" % label,
         h.wait_for(lambda: read_pid_file(pid_path) == "%d\n" % d.pid, 10),
         True)
    d.signal(signal.SIGTERM)
    t.eq("%s: SIGTERM: exit 0" % label, d.wait_exit(15), 0)
    t.eq("%s: the pid file is removed" % label, read_pid_file(pid_path),
         None)
    if shutil.which("start-stop-daemon"):
        t.eq("%s: start-stop-daemon --status says 3, not running" % label,
             ssd_status(pid_path), 3)


def pid_file_user(t, tmp):
    """Finding 6 of issue 13: the pid file after a run as another user.
    In a directory the user owns (/run/ackd/) it is removed at exit, even
    when a crashed root run left a root-owned one there; in root's
    directory the start says the file cannot be removed."""
    if os.geteuid() != 0:
        t.skip("pid file as another user", "the tests do not run as root")
        return
    pw, group = target_user()
    if pw is None:
        t.skip("pid file as another user", "no user other than root")
        return
    work = h.writable_dir(tmp, "pidu")
    run = os.path.join(work, "run")
    os.mkdir(run)
    os.chown(run, pw.pw_uid, pw.pw_gid)
    pid_path = os.path.join(run, "ackd.pid")

    stale_pid_file(pid_path)
    d = h.Daemon(work, ["--user", pw.pw_name, "--pid-file", pid_path],
                 log_name="pidu.log")
    label = "--user %s, pid file in its directory" % pw.pw_name
    if shutil.which("start-stop-daemon"):
        t.eq("%s: start-stop-daemon --status says 0, running" % label,
             h.wait_for(lambda: ssd_status(pid_path) == 0, 10), True)
    else:
        t.skip("%s: start-stop-daemon --status" % label,
               "no start-stop-daemon (dpkg) on this system")
    t.ok("%s: no warning" % label, d.stderr().count(pid_path) == 0,
         h.short(d.stderr()))
    stop_and_check(t, label, d, pid_path)

    # run as the user itself (an init script's --chuid): the root-owned
    # file a crashed root run left must not stop the start
    stale_pid_file(pid_path)
    label = "as %s, a stale root-owned pid file" % pw.pw_name
    binary = h.ackd_for_others()
    if binary is None:
        t.skip(label, "%s cannot reach %s" % (pw.pw_name, h.ackd_path()))
    else:
        def become():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        try:
            d = h.Daemon(work, ["--pid-file", pid_path], binary=binary,
                         log_name="pidn.log", preexec=become)
        except h.DaemonError as e:
            t.fail("%s: ackd starts" % label, str(e))
        else:
            stop_and_check(t, label, d, pid_path)

    # root's directory: the user cannot remove the file; say so at start
    rootrun = os.path.join(work, "rootrun")
    os.mkdir(rootrun, 0o755)
    pid_path = os.path.join(rootrun, "ackd.pid")
    d = h.Daemon(work, ["--user", pw.pw_name, "--pid-file", pid_path],
                 log_name="pidr.log")
    label = "--user %s, pid file in root's directory" % pw.pw_name
    warn = [ln for ln in d.stderr().splitlines() if pid_path in ln]
    t.ok("%s: one warning at start naming the file and its directory" %
         label, len(warn) == 1 and "cannot remove it from %s" % rootrun in
         warn[0], h.short(d.stderr()))
    d.signal(signal.SIGTERM)
    t.eq("%s: SIGTERM: exit 0" % label, d.wait_exit(15), 0)
    t.eq("%s: the pid file is left empty, never with a stale pid" % label,
         read_pid_file(pid_path), "")


def root_warning(t, tmp):
    """As root without --user: one warning."""
    if os.geteuid() != 0:
        t.skip("root warning", "the tests do not run as root")
        return
    d = h.Daemon(tmp, [], log_name="root.log")
    t.eq("root without --user: one warning on stderr",
         d.stderr().count(WARN_ROOT), 1)
    d.signal(signal.SIGTERM)
    t.eq("root without --user: SIGTERM: exit 0", d.wait_exit(15), 0)


def cmdline(pid):
    """/proc/PID/cmdline as ps -o args shows it: NULs as spaces, trimmed."""
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().replace(b"\0", b" ").decode("utf-8",
                                                      "replace").strip()


def process_titles(t, tmp):
    """ps tells the master from the workers, and each worker's slot, also
    for a worker respawned in its slot."""
    if h.valgrind_wrapped():
        t.skip("process titles", "under valgrind, /proc/PID/cmdline is "
               "valgrind's own command line")
        return
    d = h.Daemon(tmp, [], log_name="titles.log", workers=2)
    t.eq("titles: the master says it is the master, with its command",
         cmdline(d.pid), "ackd: master " + " ".join(d.args))
    titles = {pid: cmdline(pid) for pid in d.worker_pids}
    t.eq("titles: each worker names its own slot",
         sorted(titles.values()), ["ackd: worker 0", "ackd: worker 1"])
    victim = d.worker_pids[0]
    os.kill(victim, signal.SIGKILL)
    new = d.wait_records(lambda r: r.event == "worker-start" and
                         r.get("pid") not in titles)
    if not t.ok("titles: a killed worker is respawned", new,
                h.short([r.raw for r in d.records()])):
        return
    t.eq("titles: the new worker names the slot it took over",
         cmdline(new[0]["pid"]), titles[victim])
    d.signal(signal.SIGTERM)
    t.eq("titles: SIGTERM: exit 0", d.wait_exit(15), 0)


def main(t, tmp):
    process_titles(t, tmp)
    daemon_mode(t, tmp)
    second_instance(t, tmp)
    startup_failures(t, tmp)
    daemon_syslog(t, tmp)
    journal_stream(t, tmp)
    privilege_drop(t, tmp)
    pid_file_user(t, tmp)
    root_warning(t, tmp)


if __name__ == "__main__":
    h.run("daemon", main, deadline=60)
