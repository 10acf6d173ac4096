/* SPDX-License-Identifier: MIT */
/*
 * peerlimit.c: --max-connections-per-ip, the number of connections one
 * client address may hold at once, across every worker.
 *
 * The master maps one table, shared by all processes, before it forks:
 * a region per worker slot, in which that slot's worker counts its
 * connections per client address. A region is an open-addressing hash
 * table (linear probing) of buckets, each empty (0) or naming an entry
 * (its number + 1); an entry holds an address, its hash and how many of
 * the worker's connections come from it. Counting an address means one
 * probe in the region of each slot in use: a hash, then a bucket or two
 * per slot, whatever the number of connections.
 *
 * Sizes. A worker holds at most --max-connections connections, so at
 * most that many distinct addresses: a region has the power of two of
 * buckets at or above twice that (at least PEERLIMIT_BUCKETS_MIN), and
 * half as many entries, so the table is never more than half full and a
 * probe ends soon. Past PEERLIMIT_BUCKETS_MAX (2^17) buckets the region
 * stops growing: it then holds 65,536 addresses, and a connection from
 * one more new address is refused (fail closed: the limit is never
 * silently off). A region is 20 bytes a bucket, 2.5 MiB at the cap, and
 * ACKD_WORKERS_MAX (256) regions are mapped, since any slot may run a
 * worker: at most 640 MiB of address space, mapped MAP_NORESERVE, of
 * which only the pages a worker touches cost memory (0.7 MiB for 5,000
 * addresses at the cap, measured; 2.5 MiB at most per live worker). Under
 * strict overcommit (vm.overcommit_memory=2) the whole mapping is
 * charged; the start then fails with a clear message if it does not fit.
 *
 * Entries never move while they hold a connection, so the number
 * peerlimit_enter returns stays valid until peerlimit_leave: removing an
 * address shifts buckets back to close the gap (backward-shift deletion),
 * which keeps every probe chain unbroken without tombstones, but the
 * entries themselves stay put. Free entries form a list; entries past
 * `top` have never been used and their pages never touched.
 *
 * The hash is SipHash-1-3 under a key drawn at start, so clients cannot
 * choose addresses that pile up in one probe chain.
 *
 * Lock rules: every region is read and written with the table's mutex
 * held. It is process-shared and robust: a worker killed while holding it
 * does not wedge the others. Its half-done change is to its own region,
 * which may then be wrong until the master clears it, before it forks the
 * replacement, as it does for every dead worker; probes are bounded, so a
 * torn region cannot make the others loop.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"

#ifndef MAP_NORESERVE
#define MAP_NORESERVE	0
#endif

/* A client address: its family and up to 16 bytes. */
struct peerlimit_key {
	unsigned char	family;
	unsigned char	addr[16];
};

/* One address of one worker's connections: count 0 means free. */
struct peerlimit_entry {
	uint32_t		count;
	uint32_t		hash;		/* its bucket: hash & mask */
	uint32_t		next_free;	/* number + 1 while free; 0: end */
	struct peerlimit_key	key;
};

/* A slot's region: this, then its buckets, then its entries. */
struct peerlimit_region {
	uint32_t	touched;	/* anything ever written below */
	uint32_t	top;		/* entries ever used */
	uint32_t	free_head;	/* first free entry's number + 1 */
	uint32_t	pad;
};

struct peerlimit_table {
	pthread_mutex_t	lock;
	int		max;		/* per address */
	int		slots_used;	/* highest slot index + 1 */
	uint32_t	buckets;	/* per region, a power of two */
	size_t		region_size;
	uint64_t	sipkey[2];
	uint64_t	regions[];	/* slot * region_size bytes on */
};

static struct peerlimit_table	*peerlimit;	/* NULL: no limit */
static size_t			 peerlimit_size;	/* of the mapping */
static int			 peerlimit_slot;	/* this worker's */

