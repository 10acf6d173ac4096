/* SPDX-License-Identifier: MIT */
/*
 * stage.c: a worker's event stage: where connections wait without a
 * thread.
 *
 * A handler that finds a connection's message incomplete (or no share
 * of the budget free for a large one, or a truncated message's client
 * still sending) hands it here with its pend (stage_park) and goes on.
 * The stage's own thread watches every waiting socket with one poller
 * (poller.c: epoll, or poll) and keeps one deadline per connection on a
 * timing wheel (wheel.c), so thousands of waiting connections cost a
 * descriptor and a pend each, and a wake-up only when something
 * happens:
 *   - bytes arrived: the connection goes back into the queue, and a
 *     handler reads them (a TLS handshake that waits to write waits
 *     for writability instead, and goes back the same way);
 *   - the read deadline passed (--read-timeout from the accept): back
 *     into the queue marked expired, and the handler logs the timeout;
 *   - a share of the budget was given back: the connection waiting
 *     longest for one takes it and goes back into the queue;
 *   - a lingering connection (after a truncated message) is read and
 *     dropped here, until its end of file or for
 *     STAGE_LINGER_MS in all, then closed.
 * Pushing into a full queue waits for a handler to take one: the
 * handlers never wait for the network, so that wait is short, and it
 * is the back-pressure that keeps memory bounded.
 *
 * Every connection of the worker is counted in its `open' gauge from its accept
 * (stage_opened) to its close (stage_close, by whoever closes it). At
 * --max-connections the accept loop stops accepting (stage_wait_room);
 * while connections keep arriving it asks the stage to shed: close the
 * connections that waited longest without progress (the parked list is
 * ordered by the time each last came here), with one summary line a
 * second, never a line each.
 *
 * Lock rules: s->back (handed over by handlers) is read and written with
 * s->lock held; s->closed is signalled with it, for the threads that
 * wait for a close (the accept loop at the limit, the worker at its
 * end), which count themselves in s->watchers so that a close costs no
 * lock when nobody waits. s->asleep_until_ms (when the sleeping stage
 * wakes by itself; 0 while it is awake) is read and written with s->lock
 * held. parked, memwait, the wheel and the shed summary belong to the
 * stage thread alone, and so does the poller, but for one call: with
 * epoll, a parking handler arms its connection's socket itself
 * (stage_park), with s->lock held (epoll's set is the kernel's, safe
 * from any thread; the pend's registered word is then the handler's
 * until the stage takes the pend from s->back). A pend belongs to one
 * owner at a time: the handler that parks it, then the stage from the
 * moment it is on s->back, then the handler the queue gives it to.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ackd.h"
#include "worker.h"

/* How long a lingering connection is read and dropped, in all. */
#define STAGE_LINGER_MS		1000
/* At most this much is read from a lingering client per wake-up. */
#define STAGE_LINGER_CHUNK	(16 * 1024)
#define STAGE_LINGER_READS	4
/* The wheel: a tick bounds how late a deadline is seen. */
#define STAGE_TICK_MS		16
#define STAGE_BUCKETS		1024
/* The longest sleep with nothing due: the watchdog's sign of life. */
#define STAGE_IDLE_MS		1000
/* Events taken per wake-up. */
#define STAGE_EVENTS		256
/* At most one summary of shed connections per this many ms. */
#define STAGE_SHED_LOG_MS	1000
/* How long the accept loop waits at the limit before asking to shed. */
#define STAGE_ROOM_WAIT_MS	100

/*
 * The worker's open connections. The gauge the master shows is the
 * count itself: one atomic add at the accept and one subtraction at the
 * close, nothing kept twice. The master clears a dead worker's slot, so
 * its replacement starts from 0.
 */
static atomic_long *
stage_open(struct stage *s)
{
	return (&s->board->stats.gauge[STATS_OPEN]);
}

/* Count a connection as open from its accept. */
void
stage_opened(struct stage *s)
{
	atomic_fetch_add_explicit(stage_open(s), 1, memory_order_relaxed);
}

