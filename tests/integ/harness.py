# SPDX-License-Identifier: MIT
"""
harness.py: shared helpers for ackd's integration tests (not a test).

Python 3 standard library only. Each test_*.py script does
`import harness as h` and calls h.run(name, main, deadline), which
prints one line per check (`ok - name` / `not ok - name: reason`),
enforces an overall deadline, and always kills and reaps every daemon
it started, then verifies that none of their processes is left behind
and that none left a sanitizer or valgrind report. Exit statuses follow
automake: 0 pass, 1 fail, 77 skip. Synchronisation is never a fixed
sleep: tests poll an observable (the log file, /proc, a client's reply)
at a short interval up to a deadline (wait_for).

This file only gathers the public names of the modules that do the work,
one job each, so that tests see one namespace. Read them in this order:

  harness_base    poll interval, ACK, Skip/DaemonError, short, wait_for
  harness_escape  the spec's escaping of message bytes (reference)
  harness_log     parsing the connection log into Records
  harness_proc    /proc: processes, descriptors, TCP table, subreaper
  harness_san     $ACKD_WRAPPER, sanitizer and valgrind reports
  harness_spawn   which binary, its environment, Popen keywords
  harness_daemon  Daemon: one ackd, ready, records, counters, cleanup
  harness_exec    ackd run to completion, and ackd --daemon adopted
  harness_tls     has_tls(), need_tls(), test certificates (openssl),
                  TLS clients (Python ssl, openssl s_client)
  harness_load    clients: client(), Conn, Load, check_acks_logged
  harness_attack  hostile clients by the hundred (Swarm), well_behaved()
  harness_run     run(): deadline, checks (TAP lines), final cleanup
  harness_doc     the flags --help, the man pages and the README name

Each module imports only modules above it in this list, so there is no
import circle.
"""

from harness_base import ACK, EXIT_FAIL, EXIT_PASS, EXIT_SKIP, POLL, \
    DaemonError, Deadline, Skip, short, wait_for
from harness_run import Checks, run
from harness_spawn import ackd_env, ackd_for_others, \
    ackd_path, bench_path, reachable_by_others, spawn_options, \
    writable_dir
from harness_san import REPORT_LINES, SANITIZER_MARKS, VALGRIND_BAD_RE, \
    VALGRIND_MARK, ackd_command, excuse_valgrind, sanitizer_report, \
    checked_by, valgrind_wrapped, wrapper
from harness_proc import Adopted, Stat, TcpRow, accepted_clients, \
    all_stats, become_subreaper, children, cpu_seconds, fd_targets, \
    listen_queue, listening_ports, listens_of, live_children, proc_stat, \
    signal_masks, socket_inodes, tcp_sockets, unread_bytes, \
    wait_accepted, wait_signal_taken, zombie_children
from harness_daemon import Daemon, scratch_dir, started
from harness_exec import adopt_detached, run_ackd, run_detached
from harness_tls import NO_TLS_LINE, Certs, Pki, TlsReply, client_context, \
    has_tls, make_certs, need_tls, openssl, s_client, \
    tls_client
from harness_escape import SHORT_FORMS, escape_json, escape_text, \
    is_utf8, json_msg_member, json_must_escape, printable, unescape_text
from harness_log import FIELD_RE, INT_RE, TEXT_HEAD_RE, TS_RE, Record, \
    check_lines_parse, log_time, parse_json, parse_text, read_log, \
    safe_line
from harness_load import Conn, Load, Reply, Result, check_acks_logged, \
    client, free_port, ipv6_unavailable, unique_msg
from harness_attack import Hostile, Swarm, raise_nofile, sources, \
    well_behaved

from harness_doc import SRCDIR, help_flags, man_options, man_section, \
    man_synopsis, named_flags, roff_text

__all__ = [name for name in dir() if not name.startswith("_")]
