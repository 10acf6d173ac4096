/* SPDX-License-Identifier: MIT */
/*
 * tls_ticket.c: the session-ticket keys every worker shares, so that a
 * ticket issued by one worker resumes at any other, and their rotation.
 *
 * A ticket is the server's own session state, encrypted and
 * authenticated under a key only the server knows (RFC 5077; TLS 1.3's
 * stateless tickets are the same thing under another name). OpenSSL
 * makes random keys per SSL_CTX: never rotated, and different in a
 * worker that rebuilt its context on SIGHUP. So ackd keeps the keys
 * itself, in one ring mapped MAP_SHARED | MAP_ANONYMOUS by the master
 * before the first fork (tls_ticket_init), and every SSL_CTX gets a
 * callback that reads it (tls_ticket_attach): each worker, and each
 * context a worker builds later, seals and opens tickets with the same
 * keys. A key is a 16-byte name (sent in clear at the head of each
 * ticket, to find the key again), a 32-byte AES-256-CBC key and a
 * 32-byte HMAC-SHA256 key, as OpenSSL's ticket format expects.
 *
 * Lifetimes (TLS_TICKET_LIFE_MS, one hour): a key seals new tickets
 * while it is younger than one lifetime, and opens tickets while it is
 * younger than two. A session's timeout (SSL_CTX_set_timeout) is one
 * lifetime, so a ticket sealed at the last moment of its key's first
 * lifetime is still good until the end of the second: every ticket
 * stays usable for its whole timeout, and none for longer. A ticket
 * under a key that no longer seals resumes, and the client is sent a
 * fresh one under the current key (the callback returns 2, "renew").
 * A ticket under the current key resumes and the client keeps it: no
 * new ticket. Rotation is lazy: the first handshake that finds the
 * current key too old makes a new one (RAND_bytes) under the lock;
 * nothing runs when nobody connects, and no timer or thread is needed.
 * A restart or an upgrade (a new master) makes new keys: its clients
 * do one full handshake each. The unit test ages keys with a clock of
 * its own (tls_ticket_set_clock).
 *
 * Two slots are enough: a new key is made only when the current one
 * is a lifetime old, and the current one was made only when the
 * previous one was a lifetime old; so the slot a new key overwrites
 * holds a key at least two lifetimes old, which opens nothing any
 * more. Ages are on CLOCK_MONOTONIC (mono_ms): one clock for the
 * whole host, so the ages every process computes agree, and setting
 * the wall clock neither expires every key at once nor makes one
 * seal for ever. The keys never leave the host, so nothing needs the
 * wall clock's meaning.
 *
 * Lock rules: every field of the ring is read and written with its
 * lock held, in any process; the lock is held only to copy one key
 * (about a hundred bytes) and, once a lifetime, to make one. It is a
 * process-shared pthread mutex, robust: a worker killed while holding
 * it (the watchdog's SIGKILL) must not wedge every other worker. The
 * next one to lock gets EOWNERDEAD, cannot know how far the dead one
 * got, and starts over: every slot is emptied and a new key is made
 * (tickets sealed before then get a full handshake once). A seqlock
 * would spare the readers their lock, but a writer that dies leaves
 * it odd for ever, and copying keys while one is written is a data
 * race to the compilers and to TSan; the lock costs far less than a
 * handshake's key exchange.
 *
 * Keys are secrets: they are never written to a file, the mapping is
 * excluded from core dumps (MADV_DONTDUMP, where there is one) and
 * locked into memory if the limits allow (never swapped out), and
 * copies on the stack are wiped after use.
 *
 * What tls_ticket_attach also sets on a context, and why:
 *   - SSL_OP_NO_TICKET off: TLS 1.2 tickets and TLS 1.3 stateless
 *     tickets both go through the callback (with the option set,
 *     TLS 1.3 would use stateful tickets kept per process);
 *   - one TLS 1.3 ticket per handshake, not OpenSSL's two: each costs
 *     an encryption, a MAC and some 200 bytes on the wire, and an ackd
 *     client makes one connection at a time, with one message each;
 *     OpenSSL's clients reuse a ticket, which nothing here forbids;
 *   - no per-process session cache: resumption goes through tickets,
 *     which every worker opens; session ids cached in one worker would
 *     resume only there, and cost a locked insert per full handshake;
 *   - a session id context: OpenSSL refuses to resume a session when
 *     the server asks for client certificates and has none set.
 * OpenSSL 1.1.1 has no EVP_MAC callback: there only these are set, and
 * OpenSSL's own keys serve; the workers share those of the master's
 * context until a reload, and nothing rotates.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>	/* OSSL_MAC_PARAM_*, OpenSSL 3 */