/* Are connections at --max-connections? */
int
stage_full(struct stage *s)
{
	return (atomic_load_explicit(stage_open(s), memory_order_relaxed) >=
	    s->max);
}

/* Wake the threads waiting for a close, if there are any. */
static void
stage_signal_closed(struct stage *s)
{
	if (atomic_load(&s->watchers) == 0)
		return;
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->closed);
	pthread_mutex_unlock(&s->lock);
}

/* Close c and free its pend: one connection less in the worker. */
void
stage_close(struct stage *s, const struct conn *c)
{
	int	fd = c->fd, limit_entry = c->limit_entry;

	/* the pend first (c may be in it): a TLS connection's SSL says
	 * close_notify on the descriptor before it is closed */
	if (c->pend != NULL)
		pend_free(c->pend, s->budget, &s->partial);
	close(fd);
	peerlimit_leave(limit_entry);
	/* sequentially consistent: stage_wait_open counts itself a watcher
	 * before it looks at the count */
	atomic_fetch_sub(stage_open(s), 1);
	stage_signal_closed(s);
}

/*
 * Wait up to ms for open to drop below the limit (limit: 1) or to zero
 * (the worker's end); 1 if it did.
 */
static int
stage_wait_open(struct stage *s, int limit, long long ms)
{
	long long	deadline_ms = mono_ms() + ms;
	struct timespec	ts;
	int		below;

	atomic_fetch_add(&s->watchers, 1);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		below = limit ? !stage_full(s) : atomic_load(stage_open(s)) == 0;
		if (below || mono_ms() >= deadline_ms)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000L;	/* re-check: cheap, never stuck */
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->closed, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_sub(&s->watchers, 1);
	return (below);
}

/*
 * The accept loop is at --max-connections: wait a little for a close;
 * if none came and clients are waiting in the backlog (pending: 1), ask
 * the stage to shed the connections idle longest. 1 once there is room.
 */
int
stage_wait_room(struct stage *s, int pending)
{
	if (stage_wait_open(s, 1, STAGE_ROOM_WAIT_MS))
		return (1);
	if (pending) {
		atomic_store(&s->shed_wanted, s->max / 16 > 0 ? s->max / 16 : 1);
		poller_wake(&s->poller);
	}
	return (0);
}

/* The worker ends: wait until every connection is closed. */
void
stage_drain(struct stage *s)
{
	while (!stage_wait_open(s, 0, STAGE_IDLE_MS))
		;
}

/* Arm p's socket for what it waits for: room to write, or bytes. */
static int
stage_arm(struct stage *s, struct pend *p)
{
	if (p->wait == PEND_WRITE)
		return (poller_arm_write(&s->poller, p->conn.fd, p,
		    &p->registered));
	return (poller_arm(&s->poller, p->conn.fd, p, &p->registered));
}

/*
 * Hand p's connection over to wait for what `wait' says. A connection
 * that waits for its socket (PEND_READ, PEND_WRITE: a TLS handshake
 * waiting for the client's Finished, a partial message) is armed here,
 * by the handler, when the poller is epoll (whose set any thread may
 * change), and the stage is woken only if it sleeps past the
 * connection's deadline: otherwise the socket's event, or the stage's
 * own wake-up, brings it in time, and a wake-up per park (an eventfd
 * write, a switch to the stage and back) is saved. It is armed with
 * s->lock held and put on s->back in the same hold, so when its event
 * fires the stage finds it on s->back (stage_turn takes s->back before
 * it looks at the events). Anything else (a linger, a wait for memory,
 * or the poll backend, whose arrays are the stage's) is armed by the
 * stage, which is woken if it sleeps.
 */
