/* SPDX-License-Identifier: MIT */
/*
 * tls_conn.c: one connection over TLS, for the handler thread serving it.
 *
 * A connection accepted on a --tls-port listener gets a tls_conn when its
 * handler first takes it up (after the PROXY header, if one comes): an
 * SSL from the worker's current context (tls_ctx.c), on the accepted
 * descriptor. Everything here is non-blocking, like the rest of the
 * handler: tls_conn_handshake takes the handshake as far as the bytes
 * that have arrived go and says what it waits for (TLS_WANT_READ or
 * TLS_WANT_WRITE), and the handler parks the connection in the event
 * stage until then, so a slow or silent client holds no thread. The read
 * deadline (--read-timeout from the accept) covers the handshake and the
 * message together; the handler keeps it.
 *
 * Before the first handshake step, the first byte is peeked: a TLS
 * connection starts with a handshake record (0x16). Anything else is a
 * client speaking plaintext to the TLS port, told apart from other
 * protocol errors as reason=plaintext.
 *
 * A failure becomes one short reason token (the design's: plaintext,
 * version, no-certificate, bad-certificate, reset, eof, protocol; the
 * handler adds timeout; "empty", a close before the first byte, the
 * handler logs as a plain connection's empty event), kept in the tls_conn with at most one detail
 * field: verify= (why we refused the client's certificate) or alert=
 * (the alert the client sent, such as unknown-ca when it refused ours).
 * They are built from OpenSSL's tables, never from client bytes, and
 * hold only [a-z0-9-], so they go into the line's fields as they are.
 *
 * The message is read with SSL_read (tls_conn_read, recv's contract);
 * the ACK is written with SSL_write, then one SSL_shutdown sends our
 * close_notify without waiting for the client's, and the SSL is freed
 * (tls_conn_close), before the handler closes the descriptor. No
 * close_notify follows a fatal error or an unfinished handshake.
 *
 * OpenSSL's error queue is per thread: every call that can fail starts
 * with it empty and leaves it empty, so one connection's errors never
 * explain another's.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "ackd.h"
#include "tls_impl.h"

/* The first byte of a TLS connection: a handshake record's type. */
#define TLS_CONN_HANDSHAKE	0x16
/* A reason and its detail field: "bad-certificate alert=...", at most. */
#define TLS_CONN_WHY_MAX	56
/* The longest wait for room to write the ACK (the plain path's send
 * blocks; an ACK fits an empty send buffer, so this is for a client that
 * stopped reading) */
#define TLS_CONN_WRITE_MS	5000

struct tls_conn {
	SSL	*ssl;
	int	 fd;
	int	 peeked;	/* the first byte was a handshake record */
	int	 failed;	/* a fatal error: no more I/O, no close_notify */
	char	 why[TLS_CONN_WHY_MAX];
};

/* A verify result's short token, for verify=: the common ones by name. */
static const struct {
	long		 code;
	const char	*token;
} tls_conn_verify_tokens[] = {
	{ X509_V_ERR_CERT_HAS_EXPIRED,			"expired" },
	{ X509_V_ERR_CERT_NOT_YET_VALID,		"not-yet-valid" },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,		"unknown-ca" },
	{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,	"unknown-ca" },
	{ X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,	"unknown-ca" },
	{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,	"self-signed" },
	{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,		"unknown-ca" },
	{ X509_V_ERR_CERT_SIGNATURE_FAILURE,		"bad-signature" },
	{ X509_V_ERR_CERT_REVOKED,			"revoked" },
	{ X509_V_ERR_INVALID_PURPOSE,			"purpose" },
	{ X509_V_ERR_CERT_CHAIN_TOO_LONG,		"chain-too-long" },
	{ X509_V_ERR_EE_KEY_TOO_SMALL,			"key-too-small" },
	{ X509_V_ERR_CA_KEY_TOO_SMALL,			"key-too-small" },
	{ X509_V_ERR_CA_MD_TOO_WEAK,			"md-too-weak" },
};

/*
 * A new SSL for the accepted socket fd, in the server's state, from the
 * current context; fd becomes non-blocking (OpenSSL reads and writes it
 * itself). NULL with errno when there is no memory.
 */
struct tls_conn *
tls_conn_new(int fd)
{
	struct tls_conn	*t;
	int		 one = 1;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	t->fd = fd;
	/* TCP_NODELAY, as nginx sets it: after a full handshake we write
	 * the session ticket and then the ACK, two small records, and Nagle
	 * could hold the ACK until the client acknowledged the ticket, up
	 * to a delayed ACK's 40 ms later */
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ==
	    -1 || (t->ssl = tls_ctx_ssl(fd)) == NULL) {
		ERR_clear_error();
		free(t);
		errno = ENOMEM;
		return (NULL);
	}
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* a client that half-closes its TCP side without close_notify ends
	 * its message (--framing eof), as a plain one does; the ACK can
	 * still go out */
	SSL_set_options(t->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	SSL_set_accept_state(t->ssl);
	return (t);
}

