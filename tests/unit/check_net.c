/* SPDX-License-Identifier: MIT */
/*
 * check_net.c: unit tests of net.c: resolving --bind values, and the
 * listening socket and descriptor I/O over loopback (addr.c's parsing and
 * formatting: check_addr.c).
 *
 * SIGPIPE is deliberately left at its default here: net_write_all must
 * not raise it, and a test that did would die of it.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"

/* How long a test waits for something that must happen. */
#define CHECK_NET_DEADLINE_MS	5000

/* A listener on 127.0.0.1, a client connected to it and the accepted end. */
struct check_net_pair {
	int			lfd;
	int			client;
	int			server;
	struct conn		conn;	/* as net_accept saw the client */
};

/* Milliseconds on the monotonic clock. */
static long long
check_net_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* net_listen on the numeric address host, port, for cfg. */
static int
check_net_listen_on(const struct ackd_config *cfg, const char *host, int port,
    char *err, size_t errsize)
{
	struct sockaddr_storage	ss;
	socklen_t		len = 0;

	ck_assert_msg(addr_parse(host, port, &ss, &len) == 0, "'%s'", host);
	return (net_listen(cfg, (struct sockaddr *)&ss, len, err, errsize));
}

/* A listening socket on 127.0.0.1 and a port the kernel picked. */
static int
check_net_listen(int *port)
{
	struct ackd_config	cfg;
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	char			err[256] = "";
	int			fd;

	conf_defaults(&cfg);
	cfg.port = 0;
	cfg.defer_accept_ms = 1000;	/* what conf_parse makes of -1 */
	fd = check_net_listen_on(&cfg, "127.0.0.1", 0, err, sizeof(err));
	ck_assert_msg(fd >= 0, "net_listen 127.0.0.1:0: %s", err);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	ck_assert_int_eq(sin.sin_family, AF_INET);
	*port = ntohs(sin.sin_port);
	ck_assert_int_ne(*port, 0);
	return (fd);
}

/* Connect a new blocking client to 127.0.0.1:port. */
static int
check_net_connect(int port)
{
	struct sockaddr_in	sin;
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "connect to 127.0.0.1:%d: %s", port, strerror(errno));
	return (fd);
}

/* Wait until the listener has a connection to accept. */
static void
check_net_wait_readable(int fd)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };

	ck_assert_msg(poll(&pfd, 1, CHECK_NET_DEADLINE_MS) == 1,
	    "nothing to accept on the listener");
}

/*
 * Turn off the deferred accept net_listen sets up, so that a client that
 * has sent nothing yet can be accepted at once (the pair tests need that).
 */
static void
check_net_no_defer(int lfd)
{
#if HAVE_DECL_TCP_DEFER_ACCEPT
	int	off = 0;

	ck_assert_int_eq(setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &off,
	    sizeof(off)), 0);
#else
	(void)lfd;
#endif
}

/* Listen, connect and accept: a connected loopback pair. */
static void
check_net_pair_open(struct check_net_pair *p)
{
	int	port;

	p->lfd = check_net_listen(&port);
	check_net_no_defer(p->lfd);
	p->client = check_net_connect(port);
	check_net_wait_readable(p->lfd);
	p->server = net_accept(p->lfd, &p->conn);
	ck_assert_msg(p->server >= 0, "net_accept: %s", strerror(errno));
}

/* Close whatever of the pair is still open. */
static void
check_net_pair_close(struct check_net_pair *p)
{
	if (p->client != -1)
		close(p->client);
	if (p->server != -1)
		close(p->server);
	close(p->lfd);
}