void
stage_park(struct stage *s, struct pend *p, enum pend_wait wait)
{
	int	wake = 0;

	p->wait = wait;
	p->expired = 0;
	pthread_mutex_lock(&s->lock);
	p->armed = (wait == PEND_READ || wait == PEND_WRITE) &&
	    s->poller.backend == POLLER_EPOLL && stage_arm(s, p) == 0;
	TAILQ_INSERT_TAIL(&s->back, p, link);
	if (s->asleep_until_ms != 0 && (!p->armed ||
	    p->deadline_ms < s->asleep_until_ms)) {
		wake = 1;
		s->asleep_until_ms = 0;		/* the wake-up is on its way */
	}
	pthread_mutex_unlock(&s->lock);
	if (wake)
		poller_wake(&s->poller);
}

/*
 * bigbuf_give's hook: a share is free; wake the stage if a connection
 * waits for one. One still on its way to memwait needs no wake: its
 * park wakes the stage, which then looks for a share anyway.
 */
static void
stage_budget_freed(void *arg)
{
	struct stage	*s = arg;

	if (atomic_load_explicit(&s->memwaiting, memory_order_relaxed) > 0)
		poller_wake(&s->poller);
}

/*
 * The watchdog's sign of life: the stage moved a connection. An idle
 * turn is none, so a worker whose handlers are stuck still looks stuck.
 */
static void
stage_progress(struct stage *s)
{
	atomic_fetch_add_explicit(&s->board->progress, 1,
	    memory_order_relaxed);
}

/* Close a connection the stage holds (on no list, disarmed). */
static void
stage_end(struct stage *s, struct pend *p)
{
	stage_progress(s);
	if (p->registered)
		poller_disarm(&s->poller, p->conn.fd, &p->registered);
	stage_close(s, &p->conn);
}

/* Take p off the stage's lists, wheel and poller: it leaves. */
static void
stage_unpark(struct stage *s, struct pend *p, int fired)
{
	wheel_del(&s->wheel, &p->timer);
	TAILQ_REMOVE(p->wait == PEND_MEMORY ? &s->memwait : &s->parked, p,
	    link);
	if (p->wait == PEND_MEMORY)
		atomic_fetch_sub(&s->memwaiting, 1);
	stats_gauge_add(&s->board->stats, STATS_WAITING, -1);
	/* one-shot: a socket that fired is disarmed already */
	if (!fired && p->registered && p->wait != PEND_MEMORY)
		poller_disarm(&s->poller, p->conn.fd, &p->registered);
}

/* Give p's connection back to the handlers, through the queue. */
static void
stage_queue(struct stage *s, struct pend *p)
{
	stage_progress(s);
	if (queue_push(s->queue, &p->conn) == -1)
		stage_close(s, &p->conn);	/* the worker is stopping */
}

/* Start watching p, handed over by a handler. */
static void
stage_admit(struct stage *s, struct pend *p, long long now_ms)
{
	long long	when_ms = p->deadline_ms;
	int		armed = p->armed;

	stage_progress(s);
	p->armed = 0;		/* from now on the stage arms it */
	if (p->wait == PEND_LINGER)
		p->deadline_ms = when_ms = now_ms + STAGE_LINGER_MS;
	if (p->wait != PEND_MEMORY && !armed && stage_arm(s, p) == -1) {
		/* cannot watch it: let a handler end it as expired */
		p->expired = 1;
		if (p->wait == PEND_LINGER)
			stage_end(s, p);
		else
			stage_queue(s, p);
		return;
	}
	wheel_add(&s->wheel, &p->timer, when_ms);
	TAILQ_INSERT_TAIL(p->wait == PEND_MEMORY ? &s->memwait : &s->parked, p,
	    link);
	if (p->wait == PEND_MEMORY)
		atomic_fetch_add(&s->memwaiting, 1);
	stats_gauge_add(&s->board->stats, STATS_WAITING, 1);
}

/*
 * A lingering client sent more: read and drop it. 1 if the connection
 * is done with (its end of file, an error, or it is still sending
 * after a few reads: then it is re-armed, 0).
 */
