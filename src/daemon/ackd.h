/* SPDX-License-Identifier: MIT */
/*
 * ackd: a pre-forked, thread-pooled TCP acknowledgement daemon.
 *
 * Shared structures and prototypes, grouped by the file that owns them.
 */
#ifndef ACKD_H
#define ACKD_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "common.h"

/* The number of elements of array a (BSD <sys/param.h> has the same). */
#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/*
 * A function whose result is a count, a descriptor or an index (>= 0)
 * returns -1 when it failed (errno, or its err, says why). When it has a
 * third outcome, that outcome is one of these, always by name.
 */
enum ackd_result {
	ACKD_NONE = -2,		/* nothing to take: off, or nothing passed */
	ACKD_REFUSED = -3	/* over a limit: the caller refuses */
};

/* Exit statuses (the sysexits.h values, spelled out). */
#define ACKD_EXIT_OK		0	/* clean shutdown, or --help/--version */
#define ACKD_EXIT_KILLED	1	/* shutdown deadline passed, workers killed */
#define ACKD_EXIT_USAGE		64	/* bad flag or value */
#define ACKD_EXIT_UNAVAILABLE	69	/* cannot bind, or pid file locked */
#define ACKD_EXIT_SOFTWARE	70	/* internal error, or crash loop */
#define ACKD_EXIT_OSERR		71	/* fork, pipe, thread or memory failure */
#define ACKD_EXIT_CANTCREAT	73	/* cannot open the log or pid file */
#define ACKD_EXIT_NOPERM	77	/* cannot become --user/--group */

/* Limits of the flags: config.c enforces them, --help and ackd.8 show them. */
#define ACKD_WORKERS_MAX	256
#define ACKD_THREADS_MAX	1024
#define ACKD_QUEUE_MAX		65536
#define ACKD_BACKLOG_MAX	65535
#define ACKD_MESSAGE_MAX	(1024 * 1024)
/* --max-memory: 64 GiB (1 GiB where size_t has 32 bits); its default
 * is a message for every thread, but no more than this */
#define ACKD_MEMORY_MAX		(SIZE_MAX > 0xffffffffu ? 64LL << 30 : 1LL << 30)
#define ACKD_MEMORY_DEFAULT_MAX	((size_t)256 << 20)
#define ACKD_ACK_MAX		1024
#define ACKD_TIMEOUT_MAX_MS	(86400 * 1000)
#define ACKD_PER_IP_MAX		1000000
#define ACKD_PER_WORKER_MAX	1000000000
#define ACKD_NAME_MAX		256	/* --user, --group */
#define ACKD_PROXY_FROM_MAX	64	/* --proxy-from ranges, all flags together */
#define ACKD_LISTEN_MAX		16	/* --bind flags, and addresses in all */
#define ACKD_HOST_MAX		255	/* one --bind value, in bytes */
#define ACKD_TAG_MAX		32	/* --log-tag, as RFC 3164 allows */
/* --syslog-max: 480 is what RFC 5424 makes every receiver take; 8192 is
 * rsyslog's default maxMessageSize */
#define ACKD_SYSLOG_MAX_MIN	480
#define ACKD_SYSLOG_MAX_MAX	(16 * 1024 * 1024)
#define ACKD_SYSLOG_MAX_DEFAULT	8192
/* --worker-timeout's default: the read timeout plus this */
#define ACKD_WORKER_TIMEOUT_SLACK_MS	(20 * 1000)

/* proxy.c: the PROXY protocol header and --proxy-from; pure, fuzzable. */
#define PROXY_V1_MAX		107	/* the longest v1 line, CRLF included */
#define PROXY_V2_FIXED		16	/* v2: signature, version, family, length */
#define PROXY_HEADER_MAX	4096	/* a v2 header, TLVs included, at most */

enum proxy_result {
	PROXY_MORE,		/* a valid header may still come: read on */
	PROXY_INVALID,		/* why says why, in one word */
	PROXY_DONE		/* len bytes are the header */
};

enum proxy_command {
	PROXY_CMD_PROXY,	/* relayed: src is the client */
	PROXY_CMD_LOCAL,	/* v2 LOCAL: the balancer's own (health check) */
	PROXY_CMD_UNKNOWN	/* v1 UNKNOWN, or a v2 family we do not use */
};

