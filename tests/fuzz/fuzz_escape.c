/* SPDX-License-Identifier: MIT */
/*
 * fuzz_escape.c: libFuzzer target for logfmt.c, the code every client byte
 * goes through.
 *
 * The input is the message, whole. It is escaped alone (text and JSON) and
 * inside whole lines (both formats), with the other fields of the record
 * derived from it within what the daemon itself writes there (--log-tag
 * included), and on some inputs the fields of a TLS connection, with the
 * input (its first LOGFMT_SUBJECT_MAX bytes) as the client certificate's
 * subject, which the line must keep as safe as the message. Checked: a text line is printable ASCII, a JSON line valid
 * UTF-8 with no raw control character (C0, DEL, C1) nor U+2028/U+2029,
 * a line ends in its one '\n', nothing exceeds the logfmt_*_max bounds
 * (buffers are allocated to the exact size, so AddressSanitizer sees any
 * byte past them), a line too big for its buffer gives 0, logfmt agrees
 * with our own UTF-8 check, and decoding the message field gives back
 * the input: text escapes, JSON "msg" (valid UTF-8) or "msg_b64" (any
 * other input). The decoders below are written from ackd(8), Escaping, and
 * RFCs 8259, 3629 and 4648, not from logfmt.c.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ackd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a message: libFuzzer saves the input that got here. */
#define FUZZ_ESCAPE_CHECK(cond, ...) do {				\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_escape: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* What addr_format can write: addresses, brackets, port, or "?". */
static const char fuzz_escape_client_chars[] = "0123456789abcdef.:[]?";
/* What the daemon puts in extra values ("errno=EPIPE", "listen=[::1]:9"). */
static const char fuzz_escape_value_chars[] =
    "0123456789abcdefxyzABCDEPIT.:[]_-";
/* What --log-tag allows (conf.c checks it). */
static const char fuzz_escape_tag_chars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
/* Keys are lowercase words such as "truncated" or "worker". */
static const char fuzz_escape_key_chars[] = "abcdefnrstuwz_-";
static const char *const fuzz_escape_events[] = { "message", "empty",
    "timeout", "reset", "error", "ack-failed", "log-failed", "start",
    "worker-start", "worker-stop", "worker-exit", "reopen", "shutdown",
    "stop" };

#define FUZZ_ESCAPE_NEVENTS \
	nitems(fuzz_escape_events)

/* 64-bit FNV-1a of the input: the seed of every derived field. */
static uint64_t
fuzz_escape_hash(const uint8_t *data, size_t size)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ULL;
	return (h);
}

/* The value 0-15 of a lowercase hex digit, or -1 (uppercase is refused). */
static int
fuzz_escape_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/* Must byte c be written as \xNN in the text format, by ackd(8)? */
static int
fuzz_escape_needs_hex(unsigned c)
{
	return ((c < 0x20 || c >= 0x7f) && c != '\n' && c != '\r' &&
	    c != '\t');
}

/* Must code point cp be written \uNNNN in JSON, by ackd(8)? */
static int
fuzz_escape_json_hex(unsigned long cp)
{
	return (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
	    cp == 0x2029);
}

/*
 * The UTF-8 character at s (len bytes left), decoded the long way: its
 * bits, then a refusal by value of what RFC 3629 forbids (overlong,
 * surrogate, past U+10FFFF). Its length, or 0.
 */
static size_t
fuzz_escape_utf8(const unsigned char *s, size_t len, unsigned long *cp)
{
	static const unsigned long	least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t				n, i;

	n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 :
	    (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 0 || n > len)
		return (0);
	*cp = n == 1 ? s[0] : s[0] & (0xffu >> (n + 1));
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		*cp = *cp << 6 | (s[i] & 0x3fu);
	}
	if (*cp < least[n] || (*cp >= 0xd800 && *cp <= 0xdfff) ||
	    *cp > 0x10ffff)
		return (0);
	return (n);
}

/* Is s[0..len) valid UTF-8, by fuzz_escape_utf8? */
static int
fuzz_escape_is_utf8(const unsigned char *s, size_t len)
{
	unsigned long	cp;
	size_t		i = 0, n;

	while (i < len) {
		if ((n = fuzz_escape_utf8(s + i, len - i, &cp)) == 0)
			return (0);
		i += n;
	}
	return (1);
}

/* Append code point cp to out in UTF-8; the bytes written. */
static size_t
fuzz_escape_put_utf8(unsigned long cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return (1);
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return (2);
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return (3);
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return (4);
}

