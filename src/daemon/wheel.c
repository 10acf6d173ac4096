/* SPDX-License-Identifier: MIT */
/*
 * wheel.c: the event stage's deadlines, a hashed timing wheel. Each parked
 * connection has one deadline (its read timeout); there are thousands, they
 * are added and removed far more often than they fire, and one timer tick
 * of slack is fine. So: nbuckets circular lists, a deadline goes into the
 * bucket of its tick (when_ms / tick_ms, modulo nbuckets), and add and
 * remove are O(1) list operations on a node embedded in the connection; no
 * allocation after wheel_init. Pure: no clock is read, no I/O, the times
 * are arguments (monotonic milliseconds), so the unit tests drive it.
 *
 * Invariants:
 * - done_ms is a multiple of tick_ms: the start of the current tick, the
 *   first one not processed yet. Every tick before it has been visited and
 *   nothing due in it is left. It never goes back; on an empty wheel,
 *   wheel_expire moves it up to now_ms's tick.
 * - A node with when_ms >= done_ms is in the bucket of its own tick. One
 *   added with when_ms < done_ms (already late) goes into the current
 *   tick's bucket, which the next wheel_expire visits first. So no node
 *   sits in a bucket behind done_ms's tick, and the first non-empty bucket
 *   from the current tick on holds the earliest deadlines.
 * - A deadline farther than one revolution (nbuckets * tick_ms) shares its
 *   bucket with nearer ones: wheel_expire compares when_ms with the time
 *   and skips it until it is due, revolution after revolution.
 * - next == NULL and prev == NULL exactly when a node is on no wheel.
 *
 * Cost: wheel_expire visits only the buckets of the ticks that passed since
 * the last call, and at most nbuckets of them however much time passed (one
 * revolution visits every bucket, and each bucket is searched for every due
 * node, not only its own tick's). Within a bucket, the search resumes after
 * the node it returned last (the bucket's sentinel is moved there), so
 * draining a bucket passes each node not due once, not once per node
 * returned. wheel_timeout_ms looks for the first non-empty bucket (at most
 * nbuckets empty heads) and searches that one bucket.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "ackd.h"
#include "worker.h"

/* The tick a time falls in: floor division, also for times before 0. */
static long long
wheel_tick(const struct wheel *w, long long ms)
{
	long long	t = ms / w->tick_ms;

	if (ms % w->tick_ms != 0 && ms < 0)
		t--;
	return (t);
}

/* The sentinel of a tick's bucket. */
static struct wheel_node *
wheel_bucket(const struct wheel *w, long long tick)
{
	long long	n = (long long)w->nbuckets;

	return (&w->bucket[((tick % n) + n) % n]);
}

/* Put node n after node at in a circular list. */
static void
wheel_link(struct wheel_node *at, struct wheel_node *n)
{
	n->prev = at;
	n->next = at->next;
	at->next->prev = n;
	at->next = n;
}

