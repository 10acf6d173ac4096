/* SPDX-License-Identifier: MIT */
/*
 * peerlimit.c: --max-connections-per-ip, the number of connections one
 * client address may hold at once, across every worker.
 *
 * The master maps one table, shared by all processes, before it forks:
 * a region per worker slot with an entry for each connection that worker
 * can hold at once (its queue, its threads and the one in its accept
 * loop). A worker marks an entry with the client's address when it takes
 * a connection and clears it when the connection is closed. Counting an
 * address means scanning the regions of the slots in use, which costs
 * about a microsecond with the default sizes and only when the limit is
 * on. Because each worker owns its region, a worker that dies leaves no
 * count behind for ever: the master clears the slot's region before it
 * forks the replacement.
 *
 * Lock rules: entries are read and written with the table's mutex held.
 * It is process-shared and robust: a worker killed while holding it does
 * not wedge the others (its half-done change is to its own region, which
 * the master clears anyway).
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <string.h>

#include "ackd.h"

struct peerlimit_entry {
	unsigned char	used;
	unsigned char	family;
	unsigned char	addr[16];
};

struct peerlimit_table {
	pthread_mutex_t		lock;
	int			max;		/* per address */
	int			slots_used;	/* highest slot index + 1 */
	size_t			per_slot;
	struct peerlimit_entry	entries[];	/* slot * per_slot + i */
};

static struct peerlimit_table	*peerlimit;	/* NULL: no limit */
static int			 peerlimit_slot;	/* this worker's */

/*
 * Map the shared table for max connections per address (0: no limit),
 * for worker slots of per_slot connections each. Master, before forking.
 */
int
peerlimit_init(int max, size_t per_slot)
{
	pthread_mutexattr_t	 attr;
	size_t			 size;
	void			*p;

	if (max == 0)
		return (0);
	size = sizeof(*peerlimit) + (size_t)ACKD_WORKERS_MAX * per_slot *
	    sizeof(struct peerlimit_entry);
	/* pages no worker touches are never backed by memory */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return (-1);
	peerlimit = p;
	peerlimit->max = max;
	peerlimit->per_slot = per_slot;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	errno = pthread_mutex_init(&peerlimit->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return (errno == 0 ? 0 : -1);
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
peerlimit_key(const struct sockaddr *sa, struct peerlimit_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->used = 1;
	e->family = (unsigned char)sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(e->addr, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(e->addr, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, 16);
	else
		return (0);
	return (1);
}

/* Forget every connection of slot (its worker is gone). Master only. */
void
peerlimit_clear(int slot)
{
	if (peerlimit == NULL)
		return;
	peerlimit_lock();
	memset(&peerlimit->entries[(size_t)slot * peerlimit->per_slot], 0,
	    peerlimit->per_slot * sizeof(struct peerlimit_entry));
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

/* How many entries of the slots in use hold key; the lock is held. */
static int
peerlimit_count(const struct peerlimit_entry *key)
{
	size_t	i, n = (size_t)peerlimit->slots_used * peerlimit->per_slot;
	int	count = 0;

	for (i = 0; i < n; i++)
		if (memcmp(&peerlimit->entries[i], key, sizeof(*key)) == 0)
			count++;
	return (count);
}

/*
 * Count a new connection from c's address in this worker's slot. Returns
 * the entry that holds it (give it to peerlimit_leave), -1 when there is
 * no limit or no address to count, or ACKD_REFUSED when the address is
 * at its limit: refuse the connection.
 */
int
peerlimit_enter(const struct conn *c)
{
	struct peerlimit_entry	 key, *region;
	size_t			 i;
	int			 rc = -1;

	if (peerlimit == NULL || !peerlimit_key(&c->addr.sa, &key))
		return (-1);
	region = &peerlimit->entries[(size_t)peerlimit_slot *
	    peerlimit->per_slot];
	peerlimit_lock();
	if (peerlimit_count(&key) >= peerlimit->max)
		rc = ACKD_REFUSED;
	else
		for (i = 0; i < peerlimit->per_slot; i++)
			if (!region[i].used) {
				region[i] = key;
				rc = (int)i;
				break;
			}
	pthread_mutex_unlock(&peerlimit->lock);
	return (rc);
}

/* The connection counted in entry (from peerlimit_enter) is closed. */
void
peerlimit_leave(int entry)
{
	if (peerlimit == NULL || entry < 0)
		return;
	peerlimit_lock();
	peerlimit->entries[(size_t)peerlimit_slot * peerlimit->per_slot +
	    (size_t)entry].used = 0;
	pthread_mutex_unlock(&peerlimit->lock);
}
