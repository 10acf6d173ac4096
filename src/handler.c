/*
 * handler.c: one connection's life: receive, log, ACK, close.
 *
 * The ACK goes out only after the log line was written whole, so an
 * acknowledged message is always a logged message. Whatever the client
 * does (nothing, reset, vanish) ends as an event line and a counter;
 * nothing here can stop the worker.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"

/* How much excess input a truncated message may make us read and drop. */
#define HANDLER_LINGER_BYTES	(64 * 1024)
#define HANDLER_LINGER_MS	1000

/* Seconds since the epoch of the last log failure reported on stderr. */
static atomic_long	handler_last_warning;

/* Give h its buffers: the message (plus one byte to see truncation), the line. */
int
handler_init(struct handler *h, const struct ackd_config *cfg,
    struct stats *stats)
{
	h->cfg = cfg;
	h->stats = stats;
	h->pid = getpid();	/* glibc no longer caches it: a syscall a line */
	/* extra fields: ours, and the proxy= ones of --proxy-protocol */
	h->line_size = logfmt_line_max(cfg->log_format, cfg->max_message,
	    64 + sizeof(h->via));
	h->buf = malloc(cfg->max_message + 1);
	h->line = malloc(h->line_size);
	h->pbuf = cfg->proxy_protocol ? malloc(PROXY_HEADER_MAX) : NULL;
	h->via[0] = '\0';
	if (h->buf == NULL || h->line == NULL ||
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
	free(h->buf);
	free(h->line);
	free(h->pbuf);
	h->buf = NULL;
	h->line = NULL;
	h->pbuf = NULL;
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
	size_t			len;
	char			both[sizeof(h->via) + 64];

	/* a proxied connection's lines all say which balancer relayed it */
	if (h->via[0] != '\0') {
		snprintf(both, sizeof(both), "%s%s%s", h->via,
		    extra != NULL ? " " : "", extra != NULL ? extra : "");
		extra = both;
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
	len = logfmt_line(h->line, h->line_size, h->cfg->log_format, &rec);
	if (len == 0) {
		errno = EOVERFLOW;	/* cannot happen: line_size is the max */
		return (-1);
	}
	if (msglog_write(h->line, len, event) == 0)
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
	log_warn("cannot log the message from %s, not acknowledged", client);
}

/*
 * After a truncated message the client may still be sending; closing with
 * unread input would reset the connection and could destroy the ACK in
 * flight. Half-close, then read and drop input for a bounded while.
 */
static void
handler_linger(struct handler *h, int fd)
{
	size_t	dropped = 0;
	ssize_t	n;

	if (shutdown(fd, SHUT_WR) == -1)
		return;
	while (dropped < HANDLER_LINGER_BYTES) {
		n = net_read_timed(fd, h->buf, h->cfg->max_message + 1,
		    HANDLER_LINGER_MS);
		if (n <= 0)
			break;
		dropped += (size_t)n;
	}
}

/*
 * Log and acknowledge a message of n bytes that arrived in h->buf; excess:
 * the client sent more after it (--framing line), which is dropped.
 */
static void
handler_message(struct handler *h, int fd, const struct timespec *now,
    const char *client, size_t n, int excess)
{
	size_t	max = h->cfg->max_message;
	int	truncated = n > max;

	if (truncated) {
		n = max;
		stats_add(h->stats, STATS_TRUNCATED, 1);
	}
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
		return;
	}
	if (net_write_all(fd, h->cfg->ack, h->cfg->ack_len) == -1) {
		stats_add(h->stats, STATS_ACK_FAILED, 1);
		handler_log(h, now, client, "ack-failed", n, 0, NULL);
		return;
	}
	stats_add(h->stats, STATS_ACKED, 1);
	if (truncated || excess)
		handler_linger(h, fd);
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

/* Milliseconds on the monotonic clock. */
static long long
handler_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Milliseconds left until deadline (handler_now_ms's clock), at least 0. */
static int
handler_ms_left(long long deadline)
{
	long long	now = handler_now_ms();

	return (deadline > now ? (int)(deadline - now) : 0);
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
    size_t clientsize, long long deadline)
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
		    MSG_PEEK, handler_ms_left(deadline));
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
	net_format_addr(h->via + 6, sizeof(h->via) - 6, &c->addr.sa,
	    c->addrlen);
	if (hdr.command == PROXY_CMD_PROXY)
		net_format_addr(client, clientsize,
		    (const struct sockaddr *)&hdr.src, hdr.srclen);
	else
		snprintf(h->via + strlen(h->via), sizeof(h->via) -
		    strlen(h->via), " proxy_cmd=%s",
		    hdr.command == PROXY_CMD_LOCAL ? "local" : "unknown");
	return (0);
}

/* Serve one accepted connection, then close it. */
void
handler_serve(struct handler *h, const struct conn *c)
{
	struct timespec		now;
	struct frame		fr;
	char			client[ACKD_ADDRSTRLEN];
	ssize_t			n;
	long long		deadline;
	int			fd = c->fd, timeout_ms = h->cfg->read_timeout_ms;

	/* the address accept() gave: no getpeername() per connection */
	net_format_addr(client, sizeof(client), &c->addr.sa, c->addrlen);
	h->via[0] = '\0';
	if (h->cfg->proxy_protocol) {
		deadline = handler_now_ms() + timeout_ms;
		if (handler_proxy(h, c, client, sizeof(client), deadline) == -1)
			goto done;
		timeout_ms = handler_ms_left(deadline);
	}
	frame_init(&fr, h->cfg->framing, h->cfg->max_message + 1);
	n = frame_read(&fr, fd, h->buf, timeout_ms);
	clock_gettime(CLOCK_REALTIME, &now);
	if (n > 0)
		handler_message(h, fd, &now, client, (size_t)n, fr.excess);
	else
		handler_nothing(h, client, n, fr.len);
done:
	h->via[0] = '\0';
	close(fd);
	peerlimit_leave(c->limit_entry);
}
