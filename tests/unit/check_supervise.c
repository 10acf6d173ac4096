/* SPDX-License-Identifier: MIT */
/*
 * check_supervise.c: unit tests of the master's judgements in
 * supervise.c, which return what is to be done (struct supervise_acts)
 * instead of doing it, so they are tested here on made-up slots and
 * times, with no process forked or signalled.
 *
 * The respawn back-off comes from the manual: a worker that never served
 * is replaced after 100 ms, doubling per such death in a row up to 10 s;
 * one that served, or whose end the master caused, is replaced at once
 * and the count starts again. Five deaths before serving within 10 s
 * are a crash loop: the master shuts down with status 70.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ackd.h"
#include "master.h"

/* Workers that never served: 100, 200, 400 ... ms, then 10 s for good. */
START_TEST(check_supervise_backoff_grows)
{
	static const long long	want[] = { 100, 200, 400, 800, 1600, 3200,
	    6400, 10000, 10000, 10000 };
	size_t			i;
	int			quick = 0;

	for (i = 0; i < nitems(want); i++) {
		ck_assert_int_eq(supervise_backoff(0, 0, &quick), want[i]);
		ck_assert_int_eq(quick, (int)i + 1);
	}
}
END_TEST

/* Served, however often and however young: replaced at once, each time. */
START_TEST(check_supervise_backoff_served)
{
	int	i, quick = 0;

	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(supervise_backoff(1, 0, &quick), 0);
		ck_assert_int_eq(quick, 0);
	}
}
END_TEST

/* One that served ends a run of failed starts: the next starts at 100. */
START_TEST(check_supervise_backoff_served_resets)
{
	int	quick = 0;

	ck_assert_int_eq(supervise_backoff(0, 0, &quick), 100);
	ck_assert_int_eq(supervise_backoff(0, 0, &quick), 200);
	ck_assert_int_eq(supervise_backoff(0, 0, &quick), 400);
	ck_assert_int_eq(supervise_backoff(1, 0, &quick), 0);
	ck_assert_int_eq(quick, 0);
	ck_assert_int_eq(supervise_backoff(0, 0, &quick), 100);
}
END_TEST

/* Recycled or aborted by the watchdog (expected): at once, count reset. */
START_TEST(check_supervise_backoff_expected)
{
	int	quick = 5;

	ck_assert_int_eq(supervise_backoff(0, 1, &quick), 0);
	ck_assert_int_eq(quick, 0);
	quick = 3;
	ck_assert_int_eq(supervise_backoff(1, 1, &quick), 0);
	ck_assert_int_eq(quick, 0);
}
END_TEST

/* A count that has grown past any shift stays at the ceiling. */
START_TEST(check_supervise_backoff_ceiling)
{
	int	quick = 1000000;

	ck_assert_int_eq(supervise_backoff(0, 0, &quick), 10000);
	ck_assert_int_eq(quick, 1000001);
}
END_TEST


/* Off the stack: struct master holds every slot. */
static struct master		check_m;
static struct supervise_acts	check_acts;
static struct ackd_config	check_cfg;

/* A fresh master with n running workers (pids 1000 + slot), none acts. */
static struct master *
check_supervise_master(int n)
{
	int	i;

	memset(&check_m, 0, sizeof(check_m));
	memset(&check_acts, 0, sizeof(check_acts));
	memset(&check_cfg, 0, sizeof(check_cfg));
	check_m.cfg = &check_cfg;
	check_m.wanted = n;
	for (i = 0; i < n; i++) {
		check_m.slots[i].state = SLOT_RUNNING;
		check_m.slots[i].pid = 1000 + i;
	}
	/* shared memory: what a test that failed raised stays raised */
	for (i = 0; i < ACKD_WORKERS_MAX; i++) {
		atomic_store(&scoreboard_slot(i)->serving, 0);
		atomic_store(&scoreboard_slot(i)->retire, 0);
	}
	return (&check_m);
}

