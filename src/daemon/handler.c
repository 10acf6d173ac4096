/* SPDX-License-Identifier: MIT */
/*
 * handler.c: one connection's life: receive, log, ACK, close.
 *
 * The ACK goes out only after the log line was written whole, so an
 * acknowledged message is always a logged message. Whatever the client
 * does (nothing, reset, vanish) ends as an event line and a counter;
 * nothing here can stop the worker.
 *
 * A handler never waits for the network. It reads what has arrived
 * (frame_read_now); when the message is not complete yet, it keeps the
 * connection's state in a pend (pend.c) and hands the connection to the
 * worker's event stage (stage.c), which queues it again once more bytes
 * arrive or its deadline passes, and takes the next one. The lingering
 * drain after a truncated message happens in the stage too. So a few
 * slow clients cost descriptors, not threads, and cannot starve the
 * rest. The common path (the message is there when the connection is
 * accepted, as TCP_DEFER_ACCEPT arranges) costs no system call more.
 *
 * TLS (a connection accepted on a --tls-port listener, conn.tls): after
 * the PROXY header, if one comes, the handshake (tls_conn.c) goes as
 * far as the client's bytes go, and waits in the stage like a partial
 * message (for room to write, too: PEND_WRITE), within the same read
 * deadline; its SSL moves into the pend while it waits. A failed
 * handshake is logged as tls-failed with its reason, counted, never
 * acknowledged. Then the message is read with SSL_read (frame_read_now
 * given the tls_conn), the ACK written with SSL_write and followed by
 * our close_notify. A plain connection pays a test of conn.tls and of
 * h->tls, nothing more.
 *
 * Memory: a handler owns, for the thread's life, buffers for a message
 * of up to ACKD_SMALL_MAX bytes and its line; a message that size costs no
 * lock, allocation or system call more. A larger one takes its share of
 * the worker's budget (bigbuf.c) and moves into mappings of its own,
 * which handler_release unmaps, giving the share back, before the
 * connection lingers or closes. When no share is free, the connection
 * waits for one in the stage, up to its read deadline. So a thread
 * holds large buffers only while it serves a large message.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"
#include "tls.h"
#include "worker.h"

/* handler_receive: the message needs a share of the budget, none is free */
#define HANDLER_NO_SHARE	(-4)
/* handler_tls: the handshake waits for room to write */
#define HANDLER_WANT_WRITE	(-5)

/* Seconds since the epoch of the last log failure reported on stderr. */
static atomic_long	handler_last_warning;

/*
 * Give h its own buffers, for the life of the thread: a small message
 * (plus one byte to see truncation) and its line. Larger ones come from
 * budget, per connection.
 */
int
handler_init(struct handler *h, const struct ackd_config *cfg,
    struct stats *stats, struct bigbuf *budget, struct stage *stage)
{
	memset(h, 0, sizeof(*h));
	h->cfg = cfg;
	h->stats = stats;
	h->budget = budget;
	h->stage = stage;
	h->pid = getpid();	/* glibc no longer caches it: a syscall a line */
	h->small_size = conf_small_size(cfg);
	h->line_size = logfmt_line_max(cfg->log_format, h->small_size,
	    ACKD_EXTRA_MAX);
	h->small = malloc(h->small_size);
	h->line = malloc(h->line_size);
	h->pbuf = cfg->proxy_protocol ? malloc(PROXY_HEADER_MAX) : NULL;
	h->buf = h->small;
	if (h->small == NULL || h->line == NULL ||
	    (cfg->proxy_protocol && h->pbuf == NULL)) {
		handler_free(h);
		return (-1);
	}
	return (0);
}

/* Release what handler_init took. */
void
handler_free(struct handler *h)
{
	free(h->small);
	free(h->line);
	free(h->pbuf);
	h->small = h->buf = NULL;
	h->line = NULL;
	h->pbuf = NULL;
}

/*
 * Take up c: a fresh connection starts with the thread's own buffers, no
 * budget, and its deadline counted from its accept; one that waited
 * resumes from its pend where it was (a large message's mapping comes
 * back as it is, a small one's bytes into the thread's buffer).
 */
