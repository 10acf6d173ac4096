/* SPDX-License-Identifier: MIT */
/*
 * handler.c: one connection's life: receive, log, ACK, close.
 *
 * The ACK goes out only after the log line was written whole, so an
 * acknowledged message is always a logged message. Whatever the client
 * does (nothing, reset, vanish) ends as an event line and a counter;
 * nothing here can stop the worker.
 *
 * Memory: a handler owns, for the thread's life, buffers for a message
 * of up to BIGBUF_SMALL bytes and its line; a message that size costs no
 * lock, allocation or system call more. A larger one takes its share of
 * the worker's budget (bigbuf.c) and moves into mappings of its own,
 * which handler_release unmaps, giving the share back, before the
 * connection lingers or closes. So a thread holds large buffers only
 * while it serves a large message.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"
#include "worker.h"

/*
 * After a truncated message, input the client still sends is read and
 * dropped for this long in all (then a close may reset), in reads of
 * this size.
 */
#define HANDLER_LINGER_MS	1000
#define HANDLER_LINGER_CHUNK	(16 * 1024)

/* Seconds since the epoch of the last log failure reported on stderr. */
static atomic_long	handler_last_warning;

/*
 * Give h its own buffers, for the life of the thread: a small message
 * (plus one byte to see truncation) and its line. Larger ones come from
 * budget, per connection.
 */
