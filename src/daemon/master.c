/* SPDX-License-Identifier: MIT */
/*
 * master.c: fork the workers, reap and respawn them, act on signals.
 *
 * The master never serves a client. Its signal handlers only set flags;
 * the loop sleeps in ppoll() (pselect() where there is none), which
 * unblocks those signals only while it sleeps, so a flag can never be set
 * between the check and the sleep. The same call waits for the metrics
 * listener's sockets and the workers' news (control.c: one socketpair
 * per worker, level-triggered, so news is never missed either), and
 * its timeout is the next timed job: a respawn back-off, the shutdown
 * deadline, the watchdog's tick, a summary, the once-a-second look at
 * the log file (supervise.c).
 * supervise.c makes the judgements about workers and returns them as
 * acts (fork into a slot, signal a worker or all, hand sockets over,
 * shut down); this file alone carries them out (master_act), at once
 * and in order, right after each judgement.
 */
#include "config.h"

#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"
#include "master.h"
#include "tls.h"

/* How long a slot waits after a failed fork. */
#define MASTER_FORK_RETRY_MS	10000

static volatile sig_atomic_t	master_got_term, master_got_hup,
				master_got_chld, master_got_ttin,
				master_got_ttou, master_got_usr1,
				master_got_usr2, master_got_news;
static struct supervise_acts	master_acts;	/* the last judgement's */

static void	master_begin_shutdown(struct master *, int);

/* Only note which signal came; the loop acts on it. */
static void
master_on_signal(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		master_got_term = 1;
		break;
	case SIGHUP:
		master_got_hup = 1;
		break;
	case SIGCHLD:
		master_got_chld = 1;
		break;
	case SIGTTIN:
		master_got_ttin++;
		break;
	case SIGTTOU:
		master_got_ttou++;
		break;
	case SIGUSR1:
		master_got_usr1 = 1;
		break;
	case SIGUSR2:
		master_got_usr2 = 1;
		break;
	}
}

static const int master_signals[] = {
	SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGTTIN, SIGTTOU, SIGUSR1,
	SIGUSR2
};
#define MASTER_NSIGNALS	nitems(master_signals)

/* Block our signals and install the flag-setting handlers; *old gets the mask. */
static void
master_signals_setup(sigset_t *old)
{
	struct sigaction	sa;
	sigset_t		set;
	size_t			i;

	sigemptyset(&set);
	for (i = 0; i < MASTER_NSIGNALS; i++)
		sigaddset(&set, master_signals[i]);
	sigprocmask(SIG_BLOCK, &set, old);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = master_on_signal;
	sa.sa_mask = set;
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < MASTER_NSIGNALS; i++)
		sigaction(master_signals[i], &sa, NULL);
	for (i = 0; i < MASTER_NSIGNALS; i++)
		sigdelset(old, master_signals[i]);
}

/* In a new worker: our handlers are the master's, put the defaults back. */
static void
master_signals_reset(void)
{
	struct sigaction	sa;
	size_t			i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < MASTER_NSIGNALS; i++)
		sigaction(master_signals[i], &sa, NULL);
}

/* Fork a worker into slot; on failure retry after a back-off. */
static void
master_spawn(struct master *m, struct slot *slot)
{
	/* off the stack: up to every set, after --reuseport merges */
	static int	fds[ACKD_WORKERS_MAX * ACKD_LISTEN_FDS];
	static unsigned char tls[ACKD_WORKERS_MAX * ACKD_LISTEN_FDS];
	pid_t		pid, self = getpid();
	int		index = (int)(slot - m->slots), nfds, wfd;

	/* the slot's previous worker is gone: so are its connections */
	peerlimit_clear(index);
	/* it opens the log we have now: no reopen for it to catch up on */
	atomic_store(&scoreboard_slot(index)->reopened, m->reopen_gen);
	nfds = listen_worker_fds(index, fds, tls, (int)nitems(fds));
	/* its news reaches us there (control.c) */
	if ((wfd = control_open(index)) == -1)
		pid = -1;
	else
		pid = fork();
	if (pid == 0) {
		master_signals_reset();
		proctitle_set("ackd: worker %d", index);
		metrics_close();	/* the master's copies: see metrics.c */
		listen_close_others(fds, nfds);
		control_forked(wfd);
		_exit(worker_run(m->cfg, fds, tls, nfds, self, index));
	}
	if (wfd != -1)
		control_spawned(index, wfd, pid != -1);
	if (pid == -1) {
		diag_warn("cannot fork a worker");
		slot->state = SLOT_WAITING;
		slot->respawn_at_ms = mono_ms() + MASTER_FORK_RETRY_MS;
		return;
	}
	slot->state = SLOT_RUNNING;
	slot->pid = pid;
	scoreboard_mark_live(index, 1);	/* for metrics.c */
	slot->started_ms = slot->progress_at_ms = mono_ms();
	slot->progress = 0;
	slot->served = slot->replaced = slot->killed = 0;
	slot->stuck_since_ms = slot->aborted_at_ms = 0;
}