static void
handler_begin(struct handler *h, const struct conn *c)
{
	const struct ackd_config	*cfg = h->cfg;
	struct pend			*p = c->pend;
	unsigned char			*map;
	size_t				 size;

	h->buf = h->small;
	h->buf_map = 0;
	if (p == NULL) {
		/* the address accept() gave: no getpeername() per connection */
		addr_format(h->client, sizeof(h->client), &c->addr.sa,
		    c->addrlen);
		h->via[0] = '\0';
		h->expired = 0;
		h->deadline_ms = c->accepted_ms + cfg->read_timeout_ms;
		frame_init(&h->fr, cfg->framing, cfg->max_message + 1);
		h->fr.room = h->small_size;
		h->proxy_done = !cfg->proxy_protocol;
		h->proxy_have = 0;
		h->tls = NULL;
		return;
	}
	h->tls = p->tls;	/* the handler's while it serves */
	p->tls = NULL;
	h->expired = p->expired;
	h->deadline_ms = p->deadline_ms;
	h->fr = p->fr;
	memcpy(h->client, p->client, sizeof(h->client));
	memcpy(h->via, p->via, sizeof(h->via));
	h->proxy_done = p->proxy_done;
	h->proxy_have = p->proxy_have;
	if (h->proxy_have > 0)
		memcpy(h->pbuf, p->pbuf, h->proxy_have);
	if ((map = pend_take_map(p, &size)) != NULL) {
		h->buf = map;
		h->buf_map = size;
		h->held = 1;
	} else if (h->fr.len > 0)
		memcpy(h->small, p->buf, h->fr.len);
	if (p->held) {		/* a share the stage took for it */
		h->held = 1;
		p->held = 0;
	}
}

/* Is the connection past its read deadline? Read only when it must wait. */
static int
handler_expired(struct handler *h)
{
	return (h->expired || mono_ms() >= h->deadline_ms);
}

/* Unmap the connection's large buffers and give their budget back. */
static void
handler_release(struct handler *h)
{
	if (h->buf_map > 0)
		bigbuf_unmap(h->buf, h->buf_map);
	bigbuf_unmap(h->big_line, h->big_line_size);
	if (h->held)
		bigbuf_give(h->budget);
	h->buf = h->small;
	h->buf_map = 0;
	h->big_line = NULL;
	h->big_line_size = 0;
	h->held = 0;
}

/*
 * Take the budget of a large message (all it can need), once, without
 * waiting; 0, or -1 with errno EAGAIN. handler_release gives it back.
 */
static int
handler_take(struct handler *h)
{
	if (!h->held && bigbuf_try(h->budget) == -1)
		return (-1);
	h->held = 1;
	return (0);
}

/*
 * The small buffer is full and the message goes on: take its budget and
 * move it into a mapping of fr->size bytes, of which only the pages the
 * message reaches take memory. 0, or -1 with errno (EAGAIN: no share is
 * free now).
 */
static int
handler_grow(struct handler *h, struct frame *fr)
{
	unsigned char	*map;

	if (handler_take(h) == -1 || (map = bigbuf_map(fr->size)) == NULL)
		return (-1);
	memcpy(map, h->small, fr->len);
	h->buf = map;
	h->buf_map = fr->size;
	fr->room = fr->size;
	return (0);
}

/*
 * Where to format a line with a message of msg_len bytes: the thread's
 * line buffer, or a mapping of the size it needs, within the
 * connection's budget. NULL with errno if no share is free.
 */
static char *
handler_line_buf(struct handler *h, size_t msg_len, size_t *size)
{
	size_t	need = logfmt_line_max(h->cfg->log_format, msg_len,
		    ACKD_EXTRA_MAX);

	*size = need <= h->line_size ? h->line_size : h->big_line_size;
	if (need <= h->line_size)
		return (h->line);
	if (h->big_line != NULL)	/* the one large line of a connection */
		return (need <= h->big_line_size ? h->big_line : NULL);
	if (handler_take(h) == -1 || (h->big_line = bigbuf_map(need)) == NULL)
		return (NULL);
	h->big_line_size = *size = need;
	return (h->big_line);
}