int
handler_init(struct handler *h, const struct ackd_config *cfg,
    struct stats *stats, struct bigbuf *budget)
{
	memset(h, 0, sizeof(*h));
	h->cfg = cfg;
	h->stats = stats;
	h->budget = budget;
	h->pid = getpid();	/* glibc no longer caches it: a syscall a line */
	h->small_size = bigbuf_small_size(cfg);
	h->line_size = logfmt_line_max(cfg->log_format, h->small_size,
	    BIGBUF_EXTRA_MAX);
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

/* Milliseconds left until deadline (mono_ms's clock), at least 0. */
static int
handler_ms_left(long long deadline_ms)
{
	long long	now_ms = mono_ms();

	return (deadline_ms > now_ms ? (int)(deadline_ms - now_ms) : 0);
}

/* Start a connection with the thread's own buffers and no budget. */
static void
handler_begin(struct handler *h, long long deadline_ms)
{
	h->buf = h->small;
	h->deadline_ms = deadline_ms;
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
 * Take the budget of a large message (all it can need) by the
 * connection's deadline, once; 0, or -1 with errno ETIMEDOUT.
 * handler_release gives it back.
 */
static int
handler_take(struct handler *h)
{
	if (!h->held && bigbuf_take(h->budget, h->deadline_ms) == -1)
		return (-1);
	h->held = 1;
	return (0);
}

/*
 * The small buffer is full and the message goes on: take its budget and
 * move it into a mapping of fr->size bytes, of which only the pages the
 * message reaches take memory. 0, or -1 with errno (ETIMEDOUT: no budget
 * by the deadline).
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
 * connection's budget. NULL with errno if there is no budget by the
 * deadline.
 */
static char *
handler_line_buf(struct handler *h, size_t msg_len, size_t *size)
{
	size_t	need = logfmt_line_max(h->cfg->log_format, msg_len,
		    BIGBUF_EXTRA_MAX);

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

/* Format and write one line for this connection; 0 if it is in the log. */
static int
handler_log(struct handler *h, const struct timespec *now, const char *client,
    const char *event, size_t bytes, size_t msg_len, const char *extra)
{
	struct logfmt_record	rec;
	size_t			len, size;
	char			both[sizeof(h->via) + 64], *line;

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

/*
 * After a truncated message the client may still be sending; closing with
 * unread input would reset the connection and could destroy the ACK in
 * flight. Half-close, then read and drop input until the client's end of
 * file, for HANDLER_LINGER_MS in all however much it sends: only a client
 * still sending after that gets a reset. Needs nothing but fd.
 */
static void
handler_linger(int fd)
{
	char		buf[HANDLER_LINGER_CHUNK];
	long long	deadline_ms = mono_ms() + HANDLER_LINGER_MS;
	int		left_ms;
	ssize_t		n;

	if (shutdown(fd, SHUT_WR) == -1)
		return;
	while ((left_ms = handler_ms_left(deadline_ms)) > 0) {
		n = net_read_timed(fd, buf, sizeof(buf), left_ms);
		if (n <= 0)
			break;
	}
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
	if (net_write_all(fd, h->cfg->ack, h->cfg->ack_len) == -1) {
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
 * --proxy-protocol: read the PROXY header by *deadline (the read
 * timeout, which the message shares), taking no byte past it off the
 * socket: the parser looks at peeked bytes, and everything it has seen
 * without a verdict is header. Then client becomes the header's client
 * (the peer for LOCAL and UNKNOWN) and h->via names the peer. -1 once a
 * refused or silent connection has been logged.
 */
static int
handler_proxy(struct handler *h, const struct conn *c, char *client,
    size_t clientsize, long long deadline_ms)
{
	const struct ackd_config	*cfg = h->cfg;
	struct proxy_header		 hdr;
	enum proxy_result		 r;
	size_t				 have = 0;
	ssize_t				 n;

	if (cfg->proxy_from_n > 0 && !proxy_cidr_any(cfg->proxy_from,
	    cfg->proxy_from_n, &c->addr.sa, c->addrlen))
		return (handler_proxy_refuse(h, client, 0, "untrusted-source"));
	for (;;) {
		n = net_recv_timed(c->fd, h->pbuf + have, PROXY_HEADER_MAX - have,
		    MSG_PEEK, handler_ms_left(deadline_ms));
		if (n <= 0 && have == 0) {
			handler_nothing(h, client, n, 0);	/* as without a header */
			return (-1);
		}
		if (n == 0)
			return (handler_proxy_refuse(h, client, have,
			    "truncated"));
		if (n < 0)
			return (handler_proxy_refuse(h, client, have,
			    errno == ETIMEDOUT ? "timeout" : errno == ECONNRESET ?
			    "reset" : "read-error"));
		r = proxy_parse(h->pbuf, have + (size_t)n, &hdr);
		if (r == PROXY_INVALID)
			return (handler_proxy_refuse(h, client, have + (size_t)n,
			    hdr.why));
		if (r == PROXY_DONE)
			break;
		if (handler_proxy_consume(h, c->fd, have, (size_t)n) == -1)
			return (handler_proxy_refuse(h, client, have,
			    "read-error"));
		have += (size_t)n;
		if (have == PROXY_HEADER_MAX)	/* proxy_parse stops before */
			return (handler_proxy_refuse(h, client, have,
			    "too-long"));
	}
	if (handler_proxy_consume(h, c->fd, have, hdr.len - have) == -1)
		return (handler_proxy_refuse(h, client, have, "read-error"));
	/* from here on, every line of the connection carries via */
	memcpy(h->via, "proxy=", 6);
	addr_format(h->via + 6, sizeof(h->via) - 6, &c->addr.sa,
	    c->addrlen);
	if (hdr.command == PROXY_CMD_PROXY)
		addr_format(client, clientsize,
		    (const struct sockaddr *)&hdr.src, hdr.srclen);
	else
		snprintf(h->via + strlen(h->via), sizeof(h->via) -
		    strlen(h->via), " proxy_cmd=%s",
		    hdr.command == PROXY_CMD_LOCAL ? "local" : "unknown");
	return (0);
}

/*
 * Read the message by the connection's deadline, in the thread's own
 * buffer or, once it outgrows that, in a mapping from the budget.
 * As frame_read_until, but FRAME_FULL means no budget came in time.
 */
static ssize_t
handler_receive(struct handler *h, int fd, struct frame *fr)
{
	ssize_t	n;

	frame_init(fr, h->cfg->framing, h->cfg->max_message + 1);
	fr->room = h->small_size;
	while ((n = frame_read_until(fr, fd, h->buf, h->deadline_ms)) ==
	    FRAME_FULL)
		if (handler_grow(h, fr) == -1)
			break;
	return (n);
}

/* Serve one accepted connection, then close it. */
void
handler_serve(struct handler *h, const struct conn *c)
{
	struct timespec		now;
	struct frame		fr;
	char			client[ACKD_ADDRSTRLEN];
	ssize_t			n;
	int			fd = c->fd, linger = 0;

	/* the address accept() gave: no getpeername() per connection */
	addr_format(client, sizeof(client), &c->addr.sa, c->addrlen);
	h->via[0] = '\0';
	/* one deadline for the PROXY header, the message and its memory */
	handler_begin(h, mono_ms() + h->cfg->read_timeout_ms);
	if (h->cfg->proxy_protocol && handler_proxy(h, c, client,
	    sizeof(client), h->deadline_ms) == -1)
		goto done;
	n = handler_receive(h, fd, &fr);
	clock_gettime(CLOCK_REALTIME, &now);
	if (n > 0)
		linger = handler_message(h, fd, &now, client, (size_t)n,
		    fr.excess);
	else if (n == FRAME_FULL)
		handler_memory_refused(h, client, fr.len);
	else
		handler_nothing(h, client, n, fr.len);
done:
	/* the memory goes back before a linger, which needs none */
	handler_release(h);
	if (linger)
		handler_linger(fd);
	h->via[0] = '\0';
	close(fd);
	peerlimit_leave(c->limit_entry);
}
