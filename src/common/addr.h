/* SPDX-License-Identifier: MIT */
/*
 * addr.h: numeric socket addresses to and from text (addr.c). Pure: ackd,
 * its unit tests and the fuzzers link addr.c without anything else.
 */
#ifndef ADDR_H
#define ADDR_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

/* Room for "[addr%scope]:port" as addr_format writes it, with its NUL. */
#define ACKD_ADDRSTRLEN		72

int	addr_parse(const char *, int, struct sockaddr_storage *, socklen_t *);
int	addr_bind_syntax(const char *);
int	addr_parse_hostport(const char *, struct sockaddr_storage *,
	    socklen_t *);
size_t	addr_format(char *, size_t, const struct sockaddr *, socklen_t);

#endif /* ADDR_H */
