/* SPDX-License-Identifier: MIT */
/*
 * bench_attack.c: ackd-bench's attack clients (--attack-concurrency with
 * --trickle, --silent or --no-read) and their event loop, on a thread of
 * their own.
 *
 * An attack client holds one connection at a time and opens the next as
 * soon as the server has closed it: socket, bind the next address of
 * --attack-sources, non-blocking connect, one epoll_ctl ADD (input, output,
 * the peer's close; edge-triggered; closing the socket takes it out
 * again), its first bytes (run->attack_first), and then:
 *
 *   trickle  one more byte every --trickle seconds, forever; whatever the
 *            server sends is read and dropped, and its FIN does not stop
 *            the bytes: a byte goes at once, which a closed socket
 *            answers with a reset, and a server that half-closed and
 *            reads on (a lingering close) is held until it closes;
 *   silent   nothing more; whatever the server sends is read and dropped;
 *   no-read  nothing more, and nothing is ever read: only the server's
 *            close (EPOLLRDHUP, EPOLLHUP, EPOLLERR) is watched for.
 *
 * An attack client never closes a connection itself before the attack
 * ends: the server decides how long it is held, and the client connects
 * again in the same turn of the loop, after the batch of events (from the
 * ready list: a server that resets every connection at once cannot make
 * it recurse). A connection counts as
 * opened once it is known to be established (some bytes went out, or
 * epoll reported it writable or closed without an error); one that never
 * was (refused, timed out, no descriptor or port) is a failure, counted,
 * and its client tries again after a pause, so a server that is gone does
 * not make the loop spin. A server's reset after the connection was
 * established (ECONNRESET, EPIPE) is a close by the server, counted apart.
 *
 * The attack has its own thread and epoll set, apart from the well-behaved
 * clients (bench_loop.c): their latency is measured by loops that do no
 * attack work. epoll_wait returns only the connections with news, so
 * 10,000 held connections cost nothing between events. The only timers are
 * the tricklers' next bytes: all have the same period, so appending at
 * now + period keeps the ticks list in deadline order and its head is the
 * next one due, with no scan; the paused list is the same with its fixed
 * pause.
 *
 * The counts cover the whole run, warm-up included. The attack stops when
 * the main thread says so through stop_fd (a signal, or the well-behaved
 * clients have all finished) or at the latest when the well-behaved
 * connections are cut off (--duration, and the drain second after it
 * when there are any). Every connection still established then is counted
 * as open at the end, with the age of the oldest, and closed.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_ATTACK_EVENTS	256			/* per epoll_wait */
#define BENCH_ATTACK_PAUSE_NS	(100 * BENCH_NS_MS)	/* after a failure */

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0		/* SIGPIPE is ignored too */
#endif

/* --- the lists and the counts ----------------------------------------- */

/* Append c to list l (ticks or paused): its deadline is the latest. */
static void
bench_attack_list(struct bench_attackers *l, struct bench_attacker *c)
{
	TAILQ_INSERT_TAIL(l, c, link);
	c->listed = 1;
}

/* Take c off the list it is on, if any: its state says which. */
static void
bench_attack_unlist(struct bench_attack *a, struct bench_attacker *c)
{
	if (!c->listed)
		return;
	if (c->state == BENCH_ATTACKER_PAUSED)
		TAILQ_REMOVE(&a->paused, c, link);
	else if (c->state == BENCH_ATTACKER_READY)
		TAILQ_REMOVE(&a->ready, c, link);
	else
		TAILQ_REMOVE(&a->ticks, c, link);
	c->listed = 0;
}

/* Close c's socket, if it has one; that takes it out of the epoll set. */
static void
bench_attack_close_fd(struct bench_attacker *c)
{
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}

/* The pending error of socket fd (SO_ERROR), or errno if none is had. */
static int
bench_attack_sockerr(int fd)
{
	socklen_t	len;
	int		err = 0;

	len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return (errno);
	return (err);
}

/* c's connect failed with err: count it; c tries again after a pause. */
static void
bench_attack_fail(struct bench_attack *a, struct bench_attacker *c,
    uint64_t now, int err)
{
	bench_attack_close_fd(c);
	a->counts.failed++;
	if (a->counts.first_failure == 0)
		a->counts.first_failure = err != 0 ? err : EIO;
	c->state = BENCH_ATTACKER_PAUSED;
	c->deadline = now + BENCH_ATTACK_PAUSE_NS;
	bench_attack_list(&a->paused, c);
}

