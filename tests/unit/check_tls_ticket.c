/* SPDX-License-Identifier: MIT */
/*
 * check_tls_ticket.c: unit tests of the shared session-ticket keys in
 * tls_ticket.c, with real TLS handshakes and no network.
 *
 * Every server is a worker: a child forked for one connection, which
 * builds its own SSL_CTX after the fork (as a worker does when it
 * reloads on SIGHUP), serves one handshake over a socketpair and exits
 * with what it saw. The client is this process, and carries a session
 * (its ticket) from one worker to the next. So a ticket that resumes
 * crossed processes, and a key made by one worker after another was
 * forked is found only through the shared mapping.
 *
 * Key ages come from a clock of the test's own (tls_ticket_set_clock)
 * that lives in a shared page: the test moves it forward by lifetimes
 * and every worker sees the same time, with nothing slept.
 *
 * The client counts the tickets it is sent (its message callback): one
 * per full handshake, one with a resumption under an older key (the
 * renewal), none with one under the current key.
 *
 * The last test is one worker's handler threads sharing one context,
 * both sides of each handshake in memory (a BIO pair), while one of
 * them rotates the key.
 *
 * Each test runs in TLS 1.2 and in TLS 1.3 (the loop index).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_impl.h"

#if OPENSSL_VERSION_NUMBER < 0x30000000L

/* OpenSSL 1.1.1: its own keys serve (see tls_ticket.c): skipped. */
int
main(void)
{
	return (77);
}

#else /* OpenSSL 3 */

#define CHECK_TLS_TICKET_LIFE	TLS_TICKET_LIFE_MS

/* What a worker's exit status says (valgrind's own errors exit 1). */
#define CHECK_TLS_TICKET_FULL	10	/* a full handshake */
#define CHECK_TLS_TICKET_RESUMED 11	/* a resumed one */
#define CHECK_TLS_TICKET_FAILED	20	/* no handshake */
#define CHECK_TLS_TICKET_NOCTX	21	/* no context */

/* The threaded test: threads of one worker, each this many handshakes. */
#define CHECK_TLS_TICKET_THREADS	3
#define CHECK_TLS_TICKET_ROUNDS		8
/* each round lets this pass: 3 * 8 of them, 3/8 of a lifetime in all */
#define CHECK_TLS_TICKET_STEP		(CHECK_TLS_TICKET_LIFE / 64)

/* Which keys a worker's context seals and opens tickets with. */
enum check_tls_ticket_keys {
	CHECK_TLS_TICKET_SHARED,	/* tls_ticket_attach */
	CHECK_TLS_TICKET_OWN,		/* OpenSSL's own, per context */
	CHECK_TLS_TICKET_VERIFY		/* shared, asking for client certs */
};

/* How a connection should go (check_tls_ticket_is). */
enum check_tls_ticket_expect {
	CHECK_TLS_TICKET_EXPECT_FULL,
	CHECK_TLS_TICKET_EXPECT_RESUMED,
	CHECK_TLS_TICKET_EXPECT_RENEWED
};

/* What one connection gave. */
struct check_tls_ticket_shake {
	int		 client_ok;	/* the client's handshake and bytes */
	int		 client_resumed;
	int		 worker;	/* the worker's exit status */
	int		 tickets;	/* how many the client was sent */
	SSL_SESSION	*session;	/* the client's, to offer next */
};

static _Atomic long long	*check_tls_ticket_now;
static EVP_PKEY			*check_tls_ticket_pkey;
static X509			*check_tls_ticket_cert;
static int			 check_tls_ticket_version;
static int			 check_tls_ticket_sent;	/* tickets */

/* The keys' clock: the shared page's milliseconds. */
static long long
check_tls_ticket_clock(void)
{
	return (atomic_load(check_tls_ticket_now));
}

/* Let ms pass, for every worker. */
static void
check_tls_ticket_pass(long long ms)
{
	atomic_fetch_add(check_tls_ticket_now, ms);
}