/* Note a failure, why (at most TLS_CONN_WHY_MAX - 1 bytes); TLS_FAILED. */
static enum tls_step
tls_conn_fail(struct tls_conn *t, const char *why, const char *key,
    const char *detail)
{
	if (key != NULL)
		snprintf(t->why, sizeof(t->why), "%s %s=%s", why, key, detail);
	else
		snprintf(t->why, sizeof(t->why), "%s", why);
	t->failed = 1;
	ERR_clear_error();
	return (TLS_FAILED);
}

/*
 * The first byte: is it a handshake record? TLS_DONE if so (the
 * handshake may start), TLS_WANT_READ while nothing has arrived,
 * TLS_FAILED otherwise.
 */
static enum tls_step
tls_conn_peek(struct tls_conn *t)
{
	unsigned char	b;
	ssize_t		n;

	do
		n = recv(t->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == 1 && b == TLS_CONN_HANDSHAKE) {
		t->peeked = 1;
		return (TLS_DONE);
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return (TLS_WANT_READ);
	/* closed before its first byte: "empty", as on a plain port (a
	 * balancer's connect check is no TLS failure) */
	return (tls_conn_fail(t, n == 1 ? "plaintext" : n == 0 ? "empty" :
	    errno == ECONNRESET ? "reset" : "protocol", NULL, NULL));
}

/* The short token of a certificate verify result, into buf. */
static const char *
tls_conn_verify_token(long code, char *buf, size_t size)
{
	size_t	i;

	for (i = 0; i < nitems(tls_conn_verify_tokens); i++)
		if (tls_conn_verify_tokens[i].code == code)
			return (tls_conn_verify_tokens[i].token);
	snprintf(buf, size, "code-%ld", code);
	return (buf);
}

/*
 * An alert's name as a token: OpenSSL's long description in lower case,
 * runs of other characters as one '-' ("unknown CA": unknown-ca).
 */
static const char *
tls_conn_alert_token(int alert, char *buf, size_t size)
{
	const char	*s = SSL_alert_desc_string_long(alert);
	size_t		 n = 0;

	for (; *s != '\0' && n + 1 < size; s++) {
		if (isalnum((unsigned char)*s))
			buf[n++] = (char)tolower((unsigned char)*s);
		else if (n > 0 && buf[n - 1] != '-')
			buf[n++] = '-';
	}
	while (n > 0 && buf[n - 1] == '-')
		n--;
	buf[n] = '\0';
	return (n > 0 ? buf : "unknown");
}

/*
 * The client sent an alert (its description in alert): about a
 * certificate, it refused ours; protocol_version, it refused our
 * versions; any other, a protocol failure.
 */
static enum tls_step
tls_conn_alert(struct tls_conn *t, int alert)
{
	char	tok[32];

	tls_conn_alert_token(alert, tok, sizeof(tok));
	switch (alert) {
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
		return (tls_conn_fail(t, "bad-certificate", "alert", tok));
	case SSL_AD_PROTOCOL_VERSION:
		return (tls_conn_fail(t, "version", "alert", tok));
	default:
		return (tls_conn_fail(t, "protocol", "alert", tok));
	}
}

/* An SSL_ERROR_SSL's reason, from the first error OpenSSL queued. */
static enum tls_step
tls_conn_ssl_error(struct tls_conn *t)
{
	unsigned long	e = ERR_peek_error();
	int		r = ERR_GET_REASON(e);
	char		tok[24];

	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return (tls_conn_fail(t, "protocol", NULL, NULL));
	if (r >= SSL_AD_REASON_OFFSET && r < SSL_AD_REASON_OFFSET + 256)
		return (tls_conn_alert(t, r - SSL_AD_REASON_OFFSET));
	switch (r) {
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
		return (tls_conn_fail(t, "version", NULL, NULL));
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		return (tls_conn_fail(t, "no-certificate", NULL, NULL));
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
		return (tls_conn_fail(t, "bad-certificate", "verify",
		    tls_conn_verify_token(SSL_get_verify_result(t->ssl), tok,
		    sizeof(tok))));
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return (tls_conn_fail(t, "eof", NULL, NULL));
#endif
	default:
		return (tls_conn_fail(t, "protocol", NULL, NULL));
	}
}

/*
 * Take the handshake as far as the bytes go: TLS_DONE once it is over
 * (at once, after that), TLS_WANT_READ or TLS_WANT_WRITE when it waits
 * for the client or for room to write, TLS_FAILED with *reason set
 * (valid until tls_conn_close): the reason token, maybe a detail field.
 */
enum tls_step
tls_conn_handshake(struct tls_conn *t, const char **reason)
{
	enum tls_step	step;
	int		rc, err, saved;

	*reason = t->why;
	if (t->failed)
		return (TLS_FAILED);
	if (!t->peeked && (step = tls_conn_peek(t)) != TLS_DONE)
		return (step);
	ERR_clear_error();
	if ((rc = SSL_do_handshake(t->ssl)) == 1)
		return (TLS_DONE);
	saved = errno;
	switch ((err = SSL_get_error(t->ssl, rc))) {
	case SSL_ERROR_WANT_READ:
		return (TLS_WANT_READ);
	case SSL_ERROR_WANT_WRITE:
		return (TLS_WANT_WRITE);
	case SSL_ERROR_SSL:
		return (tls_conn_ssl_error(t));
	case SSL_ERROR_SYSCALL:
		return (tls_conn_fail(t, saved == ECONNRESET ? "reset" :
		    saved == 0 || saved == EPIPE ? "eof" : "protocol", NULL,
		    NULL));
	case SSL_ERROR_ZERO_RETURN:
		return (tls_conn_fail(t, "eof", NULL, NULL));
	default:
		return (tls_conn_fail(t, "protocol", NULL, NULL));
	}
}

/*
 * Read up to size bytes of the message, as recv with MSG_DONTWAIT would:
 * the count, 0 at the client's end (close_notify, or its end of file),
 * or -1 with errno (EAGAIN: nothing more has arrived; ECONNRESET;
 * EPROTO for a TLS failure).
 */
ssize_t
tls_conn_read(struct tls_conn *t, void *buf, size_t size)
{
	int	n, saved;

	ERR_clear_error();
	n = SSL_read(t->ssl, buf, size > INT_MAX ? INT_MAX : (int)size);
	if (n > 0)
		return (n);
	saved = errno;
	switch (SSL_get_error(t->ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	case SSL_ERROR_SYSCALL:
		t->failed = 1;
		ERR_clear_error();
		if (saved == 0)
			return (0);	/* its end of file, no close_notify */
		errno = saved;
		return (-1);
	default:
		t->failed = 1;
		ERR_clear_error();
		errno = EPROTO;
		return (-1);
	}
}

/* Wait up to TLS_CONN_WRITE_MS for fd to be ready for what SSL wants. */
static int
tls_conn_wait(struct tls_conn *t, int err)
{
	struct pollfd	pfd;
	int		n;

	pfd.fd = t->fd;
	pfd.events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
	do
		n = poll(&pfd, 1, TLS_CONN_WRITE_MS);
	while (n == -1 && errno == EINTR);
	if (n == 0)
		errno = ETIMEDOUT;
	return (n == 1 ? 0 : -1);
}

/* Write all of buf (the ACK) over the connection; 0, or -1 with errno. */
int
tls_conn_write_all(struct tls_conn *t, const void *buf, size_t len)
{
	int	n, err;

	if (len > INT_MAX) {
		errno = EINVAL;
		return (-1);
	}
	for (;;) {
		ERR_clear_error();
		if ((n = SSL_write(t->ssl, buf, (int)len)) > 0)
			return (0);	/* no partial writes: all of it */
		err = SSL_get_error(t->ssl, n);
		if ((err == SSL_ERROR_WANT_WRITE ||
		    err == SSL_ERROR_WANT_READ) && tls_conn_wait(t, err) == 0)
			continue;
		if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ &&
		    err != SSL_ERROR_SYSCALL)
			errno = EPROTO;
		t->failed = 1;
		ERR_clear_error();
		return (-1);
	}
}

/*
 * Send our close_notify once, if the connection is sound, without
 * waiting for the client's, and free the SSL (not the descriptor, which
 * the handler closes). NULL is nothing to close.
 */
void
tls_conn_close(struct tls_conn *t)
{
	if (t == NULL)
		return;
	ERR_clear_error();
	if (!t->failed && SSL_is_init_finished(t->ssl))
		(void)SSL_shutdown(t->ssl);
	SSL_free(t->ssl);
	ERR_clear_error();
	free(t);
}

/*
 * "TLSv1.3/TLS_AES_128_GCM_SHA256", the version and cipher, into buf;
 * its length, 0 (buf empty) before the handshake is over.
 */
size_t
tls_conn_describe(struct tls_conn *t, char *buf, size_t size)
{
	int	n;

	if (size == 0)
		return (0);
	buf[0] = '\0';
	if (t == NULL || !SSL_is_init_finished(t->ssl))
		return (0);
	n = snprintf(buf, size, "%s/%s", SSL_get_version(t->ssl),
	    SSL_get_cipher_name(t->ssl));
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return (0);
	}
	return ((size_t)n);
}

/*
 * The client certificate's subject (RFC 2253, one line) into buf, raw
 * bytes the caller escapes, cut at size; its length, 0 if there is no
 * certificate (or no handshake yet).
 */
size_t
tls_conn_subject(struct tls_conn *t, char *buf, size_t size)
{
	X509	*x;
	BIO	*b;
	int	 n;

	if (t == NULL || size == 0 || !SSL_is_init_finished(t->ssl))
		return (0);
	if ((x = SSL_get_peer_certificate(t->ssl)) == NULL)
		return (0);
	n = 0;
	if ((b = BIO_new(BIO_s_mem())) != NULL &&
	    X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253) >= 0)
		n = BIO_read(b, buf, size > INT_MAX ? INT_MAX : (int)size);
	BIO_free(b);
	X509_free(x);
	ERR_clear_error();
	return (n > 0 ? (size_t)n : 0);
}

/* Did the client resume an earlier session (a ticket)? */
int
tls_conn_resumed(struct tls_conn *t)
{
	return (t != NULL && SSL_is_init_finished(t->ssl) &&
	    SSL_session_reused(t->ssl));
}
