/* SPDX-License-Identifier: MIT */
/*
 * check_queue.c: unit tests of the bounded descriptor FIFO in queue.c.
 *
 * Blocking is proven without timing guesses: a helper thread's call is
 * known to be blocked once the queue's *_waiting counter (polled under the
 * queue's lock, as queue.c's lock rules require) says so, and known to
 * have returned once its latch is set. A short bounded wait is used only
 * to show that something did NOT happen.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "ackd.h"
#include "worker.h"

/* How long a test waits for something that must happen. */
#define CHECK_QUEUE_DEADLINE_MS	5000
/* How long a test waits to show that something does not happen. */
#define CHECK_QUEUE_QUIET_MS	100

/* A one-shot flag a thread sets when its call has returned. */
struct check_queue_latch {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 set;
};

/* One queue call made on a helper thread. */
struct check_queue_call {
	struct queue			*q;
	int				 fd;	/* what queue_push pushes */
	int				 rc;	/* what the call returned */
	struct conn			 got;	/* what queue_pop gave */
	struct check_queue_latch	 done;
	pthread_t			 thread;
};

/* Set up an unset latch. */
static void
check_queue_latch_init(struct check_queue_latch *l)
{
	ck_assert_int_eq(pthread_mutex_init(&l->lock, NULL), 0);
	ck_assert_int_eq(pthread_cond_init(&l->cond, NULL), 0);
	l->set = 0;
}

/* Free a latch nobody waits on. */
static void
check_queue_latch_destroy(struct check_queue_latch *l)
{
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
}

/* Set the latch and wake its waiter. */
static void
check_queue_latch_set(struct check_queue_latch *l)
{
	pthread_mutex_lock(&l->lock);
	l->set = 1;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

/* Wait at most ms for the latch; 1 if it is set. */
static int
check_queue_latch_wait(struct check_queue_latch *l, long ms)
{
	struct timespec	ts;
	int		set;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->lock);
	while (!l->set &&
	    pthread_cond_timedwait(&l->cond, &l->lock, &ts) != ETIMEDOUT)
		;
	set = l->set;
	pthread_mutex_unlock(&l->lock);
	return (set);
}