/* A self-signed P-256 certificate for the workers, made once. */
static void
check_tls_ticket_make_cert(void)
{
	X509_NAME	*name;
	X509		*x;

	check_tls_ticket_pkey = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(check_tls_ticket_pkey);
	x = X509_new();
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	ck_assert_int_eq(X509_set_pubkey(x, check_tls_ticket_pkey), 1);
	name = X509_get_subject_name(x);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"ackd-test", -1, -1, 0), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
	ck_assert_int_ne(X509_sign(x, check_tls_ticket_pkey, EVP_sha256()), 0);
	check_tls_ticket_cert = x;
}

/* Each test: a clock at one lifetime, a fresh ring, the loop's version. */
static void
check_tls_ticket_setup_at(int version)
{
	void	*p;

	if (check_tls_ticket_now == NULL) {
		p = mmap(NULL, sizeof(*check_tls_ticket_now),
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ck_assert_ptr_ne(p, MAP_FAILED);
		check_tls_ticket_now = p;
		check_tls_ticket_make_cert();
	}
	atomic_store(check_tls_ticket_now, CHECK_TLS_TICKET_LIFE);
	tls_ticket_set_clock(check_tls_ticket_clock);
	ck_assert_int_eq(tls_ticket_init(), 0);
	check_tls_ticket_version = version == 0 ? TLS1_2_VERSION :
	    TLS1_3_VERSION;
}

/* A context for this test's version only, of either side. */
static SSL_CTX *
check_tls_ticket_ctx(const SSL_METHOD *method)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(method)) == NULL)
		return (NULL);
	if (SSL_CTX_set_min_proto_version(ctx, check_tls_ticket_version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, check_tls_ticket_version) != 1) {
		SSL_CTX_free(ctx);
		return (NULL);
	}
	return (ctx);
}

/* Accept any client certificate, and none: the test asks, never checks. */
static int
check_tls_ticket_verify(int ok, X509_STORE_CTX *store)
{
	(void)ok;
	(void)store;
	return (1);
}

/* A worker's context, built after its fork; NULL if it cannot be. */
static SSL_CTX *
check_tls_ticket_server(enum check_tls_ticket_keys keys)
{
	SSL_CTX	*ctx;

	if ((ctx = check_tls_ticket_ctx(TLS_server_method())) == NULL)
		return (NULL);
	if (SSL_CTX_use_certificate(ctx, check_tls_ticket_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, check_tls_ticket_pkey) != 1 ||
	    (keys != CHECK_TLS_TICKET_OWN && tls_ticket_attach(ctx) != 0)) {
		SSL_CTX_free(ctx);
		return (NULL);
	}
	if (keys == CHECK_TLS_TICKET_VERIFY)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER,
		    check_tls_ticket_verify);
	return (ctx);
}

/* The worker: one handshake on fd, a byte each way; exits with the news. */
static void __attribute__((noreturn))
check_tls_ticket_worker(int fd, enum check_tls_ticket_keys keys)
{
	SSL_CTX	*ctx;
	SSL	*ssl;
	char	 c;
	int	 status = CHECK_TLS_TICKET_FAILED;

	alarm(120);		/* never outlive a lost test */
	if ((ctx = check_tls_ticket_server(keys)) == NULL)
		_exit(CHECK_TLS_TICKET_NOCTX);
	if ((ssl = SSL_new(ctx)) != NULL && SSL_set_fd(ssl, fd) == 1 &&
	    SSL_accept(ssl) == 1 && SSL_write(ssl, "k", 1) == 1 &&
	    SSL_read(ssl, &c, 1) == 1)
		status = SSL_session_reused(ssl) ? CHECK_TLS_TICKET_RESUMED :
		    CHECK_TLS_TICKET_FULL;
	/* the client's close_notify: then it writes no more */
	if (ssl != NULL)
		(void)SSL_read(ssl, &c, 1);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	_exit(status);
}

