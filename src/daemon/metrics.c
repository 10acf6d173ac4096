/* SPDX-License-Identifier: MIT */
/*
 * metrics.c: the master's Prometheus endpoint (--metrics ADDR:PORT).
 *
 * The master serves it from its own loop and must never wait for a
 * scraper: its supervision (reaping, respawning, the watchdog) comes
 * first. So the listener and every connection are non-blocking,
 * master_wait() polls them together with its signals, and each
 * connection goes through three states, each under a deadline:
 *
 *   read    the request head, at most ACKD_METRICS_HEAD_MAX bytes, judged
 *           by http_parse() as it comes (the first read right at accept:
 *           a scraper sends it with its connection); METRICS_READ_MS to
 *           send it all
 *   write   the whole response, built at once from the scoreboard;
 *           METRICS_WRITE_MS to take it
 *   linger  our side is shut; what the client still sends is read and
 *           dropped (up to METRICS_LINGER_MAX bytes) until it closes or
 *           METRICS_LINGER_MS pass: closing with unread input would reset
 *           the connection and could destroy the response in flight
 *
 * At most METRICS_CONNS connections at once, and none waits for a slot:
 * a scraper must never queue behind slow connections, or a few silent
 * ones (a slow loris) would hold the endpoint for their whole deadlines
 * and a flood would keep it full. So the listener is always polled, and
 * each turn accepts all that is pending (up to METRICS_ACCEPT_BATCH, so
 * supervision still gets its turn); a newcomer that finds every slot
 * taken evicts the oldest connection that is slowest to be done with:
 * one still sending its request first, then one lingering (its answer
 * is sent already), then one still taking its answer. A real scraper
 * sends its request with its connection, is answered at accept, and so
 * is never the one evicted unless METRICS_CONNS newer ones come before
 * its request does. Ready connections are served before the listener,
 * so one whose request came is answered before anything is evicted.
 * Where the kernel can, it holds a connection back until its request
 * begins (TCP_DEFER_ACCEPT): a flood of silent ones mostly waits there.
 *
 * The workers are forked by the master, so each closes its copies of
 * these descriptors first (metrics_close): a scraper would otherwise see
 * the end of its response only when every worker forked meanwhile had
 * gone.
 *
 * An upgrade (upgrade.c) hands the listener to the new master rather
 * than have it bind again: the old one holds the port until it leaves,
 * and a bind then would fail, or leave a gap in which scrapes are
 * refused. The new master holds it unpolled (metrics_held) until the
 * old one has closed its copy (metrics_resume), so only one master ever
 * answers; a scrape in between waits in the shared backlog.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"
#include "master.h"

#define METRICS_CONNS		(ACKD_METRICS_FDS - 1)
/* The backlog takes a burst while the master's turn comes round. */
#define METRICS_BACKLOG		1024
#define METRICS_ACCEPT_BATCH	1024
#define METRICS_READ_MS		2000
#define METRICS_WRITE_MS	5000
#define METRICS_LINGER_MS	1000
#define METRICS_LINGER_MAX	(256 * 1024)
/* How long accepting pauses when the process is out of descriptors. */
#define METRICS_PAUSE_MS	1000
/* A first guess at the body's size: two workers fit. */
#define METRICS_BODY_SIZE	8192

#define METRICS_PATH		"/metrics"
#define METRICS_TYPE		"text/plain; version=0.0.4; charset=utf-8"
#define METRICS_ERROR_TYPE	"text/plain; charset=utf-8"

enum metrics_state {
	METRICS_FREE,
	METRICS_READ,
	METRICS_WRITE,
	METRICS_LINGER
};

struct metrics_conn {
	enum metrics_state	 state;
	int			 fd;
	unsigned long long	 seq;		/* order of accepting */
	long long		 deadline;	/* ms, monotonic */
	size_t			 in_len;	/* head bytes, or bytes dropped */
	char			 head[ACKD_METRICS_HEAD_MAX];
	char			*out;		/* the response being written */
	size_t			 out_len;
	size_t			 out_off;
};

