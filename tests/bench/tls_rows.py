#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
tls_rows.py: make bench's TLS rows (issue 15), run by run.py.

ackd terminating TLS itself against nginx's stream module terminating it,
the same certificate, key, protocol versions and ciphers for both, each
with 2 worker processes (run.py's --workers: the online CPUs), loaded by
ackd-bench --tls at c=64 with 16-byte messages over loopback:

  keys    ECDSA P-256 and RSA 2048, self-signed certificates made by
          `openssl req` in the runner's temporary directory at start
          (the bench verifies the server against them: --tls-ca);
  full    every connection a full handshake (ackd-bench --tls);
  resumed every client's connection after its first resumes the session
          of the one before (--tls-resume), from a ticket. The first,
          full ones fall in the warm-up; the report counts what the
          server really resumed (SSL_session_reused), and the rows show
          the resumed fraction, so a server that never resumes shows as
          doing full handshakes, not as fast resumption.

ackd: --tls-port 0 --tls-only --tls-cert C --tls-key K with the ciphers
pinned as nginx's are, its port read from the event=start line's
tls_listen=. Its ticket keys are made by the master and shared by the
workers (doc/tls.md).

nginx: `listen ... ssl` with ssl_protocols TLSv1.2 TLSv1.3, ssl_ciphers
and (TLS 1.3) ssl_conf_command Ciphersuites as ackd's, session tickets on
with one ssl_session_ticket_key file for both workers: the equal of
ackd's shared keys (nginx's default, keys OpenSSL makes in the master
before the fork, is shared too, but changes at each reload; the file
makes it explicit), ssl_session_cache none (its default), `return
"ACK!";`. ackd logs every message to a file, nginx nothing. As in
hostile.py, `ssl_preread on` (preread_timeout 10 s) makes nginx read the
client's first bytes before it answers: after TLS termination it reads
the decrypted message, at least 5 bytes, sees they are not a ClientHello
and passes on at once. Without it nginx answers and closes as soon as
the handshake is done, perhaps before the client's message has come: a
message that comes after the close is answered with a reset, which can
cost the client the ACK (issue 12's finding in clear). ackd-bench counts
every connection as ok, wrong or an error either way; nginx's errors
show in the rows.

Per measurement: handshakes/s (ok connections per second: one handshake
each), p50/p99 latency, server CPU per handshake (utime+stime of all
the server's processes from /proc between the end of the warm-up and
ackd-bench's exit, over the ok connections; run.py's method), the
resumed fraction, the protocol and cipher the bench saw. Ratios are
ackd/nginx per round, then the median; targets: full handshakes/s >= 1.0
x nginx and CPU per full handshake <= 1.1 x nginx, for each key, and
resumed handshakes/s >= 1.0 x nginx.

run.py imports this module only when it runs the TLS rows, after making
itself importable as `run`, so that both use one set of servers and
processes.
"""

import os
import re
import socket
import ssl
import subprocess
import time

import run as rb
from nginx import free_port, nginx_conf, nginx_ready

KEYS = ("ecdsa", "rsa")
KEY_NAMES = {"ecdsa": "ECDSA P-256", "rsa": "RSA 2048"}
KEYGEN = {"ecdsa": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
          "rsa": ["-newkey", "rsa:2048"]}
MODES = ("full", "resumed")
SERVERS = ("ackd", "nginx")
CONCURRENCY = 64
SIZE = 16
# the same for both servers: ackd's defaults, the first TLS 1.3 suite alone
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
SUITE = "TLS_AES_128_GCM_SHA256"
QUICK = (("ecdsa", "full"),)        # make bench-quick: this row alone
# (mode, metric, op, limit, text): ackd/nginx, for each key
TARGETS = (
    ("full", "rate", ">=", 1.0, "full handshakes/s >= 1.0 x nginx"),
    ("full", "cpu_us", "<=", 1.1, "CPU per full handshake <= 1.1 x nginx"),
    ("resumed", "rate", ">=", 1.0, "resumed handshakes/s >= 1.0 x nginx"),
)


# --- certificates -------------------------------------------------------------

def make_certs(tmpdir):
    """{key: (certificate, key file)}, self-signed, made by openssl req."""
    out = {}
    for k in KEYS:
        cert = os.path.join(tmpdir, "tls-%s.pem" % k)
        key = os.path.join(tmpdir, "tls-%s.key" % k)
        cmd = ["openssl", "req", "-x509", "-nodes", "-days", "2", "-subj",
               "/CN=localhost", "-addext",
               "subjectAltName=DNS:localhost,IP:127.0.0.1"] + KEYGEN[k] + [
               "-keyout", key, "-out", cert]
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise rb.BenchError("openssl req: %s" % e)
        if p.returncode != 0:
            raise rb.BenchError("openssl req failed: %s" % p.stdout.decode(
                "utf-8", "replace").strip()[-500:])
        out[k] = (cert, key)
    return out


# --- servers ------------------------------------------------------------------

def ackd_tls_start_line(text):
    """(TLS port, workers) from ackd's event=start line; else (None,)*2."""
    m = re.search(r" event=start listen=\S+ tls_listen=[^\s,]+:(\d+)"
                     r"\S* workers=(\d+)", text) or \
        re.search(r'"tls_listen":"[^",]+:(\d+)[^"]*","workers":(\d+)',
                     text)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


class AckdTls(rb.Server):
    """ackd with a TLS listener alone, the certificate of one key type."""

    start_line = staticmethod(ackd_tls_start_line)

    def __init__(self, exe, tmpdir, cpus, tag, cert, key):
        self.kind = "ackd"
        self.log = os.path.join(tmpdir, "ackd-tls-%s.log" % tag)
        self.errpath = self.log + ".stderr"
        self.cmd = ackd_command(exe, self.log, cpus, cert, key)
        self.cpus = cpus
        self.proc, self.port, self.status = None, None, None
        self.exit_switches = None
        self.pids_seen = set()


def ackd_command(exe, log, cpus, cert, key):
    """ackd's command line for the TLS rows."""
    return [exe, "--bind", rb.HOST, "--tls-port", "0", "--tls-only",
            "--tls-cert", cert, "--tls-key", key, "--tls-ciphers", CIPHERS,
            "--tls-ciphersuites", SUITE, "--workers", str(cpus),
            "--log-file", log] + rb.ACKD_EXTRA


class NginxTls(rb.Server):
    """nginx's stream module terminating TLS, then `return "ACK!";`."""

    def __init__(self, nginx, tmpdir, cpus, tag, cert, key, ticket):
        exe, module = nginx
        self.kind = "nginx"
        self.prefix = os.path.join(tmpdir, "nginx-tls-%s" % tag)
        os.makedirs(self.prefix, exist_ok=True)
        self.log = os.path.join(self.prefix, "error.log")
        self.errpath = os.path.join(self.prefix, "stderr")
        self.port = free_port(rb.HOST)
        conf = os.path.join(self.prefix, "nginx.conf")
        # the same certificate, key, versions and ciphers as ackd; one
        # ticket key for every worker, as ackd's are shared
        rb.write_file(conf, nginx_conf(
            "tls_rows.py", self.prefix, module, cpus,
            "%s:%d ssl" % (rb.HOST, self.port), [
                "ssl_certificate %s;" % cert,
                "ssl_certificate_key %s;" % key,
                "ssl_protocols TLSv1.2 TLSv1.3;",
                "ssl_ciphers %s;" % CIPHERS,
                "ssl_conf_command Ciphersuites %s;" % SUITE,
                "ssl_session_tickets on;",
                "ssl_session_ticket_key %s;" % ticket,
                "ssl_session_cache none;"]))
        self.cmd = [exe, "-p", self.prefix + "/", "-c", conf, "-e",
                    self.log]
        self.cpus = cpus
        self.proc, self.status = None, None
        self.exit_switches = None
        self.pids_seen = set()

    def start(self):
        """Start nginx; ready once a TLS client gets ACK! from it."""
        with open(self.errpath, "wb") as err:
            self.proc = rb.spawn(self.cmd, stdout=subprocess.DEVNULL,
                                 stderr=err)
        try:
            wait_tls_ack(self, time.monotonic() + rb.START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self.pids()


def tls_ack(port):
    """One TLS connection to port: send hello, the whole reply."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((rb.HOST, port), timeout=2) as raw:
        with ctx.wrap_socket(raw) as s:
            s.sendall(b"hello\n")
            data = b""
            while True:
                chunk = s.recv(64)
                if not chunk:
                    return data
                data += chunk


def wait_tls_ack(srv, deadline):
    """Until deadline, connect to srv over TLS until it answers ACK!."""
    while True:
        try:
            if tls_ack(srv.port) == b"ACK!":
                return
        except (OSError, ssl.SSLError):
            pass
        if srv.proc.poll() is not None:
            raise srv._failed("exited before it was ready")
        if time.monotonic() > deadline:
            raise srv._failed("no ACK! over TLS on port %d within %g s" % (
                srv.port, rb.START_TIMEOUT))
        time.sleep(rb.POLL)


# --- what can be measured ---------------------------------------------------

def bench_has_tls(bench):
    """None if ackd-bench speaks TLS, else why not (its one line)."""
    p = subprocess.run([bench, "--tls", "--port", "1", "--count", "1",
                        "--quiet"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=30)
    if p.returncode == 64:
        return p.stderr.decode("utf-8", "replace").strip()
    return None


# --- one measurement ------------------------------------------------------------

def bench_command(exe, port, cert, mode, seconds):
    """ackd-bench's command line for one TLS measurement."""
    return rb.bench_command(exe, port, CONCURRENCY, SIZE, seconds) + [
        "--tls", "--tls-ca", cert] + (["--tls-resume"] if mode == "resumed"
                                      else [])


def measure(srv, bench, cert, mode, seconds):
    """Start srv, load it once over TLS, stop it; a dict."""
    srv.start()
    try:
        cmd = bench_command(bench, srv.port, cert, mode, seconds)
        warm = {}

        def on_warm():
            warm["ticks"] = srv.cpu_ticks()

        before = srv.cpu_ticks()
        rep, elapsed, bench_cpu, machine_cpu = rb.run_bench(cmd,
            timeout=seconds + rb.WARMUP + 60, on_warm=on_warm,
            warm_at=rb.WARMUP)
        after = srv.cpu_ticks()
    finally:
        srv.stop()
    cpu = (after - warm.get("ticks", before)) / rb.CLK_TCK
    tls = rep.get("tls") or {}
    ok, hs = rep["ok"], tls.get("handshakes") or 0
    return {"server": srv.kind, "mode": mode,
            "command": [os.path.basename(srv.cmd[0])] + srv.cmd[1:],
            "bench_command": [os.path.basename(cmd[0])] + cmd[1:],
            "rate": float(rep["rate"]), "ok": ok,
            "errors": sum(rep["errors"].values()) + rep["wrong"],
            "p50": rep["latency_us"]["p50"], "p99": rep["latency_us"]["p99"],
            "cpu_s": cpu, "cpu_us": cpu * 1e6 / ok if ok else None,
            "cpus_busy": cpu / rep["duration_s"] if rep["duration_s"]
            else None,
            "handshakes": hs, "resumed": tls.get("resumed") or 0,
            "offered": tls.get("offered") or 0,
            "resumed_frac": (tls.get("resumed") or 0) / hs if hs else None,
            "version": tls.get("version"), "cipher": tls.get("cipher"),
            "bench_cpus": bench_cpu / elapsed,
            "other_cpus": max(0.0, machine_cpu - (after - before) /
                              rb.CLK_TCK - bench_cpu) / elapsed,
            "wall_s": elapsed, "report": rep}


# --- the plan ---------------------------------------------------------------

def plan(rounds, quick):
    """(round, key, mode, server): the server order turns every round."""
    configs = QUICK if quick else [(k, m) for k in KEYS for m in MODES]
    out = []
    for rnd in range(rounds):
        order = SERVERS[rnd % 2:] + SERVERS[:rnd % 2]
        for key, mode in configs:
            for s in order:
                out.append((rnd, key, mode, s))
    return out


def available(exes, install):
    """
    ({server: None, or why it is not measured}, (nginx, its module)), or
    (None, why not) if ackd-bench has no TLS.
    """
    why = bench_has_tls(exes["bench"])
    if why is not None:
        return None, why
    nginx, module, nginx_why = nginx_ready(install)
    return {"ackd": None, "nginx": nginx_why}, (nginx, module)


def run_rows(args, exes, cpus, tmpdir):
    """
    Every TLS measurement of the plan; a dict with the runs, medians,
    ratios, targets and notes (or only a note when nothing can run).
    """
    # bench-quick installs nothing: without nginx it measures ackd alone
    avail, nginx = available(exes, not args.quick)
    if avail is None:
        return {"note": "no TLS rows: ackd-bench says: %s" % nginx}
    certs = make_certs(tmpdir)
    ticket = os.path.join(tmpdir, "nginx-ticket.key")
    with open(ticket, "wb") as f:
        f.write(os.urandom(80))     # AES-256 + HMAC-SHA256 keys
    todo = plan(1 if args.quick else args.rounds, args.quick)
    print("TLS: %d measurements" % len(todo))
    runs = []
    for i, (rnd, key, mode, server) in enumerate(todo):
        if avail[server] is not None:
            continue
        cert, keyfile = certs[key]
        srv = AckdTls(exes["ackd"], tmpdir, cpus, "%d" % i, cert,
                      keyfile) if server == "ackd" else NginxTls(nginx,
            tmpdir, cpus, "%d" % i, cert, keyfile, ticket)
        try:
            r = measure(srv, exes["bench"], cert, mode, args.seconds)
        except rb.BenchError as e:
            # this server cannot do TLS here: say why, measure the other
            avail[server] = str(e).splitlines()[0] + "".join(
                "; " + x.strip() for x in str(e).splitlines()[1:]
                if "stderr" in x)
            print("TLS: %s not measured: %s" % (server, avail[server]))
            continue
        r.update({"round": rnd, "key": key})
        runs.append(r)
        print_run(i, len(todo), r)
    return summarize(runs, avail, 1 if args.quick else args.rounds)


def print_run(i, n, r):
    """One progress line of a TLS measurement."""
    print("[%2d/%d] TLS %-5s %-7s %-5s %7.0f hs/s  p99 %6d us  cpu %7s "
          "us/hs  resumed %s%s%s" % (
              i + 1, n, r["key"], r["mode"], r["server"], r["rate"],
              r["p99"], rb.fmt(r["cpu_us"], "%.1f"),
              rb.fmt(r["resumed_frac"], "%.2f"),
              "  errors %d" % r["errors"] if r["errors"] else "",
              "  [other work: %.2f CPUs]" % r["other_cpus"]
              if r["other_cpus"] > rb.OTHER_WARN else ""))


# --- medians, ratios, targets ------------------------------------------------

METRICS = ("rate", "p50", "p99", "cpu_us", "cpus_busy", "resumed_frac",
           "bench_cpus", "other_cpus")


def summarize(runs, avail, rounds):
    """Medians per key, mode and server; ackd/nginx per-round ratios."""
    med, ratios = {}, {}
    for key in KEYS:
        for mode in MODES:
            c = "%s/%s" % (key, mode)
            by = {s: {r["round"]: r for r in runs if r["key"] == key and
                      r["mode"] == mode and r["server"] == s}
                  for s in SERVERS}
            if not any(by.values()):
                continue
            med[c] = {}
            for s in SERVERS:
                rs = list(by[s].values())
                if not rs:
                    continue
                med[c][s] = {m: rb.median(r[m] for r in rs)
                             for m in METRICS}
                med[c][s]["errors"] = sum(r["errors"] for r in rs)
                med[c][s]["ciphers"] = sorted({"%s %s" % (r["version"],
                                               r["cipher"]) for r in rs})
            ratios[c] = {m: rb.pair_ratio(by, "ackd", "nginx", m, rounds)
                         for m in ("rate", "cpu_us", "p99")}
    return {"runs": runs, "medians": med, "ratios": ratios,
            "targets": check_targets(ratios), "not_measured": {
                s: why for s, why in avail.items() if why is not None},
            "same_cipher": same_cipher(med)}


def same_cipher(med):
    """Did every server agree the same protocol and cipher per key?"""
    for c in med.values():
        seen = {x for s in c.values() for x in s["ciphers"]}
        if len(seen) > 1:
            return False
    return True


def check_targets(ratios):
    """The issue's targets, for each key and mode measured."""
    out = []
    for key in KEYS:
        for mode, metric, op, limit, text in TARGETS:
            if "%s/%s" % (key, mode) not in ratios:
                continue        # not in the plan (bench-quick)
            got = ratios["%s/%s" % (key, mode)].get(metric)
            if got is None:
                verdict = "-"
            elif op == ">=":
                verdict = "PASS" if got >= limit else "MISS"
            else:
                verdict = "PASS" if got <= limit else "MISS"
            out.append({"text": "%s (%s)" % (text, KEY_NAMES[key]),
                        "ratio": got, "limit": limit, "op": op,
                        "verdict": verdict})
    return out


# --- output ---------------------------------------------------------------------

HEAD = ["key", "handshakes", "server", "hs/s", "p50 us", "p99 us",
        "CPU us/hs", "CPUs", "bench CPUs", "resumed", "protocol, cipher",
        "errors"]
RATIO_HEAD = ["key", "handshakes", "ackd/nginx hs/s",
              "ackd/nginx CPU/hs", "ackd/nginx p99"]


def result_rows(res):
    """Rows of the TLS results table."""
    out = []
    for c, servers in res["medians"].items():
        key, mode = c.split("/")
        for s, m in servers.items():
            out.append([KEY_NAMES[key], mode, s, rb.fmt(m["rate"]),
                        rb.fmt(m["p50"]), rb.fmt(m["p99"]),
                        rb.fmt(m["cpu_us"], "%.1f"),
                        rb.fmt(m["cpus_busy"], "%.2f"),
                        rb.fmt(m["bench_cpus"], "%.2f"),
                        rb.fmt(m["resumed_frac"], "%.2f"),
                        ", ".join(m["ciphers"]), str(m["errors"])])
    return out


def ratio_rows(res):
    """Rows of the TLS ratios table."""
    return [[KEY_NAMES[c.split("/")[0]], c.split("/")[1]] +
            [rb.fmt(r[m], "%.2f") for m in ("rate", "cpu_us", "p99")]
            for c, r in res["ratios"].items()]


def target_rows(res):
    """Rows of the TLS targets table."""
    return [["%s (c=%d, %d B)" % (t["text"], CONCURRENCY, SIZE),
             rb.fmt(t["ratio"], "%.2f"), t["verdict"]]
            for t in res["targets"]]


def notes(res):
    """What the reader must know besides the tables: lines."""
    other = [r["other_cpus"] for r in res.get("runs", ())]
    out = []
    if other:
        out.append("- other work on the machine during these measurements: "
                   "median %.2f CPUs, at most %.2f%s" % (
                       rb.median(other), max(other),
                       " (**noisy**: compare with care)"
                       if max(other) > rb.OTHER_WARN else ""))
    for s, why in sorted(res.get("not_measured", {}).items()):
        out.append("- **%s was not measured**: %s" % (s, why))
    if not res.get("same_cipher", True):
        out.append("- **the servers did not agree the same protocol and "
                   "cipher** (see the table): the comparison is unfair")
    return out


def print_text(res):
    """The TLS part of run.py's console summary."""
    print()
    if "medians" not in res:
        print(res["note"])
        return
    print("TLS, medians (c=%d, %d B):" % (CONCURRENCY, SIZE))
    print(rb.text_table(HEAD, result_rows(res)))
    print()
    print("TLS ratios (medians of per-round pairs):")
    print(rb.text_table(RATIO_HEAD, ratio_rows(res)))
    print()
    print("TLS targets:")
    for t in res["targets"]:
        print("  %-4s  %s: %s" % (t["verdict"], t["text"],
                                  rb.fmt(t["ratio"], "%.2f")))
    for line in notes(res):
        print(line)


def markdown(res, exes, cpus, seconds):
    """bench.md's TLS section: lines."""
    lines = ["## TLS", ""]
    if "medians" not in res:
        return lines + [res["note"], ""]
    cert = "$TMP/tls-$KEY.pem"
    lines += [
        "ackd and nginx's stream module each terminate TLS with the same "
        "self-signed certificate and key (ECDSA P-256, RSA 2048: `openssl "
        "req` at the start of the run), TLS 1.2 and 1.3 with the ciphers "
        "`%s` and, for 1.3, `%s` alone, %d worker processes each; "
        "ackd-bench (one thread) makes %d connections in flight of %d-byte "
        "messages and verifies the server (`--tls-ca`). **full**: every "
        "connection a full handshake; **resumed**: each client resumes "
        "the session of its previous connection from a session ticket "
        "(`--tls-resume`; the full handshakes of each client's first "
        "connection fall in the warm-up)." % (CIPHERS, SUITE, cpus,
                                               CONCURRENCY, SIZE), "",
        "    " + rb.cmdline([rb.show_path(exes["ackd"])] + ackd_command(
            "", "$TMP/ackd.log", cpus, cert, "$TMP/tls-$KEY.key")[1:]),
        "    nginx -c $TMP/nginx.conf    # stream { server { listen ... "
        "ssl; ssl_session_ticket_key ...; ssl_preread on; return "
        "\"ACK!\"; } }",
        "    " + rb.cmdline([rb.show_path(exes["bench"])] + bench_command(
            "x", "$PORT", cert, "full", seconds)[1:]) +
        " [--tls-resume]", "",
        "hs/s: ok connections per second, one handshake each. CPU us/hs: "
        "the server's CPU time (all processes) from the end of the "
        "warm-up to ackd-bench's exit over the ok connections. resumed: "
        "the fraction of the measured handshakes the server really "
        "resumed (SSL_session_reused, as ackd-bench counts it): a server "
        "that ignored the tickets would show 0 here, not a fast row. "
        "protocol, cipher: what ackd-bench negotiated.", "",
        "nginx's session tickets: `ssl_session_tickets on` with one "
        "`ssl_session_ticket_key` file of 80 random bytes for both "
        "workers (AES-256 and HMAC-SHA256), the equal of ackd's ticket "
        "keys shared by its workers (doc/tls.md); `ssl_session_cache "
        "none`, its default: resumption by ticket alone. ackd writes each "
        "message to its log file, as in every row of this page; nginx "
        "logs nothing (no access_log in its stream module). nginx "
        "is given `ssl_preread on`: after the handshake it reads the "
        "client's first decrypted bytes before `return` answers, as ackd "
        "reads the message before its ACK (without it nginx may close "
        "before the message comes, and a message arriving at a closed "
        "socket is answered with a reset, the failure issue 12 saw in "
        "clear). Each connection is counted ok, wrong or an error either "
        "way; errors are in the table.", "",
        "On this 2-CPU machine the client shares the CPUs with the "
        "server, and a TLS client's work per handshake (its key "
        "exchange, verifying the server's signature) is of the same "
        "order as the server's. Where ackd-bench kept about one CPU busy "
        "(bench CPUs; one is all its thread can use), handshakes/s is "
        "bounded by the client alike for both servers, and CPU per "
        "handshake is the figure that tells the servers apart.", "",
        rb.md_table(HEAD, result_rows(res)), "",
        rb.md_table(RATIO_HEAD, ratio_rows(res)), "",
        "### TLS targets", "",
        rb.md_table(["target", "ratio", "verdict"], target_rows(res)),
        ""] + notes(res) + [""]
    return lines