/* A message the client sent or was sent: count the tickets. */
static void
check_tls_ticket_message(int write_p, int version, int content_type,
    const void *buf, size_t len, SSL *ssl, void *arg)
{
	(void)version;
	(void)ssl;
	(void)arg;
	if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
	    *(const unsigned char *)buf == SSL3_MT_NEWSESSION_TICKET)
		check_tls_ticket_sent++;
}

/* The client's side on fd, offering offer (or nothing). */
static void
check_tls_ticket_client(int fd, SSL_SESSION *offer,
    struct check_tls_ticket_shake *out)
{
	SSL_CTX	*ctx;
	SSL	*ssl = NULL;
	char	 c;

	check_tls_ticket_sent = 0;
	if ((ctx = check_tls_ticket_ctx(TLS_client_method())) == NULL)
		goto done;
	SSL_CTX_set_msg_callback(ctx, check_tls_ticket_message);
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    (offer != NULL && SSL_set_session(ssl, offer) != 1))
		goto done;
	/* the read takes TLS 1.3's ticket, sent after the handshake */
	out->client_ok = SSL_connect(ssl) == 1 &&
	    SSL_read(ssl, &c, 1) == 1 && SSL_write(ssl, "c", 1) == 1;
	out->client_resumed = SSL_session_reused(ssl);
	/* else SSL_free marks the session not resumable, as broken off */
	if (out->client_ok)
		(void)SSL_shutdown(ssl);
	out->session = SSL_get1_session(ssl);
	out->tickets = check_tls_ticket_sent;
done:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}

/* One connection to a new worker with keys, offering offer; see is. */
static struct check_tls_ticket_shake
check_tls_ticket_connect(enum check_tls_ticket_keys keys, SSL_SESSION *offer)
{
	struct check_tls_ticket_shake	out = { 0, 0, -1, 0, NULL };
	struct timeval			tv = { 60, 0 };
	pid_t				pid;
	int				sv[2], status;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(sv[0]);
		check_tls_ticket_worker(sv[1], keys);
	}
	close(sv[1]);
	/* a worker that hangs: the client gives up, and so does it */
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	check_tls_ticket_client(sv[0], offer, &out);
	close(sv[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status))
		out.worker = WEXITSTATUS(status);
	return (out);
}

/*
 * Assert a connection was whole, and how it went: expect is FULL (one
 * ticket sent: not OpenSSL's two in TLS 1.3), RESUMED under the key
 * that seals (no new ticket) or RENEWED (resumed under an older key,
 * and a new ticket sent). Workers with their own keys: not counted.
 */
static void
check_tls_ticket_is(const struct check_tls_ticket_shake *s,
    enum check_tls_ticket_keys keys, enum check_tls_ticket_expect expect)
{
	int	resumed = expect != CHECK_TLS_TICKET_EXPECT_FULL;

	ck_assert_int_eq(s->client_ok, 1);
	ck_assert_int_eq(s->worker, resumed ? CHECK_TLS_TICKET_RESUMED :
	    CHECK_TLS_TICKET_FULL);
	ck_assert_int_eq(s->client_resumed, resumed);
	ck_assert_ptr_nonnull(s->session);
	if (keys != CHECK_TLS_TICKET_OWN)
		ck_assert_int_eq(s->tickets,
		    expect == CHECK_TLS_TICKET_EXPECT_RESUMED ? 0 : 1);
}

/* Offer offer to a new worker; assert how it went; its session. */
static SSL_SESSION *
check_tls_ticket_offer(enum check_tls_ticket_keys keys, SSL_SESSION *offer,
    enum check_tls_ticket_expect expect)
{
	struct check_tls_ticket_shake	s;

	s = check_tls_ticket_connect(keys, offer);
	check_tls_ticket_is(&s, keys, expect);
	return (s.session);
}