/* A response body being built; failed once memory ran out. */
struct metrics_text {
	char	*buf;
	size_t	 len;
	size_t	 size;
	int	 failed;
};

static int			 metrics_lfd = -1;
static int			 metrics_held;	/* an old master's still */
static struct metrics_conn	 metrics_conns[METRICS_CONNS];
static long long		 metrics_paused_until;	/* 0: accepting */
static unsigned long long	 metrics_seq;		/* accepted so far */
static struct timespec		 metrics_started;	/* wall clock */

/*
 * Where the kernel can (Linux), hand over a connection only once its
 * request has begun to come: connections that stay silent (a flood)
 * then wait in the kernel, not in our slots, and a scraper is accepted
 * with its request, answered at once and never evicted. The kernel hands
 * a silent one over after about METRICS_READ_MS anyway.
 */
static void
metrics_defer_accept(int fd)
{
#if HAVE_DECL_TCP_DEFER_ACCEPT
	int	secs = METRICS_READ_MS / 1000;

	if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs,
	    sizeof(secs)) == -1)
		diag_warn("metrics: cannot set TCP_DEFER_ACCEPT");
#else
	(void)fd;
#endif
}

/*
 * Take the listener an upgrading master passed as fd (upgrade.c), held
 * until metrics_resume, and log where it listens. fd, or -1 with err.
 */
static int
metrics_adopt(int fd, char *err, size_t errsize)
{
	struct sockaddr_storage	ss;
	socklen_t		sslen = sizeof(ss);
	char			addr[ACKD_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		snprintf(err, errsize, "--metrics: descriptor %d from the old "
		    "master is not a socket", fd);
		return (-1);
	}
	addr_format(addr, sizeof(addr), (struct sockaddr *)&ss, sslen);
	msglog_event("metrics", "listen=%s", addr);
	clock_gettime(CLOCK_REALTIME, &metrics_started);
	metrics_lfd = fd;
	metrics_held = 1;
	return (fd);
}

/* The old master has closed its listener: ours is now the one to serve. */
void
metrics_resume(void)
{
	metrics_held = 0;
}

/* The listener, to hand to a new master (upgrade.c), or -1. */
int
metrics_fd(void)
{
	return (metrics_lfd);
}

/*
 * Open the listener on cfg->metrics and log where it listens (the
 * kernel's port for port 0), or take given, the one an upgrade handed
 * over (upgrade_metrics_fd; -1: none).
 * ACKD_NONE when --metrics is off; the descriptor; or -1 with err set to
 * one line.
 */
int
metrics_listen(const struct ackd_config *cfg, int given, char *err,
    size_t errsize)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 addr[ACKD_ADDRSTRLEN], reason[128];
	const char		*what;
	int			 fd, on = 1, saved;

	if (cfg->metrics[0] == '\0')
		return (ACKD_NONE);
	if (given != -1)
		return (metrics_adopt(given, err, errsize));
	if (addr_parse_hostport(cfg->metrics, &ss, &sslen) == -1) {
		snprintf(err, errsize, "--metrics: '%s' is not a numeric "
		    "ADDR:PORT", cfg->metrics);
		return (-1);
	}
	what = "socket";
	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1)
		goto fail;
	what = "set options on";
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    net_set_nonblock(fd, 1) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail_close;
	what = "bind";
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1)
		goto fail_close;
	what = "listen on";
	if (listen(fd, METRICS_BACKLOG) == -1)
		goto fail_close;
	metrics_defer_accept(fd);
	sslen = sizeof(ss);
	what = "find the address of";
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1)
		goto fail_close;
	addr_format(addr, sizeof(addr), (struct sockaddr *)&ss, sslen);
	msglog_event("metrics", "listen=%s", addr);
	clock_gettime(CLOCK_REALTIME, &metrics_started);
	metrics_lfd = fd;
	return (fd);