#endif

#include "common.h"
#include "tls_impl.h"

#define TLS_TICKET_KEYS		2		/* current and previous */
#define TLS_TICKET_SID_CTX	"ackd"		/* see the essay above */

/* Sets what the essay says on ctx, but the callback. 0, or -1. */
static int
tls_ticket_options(SSL_CTX *ctx)
{
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_timeout(ctx, TLS_TICKET_LIFE_MS / 1000);
	if (SSL_CTX_set_num_tickets(ctx, 1) != 1 ||
	    SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)TLS_TICKET_SID_CTX,
	    sizeof(TLS_TICKET_SID_CTX) - 1) != 1)
		return (-1);
	return (0);
}

#if OPENSSL_VERSION_NUMBER >= 0x30000000L

/* One ticket key, in OpenSSL's ticket format. */
struct tls_ticket_key {
	unsigned char	name[16];	/* in clear at each ticket's head */
	unsigned char	aes[32];	/* AES-256-CBC */
	unsigned char	hmac[32];	/* HMAC-SHA256 */
	long long	born_ms;	/* mono_ms() when made */
	int		used;		/* 0: an empty slot, matches nothing */
};

/* The ring every process maps; all of it under lock. */
struct tls_ticket_ring {
	pthread_mutex_t		lock;		/* robust, process-shared */
	unsigned		current;	/* the slot that seals */
	struct tls_ticket_key	keys[TLS_TICKET_KEYS];
};

/* What a key may still do at some moment. */
enum tls_ticket_use {
	TLS_TICKET_SEALS,	/* current and young: seals and opens */
	TLS_TICKET_OPENS,	/* opens, and the ticket is renewed */
	TLS_TICKET_DEAD		/* opens nothing */
};

static struct tls_ticket_ring	*tls_ticket_ring;
static size_t			 tls_ticket_size;
static EVP_CIPHER		*tls_ticket_cipher;
static long long		(*tls_ticket_clock)(void) = mono_ms;

/* Tests only, before tls_ticket_init: the clock that ages keys. */
void
tls_ticket_set_clock(long long (*now_ms)(void))
{
	tls_ticket_clock = now_ms;
}

/* What key k may do at now_ms, if it is the current one or not. */
static enum tls_ticket_use
tls_ticket_use(const struct tls_ticket_key *k, int current, long long now_ms)
{
	long long	age_ms = now_ms - k->born_ms;

	if (!k->used || age_ms >= 2 * TLS_TICKET_LIFE_MS)
		return (TLS_TICKET_DEAD);
	if (current && age_ms < TLS_TICKET_LIFE_MS)
		return (TLS_TICKET_SEALS);
	return (TLS_TICKET_OPENS);
}

/* Make a new current key in the other slot (see the essay). 0, or -1. */
static int
tls_ticket_rotate(struct tls_ticket_ring *r, long long now_ms)
{
	unsigned		 next = (r->current + 1) % TLS_TICKET_KEYS;
	struct tls_ticket_key	*k = &r->keys[next];

	k->used = 0;
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 ||
	    RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
		return (-1);
	k->born_ms = now_ms;
	k->used = 1;
	r->current = next;
	return (0);
}