/* A new session from a full handshake at a worker with keys. */
static SSL_SESSION *
check_tls_ticket_fresh(enum check_tls_ticket_keys keys)
{
	return (check_tls_ticket_offer(keys, NULL,
	    CHECK_TLS_TICKET_EXPECT_FULL));
}

/* The key name at the head of session's ticket, into name. */
static void
check_tls_ticket_name(SSL_SESSION *session, unsigned char name[16])
{
	const unsigned char	*tick;
	size_t			 len;

	SSL_SESSION_get0_ticket(session, &tick, &len);
	/* name, IV, at least one AES block, HMAC-SHA256 */
	ck_assert_uint_ge(len, 16 + 16 + 16 + 32);
	memcpy(name, tick, 16);
}

/* A copy of session, its ticket's byte at (from the end if < 0) changed. */
static SSL_SESSION *
check_tls_ticket_tamper(SSL_SESSION *session, long at)
{
	const unsigned char	*tick, *p;
	unsigned char		*der, *q, *hit;
	SSL_SESSION		*copy;
	size_t			 len;
	int			 dlen;

	SSL_SESSION_get0_ticket(session, &tick, &len);
	dlen = i2d_SSL_SESSION(session, NULL);
	ck_assert_int_gt(dlen, 0);
	q = der = malloc((size_t)dlen);
	ck_assert_ptr_nonnull(der);
	ck_assert_int_eq(i2d_SSL_SESSION(session, &q), dlen);
	hit = memmem(der, (size_t)dlen, tick, len);
	ck_assert_ptr_nonnull(hit);
	hit[at >= 0 ? (size_t)at : len - (size_t)-at] ^= 0x5a;
	p = der;
	copy = d2i_SSL_SESSION(NULL, &p, dlen);
	free(der);
	ck_assert_ptr_nonnull(copy);
	return (copy);
}

START_TEST(check_tls_ticket_cross_worker)
{
	SSL_SESSION	*first, *second;

	check_tls_ticket_setup_at(_i);
	first = check_tls_ticket_fresh(CHECK_TLS_TICKET_SHARED);
	/* another worker, another context: it opens the first's ticket */
	second = check_tls_ticket_offer(CHECK_TLS_TICKET_SHARED, first,
	    CHECK_TLS_TICKET_EXPECT_RESUMED);
	SSL_SESSION_free(second);
	SSL_SESSION_free(first);
}
END_TEST

START_TEST(check_tls_ticket_own_keys_do_not_cross)
{
	SSL_SESSION	*first, *second;

	/* the control: without the shared keys, workers' tickets differ */
	check_tls_ticket_setup_at(_i);
	first = check_tls_ticket_fresh(CHECK_TLS_TICKET_OWN);
	second = check_tls_ticket_offer(CHECK_TLS_TICKET_OWN, first,
	    CHECK_TLS_TICKET_EXPECT_FULL);
	SSL_SESSION_free(second);
	SSL_SESSION_free(first);
}
END_TEST

START_TEST(check_tls_ticket_rotated_by_a_worker)
{
	SSL_SESSION	*before, *after, *again;
	unsigned char	 name_before[16], name_after[16], name_again[16];

	check_tls_ticket_setup_at(_i);
	before = check_tls_ticket_fresh(CHECK_TLS_TICKET_SHARED);
	check_tls_ticket_name(before, name_before);
	/* the key is a lifetime old: this worker makes the next one... */
	check_tls_ticket_pass(CHECK_TLS_TICKET_LIFE);
	after = check_tls_ticket_fresh(CHECK_TLS_TICKET_SHARED);
	check_tls_ticket_name(after, name_after);
	ck_assert_mem_ne(name_before, name_after, 16);
	/* ...which the next worker, forked after it, opens and keeps */
	again = check_tls_ticket_offer(CHECK_TLS_TICKET_SHARED, after,
	    CHECK_TLS_TICKET_EXPECT_RESUMED);
	check_tls_ticket_name(again, name_again);
	ck_assert_mem_eq(name_again, name_after, 16);
	SSL_SESSION_free(again);
	SSL_SESSION_free(after);
	SSL_SESSION_free(before);
}
END_TEST