/* Assert that act k of check_acts is verb on slot with arg. */
static void
check_supervise_act(int k, enum supervise_verb verb, int slot, int arg)
{
	ck_assert_int_gt(check_acts.n, k);
	ck_assert_int_eq(check_acts.act[k].verb, verb);
	ck_assert_int_eq(check_acts.act[k].slot, slot);
	ck_assert_int_eq(check_acts.act[k].arg, arg);
}

/* A wait status as waitpid() would report an exit with code. */
#define CHECK_EXITED(code)	((code) << 8)

/* Waiting slots that are due get a spawn; the rest set the next wait. */
START_TEST(check_supervise_respawns_due)
{
	struct master	*m = check_supervise_master(4);

	m->slots[1].state = SLOT_WAITING;
	m->slots[1].respawn_at_ms = 5000;
	m->slots[2].state = SLOT_WAITING;
	m->slots[2].respawn_at_ms = 5300;
	m->slots[3].state = SLOT_WAITING;
	m->slots[3].respawn_at_ms = 5100;
	ck_assert_int_eq(supervise_respawns(m, 5000, &check_acts), 100);
	ck_assert_int_eq(check_acts.n, 1);
	check_supervise_act(0, SUPERVISE_SPAWN, 1, 0);
}
END_TEST

/* Nothing waiting: no act and no timeout. */
START_TEST(check_supervise_respawns_none)
{
	struct master	*m = check_supervise_master(3);

	ck_assert_int_eq(supervise_respawns(m, 5000, &check_acts), -1);
	ck_assert_int_eq(check_acts.n, 0);
}
END_TEST

/* At shutdown: wait for the deadline, then SIGKILL every worker, once. */
START_TEST(check_supervise_respawns_deadline)
{
	struct master	*m = check_supervise_master(2);

	m->stopping = 1;
	m->deadline_ms = 8000;
	m->slots[1].state = SLOT_WAITING;	/* never respawned now */
	m->slots[1].respawn_at_ms = 0;
	ck_assert_int_eq(supervise_respawns(m, 7000, &check_acts), 1000);
	ck_assert_int_eq(check_acts.n, 0);
	ck_assert_int_eq(supervise_respawns(m, 8000, &check_acts), -1);
	ck_assert_int_eq(check_acts.n, 1);
	check_supervise_act(0, SUPERVISE_SIGNAL_ALL, -1, SIGKILL);
	ck_assert_int_eq(m->killed, 1);
	ck_assert_int_eq(supervise_respawns(m, 9000, &check_acts), -1);
	ck_assert_int_eq(check_acts.n, 1);
}
END_TEST

/* Past the deadline with every worker gone: nothing to kill. */
START_TEST(check_supervise_respawns_deadline_none_left)
{
	struct master	*m = check_supervise_master(0);

	m->stopping = 1;
	m->deadline_ms = 8000;
	ck_assert_int_eq(supervise_respawns(m, 9000, &check_acts), -1);
	ck_assert_int_eq(check_acts.n, 0);
	ck_assert_int_eq(m->killed, 0);
}
END_TEST

/*
 * Workers that die before serving, 1 s apart: back-off 100, 200, 400,
 * 800 ms, and the fifth within 10 s is a crash loop: no respawn, and a
 * shutdown with status 70.
 */
START_TEST(check_supervise_crash_loop)
{
	static const long long	want[] = { 100, 200, 400, 800 };
	struct master		*m = check_supervise_master(1);
	struct slot		*slot = &m->slots[0];
	long long		 now = 20000;
	size_t			 i;
	int			 give_up;

	for (i = 0; i < nitems(want); i++, now += 1000) {
		slot->state = SLOT_RUNNING;
		ck_assert_int_eq(supervise_death(m, slot, CHECK_EXITED(1),
		    now, &give_up), want[i]);
		ck_assert_int_eq(give_up, 0);
		ck_assert_int_eq(slot->state, SLOT_WAITING);
		ck_assert_int_eq(slot->respawn_at_ms, now + want[i]);
	}
	slot->state = SLOT_RUNNING;
	ck_assert_int_eq(supervise_death(m, slot, CHECK_EXITED(1), now,
	    &give_up), -1);
	ck_assert_int_eq(give_up, 1);
	ck_assert_int_eq(slot->state, SLOT_EMPTY);
	supervise_give_up(m, &check_acts);
	ck_assert_int_eq(check_acts.n, 1);
	check_supervise_act(0, SUPERVISE_SHUTDOWN, -1, ACKD_EXIT_SOFTWARE);
}
END_TEST

