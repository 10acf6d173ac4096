/* SPDX-License-Identifier: MIT */
/*
 * logfmt.c: the connection log's lines, as pure functions of their fields.
 *
 * Nothing here does I/O or allocates, so the escapers can be unit-tested
 * byte by byte and fuzzed. Whatever the client sent, no client byte can
 * end a line, close the quoted field, or reach a terminal as a control
 * sequence:
 *
 * - the text format writes only printable ASCII (\xNN for the rest, C1
 *   bytes 0x80-0x9F included);
 * - the JSON format writes UTF-8 text (RFC 8259): a message that is
 *   strictly valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
 *   nothing past U+10FFFF) goes into "msg" as the same characters, with
 *   ", \, the control characters (C0, DEL, C1) and U+2028/U+2029 escaped,
 *   so a JSON decoder gives back the client's text exactly; any other
 *   message goes into "msg_b64" instead, the base64 of its bytes
 *   (RFC 4648, padded), so nothing is ever lost or guessed.
 *
 * A TLS connection's line carries tls= (version/cipher, OpenSSL's own
 * names) and resumed=1 as they are, and the client certificate's
 * subject, which the client chose, quoted and escaped as a message is
 * (subject="..." before msg in text; "subject" in JSON, escaped as
 * msg's text: OpenSSL writes it in ASCII, so nothing is lost).
 */
#include "config.h"

#include <sys/wait.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "common.h"
#include "logfmt.h"

static const char logfmt_hex[] = "0123456789abcdef";

/* Room an escaped message can take: \xNN is the longest text escape. */
size_t
logfmt_text_max(size_t len)
{
	return (len * 4);
}

/*
 * Room an escaped message can take in JSON: \u00NN (6 bytes) for a 1-byte
 * control character is the worst (a longer character's escape is never
 * longer than 6 bytes either), and base64 takes at most 4 bytes per 3.
 */
size_t
logfmt_json_max(size_t len)
{
	return (len * 6);
}

/* Room the base64 of len bytes takes: 4 for every 3, padded. */
size_t
logfmt_base64_max(size_t len)
{
	return ((len + 2) / 3 * 4);
}

/*
 * Room a TLS connection's fields can take: tls= and resumed= as they
 * are, the subject escaped (json's escapes are the longer) and quoted.
 */
static size_t
logfmt_tls_max(void)
{
	return (LOGFMT_TLS_MAX + 32 + logfmt_json_max(LOGFMT_SUBJECT_MAX));
}

/* Room a whole line can take, with a message of msg_len and extra fields. */
size_t
logfmt_line_max(enum ackd_log_format fmt, size_t msg_len, size_t extra_len)
{
	size_t	escaped;

	escaped = fmt == ACKD_LOG_JSON ? logfmt_json_max(msg_len) :
	    logfmt_text_max(msg_len);
	/* fixed fields stay well under 256; json quotes each extra field */
	return (256 + ACKD_ADDRSTRLEN + ACKD_TAG_MAX + escaped +
	    2 * extra_len + logfmt_tls_max());
}

/* Write ts as 2026-11-25T08:26:33.123456Z; 0 if size is too small. */
size_t
logfmt_timestamp(char *buf, size_t size, const struct timespec *ts)
{
	struct tm	tm;
	time_t		sec = ts->tv_sec;
	long		usec = ts->tv_nsec / 1000;
	int		i;

	if (size < LOGFMT_TIMESTAMP_LEN + 1 || gmtime_r(&sec, &tm) == NULL)
		return (0);
	/* strftime then a hand-made fraction: snprintf on the hot path is slow */
	if (strftime(buf, size, "%Y-%m-%dT%H:%M:%S.", &tm) != 20)
		return (0);
	for (i = 25; i >= 20; i--) {
		buf[i] = '0' + usec % 10;
		usec /= 10;
	}
	buf[26] = 'Z';
	buf[27] = '\0';
	return (LOGFMT_TIMESTAMP_LEN);
}

