/* SPDX-License-Identifier: MIT */
/*
 * tls_ctx.c: the TLS context (OpenSSL's SSL_CTX), built from the flags
 * at start and rebuilt on SIGHUP when one of its files changed.
 *
 * The master builds it once (tls_setup), as root still and before the
 * first fork, so keys only root may read work and every worker inherits
 * it. A bad file is the operator's mistake: one line naming the flag,
 * the file and what is wrong with it (OpenSSL's reason), exit 64. A key
 * file that every user may read gets a warning.
 *
 * Reload (tls_reload: on SIGHUP, in each worker's signal thread and in
 * the master, for the workers it forks later): the files are stat()ed
 * first; if none changed (device, inode, size, modification time),
 * nothing happens, so a HUP that only reopens the log costs three
 * stats. Else a whole new context is built from them, as --user by then
 * (the files must be readable by its group). If that fails the context
 * in use stays, the log says why (event=tls-reload-failed) and the next
 * HUP tries again; if it works, it replaces the one in use
 * (event=tls-reload).
 *
 * Lock rule: tls_ctx_lock guards tls_ctx_cur, and is held only to take
 * a reference to the context (SSL_CTX_up_ref) or to swap the pointer,
 * never while a context is built or an SSL made. Every SSL holds its
 * own reference to the context it was made from: a connection in
 * flight finishes with the old context, which OpenSSL frees with its
 * last SSL. tls_ctx_ids is only touched by the thread that reloads
 * (one signal thread per process, or the master's loop).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ackd.h"
#include "tls_impl.h"

/* The files a context is made of, in the order they are read. */
enum tls_ctx_file {
	TLS_CTX_CERT,
	TLS_CTX_KEY,
	TLS_CTX_CA,
	TLS_CTX_NFILES
};

/* What one file was when it was read: any change makes it a new file. */
struct tls_ctx_id {
	int		exists;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime;
};

/* Why a build failed: the start's line, and the reload's event. */
struct tls_ctx_fail {
	const char	*reason;	/* one token: unreadable, ... */
	const char	*path;		/* the file (or the flag's value) */
	char		 ssl[256];	/* OpenSSL's reason; "" if none */
	char		 words[1024];	/* the whole line */
};

static pthread_mutex_t		tls_ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX			*tls_ctx_cur;	/* NULL: no --tls-port */
static struct tls_ctx_id	tls_ctx_ids[TLS_CTX_NFILES];

/* The flag that names file i. */
static const char *
tls_ctx_flag(enum tls_ctx_file i)
{
	static const char *const	flags[TLS_CTX_NFILES] = {
		"--tls-cert", "--tls-key", "--tls-client-ca"
	};

	return (flags[i]);
}

/* cfg's path of file i; NULL when not given (--tls-client-ca). */
static const char *
tls_ctx_path(const struct ackd_config *cfg, enum tls_ctx_file i)
{
	if (i == TLS_CTX_CERT)
		return (cfg->tls_cert);
	if (i == TLS_CTX_KEY)
		return (cfg->tls_key);
	return (cfg->tls_client_ca);
}

/* Fill f: reason, and the line "FLAG VALUE: what (OpenSSL: why)". -1. */
static int
tls_ctx_fill(struct tls_ctx_fail *f, const char *reason, const char *flag,
    const char *value, const char *what, const char *why)
{
	f->reason = reason;
	f->path = value;
	snprintf(f->ssl, sizeof(f->ssl), "%s", why != NULL ? why : "");
	snprintf(f->words, sizeof(f->words), "%s %s: %s%s%s%s", flag, value,
	    what, why != NULL ? " (OpenSSL: " : "", why != NULL ? why : "",
	    why != NULL ? ")" : "");
	return (-1);
}

/*
 * tls_ctx_fill with OpenSSL's first error (the cause; the later ones
 * only say who called), if there is one; empty its error queue. -1.
 */
static int
tls_ctx_failed(struct tls_ctx_fail *f, const char *reason, const char *flag,
    const char *value, const char *what)
{
	unsigned long	 e = ERR_peek_error();

	tls_ctx_fill(f, reason, flag, value, what,
	    e != 0 ? ERR_reason_error_string(e) : NULL);
	ERR_clear_error();
	return (-1);
}

/*
 * Can path be opened for reading, and is it a regular file? OpenSSL
 * would only say "no such file" or "system lib"; this says which. 0, or
 * -1 with f filled.
 */
static int
tls_ctx_readable(struct tls_ctx_fail *f, enum tls_ctx_file i,
    const char *path)
{
	struct stat	st;
	char		what[160], buf[128];
	int		fd, rc;

	/* O_NONBLOCK: a FIFO named by mistake must not hang the start */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		snprintf(what, sizeof(what), "cannot read: %s",
		    diag_strerror(errno, buf, sizeof(buf)));
		return (tls_ctx_failed(f, "unreadable", tls_ctx_flag(i), path,
		    what));
	}
	rc = fstat(fd, &st);
	close(fd);
	if (rc == -1 || !S_ISREG(st.st_mode))
		return (tls_ctx_failed(f, "unreadable", tls_ctx_flag(i), path,
		    "not a regular file"));
	return (0);
}

