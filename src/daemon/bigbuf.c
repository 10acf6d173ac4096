/* SPDX-License-Identifier: MIT */
/*
 * bigbuf.c: the memory a worker's handlers may take for large messages.
 *
 * Each handler thread owns small buffers that serve every message of up
 * to ACKD_SMALL_MAX bytes. A larger message, and its log line, live in
 * mappings taken for one connection and unmapped after it, so a worker
 * that served a burst of large messages gives the memory back. Only the
 * pages a message reaches take memory, but what they may take is
 * charged to the worker's budget (--max-memory) first: the handlers
 * never hold more than the budget, whatever the clients send.
 *
 * A connection whose message outgrows the small buffer takes, at once,
 * all it can still need (`need': the longest message and its longest
 * line), and gives it back at its end. Taking it piece by piece, as the
 * message grows, was tried: in a burst every handler took a piece, then
 * waited for more that others held, and only one at a time (allowed to
 * use a reserve) finished: 1,000 clients sending 1 MiB each to 1,024
 * threads got 314 ACKs and 661 refusals. Taken at once, a holder never
 * waits for memory again, so holders always finish (no deadlock), and
 * floor(cap / need) large messages are read at a time, at full speed.
 * The rest wait, in turn, up to their read deadlines: handlers take
 * shares with bigbuf_try, which never waits, and a connection that finds
 * none waits in the worker's event stage, holding no thread, until
 * bigbuf_give's hook (on_give) says one came back. A second budget of
 * the same kind, charged in bytes (bigbuf_charge), bounds the small
 * buffers of partial messages waiting in the stage (BIGBUF_PARTIAL).
 *
 * Lock rules: every field of struct bigbuf is read and written with
 * b->lock held. Every take is of the same size (need), so one give makes
 * room for exactly one waiter: it signals one, not all (with a thousand
 * waiters, a broadcast would wake them all for one place). Mappings are
 * taken and unmapped without the lock: only the accounting is shared.
 * on_give is set before the worker's threads start and never changes
 * while they run.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <time.h>

#include "ackd.h"
#include "worker.h"

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS	MAP_ANON
#endif

/* Set up an empty budget of cap bytes, taken need bytes at a time. */
int
bigbuf_init(struct bigbuf *b, size_t cap, size_t need)
{
	pthread_condattr_t	attr;
	int			rc;

	b->cap = cap;
	b->need = need;
	b->used = 0;
	b->on_give = NULL;
	b->on_give_arg = NULL;
	if ((rc = pthread_mutex_init(&b->lock, NULL)) != 0)
		goto fail;
	if ((rc = pthread_condattr_init(&attr)) != 0)
		goto fail_lock;
	/* waits end at read deadlines, which are on the monotonic clock */
	if ((rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) == 0)
		rc = pthread_cond_init(&b->freed, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		goto fail_lock;
	return (0);

fail_lock:
	pthread_mutex_destroy(&b->lock);
fail:
	errno = rc;
	return (-1);
}

/* Release what bigbuf_init took; nobody may hold budget any more. */
void
bigbuf_destroy(struct bigbuf *b)
{
	pthread_cond_destroy(&b->freed);
	pthread_mutex_destroy(&b->lock);
}

/* The rule: is there room for want more bytes when used of cap are taken? */
int
bigbuf_fits(size_t cap, size_t used, size_t want)
{
	return (want <= cap && used <= cap - want);
}

/* Turn deadline_ms on the monotonic clock into a timespec. */
static void
bigbuf_abstime(long long deadline_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline_ms / 1000);
	ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000;
}

/*
 * Take b->need bytes for a connection, waiting until deadline_ms (on the
 * monotonic clock) for another to give its share back. 0, or -1 with
 * errno ETIMEDOUT when the deadline passed first.
 */
int
bigbuf_take(struct bigbuf *b, long long deadline_ms)
{
	struct timespec	ts;
	int		ok, rc = 0;

	bigbuf_abstime(deadline_ms, &ts);
	pthread_mutex_lock(&b->lock);
	while (!(ok = bigbuf_fits(b->cap, b->used, b->need)) &&
	    rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&b->freed, &b->lock, &ts);
	if (ok)
		b->used += b->need;
	pthread_mutex_unlock(&b->lock);
	if (!ok) {
		errno = ETIMEDOUT;
		return (-1);
	}
	return (0);
}

/*
 * bigbuf_take without waiting: a handler thread never waits for memory
 * that connections waiting for the network hold; its connection waits
 * in the event stage instead, which bigbuf_give's hook wakes. 0, or -1
 * with errno EAGAIN.
 */
int
bigbuf_try(struct bigbuf *b)
{
	return (bigbuf_charge(b, b->need) == -1 ? -1 : 0);
}

/* Give back the b->need bytes that bigbuf_take or bigbuf_try took. */
void
bigbuf_give(struct bigbuf *b)
{
	bigbuf_uncharge(b, b->need);
}

/*
 * Charge n bytes to the budget if they fit, never waiting: a partial
 * message's own buffer while it waits. 0, or -1 with errno EAGAIN.
 */
int
bigbuf_charge(struct bigbuf *b, size_t n)
{
	int	ok;

	pthread_mutex_lock(&b->lock);
	if ((ok = bigbuf_fits(b->cap, b->used, n)))
		b->used += n;
	pthread_mutex_unlock(&b->lock);
	if (!ok) {
		errno = EAGAIN;
		return (-1);
	}
	return (0);
}

/* Give back n charged bytes; wake a waiter and tell the hook. */
void
bigbuf_uncharge(struct bigbuf *b, size_t n)
{
	pthread_mutex_lock(&b->lock);
	b->used -= n;
	pthread_mutex_unlock(&b->lock);
	pthread_cond_signal(&b->freed);
	if (b->on_give != NULL)
		b->on_give(b->on_give_arg);
}

/*
 * Map size bytes of zero pages: only the pages written to take memory,
 * and bigbuf_unmap returns them to the system at once (free() might keep
 * them in the heap). NULL with errno if the system has no room.
 */
void *
bigbuf_map(size_t size)
{
	void	*p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	return (p == MAP_FAILED ? NULL : p);
}

/* Unmap what bigbuf_map gave (NULL is nothing). */
void
bigbuf_unmap(void *p, size_t size)
{
	if (p != NULL)
		munmap(p, size);
}
