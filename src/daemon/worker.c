/* SPDX-License-Identifier: MIT */
/*
 * worker.c: one worker process: an accept loop feeding the queue, the
 * handler pool draining it, and one signal thread.
 *
 * Every thread runs with every signal blocked; the signal thread takes
 * them with sigtimedwait(), so signals are handled in one place, by
 * ordinary code that may lock and call anything. It also wakes once a
 * second to write the summaries of repeated event lines that are due
 * (evlimit.c), so they come out whatever the other threads are doing.
 *
 * The accept loop (the process's main thread) takes every connection
 * already waiting on the (non-blocking) listening socket, accept4 until
 * EAGAIN, up to the queue's room, and only then queues them, in one
 * batch: the queue wakes handlers once, and only for connections no
 * running handler will take (queue.c). Found none, it sleeps in
 * epoll_wait on the socket with EPOLLEXCLUSIVE, so the kernel wakes one
 * sleeping worker per connection, as it did for a blocking accept();
 * the batch costs one accept4 (EAGAIN) and one epoll_wait per sleep
 * more than a blocking accept did. To stop the loop, the signal thread
 * sets a flag, kicks the queue (for a loop waiting for space) and sends
 * the loop WORKER_WAKE_SIG, the only signal it leaves unblocked, whose
 * empty handler makes epoll_wait() fail with EINTR. Because the signal
 * may land just before the loop enters it, the signal thread repeats it
 * until the loop says it has left.
 *
 * The accept loop only accepts while the queue has room: a full queue
 * leaves connections in the kernel's backlog, where another worker with
 * room can take them, and memory never grows with load. It also stops
 * at --max-connections open connections (the event stage counts them);
 * while clients keep arriving there, it has the stage shed the ones that
 * waited longest without progress.
 *
 * A connection from outside --allow is closed here, unread, before it
 * takes a place in the per-address count or the queue; under
 * --proxy-protocol the handler judges the client the header names
 * instead, once it has read the header.
 *
 * Handlers never wait for the network: a connection whose bytes have
 * not all arrived waits in the worker's event stage (stage.c, a thread
 * of its own), which puts it back into the queue when they do.
 *
 * With several listening sockets (--bind given more than one address)
 * the loop sleeps in poll() on all of them instead, with the same idle
 * timeout, and takes one connection from each ready (non-blocking)
 * socket per turn, starting from the next socket each turn so that none
 * is starved while the queue is nearly full. The wake-up signal ends
 * poll() as it ends epoll_wait().
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_EPOLL_H
#include <sys/epoll.h>
#endif
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include "ackd.h"
#include "worker.h"
#include "tls.h"

/* How often the loop wakes with nothing to do, to notice a dead master. */
#define WORKER_IDLE_MS		1000
/* How long accepting pauses when the process is out of descriptors. */
#define WORKER_EMFILE_MS	100
/* At most one warning about failing accept() calls per this many seconds. */
#define WORKER_WARN_SECS	10
/* How often the signal thread repeats the wake-up until the loop left. */
#define WORKER_WAKE_MS		10
/* How often, at least, the signal thread writes the event summaries due. */
#define WORKER_TICK_MS		1000
/* The most connections one turn of the loop accepts before queueing them. */
#define WORKER_BATCH		64

#ifdef SIGRTMIN
#define WORKER_WAKE_SIG		SIGRTMIN
#else
#define WORKER_WAKE_SIG		SIGUSR2
#endif

