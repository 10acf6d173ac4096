#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_rotate_user.py: every documented way of running ackd as its own user
survives a log rotation (issue 13, finding 1).

Run as root, with the user nobody standing for the user ackd the files
name (and nogroup for its group, adm for adm), each setup is taken from
the file that documents it, with its paths moved into the temporary
directory, and rotated under a light load:

(a) The daemon recipe of doc/operations.md ("Without systemd or the
    init script: ackd --daemon"): its lines, run as written, over a log directory a root shell made (root's,
    0755, as in the finding); then mv and SIGHUP to the pid file's pid.
(b) The installed logrotate file: the directories as tmpfiles.d/ackd.conf
    makes them, ackd --daemon --user --pid-file in the run directory, and
    logrotate -f with contrib/ackd.logrotate.in (create, postrotate).
(c) What the systemd units imply: their User=, the log directory as
    tmpfiles.d/ackd.conf makes it (the units name it in ReadWritePaths=),
    ackd started as that user with the unit's ACKD_OPTS, then mv and
    ExecReload's kill -HUP.
(d) The init script (start-stop-daemon --chuid ackd, ackd --daemon with
    its pid file), making the missing log directory itself, and
    logrotate -f with the logrotate file, whose postrotate finds it by
    that pid file; then stop, and status says 3.

In each: every process reopens into the new file, no reopen-failed line
anywhere, a message after the rotation lands in the new file, every
message acknowledged during the rotation is logged exactly once (old
file or new), no warning at start; the new file is the user's, group adm
(and in (a) so is the first, made by root and given to the user).
And the warning: with a log directory the user cannot write, ackd --user
says so at start, once, naming the directory.
"""

import grp
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
WARN = "cannot create files in"
# the start's one line of information, not a warning
INFO_FDS = "descriptors: limit "
T = 30  # seconds: far above what any step takes, even under valgrind


class Who:
    """The test's stand-ins for the names the files use."""

    def __init__(self, pw):
        self.pw = pw
        self.user = pw.pw_name
        self.group = grp.getgrgid(pw.pw_gid).gr_name
        try:
            self.adm = "adm"
            self.adm_gid = grp.getgrnam("adm").gr_gid
        except KeyError:
            self.adm, self.adm_gid = self.group, pw.pw_gid

    def name(self, word):
        """The test's name for a user or group name in the files."""
        return {"ackd": self.user, "adm": self.adm}.get(word, word)

    def group_name(self, word):
        return {"ackd": self.group, "adm": self.adm}.get(word, word)



def warnings(err):
    """The lines of a start's stderr (bytes or text) but its one line of
    information, what the descriptor limit allows."""
    if isinstance(err, bytes):
        err = err.decode("utf-8", "replace")
    return [ln for ln in err.splitlines() if INFO_FDS not in ln]

def source(rel):
    with open(os.path.join(SRC, rel)) as f:
        return f.read()


def moved(text, paths):
    """text with the documented paths (or @placeholders@) moved."""
    for old, new in paths.items():
        text = text.replace(old, new)
    return text


def recipe():
    """The first indented block of doc/operations.md's section on
    ackd --daemon: its command lines, comments dropped."""
    text = source("doc/operations.md")
    rest = text[text.index("\n## Without systemd or the init script: "
                           "ackd --daemon\n"):]
    block = re.search(r"\n\n((?:    \S.*\n)+)", rest).group(1)
    return [ln.strip() for ln in block.splitlines()]


def tmpfiles_dirs(t, who, paths):
    """Make the directories contrib/ackd.tmpfiles.in lists, as
    systemd-tmpfiles would: mode, owner, group. Their paths, in order."""
    made = []
    for ln in source("contrib/ackd.tmpfiles.in").splitlines():
        f = ln.split()
        if not f or f[0] != "d":
            continue
        path, mode = moved(f[1], paths), int(f[2], 8)
        os.makedirs(path, exist_ok=True)
        os.chown(path, pwd.getpwnam(who.name(f[3])).pw_uid,
                 grp.getgrnam(who.group_name(f[4])).gr_gid)
        os.chmod(path, mode)
        made.append(path)
    return made


