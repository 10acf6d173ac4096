/*
 * logfmt.c: the connection log's lines, as pure functions of their fields.
 *
 * Nothing here does I/O or allocates, so the escapers can be unit-tested
 * byte by byte and fuzzed. Both escapers write only printable ASCII: no
 * client byte can end a line, close the quoted field, or reach a terminal
 * as a control sequence (C1 bytes 0x80-0x9F included).
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "ackd.h"

static const char logfmt_hex[] = "0123456789abcdef";

/* Room an escaped message can take: \xNN is the longest text escape. */
size_t
logfmt_text_max(size_t len)
{
	return (len * 4);
}

/* Room an escaped message can take: \u00NN is the longest JSON escape. */
size_t
logfmt_json_max(size_t len)
{
	return (len * 6);
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
	    2 * extra_len);
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
 * Escape len bytes of src as the inside of a JSON string. Bytes outside
 * printable ASCII become \u00NN, so byte B decodes to code point U+00BB:
 * lossless, and the line stays valid UTF-8 whatever the client sent.
 */
size_t
logfmt_escape_json(char *dst, const unsigned char *src, size_t len)
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
			memcpy(p, "\\u00", 4);
			p[4] = logfmt_hex[c >> 4];
			p[5] = logfmt_hex[c & 0xf];
			p += 6;
		}
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
	if (rec->extra != NULL && rec->extra[0] != '\0' &&
	    (!logfmt_puts(&p, end, " ") || !logfmt_puts(&p, end, rec->extra)))
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
	if (rec->extra != NULL && !logfmt_json_extra(&p, end, rec->extra))
		return (0);
	if (rec->msg != NULL) {
		if (!logfmt_puts(&p, end, ",\"msg\":\"") ||
		    (size_t)(end - p) < logfmt_json_max(rec->msg_len) + 1)
			return (0);
		p += logfmt_escape_json(p, rec->msg, rec->msg_len);
		*p++ = '"';
	}
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
