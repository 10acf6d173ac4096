/*
 * worker.c: one worker process: an accept loop feeding the queue, the
 * handler pool draining it, and one signal thread.
 *
 * Every thread runs with every signal blocked; the signal thread takes
 * them with sigwait(), so signals are handled in one place, by ordinary
 * code that may lock and call anything. It tells the accept loop to stop
 * through a flag, a byte on the wake pipe (for poll) and a queue kick (for
 * a loop waiting on a full queue).
 *
 * The accept loop only accepts while the queue has room: a full queue
 * leaves connections in the kernel's backlog, where another worker with
 * room can take them, and memory never grows with load.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

#include "ackd.h"

/* How often the loop wakes with nothing to do, to notice a dead master. */
#define WORKER_IDLE_MS		1000
/* How long accepting pauses when the process is out of descriptors. */
#define WORKER_EMFILE_MS	100

struct worker {
	const struct ackd_config *cfg;
	int			 lfd;
	pid_t			 master;
	struct queue		 queue;
	struct pool		 pool;
	struct stats		 stats;
	int			 wake[2];	/* signal thread -> accept loop */
	atomic_int		 stopping;
	sigset_t		 sigs;		/* what the signal thread takes */
	pthread_t		 signal_thread;
};

/* Has our master gone (we were re-parented)? */
static int
worker_orphaned(struct worker *w)
{
	return (getppid() != w->master);
}

/* The signal thread: act on each signal the worker handles. */
static void *
worker_signals(void *arg)
{
	struct worker	*w = arg;
	int		 sig;
	char		 byte = 0;

	for (;;) {
		/* cancelled only while waiting, never halfway through a reopen */
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		if (sigwait(&w->sigs, &sig) != 0)
			continue;
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		switch (sig) {
		case SIGHUP:
			if (msglog_reopen() == -1)
				log_warn("cannot reopen the log");
			else
				msglog_event("reopen", "%s", "");
			break;
		case SIGTERM:
		case SIGINT:
			atomic_store(&w->stopping, 1);
			(void)!write(w->wake[1], &byte, 1);
			queue_kick(&w->queue);
			break;
		default:
			break;
		}
	}
	return (NULL);
}

/* Make a pipe whose ends are close-on-exec and non-blocking. */
static int
worker_pipe(int fds[2])
{
	int	i;

	if (pipe(fds) == -1)
		return (-1);
	for (i = 0; i < 2; i++)
		if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) == -1 ||
		    fcntl(fds[i], F_SETFL, O_NONBLOCK) == -1)
			return (-1);
	return (0);
}

/* Take the wake pipe's bytes; they only mean "look at the flags". */
static void
worker_drain_wake(struct worker *w)
{
	char	buf[64];

	while (read(w->wake[0], buf, sizeof(buf)) > 0)
		;
}

/*
 * Accept what waits while the queue has room; each accepted socket is
 * queued at once. Resource exhaustion pauses accepting instead of spinning.
 */
static void
worker_accept_batch(struct worker *w)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd;

	while (queue_len(&w->queue) < w->queue.cap) {
		fd = net_accept(w->lfd, &ss, &len);
		if (fd != -1) {
			queue_push(&w->queue, fd);
			continue;
		}
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return;
		case ECONNABORTED:
		case EPROTO:
			continue;	/* the client gave up first: next one */
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			log_warn("accept paused");
			poll(NULL, 0, WORKER_EMFILE_MS);
			return;
		default:
			log_warn("accept");
			return;
		}
	}
}

/* Accept until told to stop or orphaned. */
static void
worker_loop(struct worker *w)
{
	struct pollfd	pfd[2];
	int		rc;

	pfd[0].fd = w->wake[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = w->lfd;
	pfd[1].events = POLLIN;
	while (!atomic_load(&w->stopping) && !worker_orphaned(w)) {
		if (queue_wait_space(&w->queue) == -1)
			continue;	/* kicked: look at the flags again */
		rc = poll(pfd, 2, WORKER_IDLE_MS);
		if (rc == -1 && errno != EINTR) {
			log_warn("poll");
			continue;
		}
		if (rc <= 0)
			continue;
		if (pfd[0].revents != 0)
			worker_drain_wake(w);
		if (pfd[1].revents != 0 && !atomic_load(&w->stopping))
			worker_accept_batch(w);
	}
}

/* Block every signal in this thread and all it creates; say which we take. */
static void
worker_block_signals(struct worker *w)
{
	sigset_t	all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	sigemptyset(&w->sigs);
	sigaddset(&w->sigs, SIGTERM);
	sigaddset(&w->sigs, SIGINT);
	sigaddset(&w->sigs, SIGHUP);
}

/* Set up the queue, the pool, the signal thread and the wake pipe. */
static void
worker_start(struct worker *w)
{
	int	rc;

	if (worker_pipe(w->wake) == -1)
		fatal(ACKD_EXIT_OSERR, "worker pipe");
	if (queue_init(&w->queue, (size_t)w->cfg->queue) == -1)
		fatal(ACKD_EXIT_OSERR, "worker queue");
	if (pool_start(&w->pool, w->cfg, &w->queue, &w->stats) == -1)
		fatal(ACKD_EXIT_OSERR, "cannot start %d handler threads",
		    w->cfg->threads);
	if ((rc = pthread_create(&w->signal_thread, NULL, worker_signals,
	    w)) != 0) {
		errno = rc;
		fatal(ACKD_EXIT_OSERR, "signal thread");
	}
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
		log_warn("cannot stop the signal thread");
	}
}

/*
 * Run a worker on the listening socket lfd until SIGTERM/SIGINT or until
 * master dies; returns the exit status. Connections already accepted are
 * all served before it returns.
 */
int
worker_run(const struct ackd_config *cfg, int lfd, pid_t master)
{
	static struct worker	w;
	char			counters[512];

	w.cfg = cfg;
	w.lfd = lfd;
	w.master = master;
	worker_block_signals(&w);
#ifdef HAVE_SYS_PRCTL_H
	/* the kernel tells us when master dies; the idle poll is the fallback */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	if (worker_orphaned(&w))
		return (ACKD_EXIT_OK);
	worker_start(&w);
	msglog_event("worker-start", "%s", "");
	worker_loop(&w);
	/* stop accepting: the socket is shared, only our copy goes */
	close(lfd);
	queue_close(&w.queue);
	pool_join(&w.pool);
	worker_stop_signals(&w);
	queue_destroy(&w.queue);
	stats_format(counters, sizeof(counters), &w.stats);
	msglog_event("worker-stop", "%s", counters);
	return (ACKD_EXIT_OK);
}
