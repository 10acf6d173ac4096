/* SPDX-License-Identifier: MIT */
/*
 * stats.c: the counters and gauges of one worker, and their names.
 *
 * Handler threads bump them with relaxed atomics (no lock on the hot
 * path). They live in the scoreboard, in memory shared with the master,
 * which only reads them: to log a summary and to serve /metrics.
 */
#include "config.h"

#include <stdio.h>

#include "ackd.h"

/* Log key, metric name and help of each counter, in enum order. */
const struct stats_name stats_counter_names[STATS_NCOUNTERS] = {
	{ "accepted", "ackd_connections_accepted_total",
	    "Connections accepted from the listening socket." },
	{ "acked", "ackd_messages_acknowledged_total",
	    "Messages logged and acknowledged." },
	{ "empty", "ackd_connections_empty_total",
	    "Connections closed by the client without a message." },
	{ "timeout", "ackd_connections_timed_out_total",
	    "Connections that sent nothing within the read timeout." },
	{ "reset", "ackd_connections_reset_total",
	    "Connections reset by the client before their message." },
	{ "error", "ackd_connections_failed_total",
	    "Connections that failed with another network error." },
	{ "truncated", "ackd_messages_truncated_total",
	    "Messages longer than --max-message, logged truncated." },
	{ "log_failed", "ackd_log_write_failures_total",
	    "Messages not acknowledged because the log write or sync failed." },
	{ "ack_failed", "ackd_ack_failures_total",
	    "Messages logged whose acknowledgement could not be sent." },
	{ "refused", "ackd_connections_refused_total",
	    "Connections refused by --max-connections-per-ip." },
	{ "not_allowed", "ackd_connections_not_allowed_total",
	    "Connections refused unread: their client is not in --allow." },
	{ "proxy_refused", "ackd_connections_proxy_refused_total",
	    "Connections refused by --proxy-protocol: no valid header, or "
	    "not from --proxy-from." },
	{ "tls_failed", "ackd_tls_failed_total",
	    "TLS connections closed unacknowledged: their handshake failed "
	    "(event=tls-failed)." },
	{ "memory_refused", "ackd_connections_memory_refused_total",
	    "Connections closed unacknowledged: their large message found no "
	    "--max-memory left by the read deadline." },
	{ "shed", "ackd_connections_shed_total",
	    "Connections closed unacknowledged at --max-connections, those "
	    "that had waited longest without sending, to make room." },
	{ "bytes", "ackd_received_bytes_total",
	    "Message bytes received and logged." },
	{ "reopen_failed", "ackd_reopen_failed_total",
	    "Log reopens that failed, the old file kept; the master's own "
	    "under worker=master." },
};

/* The same for each gauge. */
const struct stats_name stats_gauge_names[STATS_NGAUGES] = {
	{ "queue", "ackd_queue_depth",
	    "Accepted connections waiting for a handler thread." },
	{ "queue_max", "ackd_queue_depth_max",
	    "The most connections that waited at once since the worker "
	    "started." },
	{ "busy", "ackd_threads_busy",
	    "Handler threads serving a connection." },
	{ "open", "ackd_connections_open",
	    "Connections open in the worker: queued, being served, or waiting "
	    "for their bytes; at most --max-connections." },
	{ "waiting", "ackd_connections_waiting",
	    "Connections waiting in the worker's event stage for their bytes, "
	    "or for the drain after a truncated message." },
};

/* Add n to one counter. */
void
stats_add(struct stats *s, enum stats_counter c, unsigned long n)
{
	atomic_fetch_add_explicit(&s->counter[c], n, memory_order_relaxed);
}

/* Add n (which may be negative) to one gauge. */
void
stats_gauge_add(struct stats *s, enum stats_gauge g, long n)
{
	atomic_fetch_add_explicit(&s->gauge[g], n, memory_order_relaxed);
}

/* Copy every counter and gauge of s into snap. */
void
stats_read(struct stats *s, struct stats_snap *snap)
{
	int	i;

	for (i = 0; i < STATS_NCOUNTERS; i++)
		snap->counter[i] = atomic_load_explicit(&s->counter[i],
		    memory_order_relaxed);
	for (i = 0; i < STATS_NGAUGES; i++)
		snap->gauge[i] = atomic_load_explicit(&s->gauge[i],
		    memory_order_relaxed);
}

/*
 * Write snap as "name=value ..." (gauges too if gauges is set); returns
 * the length, or 0 if it did not fit.
 */
size_t
stats_format(char *buf, size_t size, const struct stats_snap *snap,
    int gauges)
{
	size_t	len = 0;
	int	i, n;

	buf[0] = '\0';
	for (i = 0; i < STATS_NCOUNTERS; i++) {
		n = snprintf(buf + len, size - len, "%s%s=%lu", i ? " " : "",
		    stats_counter_names[i].key, snap->counter[i]);
		if (n < 0 || (size_t)n >= size - len)
			return (0);
		len += (size_t)n;
	}
	for (i = 0; gauges && i < STATS_NGAUGES; i++) {
		n = snprintf(buf + len, size - len, " %s=%ld",
		    stats_gauge_names[i].key, snap->gauge[i]);
		if (n < 0 || (size_t)n >= size - len)
			return (0);
		len += (size_t)n;
	}
	return (len);
}
