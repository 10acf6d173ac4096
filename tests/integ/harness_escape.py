# SPDX-License-Identifier: MIT
"""
harness_escape.py: the reference escaping of ackd's log (not a test).

Owns what the spec says a message's bytes become in a log line, written
independently of src/common/logfmt.c so a test can compare the two: the text
format's escapes (escape_text, and unescape_text, strict, to read them
back), JSON's (escape_json, json_msg_member: "msg" for UTF-8, else
"msg_b64") and the byte classes they turn on (printable, is_utf8,
json_must_escape). Pure functions of bytes: no I/O.
"""

import base64


def unescape_text(s):
    """
    Decode a text-format msg field (without its quotes) to the client's
    bytes. Strict: a raw byte outside 0x20-0x7E, an unescaped quote, an
    unknown escape or uppercase hex is an error (ValueError).
    """
    out = bytearray()
    i = 0
    simple = {ord("\\"): 0x5c, ord('"'): 0x22, ord("n"): 0x0a,
        ord("r"): 0x0d, ord("t"): 0x09}
    while i < len(s):
        c = s[i]
        if c < 0x20 or c > 0x7e:
            raise ValueError("raw byte 0x%02x at %d" % (c, i))
        if c == 0x22:
            raise ValueError("unescaped quote at %d" % i)
        if c != 0x5c:
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(s):
            raise ValueError("dangling backslash at the end")
        e = s[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == ord("x"):
            h = s[i + 2:i + 4]
            if len(h) != 2 or any(ch not in b"0123456789abcdef"
                for ch in h):
                raise ValueError("bad \\x escape %r at %d" %
                    (bytes(s[i:i + 4]), i))
            out.append(int(h, 16))
            i += 4
        else:
            raise ValueError("unknown escape %r at %d" %
                (bytes(s[i:i + 2]), i))
    return bytes(out)


SHORT_FORMS = {0x5c: "\\\\", 0x22: '\\"', 0x0a: "\\n", 0x0d: "\\r",
    0x09: "\\t"}


def json_must_escape(cp):
    """Is code point cp written \\uNNNN in JSON lines? The control
    characters (C0, DEL, C1) and U+2028/U+2029."""
    return cp < 0x20 or 0x7f <= cp <= 0x9f or cp in (0x2028, 0x2029)


def escape_text(b):
    """The spec's text escaping of bytes b (the reference to compare to)."""
    out = []
    for c in b:
        if c in SHORT_FORMS:
            out.append(SHORT_FORMS[c])
        elif 0x20 <= c <= 0x7e:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out).encode("ascii")


def escape_json(b):
    """
    The spec's JSON escaping of bytes b, which must be valid UTF-8
    (UnicodeDecodeError otherwise): each character as it is, but for
    SHORT_FORMS and \\uNNNN for json_must_escape. Bytes, UTF-8.
    """
    out = []
    for ch in b.decode("utf-8"):
        cp = ord(ch)
        if cp in SHORT_FORMS:
            out.append(SHORT_FORMS[cp])
        elif json_must_escape(cp):
            out.append("\\u%04x" % cp)
        else:
            out.append(ch)
    return "".join(out).encode("utf-8")


def is_utf8(b):
    """Is b valid UTF-8 (Python's codec is strict: no overlong forms, no
    surrogates, nothing past U+10FFFF)?"""
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def json_msg_member(b):
    """The member a JSON line carries for message bytes b, exactly:
    "msg" and its text if b is UTF-8, else "msg_b64" and its base64."""
    if is_utf8(b):
        return b'"msg":"' + escape_json(b) + b'"'
    return b'"msg_b64":"' + base64.b64encode(b) + b'"'


def printable(raw):
    """Is every byte of raw in 0x20-0x7E?"""
    return all(0x20 <= c <= 0x7e for c in raw)
