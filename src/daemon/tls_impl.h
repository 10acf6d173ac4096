/* SPDX-License-Identifier: MIT */
/*
 * tls_impl.h: what the TLS files (src/daemon/tls*.c) share among
 * themselves, in OpenSSL's types. Only they include it: the rest of
 * ackd sees tls.h.
 */
#ifndef ACKD_TLS_IMPL_H
#define ACKD_TLS_IMPL_H

#include <openssl/ssl.h>

#include "tls.h"

/* tls_ctx.c: a new SSL on fd from the current context; NULL: no memory. */
SSL	*tls_ctx_ssl(int);

/* tls_ticket.c: ticket keys shared by every worker (one page, mapped by
 * the master before the first fork). */
int	tls_ticket_init(void);
int	tls_ticket_attach(SSL_CTX *);

#endif /* ACKD_TLS_IMPL_H */