/* Milliseconds on the monotonic clock. */
static long long
check_queue_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * queue_push of a connection whose fd is v: 0 if queued, -1 if refused.
 * (queue_push's room count has a test of its own.)
 */
static int
check_queue_put(struct queue *q, int v)
{
	struct conn	c;

	memset(&c, 0, sizeof(c));
	c.fd = v;
	return (queue_push(q, &c) >= 0 ? 0 : -1);
}

/* queue_pop into c with the calling thread's own waiter: c's fd, or -1. */
static int
check_queue_take_conn(struct queue *q, struct conn *c)
{
	static __thread struct queue_waiter	w;
	static __thread struct queue		*mine;

	/* a waiter serves one queue for life (it is counted running in
	 * it); without CK_FORK the tests' queues come and go in one thread */
	if (mine != q) {
		if (mine != NULL)
			queue_waiter_destroy(&w);
		ck_assert_int_eq(queue_waiter_init(&w), 0);
		mine = q;
	}
	return (queue_pop(q, &w, c) == 0 ? c->fd : -1);
}

/* queue_pop: the fd, or -1. */
static int
check_queue_take(struct queue *q)
{
	struct conn	c;

	return (check_queue_take_conn(q, &c));
}

/* How many producers wait for room, or consumers are parked, on q. */
static unsigned
check_queue_waiting(struct queue *q, int producers)
{
	struct queue_waiter	*w;
	unsigned		 n = 0;

	pthread_mutex_lock(&q->lock);
	if (producers)
		n = q->producers_waiting;
	else
		for (w = q->idle; w != NULL; w = w->next)
			n++;
	pthread_mutex_unlock(&q->lock);
	return (n);
}

/* Wait until n producers (or consumers) are blocked on q; 1 if they are. */
static int
check_queue_wait_blocked(struct queue *q, int producers, unsigned n)
{
	long long		deadline = check_queue_now_ms() +
	    CHECK_QUEUE_DEADLINE_MS;
	struct timespec		tick = { 0, 1000000L };

	while (check_queue_waiting(q, producers) != n) {
		if (check_queue_now_ms() > deadline)
			return (0);
		nanosleep(&tick, NULL);
	}
	return (1);
}

/* Thread body: check_queue_put(call->fd). */
static void *
check_queue_push_main(void *arg)
{
	struct check_queue_call	*c = arg;

	c->rc = check_queue_put(c->q, c->fd);
	check_queue_latch_set(&c->done);
	return (NULL);
}

/* Thread body: queue_pop. */
static void *
check_queue_pop_main(void *arg)
{
	struct check_queue_call	*c = arg;

	c->rc = check_queue_take_conn(c->q, &c->got);
	check_queue_latch_set(&c->done);
	return (NULL);
}

/* Thread body: queue_wait_space. */
static void *
check_queue_wait_space_main(void *arg)
{
	struct check_queue_call	*c = arg;

	c->rc = queue_wait_space(c->q);
	check_queue_latch_set(&c->done);
	return (NULL);
}

/* Run fn(c) on a new thread. */
static void
check_queue_call_start(struct check_queue_call *c, struct queue *q, int fd,
    void *(*fn)(void *))
{
	c->q = q;
	c->fd = fd;
	c->rc = -2;
	check_queue_latch_init(&c->done);
	ck_assert_msg(pthread_create(&c->thread, NULL, fn, c) == 0,
	    "pthread_create failed");
}

/* Join the call's thread, which must have returned already. */
static void
check_queue_call_join(struct check_queue_call *c)
{
	ck_assert_int_eq(pthread_join(c->thread, NULL), 0);
	check_queue_latch_destroy(&c->done);
}

/* Fill q (capacity cap) with the descriptors 100, 101, ... */
static void
check_queue_fill(struct queue *q, size_t cap)
{
	size_t	i;

	for (i = 0; i < cap; i++)
		ck_assert_msg(check_queue_put(q, 100 + (int)i) == 0,
		    "push %zu of %zu into a queue with room failed", i, cap);
	ck_assert_uint_eq(queue_len(q), cap);
}

START_TEST(check_queue_init_rejects_bad_capacity)
{
	struct queue	q;
	int		rc, err;

	errno = 0;
	rc = queue_init(&q, 0);
	err = errno;
	ck_assert_msg(rc == -1, "capacity 0 accepted");
	ck_assert_msg(err == EINVAL, "capacity 0: errno %d, not EINVAL", err);
	errno = 0;
	rc = queue_init(&q, ACKD_QUEUE_MAX + 1);
	err = errno;
	ck_assert_msg(rc == -1, "capacity ACKD_QUEUE_MAX + 1 accepted");
	ck_assert_msg(err == EINVAL, "capacity too big: errno %d, not EINVAL",
	    err);
	ck_assert_msg(queue_init(&q, ACKD_QUEUE_MAX) == 0,
	    "capacity ACKD_QUEUE_MAX refused");
	ck_assert_uint_eq(queue_len(&q), 0);
	queue_destroy(&q);
	ck_assert_msg(queue_init(&q, 1) == 0, "capacity 1 refused");
	queue_destroy(&q);
}
END_TEST

START_TEST(check_queue_fifo_order)
{
	struct queue	q;
	int		i;

	ck_assert_int_eq(queue_init(&q, 8), 0);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(check_queue_put(&q, i), 0);
	for (i = 0; i < 8; i++)
		ck_assert_msg(check_queue_take(&q) == i, "pop %d out of order", i);
	queue_destroy(&q);
}
END_TEST

/* A ring that wraps many times keeps FIFO order against a plain model. */
START_TEST(check_queue_fifo_order_wraps)
{
	struct queue	q;
	int		model[5], head = 0, len = 0, next = 0, step, want;

	ck_assert_int_eq(queue_init(&q, 5), 0);
	for (step = 0; step < 1000; step++) {
		/* of every 5 steps push 3 (pop if full), pop 2: fill and wrap */
		if ((step % 5) < 3 && len < 5) {
			ck_assert_int_eq(check_queue_put(&q, next), 0);
			model[(head + len) % 5] = next++;
			len++;
		} else if (len > 0) {
			want = model[head];
			head = (head + 1) % 5;
			len--;
			ck_assert_msg(check_queue_take(&q) == want,
			    "step %d: pop is not the oldest (%d)", step, want);
		}
		ck_assert_uint_eq(queue_len(&q), (size_t)len);
	}
	while (len > 0) {
		ck_assert_int_eq(check_queue_take(&q), model[head]);
		head = (head + 1) % 5;
		len--;
	}
	ck_assert_uint_eq(queue_len(&q), 0);
	queue_destroy(&q);
}
END_TEST

START_TEST(check_queue_len_counts)
{
	struct queue	q;
	size_t		i;

	ck_assert_int_eq(queue_init(&q, 4), 0);
	ck_assert_uint_eq(queue_len(&q), 0);
	for (i = 1; i <= 4; i++) {
		ck_assert_int_eq(check_queue_put(&q, (int)i), 0);
		ck_assert_msg(queue_len(&q) == i, "len %zu after %zu pushes",
		    queue_len(&q), i);
	}
	for (i = 4; i > 0; i--) {
		ck_assert_int_ne(check_queue_take(&q), -1);
		ck_assert_msg(queue_len(&q) == i - 1, "len %zu after a pop "
		    "from %zu", queue_len(&q), i);
	}
	queue_destroy(&q);
}
END_TEST

START_TEST(check_queue_push_blocks_when_full)
{
	struct queue		q;
	struct check_queue_call	c;

	ck_assert_int_eq(queue_init(&q, 3), 0);
	check_queue_fill(&q, 3);
	check_queue_call_start(&c, &q, 7, check_queue_push_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 1, 1),
	    "the producer never waited on the full queue");
	ck_assert_msg(!check_queue_latch_wait(&c.done, CHECK_QUEUE_QUIET_MS),
	    "push into a full queue returned %d without a pop", c.rc);
	ck_assert_uint_eq(queue_len(&q), 3);

	ck_assert_int_eq(check_queue_take(&q), 100);
	ck_assert_msg(check_queue_latch_wait(&c.done, CHECK_QUEUE_DEADLINE_MS),
	    "a pop did not release the blocked producer");
	check_queue_call_join(&c);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_uint_eq(queue_len(&q), 3);
	ck_assert_int_eq(check_queue_take(&q), 101);
	ck_assert_int_eq(check_queue_take(&q), 102);
	ck_assert_msg(check_queue_take(&q) == 7, "the released push is not last");
	queue_destroy(&q);
}
END_TEST

