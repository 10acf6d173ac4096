/* SPDX-License-Identifier: MIT */
/*
 * supervise.c: the master's judgements about its workers: when a dead
 * one is replaced (the respawn back-off, for workers that never served)
 * or not at all (the crash-loop breaker: workers that keep dying at
 * start), which slot a new worker takes and which one retires, when the
 * daemon is ready, when a reload is done, when a worker is stuck (the
 * watchdog), when a worker has served enough (recycling), when the log
 * file was deleted or replaced under us, and the summaries of their
 * counters.
 *
 * master.c calls in; this file reads the scoreboard the workers write,
 * keeps the slots' bookkeeping, and returns what is to be done to
 * processes (fork into a slot, signal one worker or all, hand sockets
 * over, shut down with a status) as a list of acts, which master.c
 * alone carries out (master_act), in order, before anything else
 * happens. It never forks nor signals, and calls nothing in master.c, so
 * each judgement can be tested on its own: those taking the time as an
 * argument read no clock, scoreboard or socket.
 */
#include "config.h"

#include <sys/wait.h>

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ackd.h"
#include "master.h"

/* How long a worker the watchdog aborted has, before SIGKILL. */
#define SUPERVISE_ABORT_GRACE_MS	5000
/* How long a reload waits for the workers before saying READY anyway. */
#define SUPERVISE_RELOAD_MS		10000
/* The respawn back-off of workers that never served: first, most. */
#define SUPERVISE_BACKOFF_MIN_MS	100
#define SUPERVISE_BACKOFF_MAX_MS	10000
/* How often the watchdog looks, at most, and the systemd status. */
#define SUPERVISE_TICK_MS		1000
#define SUPERVISE_STATUS_MS		2000
/* How often the master looks whether the log file is still at its path,
 * and the longest wait between automatic reopens that keep failing. */
#define SUPERVISE_LOG_CHECK_MS		1000
#define SUPERVISE_LOG_RETRY_MAX_MS	60000

/* Append an act to acts (sized so that no judgement overflows it). */
static void
supervise_add(struct supervise_acts *acts, enum supervise_verb verb,
    int slot, int arg)
{
	if (acts->n == SUPERVISE_ACTS_MAX)
		return;
	acts->act[acts->n].verb = verb;
	acts->act[acts->n].slot = slot;
	acts->act[acts->n].arg = arg;
	acts->n++;
}

/*
 * Have the master fork a worker into slot i, which is held (waiting, due
 * now) meanwhile, so that the rest of the same judgement sees it taken.
 */
static void
supervise_spawn(struct master *m, int i, struct supervise_acts *acts)
{
	m->slots[i].state = SLOT_WAITING;
	supervise_add(acts, SUPERVISE_SPAWN, i, 0);
}

/* The earlier of two timeouts in ms, where -1 is none. */
long long
supervise_sooner(long long a, long long b)
{
	if (a < 0)
		return (b);
	if (b < 0)
		return (a);
	return (a < b ? a : b);
}

/* Has slot a worker process (running or retiring)? */
int
supervise_live(const struct slot *slot)
{
	return (slot->state == SLOT_RUNNING || slot->state == SLOT_RETIRING);
}

/* How many workers are alive. */
int
supervise_alive(const struct master *m)
{
	int	i, n = 0;

	for (i = 0; i < ACKD_WORKERS_MAX; i++)
		if (supervise_live(&m->slots[i]))
			n++;
	return (n);
}

/* The first empty slot, for a new worker, or -1 if there is none. */
int
supervise_free_slot(const struct master *m)
{
	int	i;

	for (i = 0; i < ACKD_WORKERS_MAX; i++)
		if (m->slots[i].state == SLOT_EMPTY)
			return (i);
	return (-1);
}

/* Tell systemd (if it listens) how many workers serve and what they did. */
void
supervise_status(struct master *m, const char *state)
{
	struct stats_snap	total;

	if (!systemd_enabled())
		return;
	scoreboard_total(&total);
	/* a failed reopen stays in view until one succeeds */
	systemd_notify("STATUS=%s: %d workers, %lu connections, %lu "
	    "acknowledged%s%s", state, supervise_alive(m),
	    total.counter[STATS_ACCEPTED], total.counter[STATS_ACKED],
	    m->log_problem[0] != '\0' ? "; " : "", m->log_problem);
}

