/* SPDX-License-Identifier: MIT */
/*
 * ackd-bench: a load generator for ackd.
 *
 * Shared structures and prototypes of bench.c, bench_flags.c, bench_conn.c,
 * bench_tls.c, bench_loop.c, bench_attack.c, bench_report.c and hist.c,
 * grouped by the file that owns them. No OpenSSL type appears here: the
 * TLS client's SSL_CTX, SSL and SSL_SESSION are bench_tls.c's alone.
 */
#ifndef BENCH_H
#define BENCH_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

/* The number of elements of array a (BSD <sys/param.h> has the same). */
#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Exit statuses (the sysexits.h values, as ackd spells them out). */
#define BENCH_EXIT_OK		0	/* every counted connection was ok */
#define BENCH_EXIT_FAILED	1	/* a wrong reply, an error, or none */
#define BENCH_EXIT_USAGE	64	/* bad flag or value */
#define BENCH_EXIT_OSERR	71	/* threads, memory, descriptors */
#define BENCH_EXIT_CANTCREAT	73	/* cannot open the --record file */

/*
 * Limits of the flags: bench_flags.c enforces them; --help, the page show
 * them.
 */
#define BENCH_CONCURRENCY_MAX	100000
#define BENCH_THREADS_MAX	256
#define BENCH_COUNT_MAX		1000000000000LL
#define BENCH_SECONDS_MAX	86400
#define BENCH_MESSAGE_MAX	(1024 * 1024)
#define BENCH_EXPECT_MAX	1024
#define BENCH_SOURCES_MAX	254	/* 127.0.0.2 .. 127.0.0.255 */
#define BENCH_ATTACK_SOURCES_MAX 65536	/* after --sources' addresses */

/*
 * The unique prefix "b<pid>-<thread>-<counter> ": 1 + 7 (pid_max is at
 * most 4194304) + 1 + 3 + 1 + 20 + 1 bytes at most.
 */
#define BENCH_PREFIX_MAX	34

/* Nanoseconds, as mono_ns counts them. */
#define BENCH_NS_MS		UINT64_C(1000000)
#define BENCH_NS_S		UINT64_C(1000000000)

/* After --duration, the connections in flight have this long to end. */
#define BENCH_DRAIN_NS		(1000 * BENCH_NS_MS)

/* hist.c: a latency histogram in bounded memory; no I/O, fuzzable. */
#define HIST_SUB_BITS	6
#define HIST_SUB	(1 << HIST_SUB_BITS)	/* buckets per power of two */
#define HIST_TOP_BITS	36			/* 2^36 us: about 19 hours */
#define HIST_MAX_VALUE	((UINT64_C(1) << HIST_TOP_BITS) - 1)
#define HIST_BUCKETS	(HIST_SUB * (HIST_TOP_BITS - HIST_SUB_BITS + 1))

struct hist {
	uint64_t	count;
	uint64_t	sum;		/* of values clamped to the range */
	uint64_t	max;		/* exact, never clamped */
	uint64_t	clamped;	/* values above HIST_MAX_VALUE */
	uint64_t	buckets[HIST_BUCKETS];
};

void		hist_init(struct hist *);
void		hist_record(struct hist *, uint64_t);
void		hist_merge(struct hist *, const struct hist *);
uint64_t	hist_percentile(const struct hist *, double);
uint64_t	hist_max(const struct hist *);
double		hist_mean(const struct hist *);
uint64_t	hist_count(const struct hist *);
uint64_t	hist_clamped(const struct hist *);

/* bench_flags.c: the flag table, parsing, --help and --version. */

/* What the attack clients do (--trickle, --silent, --no-read). */
enum bench_attack_mode {
	BENCH_ATTACK_NONE,
	BENCH_ATTACK_TRICKLE,	/* a byte every --trickle seconds, forever */
	BENCH_ATTACK_SILENT,	/* nothing (after --attack-size bytes) */
	BENCH_ATTACK_NO_READ	/* the message, then never read */
};

/* A text flag's value and its length in bytes. */
struct bench_text {
	const char	*s;
	size_t		 len;
};