/* The code point of the 4 lowercase hex digits at s, or -1. */
static long
fuzz_escape_hex4(const char *s)
{
	long	v = 0;
	int	k, d;

	for (k = 0; k < 4; k++) {
		if ((d = fuzz_escape_hexval(s[k])) < 0)
			return (-1);
		v = v * 16 + d;
	}
	return (v);
}

/*
 * Decode one JSON escape at s (len bytes left, s[0] is '\'): its code
 * point in *cp and its length, or 0 with *why set. Only the forms
 * ackd(8) lists: \\ \" \n \r \t, and \uNNNN (lowercase) for the code
 * points that must be escaped, or U+FFFD.
 */
static size_t
fuzz_escape_json_esc(const char *s, size_t len, unsigned long *cp,
    const char **why)
{
	long	v;

	if (len < 2) {
		*why = "'\\' at the end";
		return (0);
	}
	switch (s[1]) {
	case '\\': *cp = '\\'; return (2);
	case '"': *cp = '"'; return (2);
	case 'n': *cp = '\n'; return (2);
	case 'r': *cp = '\r'; return (2);
	case 't': *cp = '\t'; return (2);
	}
	if (s[1] != 'u' || len < 6 || (v = fuzz_escape_hex4(s + 2)) < 0) {
		*why = "unknown or cut escape, or not lowercase hex";
		return (0);
	}
	*cp = (unsigned long)v;
	if ((!fuzz_escape_json_hex(*cp) && *cp != 0xfffd) || *cp == '\n' ||
	    *cp == '\r' || *cp == '\t') {
		*why = "\\u escape for a character with a shorter form";
		return (0);
	}
	return (6);
}

/*
 * Decode the inside of a JSON string, as logfmt writes it, into UTF-8
 * bytes in out (room for len bytes: no escape decodes longer than it
 * is). Strict: a raw control character, U+2028/U+2029, invalid UTF-8, a
 * bare '"' or an escape ackd(8) does not list is an error. Returns
 * the decoded length, or -1 with *why set.
 */
static long
fuzz_escape_decode_json(const char *s, size_t len, unsigned char *out,
    const char **why)
{
	size_t		i = 0, n = 0, k;
	unsigned long	cp;

	while (i < len) {
		if (s[i] == '\\')
			k = fuzz_escape_json_esc(s + i, len - i, &cp, why);
		else if ((k = fuzz_escape_utf8((const unsigned char *)s + i,
		    len - i, &cp)) == 0)
			*why = "raw bytes that are not UTF-8";
		else if (cp == '"' || fuzz_escape_json_hex(cp)) {
			*why = "raw '\"', control character or U+2028/9";
			k = 0;
		}
		if (k == 0)
			return (-1);
		n += fuzz_escape_put_utf8(cp, out + n);
		i += k;
	}
	return ((long)n);
}

/* Decode padded base64 (RFC 4648) into out; its length, or -1. */
static long
fuzz_escape_decode_b64(const char *s, size_t len, unsigned char *out,
    const char **why)
{
	static const char	digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long		bits = 0;
	size_t			i, n = 0, pad = 0;
	const char		*d;

	*why = "base64 not in groups of 4, or a bad digit or pad";
	if (len % 4 != 0)
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] == '=' && i + 2 >= len && (i + 1 == len ||
		    s[i + 1] == '=')) {
			pad++;
			bits <<= 6;
		} else if (s[i] != '\0' && pad == 0 &&
		    (d = strchr(digits, s[i])) != NULL)
			bits = bits << 6 | (unsigned long)(d - digits);
		else
			return (-1);
		if (i % 4 == 3) {
			out[n++] = (unsigned char)(bits >> 16);
			if (pad < 2)
				out[n++] = (unsigned char)(bits >> 8);
			if (pad < 1)
				out[n++] = (unsigned char)bits;
			bits = 0;
		}
	}
	return ((long)n);
}

/*
 * Decode a text-format escaped message into out, which has room for len
 * bytes. Strict: an escape ackd(8) does not list, uppercase hex, a hex
 * escape for a byte that has a shorter form, or a bare '"' or '\' is an
 * error. Returns the decoded length, or -1 with *why set.
 */
