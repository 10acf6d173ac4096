/* SPDX-License-Identifier: MIT */
/*
 * bench_tls.c: ackd-bench's TLS client (--tls): the run's SSL_CTX, and
 * each connection's SSL driven without blocking. The only file of the
 * bench that includes OpenSSL's headers; built only with TLS.
 *
 * The context is made once, before the threads start, and only read
 * afterwards (SSL_new from several threads is safe). A connection's SSL
 * lives from its connect to its close, on its thread alone; so does the
 * session a --tls-resume client keeps between its connections. Every call
 * answers as recv and send do, so bench_conn.c drives a TLS connection as
 * it drives a plain one: -1 with EAGAIN means "wait for an event" (the
 * socket is in epoll for both directions, edge-triggered, so whichever
 * OpenSSL waits for will come), EPROTO a TLS failure.
 *
 * Verification: with --tls-ca the server's chain must verify against that
 * file, or the handshake fails; the server's names are not checked
 * against --host (a benchmark talks to an address). Without --tls-ca
 * nothing is verified: the benchmark measures the server, and a client
 * that skips the check costs the server nothing less.
 *
 * Resumption: a --tls-resume client keeps the session of its last
 * connection that the server closed cleanly (SSL_get1_session, taken at
 * the close so that TLS 1.3 tickets, which come after the handshake, are
 * in it) and offers it on the next one. Whether the server resumed is
 * SSL_session_reused, counted per handshake: a server that issues
 * tickets but never takes them back shows as offered, not resumed. After
 * the server's close_notify the client closes quietly (no close_notify
 * back to a closed socket); a quiet shutdown also keeps OpenSSL from
 * marking the session unusable, which it does to the session of an SSL
 * freed before any shutdown.
 *
 * OpenSSL's error queue is per thread and must be empty before each I/O
 * call, or SSL_get_error misreads the next one: every failure path here
 * empties it.
 */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bench.h"

/* The run's client context, and the name sent as SNI (NULL: none). */
struct bench_tls {
	SSL_CTX		*ctx;
	char		*sni;
};

/*
 * "what: reason" for the first of OpenSSL's queued errors (a system
 * error, such as a missing file, in strerror's words), and empty the
 * queue.
 */
static void
bench_tls_reason(char *buf, size_t size, const char *what)
{
	unsigned long	 e = ERR_peek_error();
	const char	*r = NULL;

	if (e != 0 && ERR_GET_LIB(e) == ERR_LIB_SYS)
		r = strerror(ERR_GET_REASON(e));
	else if (e != 0)
		r = ERR_reason_error_string(e);
	snprintf(buf, size, "%s: %s", what, r != NULL ? r : "unknown error");
	ERR_clear_error();
}

/* Load the certificate chain and key of --tls-cert and --tls-key. */
static int
bench_tls_load_cert(SSL_CTX *ctx, const struct bench_config *cfg, char *err,
    size_t size)
{
	const char	*key = cfg->tls_key != NULL ? cfg->tls_key :
			    cfg->tls_cert;
	char		 what[300];

	snprintf(what, sizeof(what), "--tls-cert: %s", cfg->tls_cert);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1)
		return (bench_tls_reason(err, size, what), -1);
	snprintf(what, sizeof(what), "--tls-key: %s", key);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		return (bench_tls_reason(err, size, what), -1);
	snprintf(what, sizeof(what), "--tls-key: %s: not the key of %s "
	    "(OpenSSL)", key, cfg->tls_cert);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return (bench_tls_reason(err, size, what), -1);
	return (0);
}

