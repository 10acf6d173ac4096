#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_install.py: make install puts the operating files in place, made
from configure's paths, and they tell one story.

Two installs from the build tree that made $ACKD, never into the host:
with DESTDIR and prefix=/usr, as a package would (the units must then run
/usr/sbin/ackd, which must be in DESTDIR), and into a real prefix in the
temporary directory with systemd's directories moved there too, so that
every path the files name exists and systemd-analyze verify can check the
units as they are. Checked: each file is installed; the units, the init
script and the default file name the installed ackd, default file and log
directory; the units run ackd as the user ackd (so ackd never warns about
root) and prevent restarts on every start-up failure status; tmpfiles.d
makes the log and run directories for ackd, and logrotate creates the new
log for it and finds the master with and without systemd; the init
script parses and has its LSB header; systemd-analyze verify and
logrotate -d accept the files (each skipped, with the reason, when the
tool is missing). tests/pkg/run.sh installs, runs and purges the package.
"""

import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# every status ackd exits with when it cannot start (ackd(8), EXIT STATUS)
START_FAILURES = {64, 69, 70, 73, 77, 78}
UNITS = ("ackd.service", "ackd-hardened.service")
PATH_EXTRA = ":/usr/local/sbin:/usr/sbin:/sbin"


def builddir():
    """The build tree that made $ACKD (src/ackd below it)."""
    return os.path.dirname(os.path.dirname(h.ackd_path()))


def make_install(t, label, variables):
    """make install with VARIABLES (name=value); True if it succeeded."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)  # not make check's jobserver nor its variables
    cmd = ["make", "-s", "-C", builddir(), "install"] + \
        ["%s=%s" % kv for kv in variables.items()]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    return t.ok("%s: make install exits 0" % label, p.returncode == 0,
                "exit %d: %s" % (p.returncode, p.stdout.decode()[-2000:]))


def find(root, suffix):
    """The files under root whose path ends with suffix."""
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            if p.endswith(suffix):
                out.append(p)
    return sorted(out)


def one(t, root, suffix):
    """The one installed file ending with suffix, or None (a failure)."""
    got = find(root, suffix)
    if t.ok("%s is installed" % suffix, len(got) == 1,
            "found %s under %s" % (got, root)):
        return got[0]
    return None


def unit_keys(path):
    """A unit's Key=value lines, each key with all its values in order."""
    keys = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Za-z]+)=(.*)$", line.strip())
            if m:
                keys.setdefault(m.group(1), []).append(m.group(2))
    return keys


def check_units(t, root, sbindir, sysconfdir, logdir):
    """Both units run the installed ackd as ackd, read the installed
    default file, write logdir and stop restarting on start-up failures."""
    for name in UNITS:
        path = one(t, root, "/" + name)
        if path is None:
            continue
        k = unit_keys(path)
        t.eq("%s: ExecStart runs the installed ackd" % name,
             k.get("ExecStart"), ["%s/ackd $ACKD_OPTS" % sbindir])
        t.eq("%s: the flags come from the installed default file" % name,
             k.get("EnvironmentFile"), ["-%s/default/ackd" % sysconfdir])
        t.eq("%s: runs as the user and group ackd, so ackd never holds "
             "root nor warns about it" % name,
             (k.get("User"), k.get("Group")), (["ackd"], ["ackd"]))
        t.ok("%s: no --user/--group/--daemon in the flags" % name,
             not re.search(r"--user|--group|--daemon|-[ugd]\b",
                           " ".join(k.get("Environment", []))),
             k.get("Environment"))
        got = set()
        for v in k.get("RestartPreventExitStatus", []):
            got |= {int(s) for s in v.split()}
        t.eq("%s: RestartPreventExitStatus lists every start-up failure"
             % name, sorted(got), sorted(START_FAILURES))
        t.eq("%s: the log directory is the one writable place" % name,
             k.get("ReadWritePaths"), [logdir])
    one(t, root, "/ackd.socket")