/* The same deaths 3 s apart are no crash loop: only the back-off grows. */
START_TEST(check_supervise_crash_slow)
{
	struct master	*m = check_supervise_master(1);
	struct slot	*slot = &m->slots[0];
	long long	 now = 20000;
	int		 i, give_up;

	for (i = 0; i < 12; i++, now += 3000) {
		slot->state = SLOT_RUNNING;
		ck_assert_int_ge(supervise_death(m, slot, CHECK_EXITED(1),
		    now, &give_up), 100);
		ck_assert_int_eq(give_up, 0);
	}
}
END_TEST

/* Workers that served are replaced at once and never make a loop. */
START_TEST(check_supervise_death_served)
{
	struct master	*m = check_supervise_master(1);
	struct slot	*slot = &m->slots[0];
	int		 i, give_up;

	for (i = 0; i < 10; i++) {
		slot->state = SLOT_RUNNING;
		slot->served = 1;
		ck_assert_int_eq(supervise_death(m, slot, 9, 20000 + i,
		    &give_up), 0);
		ck_assert_int_eq(give_up, 0);
		ck_assert_int_eq(slot->state, SLOT_WAITING);
		ck_assert_int_eq(slot->respawn_at_ms, 20000 + i);
	}
}
END_TEST

/* A retiring worker's death, or any at shutdown, frees its slot. */
START_TEST(check_supervise_death_retiring)
{
	struct master	*m = check_supervise_master(2);
	int		 give_up;

	m->slots[0].state = SLOT_RETIRING;
	ck_assert_int_eq(supervise_death(m, &m->slots[0], 0, 100, &give_up),
	    -1);
	ck_assert_int_eq(give_up, 0);
	ck_assert_int_eq(m->slots[0].state, SLOT_EMPTY);
	m->stopping = 1;
	ck_assert_int_eq(supervise_death(m, &m->slots[1], CHECK_EXITED(1),
	    100, &give_up), -1);
	ck_assert_int_eq(give_up, 0);
	ck_assert_int_eq(m->slots[1].state, SLOT_EMPTY);
}
END_TEST

/* No slot owns sockets of its own (the shared set). */
static int
check_supervise_owns_none(int slot)
{
	(void)slot;
	return (0);
}

/* Every slot owns a set (--reuseport). */
static int
check_supervise_owns_all(int slot)
{
	(void)slot;
	return (1);
}

/* SIGTTIN: spawn into the first empty slot, one more wanted. */
START_TEST(check_supervise_resize_more)
{
	struct master	*m = check_supervise_master(3);

	m->slots[1].state = SLOT_EMPTY;
	m->wanted = 2;
	supervise_resize(m, 1, check_supervise_owns_none, &check_acts);
	ck_assert_int_eq(m->wanted, 3);
	ck_assert_int_eq(check_acts.n, 1);
	check_supervise_act(0, SUPERVISE_SPAWN, 1, 0);
	ck_assert_int_ne(m->slots[1].state, SLOT_EMPTY);
}
END_TEST

/* SIGTTOU: the highest wanted slot retires with SIGTERM; never below 1. */
START_TEST(check_supervise_resize_less)
{
	struct master	*m = check_supervise_master(2);

	supervise_resize(m, 0, check_supervise_owns_none, &check_acts);
	ck_assert_int_eq(m->wanted, 1);
	ck_assert_int_eq(check_acts.n, 1);
	check_supervise_act(0, SUPERVISE_SIGNAL, 1, SIGTERM);
	ck_assert_int_eq(m->slots[1].state, SLOT_RETIRING);
	supervise_resize(m, 0, check_supervise_owns_none, &check_acts);
	ck_assert_int_eq(m->wanted, 1);
	ck_assert_int_eq(check_acts.n, 1);
}
END_TEST