fail_close:
	saved = errno;
	close(fd);
	errno = saved;
fail:
	saved = errno;
	addr_format(addr, sizeof(addr), (struct sockaddr *)&ss, sslen);
	snprintf(err, errsize, "--metrics: cannot %s %s: %s", what, addr,
	    diag_strerror(saved, reason, sizeof(reason)));
	errno = saved;
	return (-1);
}

/*
 * How readily a connection in state st gives its slot to a newcomer:
 * free first; then one still sending its request (slow, or a slow
 * loris); then one lingering, whose answer is sent; last one still
 * taking its answer.
 */
static int
metrics_evict_rank(enum metrics_state st)
{
	switch (st) {
	case METRICS_FREE:	return (0);
	case METRICS_READ:	return (1);
	case METRICS_LINGER:	return (2);
	default:		return (3);
	}
}

/*
 * The slot a newcomer takes: a free one, else the oldest of the lowest
 * metrics_evict_rank. Pure: the caller closes what was in it.
 */
static struct metrics_conn *
metrics_victim(void)
{
	struct metrics_conn	*c, *best = &metrics_conns[0];
	int			 i, rank, best_rank = 4;

	for (i = 0; i < METRICS_CONNS; i++) {
		c = &metrics_conns[i];
		rank = metrics_evict_rank(c->state);
		if (rank < best_rank ||
		    (rank == best_rank && c->seq < best->seq)) {
			best = c;
			best_rank = rank;
		}
	}
	return (best);
}

/*
 * The descriptors the master's wait must watch: each connection for what
 * its state waits for, then the listener (unless accepting is paused:
 * a full table is no reason, a newcomer evicts). Returns how many were
 * written (at most max).
 */
int
metrics_pollfds(struct pollfd *fds, int max)
{
	struct metrics_conn	*c;
	int			 i, n = 0;

	if (metrics_lfd == -1 || metrics_held)
		return (0);
	for (i = 0; i < METRICS_CONNS && n < max; i++) {
		c = &metrics_conns[i];
		if (c->state == METRICS_FREE)
			continue;
		fds[n].fd = c->fd;
		fds[n].events = c->state == METRICS_WRITE ? POLLOUT : POLLIN;
		fds[n++].revents = 0;
	}
	if (n < max && metrics_paused_until == 0) {
		fds[n].fd = metrics_lfd;
		fds[n].events = POLLIN;
		fds[n++].revents = 0;
	}
	return (n);
}

/* Close a connection and free its slot. */
static void
metrics_drop(struct metrics_conn *c)
{
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->state = METRICS_FREE;
}

/*
 * Write into size bytes at dst the escaping of src that the exposition
 * format wants: backslash and newline in help text, and the double
 * quote too in a label value. Like snprintf: returns the length of the
 * whole escaping, writes what fits, always ends dst with a NUL.
 */
size_t
metrics_escape(char *dst, size_t size, const char *src, int label)
{
	size_t		 len = 0;
	const char	*rep;
	char		 one[2];

	for (; *src != '\0'; src++) {
		if (*src == '\\')
			rep = "\\\\";
		else if (*src == '\n')
			rep = "\\n";
		else if (*src == '"' && label)
			rep = "\\\"";
		else {
			one[0] = *src;
			one[1] = '\0';
			rep = one;
		}
		for (; *rep != '\0'; rep++, len++)
			if (len + 1 < size)
				dst[len] = *rep;
	}
	if (size > 0)
		dst[len < size ? len : size - 1] = '\0';
	return (len);
}