/* Configure ctx from the flags: versions, verification, client cert. */
static int
bench_tls_configure(SSL_CTX *ctx, const struct bench_config *cfg, char *err,
    size_t size)
{
	char	what[300];

	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* partial writes: bench_conn.c counts what went, as with send */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* a server that closes without close_notify has still closed */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	if (cfg->tls_ca != NULL) {
		snprintf(what, sizeof(what), "--tls-ca: %s", cfg->tls_ca);
		if (SSL_CTX_load_verify_locations(ctx, cfg->tls_ca, NULL) != 1)
			return (bench_tls_reason(err, size, what), -1);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (cfg->tls_cert != NULL)
		return (bench_tls_load_cert(ctx, cfg, err, size));
	return (0);
}

/*
 * Make the run's TLS context from the flags: 0, or -1 with one line in
 * err naming the flag, the file and OpenSSL's reason.
 */
int
bench_tls_setup(struct bench_run *run, char *err, size_t size)
{
	const struct bench_config	*cfg = run->cfg;
	struct bench_tls		*tls;
	unsigned char			 a[sizeof(struct in6_addr)];

	if ((tls = calloc(1, sizeof(*tls))) == NULL ||
	    (tls->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		free(tls);
		bench_tls_reason(err, size, "--tls: cannot make a context");
		return (-1);
	}
	if (bench_tls_configure(tls->ctx, cfg, err, size) == -1) {
		SSL_CTX_free(tls->ctx);
		free(tls);
		return (-1);
	}
	/* SNI names a host; an address literal is never sent (RFC 6066) */
	if (inet_pton(AF_INET, cfg->host, a) != 1 &&
	    inet_pton(AF_INET6, cfg->host, a) != 1)
		tls->sni = strdup(cfg->host);
	run->tls = tls;
	return (0);
}

/* Give back the run's TLS context. */
void
bench_tls_teardown(struct bench_run *run)
{
	if (run->tls == NULL)
		return;
	SSL_CTX_free(run->tls->ctx);
	free(run->tls->sni);
	free(run->tls);
	run->tls = NULL;
}

/*
 * Give c, connecting, its SSL, offering its kept session if there is one;
 * 0, or -1 with errno.
 */
int
bench_tls_open(struct bench_thread *t, struct bench_conn *c)
{
	const struct bench_tls	*tls = t->run->tls;
	SSL			*ssl;
	int			 one = 1;

	/* TCP_NODELAY: a resumed handshake ends with our Finished, then the
	 * message in a record of its own; the server answers the Finished
	 * with nothing, so Nagle would hold the message for the server's
	 * delayed ACK, 40 ms a connection whatever the server */
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ==
	    -1)
		return (-1);
	if ((ssl = SSL_new(tls->ctx)) == NULL || SSL_set_fd(ssl, c->fd) != 1 ||
	    (tls->sni != NULL &&
	    SSL_set_tlsext_host_name(ssl, tls->sni) != 1)) {
		SSL_free(ssl);
		ERR_clear_error();
		errno = ENOMEM;
		return (-1);
	}
	SSL_set_connect_state(ssl);
	/* a failed connection leaves its session marked unusable */
	if (c->session != NULL && !SSL_SESSION_is_resumable(c->session))
		bench_tls_forget(c);
	if (c->session != NULL) {
		if (SSL_set_session(ssl, c->session) == 1 && c->counted)
			t->tls.offered++;
		ERR_clear_error();
	}
	c->ssl = ssl;
	return (0);
}

/*
 * What OpenSSL's answer rc to an I/O call on c means, as recv would say
 * it: 0 the server closed, else -1 with errno (EAGAIN: wait; EPROTO: a
 * TLS failure, its reason kept in t->tls.why if it is the first).
 */
static int
bench_tls_error(struct bench_thread *t, struct bench_conn *c, int rc)
{
	int	err = errno;
	long	v;

	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		/* an EOF where OpenSSL does not take one as a close */
		if (err == 0)
			return (0);
		errno = err;
		return (-1);
	}
	if (t->tls.why[0] == '\0') {
		bench_tls_reason(t->tls.why, sizeof(t->tls.why), "TLS");
		/* without --tls-ca the result is kept, but nothing failed */
		if (t->run->cfg->tls_ca != NULL &&
		    (v = SSL_get_verify_result(c->ssl)) != X509_V_OK)
			snprintf(t->tls.why + strlen(t->tls.why),
			    sizeof(t->tls.why) - strlen(t->tls.why), " (%s)",
			    X509_verify_cert_error_string(v));
	}
	ERR_clear_error();
	errno = EPROTO;
	return (-1);
}