struct proxy_header {
	int			 version;	/* 1 or 2 */
	enum proxy_command	 command;
	size_t			 len;		/* header bytes at the start */
	struct sockaddr_storage	 src;		/* PROXY_CMD_PROXY: the client */
	struct sockaddr_storage	 dst;		/* and where it connected */
	socklen_t		 srclen;
	socklen_t		 dstlen;
	const char		*why;		/* PROXY_INVALID's reason */
};

struct proxy_cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];	/* bits past the prefix are 0 */
	int		 bits;
};

enum proxy_result proxy_parse(const unsigned char *, size_t,
	    struct proxy_header *);
int	proxy_cidr_parse(const char *, size_t, struct proxy_cidr *);
int	proxy_cidr_match(const struct proxy_cidr *, const struct sockaddr *,
	    socklen_t);
int	proxy_cidr_any(const struct proxy_cidr *, int, const struct sockaddr *,
	    socklen_t);

/* config.c */
enum ackd_log_format {
	ACKD_LOG_TEXT,
	ACKD_LOG_JSON
};

enum ackd_framing {
	ACKD_FRAMING_READ,	/* a message is what one read returns */
	ACKD_FRAMING_LINE,	/* up to and including the first '\n' */
	ACKD_FRAMING_EOF	/* up to the client's half-close */
};

struct ackd_config {
	/* addresses or host names; an explicit --bind replaces the default */
	char			 bind[ACKD_LISTEN_MAX][ACKD_HOST_MAX + 1];
	int			 nbind;
	int			 bind_given;	/* the default is gone */
	int			 ipv6_only;	/* IPV6_V6ONLY on IPv6 listeners */
	int			 reuseport;	/* a socket per worker */
	int			 port;		/* 0: the kernel picks one */
	int			 backlog;
	int			 workers;
	int			 threads;
	int			 queue;
	size_t			 max_message;
	size_t			 max_memory;	/* per worker; 0: the default */
	enum ackd_framing	 framing;
	int			 read_timeout_ms;
	int			 shutdown_timeout_ms;
	int			 defer_accept_ms;	/* 0: off; -1: read timeout */
	char			 ack[ACKD_ACK_MAX + 1];
	size_t			 ack_len;
	const char		*log_file;	/* NULL: standard output */
	enum ackd_log_format	 log_format;
	const char		*log_tag;	/* NULL: none */
	int			 log_file_given;	/* even as - */
	int			 syslog_facility;	/* 0: no --syslog */
	size_t			 syslog_max;	/* datagram bytes; 0: not given */
	int			 sync;		/* fdatasync before each ACK */
	int			 max_per_ip;	/* 0: no limit */
	int			 daemon;	/* detach from the terminal */
	int			 check;		/* --check: check, do not start */
	const char		*pid_file;	/* NULL: none */
	const char		*user;		/* NULL: stay who we are */
	const char		*group;
	int			 worker_timeout_ms;	/* 0: no watchdog */
	int			 max_per_worker;	/* 0: no limit */
	int			 stats_interval_ms;	/* 0: only on SIGUSR1 */
	int			 event_interval_ms;	/* 0: no summaries */
	char			 metrics[80];	/* "": no metrics listener */
	int			 proxy_protocol; /* a PROXY header comes first */
	int			 proxy_from_n;	/* 0: headers from anywhere */
	struct proxy_cidr	 proxy_from[ACKD_PROXY_FROM_MAX];
};

enum config_result {
	CONFIG_RUN,		/* start the daemon */
	CONFIG_HELP,		/* print config_usage, exit 0 */
	CONFIG_VERSION,		/* print the version, exit 0 */
	CONFIG_ERROR		/* err holds one line: the flag and what is allowed */
};

void			config_defaults(struct ackd_config *);
enum config_result	config_parse(struct ackd_config *, int, char **, char *,
			    size_t);
void			config_usage(FILE *);
int			config_syslog_warning(const struct ackd_config *,
			    char *, size_t);

/* logfmt.c: pure formatting of log lines; no I/O, fuzzable. */
#define LOGFMT_TIMESTAMP_LEN	27	/* 2026-11-25T08:26:33.123456Z */

struct logfmt_record {
	const struct timespec	*when;
	const char		*client;	/* NULL for daemon events */
	pid_t			 pid;
	const char		*tag;		/* NULL, or --log-tag */
	const char		*event;		/* "message", "empty", ... */
	size_t			 bytes;
	const unsigned char	*msg;		/* NULL: no msg field */
	size_t			 msg_len;
	const char		*extra;		/* NULL, or preformatted fields */
};