/* SIGTTOU on a waiting slot cancels its respawn: no signal. */
START_TEST(check_supervise_resize_less_waiting)
{
	struct master	*m = check_supervise_master(3);

	m->slots[2].state = SLOT_WAITING;
	supervise_resize(m, 0, check_supervise_owns_none, &check_acts);
	ck_assert_int_eq(m->wanted, 2);
	ck_assert_int_eq(check_acts.n, 0);
	ck_assert_int_eq(m->slots[2].state, SLOT_EMPTY);
}
END_TEST

/*
 * SIGTTOU when every slot owns sockets: one new worker (first empty
 * slot) takes over those of the last two, which retire.
 */
START_TEST(check_supervise_resize_merge)
{
	struct master	*m = check_supervise_master(3);

	supervise_resize(m, 0, check_supervise_owns_all, &check_acts);
	ck_assert_int_eq(m->wanted, 2);
	ck_assert_int_eq(check_acts.n, 5);
	check_supervise_act(0, SUPERVISE_GIVE, 2, 3);
	check_supervise_act(1, SUPERVISE_GIVE, 1, 3);
	check_supervise_act(2, SUPERVISE_SIGNAL, 2, SIGTERM);
	check_supervise_act(3, SUPERVISE_SIGNAL, 1, SIGTERM);
	check_supervise_act(4, SUPERVISE_SPAWN, 3, 0);
}
END_TEST

/*
 * One look of the watchdog at check_m at now, its timeout 3 s: the first
 * n workers show progress, and work if work is set.
 */
static void
check_supervise_look(int n, unsigned long progress, int work, long long now)
{
	static struct supervise_seen	seen[ACKD_WORKERS_MAX];
	int				i;

	check_cfg.worker_timeout_ms = 3000;
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++) {
		seen[i].progress = progress;
		seen[i].work = work;
	}
	supervise_watch_look(&check_m, seen, now, &check_acts);
}

/* A worker stuck with work past the timeout: SIGABRT, SIGCONT, SIGKILL. */
START_TEST(check_supervise_watch_stuck)
{
	struct master	*m = check_supervise_master(1);
	struct slot	*slot = &m->slots[0];

	check_supervise_look(1, 7, 1, 1000);
	ck_assert_int_eq(slot->progress_at_ms, 1000);	/* it moved */
	check_supervise_look(1, 7, 1, 2000);
	ck_assert_int_eq(slot->stuck_since_ms, 2000);
	check_supervise_look(1, 7, 1, 4999);
	ck_assert_int_eq(check_acts.n, 0);
	check_supervise_look(1, 7, 1, 5000);
	ck_assert_int_eq(check_acts.n, 2);
	check_supervise_act(0, SUPERVISE_SIGNAL, 0, SIGABRT);
	check_supervise_act(1, SUPERVISE_SIGNAL, 0, SIGCONT);
	ck_assert_int_eq(slot->aborted_at_ms, 5000);
	check_supervise_look(1, 7, 1, 9999);
	ck_assert_int_eq(check_acts.n, 2);	/* the grace: 5 s */
	check_supervise_look(1, 7, 1, 10000);
	ck_assert_int_eq(check_acts.n, 3);
	check_supervise_act(2, SUPERVISE_SIGNAL, 0, SIGKILL);
	check_supervise_look(1, 7, 1, 20000);
	ck_assert_int_eq(check_acts.n, 3);	/* once */
}
END_TEST

/* Idle (no work), or moving, however long: never touched. */
START_TEST(check_supervise_watch_idle)
{
	struct master	*m = check_supervise_master(1);
	struct slot	*slot = &m->slots[0];
	long long	 now;

	for (now = 1000; now < 60000; now += 1000)
		check_supervise_look(1, 7, 0, now);
	for (now = 60000; now < 120000; now += 1000)
		check_supervise_look(1, (unsigned long)now, 1, now);
	ck_assert_int_eq(check_acts.n, 0);
	ck_assert_int_eq(slot->aborted_at_ms, 0);
}
END_TEST