struct worker {
	const struct ackd_config *cfg;
	const int		*lfds;		/* the listening sockets */
	const unsigned char	*ltls;		/* which of them are TLS */
	int			 nfds;
	struct pollfd		*pfds;		/* the listening sockets, for poll() */
	pid_t			 master;
	struct queue		 queue;
	struct pool		 pool;
	struct stage		 stage;
	struct scoreboard_slot	*board;		/* ours, shared with master */
	unsigned long		 accepted;
	unsigned long		 retire_after;	/* 0: never */
	atomic_int		 stopping;
	atomic_int		 loop_done;	/* the accept loop has left */
	sigset_t		 sigs;		/* what the signal thread takes */
	pthread_t		 loop_thread;
	pthread_t		 signal_thread;
	int			 sleep_fd;	/* epoll on lfds[0], or -1 */
	int			 drained;	/* the last batch ended empty-handed */
	struct conn		 batch[WORKER_BATCH];
	unsigned long		 accept_failures;	/* since the last warning */
	time_t			 accept_warned;		/* when (monotonic s) */
};

/* WORKER_WAKE_SIG's handler: nothing; the EINTR it causes is the point. */
static void
worker_wake_handler(int sig)
{
	(void)sig;
}

/* Get the accept loop out of accept() or poll() until it has left. */
static void
worker_wake_loop(struct worker *w)
{
	while (!atomic_load(&w->loop_done)) {
		pthread_kill(w->loop_thread, WORKER_WAKE_SIG);
		poll(NULL, 0, WORKER_WAKE_MS);
	}
}

/* Has our master gone (we were re-parented)? */
static int
worker_orphaned(struct worker *w)
{
	return (getppid() != w->master);
}

/*
 * worker_orphaned, at most once a second: a busy loop never reaches the
 * accept timeout, and where PR_SET_PDEATHSIG is missing this is how it
 * learns that its master died.
 */
static int
worker_orphaned_lately(struct worker *w, time_t *last)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec == *last)
		return (0);
	*last = now.tv_sec;
	return (worker_orphaned(w));
}

/* Tell the master to look at our slot of the scoreboard (control.c). */
static void
worker_tell_master(struct worker *w)
{
	(void)w;
	control_tell();
}

/*
 * SIGHUP: reopen our log. A failure (said in the log still open) is
 * counted, and flagged for the master, which tries again later.
 */
static void
worker_reopen(struct worker *w)
{
	int	failed;

	failed = msglog_reopen(NULL, NULL, 0) == -1;
	if (failed)
		stats_add(&w->board->stats, STATS_REOPEN_FAILED, 1);
	atomic_store(&w->board->log_stale, failed);
}

/*
 * The signal thread: act on each signal the worker handles and, at least
 * every WORKER_TICK_MS, write the event summaries that are due, whatever
 * the accept loop and the handlers are busy with.
 */
static void *
worker_signals(void *arg)
{
	static const struct timespec	tick = { WORKER_TICK_MS / 1000,
					    WORKER_TICK_MS % 1000 * 1000000L };
	struct worker			*w = arg;
	unsigned			 gen;
	int				 sig;

	for (;;) {
		/* cancelled only while waiting, never halfway through a reopen */
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		sig = sigtimedwait(&w->sigs, NULL, &tick);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		evlimit_tick();
		switch (sig) {
		case SIGHUP:
			/* the generation first: a later HUP must find it newer */
			gen = scoreboard_reopen();
			worker_reopen(w);
			atomic_store(&w->board->reopened, gen);
			worker_tell_master(w);
			/* after the log: a reload's event goes to the new one */
			tls_reload(w->cfg);
			break;
		case SIGTERM:
		case SIGINT:
			atomic_store(&w->stopping, 1);
			queue_kick(&w->queue);
			worker_wake_loop(w);
			break;
		default:
			break;
		}
	}
	return (NULL);
}

/*
 * Act on an accept() error. Out of descriptors or memory, retrying at once
 * would spin at full CPU: pause instead, and say so on stderr at most once
 * per WORKER_WARN_SECS with how often it happened, so a long shortage does
 * not flood the log either. Accepting resumes by itself when it can.
 */