def check_story(t, root, sysconfdir, logdir, rundir):
    """tmpfiles.d, sysusers.d, logrotate and the default file agree on the
    user and the directories."""
    tmpfiles = one(t, root, "tmpfiles.d/ackd.conf")
    if tmpfiles:
        lines = [l.split() for l in open(tmpfiles) if l[:1] == "d"]
        t.eq("tmpfiles.d: the log directory is ackd's, group adm, setgid",
             [l for l in lines if l[1] == logdir],
             [["d", logdir, "2750", "ackd", "adm", "-"]])
        t.eq("tmpfiles.d: the run directory is ackd's",
             [l for l in lines if l[1] == rundir],
             [["d", rundir, "0755", "ackd", "ackd", "-"]])
    sysusers = one(t, root, "sysusers.d/ackd.conf")
    if sysusers:
        t.ok("sysusers.d: a system user ackd",
             any(l.split()[:2] == ["u", "ackd"] for l in open(sysusers)),
             open(sysusers).read())
    default = one(t, root, "%s/default/ackd" % sysconfdir)
    if default:
        t.ok("the default file logs into the log directory",
             re.search(r'^ACKD_OPTS=".*--log-file %s/ackd\.log' %
                       re.escape(logdir), open(default).read(), re.M),
             open(default).read()[-300:])
    rot = one(t, root, "%s/logrotate.d/ackd" % sysconfdir)
    if rot:
        text = open(rot).read()
        t.ok("logrotate: rotates the log directory's files",
             re.search(r"^%s/\*\.log \{" % re.escape(logdir), text, re.M),
             text[:300])
        t.ok("logrotate: creates the new log for ackd, group adm",
             re.search(r"^\s*create 0640 ackd adm$", text, re.M), text)
        t.ok("logrotate: reloads either unit under systemd, else signals "
             "the pid file's master",
             "systemctl reload" in text and "ackd-hardened.service" in text
             and 'pidfile=%s/ackd.pid' % rundir in text and
             "kill -HUP" in text, text)
    return rot


def check_init(t, root, sbindir, sysconfdir, rundir):
    """The init script parses, has its LSB header, runs the installed ackd
    as ackd and writes its pid file in the run directory."""
    path = one(t, root, "%s/init.d/ackd" % sysconfdir)
    if path is None:
        return
    t.ok("init script is executable", os.access(path, os.X_OK), path)
    p = subprocess.run(["sh", "-n", path], stderr=subprocess.PIPE)
    t.eq("init script: sh -n", (p.returncode, p.stderr.decode()), (0, ""))
    text = open(path).read()
    header = re.search(r"^### BEGIN INIT INFO\n(.*?)^### END INIT INFO$",
                       text, re.M | re.S)
    fields = dict(re.findall(r"^# ([A-Za-z-]+):\s+(.*)$",
                             header.group(1), re.M)) if header else {}
    t.ok("init script: LSB header with Provides, Required-Start/Stop, "
         "Default-Start/Stop, Short-Description",
         fields.get("Provides") == "ackd" and all(
             k in fields for k in ("Required-Start", "Required-Stop",
                                   "Default-Start", "Default-Stop",
                                   "Short-Description")), fields)
    t.ok("init script: the installed ackd, its run directory, as ackd, "
         "with start-stop-daemon",
         "DAEMON=%s/ackd\n" % sbindir in text and
         "RUNDIR=%s\n" % rundir in text and "--chuid" in text and
         "ACKD_USER=ackd\n" in text and "start-stop-daemon" in text, text)