/* Idle in between: the stuck time counts again from the next work. */
START_TEST(check_supervise_watch_idle_resets)
{
	struct master	*m = check_supervise_master(1);
	struct slot	*slot = &m->slots[0];

	check_supervise_look(1, 7, 1, 1000);
	check_supervise_look(1, 7, 1, 2000);
	check_supervise_look(1, 7, 0, 3000);
	ck_assert_int_eq(slot->stuck_since_ms, 0);
	check_supervise_look(1, 7, 1, 4000);
	check_supervise_look(1, 7, 1, 6999);
	ck_assert_int_eq(check_acts.n, 0);
	check_supervise_look(1, 7, 1, 7000);
	ck_assert_int_eq(check_acts.n, 2);
	check_supervise_act(0, SUPERVISE_SIGNAL, 0, SIGABRT);
}
END_TEST

/* How many SIGABRTs check_acts holds, and for which slot the first. */
static int
check_supervise_aborts(int *first)
{
	int	k, n = 0;

	for (k = 0; k < check_acts.n; k++)
		if (check_acts.act[k].verb == SUPERVISE_SIGNAL &&
		    check_acts.act[k].arg == SIGABRT && n++ == 0)
			*first = check_acts.act[k].slot;
	return (n);
}

/*
 * Two workers stuck alike (a slow network stalls them all): one look
 * aborts only the one stuck longest, never both; the other not until a
 * whole watchdog period has passed since, if it is still stuck then.
 */
START_TEST(check_supervise_watch_one_at_a_time)
{
	struct master	*m = check_supervise_master(2);
	int		 first = -1;

	/* both seen moving at 1000; slot 1 stalls at 1500, slot 0 at 2000 */
	check_supervise_look(2, 7, 1, 1000);
	m->slots[1].stuck_since_ms = 1500;
	m->slots[0].stuck_since_ms = 2000;
	check_supervise_look(2, 7, 1, 5000);
	ck_assert_int_eq(check_supervise_aborts(&first), 1);
	ck_assert_int_eq(first, 1);	/* stuck since 1500: the longest */
	ck_assert_int_eq(m->slots[0].aborted_at_ms, 0);
	ck_assert_int_eq(m->slots[1].aborted_at_ms, 5000);
	/* slot 0, stuck on: not within the period after that abort */
	check_supervise_look(2, 7, 1, 7999);
	ck_assert_int_eq(check_supervise_aborts(&first), 1);
	ck_assert_int_eq(m->slots[0].aborted_at_ms, 0);
	check_supervise_look(2, 7, 1, 8000);
	ck_assert_int_eq(check_supervise_aborts(&first), 2);
	ck_assert_int_eq(m->slots[0].aborted_at_ms, 8000);
}
END_TEST

/* Many stuck at once: one abort per period, so some always serve on. */
START_TEST(check_supervise_watch_many_stuck)
{
	struct master	*m = check_supervise_master(8);
	long long	 now;
	int		 first, i, live;

	check_supervise_look(8, 7, 1, 1000);
	for (now = 2000; now <= 10000; now += 250) {
		check_supervise_look(8, 7, 1, now);
		for (i = 0, live = 0; i < 8; i++)
			live += m->slots[i].aborted_at_ms == 0;
		/* stuck from 2000: first abort at 5000, then 8000 */
		ck_assert_int_eq(live, now < 5000 ? 8 : now < 8000 ? 7 : 6);
	}
	ck_assert_int_eq(check_supervise_aborts(&first), 2);
	ck_assert_int_eq(first, 0);	/* stuck alike: the first slot */
}
END_TEST

/*
 * Two workers ask to be recycled at once: each successor gets a slot of
 * its own (sockets handed over first), then the old one gets SIGTERM.
 */
START_TEST(check_supervise_recycle_two)
{
	struct master	*m = check_supervise_master(2);

	m->ready = 1;
	atomic_store(&scoreboard_slot(0)->retire, 1);
	atomic_store(&scoreboard_slot(1)->retire, 1);
	supervise_news(m, &check_acts);
	ck_assert_int_eq(check_acts.n, 6);
	check_supervise_act(0, SUPERVISE_GIVE, 0, 2);
	check_supervise_act(1, SUPERVISE_SPAWN, 2, 0);
	check_supervise_act(2, SUPERVISE_SIGNAL, 0, SIGTERM);
	check_supervise_act(3, SUPERVISE_GIVE, 1, 3);
	check_supervise_act(4, SUPERVISE_SPAWN, 3, 0);
	check_supervise_act(5, SUPERVISE_SIGNAL, 1, SIGTERM);
	ck_assert_int_eq(m->slots[0].state, SLOT_RETIRING);
	ck_assert_int_eq(m->slots[1].state, SLOT_RETIRING);
	atomic_store(&scoreboard_slot(0)->retire, 0);
	atomic_store(&scoreboard_slot(1)->retire, 0);
}
END_TEST