/* Take node n out of its circular list; its own links stay as they were. */
static void
wheel_unlink(struct wheel_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

/* Set up an empty wheel of nbuckets ticks of tick_ms, at time now_ms. */
int
wheel_init(struct wheel *w, size_t nbuckets, long long tick_ms,
    long long now_ms)
{
	size_t	i;

	if (nbuckets == 0 || nbuckets > WHEEL_BUCKETS_MAX || tick_ms <= 0) {
		errno = EINVAL;
		return (-1);
	}
	if ((w->bucket = calloc(nbuckets, sizeof(*w->bucket))) == NULL)
		return (-1);
	for (i = 0; i < nbuckets; i++)
		w->bucket[i].next = w->bucket[i].prev = &w->bucket[i];
	w->nbuckets = nbuckets;
	w->tick_ms = tick_ms;
	w->done_ms = wheel_tick(w, now_ms) * tick_ms;
	w->count = 0;
	return (0);
}

/* Free the wheel; the nodes still on it are left on no wheel. */
void
wheel_destroy(struct wheel *w)
{
	struct wheel_node	*s, *n;
	size_t			 i;

	if (w->bucket == NULL)
		return;
	for (i = 0; i < w->nbuckets; i++) {
		s = &w->bucket[i];
		while ((n = s->next) != s) {
			wheel_unlink(n);
			n->next = n->prev = NULL;
		}
	}
	free(w->bucket);
	w->bucket = NULL;
	w->count = 0;
}

/* Whether a node is on a wheel. */
int
wheel_on(const struct wheel_node *n)
{
	return (n->next != NULL);
}

/* Put a node on the wheel, due at when_ms; one already on it moves. */
void
wheel_add(struct wheel *w, struct wheel_node *n, long long when_ms)
{
	long long	tick;

	if (wheel_on(n))
		wheel_del(w, n);
	n->when_ms = when_ms;
	tick = wheel_tick(w, when_ms);
	if (when_ms < w->done_ms)
		tick = wheel_tick(w, w->done_ms);	/* late: the current tick */
	wheel_link(wheel_bucket(w, tick), n);
	w->count++;
}

/* Take a node off the wheel; nothing if it is on none. */
void
wheel_del(struct wheel *w, struct wheel_node *n)
{
	if (!wheel_on(n))
		return;
	wheel_unlink(n);
	n->next = n->prev = NULL;
	w->count--;
}

/*
 * Take the first node due at now_ms out of bucket s, or NULL. The search
 * goes on after it next time: the sentinel moves to where it was, so the
 * nodes passed over now come last.
 */
static struct wheel_node *
wheel_take(struct wheel *w, struct wheel_node *s, long long now_ms)
{
	struct wheel_node	*n, *before;

	for (n = s->next; n != s && n->when_ms > now_ms; n = n->next)
		continue;
	if (n == s)
		return (NULL);
	before = n->prev;
	wheel_del(w, n);
	if (before != s) {
		wheel_unlink(s);
		wheel_link(before, s);
	}
	return (n);
}

/* Remove and return one node due at now_ms (when_ms <= now_ms), or NULL. */
struct wheel_node *
wheel_expire(struct wheel *w, long long now_ms)
{
	struct wheel_node	*n;
	long long		 tick, now_tick = wheel_tick(w, now_ms);

	if (w->count == 0) {	/* every tick is done: keep up with time */
		if (now_tick * w->tick_ms > w->done_ms)
			w->done_ms = now_tick * w->tick_ms;
		return (NULL);
	}
	/* a revolution or more passed: visiting the last one's buckets
	 * is visiting every bucket, which finds every due node */
	tick = wheel_tick(w, w->done_ms);
	if (now_tick - tick >= (long long)w->nbuckets)
		tick = now_tick - (long long)w->nbuckets + 1;
	for (;;) {
		w->done_ms = tick * w->tick_ms;
		if ((n = wheel_take(w, wheel_bucket(w, tick), now_ms)) != NULL)
			return (n);
		if (tick >= now_tick)
			return (NULL);
		tick++;
	}
}

/*
 * The earliest deadline in bucket s that falls in tick (or before it:
 * late ones) into *at_ms; 0 when the bucket holds only later
 * revolutions' deadlines.
 */
static int
wheel_earliest(const struct wheel *w, const struct wheel_node *s,
    long long tick, long long *at_ms)
{
	const struct wheel_node	*n;
	long long		 end_ms = (tick + 1) * w->tick_ms, best = 0;
	int			 found = 0;

	for (n = s->next; n != s; n = n->next) {
		if (n->when_ms < end_ms && (!found || n->when_ms < best)) {
			best = n->when_ms;
			found = 1;
		}
	}
	*at_ms = best;
	return (found);
}

/* The first tick from first whose bucket is not empty (count > 0). */
static long long
wheel_next_used(const struct wheel *w, long long first)
{
	const struct wheel_node	*s = wheel_bucket(w, first);
	const struct wheel_node	*end = w->bucket + w->nbuckets;
	size_t			 i;

	/* walk the array, not tick by tick: no division per bucket */
	for (i = 0; i < w->nbuckets && s->next == s; i++)
		if (++s == end)
			s = w->bucket;
	return (first + (long long)i);
}

/*
 * How long from now_ms until wheel_expire may return a node: -1 when the
 * wheel is empty, 0 when one is due, else at most one revolution. Waiting
 * that long and calling wheel_expire returns a node by its when_ms, or by
 * the end of its tick when a farther deadline shares its bucket.
 */
long long
wheel_timeout_ms(const struct wheel *w, long long now_ms)
{
	long long	tick, at_ms, rev_ms;

	if (w->count == 0)
		return (-1);
	rev_ms = (long long)w->nbuckets * w->tick_ms;
	tick = wheel_next_used(w, wheel_tick(w, w->done_ms));
	/* a later revolution's only: look again when this tick ends */
	if (!wheel_earliest(w, wheel_bucket(w, tick), tick, &at_ms))
		at_ms = (tick + 1) * w->tick_ms;
	if (at_ms <= now_ms)
		return (0);
	return (at_ms - now_ms < rev_ms ? at_ms - now_ms : rev_ms);
}