static void
worker_accept_error(struct worker *w, int err)
{
	struct timespec	now;

	switch (err) {
	case EINTR:		/* woken: look at the flags */
	case EAGAIN:		/* the idle timeout */
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
	case ECONNABORTED:	/* the client gave up first */
	case EPROTO:
		return;
	default:
		break;
	}
	w->accept_failures++;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (w->accept_warned == 0 ||
	    now.tv_sec - w->accept_warned >= WORKER_WARN_SECS) {
		errno = err;
		diag_warn("accept failed %lu time(s), pausing %d ms each",
		    w->accept_failures, WORKER_EMFILE_MS);
		w->accept_warned = now.tv_sec;
		w->accept_failures = 0;
	}
	/* a signal ends the pause early, like it ends accept() */
	if (!atomic_load(&w->stopping))
		poll(NULL, 0, WORKER_EMFILE_MS);
}

/*
 * Refuse c: its address holds --max-connections-per-ip connections
 * already. One line in the connection log, like every connection, or
 * a count in the summary of its address's repeats (evlimit.c).
 */
static void
worker_refuse(struct worker *w, struct conn *c)
{
	char	client[ACKD_ADDRSTRLEN];

	stats_add(&w->board->stats, STATS_REFUSED, 1);
	addr_format(client, sizeof(client), &c->addr.sa, c->addrlen);
	if (evlimit_admit("refused", client))
		msglog_client_event(client, "refused", "limit=%d",
		    w->cfg->max_per_ip);
	close(c->fd);
}

/*
 * Refuse c, unread: its address is in no --allow range (and there is no
 * PROXY header to name another client; with one, handler.c judges the
 * client it names). Logged and summarised like worker_refuse's, as a
 * kind of its own: event=refused reason=not-allowed.
 */
static void
worker_not_allowed(struct worker *w, struct conn *c)
{
	char	client[ACKD_ADDRSTRLEN];

	stats_add(&w->board->stats, STATS_NOT_ALLOWED, 1);
	addr_format(client, sizeof(client), &c->addr.sa, c->addrlen);
	if (evlimit_admit("not-allowed", client))
		msglog_client_event(client, "refused", "reason=not-allowed");
	close(c->fd);
}

/*
 * At --max-connections: wait until a connection closes, having the stage
 * shed idle ones while clients wait in the backlog. 0 once there is room,
 * -1 if the loop is to look at its flags first.
 */
static int
worker_wait_room(struct worker *w)
{
	int	pending;

	while (stage_full(&w->stage)) {
		if (atomic_load(&w->stopping))
			return (-1);
		atomic_fetch_add_explicit(&w->board->progress, 1,
		    memory_order_relaxed);
		pending = poll(w->pfds, (nfds_t)w->nfds, 0) > 0;
		if (stage_wait_room(&w->stage, pending))
			break;
	}
	return (0);
}

/*
 * Count an accepted connection. At --max-connections-per-worker (plus
 * this worker's jitter), ask the master for a replacement; it will then
 * stop us gracefully. We keep serving until it does.
 */
static void
worker_count(struct worker *w)
{
	stats_add(&w->board->stats, STATS_ACCEPTED, 1);
	if (++w->accepted == w->retire_after) {
		msglog_event("worker-recycle", "accepted=%lu limit=%lu",
		    w->accepted, w->retire_after);
		atomic_store(&w->board->retire, 1);
		worker_tell_master(w);
	}
}

/*
 * Count and admit (--allow, --max-connections-per-ip) the accepted c,
 * counting it open: 1, or 0 if it was refused and closed.
 */
static int
worker_admit(struct worker *w, struct conn *c)
{
	worker_count(w);
	/* before the per-address count: a stranger holds no place there */
	if (!w->cfg->proxy_protocol &&
	    !conf_allowed(w->cfg, &c->addr.sa, c->addrlen)) {
		worker_not_allowed(w, c);
		return (0);
	}
	if ((c->limit_entry = peerlimit_enter(c)) == ACKD_REFUSED) {
		worker_refuse(w, c);
		return (0);
	}
	c->accepted_ms = mono_ms();
	c->pend = NULL;
	stage_opened(&w->stage);
	return (1);
}