/* No slot free for a successor: SIGTERM, and replace it when it is gone. */
START_TEST(check_supervise_recycle_full)
{
	struct master	*m = check_supervise_master(ACKD_WORKERS_MAX);
	int		 give_up;

	m->ready = 1;
	atomic_store(&scoreboard_slot(5)->retire, 1);
	supervise_news(m, &check_acts);
	ck_assert_int_eq(check_acts.n, 1);
	check_supervise_act(0, SUPERVISE_SIGNAL, 5, SIGTERM);
	ck_assert_int_eq(m->slots[5].replaced, 1);
	ck_assert_int_eq(m->slots[5].state, SLOT_RUNNING);
	/* its death was expected: replaced at once, whatever it said */
	ck_assert_int_eq(supervise_death(m, &m->slots[5], SIGTERM, 100,
	    &give_up), 0);
	ck_assert_int_eq(give_up, 0);
	atomic_store(&scoreboard_slot(5)->retire, 0);
}
END_TEST

/* The supervise suite. */
static Suite *
supervise_suite(void)
{
	Suite	*s = suite_create("supervise");
	TCase	*tc = tcase_create("backoff");
	TCase	*acts = tcase_create("acts");

	tcase_add_test(tc, check_supervise_backoff_grows);
	tcase_add_test(tc, check_supervise_backoff_served);
	tcase_add_test(tc, check_supervise_backoff_served_resets);
	tcase_add_test(tc, check_supervise_backoff_expected);
	tcase_add_test(tc, check_supervise_backoff_ceiling);
	suite_add_tcase(s, tc);
	tcase_add_test(acts, check_supervise_respawns_due);
	tcase_add_test(acts, check_supervise_respawns_none);
	tcase_add_test(acts, check_supervise_respawns_deadline);
	tcase_add_test(acts, check_supervise_respawns_deadline_none_left);
	tcase_add_test(acts, check_supervise_crash_loop);
	tcase_add_test(acts, check_supervise_crash_slow);
	tcase_add_test(acts, check_supervise_death_served);
	tcase_add_test(acts, check_supervise_death_retiring);
	tcase_add_test(acts, check_supervise_resize_more);
	tcase_add_test(acts, check_supervise_resize_less);
	tcase_add_test(acts, check_supervise_resize_less_waiting);
	tcase_add_test(acts, check_supervise_resize_merge);
	tcase_add_test(acts, check_supervise_watch_stuck);
	tcase_add_test(acts, check_supervise_watch_idle);
	tcase_add_test(acts, check_supervise_watch_idle_resets);
	tcase_add_test(acts, check_supervise_watch_one_at_a_time);
	tcase_add_test(acts, check_supervise_watch_many_stuck);
	tcase_add_test(acts, check_supervise_recycle_two);
	tcase_add_test(acts, check_supervise_recycle_full);
	suite_add_tcase(s, acts);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner			*sr;
	int			 failed;
	struct ackd_config	cfg;
	char			err[256], path[] = "/tmp/check_supervise.XXXXXX";
	int			fd;

	/* supervise_news reads the workers' slots; some judgements log */
	conf_defaults(&cfg);
	cfg.log_file = path;
	if ((fd = mkstemp(path)) == -1) {
		perror(path);
		return (EXIT_FAILURE);
	}
	close(fd);
	if (scoreboard_init() == -1) {
		perror("scoreboard_init");
		return (EXIT_FAILURE);
	}
	if (msglog_open(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return (EXIT_FAILURE);
	}
	unlink(path);	/* the log stays open, and goes with us */
	sr = srunner_create(supervise_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