/* Append to t as printf would; on failure t->failed stays set. */
static void __attribute__((format(printf, 2, 3)))
metrics_printf(struct metrics_text *t, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 size;
	char	*p;
	int	 n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < t->size - t->len)
			break;
		size = t->size * 2 > t->len + (size_t)n + 1 ? t->size * 2 :
		    t->len + (size_t)n + 1;
		if ((p = realloc(t->buf, size)) == NULL) {
			t->failed = 1;
			return;
		}
		t->buf = p;
		t->size = size;
	}
	t->len += (size_t)n;
}

/* Append the HELP and TYPE lines of one metric. */
static void
metrics_family(struct metrics_text *t, const char *name, const char *help,
    const char *type)
{
	char	esc[512];

	metrics_escape(esc, sizeof(esc), help, 0);
	metrics_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, esc, name,
	    type);
}

/* Append the master's own metrics: workers alive, up, start, version. */
static void
metrics_master(struct metrics_text *t, int live)
{
	char	version[128];

	metrics_family(t, "ackd_workers", "Worker processes alive.", "gauge");
	metrics_printf(t, "ackd_workers %d\n", live);
	metrics_family(t, "ackd_up", "Whether the master answers: always 1.",
	    "gauge");
	metrics_printf(t, "ackd_up 1\n");
	metrics_family(t, "ackd_start_time_seconds",
	    "When the master started, in seconds since the epoch.", "gauge");
	metrics_printf(t, "ackd_start_time_seconds %lld.%03ld\n",
	    (long long)metrics_started.tv_sec,
	    metrics_started.tv_nsec / 1000000);
	metrics_escape(version, sizeof(version), PACKAGE_VERSION, 1);
	metrics_family(t, "ackd_build_info", "The version of ackd running.",
	    "gauge");
	metrics_printf(t, "ackd_build_info{version=\"%s\"} 1\n", version);
}

/*
 * The body of a scrape, in the text exposition format: every counter
 * and gauge of stats.c, one sample per worker slot (label worker="SLOT")
 * for the slots that have a live worker or ever counted anything (and
 * worker="master" for the master's failed reopens), then the master's
 * own gauges. Counters are the slot's since the start, across the
 * workers that held it, so they never go down. Returns a buffer to free
 * with its length in *len, or NULL if memory ran out.
 */
char *
metrics_body(size_t *len)
{
	static struct stats_snap snap[ACKD_WORKERS_MAX];  /* off the stack */
	struct stats_snap	 master;
	unsigned char		 shown[ACKD_WORKERS_MAX];
	struct metrics_text	 t;
	int			 i, k, live = 0;

	for (i = 0; i < ACKD_WORKERS_MAX; i++) {
		scoreboard_snap(i, &snap[i]);
		shown[i] = scoreboard_live(i);
		live += shown[i];
		for (k = 0; !shown[i] && k < STATS_NCOUNTERS; k++)
			shown[i] = snap[i].counter[k] != 0;
	}
	stats_read(scoreboard_master(), &master);
	memset(&t, 0, sizeof(t));
	if ((t.buf = malloc(METRICS_BODY_SIZE)) == NULL)
		return (NULL);
	t.size = METRICS_BODY_SIZE;
	for (k = 0; k < STATS_NCOUNTERS; k++) {
		metrics_family(&t, stats_counter_names[k].metric,
		    stats_counter_names[k].help, "counter");
		for (i = 0; i < ACKD_WORKERS_MAX; i++)
			if (shown[i])
				metrics_printf(&t, "%s{worker=\"%d\"} %lu\n",
				    stats_counter_names[k].metric, i,
				    snap[i].counter[k]);
		/* the one counter the master moves itself, always shown */
		if (k == STATS_REOPEN_FAILED)
			metrics_printf(&t, "%s{worker=\"master\"} %lu\n",
			    stats_counter_names[k].metric, master.counter[k]);
	}
	for (k = 0; k < STATS_NGAUGES; k++) {
		metrics_family(&t, stats_gauge_names[k].metric,
		    stats_gauge_names[k].help, "gauge");
		for (i = 0; i < ACKD_WORKERS_MAX; i++)
			if (shown[i])
				metrics_printf(&t, "%s{worker=\"%d\"} %ld\n",
				    stats_gauge_names[k].metric, i,
				    snap[i].gauge[k]);
	}
	metrics_master(&t, live);
	if (t.failed) {
		free(t.buf);
		return (NULL);
	}
	*len = t.len;
	return (t.buf);
}

