/* SPDX-License-Identifier: MIT */
/*
 * net.c: looking --bind names up, the listening socket, and descriptor
 * I/O that retries EINTR and bounds every wait. Parsing and writing
 * numeric addresses, which is pure, is addr.c's (src/common).
 */
#include "config.h"

#include <sys/time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"

/* SIGPIPE is ignored process-wide too; this only saves a signal. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* Add ss to the n addresses in list unless it is there; 0, or -1 if full. */
static int
net_add_addr(struct sockaddr_storage *list, socklen_t *lens, int *n, int max,
    const struct sockaddr_storage *ss, socklen_t len)
{
	int	i;

	for (i = 0; i < *n; i++)
		if (lens[i] == len && memcmp(&list[i], ss, len) == 0)
			return (0);
	if (*n == max)
		return (-1);
	list[*n] = *ss;
	lens[(*n)++] = len;
	return (0);
}

/*
 * Resolve one --bind value (a numeric address, or a name looked up with
 * getaddrinfo) for listening on port, and add each address that is new
 * to the *n in list[] and lens[]. 0; -1 with err set if the name does not
 * resolve; ACKD_REFUSED with err set if that makes more than max
 * addresses.
 */
int
net_resolve(const char *host, int port, struct sockaddr_storage *list,
    socklen_t *lens, int *n, int max, char *err, size_t errsize)
{
	struct addrinfo		 hints, *res, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 serv[16], reason[128];
	int			 rc, full = 0;

	if (addr_parse(host, port, &ss, &len) == 0) {
		if (net_add_addr(list, lens, n, max, &ss, len) == -1)
			goto too_many;
		return (0);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(serv, sizeof(serv), "%d", port);
	if ((rc = getaddrinfo(host, serv, &hints, &res)) != 0) {
		snprintf(err, errsize, "--bind: cannot resolve '%s': %s", host,
		    rc == EAI_SYSTEM ? diag_strerror(errno, reason,
		    sizeof(reason)) : gai_strerror(rc));
		return (-1);
	}
	for (ai = res; ai != NULL && !full; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(ss))
			continue;
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		full = net_add_addr(list, lens, n, max, &ss, ai->ai_addrlen);
	}
	freeaddrinfo(res);
	if (!full)
		return (0);
too_many:
	snprintf(err, errsize, "--bind: '%s' makes more than %d addresses "
	    "(allowed: %d listeners in all)", host, max, max);
	return (ACKD_REFUSED);
}

/*
 * Where the kernel can (Linux), let accept() return a connection only once
 * its first data has arrived, waiting up to about timeout_ms (0: off): the
 * handler then reads at once instead of sleeping in poll, and clients that
 * connect and stay silent hold no thread while the kernel waits. The
 * kernel counts the wait in SYN-ACK retransmissions, so it rounds up; a
 * silent client is handed over after it, and then gets --read-timeout.
 * Elsewhere the handler's timed read alone does the job.
 */
static void
net_defer_accept(int fd, int timeout_ms)
{
#if HAVE_DECL_TCP_DEFER_ACCEPT
	int	secs = (timeout_ms + 999) / 1000;

	if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs,
	    sizeof(secs)) == -1)
		diag_warn("cannot set TCP_DEFER_ACCEPT");
#else
	(void)fd;
	(void)timeout_ms;
#endif
}

/*
 * IPv6 listeners: dual-stack (IPv4 clients too, as ::ffff:a.b.c.d) unless
 * --ipv6-only, set explicitly: the system's default (the net.ipv6.bindv6only
 * sysctl on Linux, on by default on the BSDs) must not decide. 0 or -1.
 */
static int
net_v6only(int fd, int family, int on)
{
#if HAVE_DECL_IPV6_V6ONLY
	if (family == AF_INET6)
		return (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on)));
#else
	(void)fd;
	(void)family;
	(void)on;
#endif
	return (0);
}

/*
 * Create a listening socket on sa for cfg; with --reuseport it may share
 * the address with the other workers' sockets. It stays blocking: each
 * worker sleeps in accept(), and the kernel wakes one sleeper per
 * connection. On failure err says why (the address and the system's
 * reason) and -1 is returned with errno set.
 */