/* Send sig to every live worker. */
static void
master_kill_all(struct master *m, int sig)
{
	int	i;

	for (i = 0; i < ACKD_WORKERS_MAX; i++)
		/* never pid 0: that would be our whole process group */
		if (supervise_live(&m->slots[i]) && m->slots[i].pid > 0)
			kill(m->slots[i].pid, sig);
}

/*
 * Carry out what supervise.c decided (master_acts), in order, and empty
 * the list.
 */
static void
master_act(struct master *m)
{
	const struct supervise_act	*a;
	int				 i;

	for (i = 0; i < master_acts.n; i++) {
		a = &master_acts.act[i];
		switch (a->verb) {
		case SUPERVISE_SPAWN:
			master_spawn(m, &m->slots[a->slot]);
			break;
		case SUPERVISE_SIGNAL:
			/* never pid 0: that would be our whole process group */
			if (m->slots[a->slot].pid > 0)
				kill(m->slots[a->slot].pid, a->arg);
			break;
		case SUPERVISE_SIGNAL_ALL:
			master_kill_all(m, a->arg);
			break;
		case SUPERVISE_GIVE:
			listen_give(a->slot, a->arg);
			break;
		case SUPERVISE_SHUTDOWN:
			master_begin_shutdown(m, a->arg);
			break;
		}
	}
	master_acts.n = 0;
}

/*
 * A worker in slot has ended with status: supervise_death frees the slot
 * or schedules its replacement; log worker-exit with the decision
 * (respawn_ms= when it is replaced). A crash loop is judged and acted on
 * only after that line, so the log reads in order.
 */
static void
master_worker_died(struct master *m, struct slot *slot, int status)
{
	char		desc[32], respawn[40] = "";
	long long	delay;
	int		give_up;

	delay = supervise_death(m, slot, status, mono_ms(), &give_up);
	if (delay >= 0)
		snprintf(respawn, sizeof(respawn), " respawn_ms=%lld", delay);
	logfmt_wait_status(desc, sizeof(desc), status);
	msglog_event("worker-exit", "worker=%ld status=%s%s",
	    (long)slot->pid, desc, respawn);
	if (give_up) {
		supervise_give_up(m, &master_acts);
		master_act(m);
	}
}

/* Reap every worker that has ended. */
static void
master_reap(struct master *m)
{
	char	desc[32];
	pid_t	pid;
	int	status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (upgrade_reaped(pid, status))
			continue;	/* the new master we started */
		for (i = 0; i < ACKD_WORKERS_MAX; i++)
			if (m->slots[i].pid == pid &&
			    (m->slots[i].state == SLOT_RUNNING ||
			    m->slots[i].state == SLOT_RETIRING))
				break;
		if (i == ACKD_WORKERS_MAX) {
			logfmt_wait_status(desc, sizeof(desc), status);
			msglog_event("worker-exit", "worker=%ld status=%s",
			    (long)pid, desc);
			continue;
		}
		/* it may have served before we heard it say so */
		if (atomic_load(&scoreboard_slot(i)->serving))
			m->slots[i].served = 1;
		/* dead: its counts join the slot's past */
		scoreboard_retire(i);
		scoreboard_mark_live(i, 0);
		master_worker_died(m, &m->slots[i], status);
		m->slots[i].pid = 0;
	}
}

/*
 * SIGTERM/SIGINT, or a crash loop: tell every worker to finish, start the
 * deadline; the master then exits with status.
 */
