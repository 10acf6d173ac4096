/* SPDX-License-Identifier: MIT */
/*
 * bench_loop.c: ackd-bench's event loops, one per thread: the lists of
 * clients, and the epoll loop that drives them.
 *
 * Each thread owns an epoll set, its share of the clients and the
 * lists they wait on (<sys/queue.h> tail queues); a client's own life is
 * bench_conn.c's. The loop calls bench_conn.c on an event, a timeout or a
 * turn to start, and bench_conn.c answers where the client goes next (enum
 * bench_conn_next): only the loop moves clients between lists, and calls flow
 * one way, bench.c -> bench_loop.c -> bench_conn.c. A busy client sits on its
 * thread's busy list. Every client has the same --timeout, so appending keeps
 * that list in deadline order and its head is always the next to expire. A
 * client whose start failed at once waits on the ready list until the next
 * turn of the loop (so a refusing server cannot make us recurse or starve
 * the loop), or on the paused list for a while if the failure was a local
 * shortage (descriptors, ports, memory).
 *
 * The main thread asks the loops to stop through an eventfd that is in
 * every epoll set.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/queue.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_EVENTS		256		/* epoll events per wait */

/* --- the connection lists --------------------------------------------- */

/* c is on no list: put it where next says; gone idle, one less active. */
static void
bench_loop_place(struct bench_thread *t, struct bench_conn *c,
    enum bench_conn_next next)
{
	switch (next) {
	case BENCH_NEXT_BUSY:
		TAILQ_INSERT_TAIL(&t->busy, c, link);
		break;
	case BENCH_NEXT_READY:
		TAILQ_INSERT_TAIL(&t->ready, c, link);
		break;
	case BENCH_NEXT_PAUSED:
		TAILQ_INSERT_TAIL(&t->paused, c, link);
		break;
	case BENCH_NEXT_IDLE:
		t->active--;
		break;
	case BENCH_NEXT_STAY:
		break;
	}
}

/* c, a busy client, went where next says: unless it stays, move it. */
static void
bench_loop_move(struct bench_thread *t, struct bench_conn *c,
    enum bench_conn_next next)
{
	if (next == BENCH_NEXT_STAY)
		return;
	TAILQ_REMOVE(&t->busy, c, link);
	bench_loop_place(t, c, next);
}

/* --- the event loop --------------------------------------------------- */

/*
 * The run is over: every connection still in flight is closed and counted
 * as unfinished; clients waiting to start again just stop.
 */
static void
bench_loop_thread_abort(struct bench_thread *t, uint64_t now)
{
	struct bench_conn	*c;
	int			 i;

	for (i = 0; i < t->nconns; i++) {
		c = &t->conns[i];
		if (c->state >= BENCH_CONNECTING) {
			TAILQ_REMOVE(&t->busy, c, link);
			bench_conn_abandon(t, c, now);
		} else if (c->state == BENCH_WAITING)
			c->state = BENCH_IDLE;
	}
	TAILQ_INIT(&t->ready);
	TAILQ_INIT(&t->paused);
	t->active = 0;
}

/* Milliseconds epoll_wait may sleep: until the next deadline of any kind. */
static int
bench_loop_thread_wait_ms(const struct bench_thread *t, uint64_t now)
{
	const struct bench_run	*run = t->run;
	const struct bench_conn	*c;
	uint64_t		 next = UINT64_MAX;

	if (!TAILQ_EMPTY(&t->ready))
		return (0);
	if ((c = TAILQ_FIRST(&t->busy)) != NULL)
		next = c->deadline;
	if ((c = TAILQ_FIRST(&t->paused)) != NULL && c->deadline < next)
		next = c->deadline;
	if (run->stop_at != 0) {
		if (now < run->stop_at && run->stop_at < next)
			next = run->stop_at;
		else if (run->stop_at + BENCH_DRAIN_NS < next)
			next = run->stop_at + BENCH_DRAIN_NS;
	}
	return (mono_until_ms(next, now));
}

/* Expire timed-out connections, end pauses, restart failed starts. */
static void
bench_loop_thread_timers(struct bench_thread *t, uint64_t now)
{
	const struct bench_run	*run = t->run;
	struct bench_conns	 ready;
	struct bench_conn	*c;

	/* a timed-out client starts again at the tail: never STAY */
	while ((c = TAILQ_FIRST(&t->busy)) != NULL && c->deadline <= now)
		bench_loop_move(t, c, bench_conn_finish(t, c, now,
		    BENCH_TIMEOUT, c->state));
	while ((c = TAILQ_FIRST(&t->paused)) != NULL && c->deadline <= now) {
		TAILQ_REMOVE(&t->paused, c, link);
		TAILQ_INSERT_TAIL(&t->ready, c, link);
	}
	/* one try each per turn; new failures wait for the next turn */
	TAILQ_INIT(&ready);
	TAILQ_CONCAT(&ready, &t->ready, link);
	while ((c = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, c, link);
		bench_loop_place(t, c, bench_conn_start(t, c, now));
	}
	/* past --duration, the last replies have a short while to come in */
	if (run->stop_at != 0 && now >= run->stop_at + BENCH_DRAIN_NS)
		bench_loop_thread_abort(t, now);
}

