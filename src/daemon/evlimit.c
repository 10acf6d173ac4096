/* SPDX-License-Identifier: MIT */
/*
 * evlimit.c: repeated connection event lines, summarised per source.
 *
 * A client that connects and closes, or storms --max-connections-per-ip,
 * makes one event line per connection: about 1 MB/s of log from a single
 * client that never sends a message. So each worker keeps, per kind of
 * event and per source address (the client's address without its port;
 * with --proxy-protocol the client the header names), an interval of
 * --event-interval: the first line of a burst is written as it always
 * was, the repeats within the interval are only counted, and when the
 * interval ends one summary line stands for them:
 *
 *     ... 192.0.2.9 pid=1234 event=empty bytes=0 count=4211 interval_ms=10000
 *
 * count is the number of lines left out, interval_ms the span they fell
 * in, ending at the summary's timestamp. A burst that goes on keeps its
 * entry: one summary per interval and no more single lines, until an
 * interval passes without the event, which frees the entry. So a source
 * writes at most one single line and one summary per kind per interval,
 * and every left-out line is in exactly one summary: the single lines
 * and the counts add up to the counters, which count every connection.
 *
 * Only the kinds in evlimit_kinds are summarised: those a client causes
 * without sending a message. message lines never are (an acknowledged
 * message is a logged message), nor ack-failed and log-failed, which
 * belong to one message each and say which one was not acknowledged, nor
 * daemon events. A kind is an event and the fixed fields that tell its
 * cause, and its summary carries both: event=refused reason=not-allowed
 * (--allow) is a kind apart from --max-connections-per-ip's
 * event=refused, so that no summary counts the two together.
 *
 * Memory is bounded: a fixed table of EVLIMIT_ENTRIES entries per worker.
 * When it is full, a new source does not evict an old one (a spray from
 * many addresses, an IPv6 /64, would then get a line per connection
 * again, plus a summary per eviction); it joins one catch-all entry per
 * kind whose summary has the source "*". The addresses in the table keep
 * their own lines; those past it lose their individual summaries, but
 * the log stays bounded however many addresses an attacker has: at most
 * two lines per entry (EVLIMIT_ENTRIES + EVLIMIT_NKINDS) per interval.
 *
 * When summaries are written: an occurrence that finds its entry's
 * interval over writes the summary before it is counted, and the worker's
 * signal thread calls evlimit_tick about once a second, so the tail of a
 * burst is not held back until the next one; evlimit_flush writes
 * everything left when the worker exits.
 *
 * The decisions (evlimit_decide, evlimit_due) are pure functions of a
 * table and the time they are given, unit-tested with made-up clocks.
 * The daemon's part keeps one table per worker process behind one mutex,
 * held only while deciding; lines are written after it is released.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ackd.h"
#include "worker.h"

/*
 * The events summarised, in the order of their catch-all entries: the
 * name callers give evlimit_admit, and the line's event and fixed
 * fields. Refusals by --allow are event=refused, like those by
 * --max-connections-per-ip, but a kind of their own, so that one
 * summary never counts both.
 */
static const struct {
	const char	*name;
	const char	*event;
	const char	*fields;	/* "" or "key=value " */
} evlimit_kinds[EVLIMIT_NKINDS] = {
	{ "empty", "empty", "" },
	{ "timeout", "timeout", "" },
	{ "reset", "reset", "" },
	{ "error", "error", "" },
	{ "refused", "refused", "" },
	{ "proxy-refused", "proxy-refused", "" },
	{ "not-allowed", "refused", "reason=not-allowed " },
	{ "tls-failed", "tls-failed", "" },
};

/* The catch-all entries' source, in their summaries' client field. */
#define EVLIMIT_OTHER	"*"

/* The kind named event (an index into evlimit_kinds), or -1: always written. */
int
evlimit_kind(const char *event)
{
	int	i;

	for (i = 0; i < EVLIMIT_NKINDS; i++)
		if (strcmp(event, evlimit_kinds[i].name) == 0)
			return (i);
	return (-1);
}

/*
 * The source of client ("addr:port", "[addr]:port" as addr_format
 * writes them) into dst: the address without its port.
 */
void
evlimit_source(char *dst, size_t size, const char *client)
{
	const char	*colon = strrchr(client, ':');
	size_t		 len = strlen(client);

	if (colon != NULL && colon[1] != '\0' &&
	    strspn(colon + 1, "0123456789") == strlen(colon + 1))
		len = (size_t)(colon - client);
	if (len >= size)
		len = size - 1;
	memcpy(dst, client, len);
	dst[len] = '\0';
}