START_TEST(check_queue_pop_blocks_when_empty)
{
	struct queue		q;
	struct check_queue_call	c;

	ck_assert_int_eq(queue_init(&q, 2), 0);
	check_queue_call_start(&c, &q, 0, check_queue_pop_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 0, 1),
	    "the consumer never waited on the empty queue");
	ck_assert_msg(!check_queue_latch_wait(&c.done, CHECK_QUEUE_QUIET_MS),
	    "pop from an empty queue returned %d without a push", c.rc);

	ck_assert_int_eq(check_queue_put(&q, 42), 0);
	ck_assert_msg(check_queue_latch_wait(&c.done, CHECK_QUEUE_DEADLINE_MS),
	    "a push did not wake the blocked consumer");
	check_queue_call_join(&c);
	ck_assert_int_eq(c.rc, 42);
	ck_assert_uint_eq(queue_len(&q), 0);
	queue_destroy(&q);
}
END_TEST

/* queue_push says how many more fit, so the producer locks once a push. */
START_TEST(check_queue_push_returns_room)
{
	struct queue	q;
	struct conn	c;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(queue_init(&q, 3), 0);
	ck_assert_int_eq(queue_push(&q, &c), 2);
	ck_assert_int_eq(queue_push(&q, &c), 1);
	ck_assert_int_eq(queue_push(&q, &c), 0);
	ck_assert_int_ne(check_queue_take(&q), -1);
	ck_assert_int_eq(queue_push(&q, &c), 0);
	queue_close(&q);
	ck_assert_int_eq(queue_push(&q, &c), -1);
	queue_destroy(&q);
}
END_TEST

/*
 * With consumers parked, a push goes straight to the one parked last (the
 * warmest), not through the ring, and carries the whole connection.
 */
START_TEST(check_queue_handoff_to_newest_parked)
{
	struct queue		q;
	struct check_queue_call	a, b;
	struct conn		c;

	ck_assert_int_eq(queue_init(&q, 4), 0);
	check_queue_call_start(&a, &q, 0, check_queue_pop_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 0, 1), "a never parked");
	check_queue_call_start(&b, &q, 0, check_queue_pop_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 0, 2), "b never parked");

	memset(&c, 0, sizeof(c));
	c.fd = 55;
	c.addrlen = sizeof(c.addr.sin);
	c.addr.sin.sin_family = AF_INET;
	c.addr.sin.sin_port = htons(4242);
	ck_assert_int_eq(queue_push(&q, &c), 4);	/* the ring stays empty */
	ck_assert_uint_eq(queue_len(&q), 0);
	ck_assert_msg(check_queue_latch_wait(&b.done, CHECK_QUEUE_DEADLINE_MS),
	    "the newest parked consumer was not woken");
	ck_assert_int_eq(b.rc, 55);
	ck_assert_int_eq(ntohs(b.got.addr.sin.sin_port), 4242);
	ck_assert_int_eq(b.got.addrlen, sizeof(c.addr.sin));
	ck_assert_msg(!check_queue_latch_wait(&a.done, CHECK_QUEUE_QUIET_MS),
	    "one push woke two consumers");
	ck_assert_int_eq(check_queue_waiting(&q, 0), 1);
	check_queue_call_join(&b);

	queue_close(&q);
	ck_assert_msg(check_queue_latch_wait(&a.done, CHECK_QUEUE_DEADLINE_MS),
	    "close did not wake the parked consumer");
	check_queue_call_join(&a);
	ck_assert_int_eq(a.rc, -1);
	queue_destroy(&q);
}
END_TEST