static void
master_begin_shutdown(struct master *m, int status)
{
	int	i;

	m->stopping = 1;
	m->status = status;
	m->deadline_ms = mono_ms() + m->cfg->shutdown_timeout_ms;
	msglog_event("shutdown", "%s", "");
	systemd_notify("STOPPING=1\nSTATUS=stopping");
	for (i = 0; i < ACKD_WORKERS_MAX; i++)
		if (m->slots[i].state == SLOT_WAITING)
			m->slots[i].state = SLOT_EMPTY;
	/* the workers hold the sockets; our copies only keep them longer */
	listen_close();
	master_kill_all(m, SIGTERM);
}

/*
 * Have supervise.c judge what is due (respawns or the shutdown's
 * deadline, then its periodic jobs) and act on it; return ms until the
 * next timed event, or -1.
 */
static long long
master_timers(struct master *m)
{
	long long	next;

	next = supervise_respawns(m, mono_ms(), &master_acts);
	master_act(m);
	if (m->stopping)
		return (next);
	next = supervise_sooner(next, supervise_timers(m, &master_acts));
	master_act(m);
	return (supervise_sooner(supervise_sooner(next, metrics_timers()),
	    upgrade_timers()));
}

#ifdef HAVE_PPOLL
/* ppoll: fds, timeout (NULL: none) and the mask to sleep with. */
static int
master_poll(struct pollfd *fds, int n, const struct timespec *tsp,
    const sigset_t *waitmask)
{
	return (ppoll(fds, (nfds_t)n, tsp, waitmask));
}
#else
/* ppoll where there is none, over pselect (descriptors < FD_SETSIZE). */
static int
master_poll(struct pollfd *fds, int n, const struct timespec *tsp,
    const sigset_t *waitmask)
{
	fd_set	rd, wr;
	int	i, rc, maxfd = -1;

	FD_ZERO(&rd);
	FD_ZERO(&wr);
	for (i = 0; i < n; i++) {
		fds[i].revents = 0;
		if (fds[i].fd < 0 || fds[i].fd >= FD_SETSIZE)
			continue;
		if (fds[i].events & POLLIN)
			FD_SET(fds[i].fd, &rd);
		if (fds[i].events & POLLOUT)
			FD_SET(fds[i].fd, &wr);
		if (fds[i].fd > maxfd)
			maxfd = fds[i].fd;
	}
	rc = pselect(maxfd + 1, &rd, &wr, NULL, tsp, waitmask);
	for (i = 0; rc > 0 && i < n; i++) {
		if (fds[i].fd < 0 || fds[i].fd >= FD_SETSIZE)
			continue;
		if (FD_ISSET(fds[i].fd, &rd))
			fds[i].revents |= POLLIN;
		if (FD_ISSET(fds[i].fd, &wr))
			fds[i].revents |= POLLOUT;
	}
	return (rc);
}
#endif

/*
 * Sleep until a signal, a metrics socket or timeout_ms (-1: no limit),
 * with the master's signals let in only meanwhile (waitmask); then serve
 * the metrics sockets that are ready.
 */