size_t	logfmt_timestamp(char *, size_t, const struct timespec *);
size_t	logfmt_escape_text(char *, const unsigned char *, size_t);
size_t	logfmt_escape_json(char *, const unsigned char *, size_t);
size_t	logfmt_text_max(size_t);
size_t	logfmt_json_max(size_t);
int	logfmt_utf8_valid(const unsigned char *, size_t);
size_t	logfmt_base64(char *, const unsigned char *, size_t);
size_t	logfmt_base64_max(size_t);
size_t	logfmt_line_max(enum ackd_log_format, size_t, size_t);
size_t	logfmt_line(char *, size_t, enum ackd_log_format,
	    const struct logfmt_record *);
/* "<191>Nov 25 08:26:33 " 21, the tag, "[2147483647]: " 14 */
#define LOGFMT_SYSLOG_HEAD_MAX	(21 + ACKD_TAG_MAX + 14 + 1)
struct tm;
size_t	logfmt_syslog_head(char *, size_t, int, const struct tm *,
	    const char *, pid_t);
size_t	logfmt_syslog_fit(enum ackd_log_format, const char *, const char *,
	    size_t);
size_t	logfmt_token(char *, size_t, const char *);
void	logfmt_wait_status(char *, size_t, int);

/* msglog.c: the connection log, shared by every thread and process. */
int	msglog_open(const struct ackd_config *, char *, size_t);
int	msglog_reopen(const char *, char *, size_t);
const char *msglog_stale(void);
int	msglog_chown(uid_t, gid_t);
void	msglog_check(const struct ackd_config *);
int	msglog_write(const char *, size_t, const char *);
const char *msglog_syslog_path(void);
const char *msglog_errno_name(int, char *, size_t);
int	msglog_sync(void);
void	msglog_event(const char *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	msglog_client_event(const char *, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
enum ackd_log_format msglog_format(void);

/*
 * evlimit.c: repeated connection event lines from one source, summarised
 * per --event-interval (event=KIND count=N interval_ms=MS); the decisions
 * are pure, over a table and a given time.
 */
#define EVLIMIT_SLOTS		1024	/* sources x kinds, per worker */
#define EVLIMIT_BUCKETS		1024
#define EVLIMIT_NKINDS		6	/* the events summarised */

enum evlimit_verdict {
	EVLIMIT_WRITE,		/* write the line */
	EVLIMIT_COUNT		/* leave it out: a summary will count it */
};

struct evlimit_entry {
	char		 source[ACKD_ADDRSTRLEN];	/* no port; "*": others */
	long long	 start_ms;	/* its interval began */
	unsigned long	 count;		/* lines left out since */
	int		 kind;		/* evlimit_kind's; -1: free */
	int		 next;		/* in its bucket, or the free list */
};

struct evlimit_table {
	long long		 interval_ms;	/* 0: every line is written */
	int			 cap;		/* entries usable in slot */
	int			 free;		/* the free list, -1: full */
	int			 bucket[EVLIMIT_BUCKETS];
	struct evlimit_entry	 slot[EVLIMIT_SLOTS];
	struct evlimit_entry	 other[EVLIMIT_NKINDS];	/* once slot is full */
};

struct evlimit_summary {
	const char	*event;
	char		 source[ACKD_ADDRSTRLEN];
	unsigned long	 count;		/* lines it stands for; 0: none */
	long long	 span_ms;	/* they fell in the span_ms before */
};

int	evlimit_kind(const char *);
void	evlimit_source(char *, size_t, const char *);
void	evlimit_table_init(struct evlimit_table *, long long, int);
enum evlimit_verdict evlimit_decide(struct evlimit_table *, const char *,
	    const char *, long long, struct evlimit_summary *);
size_t	evlimit_due(struct evlimit_table *, long long, int,
	    struct evlimit_summary *, size_t);
void	evlimit_init(int);
int	evlimit_admit(const char *, const char *);
void	evlimit_tick(void);
void	evlimit_flush(void);

/* An accepted connection on its way from the accept loop to a handler. */
struct conn {
	int		 fd;
	socklen_t	 addrlen;
	int		 limit_entry;	/* peerlimit_enter's; < 0: none */
	union {
		struct sockaddr		sa;
		struct sockaddr_in	sin;
		struct sockaddr_in6	sin6;
	}		 addr;		/* the peer, as accept() gave it */
};

/* net.c */
int	net_resolve(const char *, int, struct sockaddr_storage *, socklen_t *,
	    int *, int, char *, size_t);
int	net_listen(const struct ackd_config *, const struct sockaddr *,
	    socklen_t, char *, size_t);
int	net_set_nonblock(int, int);
int	net_accept_timeout(int, int);
int	net_accept(int, struct conn *);
ssize_t	net_read_timed(int, void *, size_t, int);
ssize_t	net_recv_timed(int, void *, size_t, int, int);
int	net_write_all(int, const void *, size_t);

/* frame.c: where a message ends (--framing); the scan is pure. */
struct frame {
	enum ackd_framing	 mode;
	size_t			 size;		/* the most: max_message + 1 */
	size_t			 room;		/* the buffer's size, <= size */
	size_t			 len;		/* bytes received so far */
	size_t			 msg_len;	/* the message, once done */
	int			 done;
	int			 excess;	/* bytes after it arrived too */
};

void	frame_init(struct frame *, enum ackd_framing, size_t);
int	frame_feed(struct frame *, const unsigned char *, size_t);
int	frame_eof(struct frame *);
#define FRAME_FULL	(-2)	/* frame_read_until: room is full, size is not */
ssize_t	frame_read(struct frame *, int, unsigned char *, int);
ssize_t	frame_read_until(struct frame *, int, unsigned char *, long long);

/* queue.c: a bounded FIFO of connections; lock rules are in queue.c. */
struct queue_waiter {
	sem_t			 sem;
	struct queue_waiter	*next;		/* on the idle stack */
	int			 parked;	/* asleep until the producer says */
	int			 has;		/* conn was handed over */
	struct conn		 conn;
};

struct queue {
	pthread_mutex_t		 lock;
	pthread_cond_t		 not_full;
	struct conn		*slots;
	size_t			 cap;
	size_t			 head;		/* next to pop */
	size_t			 len;
	int			 closed;	/* no more pushes; pop drains */
	int			 kicked;	/* wake the producer without space */
	unsigned		 producers_waiting;
	struct queue_waiter	*idle;		/* parked consumers, newest first */
	atomic_long		*gauge_len;	/* NULL, or where to show len */
	atomic_long		*gauge_max;	/* and its high-water mark */
};

int	queue_init(struct queue *, size_t);
void	queue_destroy(struct queue *);
int	queue_waiter_init(struct queue_waiter *);
void	queue_waiter_destroy(struct queue_waiter *);
long	queue_push(struct queue *, const struct conn *);
int	queue_pop(struct queue *, struct queue_waiter *, struct conn *);
int	queue_wait_space(struct queue *);
void	queue_kick(struct queue *);
void	queue_gauges(struct queue *, atomic_long *, atomic_long *);
void	queue_close(struct queue *);
size_t	queue_len(struct queue *);

/* stats.c: one worker's counters and gauges, updated without locks. */
enum stats_counter {
	STATS_ACCEPTED,
	STATS_ACKED,
	STATS_EMPTY,
	STATS_TIMEOUT,
	STATS_RESET,
	STATS_ERROR,
	STATS_TRUNCATED,
	STATS_LOG_FAILED,
	STATS_ACK_FAILED,
	STATS_REFUSED,
	STATS_PROXY_REFUSED,	/* --proxy-protocol: no valid header */
	STATS_MEMORY_REFUSED,	/* no --max-memory left for a large one */
	STATS_BYTES,
	STATS_REOPEN_FAILED,	/* a log reopen failed: old file kept */
	STATS_NCOUNTERS
};

enum stats_gauge {
	STATS_QUEUE,		/* connections waiting for a thread */
	STATS_QUEUE_MAX,	/* the most that ever waited */
	STATS_BUSY,		/* threads serving a connection */
	STATS_NGAUGES
};

struct stats {
	atomic_ulong	counter[STATS_NCOUNTERS];
	atomic_long	gauge[STATS_NGAUGES];
};

/* A plain copy, to add up and print. */
struct stats_snap {
	unsigned long	counter[STATS_NCOUNTERS];
	long		gauge[STATS_NGAUGES];
};

struct stats_name {
	const char	*key;		/* in log lines: accepted=... */
	const char	*metric;	/* for Prometheus */
	const char	*help;
};

extern const struct stats_name stats_counter_names[STATS_NCOUNTERS];
extern const struct stats_name stats_gauge_names[STATS_NGAUGES];

void	stats_add(struct stats *, enum stats_counter, unsigned long);
void	stats_gauge_add(struct stats *, enum stats_gauge, long);
void	stats_read(struct stats *, struct stats_snap *);
size_t	stats_format(char *, size_t, const struct stats_snap *, int);

/*
 * scoreboard.c: what each worker shows its master, in memory they share
 * (mapped before the first fork), one cache-line-aligned slot per worker.
 */
struct scoreboard_slot {
	struct stats	stats;
	atomic_ulong	progress;	/* bumped at each step the worker takes */
	atomic_int	serving;	/* its threads run and it accepts */
	atomic_int	retire;		/* served --max-connections-per-worker */
	atomic_uint	reopened;	/* the last reopen generation it did */
	atomic_int	log_stale;	/* its last reopen failed */
} __attribute__((aligned(64)));

int	scoreboard_init(void);
struct scoreboard_slot *scoreboard_slot(int);
struct stats *scoreboard_master(void);
void	scoreboard_retire(int);
void	scoreboard_mark_live(int, int);
int	scoreboard_live(int);
void	scoreboard_snap(int, struct stats_snap *);
void	scoreboard_total(struct stats_snap *);
void	scoreboard_set_reopen(unsigned);
unsigned scoreboard_reopen(void);

/* handler.c's proxy=ADDR:PORT proxy_cmd=... field of every line */
#define HANDLER_VIA_MAX		(ACKD_ADDRSTRLEN + 32)

/* bigbuf.c: large messages' memory, from a per-worker budget. */
#define BIGBUF_SMALL		4096	/* a thread's own message buffer, at most */
/* room for a line's extra fields: the handler's, and the proxy= ones */
#define BIGBUF_EXTRA_MAX	(64 + HANDLER_VIA_MAX)

struct bigbuf {
	pthread_mutex_t		 lock;
	pthread_cond_t		 freed;		/* someone gave budget back */
	size_t			 cap;		/* --max-memory */
	size_t			 need;		/* what each connection takes */
	size_t			 used;
};

size_t	bigbuf_small_size(const struct ackd_config *);
size_t	bigbuf_need(const struct ackd_config *);
int	bigbuf_init(struct bigbuf *, size_t, size_t);
void	bigbuf_destroy(struct bigbuf *);
int	bigbuf_fits(size_t, size_t, size_t);
int	bigbuf_take(struct bigbuf *, long long);
void	bigbuf_give(struct bigbuf *);
void	*bigbuf_map(size_t);
void	bigbuf_unmap(void *, size_t);

/* handler.c: receive, log, ACK, close. */
struct handler {
	const struct ackd_config *cfg;
	struct stats		*stats;
	pid_t			 pid;		/* the worker's, for each line */
	struct bigbuf		*budget;	/* the worker's, for large ones */
	unsigned char		*small;		/* small_size bytes, always */
	size_t			 small_size;
	char			*line;		/* fits a small message's line */
	size_t			 line_size;
	/* this connection's: small, or a mapping charged to the budget */
	unsigned char		*buf;
	size_t			 buf_map;	/* bytes mapped at buf, 0: small */
	char			*big_line;	/* a mapping, or NULL */
	size_t			 big_line_size;
	int			 held;		/* took budget->need */
	long long		 deadline_ms;	/* the read deadline, monotonic */
	unsigned char		*pbuf;		/* PROXY_HEADER_MAX, or NULL */
	char			 via[HANDLER_VIA_MAX];	/* proxy=... */
};

int	handler_init(struct handler *, const struct ackd_config *,
	    struct stats *, struct bigbuf *);
void	handler_free(struct handler *);
void	handler_serve(struct handler *, const struct conn *);

/* peerlimit.c: --max-connections-per-ip across all workers. */
int	peerlimit_init(int, size_t);
void	peerlimit_clear(int);
void	peerlimit_set_slot(int);
int	peerlimit_enter(const struct conn *);
void	peerlimit_leave(int);

/* pool.c: the fixed set of handler threads. */
struct pool_slot {
	pthread_t		 thread;
	struct handler		 handler;
	struct queue_waiter	 waiter;
	struct queue		*queue;
	struct scoreboard_slot	*board;
};

struct pool {
	struct bigbuf	  budget;	/* --max-memory, shared by the threads */
	int		  budget_ready;
	struct pool_slot *slots;
	int		  ready;	/* slots whose handler is set up */
	int		  started;	/* slots whose thread runs */
};

int	pool_start(struct pool *, const struct ackd_config *, struct queue *,
	    struct scoreboard_slot *);
void	pool_join(struct pool *);

/* control.c: each worker's channel to its master (news; EOF: dead). */
int	control_open(int);
void	control_forked(int);
void	control_spawned(int, int, int);
void	control_tell(void);
int	control_pollfds(struct pollfd *, int);
int	control_io(const struct pollfd *, int);

/* worker.c */
int	worker_run(const struct ackd_config *, const int *, int, pid_t, int);

/*
 * listen.c: the master's listening sockets: one shared set for every
 * worker, or with --reuseport one set per initial worker, each owned by
 * a slot and handed on to that slot's successor.
 */
#define ACKD_LISTEN_NAMES	(ACKD_LISTEN_MAX * (ACKD_ADDRSTRLEN + 1))
int	listen_open(const struct ackd_config *, int *, int, int, char *,
	    size_t);
int	listen_resolve(const struct ackd_config *, char *, char *, size_t);
const char *listen_names(void);
int	listen_worker_fds(int, int *, int);
void	listen_close_others(const int *, int);
int	listen_owns(int);
void	listen_give(int, int);
int	listen_backlog(void);
void	listen_close(void);
int	listen_all_fds(int *, int, int *);

/* master.c */
int	master_run(const struct ackd_config *, const char *,
	    void (*)(void));

/* supervise.c: see master.h, private to the master. */

/* systemd.c: readiness notification and socket activation. */
void	systemd_init(void);
int	systemd_enabled(void);
long long systemd_watchdog_ms(void);
void	systemd_notify(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
int	systemd_listen_fds(int *, int, char *, size_t);
void	systemd_pass_on(void);
void	systemd_hand_over(pid_t);

/* http.c: the HTTP the metrics endpoint speaks; pure, fuzzable. */
int	http_parse(const char *, size_t, size_t, const char *);
const char *http_reason(int);
size_t	http_head(char *, size_t, int, const char *, size_t);

/* metrics.c: the master's Prometheus endpoint (--metrics). */
#define ACKD_METRICS_FDS	65	/* the listener and up to 64 scrapers */
#define ACKD_METRICS_HEAD_MAX	4096	/* a request head, at most */
int	metrics_listen(const struct ackd_config *, int, char *, size_t);
int	metrics_pollfds(struct pollfd *, int);
void	metrics_io(struct pollfd *, int);
long long metrics_timers(void);
void	metrics_close(void);
void	metrics_resume(void);
int	metrics_fd(void);
size_t	metrics_escape(char *, size_t, const char *, int);
char	*metrics_body(size_t *);

/* daemon.c: --daemon; the start-up report reaches the terminal. */
int	daemon_abspath(const char *, char *, size_t);
void	daemon_start(void);
void	daemon_ready(void);
void	daemon_upgraded(void);

/* proctitle.c: the title ps shows for the master and each worker. */
#define ACKD_PROCTITLE_MAX	4096	/* a title, or the command line kept */
void	proctitle_init(int, char **);
const char *proctitle_command(void);
void	proctitle_set(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

/* check.c: --check, the start-up's checks without the start. */
int	check_run(const struct ackd_config *);

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

/*
 * upgrade.c: SIGUSR2, a new master from the binary on disk, with the
 * listening sockets handed over; the old one leaves once it serves.
 */
#define UPGRADE_FDS	2	/* the master polls at most this many */
/* ACKD_UPGRADE, as a new master reads it (upgrade_parse). */
struct upgrade_env {
	pid_t	from;		/* the old master */
	int	nsets;		/* the sockets form this many sets */
	int	pidfile;	/* 1: the pid file's descriptor follows */
	int	metrics;	/* 1: the metrics listener follows */
};
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

/* priv.c: --user and --group. */
void	priv_init(const struct ackd_config *);
void	priv_drop(void);
void	priv_switch(void);

#endif /* ACKD_H */