/*
 * A consumer that has taken a connection takes the next from the ring
 * before it would park, so a push while it runs wakes no parked one: the
 * connection waits in the ring, and the running consumer gets it.
 */
START_TEST(check_queue_running_takes_next_before_park)
{
	struct queue		q;
	struct check_queue_call	b;

	ck_assert_int_eq(queue_init(&q, 4), 0);
	check_queue_call_start(&b, &q, 0, check_queue_pop_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 0, 1), "b never parked");
	ck_assert_int_eq(check_queue_put(&q, 7), 0);	/* to b: nobody runs */
	ck_assert_msg(check_queue_latch_wait(&b.done, CHECK_QUEUE_DEADLINE_MS),
	    "a push with nobody running woke nobody");
	check_queue_call_join(&b);
	ck_assert_int_eq(b.rc, 7);

	ck_assert_int_eq(check_queue_put(&q, 8), 0);
	ck_assert_int_eq(check_queue_take(&q), 8);	/* this thread runs */
	check_queue_call_start(&b, &q, 0, check_queue_pop_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 0, 1), "b never parked");
	ck_assert_int_eq(check_queue_put(&q, 9), 0);
	ck_assert_msg(!check_queue_latch_wait(&b.done, CHECK_QUEUE_QUIET_MS),
	    "a push woke a parked consumer while a running one will take it");
	ck_assert_uint_eq(queue_len(&q), 1);
	ck_assert_int_eq(check_queue_take(&q), 9);	/* no park: it is there */
	ck_assert_uint_eq(queue_len(&q), 0);

	queue_close(&q);
	ck_assert_msg(check_queue_latch_wait(&b.done, CHECK_QUEUE_DEADLINE_MS),
	    "close did not wake the parked consumer");
	check_queue_call_join(&b);
	ck_assert_int_eq(b.rc, -1);
	queue_destroy(&q);
}
END_TEST

/* Start consumer calls[i] for i < n, each parked before the next starts. */
static void
check_queue_park_n(struct queue *q, struct check_queue_call *calls, int n)
{
	int	i;

	for (i = 0; i < n; i++) {
		check_queue_call_start(&calls[i], q, 0, check_queue_pop_main);
		ck_assert_msg(check_queue_wait_blocked(q, 0, (unsigned)i + 1),
		    "consumer %d never parked", i);
	}
}

/* A batch of connections whose fds are first, first + 1, ... */
static void
check_queue_batch(struct conn *c, size_t n, int first)
{
	size_t	i;

	memset(c, 0, n * sizeof(*c));
	for (i = 0; i < n; i++)
		c[i].fd = first + (int)i;
}

/*
 * A batch wakes parked consumers, the newest parked first, each given
 * the oldest connection left (FIFO), only while the ring holds more than
 * the running (and just woken) consumers will take before they park:
 * three connections wake two consumers; the one parked first sleeps on.
 */
START_TEST(check_queue_batch_wakes_newest_for_work)
{
	struct queue		q;
	struct check_queue_call	calls[3];
	struct conn		c[3];

	ck_assert_int_eq(queue_init(&q, 4), 0);
	check_queue_park_n(&q, calls, 3);
	check_queue_batch(c, 3, 20);
	ck_assert_int_eq(queue_push_batch(&q, c, 3), 3);
	ck_assert_msg(check_queue_latch_wait(&calls[2].done,
	    CHECK_QUEUE_DEADLINE_MS), "the newest parked was not woken");
	ck_assert_msg(check_queue_latch_wait(&calls[1].done,
	    CHECK_QUEUE_DEADLINE_MS), "the second newest was not woken");
	ck_assert_int_eq(calls[2].rc, 20);
	ck_assert_int_eq(calls[1].rc, 21);
	ck_assert_msg(!check_queue_latch_wait(&calls[0].done,
	    CHECK_QUEUE_QUIET_MS), "three connections woke three consumers");
	ck_assert_uint_eq(queue_len(&q), 1);	/* 22: for 20's or 21's taker */
	check_queue_call_join(&calls[2]);
	check_queue_call_join(&calls[1]);

	queue_close(&q);
	/* the ring is not empty: the parked one is woken to drain it */
	ck_assert_msg(check_queue_latch_wait(&calls[0].done,
	    CHECK_QUEUE_DEADLINE_MS), "close did not wake the parked consumer");
	check_queue_call_join(&calls[0]);
	ck_assert_int_eq(calls[0].rc, 22);
	queue_destroy(&q);
}
END_TEST

