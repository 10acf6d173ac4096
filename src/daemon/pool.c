/* SPDX-License-Identifier: MIT */
/*
 * pool.c: a fixed set of handler threads draining one worker's queue.
 *
 * Threads are created with every signal blocked (the creator blocks them
 * first), so only the worker's signal thread ever sees a signal. Their
 * stacks are small: buffers live on the heap. Each thread's own buffers
 * are sized once at start for small messages; larger ones are taken per
 * connection from the pool's budget (bigbuf.c), which the threads share
 * and which outlives them.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ackd.h"
#include "worker.h"

#define POOL_STACK_SIZE	(256 * 1024)

/* One handler thread: serve connections until the queue is closed and empty. */
static void *
pool_thread(void *arg)
{
	struct pool_member	*m = arg;
	struct conn		 c;

	while (queue_pop(m->queue, &m->waiter, &c) != -1) {
		stats_gauge_add(&m->board->stats, STATS_BUSY, 1);
		handler_serve(&m->handler, &c);
		stats_gauge_add(&m->board->stats, STATS_BUSY, -1);
		/* the watchdog's sign of life when the accept loop waits */
		atomic_fetch_add_explicit(&m->board->progress, 1,
		    memory_order_relaxed);
	}
	return (NULL);
}

/*
 * Start cfg->threads handler threads on queue, handing connections
 * that must wait to stage, counting in board. On
 * failure the threads already started are stopped again, and -1 is
 * returned with errno set.
 */
int
pool_start(struct pool *pool, const struct ackd_config *cfg,
    struct queue *queue, struct stage *stage, struct scoreboard_slot *board)
{
	pthread_attr_t	attr;
	int		rc = 0;

	memset(pool, 0, sizeof(*pool));
	if (bigbuf_init(&pool->budget, cfg->max_memory,
	    conf_need(cfg)) == -1)
		return (-1);
	pool->budget_ready = 1;
	pool->members = calloc((size_t)cfg->threads, sizeof(*pool->members));
	if (pool->members == NULL)
		goto fail;
	for (; pool->ready < cfg->threads; pool->ready++) {
		pool->members[pool->ready].queue = queue;
		pool->members[pool->ready].board = board;
		if (handler_init(&pool->members[pool->ready].handler, cfg,
		    &board->stats, &pool->budget, stage) == -1)
			goto fail;
		if (queue_waiter_init(&pool->members[pool->ready].waiter) == -1) {
			handler_free(&pool->members[pool->ready].handler);
			goto fail;
		}
	}
	if ((rc = pthread_attr_init(&attr)) != 0)
		goto fail_rc;
	pthread_attr_setstacksize(&attr, POOL_STACK_SIZE);
	for (; pool->started < cfg->threads; pool->started++) {
		rc = pthread_create(&pool->members[pool->started].thread, &attr,
		    pool_thread, &pool->members[pool->started]);
		if (rc != 0)
			break;
	}
	pthread_attr_destroy(&attr);
	if (rc != 0)
		goto fail_rc;
	return (0);

fail_rc:
	errno = rc;
fail:
	rc = errno;
	queue_close(queue);
	pool_join(pool);
	errno = rc;
	return (-1);
}

/* Wait for every thread (the queue must be closed) and free the pool. */
void
pool_join(struct pool *pool)
{
	int	i, rc;

	for (i = 0; i < pool->started; i++)
		if ((rc = pthread_join(pool->members[i].thread, NULL)) != 0) {
			errno = rc;
			diag_warn("pthread_join");
		}
	for (i = 0; i < pool->ready; i++) {
		handler_free(&pool->members[i].handler);
		queue_waiter_destroy(&pool->members[i].waiter);
	}
	free(pool->members);
	if (pool->budget_ready)
		bigbuf_destroy(&pool->budget);
	memset(pool, 0, sizeof(*pool));
}
