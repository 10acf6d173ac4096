/* SPDX-License-Identifier: MIT */
/*
 * queue.c: a bounded FIFO of accepted connections, between one worker's
 * accept loop (the producer) and its handler threads (the consumers).
 *
 * A consumer that finds the ring empty parks: it puts its waiter on the
 * idle stack and sleeps on the waiter's own semaphore. A consumer that
 * has taken a connection is running until it comes back for the next,
 * and it takes the next from the ring before it would park. So a push
 * wakes a parked consumer only for work nobody running will take: while
 * the ring holds more connections than there are running consumers, the
 * oldest connection goes to the most recently parked consumer (its stack
 * and cache are warm), which becomes a running one, and only that one
 * semaphore is posted. Under load the running consumers keep serving
 * from the ring without sleeping, and the producer wakes nobody; at one
 * connection at a time a push wakes one consumer, as before. The cost of
 * a wake-up saved is that a connection may wait in the ring for a running
 * consumer to finish the one it serves: one per running consumer at most,
 * the next one in the ring wakes a parked consumer. Invariant: whenever a
 * consumer is parked, q->len <= q->running. Order stays first in first
 * out (a woken consumer gets the ring's head), and a hand-off costs one
 * futex wake and one futex wait. (A condition variable shared by the
 * consumers costs more: glibc re-takes the mutex after pthread_cond_wait
 * as if contended, so every wake-up adds a futex wake on unlock, and a
 * signaller can sleep while the waiter groups switch.)
 *
 * queue_push_batch appends several connections under one lock and then
 * wakes, once, only as many consumers as the rule above asks for.
 *
 * Lock rules: every field of struct queue is read and written with
 * q->lock held. A waiter's next/parked/has/conn are written with q->lock
 * held by whoever takes it off the idle stack (push or close), which then
 * posts its semaphore; its owner reads them after sem_wait() without the
 * lock, as nobody else can reach a waiter that is off the stack and the
 * semaphore orders the memory. A waiter's running is read and written
 * with q->lock held. The producer waits for room on not_full.
 * Wake-ups are sent after the lock is released, so the woken thread does
 * not go straight back to sleep on the lock. No I/O, and nothing is
 * allocated after queue_init: the queue cannot grow.
 */
#include "config.h"

#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>

#include "ackd.h"
#include "worker.h"

/* Set up an empty queue holding at most cap connections. */
int
queue_init(struct queue *q, size_t cap)
{
	if (cap == 0 || cap > ACKD_QUEUE_MAX) {
		errno = EINVAL;
		return (-1);
	}
	q->ring = calloc(cap, sizeof(*q->ring));
	if (q->ring == NULL)
		return (-1);
	q->cap = cap;
	q->head = q->len = 0;
	q->closed = q->kicked = 0;
	q->idle = NULL;
	q->producers_waiting = 0;
	q->running = 0;
	q->gauge_len = q->gauge_max = NULL;
	if ((errno = pthread_mutex_init(&q->lock, NULL)) != 0)
		goto fail_ring;
	if ((errno = pthread_cond_init(&q->not_full, NULL)) != 0)
		goto fail_lock;
	return (0);

fail_lock:
	pthread_mutex_destroy(&q->lock);
fail_ring:
	free(q->ring);
	q->ring = NULL;
	return (-1);
}

/* Free a queue nobody uses any more. */
void
queue_destroy(struct queue *q)
{
	pthread_cond_destroy(&q->not_full);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	q->ring = NULL;
}

/* Set up a consumer's waiter; one per consumer thread, for its lifetime. */
int
queue_waiter_init(struct queue_waiter *w)
{
	w->next = NULL;
	w->parked = w->has = w->running = 0;
	return (sem_init(&w->sem, 0, 0));
}

/* Free a waiter whose thread is gone. */
void
queue_waiter_destroy(struct queue_waiter *w)
{
	sem_destroy(&w->sem);
}

/* Wait, with the lock held, until there is room or the queue is closed. */
static void
queue_wait_not_full(struct queue *q)
{
	while (q->len == q->cap && !q->closed) {
		q->producers_waiting++;
		pthread_cond_wait(&q->not_full, &q->lock);
		q->producers_waiting--;
	}
}

/*
 * Show the length, and the most it has been, in the gauges queue_gauges
 * gave (read by another process); the lock is held.
 */
static void
queue_publish(struct queue *q)
{
	long	len = (long)q->len;

	if (q->gauge_len == NULL)
		return;
	atomic_store_explicit(q->gauge_len, len, memory_order_relaxed);
	if (len > atomic_load_explicit(q->gauge_max, memory_order_relaxed))
		atomic_store_explicit(q->gauge_max, len, memory_order_relaxed);
}

/* Publish the length in len and its high-water mark in max from now on. */
void
queue_gauges(struct queue *q, atomic_long *len, atomic_long *max)
{
	pthread_mutex_lock(&q->lock);
	q->gauge_len = len;
	q->gauge_max = max;
	pthread_mutex_unlock(&q->lock);
}