def root_dir(path):
    """A directory as root's mkdir makes it: root's, 0755."""
    os.makedirs(path, exist_ok=True)
    os.chown(path, 0, 0)
    os.chmod(path, 0o755)


def reopened(d):
    """Wait until the master and every worker logged event=reopen in the
    current log: only then do all of them write to it."""
    def done():
        pids = {r.get("pid") for r in d.records() if r.event == "reopen"}
        return pids >= {d.pid} | set(d.worker_pids)
    return h.wait_for(done, T)


def rotate_and_check(t, label, d, who, rotate):
    """Under load: rotate (a function), then check the rotation."""
    log = d.log_path
    load = h.Load(d.port, label.split()[0], threads=2, pause=0.005,
                  max_seconds=3 * T).start()
    t.ok("%s: messages are acknowledged before the rotation" % label,
         load.wait_acked(3, T), h.short(load.snapshot()[-3:]))
    rotate()
    t.ok("%s: every process reopens into the new log" % label,
         reopened(d), h.short([r.raw for r in d.records()]) + " " +
         h.short(d.stderr()))
    before = len(load.acked())
    t.ok("%s: messages are acknowledged after the reopen" % label,
         load.wait_acked(before + 3, T), h.short(load.snapshot()[-3:]))
    t.ok("%s: the load ends" % label, load.stop(T))
    msg = h.unique_msg(label.split()[0], 0)
    reply = h.client(d.port, msg)
    t.eq("%s: a message after the rotation gets ACK!" % label,
         reply.data, h.ACK)
    t.ok("%s: and lands in the new log" % label,
         d.wait_records(lambda r: r.get("msg") == msg, timeout=T),
         h.short([r.raw for r in d.records()][-5:]))
    old = h.read_log(log + ".1")
    records = old + d.records()
    t.eq("%s: no reopen-failed line, old log or new" % label,
         [r.raw for r in records if r.event == "reopen-failed"], [])
    h.check_acks_logged(t, label, load.snapshot() +
                        [h.Result(msg, reply, 0, 0)], records)
    st = os.stat(log) if os.path.exists(log) else None
    t.eq("%s: the new log is the user's, group %s" % (label, who.adm),
         st and (st.st_uid, st.st_gid), (who.pw.pw_uid, who.adm_gid))
    t.ok("%s: nothing said on stderr about the log" % label,
         "cannot" not in d.stderr(), h.short(d.stderr()))


def start_line_port(d):
    """The port of a detached daemon, from its start line."""
    d.wait_ready(T)
    return d.port


