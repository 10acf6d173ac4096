# SPDX-License-Identifier: MIT
"""
harness_log.py: reading ackd's connection log (not a test).

Owns the parsers of one log line, text (parse_text) and JSON
(parse_json), into a Record: a dict of the line's fields whose msg is
the client's bytes (and subject, a TLS client certificate's, its text), with raw (the line) and error (why it did not
parse, or None). Parsing is strict, so that a test fails on a line the
spec does not allow. read_log() reads a whole file (a last line without
its newline is a write in progress, left out); safe_line() and
check_lines_parse() hold every line to the spec's "safe on a terminal";
log_time() turns a line's ts into seconds.
"""

import base64
import binascii
import calendar
import json
import re
import time

from harness_base import short
from harness_escape import is_utf8, json_must_escape, printable, \
    unescape_text


class Record(dict):
    """One parsed log line: its fields, plus raw (bytes) and error;
    msg_form is how a JSON line carried msg ("msg" text or "msg_b64")."""

    raw = b""
    error = None
    json = False
    msg_form = None

    @property
    def event(self):
        return self.get("event")


TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
TEXT_HEAD_RE = re.compile(
    rb"^(\S+) (\S+) pid=([0-9]+)(?: tag=([A-Za-z0-9._-]+))? "
    rb"event=([a-z-]+)((?: [^ ]+)*?)"
    rb"(?: subject=\"((?:[^\"\\]|\\.)*)\")?"
    rb"(?: msg=\"(.*)\")?$", re.S)
FIELD_RE = re.compile(rb"^([a-z_]+)=([\x21\x23-\x7e]+)$")
INT_RE = re.compile(r"^(0|[1-9][0-9]{0,17})$")


def _intish(v):
    """A text field's value, as an int when it looks like one (as JSON)."""
    return int(v) if INT_RE.match(v) else v


def parse_text(raw):
    """Parse one text-format line (bytes, no newline) into a Record."""
    rec = Record()
    rec.raw = raw
    try:
        m = TEXT_HEAD_RE.match(raw)
        if m is None:
            raise ValueError("does not match TS CLIENT pid= event=")
        ts, client, pid, tag, event, extra, subject, msg = m.groups()
        rec["ts"] = ts.decode("ascii")
        if not TS_RE.match(rec["ts"]):
            raise ValueError("bad timestamp %r" % rec["ts"])
        client = client.decode("ascii")
        rec["client"] = None if client == "-" else client
        rec["pid"] = int(pid)
        if tag is not None:
            rec["tag"] = tag.decode("ascii")
        rec["event"] = event.decode("ascii")
        for tok in extra.split(b" ")[1:]:
            fm = FIELD_RE.match(tok)
            if fm is None:
                raise ValueError("bad field %r" % tok)
            key = fm.group(1).decode("ascii")
            if key in rec:
                raise ValueError("field %s twice" % key)
            rec[key] = _intish(fm.group(2).decode("ascii"))
        if subject is not None:
            rec["subject"] = unescape_text(subject).decode("utf-8",
                "replace")
        if msg is not None:
            rec["msg"] = unescape_text(msg)
    except (ValueError, UnicodeDecodeError) as e:
        rec.error = str(e)
    return rec


def _no_dup_keys(pairs):
    keys = [k for k, v in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key in %r" % keys)
    return dict(pairs)


def _json_msg(obj):
    """The client's bytes a JSON object carries: msg's text in UTF-8, or
    msg_b64 decoded, which only a message that is not UTF-8 may use (one
    of the two, never both); None if neither. ValueError if malformed."""
    if "msg" in obj and "msg_b64" in obj:
        raise ValueError("both msg and msg_b64")
    if "msg" in obj:
        if not isinstance(obj["msg"], str):
            raise ValueError("msg is not a string")
        return obj["msg"].encode("utf-8")  # a lone surrogate: error
    if "msg_b64" in obj:
        if not isinstance(obj["msg_b64"], str):
            raise ValueError("msg_b64 is not a string")
        try:
            b = base64.b64decode(obj["msg_b64"], validate=True)
        except binascii.Error as e:
            raise ValueError("msg_b64: %s" % e)
        if base64.b64encode(b).decode("ascii") != obj["msg_b64"]:
            raise ValueError("msg_b64 is not in canonical form")
        if is_utf8(b):
            raise ValueError("msg_b64 for a message that is UTF-8")
        return b
    return None


def parse_json(raw):
    """Parse one json-format line into a Record: msg is the client's
    bytes, from "msg" (UTF-8 text) or "msg_b64"; msg_form says which."""
    rec = Record()
    rec.raw = raw
    rec.json = True
    try:
        obj = json.loads(raw.decode("utf-8"),
            object_pairs_hook=_no_dup_keys)
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        rec.update(obj)
        rec["client"] = obj.get("client")
        if not isinstance(obj.get("ts"), str) or \
            not TS_RE.match(obj["ts"]):
            raise ValueError("bad ts %r" % (obj.get("ts"),))
        if not isinstance(obj.get("pid"), int) or \
            not isinstance(obj.get("event"), str):
            raise ValueError("pid or event missing or mistyped")
        rec.msg_form = "msg_b64" if "msg_b64" in obj else \
            "msg" if "msg" in obj else None
        msg = _json_msg(obj)
        rec.pop("msg_b64", None)
        if msg is not None:
            rec["msg"] = msg
    except (ValueError, UnicodeError) as e:
        rec.error = str(e)
    return rec


def read_log(path, fmt="text"):
    """
    Every complete line of the log at path, parsed. A last line without
    its newline (a write in progress) is left out. Missing file: [].
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")[:-1]
    parse = parse_json if fmt == "json" else parse_text
    return [parse(line) for line in lines]


def safe_line(rec):
    """Is rec's raw line safe on a terminal: printable ASCII for text;
    for JSON, UTF-8 with no raw control character nor U+2028/9?"""
    if not rec.json:
        return printable(rec.raw)
    try:
        text = rec.raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(json_must_escape(ord(ch)) for ch in text)


def log_time(rec):
    """A record's timestamp, in seconds since the epoch."""
    return calendar.timegm(time.strptime(rec["ts"][:19],
        "%Y-%m-%dT%H:%M:%S")) + float(rec["ts"][19:-1])


def check_lines_parse(t, label, records):
    """Every line of the log parsed, and is safe_line: printable ASCII
    (text), UTF-8 without raw control characters (JSON)."""
    bad = [(r.error, r.raw[:200]) for r in records if r.error]
    t.ok("%s: all %d log lines parse" % (label, len(records)), not bad,
        "%d bad, e.g. %s" % (len(bad), short(bad[:3])))
    raw = [r.raw[:200] for r in records if not safe_line(r)]
    t.ok("%s: no raw control byte (text: nothing outside 0x20-0x7E)" %
        label, not raw, "e.g. %s" % short(raw[:3]))