/* Buckets per region for workers of per_slot connections each. */
static uint32_t
peerlimit_buckets(size_t per_slot)
{
	uint32_t	n = PEERLIMIT_BUCKETS_MIN;

	while (n < PEERLIMIT_BUCKETS_MAX && (size_t)n / 2 < per_slot)
		n *= 2;
	return (n);
}

/* Fill k with a secret key for the hash: random bytes, or a fallback. */
static void
peerlimit_seed(uint64_t k[2])
{
	struct timespec	ts;
	ssize_t		n = -1;
	int		fd;

	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, k, 2 * sizeof(k[0]));
		close(fd);
	}
	if (n == (ssize_t)(2 * sizeof(k[0])))
		return;
	/* no device (a container without /dev): weaker, still not guessable */
	clock_gettime(CLOCK_REALTIME, &ts);
	k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u ^ (uint64_t)ts.tv_sec;
	k[1] = (uint64_t)getpid() * 0xc2b2ae3d27d4eb4fu ^ (uint64_t)(uintptr_t)k;
}

/* Map the table and fill its header. */
static int
peerlimit_map(int max, uint32_t buckets)
{
	size_t	region = sizeof(struct peerlimit_region) +
		    (size_t)buckets * sizeof(uint32_t) +
		    (size_t)buckets / 2 * sizeof(struct peerlimit_entry);
	void	*p;

	peerlimit_size = sizeof(*peerlimit) + (size_t)ACKD_WORKERS_MAX * region;
	/* pages no worker touches are never backed by memory */
	p = mmap(NULL, peerlimit_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return (-1);
	peerlimit = p;
	peerlimit->max = max;
	peerlimit->buckets = buckets;
	peerlimit->region_size = region;
	peerlimit_seed(peerlimit->sipkey);
	return (0);
}

/*
 * Map the shared table for max connections per address (0: no limit),
 * for workers of per_slot connections each (--max-connections). Master,
 * before forking.
 */
int
peerlimit_init(int max, size_t per_slot)
{
	pthread_mutexattr_t	 attr;

	if (max == 0)
		return (0);
	if (peerlimit_map(max, peerlimit_buckets(per_slot)) == -1)
		return (-1);
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	errno = pthread_mutex_init(&peerlimit->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return (errno == 0 ? 0 : -1);
}

/* Unmap the table: no limit from now on. For tests; nobody may hold it. */
void
peerlimit_unmap(void)
{
	if (peerlimit == NULL)
		return;
	pthread_mutex_destroy(&peerlimit->lock);
	munmap(peerlimit, peerlimit_size);
	peerlimit = NULL;
}

/* Take the table's lock, repairing it if its holder died. */
static void
peerlimit_lock(void)
{
	if (pthread_mutex_lock(&peerlimit->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&peerlimit->lock);
}

/* The address bytes of sa as a table key; 0 if it has none. */
static int
peerlimit_key(const struct sockaddr *sa, struct peerlimit_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = (unsigned char)sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(k->addr, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(k->addr, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, 16);
	else
		return (0);
	return (1);
}

#define PEERLIMIT_ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))

/* One SipRound over the state v. */
static void
peerlimit_sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = PEERLIMIT_ROTL(v[1], 13); v[1] ^= v[0];
	v[0] = PEERLIMIT_ROTL(v[0], 32);
	v[2] += v[3]; v[3] = PEERLIMIT_ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = PEERLIMIT_ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = PEERLIMIT_ROTL(v[1], 17); v[1] ^= v[2];
	v[2] = PEERLIMIT_ROTL(v[2], 32);
}

/* SipHash-1-3 of k's 24 bytes (zero padded) under the table's key. */
static uint32_t
peerlimit_hash(const struct peerlimit_key *k)
{
	const uint64_t	*sk = peerlimit->sipkey;
	uint64_t	 m[4] = { 0, 0, 0, (uint64_t)24 << 56 };
	uint64_t	 v[4] = { sk[0] ^ 0x736f6d6570736575u,
			    sk[1] ^ 0x646f72616e646f6du,
			    sk[0] ^ 0x6c7967656e657261u,
			    sk[1] ^ 0x7465646279746573u };
	int		 i;

	memcpy(m, k, sizeof(*k));
	for (i = 0; i < 4; i++) {
		v[3] ^= m[i];
		peerlimit_sipround(v);
		v[0] ^= m[i];
	}
	v[2] ^= 0xff;
	for (i = 0; i < 3; i++)
		peerlimit_sipround(v);
	return ((uint32_t)(v[0] ^ v[1] ^ v[2] ^ v[3]));
}

/* The region of slot. */
static struct peerlimit_region *
peerlimit_region(int slot)
{
	return ((struct peerlimit_region *)(void *)((char *)peerlimit->regions +
	    (size_t)slot * peerlimit->region_size));
}

/* The buckets of region r. */
static uint32_t *
peerlimit_bucket(struct peerlimit_region *r)
{
	return ((uint32_t *)(void *)(r + 1));
}

/* The entry numbered n (from 0) of region r. */
static struct peerlimit_entry *
peerlimit_entry(struct peerlimit_region *r, uint32_t n)
{
	return ((struct peerlimit_entry *)(void *)(peerlimit_bucket(r) +
	    peerlimit->buckets) + n);
}

/*
 * The bucket of r that names k's entry, or else the empty bucket where
 * it would go; the number of buckets if neither (a torn region).
 */
static uint32_t
peerlimit_find(struct peerlimit_region *r, const struct peerlimit_key *k,
    uint32_t hash)
{
	uint32_t		 mask = peerlimit->buckets - 1, i, n, *b;
	struct peerlimit_entry	*e;

	b = peerlimit_bucket(r);
	for (n = 0, i = hash & mask; n <= mask; n++, i = (i + 1) & mask) {
		if (b[i] == 0 || b[i] > peerlimit->buckets / 2)
			return (b[i] == 0 ? i : peerlimit->buckets);
		e = peerlimit_entry(r, b[i] - 1);
		if (e->hash == hash && memcmp(&e->key, k, sizeof(*k)) == 0)
			return (i);
	}
	return (peerlimit->buckets);
}

/* How many connections r counts for k; pos gets peerlimit_find's. */
static uint32_t
peerlimit_count_in(struct peerlimit_region *r, const struct peerlimit_key *k,
    uint32_t hash, uint32_t *pos)
{
	*pos = peerlimit_find(r, k, hash);
	if (*pos == peerlimit->buckets || peerlimit_bucket(r)[*pos] == 0)
		return (0);
	return (peerlimit_entry(r, peerlimit_bucket(r)[*pos] - 1)->count);
}

/* Forget every connection of slot (its worker is gone). Master only. */
void
peerlimit_clear(int slot)
{
	struct peerlimit_region	*r;

	if (peerlimit == NULL)
		return;
	peerlimit_lock();
	r = peerlimit_region(slot);
	/* untouched pages stay untouched: a fresh slot costs nothing */
	if (r->touched)
		memset(r, 0, (size_t)((char *)peerlimit_entry(r, r->top) -
		    (char *)r));
	if (slot + 1 > peerlimit->slots_used)
		peerlimit->slots_used = slot + 1;
	pthread_mutex_unlock(&peerlimit->lock);
}

/* Say which slot this worker process runs in. Worker, at start. */
void
peerlimit_set_slot(int slot)
{
	peerlimit_slot = slot;
}

/* A free entry of r, its number; -1 if all are in use (r is full). */
static long
peerlimit_alloc(struct peerlimit_region *r)
{
	uint32_t	n;

	if (r->free_head != 0) {
		n = r->free_head - 1;
		r->free_head = peerlimit_entry(r, n)->next_free;
		return ((long)n);
	}
	if (r->top == peerlimit->buckets / 2)
		return (-1);
	return ((long)r->top++);
}

/*
 * Count one more connection from k in this worker's region, whose bucket
 * pos peerlimit_find gave: the entry's number, or ACKD_REFUSED if the
 * region is full (or torn) and k is new to it.
 */
static int
peerlimit_add(const struct peerlimit_key *k, uint32_t hash, uint32_t pos)
{
	struct peerlimit_region	*r = peerlimit_region(peerlimit_slot);
	struct peerlimit_entry	*e;
	uint32_t		*b = peerlimit_bucket(r);
	long			 n;

	if (pos == peerlimit->buckets)
		return (ACKD_REFUSED);
	if (b[pos] != 0) {
		peerlimit_entry(r, b[pos] - 1)->count++;
		return ((int)(b[pos] - 1));
	}
	r->touched = 1;		/* first, so that a clear never skips it */
	if ((n = peerlimit_alloc(r)) == -1)
		return (ACKD_REFUSED);
	e = peerlimit_entry(r, (uint32_t)n);
	e->key = *k;
	e->hash = hash;
	e->next_free = 0;
	e->count = 1;
	b[pos] = (uint32_t)n + 1;
	return ((int)n);
}

/*
 * Count a new connection from c's address in this worker's slot. Returns
 * the entry that holds it (give it to peerlimit_leave), -1 when there is
 * no limit or no address to count, or ACKD_REFUSED when the address is
 * at its limit, or is new and this worker's table is full: refuse the
 * connection.
 */
int
peerlimit_enter(const struct conn *c)
{
	struct peerlimit_key	 key;
	uint32_t		 hash, pos, own = 0;
	long			 count = 0;
	int			 slot, rc;

	if (peerlimit == NULL || !peerlimit_key(&c->addr.sa, &key))
		return (-1);
	hash = peerlimit_hash(&key);
	peerlimit_lock();
	for (slot = 0; slot < peerlimit->slots_used ||
	    slot <= peerlimit_slot; slot++) {
		count += peerlimit_count_in(peerlimit_region(slot), &key, hash,
		    &pos);
		if (slot == peerlimit_slot)
			own = pos;
	}
	rc = count >= peerlimit->max ? ACKD_REFUSED :
	    peerlimit_add(&key, hash, own);
	pthread_mutex_unlock(&peerlimit->lock);
	return (rc);
}

/* Whether bucket k lies cyclically in (i, j]: a chain from k spans i. */
static int
peerlimit_between(uint32_t i, uint32_t k, uint32_t j)
{
	return (i <= j ? (i < k && k <= j) : (i < k || k <= j));
}

/*
 * Empty bucket pos of r, moving back the buckets after it whose chains
 * would otherwise break (backward-shift deletion for linear probing).
 */
static void
peerlimit_unlink(struct peerlimit_region *r, uint32_t pos)
{
	uint32_t	mask = peerlimit->buckets - 1, *b = peerlimit_bucket(r);
	uint32_t	i = pos, j = pos, home, n;

	for (n = 0; n < mask; n++) {
		j = (j + 1) & mask;
		if (b[j] == 0 || b[j] > peerlimit->buckets / 2)
			break;
		home = peerlimit_entry(r, b[j] - 1)->hash & mask;
		/* it may stay only if its home lies after the gap */
		if (peerlimit_between(i, home, j))
			continue;
		b[i] = b[j];
		i = j;
	}
	b[i] = 0;
}

/* The connection counted in entry (from peerlimit_enter) is closed. */
void
peerlimit_leave(int entry)
{
	struct peerlimit_region	*r;
	struct peerlimit_entry	*e;
	uint32_t		 pos;

	if (peerlimit == NULL || entry < 0 ||
	    (uint32_t)entry >= peerlimit->buckets / 2)
		return;
	peerlimit_lock();
	r = peerlimit_region(peerlimit_slot);
	e = peerlimit_entry(r, (uint32_t)entry);
	if (e->count > 0 && --e->count == 0) {
		pos = peerlimit_find(r, &e->key, e->hash);
		if (pos != peerlimit->buckets && peerlimit_bucket(r)[pos] ==
		    (uint32_t)entry + 1)
			peerlimit_unlink(r, pos);
		e->next_free = r->free_head;
		r->free_head = (uint32_t)entry + 1;
	}
	pthread_mutex_unlock(&peerlimit->lock);
}