def documented(t, tmp, who):
    """(a) doc/operations.md's recipe, then mv and SIGHUP."""
    label = "operations recipe"
    logdir, rundir = os.path.join(tmp, "a-log"), os.path.join(tmp, "a-run")
    root_dir(logdir)
    root_dir(rundir)
    paths = {"/var/log/ackd": logdir, "/run/ackd": rundir}
    lines = recipe()
    daemon = [ln for ln in lines if ln.startswith("ackd ")]
    if not t.ok("%s: the recipe shows one ackd command" % label,
                len(daemon) == 1, h.short(lines)):
        return
    for ln in lines[:lines.index(daemon[0])]:
        words = shlex.split(ln, comments=True)
        words = [who.name(w) if prev in ("-o", "-u") else
                 who.group_name(w) if prev == "-g" else w
                 for prev, w in zip([""] + words, words)]
        cmd = moved(" ".join(shlex.quote(w) for w in words), paths)
        p = subprocess.run(["sh", "-c", cmd], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        t.eq("%s: %s" % (label, cmd), (p.returncode, p.stdout), (0, b""))
    args = shlex.split(moved(daemon[0], paths), comments=True)[1:]
    args = [who.name(w) if prev in ("-u", "--user") else
            who.group_name(w) if prev in ("-g", "--group") else
            "0" if prev in ("-p", "--port") else w
            for prev, w in zip([""] + args, args)]
    args += ["--bind", "127.0.0.1", "--workers", "2"]
    log = args[args.index("-l") + 1]
    rc, _, err, d = h.run_detached(args, log, env={
        "ACKD_SYSLOG_SOCKET": os.path.join(tmp, "no.sock")})
    if not t.ok("%s: ackd starts as %s" % (label, " ".join(args)),
                rc == 0 and d is not None, "exit %r: %s" % (rc, err)):
        return
    start_line_port(d)
    t.eq("%s: no warning at start" % label, warnings(err), [])
    st = os.stat(log)
    t.eq("%s: root's log is given to the user, keeping the directory's "
         "group %s" % (label, who.adm), (st.st_uid, st.st_gid),
         (who.pw.pw_uid, who.adm_gid))
    pid_file = args[args.index("-P") + 1]

    def rotate():
        os.rename(log, log + ".1")
        with open(pid_file) as f:
            os.kill(int(f.read()), signal.SIGHUP)
    rotate_and_check(t, label, d, who, rotate)
    d.signal(signal.SIGTERM)
    t.eq("%s: SIGTERM: exit 0" % label, d.wait_exit(T), 0)


def logrotate_path():
    """logrotate, also where PATH lacks sbin; None if missing."""
    return shutil.which("logrotate", path=os.environ["PATH"] +
                        ":/usr/local/sbin:/usr/sbin:/sbin")


def unit_active():
    """Is an ackd unit running here? The postrotate would reload it."""
    if not os.path.isdir("/run/systemd/system"):
        return False
    return any(subprocess.run(["systemctl", "-q", "is-active", u]).returncode
               == 0 for u in ("ackd.service", "ackd-hardened.service"))


def logrotate(t, tmp, who):
    """(b) The logrotate file over ackd --daemon --user."""
    label = "logrotate"
    lr = logrotate_path()
    if lr is None or unit_active():
        t.skip("%s: logrotate -f over ackd --daemon --user" % label,
               "no logrotate (./bootstrap installs it)" if lr is None else
               "an ackd unit is active here: the postrotate would reload it")
        return
    paths = {"@logdir@": os.path.join(tmp, "b-log"),
             "@rundir@": os.path.join(tmp, "b-run"),
             "@sysconfdir@": os.path.join(tmp, "b-etc")}
    logdir, rundir = tmpfiles_dirs(t, who, paths)
    conf = moved(source("contrib/ackd.logrotate.in"), paths)
    t.ok("%s: the file creates the new log for ackd, group adm" % label,
         "\tcreate 0640 ackd adm\n" in conf, conf)
    conf = conf.replace("create 0640 ackd adm",
                        "create 0640 %s %s" % (who.user, who.adm))
    conf_path = os.path.join(tmp, "logrotate.conf")
    with open(conf_path, "w") as f:
        f.write(conf)
    log = os.path.join(logdir, "ackd.log")
    rc, _, err, d = h.run_detached(
        ["--daemon", "--bind", "127.0.0.1", "--port", "0", "--workers", "2",
         "--user", who.user, "--pid-file", os.path.join(rundir, "ackd.pid"),
         "--log-file", log], log,
        env={"ACKD_SYSLOG_SOCKET": os.path.join(tmp, "no.sock")})
    if not t.ok("%s: ackd --daemon --user %s starts" % (label, who.user),
                rc == 0 and d is not None, "exit %r: %s" % (rc, err)):
        return
    start_line_port(d)
    t.eq("%s: no warning at start" % label, warnings(err), [])

    def rotate():
        p = subprocess.run([lr, "-f", "-s", os.path.join(tmp, "lr.state"),
                            conf_path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        t.eq("%s: logrotate -f exits 0, silent" % label,
             (p.returncode, p.stdout.decode()), (0, ""))
    rotate_and_check(t, label, d, who, rotate)
    d.signal(signal.SIGTERM)
    t.eq("%s: SIGTERM: exit 0" % label, d.wait_exit(T), 0)


def adopt(pid, args, log, tmp):
    """A Daemon for the detached master pid that a script started (it is
    our child now: run() makes us a subreaper), logging to log, ready."""
    d = h.adopt_detached(pid, args, os.path.join(tmp, "init"), log)
    d.wait_ready(T)
    return d


def init_script(t, tmp, who):
    """(d) The init script (start-stop-daemon --chuid ackd) and the
    logrotate file, whose postrotate finds it by its pid file."""
    label = "init script"
    lr = logrotate_path()
    binary = h.ackd_for_others()
    if lr is None or unit_active() or binary is None or \
            shutil.which("start-stop-daemon") is None:
        t.skip("%s: start, logrotate -f, stop" % label, "needs logrotate, "
               "start-stop-daemon, no ackd unit active, and an ackd %s "
               "can run" % who.user)
        return
    paths = {"@logdir@": os.path.join(tmp, "d-log"),
             "@rundir@": os.path.join(tmp, "d-run"),
             "@sysconfdir@": os.path.join(tmp, "d-etc"),
             "@sbindir@": os.path.dirname(binary)}
    for p in ("@logdir@", "@rundir@"):  # their parents, as on a host
        root_dir(os.path.dirname(paths[p]))
    os.makedirs(os.path.join(paths["@sysconfdir@"], "default"))
    script = moved(source("contrib/ackd.init.in"), paths)
    t.ok("%s: runs ackd as ackd" % label, "\nACKD_USER=ackd\n" in script)
    script = script.replace("ACKD_USER=ackd", "ACKD_USER=" + who.user)
    script = script.replace('-g "$ACKD_USER"', "-g " + who.group)
    init = os.path.join(tmp, "ackd.init")
    with open(init, "w") as f:
        f.write(script)
    log = os.path.join(paths["@logdir@"], "ackd.log")
    with open(os.path.join(paths["@sysconfdir@"], "default/ackd"),
              "w") as f:
        f.write('ACKD_OPTS="--log-file %s --bind 127.0.0.1 --port 0 '
                '--workers 2"\n' % log)
    p = subprocess.run(["sh", init, "start"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=h.ackd_env({
                           "ACKD_SYSLOG_SOCKET": os.path.join(tmp,
                                                              "no.sock")}))
    pid_file = os.path.join(paths["@rundir@"], "ackd.pid")
    if not t.ok("%s: start exits 0" % label, p.returncode == 0 and
                os.path.exists(pid_file), p.stdout):
        return
    st = os.stat(paths["@logdir@"])
    t.eq("%s: it made the missing log directory as tmpfiles.d does" %
         label, (st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)),
         (who.pw.pw_uid, who.adm_gid, oct(0o2750)))
    with open(pid_file) as f:
        d = adopt(int(f.read()), [binary], log, tmp)
    conf = moved(source("contrib/ackd.logrotate.in"), paths).replace(
        "create 0640 ackd adm", "create 0640 %s %s" % (who.user, who.adm))
    conf_path = os.path.join(tmp, "logrotate-init.conf")
    with open(conf_path, "w") as f:
        f.write(conf)

    def rotate():
        p = subprocess.run([lr, "-f", "-s", os.path.join(tmp, "lr2.state"),
                            conf_path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        t.eq("%s: logrotate -f exits 0, silent" % label,
             (p.returncode, p.stdout.decode()), (0, ""))
    rotate_and_check(t, label, d, who, rotate)
    p = subprocess.run(["sh", init, "stop"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    t.eq("%s: stop exits 0" % label, p.returncode, 0)
    t.eq("%s: the master exited 0" % label, d.wait_exit(T), 0)
    p = subprocess.run(["sh", init, "status"], stdout=subprocess.DEVNULL)
    t.eq("%s: status then says 3, not running" % label, p.returncode, 3)


def unit_values(text, key):
    """The values of key= in a unit's text."""
    return [ln.split("=", 1)[1] for ln in text.splitlines()
            if ln.startswith(key + "=")]


def systemd(t, tmp, who):
    """(c) User= of the units, the log directory from tmpfiles.d."""
    label = "systemd unit"
    binary = h.ackd_for_others()
    if binary is None:
        t.skip("%s: ackd as the unit's user" % label, "%s cannot reach %s"
               % (who.user, h.ackd_path()))
        return
    paths = {"@logdir@": os.path.join(tmp, "c-log"),
             "@rundir@": os.path.join(tmp, "c-run"),
             "@sysconfdir@": os.path.join(tmp, "c-etc"),
             "@sbindir@": os.path.dirname(binary)}
    opts = None
    for unit in ("ackd.service", "ackd-hardened.service"):
        text = moved(source("contrib/%s.in" % unit), paths)
        t.eq("%s: %s runs ackd as ackd" % (label, unit),
             (unit_values(text, "User"), unit_values(text, "Group")),
             (["ackd"], ["ackd"]))
        t.eq("%s: %s may write the log directory" % (label, unit),
             unit_values(text, "ReadWritePaths"), [paths["@logdir@"]])
        t.eq("%s: %s reloads with SIGHUP" % (label, unit),
             unit_values(text, "ExecReload"), ["/bin/kill -HUP $MAINPID"])
        env = unit_values(text, "Environment")
        opts = env[0].strip('"').split("=", 1)[1] if env else None
    logdir = tmpfiles_dirs(t, who, paths)[0]
    flags = shlex.split(opts or "")
    t.eq("%s: the default ACKD_OPTS log in the log directory" % label,
         flags, ["--log-file", os.path.join(logdir, "ackd.log")])
    work = h.writable_dir(tmp, "c-work")  # valgrind's and the harness's

    def become():
        os.setgroups([])
        os.setgid(who.pw.pw_gid)
        os.setuid(who.pw.pw_uid)
    d = h.Daemon(work, [], log_flags=flags, binary=binary, preexec=become,
                 ready=False)
    d.log_path = flags[1]
    d.wait_ready(T)
    t.eq("%s: no warning at start" % label, warnings(d.stderr()), [])

    def rotate():
        os.rename(d.log_path, d.log_path + ".1")
        d.signal(signal.SIGHUP)
    rotate_and_check(t, label, d, who, rotate)
    d.signal(signal.SIGTERM)
    t.eq("%s: SIGTERM: exit 0" % label, d.wait_exit(T), 0)


def warning(t, tmp, who):
    """A log directory the user cannot write: ackd --user says so."""
    label = "root's log directory"
    logdir = os.path.join(tmp, "w-log")
    root_dir(logdir)
    # the daemon's own files (stderr, valgrind's) where the user may
    # write: a worker's valgrind cannot make its log in logdir
    work = h.writable_dir(tmp, "w-work")
    path = os.path.join(logdir, "ackd.log")
    d = h.Daemon(work, ["--user", who.user], log_name="w.log",
                 log_flags=["--log-file", path], ready=False)
    d.log_path = path
    d.wait_ready(T)
    warn = [ln for ln in d.stderr().splitlines() if WARN in ln]
    t.ok("%s: one warning at start naming the directory" % label,
         len(warn) == 1 and "%s %s," % (WARN, logdir) in warn[0] and
         "owned by the user" in warn[0], h.short(d.stderr()))
    d.signal(signal.SIGTERM)
    t.eq("%s: SIGTERM: exit 0" % label, d.wait_exit(T), 0)


def main(t, tmp):
    if os.geteuid() != 0:
        raise h.Skip("the tests do not run as root: no user to become")
    try:
        who = Who(pwd.getpwnam("nobody"))
    except KeyError:
        raise h.Skip("no user nobody")
    # the user reaches the directories below; per-process files
    # (valgrind's, sanitizers') of processes that dropped to it are
    # written in tmp
    os.chmod(tmp, 0o1777)
    documented(t, tmp, who)
    logrotate(t, tmp, who)
    systemd(t, tmp, who)
    init_script(t, tmp, who)
    warning(t, tmp, who)


if __name__ == "__main__":
    h.run("rotate_user", main, deadline=240)
