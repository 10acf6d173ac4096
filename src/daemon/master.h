/* SPDX-License-Identifier: MIT */
/*
 * master.h: the master's state, shared by master.c (the loop, signals,
 * forking, signalling and reaping: every act on a process) and
 * supervise.c (the judgements about workers: readiness, the watchdog,
 * the crash-loop breaker, recycling, the respawn back-off, which slot to
 * fill or empty, summaries). supervise.c hands its decisions back as a
 * list of acts (struct supervise_acts), which master_act() carries out
 * in order; it calls nothing in master.c. Only the master process
 * touches any of it.
 */
#ifndef MASTER_H
#define MASTER_H

enum slot_state {
	SLOT_EMPTY,	/* not wanted */
	SLOT_RUNNING,	/* a worker runs in it */
	SLOT_RETIRING,	/* its worker was told to stop, not to be replaced */
	SLOT_WAITING	/* wanted, respawn due at respawn_at_ms */
};

struct slot {
	enum slot_state	 state;
	pid_t		 pid;
	long long	 started_ms;	/* ms, monotonic */
	long long	 respawn_at_ms;
	int		 quick_deaths;	/* never served, in a row: back-off */
	int		 served;	/* it said it was serving */
	int		 replaced;	/* recycled: its death is expected */
	unsigned long	 progress;	/* the last value the watchdog saw */
	long long	 progress_at_ms;	/* when it changed */
	long long	 stuck_since_ms;	/* stalled with work since; 0 */
	long long	 aborted_at_ms;	/* watchdog sent SIGABRT; 0 */
	int		 killed;	/* and then SIGKILL */
};

/* How many deaths at start, within how long, make a crash loop. */
#define MASTER_CRASH_DEATHS	5
#define MASTER_CRASH_WINDOW_MS	10000

struct master {
	const struct ackd_config *cfg;
	const char		*listen;	/* listen_names() */
	void			(*on_ready)(void);
	struct slot		 slots[ACKD_WORKERS_MAX];
	int			 wanted;	/* RUNNING + WAITING slots */
	int			 stopping;
	int			 status;	/* exit status once stopped */
	long long		 deadline_ms;	/* shutdown: kill after */
	int			 killed;	/* some had to be killed */
	int			 ready;		/* every worker served once */
	unsigned		 reopen_gen;
	long long		 reopen_at_ms;	/* reload waits for workers */
	/* a ring of the last deaths before serving */
	long long		 crash_deaths_ms[MASTER_CRASH_DEATHS];
	int			 crash_next;
	long long		 next_tick_ms;	/* watchdog and status */
	long long		 next_stats_ms;	/* --stats-interval */
	long long		 next_notify_watchdog_ms;
	long long		 next_log_check_ms;	/* log stale? */
	long long		 log_retry_ms;	/* back-off after a failed one */
	int			 log_gone;	/* the last look found no file */
	char			 log_problem[512];	/* the last failed
							 * reopen; "" */
};

/* One thing supervise.c decided the master must do to its workers. */
enum supervise_verb {
	SUPERVISE_SPAWN,	/* fork a worker into slot */
	SUPERVISE_SIGNAL,	/* send signal arg to slot's worker */
	SUPERVISE_SIGNAL_ALL,	/* send signal arg to every live worker */
	SUPERVISE_GIVE,		/* slot's sockets (--reuseport) go to slot arg */
	SUPERVISE_SHUTDOWN	/* begin the shutdown, to exit with status arg */
};

struct supervise_act {
	enum supervise_verb	 verb;
	int			 slot;
	int			 arg;
};

/* The most one judgement asks: recycling every slot takes three each. */
#define SUPERVISE_ACTS_MAX	(3 * ACKD_WORKERS_MAX + 4)

/* Acts in the order they are to be done (plain data: see master_act). */
struct supervise_acts {
	int			 n;
	struct supervise_act	 act[SUPERVISE_ACTS_MAX];
};

/* supervise.c */
long long	supervise_sooner(long long, long long);
int		supervise_live(const struct slot *);
int		supervise_alive(const struct master *);
int		supervise_free_slot(const struct master *);
void		supervise_news(struct master *, struct supervise_acts *);
void		supervise_reopen(struct master *, const char *,
		    struct supervise_acts *);
long long	supervise_respawns(struct master *, long long,
		    struct supervise_acts *);
void		supervise_resize(struct master *, int, int (*)(int),
		    struct supervise_acts *);
long long	supervise_timers(struct master *, struct supervise_acts *);
void		supervise_watch_slot(struct slot *, int, unsigned long, int,
		    long long, int, struct supervise_acts *);
long long	supervise_death(struct master *, struct slot *, int, long long,
		    int *);
void		supervise_give_up(struct master *, struct supervise_acts *);
long long	supervise_backoff(int, int, int *);
void		supervise_summary(struct master *);
void		supervise_status(struct master *, const char *);

#endif /* MASTER_H */