/*
 * Queue the n admitted connections in c: queue_push_batch's room left
 * (0: the queue is full), or -1 if the queue is closed and the loop
 * must end.
 */
static long
worker_queue(struct worker *w, struct conn *c, size_t n)
{
	long	room;
	size_t	i;

	if ((room = queue_push_batch(&w->queue, c, n)) == -1)
		for (i = 0; i < n; i++)	/* cannot happen: only we close it */
			stage_close(&w->stage, &c[i]);
	return (room);
}

/*
 * Count, admit and queue the accepted c: the room left in the queue
 * (0: full), or -1 if the queue is closed and the loop must end.
 */
static long
worker_take(struct worker *w, struct conn *c)
{
	if (!worker_admit(w, c))
		return (1);
	return (worker_queue(w, c, 1));
}

/*
 * Accept one connection on listening socket i and queue it: the room
 * left in the queue (0: full), or -1 if the loop must end. An accept
 * that fails (EAGAIN: another worker took it first) leaves room as 1.
 */
static long
worker_accept(struct worker *w, int i)
{
	struct conn	c;

	if (net_accept(w->lfds[i], &c) == -1) {
		worker_accept_error(w, errno);
		return (1);
	}
	c.tls = w->ltls[i];	/* the handler shakes hands first */
	return (worker_take(w, &c));
}

/*
 * One listening socket: sleep until a connection waits on it. With
 * epoll and EPOLLEXCLUSIVE the kernel wakes one sleeping worker per
 * connection, as a blocking accept() did; else poll() wakes them all
 * and the others' accept4 finds EAGAIN.
 */
static void
worker_sleep(struct worker *w)
{
	int	n;

#if defined(HAVE_SYS_EPOLL_H) && defined(EPOLLEXCLUSIVE)
	struct epoll_event	ev;

	if (w->sleep_fd != -1)
		n = epoll_wait(w->sleep_fd, &ev, 1, WORKER_IDLE_MS);
	else
#endif
		n = poll(w->pfds, 1, WORKER_IDLE_MS);
	if (n == -1)
		worker_accept_error(w, errno);
	w->drained = 0;
}

/*
 * One listening socket: accept every connection already waiting (up to
 * the queue's room, WORKER_BATCH and --max-connections), then queue
 * them at once, so the queue wakes handlers once and only for work no
 * running handler will take. Sleeps when the last turn found none.
 * Returns as worker_take.
 */
static long
worker_accept_batch(struct worker *w, long room)
{
	size_t	n = 0, max;
	int	err = 0;

	if (w->drained) {
		worker_sleep(w);
		return (room);
	}
	max = room < WORKER_BATCH ? (size_t)room : WORKER_BATCH;
	while (n < max && !stage_full(&w->stage)) {
		if (net_accept(w->lfds[0], &w->batch[n]) == -1) {
			err = errno;
			break;
		}
		w->batch[n].tls = w->ltls[0];	/* --tls-only's one listener */
		n += (size_t)worker_admit(w, &w->batch[n]);
	}
	if (n > 0)
		room = worker_queue(w, w->batch, n);
	w->drained = err == EAGAIN || err == EWOULDBLOCK;
	/* after queueing: an EMFILE pause holds no accepted client back */
	if (err != 0 && !w->drained)
		worker_accept_error(w, err);
	return (room);
}

/*
 * With several listening sockets: sleep in poll() on all of them, then
 * take one connection from each that is ready while there is room,
 * starting from the next socket each turn so that none is starved.
 */
static long
worker_accept_polled(struct worker *w, int *first)
{
	long	room = 1;
	int	i, k;

	if (poll(w->pfds, (nfds_t)w->nfds, WORKER_IDLE_MS) == -1) {
		worker_accept_error(w, errno);
		return (1);
	}
	*first = (*first + 1) % w->nfds;
	for (k = 0; k < w->nfds && room > 0 && !stage_full(&w->stage); k++) {
		i = (*first + k) % w->nfds;
		if (w->pfds[i].revents != 0)
			room = worker_accept(w, i);
	}
	return (room);
}