/*
 * Beside a running consumer, a batch of three wakes one parked consumer
 * (with the oldest): the running one will take one of the other two,
 * the woken one the last. Order stays first in first out.
 */
START_TEST(check_queue_batch_counts_running)
{
	struct queue		q;
	struct check_queue_call	calls[2];
	struct conn		c[3];

	ck_assert_int_eq(queue_init(&q, 8), 0);
	ck_assert_int_eq(check_queue_put(&q, 1), 0);
	ck_assert_int_eq(check_queue_take(&q), 1);	/* this thread runs */
	check_queue_park_n(&q, calls, 2);
	check_queue_batch(c, 3, 30);
	ck_assert_int_eq(queue_push_batch(&q, c, 3), 6);
	ck_assert_msg(check_queue_latch_wait(&calls[1].done,
	    CHECK_QUEUE_DEADLINE_MS), "the newest parked was not woken");
	ck_assert_int_eq(calls[1].rc, 30);
	ck_assert_msg(!check_queue_latch_wait(&calls[0].done,
	    CHECK_QUEUE_QUIET_MS), "a consumer was woken for covered work");
	ck_assert_int_eq(check_queue_take(&q), 31);
	ck_assert_int_eq(check_queue_take(&q), 32);
	check_queue_call_join(&calls[1]);

	queue_close(&q);
	ck_assert_msg(check_queue_latch_wait(&calls[0].done,
	    CHECK_QUEUE_DEADLINE_MS), "close did not wake the parked consumer");
	check_queue_call_join(&calls[0]);
	queue_destroy(&q);
}
END_TEST

/* A batch larger than the room waits for a consumer, then goes in whole. */
START_TEST(check_queue_batch_waits_for_room)
{
	struct queue		q;
	struct check_queue_call	b;
	struct conn		c[3];

	ck_assert_int_eq(queue_init(&q, 2), 0);
	check_queue_batch(c, 3, 40);
	check_queue_call_start(&b, &q, 0, check_queue_pop_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 0, 1), "b never parked");
	/* 40 and 41 fill the ring; b is given 40 before the producer waits */
	ck_assert_int_eq(queue_push_batch(&q, c, 3), 0);
	ck_assert_msg(check_queue_latch_wait(&b.done, CHECK_QUEUE_DEADLINE_MS),
	    "b was not woken before the producer waited");
	check_queue_call_join(&b);
	ck_assert_int_eq(b.rc, 40);
	ck_assert_int_eq(check_queue_take(&q), 41);
	ck_assert_int_eq(check_queue_take(&q), 42);
	queue_close(&q);
	queue_destroy(&q);
}
END_TEST

/* A kick while there is room is used up by the next wait, not kept. */
START_TEST(check_queue_kick_with_room_not_kept)
{
	struct queue		q;
	struct check_queue_call	c;

	ck_assert_int_eq(queue_init(&q, 2), 0);
	queue_kick(&q);
	ck_assert_int_eq(queue_wait_space(&q), 0);
	check_queue_fill(&q, 2);
	check_queue_call_start(&c, &q, 0, check_queue_wait_space_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 1, 1),
	    "an old kick made queue_wait_space return on a full queue");
	ck_assert_int_eq(check_queue_take(&q), 100);
	ck_assert_msg(check_queue_latch_wait(&c.done, CHECK_QUEUE_DEADLINE_MS),
	    "a pop did not wake queue_wait_space");
	check_queue_call_join(&c);
	ck_assert_int_eq(c.rc, 0);
	queue_destroy(&q);
}
END_TEST