/* Is every wanted worker up and serving? Then say so, once. */
static void
supervise_check_ready(struct master *m)
{
	int	i, serving = 0;

	for (i = 0; i < ACKD_WORKERS_MAX; i++) {
		if (m->slots[i].state == SLOT_WAITING)
			return;
		if (m->slots[i].state != SLOT_RUNNING)
			continue;
		if (!m->slots[i].served)
			return;
		serving++;
	}
	if (serving < m->wanted)
		return;
	m->ready = 1;
	msglog_event("ready", "workers=%d", serving);
	if (m->on_ready != NULL)
		m->on_ready();
	systemd_notify("READY=1");
	supervise_status(m, "serving");
}

/* Has every live worker reopened the log since the last SIGHUP? */
static void
supervise_check_reload(struct master *m)
{
	int	i;

	for (i = 0; i < ACKD_WORKERS_MAX; i++)
		if (supervise_live(&m->slots[i]) && atomic_load(
		    &scoreboard_slot(i)->reopened) != m->reopen_gen)
			return;
	m->reopen_at_ms = 0;
	systemd_notify("READY=1");
	supervise_status(m, "serving");
}

/*
 * Replace the worker in slot i, which asked for it: fork its successor
 * into a free slot first, then stop it gracefully, so the number serving
 * never dips. With no free slot, stop it and respawn it when it is gone.
 */
static void
supervise_recycle(struct master *m, int i, struct supervise_acts *acts)
{
	int	j = supervise_free_slot(m);

	if (j >= 0) {
		m->slots[i].state = SLOT_RETIRING;
		/* --reuseport: its sockets, and their backlogs, go on */
		supervise_add(acts, SUPERVISE_GIVE, i, j);
		supervise_spawn(m, j, acts);
	} else
		m->slots[i].replaced = 1;
	supervise_add(acts, SUPERVISE_SIGNAL, i, SIGTERM);
}

/*
 * News on a worker's channel (control.c): some worker changed its slot. Note who serves, and act
 * on readiness, reloads and recycling requests.
 */
void
supervise_news(struct master *m, struct supervise_acts *acts)
{
	struct scoreboard_slot	*board;
	int			 i;

	for (i = 0; i < ACKD_WORKERS_MAX; i++) {
		if (m->slots[i].state != SLOT_RUNNING)
			continue;
		board = scoreboard_slot(i);
		if (atomic_load(&board->serving))
			m->slots[i].served = 1;
		if (atomic_load(&board->retire) && !m->slots[i].replaced &&
		    !m->stopping)
			supervise_recycle(m, i, acts);
	}
	if (!m->ready && !m->stopping)
		supervise_check_ready(m);
	/* a reload cut short by a shutdown ends without READY=1 */
	if (m->reopen_at_ms != 0 && !m->stopping)
		supervise_check_reload(m);
}

/*
 * A new reload generation; READY=1 again once workers did it. Only a
 * serving daemon reloads, for systemd: before the first READY=1 that
 * READY=1 is still to come, once workers serve; after STOPPING=1,
 * READY=1 would announce a daemon that is going away.
 */