/* One event-loop thread: keep its clients busy until the run ends. */
void *
bench_loop_thread_main(void *arg)
{
	struct bench_thread	*t = arg;
	struct bench_run	*run = t->run;
	struct epoll_event	 evs[BENCH_EVENTS];
	uint64_t		 now, one = 1;
	int			 i, n;

	now = mono_ns();
	t->end = run->measure_start;
	t->active = t->nconns;
	for (i = 0; i < t->nconns; i++)
		bench_loop_place(t, &t->conns[i], bench_conn_start(t,
		    &t->conns[i], now));
	while (t->active > 0) {
		/* the busy list is in start order: its head is the oldest */
		atomic_store_explicit(&t->pub_oldest, TAILQ_EMPTY(&t->busy) ?
		    0 : TAILQ_FIRST(&t->busy)->start, memory_order_relaxed);
		n = epoll_wait(t->epfd, evs, BENCH_EVENTS,
		    bench_loop_thread_wait_ms(t, now));
		if (n == -1 && errno != EINTR)
			fatal(BENCH_EXIT_OSERR, "epoll_wait");
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				t->stopping = 1;
			else
				bench_loop_move(t, evs[i].data.ptr,
				    bench_conn_event(t, evs[i].data.ptr,
				    evs[i].events));
		}
		now = mono_ns();
		if (t->stopping) {
			t->end = now;
			bench_loop_thread_abort(t, now);
			break;
		}
		bench_loop_thread_timers(t, now);
	}
	/* ended by --duration rather than by --count or a signal? */
	if (run->stop_at != 0 && !t->stopping && (!run->budgeted ||
	    atomic_load_explicit(&run->budget, memory_order_relaxed) > 0))
		t->end = run->stop_at;
	if (run->stop_at != 0 && t->end > run->stop_at)
		t->end = run->stop_at;
	bench_conn_record_flush(t);
	atomic_fetch_sub_explicit(&run->wb_running, 1, memory_order_relaxed);
	if (write(run->done_fd, &one, sizeof(one)) == -1)
		fatal(BENCH_EXIT_OSERR, "eventfd write");
	return (NULL);
}

/* Give thread i its clients, epoll set and buffers. */
void
bench_loop_thread_init(struct bench_thread *t, struct bench_run *run, int i)
{
	const struct bench_config	*cfg = run->cfg;
	struct epoll_event		 ev;
	int				 j;

	t->run = run;
	t->index = i;
	t->nconns = cfg->concurrency / cfg->threads +
	    (i < cfg->concurrency % cfg->threads);
	t->conns = calloc((size_t)t->nconns, sizeof(*t->conns));
	if (t->conns == NULL)
		fatal(BENCH_EXIT_OSERR, "malloc");
	for (j = 0; j < t->nconns; j++)
		t->conns[j].fd = -1;
	TAILQ_INIT(&t->busy);
	TAILQ_INIT(&t->ready);
	TAILQ_INIT(&t->paused);
	t->id_head_len = (size_t)snprintf(t->id_head, sizeof(t->id_head),
	    "b%ld-%d-", (long)getpid(), i);
	t->source = (unsigned)i % (run->nsources > 0 ? run->nsources : 1);
	hist_init(&t->hist);
	hist_init(&t->tls.full_us);
	hist_init(&t->tls.resumed_us);
	if (run->tls != NULL && cfg->unique &&
	    (t->tls_buf = malloc(BENCH_TLS_CHUNK)) == NULL)
		fatal(BENCH_EXIT_OSERR, "malloc");
	if (run->record_fd != -1 &&
	    (t->record = malloc(BENCH_RECORD_BUF)) == NULL)
		fatal(BENCH_EXIT_OSERR, "malloc");
	if ((t->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal(BENCH_EXIT_OSERR, "epoll_create1");
	ev.events = EPOLLIN;	/* level-triggered: every thread sees it */
	ev.data.ptr = NULL;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, run->stop_fd, &ev) == -1)
		fatal(BENCH_EXIT_OSERR, "epoll_ctl");
}

/*
 * Give back what bench_loop_thread_init took: epoll set, clients (and the
 * TLS sessions they kept), buffers.
 */
void
bench_loop_thread_free(struct bench_thread *t)
{
	int	i;

	if (t->epfd != -1)
		close(t->epfd);
	t->epfd = -1;
	for (i = 0; t->conns != NULL && i < t->nconns; i++)
		bench_tls_forget(&t->conns[i]);
	free(t->tls_buf);
	t->tls_buf = NULL;
	free(t->conns);
	t->conns = NULL;
	free(t->record);
	t->record = NULL;
}