START_TEST(check_tls_ticket_previous_key)
{
	SSL_SESSION	*old, *renewed, *still, *next;
	unsigned char	 name_old[16], name_new[16], name_next[16];

	check_tls_ticket_setup_at(_i);
	old = check_tls_ticket_fresh(CHECK_TLS_TICKET_SHARED);
	check_tls_ticket_name(old, name_old);
	check_tls_ticket_pass(CHECK_TLS_TICKET_LIFE);
	/* its key seals no more: it resumes, with a ticket under a new key */
	renewed = check_tls_ticket_offer(CHECK_TLS_TICKET_SHARED, old,
	    CHECK_TLS_TICKET_EXPECT_RENEWED);
	check_tls_ticket_name(renewed, name_new);
	ck_assert_mem_ne(name_new, name_old, 16);
	/* the old ticket still resumes, until its key is two lifetimes old */
	check_tls_ticket_pass(CHECK_TLS_TICKET_LIFE - 1);
	still = check_tls_ticket_offer(CHECK_TLS_TICKET_SHARED, old,
	    CHECK_TLS_TICKET_EXPECT_RENEWED);
	/* and the renewed one under the current key stays as it is */
	next = check_tls_ticket_offer(CHECK_TLS_TICKET_SHARED, renewed,
	    CHECK_TLS_TICKET_EXPECT_RESUMED);
	check_tls_ticket_name(next, name_next);
	ck_assert_mem_eq(name_next, name_new, 16);
	SSL_SESSION_free(next);
	SSL_SESSION_free(still);
	SSL_SESSION_free(renewed);
	SSL_SESSION_free(old);
}
END_TEST

START_TEST(check_tls_ticket_aged_out)
{
	SSL_SESSION	*old, *first, *late;
	unsigned char	 name_old[16], name_late[16];

	check_tls_ticket_setup_at(_i);
	old = check_tls_ticket_fresh(CHECK_TLS_TICKET_SHARED);
	check_tls_ticket_name(old, name_old);
	/* a millisecond short of two lifetimes: it opens... */
	check_tls_ticket_pass(2 * CHECK_TLS_TICKET_LIFE - 1);
	first = check_tls_ticket_offer(CHECK_TLS_TICKET_SHARED, old,
	    CHECK_TLS_TICKET_EXPECT_RENEWED);
	/* ...and then no more: a full handshake, not a failed one */
	check_tls_ticket_pass(1);
	late = check_tls_ticket_offer(CHECK_TLS_TICKET_SHARED, old,
	    CHECK_TLS_TICKET_EXPECT_FULL);
	check_tls_ticket_name(late, name_late);
	ck_assert_mem_ne(name_late, name_old, 16);
	SSL_SESSION_free(late);
	SSL_SESSION_free(first);
	SSL_SESSION_free(old);
}
END_TEST

