/* SPDX-License-Identifier: MIT */
/*
 * logfmt.h: the pure formatting of log lines (logfmt.c), which the
 * daemon's connection log (msglog.c) and the diagnostics (diag.c) share:
 * the formats, a line's fields, and their limits. No I/O.
 */
#ifndef LOGFMT_H
#define LOGFMT_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#define ACKD_TAG_MAX		32	/* --log-tag, as RFC 3164 allows */

/* --log-format */
enum ackd_log_format {
	ACKD_LOG_TEXT,
	ACKD_LOG_JSON
};

#define LOGFMT_TIMESTAMP_LEN	27	/* 2026-11-25T08:26:33.123456Z */
/* a TLS connection's fields: tls= (version/cipher, OpenSSL's names) and
 * the client certificate's subject, raw, cut at this many bytes */
#define LOGFMT_TLS_MAX		64
#define LOGFMT_SUBJECT_MAX	256

/* one log line's fields */
struct logfmt_record {
	const struct timespec	*when;
	const char		*client;	/* NULL for daemon events */
	pid_t			 pid;
	const char		*tag;		/* NULL, or --log-tag */
	const char		*event;		/* "message", "empty", ... */
	size_t			 bytes;
	const unsigned char	*msg;		/* NULL: no msg field */
	size_t			 msg_len;
	const char		*extra;		/* NULL, or preformatted fields */
	const char		*tls;		/* NULL, or "TLSv1.3/CIPHER" */
	const unsigned char	*subject;	/* NULL, or the client cert's */
	size_t			 subject_len;
	int			 resumed;	/* a resumed TLS session */
};

/* "<191>Nov 25 08:26:33 " 21, the tag, "[2147483647]: " 14 */
#define LOGFMT_SYSLOG_HEAD_MAX	(21 + ACKD_TAG_MAX + 14 + 1)
struct tm;

/* logfmt.c: pure formatting of log lines; no I/O, fuzzable. */
size_t	logfmt_timestamp(char *, size_t, const struct timespec *);
size_t	logfmt_escape_text(char *, const unsigned char *, size_t);
size_t	logfmt_escape_json(char *, const unsigned char *, size_t);
size_t	logfmt_text_max(size_t);
size_t	logfmt_json_max(size_t);
int	logfmt_utf8_valid(const unsigned char *, size_t);
size_t	logfmt_base64(char *, const unsigned char *, size_t);
size_t	logfmt_base64_max(size_t);
size_t	logfmt_line_max(enum ackd_log_format, size_t, size_t);
size_t	logfmt_line(char *, size_t, enum ackd_log_format,
	    const struct logfmt_record *);
size_t	logfmt_syslog_head(char *, size_t, int, const struct tm *,
	    const char *, pid_t);
size_t	logfmt_syslog_fit(enum ackd_log_format, const char *, const char *,
	    size_t);
size_t	logfmt_token(char *, size_t, const char *);
void	logfmt_wait_status(char *, size_t, int);

#endif /* LOGFMT_H */
