/* SPDX-License-Identifier: MIT */
/*
 * bench_conn.c: the life of one ackd-bench client, a connection at a time:
 * its error kinds, its unique message id, the --record buffer, counting
 * how it ended, and the state machine that drives it.
 *
 * A client's life: socket, bind a 127.0.0.x source (for a loopback host),
 * non-blocking connect, send at once (on loopback the handshake is done by
 * the time connect returns), with --half-close a shutdown of the sending
 * side once all is sent, one epoll_ctl ADD, read until the server
 * closes, compare the reply, close, start again in the same client. Closing
 * takes the socket out of the epoll set: there is never a MOD or a DEL.
 * Input is taken before output: a server that reads less than the whole
 * message may answer and close before all of it is sent.
 *
 * A connection is counted if it started after --warmup, however and
 * whenever it ends; with --count, a shared atomic budget hands out exactly
 * that many counted starts. One still in flight when the run ends is
 * abandoned: counted as unfinished, even if it started during the warmup
 * (it kept a client waiting all through the measured time), with its age
 * in the latency histogram as a lower bound of its latency. So no client
 * left waiting is missing from the figures.
 *
 * With --tls the socket is the same, and bench_tls.c's SSL rides on it:
 * the socket goes into epoll for input and output at once (edge-triggered,
 * so an idle direction costs nothing), and each event drives the client as
 * far as it goes: the handshake, then the message, sent as one TLS record
 * when it fits in one (the --unique prefix is copied in front of the first
 * record's bytes, so a server that reads one record reads the message
 * whole), then the reply to the server's close. The plain path is the same
 * code as without TLS but for one test of c->ssl per event.
 *
 * Lists are bench_loop.c's business: it owns them, finds the clients that
 * timed out or may start again, and calls in here. Each function here that
 * may end or restart a client answers where the client goes next (enum
 * bench_conn_next: still busy, busy again, ready, paused or idle), and the
 * loop moves it; nothing here calls back into the loop.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_PAUSE_NS		(10 * BENCH_NS_MS)	/* after a shortage */

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0		/* SIGPIPE is ignored too */
#endif

/* How a connection ended: the error kinds, then these two. */
#define BENCH_OK	BENCH_NKINDS
#define BENCH_WRONG	(BENCH_NKINDS + 1)

/* --- error kinds and message ids ------------------------------------- */

/* Which kind of error errno err is. */
static enum bench_kind
bench_conn_kind_of(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
	case EADDRNOTAVAIL:
	case EADDRINUSE:
	case ETIMEDOUT:
		return (BENCH_CONNECT);
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
		return (BENCH_RESET);
	case EPROTO:
		return (BENCH_TLS);	/* bench_tls.c's failures */
	default:
		return (BENCH_OTHER);
	}
}

/* Is err a local shortage, worth a pause before the client tries again? */
static int
bench_conn_is_shortage(int err)
{
	return (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM || err == EADDRNOTAVAIL);
}

/* Write v in decimal at buf (room for 20 digits); return the length. */
static size_t
bench_conn_utoa(char *buf, uint64_t v)
{
	char	tmp[20];
	size_t	n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return (n);
}

/* Give c the next unique prefix, "b<pid>-<thread>-<n> ". */
static void
bench_conn_id(struct bench_thread *t, struct bench_conn *c)
{
	size_t	n;

	memcpy(c->prefix, t->id_head, t->id_head_len);
	n = t->id_head_len + bench_conn_utoa(c->prefix + t->id_head_len,
	    t->seq++);
	c->prefix[n++] = ' ';
	c->prefix_len = (unsigned char)n;
}

/* The part of c's message after its prefix. */
static const char *
bench_conn_tail(const struct bench_run *run, const struct bench_conn *c,
    size_t *len)
{
	if (run->filler != NULL) {
		*len = run->cfg->size - c->prefix_len;
		return (run->filler + c->prefix_len);
	}
	*len = run->cfg->message.len;
	return (run->cfg->message.s);
}

/* --- the --record buffer --------------------------------------------- */