int
net_listen(const struct ackd_config *cfg, const struct sockaddr *sa,
    socklen_t salen, char *err, size_t errsize)
{
	int		 fd, on = 1, saved;
	const char	*what;

	what = "socket";
	if ((fd = socket(sa->sa_family, SOCK_STREAM, 0)) == -1)
		goto fail;
	what = "set options on";
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    net_v6only(fd, sa->sa_family, cfg->ipv6_only) == -1)
		goto fail_close;
#ifdef ACKD_REUSEPORT_OPT
	what = "set SO_REUSEPORT on";
	if (cfg->reuseport && setsockopt(fd, SOL_SOCKET, ACKD_REUSEPORT_OPT,
	    &on, sizeof(on)) == -1)
		goto fail_close;
#endif
	what = "bind";
	if (bind(fd, sa, salen) == -1)
		goto fail_close;
	what = "listen on";
	if (listen(fd, cfg->backlog) == -1)
		goto fail_close;
	net_defer_accept(fd, cfg->defer_accept_ms);
	return (fd);

fail_close:
	saved = errno;
	close(fd);
	errno = saved;
fail:
	saved = errno;
	{
		char	addr[ACKD_ADDRSTRLEN], reason[128];

		addr_format(addr, sizeof(addr), sa, salen);
		snprintf(err, errsize, "cannot %s %s: %s", what, addr,
		    diag_strerror(saved, reason, sizeof(reason)));
	}
	errno = saved;
	return (-1);
}

/* Make fd non-blocking (on) or blocking; 0 or -1. */
int
net_set_nonblock(int fd, int on)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return (fcntl(fd, F_SETFL, fl));
}

/*
 * Make accept() on the listening socket lfd give up after timeout_ms with
 * EAGAIN, so a sleeping accept loop still looks around now and then. 0
 * or -1.
 */
int
net_accept_timeout(int lfd, int timeout_ms)
{
	struct timeval	tv;

	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return (setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
}

/*
 * Accept one connection into c; the new socket is blocking and
 * close-on-exec. -1 with errno: EAGAIN when the accept timeout passed,
 * EINTR when a signal came (the caller looks at its flags then).
 */
int
net_accept(int lfd, struct conn *c)
{
	c->addrlen = sizeof(c->addr);
#ifdef HAVE_ACCEPT4
	c->fd = accept4(lfd, &c->addr.sa, &c->addrlen, SOCK_CLOEXEC);
#else
	c->fd = accept(lfd, &c->addr.sa, &c->addrlen);
	if (c->fd != -1) {
		/* accepted sockets may inherit O_NONBLOCK elsewhere */
		fcntl(c->fd, F_SETFD, FD_CLOEXEC);
		fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
	}
#endif
	return (c->fd);
}

/*
 * Read once from fd into buf, waiting at most timeout_ms for data. The
 * common case (data already there) costs one recv. Returns the byte count,
 * 0 at end of file, or -1 with errno (ETIMEDOUT when nothing came in time).
 */
ssize_t
net_read_timed(int fd, void *buf, size_t size, int timeout_ms)
{
	return (net_recv_timed(fd, buf, size, 0, timeout_ms));
}

/*
 * net_read_timed with recv flags: MSG_PEEK looks at the data and leaves
 * it there (a PROXY header's reader takes only the header's bytes).
 */
ssize_t
net_recv_timed(int fd, void *buf, size_t size, int flags, int timeout_ms)
{
	struct pollfd	 pfd;
	long long	 deadline_ms = -1, left_ms;
	ssize_t		 n;
	int		 rc;

	for (;;) {
		n = recv(fd, buf, size, flags | MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR))
			return (n);
		if (deadline_ms == -1)
			deadline_ms = mono_ms() + timeout_ms;
		left_ms = deadline_ms - mono_ms();
		if (left_ms <= 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, (int)left_ms);
		if (rc == -1 && errno != EINTR)
			return (-1);
	}
}

/* Write all of buf to the socket fd, never raising SIGPIPE; 0 or -1. */
int
net_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}