/* A short name for the errno values a read can end with. */
static const char *
handler_errno_name(int err)
{
	switch (err) {
	case ECONNABORTED:	return ("ECONNABORTED");
	case EHOSTUNREACH:	return ("EHOSTUNREACH");
	case ENETUNREACH:	return ("ENETUNREACH");
	case ENOTCONN:		return ("ENOTCONN");
	case ENOBUFS:		return ("ENOBUFS");
	case ENOMEM:		return ("ENOMEM");
	case EPIPE:		return ("EPIPE");
	case EPROTO:		return ("EPROTO");	/* TLS, after the handshake */
	default:		return ("other");
	}
}

/*
 * rec's line was too long for --syslog-max (EMSGSIZE) and is about an
 * unacknowledged partial message (timeout, reset, error): log the event
 * without the message, saying so, rather than not at all.
 */
static int
handler_log_omitted(struct handler *h, struct logfmt_record *rec)
{
	char	extra[sizeof(h->via) + 96];
	size_t	len;

	snprintf(extra, sizeof(extra), "%s%smsg_omitted=too-long",
	    rec->extra != NULL ? rec->extra : "",
	    rec->extra != NULL ? " " : "");
	rec->msg = NULL;
	rec->msg_len = 0;
	rec->extra = extra;
	len = logfmt_line(h->line, h->line_size, h->cfg->log_format, rec);
	return (len > 0 ? msglog_write(h->line, len, rec->event) : -1);
}

/*
 * A TLS connection's fields, once its handshake is over: tls= into desc
 * (LOGFMT_TLS_MAX bytes), the client certificate's subject into subject
 * (LOGFMT_SUBJECT_MAX bytes, escaped by logfmt as client bytes), and
 * whether the session was resumed.
 */
static void
handler_tls_fields(struct handler *h, struct logfmt_record *rec, char *desc,
    char *subject)
{
	if (tls_conn_describe(h->tls, desc, LOGFMT_TLS_MAX) == 0)
		return;
	rec->tls = desc;
	rec->resumed = tls_conn_resumed(h->tls);
	rec->subject_len = tls_conn_subject(h->tls, subject,
	    LOGFMT_SUBJECT_MAX);
	if (rec->subject_len > 0)
		rec->subject = (const unsigned char *)subject;
}

/* Format and write one line for this connection; 0 if it is in the log. */
static int
handler_log(struct handler *h, const struct timespec *now, const char *client,
    const char *event, size_t bytes, size_t msg_len, const char *extra)
{
	struct logfmt_record	rec;
	size_t			len, size;
	char			both[sizeof(h->via) + 64], *line;
	char			desc[LOGFMT_TLS_MAX], subject[LOGFMT_SUBJECT_MAX];

	/* a proxied connection's lines all say which balancer relayed it */
	if (h->via[0] != '\0') {
		snprintf(both, sizeof(both), "%s%s%s", h->via,
		    extra != NULL ? " " : "", extra != NULL ? extra : "");
		extra = both;
	}
	/* no budget for a large partial message's line: log it without */
	if ((line = handler_line_buf(h, msg_len, &size)) == NULL) {
		msg_len = 0;
		line = handler_line_buf(h, 0, &size);
	}
	rec.when = now;
	rec.client = client;
	rec.pid = h->pid;
	rec.event = event;
	rec.bytes = bytes;
	rec.msg = msg_len > 0 ? h->buf : NULL;
	rec.msg_len = msg_len;
	rec.extra = extra;
	rec.tag = h->cfg->log_tag;
	rec.tls = NULL;
	rec.subject = NULL;
	rec.subject_len = 0;
	rec.resumed = 0;
	if (h->tls != NULL)
		handler_tls_fields(h, &rec, desc, subject);
	len = logfmt_line(line, size, h->cfg->log_format, &rec);
	if (len == 0) {
		errno = EOVERFLOW;	/* cannot happen: size is the max */
		return (-1);
	}
	if (msglog_write(line, len, event) == 0)
		return (0);
	if (errno != EMSGSIZE || msg_len == 0 || strcmp(event, "message") == 0)
		return (-1);
	return (handler_log_omitted(h, &rec));
}

