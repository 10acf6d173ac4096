# SPDX-License-Identifier: MIT
"""
harness_tls.py: TLS for the integration tests (not a test).

Owns the certificates the TLS tests use, made at test time with the
openssl command in the test's own directory (never committed, never
shared between tests), and whether this ackd was built with TLS at all
(configure --without-tls refuses every --tls-* flag).

make_certs(directory) makes a CA and a server certificate signed by it
(ECDSA P-256, valid for localhost, 127.0.0.1 and ::1, two days) and
returns their paths as a Certs. Keys are written mode 0600, as openssl
leaves them.
"""

import collections
import os
import shutil
import subprocess

from harness_base import Skip
from harness_exec import run_ackd

# the line a build without TLS gives for FLAG
NO_TLS_LINE = "ackd: %s: this build has no TLS (configure --with-tls)"

# the paths make_certs wrote: the CA's certificate and key, the server's
Certs = collections.namedtuple("Certs", "dir ca ca_key cert key")

_has_tls = []


def has_tls():
    """Was this ackd built with TLS? Asked once: a build without it
    refuses --tls-only with NO_TLS_LINE, one with it for another reason
    (no --tls-port)."""
    if not _has_tls:
        _, _, err = run_ackd(["--tls-only"])
        _has_tls.append(b"this build has no TLS" not in err)
    return _has_tls[0]


def need_tls():
    """Skip the test unless ackd has TLS and the openssl command is
    there."""
    if not has_tls():
        raise Skip("ackd was built without TLS (configure --without-tls)")
    if shutil.which("openssl") is None:
        raise Skip("no openssl command (./bootstrap installs it)")


def openssl(directory, *args):
    """Run openssl with args in directory; raise with its stderr if it
    fails."""
    p = subprocess.run(["openssl"] + list(args), cwd=directory,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args),
                           p.stderr.decode("utf-8", "replace")))


def _p256_key_args():
    """openssl req's arguments for a new ECDSA P-256 key, unencrypted."""
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes"]


def make_ca(directory, name="ca", cn="ackd test CA"):
    """A self-signed CA in directory: (its certificate, its key)."""
    cert, key = name + ".pem", name + ".key"
    openssl(directory, "req", "-x509", *_p256_key_args(),
            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return os.path.join(directory, cert), os.path.join(directory, key)


def make_leaf(directory, ca, ca_key, name="server", cn="localhost",
              days="2"):
    """A certificate for cn (and localhost, 127.0.0.1, ::1) signed by
    the CA: (its certificate, its key)."""
    cert, key, csr, ext = (name + ".pem", name + ".key", name + ".csr",
                           name + ".ext")
    with open(os.path.join(directory, ext), "w") as f:
        f.write("subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1,"
                "IP:::1\n" % cn)
    openssl(directory, "req", *_p256_key_args(), "-keyout", key,
            "-out", csr, "-subj", "/CN=" + cn)
    openssl(directory, "x509", "-req", "-in", csr, "-CA", ca,
            "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
            "-days", days, "-extfile", ext)
    return os.path.join(directory, cert), os.path.join(directory, key)


def make_certs(directory):
    """A CA and a server certificate it signed, in directory: a Certs."""
    ca, ca_key = make_ca(directory)
    cert, key = make_leaf(directory, ca, ca_key)
    return Certs(directory, ca, ca_key, cert, key)