static void
master_wait(struct master *m, long long timeout_ms, const sigset_t *waitmask)
{
	static struct pollfd	fds[ACKD_METRICS_FDS + ACKD_WORKERS_MAX +
				    UPGRADE_FDS];
	struct timespec		ts, *tsp = NULL;
	int			nm, nc, nu, rc;

	if (timeout_ms >= 0) {
		ts.tv_sec = (time_t)(timeout_ms / 1000);
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	nm = metrics_pollfds(fds, ACKD_METRICS_FDS);
	nc = control_pollfds(fds + nm, ACKD_WORKERS_MAX);
	nu = upgrade_pollfds(fds + nm + nc, UPGRADE_FDS);
	rc = master_poll(fds, nm + nc + nu, tsp, waitmask);
	if (rc == -1 && errno != EINTR)
		diag_warn("the master's wait failed");
	if (rc <= 0)
		return;
	metrics_io(fds, nm);
	if (control_io(fds + nm, nc))
		master_got_news = 1;
	/* the new master we started serves: we go, gracefully */
	if (upgrade_io(fds + nm + nc, nu) && !m->stopping)
		master_begin_shutdown(m, ACKD_EXIT_OK);
}

/* Act on every flag the handlers set. */
static void
master_handle_flags(struct master *m)
{
	if (master_got_chld) {
		master_got_chld = 0;
		master_reap(m);
	}
	if (master_got_term) {
		master_got_term = 0;
		if (!m->stopping) {
			upgrade_cancel();	/* a new master not ready yet */
			master_begin_shutdown(m, ACKD_EXIT_OK);
		}
	}
	if (master_got_usr2) {
		master_got_usr2 = 0;
		upgrade_start(m->stopping, m->ready);
	}
	if (master_got_news) {
		master_got_news = 0;
		supervise_news(m, &master_acts);
		master_act(m);
	}
	if (master_got_usr1) {
		master_got_usr1 = 0;
		supervise_summary(m);
	}
	if (master_got_hup) {
		master_got_hup = 0;
		supervise_reopen(m, NULL, &master_acts);
		master_act(m);
		/* for the workers we fork later; each live one reloads too */
		tls_reload(m->cfg);
	}
	/* one at a time: each judges the slots the last one filled */
	for (; master_got_ttin > 0; master_got_ttin--)
		if (!m->stopping) {
			supervise_resize(m, 1, listen_owns, &master_acts);
			master_act(m);
		}
	for (; master_got_ttou > 0; master_got_ttou--)
		if (!m->stopping) {
			supervise_resize(m, 0, listen_owns, &master_acts);
			master_act(m);
		}
}

/*
 * The start line: every plain listener (none with --tls-only) and, with
 * --tls-port, every TLS one (tls_listen=), so that whoever started us
 * with port 0 learns the ports.
 */
static void
master_start_event(const struct ackd_config *cfg, const char *listen)
{
	char	tls[ACKD_LISTEN_NAMES + 16] = "";

	if (cfg->tls_port >= 0)
		snprintf(tls, sizeof(tls), " tls_listen=%s", listen_tls_names());
	if (upgrade_from() != 0)
		msglog_event("start", "listen=%s%s workers=%d threads=%d "
		    "queue=%d version=%s upgraded_from=%ld",
		    listen[0] != '\0' ? listen : "none", tls, cfg->workers,
		    cfg->threads, cfg->queue, PACKAGE_VERSION,
		    (long)upgrade_from());
	else
		msglog_event("start", "listen=%s%s workers=%d threads=%d "
		    "queue=%d version=%s", listen[0] != '\0' ? listen : "none",
		    tls, cfg->workers, cfg->threads, cfg->queue,
		    PACKAGE_VERSION);
}

/*
 * Supervise cfg->workers workers on the listening sockets (listen.c)
 * until a graceful shutdown ends. listen is the address to report; on_ready (if
 * not NULL) is called once, when every first worker serves. Returns the
 * exit status: 0; ACKD_EXIT_KILLED if the deadline forced a kill;
 * ACKD_EXIT_SOFTWARE if workers kept dying at start.
 */
int
master_run(const struct ackd_config *cfg, const char *listen,
    void (*on_ready)(void))
{
	static struct master	m;
	sigset_t		waitmask;
	long long		timeout;
	int			i, status;

	m.cfg = cfg;
	m.listen = listen;
	m.on_ready = on_ready;
	m.wanted = cfg->workers;
	master_signals_setup(&waitmask);
	proctitle_set("ackd: master %s", proctitle_command());
	master_start_event(cfg, listen);
	for (i = 0; i < cfg->workers; i++)
		master_spawn(&m, &m.slots[i]);
	for (;;) {
		master_handle_flags(&m);
		if (m.stopping && supervise_alive(&m) == 0)
			break;
		timeout = master_timers(&m);
		/* a flag set since we looked: act on it before sleeping */
		if (!master_got_chld && !master_got_term && !master_got_hup &&
		    !master_got_ttin && !master_got_ttou && !master_got_usr1 &&
		    !master_got_usr2 && !master_got_news)
			master_wait(&m, timeout, &waitmask);
	}
	status = m.killed && m.status == ACKD_EXIT_OK ? ACKD_EXIT_KILLED :
	    m.status;
	msglog_event("stop", "status=%d", status);
	return (status);
}