static void
supervise_reload(struct master *m)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	m->reopen_gen++;
	scoreboard_set_reopen(m->reopen_gen);
	if (!m->ready || m->stopping)
		return;
	m->reopen_at_ms = mono_ms();
	systemd_notify("RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=reopening "
	    "the log", (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/*
 * SIGHUP, or the log found stale (reason: see msglog_stale): reopen our
 * log, then have every worker reopen its own (an act: SIGHUP to all). A
 * failure is counted, and kept for systemd's STATUS= until a reopen
 * succeeds.
 */
void
supervise_reopen(struct master *m, const char *reason,
    struct supervise_acts *acts)
{
	supervise_reload(m);
	if (msglog_reopen(reason, m->log_problem,
	    sizeof(m->log_problem)) == -1)
		stats_add(scoreboard_master(), STATS_REOPEN_FAILED, 1);
	else
		m->log_problem[0] = '\0';
	supervise_add(acts, SUPERVISE_SIGNAL_ALL, -1, SIGHUP);
}

/*
 * Record a death at start and tell whether they now come too fast: the
 * last MASTER_CRASH_DEATHS deaths within MASTER_CRASH_WINDOW_MS.
 */
static int
supervise_crash_loop(struct master *m, long long now, long long *window)
{
	long long	oldest;

	m->crash_deaths_ms[m->crash_next] = now;
	m->crash_next = (m->crash_next + 1) % MASTER_CRASH_DEATHS;
	oldest = m->crash_deaths_ms[m->crash_next];	/* 0: not yet full */
	*window = now - oldest;
	return (oldest != 0 && *window <= MASTER_CRASH_WINDOW_MS);
}

/*
 * Judge the unexpected death (not retiring, not at shutdown) of slot's
 * worker at now: 0, or -1 if workers keep dying at start. Dying at start
 * is dying before serving: a worker that cannot start will never serve,
 * so forking more only burns the machine. One that served and was then
 * killed, however young, is replaced without counting.
 */
static int
supervise_unexpected(struct master *m, struct slot *slot, int status,
    long long now)
{
	char		desc[32];
	long long	window;
	int		at_start;

	if (WIFEXITED(status))
		snprintf(desc, sizeof(desc), "exit status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(desc, sizeof(desc), "signal %d", WTERMSIG(status));
	else
		snprintf(desc, sizeof(desc), "status %d", status);
	if (slot->replaced)
		return (0);
	if (slot->aborted_at_ms != 0) {
		diag_warnx("worker %ld ended by the watchdog (%s), replacing it",
		    (long)slot->pid, desc);
		return (0);
	}
	at_start = !slot->served;
	diag_warnx("worker %ld died unexpectedly (%s)%s, replacing it",
	    (long)slot->pid, desc, at_start ? " before serving" : "");
	if (!at_start || !supervise_crash_loop(m, now, &window))
		return (0);
	return (-1);
}

/*
 * Slot's worker has died (status) at now: free the slot, or make it wait
 * for its replacement (after supervise_backoff's delay). Returns that
 * delay in ms, or -1 if it is not replaced. *give_up is set if workers
 * keep dying at start: the caller logs the death, then has
 * supervise_give_up() judge the shutdown, so the log reads in order.
 */
long long
supervise_death(struct master *m, struct slot *slot, int status,
    long long now, int *give_up)
{
	long long	delay = -1;

	*give_up = 0;
	/* dead: a shutdown begun meanwhile must skip it */
	if (!m->stopping && slot->state != SLOT_RETIRING) {
		slot->state = SLOT_EMPTY;
		*give_up = supervise_unexpected(m, slot, status, now) == -1;
		if (!*give_up)
			delay = supervise_backoff(slot->served, slot->replaced ||
			    slot->aborted_at_ms != 0, &slot->quick_deaths);
	}
	slot->state = delay >= 0 ? SLOT_WAITING : SLOT_EMPTY;
	slot->respawn_at_ms = now + delay;
	return (delay);
}

/* Workers keep dying at start (supervise_death said so): stop, exit 70. */
void
supervise_give_up(struct master *m, struct supervise_acts *acts)
{
	long long	newest, window;

	newest = m->crash_deaths_ms[(m->crash_next + MASTER_CRASH_DEATHS - 1) %
	    MASTER_CRASH_DEATHS];
	window = newest - m->crash_deaths_ms[m->crash_next];
	diag_warnx("workers keep dying at start: %d died before serving "
	    "within %lld ms; giving up (exit %d)", MASTER_CRASH_DEATHS, window,
	    ACKD_EXIT_SOFTWARE);
	msglog_event("crash-loop", "deaths=%d within_ms=%lld",
	    MASTER_CRASH_DEATHS, window);
	supervise_add(acts, SUPERVISE_SHUTDOWN, -1, ACKD_EXIT_SOFTWARE);
}

/*
 * How long to wait, in ms, before replacing a dead worker that is to be
 * replaced. The back-off is for workers that cannot start: one that
 * never served (never got as far as accepting) would most likely fail
 * the same way again at once, so each such death in a row
 * (*quick_deaths) doubles the wait, from SUPERVISE_BACKOFF_MIN_MS up to
 * SUPERVISE_BACKOFF_MAX_MS, and the crash-loop breaker counts them. One
 * that served had started fine: what ended it (the OOM killer, an
 * operator's kill -9, a crash) says nothing about its successor's start,
 * and every moment without it is an outage, so it is replaced at once,
 * however young, and the count starts again. So is one whose end the
 * master caused (expected: recycled, or aborted by the watchdog). Pure.
 */
long long
supervise_backoff(int served, int expected, int *quick_deaths)
{
	long long	delay;
	int		shift;

	if (served || expected) {
		*quick_deaths = 0;
		return (0);
	}
	shift = *quick_deaths < 7 ? *quick_deaths : 7;
	delay = (long long)SUPERVISE_BACKOFF_MIN_MS << shift;
	if (delay > SUPERVISE_BACKOFF_MAX_MS)
		delay = SUPERVISE_BACKOFF_MAX_MS;
	if (*quick_deaths < INT_MAX)
		(*quick_deaths)++;
	return (delay);
}

/*
 * The watchdog. A worker shows progress at each turn of its accept loop
 * (at least once a second: the accept timeout) and each connection it
 * finishes. One that shows none while it has work (connections in its
 * queue or in its threads, or waiting in the backlog) for the worker
 * timeout is stuck: SIGABRT (for a core dump; SIGCONT too, in case it
 * was stopped), then SIGKILL if that did not end it. The reaper then
 * replaces it.
 *
 * It never aborts all workers at once: a slow or hostile network can
 * stall them all alike, and aborting them together drops every
 * connection they hold and leaves no worker to serve. So at most one
 * worker is aborted per worker timeout: of those stuck past it in one
 * look, the one stuck longest (then the one silent longest, then the
 * first slot); the others wait for a look a whole timeout after that
 * abort, and are aborted then only if still stuck.
 *
 * The bookkeeping of live slot i at now, given the progress count its
 * worker shows and whether it has work (read only when progress has not
 * moved), with the worker timeout timeout_ms; SIGKILL for one aborted
 * that outlived its grace. Returns 1 if it is stuck past the timeout and
 * not yet aborted: a candidate.
 */
static int
supervise_watch_slot(struct slot *slot, int i, unsigned long progress,
    int work, long long now, int timeout_ms, struct supervise_acts *acts)
{
	if (slot->aborted_at_ms != 0) {
		if (!slot->killed &&
		    now - slot->aborted_at_ms >= SUPERVISE_ABORT_GRACE_MS) {
			supervise_add(acts, SUPERVISE_SIGNAL, i, SIGKILL);
			slot->killed = 1;
		}
		return (0);
	}
	if (progress != slot->progress) {
		slot->progress = progress;
		slot->progress_at_ms = now;
		slot->stuck_since_ms = 0;
		return (0);
	}
	if (!work) {
		slot->stuck_since_ms = 0;
		return (0);
	}
	if (slot->stuck_since_ms == 0)
		slot->stuck_since_ms = now;
	return (now - slot->stuck_since_ms >= timeout_ms);
}

/* Has slot a been stuck longer than slot b (then: silent longer)? */
static int
supervise_watch_longer(const struct slot *a, const struct slot *b)
{
	if (a->stuck_since_ms != b->stuck_since_ms)
		return (a->stuck_since_ms < b->stuck_since_ms);
	return (a->progress_at_ms < b->progress_at_ms);
}

/* Abort slot i's stuck worker at now: SIGABRT and SIGCONT, logged. */
static void
supervise_watch_abort(struct master *m, int i, long long now,
    struct supervise_acts *acts)
{
	struct slot	*slot = &m->slots[i];

	diag_warnx("worker %ld made no progress for %lld ms while it "
	    "had work; aborting it", (long)slot->pid,
	    now - slot->progress_at_ms);
	msglog_event("worker-timeout", "worker=%ld silent_ms=%lld",
	    (long)slot->pid, now - slot->progress_at_ms);
	supervise_add(acts, SUPERVISE_SIGNAL, i, SIGABRT);
	supervise_add(acts, SUPERVISE_SIGNAL, i, SIGCONT);
	slot->aborted_at_ms = now;
	m->watchdog_abort_ms = now;
}

/*
 * The watchdog's look at every live worker at now, given what each showed
 * (seen, by slot): keep each one's books, then abort the one stuck
 * longest, unless another was aborted less than a worker timeout ago.
 * Pure.
 */
void
supervise_watch_look(struct master *m, const struct supervise_seen *seen,
    long long now, struct supervise_acts *acts)
{
	struct slot	*slot;
	int		 i, pick = -1, timeout_ms = m->cfg->worker_timeout_ms;

	for (i = 0; i < ACKD_WORKERS_MAX; i++) {
		slot = &m->slots[i];
		if (!supervise_live(slot) || !supervise_watch_slot(slot, i,
		    seen[i].progress, seen[i].work, now, timeout_ms, acts))
			continue;
		if (pick == -1 || supervise_watch_longer(slot, &m->slots[pick]))
			pick = i;
	}
	if (pick == -1 || (m->watchdog_abort_ms != 0 &&
	    now - m->watchdog_abort_ms < timeout_ms))
		return;
	supervise_watch_abort(m, pick, now, acts);
}

/*
 * The watchdog's look: read what each live worker shows in the
 * scoreboard (the backlog only when needed, and once), and judge them.
 */
static void
supervise_watch(struct master *m, long long now, struct supervise_acts *acts)
{
	static struct supervise_seen	 seen[ACKD_WORKERS_MAX];
	struct scoreboard_slot		*board;
	struct slot			*slot;
	int				 i, backlog = -1;

	memset(seen, 0, sizeof(seen));
	for (i = 0; i < ACKD_WORKERS_MAX; i++) {
		slot = &m->slots[i];
		if (!supervise_live(slot) || slot->aborted_at_ms != 0)
			continue;
		board = scoreboard_slot(i);
		seen[i].progress = atomic_load_explicit(&board->progress,
		    memory_order_relaxed);
		if (seen[i].progress != slot->progress)
			continue;
		seen[i].work = atomic_load(&board->stats.gauge[STATS_QUEUE]) >
		    0 || atomic_load(&board->stats.gauge[STATS_BUSY]) > 0;
		if (!seen[i].work) {
			if (backlog == -1)
				backlog = listen_backlog();
			seen[i].work = backlog;
		}
	}
	supervise_watch_look(m, seen, now, acts);
}

/* Log one line per live worker (since its start) and one in total. */
void
supervise_summary(struct master *m)
{
	struct stats_snap	snap;
	char			buf[1024];	/* every counter at 20 digits */
	int			i;

	for (i = 0; i < ACKD_WORKERS_MAX; i++) {
		if (!supervise_live(&m->slots[i]))
			continue;
		stats_read(&scoreboard_slot(i)->stats, &snap);
		stats_format(buf, sizeof(buf), &snap, 1);
		msglog_event("stats", "worker=%ld slot=%d %s",
		    (long)m->slots[i].pid, i, buf);
	}
	scoreboard_total(&snap);
	stats_format(buf, sizeof(buf), &snap, 1);
	msglog_event("stats", "worker=all workers=%d %s", supervise_alive(m),
	    buf);
}

/* "worker" if some live worker's last reopen failed, else NULL. */
static const char *
supervise_worker_stale(struct master *m)
{
	int	i;

	for (i = 0; i < ACKD_WORKERS_MAX; i++)
		if (supervise_live(&m->slots[i]) &&
		    atomic_load(&scoreboard_slot(i)->log_stale))
			return ("worker");
	return (NULL);
}

/*
 * Why the log needs reopening, or NULL: msglog_stale's reason (the file
 * deleted, moved or replaced under us without a SIGHUP: lines would go
 * to a file nobody reads, or to no file at all), or "worker" if some
 * worker's last reopen failed. Nothing at the path counts only at the
 * second look in a row: a rotator may be between its rename and its
 * create (logrotate creates with O_EXCL, and moves a file in its way
 * aside), so the path is left to it until then.
 */
static const char *
supervise_log_stale(struct master *m)
{
	const char	*reason = msglog_stale();
	int		 gone = reason != NULL && strcmp(reason, "replaced") != 0;

	if (gone && !m->log_gone) {
		m->log_gone = 1;
		return (NULL);
	}
	m->log_gone = 0;
	if (reason == NULL && (reason = supervise_worker_stale(m)) == NULL)
		m->log_retry_ms = 0;	/* all well: no back-off */
	return (reason);
}

/*
 * The log's look, once a second: reopen a stale log as for SIGHUP. While
 * reopens keep failing (ours, or a worker's again: a directory we may
 * not write to), the next try waits twice as long, up to
 * SUPERVISE_LOG_RETRY_MAX_MS, so that the reopen-failed lines of each try
 * stay few.
 */
static void
supervise_log_check(struct master *m, long long now,
    struct supervise_acts *acts)
{
	const char	*reason;

	if ((reason = supervise_log_stale(m)) != NULL) {
		supervise_reopen(m, reason, acts);
		/* ours worked: each new deletion gets the next look */
		if (m->log_problem[0] == '\0' && strcmp(reason, "worker") != 0)
			m->log_retry_ms = 0;
		else if ((m->log_retry_ms = m->log_retry_ms == 0 ?
		    SUPERVISE_LOG_CHECK_MS : m->log_retry_ms * 2) >
		    SUPERVISE_LOG_RETRY_MAX_MS)
			m->log_retry_ms = SUPERVISE_LOG_RETRY_MAX_MS;
	}
	m->next_log_check_ms = now + (m->log_gone || m->log_retry_ms == 0 ?
	    SUPERVISE_LOG_CHECK_MS : m->log_retry_ms);
}

/*
 * How often the periodic look comes: the watchdog's judgement is at most
 * a quarter of its timeout late; the systemd status needs less.
 */
static long long
supervise_tick_ms(struct master *m)
{
	int	wt = m->cfg->worker_timeout_ms;

	if (wt == 0)
		return (SUPERVISE_STATUS_MS);
	return (wt / 4 < SUPERVISE_TICK_MS ? wt / 4 : SUPERVISE_TICK_MS);
}

/* ms from now until at (never below 0), as the sooner of it and next. */
static long long
supervise_due(long long next, long long at, long long now)
{
	return (supervise_sooner(next, at > now ? at - now : 0));
}

/*
 * Run the periodic jobs that are due: the watchdog, the systemd watchdog
 * and status, the stats interval, the log's check, a reload that takes
 * too long; what is to be done to workers goes to acts. Returns ms until
 * the next one, or -1 if there is none.
 */
long long
supervise_timers(struct master *m, struct supervise_acts *acts)
{
	long long	now = mono_ms(), next = -1, wd = systemd_watchdog_ms();
	int		tick;

	if (m->stopping)
		return (-1);
	tick = m->cfg->worker_timeout_ms > 0 || systemd_enabled();
	if (tick && now >= m->next_tick_ms) {
		if (m->cfg->worker_timeout_ms > 0)
			supervise_watch(m, now, acts);
		if (m->ready && m->reopen_at_ms == 0)
			supervise_status(m, "serving");
		m->next_tick_ms = now + supervise_tick_ms(m);
	}
	if (tick)
		next = supervise_due(next, m->next_tick_ms, now);
	if (wd > 0) {
		/* sent from this loop: it proves the loop runs */
		if (now >= m->next_notify_watchdog_ms) {
			systemd_notify("WATCHDOG=1");
			/* at least 1 ms: WATCHDOG_USEC under 2000 spun */
			m->next_notify_watchdog_ms = now +
			    (wd > 1 ? wd / 2 : 1);
		}
		next = supervise_due(next, m->next_notify_watchdog_ms, now);
	}
	if (m->cfg->stats_interval_ms > 0) {
		if (m->next_stats_ms == 0)
			m->next_stats_ms = now + m->cfg->stats_interval_ms;
		else if (now >= m->next_stats_ms) {
			supervise_summary(m);
			m->next_stats_ms = now + m->cfg->stats_interval_ms;
		}
		next = supervise_due(next, m->next_stats_ms, now);
	}
	if (now >= m->next_log_check_ms)
		supervise_log_check(m, now, acts);
	next = supervise_due(next, m->next_log_check_ms, now);
	if (m->reopen_at_ms != 0) {
		if (now - m->reopen_at_ms >= SUPERVISE_RELOAD_MS) {
			diag_warnx("workers did not all reopen the log within "
			    "%d ms", SUPERVISE_RELOAD_MS);
			m->reopen_at_ms = 0;
			systemd_notify("READY=1");
		} else
			next = supervise_due(next, m->reopen_at_ms +
			    SUPERVISE_RELOAD_MS, now);
	}
	return (next);
}

/*
 * The respawns and the shutdown deadline at now: spawn the waiting slots
 * that are due; at shutdown, once the deadline has passed, kill the
 * workers left (once). Returns ms until the next of these, or -1.
 */
long long
supervise_respawns(struct master *m, long long now,
    struct supervise_acts *acts)
{
	long long	next = -1, left;
	int		i;

	if (m->stopping) {
		left = m->deadline_ms - now;
		if (left <= 0 && !m->killed && supervise_alive(m) > 0) {
			diag_warnx("shutdown deadline passed, killing the "
			    "remaining workers");
			supervise_add(acts, SUPERVISE_SIGNAL_ALL, -1, SIGKILL);
			m->killed = 1;
		}
		return (left > 0 ? left : -1);
	}
	for (i = 0; i < ACKD_WORKERS_MAX; i++) {
		if (m->slots[i].state != SLOT_WAITING)
			continue;
		left = m->slots[i].respawn_at_ms - now;
		if (left <= 0)
			supervise_add(acts, SUPERVISE_SPAWN, i, 0);
		else
			next = supervise_sooner(next, left);
	}
	return (next);
}

/* Stop slot i's worker for good (or cancel its respawn). */
static void
supervise_retire(struct master *m, int i, struct supervise_acts *acts)
{
	if (m->slots[i].state == SLOT_WAITING)
		m->slots[i].state = SLOT_EMPTY;
	else {
		m->slots[i].state = SLOT_RETIRING;
		supervise_add(acts, SUPERVISE_SIGNAL, i, SIGTERM);
	}
}

/*
 * The highest slot but skip that is wanted (running or waiting) and,
 * if owned is 0, owns no socket set of its own (owns(slot) == 0; owned
 * -1: any). -1 if there is none.
 */
static int
supervise_last_wanted(const struct master *m, int skip, int owned,
    int (*owns)(int))
{
	int	i;

	for (i = ACKD_WORKERS_MAX - 1; i >= 0; i--)
		if (i != skip && (m->slots[i].state == SLOT_RUNNING ||
		    m->slots[i].state == SLOT_WAITING) &&
		    (owned == -1 || (owns(i) == 0) == (owned == 0)))
			return (i);
	return (-1);
}

/*
 * SIGTTOU with --reuseport when slot i owns sockets: they must not close
 * (that resets their backlog) nor stay without a worker, so one new
 * worker takes over the sockets of i and of another, k, and both retire:
 * one worker fewer. 0, or -1 if there is no free slot for it.
 */
static int
supervise_merge(struct master *m, int i, struct supervise_acts *acts)
{
	int	k = supervise_last_wanted(m, i, -1, NULL);
	int	f = supervise_free_slot(m);

	if (k < 0 || f < 0)
		return (-1);
	supervise_add(acts, SUPERVISE_GIVE, i, f);
	supervise_add(acts, SUPERVISE_GIVE, k, f);
	supervise_retire(m, i, acts);
	supervise_retire(m, k, acts);
	supervise_spawn(m, f, acts);
	return (0);
}

/*
 * SIGTTIN (more): want one worker more; SIGTTOU: retire one, gracefully,
 * rather one whose sockets (--reuseport) others serve too: owns(slot)
 * tells how many socket sets a slot owns alone (listen_owns).
 */
void
supervise_resize(struct master *m, int more, int (*owns)(int),
    struct supervise_acts *acts)
{
	int	i;

	if (more && m->wanted < ACKD_WORKERS_MAX) {
		if ((i = supervise_free_slot(m)) < 0) {
			diag_warnx("no free worker slot while others retire");
			return;
		}
		m->wanted++;
		supervise_spawn(m, i, acts);
	} else if (!more && m->wanted > 1) {
		if ((i = supervise_last_wanted(m, -1, 0, owns)) >= 0)
			supervise_retire(m, i, acts);
		else if (supervise_merge(m, supervise_last_wanted(m, -1, -1,
		    NULL), acts) == -1) {
			diag_warnx("no free worker slot to merge sockets into; "
			    "worker count stays at %d", m->wanted);
			return;
		}
		m->wanted--;
	} else
		diag_warnx("worker count stays at %d (allowed: 1-%d)",
		    m->wanted, ACKD_WORKERS_MAX);
}
