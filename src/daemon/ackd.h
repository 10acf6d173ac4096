/* SPDX-License-Identifier: MIT */
/*
 * ackd: a pre-forked, thread-pooled TCP acknowledgement daemon.
 *
 * What both processes share: the master and its workers. Its types come
 * first, then one block of prototypes per file, in the order a message
 * meets them (configuration, the master's channel to each worker, the
 * counters they both see, the network, the log). What only the master
 * uses is in master.h, what only a worker uses in worker.h.
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
#include "logfmt.h"

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

/* Limits of the flags: conf.c enforces them, --help and ackd.8 show them. */
#define ACKD_WORKERS_MAX	256
#define ACKD_THREADS_MAX	1024
#define ACKD_QUEUE_MAX		65536
/* --max-connections, per worker: Linux's default ceiling on a process's
 * descriptors (fs.nr_open) */
#define ACKD_CONNECTIONS_MAX	(1024 * 1024)
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
/* --allow ranges, all flags together: a stranger's accept scans them
 * all, so a bound keeps that short (256 take about a microsecond, less
 * than the accept and close around them) */
#define ACKD_ALLOW_MAX		256
#define ACKD_LISTEN_MAX		16	/* --bind flags, and addresses in all */
/* listening sockets in one set: each address's plain and --tls-port ones */
#define ACKD_LISTEN_FDS		(2 * ACKD_LISTEN_MAX)
#define ACKD_HOST_MAX		255	/* one --bind value, in bytes */
/* --syslog-max: 480 is what RFC 5424 makes every receiver take; 8192 is
 * rsyslog's default maxMessageSize */
#define ACKD_SYSLOG_MAX_MIN	480
#define ACKD_SYSLOG_MAX_MAX	(16 * 1024 * 1024)
#define ACKD_SYSLOG_MAX_DEFAULT	8192
/* --worker-timeout's default: the read timeout plus this */
#define ACKD_WORKER_TIMEOUT_SLACK_MS	(20 * 1000)
/* TLS's defaults (--tls-ciphers, --tls-ciphersuites): forward secret,
 * AEAD only; and the longest list either takes */
#define ACKD_TLS_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20"
#define ACKD_TLS_CIPHERSUITES	"TLS_AES_128_GCM_SHA256:" \
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define ACKD_TLS_LIST_MAX	1024

/* proxy.c's types: the PROXY protocol header and the address ranges of
 * --proxy-from and --allow. */
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

/* conf.c's types: the parsed command line. */
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
	int			 max_connections;	/* per worker; 0: sized
							 * from the descriptor
							 * limit (fdlimit.c) */
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
	int			 allow_n;	/* 0: clients from anywhere */
	struct proxy_cidr	 allow[ACKD_ALLOW_MAX];
	/* TLS (tls_ctx.c); a build without TLS refuses every flag */
	int			 tls_port;	/* -1: no TLS listener; 0: any */
	int			 tls_only;	/* no plain listener */
	const char		*tls_cert;	/* PEM chain, leaf first */
	const char		*tls_key;	/* PEM key; conf_parse: tls_cert's */
	const char		*tls_client_ca;	/* NULL: no client certificates */
	int			 tls_min_version;	/* 12 or 13: TLS 1.2, 1.3;
							 * 0: not given (1.2) */
	const char		*tls_ciphers;	/* TLS 1.2's, OpenSSL's syntax */
	const char		*tls_ciphersuites;	/* TLS 1.3's */
};

/*
 * What a message takes: a message of up to ACKD_SMALL_MAX bytes is
 * served from a handler thread's own buffers; a line's extra fields (the
 * handler's, and the proxy= ones) fit ACKD_EXTRA_MAX.
 */
#define ACKD_SMALL_MAX		4096
#define ACKD_VIA_MAX		(ACKD_ADDRSTRLEN + 32)	/* proxy=... proxy_cmd=... */
#define ACKD_EXTRA_MAX		(64 + ACKD_VIA_MAX)

enum conf_result {
	CONF_RUN,		/* start the daemon */
	CONF_HELP,		/* print conf_usage, exit 0 */
	CONF_VERSION,		/* print the version, exit 0 */
	CONF_ERROR		/* err holds one line: the flag and what is allowed */
};

/*
 * net.c's type: an accepted connection, from the accept loop to a
 * handler, and between a worker's handlers and its event stage.
 */
