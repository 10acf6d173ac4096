/* SPDX-License-Identifier: MIT */
/*
 * scoreboard.c: the memory a master shares with its workers.
 *
 * One slot per worker: its counters and gauges (stats.c), a progress
 * count for the master's watchdog, and flags the worker raises for its
 * master (serving, wants to retire, reopened the log). The region is
 * mapped shared and anonymous before the first fork, so every worker
 * inherits it; a worker writes only its own slot, with relaxed atomics,
 * and the master only reads, except between two workers of a slot.
 *
 * Counters must only grow, for Prometheus and for the totals, although
 * workers come and go: when a worker has died the master adds what its
 * slot counted to the slot's past (private to the master) and zeroes
 * the slot for the next worker.
 *
 * The master marks which slots have a worker process (scoreboard_live),
 * from its fork to its reaping, so that the metrics endpoint needs
 * nothing of the master's own state.
 *
 * The master counts the few things it does itself (a failed reopen of
 * its own log) in a stats block of its own, which the totals include.
 */
#include "config.h"

#include <sys/mman.h>

#include <string.h>

#include "ackd.h"

struct scoreboard {
	atomic_uint		reopen;		/* the master's generation */
	struct stats		master;		/* the master's own counts */
	struct scoreboard_slot	slots[ACKD_WORKERS_MAX];
};

static struct scoreboard	*scoreboard;
static struct stats_snap	 scoreboard_past[ACKD_WORKERS_MAX];
/* which slots have a worker process (running or retiring): the master's
 * own mark, for metrics.c, so that it reads the scoreboard alone */
static unsigned char		 scoreboard_alive[ACKD_WORKERS_MAX];

/* Map the scoreboard; before the first fork. 0, or -1 with errno. */
int
scoreboard_init(void)
{
	void	*p;

	p = mmap(NULL, sizeof(*scoreboard), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (-1);
	scoreboard = p;		/* zero-filled: every slot empty */
	return (0);
}

/* The slot of worker index. */
struct scoreboard_slot *
scoreboard_slot(int index)
{
	return (&scoreboard->slots[index]);
}

/* Master: its own counters (only the master writes them). */
struct stats *
scoreboard_master(void)
{
	return (&scoreboard->master);
}

/* Master: index's worker is dead; keep its counts, clear its slot. */
void
scoreboard_retire(int index)
{
	struct scoreboard_slot	*slot = &scoreboard->slots[index];
	struct stats_snap	 live;
	int			 i;

	stats_read(&slot->stats, &live);
	for (i = 0; i < STATS_NCOUNTERS; i++)
		scoreboard_past[index].counter[i] += live.counter[i];
	memset(slot, 0, sizeof(*slot));
}

/* Master: slot index has a worker process now (live 1), or no more (0). */
void
scoreboard_mark_live(int index, int live)
{
	scoreboard_alive[index] = live != 0;
}

/* Master: has slot index a worker process, as last marked? */
int
scoreboard_live(int index)
{
	return (scoreboard_alive[index]);
}

/* Master: slot index's counters since the start (gauges: now). */
void
scoreboard_snap(int index, struct stats_snap *snap)
{
	int	i;

	stats_read(&scoreboard->slots[index].stats, snap);
	for (i = 0; i < STATS_NCOUNTERS; i++)
		snap->counter[i] += scoreboard_past[index].counter[i];
}

/*
 * Master: every slot together, and the master's own counts; queue_max is
 * the largest, not a sum.
 */
void
scoreboard_total(struct stats_snap *total)
{
	struct stats_snap	one;
	int			i, k;

	stats_read(&scoreboard->master, total);
	for (i = 0; i < ACKD_WORKERS_MAX; i++) {
		scoreboard_snap(i, &one);
		for (k = 0; k < STATS_NCOUNTERS; k++)
			total->counter[k] += one.counter[k];
		for (k = 0; k < STATS_NGAUGES; k++)
			if (k == STATS_QUEUE_MAX) {
				if (one.gauge[k] > total->gauge[k])
					total->gauge[k] = one.gauge[k];
			} else
				total->gauge[k] += one.gauge[k];
	}
}

/* Master: announce reopen generation gen (workers copy it when done). */
void
scoreboard_set_reopen(unsigned gen)
{
	atomic_store(&scoreboard->reopen, gen);
}

/* Worker: the generation the master last announced. */
unsigned
scoreboard_reopen(void)
{
	return (atomic_load(&scoreboard->reopen));
}
