# SPDX-License-Identifier: MIT
"""
harness_proc.py: what /proc says about processes and sockets (not a test).

Owns every look at /proc: a process's stat line (Stat: state, parent,
session, start time, against pid reuse) and CPU time (cpu_seconds), its
children, its descriptors and its signal masks; the kernel's TCP table (tcp_sockets(), from
/proc/net/tcp and tcp6) and what tests read from it: a listening
socket's accept queue, which connections a daemon has accepted, and
the bytes it has not read yet. Also the process-tree plumbing built on
it: become_subreaper(), so that orphaned workers come to the test to
be reaped, and Adopted, a Popen-like handle on such a process. Reads
only; nothing here signals or kills.
"""

import collections
import ctypes
import os
import subprocess
import time

from harness_base import POLL, wait_for

Stat = collections.namedtuple("Stat", "pid state ppid pgrp session start")


def proc_stat(pid):
    """The fields we need from /proc/PID/stat, or None if there is none."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    # comm may hold spaces and parentheses: split after the last ')'
    rest = data[data.rindex(b")") + 2:].split()
    return Stat(pid, rest[0].decode(), int(rest[1]), int(rest[2]),
        int(rest[3]), int(rest[19]))


def cpu_seconds(pid):
    """The CPU time pid (all its threads) has used so far, user and
    system (utime + stime of /proc/PID/stat), in seconds; None if pid
    is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(b")") + 2:].split()
    # fields 14 and 15 of stat(5); rest starts at field 3
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def all_stats():
    """Stat of every process on the machine."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None:
                out.append(st)
    return out


def children(pid):
    """Stat of every child of pid, zombies included."""
    kids = []
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
        for tid in tasks:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
        return [s for s in map(proc_stat, kids) if s is not None]
    except (FileNotFoundError, ProcessLookupError):
        pass  # no CONF_PROC_CHILDREN, or pid is gone: scan
    except OSError:
        pass
    return [s for s in all_stats() if s.ppid == pid]


def live_children(pid):
    """Pids of pid's children that are not zombies."""
    return sorted(s.pid for s in children(pid) if s.state != "Z")


def zombie_children(pid):
    """Pids of pid's children in state Z (exited, not reaped)."""
    return sorted(s.pid for s in children(pid) if s.state == "Z")


TcpRow = collections.namedtuple("TcpRow",
    "lport rport listening rx inode laddr")

# 127.0.0.1 as /proc/net/tcp spells it: where the tests' daemons listen
LOOPBACK_HEX = "0100007F"


def tcp_sockets(v6=(False, True)):
    """Every row of the kernel's TCP tables: /proc/net/tcp (v6 False),
    tcp6 (True), or both (the default). A TcpRow: local and remote
    port, listening (state LISTEN), rx (bytes queued unread; for a
    listening socket, connections waiting in its accept queue), inode
    (0 for a connection no accept() has taken yet) and laddr, the local
    address in the table's hex. A table the kernel does not have (no
    IPv6) has no rows."""
    for six in (v6,) if isinstance(v6, bool) else v6:
        try:
            with open("/proc/net/tcp6" if six else "/proc/net/tcp") as f:
                lines = f.readlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            yield TcpRow(int(fields[1].rsplit(":", 1)[1], 16),
                int(fields[2].rsplit(":", 1)[1], 16), fields[3] == "0A",
                int(fields[4].split(":")[1], 16), int(fields[9]),
                fields[1].rsplit(":", 1)[0])


def listen_queue(port, v6=False):
    """
    Connections waiting in the accept queue of the listening socket on
    port (rx_queue of a LISTEN socket in /proc/net/tcp), or None if no
    socket listens there. Lets a test see that the daemon has accepted.
    """
    queued = [r.rx for r in tcp_sockets(v6) if r.listening and
        r.lport == port]
    return sum(queued) if queued else None


def accepted_clients(port, v6=False):
    """
    {client port: accepted?} for the server side of every connection to
    the local port: in /proc/net/tcp a connection still in the accept
    queue has inode 0, one accept() has taken has a socket inode. Over
    IPv4 only rows whose local address is 127.0.0.1 count: a client
    bound to another loopback address (127.1.x.y) may have the daemon's
    port number as its own, and is no connection to the daemon.
    """
    return {r.rport: r.inode != 0 for r in tcp_sockets(v6)
        if not r.listening and r.lport == port and
        (v6 or r.laddr == LOOPBACK_HEX)}


def unread_bytes(port, sport):
    """Bytes waiting unread on the daemon's side of the connection from
    local port sport to port (None while it is not accepted): 0 once
    the handler has taken what the client sent."""
    for r in tcp_sockets():
        if not r.listening and r.lport == port and r.rport == sport:
            return r.rx if r.inode else None  # 0: in the accept queue
    return None


def listening_ports():
    """{inode: port} of every listening TCP socket on this machine."""
    return {r.inode: r.lport for r in tcp_sockets() if r.listening}


def listens_of(pid):
    """{inode: port} of the listening TCP sockets among pid's
    descriptors; empty if pid is gone."""
    ports = listening_ports()
    return {i: ports[i] for i in socket_inodes(pid) if i in ports}


def fd_targets(pid):
    """What each of pid's descriptors points to (readlink of
    /proc/PID/fd/N; one closed while we look is left out), or None if
    pid is gone."""
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return None
    out = []
    for name in names:
        try:
            out.append(os.readlink("/proc/%d/fd/%s" % (pid, name)))
        except OSError:
            pass
    return out


def socket_inodes(pid):
    """Inodes (ints) of the sockets among pid's descriptors; empty if
    pid is gone."""
    return {int(t[8:-1]) for t in fd_targets(pid) or ()
        if t.startswith("socket:[")}


def wait_accepted(port, sports, timeout=10, v6=False):
    """Poll until the daemon has accepted the connections from sports."""
    return wait_for(lambda: all(accepted_clients(port, v6).get(p)
                                for p in sports), timeout)


def signal_masks(pid):
    """(pending, blocked) signal sets of process pid from /proc/PID/status
    (pending = SigPnd | ShdPnd), or None if pid is gone."""
    masks = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, val = line.partition(":")
                if key in ("SigPnd", "ShdPnd", "SigBlk"):
                    masks[key] = int(val.strip(), 16)
    except (FileNotFoundError, ProcessLookupError):
        return None

    def sigs(m):
        return {n for n in range(1, 65) if m >> (n - 1) & 1}
    return (sigs(masks.get("SigPnd", 0) | masks.get("ShdPnd", 0)),
            sigs(masks.get("SigBlk", 0)))


def wait_signal_taken(pid, sig, timeout=10):
    """
    Poll until the single-threaded master pid has taken sig and is idle
    again: sig no longer pending and not blocked. ackd's master blocks its
    signals everywhere but in sigsuspend(), so "not blocked" means it is
    back asleep there, having acted on every flag.
    """
    def idle():
        m = signal_masks(pid)
        return m is not None and sig not in m[0] and sig not in m[1]
    return wait_for(idle, timeout)


def become_subreaper():
    """Orphaned workers then come to us, so we can reap them in cleanup."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


class Adopted:
    """
    Popen's pid, returncode, poll() and wait() for a process we did not
    start but reap: a detached ackd master, re-parented to us (run() makes
    us a subreaper) when the command that forked it exited. Should it not
    be our child after all, all we can tell is that it is gone
    (returncode -255).
    """

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        if self.returncode is not None:
            return self.returncode
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            st = proc_stat(self.pid)
            if st is None or st.state == "Z":
                self.returncode = -255
            return self.returncode
        if pid == self.pid:
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() >= end:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(POLL)
        return self.returncode