START_TEST(check_queue_close_drains_then_fails)
{
	struct queue	q;

	ck_assert_int_eq(queue_init(&q, 4), 0);
	ck_assert_int_eq(check_queue_put(&q, 10), 0);
	ck_assert_int_eq(check_queue_put(&q, 11), 0);
	ck_assert_int_eq(check_queue_put(&q, 12), 0);
	queue_close(&q);
	ck_assert_msg(check_queue_put(&q, 13) == -1, "push after close accepted");
	ck_assert_uint_eq(queue_len(&q), 3);
	ck_assert_int_eq(check_queue_take(&q), 10);
	ck_assert_int_eq(check_queue_take(&q), 11);
	ck_assert_int_eq(check_queue_take(&q), 12);
	ck_assert_msg(check_queue_take(&q) == -1, "pop of a drained closed queue");
	ck_assert_msg(check_queue_take(&q) == -1, "second pop of a drained queue");
	ck_assert_uint_eq(queue_len(&q), 0);
	queue_destroy(&q);
}
END_TEST

START_TEST(check_queue_close_wakes_consumers)
{
	struct queue		q;
	struct check_queue_call	c[3];
	int			i;

	ck_assert_int_eq(queue_init(&q, 2), 0);
	for (i = 0; i < 3; i++)
		check_queue_call_start(&c[i], &q, 0, check_queue_pop_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 0, 3),
	    "three consumers never waited on the empty queue");
	queue_close(&q);
	for (i = 0; i < 3; i++) {
		ck_assert_msg(check_queue_latch_wait(&c[i].done,
		    CHECK_QUEUE_DEADLINE_MS), "close left consumer %d asleep",
		    i);
		check_queue_call_join(&c[i]);
		ck_assert_msg(c[i].rc == -1, "consumer %d got %d, not -1", i,
		    c[i].rc);
	}
	queue_destroy(&q);
}
END_TEST

START_TEST(check_queue_close_wakes_producer)
{
	struct queue		q;
	struct check_queue_call	c;

	ck_assert_int_eq(queue_init(&q, 2), 0);
	check_queue_fill(&q, 2);
	check_queue_call_start(&c, &q, 7, check_queue_push_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 1, 1),
	    "the producer never waited on the full queue");
	queue_close(&q);
	ck_assert_msg(check_queue_latch_wait(&c.done, CHECK_QUEUE_DEADLINE_MS),
	    "close left the producer asleep");
	check_queue_call_join(&c);
	ck_assert_msg(c.rc == -1, "push into a closed queue returned %d", c.rc);
	ck_assert_uint_eq(queue_len(&q), 2);
	ck_assert_int_eq(check_queue_take(&q), 100);
	ck_assert_int_eq(check_queue_take(&q), 101);
	ck_assert_int_eq(check_queue_take(&q), -1);
	queue_destroy(&q);
}
END_TEST

START_TEST(check_queue_wait_space_with_room)
{
	struct queue	q;

	ck_assert_int_eq(queue_init(&q, 2), 0);
	ck_assert_msg(queue_wait_space(&q) == 0, "empty queue: no space?");
	ck_assert_int_eq(check_queue_put(&q, 1), 0);
	ck_assert_msg(queue_wait_space(&q) == 0, "half-full queue: no space?");
	ck_assert_uint_eq(queue_len(&q), 1);
	queue_destroy(&q);
}
END_TEST

START_TEST(check_queue_wait_space_until_pop)
{
	struct queue		q;
	struct check_queue_call	c;

	ck_assert_int_eq(queue_init(&q, 2), 0);
	check_queue_fill(&q, 2);
	check_queue_call_start(&c, &q, 0, check_queue_wait_space_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 1, 1),
	    "queue_wait_space never waited on the full queue");
	ck_assert_msg(!check_queue_latch_wait(&c.done, CHECK_QUEUE_QUIET_MS),
	    "queue_wait_space on a full queue returned %d", c.rc);
	ck_assert_int_eq(check_queue_take(&q), 100);
	ck_assert_msg(check_queue_latch_wait(&c.done, CHECK_QUEUE_DEADLINE_MS),
	    "a pop did not wake queue_wait_space");
	check_queue_call_join(&c);
	ck_assert_msg(c.rc == 0, "queue_wait_space after a pop returned %d",
	    c.rc);
	ck_assert_uint_eq(queue_len(&q), 1);
	queue_destroy(&q);
}
END_TEST

