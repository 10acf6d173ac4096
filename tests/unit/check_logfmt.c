/* SPDX-License-Identifier: MIT */
/*
 * check_logfmt.c: unit tests of the log line formatting in logfmt.c.
 *
 * The expected escapes are computed here from the rules, independently of
 * logfmt.c, and every one of the 256 byte values is checked in both forms;
 * in JSON, every Unicode scalar value too, and the ill-formed sequences
 * of RFC 3629 that must not pass for text.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"

/* Canary bytes written around output buffers to catch overruns. */
#define CHECK_LOGFMT_CANARY	0xa5
#define CHECK_LOGFMT_PAD	64

/* The text escape of byte c, by the rules: NUL-terminated into out. */
static void
check_logfmt_text_want(unsigned char c, char out[8])
{
	switch (c) {
	case '\n':
		strcpy(out, "\\n");
		break;
	case '\r':
		strcpy(out, "\\r");
		break;
	case '\t':
		strcpy(out, "\\t");
		break;
	case '\\':
		strcpy(out, "\\\\");
		break;
	case '"':
		strcpy(out, "\\\"");
		break;
	default:
		if (c >= 0x20 && c <= 0x7e) {
			out[0] = (char)c;
			out[1] = '\0';
		} else
			snprintf(out, 8, "\\x%02x", c);
		break;
	}
}

/*
 * The JSON escape of byte c alone, as logfmt.c documents it: a byte past
 * 0x7f alone is no UTF-8 character, so the escaper writes U+FFFD.
 */
static void
check_logfmt_json_want(unsigned char c, char out[8])
{
	switch (c) {
	case '\n':
	case '\r':
	case '\t':
	case '\\':
	case '"':
		check_logfmt_text_want(c, out);
		break;
	default:
		if (c >= 0x20 && c <= 0x7e) {
			out[0] = (char)c;
			out[1] = '\0';
		} else
			snprintf(out, 8, "\\u%04x", c >= 0x80 ? 0xfffd : c);
		break;
	}
}

/* Encode code point cp as UTF-8 into out (RFC 3629); its length. */
static size_t
check_logfmt_utf8_encode(unsigned long cp, unsigned char *out)
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

/*
 * Decode the UTF-8 character at s (len bytes left) the long way: take the
 * bits, then refuse what RFC 3629 forbids by value (overlong, surrogate,
 * past U+10FFFF). Its length, or 0.
 */
static size_t
check_logfmt_utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
	static const unsigned	least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t			n, i;

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

/* Must code point cp be a \uNNNN escape in logfmt's JSON? */
static int
check_logfmt_json_must_escape(unsigned cp)
{
	return (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
	    cp == 0x2029);
}

/* The value 0-63 of base64 digit c, or -1. */
static int
check_logfmt_b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (c - 'A');
	if (c >= 'a' && c <= 'z')
		return (c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (c - '0' + 52);
	return (c == '+' ? 62 : c == '/' ? 63 : -1);
}

/* Decode padded base64 (RFC 4648) into out; its length, or -1. */
static long
check_logfmt_b64_decode(const char *s, size_t len, unsigned char *out)
{
	size_t		i, n = 0;
	int		k, v[4];
	unsigned long	bits;

	if (len % 4 != 0)
		return (-1);
	for (i = 0; i < len; i += 4) {
		for (k = 0; k < 4; k++)
			v[k] = check_logfmt_b64val(s[i + k]);
		if (v[0] < 0 || v[1] < 0 || (v[2] < 0 && (s[i + 2] != '=' ||
		    s[i + 3] != '=' || i + 4 != len)) || (v[3] < 0 &&
		    (s[i + 3] != '=' || i + 4 != len)))
			return (-1);
		bits = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
		    (unsigned long)(v[2] < 0 ? 0 : v[2]) << 6 |
		    (unsigned long)(v[3] < 0 ? 0 : v[3]);
		out[n++] = (unsigned char)(bits >> 16);
		if (v[2] >= 0)
			out[n++] = (unsigned char)(bits >> 8);
		if (v[3] >= 0)
			out[n++] = (unsigned char)bits;
	}
	return ((long)n);
}

/* Is every one of the len bytes at s printable ASCII? -1 if so, else where. */
static long
check_logfmt_unprintable(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return ((long)i);
	return (-1);
}

/* Allocate size bytes of room followed by canaries. */
static char *
check_logfmt_alloc(size_t size)
{
	char	*buf = malloc(size + CHECK_LOGFMT_PAD);

	ck_assert_ptr_nonnull(buf);
	memset(buf, CHECK_LOGFMT_CANARY, size + CHECK_LOGFMT_PAD);
	return (buf);
}

/* Are the bytes of buf from off to size + CHECK_LOGFMT_PAD untouched? */
static int
check_logfmt_untouched(const char *buf, size_t off, size_t size)
{
	size_t	i;

	for (i = off; i < size + CHECK_LOGFMT_PAD; i++)
		if ((unsigned char)buf[i] != CHECK_LOGFMT_CANARY)
			return (0);
	return (1);
}

/* The value of hex digit c, or -1. */
static int
check_logfmt_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/*
 * Decode len bytes of JSON string content (RFC 8259, without the quotes)
 * into code points; -1 at the first thing JSON does not allow there, or
 * that logfmt promises not to write raw: a control character (C0, DEL,
 * C1), U+2028, U+2029, or anything but valid UTF-8.
 */
static long
check_logfmt_json_decode(const char *s, size_t len, unsigned *cp, size_t max)
{
	size_t	i = 0, n = 0;
	int	k, h;

	while (i < len) {
		unsigned char	c = (unsigned char)s[i++];
		unsigned	v = 0;
		size_t		u;

		if (c == '"' || c < 0x20 || c == 0x7f || n == max)
			return (-1);
		if (c >= 0x80) {
			u = check_logfmt_utf8_decode((const unsigned char *)s +
			    i - 1, len - i + 1, &v);
			if (u == 0 || check_logfmt_json_must_escape(v))
				return (-1);
			i += u - 1;
			cp[n++] = v;
			continue;
		}
		if (c != '\\') {
			cp[n++] = c;
			continue;
		}
		if (i == len)
			return (-1);
		switch (s[i++]) {
		case '"':	v = '"'; break;
		case '\\':	v = '\\'; break;
		case '/':	v = '/'; break;
		case 'b':	v = '\b'; break;
		case 'f':	v = '\f'; break;
		case 'n':	v = '\n'; break;
		case 'r':	v = '\r'; break;
		case 't':	v = '\t'; break;
		case 'u':
			if (len - i < 4)
				return (-1);
			for (k = 0; k < 4; k++) {
				if ((h = check_logfmt_hexval(s[i++])) == -1)
					return (-1);
				v = v * 16 + (unsigned)h;
			}
			break;
		default:
			return (-1);
		}
		cp[n++] = v;
	}
	return ((long)n);
}