/*
 * The protocol settings: the oldest version, the ciphers of TLS 1.2 and
 * of TLS 1.3, and no renegotiation (a client could make us work for
 * nothing with it). 0, or -1 with f filled.
 */
static int
tls_ctx_protocol(SSL_CTX *ctx, const struct ackd_config *cfg,
    struct tls_ctx_fail *f)
{
	if (SSL_CTX_set_min_proto_version(ctx, cfg->tls_min_version == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION) != 1)
		return (tls_ctx_failed(f, "version", "--tls-min-version",
		    cfg->tls_min_version == 13 ? "1.3" : "1.2",
		    "not supported by this OpenSSL"));
	if (SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1)
		return (tls_ctx_failed(f, "ciphers", "--tls-ciphers",
		    cfg->tls_ciphers, "no cipher OpenSSL knows"));
	if (SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites) != 1)
		return (tls_ctx_failed(f, "ciphersuites", "--tls-ciphersuites",
		    cfg->tls_ciphersuites, "no ciphersuite OpenSSL knows"));
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	return (0);
}

/*
 * Fill f for a key that did not load: not the certificate's (OpenSSL
 * says so somewhere in its queue), or no key at all. -1.
 */
static int
tls_ctx_key_failed(struct tls_ctx_fail *f, const char *path)
{
	unsigned long	 e, first = ERR_peek_error();
	const char	*why = first != 0 ? ERR_reason_error_string(first) : NULL;
	int		 mismatch = 0;

	while ((e = ERR_get_error()) != 0)
		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			mismatch = 1;
	if (mismatch)
		return (tls_ctx_fill(f, "key-mismatch", "--tls-key", path,
		    "not the key of the --tls-cert certificate",
		    "key values mismatch"));
	return (tls_ctx_fill(f, "bad-key", "--tls-key", path,
	    "not a PEM private key", why));
}

/*
 * The certificate chain and its private key, which must match. 0, or
 * -1 with f filled.
 */
static int
tls_ctx_identity(SSL_CTX *ctx, const struct ackd_config *cfg,
    struct tls_ctx_fail *f)
{
	if (tls_ctx_readable(f, TLS_CTX_CERT, cfg->tls_cert) == -1)
		return (-1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1)
		return (tls_ctx_failed(f, "bad-certificate", "--tls-cert",
		    cfg->tls_cert, "not a PEM certificate chain"));
	if (tls_ctx_readable(f, TLS_CTX_KEY, cfg->tls_key) == -1)
		return (-1);
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key,
	    SSL_FILETYPE_PEM) != 1)
		return (tls_ctx_key_failed(f, cfg->tls_key));
	if (SSL_CTX_check_private_key(ctx) != 1)
		return (tls_ctx_failed(f, "key-mismatch", "--tls-key",
		    cfg->tls_key, "not the key of the --tls-cert certificate"));
	return (0);
}

/*
 * --tls-client-ca: every client must show a certificate that one of its
 * CAs signed; their names go in the handshake's request. 0, or -1 with
 * f filled.
 */
static int
tls_ctx_clients(SSL_CTX *ctx, const struct ackd_config *cfg,
    struct tls_ctx_fail *f)
{
	STACK_OF(X509_NAME)	*names;
	const char		*ca = cfg->tls_client_ca;

	if (ca == NULL)
		return (0);
	if (tls_ctx_readable(f, TLS_CTX_CA, ca) == -1)
		return (-1);
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(ca)) == NULL)
		return (tls_ctx_failed(f, "bad-ca", "--tls-client-ca", ca,
		    "no PEM CA certificate"));
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return (0);
}

/* A new context from cfg's flags and files; NULL with f filled. */
static SSL_CTX *
tls_ctx_build(const struct ackd_config *cfg, struct tls_ctx_fail *f)
{
	static const unsigned char	sid[] = "ackd";
	SSL_CTX				*ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_ctx_failed(f, "no-memory", "--tls-port", "context",
		    "cannot make a TLS context");
		return (NULL);
	}
	if (tls_ctx_protocol(ctx, cfg, f) == -1 ||
	    tls_ctx_identity(ctx, cfg, f) == -1 ||
	    tls_ctx_clients(ctx, cfg, f) == -1) {
		SSL_CTX_free(ctx);
		return (NULL);
	}
	/* sessions resume only within ours (required with client certs) */
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	/* tls_ticket_attach(ctx) goes here: tickets every worker decrypts */
	return (ctx);
}

/* Record what each of cfg's files is now into ids. */
static void
tls_ctx_stat_all(const struct ackd_config *cfg, struct tls_ctx_id *ids)
{
	struct stat	st;
	const char	*path;
	int		i;

	memset(ids, 0, TLS_CTX_NFILES * sizeof(*ids));
	for (i = 0; i < TLS_CTX_NFILES; i++) {
		path = tls_ctx_path(cfg, (enum tls_ctx_file)i);
		if (path == NULL || stat(path, &st) == -1)
			continue;
		ids[i].exists = 1;
		ids[i].dev = st.st_dev;
		ids[i].ino = st.st_ino;
		ids[i].size = st.st_size;
		ids[i].mtime = st.st_mtim;
	}
}