/* An empty table of at most cap entries (EVLIMIT_ENTRIES at most). */
void
evlimit_table_init(struct evlimit_table *t, long long interval_ms, int cap)
{
	int	i;

	t->interval_ms = interval_ms;
	t->cap = cap < 0 ? 0 : cap > EVLIMIT_ENTRIES ? EVLIMIT_ENTRIES : cap;
	for (i = 0; i < EVLIMIT_BUCKETS; i++)
		t->bucket[i] = -1;
	/* the free list: 0, 1, ... cap - 1 */
	t->free = t->cap > 0 ? 0 : -1;
	for (i = 0; i < t->cap; i++) {
		t->entry[i].kind = -1;
		t->entry[i].next = i + 1 < t->cap ? i + 1 : -1;
	}
	for (i = 0; i < EVLIMIT_NKINDS; i++)
		t->other[i].kind = -1;
}

/* The bucket of (kind, source): FNV-1a. */
static unsigned
evlimit_hash(int kind, const char *source)
{
	uint32_t	h = 2166136261u ^ (uint32_t)kind;

	while (*source != '\0')
		h = (h ^ (unsigned char)*source++) * 16777619u;
	return (h % EVLIMIT_BUCKETS);
}

/* The entry of (kind, source), a new one, or the kind's catch-all. */
static struct evlimit_entry *
evlimit_find(struct evlimit_table *t, int kind, const char *source)
{
	struct evlimit_entry	*e;
	unsigned		 b = evlimit_hash(kind, source);
	int			 i;

	for (i = t->bucket[b]; i != -1; i = t->entry[i].next)
		if (t->entry[i].kind == kind &&
		    strcmp(t->entry[i].source, source) == 0)
			return (&t->entry[i]);
	if (t->free == -1)
		return (&t->other[kind]);
	i = t->free;
	e = &t->entry[i];
	t->free = e->next;
	e->next = t->bucket[b];
	t->bucket[b] = i;
	e->kind = -1;	/* evlimit_hit starts it */
	snprintf(e->source, sizeof(e->source), "%s", source);
	return (e);
}

/* Fill s with e's summary as of now_ms. */
static void
evlimit_summarise(const struct evlimit_entry *e, int kind, long long now_ms,
    struct evlimit_summary *s)
{
	s->event = evlimit_kinds[kind].name;
	memcpy(s->source, e->source, sizeof(s->source));
	s->count = e->count;
	s->span_ms = now_ms - e->start_ms;
}

/* One occurrence of kind at now_ms for e; see evlimit_decide. */
static enum evlimit_verdict
evlimit_hit(struct evlimit_table *t, struct evlimit_entry *e, int kind,
    long long now_ms, struct evlimit_summary *out)
{
	if (e->kind == -1) {		/* new: the first line of a burst */
		if (e == &t->other[kind])
			snprintf(e->source, sizeof(e->source), EVLIMIT_OTHER);
		e->kind = kind;
		e->start_ms = now_ms;
		e->count = 0;
		return (EVLIMIT_WRITE);
	}
	if (now_ms - e->start_ms < t->interval_ms) {
		e->count++;
		return (EVLIMIT_COUNT);
	}
	/* the interval is over and evlimit_due has not been round yet */
	if (e->count == 0) {		/* a quiet interval: a new burst */
		e->start_ms = now_ms;
		return (EVLIMIT_WRITE);
	}
	evlimit_summarise(e, kind, now_ms, out);
	e->start_ms = now_ms;		/* the burst goes on */
	e->count = 1;
	return (EVLIMIT_COUNT);
}

/*
 * Decide about one event line from client at now_ms (any clock in ms):
 * EVLIMIT_WRITE it, or EVLIMIT_COUNT it (leave it out, to be summarised).
 * If out->count is not 0 afterwards, out is a summary to write first.
 */
enum evlimit_verdict
evlimit_decide(struct evlimit_table *t, const char *event, const char *client,
    long long now_ms, struct evlimit_summary *out)
{
	char	source[ACKD_ADDRSTRLEN];
	int	kind = evlimit_kind(event);

	out->count = 0;
	if (kind == -1 || t->interval_ms <= 0)
		return (EVLIMIT_WRITE);
	evlimit_source(source, sizeof(source), client);
	return (evlimit_hit(t, evlimit_find(t, kind, source), kind, now_ms,
	    out));
}

/* Is e's interval over at now_ms, or is everything due (all)? */
static int
evlimit_is_due(const struct evlimit_table *t, const struct evlimit_entry *e,
    long long now_ms, int all)
{
	return (all || now_ms - e->start_ms >= t->interval_ms);
}

/*
 * If e is due, its summary, if it has one, goes to s[(*n)++] (which has
 * room) and it starts again (the burst goes on) or, if quiet or all, is
 * to be freed: returns 1 then, else 0.
 */
static int
evlimit_expire(struct evlimit_table *t, struct evlimit_entry *e,
    long long now_ms, int all, struct evlimit_summary *s, size_t *n)
{
	if (!evlimit_is_due(t, e, now_ms, all))
		return (0);
	if (e->count == 0 || all) {
		if (e->count > 0)
			evlimit_summarise(e, e->kind, now_ms, &s[(*n)++]);
		e->kind = -1;
		return (1);
	}
	evlimit_summarise(e, e->kind, now_ms, &s[(*n)++]);
	e->start_ms = now_ms;
	e->count = 0;
	return (0);
}

