#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_check.py: --check, the start-up's checks without the start.

It exits 0 and prints what would run (listen addresses, workers, log,
pid file, user) when a start would succeed, and otherwise the start's
own status with the start's own line: 64 a bad flag or unknown user, 73
a log or pid file that cannot be opened (a FIFO log does not block it),
69 a pid file a running ackd holds or a name that does not resolve. It
makes nothing: no log file, no pid file, an existing log untouched. It
binds nothing, so it passes while a running ackd holds the port (as
before a reload). As root with --user: the user's view is checked and
warned of (a pid file it could not remove), still 0; not root, another
user is 77.
"""

import os
import pwd
import signal
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

OK_LINE = "ackd: the start-up checks pass"


def check(args, **kw):
    """ackd --check args: (status, stdout text, stderr lines)."""
    rc, out, err = h.run_ackd(["--check"] + list(args), **kw)
    return (rc, out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace").splitlines())


def start(args):
    """The real start with args, which must fail: (status, stderr lines)."""
    rc, out, err = h.run_ackd(args, timeout=20)
    return rc, err.decode("utf-8", "replace").splitlines()


def passes(t, tmp):
    """What would run is printed; nothing is made or changed."""
    log = os.path.join(tmp, "ok.log")
    pid = os.path.join(tmp, "ok.pid")
    before = sorted(os.listdir(tmp))
    rc, out, err = check(["--bind", "127.0.0.1", "--port", "0",
                          "--workers", "3", "--log-file", log,
                          "--pid-file", pid])
    t.eq("pass: exits 0", rc, 0)
    lines = out.splitlines()
    for want in ("listen: 127.0.0.1:0", "workers: 3, threads: 16, queue: "
                 "256", "log: %s, text" % log, "pid file: %s" % pid,
                 "user: unchanged, group: unchanged"):
        t.ok("pass: prints '%s'" % want, want in lines, h.short(out))
    t.eq("pass: the last line says the checks pass", lines[-1:], [OK_LINE])
    t.eq("pass: nothing on stderr but the root warning",
         [ln for ln in err if "consider --user" not in ln], [])
    # valgrind's own log of the run is not ackd's doing
    t.eq("pass: no log file and no pid file made",
         sorted(n for n in os.listdir(tmp) if ".valgrind." not in n),
         before)

    with open(log, "w") as f:
        f.write("old line\n")
    os.utime(log, (1000000000, 1000000000))
    rc, out, err = check(["--bind", "127.0.0.1", "--log-file", log,
                          "--log-format", "json"])
    t.eq("existing log: exits 0", rc, 0)
    t.ok("existing log: prints its format", "log: %s, json" % log in
         out.splitlines(), h.short(out))
    with open(log) as f:
        t.eq("existing log: its content is untouched", f.read(),
             "old line\n")
    t.eq("existing log: its mtime is untouched", os.stat(log).st_mtime,
         1000000000)


def same_as_start(t, label, args, want, word):
    """--check and the real start fail alike: status want, one line with
    word."""
    rc, out, err = check(args, timeout=20)
    t.eq("%s: --check exits %d" % (label, want), rc, want)
    t.eq("%s: --check prints nothing on stdout" % label, out, "")
    err = [ln for ln in err if "consider --user" not in ln]
    t.ok("%s: --check says why in one line naming %s" % (label, word),
         len(err) == 1 and word in err[0], h.short(err))
    rc2, err2 = start(args)
    err2 = [ln for ln in err2 if "consider --user" not in ln]
    t.eq("%s: the real start exits %d too" % (label, want), rc2, want)
    t.eq("%s: with the same line" % label,
         [ln.split(": ", 1)[-1] for ln in err2],
         [ln.split(": ", 1)[-1] for ln in err])


def failures(t, tmp):
    """Each start-up failure: --check's status is the start's."""
    missing = os.path.join(tmp, "missing")
    fifo = os.path.join(tmp, "fifo.log")
    os.mkfifo(fifo)
    base = ["--bind", "127.0.0.1", "--port", "0", "--workers", "1"]
    log = ["--log-file", os.path.join(tmp, "f.log")]
    same_as_start(t, "bad flag", base + log + ["--workers", "0"], 64,
                  "--workers")
    same_as_start(t, "unknown user", base + log + ["--user",
                  "ackd-no-such-user"], 64, "ackd-no-such-user")
    same_as_start(t, "log in a missing directory",
                  base + ["--log-file", os.path.join(missing, "x.log")], 73,
                  os.path.join(missing, "x.log"))
    same_as_start(t, "pid file in a missing directory",
                  base + log + ["--pid-file", os.path.join(missing, "x.pid")],
                  73, os.path.join(missing, "x.pid"))
    same_as_start(t, "unresolvable name", ["--bind", "ackd-test.invalid",
                  "--port", "0", "--workers", "1"] + log, 69,
                  "ackd-test.invalid")
    # a FIFO with no reader: a start would block, or refuse a non-regular
    # file; --check must not wait (run_ackd's timeout gives None)
    rc, out, err = check(base + ["--log-file", fifo])
    t.eq("FIFO log: --check exits 73 at once", rc, 73)
    t.ok("FIFO log: one line naming it", len(err) == 1 and fifo in err[0],
         h.short(err))
    t.eq("FIFO log: still a FIFO", stat.S_ISFIFO(os.stat(fifo).st_mode),
         True)


def running(t, tmp):
    """With an ackd running: its pid file is refused (69, naming it), its
    port is no obstacle (nothing is bound), and it is left alone."""
    pid = os.path.join(tmp, "run.pid")
    d = h.Daemon(tmp, ["--pid-file", pid], log_name="run.log", workers=1)
    h.wait_for(lambda: os.path.getsize(pid) > 0, 10)
    with open(pid) as f:
        held = f.read()
    args = ["--bind", "127.0.0.1", "--port", str(d.port), "--log-file",
            d.log_path]
    rc, out, err = check(args + ["--pid-file", pid])
    t.eq("running: its pid file: --check exits 69", rc, 69)
    t.ok("running: one line naming the pid file and the holder",
         len(err) == 1 and "pid file %s is locked by pid %d" % (pid, d.pid)
         in err[0], h.short(err))
    with open(pid) as f:
        t.eq("running: its pid file is unchanged", f.read(), held)
    rc, out, err = check(args)
    t.eq("running: its port: --check exits 0 (binds nothing)", rc, 0)
    t.ok("running: and names the port", "listen: 127.0.0.1:%d" % d.port in
         out.splitlines(), h.short(out))
    t.eq("running: it still serves", h.client(d.port, b"after-check").data,
         h.ACK)
    d.signal(signal.SIGTERM)
    t.eq("running: SIGTERM: exit 0", d.wait_exit(15), 0)


def users(t, tmp):
    """As root, --user is checked as that user; not root, 77."""
    if os.geteuid() != 0:
        t.skip("--check --user", "the tests do not run as root")
        return
    users = [pw for pw in pwd.getpwall() if pw.pw_uid != 0]
    users.sort(key=lambda pw: (pw.pw_name != "nobody", pw.pw_uid))
    if not users:
        t.skip("--check --user", "no user other than root")
        return
    pw = users[0]
    os.chmod(tmp, 0o755)
    rootdir = os.path.join(tmp, "rootdir")
    os.mkdir(rootdir, 0o755)
    pid = os.path.join(rootdir, "u.pid")
    rc, out, err = check(["--bind", "127.0.0.1", "--user", pw.pw_name,
                          "--log-file", os.path.join(rootdir, "u.log"),
                          "--pid-file", pid])
    t.eq("--user, root's directory: exits 0 (the start would run)", rc, 0)
    t.ok("--user, root's directory: prints the user",
         "user: %s, group: the user's" % pw.pw_name in out.splitlines(),
         h.short(out))
    t.ok("--user, root's directory: warns the pid file cannot be removed",
         any(pid in ln and "cannot remove it" in ln for ln in err),
         h.short(err))
    t.ok("--user, root's directory: warns the log cannot be made anew",
         any("cannot create files in %s" % rootdir in ln for ln in err),
         h.short(err))
    t.eq("--user, root's directory: nothing made", os.listdir(rootdir), [])
    if h.valgrind_wrapped():
        t.skip("not root: --check --user root exits 77",
               "valgrind's logs cannot be written by %s" % pw.pw_name)
        return
    if h.ackd_for_others() is None:
        t.skip("not root: --check --user root exits 77",
               "%s cannot reach %s" % (pw.pw_name, h.ackd_path()))
        return
    rc, out, err = check(["--bind", "127.0.0.1", "--user", "root"],
                         user=pw.pw_uid, group=pw.pw_gid)
    t.eq("not root: --check --user root exits 77", rc, 77)
    t.ok("not root: one line saying why", len(err) == 1 and
         "cannot become user root" in err[0], h.short(err))


def main(t, tmp):
    passes(t, tmp)
    failures(t, tmp)
    running(t, tmp)
    users(t, tmp)


if __name__ == "__main__":
    h.run("check", main, deadline=60)