/* Format rec into a NUL-terminated string in buf (size bytes); its length. */
static size_t
check_logfmt_line_str(char *buf, size_t size, enum ackd_log_format fmt,
    const struct logfmt_record *rec)
{
	size_t	len;

	len = logfmt_line(buf, size - 1, fmt, rec);
	buf[len] = '\0';
	return (len);
}

/* A record with every field empty but the time, pid and event. */
static void
check_logfmt_record(struct logfmt_record *rec, const struct timespec *ts)
{
	memset(rec, 0, sizeof(*rec));
	rec->when = ts;
	rec->pid = 42;
	rec->event = "message";
}

/* The 256 byte values in order. */
static void
check_logfmt_all_bytes(unsigned char b[256])
{
	int	i;

	for (i = 0; i < 256; i++)
		b[i] = (unsigned char)i;
}

START_TEST(check_logfmt_text_each_byte)
{
	unsigned char	c = (unsigned char)_i;
	char		want[8], *out;
	size_t		n;

	check_logfmt_text_want(c, want);
	out = check_logfmt_alloc(logfmt_text_max(1));
	n = logfmt_escape_text(out, &c, 1);
	ck_assert_msg(n == strlen(want) && memcmp(out, want, n) == 0,
	    "byte 0x%02x escaped as '%.*s', not '%s'", c, (int)n, out, want);
	ck_assert_msg(check_logfmt_untouched(out, n, logfmt_text_max(1)),
	    "byte 0x%02x: wrote past the escape", c);
	free(out);
}
END_TEST

START_TEST(check_logfmt_text_spot_checks)
{
	static const struct {
		unsigned char	 c;
		const char	*want;
	} t[] = {
		{ 0x00, "\\x00" }, { 0x07, "\\x07" }, { 0x08, "\\x08" },
		{ '\t', "\\t" }, { '\n', "\\n" }, { 0x0b, "\\x0b" },
		{ 0x0c, "\\x0c" }, { '\r', "\\r" }, { 0x1b, "\\x1b" },
		{ 0x1f, "\\x1f" }, { ' ', " " }, { '"', "\\\"" },
		{ '\'', "'" }, { '=', "=" }, { 'A', "A" }, { '\\', "\\\\" },
		{ '~', "~" }, { 0x7f, "\\x7f" }, { 0x80, "\\x80" },
		{ 0x85, "\\x85" }, { 0x9b, "\\x9b" }, { 0x9f, "\\x9f" },
		{ 0xa0, "\\xa0" }, { 0xc3, "\\xc3" }, { 0xff, "\\xff" },
	};
	char	out[8];
	size_t	i, n;

	for (i = 0; i < nitems(t); i++) {
		n = logfmt_escape_text(out, &t[i].c, 1);
		out[n] = '\0';
		ck_assert_msg(strcmp(out, t[i].want) == 0,
		    "0x%02x -> '%s', want '%s'", t[i].c, out, t[i].want);
	}
	n = logfmt_escape_text(out, (const unsigned char *)"a\"b", 3);
	out[n] = '\0';
	ck_assert_str_eq(out, "a\\\"b");
}
END_TEST

START_TEST(check_logfmt_text_all_bytes_at_once)
{
	unsigned char	b[256];
	char		want[256 * 4 + 1], one[8], *out;
	size_t		n;
	long		bad;
	int		i;

	check_logfmt_all_bytes(b);
	want[0] = '\0';
	for (i = 0; i < 256; i++) {
		check_logfmt_text_want((unsigned char)i, one);
		strcat(want, one);
	}
	out = check_logfmt_alloc(logfmt_text_max(256));
	n = logfmt_escape_text(out, b, 256);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_msg(memcmp(out, want, n) == 0, "escape of 0x00-0xff differs");
	bad = check_logfmt_unprintable(out, n);
	ck_assert_msg(bad == -1, "unprintable byte at %ld of the escape", bad);
	ck_assert(check_logfmt_untouched(out, n, logfmt_text_max(256)));
	free(out);
}
END_TEST

START_TEST(check_logfmt_escape_empty)
{
	char	out[CHECK_LOGFMT_PAD];

	memset(out, CHECK_LOGFMT_CANARY, sizeof(out));
	ck_assert_uint_eq(logfmt_escape_text(out, (const unsigned char *)"", 0),
	    0);
	ck_assert_uint_eq(logfmt_escape_json(out, (const unsigned char *)"", 0),
	    0);
	ck_assert_msg(check_logfmt_untouched(out, 0, 0),
	    "escaping nothing wrote something");
}
END_TEST

START_TEST(check_logfmt_json_each_byte)
{
	unsigned char	c = (unsigned char)_i;
	char		want[8], *out;
	unsigned	cp[8];
	size_t		n;

	check_logfmt_json_want(c, want);
	out = check_logfmt_alloc(logfmt_json_max(1));
	n = logfmt_escape_json(out, &c, 1);
	ck_assert_msg(n == strlen(want) && memcmp(out, want, n) == 0,
	    "byte 0x%02x escaped as '%.*s', not '%s'", c, (int)n, out, want);
	ck_assert_msg(check_logfmt_untouched(out, n, logfmt_json_max(1)),
	    "byte 0x%02x: wrote past the escape", c);
	ck_assert_msg(check_logfmt_json_decode(out, n, cp, 8) == 1 &&
	    cp[0] == (c < 0x80 ? c : 0xfffd), "byte 0x%02x: '%.*s' is not "
	    "JSON for U+%04X", c, (int)n, out, c < 0x80 ? c : 0xfffd);
	ck_assert_int_eq(logfmt_utf8_valid(&c, 1), c < 0x80);
	free(out);
}
END_TEST

START_TEST(check_logfmt_json_spot_checks)
{
	static const struct {
		unsigned char	 c;
		const char	*want;
	} t[] = {
		{ 0x00, "\\u0000" }, { 0x08, "\\u0008" }, { '\t', "\\t" },
		{ '\n', "\\n" }, { 0x0c, "\\u000c" }, { '\r', "\\r" },
		{ 0x1b, "\\u001b" }, { 0x1f, "\\u001f" }, { ' ', " " },
		{ '"', "\\\"" }, { '/', "/" }, { '\\', "\\\\" }, { '~', "~" },
		{ 0x7f, "\\u007f" }, { 0x80, "\\ufffd" }, { 0x9f, "\\ufffd" },
		{ 0xc3, "\\ufffd" }, { 0xe9, "\\ufffd" }, { 0xff, "\\ufffd" },
	};
	char	out[8];
	size_t	i, n;

	for (i = 0; i < nitems(t); i++) {
		n = logfmt_escape_json(out, &t[i].c, 1);
		out[n] = '\0';
		ck_assert_msg(strcmp(out, t[i].want) == 0,
		    "0x%02x -> '%s', want '%s'", t[i].c, out, t[i].want);
	}
}
END_TEST

/*
 * The next code point to try after c: every one up to U+3000 (all of the
 * 1- and 2-byte forms, C1, U+2028/9), then a stride (quick under
 * valgrind), with each edge of the 3- and 4-byte forms and surrogates.
 */
