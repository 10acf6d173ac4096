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
	h->line_size = logfmt_line_max(cfg->log_format, cfg->max_message, 64);
	h->buf = malloc(cfg->max_message + 1);
	h->line = malloc(h->line_size);
	if (h->buf == NULL || h->line == NULL) {
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
	h->buf = NULL;
	h->line = NULL;
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

/* Format and write one line for this connection; 0 if it is in the log. */
static int
handler_log(struct handler *h, const struct timespec *now, const char *client,
    const char *event, size_t bytes, size_t msg_len, const char *extra)
{
	struct logfmt_record	rec;
	size_t			len;

	rec.when = now;
	rec.client = client;
	rec.pid = h->pid;
	rec.tag = h->cfg->log_tag;
	rec.event = event;
	rec.bytes = bytes;
	rec.msg = msg_len > 0 ? h->buf : NULL;
	rec.msg_len = msg_len;
	rec.extra = extra;
	len = logfmt_line(h->line, h->line_size, h->cfg->log_format, &rec);
	if (len == 0) {
		errno = EOVERFLOW;	/* cannot happen: line_size is the max */
		return (-1);
	}
	return (msglog_write(h->line, len, event));
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
		stats_add(h->stats, STATS_LOG_FAILED, 1);
		handler_warn_log_failure(client);
		handler_log(h, now, client, "log-failed", n, 0, NULL);
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

/* Serve one accepted connection, then close it. */
void
handler_serve(struct handler *h, const struct conn *c)
{
	struct timespec		now;
	struct frame		fr;
	char			client[ACKD_ADDRSTRLEN], extra[32];
	ssize_t			n;
	int			fd = c->fd;

	/* the address accept() gave: no getpeername() per connection */
	net_format_addr(client, sizeof(client), &c->addr.sa, c->addrlen);
	frame_init(&fr, h->cfg->framing, h->cfg->max_message + 1);
	n = frame_read(&fr, fd, h->buf, h->cfg->read_timeout_ms);
	clock_gettime(CLOCK_REALTIME, &now);
	/* a message left unfinished (line, eof) is logged with the failure,
	 * never acknowledged: the client's framing promise was not kept */
	if (n > 0)
		handler_message(h, fd, &now, client, (size_t)n, fr.excess);
	else if (n == 0) {
		stats_add(h->stats, STATS_EMPTY, 1);
		handler_log(h, &now, client, "empty", 0, 0, NULL);
	} else if (errno == ETIMEDOUT) {
		stats_add(h->stats, STATS_TIMEOUT, 1);
		handler_log(h, &now, client, "timeout", fr.len, fr.len, NULL);
	} else if (errno == ECONNRESET) {
		stats_add(h->stats, STATS_RESET, 1);
		handler_log(h, &now, client, "reset", fr.len, fr.len, NULL);
	} else {
		stats_add(h->stats, STATS_ERROR, 1);
		snprintf(extra, sizeof(extra), "errno=%s",
		    handler_errno_name(errno));
		handler_log(h, &now, client, "error", fr.len, fr.len, extra);
	}
	close(fd);
	peerlimit_leave(c->limit_entry);
}