/* Forget every key: a fresh ring, whose first seal makes a key. */
static void
tls_ticket_empty(struct tls_ticket_ring *r)
{
	OPENSSL_cleanse(r->keys, sizeof(r->keys));
	r->current = 0;
}

/* Take the ring's lock; a dead holder's ring starts over. 0, or -1. */
static int
tls_ticket_lock(void)
{
	int	rc;

	rc = pthread_mutex_lock(&tls_ticket_ring->lock);
	if (rc == EOWNERDEAD) {
		tls_ticket_empty(tls_ticket_ring);
		rc = pthread_mutex_consistent(&tls_ticket_ring->lock);
	}
	return (rc == 0 ? 0 : -1);
}

/* Release the ring's lock. */
static void
tls_ticket_unlock(void)
{
	pthread_mutex_unlock(&tls_ticket_ring->lock);
}

/* Copy the key that seals into *out, made first if needed. 0, or -1. */
static int
tls_ticket_current(struct tls_ticket_key *out)
{
	struct tls_ticket_ring	*r = tls_ticket_ring;
	long long		 now_ms;
	int			 rc = 0;

	if (tls_ticket_lock() == -1)
		return (-1);
	now_ms = tls_ticket_clock();
	if (tls_ticket_use(&r->keys[r->current], 1, now_ms) !=
	    TLS_TICKET_SEALS)
		rc = tls_ticket_rotate(r, now_ms);
	if (rc == 0)
		*out = r->keys[r->current];
	tls_ticket_unlock();
	return (rc);
}

/*
 * Copy the key named name into *out: 1 it seals, 2 it only opens (the
 * ticket is renewed), 0 none (unknown, or too old), -1 the lock failed.
 */
static int
tls_ticket_find(const unsigned char name[16], struct tls_ticket_key *out)
{
	struct tls_ticket_ring	*r = tls_ticket_ring;
	enum tls_ticket_use	 use = TLS_TICKET_DEAD;
	long long		 now_ms;
	unsigned		 i;

	if (tls_ticket_lock() == -1)
		return (-1);
	now_ms = tls_ticket_clock();
	for (i = 0; i < TLS_TICKET_KEYS; i++) {
		if (r->keys[i].used && memcmp(r->keys[i].name, name,
		    sizeof(r->keys[i].name)) == 0) {
			use = tls_ticket_use(&r->keys[i], i == r->current,
			    now_ms);
			*out = r->keys[i];
			break;
		}
	}
	tls_ticket_unlock();
	if (use == TLS_TICKET_DEAD)
		return (0);
	return (use == TLS_TICKET_SEALS ? 1 : 2);
}

/* Give OpenSSL's HMAC context key k's MAC key. 0, or -1. */
static int
tls_ticket_mac(EVP_MAC_CTX *hctx, struct tls_ticket_key *k)
{
	OSSL_PARAM	params[3];
	char		digest[] = "SHA256";

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    k->hmac, sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[2] = OSSL_PARAM_construct_end();
	return (EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1);
}

/* A new ticket: the current key, a random IV. 1, 0 (no ticket), -1. */
static int
tls_ticket_seal(unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx)
{
	struct tls_ticket_key	k;
	int			rc = 1;

	if (tls_ticket_current(&k) == -1)
		return (0);	/* no key: no ticket, not a failed handshake */
	memcpy(name, k.name, sizeof(k.name));
	if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(tls_ticket_cipher)) != 1)
		rc = 0;
	else if (EVP_EncryptInit_ex2(cctx, tls_ticket_cipher, k.aes, iv,
	    NULL) != 1 || tls_ticket_mac(hctx, &k) == -1)
		rc = -1;
	OPENSSL_cleanse(&k, sizeof(k));
	return (rc);
}

