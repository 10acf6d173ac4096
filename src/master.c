/*
 * master.c: fork the workers, reap and respawn them, act on signals.
 *
 * The master never serves a client. Its signal handlers only set flags;
 * the loop sleeps in sigsuspend() with those signals blocked everywhere
 * else, so a flag can never be set between the check and the sleep. Timed
 * work (respawn back-off, the shutdown deadline) wakes it with SIGALRM.
 */
#include "config.h"

#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"

/* A worker that dies younger than this counts as dying at start. */
#define MASTER_QUICK_DEATH_MS	2000
#define MASTER_BACKOFF_MIN_MS	100
#define MASTER_BACKOFF_MAX_MS	10000

enum slot_state {
	SLOT_EMPTY,	/* not wanted */
	SLOT_RUNNING,	/* a worker runs in it */
	SLOT_RETIRING,	/* its worker was told to stop, not to be replaced */
	SLOT_WAITING	/* wanted, respawn due at respawn_at */
};

struct slot {
	enum slot_state	 state;
	pid_t		 pid;
	long long	 started;	/* ms, monotonic */
	long long	 respawn_at;
	int		 quick_deaths;
};

struct master {
	const struct ackd_config *cfg;
	int			 lfd;
	struct slot		 slots[ACKD_WORKERS_MAX];
	int			 wanted;	/* RUNNING + WAITING slots */
	int			 stopping;
	long long		 deadline;	/* shutdown: kill after this */
	int			 killed;	/* some had to be killed */
};

static volatile sig_atomic_t	master_got_term, master_got_hup,
				master_got_chld, master_got_ttin,
				master_got_ttou, master_got_alrm;

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
	case SIGALRM:
		master_got_alrm = 1;
		break;
	}
}

static const int master_signals[] = {
	SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGTTIN, SIGTTOU, SIGALRM
};
#define MASTER_NSIGNALS	(sizeof(master_signals) / sizeof(master_signals[0]))

/* Milliseconds on the monotonic clock. */
static long long
master_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

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
	pid_t	pid, self = getpid();
	int	index = (int)(slot - m->slots);

	/* the slot's previous worker is gone: so are its connections */
	peerlimit_clear(index);
	pid = fork();
	if (pid == 0) {
		master_signals_reset();
		_exit(worker_run(m->cfg, m->lfd, self, index));
	}
	if (pid == -1) {
		log_warn("cannot fork a worker");
		slot->state = SLOT_WAITING;
		slot->respawn_at = master_now() + MASTER_BACKOFF_MAX_MS;
		return;
	}
	slot->state = SLOT_RUNNING;
	slot->pid = pid;
	slot->started = master_now();
}

/* Describe a wait status as "exited:N" or "killed:SIG". */
static void
master_status(char *buf, size_t size, int status)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited:%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed:%d", WTERMSIG(status));
	else
		snprintf(buf, size, "unknown:%d", status);
}

/* Decide a dead worker's slot: free it, or schedule its replacement. */
static void
master_worker_died(struct master *m, struct slot *slot, int status)
{
	long long	now = master_now(), delay = 0;
	int		shift;

	if (m->stopping || slot->state == SLOT_RETIRING) {
		slot->state = SLOT_EMPTY;
		return;
	}
	/* a worker that keeps dying at start must not fork-bomb us */
	if (now - slot->started < MASTER_QUICK_DEATH_MS) {
		shift = slot->quick_deaths < 7 ? slot->quick_deaths : 7;
		delay = (long long)MASTER_BACKOFF_MIN_MS << shift;
		if (delay > MASTER_BACKOFF_MAX_MS)
			delay = MASTER_BACKOFF_MAX_MS;
		slot->quick_deaths++;
	} else
		slot->quick_deaths = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warnx("worker %ld died unexpectedly, replacing it%s",
		    (long)slot->pid, delay > 0 ? " after a back-off" : "");
	slot->state = SLOT_WAITING;
	slot->respawn_at = now + delay;
}

/* Reap every worker that has ended. */
static void
master_reap(struct master *m)
{
	char	desc[32];
	pid_t	pid;
	int	status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < ACKD_WORKERS_MAX; i++)
			if (m->slots[i].pid == pid &&
			    (m->slots[i].state == SLOT_RUNNING ||
			    m->slots[i].state == SLOT_RETIRING))
				break;
		master_status(desc, sizeof(desc), status);
		msglog_event("worker-exit", "worker=%ld status=%s", (long)pid,
		    desc);
		if (i < ACKD_WORKERS_MAX) {
			master_worker_died(m, &m->slots[i], status);
			m->slots[i].pid = 0;
		}
	}
}

/* Send sig to every live worker. */
static void
master_kill_all(struct master *m, int sig)
{
	int	i;

	for (i = 0; i < ACKD_WORKERS_MAX; i++)
		if (m->slots[i].state == SLOT_RUNNING ||
		    m->slots[i].state == SLOT_RETIRING)
			kill(m->slots[i].pid, sig);
}

/* How many workers are alive. */
static int
master_alive(struct master *m)
{
	int	i, n = 0;

	for (i = 0; i < ACKD_WORKERS_MAX; i++)
		if (m->slots[i].state == SLOT_RUNNING ||
		    m->slots[i].state == SLOT_RETIRING)
			n++;
	return (n);
}

