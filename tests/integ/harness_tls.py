# SPDX-License-Identifier: MIT
"""
harness_tls.py: TLS for the integration tests (not a test).

Owns the certificates the TLS tests use, made at test time with the
openssl command in the test's own directory (never committed, never
shared between tests), and whether this ackd was built with TLS at all
(configure --without-tls refuses every --tls-* flag).

make_certs(directory) makes a Pki and a server certificate signed by its
CA (ECDSA P-256, valid for localhost, 127.0.0.1 and ::1, two days) and
returns their paths as a Certs. Keys are written mode 0600.

For the tests of connections (test_tls.py):

  Pki(tmp)            a CA ("ca") and a second CA that signed nothing
                      ackd trusts ("other"); skips the test without TLS
                      or the openssl command (need_tls)
  pki.leaf(name, ...) a key and a certificate signed by one of them:
                      ECDSA P-256 or RSA 2048, for a server
                      (subjectAltName 127.0.0.1 and localhost) or a
                      client, valid for days (-1: expired yesterday)
  client_context(...) a Python ssl client context: verifying the server
                      against a CA file (or not at all), with a client
                      certificate, within given versions and ciphers
  tls_client(...)     one connection: optional bytes in clear first (a
                      PROXY header), the handshake, the message, then
                      every byte until the daemon closes; a TlsReply
  s_client(...)       the same message through `openssl s_client`
"""

import collections
import os
import shutil
import socket
import ssl
import subprocess

from harness_base import Skip
from harness_exec import run_ackd

# the line a build without TLS gives for FLAG
NO_TLS_LINE = "ackd: %s: this build has no TLS (configure --with-tls)"

# the paths make_certs wrote: the CA's certificate and key, the server's;
# and the Pki that made them
Certs = collections.namedtuple("Certs", "dir ca ca_key cert key pki")

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


def make_certs(directory):
    """A CA and a server certificate it signed, in directory (a Pki): a
    Certs, whose pki makes more."""
    pki = Pki(directory)
    cert, key = pki.leaf("server", "localhost")
    return Certs(pki.dir, pki.ca[0], pki.ca[1], cert, key, pki)


class TlsReply:
    """What one TLS client got: data (bytes until the close), error
    (None, or the exception's text: a failed handshake), version and
    cipher (the client's view), closed_clean (the close came with a
    close_notify), sport (the client's own port)."""

    def __init__(self):
        self.data = b""
        self.error = None
        self.version = None
        self.cipher = None
        self.closed_clean = None
        self.sport = None

    def __repr__(self):
        return "TlsReply(data=%r, error=%r, version=%r)" % (
            self.data, self.error, self.version)


class Pki:
    """A directory of test keys and certificates (see the module's
    text). Paths are absolute: the daemon gets them as flags."""

    def __init__(self, tmp):
        need_tls()
        self.dir = os.path.join(tmp, "pki")
        os.makedirs(self.dir, exist_ok=True)
        self.ca = self._ca("ca", "ackd test CA")
        self.other = self._ca("other", "another CA")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _key(self, name, kind):
        """A new private key: ec (P-256) or rsa (2048 bits)."""
        key = self.path(name + ".key")
        opt = "rsa_keygen_bits:2048" if kind == "rsa" else \
            "ec_paramgen_curve:P-256"
        openssl(self.dir, "genpkey", "-algorithm",
                "RSA" if kind == "rsa" else "EC", "-pkeyopt", opt,
                "-out", key)
        os.chmod(key, 0o600)
        return key

    def _ca(self, name, cn):
        """A self-signed CA: (certificate, key)."""
        key = self._key(name, "ec")
        cert = self.path(name + ".pem")
        openssl(self.dir, "req", "-x509", "-new", "-key", key, "-out",
                cert, "-days", "30", "-subj", "/O=ackd tests/CN=" + cn,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return (cert, key)

    def leaf(self, name, cn, ca=None, kind="ec", days=2, server=True):
        """A key and a certificate for cn, signed by ca (self.ca by
        default): (certificate, key) paths. days=-1: it expired a day
        ago."""
        ca_cert, ca_key = ca or self.ca
        key = self._key(name, kind)
        csr = self.path(name + ".csr")
        cert = self.path(name + ".pem")
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            if server:
                f.write("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
                        "extendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        openssl(self.dir, "req", "-new", "-key", key, "-out", csr,
                "-subj", "/O=ackd tests/CN=" + cn)
        openssl(self.dir, "x509", "-req", "-in", csr, "-CA", ca_cert,
                "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
                "-days", str(days), "-extfile", ext)
        return (cert, key)


def client_context(cafile=None, cert=None, minimum=None, maximum=None,
    ciphers=None):
    """A client context: verifies the server against cafile (None: no
    verification at all), shows cert ((certificate, key)) if given,
    within the versions minimum..maximum (ssl.TLSVersion) and ciphers
    (OpenSSL's syntax) if given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cafile)
    if cert is not None:
        ctx.load_cert_chain(cert[0], cert[1])
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def tls_client(port, data, ctx, host="127.0.0.1", before=b"",
    timeout=10, server_hostname="localhost"):
    """One TLS connection: send before in clear (a PROXY header), shake
    hands, send data, read until the daemon closes. A TlsReply; a failed
    handshake or read is its error, not an exception."""
    r = TlsReply()
    raw = socket.create_connection((host, port), timeout=timeout)
    r.sport = raw.getsockname()[1]
    try:
        if before:
            raw.sendall(before)
        s = ctx.wrap_socket(raw, server_hostname=server_hostname)
        r.version = s.version()
        r.cipher = s.cipher()[0]
        s.sendall(data)
        while True:
            try:
                got = s.recv(4096)
            except ssl.SSLZeroReturnError:
                r.closed_clean = True
                break
            except ssl.SSLEOFError:
                r.closed_clean = False
                break
            if not got:
                r.closed_clean = True  # Python says b"" at close_notify
                break
            r.data += got
    except (OSError, ssl.SSLError) as e:
        r.error = "%s: %s" % (type(e).__name__, e)
    finally:
        raw.close()
    return r


def s_client(port, data, cafile, extra=(), timeout=20):
    """data through `openssl s_client -quiet` (which waits for the
    daemon's close, whatever its stdin does), verifying the server
    against cafile: (returncode, stdout bytes, stderr text)."""
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-servername", "localhost", "-CAfile", cafile,
            "-verify_return_error", "-quiet"] + list(extra)
    p = subprocess.run(args, input=data, capture_output=True,
                       timeout=timeout)
    return (p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))