struct pend;
struct conn {
	int		 fd;
	unsigned	 tls:1;		/* accepted on a --tls-port listener */
	socklen_t	 addrlen;
	int		 limit_entry;	/* peerlimit_enter's; < 0: none */
	long long	 accepted_ms;	/* mono_ms; the read deadline counts from it */
	struct pend	*pend;		/* NULL until a message spans reads */
	union {
		struct sockaddr		sa;
		struct sockaddr_in	sin;
		struct sockaddr_in6	sin6;
	}		 addr;		/* the peer, as accept() gave it */
};

/* stats.c's types: one worker's counters and gauges, updated without locks. */
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
	STATS_NOT_ALLOWED,	/* not from an --allow range */
	STATS_PROXY_REFUSED,	/* --proxy-protocol: no valid header */
	STATS_TLS_FAILED,	/* --tls-port: the handshake failed */
	STATS_MEMORY_REFUSED,	/* no --max-memory left for a large one */
	STATS_SHED,		/* closed at --max-connections: waited longest */
	STATS_BYTES,
	STATS_REOPEN_FAILED,	/* a log reopen failed: old file kept */
	STATS_NCOUNTERS
};

enum stats_gauge {
	STATS_QUEUE,		/* connections waiting for a thread */
	STATS_QUEUE_MAX,	/* the most that ever waited */
	STATS_BUSY,		/* threads serving a connection */
	STATS_OPEN,		/* connections open: queued, served, waiting */
	STATS_WAITING,		/* parked in the event stage for their bytes */
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

/* scoreboard.c's type: one worker's slot in the memory it shares with its
 * master (mapped before the first fork), cache-line-aligned. */
struct scoreboard_slot {
	struct stats	stats;
	atomic_ulong	progress;	/* bumped at each step the worker takes */
	atomic_int	serving;	/* its threads run and it accepts */
	atomic_int	retire;		/* served --max-connections-per-worker */
	atomic_uint	reopened;	/* the last reopen generation it did */
	atomic_int	log_stale;	/* its last reopen failed */
} __attribute__((aligned(64)));

/* conf.c: the command line, its defaults and --help; pure, fuzzable. */
void			conf_defaults(struct ackd_config *);
enum conf_result	conf_parse(struct ackd_config *, int, char **, char *,
			    size_t);
void			conf_usage(FILE *);
int			conf_syslog_warning(const struct ackd_config *,
			    char *, size_t);
size_t			conf_small_size(const struct ackd_config *);
size_t			conf_need(const struct ackd_config *);
int			conf_allowed(const struct ackd_config *,
			    const struct sockaddr *, socklen_t);

/* proxy.c: PROXY header parsing and address range (--proxy-from, --allow)
 * matching; pure, fuzzable. */
enum proxy_result proxy_parse(const unsigned char *, size_t,
	    struct proxy_header *);
int	proxy_cidr_parse(const char *, size_t, struct proxy_cidr *);
int	proxy_cidr_match(const struct proxy_cidr *, const struct sockaddr *,
	    socklen_t);
int	proxy_cidr_any(const struct proxy_cidr *, int, const struct sockaddr *,
	    socklen_t);

/* control.c: each worker's channel to its master (news; EOF: dead). */
int	control_open(int);
void	control_forked(int);
void	control_spawned(int, int, int);
void	control_tell(void);
int	control_pollfds(struct pollfd *, int);
int	control_io(const struct pollfd *, int);

/* worker.c: a worker's life, from the fork; the rest is in worker.h. */
int	worker_run(const struct ackd_config *, const int *,
	    const unsigned char *, int, pid_t, int);

/* scoreboard.c: what each worker shows its master. */
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

/* stats.c: the counters' names, updates, snapshots and their text. */
extern const struct stats_name stats_counter_names[STATS_NCOUNTERS];
extern const struct stats_name stats_gauge_names[STATS_NGAUGES];

void	stats_add(struct stats *, enum stats_counter, unsigned long);
void	stats_gauge_add(struct stats *, enum stats_gauge, long);
void	stats_read(struct stats *, struct stats_snap *);
size_t	stats_format(char *, size_t, const struct stats_snap *, int);

/* net.c: --bind name lookup, listening sockets, accept, timed I/O. */
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

/* peerlimit.c: --max-connections-per-ip across all workers. A worker's
 * table has buckets for twice its connections, within these bounds, and
 * holds half as many addresses */
#define PEERLIMIT_BUCKETS_MIN	16
#define PEERLIMIT_BUCKETS_MAX	(1 << 17)
int	peerlimit_init(int, size_t);
void	peerlimit_unmap(void);
void	peerlimit_clear(int);
void	peerlimit_set_slot(int);
int	peerlimit_enter(const struct conn *);
void	peerlimit_leave(int);


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

#endif /* ACKD_H */