START_TEST(check_tls_ticket_garbage)
{
	SSL_SESSION	*good, *bad, *got, *theirs;
	static const long at[] = {
		0,		/* the key name: no such key */
		15,		/* its last byte */
		16,		/* the IV: the MAC fails */
		40,		/* the encrypted session */
		-1		/* the MAC itself */
	};
	size_t		 i;

	check_tls_ticket_setup_at(_i);
	good = check_tls_ticket_fresh(CHECK_TLS_TICKET_SHARED);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		bad = check_tls_ticket_tamper(good, at[i]);
		got = check_tls_ticket_offer(CHECK_TLS_TICKET_SHARED, bad,
		    CHECK_TLS_TICKET_EXPECT_FULL);
		SSL_SESSION_free(got);
		SSL_SESSION_free(bad);
	}
	/* a ticket of another server's keys: unknown, a full handshake */
	theirs = check_tls_ticket_fresh(CHECK_TLS_TICKET_OWN);
	got = check_tls_ticket_offer(CHECK_TLS_TICKET_SHARED, theirs,
	    CHECK_TLS_TICKET_EXPECT_FULL);
	SSL_SESSION_free(got);
	/* the control: untouched, it resumes */
	got = check_tls_ticket_offer(CHECK_TLS_TICKET_SHARED, good,
	    CHECK_TLS_TICKET_EXPECT_RESUMED);
	SSL_SESSION_free(got);
	SSL_SESSION_free(theirs);
	SSL_SESSION_free(good);
}
END_TEST

START_TEST(check_tls_ticket_client_certs)
{
	SSL_SESSION	*first, *second;

	/* a server that asks for client certificates resumes too */
	check_tls_ticket_setup_at(_i);
	first = check_tls_ticket_fresh(CHECK_TLS_TICKET_VERIFY);
	second = check_tls_ticket_offer(CHECK_TLS_TICKET_VERIFY, first,
	    CHECK_TLS_TICKET_EXPECT_RESUMED);
	SSL_SESSION_free(second);
	SSL_SESSION_free(first);
}
END_TEST

START_TEST(check_tls_ticket_attach_before_init)
{
	SSL_CTX	*ctx;

	/* a fresh process (check's fork) that never called tls_ticket_init */
	ctx = SSL_CTX_new(TLS_server_method());
	ck_assert_ptr_nonnull(ctx);
	errno = 0;
	ck_assert_int_eq(tls_ticket_attach(ctx), -1);
	ck_assert_int_eq(errno, EINVAL);
	SSL_CTX_free(ctx);
}
END_TEST

/* Both sides of a handshake in memory, then a byte (TLS 1.3's ticket). */
static int
check_tls_ticket_pump(SSL *client, SSL *server)
{
	int	i, c = 0, v = 0;
	char	byte;

	for (i = 0; i < 64 && (c != 1 || v != 1); i++) {
		if (c != 1)
			c = SSL_do_handshake(client);
		if (v != 1)
			v = SSL_do_handshake(server);
	}
	return (c == 1 && v == 1 && SSL_write(server, "k", 1) == 1 &&
	    SSL_read(client, &byte, 1) == 1);
}

/* One handshake in memory offering offer: resumed 1, full 0, -1 failed. */
static int
check_tls_ticket_in_memory(SSL_CTX *cctx, SSL_CTX *sctx, SSL_SESSION *offer,
    SSL_SESSION **got)
{
	SSL	*client = SSL_new(cctx), *server = SSL_new(sctx);
	BIO	*cbio, *sbio;
	int	 rc = -1;

	if (client != NULL && server != NULL &&
	    BIO_new_bio_pair(&cbio, 0, &sbio, 0) == 1) {
		SSL_set_bio(client, cbio, cbio);
		SSL_set_bio(server, sbio, sbio);
		SSL_set_connect_state(client);
		SSL_set_accept_state(server);
		if ((offer == NULL || SSL_set_session(client, offer) == 1) &&
		    check_tls_ticket_pump(client, server)) {
			rc = SSL_session_reused(client);
			(void)SSL_shutdown(client);
			*got = SSL_get1_session(client);
		}
	}
	SSL_free(server);
	SSL_free(client);
	return (rc);
}

/* The contexts one worker's threads share. */
struct check_tls_ticket_pair {
	SSL_CTX		*client, *server;
	atomic_int	 failed;	/* rounds that did not go as they should */
};