static int
stage_linger_read(struct stage *s, struct pend *p)
{
	char	buf[STAGE_LINGER_CHUNK];
	ssize_t	n;
	int	i;

	for (i = 0; i < STAGE_LINGER_READS; i++) {
		n = recv(p->conn.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return (1);
	}
	return (poller_arm(&s->poller, p->conn.fd, p, &p->registered) == -1);
}

/* p's socket is ready: readable, or writable for PEND_WRITE. */
static void
stage_ready(struct stage *s, struct pend *p)
{
	if (p->wait == PEND_LINGER) {
		if (stage_linger_read(s, p)) {
			stage_unpark(s, p, 0);
			stage_end(s, p);
		}
		return;
	}
	stage_unpark(s, p, 1);
	stage_queue(s, p);
}

/* Every deadline due: lingers end, the others go back expired. */
static void
stage_expire(struct stage *s, long long now_ms)
{
	struct wheel_node	*n;
	struct pend		*p;

	while ((n = wheel_expire(&s->wheel, now_ms)) != NULL) {
		p = (struct pend *)((char *)n - offsetof(struct pend, timer));
		/* wheel_expire took it off the wheel; the rest is ours */
		stage_unpark(s, p, 0);
		if (p->wait == PEND_LINGER) {
			stage_end(s, p);
			continue;
		}
		p->expired = 1;
		stage_queue(s, p);
	}
}

/*
 * Shares free: the connections waiting longest for one get them, in
 * turn. The stage takes each share for its connection (which keeps it
 * in its pend) before queueing it, so a waiter never loses a share it
 * was woken for to a newcomer, and no give-back is missed: the stage
 * looks whenever it wakes, not only when told.
 */
static void
stage_memory(struct stage *s)
{
	struct pend	*p;

	while ((p = TAILQ_FIRST(&s->memwait)) != NULL &&
	    bigbuf_try(s->budget) == 0) {
		stage_unpark(s, p, 0);
		p->held = 1;
		stage_queue(s, p);
	}
}

/*
 * The accept loop asked for room: close up to the number it asked of
 * the connections that waited longest without progress, and count them
 * for the summary.
 */
static void
stage_shed(struct stage *s)
{
	struct pend	*p;
	int		 n = atomic_exchange(&s->shed_wanted, 0);

	while (n-- > 0 && (p = TAILQ_FIRST(&s->parked)) != NULL) {
		stage_unpark(s, p, 0);
		stage_end(s, p);
		s->shed++;
		stats_add(&s->board->stats, STATS_SHED, 1);
	}
}

/* At most once per STAGE_SHED_LOG_MS, one line for all shed since. */
static void
stage_shed_summary(struct stage *s, long long now_ms, int force)
{
	if (s->shed == 0)
		return;
	if (!force && now_ms - s->shed_since_ms < STAGE_SHED_LOG_MS)
		return;
	msglog_event("connections-shed", "count=%lu open=%ld limit=%d",
	    s->shed, atomic_load(stage_open(s)), s->max);
	s->shed = 0;
	s->shed_since_ms = now_ms;
}

/* Take every connection the handlers handed over since the last turn. */
static void
stage_take_back(struct stage *s, long long now_ms)
{
	struct pend_list	 got;
	struct pend		*p;

	TAILQ_INIT(&got);
	pthread_mutex_lock(&s->lock);
	TAILQ_CONCAT(&got, &s->back, link);
	s->asleep_until_ms = 0;		/* awake: it looks before it sleeps */
	pthread_mutex_unlock(&s->lock);
	while ((p = TAILQ_FIRST(&got)) != NULL) {
		TAILQ_REMOVE(&got, p, link);
		stage_admit(s, p, now_ms);
	}
}

/*
 * How long the stage may sleep from now_ms: until the wheel's next
 * deadline, at most STAGE_IDLE_MS, and not at all when a handler has
 * handed a connection over meanwhile. The time it wakes by itself is
 * published (s->asleep_until_ms) for stage_park to judge whether a park
 * must wake it.
 */
static int
stage_sleep_ms(struct stage *s, long long now_ms)
{
	long long	wait_ms = wheel_timeout_ms(&s->wheel, now_ms);

	if (wait_ms < 0 || wait_ms > STAGE_IDLE_MS)
		wait_ms = STAGE_IDLE_MS;
	pthread_mutex_lock(&s->lock);
	if (!TAILQ_EMPTY(&s->back))
		wait_ms = 0;
	else	/* +1: 0 means awake */
		s->asleep_until_ms = now_ms + wait_ms + 1;
	pthread_mutex_unlock(&s->lock);
	return ((int)wait_ms);
}

/* One turn: wait for events or the next tick, then act on all of it. */
static void
stage_turn(struct stage *s, void **ready)
{
	long long	now_ms;
	int		i, n;

	n = poller_wait(&s->poller, ready, STAGE_EVENTS,
	    stage_sleep_ms(s, mono_ms()));
	now_ms = mono_ms();
	stage_take_back(s, now_ms);
	for (i = 0; i < n; i++)
		if (ready[i] != NULL)
			stage_ready(s, ready[i]);
	stage_expire(s, now_ms);
	stage_memory(s);
	if (atomic_load_explicit(&s->shed_wanted, memory_order_relaxed) > 0)
		stage_shed(s);
	stage_shed_summary(s, now_ms, 0);
}

/* The stage thread: turn until stopped, then close what still waits. */
static void *
stage_thread(void *arg)
{
	struct stage	*s = arg;
	void		*ready[STAGE_EVENTS];
	struct pend	*p;

	while (!atomic_load(&s->stopping))
		stage_turn(s, ready);
	stage_take_back(s, mono_ms());
	while ((p = TAILQ_FIRST(&s->parked)) != NULL ||
	    (p = TAILQ_FIRST(&s->memwait)) != NULL) {
		stage_unpark(s, p, 0);
		stage_end(s, p);
	}
	stage_shed_summary(s, mono_ms(), 1);
	return (NULL);
}

/*
 * Set up s for a worker (its queue, budget and scoreboard slot) and
 * start its thread. 0, or -1 with errno.
 */
int
stage_start(struct stage *s, const struct ackd_config *cfg,
    struct queue *queue, struct bigbuf *budget, struct scoreboard_slot *board)
{
	int	rc;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->queue = queue;
	s->budget = budget;
	s->board = board;
	s->max = cfg->max_connections;
	s->shed_since_ms = mono_ms();
	TAILQ_INIT(&s->back);
	TAILQ_INIT(&s->parked);
	TAILQ_INIT(&s->memwait);
	if (bigbuf_init(&s->partial, BIGBUF_PARTIAL, 0) == -1)
		return (-1);
	if (poller_init(&s->poller, s->max, 1) == -1)
		goto fail_partial;
	if (wheel_init(&s->wheel, STAGE_BUCKETS, STAGE_TICK_MS, mono_ms()) ==
	    -1)
		goto fail_poller;
	if ((rc = pthread_mutex_init(&s->lock, NULL)) != 0 ||
	    (rc = pthread_cond_init(&s->closed, NULL)) != 0) {
		errno = rc;
		goto fail_wheel;
	}
	budget->on_give_arg = s;
	budget->on_give = stage_budget_freed;
	if ((rc = pthread_create(&s->thread, NULL, stage_thread, s)) != 0) {
		errno = rc;
		goto fail_wheel;
	}
	s->running = 1;
	return (0);

fail_wheel:
	wheel_destroy(&s->wheel);
fail_poller:
	poller_destroy(&s->poller);
fail_partial:
	bigbuf_destroy(&s->partial);
	return (-1);
}

/*
 * Stop the stage thread (every connection should be closed by now:
 * stage_drain; any still waiting is closed) and free what it used.
 */
void
stage_stop(struct stage *s)
{
	if (!s->running)
		return;
	atomic_store(&s->stopping, 1);
	poller_wake(&s->poller);
	pthread_join(s->thread, NULL);
	s->budget->on_give = NULL;
	wheel_destroy(&s->wheel);
	poller_destroy(&s->poller);
	pthread_cond_destroy(&s->closed);
	pthread_mutex_destroy(&s->lock);
	bigbuf_destroy(&s->partial);
	s->running = 0;
}