START_TEST(check_queue_kick_wakes_wait_space)
{
	struct queue		q;
	struct check_queue_call	c;

	ck_assert_int_eq(queue_init(&q, 2), 0);
	check_queue_fill(&q, 2);
	check_queue_call_start(&c, &q, 0, check_queue_wait_space_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 1, 1),
	    "queue_wait_space never waited on the full queue");
	queue_kick(&q);
	ck_assert_msg(check_queue_latch_wait(&c.done, CHECK_QUEUE_DEADLINE_MS),
	    "queue_kick did not wake queue_wait_space");
	check_queue_call_join(&c);
	ck_assert_msg(c.rc == -1, "kicked queue_wait_space returned %d, not -1",
	    c.rc);
	ck_assert_uint_eq(queue_len(&q), 2);

	/* the kick is used up: the next wait blocks again until a pop */
	check_queue_call_start(&c, &q, 0, check_queue_wait_space_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 1, 1),
	    "queue_wait_space after a used-up kick did not wait");
	ck_assert_msg(!check_queue_latch_wait(&c.done, CHECK_QUEUE_QUIET_MS),
	    "one kick woke queue_wait_space twice (rc %d)", c.rc);
	ck_assert_int_eq(check_queue_take(&q), 100);
	ck_assert_msg(check_queue_latch_wait(&c.done, CHECK_QUEUE_DEADLINE_MS),
	    "a pop did not wake queue_wait_space");
	check_queue_call_join(&c);
	ck_assert_int_eq(c.rc, 0);
	queue_destroy(&q);
}
END_TEST

START_TEST(check_queue_close_wakes_wait_space)
{
	struct queue		q;
	struct check_queue_call	c;

	ck_assert_int_eq(queue_init(&q, 1), 0);
	check_queue_fill(&q, 1);
	check_queue_call_start(&c, &q, 0, check_queue_wait_space_main);
	ck_assert_msg(check_queue_wait_blocked(&q, 1, 1),
	    "queue_wait_space never waited on the full queue");
	queue_close(&q);
	ck_assert_msg(check_queue_latch_wait(&c.done, CHECK_QUEUE_DEADLINE_MS),
	    "queue_close did not wake queue_wait_space");
	check_queue_call_join(&c);
	ck_assert_int_eq(c.rc, -1);
	ck_assert_int_eq(check_queue_take(&q), 100);
	ck_assert_msg(queue_wait_space(&q) == -1,
	    "queue_wait_space on a closed queue with room returned 0");
	queue_destroy(&q);
}
END_TEST

/*
 * Many producers and consumers: every item is popped exactly once, and
 * each consumer sees any one producer's items in the order pushed.
 */
#define CHECK_QUEUE_THREADS	4
#define CHECK_QUEUE_ITEMS	100000
#define CHECK_QUEUE_PER		(CHECK_QUEUE_ITEMS / CHECK_QUEUE_THREADS)

struct check_queue_mpmc {
	struct queue	*q;
	atomic_uint	*seen;		/* CHECK_QUEUE_ITEMS counters */
	int		 id;
	unsigned long	 count;		/* items this consumer popped */
	unsigned long long sum;		/* and their sum */
	int		 disorder;	/* a producer's items out of order */
	int		 bad;		/* an item outside the pushed range */
};

/* Producer: push this producer's CHECK_QUEUE_PER items in order. */
static void *
check_queue_mpmc_produce(void *arg)
{
	struct check_queue_mpmc	*m = arg;
	int			 i;

	for (i = 0; i < CHECK_QUEUE_PER; i++)
		if (check_queue_put(m->q, m->id * CHECK_QUEUE_PER + i) != 0) {
			m->bad++;
			break;
		}
	return (NULL);
}

/* Consumer: pop until the closed queue is drained, noting every item. */
static void *
check_queue_mpmc_consume(void *arg)
{
	struct check_queue_mpmc	*m = arg;
	int			 last[CHECK_QUEUE_THREADS], fd, p;

	for (p = 0; p < CHECK_QUEUE_THREADS; p++)
		last[p] = -1;
	while ((fd = check_queue_take(m->q)) != -1) {
		if (fd < 0 || fd >= CHECK_QUEUE_ITEMS) {
			m->bad++;
			continue;
		}
		atomic_fetch_add(&m->seen[fd], 1);
		m->count++;
		m->sum += (unsigned)fd;
		p = fd / CHECK_QUEUE_PER;
		if (fd <= last[p])
			m->disorder++;
		last[p] = fd;
	}
	return (NULL);
}