/* c turned out to be established: count it; its first bytes go next. */
static void
bench_attack_opened(struct bench_attack *a, struct bench_attacker *c)
{
	a->open++;
	a->counts.opened++;
	c->state = BENCH_ATTACKER_SENDING;
}

/*
 * The server closed c's established connection (reset: with an error):
 * count it and how long it was held; c connects again this turn.
 */
static void
bench_attack_closed(struct bench_attack *a, struct bench_attacker *c,
    uint64_t now, int reset)
{
	bench_attack_unlist(a, c);
	bench_attack_close_fd(c);
	a->open--;
	a->counts.closed++;
	if (reset)
		a->counts.reset++;
	hist_record(&a->held, now > c->start ? (now - c->start) / 1000 : 0);
	c->state = BENCH_ATTACKER_READY;
	bench_attack_list(&a->ready, c);
}

/*
 * Sending on c or reading from it failed with err: a connect that never
 * succeeded, or a reset of an established connection.
 */
static void
bench_attack_broken(struct bench_attack *a, struct bench_attacker *c,
    uint64_t now, int err)
{
	if (c->state == BENCH_ATTACKER_CONNECTING && err != ECONNRESET &&
	    err != EPIPE) {
		bench_attack_fail(a, c, now, err);
		return;
	}
	if (c->state == BENCH_ATTACKER_CONNECTING)
		bench_attack_opened(a, c);
	bench_attack_closed(a, c, now, 1);
}

/* --- one client --------------------------------------------------------- */

/*
 * Send what is left of c's first bytes. A connection still connecting
 * takes none (EAGAIN) and waits for epoll. 0, or -1 and errno.
 */
static int
bench_attack_send_first(struct bench_attack *a, struct bench_attacker *c)
{
	const struct bench_run	*run = a->run;
	ssize_t			 n;

	while (c->sent < run->attack_first_len) {
		n = send(c->fd, run->attack_first + c->sent,
		    run->attack_first_len - c->sent, MSG_NOSIGNAL);
		if (n > 0) {
			c->sent += (size_t)n;
			a->counts.bytes_sent += (uint64_t)n;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ENOTCONN)
			return (0);
		else if (errno != EINTR)
			return (-1);
	}
	return (0);
}

/*
 * Send what c can of its first bytes (some sent: it is established). Once
 * all are out it holds, and a trickler waits for its first tick. 0, or -1
 * and errno.
 */
static int
bench_attack_advance(struct bench_attack *a, struct bench_attacker *c,
    uint64_t now)
{
	const struct bench_run	*run = a->run;
	size_t			 before = c->sent;

	if (bench_attack_send_first(a, c) == -1)
		return (-1);
	if (c->state == BENCH_ATTACKER_CONNECTING && c->sent > before)
		bench_attack_opened(a, c);
	if (c->state != BENCH_ATTACKER_SENDING ||
	    c->sent < run->attack_first_len)
		return (0);
	c->state = BENCH_ATTACKER_HOLDING;
	if (run->cfg->attack == BENCH_ATTACK_TRICKLE) {
		c->deadline = now + (uint64_t)run->cfg->trickle_ms *
		    BENCH_NS_MS;
		bench_attack_list(&a->ticks, c);
	}
	return (0);
}

/* Open c's socket, connect it, add it to the epoll set; -1 and errno. */
static int
bench_attack_open(struct bench_attack *a, struct bench_attacker *c)
{
	const struct bench_run		*run = a->run;
	const struct sockaddr_in	*src;
	struct epoll_event		 ev;

	c->fd = socket(run->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		return (-1);
	if (run->nattack_sources > 0) {
		src = &run->attack_sources[a->source];
		if (++a->source == (unsigned)run->nattack_sources)
			a->source = 0;
		if (bench_conn_bind_to(c->fd, src) == -1)
			return (-1);
	}
	if (connect(c->fd, (const struct sockaddr *)&run->addr,
	    run->addrlen) == -1 && errno != EINPROGRESS && errno != EINTR)
		return (-1);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	return (epoll_ctl(a->epfd, EPOLL_CTL_ADD, c->fd, &ev));
}

/* Start c's next connection, unless the attack is stopping. */
static void
bench_attack_start(struct bench_attack *a, struct bench_attacker *c,
    uint64_t now)
{
	if (a->stopping) {
		c->state = BENCH_ATTACKER_IDLE;
		return;
	}
	a->counts.started++;
	/* now may be a batch of events old: the hold starts at this connect */
	c->start = mono_ns();
	c->sent = 0;
	c->fin = 0;
	c->state = BENCH_ATTACKER_CONNECTING;
	if (bench_attack_open(a, c) == -1) {
		bench_attack_fail(a, c, now, errno);
		return;
	}
	/* on loopback the handshake is usually done already */
	if (bench_attack_advance(a, c, now) == -1)
		bench_attack_broken(a, c, now, errno);
}

/* Send c's next filler byte now: 0, or -1 and errno if c is broken. */
static int
bench_attack_byte(struct bench_attack *a, struct bench_attacker *c)
{
	ssize_t	n;
	char	byte;

	byte = bench_conn_filler(c->sent);
	n = send(c->fd, &byte, 1, MSG_NOSIGNAL);
	if (n == 1) {
		c->sent++;
		a->counts.bytes_sent++;
	} else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR)
		return (-1);
	return (0);
}