/* A handler thread: full handshakes, each resumed, while time passes. */
static void *
check_tls_ticket_thread(void *arg)
{
	struct check_tls_ticket_pair	*pair = arg;
	SSL_SESSION			*first, *second;
	int				 i;

	for (i = 0; i < CHECK_TLS_TICKET_ROUNDS; i++) {
		first = second = NULL;
		check_tls_ticket_pass(CHECK_TLS_TICKET_STEP);
		if (check_tls_ticket_in_memory(pair->client, pair->server,
		    NULL, &first) != 0 || check_tls_ticket_in_memory(
		    pair->client, pair->server, first, &second) != 1)
			atomic_fetch_add(&pair->failed, 1);
		SSL_SESSION_free(second);
		SSL_SESSION_free(first);
	}
	return (NULL);
}

START_TEST(check_tls_ticket_threads)
{
	struct check_tls_ticket_pair	pair;
	pthread_t			t[CHECK_TLS_TICKET_THREADS];
	unsigned char			name_before[16], name_after[16];
	SSL_SESSION			*before, *after;
	int				i;

	/*
	 * A worker's handler threads share its context and the ring; the
	 * key is made old enough that one of them rotates it midway. Every
	 * ticket is resumed within the time that passes (3/8 of a
	 * lifetime after a key at most a lifetime old): each must resume.
	 */
	check_tls_ticket_setup_at(_i);
	pair.client = check_tls_ticket_ctx(TLS_client_method());
	pair.server = check_tls_ticket_server(CHECK_TLS_TICKET_SHARED);
	ck_assert_ptr_nonnull(pair.client);
	ck_assert_ptr_nonnull(pair.server);
	atomic_init(&pair.failed, 0);
	ck_assert_int_eq(check_tls_ticket_in_memory(pair.client, pair.server,
	    NULL, &before), 0);
	check_tls_ticket_pass(CHECK_TLS_TICKET_LIFE - 4 * CHECK_TLS_TICKET_STEP);
	for (i = 0; i < CHECK_TLS_TICKET_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL,
		    check_tls_ticket_thread, &pair), 0);
	for (i = 0; i < CHECK_TLS_TICKET_THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_int_eq(atomic_load(&pair.failed), 0);
	/* and it did rotate */
	ck_assert_int_eq(check_tls_ticket_in_memory(pair.client, pair.server,
	    NULL, &after), 0);
	check_tls_ticket_name(before, name_before);
	check_tls_ticket_name(after, name_after);
	ck_assert_mem_ne(name_before, name_after, 16);
	SSL_SESSION_free(after);
	SSL_SESSION_free(before);
	SSL_CTX_free(pair.server);
	SSL_CTX_free(pair.client);
}
END_TEST

/* The suite: each handshake test in TLS 1.2 (0) and TLS 1.3 (1). */
static Suite *
tls_ticket_suite(void)
{
	Suite	*s = suite_create("tls_ticket");
	TCase	*tc;

	/* first: under valgrind (CK_FORK=no) the tests share one process */
	tc = tcase_create("attach");
	tcase_add_test(tc, check_tls_ticket_attach_before_init);
	suite_add_tcase(s, tc);
	tc = tcase_create("resume");
	/* valgrind makes each forked handshake take a second or more */
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, check_tls_ticket_cross_worker, 0, 2);
	tcase_add_loop_test(tc, check_tls_ticket_own_keys_do_not_cross, 0, 2);
	tcase_add_loop_test(tc, check_tls_ticket_rotated_by_a_worker, 0, 2);
	tcase_add_loop_test(tc, check_tls_ticket_previous_key, 0, 2);
	tcase_add_loop_test(tc, check_tls_ticket_aged_out, 0, 2);
	tcase_add_loop_test(tc, check_tls_ticket_garbage, 0, 2);
	tcase_add_loop_test(tc, check_tls_ticket_client_certs, 0, 2);
	tcase_add_loop_test(tc, check_tls_ticket_threads, 0, 2);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	/* as the daemon: a peer gone is an error, not a death */
	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(tls_ticket_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}

#endif /* OpenSSL 3 */