/* A ticket the client sent: its key, if still there. 2, 1, 0, -1. */
static int
tls_ticket_open(const unsigned char name[16], const unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx)
{
	struct tls_ticket_key	k;
	int			rc;

	rc = tls_ticket_find(name, &k);
	if (rc == -1)
		rc = 0;		/* a full handshake, as for an unknown key */
	else if (rc > 0 && (EVP_DecryptInit_ex2(cctx, tls_ticket_cipher,
	    k.aes, iv, NULL) != 1 || tls_ticket_mac(hctx, &k) == -1))
		rc = -1;
	OPENSSL_cleanse(&k, sizeof(k));
	return (rc);
}

/* OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb). */
static int
tls_ticket_cb(SSL *ssl, unsigned char name[16],
    unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, int enc)
{
	(void)ssl;
	if (enc)
		return (tls_ticket_seal(name, iv, cctx, hctx));
	return (tls_ticket_open(name, iv, cctx, hctx));
}

/* Map the shared ring (zeroed) with its lock; keep it out of cores. */
static struct tls_ticket_ring *
tls_ticket_map(size_t size)
{
	pthread_mutexattr_t	 attr;
	struct tls_ticket_ring	*r;
	void			*p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (NULL);
#ifdef MADV_DONTDUMP
	(void)madvise(p, size, MADV_DONTDUMP);	/* best effort: no core */
#endif
	(void)mlock(p, size);	/* best effort: RLIMIT_MEMLOCK may say no */
	r = p;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	errno = pthread_mutex_init(&r->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (errno != 0) {
		munmap(p, size);
		return (NULL);
	}
	return (r);
}

/*
 * Master, once, before the first fork: map the ring and make the first
 * key. Called again (tests), it starts over with a new ring, which the
 * processes forked before do not see. 0, or -1 with errno.
 */
int
tls_ticket_init(void)
{
	struct tls_ticket_ring	*r;
	size_t			 size;
	long			 page = sysconf(_SC_PAGESIZE);

	size = page > 0 ? (size_t)page : 4096;
	if (tls_ticket_cipher == NULL && (tls_ticket_cipher =
	    EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL)) == NULL) {
		errno = ENOSYS;		/* no AES in this OpenSSL */
		return (-1);
	}
	if ((r = tls_ticket_map(size)) == NULL)
		return (-1);
	if (tls_ticket_rotate(r, tls_ticket_clock()) == -1) {
		pthread_mutex_destroy(&r->lock);
		munmap(r, size);
		errno = EAGAIN;		/* no randomness */
		return (-1);
	}
	if (tls_ticket_ring != NULL)
		munmap(tls_ticket_ring, tls_ticket_size);
	tls_ticket_ring = r;
	tls_ticket_size = size;
	return (0);
}

/*
 * Make ctx seal and open tickets with the shared keys (see the essay
 * for what else it sets). 0, or -1: EINVAL before tls_ticket_init,
 * else OpenSSL's error queue says why.
 */
int
tls_ticket_attach(SSL_CTX *ctx)
{
	if (tls_ticket_ring == NULL) {
		errno = EINVAL;
		return (-1);
	}
	if (tls_ticket_options(ctx) == -1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb) != 1)
		return (-1);
	return (0);
}

#else /* OpenSSL 1.1.1: no EVP_MAC ticket callback */

/* No keys, no clock. */
void
tls_ticket_set_clock(long long (*now_ms)(void))
{
	(void)now_ms;
}

/* Nothing to share: see tls_ticket_attach. */
int
tls_ticket_init(void)
{
	return (0);
}

/*
 * OpenSSL 1.1.1: its own per-context keys. Workers inherit the master's
 * context, so its tickets resume at every worker, until a worker
 * rebuilds its context on SIGHUP; no rotation.
 */
int
tls_ticket_attach(SSL_CTX *ctx)
{
	return (tls_ticket_options(ctx));
}

#endif /* OpenSSL 3 */