static unsigned long
check_logfmt_next_cp(unsigned long c)
{
	static const unsigned long	edges[] = { 0xd7ff, 0xe000, 0xfffd,
	    0xfffe, 0xffff, 0x10000, 0x10ffff };
	unsigned long			next = c < 0x3000 ? c + 1 : c + 251;
	size_t				i;

	for (i = 0; i < nitems(edges); i++)
		if (c < edges[i] && edges[i] < next)
			return (edges[i]);
	if (next >= 0xd800 && next <= 0xdfff)
		return (0xe000);
	return (next);
}

/*
 * Unicode scalar values (U+0000-U+10FFFF but the surrogates), in UTF-8,
 * are valid, and their JSON escape decodes back to the same code points:
 * raw, but for the few logfmt must escape.
 */
START_TEST(check_logfmt_json_every_code_point)
{
	unsigned char	*src;
	unsigned	*cp;
	char		*out;
	size_t		 len = 0, n, max;
	unsigned long	 c, count = 0;
	long		 got;

	src = malloc(4 * 0x110000);
	cp = malloc(sizeof(*cp) * 0x110000);
	ck_assert(src != NULL && cp != NULL);
	for (c = 0; c <= 0x10ffff; c = check_logfmt_next_cp(c)) {
		len += check_logfmt_utf8_encode(c, src + len);
		count++;
	}
	ck_assert_msg(logfmt_utf8_valid(src, len), "valid UTF-8 refused");
	max = logfmt_json_max(len);
	out = check_logfmt_alloc(max);
	n = logfmt_escape_json(out, src, len);
	ck_assert(n <= max && check_logfmt_untouched(out, n, max));
	got = check_logfmt_json_decode(out, n, cp, 0x110000);
	ck_assert_msg(got == (long)count, "escape is not valid JSON string "
	    "content as logfmt promises (decoder says %ld)", got);
	for (c = 0, n = 0; c <= 0x10ffff; c = check_logfmt_next_cp(c)) {
		if (cp[n] != c)
			ck_abort_msg("U+%04lX decoded as U+%04X", c, cp[n]);
		n++;
	}
	free(out);
	free(cp);
	free(src);
}
END_TEST

/* A few characters and their exact escapes, raw UTF-8 kept as is. */
START_TEST(check_logfmt_json_utf8_spot_checks)
{
	static const struct {
		const char	*in;
		const char	*want;
	} t[] = {
		{ "h\xc3\xa9llo \xe2\x82\xac", "h\xc3\xa9llo \xe2\x82\xac" },
		{ "\xc2\x80\xc2\x9b\xc2\x9f\xc2\xa0", "\\u0080\\u009b\\u009f"
		    "\xc2\xa0" },
		{ "a\xe2\x80\xa8" "b\xe2\x80\xa9" "c\xe2\x80\xaa",
		    "a\\u2028b\\u2029c\xe2\x80\xaa" },
		{ "\xf0\x9f\x98\x80\"\\\x7f", "\xf0\x9f\x98\x80\\\"\\\\\\u007f" },
		{ "\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\xef\xbf\xbf\xf4\x8f\xbf\xbf" },
		/* invalid bytes, one \ufffd each, valid ones around kept */
		{ "a\xc3(\xe2\x82", "a\\ufffd(\\ufffd\\ufffd" },
	};
	char	out[64];
	size_t	i, n;

	for (i = 0; i < nitems(t); i++) {
		n = logfmt_escape_json(out, (const unsigned char *)t[i].in,
		    strlen(t[i].in));
		out[n] = '\0';
		ck_assert_msg(strcmp(out, t[i].want) == 0,
		    "case %zu -> '%s', want '%s'", i, out, t[i].want);
	}
}
END_TEST

/* RFC 3629's ill-formed sequences are not UTF-8; its edges are. */
START_TEST(check_logfmt_utf8_valid)
{
	static const char *const	bad[] = {
		"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc2", "\xc2\x7f",
		"\xc2\xc0", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xe2\x82",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\x80",
		"\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
		"\xf8\x88\x80\x80\x80", "\xfe", "\xff", "ok\xe9", "\xe9ok",
		"\xf0\x9f\x98", "\xe2\x28\xa1",
	};
	static const char *const	good[] = {
		"", "\x01", "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80",
		"\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf",
		"\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "h\xc3\xa9llo",
	};
	size_t	i;

	for (i = 0; i < nitems(bad); i++)
		ck_assert_msg(!logfmt_utf8_valid((const unsigned char *)bad[i],
		    strlen(bad[i])), "bad case %zu passed for UTF-8", i);
	for (i = 0; i < nitems(good); i++)
		ck_assert_msg(logfmt_utf8_valid((const unsigned char *)good[i],
		    strlen(good[i])), "good case %zu refused", i);
	/* a NUL inside is a character like any other */
	ck_assert(logfmt_utf8_valid((const unsigned char *)"a\0b", 3));
}
END_TEST

