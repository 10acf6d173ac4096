/* SPDX-License-Identifier: MIT */
/*
 * addr.c: numeric socket addresses, parsed from text and written as text:
 * what --bind and --metrics take, and how every client appears in the log.
 *
 * Pure: no socket, no name lookup, no log line. getaddrinfo is called
 * with AI_NUMERICHOST alone, which never touches the network or
 * resolv.conf, so each function's result depends on its arguments only;
 * that is what lets ackd's unit tests and tests/fuzz/fuzz_addr call them
 * without the rest of the daemon. Looking names up (--bind NAME) is
 * net_resolve's, in src/daemon/net.c.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/*
 * Fill ss with the numeric IPv4 or IPv6 address str (a scope such as
 * fe80::1%eth0 allowed) and port. Never resolves names: -1 for those.
 */
int
addr_parse(const char *str, int port, struct sockaddr_storage *ss,
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
 * (as addr_parse takes them), or a host name (letters, digits, '-'
 * and '_' in dot-separated labels, not all digits)? Pure: no lookup.
 */
int
addr_bind_syntax(const char *str)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*p;
	int			 letter = 0, label = 0;

	if (addr_parse(str, 0, &ss, &len) == 0)
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

/*
 * Fill ss with "1.2.3.4:80" or "[::1]:80" (numeric address, port 0-65535
 * in decimal). -1 for anything else, names included.
 */
int
addr_parse_hostport(const char *str, struct sockaddr_storage *ss,
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
	if (addr_parse(host, (int)p, ss, len) == -1)
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
addr_format(char *buf, size_t size, const struct sockaddr *sa,
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