/* Escape len bytes of src into dst (logfmt_text_max(len) bytes of room). */
size_t
logfmt_escape_text(char *dst, const unsigned char *src, size_t len)
{
	char	*p = dst;
	size_t	 i;

	for (i = 0; i < len; i++) {
		unsigned char	c = src[i];

		if (c == '\\' || c == '"') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c >= 0x20 && c < 0x7f)
			*p++ = (char)c;
		else if (c == '\n' || c == '\r' || c == '\t') {
			*p++ = '\\';
			*p++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else {
			*p++ = '\\';
			*p++ = 'x';
			*p++ = logfmt_hex[c >> 4];
			*p++ = logfmt_hex[c & 0xf];
		}
	}
	return ((size_t)(p - dst));
}

/*
 * The length (1-4) of the strictly valid UTF-8 sequence at s, len bytes
 * available, and its code point in *cp; 0 if it is not one (RFC 3629's
 * table: the second byte's range depends on the first, which rules out
 * overlong forms, surrogates and code points past U+10FFFF).
 */
static size_t
logfmt_utf8_seq(const unsigned char *s, size_t len, unsigned long *cp)
{
	unsigned char	c = s[0], lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (c < 0x80) {
		*cp = c;
		return (1);
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return (0);
	if (c == 0xe0)
		lo = 0xa0;	/* below: overlong */
	else if (c == 0xed)
		hi = 0x9f;	/* above: U+D800-U+DFFF, surrogates */
	else if (c == 0xf0)
		lo = 0x90;	/* below: overlong */
	else if (c == 0xf4)
		hi = 0x8f;	/* above: past U+10FFFF */
	if (len < n || s[1] < lo || s[1] > hi)
		return (0);
	*cp = c & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if (i > 1 && (s[i] < 0x80 || s[i] > 0xbf))
			return (0);
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return (n);
}

/* Is s[0..len) strictly valid UTF-8 (see logfmt_utf8_seq)? */
int
logfmt_utf8_valid(const unsigned char *s, size_t len)
{
	unsigned long	cp;
	size_t		i = 0, n;

	while (i < len) {
		/* a run of ASCII needs no decoding */
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = logfmt_utf8_seq(s + i, len - i, &cp)) == 0)
			return (0);
		i += n;
	}
	return (1);
}

/*
 * Must code point cp be written as a \uNNNN escape in JSON? The control
 * characters (C0, DEL, C1: a terminal may act on them) and U+2028 and
 * U+2029, which end a line for JavaScript and some log viewers.
 */
static int
logfmt_json_hex(unsigned long cp)
{
	return (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
	    cp == 0x2029);
}

/*
 * Write code point cp, whose n bytes of UTF-8 are at raw, as JSON string
 * content at p: \" \\ \n \r \t, \uNNNN for logfmt_json_hex, else the raw
 * bytes. Returns the end of what was written (6 bytes at most).
 */
static char *
logfmt_json_char(char *p, unsigned long cp, const unsigned char *raw,
    size_t n)
{
	if (cp == '\\' || cp == '"') {
		*p++ = '\\';
		*p++ = (char)cp;
	} else if (cp == '\n' || cp == '\r' || cp == '\t') {
		*p++ = '\\';
		*p++ = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
	} else if (logfmt_json_hex(cp)) {
		memcpy(p, "\\u", 2);
		p[2] = logfmt_hex[cp >> 12 & 0xf];
		p[3] = logfmt_hex[cp >> 8 & 0xf];
		p[4] = logfmt_hex[cp >> 4 & 0xf];
		p[5] = logfmt_hex[cp & 0xf];
		p += 6;
	} else {
		memcpy(p, raw, n);
		p += n;
	}
	return (p);
}

/*
 * Escape len bytes of UTF-8 as the inside of a JSON string, character by
 * character (logfmt_json_char), so a JSON decoder gives back exactly the
 * text. A byte that starts no valid sequence becomes \ufffd, so the
 * output is valid UTF-8 whatever src is; logfmt_line never relies on
 * that (an invalid message goes out as msg_b64).
 */