/* RFC 4648's test vectors, and every byte value round trip. */
START_TEST(check_logfmt_base64)
{
	static const char *const	t[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	unsigned char	b[256], back[256];
	char		*out;
	size_t		i, n, len;

	for (i = 0; i < nitems(t); i++) {
		len = strlen(t[i][0]);
		out = check_logfmt_alloc(logfmt_base64_max(len));
		n = logfmt_base64(out, (const unsigned char *)t[i][0], len);
		ck_assert_msg(n == strlen(t[i][1]) && memcmp(out, t[i][1], n) ==
		    0, "base64 of '%s' is '%.*s'", t[i][0], (int)n, out);
		ck_assert(n == logfmt_base64_max(len) &&
		    check_logfmt_untouched(out, n, n));
		free(out);
	}
	check_logfmt_all_bytes(b);
	for (len = 0; len <= 256; len += 37) {
		out = check_logfmt_alloc(logfmt_base64_max(len));
		n = logfmt_base64(out, b + 256 - len, len);
		ck_assert(check_logfmt_untouched(out, n,
		    logfmt_base64_max(len)));
		ck_assert(check_logfmt_b64_decode(out, n, back) == (long)len &&
		    memcmp(back, b + 256 - len, len) == 0);
		ck_assert(logfmt_base64_max(len) <= logfmt_json_max(len));
		free(out);
	}
}
END_TEST

START_TEST(check_logfmt_max_bounds_worst_case)
{
	static const size_t	lens[] = { 0, 1, 2, 7, 64, 1024, 65537 };
	unsigned char		*src;
	char			*out;
	size_t			 i, n, len;
	unsigned char		 c;

	for (i = 0; i < nitems(lens); i++) {
		len = lens[i];
		src = malloc(len + 1);
		ck_assert_ptr_nonnull(src);
		memset(src, 0xff, len);

		out = check_logfmt_alloc(logfmt_text_max(len));
		n = logfmt_escape_text(out, src, len);
		ck_assert_msg(n == 4 * len && n <= logfmt_text_max(len),
		    "text: %zu x 0xff -> %zu bytes, max %zu", len, n,
		    logfmt_text_max(len));
		ck_assert(check_logfmt_untouched(out, n, logfmt_text_max(len)));
		free(out);

		out = check_logfmt_alloc(logfmt_json_max(len));
		n = logfmt_escape_json(out, src, len);
		ck_assert_msg(n == 6 * len && n <= logfmt_json_max(len),
		    "json: %zu x 0xff -> %zu bytes, max %zu", len, n,
		    logfmt_json_max(len));
		ck_assert(check_logfmt_untouched(out, n, logfmt_json_max(len)));
		/* valid text at its worst: control characters, 6 bytes each */
		memset(src, 0x01, len);
		ck_assert(logfmt_utf8_valid(src, len));
		n = logfmt_escape_json(out, src, len);
		ck_assert_uint_eq(n, 6 * len);
		free(out);
		free(src);
	}
	/* and no single byte takes more than its share */
	for (i = 0; i < 256; i++) {
		char	tmp[16];

		c = (unsigned char)i;
		ck_assert(logfmt_escape_text(tmp, &c, 1) <= logfmt_text_max(1));
		ck_assert(logfmt_escape_json(tmp, &c, 1) <= logfmt_json_max(1));
	}
}
END_TEST

START_TEST(check_logfmt_timestamp_epoch)
{
	struct timespec	ts = { 0, 1000 };
	char		buf[LOGFMT_TIMESTAMP_LEN + 1 + CHECK_LOGFMT_PAD];
	size_t		n;

	memset(buf, CHECK_LOGFMT_CANARY, sizeof(buf));
	n = logfmt_timestamp(buf, LOGFMT_TIMESTAMP_LEN + 1, &ts);
	ck_assert_uint_eq(n, LOGFMT_TIMESTAMP_LEN);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000001Z");
	ck_assert_uint_eq(strlen(buf), LOGFMT_TIMESTAMP_LEN);
	ck_assert_msg(check_logfmt_untouched(buf, LOGFMT_TIMESTAMP_LEN + 1,
	    LOGFMT_TIMESTAMP_LEN + 1), "timestamp wrote past its NUL");
}
END_TEST

START_TEST(check_logfmt_timestamp_values)
{
	static const struct {
		time_t		 sec;
		long		 nsec;
		const char	*want;
	} t[] = {
		{ 0, 0, "1970-01-01T00:00:00.000000Z" },
		{ 0, 999, "1970-01-01T00:00:00.000000Z" },	/* truncated */
		{ 0, 999999999, "1970-01-01T00:00:00.999999Z" },
		{ 951782400, 500000000, "2000-02-29T00:00:00.500000Z" },
		{ 1764059193, 123456789, "2025-11-25T08:26:33.123456Z" },
		{ 253402300799, 1000, "9999-12-31T23:59:59.000001Z" },
		{ -1, 0, "1969-12-31T23:59:59.000000Z" },
	};
	struct timespec	ts;
	char		buf[64];
	size_t		i, n;

	for (i = 0; i < nitems(t); i++) {
		ts.tv_sec = t[i].sec;
		ts.tv_nsec = t[i].nsec;
		memset(buf, 0, sizeof(buf));
		n = logfmt_timestamp(buf, sizeof(buf), &ts);
		ck_assert_msg(n == LOGFMT_TIMESTAMP_LEN &&
		    strcmp(buf, t[i].want) == 0, "%lld.%09ld -> '%s' (%zu), "
		    "want '%s'", (long long)t[i].sec, t[i].nsec, buf, n,
		    t[i].want);
	}
}
END_TEST

START_TEST(check_logfmt_timestamp_refuses)
{
	struct timespec	ts = { 0, 0 };
	char		buf[LOGFMT_TIMESTAMP_LEN + CHECK_LOGFMT_PAD];
	size_t		size;

	/* too small: nothing written, 0 */
	for (size = 0; size <= LOGFMT_TIMESTAMP_LEN; size++) {
		memset(buf, CHECK_LOGFMT_CANARY, sizeof(buf));
		ck_assert_msg(logfmt_timestamp(buf, size, &ts) == 0,
		    "size %zu accepted", size);
		ck_assert_msg(check_logfmt_untouched(buf, 0,
		    sizeof(buf) - CHECK_LOGFMT_PAD), "size %zu: wrote", size);
	}
	/* a year of five digits would not have the fixed length: 0 */
	ts.tv_sec = 253402300800;	/* 10000-01-01T00:00:00Z */
	ck_assert_msg(logfmt_timestamp(buf, sizeof(buf), &ts) == 0,
	    "year 10000 formatted");
}
END_TEST

START_TEST(check_logfmt_line_text_client_msg)
{
	struct timespec		ts = { 0, 1000 };
	struct logfmt_record	rec;
	char			buf[512];
	size_t			n;

	check_logfmt_record(&rec, &ts);
	rec.client = "127.0.0.1:5555";
	rec.bytes = 8;
	rec.msg = (const unsigned char *)"hi \"x\"\n\xff";
	rec.msg_len = 8;
	n = check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000001Z 127.0.0.1:5555 "
	    "pid=42 event=message bytes=8 msg=\"hi \\\"x\\\"\\n\\xff\"\n");
	ck_assert_uint_eq(n, strlen(buf));

	rec.extra = "truncated=1";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000001Z 127.0.0.1:5555 "
	    "pid=42 event=message bytes=8 truncated=1 "
	    "msg=\"hi \\\"x\\\"\\n\\xff\"\n");
}
END_TEST

START_TEST(check_logfmt_line_text_fields)
{
	struct timespec		ts = { 1764059193, 123456789 };
	struct logfmt_record	rec;
	char			buf[512], want[64];

	/* a daemon event: "-" for the client, no bytes, extra as is */
	check_logfmt_record(&rec, &ts);
	rec.event = "start";
	rec.extra = "workers=4 port=9999";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_str_eq(buf, "2025-11-25T08:26:33.123456Z - pid=42 "
	    "event=start workers=4 port=9999\n");

	/* no extra, and an empty extra, add nothing */
	rec.extra = NULL;
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_str_eq(buf, "2025-11-25T08:26:33.123456Z - pid=42 "
	    "event=start\n");
	rec.extra = "";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_str_eq(buf, "2025-11-25T08:26:33.123456Z - pid=42 "
	    "event=start\n");

	/* a client without a message */
	rec.client = "[::1]:40000";
	rec.event = "timeout";
	rec.bytes = 0;
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_str_eq(buf, "2025-11-25T08:26:33.123456Z [::1]:40000 "
	    "pid=42 event=timeout bytes=0\n");

	/* a message of no bytes is still a msg field */
	rec.msg = (const unsigned char *)"";
	rec.msg_len = 0;
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_str_eq(buf, "2025-11-25T08:26:33.123456Z [::1]:40000 "
	    "pid=42 event=timeout bytes=0 msg=\"\"\n");

	/* the largest numbers */
	rec.msg = NULL;
	rec.pid = 2147483647;
	rec.bytes = SIZE_MAX;
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_msg(strstr(buf, " pid=2147483647 ") != NULL, "pid: %s", buf);
	snprintf(want, sizeof(want), " bytes=%zu\n", (size_t)SIZE_MAX);
	ck_assert_msg(strstr(buf, want) != NULL, "bytes: %s", buf);
}
END_TEST