/* SIGTTIN: want one worker more; SIGTTOU: retire one, gracefully. */
static void
master_resize(struct master *m, int more)
{
	int	i;

	if (more && m->wanted < ACKD_WORKERS_MAX) {
		for (i = 0; i < ACKD_WORKERS_MAX; i++)
			if (m->slots[i].state == SLOT_EMPTY)
				break;
		if (i == ACKD_WORKERS_MAX) {
			log_warnx("no free worker slot while others retire");
			return;
		}
		m->wanted++;
		master_spawn(m, &m->slots[i]);
	} else if (!more && m->wanted > 1) {
		for (i = ACKD_WORKERS_MAX - 1; i >= 0; i--)
			if (m->slots[i].state == SLOT_RUNNING ||
			    m->slots[i].state == SLOT_WAITING)
				break;
		m->wanted--;
		if (m->slots[i].state == SLOT_WAITING)
			m->slots[i].state = SLOT_EMPTY;
		else {
			m->slots[i].state = SLOT_RETIRING;
			kill(m->slots[i].pid, SIGTERM);
		}
	} else
		log_warnx("worker count stays at %d (allowed: 1-%d)",
		    m->wanted, ACKD_WORKERS_MAX);
}

/* SIGTERM/SIGINT: tell every worker to finish, start the deadline. */
static void
master_begin_shutdown(struct master *m)
{
	int	i;

	m->stopping = 1;
	m->deadline = master_now() + m->cfg->shutdown_timeout_ms;
	msglog_event("shutdown", "%s", "");
	for (i = 0; i < ACKD_WORKERS_MAX; i++)
		if (m->slots[i].state == SLOT_WAITING)
			m->slots[i].state = SLOT_EMPTY;
	/* the workers hold the socket; our copy only keeps it alive longer */
	close(m->lfd);
	master_kill_all(m, SIGTERM);
}

/* SIGHUP: reopen our log, then have every worker reopen its own. */
static void
master_reopen(struct master *m)
{
	if (msglog_reopen() == -1)
		log_warn("cannot reopen the log");
	else
		msglog_event("reopen", "%s", "");
	master_kill_all(m, SIGHUP);
}

/* Respawn the due slots; return ms until the next timed event, or -1. */
static long long
master_timers(struct master *m)
{
	long long	now = master_now(), next = -1, left;
	int		i;

	if (m->stopping) {
		left = m->deadline - now;
		if (left <= 0 && !m->killed && master_alive(m) > 0) {
			log_warnx("shutdown deadline passed, killing the "
			    "remaining workers");
			master_kill_all(m, SIGKILL);
			m->killed = 1;
		}
		return (left > 0 ? left : -1);
	}
	for (i = 0; i < ACKD_WORKERS_MAX; i++) {
		if (m->slots[i].state != SLOT_WAITING)
			continue;
		left = m->slots[i].respawn_at - now;
		if (left <= 0)
			master_spawn(m, &m->slots[i]);
		else if (next == -1 || left < next)
			next = left;
	}
	return (next);
}

/* Arm SIGALRM to fire in ms milliseconds (at least 1), or disarm it. */
static void
master_alarm(long long ms)
{
	struct itimerval	it;

	memset(&it, 0, sizeof(it));
	if (ms >= 0) {
		if (ms == 0)
			ms = 1;
		it.it_value.tv_sec = (time_t)(ms / 1000);
		it.it_value.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	}
	setitimer(ITIMER_REAL, &it, NULL);
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
		if (!m->stopping)
			master_begin_shutdown(m);
	}
	if (master_got_hup) {
		master_got_hup = 0;
		master_reopen(m);
	}
	for (; master_got_ttin > 0; master_got_ttin--)
		if (!m->stopping)
			master_resize(m, 1);
	for (; master_got_ttou > 0; master_got_ttou--)
		if (!m->stopping)
			master_resize(m, 0);
	master_got_alrm = 0;
}

/*
 * Supervise cfg->workers workers on the listening socket lfd until a
 * graceful shutdown ends. listen is the address to report. Returns the
 * exit status: 0, or ACKD_EXIT_KILLED if the deadline forced a kill.
 */
int
master_run(const struct ackd_config *cfg, int lfd, const char *listen)
{
	static struct master	m;
	sigset_t		waitmask;
	int			i, status;

	m.cfg = cfg;
	m.lfd = lfd;
	m.wanted = cfg->workers;
	master_signals_setup(&waitmask);
	msglog_event("start", "listen=%s workers=%d threads=%d queue=%d "
	    "version=%s", listen, cfg->workers, cfg->threads, cfg->queue,
	    PACKAGE_VERSION);
	for (i = 0; i < cfg->workers; i++)
		master_spawn(&m, &m.slots[i]);
	daemon_ready();
	for (;;) {
		master_handle_flags(&m);
		if (m.stopping && master_alive(&m) == 0)
			break;
		master_alarm(master_timers(&m));
		if (!master_got_chld && !master_got_term && !master_got_hup &&
		    !master_got_ttin && !master_got_ttou && !master_got_alrm)
			sigsuspend(&waitmask);
	}
	status = m.killed ? ACKD_EXIT_KILLED : ACKD_EXIT_OK;
	msglog_event("stop", "status=%d", status);
	return (status);
}