static void	metrics_write(struct metrics_conn *);

/*
 * Answer c with status: the metrics for 200, else a one-line body
 * naming the status. Then write what the socket takes at once.
 */
static void
metrics_answer(struct metrics_conn *c, int status)
{
	char		 head[256], line[64], *body = NULL;
	const char	*type = METRICS_TYPE, *from;
	size_t		 hlen, blen = 0;

	if (status == 200 && (body = metrics_body(&blen)) == NULL)
		status = 500;
	if (status != 200) {
		type = METRICS_ERROR_TYPE;
		blen = (size_t)snprintf(line, sizeof(line), "%d %s\n", status,
		    http_reason(status));
	}
	from = body != NULL ? body : line;
	hlen = http_head(head, sizeof(head), status, type, blen);
	if (hlen == 0 || (c->out = malloc(hlen + blen)) == NULL) {
		free(body);
		metrics_drop(c);
		return;
	}
	memcpy(c->out, head, hlen);
	memcpy(c->out + hlen, from, blen);
	free(body);
	c->out_len = hlen + blen;
	c->out_off = 0;
	c->state = METRICS_WRITE;
	c->deadline = mono_ms() + METRICS_WRITE_MS;
	metrics_write(c);
}

/* Read and drop what a client still sends; close at its end or limit. */
static void
metrics_linger(struct metrics_conn *c)
{
	ssize_t	n;

	for (;;) {
		n = recv(c->fd, c->head, sizeof(c->head), 0);
		if (n > 0 && (c->in_len += (size_t)n) < METRICS_LINGER_MAX)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		metrics_drop(c);	/* its end, an error, or enough */
		return;
	}
}

