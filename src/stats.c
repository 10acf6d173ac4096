/*
 * stats.c: per-worker counters. Handler threads bump them with relaxed
 * atomics (no lock on the hot path); they are read only to report.
 */
#include "config.h"

#include <stdio.h>

#include "ackd.h"

/* Add n to one counter. */
void
stats_add(atomic_ulong *counter, unsigned long n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* Read one counter. */
static unsigned long
stats_get(atomic_ulong *counter)
{
	return (atomic_load_explicit(counter, memory_order_relaxed));
}

/* Write every counter as "name=value ..."; returns what snprintf does. */
size_t
stats_format(char *buf, size_t size, struct stats *s)
{
	int	n;

	n = snprintf(buf, size, "accepted=%lu acked=%lu empty=%lu timeout=%lu "
	    "reset=%lu error=%lu truncated=%lu log_failed=%lu ack_failed=%lu "
	    "refused=%lu bytes=%lu", stats_get(&s->accepted),
	    stats_get(&s->acked), stats_get(&s->empty), stats_get(&s->timeout),
	    stats_get(&s->reset), stats_get(&s->error),
	    stats_get(&s->truncated), stats_get(&s->log_failed),
	    stats_get(&s->ack_failed), stats_get(&s->refused),
	    stats_get(&s->bytes));
	return (n < 0 ? 0 : (size_t)n);
}