START_TEST(check_logfmt_line_json_client_msg)
{
	struct timespec		ts = { 0, 1000 };
	struct logfmt_record	rec;
	char			buf[512];
	size_t			n;

	check_logfmt_record(&rec, &ts);
	rec.client = "127.0.0.1:5555";
	rec.bytes = 8;
	rec.msg = (const unsigned char *)"hi \"x\"\n\xff";
	rec.msg_len = 8;
	n = check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	/* 0xff: not UTF-8, so the bytes go as base64 */
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000001Z\","
	    "\"client\":\"127.0.0.1:5555\",\"pid\":42,\"event\":\"message\","
	    "\"bytes\":8,\"msg_b64\":\"aGkgIngiCv8=\"}\n");
	ck_assert_uint_eq(n, strlen(buf));

	rec.extra = "truncated=1";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000001Z\","
	    "\"client\":\"127.0.0.1:5555\",\"pid\":42,\"event\":\"message\","
	    "\"bytes\":8,\"truncated\":1,\"msg_b64\":\"aGkgIngiCv8=\"}\n");

	/* valid UTF-8 stays text: the very characters, escapes as JSON's */
	rec.extra = NULL;
	rec.msg = (const unsigned char *)"h\xc3\xa9llo \xe2\x82\xac \"x\"\n";
	rec.msg_len = strlen((const char *)rec.msg);
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000001Z\","
	    "\"client\":\"127.0.0.1:5555\",\"pid\":42,\"event\":\"message\","
	    "\"bytes\":8,\"msg\":\"h\xc3\xa9llo \xe2\x82\xac \\\"x\\\"\\n\"}\n");
	/* the text format stays ASCII */
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert(strstr(buf, " msg=\"h\\xc3\\xa9llo \\xe2\\x82\\xac "
	    "\\\"x\\\"\\n\"\n") != NULL);
}
END_TEST

START_TEST(check_logfmt_line_json_fields)
{
	struct timespec		ts = { 0, 0 };
	struct logfmt_record	rec;
	char			buf[512];

	/* a daemon event: no client, no bytes */
	check_logfmt_record(&rec, &ts);
	rec.event = "start";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\","
	    "\"pid\":42,\"event\":\"start\"}\n");
	rec.extra = "";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\","
	    "\"pid\":42,\"event\":\"start\"}\n");

	/* plain decimals go unquoted; anything else is a string */
	rec.extra = "workers=4 port=9999 zero=0 lead=012 neg=-1 name=abc "
	    "d18=123456789012345678 d19=1234567890123456789 empty= "
	    "errno=EPIPE";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\","
	    "\"pid\":42,\"event\":\"start\",\"workers\":4,\"port\":9999,"
	    "\"zero\":0,\"lead\":\"012\",\"neg\":\"-1\",\"name\":\"abc\","
	    "\"d18\":123456789012345678,\"d19\":\"1234567890123456789\","
	    "\"empty\":\"\",\"errno\":\"EPIPE\"}\n");

	/* words without a key=value shape are dropped, extra spaces too */
	rec.extra = " lone  =nokey a=1  ";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\","
	    "\"pid\":42,\"event\":\"start\",\"a\":1}\n");

	/* a client without a message, then with an empty one */
	rec.extra = NULL;
	rec.client = "[::1]:40000";
	rec.event = "empty";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\","
	    "\"client\":\"[::1]:40000\",\"pid\":42,\"event\":\"empty\","
	    "\"bytes\":0}\n");
	rec.msg = (const unsigned char *)"";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\","
	    "\"client\":\"[::1]:40000\",\"pid\":42,\"event\":\"empty\","
	    "\"bytes\":0,\"msg\":\"\"}\n");
}
END_TEST

/* --log-tag: tag= between pid and event, "tag" after "pid", if set. */
/*
 * A TLS connection's fields: tls= and resumed=1 after bytes, the
 * certificate's subject quoted before msg and escaped as client bytes
 * are (a '"' or a newline in it cannot end the field or the line), in
 * text and JSON; and the longest subject fits logfmt_line_max.
 */
START_TEST(check_logfmt_line_tls)
{
	struct timespec		ts = { 0, 1000 };
	struct logfmt_record	rec;
	unsigned char		subject[LOGFMT_SUBJECT_MAX];
	char			buf[4096], big[16384];
	size_t			max;

	check_logfmt_record(&rec, &ts);
	rec.client = "127.0.0.1:5555";
	rec.bytes = 2;
	rec.msg = (const unsigned char *)"hi";
	rec.msg_len = 2;
	rec.tls = "TLSv1.3/TLS_AES_128_GCM_SHA256";
	rec.resumed = 1;
	rec.subject = (const unsigned char *)"CN=a \"b\"\n,O=x";
	rec.subject_len = strlen((const char *)rec.subject);
	rec.extra = "proxy=10.0.0.1:9";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000001Z 127.0.0.1:5555 "
	    "pid=42 event=message bytes=2 tls=TLSv1.3/TLS_AES_128_GCM_SHA256 "
	    "resumed=1 proxy=10.0.0.1:9 subject=\"CN=a \\\"b\\\"\\n,O=x\" "
	    "msg=\"hi\"\n");
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000001Z\","
	    "\"client\":\"127.0.0.1:5555\",\"pid\":42,\"event\":\"message\","
	    "\"bytes\":2,\"tls\":\"TLSv1.3/TLS_AES_128_GCM_SHA256\","
	    "\"resumed\":1,\"proxy\":\"10.0.0.1:9\","
	    "\"subject\":\"CN=a \\\"b\\\"\\n,O=x\",\"msg\":\"hi\"}\n");
	/* not resumed, no certificate: tls= alone */
	rec.resumed = 0;
	rec.subject = NULL;
	rec.extra = NULL;
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000001Z 127.0.0.1:5555 "
	    "pid=42 event=message bytes=2 tls=TLSv1.3/TLS_AES_128_GCM_SHA256 "
	    "msg=\"hi\"\n");
	/* the worst subject, the longest tls=, a full message: it fits */
	memset(subject, 0x01, sizeof(subject));
	rec.subject = subject;
	rec.subject_len = sizeof(subject);
	rec.resumed = 1;
	rec.tls = "TLSv1.3/ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ012";
	ck_assert_uint_eq(strlen(rec.tls), LOGFMT_TLS_MAX - 1);
	rec.msg = (const unsigned char *)big;
	rec.msg_len = 1000;
	memset(big, 0x01, rec.msg_len);
	max = logfmt_line_max(ACKD_LOG_JSON, rec.msg_len, 0);
	ck_assert_uint_le(max, sizeof(big));
	ck_assert_uint_gt(logfmt_line(big + 1000, sizeof(big) - 1000,
	    ACKD_LOG_JSON, &rec), 0);
	max = logfmt_line_max(ACKD_LOG_TEXT, rec.msg_len, 0);
	ck_assert_uint_gt(logfmt_line(big + 1000, max, ACKD_LOG_TEXT, &rec),
	    0);
	ck_assert_uint_gt(logfmt_line(big + 1000, logfmt_line_max(ACKD_LOG_JSON,
	    rec.msg_len, 0), ACKD_LOG_JSON, &rec), 0);
}
END_TEST