/*
 * handler_log for an event a client causes without a message: written
 * unless evlimit counts it for a summary of its source's repeats.
 */
static void
handler_event(struct handler *h, const struct timespec *now,
    const char *client, const char *event, size_t bytes, size_t msg_len,
    const char *extra)
{
	if (evlimit_admit(event, client))
		handler_log(h, now, client, event, bytes, msg_len, extra);
}

/* Report a failed log write on stderr, at most once a second per process. */
static void
handler_warn_log_failure(const char *client)
{
	long	now = (long)time(NULL), last;

	last = atomic_load_explicit(&handler_last_warning, memory_order_relaxed);
	if (now == last || !atomic_compare_exchange_strong(&handler_last_warning,
	    &last, now))
		return;
	diag_warn("cannot log the message from %s, not acknowledged", client);
}

/* A large message found no budget: count and log it; no ACK. */
static void
handler_memory_refused(struct handler *h, const char *client, size_t got)
{
	struct timespec	now;

	clock_gettime(CLOCK_REALTIME, &now);
	stats_add(h->stats, STATS_MEMORY_REFUSED, 1);
	handler_log(h, &now, client, "memory-refused", got, 0, NULL);
}

/*
 * Log and acknowledge a message of n bytes that arrived in h->buf; excess:
 * the client sent more after it (--framing line), which is dropped. 1 if
 * the client may still be sending (handler_linger before the close).
 */
static int
handler_message(struct handler *h, int fd, const struct timespec *now,
    const char *client, size_t n, int excess)
{
	size_t	max = h->cfg->max_message, size;
	int	truncated = n > max;

	if (truncated)
		n = max;
	if (handler_line_buf(h, n, &size) == NULL) {
		handler_memory_refused(h, client, n);
		return (0);
	}
	if (truncated)
		stats_add(h->stats, STATS_TRUNCATED, 1);
	stats_add(h->stats, STATS_BYTES, n);
	if (handler_log(h, now, client, "message", n, n,
	    truncated ? "truncated=1" : NULL) == -1 ||
	    (h->cfg->sync && msglog_sync() == -1)) {
		/* EMSGSIZE: longer than --syslog-max, so never sent */
		int	too_long = errno == EMSGSIZE;

		stats_add(h->stats, STATS_LOG_FAILED, 1);
		handler_warn_log_failure(client);
		handler_log(h, now, client, "log-failed", n, 0,
		    too_long ? "reason=too-long" : NULL);
		return (0);
	}
	if ((h->tls != NULL ? tls_conn_write_all(h->tls, h->cfg->ack,
	    h->cfg->ack_len) : net_write_all(fd, h->cfg->ack,
	    h->cfg->ack_len)) == -1) {
		stats_add(h->stats, STATS_ACK_FAILED, 1);
		handler_log(h, now, client, "ack-failed", n, 0, NULL);
		return (0);
	}
	stats_add(h->stats, STATS_ACKED, 1);
	return (truncated || excess);
}

/*
 * Log a read that brought no message: n is 0 (end of file) or -1 (errno);
 * partial bytes of an unfinished message (--framing line, eof) are in
 * h->buf, logged with the failure and never acknowledged.
 */
static void
handler_nothing(struct handler *h, const char *client, ssize_t n,
    size_t partial)
{
	struct timespec	now;
	char		extra[32];

	clock_gettime(CLOCK_REALTIME, &now);
	if (n == 0) {
		stats_add(h->stats, STATS_EMPTY, 1);
		handler_event(h, &now, client, "empty", 0, 0, NULL);
	} else if (errno == ETIMEDOUT) {
		stats_add(h->stats, STATS_TIMEOUT, 1);
		handler_event(h, &now, client, "timeout", partial, partial,
		    NULL);
	} else if (errno == ECONNRESET) {
		stats_add(h->stats, STATS_RESET, 1);
		handler_event(h, &now, client, "reset", partial, partial, NULL);
	} else {
		stats_add(h->stats, STATS_ERROR, 1);
		snprintf(extra, sizeof(extra), "errno=%s",
		    handler_errno_name(errno));
		handler_event(h, &now, client, "error", partial, partial,
		    extra);
	}
}