/* Append c's message and a newline to the record buffer. */
static void
bench_conn_record(struct bench_thread *t, const struct bench_conn *c)
{
	const struct bench_run	*run = t->run;
	struct iovec		 iov[3];
	const char		*tail;
	size_t			 len, tail_len;
	ssize_t			 n;

	tail = bench_conn_tail(run, c, &tail_len);
	len = c->prefix_len + tail_len + 1;
	if (t->record_len + len > BENCH_RECORD_BUF) {
		n = write(run->record_fd, t->record, t->record_len);
		if (n != (ssize_t)t->record_len)
			t->record_failed = n == -1 ? errno : EIO;
		t->record_len = 0;
	}
	if (len > BENCH_RECORD_BUF) {
		iov[0].iov_base = (void *)(uintptr_t)c->prefix;
		iov[0].iov_len = c->prefix_len;
		iov[1].iov_base = (void *)(uintptr_t)tail;
		iov[1].iov_len = tail_len;
		iov[2].iov_base = (void *)(uintptr_t)"\n";
		iov[2].iov_len = 1;
		n = writev(run->record_fd, iov, 3);
		if (n != (ssize_t)len)
			t->record_failed = n == -1 ? errno : EIO;
		return;
	}
	memcpy(t->record + t->record_len, c->prefix, c->prefix_len);
	memcpy(t->record + t->record_len + c->prefix_len, tail, tail_len);
	t->record[t->record_len + len - 1] = '\n';
	t->record_len += len;
}

/* Write out what the record buffer holds. */
void
bench_conn_record_flush(struct bench_thread *t)
{
	ssize_t	n;

	if (t->record_len == 0)
		return;
	n = write(t->run->record_fd, t->record, t->record_len);
	if (n != (ssize_t)t->record_len)
		t->record_failed = n == -1 ? errno : EIO;
	t->record_len = 0;
}

/* --- counting -------------------------------------------------------- */

/* Remember the first error of a kind, with when it happened. */
static void
bench_conn_first(struct bench_first *f, uint64_t now, int err)
{
	if (f->at == 0) {
		f->at = now;
		f->err = err;
	}
}

/*
 * Count how c ended (an error kind, BENCH_OK or BENCH_WRONG) if it is
 * counted (started after the warmup) or unfinished.
 */
static void
bench_conn_account(struct bench_thread *t, struct bench_conn *c, uint64_t now,
    int outcome, int err)
{
	const struct bench_run	*run = t->run;

	if (outcome == BENCH_OK && run->record_fd != -1)
		bench_conn_record(t, c);
	if (!c->counted && outcome != BENCH_UNFINISHED)
		return;
	t->counts.connections++;
	t->end = now;
	if (outcome == BENCH_OK) {
		t->counts.ok++;
		hist_record(&t->hist, (now - c->start) / 1000);
		atomic_store_explicit(&t->pub_ok, t->counts.ok,
		    memory_order_relaxed);
		return;
	}
	if (outcome == BENCH_WRONG) {
		t->counts.wrong++;
		if (t->first_wrong.at == 0) {
			bench_conn_first(&t->first_wrong, now, 0);
			t->sample_len = c->got < BENCH_HEAD ? c->got :
			    BENCH_HEAD;
			memcpy(t->sample, c->head, t->sample_len);
			t->sample_bytes = c->got;
		}
	} else {
		t->counts.errors[outcome]++;
		bench_conn_first(&t->first[outcome], now, err);
	}
	atomic_store_explicit(&t->pub_failed, t->counts.connections -
	    t->counts.ok, memory_order_relaxed);
}

/* --- the state machine ----------------------------------------------- */