static long
fuzz_escape_decode_text(const char *s, size_t len, unsigned char *out,
    const char **why)
{
	size_t	i = 0, n = 0;
	int	hi, lo;

	while (i < len) {
		unsigned char	c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e) {
			*why = "byte outside printable ASCII";
			return (-1);
		}
		if (c == '"') {
			*why = "bare '\"' would end the field";
			return (-1);
		}
		if (c != '\\') {
			out[n++] = c;
			i++;
			continue;
		}
		if (i + 1 >= len) {
			*why = "'\\' at the end";
			return (-1);
		}
		switch (s[i + 1]) {
		case '\\':
		case '"':
			out[n++] = (unsigned char)s[i + 1];
			i += 2;
			continue;
		case 'n':
			out[n++] = '\n';
			i += 2;
			continue;
		case 'r':
			out[n++] = '\r';
			i += 2;
			continue;
		case 't':
			out[n++] = '\t';
			i += 2;
			continue;
		}
		if (s[i + 1] != 'x' || i + 4 > len) {
			*why = "unknown or cut escape";
			return (-1);
		}
		hi = fuzz_escape_hexval(s[i + 2]);
		lo = fuzz_escape_hexval(s[i + 3]);
		i += 4;
		if (hi < 0 || lo < 0) {
			*why = "hex escape without two lowercase hex digits";
			return (-1);
		}
		if (!fuzz_escape_needs_hex((unsigned)(hi << 4 | lo))) {
			*why = "hex escape for a byte with a shorter form";
			return (-1);
		}
		out[n++] = (unsigned char)(hi << 4 | lo);
	}
	return ((long)n);
}

/*
 * Escape the input alone and check bound, alphabet and round trip: text
 * always; JSON for valid UTF-8 (other input must still come out as valid
 * JSON text, with U+FFFD for the bad bytes); base64 always.
 */
static void
fuzz_escape_one(const uint8_t *data, size_t size, int json,
    unsigned char *back)
{
	const char	*name = json ? "json" : "text", *why = "";
	int		 utf8 = fuzz_escape_is_utf8(data, size);
	size_t		 max, n;
	long		 dn;
	char		*dst;
	unsigned char	*tmp;

	max = json ? logfmt_json_max(size) : logfmt_text_max(size);
	FUZZ_ESCAPE_CHECK(max >= size, "%s_max(%zu) = %zu", name, size, max);
	/* exact size (malloc(0) may be NULL): ASan catches one byte more */
	dst = malloc(max > 0 ? max : 1);
	tmp = malloc(max > 0 ? max : 1);
	FUZZ_ESCAPE_CHECK(dst != NULL && tmp != NULL, "out of memory");
	n = json ? logfmt_escape_json(dst, data, size) :
	    logfmt_escape_text(dst, data, size);
	FUZZ_ESCAPE_CHECK(n <= max, "%s: %zu bytes escaped to %zu, max %zu",
	    name, size, n, max);
	dn = json ? fuzz_escape_decode_json(dst, n, tmp, &why) :
	    fuzz_escape_decode_text(dst, n, tmp, &why);
	FUZZ_ESCAPE_CHECK(dn >= 0, "%s: escaped form does not decode: %s",
	    name, why);
	FUZZ_ESCAPE_CHECK(!json || utf8 || (size_t)dn != size ||
	    memcmp(tmp, data, size) != 0, "json: invalid UTF-8 round trips");
	FUZZ_ESCAPE_CHECK((json && !utf8) || ((size_t)dn == size &&
	    memcmp(tmp, data, size) == 0),
	    "%s: round trip gives %ld bytes back for %zu, or other bytes",
	    name, dn, size);
	FUZZ_ESCAPE_CHECK(logfmt_utf8_valid(data, size) == utf8,
	    "logfmt_utf8_valid says %d, the RFC says %d", !utf8, utf8);
	free(tmp);
	free(dst);
	max = logfmt_base64_max(size);
	FUZZ_ESCAPE_CHECK(max <= logfmt_json_max(size) || size == 0,
	    "base64_max(%zu) = %zu > json_max", size, max);
	dst = malloc(max > 0 ? max : 1);
	FUZZ_ESCAPE_CHECK(dst != NULL, "out of memory");
	n = logfmt_base64(dst, data, size);
	FUZZ_ESCAPE_CHECK(n == max, "base64 of %zu bytes: %zu, max %zu", size,
	    n, max);
	dn = fuzz_escape_decode_b64(dst, n, back, &why);
	FUZZ_ESCAPE_CHECK(dn == (long)size && memcmp(back, data, size) == 0,
	    "base64 round trip: %s", dn < 0 ? why : "other bytes");
	free(dst);
}