/* Refuse a connection under --proxy-protocol: count, log why; -1. */
static int
handler_proxy_refuse(struct handler *h, const char *client, size_t got,
    const char *why)
{
	struct timespec	now;
	char		extra[64];

	clock_gettime(CLOCK_REALTIME, &now);
	stats_add(h->stats, STATS_PROXY_REFUSED, 1);
	snprintf(extra, sizeof(extra), "reason=%s", why);
	handler_event(h, &now, client, "proxy-refused", got, 0, extra);
	return (-1);
}

/*
 * --proxy-protocol with --allow: the client the header names (for LOCAL
 * and UNKNOWN, the peer, which the line names as client too) is in no
 * range. Count and log it like the worker's refusals at accept; -1.
 */
static int
handler_not_allowed(struct handler *h)
{
	struct timespec	now;

	clock_gettime(CLOCK_REALTIME, &now);
	stats_add(h->stats, STATS_NOT_ALLOWED, 1);
	if (evlimit_admit("not-allowed", h->client))
		handler_log(h, &now, h->client, "refused", 0, 0,
		    "reason=not-allowed");
	return (-1);
}

/*
 * Take the n header bytes the parser has seen (peeked) off the socket:
 * they are there, so this does not wait. 0, or -1 with errno.
 */
static int
handler_proxy_consume(struct handler *h, int fd, size_t from, size_t n)
{
	ssize_t	got;

	while (n > 0) {
		got = net_read_timed(fd, h->pbuf + from, n, 0);
		if (got <= 0)
			return (-1);
		from += (size_t)got;
		n -= (size_t)got;
	}
	return (0);
}

/*
 * --proxy-protocol: read what has arrived of the PROXY header, taking no
 * byte past it off the socket: the parser looks at peeked bytes, and
 * everything it has seen without a verdict is header (kept in h->pbuf,
 * h->proxy_have bytes, while the connection waits). Then h->client
 * becomes the header's client (the peer for LOCAL and UNKNOWN) and
 * h->via names the peer; with --allow, that client must be in a range.
 * 0 once the header is read, FRAME_AGAIN when the connection must wait
 * for more, -1 once a refused or silent connection has been logged.
 */
static int
handler_proxy(struct handler *h, const struct conn *c)
{
	const struct ackd_config	*cfg = h->cfg;
	struct proxy_header		 hdr;
	enum proxy_result		 r;
	size_t				 have = h->proxy_have;
	ssize_t				 n;

	if (cfg->proxy_from_n > 0 && !proxy_cidr_any(cfg->proxy_from,
	    cfg->proxy_from_n, &c->addr.sa, c->addrlen))
		return (handler_proxy_refuse(h, h->client, 0,
		    "untrusted-source"));
	for (;;) {
		n = recv(c->fd, h->pbuf + have, PROXY_HEADER_MAX - have,
		    MSG_PEEK | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!handler_expired(h))
				return (FRAME_AGAIN);
			errno = ETIMEDOUT;
		}
		if (n <= 0 && have == 0) {
			handler_nothing(h, h->client, n, 0);	/* as without a header */
			return (-1);
		}
		if (n == 0)
			return (handler_proxy_refuse(h, h->client, have,
			    "truncated"));
		if (n < 0)
			return (handler_proxy_refuse(h, h->client, have,
			    errno == ETIMEDOUT ? "timeout" : errno == ECONNRESET ?
			    "reset" : "read-error"));
		r = proxy_parse(h->pbuf, have + (size_t)n, &hdr);
		if (r == PROXY_INVALID)
			return (handler_proxy_refuse(h, h->client,
			    have + (size_t)n, hdr.why));
		if (r == PROXY_DONE)
			break;
		if (handler_proxy_consume(h, c->fd, have, (size_t)n) == -1)
			return (handler_proxy_refuse(h, h->client, have,
			    "read-error"));
		h->proxy_have = have += (size_t)n;
		if (have == PROXY_HEADER_MAX)	/* proxy_parse stops before */
			return (handler_proxy_refuse(h, h->client, have,
			    "too-long"));
	}
	if (handler_proxy_consume(h, c->fd, have, hdr.len - have) == -1)
		return (handler_proxy_refuse(h, h->client, have, "read-error"));
	h->proxy_done = 1;
	/* from here on, every line of the connection carries via */
	memcpy(h->via, "proxy=", 6);
	addr_format(h->via + 6, sizeof(h->via) - 6, &c->addr.sa,
	    c->addrlen);
	if (hdr.command == PROXY_CMD_PROXY)
		addr_format(h->client, sizeof(h->client),
		    (const struct sockaddr *)&hdr.src, hdr.srclen);
	else
		snprintf(h->via + strlen(h->via), sizeof(h->via) -
		    strlen(h->via), " proxy_cmd=%s",
		    hdr.command == PROXY_CMD_LOCAL ? "local" : "unknown");
	if (hdr.command == PROXY_CMD_PROXY ? !conf_allowed(cfg,
	    (const struct sockaddr *)&hdr.src, hdr.srclen) :
	    !conf_allowed(cfg, &c->addr.sa, c->addrlen))
		return (handler_not_allowed(h));
	return (0);
}