/* Close c's connection (and its TLS); clean: the server closed it. */
static void
bench_conn_close(struct bench_thread *t, struct bench_conn *c, int clean)
{
	if (c->ssl != NULL)
		bench_tls_close(t, c, clean);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

/* c failed while starting: count it; it is to retry soon, or after a pause. */
static enum bench_conn_next
bench_conn_fail(struct bench_thread *t, struct bench_conn *c, uint64_t now,
    int err)
{
	bench_conn_close(t, c, 0);
	bench_conn_account(t, c, now, bench_conn_kind_of(err), err);
	c->state = BENCH_WAITING;
	if (!bench_conn_is_shortage(err))
		return (BENCH_NEXT_READY);
	c->deadline = now + BENCH_PAUSE_NS;
	return (BENCH_NEXT_PAUSED);
}

/*
 * c, a busy connection, ended: count it, close it, start the next; where
 * c goes now (never BENCH_NEXT_STAY).
 */
enum bench_conn_next
bench_conn_finish(struct bench_thread *t, struct bench_conn *c,
    uint64_t now, int outcome, int err)
{
	bench_conn_close(t, c, outcome == BENCH_OK || outcome == BENCH_WRONG);
	bench_conn_account(t, c, now, outcome, err);
	return (bench_conn_start(t, c, now));
}

/*
 * The run ended with c still in flight: close it and count it as
 * unfinished, its age so far in the histogram as a lower bound of its
 * latency. Never acknowledged, it is not recorded. It goes idle.
 */
void
bench_conn_abandon(struct bench_thread *t, struct bench_conn *c,
    uint64_t now)
{
	uint64_t	age_us = now > c->start ? (now - c->start) / 1000 : 0;

	bench_conn_close(t, c, 0);
	hist_record(&t->hist, age_us);
	if (age_us > t->counts.unfinished_us)
		t->counts.unfinished_us = age_us;
	bench_conn_account(t, c, now, BENCH_UNFINISHED, c->state);
	c->state = BENCH_IDLE;
}

/*
 * Send what is left of c's message: 1 when all of it is out, 0 when the
 * socket cannot take more now (or is still connecting), -1 on error.
 */
static int
bench_conn_send(struct bench_thread *t, struct bench_conn *c)
{
	struct msghdr	 msg;
	struct iovec	 iov[2];
	const char	*tail;
	size_t		 tail_len, total;
	ssize_t		 n;

	tail = bench_conn_tail(t->run, c, &tail_len);
	total = c->prefix_len + tail_len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	while (c->sent < total) {
		if (c->sent < c->prefix_len) {
			iov[0].iov_base = c->prefix + c->sent;
			iov[0].iov_len = c->prefix_len - c->sent;
			iov[1].iov_base = (void *)(uintptr_t)tail;
			iov[1].iov_len = tail_len;
			msg.msg_iovlen = tail_len > 0 ? 2 : 1;
		} else {
			iov[0].iov_base = (void *)(uintptr_t)(tail +
			    (c->sent - c->prefix_len));
			iov[0].iov_len = total - c->sent;
			msg.msg_iovlen = 1;
		}
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n >= 0)
			c->sent += (size_t)n;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (0);
		else if (errno != EINTR)
			return (-1);
	}
	if (total > t->longest)
		t->longest = total;
	return (1);
}

/* Bind socket fd to source address src, its port left to connect. */
int
bench_conn_bind_to(int fd, const struct sockaddr_in *src)
{
#ifdef IP_BIND_ADDRESS_NO_PORT
	int	one = 1;

	/* the port is then chosen at connect, per 4-tuple, not per address */
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one)) == -1)
		return (-1);
#endif
	return (bind(fd, (const struct sockaddr *)src, sizeof(*src)));
}

/* All of c's message is out: with --half-close, a FIN says so. */
static void
bench_conn_sent(struct bench_thread *t, struct bench_conn *c)
{
	c->state = BENCH_READING;
	if (!t->run->cfg->half_close)
		return;
	/* a failure here shows as the reply's, or as the server's wait */
	if (c->ssl != NULL)
		bench_tls_shutdown(c);
	(void)shutdown(c->fd, SHUT_WR);
}

/* Give c a source address of its own, round robin over --sources. */
static int
bench_conn_bind(struct bench_thread *t, struct bench_conn *c)
{
	const struct bench_run	*run = t->run;
	const struct sockaddr_in *src;

	src = &run->sources[t->source];
	if (++t->source == (unsigned)run->nsources)
		t->source = 0;
	return (bench_conn_bind_to(c->fd, src));
}