/* Fill s with len characters of alphabet, chosen by successive bytes. */
static void
fuzz_escape_pick(char *s, size_t len, const char *alphabet,
    const uint8_t *data, size_t size, uint64_t seed)
{
	size_t	i, na = strlen(alphabet);

	for (i = 0; i < len; i++) {
		unsigned	b = size > 0 ? data[(seed + i) % size] : 0;

		s[i] = alphabet[(b + seed + i) % na];
	}
	s[len] = '\0';
}

/*
 * Build the extra fields from the input: "key=value" words joined by
 * single spaces, keys and values non-empty and without spaces or quotes,
 * as the daemon writes them (logfmt_json_extra relies on that).
 */
static void
fuzz_escape_extra(char *extra, size_t room, const uint8_t *data, size_t size,
    uint64_t h)
{
	size_t	words = (h >> 8) % 5, len = 0, i, klen, vlen;

	extra[0] = '\0';
	for (i = 0; i < words; i++) {
		klen = 1 + (h >> (16 + 3 * i)) % 8;
		vlen = 1 + (size > 0 ? data[i % size] : 0) % 24;
		if (len + 1 + klen + 1 + vlen + 1 > room)
			break;
		if (len > 0)
			extra[len++] = ' ';
		fuzz_escape_pick(extra + len, klen, fuzz_escape_key_chars,
		    data, size, h + i);
		len += klen;
		extra[len++] = '=';
		fuzz_escape_pick(extra + len, vlen, fuzz_escape_value_chars,
		    data, size, h + 7 * i);
		len += vlen;
	}
}

/*
 * Check a formatted line, then its one '\n' at the end: printable ASCII
 * (text), or UTF-8 without a raw control character or U+2028/9 (JSON).
 */
static void
fuzz_escape_check_line(const char *line, size_t n, int json)
{
	const char	*name = json ? "json" : "text";
	unsigned long	 cp;
	size_t		 i, k;

	FUZZ_ESCAPE_CHECK(n > 0 && line[n - 1] == '\n',
	    "%s line does not end in '\\n'", name);
	for (i = 0; i + 1 < n; i += k) {
		k = fuzz_escape_utf8((const unsigned char *)line + i, n - 1 - i,
		    &cp);
		FUZZ_ESCAPE_CHECK(k > 0 && (json || cp < 0x80) &&
		    !fuzz_escape_json_hex(cp), "%s line: byte 0x%02x at %zu "
		    "of %zu", name, (unsigned char)line[i], i, n);
	}
}

/*
 * Format rec as a whole line in fmt and check it: within logfmt_line_max,
 * the same line without msg plus the msg field and nothing else, the
 * field decodes to the input, and any smaller buffer gives 0.
 */