/* A TLS handshake failed (why: its reason and detail): count, log; -1. */
static int
handler_tls_failed(struct handler *h, const char *why)
{
	struct timespec	now;
	char		extra[64];

	clock_gettime(CLOCK_REALTIME, &now);
	stats_add(h->stats, STATS_TLS_FAILED, 1);
	snprintf(extra, sizeof(extra), "reason=%s", why);
	handler_event(h, &now, h->client, "tls-failed", 0, 0, extra);
	return (-1);
}

/*
 * A connection on a --tls-port: take its handshake as far as the bytes
 * go (the first time, give it its SSL). 0 once the handshake is over,
 * FRAME_AGAIN or HANDLER_WANT_WRITE when it must wait for the client,
 * -1 once a failure (past the deadline: a timeout) is logged.
 */
static int
handler_tls(struct handler *h, const struct conn *c)
{
	enum tls_step	 step;
	const char	*why;

	if (h->tls == NULL && (h->tls = tls_conn_new(c->fd)) == NULL) {
		handler_memory_refused(h, h->client, 0);
		return (-1);
	}
	if ((step = tls_conn_handshake(h->tls, &why)) == TLS_DONE)
		return (0);
	if (step == TLS_FAILED && strcmp(why, "empty") == 0) {
		handler_nothing(h, h->client, 0, 0);	/* no TLS byte at all */
		return (-1);
	}
	if (step == TLS_FAILED)
		return (handler_tls_failed(h, why));
	if (handler_expired(h))
		return (handler_tls_failed(h, "timeout"));
	return (step == TLS_WANT_READ ? FRAME_AGAIN : HANDLER_WANT_WRITE);
}

/* Send a TLS connection's close_notify and free its SSL, if it has one. */
static void
handler_tls_close(struct handler *h)
{
	if (h->tls == NULL)
		return;
	tls_conn_close(h->tls);
	h->tls = NULL;
}

/*
 * Read what has arrived of the message, in the thread's own buffer or,
 * once it outgrows that, in a mapping from the budget. As
 * frame_read_now, but past the deadline FRAME_AGAIN becomes -1 with
 * errno ETIMEDOUT, and a message that needs a share when none is free
 * gives HANDLER_NO_SHARE (FRAME_FULL past the deadline, or when the
 * system has no memory).
 */
static ssize_t
handler_receive(struct handler *h, int fd)
{
	ssize_t	n;

	for (;;) {
		n = frame_read_now(&h->fr, fd, h->tls, h->buf);
		if (n == FRAME_FULL) {
			if (handler_grow(h, &h->fr) == 0)
				continue;
			if (errno == EAGAIN && !handler_expired(h))
				return (HANDLER_NO_SHARE);
			return (FRAME_FULL);
		}
		if (n == FRAME_AGAIN && handler_expired(h)) {
			errno = ETIMEDOUT;
			return (-1);
		}
		return (n);
	}
}

