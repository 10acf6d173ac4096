#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
test_tls_conf.py: the TLS flags, files, listeners and reload.

In a build without TLS (configure --without-tls; CI's clang stage):
every --tls-* flag exits 64 with the one line "ackd: --FLAG: this build
has no TLS (configure --with-tls)", and that is all this script checks.

With TLS:
- flag errors exit 64 with one line naming the flag and what is allowed:
  --tls-port without --tls-cert, every other TLS flag without
  --tls-port (--tls-only among them), a version other than 1.2 or 1.3,
  --tls-port equal to --port, empty values;
- a missing, unreadable (a directory; as another user, a 0600 file),
  garbage or mismatched certificate, key or CA file, and a cipher list
  OpenSSL does not know, exit 64 with one line naming the flag and the
  file; --check says the same;
- a key file every user may read starts, with a warning naming it and
  its mode; a 0600 one gets none;
- as root with --user nobody, files only root may read are read before
  the privilege drop (ackd starts and serves), and a reload, which runs
  as nobody, fails with event=tls-reload-failed reason=unreadable;
- --tls-port 0 opens a TLS listener on every --bind address, beside the
  plain ones, and the start line names them (tls_listen=, the harness's
  d.tls_port); with --reuseport each worker has a plain and a TLS socket
  of its own; --tls-only opens no plain one (listen=none);
- SIGHUP rereads changed files: event=tls-reload from the master and
  each worker; a garbage certificate gives event=tls-reload-failed
  reason=bad-certificate file=PATH and the daemon goes on serving; a
  good file again reloads.
The handshake itself is test_tls.py's.
"""

import os
import pwd
import shutil
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# every TLS flag, with a value that is fine on its own
TLS_FLAGS = [["--tls-port", "1"], ["--tls-only"], ["--tls-cert", "c.pem"],
             ["--tls-key", "k.pem"], ["--tls-client-ca", "ca.pem"],
             ["--tls-min-version", "1.2"], ["--tls-ciphers", "ECDHE+AESGCM"],
             ["--tls-ciphersuites", "TLS_AES_128_GCM_SHA256"]]


def base(tmp):
    """Harmless flags first: should ackd wrongly accept the rest, it
    starts on a free loopback port (and is killed)."""
    return ["--bind", "127.0.0.1", "--port", "0", "--workers", "1",
            "--log-file", os.path.join(tmp, "conf.log")]


def one_line(t, label, args, words, tmp, **kw):
    """args (after base) exit 64 with one stderr line holding words; the
    line."""
    rc, _, err = h.run_ackd(base(tmp) + args, **kw)
    lines = err.decode("utf-8", "replace").splitlines()
    t.eq("%s: exits 64" % label, rc, 64)
    t.ok("%s: one line on stderr" % label, len(lines) == 1, h.short(err))
    line = lines[0] if lines else ""
    missing = [w for w in words if w not in line]
    t.ok("%s: the line names %s" % (label, ", ".join(words)), not missing,
         "no %s in %s" % (missing, h.short(line)))
    return line


def without_tls(t, tmp):
    """A build without TLS: each flag, the one line."""
    for args in TLS_FLAGS:
        rc, _, err = h.run_ackd(base(tmp) + args)
        t.eq("no TLS: %s exits 64" % args[0], rc, 64)
        t.eq("no TLS: %s: the line" % args[0],
             err.decode("utf-8", "replace"), h.NO_TLS_LINE % args[0] + "\n")


def flag_errors(t, tmp, c):
    """The combinations and values conf.c refuses."""
    tls = ["--tls-port", "0", "--tls-cert", c.cert]
    one_line(t, "--tls-port without --tls-cert", ["--tls-port", "0"],
             ["--tls-port", "allowed: with --tls-cert"], tmp)
    for args in TLS_FLAGS[1:]:
        one_line(t, "%s without --tls-port" % args[0], args,
                 [args[0] + ":", "allowed: with --tls-port"], tmp)
    for bad in ("1.1", "tls1.3", ""):
        one_line(t, "--tls-min-version '%s'" % bad,
                 tls + ["--tls-min-version", bad],
                 ["--tls-min-version", "allowed: 1.2, 1.3"], tmp)
    one_line(t, "--tls-port 70000", ["--tls-port", "70000"],
             ["--tls-port", "allowed: 0-65535"], tmp)
    one_line(t, "--tls-port is --port's", ["--port", "7443", "--tls-port",
             "7443", "--tls-cert", c.cert], ["--tls-port", "7443",
             "--port"], tmp)
    for flag in ("--tls-cert", "--tls-key", "--tls-client-ca"):
        one_line(t, "%s ''" % flag, tls + [flag, ""],
                 [flag, "empty path"], tmp)
    for flag in ("--tls-ciphers", "--tls-ciphersuites"):
        one_line(t, "%s ''" % flag, tls + [flag, ""], [flag, "empty"], tmp)


def write(path, data, mode=0o600):
    """Replace path with data (a new file: a new inode), mode mode."""
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def file_errors(t, tmp, c):
    """Bad files: one line naming the flag and the file, exit 64."""
    garbage = os.path.join(tmp, "garbage.pem")
    write(garbage, b"not a certificate\n")
    missing = os.path.join(tmp, "missing.pem")
    other_cert, other_key = c.pki.leaf("other", "localhost")
    tls = ["--tls-port", "0"]
    cases = [
        ("missing cert", ["--tls-cert", missing],
         ["--tls-cert", missing, "cannot read", "No such file"]),
        ("cert a directory", ["--tls-cert", tmp],
         ["--tls-cert", tmp, "not a regular file"]),
        ("garbage cert", ["--tls-cert", garbage],
         ["--tls-cert", garbage, "not a PEM certificate"]),
        ("missing key", ["--tls-cert", c.cert, "--tls-key", missing],
         ["--tls-key", missing, "cannot read"]),
        ("garbage key", ["--tls-cert", c.cert, "--tls-key", garbage],
         ["--tls-key", garbage, "not a PEM private key"]),
        ("cert without a key in it", ["--tls-cert", c.cert],
         ["--tls-key", c.cert, "not a PEM private key"]),
        ("another certificate's key", ["--tls-cert", c.cert, "--tls-key",
         other_key], ["--tls-key", other_key, "not the key of"]),
        ("missing client CA", ["--tls-cert", c.cert, "--tls-key", c.key,
         "--tls-client-ca", missing], ["--tls-client-ca", missing]),
        ("garbage client CA", ["--tls-cert", c.cert, "--tls-key", c.key,
         "--tls-client-ca", garbage], ["--tls-client-ca", garbage,
         "no PEM CA"]),
        ("unknown ciphers", ["--tls-cert", c.cert, "--tls-key", c.key,
         "--tls-ciphers", "NO-SUCH-CIPHER"], ["--tls-ciphers",
         "NO-SUCH-CIPHER", "OpenSSL"]),
        ("unknown ciphersuites", ["--tls-cert", c.cert, "--tls-key", c.key,
         "--tls-ciphersuites", "TLS_NO_SUCH"], ["--tls-ciphersuites",
         "TLS_NO_SUCH"]),
    ]
    for label, args, words in cases:
        one_line(t, label, tls + args, words, tmp)
    # --check reads them as the start does (two cases: runs are slow
    # under valgrind)
    for label, args, words in (cases[2], cases[6]):
        one_line(t, "--check: " + label, ["--check"] + tls + args, words,
                 tmp)


def unreadable_as_user(t, tmp, c):
    """A 0600 root file, as another user: "cannot read", exit 64."""
    label = "unreadable key as another user"
    if os.geteuid() != 0 or h.ackd_for_others() is None:
        t.skip(label, "not root, or no ackd another user may run")
        return
    # under valgrind, nobody cannot write its log where run_ackd puts it
    if h.run_ackd(["--version"], user=65534, group=65534)[0] != 0:
        t.skip(label, "user 65534 cannot run ackd here")
        return
    d = h.writable_dir(tmp, "other-user")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    shutil.copy(c.cert, cert)
    os.chmod(cert, 0o644)
    shutil.copy(c.key, key)
    os.chmod(key, 0o600)
    rc, _, err = h.run_ackd(["--bind", "127.0.0.1", "--port", "0",
                             "--log-file", os.path.join(d, "x.log"),
                             "--tls-port", "0", "--tls-cert", cert,
                             "--tls-key", key], user=65534, group=65534)
    lines = err.decode("utf-8", "replace").splitlines()
    t.eq("unreadable key as another user: exits 64", rc, 64)
    t.ok("unreadable key: one line naming --tls-key, the file, and why",
         len(lines) == 1 and "--tls-key %s: cannot read: Permission "
         "denied" % key in lines[0], h.short(err))


def root_only_key(t, tmp, c):
    """As root with --user nobody: files only root may read are read
    before the privilege drop; a reload, as nobody, cannot read them and
    says so."""
    label = "root-only key with --user nobody"
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        pw = None
    if os.geteuid() != 0 or pw is None or h.ackd_for_others() is None:
        t.skip(label, "not root, or no user nobody")
        return
    if h.run_ackd(["--version"], user=pw.pw_uid, group=pw.pw_gid)[0] != 0:
        t.skip(label, "nobody cannot run ackd here")
        return
    keys = os.path.join(tmp, "rootkeys")
    os.mkdir(keys)
    os.chmod(keys, 0o700)
    cert, key = os.path.join(keys, "cert.pem"), os.path.join(keys, "key.pem")
    shutil.copy(c.cert, cert)
    shutil.copy(c.key, key)
    os.chmod(key, 0o600)
    work = h.writable_dir(tmp, "nobody")
    d = h.Daemon(work, ["--user", "nobody", "--tls-port", "0", "--tls-cert",
                        cert, "--tls-key", key], workers=1,
                 log_name="nobody.log")
    t.ok("%s: starts, with a TLS listener" % label,
         isinstance(d.tls_port, int), d.start_rec.raw)
    t.eq("%s: serves" % label, h.client(d.port, b"n").data, h.ACK)
    with open(c.cert, "rb") as f:
        write(cert, f.read(), 0o644)
    d.signal(signal.SIGHUP)
    failed = d.wait_records(lambda r: r.event == "tls-reload-failed", 2, 20)
    t.ok("%s: the reload, as nobody, fails: reason=unreadable "
         "file=%s" % (label, cert), len(failed) == 2 and
         all(r.get("reason") == "unreadable" and r.get("file") == cert
             for r in failed), h.short([r.raw for r in failed]))
    t.eq("%s: still serves" % label, h.client(d.port, b"m").data, h.ACK)


def key_mode(t, tmp, c):
    """A key every user may read: a warning, and ackd serves; 0600: none."""
    for mode, warned in ((0o644, True), (0o600, False)):
        key = os.path.join(tmp, "mode-%o.key" % mode)
        shutil.copy(c.key, key)
        os.chmod(key, mode)
        d = h.Daemon(tmp, ["--tls-port", "0", "--tls-cert", c.cert,
                           "--tls-key", key], workers=1,
                     log_name="mode-%o.log" % mode)
        words = "--tls-key %s: mode %04o lets every user read" % (key, mode)
        t.eq("key mode %04o: %s" % (mode, "warned" if warned else
             "no warning"), words in d.stderr(), warned)
        t.eq("key mode %04o: serves" % mode, h.client(d.port, b"m").data,
             h.ACK)
        d.signal(signal.SIGTERM)
        d.wait_exit(20)


def listeners(t, tmp, c):
    """--tls-port 0 beside --port 0 on every address; --tls-only."""
    tls = ["--tls-port", "0", "--tls-cert", c.cert, "--tls-key", c.key]
    binds = ["127.0.0.1"] if h.ipv6_unavailable() else ["127.0.0.1", "::1"]
    d = h.Daemon(tmp, tls, bind=binds, workers=1, log_name="both.log")
    t.eq("both: a TLS listener per --bind address",
         [host for host, _ in d.tls_listens], binds)
    t.ok("both: the TLS port is its own", isinstance(d.tls_port, int) and
         d.tls_port not in (0, d.port), "%r %r" % (d.tls_port, d.port))
    ports = sorted(h.listens_of(d.master_pid()).values())
    t.eq("both: the master listens on both ports, on each address",
         ports, sorted([d.port, d.tls_port] * len(binds)))
    t.eq("both: the plain listener serves", h.client(d.port, b"p").data,
         h.ACK)
    d.signal(signal.SIGTERM)
    d.wait_exit(20)
    # --reuseport: a set per worker, each with a plain and a TLS socket
    d = h.Daemon(tmp, tls + ["--reuseport"], workers=2, log_name="rp.log")
    held = [sorted(h.listens_of(pid).values()) for pid in d.worker_pids]
    t.eq("--reuseport: each worker has its own plain and TLS socket",
         held, [sorted([d.port, d.tls_port])] * 2)
    t.eq("--reuseport: the master keeps both sets",
         sorted(h.listens_of(d.master_pid()).values()),
         sorted([d.port, d.tls_port] * 2))
    d.signal(signal.SIGTERM)
    d.wait_exit(20)
    d = h.Daemon(tmp, tls + ["--tls-only"], workers=1, log_name="only.log")
    t.eq("--tls-only: listen=none in the start line",
         d.start_rec.get("listen"), "none")
    t.eq("--tls-only: the master listens on the TLS port alone",
         sorted(h.listens_of(d.master_pid()).values()), [d.tls_port])
    rc, out, _ = h.run_ackd(base(tmp) + tls + ["--check"])
    t.ok("--check: says the TLS listener, certificate and key",
         rc == 0 and ("tls listen: 127.0.0.1:0, certificate %s, key %s" %
                      (c.cert, c.key)).encode() in out, h.short(out))


def reload(t, tmp, c):
    """SIGHUP rereads changed files; a bad one keeps the old context."""
    live = os.path.join(tmp, "live")
    os.mkdir(live)
    cert, key = os.path.join(live, "cert.pem"), os.path.join(live, "key.pem")
    shutil.copy(c.cert, cert)
    shutil.copy(c.key, key)
    workers = 2
    d = h.Daemon(tmp, ["--tls-port", "0", "--tls-cert", cert, "--tls-key",
                       key], workers=workers, log_name="reload.log")
    # each process that has the context reloads: the master and workers
    every = workers + 1
    new_cert, new_key = c.pki.leaf("rotated", "localhost")
    with open(new_key, "rb") as f:
        write(key, f.read())
    with open(new_cert, "rb") as f:
        write(cert, f.read(), 0o644)
    d.signal(signal.SIGHUP)
    done = d.wait_records(lambda r: r.event == "tls-reload", every, 20)
    t.eq("reload: event=tls-reload from the master and each worker",
         len(done), every)
    write(cert, b"garbage\n", 0o644)
    d.signal(signal.SIGHUP)
    failed = d.wait_records(lambda r: r.event == "tls-reload-failed",
                            every, 20)
    t.eq("bad file: event=tls-reload-failed from each", len(failed), every)
    t.ok("bad file: reason=bad-certificate file=PATH",
         failed and all(r.get("reason") == "bad-certificate" and
                        r.get("file") == cert for r in failed),
         h.short([r.raw for r in failed]))
    t.ok("bad file: stderr says the old context stays",
         "--tls-cert %s: not a PEM certificate chain" % cert in d.stderr()
         and "the TLS context in use stays" in d.stderr(),
         h.short(d.stderr()))
    t.eq("bad file: ackd still serves", h.client(d.port, b"r").data, h.ACK)
    with open(c.cert, "rb") as f:
        write(cert, f.read(), 0o644)
    with open(c.key, "rb") as f:
        write(key, f.read())
    d.signal(signal.SIGHUP)
    done = d.wait_records(lambda r: r.event == "tls-reload", 2 * every, 20)
    t.eq("good file again: reloaded by each", len(done), 2 * every)


def main(t, tmp):
    if not h.has_tls():
        without_tls(t, tmp)
        return
    h.need_tls()
    c = h.make_certs(tmp)
    flag_errors(t, tmp, c)
    file_errors(t, tmp, c)
    unreadable_as_user(t, tmp, c)
    root_only_key(t, tmp, c)
    key_mode(t, tmp, c)
    listeners(t, tmp, c)
    reload(t, tmp, c)


if __name__ == "__main__":
    h.run("tls_conf", main, deadline=300 if h.valgrind_wrapped() else 120)
