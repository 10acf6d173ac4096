/* SPDX-License-Identifier: MIT */
/*
 * fuzz_addr.c: libFuzzer target for addr_parse (what --bind takes) and
 * addr_format (how every client appears in the log).
 *
 * The input, up to its first NUL, is the address; the port comes from a
 * hash of it. When it parses, the formatted form is checked: within
 * ACKD_ADDRSTRLEN, "a.b.c.d:port" or "[v6]:port", printable, and its host
 * part parses back to the very same sockaddr (addr.h documents the format
 * as "[addr%scope]:port", so a scope must survive too). Shorter buffers
 * must truncate inside themselves.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Stop with a message: libFuzzer saves the input that got here. */
#define FUZZ_ADDR_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_addr: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* A port from the input's bytes, so every port gets its turn. */
static int
fuzz_addr_port(const uint8_t *data, size_t size)
{
	uint32_t	h = 2166136261U;
	size_t		i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619U;
	return ((int)(h % 65536));
}

/* Check that buf, formatted from ss, reads "a.b.c.d:port" or "[v6]:port". */
static void
fuzz_addr_check_form(const char *buf, size_t n, int family, int port,
    char *host, size_t hostsize)
{
	const char	*colon;
	char		 want[16];
	size_t		 i, hlen;

	FUZZ_ADDR_CHECK(n < ACKD_ADDRSTRLEN && strlen(buf) == n,
	    "formatted length %zu (strlen %zu)", n, strlen(buf));
	for (i = 0; i < n; i++)
		FUZZ_ADDR_CHECK((unsigned char)buf[i] > 0x20 &&
		    (unsigned char)buf[i] <= 0x7e,
		    "formatted '%s': byte 0x%02x", buf, (unsigned char)buf[i]);
	colon = strrchr(buf, ':');
	FUZZ_ADDR_CHECK(colon != NULL, "formatted '%s': no port", buf);
	snprintf(want, sizeof(want), ":%d", port);
	FUZZ_ADDR_CHECK(strcmp(colon, want) == 0,
	    "formatted '%s' does not end in '%s'", buf, want);
	if (family == AF_INET6) {
		FUZZ_ADDR_CHECK(buf[0] == '[' && colon > buf + 1 &&
		    colon[-1] == ']', "IPv6 '%s' not in brackets", buf);
		hlen = (size_t)(colon - 1 - (buf + 1));
		memcpy(host, buf + 1, hlen);
	} else {
		FUZZ_ADDR_CHECK(buf[0] != '[', "IPv4 '%s' in brackets", buf);
		hlen = (size_t)(colon - buf);
		memcpy(host, buf, hlen);
	}
	FUZZ_ADDR_CHECK(hlen < hostsize, "host part too long");
	host[hlen] = '\0';
}

/* Format ss into exact buffers of every smaller size: truncated, in bounds. */
static void
fuzz_addr_check_short(const struct sockaddr_storage *ss, socklen_t len,
    const char *full, size_t n)
{
	size_t	size, got;
	char	*buf;

	for (size = 0; size <= n; size++) {
		buf = malloc(size > 0 ? size : 1);
		FUZZ_ADDR_CHECK(buf != NULL, "out of memory");
		got = addr_format(buf, size, (const struct sockaddr *)ss,
		    len);
		FUZZ_ADDR_CHECK(got == (size > 0 ? size - 1 : 0),
		    "%zu-byte buffer: length %zu", size, got);
		FUZZ_ADDR_CHECK(size == 0 || (buf[got] == '\0' &&
		    memcmp(buf, full, got) == 0),
		    "%zu-byte buffer: not a prefix of '%s'", size, full);
		free(buf);
	}
}

/* libFuzzer's entry point: data is what --bind would be given. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage	 ss, ss2;
	socklen_t		 len, len2;
	char			*str, buf[ACKD_ADDRSTRLEN], host[ACKD_ADDRSTRLEN];
	size_t			 n;
	int			 port = fuzz_addr_port(data, size), mapped;

	if ((str = malloc(size + 1)) == NULL)
		return (0);
	memcpy(str, data, size);
	str[size] = '\0';
	memset(&ss, 0xa5, sizeof(ss));
	if (addr_parse(str, port, &ss, &len) == -1) {
		free(str);
		return (0);
	}
	free(str);
	FUZZ_ADDR_CHECK((ss.ss_family == AF_INET &&
	    len == sizeof(struct sockaddr_in)) || (ss.ss_family == AF_INET6 &&
	    len == sizeof(struct sockaddr_in6)),
	    "family %d with length %u", ss.ss_family, (unsigned)len);

	n = addr_format(buf, sizeof(buf), (struct sockaddr *)&ss, len);
	/* an IPv4-mapped IPv6 address (a dual-stack listener's IPv4 client)
	 * is written as the plain IPv4 address it stands for */
	mapped = ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(
	    &((const struct sockaddr_in6 *)&ss)->sin6_addr);
	fuzz_addr_check_form(buf, n, mapped ? AF_INET : ss.ss_family, port,
	    host, sizeof(host));
	fuzz_addr_check_short(&ss, len, buf, n);
	if (mapped) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		const struct sockaddr_in *b = (const struct sockaddr_in *)&ss2;

		FUZZ_ADDR_CHECK(addr_parse(host, port, &ss2, &len2) == 0 &&
		    ss2.ss_family == AF_INET && memcmp(&b->sin_addr,
		    &a->sin6_addr.s6_addr[12], 4) == 0, "mapped '%s' is not "
		    "its IPv4 address", buf);
		return (0);
	}

	FUZZ_ADDR_CHECK(addr_parse(host, port, &ss2, &len2) == 0,
	    "formatted host '%s' (from '%s') does not parse back", host, buf);
	FUZZ_ADDR_CHECK(len2 == len && ss2.ss_family == ss.ss_family,
	    "'%s' parses back as family %d length %u, not %d length %u",
	    host, ss2.ss_family, (unsigned)len2, ss.ss_family, (unsigned)len);
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)&ss2;

		FUZZ_ADDR_CHECK(memcmp(&a->sin6_addr, &b->sin6_addr,
		    sizeof(a->sin6_addr)) == 0, "'%s': other address", buf);
		FUZZ_ADDR_CHECK(a->sin6_scope_id == b->sin6_scope_id,
		    "'%s': scope %u lost, parses back with scope %u", buf,
		    (unsigned)a->sin6_scope_id, (unsigned)b->sin6_scope_id);
	}
	/* whatever is left (port, flow info, padding) must match too */
	FUZZ_ADDR_CHECK(memcmp(&ss, &ss2, len) == 0,
	    "'%s' does not parse back to the same sockaddr", buf);
	return (0);
}