/*
 * Keep what the connection has so far in its pend; 0, or -1 with errno
 * when there is no memory (or allowance) for it. The thread's buffers
 * are then free for the next connection.
 */
static int
handler_keep(struct handler *h, struct pend *p)
{
	p->deadline_ms = h->deadline_ms;
	p->fr = h->fr;
	if (h->buf_map > 0) {
		pend_keep_map(p, h->buf, h->buf_map, &h->stage->partial);
		h->buf = h->small;
		h->buf_map = 0;
		h->held = 0;
	} else if (pend_keep(p, h->buf, h->fr.len, h->small_size,
	    &h->stage->partial) == -1)
		return (-1);
	if (h->proxy_have > 0 && p->pbuf == NULL &&
	    (p->pbuf = malloc(PROXY_HEADER_MAX)) == NULL)
		return (-1);
	if (h->proxy_have > 0)
		memcpy(p->pbuf, h->pbuf, h->proxy_have);
	p->proxy_done = h->proxy_done;
	p->proxy_have = h->proxy_have;
	memcpy(p->client, h->client, sizeof(p->client));
	memcpy(p->via, h->via, sizeof(p->via));
	return (0);
}

/*
 * Hand c to the event stage to wait (for bytes, a share of the budget,
 * or the end of its linger) and be free for the next connection. A
 * connection that cannot be kept is refused for memory and closed.
 */
static void
handler_park(struct handler *h, const struct conn *c, enum pend_wait wait)
{
	struct pend	*p;

	if ((p = pend_get(c)) == NULL || (wait != PEND_LINGER &&
	    handler_keep(h, p) == -1)) {
		if (wait != PEND_LINGER)
			handler_memory_refused(h, h->client, h->fr.len);
		handler_tls_close(h);
		handler_release(h);
		h->via[0] = '\0';
		stage_close(h->stage, p != NULL ? &p->conn : c);
		return;
	}
	p->tls = h->tls;	/* the pend's while it waits; pend_free frees it */
	h->tls = NULL;
	handler_release(h);
	h->via[0] = '\0';
	stage_park(h->stage, p, wait);
}

/*
 * Serve c as far as its bytes go: log, ACK and close a complete message;
 * hand a connection that must wait to the event stage.
 */
void
handler_serve(struct handler *h, const struct conn *c)
{
	struct timespec		now;
	ssize_t			n;
	int			linger = 0;

	handler_begin(h, c);
	if (!h->proxy_done && (n = handler_proxy(h, c)) != 0) {
		if (n == FRAME_AGAIN) {
			handler_park(h, c, PEND_READ);
			return;
		}
		goto done;
	}
	if (c->tls && (n = handler_tls(h, c)) != 0) {
		if (n == FRAME_AGAIN || n == HANDLER_WANT_WRITE) {
			handler_park(h, c, n == FRAME_AGAIN ? PEND_READ :
			    PEND_WRITE);
			return;
		}
		goto done;
	}
	if ((n = handler_receive(h, c->fd)) == FRAME_AGAIN ||
	    n == HANDLER_NO_SHARE) {
		handler_park(h, c, n == FRAME_AGAIN ? PEND_READ : PEND_MEMORY);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (n > 0)
		linger = handler_message(h, c->fd, &now, h->client, (size_t)n,
		    h->fr.excess);
	else if (n == FRAME_FULL)
		handler_memory_refused(h, h->client, h->fr.len);
	else
		handler_nothing(h, h->client, n, h->fr.len);
done:
	/* over TLS, the ACK is followed by our close_notify (none after a
	 * failure), before a linger (which reads the socket, not the SSL)
	 * or the close */
	handler_tls_close(h);
	/* the memory goes back before a linger, which needs none; a client
	 * that may still be sending gets our end of file, then lingers in
	 * the stage (closing with its input unread could reset the ACK) */
	if (linger && shutdown(c->fd, SHUT_WR) == 0) {
		handler_park(h, c, PEND_LINGER);
		return;
	}
	handler_release(h);
	h->via[0] = '\0';
	stage_close(h->stage, c);
}