/* Resolving --bind values: the port, duplicates once, the limit. */
START_TEST(check_net_resolve)
{
	struct sockaddr_storage	ss[3];
	socklen_t		len[3];
	char			err[256] = "", buf[ACKD_ADDRSTRLEN];
	int			n = 0;

	ck_assert_int_eq(net_resolve("127.0.0.1", 80, ss, len, &n, 3, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(n, 1);
	addr_format(buf, sizeof(buf), (struct sockaddr *)&ss[0], len[0]);
	ck_assert_str_eq(buf, "127.0.0.1:80");
	/* the same address again adds nothing */
	ck_assert_int_eq(net_resolve("127.0.0.1", 80, ss, len, &n, 3, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(net_resolve("::1", 80, ss, len, &n, 3, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(n, 2);
	addr_format(buf, sizeof(buf), (struct sockaddr *)&ss[1], len[1]);
	ck_assert_str_eq(buf, "[::1]:80");
	/* localhost is at least 127.0.0.1 (in /etc/hosts): nothing new */
	ck_assert_msg(net_resolve("localhost", 80, ss, len, &n, 3, err,
	    sizeof(err)) == 0, "localhost: %s", err);
	ck_assert_int_le(n, 3);
	n = 2;
	ck_assert_int_eq(net_resolve("10.0.0.1", 80, ss, len, &n, 3, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(n, 3);
	/* one more is one too many, and err says so */
	ck_assert_int_eq(net_resolve("10.0.0.2", 80, ss, len, &n, 3, err,
	    sizeof(err)), ACKD_REFUSED);
	ck_assert_int_eq(n, 3);
	ck_assert_msg(strstr(err, "'10.0.0.2'") != NULL &&
	    strstr(err, "more than 3") != NULL, "err: %s", err);
	/* .invalid never resolves (RFC 6761) */
	n = 0;
	ck_assert_int_eq(net_resolve("ackd-test.invalid", 80, ss, len, &n, 3,
	    err, sizeof(err)), -1);
	ck_assert_int_eq(n, 0);
	ck_assert_msg(strncmp(err, "--bind: cannot resolve "
	    "'ackd-test.invalid': ", 43) == 0, "err: %s", err);
}
END_TEST

/* IPv6 listeners: dual-stack unless --ipv6-only, whatever the default. */
START_TEST(check_net_listen_v6only)
{
	struct ackd_config	cfg;
	char			err[256] = "";
	int			fd, on = -1;
	socklen_t		len = sizeof(on);

	/* on ::, the one place it matters: Linux makes any other IPv6
	 * address (::1) IPv6-only by itself */
	conf_defaults(&cfg);
	fd = check_net_listen_on(&cfg, "::", 0, err, sizeof(err));
	if (fd == -1 && errno == EAFNOSUPPORT)
		return;		/* no IPv6 on this host */
	ck_assert_msg(fd >= 0, "net_listen [::]:0: %s", err);
	ck_assert_int_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, &len),
	    0);
	ck_assert_int_eq(on, 0);
	close(fd);
	cfg.ipv6_only = 1;
	fd = check_net_listen_on(&cfg, "::", 0, err, sizeof(err));
	ck_assert_msg(fd >= 0, "net_listen [::]:0: %s", err);
	len = sizeof(on);
	ck_assert_int_eq(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, &len),
	    0);
	ck_assert_int_eq(on, 1);
	close(fd);
}
END_TEST

START_TEST(check_net_listen_loopback)
{
	int	fd, port, fl;

	fd = check_net_listen(&port);
	/* blocking: the workers sleep in accept(), one woken per client */
	fl = fcntl(fd, F_GETFL);
	ck_assert_msg(fl != -1 && !(fl & O_NONBLOCK), "listener non-blocking");
	fl = fcntl(fd, F_GETFD);
	ck_assert_msg(fl != -1 && (fl & FD_CLOEXEC), "listener not cloexec");
	close(fd);
}
END_TEST

START_TEST(check_net_listen_ipv6)
{
	struct ackd_config	cfg;
	struct sockaddr_in6	sin6;
	socklen_t		len = sizeof(sin6);
	char			err[256] = "";
	int			fd;

	conf_defaults(&cfg);
	fd = check_net_listen_on(&cfg, "::1", 0, err, sizeof(err));
	if (fd == -1 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
		return;		/* no IPv6 loopback on this host */
	ck_assert_msg(fd >= 0, "net_listen [::1]:0: %s", err);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin6, &len), 0);
	ck_assert_int_eq(sin6.sin6_family, AF_INET6);
	ck_assert_msg(IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr), "not on ::1");
	close(fd);
}
END_TEST

START_TEST(check_net_listen_fails)
{
	struct ackd_config	cfg;
	char			err[256], want[64];
	int			fd, port, rc, e;

	conf_defaults(&cfg);
	/* the port is taken: bind fails, and err names the address */
	fd = check_net_listen(&port);
	errno = 0;
	rc = check_net_listen_on(&cfg, "127.0.0.1", port, err, sizeof(err));
	e = errno;
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(e == EADDRINUSE, "errno %d, not EADDRINUSE", e);
	snprintf(want, sizeof(want), "cannot bind 127.0.0.1:%d: ", port);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
	    "err '%s' does not start '%s'", err, want);
	ck_assert_msg(strchr(err, '\n') == NULL, "err is not one line");
	close(fd);
}
END_TEST

START_TEST(check_net_accept)
{
	struct check_net_pair	p;
	struct conn		c;
	struct sockaddr_in	local;
	struct sockaddr_in	*peer = &p.conn.addr.sin;
	socklen_t		len = sizeof(local);
	int			fl, fd, e;
	long long		t0;

	check_net_pair_open(&p);
	fl = fcntl(p.server, F_GETFL);
	ck_assert_msg(fl != -1 && !(fl & O_NONBLOCK),
	    "accepted socket is non-blocking");
	fl = fcntl(p.server, F_GETFD);
	ck_assert_msg(fl != -1 && (fl & FD_CLOEXEC),
	    "accepted socket not cloexec");
	/* the peer address is the client's own */
	ck_assert_int_eq(getsockname(p.client, (struct sockaddr *)&local,
	    &len), 0);
	ck_assert_int_eq(p.conn.fd, p.server);
	ck_assert_uint_eq(p.conn.addrlen, sizeof(struct sockaddr_in));
	ck_assert_int_eq(peer->sin_family, AF_INET);
	ck_assert_uint_eq(peer->sin_port, local.sin_port);
	ck_assert_uint_eq(peer->sin_addr.s_addr, local.sin_addr.s_addr);

	/* nothing else waits: EAGAIN once the accept timeout passes */
	ck_assert_int_eq(net_accept_timeout(p.lfd, 50), 0);
	errno = 0;
	t0 = check_net_now_ms();
	fd = net_accept(p.lfd, &c);
	e = errno;
	ck_assert_int_eq(fd, -1);
	ck_assert_msg(e == EAGAIN || e == EWOULDBLOCK, "errno %d, not EAGAIN",
	    e);
	ck_assert_msg(check_net_now_ms() - t0 >= 40, "accept did not wait");
	check_net_pair_close(&p);
}
END_TEST

#if HAVE_DECL_TCP_DEFER_ACCEPT
/* A silent client is not handed to accept(); once it sends, it is. */
START_TEST(check_net_defer_accept)
{
	struct pollfd	pfd;
	int		lfd, client, port;

	lfd = check_net_listen(&port);
	client = check_net_connect(port);
	pfd.fd = lfd;
	pfd.events = POLLIN;
	ck_assert_msg(poll(&pfd, 1, 200) == 0,
	    "a client that sent nothing is ready to accept");
	ck_assert_int_eq(write(client, "x", 1), 1);
	check_net_wait_readable(lfd);
	close(client);
	close(lfd);
}
END_TEST
#endif

START_TEST(check_net_read_write)
{
	struct check_net_pair	p;
	char			buf[64];
	ssize_t			n;

	check_net_pair_open(&p);
	ck_assert_int_eq(net_write_all(p.client, "hello", 5), 0);
	n = net_read_timed(p.server, buf, sizeof(buf), CHECK_NET_DEADLINE_MS);
	ck_assert_int_eq(n, 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_int_eq(net_write_all(p.server, "ACK!", 4), 0);
	n = net_read_timed(p.client, buf, sizeof(buf), CHECK_NET_DEADLINE_MS);
	ck_assert_int_eq(n, 4);
	ck_assert_mem_eq(buf, "ACK!", 4);
	/* a read takes at most size bytes; the rest waits for the next */
	ck_assert_int_eq(net_write_all(p.client, "abcdef", 6), 0);
	ck_assert_int_eq(net_read_timed(p.server, buf, 2,
	    CHECK_NET_DEADLINE_MS), 2);
	ck_assert_mem_eq(buf, "ab", 2);
	ck_assert_int_eq(net_read_timed(p.server, buf, sizeof(buf),
	    CHECK_NET_DEADLINE_MS), 4);
	ck_assert_mem_eq(buf, "cdef", 4);
	/* zero bytes to write is done at once */
	ck_assert_int_eq(net_write_all(p.client, "", 0), 0);
	check_net_pair_close(&p);
}
END_TEST

START_TEST(check_net_read_timeout)
{
	struct check_net_pair	p;
	char			buf[16];
	long long		t0, took;
	ssize_t			n;
	int			e;

	check_net_pair_open(&p);
	t0 = check_net_now_ms();
	errno = 0;
	n = net_read_timed(p.server, buf, sizeof(buf), 150);
	e = errno;
	took = check_net_now_ms() - t0;
	ck_assert_int_eq(n, -1);
	ck_assert_msg(e == ETIMEDOUT, "errno %d, not ETIMEDOUT", e);
	ck_assert_msg(took >= 140 && took < 3000, "150 ms timeout took %lld",
	    took);

	/* a zero timeout only looks */
	t0 = check_net_now_ms();
	errno = 0;
	n = net_read_timed(p.server, buf, sizeof(buf), 0);
	e = errno;
	ck_assert_int_eq(n, -1);
	ck_assert_int_eq(e, ETIMEDOUT);
	ck_assert_msg(check_net_now_ms() - t0 < 1000, "zero timeout waited");

	/* a timed-out socket still reads what comes later */
	ck_assert_int_eq(net_write_all(p.client, "late", 4), 0);
	ck_assert_int_eq(net_read_timed(p.server, buf, sizeof(buf),
	    CHECK_NET_DEADLINE_MS), 4);
	ck_assert_mem_eq(buf, "late", 4);
	check_net_pair_close(&p);
}
END_TEST

struct check_net_delayed {
	int		 fd;
	int		 delay_ms;
	const char	*data;
};

/* Thread body: after a pause, write the data. */
static void *
check_net_delayed_main(void *arg)
{
	struct check_net_delayed	*d = arg;
	struct timespec			 ts;

	ts.tv_sec = d->delay_ms / 1000;
	ts.tv_nsec = (d->delay_ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	if (net_write_all(d->fd, d->data, strlen(d->data)) == -1)
		return (d);
	return (NULL);
}

/* Data that comes while the reader waits ends the wait with it. */
START_TEST(check_net_read_waits_for_data)
{
	struct check_net_pair		p;
	struct check_net_delayed	d;
	pthread_t			t;
	char				buf[16];
	void				*ret;
	long long			t0, took;

	check_net_pair_open(&p);
	d.fd = p.client;
	d.delay_ms = 100;	/* not synchronisation: either order passes */
	d.data = "slow";
	ck_assert_int_eq(pthread_create(&t, NULL, check_net_delayed_main, &d),
	    0);
	t0 = check_net_now_ms();
	ck_assert_int_eq(net_read_timed(p.server, buf, sizeof(buf),
	    CHECK_NET_DEADLINE_MS), 4);
	took = check_net_now_ms() - t0;
	ck_assert_mem_eq(buf, "slow", 4);
	ck_assert_msg(took < CHECK_NET_DEADLINE_MS - 1000,
	    "read waited for its deadline (%lld ms), not for the data", took);
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_ptr_null(ret);
	check_net_pair_close(&p);
}
END_TEST

START_TEST(check_net_read_eof)
{
	struct check_net_pair	p;
	char			buf[16];

	check_net_pair_open(&p);
	ck_assert_int_eq(net_write_all(p.client, "bye", 3), 0);
	ck_assert_int_eq(shutdown(p.client, SHUT_WR), 0);
	ck_assert_int_eq(net_read_timed(p.server, buf, sizeof(buf),
	    CHECK_NET_DEADLINE_MS), 3);
	ck_assert_int_eq(net_read_timed(p.server, buf, sizeof(buf),
	    CHECK_NET_DEADLINE_MS), 0);
	check_net_pair_close(&p);
}
END_TEST

START_TEST(check_net_read_reset)
{
	struct check_net_pair	p;
	struct linger		lg = { 1, 0 };
	char			buf[16];
	ssize_t			n;
	int			e;

	check_net_pair_open(&p);
	/* linger 0: close sends a reset */
	ck_assert_int_eq(setsockopt(p.client, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	close(p.client);
	p.client = -1;
	errno = 0;
	n = net_read_timed(p.server, buf, sizeof(buf), CHECK_NET_DEADLINE_MS);
	e = errno;
	ck_assert_int_eq(n, -1);
	ck_assert_msg(e == ECONNRESET, "errno %d, not ECONNRESET", e);
	check_net_pair_close(&p);
}
END_TEST

struct check_net_sink {
	int		fd;
	size_t		got;
	unsigned long	sum;
	int		err;	/* errno of a failed read */
};

/* Thread body: read until end of file, counting and summing bytes. */
static void *
check_net_sink_main(void *arg)
{
	struct check_net_sink	*s = arg;
	unsigned char		 buf[8192];
	ssize_t			 n, i;

	while ((n = net_read_timed(s->fd, buf, sizeof(buf),
	    CHECK_NET_DEADLINE_MS)) > 0) {
		for (i = 0; i < n; i++)
			s->sum += buf[i] *
			    (unsigned long)((s->got + (size_t)i) % 251 + 1);
		s->got += (size_t)n;
	}
	if (n == 0)
		return (NULL);
	s->err = errno;
	return (s);
}

/* Signals the handler has seen (the target thread's). */
static volatile sig_atomic_t	check_net_signals_seen;

/* The handler only has to exist: then a signal interrupts a blocked send. */
static void
check_net_on_signal(int sig)
{
	(void)sig;
	check_net_signals_seen = 1;
}

struct check_net_pester {
	pthread_t	 target;
	atomic_int	 stop;
	atomic_ulong	 sent;
};


/* Thread body: send SIGUSR1 to the target thread until told to stop. */
static void *
check_net_pester_main(void *arg)
{
	struct check_net_pester	*p = arg;
	struct timespec		 ts = { 0, 100000L };

	while (!atomic_load(&p->stop)) {
		if (pthread_kill(p->target, SIGUSR1) == 0)
			atomic_fetch_add(&p->sent, 1);
		nanosleep(&ts, NULL);
	}
	return (NULL);
}

/*
 * A write far bigger than the socket buffers arrives whole and in order;
 * in the second run signals keep interrupting send (no SA_RESTART), which
 * makes it return early with part of the data, or fail with EINTR.
 */
START_TEST(check_net_write_all_large)
{
	struct check_net_pair	p;
	struct check_net_sink	s = { 0, 0, 0, 0 };
	struct check_net_pester	pest;
	struct sigaction	sa, old;
	size_t			len = 1024 * 1024, i;
	unsigned char		*data;
	unsigned long		sum = 0;
	pthread_t		t, pt;
	void			*ret;
	int			small = 4096, rc, e;

	data = malloc(len);
	ck_assert_ptr_nonnull(data);
	for (i = 0; i < len; i++) {
		data[i] = (unsigned char)(i * 31 + i / 4093);
		sum += data[i] * (unsigned long)(i % 251 + 1);
	}
	check_net_pair_open(&p);
	/* small buffers: send blocks over and over */
	setsockopt(p.server, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	s.fd = p.client;
	ck_assert_int_eq(pthread_create(&t, NULL, check_net_sink_main, &s), 0);
	if (_i == 1) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = check_net_on_signal;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0;
		ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
		pest.target = pthread_self();
		atomic_init(&pest.stop, 0);
		atomic_init(&pest.sent, 0);
		check_net_signals_seen = 0;
		ck_assert_int_eq(pthread_create(&pt, NULL,
		    check_net_pester_main, &pest), 0);
		/* the write can be quick: start it only once signals come */
		while (!check_net_signals_seen)
			nanosleep(&(struct timespec){ 0, 100000L }, NULL);
	}
	rc = net_write_all(p.server, data, len);
	e = errno;
	if (_i == 1) {
		atomic_store(&pest.stop, 1);
		ck_assert_int_eq(pthread_join(pt, NULL), 0);
		ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
		ck_assert_msg(atomic_load(&pest.sent) > 1,
		    "no signal was sent during the write");
	}
	ck_assert_msg(rc == 0, "net_write_all: %s", strerror(e));
	ck_assert_int_eq(shutdown(p.server, SHUT_WR), 0);
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_msg(ret == NULL, "reader failed: %s", strerror(s.err));
	ck_assert_uint_eq(s.got, len);
	ck_assert_msg(s.sum == sum, "bytes arrived changed or out of order");
	check_net_pair_close(&p);
	free(data);
}
END_TEST

/* Writing to a peer that is gone fails with EPIPE, without SIGPIPE. */
START_TEST(check_net_write_all_peer_gone)
{
	struct check_net_pair	p;
	char			chunk[65536];
	int			i, rc = 0, e = 0;

	check_net_pair_open(&p);
	close(p.client);
	p.client = -1;
	memset(chunk, 'x', sizeof(chunk));
	/* the first write may still be taken; the reset then refuses more */
	for (i = 0; i < 100 && rc == 0; i++)
		if ((rc = net_write_all(p.server, chunk, sizeof(chunk))) == -1)
			e = errno;
	ck_assert_msg(rc == -1, "wrote %d chunks to a closed peer", i);
	ck_assert_msg(e == EPIPE || e == ECONNRESET,
	    "errno %d, not EPIPE or ECONNRESET", e);
	check_net_pair_close(&p);
}
END_TEST

/* The net suite: sockets on loopback. */
static Suite *
net_suite(void)
{
	Suite	*s = suite_create("net");
	TCase	*tc;

	tc = tcase_create("socket");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, check_net_listen_loopback);
	tcase_add_test(tc, check_net_listen_ipv6);
	tcase_add_test(tc, check_net_listen_v6only);
	tcase_add_test(tc, check_net_resolve);
	tcase_add_test(tc, check_net_listen_fails);
	tcase_add_test(tc, check_net_accept);
#if HAVE_DECL_TCP_DEFER_ACCEPT
	tcase_add_test(tc, check_net_defer_accept);
#endif
	tcase_add_test(tc, check_net_read_write);
	tcase_add_test(tc, check_net_read_timeout);
	tcase_add_test(tc, check_net_read_waits_for_data);
	tcase_add_test(tc, check_net_read_eof);
	tcase_add_test(tc, check_net_read_reset);
	tcase_add_loop_test(tc, check_net_write_all_large, 0, 2);
	tcase_add_test(tc, check_net_write_all_peer_gone);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(net_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