/*
 * Read and drop what the server sent c, to its FIN or an EAGAIN. A FIN
 * closes c, but for a trickler: it sends a byte at once, which a server
 * that closed its socket answers with a reset, and goes on.
 */
static void
bench_attack_drain(struct bench_attack *a, struct bench_attacker *c,
    uint64_t now)
{
	ssize_t	n;

	for (;;) {
		n = recv(c->fd, a->rbuf, sizeof(a->rbuf), 0);
		if (n > 0 || (n == -1 && errno == EINTR))
			continue;
		if (n == 0 && a->run->cfg->attack == BENCH_ATTACK_TRICKLE) {
			c->fin = 1;
			if (bench_attack_byte(a, c) == -1)
				bench_attack_broken(a, c, now, errno);
		} else if (n == 0)
			bench_attack_closed(a, c, now, 0);
		else if (errno != EAGAIN && errno != EWOULDBLOCK)
			bench_attack_broken(a, c, now, errno);
		return;
	}
}

/*
 * Act on the epoll events ev of c. Without an error, any news from a
 * connecting socket means the handshake is done; a --no-read client only
 * looks for the server's close, the others read and drop.
 */
static void
bench_attack_event(struct bench_attack *a, struct bench_attacker *c,
    uint32_t ev)
{
	uint64_t	now = mono_ns();
	int		err;

	if (ev & EPOLLERR) {
		err = bench_attack_sockerr(c->fd);
		bench_attack_broken(a, c, now, err != 0 ? err : EIO);
		return;
	}
	if (c->state == BENCH_ATTACKER_CONNECTING)
		bench_attack_opened(a, c);
	if (c->state == BENCH_ATTACKER_SENDING &&
	    bench_attack_advance(a, c, now) == -1) {
		bench_attack_broken(a, c, now, errno);
		return;
	}
	if (a->run->cfg->attack == BENCH_ATTACK_NO_READ) {
		if (ev & (EPOLLRDHUP | EPOLLHUP))
			bench_attack_closed(a, c, now, 0);
		return;
	}
	if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && !c->fin)
		bench_attack_drain(a, c, now);
}

/* --- the loop ------------------------------------------------------------ */

/* Send each trickler due its next byte; queue its next tick. */
static void
bench_attack_ticks(struct bench_attack *a, uint64_t now)
{
	uint64_t		 period;
	struct bench_attacker	*c;

	period = (uint64_t)a->run->cfg->trickle_ms * BENCH_NS_MS;
	while ((c = TAILQ_FIRST(&a->ticks)) != NULL && c->deadline <= now) {
		bench_attack_unlist(a, c);
		if (bench_attack_byte(a, c) == -1) {
			bench_attack_broken(a, c, now, errno);
			continue;
		}
		/* now + period > now: this loop ends */
		c->deadline = now + period;
		bench_attack_list(&a->ticks, c);
	}
}

/*
 * Start again each client that the server closed, and each whose pause
 * after a failure is over.
 */
static void
bench_attack_restart(struct bench_attack *a, uint64_t now)
{
	struct bench_attackers	 ready;
	struct bench_attacker	*c;

	/* one closed again at once waits for the next turn */
	TAILQ_INIT(&ready);
	TAILQ_CONCAT(&ready, &a->ready, link);
	while ((c = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, c, link);
		c->listed = 0;
		bench_attack_start(a, c, now);
	}
	/* one that fails again is paused past now: this loop ends */
	while ((c = TAILQ_FIRST(&a->paused)) != NULL && c->deadline <= now) {
		bench_attack_unlist(a, c);
		bench_attack_start(a, c, now);
	}
}