/*
 * With the lock held: while the ring holds more connections than the
 * running consumers will take, hand its oldest to the consumer parked
 * last. Returns the consumers so chosen, linked by next, to be posted
 * once the lock is released (queue_post).
 */
static struct queue_waiter *
queue_assign(struct queue *q)
{
	struct queue_waiter	*w, *woken = NULL;

	while (q->idle != NULL && q->len > q->running) {
		w = q->idle;
		q->idle = w->next;
		w->conn = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
		w->has = w->running = 1;
		w->parked = 0;
		q->running++;
		w->next = woken;
		woken = w;
	}
	return (woken);
}

/* Wake the consumers queue_assign chose; the lock is not held. */
static void
queue_post(struct queue_waiter *woken)
{
	struct queue_waiter	*w;

	while ((w = woken) != NULL) {
		woken = w->next;	/* read before the owner runs again */
		sem_post(&w->sem);
	}
}

/*
 * Append the n connections in c, waiting while the queue is full, then
 * wake as many parked consumers as there is work for them (queue_assign).
 * Returns how many more pushes fit now (so the producer knows when to
 * wait for space without locking again), or -1 if the queue is closed
 * (those appended before are served, the rest are the caller's). Only
 * the worker's end closes the queue, once its producers have stopped.
 */
long
queue_push_batch(struct queue *q, const struct conn *c, size_t n)
{
	struct queue_waiter	*woken;
	long			 room;
	size_t			 i;

	pthread_mutex_lock(&q->lock);
	for (i = 0; i < n; i++) {
		if (q->len == q->cap) {
			/* let consumers at what is there before waiting */
			woken = queue_assign(q);
			pthread_mutex_unlock(&q->lock);
			queue_post(woken);
			pthread_mutex_lock(&q->lock);
			queue_wait_not_full(q);
		}
		if (q->closed) {
			pthread_mutex_unlock(&q->lock);
			return (-1);
		}
		q->ring[(q->head + q->len) % q->cap] = c[i];
		q->len++;
	}
	woken = queue_assign(q);
	queue_publish(q);
	room = (long)(q->cap - q->len);
	pthread_mutex_unlock(&q->lock);
	queue_post(woken);
	return (room);
}

/* queue_push_batch of one connection. */
long
queue_push(struct queue *q, const struct conn *c)
{
	return (queue_push_batch(q, c, 1));
}

/* Sleep until whoever took w off the idle stack posts it. */
static void
queue_park(struct queue_waiter *w)
{
	while (sem_wait(&w->sem) == -1 && errno == EINTR)
		;
}

/*
 * Take the oldest connection into c, parking on w while there is none;
 * the caller's previous connection (if any) is done. Returns 0, or -1
 * once the queue is closed and drained.
 */
int
queue_pop(struct queue *q, struct queue_waiter *w, struct conn *c)
{
	int	wake;

	pthread_mutex_lock(&q->lock);
	if (w->running) {
		w->running = 0;
		q->running--;
	}
	while (q->len == 0 && !q->closed) {
		w->next = q->idle;
		q->idle = w;
		w->parked = 1;
		pthread_mutex_unlock(&q->lock);
		queue_park(w);
		if (w->has) {		/* handed over: no lock needed */
			w->has = 0;
			*c = w->conn;
			return (0);
		}
		pthread_mutex_lock(&q->lock);	/* woken by queue_close */
	}
	if (q->len == 0) {
		pthread_mutex_unlock(&q->lock);
		return (-1);
	}
	*c = q->ring[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	w->running = 1;
	q->running++;
	queue_publish(q);
	wake = q->producers_waiting > 0;
	pthread_mutex_unlock(&q->lock);
	if (wake)
		pthread_cond_signal(&q->not_full);
	return (0);
}

/*
 * Wait until a push would not block: 0. Returns -1 instead when the queue
 * is closed or queue_kick was called, so the producer can look at why.
 * A kick is used up by the wait it ends, or by the next one.
 */
int
queue_wait_space(struct queue *q)
{
	int	rc = 0;

	pthread_mutex_lock(&q->lock);
	while (q->len == q->cap && !q->closed && !q->kicked) {
		q->producers_waiting++;
		pthread_cond_wait(&q->not_full, &q->lock);
		q->producers_waiting--;
	}
	if (q->closed || q->len == q->cap)
		rc = -1;
	q->kicked = 0;
	pthread_mutex_unlock(&q->lock);
	return (rc);
}

/* Make the producer's queue_wait_space return even without room. */
void
queue_kick(struct queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->kicked = 1;
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->lock);
}

/* Refuse further pushes; consumers drain what is left, then get -1. */
void
queue_close(struct queue *q)
{
	struct queue_waiter	*w;

	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	while ((w = q->idle) != NULL) {
		q->idle = w->next;
		w->parked = 0;
		sem_post(&w->sem);
	}
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->lock);
}

/* How many connections wait in the ring now (handed-off ones are not). */
size_t
queue_len(struct queue *q)
{
	size_t	len;

	pthread_mutex_lock(&q->lock);
	len = q->len;
	pthread_mutex_unlock(&q->lock);
	return (len);
}