def check_logrotate(t, tmp, rot):
    """logrotate -d accepts the installed file (parses it, rotates nothing).
    Without the user ackd, logrotate refuses "create 0640 ackd adm", so a
    copy with this user in its place is parsed instead, and it says so."""
    lr = logrotate_path()
    if lr is None:
        t.skip("logrotate -d parses the installed file",
               "logrotate is not installed (./bootstrap installs it)")
        return
    conf = rot
    try:
        pwd.getpwnam("ackd")
    except KeyError:
        conf = as_me(tmp, rot, "logrotate-copy")
        t.note("no user ackd here: logrotate -d parses a copy creating "
               "files for the current user")
    p = subprocess.run([lr, "-d", "-s", os.path.join(tmp, "lr.state"), conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode()
    t.ok("logrotate -d parses the installed file without an error",
         p.returncode == 0 and not re.search(r"^error", out, re.M),
         "exit %d: %s" % (p.returncode, out[-1500:]))


def logrotate_path():
    """logrotate, also where a user's PATH lacks sbin; None if missing."""
    return shutil.which("logrotate", path=os.environ["PATH"] + PATH_EXTRA)


def as_me(tmp, rot, name):
    """A copy of the logrotate file creating the new log for this user
    and group instead of ackd:adm (this test runs as whoever runs make)."""
    me = "%s %s" % (pwd.getpwuid(os.getuid()).pw_name,
                    grp.getgrgid(os.getgid()).gr_name)
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(open(rot).read().replace("create 0640 ackd adm",
                                         "create 0640 " + me))
    return path


def unit_active():
    """Is an ackd unit running on this host? Its postrotate would then
    reload it, not the ackd this test starts."""
    if not os.path.isdir("/run/systemd/system"):
        return False
    return any(subprocess.run(["systemctl", "-q", "is-active", u]).returncode
               == 0 for u in UNITS)


def check_rotation(t, tmp, prefix, rot):
    """The installed logrotate file, run (logrotate -f), with no systemd
    unit: its postrotate finds the master of an ackd --daemon by the pid
    file the file names, which reopens: the new log receives lines, the
    rotated one kept the earlier ones."""
    lr = logrotate_path()
    if lr is None or unit_active():
        t.skip("logrotate -f reopens an ackd --daemon by its pid file",
               "no logrotate" if lr is None else "an ackd unit is active "
               "here: the postrotate would reload it")
        return
    logdir = prefix + "/var/log/ackd"
    rundir = prefix + "/var/run/ackd"
    os.makedirs(logdir)
    os.makedirs(rundir)
    log = logdir + "/ackd.log"
    rc, _, err, d = h.run_detached(
        ["--daemon", "--bind", "127.0.0.1", "--port", "0", "--workers", "1",
         "--log-file", log, "--pid-file", rundir + "/ackd.pid"], log,
        workers=1)
    if not t.ok("ackd --daemon --pid-file in the installed run directory",
                rc == 0 and d is not None, "exit %r: %s" % (rc, err)):
        return
    d.wait_ready()
    start = [r for r in d.records() if r.event == "start"][0]
    port = int(str(start.get("listen")).rpartition(":")[2])
    t.eq("a message before the rotation is acknowledged",
         h.client(port, b"before-rotation").data, h.ACK)
    p = subprocess.run([lr, "-f", "-s", os.path.join(tmp, "lr.state"),
                        as_me(tmp, rot, "logrotate-run")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t.eq("logrotate -f exits 0", (p.returncode, p.stdout.decode()), (0, ""))

    # ackd also reopens by itself, within a second, a log replaced under
    # it, and its master's line then says reason=: only the master's line
    # without a reason is the postrotate's SIGHUP
    def reopened():
        return any(r.event == "reopen" and r.get("pid") == d.pid and
                   r.get("reason") is None for r in d.records())
    t.ok("the postrotate's SIGHUP reached the master: its reopen line, "
         "without reason=, in the new log", h.wait_for(reopened, 10),
         h.short([r.raw for r in d.records()]))
    # the master passes the signal on to its worker, which reopens a
    # moment later (under valgrind, much later): a message before that
    # is rightly logged in the old file
    def all_reopened():
        return len({r.get("pid") for r in d.records()
                    if r.event == "reopen"}) >= 2
    t.ok("the worker reopened into the new log too", h.wait_for(
        all_reopened, 20), h.short([r.raw for r in d.records()]))
    t.eq("a message after the rotation is acknowledged",
         h.client(port, b"after-rotation").data, h.ACK)
    t.ok("and logged in the new log",
         d.wait_records(lambda r: r.get("msg") == b"after-rotation"),
         h.short([r.raw for r in d.records()]))
    t.ok("the rotated log kept the earlier message",
         any(r.get("msg") == b"before-rotation"
             for r in h.read_log(log + ".1")), "in %s.1" % log)
    d.signal(signal.SIGTERM)
    t.eq("SIGTERM: exit 0", d.wait_exit(20), 0)


def check_verify(t, root):
    """systemd-analyze verify accepts both units and the socket."""
    sa = shutil.which("systemd-analyze")
    if sa is None:
        t.skip("systemd-analyze verify accepts the units",
               "systemd-analyze is not installed (.ci/run installs it)")
        return
    units = [p for n in UNITS + ("ackd.socket",) for p in find(root, "/" + n)]
    p = subprocess.run([sa, "verify", "--man=no"] + units,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode()
    t.note("systemd-analyze verify: exit %d, output %r" % (p.returncode, out))
    t.ok("systemd-analyze verify accepts the installed units",
         p.returncode == 0 and out.strip() == "",
         "exit %d: %s" % (p.returncode, out))


def package_layout(t, tmp):
    """prefix=/usr into DESTDIR, as a package builds: /usr/sbin/ackd."""
    dest = os.path.join(tmp, "destdir")
    if not make_install(t, "DESTDIR, prefix=/usr", {
            "DESTDIR": dest, "prefix": "/usr", "sysconfdir": "/etc",
            "localstatedir": "/var", "runstatedir": "/run"}):
        return
    unit = one(t, dest, "/ackd.service")
    if unit:
        k = unit_keys(unit)
        t.eq("prefix=/usr: ackd.service runs /usr/sbin/ackd",
             k.get("ExecStart"), ["/usr/sbin/ackd $ACKD_OPTS"])
        t.ok("prefix=/usr: and DESTDIR/usr/sbin/ackd is that program",
             os.access(os.path.join(dest, "usr/sbin/ackd"), os.X_OK),
             sorted(find(dest, "ackd")))
    check_story(t, dest, "/etc", "/var/log/ackd", "/run/ackd")


def real_prefix(t, tmp):
    """Everything under a real prefix: every path the files name exists."""
    p = os.path.join(tmp, "prefix")
    lib = os.path.join(p, "lib")
    # every directory make install writes to, not only prefix: a tree
    # configured as a package is (--sysconfdir=/etc, --localstatedir=/var,
    # as dpkg-buildpackage's make check does) would otherwise install
    # into the host's /etc
    if not make_install(t, "prefix=" + p, {
            "prefix": p, "exec_prefix": p, "bindir": p + "/bin",
            "sbindir": p + "/sbin", "datarootdir": p + "/share",
            "mandir": p + "/share/man", "sysconfdir": p + "/etc",
            "localstatedir": p + "/var", "runstatedir": p + "/var/run",
            "systemdsystemunitdir": lib + "/systemd/system",
            "sysusersdir": lib + "/sysusers.d",
            "tmpfilesdir": lib + "/tmpfiles.d"}):
        return
    sbindir, etc = p + "/sbin", p + "/etc"
    logdir, rundir = p + "/var/log/ackd", p + "/var/run/ackd"
    t.ok("the installed ackd runs: --version",
         subprocess.run([sbindir + "/ackd", "--version"],
                        stdout=subprocess.DEVNULL).returncode == 0)
    check_units(t, p, sbindir, etc, logdir)
    rot = check_story(t, p, etc, logdir, rundir)
    check_init(t, p, sbindir, etc, rundir)
    if rot:
        check_logrotate(t, tmp, rot)
        check_rotation(t, tmp, p, rot)
    check_verify(t, p)


def main(t, tmp):
    if shutil.which("make") is None:
        raise h.Skip("make is not installed")
    if not os.path.exists(os.path.join(builddir(), "Makefile")):
        raise h.Skip("no configured build tree above $ACKD")
    package_layout(t, tmp)
    real_prefix(t, tmp)


if __name__ == "__main__":
    h.run("install", main, deadline=120)