/* Accept and queue connections until told to stop or orphaned. */
static void
worker_loop(struct worker *w)
{
	long	room = w->cfg->queue;
	time_t	checked = 0;
	int	first = 0;

	while (!atomic_load(&w->stopping) &&
	    !worker_orphaned_lately(w, &checked)) {
		/* a step, even an idle one: the master's watchdog sees it */
		atomic_fetch_add_explicit(&w->board->progress, 1,
		    memory_order_relaxed);
		/* the queue said it was full: wait for a handler to take
		 * one (or a kick) before taking another connection */
		if (room == 0 && queue_wait_space(&w->queue) == -1)
			continue;
		if (room == 0)
			room = 1;
		if (stage_full(&w->stage) && worker_wait_room(w) == -1)
			continue;
		room = w->nfds == 1 ? worker_accept_batch(w, room) :
		    worker_accept_polled(w, &first);
		if (room == -1)
			break;
	}
}

/*
 * Block every signal in this thread and all it creates; say which we take.
 * Not SIGABRT, which the master's watchdog sends to a stuck worker for a
 * core dump, nor the signals of faults, which blocked would only hide them.
 */
static void
worker_block_signals(struct worker *w)
{
	sigset_t	all;

	sigfillset(&all);
	sigdelset(&all, SIGABRT);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	w->loop_thread = pthread_self();
	sigemptyset(&w->sigs);
	sigaddset(&w->sigs, SIGTERM);
	sigaddset(&w->sigs, SIGINT);
	sigaddset(&w->sigs, SIGHUP);
}

/*
 * Let WORKER_WAKE_SIG into the calling thread (the accept loop) only, with
 * a handler and no SA_RESTART, so it interrupts accept(). The pool and
 * signal threads were created before and keep every signal blocked.
 */
static void
worker_unblock_wake(void)
{
	struct sigaction	sa;
	sigset_t		wake;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = worker_wake_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(WORKER_WAKE_SIG, &sa, NULL) == -1)
		fatal(ACKD_EXIT_OSERR, "sigaction");
	sigemptyset(&wake);
	sigaddset(&wake, WORKER_WAKE_SIG);
	pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
}

/*
 * How many connections this worker serves before asking to be replaced:
 * --max-connections-per-worker plus up to a tenth more, drawn per worker,
 * so that workers started together are not all replaced together.
 */
static unsigned long
worker_retire_after(int max)
{
	struct timespec	now;
	unsigned long	x;

	if (max == 0)
		return (0);
	clock_gettime(CLOCK_REALTIME, &now);
	/* any spread will do: mix the pid and the clock (xorshift) */
	x = (unsigned long)getpid() * 2654435761UL ^ (unsigned long)now.tv_nsec;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return ((unsigned long)max + x % ((unsigned long)max / 10 + 1));
}

/*
 * One listening socket (non-blocking, as listen.c leaves every one): an
 * epoll set to sleep on, from which the kernel wakes one worker per
 * connection (EPOLLEXCLUSIVE); without it, poll() on the socket.
 */