START_TEST(check_logfmt_line_tag)
{
	struct timespec		ts = { 0, 0 };
	struct logfmt_record	rec;
	char			buf[512];

	check_logfmt_record(&rec, &ts);
	rec.tag = "eu1";
	rec.client = "127.0.0.1:5555";
	rec.bytes = 2;
	rec.msg = (const unsigned char *)"hi";
	rec.msg_len = 2;
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000000Z 127.0.0.1:5555 "
	    "pid=42 tag=eu1 event=message bytes=2 msg=\"hi\"\n");
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\","
	    "\"client\":\"127.0.0.1:5555\",\"pid\":42,\"tag\":\"eu1\","
	    "\"event\":\"message\",\"bytes\":2,\"msg\":\"hi\"}\n");

	/* a daemon event carries it too */
	rec.client = NULL;
	rec.msg = NULL;
	rec.event = "start";
	rec.tag = "A.z_0-9";
	rec.extra = "workers=1";
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_TEXT, &rec);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000000Z - pid=42 "
	    "tag=A.z_0-9 event=start workers=1\n");
	check_logfmt_line_str(buf, sizeof(buf), ACKD_LOG_JSON, &rec);
	ck_assert_str_eq(buf, "{\"ts\":\"1970-01-01T00:00:00.000000Z\","
	    "\"pid\":42,\"tag\":\"A.z_0-9\",\"event\":\"start\","
	    "\"workers\":1}\n");
}
END_TEST

/* The RFC 3164 header: priority, padded day, tag, pid; 0 if too small. */
START_TEST(check_logfmt_syslog_head)
{
	struct tm	tm;
	char		buf[LOGFMT_SYSLOG_HEAD_MAX], tag[ACKD_TAG_MAX + 1];
	size_t		n, i;

	memset(&tm, 0, sizeof(tm));
	tm.tm_mon = 10;
	tm.tm_mday = 5;
	tm.tm_hour = 8;
	tm.tm_min = 6;
	tm.tm_sec = 3;
	n = logfmt_syslog_head(buf, sizeof(buf), 30, &tm, "eu1", 1234);
	ck_assert_uint_eq(n, strlen("<30>Nov  5 08:06:03 eu1[1234]: "));
	ck_assert(memcmp(buf, "<30>Nov  5 08:06:03 eu1[1234]: ", n) == 0);

	tm.tm_mon = 0;
	tm.tm_mday = 31;
	tm.tm_hour = 23;
	tm.tm_min = 59;
	tm.tm_sec = 60;		/* a leap second */
	n = logfmt_syslog_head(buf, sizeof(buf), 191, &tm, "ackd", 1);
	ck_assert(n > 0 && memcmp(buf, "<191>Jan 31 23:59:60 ackd[1]: ",
	    n) == 0);

	/* the longest: the bound holds, and one byte less is refused */
	memset(tag, 'x', ACKD_TAG_MAX);
	tag[ACKD_TAG_MAX] = '\0';
	tm.tm_mon = 11;
	n = logfmt_syslog_head(buf, sizeof(buf), 191, &tm, tag, 2147483647);
	ck_assert_uint_eq(n, 21 + ACKD_TAG_MAX + 14);
	ck_assert(memcmp(buf, "<191>Dec 31 23:59:60 ", 21) == 0);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(logfmt_syslog_head(buf, i, 191, &tm, tag,
		    2147483647), 0);
}
END_TEST

/* The datagram of a plain message of len bytes, fields at their longest. */
static size_t
check_logfmt_datagram(enum ackd_log_format fmt, const char *tag,
    const char *extra, size_t len, size_t bytes)
{
	struct timespec		ts = { 253402300799, 999999999 };
	struct logfmt_record	rec;
	struct tm		tm;
	unsigned char		*msg;
	char			client[ACKD_ADDRSTRLEN], head[LOGFMT_SYSLOG_HEAD_MAX];
	char			*buf;
	size_t			size, n, hn;

	memset(client, '9', sizeof(client) - 1);
	client[sizeof(client) - 1] = '\0';
	msg = malloc(len + 1);
	ck_assert_ptr_nonnull(msg);
	memset(msg, 'a', len);
	check_logfmt_record(&rec, &ts);
	rec.client = client;
	rec.pid = 2147483647;
	rec.tag = tag;
	rec.bytes = bytes;
	rec.msg = msg;
	rec.msg_len = len;
	rec.extra = extra;
	size = logfmt_line_max(fmt, len, strlen(extra));
	buf = check_logfmt_alloc(size);
	n = logfmt_line(buf, size, fmt, &rec);
	memset(&tm, 0, sizeof(tm));
	hn = logfmt_syslog_head(head, sizeof(head), 191, &tm,
	    tag != NULL ? tag : "ackd", 2147483647);
	ck_assert(n > 0 && hn > 0);
	free(buf);
	free(msg);
	return (hn + n - 1);	/* the datagram has no '\n' */
}

/*
 * logfmt_syslog_fit: a plain message of that many bytes makes a datagram
 * within the limit, one byte more does not (both formats, with and
 * without a tag and proxy fields); a limit below the fields: 0.
 */
START_TEST(check_logfmt_syslog_fit)
{
	enum ackd_log_format	fmt = _i ? ACKD_LOG_JSON : ACKD_LOG_TEXT;
	static const size_t	limits[] = { 480, 1000, 8192, 65536 };
	static const char	*tags[] = { NULL,
	    "12345678901234567890123456789012" };
	static const char	*extras[] = { "truncated=1",
	    "proxy=[ffff::1]:1 proxy_cmd=unknown truncated=1" };
	size_t			i, j, fit;

	for (i = 0; i < nitems(limits); i++)
		for (j = 0; j < 4; j++) {
			fit = logfmt_syslog_fit(fmt, tags[j & 1],
			    extras[j >> 1], limits[i]);
			ck_assert_msg(fit > 0 && fit < limits[i],
			    "fit %zu in %zu", fit, limits[i]);
			ck_assert_uint_le(check_logfmt_datagram(fmt,
			    tags[j & 1], extras[j >> 1], fit, fit), limits[i]);
			ck_assert_uint_le(check_logfmt_datagram(fmt,
			    tags[j & 1], extras[j >> 1], fit, limits[i]),
			    limits[i]);
			ck_assert_uint_gt(check_logfmt_datagram(fmt,
			    tags[j & 1], extras[j >> 1], fit + 1, limits[i]),
			    limits[i]);
		}
	ck_assert_uint_eq(logfmt_syslog_fit(fmt, NULL, "truncated=1", 100), 0);
}
END_TEST

