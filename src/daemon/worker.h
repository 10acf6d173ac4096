/* SPDX-License-Identifier: MIT */
/*
 * worker.h: what only a worker process uses, after worker_run (ackd.h):
 * its accept loop hands connections to a bounded queue, a fixed pool of
 * threads takes them, and each thread's handler receives (frame.c, with
 * bigbuf.c's memory for a large one), logs (evlimit.c summarises repeated
 * event lines), ACKs and closes. A connection whose message has not all
 * arrived waits in the event stage, which watches its socket (poller.c)
 * and keeps its deadline (wheel.c) without a thread. Its types come
 * first, then one block of prototypes per file in that order.
 */
#ifndef WORKER_H
#define WORKER_H

/* wheel.c's types: the event stage's deadlines, a hashed timing wheel. */
#define WHEEL_BUCKETS_MAX	(1 << 20)

struct wheel_node {			/* embedded in what has a deadline */
	struct wheel_node	*next, *prev;	/* NULL/NULL: not on the wheel */
	long long		 when_ms;
};

struct wheel {
	struct wheel_node	*bucket;	/* nbuckets list heads (sentinels) */
	size_t			 nbuckets;
	long long		 tick_ms;
	long long		 done_ms;	/* ticks before this are processed */
	size_t			 count;
};

/* poller.c's types: which waiting sockets became readable; epoll, or
 * poll() where there is none (or when asked, for the tests). */
enum poller_backend {
	POLLER_POLL,
	POLLER_EPOLL
};

struct poller {
	enum poller_backend	 backend;
	int			 capacity;	/* fds armed at once, at most */
	int			 wake_rd;	/* poller_wake makes it readable */
	int			 wake_wr;	/* the same fd for an eventfd */
	int			 epfd;		/* epoll: its fd, else -1 */
	struct epoll_event	*events;	/* epoll: one wait's batch */
	int			 nevents;
	struct pollfd		*pfd;		/* poll: [0] wake_rd, then armed */
	void			**data;		/* poll: pfd[i]'s data */
	int			**reg;		/* poll: pfd[i]'s *registered */
	int			 npfd;		/* poll: used in pfd, with [0] */
};

/* queue.c's types: a bounded FIFO of connections; lock rules in queue.c. */
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
	struct conn		*ring;
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

/* handler.c's proxy=ADDR:PORT proxy_cmd=... field of every line */
#define HANDLER_VIA_MAX		(ACKD_ADDRSTRLEN + 32)

/* bigbuf.c's types: large messages' memory, from a per-worker budget. */
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

/* handler.c's type: one thread's buffers and what it needs to serve. */
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

/* pool.c's types: the fixed set of handler threads. */
struct pool_member {
	pthread_t		 thread;
	struct handler		 handler;
	struct queue_waiter	 waiter;
	struct queue		*queue;
	struct scoreboard_slot	*board;
};

struct pool {
	struct bigbuf	  budget;	/* --max-memory, shared by the threads */
	int		  budget_ready;
	struct pool_member *members;
	int		  ready;	/* members whose handler is set up */
	int		  started;	/* members whose thread runs */
};

/* frame.c's type: where a message ends (--framing). */
#define FRAME_FULL	(-2)	/* frame_read_until: room is full, size is not */
struct frame {
	enum ackd_framing	 mode;
	size_t			 size;		/* the most: max_message + 1 */
	size_t			 room;		/* the buffer's size, <= size */
	size_t			 len;		/* bytes received so far */
	size_t			 msg_len;	/* the message, once done */
	int			 done;
	int			 excess;	/* bytes after it arrived too */
};

/* evlimit.c's types: repeated connection event lines from one source,
 * summarised per --event-interval (event=KIND count=N interval_ms=MS). */
#define EVLIMIT_ENTRIES		1024	/* sources x kinds, per worker */
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
	int			 cap;		/* entries usable in entry */
	int			 free;		/* the free list, -1: full */
	int			 bucket[EVLIMIT_BUCKETS];
	struct evlimit_entry	 entry[EVLIMIT_ENTRIES];
	struct evlimit_entry	 other[EVLIMIT_NKINDS];	/* once entry is full */
};

struct evlimit_summary {
	const char	*event;
	char		 source[ACKD_ADDRSTRLEN];
	unsigned long	 count;		/* lines it stands for; 0: none */
	long long	 span_ms;	/* they fell in the span_ms before */
};

/* wheel.c: add, remove and expire deadlines; pure, times are arguments. */
int	wheel_init(struct wheel *, size_t, long long, long long);
void	wheel_destroy(struct wheel *);
void	wheel_add(struct wheel *, struct wheel_node *, long long);
void	wheel_del(struct wheel *, struct wheel_node *);
int	wheel_on(const struct wheel_node *);
struct wheel_node *wheel_expire(struct wheel *, long long);
long long wheel_timeout_ms(const struct wheel *, long long);

/* poller.c: one-shot readability of many sockets, and a wake-up. */
int	poller_init(struct poller *, int, int);
void	poller_destroy(struct poller *);
int	poller_wake_fd(struct poller *);
void	poller_wake(struct poller *);
int	poller_arm(struct poller *, int, void *, int *);
int	poller_disarm(struct poller *, int, int *);
int	poller_wait(struct poller *, void **, int, int);

/* queue.c: push from the accept loop, pop in the pool's threads. */
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

/* pool.c: start and join the handler threads. */
int	pool_start(struct pool *, const struct ackd_config *, struct queue *,
	    struct scoreboard_slot *);
void	pool_join(struct pool *);

/* handler.c: receive, log, ACK, close. */
int	handler_init(struct handler *, const struct ackd_config *,
	    struct stats *, struct bigbuf *);
void	handler_free(struct handler *);
void	handler_serve(struct handler *, const struct conn *);

/* bigbuf.c: take and give back a large message's memory. */
size_t	bigbuf_small_size(const struct ackd_config *);
size_t	bigbuf_need(const struct ackd_config *);
int	bigbuf_init(struct bigbuf *, size_t, size_t);
void	bigbuf_destroy(struct bigbuf *);
int	bigbuf_fits(size_t, size_t, size_t);
int	bigbuf_take(struct bigbuf *, long long);
void	bigbuf_give(struct bigbuf *);
void	*bigbuf_map(size_t);
void	bigbuf_unmap(void *, size_t);

/* frame.c: read a message; the scan is pure. */
void	frame_init(struct frame *, enum ackd_framing, size_t);
int	frame_feed(struct frame *, const unsigned char *, size_t);
int	frame_eof(struct frame *);
ssize_t	frame_read(struct frame *, int, unsigned char *, int);
ssize_t	frame_read_until(struct frame *, int, unsigned char *, long long);

/* evlimit.c: decide which event lines to write; the decisions are pure,
 * over a table and a given time. */
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

#endif /* WORKER_H */