size_t
logfmt_escape_json(char *dst, const unsigned char *src, size_t len)
{
	char		*p = dst;
	size_t		 i = 0, n;
	unsigned long	 cp;

	while (i < len) {
		if ((n = logfmt_utf8_seq(src + i, len - i, &cp)) == 0) {
			/* 6 bytes for 1: within logfmt_json_max */
			memcpy(p, "\\ufffd", 6);
			p += 6;
			n = 1;
		} else
			p = logfmt_json_char(p, cp, src + i, n);
		i += n;
	}
	return ((size_t)(p - dst));
}

/* Write the base64 of len bytes of src (RFC 4648, padded) into dst. */
size_t
logfmt_base64(char *dst, const unsigned char *src, size_t len)
{
	static const char	 b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char			*p = dst;
	unsigned long		 v;
	size_t			 i;

	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned long)src[i] << 16 | src[i + 1] << 8 | src[i + 2];
		*p++ = b64[v >> 18];
		*p++ = b64[v >> 12 & 0x3f];
		*p++ = b64[v >> 6 & 0x3f];
		*p++ = b64[v & 0x3f];
	}
	if (i < len) {
		v = (unsigned long)src[i] << 16 |
		    (i + 1 < len ? src[i + 1] << 8 : 0);
		*p++ = b64[v >> 18];
		*p++ = b64[v >> 12 & 0x3f];
		*p++ = i + 1 < len ? b64[v >> 6 & 0x3f] : '=';
		*p++ = '=';
	}
	return ((size_t)(p - dst));
}

/* Append len bytes at *p if they fit before end; 0 if they do not. */
static int
logfmt_put(char **p, const char *end, const char *s, size_t len)
{
	if ((size_t)(end - *p) < len)
		return (0);
	memcpy(*p, s, len);
	*p += len;
	return (1);
}

/* Append a NUL-terminated string. */
static int
logfmt_puts(char **p, const char *end, const char *s)
{
	return (logfmt_put(p, end, s, strlen(s)));
}

/* Append an unsigned number in decimal. */
static int
logfmt_putu(char **p, const char *end, unsigned long long v)
{
	char	 tmp[24], *t = tmp + sizeof(tmp);

	do {
		*--t = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	return (logfmt_put(p, end, t, (size_t)(tmp + sizeof(tmp) - t)));
}

/* Is s[0..len) a plain decimal number, which JSON may carry unquoted? */
static int
logfmt_is_number(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > 18 || (len > 1 && s[0] == '0'))
		return (0);
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return (0);
	return (1);
}

/*
 * Append "key=value key=value" extra fields as JSON members. The daemon
 * writes these itself (never client bytes), without spaces or quotes in
 * values, so splitting on spaces and '=' is exact.
 */
static int
logfmt_json_extra(char **p, const char *end, const char *extra)
{
	const char	*s = extra, *eq, *sp;

	while (*s != '\0') {
		sp = strchr(s, ' ');
		if (sp == NULL)
			sp = s + strlen(s);
		eq = memchr(s, '=', (size_t)(sp - s));
		if (eq != NULL && eq > s) {
			size_t	vlen = (size_t)(sp - eq - 1);
			int	num = logfmt_is_number(eq + 1, vlen);

			if (!logfmt_puts(p, end, ",\"") ||
			    !logfmt_put(p, end, s, (size_t)(eq - s)) ||
			    !logfmt_puts(p, end, num ? "\":" : "\":\"") ||
			    !logfmt_put(p, end, eq + 1, vlen) ||
			    (!num && !logfmt_puts(p, end, "\"")))
				return (0);
		}
		s = *sp == ' ' ? sp + 1 : sp;
	}
	return (1);
}

/*
 * Append head (such as ` subject="'), len client bytes escaped as text,
 * and the closing quote.
 */