/*
 * Whatever the message holds, the line is one line of printable ASCII
 * (these bytes are no UTF-8, so JSON carries them as base64).
 */
START_TEST(check_logfmt_line_one_newline)
{
	enum ackd_log_format	fmt = _i ? ACKD_LOG_JSON : ACKD_LOG_TEXT;
	struct timespec		ts = { 1764059193, 0 };
	struct logfmt_record	rec;
	unsigned char		msg[1024];
	unsigned char		back[1024];
	const char		*key = _i ? ",\"msg_b64\":\"" : " msg=\"";
	const char		*tail = _i ? "\"}\n" : "\"\n";
	char			*buf, *m;
	size_t			size, n, i, mlen;
	long			bad;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7 + i / 256);
	check_logfmt_record(&rec, &ts);
	rec.client = "127.0.0.1:5555";
	rec.bytes = sizeof(msg);
	rec.msg = msg;
	rec.msg_len = sizeof(msg);
	rec.extra = "truncated=1";
	size = logfmt_line_max(fmt, sizeof(msg), strlen(rec.extra));
	buf = check_logfmt_alloc(size);
	n = logfmt_line(buf, size, fmt, &rec);
	ck_assert_msg(n > 0 && n <= size, "line of %zu bytes in %zu", n, size);
	ck_assert(check_logfmt_untouched(buf, n, size));
	ck_assert_msg(buf[n - 1] == '\n', "line does not end in a newline");
	bad = check_logfmt_unprintable(buf, n - 1);
	ck_assert_msg(bad == -1, "byte 0x%02x at %ld of the line",
	    bad == -1 ? 0 : (unsigned char)buf[bad], bad);

	/* the message field holds the escape of exactly those bytes */
	m = memmem(buf, n, key, strlen(key));
	ck_assert_ptr_nonnull(m);
	m += strlen(key);
	ck_assert_msg(n >= strlen(tail) && memcmp(buf + n - strlen(tail), tail,
	    strlen(tail)) == 0, "line does not end with the msg field");
	mlen = (size_t)(buf + n - strlen(tail) - m);
	if (fmt == ACKD_LOG_JSON) {
		ck_assert_msg(check_logfmt_b64_decode(m, mlen, back) == 1024 &&
		    memcmp(back, msg, sizeof(msg)) == 0,
		    "msg_b64 does not decode to the message");
	} else {
		size_t	 wlen = 0;
		char	 one[8], *want;

		want = check_logfmt_alloc(logfmt_text_max(sizeof(msg)));
		for (i = 0; i < sizeof(msg); i++) {
			check_logfmt_text_want(msg[i], one);
			memcpy(want + wlen, one, strlen(one));
			wlen += strlen(one);
		}
		ck_assert_msg(mlen == wlen && memcmp(m, want, wlen) == 0,
		    "msg field is not the escape of the message");
		free(want);
	}
	free(buf);
}
END_TEST

/* Too small a buffer: 0, and nothing written past the size given. */
START_TEST(check_logfmt_line_too_small)
{
	enum ackd_log_format	fmt = _i % 2 ? ACKD_LOG_JSON : ACKD_LOG_TEXT;
	int			with_msg = _i >= 2;
	struct timespec		ts = { 0, 0 };
	struct logfmt_record	rec;
	char			*buf;
	size_t			max, n, size;

	check_logfmt_record(&rec, &ts);
	rec.client = "192.0.2.1:1234";
	rec.bytes = 4;
	rec.extra = "truncated=1";
	if (with_msg) {
		rec.msg = (const unsigned char *)"ab\ncd";
		rec.msg_len = 5;
	}
	max = logfmt_line_max(fmt, rec.msg_len, strlen(rec.extra));
	buf = check_logfmt_alloc(max);
	n = logfmt_line(buf, max, fmt, &rec);
	ck_assert_msg(n > 0, "logfmt_line_max (%zu) was not enough", max);
	for (size = 0; size < n; size++) {
		memset(buf, CHECK_LOGFMT_CANARY, max + CHECK_LOGFMT_PAD);
		ck_assert_msg(logfmt_line(buf, size, fmt, &rec) == 0,
		    "a %zu-byte line claimed to fit in %zu", n, size);
		ck_assert_msg(check_logfmt_untouched(buf, size, size),
		    "size %zu: wrote past the end", size);
	}
	free(buf);
}
END_TEST

/* Without a message a line fits exactly in its own length. */
START_TEST(check_logfmt_line_exact_fit)
{
	enum ackd_log_format	fmt = _i ? ACKD_LOG_JSON : ACKD_LOG_TEXT;
	struct timespec		ts = { 0, 0 };
	struct logfmt_record	rec;
	char			full[512], *buf;
	size_t			n;

	check_logfmt_record(&rec, &ts);
	rec.client = "192.0.2.1:1234";
	rec.extra = "errno=EPIPE";
	n = logfmt_line(full, sizeof(full), fmt, &rec);
	ck_assert_uint_gt(n, 0);
	buf = check_logfmt_alloc(n);
	ck_assert_uint_eq(logfmt_line(buf, n, fmt, &rec), n);
	ck_assert_msg(memcmp(buf, full, n) == 0, "exact fit differs");
	ck_assert(check_logfmt_untouched(buf, n, n));
	free(buf);
}
END_TEST

/*
 * With a message, logfmt_line wants room for the worst-case escape of
 * msg_len bytes, whatever the bytes are: that lets it escape in place
 * without a second pass. So a message line does not fit in its own length.
 */
START_TEST(check_logfmt_line_msg_needs_worst_case_room)
{
	enum ackd_log_format	fmt = _i ? ACKD_LOG_JSON : ACKD_LOG_TEXT;
	struct timespec		ts = { 0, 0 };
	struct logfmt_record	rec;
	char			full[512], *buf;
	size_t			n, room, worst;

	check_logfmt_record(&rec, &ts);
	rec.client = "192.0.2.1:1234";
	rec.bytes = 5;
	rec.msg = (const unsigned char *)"hello";
	rec.msg_len = 5;
	n = logfmt_line(full, sizeof(full), fmt, &rec);
	ck_assert_uint_gt(n, 0);
	/* "hello" escapes to itself; the worst case is 4 or 6 bytes each */
	worst = fmt == ACKD_LOG_JSON ? logfmt_json_max(5) : logfmt_text_max(5);
	room = n - 5 + worst;
	buf = check_logfmt_alloc(room);
	ck_assert_msg(logfmt_line(buf, n, fmt, &rec) == 0,
	    "a message line fitted in its own length, not the worst case");
	ck_assert(check_logfmt_untouched(buf, n, n));
	ck_assert_uint_eq(logfmt_line(buf, room, fmt, &rec), n);
	ck_assert(memcmp(buf, full, n) == 0);
	ck_assert(check_logfmt_untouched(buf, n, room));
	free(buf);
}
END_TEST

