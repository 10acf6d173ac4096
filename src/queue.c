/*
 * queue.c: a bounded FIFO of accepted descriptors, between one worker's
 * accept loop (the producer) and its handler threads (the consumers).
 *
 * Lock rules: every field of struct queue is read and written only with
 * q->lock held. Consumers wait on not_empty, the producer on not_full. A
 * condition is signalled only when somebody waits on it (the *_waiting
 * counters), so a busy queue costs no futex wake-ups. No I/O happens here,
 * and nothing is ever allocated after queue_init: the queue cannot grow.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "ackd.h"

/* Set up an empty queue holding at most cap descriptors. */
int
queue_init(struct queue *q, size_t cap)
{
	if (cap == 0 || cap > ACKD_QUEUE_MAX) {
		errno = EINVAL;
		return (-1);
	}
	q->slots = calloc(cap, sizeof(*q->slots));
	if (q->slots == NULL)
		return (-1);
	q->cap = cap;
	q->head = q->len = 0;
	q->closed = q->kicked = 0;
	q->consumers_waiting = q->producers_waiting = 0;
	if ((errno = pthread_mutex_init(&q->lock, NULL)) != 0)
		goto fail_slots;
	if ((errno = pthread_cond_init(&q->not_empty, NULL)) != 0)
		goto fail_lock;
	if ((errno = pthread_cond_init(&q->not_full, NULL)) != 0)
		goto fail_cond;
	return (0);

fail_cond:
	pthread_cond_destroy(&q->not_empty);
fail_lock:
	pthread_mutex_destroy(&q->lock);
fail_slots:
	free(q->slots);
	q->slots = NULL;
	return (-1);
}

/* Free a queue nobody uses any more. */
void
queue_destroy(struct queue *q)
{
	pthread_cond_destroy(&q->not_full);
	pthread_cond_destroy(&q->not_empty);
	pthread_mutex_destroy(&q->lock);
	free(q->slots);
	q->slots = NULL;
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

/* Append fd, waiting while the queue is full; -1 if the queue is closed. */
int
queue_push(struct queue *q, int fd)
{
	pthread_mutex_lock(&q->lock);
	queue_wait_not_full(q);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		return (-1);
	}
	q->slots[(q->head + q->len) % q->cap] = fd;
	q->len++;
	if (q->consumers_waiting > 0)
		pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->lock);
	return (0);
}

/* Take the oldest fd, waiting while empty; -1 once closed and drained. */
int
queue_pop(struct queue *q)
{
	int	fd;

	pthread_mutex_lock(&q->lock);
	while (q->len == 0 && !q->closed) {
		q->consumers_waiting++;
		pthread_cond_wait(&q->not_empty, &q->lock);
		q->consumers_waiting--;
	}
	if (q->len == 0) {
		pthread_mutex_unlock(&q->lock);
		return (-1);
	}
	fd = q->slots[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	if (q->producers_waiting > 0)
		pthread_cond_signal(&q->not_full);
	pthread_mutex_unlock(&q->lock);
	return (fd);
}

/*
 * Wait until a push would not block: 0. Returns -1 instead when the queue
 * is closed or queue_kick was called, so the producer can look at why.
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
	if (q->closed)
		rc = -1;
	else if (q->len == q->cap) {
		q->kicked = 0;
		rc = -1;
	}
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
	pthread_mutex_lock(&q->lock);
	q->closed = 1;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->lock);
}

/* How many descriptors wait in the queue now. */
size_t
queue_len(struct queue *q)
{
	size_t	len;

	pthread_mutex_lock(&q->lock);
	len = q->len;
	pthread_mutex_unlock(&q->lock);
	return (len);
}