struct bench_config {
	const char	*host;
	int		 port;
	int		 concurrency;
	int		 threads;
	long long	 duration_ms;	/* 0: no time limit */
	long long	 count;		/* 0: no count limit */
	long long	 warmup_ms;
	struct bench_text message;
	size_t		 size;		/* 0: message; else filler bytes */
	int		 unique;
	int		 half_close;	/* shutdown(SHUT_WR) once sent */
	struct bench_text expect;
	long long	 timeout_ms;
	int		 json;
	const char	*record;	/* NULL: no record file */
	int		 sources;
	int		 attack_concurrency;	/* 0: no attack */
	long long	 trickle_ms;	/* --trickle; 0: not given */
	int		 silent;
	int		 no_read;
	size_t		 attack_size;	/* 0: the mode's own first bytes */
	int		 attack_sources;
	enum bench_attack_mode attack;	/* derived from the three above */
	int		 quiet;
	int		 tls;		/* --tls: speak TLS to the server */
	const char	*tls_ca;	/* NULL: the server is not verified */
	const char	*tls_cert;	/* a client certificate, or NULL */
	const char	*tls_key;	/* NULL: in the tls_cert file */
	int		 tls_resume;	/* resume the previous session */
	unsigned long long given;	/* bit i: the table's flag i given */
};

enum bench_flags_result {
	BENCH_RUN,
	BENCH_HELP,
	BENCH_VERSION,
	BENCH_ERROR		/* err holds one line */
};

void	bench_flags_defaults(struct bench_config *);
enum bench_flags_result bench_flags_parse(struct bench_config *, int, char **,
	    char *, size_t);
void	bench_flags_usage(FILE *);
void	bench_flags_version(FILE *);

/* bench.c: start-up, the threads, merging, teardown. */

struct bench_tls;	/* bench_tls.c's: the run's TLS client context */

/* Set up by main, then read-only but for budget and wb_running. */
struct bench_run {
	const struct bench_config *cfg;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	struct sockaddr_in	*sources;
	int			 nsources;
	struct sockaddr_in	*attack_sources;
	int			 nattack_sources;
	char			*filler;	/* --size bytes, or NULL */
	const char		*attack_first;	/* an attack's first bytes */
	size_t			 attack_first_len;
	char			*attack_filler;	/* --attack-size bytes */
	int			 nthreads;	/* well-behaved threads run */
	atomic_int		 wb_running;	/* of them, not finished */
	uint64_t		 t0;
	uint64_t		 measure_start;	/* t0 + --warmup */
	uint64_t		 stop_at;	/* 0: no --duration */
	uint64_t		 timeout_ns;
	atomic_llong		 budget;	/* counted starts left */
	int			 budgeted;	/* --count given */
	int			 stop_fd;	/* eventfd: readable: stop */
	int			 done_fd;	/* eventfd: threads finished */
	int			 record_fd;
	struct bench_tls	*tls;		/* with --tls, else NULL */
};

/* bench_conn.c: one client's life, from connect to counting. */
#define BENCH_RBUF		4096		/* above BENCH_EXPECT_MAX */
#define BENCH_HEAD		32		/* reply bytes kept to show */
#define BENCH_RECORD_BUF	(64 * 1024)	/* --record, per thread */

enum bench_kind {
	BENCH_CONNECT,		/* refused, unreachable, no local port */
	BENCH_RESET,		/* ECONNRESET or EPIPE after connecting */
	BENCH_TIMEOUT,		/* --timeout passed */
	BENCH_OTHER,		/* anything else, e.g. EMFILE */
	BENCH_TLS,		/* TLS failed: alert, verification, EPROTO */
	BENCH_UNFINISHED,	/* still in flight when the run ended */
	BENCH_NKINDS
};

/* What a client is doing. */
enum bench_state {
	BENCH_IDLE,		/* done for good: nothing more to start */
	BENCH_WAITING,		/* to start again: ready or paused */
	BENCH_CONNECTING,	/* nothing sent yet */
	BENCH_HANDSHAKING,	/* --tls: in the TLS handshake */
	BENCH_SENDING,		/* part of the message sent */
	BENCH_READING		/* all sent, reading until EOF */
};

