#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
hostile.py: issue 12's hostile benchmark, behind `make bench-hostile`.

Python 3 standard library only; the servers, ackd-bench runs, /proc
sampling and tables are run.py's (imported). Servers, each started afresh
for every measurement and stopped with SIGTERM:

  ackd read, ackd line, ackd eof   ackd with its default flags but
        --framing (and --bind 127.0.0.1 --port 0 --log-file);
  nginx  nginx's stream module answering `return "ACK!";`, 2 workers, an
        event-driven server for comparison. `ssl_preread on` (with a 10 s
        preread_timeout, ackd's --read-timeout) makes it read the client's
        first bytes before it answers: it waits for 5, then passes over
        bytes that are not TLS at once. A bare `return` answers at accept
        and closes with the message unread, and that reset loses the ACK
        for most well-behaved clients (97 % measured here at c=64), nor
        would an attack hold anything. If nginx or its stream module
        is missing, nginx.py installs it with apt-get; if that cannot be
        done, this script says why and goes on without nginx.

The well-behaved load is the same for every server: ackd-bench -c 64
sending "hello\\n" and half-closing (so every --framing sees the message
end), reading the ACK until the server closes. Each server is measured
without an attack, then under each attack, beside the well-behaved load
in the same ackd-bench run (its own thread and epoll set; attack
connections each reconnect when the server closes them), from 1 and from
500 source addresses (127.0.0.x after the well-behaved clients' 16):

  trickle   1,000 connections sending a byte every 3 s, never finishing;
  silent    10,000 connections that send nothing;
  truncate  40 connections that send 2,048 bytes (more than ackd's
            default --max-message, 1,024), then a byte every 0.5 s.

The warm-up (--warmup, 2 s) lets the attack settle before the measured
--seconds (5 s). Reported per measurement: the well-behaved conn/s, its
ratio to the mean of the same server's two runs without an attack
(before and after the attacked ones), p50/p99/max latency
(connections still waiting at the end count with their age), the
well-behaved errors, and the attack's connections opened, closed by the
server, still open at the end. Issue 12's targets, for each attack row:
throughput >= 0.8 x without the attack, and p99 < 100 ms.

Writes DIR/bench-hostile.md and DIR/bench-hostile.json (DIR is --out,
doc/ by default; --quick: one short, scaled-down pass into a temporary
directory unless --out is given). --scale F multiplies the attacks'
connection counts (not the sources). --rounds N measures it all N times,
the server order turning each round, and reports medians: on a shared
machine one round's ratios are noisy. One round is 32 measurements (each
server alone before and after its attacks) of about --warmup + --seconds
+ 2 s: 5 minutes with the defaults.

Exit status: 0 done (targets may be MISS, unless --strict), 1 a server or
ackd-bench failed or, with --strict, an ackd row missed a target, 2 bad
arguments. Every process started runs in its own session and is killed
with its whole group on any exit.
"""

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as rb  # noqa: E402  (run.py: servers, ackd-bench, tables)
from nginx import NGINX_CONNECTIONS, NGINX_PREREAD_TIMEOUT, free_port, \
    nginx_conf, nginx_ready  # noqa: E402  (nginx: found, or installed)

HOST = "127.0.0.1"
FRAMINGS = ("read", "line", "eof")
# name -> (attack connections, ackd-bench flags, what it is)
ATTACKS = {
    "trickle": (1000, ["--trickle", "3"], "1,000 tricklers: a byte every "
                "3 s"),
    "silent": (10000, ["--silent"], "10,000 silent connections"),
    "truncate": (40, ["--trickle", "0.5", "--attack-size", "2048"],
                 "40 truncators: 2,048 bytes, then a byte every 0.5 s"),
}
SOURCES = (1, 500)
WB_CONCURRENCY = 64
WB_MESSAGE = "hello\n"
WARMUP = 2.0
SECONDS = 5.0
QUICK_WARMUP = 1.0
QUICK_SECONDS = 2.0
QUICK_SCALE = 0.1
TARGET_RATIO = 0.8
TARGET_P99_MS = 100.0
NGINX_WORKERS = 2
START_TIMEOUT = 10.0


# --- servers ------------------------------------------------------------------

class Ackd(rb.Server):
    """ackd with its defaults but --framing, logging to a file."""

    def __init__(self, exe, framing, extra, tmpdir, tag):
        self.kind = "ackd-" + framing
        os.makedirs(tmpdir, exist_ok=True)
        self.log = os.path.join(tmpdir, "%s-%s.log" % (self.kind, tag))
        self.errpath = self.log + ".stderr"
        self.cmd = [exe, "--bind", HOST, "--port", "0", "--log-file",
                    self.log, "--framing", framing] + extra
        self.proc, self.port, self.status = None, None, None
        self.pids_seen = set()


class Nginx(rb.Server):
    """nginx's stream module: `return "ACK!";` on a port of its own."""

    def __init__(self, exe, module, tmpdir, tag):
        self.kind = "nginx"
        self.prefix = os.path.join(tmpdir, "nginx-%s" % tag)
        os.makedirs(self.prefix, exist_ok=True)
        self.log = os.path.join(self.prefix, "error.log")
        self.errpath = os.path.join(self.prefix, "stderr")
        self.port = free_port(HOST)
        conf = os.path.join(self.prefix, "nginx.conf")
        rb.write_file(conf, nginx_conf("hostile.py", self.prefix, module,
                                       NGINX_WORKERS, "%s:%d" % (HOST,
                                                                 self.port)))
        self.cmd = [exe, "-p", self.prefix + "/", "-c", conf, "-e",
                    self.log]
        self.proc, self.status = None, None
        self.pids_seen = set()

    def start(self):
        """Start nginx; ready once the port answers ACK!."""
        with open(self.errpath, "wb") as err:
            self.proc = rb.spawn(self.cmd, stdout=subprocess.DEVNULL,
                                 stderr=err)
        try:
            wait_ack(self, time.monotonic() + START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self.pids()


def wait_ack(srv, deadline):
    """Until deadline, connect to srv until it answers ACK!."""
    while True:
        try:
            with socket.create_connection((HOST, srv.port), timeout=1) as s:
                s.sendall(WB_MESSAGE.encode())
                if s.recv(16) == b"ACK!":
                    return
        except OSError:
            pass
        if srv.proc.poll() is not None:
            raise srv._failed("exited before it was ready")
        if time.monotonic() > deadline:
            raise srv._failed("no ACK! on port %d within %g s" % (
                srv.port, START_TIMEOUT))
        time.sleep(rb.POLL)


# --- one measurement -------------------------------------------------------------

def bench_command(exe, port, args, attack, sources):
    """ackd-bench's command line: the well-behaved load, and the attack."""
    cmd = [exe, "--host", HOST, "--port", str(port), "--concurrency",
           str(WB_CONCURRENCY), "--message", WB_MESSAGE, "--half-close",
           "--warmup", "%g" % args.warmup, "--duration",
           "%g" % args.seconds, "--json", "--quiet"]
    if attack != "none":
        n, flags, _ = ATTACKS[attack]
        cmd += ["--attack-concurrency", str(attack_size(n, args.scale)),
                "--attack-sources", str(sources)] + flags
    return cmd


def attack_size(n, scale):
    """An attack's connection count at --scale."""
    return max(1, int(round(n * scale)))


def measure(srv, exes, args, attack, sources):
    """Start srv, load it once (with the attack), stop it; a dict."""
    srv.start()
    try:
        cmd = bench_command(exes["bench"], srv.port, args, attack, sources)
        warm = {}

        def on_warm():
            warm["ticks"] = srv.cpu_ticks()

        before = srv.cpu_ticks()
        rep, elapsed, bench_cpu, machine_cpu = rb.run_bench(cmd,
            timeout=args.warmup + args.seconds + 120, on_warm=on_warm,
            warm_at=args.warmup)
        after = srv.cpu_ticks()
    finally:
        srv.stop()
    cpu = (after - warm.get("ticks", before)) / rb.CLK_TCK
    return result(srv, cmd, rep, attack, sources, cpu, {
        "elapsed_s": elapsed, "bench_cpu_s": bench_cpu,
        "other_cpus": max(0.0, machine_cpu - (after - before) / rb.CLK_TCK -
                          bench_cpu) / elapsed})


def result(srv, cmd, rep, attack, sources, cpu, extra):
    """What one measurement found, flat, for the tables and the JSON."""
    lat = rep["latency_us"]
    a = rep.get("attack") or {}
    r = {"server": srv.kind, "attack": attack,
         "sources": sources if attack != "none" else None,
         "command": [os.path.basename(srv.cmd[0])] + srv.cmd[1:],
         "bench_command": [os.path.basename(cmd[0])] + cmd[1:],
         "rate": float(rep["rate"]), "ok": rep["ok"],
         "errors": sum(rep["errors"].values()) + rep["wrong"],
         "p50_ms": lat["p50"] / 1e3, "p99_ms": lat["p99"] / 1e3,
         "max_ms": lat["max"] / 1e3,
         "server_cpus": cpu / rep["duration_s"] if rep["duration_s"]
         else None, "report": rep}
    for k in ("connections", "opened", "failed", "closed", "open_at_end",
              "connecting_at_end", "reconnects"):
        r["attack_" + k] = a.get(k)
    r["attack_held_p50_ms"] = a["held_us"]["p50"] / 1e3 if a else None
    r.update(extra)
    return r


# --- the plan, the verdicts -----------------------------------------------------

def plan(servers, attacks):
    """
    (server, attack, sources) in order: each server alone, attacked, and
    alone again (the mean of the two is what the attacked runs are
    compared with: the machine drifts).
    """
    out = []
    for s in servers:
        out.append((s, "none", None))
        for a in attacks:
            for n in SOURCES:
                out.append((s, a, n))
        if attacks:
            out.append((s, "none", None))
    return out


def judge(runs):
    """Give each run its ratio to the mean unattacked rate of the same
    server in the same round."""
    alone = {}
    for r in runs:
        if r["attack"] == "none":
            alone.setdefault((r["server"], r["round"]), []).append(r["rate"])
    for r in runs:
        rates = alone.get((r["server"], r["round"]))
        base = sum(rates) / len(rates) if rates else 0
        r["ratio"] = r["rate"] / base if base else None


MEDIANS = ("rate", "ratio", "p50_ms", "p99_ms", "max_ms",
           "attack_open_at_end", "attack_connecting_at_end",
           "attack_closed", "attack_failed", "attack_held_p50_ms")


def aggregate(runs):
    """
    One row per server, attack and sources: medians over the rounds (and
    over a server's unattacked runs), errors summed, and each attacked
    row's verdict against issue 12's targets.
    """
    groups = {}
    for r in runs:
        groups.setdefault((r["server"], r["attack"], r["sources"]),
                          []).append(r)
    out = []
    for (server, attack, sources), rs in groups.items():
        row = {"server": server, "attack": attack, "sources": sources,
               "runs": len(rs), "errors": sum(r["errors"] for r in rs)}
        for k in MEDIANS:
            row[k] = rb.median(r[k] for r in rs)
        row["verdict"] = None if attack == "none" else "PASS" if \
            row["ratio"] is not None and row["ratio"] >= TARGET_RATIO and \
            row["p99_ms"] < TARGET_P99_MS else "MISS"
        out.append(row)
    return out


def fmt_ms(v):
    """Milliseconds for a table: 3 significant digits, '-' for none."""
    if v is None:
        return "-"
    return "%.3g" % v if v < 1000 else "%.0f" % v


HEAD = ["server", "attack", "sources", "conn/s", "x alone", "p50 ms",
        "p99 ms", "max ms", "errors", "att. open", "att. pending",
        "att. closed", "att. failed", "att. held p50 ms", "target"]


def rows(runs):
    """Rows of the results table."""
    out = []
    for r in runs:
        out.append([r["server"], r["attack"], rb.fmt(r["sources"], "%d"),
                    rb.fmt(r["rate"]), rb.fmt(r["ratio"], "%.2f"),
                    fmt_ms(r["p50_ms"]), fmt_ms(r["p99_ms"]),
                    fmt_ms(r["max_ms"]), str(r["errors"]),
                    rb.fmt(r["attack_open_at_end"], "%d"),
                    rb.fmt(r["attack_connecting_at_end"], "%d"),
                    rb.fmt(r["attack_closed"], "%d"),
                    rb.fmt(r["attack_failed"], "%d"),
                    fmt_ms(r["attack_held_p50_ms"]), r["verdict"] or "-"])
    return out


def summary(runs):
    """One line per server: how many attacked rows met the targets."""
    out = []
    for s in dict.fromkeys(r["server"] for r in runs):
        mine = [r for r in runs if r["server"] == s and r["verdict"]]
        ok = sum(r["verdict"] == "PASS" for r in mine)
        out.append("%s: %d of %d attacked measurements meet the targets" %
                   (s, ok, len(mine)))
    return out


# --- output ---------------------------------------------------------------------

def versions(exes):
    """What was measured: ackd --version, and the source tree's commit."""
    out = []
    try:
        out.append(subprocess.run([exes["ackd"], "--version"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            timeout=10).stdout.decode("utf-8", "replace").strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    try:
        git = subprocess.run(["git", "-C", top, "describe", "--always",
            "--dirty"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            timeout=10)
        if git.returncode == 0:
            out.append("source tree at %s" % git.stdout.decode().strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    return ", ".join(out) or "unknown"


def markdown(info, args, exes, runs, agg, nginx_note, wall):
    """doc/bench-hostile.md."""
    scaled = args.scale != 1.0
    attacks = ["- **%s**: %s%s: `%s`" % (a, text, " (x %g: %d connections)"
        % (args.scale, attack_size(n, args.scale)) if scaled else "",
        " ".join(flags)) for a, (n, flags, text) in ATTACKS.items()
        if a in args.attacks]
    lines = [
        "# ackd under attack", "",
        "Generated by `tests/bench/hostile.py`%s on %s: %d measurements "
        "in %d round(s), %g s of warm-up and %g s measured each, %.0f s in "
        "all; each row is the median over the rounds." % (
            " (reduced: --scale %g)" % args.scale if scaled else "",
            info["date"], len(runs), args.rounds, args.warmup, args.seconds,
            wall), "",
        "## Machine", "",
        "- CPU: %s, %d online; kernel %s" % (info["cpu"], info["nproc"],
                                             info["kernel"]),
        "- measured: %s" % info["versions"],
        "- before the run: %.2f CPUs busy with other work, load average %s"
        % (info["busy_cpus_before"], info["loadavg_before"]),
        "- most other work during a measurement: %.2f CPUs" % max(
            [r["other_cpus"] for r in runs] or [0]),
        "- servers and ackd-bench share the machine and talk over loopback.",
        "", "## What runs", "",
        "- **ackd read/line/eof**: `%s`, its defaults but `--framing`." %
        rb.cmdline([rb.show_path(exes["ackd"]), "--bind", HOST, "--port",
                    "0", "--log-file", "$TMP/ackd.log", "--framing",
                    "MODE"] + args.ackd_extra),
        "- **nginx**: its stream module, `ssl_preread on; preread_timeout "
        "%s; return \"ACK!\";`, %d workers, %d connections each: it reads "
        "the client's first bytes (5, or a TLS record) before it answers; "
        "a bare `return` closes with the message unread, and that reset "
        "loses most ACKs. %s" % (NGINX_PREREAD_TIMEOUT, NGINX_WORKERS,
                                 NGINX_CONNECTIONS, nginx_note), "",
        "The well-behaved load, the same for every server:", "",
        "    " + rb.cmdline([rb.show_path(exes["bench"])] + [
            a if a != WB_MESSAGE else "$MESSAGE" for a in bench_command(
                "x", "$PORT", args, "none", None)[1:]]).replace(
            "$MESSAGE", "$'hello\\n'"), "",
        "and under attack, in the same ackd-bench run, adding "
        "`--attack-concurrency N --attack-sources S` and the mode's flags "
        "(from S = 1 and 500 addresses):", ""] + attacks + [
        "",
        "Each attack connection reconnects as soon as the server closes "
        "it. conn/s, p50/p99/max and errors are the well-behaved "
        "connections' over the measured seconds (one still waiting at the "
        "end counts as an error, with its age as its latency); x alone: "
        "conn/s over the mean of the same server's two runs without an "
        "attack in the same round, one before its attacks and one after "
        "(the none row: each of those over that mean). att.: the "
        "attack's connections still open at the end, still connecting at "
        "the end (the server's listen queue was full: their SYNs were "
        "dropped), closed by the server during the run (warm-up included), "
        "that never connected, and how long the server held those it "
        "closed. target: issue 12's, "
        "x alone >= %.1f and p99 < %g ms." % (TARGET_RATIO, TARGET_P99_MS),
        "", "## Results", "",
        rb.md_table(HEAD, rows(agg)), "",
        "## Summary", ""] + ["- " + s for s in summary(agg)] + [""]
    return "\n".join(lines)


def report(info, args, exes, runs, agg, nginx_note, wall):
    """Print the table; write bench-hostile.md and .json."""
    print()
    print(rb.text_table(HEAD, rows(agg)))
    print()
    for s in summary(agg):
        print(s)
    if nginx_note:
        print(nginx_note)
    os.makedirs(args.out, exist_ok=True)
    rb.write_file(os.path.join(args.out, "bench-hostile.md"),
                  markdown(info, args, exes, runs, agg, nginx_note, wall))
    rb.write_file(os.path.join(args.out, "bench-hostile.json"), json.dumps({
        "machine": info, "argv": sys.argv, "warmup": args.warmup,
        "seconds": args.seconds, "scale": args.scale, "rounds": args.rounds,
        "wall_s": wall, "nginx": nginx_note, "results": agg, "runs": runs},
        indent=1) + "\n")
    print("wrote %s/bench-hostile.md, bench-hostile.json (%.0f s)" % (
        rb.show_path(args.out), wall))


# --- main ---------------------------------------------------------------------

def servers_of(args, exes, nginx, module, tmpdir):
    """name -> a function making a fresh server of that name."""
    made = {}
    for f in FRAMINGS:
        if "ackd-" + f in args.servers:
            made["ackd-" + f] = (lambda f: lambda tag: Ackd(exes["ackd"], f,
                args.ackd_extra, tmpdir, tag))(f)
    if nginx is not None and "nginx" in args.servers:
        made["nginx"] = lambda tag: Nginx(nginx, module, tmpdir, tag)
    return made


def benchmark(args, exes, tmpdir):
    """Measure every server alone and attacked; print and write it all."""
    info = rb.machine()
    info["versions"] = versions(exes)
    rb.check_idle(info)
    nginx, module, why = (None, None, "not asked for")
    if "nginx" in args.servers:
        nginx, module, why = nginx_ready(args.install)
    note = "" if nginx else "nginx not measured: %s." % why
    if note:
        print(note, file=sys.stderr)
    make = servers_of(args, exes, nginx, module, tmpdir)
    servers = [s for s in args.servers if s in make]
    todo = []
    for rnd in range(args.rounds):
        # the server order turns each round: drifts hit them all alike
        k = rnd % max(1, len(servers))
        todo += [(rnd,) + step for step in plan(servers[k:] + servers[:k],
                                                args.attacks)]
    per = args.warmup + args.seconds + 2
    print("%d measurements of about %.0f s each: about %.0f s" % (
        len(todo), per, len(todo) * per))
    t0, runs = time.monotonic(), []
    for i, (rnd, s, attack, sources) in enumerate(todo):
        r = measure(make[s]("%d" % i), exes, args, attack, sources)
        r["round"] = rnd
        runs.append(r)
        print("[%d/%d] %-9s %-8s %4s  %7.0f conn/s  p99 %8s ms  errors %d%s"
              % (i + 1, len(todo), s, attack, rb.fmt(sources, "%d"),
                 r["rate"], fmt_ms(r["p99_ms"]), r["errors"],
                 "  attack open %d" % r["attack_open_at_end"]
                 if r["attack_open_at_end"] is not None else ""))
        sys.stdout.flush()
    judge(runs)
    agg = aggregate(runs)
    report(info, args, exes, runs, agg, note, time.monotonic() - t0)
    return all(r["verdict"] != "MISS" for r in agg
               if r["server"].startswith("ackd"))


def parse_args(argv):
    """The runner's flags."""
    here = os.path.dirname(os.path.abspath(__file__))
    names = ["ackd-" + f for f in FRAMINGS] + ["nginx"]
    ap = argparse.ArgumentParser(prog="hostile.py", description="Measure "
        "ackd's well-behaved throughput and latency under slow, silent and "
        "trickling clients, beside nginx (issue 12).")
    ap.add_argument("--ackd", help="ackd to test ($ACKD)")
    ap.add_argument("--ackd-bench", dest="bench", help="the load "
        "generator ($ACKD_BENCH)")
    ap.add_argument("--ackd-args", default="", metavar="FLAGS",
        help="more flags for ackd")
    ap.add_argument("--out", help="where to write bench-hostile.md and "
        ".json (default: doc/; with --quick a temporary directory)")
    ap.add_argument("--warmup", type=float, help="seconds before measuring "
        "(default %g)" % WARMUP)
    ap.add_argument("--seconds", type=float, help="seconds measured "
        "(default %g)" % SECONDS)
    ap.add_argument("--scale", type=float, help="multiply the attacks' "
        "connection counts (default 1)")
    ap.add_argument("--rounds", type=int, default=1, help="measure it all "
        "this many times, the server order turning; medians (default 1)")
    ap.add_argument("--quick", action="store_true", help="a smoke test: "
        "--warmup %g --seconds %g --scale %g" % (QUICK_WARMUP,
                                                 QUICK_SECONDS, QUICK_SCALE))
    ap.add_argument("--servers", default=",".join(names), help="a comma-"
        "separated subset of %s" % ",".join(names))
    ap.add_argument("--attacks", default=",".join(ATTACKS), help="a comma-"
        "separated subset of %s" % ",".join(ATTACKS))
    ap.add_argument("--no-install", dest="install", action="store_false",
        help="do not install nginx if it is missing")
    ap.add_argument("--strict", action="store_true", help="exit 1 when an "
        "ackd measurement misses a target")
    args = ap.parse_args(argv)
    args.servers = [s for s in args.servers.split(",") if s]
    args.attacks = [a for a in args.attacks.split(",") if a]
    bad = [s for s in args.servers if s not in names] + \
        [a for a in args.attacks if a not in ATTACKS]
    if bad:
        ap.error("unknown server or attack: %s" % ", ".join(bad))
    for k, full, quick in (("warmup", WARMUP, QUICK_WARMUP),
                           ("seconds", SECONDS, QUICK_SECONDS),
                           ("scale", 1.0, QUICK_SCALE)):
        if getattr(args, k) is None:
            setattr(args, k, quick if args.quick else full)
    if args.warmup < 0 or args.seconds <= 0 or args.scale <= 0 or \
            args.rounds < 1:
        ap.error("--warmup must be >= 0, --seconds and --scale > 0, "
                 "--rounds >= 1")
    if args.out is None:
        args.out = os.path.join(tempfile.gettempdir(), "ackd-hostile-quick") \
            if args.quick else os.path.join(os.path.dirname(
                os.path.dirname(here)), "doc")
    args.ackd_extra = shlex.split(args.ackd_args)
    return args


def find_programs(args):
    """Absolute paths of ackd and ackd-bench; BenchError if missing."""
    here = os.path.dirname(os.path.abspath(__file__))
    top = os.path.dirname(os.path.dirname(here))
    exes, missing = {}, []
    for key, flag, env, name in (("ackd", "ackd", "ACKD", "ackd"),
                                 ("bench", "ackd-bench", "ACKD_BENCH",
                                  "ackd-bench")):
        p = getattr(args, key) or os.environ.get(env) or \
            os.path.join(top, "src", name)
        exes[key] = os.path.abspath(p)
        if not os.access(exes[key], os.X_OK) or os.path.isdir(exes[key]):
            missing.append("%s: no executable at %s (--%s or $%s)" % (
                flag, p, flag, env))
    if missing:
        raise rb.BenchError("\n".join(missing))
    return exes


def main(argv):
    """Parse, run, clean up whatever happens."""
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, rb.on_signal)
    signal.signal(signal.SIGHUP, rb.on_signal)
    rb.become_subreaper()
    tmpdir = tempfile.mkdtemp(prefix="bench-hostile-")
    status = 0
    try:
        ok = benchmark(args, find_programs(args), tmpdir)
        if args.strict and not ok:
            status = 1
    except rb.BenchError as e:
        print("hostile.py: error: %s" % e, file=sys.stderr)
        status = 1
    except (KeyboardInterrupt, rb.Interrupted):
        print("hostile.py: interrupted; stopping every server",
              file=sys.stderr)
        status = 130
    finally:
        rb.kill_everything()
        shutil.rmtree(tmpdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
