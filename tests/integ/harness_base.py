# SPDX-License-Identifier: MIT
"""
harness_base.py: what every other harness module needs (not a test).

Owns the poll interval, the default ACK, the errors a test raises to
skip or a daemon raises when it fails to start, short() for failure
reasons and wait_for(), the one way a test waits: poll an observable
(the log, /proc, a client's reply) at POLL intervals up to a deadline,
never a fixed sleep. Imports no other harness module, so every one of
them may import it.
"""

import time

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_SKIP = 77

POLL = 0.02  # seconds between two looks at the log or /proc
ACK = b"ACK!"  # the default --ack text


class Skip(Exception):
    """Raised by a test to skip the whole script (exit 77)."""


class Deadline(Exception):
    """Raised in the main thread when the script's deadline passes."""


class DaemonError(Exception):
    """The daemon did not start or become ready."""


def short(v, limit=300):
    """repr(v), cut to limit characters for a failure reason."""
    r = repr(v)
    if len(r) > limit:
        r = r[:limit] + "...(%d chars)" % len(r)
    return r


def wait_for(fn, timeout, interval=POLL):
    """Poll fn() until it returns something true or timeout passes; return
    its last value."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)