/* Totals of counted connections: per thread, then merged. */
struct bench_counts {
	uint64_t	connections;
	uint64_t	ok;
	uint64_t	wrong;
	uint64_t	errors[BENCH_NKINDS];
	uint64_t	unfinished_us;	/* the oldest unfinished one's age */
};

#define BENCH_TLS_WHY		128	/* the first TLS error, in words */

/*
 * The TLS handshakes of counted connections (--tls): per thread, then
 * merged. A handshake's time runs from the connect's start to the end of
 * the handshake; full and resumed ones are kept apart.
 */
struct bench_tls_counts {
	uint64_t	handshakes;	/* completed */
	uint64_t	resumed;	/* of them, the server resumed */
	uint64_t	offered;	/* connections that offered a session */
	struct hist	full_us;
	struct hist	resumed_us;
	char		version[16];	/* of the first handshake */
	char		cipher[64];
	char		why[BENCH_TLS_WHY];	/* the first TLS error */
};

/* The first error of a kind, to name it in the report. */
struct bench_first {
	uint64_t	at;
	int		err;		/* errno, or a state for timeouts */
};

/*
 * A client, one connection at a time: bench_conn.c drives it;
 * bench_loop.c keeps it on one of its thread's lists (busy, ready, paused)
 * or on none (idle).
 */
struct bench_conn {
	TAILQ_ENTRY(bench_conn)	 link;		/* bench_loop.c's */
	uint64_t		 start;		/* ns, CLOCK_MONOTONIC */
	uint64_t		 deadline;	/* timeout, or a pause's end */
	size_t			 sent;
	size_t			 got;		/* reply bytes so far */
	int			 fd;
	void			*ssl;		/* --tls: bench_tls.c's SSL */
	void			*session;	/* --tls-resume: SSL_SESSION */
	unsigned char		 state;
	unsigned char		 counted;
	unsigned char		 bad;		/* reply is not --expect */
	unsigned char		 prefix_len;
	char			 prefix[BENCH_PREFIX_MAX];
	char			 head[BENCH_HEAD];	/* the reply's start */
};

TAILQ_HEAD(bench_conns, bench_conn);

/*
 * Where a client goes after bench_conn.c has acted on it: its answer to
 * bench_loop.c, which alone moves clients between lists.
 */
enum bench_conn_next {
	BENCH_NEXT_STAY,	/* still busy, as it was */
	BENCH_NEXT_BUSY,	/* (re)started: in flight, deadline set */
	BENCH_NEXT_READY,	/* start failed: try again next turn */
	BENCH_NEXT_PAUSED,	/* local shortage: try again at deadline */
	BENCH_NEXT_IDLE		/* nothing more to start, for good */
};

struct bench_thread;	/* bench_loop.c's, below */

char	bench_conn_filler(size_t);
enum bench_conn_next bench_conn_start(struct bench_thread *,
	    struct bench_conn *, uint64_t);
enum bench_conn_next bench_conn_finish(struct bench_thread *,
	    struct bench_conn *, uint64_t, int, int);
enum bench_conn_next bench_conn_event(struct bench_thread *,
	    struct bench_conn *, uint32_t);
void	bench_conn_abandon(struct bench_thread *, struct bench_conn *,
	    uint64_t);
void	bench_conn_record_flush(struct bench_thread *);
int	bench_conn_bind_to(int, const struct sockaddr_in *);

/* bench_loop.c: the client lists, the event loop of each thread. */