/* Milliseconds epoll_wait may sleep: until the next tick, pause or end. */
static int
bench_attack_wait_ms(const struct bench_attack *a, uint64_t now)
{
	const struct bench_attacker	*c;
	uint64_t			 next;

	if (!TAILQ_EMPTY(&a->ready))
		return (0);
	next = a->stop_at != 0 ? a->stop_at : UINT64_MAX;
	if ((c = TAILQ_FIRST(&a->ticks)) != NULL && c->deadline < next)
		next = c->deadline;
	if ((c = TAILQ_FIRST(&a->paused)) != NULL && c->deadline < next)
		next = c->deadline;
	return (mono_until_ms(next, now));
}

/*
 * The attack is over: count the connections still established (and the
 * oldest one's age) and those still connecting; close them all.
 */
static void
bench_attack_stop(struct bench_attack *a, uint64_t now)
{
	struct bench_attacker	*c;
	uint64_t		 age_us;
	int			 i;

	for (i = 0; i < a->nclients; i++) {
		c = &a->clients[i];
		if (c->state == BENCH_ATTACKER_CONNECTING)
			a->counts.connecting_at_end++;
		else if (c->state >= BENCH_ATTACKER_SENDING) {
			a->counts.open_at_end++;
			age_us = now > c->start ? (now - c->start) / 1000 : 0;
			if (age_us > a->counts.oldest_open_us)
				a->counts.oldest_open_us = age_us;
		}
		bench_attack_close_fd(c);
		c->state = BENCH_ATTACKER_IDLE;
		c->listed = 0;
	}
	TAILQ_INIT(&a->ticks);
	TAILQ_INIT(&a->paused);
	TAILQ_INIT(&a->ready);
	a->open = 0;
	a->end = now;
}

/* Wait for events until the next timer is due; act on them. */
static void
bench_attack_wait(struct bench_attack *a, uint64_t now)
{
	struct epoll_event	evs[BENCH_ATTACK_EVENTS];
	int			i, n;

	atomic_store_explicit(&a->pub_open, (uint64_t)a->open,
	    memory_order_relaxed);
	n = epoll_wait(a->epfd, evs, BENCH_ATTACK_EVENTS,
	    bench_attack_wait_ms(a, now));
	if (n == -1 && errno != EINTR)
		fatal(BENCH_EXIT_OSERR, "epoll_wait");
	for (i = 0; i < n; i++) {
		if (evs[i].data.ptr == NULL)
			a->stopping = 1;
		else
			bench_attack_event(a, evs[i].data.ptr, evs[i].events);
	}
}

/* The attack's thread: keep its clients connected until told to stop. */
void *
bench_attack_main(void *arg)
{
	struct bench_attack	*a = arg;
	struct bench_run	*run = a->run;
	uint64_t		 now, one = 1;
	int			 i;

	/* with well-behaved clients, it lasts as long as they can */
	if (run->stop_at != 0)
		a->stop_at = run->stop_at + (run->nthreads > 0 ?
		    BENCH_DRAIN_NS : 0);
	now = mono_ns();
	for (i = 0; i < a->nclients; i++)
		bench_attack_start(a, &a->clients[i], now);
	for (;;) {
		bench_attack_wait(a, now);
		now = mono_ns();
		if (a->stopping || (a->stop_at != 0 && now >= a->stop_at))
			break;
		bench_attack_ticks(a, now);
		bench_attack_restart(a, now);
	}
	bench_attack_stop(a, now);
	if (write(run->done_fd, &one, sizeof(one)) == -1)
		fatal(BENCH_EXIT_OSERR, "eventfd write");
	return (NULL);
}

/* Give the attack its clients and epoll set (stop_fd in it). */
void
bench_attack_init(struct bench_attack *a, struct bench_run *run)
{
	struct epoll_event	ev;
	int			i;

	a->run = run;
	a->nclients = run->cfg->attack_concurrency;
	a->clients = calloc((size_t)a->nclients, sizeof(*a->clients));
	if (a->clients == NULL)
		fatal(BENCH_EXIT_OSERR, "malloc");
	for (i = 0; i < a->nclients; i++)
		a->clients[i].fd = -1;
	TAILQ_INIT(&a->ticks);
	TAILQ_INIT(&a->paused);
	TAILQ_INIT(&a->ready);
	hist_init(&a->held);
	if ((a->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal(BENCH_EXIT_OSERR, "epoll_create1");
	ev.events = EPOLLIN;	/* level-triggered, as the other loops' */
	ev.data.ptr = NULL;
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, run->stop_fd, &ev) == -1)
		fatal(BENCH_EXIT_OSERR, "epoll_ctl");
}

/* Give back what bench_attack_init took. */
void
bench_attack_free(struct bench_attack *a)
{
	if (a->epfd != -1)
		close(a->epfd);
	a->epfd = -1;
	free(a->clients);
	a->clients = NULL;
}