/* Write what the socket takes of the response; once done, linger. */
static void
metrics_write(struct metrics_conn *c)
{
	ssize_t	n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* POLLOUT tells us when */
		if (n == -1) {
			metrics_drop(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	if (shutdown(c->fd, SHUT_WR) == -1) {
		metrics_drop(c);
		return;
	}
	c->state = METRICS_LINGER;
	c->in_len = 0;
	c->deadline = mono_ms() + METRICS_LINGER_MS;
	metrics_linger(c);
}

/* Read more of the request head; answer once http_parse has judged it. */
static void
metrics_read(struct metrics_conn *c)
{
	ssize_t	n;
	int	status;

	n = recv(c->fd, c->head + c->in_len, sizeof(c->head) - c->in_len, 0);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			metrics_drop(c);
		return;
	}
	if (n == 0) {
		/* the client is done sending: a head cut short is malformed */
		if (c->in_len == 0)
			metrics_drop(c);
		else
			metrics_answer(c, 400);
		return;
	}
	c->in_len += (size_t)n;
	/* a full buffer is always judged (431 at worst): no zero-size read */
	status = http_parse(c->head, c->in_len, sizeof(c->head),
	    METRICS_PATH);
	if (status != 0)
		metrics_answer(c, status);
}

/* Accept one connection, non-blocking: its descriptor, or -1 (errno). */
static int
metrics_accept_one(void)
{
	int	fd;

#ifdef HAVE_ACCEPT4
	fd = accept4(metrics_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
	fd = accept(metrics_lfd, NULL, NULL);
	if (fd != -1 && (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    net_set_nonblock(fd, 1) == -1)) {
		close(fd);
		errno = ECONNABORTED;	/* this one is lost: take the next */
		return (-1);
	}
#endif
	return (fd);
}

/*
 * A slot for a newcomer: free, or emptied by evicting metrics_victim().
 * A victim still reading is read once more first: its request may have
 * come since the wait (a flood can bring METRICS_CONNS newcomers in one
 * turn), and then it is answered and spared, and another is chosen.
 */
static struct metrics_conn *
metrics_make_room(void)
{
	struct metrics_conn	*c;
	int			 tries;

	for (tries = 0; tries < METRICS_CONNS; tries++) {
		c = metrics_victim();
		if (c->state != METRICS_READ)
			break;
		metrics_read(c);
		if (c->state == METRICS_READ || c->state == METRICS_FREE)
			break;
	}
	if (c->state != METRICS_FREE)
		metrics_drop(c);
	return (c);
}

/*
 * Accept what the backlog holds (up to METRICS_ACCEPT_BATCH a turn),
 * each into the slot metrics_make_room() gives, and read at once the
 * request that came with it.
 */
static void
metrics_accept(void)
{
	struct metrics_conn	*c;
	int			 fd, n;

	for (n = 0; n < METRICS_ACCEPT_BATCH; n++) {
		if ((fd = metrics_accept_one()) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* EMFILE and the like: polling on would spin */
			diag_warn("metrics: cannot accept, pausing for %d ms",
			    METRICS_PAUSE_MS);
			metrics_paused_until = mono_ms() + METRICS_PAUSE_MS;
			return;
		}
		c = metrics_make_room();
		c->state = METRICS_READ;
		c->fd = fd;
		c->seq = ++metrics_seq;
		c->in_len = 0;
		c->out = NULL;
		c->deadline = mono_ms() + METRICS_READ_MS;
		metrics_read(c);
	}
}

/*
 * Serve the descriptors the master's wait found ready: the connections
 * first, so that one whose request came is answered before newcomers
 * can evict it, then the listener.
 */
void
metrics_io(struct pollfd *fds, int n)
{
	struct metrics_conn	*c;
	int			 i, k, listener = 0;

	for (i = 0; i < n; i++) {
		if (fds[i].revents == 0)
			continue;
		if (fds[i].fd == metrics_lfd) {
			listener = 1;
			continue;
		}
		for (k = 0; k < METRICS_CONNS; k++)
			if (metrics_conns[k].state != METRICS_FREE &&
			    metrics_conns[k].fd == fds[i].fd)
				break;
		if (k == METRICS_CONNS)
			continue;
		c = &metrics_conns[k];
		if (c->state == METRICS_READ)
			metrics_read(c);
		else if (c->state == METRICS_WRITE)
			metrics_write(c);
		else
			metrics_linger(c);
	}
	if (listener)
		metrics_accept();
}

/*
 * Close the connections past their deadline, and end a pause in
 * accepting. Returns ms until the next deadline, or -1 if there is none.
 */
long long
metrics_timers(void)
{
	struct metrics_conn	*c;
	long long		 now, next = -1, left;
	int			 i;

	if (metrics_lfd == -1)
		return (-1);
	now = mono_ms();
	for (i = 0; i < METRICS_CONNS; i++) {
		c = &metrics_conns[i];
		if (c->state == METRICS_FREE)
			continue;
		left = c->deadline - now;
		if (left <= 0)
			metrics_drop(c);
		else if (next < 0 || left < next)
			next = left;
	}
	if (metrics_paused_until != 0) {
		left = metrics_paused_until - now;
		if (left <= 0)
			metrics_paused_until = 0;
		else if (next < 0 || left < next)
			next = left;
	}
	return (next);
}

/*
 * Close the listener and every connection: in a new worker (whose
 * copies they are: the master's stay open) and when the master ends.
 */
void
metrics_close(void)
{
	int	i;

	for (i = 0; i < METRICS_CONNS; i++)
		if (metrics_conns[i].state != METRICS_FREE)
			metrics_drop(&metrics_conns[i]);
	if (metrics_lfd != -1)
		close(metrics_lfd);
	metrics_lfd = -1;
}