/* One event-loop thread: its epoll set, its clients, what it counted. */
struct bench_thread {
	struct bench_run	*run;
	pthread_t		 tid;
	int			 index;
	int			 epfd;
	int			 nconns;
	int			 active;	/* clients not idle */
	int			 stopping;	/* interrupted: close all */
	struct bench_conn	*conns;
	struct bench_conns	 busy;		/* in start (deadline) order */
	struct bench_conns	 ready;		/* to start next turn */
	struct bench_conns	 paused;	/* in deadline order */
	uint64_t		 seq;		/* of the unique ids */
	char			 id_head[16];	/* "b<pid>-<thread>-" */
	size_t			 id_head_len;
	unsigned		 source;	/* next --sources address */
	uint64_t		 end;		/* when counting stopped */
	size_t			 longest;	/* longest message sent */
	struct bench_counts	 counts;
	struct bench_first	 first[BENCH_NKINDS];
	struct bench_first	 first_wrong;
	struct bench_tls_counts	 tls;
	char			*tls_buf;	/* --tls --unique: a record */
	char			 sample[BENCH_HEAD];	/* first wrong reply */
	size_t			 sample_len;
	size_t			 sample_bytes;
	char			*record;
	size_t			 record_len;
	int			 record_failed;
	_Atomic uint64_t	 pub_ok;	/* for the progress line */
	_Atomic uint64_t	 pub_failed;
	_Atomic uint64_t	 pub_oldest;	/* start of the oldest busy client */
	struct hist		 hist;
	char			 rbuf[BENCH_RBUF];
};

/*
 * bench_tls.c: the TLS client of --tls, non-blocking, over a connected
 * socket. Its I/O answers as recv and send do: -1 with errno EAGAIN to
 * wait for any event, EPROTO for a TLS failure (its first reason kept in
 * the thread's tls.why), 0 from bench_tls_recv at the server's close.
 * Without TLS in the build the flags are refused, so the stubs below are
 * never called.
 */
#define BENCH_TLS_CHUNK		16384	/* a TLS record's plaintext, at most */

#ifdef HAVE_TLS
#define BENCH_HAVE_TLS		1
int	bench_tls_setup(struct bench_run *, char *, size_t);
void	bench_tls_teardown(struct bench_run *);
int	bench_tls_open(struct bench_thread *, struct bench_conn *);
int	bench_tls_handshake(struct bench_thread *, struct bench_conn *);
ssize_t	bench_tls_send(struct bench_thread *, struct bench_conn *,
	    const char *, size_t);
ssize_t	bench_tls_recv(struct bench_thread *, struct bench_conn *, char *,
	    size_t);
void	bench_tls_shutdown(struct bench_conn *);
void	bench_tls_close(struct bench_thread *, struct bench_conn *, int);
void	bench_tls_forget(struct bench_conn *);
#else
#define BENCH_HAVE_TLS		0
/* A build without TLS: never called, since --tls is refused. */
static inline int
bench_tls_setup(struct bench_run *run, char *err, size_t size)
{
	(void)run;
	snprintf(err, size, "--tls: this build has no TLS (configure "
	    "--with-tls)");
	return (-1);
}
static inline void bench_tls_teardown(struct bench_run *run) { (void)run; }
static inline int
bench_tls_open(struct bench_thread *t, struct bench_conn *c)
{
	(void)t;
	(void)c;
	errno = ENOSYS;
	return (-1);
}
static inline int
bench_tls_handshake(struct bench_thread *t, struct bench_conn *c)
{
	return (bench_tls_open(t, c));
}
static inline ssize_t
bench_tls_send(struct bench_thread *t, struct bench_conn *c, const char *b,
    size_t n)
{
	(void)b;
	(void)n;
	return (bench_tls_open(t, c));
}
static inline ssize_t
bench_tls_recv(struct bench_thread *t, struct bench_conn *c, char *b,
    size_t n)
{
	(void)b;
	(void)n;
	return (bench_tls_open(t, c));
}
static inline void bench_tls_shutdown(struct bench_conn *c) { (void)c; }
static inline void
bench_tls_close(struct bench_thread *t, struct bench_conn *c, int clean)
{
	(void)t;
	(void)c;
	(void)clean;
}
static inline void bench_tls_forget(struct bench_conn *c) { (void)c; }
#endif

void	bench_loop_thread_init(struct bench_thread *, struct bench_run *, int);
void	*bench_loop_thread_main(void *);
void	bench_loop_thread_free(struct bench_thread *);