static int
logfmt_text_quoted(char **p, const char *end, const char *head,
    const unsigned char *s, size_t len)
{
	if (!logfmt_puts(p, end, head) ||
	    (size_t)(end - *p) < logfmt_text_max(len) + 1)
		return (0);
	*p += logfmt_escape_text(*p, s, len);
	*(*p)++ = '"';
	return (1);
}

/* The text form of rec; see logfmt_line. */
static size_t
logfmt_text_line(char *buf, size_t size, const struct logfmt_record *rec)
{
	char	*p = buf, *end = buf + size;

	if ((p += logfmt_timestamp(p, size, rec->when)) == buf)
		return (0);
	if (!logfmt_puts(&p, end, " ") ||
	    !logfmt_puts(&p, end, rec->client != NULL ? rec->client : "-") ||
	    !logfmt_puts(&p, end, " pid=") ||
	    !logfmt_putu(&p, end, (unsigned long long)rec->pid))
		return (0);
	/* between pid and event: one fixed place in every line, if any */
	if (rec->tag != NULL && (!logfmt_puts(&p, end, " tag=") ||
	    !logfmt_puts(&p, end, rec->tag)))
		return (0);
	if (!logfmt_puts(&p, end, " event=") ||
	    !logfmt_puts(&p, end, rec->event))
		return (0);
	if (rec->client != NULL && (!logfmt_puts(&p, end, " bytes=") ||
	    !logfmt_putu(&p, end, rec->bytes)))
		return (0);
	if (rec->tls != NULL && (!logfmt_puts(&p, end, " tls=") ||
	    !logfmt_puts(&p, end, rec->tls) ||
	    (rec->resumed && !logfmt_puts(&p, end, " resumed=1"))))
		return (0);
	if (rec->extra != NULL && rec->extra[0] != '\0' &&
	    (!logfmt_puts(&p, end, " ") || !logfmt_puts(&p, end, rec->extra)))
		return (0);
	if (rec->subject != NULL && !logfmt_text_quoted(&p, end, " subject=\"",
	    rec->subject, rec->subject_len))
		return (0);
	if (rec->msg != NULL) {
		if (!logfmt_puts(&p, end, " msg=\"") ||
		    (size_t)(end - p) < logfmt_text_max(rec->msg_len) + 2)
			return (0);
		p += logfmt_escape_text(p, rec->msg, rec->msg_len);
		*p++ = '"';
	}
	if (!logfmt_puts(&p, end, "\n"))
		return (0);
	return ((size_t)(p - buf));
}

/*
 * Append the message as JSON: "msg", its text, if it is valid UTF-8, else
 * "msg_b64", the base64 of its bytes. Room for the worst case is wanted
 * either way, so that the line is written in one pass.
 */
static int
logfmt_json_msg(char **p, const char *end, const struct logfmt_record *rec)
{
	int	text = logfmt_utf8_valid(rec->msg, rec->msg_len);

	if (!logfmt_puts(p, end, text ? ",\"msg\":\"" : ",\"msg_b64\":\"") ||
	    (size_t)(end - *p) < (text ? logfmt_json_max(rec->msg_len) :
	    logfmt_base64_max(rec->msg_len)) + 1)
		return (0);
	*p += text ? logfmt_escape_json(*p, rec->msg, rec->msg_len) :
	    logfmt_base64(*p, rec->msg, rec->msg_len);
	*(*p)++ = '"';
	return (1);
}

/*
 * Append the client certificate's subject as a JSON string: client
 * bytes, escaped as msg's text (OpenSSL writes it as ASCII, escaping the
 * rest, so nothing is lost).
 */
static int
logfmt_json_subject(char **p, const char *end, const struct logfmt_record *rec)
{
	if (!logfmt_puts(p, end, ",\"subject\":\"") ||
	    (size_t)(end - *p) < logfmt_json_max(rec->subject_len) + 1)
		return (0);
	*p += logfmt_escape_json(*p, rec->subject, rec->subject_len);
	*(*p)++ = '"';
	return (1);
}

