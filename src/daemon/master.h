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
 *
 * Besides those, every file only the master process calls owns a block
 * here: its types first, then one block of prototypes per file, in the
 * order the master meets them: its loop and judgements, the listeners it
 * opens and hands over, the metrics endpoint, an upgrade, and the
 * start-up's helpers (--daemon, --pid-file, the descriptor limit,
 * --user, the title, --check).
 */
#ifndef MASTER_H
#define MASTER_H

/* master.c's and supervise.c's types: the slots and the acts decided. */
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
	long long		 watchdog_abort_ms;	/* its last abort; 0 */
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

/* What the watchdog saw of one worker in one look (supervise_watch_look). */
struct supervise_seen {
	unsigned long	 progress;	/* its progress count */
	int		 work;		/* it has work (read if progress did
					 * not move) */
};

/* The most one judgement asks: recycling every slot takes three each. */
#define SUPERVISE_ACTS_MAX	(3 * ACKD_WORKERS_MAX + 4)

/* Acts in the order they are to be done (plain data: see master_act). */
struct supervise_acts {
	int			 n;
	struct supervise_act	 act[SUPERVISE_ACTS_MAX];
};

/*
 * fdlimit.c's types: the descriptors a worker needs besides its
 * connections (standard streams, its listeners, the log and syslog
 * sockets, its pipe to the master, the pid file, the event stage's
 * poller and wake-up, a log reopen's second file; and room to spare),
 * and the limits it plans to set.
 */
#define FDLIMIT_SPARE		64
#define FDLIMIT_OVERHEAD	(3 + ACKD_LISTEN_MAX + 8 + FDLIMIT_SPARE)
#define FDLIMIT_INFINITY	(~0ULL)	/* RLIM_INFINITY: "unlimited" */

struct fdlimit_plan {
	unsigned long long	 soft;	/* the limits to have */
	unsigned long long	 hard;
	int			 set;	/* they differ from those found */
	int			 max_connections;	/* per worker */
	unsigned long long	 need;	/* descriptors a worker needs, or
					 * (sizing) the least that serves */
};

/* listen.c's limit: every listening address's name, in one string. */
#define ACKD_LISTEN_NAMES	(ACKD_LISTEN_MAX * (ACKD_ADDRSTRLEN + 1))

/* metrics.c's limits */
#define ACKD_METRICS_FDS	65	/* the listener and up to 64 scrapers */
#define ACKD_METRICS_HEAD_MAX	4096	/* a request head, at most */

/* upgrade.c's types: the descriptors it polls, the environment it reads */
#define UPGRADE_FDS	2	/* the master polls at most this many */
/* ACKD_UPGRADE, as a new master reads it (upgrade_parse). */
struct upgrade_env {
	pid_t	from;		/* the old master */
	int	nsets;		/* the sockets form this many sets */
	int	pidfile;	/* 1: the pid file's descriptor follows */
	int	metrics;	/* 1: the metrics listener follows */
};

/* proctitle.c's limit */
#define ACKD_PROCTITLE_MAX	4096	/* a title, or the command line kept */

/* master.c: the loop that forks, signals and reaps the workers. */
int	master_run(const struct ackd_config *, const char *,
	    void (*)(void));

/* supervise.c: the judgements about workers, handed back as acts. */
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
void		supervise_watch_look(struct master *,
		    const struct supervise_seen *, long long,
		    struct supervise_acts *);
long long	supervise_death(struct master *, struct slot *, int, long long,
		    int *);
void		supervise_give_up(struct master *, struct supervise_acts *);
long long	supervise_backoff(int, int, int *);
void		supervise_summary(struct master *);
void		supervise_status(struct master *, const char *);

/*
 * listen.c: the master's listening sockets: one shared set for every
 * worker, or with --reuseport one set per initial worker, each owned by
 * a slot and handed on to that slot's successor.
 */
int	listen_open(const struct ackd_config *, int *, int, int, char *,
	    size_t);
int	listen_resolve(const struct ackd_config *, char *, char *, char *,
	    size_t);
const char *listen_names(void);
const char *listen_tls_names(void);
int	listen_worker_fds(int, int *, unsigned char *, int);
void	listen_close_others(const int *, int);
int	listen_owns(int);
void	listen_give(int, int);
int	listen_backlog(void);
void	listen_close(void);
int	listen_all_fds(int *, int, int *);

/* systemd.c: readiness notification and socket activation. */
void	systemd_init(void);
int	systemd_enabled(void);
long long systemd_watchdog_ms(void);
void	systemd_notify(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
int	systemd_listen_fds(int *, int, char *, size_t);
void	systemd_pass_on(void);
void	systemd_hand_over(pid_t);

/* metrics.c: the master's Prometheus endpoint (--metrics). */
int	metrics_listen(const struct ackd_config *, int, char *, size_t);
int	metrics_pollfds(struct pollfd *, int);
void	metrics_io(struct pollfd *, int);
long long metrics_timers(void);
void	metrics_close(void);
void	metrics_resume(void);
int	metrics_fd(void);
size_t	metrics_escape(char *, size_t, const char *, int);
char	*metrics_body(size_t *);

/* http.c: the HTTP the metrics endpoint speaks; pure, fuzzable. */
int	http_parse(const char *, size_t, size_t, const char *);
const char *http_reason(int);
size_t	http_head(char *, size_t, int, const char *, size_t);

/*
 * upgrade.c: SIGUSR2, a new master from the binary on disk, with the
 * listening sockets handed over; the old one leaves once it serves.
 */
int	upgrade_parse(const char *, struct upgrade_env *);
void	upgrade_init(int, char **);
pid_t	upgrade_from(void);
int	upgrade_listen_fds(int *, int, int *, char *, size_t);
void	upgrade_start(int, int);
void	upgrade_pidfile(const char *);
int	upgrade_metrics_fd(void);
int	upgrade_pollfds(struct pollfd *, int);
int	upgrade_io(const struct pollfd *, int);
int	upgrade_reaped(pid_t, int);
long long upgrade_timers(void);
void	upgrade_ready(void);
void	upgrade_cancel(void);

/* daemon.c: --daemon; the start-up report reaches the terminal. */
int	daemon_abspath(const char *, char *, size_t);
void	daemon_start(void);
void	daemon_ready(void);
void	daemon_upgraded(void);

/* pidfile.c: --pid-file, locked by the master. */
void	pidfile_open(const char *);
void	pidfile_check(void);
void	pidfile_probe(const char *);
void	pidfile_write(void);
void	pidfile_remove(void);
int	pidfile_fdesc(void);
void	pidfile_adopt(const char *, int);
void	pidfile_release(void);
int	pidfile_relock(void);

/* fdlimit.c: RLIMIT_NOFILE raised to fit --max-connections, or it sized. */
int	fdlimit_plan(unsigned long long, unsigned long long, int,
	    struct fdlimit_plan *);
int	fdlimit_format(char *, size_t, unsigned long long, int, int);
void	fdlimit_fit(struct ackd_config *);
void	fdlimit_describe(const struct ackd_config *, char *, size_t);

/* priv.c: --user and --group. */
void	priv_init(const struct ackd_config *);
void	priv_drop(void);
void	priv_switch(void);

/* proctitle.c: the title ps shows for the master and each worker. */
void	proctitle_init(int, char **);
const char *proctitle_command(void);
void	proctitle_set(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

/* check.c: --check, the start-up's checks without the start. */
int	check_run(const struct ackd_config *);

#endif /* MASTER_H */
