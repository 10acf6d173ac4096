/* SPDX-License-Identifier: MIT */
/*
 * net.c: addresses, the listening socket, and descriptor I/O that retries
 * EINTR and bounds every wait.
 */
#include "config.h"

#include <sys/time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

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

/*
 * Fill ss with the numeric IPv4 or IPv6 address str (a scope such as
 * fe80::1%eth0 allowed) and port. Never resolves names: -1 for those.
 */
int
net_parse_addr(const char *str, int port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct addrinfo	 hints, *res;
	struct in_addr	 v4;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	if (str[0] == '\0' || getaddrinfo(str, NULL, &hints, &res) != 0)
		return (-1);
	if (res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return (-1);
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	/* getaddrinfo takes the old inet_aton forms, where 010.0.0.1 is
	 * octal for 8.0.0.1 and "1" is 0.0.0.1: accept plain dotted quads only */
	if (ss->ss_family == AF_INET && inet_pton(AF_INET, str, &v4) != 1)
		return (-1);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	return (0);
}

/*
 * Is str a --bind value worth resolving: a numeric IPv4 or IPv6 address
 * (as net_parse_addr takes them), or a host name (letters, digits, '-'
 * and '_' in dot-separated labels, not all digits)? Pure: no lookup.
 */
int
net_bind_syntax(const char *str)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*p;
	int			 letter = 0, label = 0;

	if (net_parse_addr(str, 0, &ss, &len) == 0)
		return (1);
	/* a colon makes it IPv6, and a digit-and-dot string IPv4: both bad */
	for (p = str; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return (0);	/* empty label */
			label = 0;
			continue;
		}
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    *p == '-' || *p == '_')
			letter = 1;
		else if (*p < '0' || *p > '9')
			return (0);
		label++;
	}
	return (letter && str[0] != '-');
}

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

	if (net_parse_addr(host, port, &ss, &len) == 0) {
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
		    rc == EAI_SYSTEM ? log_strerror(errno, reason,
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
 * Fill ss with "1.2.3.4:80" or "[::1]:80" (numeric address, port 0-65535
 * in decimal). -1 for anything else, names included.
 */
int
net_parse_hostport(const char *str, struct sockaddr_storage *ss,
    socklen_t *len)
{
	char		 host[INET6_ADDRSTRLEN + 32];
	const char	*colon, *port;
	size_t		 hostlen;
	long		 p = 0;
	int		 bracketed = str[0] == '[';

	if (bracketed) {
		if ((colon = strstr(str, "]:")) == NULL)
			return (-1);
		str++;
		hostlen = (size_t)(colon - str);
		port = colon + 2;
	} else {
		if ((colon = strchr(str, ':')) == NULL ||
		    strchr(colon + 1, ':') != NULL)
			return (-1);	/* IPv6 needs its brackets here */
		hostlen = (size_t)(colon - str);
		port = colon + 1;
	}
	if (hostlen == 0 || hostlen >= sizeof(host) || *port == '\0' ||
	    strlen(port) > 5)
		return (-1);
	for (; *port != '\0'; port++) {
		if (*port < '0' || *port > '9')
			return (-1);
		p = p * 10 + (*port - '0');
	}
	if (p > 65535)
		return (-1);
	memcpy(host, str, hostlen);
	host[hostlen] = '\0';
	if (net_parse_addr(host, (int)p, ss, len) == -1)
		return (-1);
	/* the brackets are for IPv6 alone, and IPv6 needs them */
	if (bracketed != (ss->ss_family == AF_INET6))
		return (-1);
	return (0);
}

/*
 * Write sa as "1.2.3.4:80" or "[::1]:80"; returns the length written. An
 * IPv4 client of a dual-stack socket (::ffff:1.2.3.4) is written as the
 * IPv4 address it is, so one client looks the same on every listener.
 */
size_t
net_format_addr(char *buf, size_t size, const struct sockaddr *sa,
    socklen_t salen)
{
	char		host[INET6_ADDRSTRLEN];
	int		n = -1;

	if (sa->sa_family == AF_INET6 &&
	    salen >= (socklen_t)sizeof(struct sockaddr_in6) &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)
	    (const void *)sa)->sin6_addr)) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)(const void *)sa;

		if (inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host,
		    sizeof(host)))
			n = snprintf(buf, size, "%s:%u", host,
			    ntohs(sin6->sin6_port));
	} else if (sa->sa_family == AF_INET &&
	    salen >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		if (inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)))
			n = snprintf(buf, size, "%s:%u", host,
			    ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6 &&
	    salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)) ==
		    NULL)
			n = -1;
		else if (sin6->sin6_scope_id != 0)	/* link-local: which link */
			n = snprintf(buf, size, "[%s%%%u]:%u", host,
			    (unsigned)sin6->sin6_scope_id,
			    ntohs(sin6->sin6_port));
		else
			n = snprintf(buf, size, "[%s]:%u", host,
			    ntohs(sin6->sin6_port));
	}
	if (n < 0)
		n = snprintf(buf, size, "?");
	if ((size_t)n >= size)
		return (size == 0 ? 0 : size - 1);
	return ((size_t)n);
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
		log_warn("cannot set TCP_DEFER_ACCEPT");
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

		net_format_addr(addr, sizeof(addr), sa, salen);
		snprintf(err, errsize, "cannot %s %s: %s", what, addr,
		    log_strerror(saved, reason, sizeof(reason)));
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
