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

#include <sys/queue.h>

struct tls_conn;		/* tls.h: one connection's SSL, opaque */

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
	int			 running;	/* counted in queue.running */
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
	size_t			 running;	/* consumers serving one */
	struct queue_waiter	*idle;		/* parked consumers, newest first */
	atomic_long		*gauge_len;	/* NULL, or where to show len */
	atomic_long		*gauge_max;	/* and its high-water mark */
};


/* bigbuf.c's types: large messages' memory, from a per-worker budget. */
/* what a worker's waiting partial messages may hold: 16,384 of 4 KiB */
#define BIGBUF_PARTIAL		((size_t)64 << 20)

struct bigbuf {
	pthread_mutex_t		 lock;
	pthread_cond_t		 freed;		/* someone gave budget back */
	size_t			 cap;		/* --max-memory */
	size_t			 need;		/* what each connection takes */
	size_t			 used;
	void			(*on_give)(void *);	/* after a give */
	void			*on_give_arg;
};

/* frame.c's type: where a message ends (--framing). */
#define FRAME_FULL	(-2)	/* frame_read_now: room is full, size is not */
#define FRAME_AGAIN	(-3)	/* frame_read_now: nothing more there yet */
struct frame {
	enum ackd_framing	 mode;
	size_t			 size;		/* the most: max_message + 1 */
	size_t			 room;		/* the buffer's size, <= size */
	size_t			 len;		/* bytes received so far */
	size_t			 msg_len;	/* the message, once done */
	int			 done;
	int			 excess;	/* bytes after it arrived too */
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
	struct stage		*stage;		/* where a connection waits */
	/* the connection being served: fresh, or resumed from its pend */
	long long		 deadline_ms;	/* the read deadline, monotonic */
	int			 expired;	/* the stage saw it pass */
	struct frame		 fr;		/* its message so far */
	int			 proxy_done;	/* no PROXY header is to come */
	size_t			 proxy_have;	/* header bytes taken into pbuf */
	unsigned char		*pbuf;		/* PROXY_HEADER_MAX, or NULL */
	char			 client[ACKD_ADDRSTRLEN];
	char			 via[ACKD_VIA_MAX];	/* proxy=... */
	struct tls_conn		*tls;		/* --tls-port: its SSL; else NULL */
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


/*
 * pend.c's type: a connection between reads. A handler makes one the
 * first time a connection has to wait (its message, PROXY header or TLS
 * handshake spans reads; it waits for memory; it lingers), and the
 * connection keeps it until it closes; a TLS connection's SSL moves
 * into it while it waits. While the connection waits, the event stage
 * owns it; while a handler serves it, the handler does.
 */
enum pend_wait {
	PEND_READ,		/* for the client's next bytes */
	PEND_WRITE,		/* for room to write (a TLS handshake's) */
	PEND_MEMORY,		/* for a share of --max-memory */
	PEND_LINGER		/* drain after a truncated message, then close */
};

struct pend {
	struct conn		 conn;		/* conn.pend is this pend */
	enum pend_wait		 wait;
	int			 expired;	/* the stage saw its deadline pass */
	long long		 deadline_ms;	/* the message's, or the linger's */
	struct frame		 fr;		/* the scan, fr.len bytes in buf */
	unsigned char		*buf;		/* small_size (charged) or a mapping */
	size_t			 buf_map;	/* bytes mapped at buf; 0: malloc'd */
	size_t			 charged;	/* stage->partial bytes buf holds */
	int			 held;		/* a large message's budget share */
	int			 proxy_done;
	size_t			 proxy_have;	/* header bytes in pbuf */
	unsigned char		*pbuf;		/* NULL, or PROXY_HEADER_MAX */
	char			 client[ACKD_ADDRSTRLEN];
	char			 via[ACKD_VIA_MAX];
	struct tls_conn		*tls;		/* --tls-port: its SSL; else NULL */
	/* the event stage's */
	int			 registered;	/* poller_arm's flag */
	int			 armed;		/* the parking handler armed it */
	struct wheel_node	 timer;
	TAILQ_ENTRY(pend)	 link;		/* on one of the stage's lists */
};
TAILQ_HEAD(pend_list, pend);

/*
 * stage.c's type: a worker's event stage, its own thread. It holds the
 * connections that wait (for bytes, memory or the end of a linger),
 * costing each a descriptor and a pend, and no thread. Lock rules in
 * stage.c.
 */
struct stage {
	const struct ackd_config *cfg;
	struct queue		*queue;
	struct bigbuf		*budget;	/* the pool's, for large ones */
	struct bigbuf		 partial;	/* BIGBUF_PARTIAL, for pend_keep */
	struct scoreboard_slot	*board;
	struct poller		 poller;
	struct wheel		 wheel;
	pthread_t		 thread;
	int			 running;	/* the thread was started */
	int			 max;		/* --max-connections */
	pthread_mutex_t		 lock;		/* back, and waits on open */
	pthread_cond_t		 closed;	/* a connection closed */
	struct pend_list	 back;		/* handed over by handlers */
	long long		 asleep_until_ms; /* with lock: 0, or the
					  * stage sleeps until then */
	/* the stage thread's alone */
	struct pend_list	 parked;	/* oldest progress first */
	struct pend_list	 memwait;	/* oldest first */
	unsigned long		 shed;		/* since the last summary */
	long long		 shed_since_ms;
	/* anyone's */
	atomic_int		 watchers;	/* threads waiting on closed */
	atomic_int		 shed_wanted;	/* the accept loop needs room */
	atomic_int		 memwaiting;	/* connections on memwait */
	atomic_int		 stopping;
};

/* evlimit.c's types: repeated connection event lines from one source,
 * summarised per --event-interval (event=KIND count=N interval_ms=MS). */
#define EVLIMIT_ENTRIES		1024	/* sources x kinds, per worker */
#define EVLIMIT_BUCKETS		1024
#define EVLIMIT_NKINDS		8	/* the events summarised */

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
	const char	*event;		/* the kind's name (evlimit_kind) */
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
int	poller_arm_write(struct poller *, int, void *, int *);
int	poller_disarm(struct poller *, int, int *);
int	poller_wait(struct poller *, void **, int, int);

/* queue.c: push from the accept loop, pop in the pool's threads. */
int	queue_init(struct queue *, size_t);
void	queue_destroy(struct queue *);
int	queue_waiter_init(struct queue_waiter *);
void	queue_waiter_destroy(struct queue_waiter *);
long	queue_push(struct queue *, const struct conn *);
long	queue_push_batch(struct queue *, const struct conn *, size_t);
int	queue_pop(struct queue *, struct queue_waiter *, struct conn *);
int	queue_wait_space(struct queue *);
void	queue_kick(struct queue *);
void	queue_gauges(struct queue *, atomic_long *, atomic_long *);
void	queue_close(struct queue *);
size_t	queue_len(struct queue *);

/* pool.c: start and join the handler threads. */
int	pool_start(struct pool *, const struct ackd_config *, struct queue *,
	    struct stage *, struct scoreboard_slot *);
void	pool_join(struct pool *);

/* handler.c: receive, log, ACK, close. */
int	handler_init(struct handler *, const struct ackd_config *,
	    struct stats *, struct bigbuf *, struct stage *);
void	handler_free(struct handler *);
void	handler_serve(struct handler *, const struct conn *);

/* bigbuf.c: take and give back a large message's memory. */
int	bigbuf_init(struct bigbuf *, size_t, size_t);
void	bigbuf_destroy(struct bigbuf *);
int	bigbuf_fits(size_t, size_t, size_t);
int	bigbuf_take(struct bigbuf *, long long);
int	bigbuf_try(struct bigbuf *);
void	bigbuf_give(struct bigbuf *);
int	bigbuf_charge(struct bigbuf *, size_t);
void	bigbuf_uncharge(struct bigbuf *, size_t);
void	*bigbuf_map(size_t);
void	bigbuf_unmap(void *, size_t);

/* frame.c: read a message; the scan is pure. */
void	frame_init(struct frame *, enum ackd_framing, size_t);
int	frame_feed(struct frame *, const unsigned char *, size_t);
int	frame_eof(struct frame *);
ssize_t	frame_read_now(struct frame *, int, struct tls_conn *,
	    unsigned char *);

/* pend.c: a waiting connection's saved state. */
struct pend *pend_get(const struct conn *);
int	pend_keep(struct pend *, const unsigned char *, size_t, size_t,
	    struct bigbuf *);
void	pend_keep_map(struct pend *, unsigned char *, size_t, struct bigbuf *);
unsigned char *pend_take_map(struct pend *, size_t *);
void	pend_free(struct pend *, struct bigbuf *, struct bigbuf *);

/* stage.c: the event stage, where connections wait without a thread. */
int	stage_start(struct stage *, const struct ackd_config *, struct queue *,
	    struct bigbuf *, struct scoreboard_slot *);
void	stage_stop(struct stage *);
void	stage_opened(struct stage *);
int	stage_full(struct stage *);
int	stage_wait_room(struct stage *, int);
void	stage_park(struct stage *, struct pend *, enum pend_wait);
void	stage_close(struct stage *, const struct conn *);
void	stage_drain(struct stage *);

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
