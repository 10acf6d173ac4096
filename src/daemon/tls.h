/* SPDX-License-Identifier: MIT */
/*
 * tls.h: what the daemon sees of TLS (configure --with-tls).
 *
 * The rest of ackd never sees OpenSSL: only src/daemon/tls*.c include its
 * headers, and they are compiled only when configure found it (HAVE_TLS).
 * Here the types are opaque. Without TLS every function is a static
 * inline stub, so callers need no #ifdef: conf.c refuses every --tls-*
 * flag in such a build, so no connection is ever marked conn->tls, and
 * the stubs of the connection half are never reached.
 *
 * Who calls what:
 *   - tls_setup: the master, once, before the privilege drop (root-only
 *     keys work) and before the first fork (workers inherit the context);
 *   - tls_reload: on SIGHUP, in every worker's signal thread and in the
 *     master (for the workers it forks later); each re-reads the files
 *     only if one changed;
 *   - tls_conn_*: a worker's handler threads, one connection each
 *     (tls_conn.c).
 */
#ifndef ACKD_TLS_H
#define ACKD_TLS_H

#include <sys/types.h>

#include <errno.h>
#include <stddef.h>

struct ackd_config;
struct tls_conn;			/* one connection's SSL */

/* Where a non-blocking handshake stands. */
enum tls_step {
	TLS_DONE,			/* the handshake is over: read on */
	TLS_WANT_READ,			/* park until readable */
	TLS_WANT_WRITE,			/* park until writable */
	TLS_FAILED			/* *reason says why, in one word */
};

#ifdef HAVE_TLS

/* tls_ctx.c: the SSL_CTX, built at start and rebuilt on SIGHUP. */
int	tls_setup(const struct ackd_config *, char *, size_t);
void	tls_reload(const struct ackd_config *);

/* tls_conn.c: one connection over TLS. */
struct tls_conn *tls_conn_new(int);
enum tls_step tls_conn_handshake(struct tls_conn *, const char **);
ssize_t	tls_conn_read(struct tls_conn *, void *, size_t);
int	tls_conn_write_all(struct tls_conn *, const void *, size_t);
void	tls_conn_close(struct tls_conn *);
size_t	tls_conn_describe(struct tls_conn *, char *, size_t);
size_t	tls_conn_subject(struct tls_conn *, char *, size_t);
int	tls_conn_resumed(struct tls_conn *);

#else /* !HAVE_TLS: nothing is TLS; conf.c refuses the flags */

/* No TLS flag can be given: nothing to set up. */
static inline int
tls_setup(const struct ackd_config *cfg, char *err, size_t errsize)
{
	(void)cfg;
	(void)err;
	(void)errsize;
	return (0);
}

/* Nothing to reload. */
static inline void
tls_reload(const struct ackd_config *cfg)
{
	(void)cfg;
}

/* Never reached: no connection is marked TLS. */
static inline struct tls_conn *
tls_conn_new(int fd)
{
	(void)fd;
	errno = ENOSYS;
	return (NULL);
}

/* Never reached. */
static inline enum tls_step
tls_conn_handshake(struct tls_conn *t, const char **reason)
{
	(void)t;
	*reason = "protocol";
	return (TLS_FAILED);
}

/* Never reached. */
static inline ssize_t
tls_conn_read(struct tls_conn *t, void *buf, size_t size)
{
	(void)t;
	(void)buf;
	(void)size;
	errno = ENOSYS;
	return (-1);
}

/* Never reached. */
static inline int
tls_conn_write_all(struct tls_conn *t, const void *buf, size_t size)
{
	(void)t;
	(void)buf;
	(void)size;
	errno = ENOSYS;
	return (-1);
}

/* Never reached. */
static inline void
tls_conn_close(struct tls_conn *t)
{
	(void)t;
}

/* Never reached: nothing to describe. */
static inline size_t
tls_conn_describe(struct tls_conn *t, char *buf, size_t size)
{
	(void)t;
	if (size > 0)
		buf[0] = '\0';
	return (0);
}

/* Never reached: no subject. */
static inline size_t
tls_conn_subject(struct tls_conn *t, char *buf, size_t size)
{
	(void)t;
	if (size > 0)
		buf[0] = '\0';
	return (0);
}

/* Never reached. */
static inline int
tls_conn_resumed(struct tls_conn *t)
{
	(void)t;
	return (0);
}

#endif /* HAVE_TLS */

#endif /* ACKD_TLS_H */