START_TEST(check_queue_many_producers_consumers)
{
	struct queue		q;
	struct check_queue_mpmc	prod[CHECK_QUEUE_THREADS];
	struct check_queue_mpmc	cons[CHECK_QUEUE_THREADS];
	pthread_t		pt[CHECK_QUEUE_THREADS];
	pthread_t		ct[CHECK_QUEUE_THREADS];
	atomic_uint		*seen;
	unsigned long		count = 0;
	unsigned long long	sum = 0, want;
	int			i;

	seen = calloc(CHECK_QUEUE_ITEMS, sizeof(*seen));
	ck_assert_ptr_nonnull(seen);
	/* a small queue, so producers and consumers both block often */
	ck_assert_int_eq(queue_init(&q, 16), 0);
	for (i = 0; i < CHECK_QUEUE_THREADS; i++) {
		memset(&cons[i], 0, sizeof(cons[i]));
		cons[i].q = &q;
		cons[i].seen = seen;
		cons[i].id = i;
		ck_assert_int_eq(pthread_create(&ct[i], NULL,
		    check_queue_mpmc_consume, &cons[i]), 0);
	}
	for (i = 0; i < CHECK_QUEUE_THREADS; i++) {
		memset(&prod[i], 0, sizeof(prod[i]));
		prod[i].q = &q;
		prod[i].id = i;
		ck_assert_int_eq(pthread_create(&pt[i], NULL,
		    check_queue_mpmc_produce, &prod[i]), 0);
	}
	for (i = 0; i < CHECK_QUEUE_THREADS; i++)
		ck_assert_int_eq(pthread_join(pt[i], NULL), 0);
	queue_close(&q);
	for (i = 0; i < CHECK_QUEUE_THREADS; i++)
		ck_assert_int_eq(pthread_join(ct[i], NULL), 0);

	for (i = 0; i < CHECK_QUEUE_THREADS; i++) {
		ck_assert_msg(prod[i].bad == 0, "producer %d: a push failed",
		    i);
		ck_assert_msg(cons[i].bad == 0, "consumer %d: %d foreign items",
		    i, cons[i].bad);
		ck_assert_msg(cons[i].disorder == 0, "consumer %d: %d items "
		    "out of their producer's order", i, cons[i].disorder);
		count += cons[i].count;
		sum += cons[i].sum;
	}
	for (i = 0; i < CHECK_QUEUE_ITEMS; i++)
		ck_assert_msg(atomic_load(&seen[i]) == 1,
		    "item %d popped %u times", i, atomic_load(&seen[i]));
	want = (unsigned long long)CHECK_QUEUE_ITEMS *
	    (CHECK_QUEUE_ITEMS - 1) / 2;
	ck_assert_msg(count == CHECK_QUEUE_ITEMS, "%lu items popped, not %d",
	    count, CHECK_QUEUE_ITEMS);
	ck_assert_msg(sum == want, "popped items sum to %llu, not %llu", sum,
	    want);
	ck_assert_uint_eq(queue_len(&q), 0);
	queue_destroy(&q);
	free(seen);
}
END_TEST

/* The queue suite: order, bounds, close, kick, concurrency. */
static Suite *
queue_suite(void)
{
	Suite	*s = suite_create("queue");
	TCase	*tc;

	tc = tcase_create("basic");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, check_queue_init_rejects_bad_capacity);
	tcase_add_test(tc, check_queue_fifo_order);
	tcase_add_test(tc, check_queue_fifo_order_wraps);
	tcase_add_test(tc, check_queue_len_counts);
	tcase_add_test(tc, check_queue_close_drains_then_fails);
	tcase_add_test(tc, check_queue_wait_space_with_room);
	suite_add_tcase(s, tc);

	tc = tcase_create("blocking");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, check_queue_push_blocks_when_full);
	tcase_add_test(tc, check_queue_pop_blocks_when_empty);
	tcase_add_test(tc, check_queue_push_returns_room);
	tcase_add_test(tc, check_queue_handoff_to_newest_parked);
	tcase_add_test(tc, check_queue_running_takes_next_before_park);
	tcase_add_test(tc, check_queue_batch_wakes_newest_for_work);
	tcase_add_test(tc, check_queue_batch_counts_running);
	tcase_add_test(tc, check_queue_batch_waits_for_room);
	tcase_add_test(tc, check_queue_kick_with_room_not_kept);
	tcase_add_test(tc, check_queue_close_wakes_consumers);
	tcase_add_test(tc, check_queue_close_wakes_producer);
	tcase_add_test(tc, check_queue_wait_space_until_pop);
	tcase_add_test(tc, check_queue_kick_wakes_wait_space);
	tcase_add_test(tc, check_queue_close_wakes_wait_space);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, check_queue_many_producers_consumers);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(queue_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