/* logfmt_line_max holds the longest line the handler can write. */
START_TEST(check_logfmt_line_max_is_enough)
{
	enum ackd_log_format	fmt = _i ? ACKD_LOG_JSON : ACKD_LOG_TEXT;
	struct timespec		ts = { 253402300799, 999999999 };
	struct logfmt_record	rec;
	unsigned char		msg[4096];
	char			client[ACKD_ADDRSTRLEN], *buf;
	size_t			max, n;

	memset(msg, 0xff, sizeof(msg));
	memset(client, 'f', sizeof(client) - 1);
	client[sizeof(client) - 1] = '\0';
	check_logfmt_record(&rec, &ts);
	rec.client = client;
	rec.pid = 2147483647;
	rec.event = "message";
	rec.bytes = SIZE_MAX;
	rec.msg = msg;
	rec.msg_len = sizeof(msg);
	rec.extra = "truncated=1 errno=ECONNABORTED";
	rec.tag = "12345678901234567890123456789012";
	max = logfmt_line_max(fmt, sizeof(msg), 64);
	buf = check_logfmt_alloc(max);
	n = logfmt_line(buf, max, fmt, &rec);
	ck_assert_msg(n > 0 && n <= max, "line did not fit in "
	    "logfmt_line_max (%zu)", max);
	ck_assert(check_logfmt_untouched(buf, n, max));
	free(buf);
}
END_TEST

/*
 * logfmt_token: a path as one extra field's value. Printable ASCII stays;
 * space, '%', quotes, backslash, control and high bytes become %XX; it
 * decodes back; 0 and an empty buffer when it does not fit, exactly.
 */
START_TEST(check_logfmt_token)
{
	char	buf[64], back[64];
	size_t	n, i, k;

	ck_assert_uint_eq(logfmt_token(buf, sizeof(buf), "/var/log/a.log"),
	    14);
	ck_assert_str_eq(buf, "/var/log/a.log");
	n = logfmt_token(buf, sizeof(buf), "/a b/%\"\\\t\x7f\xc3\xa9=x");
	ck_assert_str_eq(buf, "/a%20b/%25%22%5c%09%7f%c3%a9=x");
	ck_assert_uint_eq(n, strlen(buf));
	/* every byte left is printable, and none is a space or a quote */
	for (i = 0; i < n; i++)
		ck_assert(buf[i] > ' ' && buf[i] < 0x7f && buf[i] != '"');
	/* %XX decodes back to the original */
	for (i = k = 0; i < n; k++)
		if (buf[i] == '%') {
			back[k] = (char)strtol((char[]){ buf[i + 1], buf[i + 2],
			    '\0' }, NULL, 16);
			i += 3;
		} else
			back[k] = buf[i++];
	back[k] = '\0';
	ck_assert_str_eq(back, "/a b/%\"\\\t\x7f\xc3\xa9=x");
	/* "a b" takes 5 bytes and its NUL: 6 fits, 5 does not */
	ck_assert_uint_eq(logfmt_token(buf, 6, "a b"), 5);
	ck_assert_str_eq(buf, "a%20b");
	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(logfmt_token(buf, 5, "a b"), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(logfmt_token(buf, 3, "abc"), 0);
	ck_assert_str_eq(buf, "");
}
END_TEST

/* The wait status of a child that raises sig (unless 0), else exits code. */
static int
check_logfmt_child_status(int code, int sig)
{
	pid_t	pid;
	int	status;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (sig != 0)
			raise(sig);
		_exit(code);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return (status);
}

/*
 * logfmt_wait_status: worker-exit's status= value, from real wait
 * statuses: "exited:N" and "killed:SIG", cut to the buffer.
 */
START_TEST(check_logfmt_wait_status)
{
	char	buf[32], want[32];

	logfmt_wait_status(buf, sizeof(buf), check_logfmt_child_status(0, 0));
	ck_assert_str_eq(buf, "exited:0");
	logfmt_wait_status(buf, sizeof(buf), check_logfmt_child_status(3, 0));
	ck_assert_str_eq(buf, "exited:3");
	logfmt_wait_status(buf, sizeof(buf),
	    check_logfmt_child_status(0, SIGKILL));
	snprintf(want, sizeof(want), "killed:%d", SIGKILL);
	ck_assert_str_eq(buf, want);
	logfmt_wait_status(buf, 5, check_logfmt_child_status(70, 0));
	ck_assert_str_eq(buf, "exit");
}
END_TEST

/* The logfmt suite: escapes, bounds, timestamps, whole lines. */
static Suite *
logfmt_suite(void)
{
	Suite	*s = suite_create("logfmt");
	TCase	*tc;

	tc = tcase_create("escape");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, check_logfmt_text_each_byte, 0, 256);
	tcase_add_test(tc, check_logfmt_text_spot_checks);
	tcase_add_test(tc, check_logfmt_text_all_bytes_at_once);
	tcase_add_test(tc, check_logfmt_escape_empty);
	tcase_add_loop_test(tc, check_logfmt_json_each_byte, 0, 256);
	tcase_add_test(tc, check_logfmt_json_spot_checks);
	tcase_add_test(tc, check_logfmt_json_every_code_point);
	tcase_add_test(tc, check_logfmt_json_utf8_spot_checks);
	tcase_add_test(tc, check_logfmt_utf8_valid);
	tcase_add_test(tc, check_logfmt_base64);
	tcase_add_test(tc, check_logfmt_max_bounds_worst_case);
	tcase_add_test(tc, check_logfmt_token);
	suite_add_tcase(s, tc);

	tc = tcase_create("timestamp");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, check_logfmt_timestamp_epoch);
	tcase_add_test(tc, check_logfmt_timestamp_values);
	tcase_add_test(tc, check_logfmt_timestamp_refuses);
	suite_add_tcase(s, tc);

	tc = tcase_create("line");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, check_logfmt_line_text_client_msg);
	tcase_add_test(tc, check_logfmt_line_text_fields);
	tcase_add_test(tc, check_logfmt_line_json_client_msg);
	tcase_add_test(tc, check_logfmt_line_json_fields);
	tcase_add_test(tc, check_logfmt_line_tag);
	tcase_add_test(tc, check_logfmt_line_tls);
	tcase_add_test(tc, check_logfmt_syslog_head);
	tcase_add_test(tc, check_logfmt_wait_status);
	tcase_add_loop_test(tc, check_logfmt_syslog_fit, 0, 2);
	/* loop index: 0 text, 1 json (too_small: 2, 3 with a message) */
	tcase_add_loop_test(tc, check_logfmt_line_one_newline, 0, 2);
	tcase_add_loop_test(tc, check_logfmt_line_too_small, 0, 4);
	tcase_add_loop_test(tc, check_logfmt_line_exact_fit, 0, 2);
	tcase_add_loop_test(tc, check_logfmt_line_msg_needs_worst_case_room,
	    0, 2);
	tcase_add_loop_test(tc, check_logfmt_line_max_is_enough, 0, 2);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(logfmt_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