/* The JSON form of rec; see logfmt_line. */
static size_t
logfmt_json_line(char *buf, size_t size, const struct logfmt_record *rec)
{
	char	*p = buf, *end = buf + size;
	char	 ts[LOGFMT_TIMESTAMP_LEN + 1];

	if (logfmt_timestamp(ts, sizeof(ts), rec->when) == 0)
		return (0);
	if (!logfmt_puts(&p, end, "{\"ts\":\"") ||
	    !logfmt_puts(&p, end, ts) || !logfmt_puts(&p, end, "\""))
		return (0);
	if (rec->client != NULL && (!logfmt_puts(&p, end, ",\"client\":\"") ||
	    !logfmt_puts(&p, end, rec->client) || !logfmt_puts(&p, end, "\"")))
		return (0);
	if (!logfmt_puts(&p, end, ",\"pid\":") ||
	    !logfmt_putu(&p, end, (unsigned long long)rec->pid))
		return (0);
	if (rec->tag != NULL && (!logfmt_puts(&p, end, ",\"tag\":\"") ||
	    !logfmt_puts(&p, end, rec->tag) || !logfmt_puts(&p, end, "\"")))
		return (0);
	if (!logfmt_puts(&p, end, ",\"event\":\"") ||
	    !logfmt_puts(&p, end, rec->event) || !logfmt_puts(&p, end, "\""))
		return (0);
	if (rec->client != NULL && (!logfmt_puts(&p, end, ",\"bytes\":") ||
	    !logfmt_putu(&p, end, rec->bytes)))
		return (0);
	if (rec->tls != NULL && (!logfmt_puts(&p, end, ",\"tls\":\"") ||
	    !logfmt_puts(&p, end, rec->tls) || !logfmt_puts(&p, end, "\"") ||
	    (rec->resumed && !logfmt_puts(&p, end, ",\"resumed\":1"))))
		return (0);
	if (rec->extra != NULL && !logfmt_json_extra(&p, end, rec->extra))
		return (0);
	if (rec->subject != NULL && !logfmt_json_subject(&p, end, rec))
		return (0);
	if (rec->msg != NULL && !logfmt_json_msg(&p, end, rec))
		return (0);
	if (!logfmt_puts(&p, end, "}\n"))
		return (0);
	return ((size_t)(p - buf));
}

/* Append v as two digits, or as a space and a digit if pad is ' '. */
static int
logfmt_put2(char **p, const char *end, int v, char pad)
{
	char	d[2];

	d[0] = v >= 10 ? (char)('0' + v / 10 % 10) : pad;
	d[1] = (char)('0' + v % 10);
	return (logfmt_put(p, end, d, 2));
}

/*
 * Write the header of an RFC 3164 syslog datagram, the form syslog(3)
 * sends to /dev/log: "<PRI>Mmm dd hh:mm:ss TAG[PID]: ", tm in local time.
 * Month names by hand: strftime's %b would follow the locale. Returns the
 * length (LOGFMT_SYSLOG_HEAD_MAX always fits), or 0 if size is too small.
 */
size_t
logfmt_syslog_head(char *buf, size_t size, int pri, const struct tm *tm,
    const char *tag, pid_t pid)
{
	static const char	months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char			*p = buf, *end = buf + size;
	int			 mon = tm->tm_mon >= 0 && tm->tm_mon < 12 ?
				    tm->tm_mon : 0;

	if (!logfmt_puts(&p, end, "<") ||
	    !logfmt_putu(&p, end, (unsigned long long)pri) ||
	    !logfmt_puts(&p, end, ">") ||
	    !logfmt_put(&p, end, months + 3 * mon, 3) ||
	    !logfmt_puts(&p, end, " ") ||
	    !logfmt_put2(&p, end, tm->tm_mday, ' ') ||
	    !logfmt_puts(&p, end, " ") ||
	    !logfmt_put2(&p, end, tm->tm_hour, '0') ||
	    !logfmt_puts(&p, end, ":") ||
	    !logfmt_put2(&p, end, tm->tm_min, '0') ||
	    !logfmt_puts(&p, end, ":") ||
	    !logfmt_put2(&p, end, tm->tm_sec, '0') ||
	    !logfmt_puts(&p, end, " ") || !logfmt_puts(&p, end, tag) ||
	    !logfmt_puts(&p, end, "[") ||
	    !logfmt_putu(&p, end, (unsigned long long)pid) ||
	    !logfmt_puts(&p, end, "]: "))
		return (0);
	return ((size_t)(p - buf));
}