/* Open c's socket and start connecting it. */
static int
bench_conn_open(struct bench_thread *t, struct bench_conn *c)
{
	const struct bench_run	*run = t->run;

	c->fd = socket(run->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		return (-1);
	if (run->nsources > 0 && bench_conn_bind(t, c) == -1)
		return (-1);
	if (connect(c->fd, (const struct sockaddr *)&run->addr,
	    run->addrlen) == -1 && errno != EINPROGRESS && errno != EINTR)
		return (-1);
	return (0);
}

/*
 * Give c, connecting, its TLS and put it in epoll for both directions:
 * the first event (writable once connected) starts the handshake. Busy,
 * or ready or paused if that failed.
 */
static enum bench_conn_next
bench_conn_start_tls(struct bench_thread *t, struct bench_conn *c,
    uint64_t now)
{
	struct epoll_event	ev;

	if (bench_tls_open(t, c) == -1)
		return (bench_conn_fail(t, c, now, errno));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		return (bench_conn_fail(t, c, now, errno));
	c->state = BENCH_HANDSHAKING;
	return (BENCH_NEXT_BUSY);
}

/*
 * Start c if the run allows one more: busy, or ready or paused if that
 * failed at once; else the client goes idle for good.
 */
enum bench_conn_next
bench_conn_start(struct bench_thread *t, struct bench_conn *c,
    uint64_t now)
{
	struct bench_run	*run = t->run;
	struct epoll_event	 ev;
	int			 r = 0;

	if (t->stopping || (run->stop_at != 0 && now >= run->stop_at)) {
		c->state = BENCH_IDLE;
		return (BENCH_NEXT_IDLE);
	}
	c->counted = now >= run->measure_start;
	if (c->counted && run->budgeted &&
	    atomic_fetch_sub_explicit(&run->budget, 1,
	    memory_order_relaxed) <= 0) {
		c->state = BENCH_IDLE;
		return (BENCH_NEXT_IDLE);
	}
	/* now may be a batch of events old: latency starts at this connect */
	c->start = mono_ns();
	c->deadline = c->start + run->timeout_ns;
	c->sent = c->got = 0;
	c->bad = 0;
	if (run->cfg->unique)
		bench_conn_id(t, c);
	if (bench_conn_open(t, c) == -1)
		return (bench_conn_fail(t, c, now, errno));
	if (run->tls != NULL)
		return (bench_conn_start_tls(t, c, now));
	if ((r = bench_conn_send(t, c)) == -1 &&
	    bench_conn_kind_of(errno) != BENCH_RESET)
		return (bench_conn_fail(t, c, now, errno));
	/*
	 * All sent: only the reply matters, no EPOLLOUT wake-up to ignore. A
	 * reset while sending goes to the loop too: the reply and EOF of a
	 * server that answered early may be queued before it.
	 */
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (r == 1 ? 0 : EPOLLOUT);
	ev.data.ptr = c;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		return (bench_conn_fail(t, c, now, errno));
	if (r == 1)
		bench_conn_sent(t, c);
	else
		c->state = c->sent > 0 ? BENCH_SENDING : BENCH_CONNECTING;
	return (BENCH_NEXT_BUSY);
}

/* Compare n more reply bytes in buf with what --expect says comes next. */
static void
bench_conn_compare(struct bench_thread *t, struct bench_conn *c,
    const char *buf, size_t n)
{
	const struct bench_text	*expect = &t->run->cfg->expect;

	if (c->got < BENCH_HEAD)
		memcpy(c->head + c->got, buf, n < BENCH_HEAD - c->got ? n :
		    BENCH_HEAD - c->got);
	if (!c->bad && (c->got + n > expect->len ||
	    memcmp(buf, expect->s + c->got, n) != 0))
		c->bad = 1;
	c->got += n;
}

/* The server closed c: the reply is complete; where c goes now. */
static enum bench_conn_next
bench_conn_eof(struct bench_thread *t, struct bench_conn *c)
{
	int	ok = !c->bad && c->got == t->run->cfg->expect.len;

	return (bench_conn_finish(t, c, mono_ns(), ok ? BENCH_OK :
	    BENCH_WRONG, 0));
}

/*
 * Read what c's server sent; BENCH_NEXT_STAY unless that ended c. Once the
 * peer's FIN has been seen (EPOLLRDHUP) every byte before it is queued, so
 * a read that does not fill the buffer took the last of them: EOF without a
 * second read. Without RDHUP, a short read emptied the queue, and
 * edge-triggered epoll reports whatever comes next. After an error or a
 * hang-up no edge comes any more: read on to EOF or the error.
 */
static enum bench_conn_next
bench_conn_read(struct bench_thread *t, struct bench_conn *c, uint32_t ev)
{
	int	fin = (ev & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) == EPOLLRDHUP;
	int	final = (ev & (EPOLLERR | EPOLLHUP)) != 0;
	ssize_t	n;

	for (;;) {
		n = recv(c->fd, t->rbuf, sizeof(t->rbuf), 0);
		if (n > 0) {
			bench_conn_compare(t, c, t->rbuf, (size_t)n);
			if ((size_t)n == sizeof(t->rbuf) || final)
				continue;
			if (fin)
				break;
			return (BENCH_NEXT_STAY);
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (BENCH_NEXT_STAY);
		return (bench_conn_finish(t, c, mono_ns(),
		    bench_conn_kind_of(errno), errno));
	}
	return (bench_conn_eof(t, c));
}

/* --- with --tls ------------------------------------------------------- */

/*
 * The bytes of c's message from c->sent on that one SSL_write may take:
 * with a --unique prefix, the first record's are copied together into
 * t->tls_buf, so that the prefix and the message start share a record.
 */
static const char *
bench_conn_tls_chunk(struct bench_thread *t, struct bench_conn *c,
    size_t *len)
{
	const char	*tail;
	size_t		 tail_len, total, first;

	tail = bench_conn_tail(t->run, c, &tail_len);
	total = c->prefix_len + tail_len;
	if (c->prefix_len == 0 || c->sent >= BENCH_TLS_CHUNK) {
		*len = total - c->sent;
		return (tail + (c->sent - c->prefix_len));
	}
	first = total < BENCH_TLS_CHUNK ? total : BENCH_TLS_CHUNK;
	memcpy(t->tls_buf, c->prefix, c->prefix_len);
	memcpy(t->tls_buf + c->prefix_len, tail, first - c->prefix_len);
	*len = first - c->sent;
	return (t->tls_buf + c->sent);
}

/* bench_conn_send over TLS: 1 all sent, 0 not now, -1 error. */
static int
bench_conn_tls_send(struct bench_thread *t, struct bench_conn *c)
{
	const char	*buf;
	size_t		 len, total;
	ssize_t		 n;

	bench_conn_tail(t->run, c, &total);
	total += c->prefix_len;
	while (c->sent < total) {
		buf = bench_conn_tls_chunk(t, c, &len);
		if ((n = bench_tls_send(t, c, buf, len)) == -1)
			return (errno == EAGAIN ? 0 : -1);
		c->sent += (size_t)n;
	}
	if (total > t->longest)
		t->longest = total;
	return (1);
}

/* Read c's reply over TLS to the server's close; STAY until then. */
static enum bench_conn_next
bench_conn_tls_read(struct bench_thread *t, struct bench_conn *c)
{
	ssize_t	n;

	while ((n = bench_tls_recv(t, c, t->rbuf, sizeof(t->rbuf))) > 0)
		bench_conn_compare(t, c, t->rbuf, (size_t)n);
	if (n == 0)
		return (bench_conn_eof(t, c));
	if (errno == EAGAIN)
		return (BENCH_NEXT_STAY);
	return (bench_conn_finish(t, c, mono_ns(), bench_conn_kind_of(errno),
	    errno));
}

/*
 * An event on TLS client c, whatever it was: go on as far as it can, the
 * handshake, the message, the reply. Where c goes now.
 */
static enum bench_conn_next
bench_conn_tls_event(struct bench_thread *t, struct bench_conn *c)
{
	enum bench_conn_next	next;
	int			r, err;

	if (c->state == BENCH_HANDSHAKING) {
		if (bench_tls_handshake(t, c) == -1)
			return (errno == EAGAIN ? BENCH_NEXT_STAY :
			    bench_conn_finish(t, c, mono_ns(),
			    bench_conn_kind_of(errno), errno));
		c->state = BENCH_SENDING;
	}
	if (c->state == BENCH_SENDING) {
		if ((r = bench_conn_tls_send(t, c)) == 0)
			return (BENCH_NEXT_STAY);
		if (r == -1) {
			/* the reply and the close may be queued behind it */
			err = errno;
			if ((next = bench_conn_tls_read(t, c)) ==
			    BENCH_NEXT_STAY)
				next = bench_conn_finish(t, c, mono_ns(),
				    bench_conn_kind_of(err), err);
			return (next);
		}
		bench_conn_sent(t, c);
	}
	return (bench_conn_tls_read(t, c));
}

/* --- events ----------------------------------------------------------- */

/*
 * Act on the epoll events ev of busy connection c. Input is taken first: a
 * server that reads less than the whole message may answer and close
 * before it is all sent, and that answer is the reply. Where c goes now.
 */
enum bench_conn_next
bench_conn_event(struct bench_thread *t, struct bench_conn *c,
    uint32_t ev)
{
	enum bench_conn_next	next;
	int			r, err;

	if (c->ssl != NULL)
		return (bench_conn_tls_event(t, c));
	if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) &&
	    (next = bench_conn_read(t, c, ev)) != BENCH_NEXT_STAY)
		return (next);
	if (c->state == BENCH_READING || !(ev & (EPOLLOUT | EPOLLERR |
	    EPOLLHUP)))
		return (BENCH_NEXT_STAY);
	if ((r = bench_conn_send(t, c)) == -1) {
		/* the reply and EOF may be queued behind the broken pipe */
		err = errno;
		if ((next = bench_conn_read(t, c, EPOLLHUP)) == BENCH_NEXT_STAY)
			next = bench_conn_finish(t, c, mono_ns(),
			    bench_conn_kind_of(err), err);
		return (next);
	}
	if (r == 1)
		bench_conn_sent(t, c);
	else if (c->sent > 0)
		c->state = BENCH_SENDING;
	return (BENCH_NEXT_STAY);
}

/* Byte i of the filler: printable, no spaces, no newline. */
char
bench_conn_filler(size_t i)
{
	static const char	 chars[] =
	    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

	return (chars[i % (sizeof(chars) - 1)]);
}