/* c's handshake is done: count it, full or resumed, with its time. */
static void
bench_tls_count(struct bench_thread *t, struct bench_conn *c)
{
	SSL		*ssl = c->ssl;
	uint64_t	 us = (mono_ns() - c->start) / 1000;

	if (!c->counted)
		return;
	t->tls.handshakes++;
	if (SSL_session_reused(ssl)) {
		t->tls.resumed++;
		hist_record(&t->tls.resumed_us, us);
	} else
		hist_record(&t->tls.full_us, us);
	if (t->tls.version[0] == '\0') {
		snprintf(t->tls.version, sizeof(t->tls.version), "%s",
		    SSL_get_version(ssl));
		snprintf(t->tls.cipher, sizeof(t->tls.cipher), "%s",
		    SSL_get_cipher_name(ssl));
	}
}

/* Go on with c's handshake: 1 once done, else -1 with errno (EAGAIN). */
int
bench_tls_handshake(struct bench_thread *t, struct bench_conn *c)
{
	int	rc;

	if ((rc = SSL_do_handshake(c->ssl)) == 1) {
		bench_tls_count(t, c);
		return (1);
	}
	if (bench_tls_error(t, c, rc) == -1)
		return (-1);
	/* a close during the handshake is a TLS failure, not a reply */
	if (t->tls.why[0] == '\0')
		snprintf(t->tls.why, sizeof(t->tls.why), "TLS: the server "
		    "closed the connection during the handshake");
	errno = EPROTO;
	return (-1);
}

/* Send up to n bytes of buf on c, as send(2) would. */
ssize_t
bench_tls_send(struct bench_thread *t, struct bench_conn *c, const char *buf,
    size_t n)
{
	int	rc;

	if (n > INT32_MAX)
		n = INT32_MAX;
	if ((rc = SSL_write(c->ssl, buf, (int)n)) > 0)
		return (rc);
	if (bench_tls_error(t, c, rc) == 0)
		errno = EPIPE;
	return (-1);
}

/* Read up to n bytes from c into buf, as recv(2) would. */
ssize_t
bench_tls_recv(struct bench_thread *t, struct bench_conn *c, char *buf,
    size_t n)
{
	int	rc;

	if (n > INT32_MAX)
		n = INT32_MAX;
	if ((rc = SSL_read(c->ssl, buf, (int)n)) > 0)
		return (rc);
	return (bench_tls_error(t, c, rc));
}

/* All of c's message is out: send close_notify (--half-close). */
void
bench_tls_shutdown(struct bench_conn *c)
{
	/* a failure here shows as the server's wait, as with shutdown(2) */
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
}

/*
 * Free c's SSL (the socket is the caller's). clean: the server closed
 * after its reply; then close quietly and, with --tls-resume, keep the
 * session if it can be resumed.
 */
void
bench_tls_close(struct bench_thread *t, struct bench_conn *c, int clean)
{
	SSL_SESSION	*s;

	if (c->ssl == NULL)
		return;
	if (clean) {
		SSL_set_quiet_shutdown(c->ssl, 1);
		(void)SSL_shutdown(c->ssl);
		if (t->run->cfg->tls_resume &&
		    (s = SSL_get1_session(c->ssl)) != NULL) {
			if (SSL_SESSION_is_resumable(s)) {
				bench_tls_forget(c);
				c->session = s;
			} else
				SSL_SESSION_free(s);
		}
	}
	SSL_free(c->ssl);
	ERR_clear_error();
	c->ssl = NULL;
}

/* Drop the session c kept, if any. */
void
bench_tls_forget(struct bench_conn *c)
{
	SSL_SESSION_free(c->session);
	c->session = NULL;
}