/*
 * The longest message with nothing to escape (printable ASCII but " and
 * \, or UTF-8 text in JSON) whose syslog datagram, header included, is
 * sure to fit in limit bytes, with the other fields at their longest: the
 * longest client address and pid, tag (NULL: none, "ackd" in the header),
 * the extra fields given. 0 if not even an empty one fits.
 */
size_t
logfmt_syslog_fit(enum ackd_log_format fmt, const char *tag,
    const char *extra, size_t limit)
{
	struct logfmt_record	rec;
	struct timespec		ts = { 253402300799, 999999999 };
	struct tm		tm;
	char			line[1024], client[ACKD_ADDRSTRLEN];
	size_t			head, len;

	memset(&tm, 0, sizeof(tm));
	memset(client, '9', sizeof(client) - 1);
	client[sizeof(client) - 1] = '\0';
	memset(&rec, 0, sizeof(rec));
	rec.when = &ts;
	rec.client = client;
	rec.pid = 2147483647;
	rec.tag = tag;
	rec.event = "message";
	rec.bytes = limit;	/* no message that fits has more digits */
	rec.msg = (const unsigned char *)"x";
	rec.msg_len = 1;
	rec.extra = extra;
	head = logfmt_syslog_head(line, sizeof(line), 191, &tm,
	    tag != NULL ? tag : "ackd", 2147483647);
	/* the datagram is the line without its '\n', "x" is the message */
	if (head == 0 || (len = logfmt_line(line, sizeof(line), fmt,
	    &rec)) == 0 || head + len - 2 >= limit)
		return (0);
	return (limit - (head + len - 2));
}

/*
 * Format one whole log line, '\n' included, into buf. Returns its length,
 * or 0 if it does not fit in size (logfmt_line_max always does).
 */
size_t
logfmt_line(char *buf, size_t size, enum ackd_log_format fmt,
    const struct logfmt_record *rec)
{
	if (fmt == ACKD_LOG_JSON)
		return (logfmt_json_line(buf, size, rec));
	return (logfmt_text_line(buf, size, rec));
}

/*
 * Copy s into buf as one value of an extra field: every byte that could
 * end the field or the line, or is not printable ASCII (space, control
 * bytes, '"', '\\', bytes from 0x7f), and '%' itself, becomes %XX, so
 * the value splits exactly on spaces and decodes back to s. Returns the
 * length (0 for an empty s), or 0 with buf empty if it does not fit in
 * size.
 */
size_t
logfmt_token(char *buf, size_t size, const char *s)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 len = 0;

	for (; *u != '\0'; u++) {
		if (*u > ' ' && *u < 0x7f && *u != '"' && *u != '\\' &&
		    *u != '%') {
			if (len + 1 >= size)
				break;
			buf[len++] = (char)*u;
			continue;
		}
		if (len + 3 >= size)
			break;
		buf[len++] = '%';
		buf[len++] = logfmt_hex[*u >> 4];
		buf[len++] = logfmt_hex[*u & 0xf];
	}
	if (*u != '\0' || size == 0) {
		if (size > 0)
			buf[0] = '\0';
		return (0);
	}
	buf[len] = '\0';
	return (len);
}

/*
 * Write a wait status as the log's status= value: "exited:N" for an exit
 * status N, "killed:SIG" for a signal, "unknown:STATUS" otherwise. One
 * spelling for the worker-exit event and a failed upgrade's reason.
 */
void
logfmt_wait_status(char *buf, size_t size, int status)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited:%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed:%d", WTERMSIG(status));
	else
		snprintf(buf, size, "unknown:%d", status);
}