static void
worker_sleep_init(struct worker *w)
{
#if defined(HAVE_SYS_EPOLL_H) && defined(EPOLLEXCLUSIVE)
	struct epoll_event	ev;

	w->sleep_fd = -1;
	if (w->nfds != 1)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	if ((w->sleep_fd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    epoll_ctl(w->sleep_fd, EPOLL_CTL_ADD, w->lfds[0], &ev) == -1) {
		diag_warn("epoll for the listening socket; polling instead");
		if (w->sleep_fd != -1)
			close(w->sleep_fd);
		w->sleep_fd = -1;
	}
#else
	w->sleep_fd = -1;
#endif
}

/* Set up the queue, the pool and the signal thread. */
static void
worker_start(struct worker *w)
{
	int	i, rc;

	if (queue_init(&w->queue, (size_t)w->cfg->queue) == -1)
		fatal(ACKD_EXIT_OSERR, "worker queue");
	queue_gauges(&w->queue, &w->board->stats.gauge[STATS_QUEUE],
	    &w->board->stats.gauge[STATS_QUEUE_MAX]);
	if (pool_start(&w->pool, w->cfg, &w->queue, &w->stage, w->board) == -1)
		fatal(ACKD_EXIT_OSERR, "cannot start %d handler threads",
		    w->cfg->threads);
	if (stage_start(&w->stage, w->cfg, &w->queue, &w->pool.budget,
	    w->board) == -1)
		fatal(ACKD_EXIT_OSERR, "cannot start the event stage");
	if ((rc = pthread_create(&w->signal_thread, NULL, worker_signals,
	    w)) != 0) {
		errno = rc;
		fatal(ACKD_EXIT_OSERR, "signal thread");
	}
	worker_unblock_wake();
	worker_sleep_init(w);
	if ((w->pfds = calloc((size_t)w->nfds, sizeof(*w->pfds))) == NULL)
		fatal(ACKD_EXIT_OSERR, "worker poll set");
	for (i = 0; i < w->nfds; i++) {
		w->pfds[i].fd = w->lfds[i];
		w->pfds[i].events = POLLIN;
	}
	w->retire_after = worker_retire_after(w->cfg->max_per_worker);
}

/* Stop the signal thread: sigwait is a cancellation point. */
static void
worker_stop_signals(struct worker *w)
{
	int	rc;

	if ((rc = pthread_cancel(w->signal_thread)) == 0)
		rc = pthread_join(w->signal_thread, NULL);
	if (rc != 0) {
		errno = rc;
		diag_warn("cannot stop the signal thread");
	}
}

/*
 * Run a worker on the nfds listening sockets lfds (ltls[i]: lfds[i] is a
 * TLS listener) until SIGTERM/SIGINT or until master dies; returns the
 * exit status. Connections already accepted are all served before it
 * returns.
 */
int
worker_run(const struct ackd_config *cfg, const int *lfds,
    const unsigned char *ltls, int nfds, pid_t master, int slot)
{
	static struct worker	w;
	struct stats_snap	snap;
	char			counters[512];
	int			i;

	w.cfg = cfg;
	w.lfds = lfds;
	w.ltls = ltls;
	w.nfds = nfds;
	w.master = master;
	w.board = scoreboard_slot(slot);
	peerlimit_set_slot(slot);
	worker_block_signals(&w);
#ifdef HAVE_SYS_PRCTL_H
	/* the kernel tells us when master dies; the idle poll is the fallback */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	if (worker_orphaned(&w))
		return (ACKD_EXIT_OK);
	evlimit_init(cfg->event_interval_ms);
	worker_start(&w);
	msglog_event("worker-start", "%s", "");
	atomic_store(&w.board->serving, 1);
	worker_tell_master(&w);
	worker_loop(&w);
	atomic_store(&w.loop_done, 1);
	/* stop accepting: the master (and perhaps other workers) still have
	 * the sockets, only our copies go */
	for (i = 0; i < nfds; i++)
		close(lfds[i]);
	if (w.sleep_fd != -1)
		close(w.sleep_fd);
	free(w.pfds);
	/* every connection accepted is served (or times out) first */
	stage_drain(&w.stage);
	/* the handlers go before the stage's lock does: the last one to
	 * close a connection still signals the stage after the count that
	 * ended stage_drain (TSan saw the lock destroyed under it) */
	queue_close(&w.queue);
	pool_join(&w.pool);
	stage_stop(&w.stage);
	worker_stop_signals(&w);
	evlimit_flush();	/* every handler is done: the last summaries */
	queue_destroy(&w.queue);
	stats_read(&w.board->stats, &snap);
	stats_format(counters, sizeof(counters), &snap, 0);
	msglog_event("worker-stop", "%s", counters);
	return (ACKD_EXIT_OK);
}