/* evlimit_due for one bucket's chain; 0 once out has no more room. */
static int
evlimit_due_bucket(struct evlimit_table *t, int b, long long now_ms, int all,
    struct evlimit_summary *out, size_t max, size_t *n)
{
	int	*link = &t->bucket[b], i;

	while ((i = *link) != -1) {
		if (*n == max && t->entry[i].count > 0 &&
		    evlimit_is_due(t, &t->entry[i], now_ms, all))
			return (0);
		if (evlimit_expire(t, &t->entry[i], now_ms, all, out, n)) {
			*link = t->entry[i].next;	/* unlink, then free */
			t->entry[i].next = t->free;
			t->free = i;
		} else
			link = &t->entry[i].next;
	}
	return (1);
}

/*
 * The summaries due at now_ms (all: every one, as the worker exits),
 * at most max into out; returns how many. Entries whose interval passed
 * quietly are freed. Call again while it returns max.
 */
size_t
evlimit_due(struct evlimit_table *t, long long now_ms, int all,
    struct evlimit_summary *out, size_t max)
{
	struct evlimit_entry	*e;
	size_t			 n = 0;
	int			 b, k;

	if (max == 0)
		return (0);
	for (b = 0; b < EVLIMIT_BUCKETS; b++)
		if (t->bucket[b] != -1 &&
		    !evlimit_due_bucket(t, b, now_ms, all, out, max, &n))
			return (n);
	for (k = 0; k < EVLIMIT_NKINDS; k++) {
		e = &t->other[k];
		if (e->kind == -1)
			continue;
		if (n == max && e->count > 0 &&
		    evlimit_is_due(t, e, now_ms, all))
			return (n);
		evlimit_expire(t, e, now_ms, all, out, &n);
	}
	return (n);
}

/*
 * The daemon's side: one table per worker process. Lock rules: the table
 * is read and written with evlimit_lock held, for a decision only; the
 * lines are written after it is released, so a slow log never holds up
 * another thread's decision. evlimit_on is written once, by evlimit_init
 * before the worker starts its threads, and only read after.
 */
static pthread_mutex_t		evlimit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct evlimit_table	evlimit_table;
static int			evlimit_on;	/* 0: every line is written */

/* How many summaries evlimit_tick and evlimit_flush take per lock. */
#define EVLIMIT_BATCH	16

/* Write one summary line, with its kind's event and fixed fields. */
static void
evlimit_write(const struct evlimit_summary *s)
{
	int	k = evlimit_kind(s->event);

	msglog_client_event(s->source, evlimit_kinds[k].event,
	    "%scount=%lu interval_ms=%lld", evlimit_kinds[k].fields, s->count,
	    s->span_ms);
}

/* Start this process's table: --event-interval, 0 to write every line. */
void
evlimit_init(int interval_ms)
{
	pthread_mutex_lock(&evlimit_lock);
	evlimit_table_init(&evlimit_table, interval_ms, EVLIMIT_ENTRIES);
	pthread_mutex_unlock(&evlimit_lock);
	evlimit_on = interval_ms > 0;
}

/*
 * An event line about client is due: 1 if the caller is to write it, 0
 * if it was counted for a summary instead. A summary whose interval is
 * over is written here first.
 */
int
evlimit_admit(const char *event, const char *client)
{
	struct evlimit_summary	s;
	enum evlimit_verdict	v;

	if (!evlimit_on || evlimit_kind(event) == -1)
		return (1);
	pthread_mutex_lock(&evlimit_lock);
	v = evlimit_decide(&evlimit_table, event, client, mono_ms(), &s);
	pthread_mutex_unlock(&evlimit_lock);
	if (s.count > 0)
		evlimit_write(&s);
	return (v == EVLIMIT_WRITE);
}

/* Write the summaries due now (all: every one); see evlimit_due. */
static void
evlimit_drain(int all)
{
	struct evlimit_summary	s[EVLIMIT_BATCH];
	size_t			n, i;

	if (!evlimit_on)
		return;
	do {
		pthread_mutex_lock(&evlimit_lock);
		n = evlimit_due(&evlimit_table, mono_ms(), all, s,
		    EVLIMIT_BATCH);
		pthread_mutex_unlock(&evlimit_lock);
		for (i = 0; i < n; i++)
			evlimit_write(&s[i]);
	} while (n == EVLIMIT_BATCH);
}

/* Write the summaries whose interval is over: about once a second. */
void
evlimit_tick(void)
{
	evlimit_drain(0);
}

/* Write every summary left, as the worker exits. */
void
evlimit_flush(void)
{
	evlimit_drain(1);
}