static void
fuzz_escape_line(struct logfmt_record *rec, enum ackd_log_format fmt,
    uint64_t h, unsigned char *back)
{
	int		 json = fmt == ACKD_LOG_JSON;
	int		 b64 = json && !fuzz_escape_is_utf8(rec->msg, rec->msg_len);
	const char	*name = json ? "json" : "text", *why = "";
	const char	*open = !json ? " msg=\"" : b64 ? ",\"msg_b64\":\"" :
			    ",\"msg\":\"";
	const char	*close = json ? "\"}\n" : "\"\n";
	size_t		 max, n, bare_n, head, olen, clen, small;
	char		*line, *bare, *tiny;
	long		 dn;
	const unsigned char	*msg = rec->msg;

	max = logfmt_line_max(fmt, rec->msg_len,
	    rec->extra != NULL ? strlen(rec->extra) : 0);
	line = malloc(max);
	bare = malloc(max);
	FUZZ_ESCAPE_CHECK(line != NULL && bare != NULL, "out of memory");

	n = logfmt_line(line, max, fmt, rec);
	FUZZ_ESCAPE_CHECK(n > 0 && n <= max, "%s line: %zu bytes, max %zu",
	    name, n, max);
	fuzz_escape_check_line(line, n, json);

	/* the line without msg is the head; with it, head + field + end */
	rec->msg = NULL;
	bare_n = logfmt_line(bare, max, fmt, rec);
	rec->msg = msg;
	FUZZ_ESCAPE_CHECK(bare_n > 0, "%s line without msg: 0", name);
	fuzz_escape_check_line(bare, bare_n, json);
	head = bare_n - (json ? 2 : 1);
	FUZZ_ESCAPE_CHECK(json ? memcmp(bare + head, "}\n", 2) == 0 : 1,
	    "json line does not end in '}'");
	olen = strlen(open);
	clen = strlen(close);
	FUZZ_ESCAPE_CHECK(n >= head + olen + clen &&
	    memcmp(line, bare, head) == 0 &&
	    memcmp(line + head, open, olen) == 0 &&
	    memcmp(line + n - clen, close, clen) == 0,
	    "%s line is not the line without msg plus %s...%s", name, open,
	    json ? "\"}" : "\"");
	/* back has room for the message, which is all a right field holds */
	dn = b64 ? fuzz_escape_decode_b64(line + head + olen, n - head - olen -
	    clen, back, &why) : json ? fuzz_escape_decode_json(line + head +
	    olen, n - head - olen - clen, back, &why) :
	    fuzz_escape_decode_text(line + head + olen, n - head - olen - clen,
	    back, &why);
	FUZZ_ESCAPE_CHECK(dn >= 0, "%s line: msg does not decode: %s", name,
	    why);
	FUZZ_ESCAPE_CHECK((size_t)dn == rec->msg_len &&
	    memcmp(back, msg, rec->msg_len) == 0,
	    "%s line: msg round trip gives other bytes", name);

	/* one buffer too small, exactly sized: 0 and nothing written past */
	small = (size_t)(h % n);
	tiny = malloc(small > 0 ? small : 1);
	FUZZ_ESCAPE_CHECK(tiny != NULL, "out of memory");
	FUZZ_ESCAPE_CHECK(logfmt_line(tiny, small, fmt, rec) == 0,
	    "%s line of %zu bytes claims to fit in %zu", name, n, small);
	free(tiny);
	free(line);
	free(bare);
}

/* libFuzzer's entry point: data is one client message. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct logfmt_record	 rec;
	struct timespec		 when;
	char			 client[ACKD_ADDRSTRLEN], extra[160];
	char			 tag[ACKD_TAG_MAX + 1];
	size_t			 tag_len;
	unsigned char		*back;
	uint64_t		 h = fuzz_escape_hash(data, size);

	/* room for any field's decoding: none is longer than its escape */
	back = malloc(logfmt_json_max(size) + 4);
	if (back == NULL)
		return (0);
	fuzz_escape_one(data, size, 0, back);
	fuzz_escape_one(data, size, 1, back);

	/* a time clock_gettime can give, up to 9999-12-31T23:59:59 */
	when.tv_sec = (time_t)(h % 253402300800ULL);
	when.tv_nsec = (long)((h >> 20) % 1000000000);
	fuzz_escape_pick(client, (h >> 40) % ACKD_ADDRSTRLEN,
	    fuzz_escape_client_chars, data, size, h);
	fuzz_escape_extra(extra, sizeof(extra), data, size, h);
	/* no tag, or one of 1-ACKD_TAG_MAX bytes */
	tag_len = (size_t)((h >> 48) % (ACKD_TAG_MAX + 1));
	fuzz_escape_pick(tag, tag_len, fuzz_escape_tag_chars, data, size,
	    h >> 12);
	memset(&rec, 0, sizeof(rec));
	rec.when = &when;
	rec.client = (h & 1) ? NULL : client;
	rec.pid = (pid_t)(1 + (h >> 3) % 4194304);
	rec.tag = tag_len > 0 ? tag : NULL;
	rec.event = fuzz_escape_events[(h >> 5) % FUZZ_ESCAPE_NEVENTS];
	rec.bytes = (h & 2) ? size : (size_t)h;
	/* an empty message still has its (empty) msg field */
	rec.msg = size > 0 ? data : (const unsigned char *)"";
	rec.msg_len = size;
	rec.extra = (h & 4) ? NULL : extra;
	/* a TLS connection's fields: the client's bytes as its subject */
	if (h & 8) {
		rec.tls = "TLSv1.3/TLS_AES_128_GCM_SHA256";
		rec.resumed = (h & 16) != 0;
		rec.subject = rec.msg;
		rec.subject_len = size < LOGFMT_SUBJECT_MAX ? size :
		    LOGFMT_SUBJECT_MAX;
	}
	fuzz_escape_line(&rec, ACKD_LOG_TEXT, h, back);
	fuzz_escape_line(&rec, ACKD_LOG_JSON, h >> 1, back);
	free(back);
	return (0);
}