/*
 * bench_attack.c: the attack clients (--attack-concurrency) and their
 * event loop, a thread of their own.
 */

/* What the attack clients did, all through the run. */
struct bench_attack_counts {
	uint64_t	started;	/* connects begun */
	uint64_t	opened;		/* of them, established */
	uint64_t	failed;		/* of them, never established */
	uint64_t	closed;		/* by the server, after opening */
	uint64_t	reset;		/* of those, with a reset */
	uint64_t	open_at_end;	/* established, still held at the end */
	uint64_t	connecting_at_end;	/* connect still pending */
	uint64_t	oldest_open_us;	/* age of the oldest still held */
	uint64_t	bytes_sent;
	int		first_failure;	/* errno of the first failed one */
};

/* What an attack client is doing. */
enum bench_attacker_state {
	BENCH_ATTACKER_IDLE,		/* stopped */
	BENCH_ATTACKER_PAUSED,		/* a connect failed: waits, again */
	BENCH_ATTACKER_READY,		/* closed: connects again this turn */
	BENCH_ATTACKER_CONNECTING,	/* not known to be established */
	BENCH_ATTACKER_SENDING,		/* established, first bytes going */
	BENCH_ATTACKER_HOLDING		/* established, first bytes sent */
};

/* One attack client: a connection at a time, reopened when closed. */
struct bench_attacker {
	TAILQ_ENTRY(bench_attacker) link;	/* ticks, paused or ready */
	uint64_t		 start;		/* ns, its connect began */
	uint64_t		 deadline;	/* next byte, or pause's end */
	size_t			 sent;
	int			 fd;
	unsigned char		 state;
	unsigned char		 listed;	/* on one of the lists */
	unsigned char		 fin;		/* the server half-closed */
};

TAILQ_HEAD(bench_attackers, bench_attacker);

/* The attack's thread: its epoll set, its clients, what it counted. */
struct bench_attack {
	struct bench_run	*run;
	pthread_t		 tid;
	int			 epfd;
	int			 nclients;
	int			 open;		/* established now */
	int			 stopping;
	struct bench_attacker	*clients;
	struct bench_attackers	 ticks;		/* trickling, deadline order */
	struct bench_attackers	 paused;	/* deadline order */
	struct bench_attackers	 ready;		/* to connect again now */
	unsigned		 source;	/* next --attack-sources one */
	uint64_t		 stop_at;	/* 0: only when told */
	uint64_t		 end;		/* when it stopped */
	struct bench_attack_counts counts;
	struct hist		 held;		/* us, until the server closed */
	_Atomic uint64_t	 pub_open;	/* for the progress line */
	char			 rbuf[BENCH_RBUF];
};

void	bench_attack_init(struct bench_attack *, struct bench_run *);
void	*bench_attack_main(void *);
void	bench_attack_free(struct bench_attack *);

/* bench_report.c: the text and JSON reports, the progress line. */

/* Everything the report needs, merged from the threads. */
struct bench_report {
	struct bench_counts	 counts;
	struct hist		 hist;
	double			 duration_s;
	size_t			 longest;
	struct bench_first	 first[BENCH_NKINDS];
	struct bench_first	 first_wrong;
	struct bench_tls_counts	 tls;
	char			 sample[BENCH_HEAD];
	size_t			 sample_len;
	size_t			 sample_bytes;
	int			 record_failed;
	struct bench_attack_counts attack;	/* with --attack-concurrency */
	struct hist		 attack_held;
	double			 attack_s;	/* the attack ran this long */
	size_t			 attack_first_len;
	int			 attack_sources;	/* addresses bound to */
};

void	bench_report_json(FILE *, const struct bench_config *,
	    const struct bench_report *);
void	bench_report_text(FILE *, const struct bench_config *,
	    const struct bench_report *);
void	bench_report_print_firsts(FILE *, const struct bench_report *,
	    const char *);
void	bench_report_progress(const struct bench_run *, struct bench_thread *,
	    const struct bench_attack *, uint64_t, uint64_t *, int);

#endif /* BENCH_H */