/* Are the files of a and b the same (nothing changed)? */
static int
tls_ctx_same(const struct tls_ctx_id *a, const struct tls_ctx_id *b)
{
	int	i;

	for (i = 0; i < TLS_CTX_NFILES; i++)
		if (a[i].exists != b[i].exists || a[i].dev != b[i].dev ||
		    a[i].ino != b[i].ino || a[i].size != b[i].size ||
		    a[i].mtime.tv_sec != b[i].mtime.tv_sec ||
		    a[i].mtime.tv_nsec != b[i].mtime.tv_nsec)
			return (0);
	return (1);
}

/*
 * Warn when the key file lets every user read it (or write it): the
 * private key is the server's identity.
 */
static void
tls_ctx_check_mode(const char *path)
{
	struct stat	st;

	if (stat(path, &st) == -1 || (st.st_mode & (S_IROTH | S_IWOTH)) == 0)
		return;
	diag_warnx("--tls-key %s: mode %04o lets every user %s the private "
	    "key (keep it 0600, or 0640 with the group of --user)", path,
	    (unsigned)(st.st_mode & 07777), st.st_mode & S_IROTH ? "read" :
	    "write");
}

/*
 * With --tls-port: build the context from cfg (the master, once, before
 * the privilege drop and the first fork). 0, or -1 with one line in err
 * naming the flag, the file and what is wrong (exit 64).
 */
int
tls_setup(const struct ackd_config *cfg, char *err, size_t errsize)
{
	struct tls_ctx_fail	f;
	SSL_CTX			*ctx;

	if (cfg->tls_port < 0)
		return (0);
	/* before reading: a file changed meanwhile is reread on SIGHUP */
	tls_ctx_stat_all(cfg, tls_ctx_ids);
	if ((ctx = tls_ctx_build(cfg, &f)) == NULL) {
		snprintf(err, errsize, "%s", f.words);
		return (-1);
	}
	tls_ctx_check_mode(cfg->tls_key);
	/* tls_ticket_init() goes here: once, in the master, before fork */
	SSL_CTX_free(tls_ctx_cur);	/* --check may have made one */
	tls_ctx_cur = ctx;
	return (0);
}

/* Say in the log (and on stderr) that a reload failed, and why. */
static void
tls_ctx_reload_failed(const struct tls_ctx_fail *f)
{
	char	path[1024], ssl[512];

	diag_warnx("%s; the TLS context in use stays", f->words);
	if (logfmt_token(path, sizeof(path), f->path) == 0)
		snprintf(path, sizeof(path), "?");
	if (f->ssl[0] == '\0' ||
	    logfmt_token(ssl, sizeof(ssl), f->ssl) == 0)
		snprintf(ssl, sizeof(ssl), "none");
	msglog_event("tls-reload-failed", "reason=%s file=%s error=%s",
	    f->reason, path, ssl);
}

/*
 * SIGHUP: if one of the files changed since it was read, build a new
 * context and make it the one new connections get; if that fails, keep
 * the one in use. Runs in one thread per process (see the lock rule).
 */
void
tls_reload(const struct ackd_config *cfg)
{
	struct tls_ctx_id	now[TLS_CTX_NFILES];
	struct tls_ctx_fail	f;
	SSL_CTX			*ctx, *old;
	char			path[1024];

	if (tls_ctx_cur == NULL)
		return;
	tls_ctx_stat_all(cfg, now);
	if (tls_ctx_same(now, tls_ctx_ids))
		return;
	if ((ctx = tls_ctx_build(cfg, &f)) == NULL) {
		tls_ctx_reload_failed(&f);
		return;
	}
	pthread_mutex_lock(&tls_ctx_lock);
	old = tls_ctx_cur;
	tls_ctx_cur = ctx;
	pthread_mutex_unlock(&tls_ctx_lock);
	SSL_CTX_free(old);	/* the last SSL made from it frees it */
	memcpy(tls_ctx_ids, now, sizeof(tls_ctx_ids));
	if (logfmt_token(path, sizeof(path), cfg->tls_cert) == 0)
		snprintf(path, sizeof(path), "?");
	msglog_event("tls-reload", "cert=%s", path);
}

/*
 * A new SSL for the connection on fd, from the context in use now; it
 * keeps that context alive until SSL_free. NULL: no memory.
 */
SSL *
tls_ctx_ssl(int fd)
{
	SSL_CTX	*ctx;
	SSL	*ssl;

	pthread_mutex_lock(&tls_ctx_lock);
	ctx = tls_ctx_cur;
	SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&tls_ctx_lock);
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);	/* ssl holds its own reference */
	if (ssl != NULL && SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ssl = NULL;
	}
	return (ssl);
}
