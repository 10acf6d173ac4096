/*
 * bigbuf.c: the memory a worker's handlers may take for large messages.
 *
 * Each handler thread owns small buffers that serve every message of up
 * to BIGBUF_SMALL bytes. A larger message, and its log line, live in
 * mappings taken for one connection and unmapped after it, so a worker
 * that served a burst of large messages gives the memory back. What
 * those mappings may hold is charged to the worker's budget
 * (--max-memory) before it is touched: the worker's handlers never hold
 * more than the budget, whatever the clients send.
 *
 * Waiting for budget could deadlock: every handler holding part of a
 * message and waiting for more, none able to finish. So the last
 * `reserve' bytes of the budget (the most one connection can take) are
 * kept for one handler at a time, the owner. The others take only while
 * the reserve stays free (used + want + reserve <= cap); a handler that
 * cannot, and finds no owner, becomes the owner and draws on the reserve,
 * which covers all it can still need. The owner waits for nothing but its
 * client (bounded by the read deadline), so it finishes and gives all it
 * took back, which frees the reserve again (the others never dipped into
 * it) for the next owner. One large message at a time always progresses;
 * the rest wait, up to their connection's read deadline.
 *
 * Lock rules: every field of struct bigbuf is read and written with
 * b->lock held; bigbuf_decide is the pure rule, for unit tests. Mappings
 * are taken and unmapped without the lock: only the accounting is shared.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <time.h>

#include "ackd.h"

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS	MAP_ANON
#endif

/* Set up an empty budget of cap bytes, of which reserve go to the owner. */
int
bigbuf_init(struct bigbuf *b, size_t cap, size_t reserve)
{
	pthread_condattr_t	attr;
	int			rc;

	b->cap = cap;
	b->reserve = reserve;
	b->used = 0;
	b->owner = NULL;
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

/*
 * The rule: may a handler (the owner if is_owner; has_owner if anyone
 * is) take want more bytes when used of cap are taken?
 */
enum bigbuf_verdict
bigbuf_decide(size_t cap, size_t used, size_t reserve, int has_owner,
    int is_owner, size_t want)
{
	if (want > cap - used)
		return (BIGBUF_WAIT);
	if (!is_owner && cap - used - want >= reserve)
		return (BIGBUF_TAKE);
	if (is_owner || !has_owner)
		return (BIGBUF_TAKE_OWNER);
	return (BIGBUF_WAIT);
}

/* Turn deadline_ms on the monotonic clock into a timespec. */
static void
bigbuf_abstime(long long deadline_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline_ms / 1000);
	ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000;
}

/*
 * Take want bytes for who (its handler), waiting until deadline_ms (on
 * the monotonic clock) for others to give some back. 0, or -1 with
 * errno ETIMEDOUT when the deadline passed first.
 */
int
bigbuf_take(struct bigbuf *b, const void *who, size_t want,
    long long deadline_ms)
{
	enum bigbuf_verdict	v;
	struct timespec		ts;
	int			rc = 0;

	bigbuf_abstime(deadline_ms, &ts);
	pthread_mutex_lock(&b->lock);
	while ((v = bigbuf_decide(b->cap, b->used, b->reserve,
	    b->owner != NULL, b->owner == who, want)) == BIGBUF_WAIT &&
	    rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&b->freed, &b->lock, &ts);
	if (v == BIGBUF_TAKE_OWNER)
		b->owner = who;
	if (v != BIGBUF_WAIT)
		b->used += want;
	pthread_mutex_unlock(&b->lock);
	if (v == BIGBUF_WAIT) {
		errno = ETIMEDOUT;
		return (-1);
	}
	return (0);
}

/* who gives back all n bytes it took (and the reserve, if it had it). */
void
bigbuf_give(struct bigbuf *b, const void *who, size_t n)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&b->lock);
	b->used -= n;
	if (b->owner == who)
		b->owner = NULL;
	pthread_mutex_unlock(&b->lock);
	/* rare (large messages only): wake every waiter, each re-decides */
	pthread_cond_broadcast(&b->freed);
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
