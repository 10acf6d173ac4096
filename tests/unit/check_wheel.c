/* SPDX-License-Identifier: MIT */
/*
 * check_wheel.c: unit tests of the timing wheel in wheel.c.
 *
 * The wheel is pure, so each test is its own clock: plain numbers of
 * milliseconds. Every node expired is checked against the two promises
 * the event stage relies on: never before its when_ms, and no later than
 * when_ms + tick_ms for a caller that waits what wheel_timeout_ms says
 * (or one tick) between calls. Deadlines beyond one revolution, time
 * jumping by years, deletion and 100,000 nodes are each a test.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ackd.h"
#include "worker.h"

#define CHECK_WHEEL_TICK	10	/* ms, in most tests */
#define CHECK_WHEEL_BUCKETS	64	/* so one revolution is 640 ms */
#define CHECK_WHEEL_REV		(CHECK_WHEEL_TICK * CHECK_WHEEL_BUCKETS)

/* Something with a deadline: the node is embedded, as in a connection. */
struct check_wheel_item {
	struct wheel_node	 node;
	long long		 fired_ms;	/* when it came back; -1: not */
	int			 fired;		/* how many times */
};

static unsigned long long	check_wheel_seed;

/* A deterministic pseudo-random number (xorshift64). */
static unsigned long long
check_wheel_rand(void)
{
	check_wheel_seed ^= check_wheel_seed << 13;
	check_wheel_seed ^= check_wheel_seed >> 7;
	check_wheel_seed ^= check_wheel_seed << 17;
	return (check_wheel_seed);
}

/* The item a node is embedded in. */
static struct check_wheel_item *
check_wheel_item(struct wheel_node *n)
{
	return ((struct check_wheel_item *)(void *)((char *)n -
	    offsetof(struct check_wheel_item, node)));
}

/* n items, on no wheel, not fired; calloc'd. */
static struct check_wheel_item *
check_wheel_items(size_t n)
{
	struct check_wheel_item	*it;
	size_t			 i;

	it = calloc(n, sizeof(*it));
	ck_assert_ptr_nonnull(it);
	for (i = 0; i < n; i++)
		it[i].fired_ms = -1;
	return (it);
}

/*
 * Expire everything due at now_ms; each must be due, and within the
 * lateness allowed; the count returned.
 */
static size_t
check_wheel_drain(struct wheel *w, long long now_ms, long long late_ms)
{
	struct wheel_node	*n;
	struct check_wheel_item	*it;
	size_t			 got = 0;

	while ((n = wheel_expire(w, now_ms)) != NULL) {
		it = check_wheel_item(n);
		ck_assert_msg(!wheel_on(n), "an expired node is still on");
		ck_assert_msg(n->when_ms <= now_ms,
		    "expired early: when %lld at %lld", n->when_ms, now_ms);
		ck_assert_msg(now_ms - n->when_ms <= late_ms,
		    "expired late: when %lld at %lld", n->when_ms, now_ms);
		it->fired++;
		it->fired_ms = now_ms;
		got++;
	}
	return (got);
}

/*
 * Run the wheel as the event stage does, from start_ms: expire what is
 * due, then sleep what wheel_timeout_ms says, until it is empty. Each
 * sleep after a drain must be positive (no spinning). The end time.
 */
static long long
check_wheel_run(struct wheel *w, long long start_ms)
{
	long long	now_ms = start_ms, t;

	for (;;) {
		check_wheel_drain(w, now_ms, w->tick_ms);
		if ((t = wheel_timeout_ms(w, now_ms)) < 0)
			break;
		ck_assert_msg(t > 0, "nothing due, yet timeout 0 at %lld",
		    now_ms);
		ck_assert_int_le(t, (long long)w->nbuckets * w->tick_ms);
		now_ms += t;
	}
	ck_assert_uint_eq(w->count, 0);
	return (now_ms);
}

/* Bad sizes are refused with EINVAL. */
START_TEST(check_wheel_init_refuses)
{
	struct wheel	w;

	errno = 0;
	ck_assert_int_eq(wheel_init(&w, 0, 10, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(wheel_init(&w, 8, 0, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(wheel_init(&w, 8, -5, 0), -1);
	ck_assert_int_eq(wheel_init(&w, WHEEL_BUCKETS_MAX + 1, 10, 0), -1);
	ck_assert_int_eq(wheel_init(&w, 8, 10, 12345), 0);
	ck_assert_int_eq(w.done_ms, 12340);	/* the start of its tick */
	wheel_destroy(&w);
}
END_TEST

/* An empty wheel: no timeout, nothing expires. */
START_TEST(check_wheel_empty)
{
	struct wheel	w;

	ck_assert_int_eq(wheel_init(&w, 8, 10, 0), 0);
	ck_assert_int_eq(wheel_timeout_ms(&w, 0), -1);
	ck_assert_ptr_null(wheel_expire(&w, 1000000));
	ck_assert_int_eq(wheel_timeout_ms(&w, 1000000), -1);
	wheel_destroy(&w);
}
END_TEST

/* Stepping 1 ms at a time, nodes come back at their when_ms, in order. */
START_TEST(check_wheel_order)
{
	static const long long	when[] = { 5, 1, 500, 77, 10, 9, 300, 70,
	    639, 11, 250, 3 };
	struct check_wheel_item	*it = check_wheel_items(nitems(when));
	struct wheel_node	*n;
	struct wheel		 w;
	long long		 now_ms, last = -1;
	size_t			 i, got = 0;

	ck_assert_int_eq(wheel_init(&w, CHECK_WHEEL_BUCKETS,
	    CHECK_WHEEL_TICK, 0), 0);
	for (i = 0; i < nitems(when); i++)
		wheel_add(&w, &it[i].node, when[i]);
	ck_assert_uint_eq(w.count, nitems(when));
	for (now_ms = 0; now_ms <= 700; now_ms++) {
		while ((n = wheel_expire(&w, now_ms)) != NULL) {
			ck_assert_int_eq(n->when_ms, now_ms);
			ck_assert_int_ge(n->when_ms, last);
			last = n->when_ms;
			got++;
		}
	}
	ck_assert_uint_eq(got, nitems(when));
	ck_assert_uint_eq(w.count, 0);
	wheel_destroy(&w);
	free(it);
}
END_TEST

/* Expired in one call after a jump: in tick order, each tick's at once. */
START_TEST(check_wheel_order_ticks)
{
	static const long long	when[] = { 45, 12, 600, 19, 300, 11, 44 };
	struct check_wheel_item	*it = check_wheel_items(nitems(when));
	struct wheel_node	*n;
	struct wheel		 w;
	long long		 last_tick = -1;
	size_t			 i;

	ck_assert_int_eq(wheel_init(&w, CHECK_WHEEL_BUCKETS,
	    CHECK_WHEEL_TICK, 0), 0);
	for (i = 0; i < nitems(when); i++)
		wheel_add(&w, &it[i].node, when[i]);
	for (i = 0; i < nitems(when); i++) {
		n = wheel_expire(&w, CHECK_WHEEL_REV - 1);
		ck_assert_ptr_nonnull(n);
		ck_assert_int_ge(n->when_ms / CHECK_WHEEL_TICK, last_tick);
		last_tick = n->when_ms / CHECK_WHEEL_TICK;
	}
	ck_assert_ptr_null(wheel_expire(&w, CHECK_WHEEL_REV - 1));
	wheel_destroy(&w);
	free(it);
}
END_TEST

/* A removed node never comes back; removing twice, or one never added,
 * does nothing; re-adding moves a node. */
START_TEST(check_wheel_delete)
{
	struct check_wheel_item	*it = check_wheel_items(4);
	struct wheel		 w;

	ck_assert_int_eq(wheel_init(&w, 8, 10, 0), 0);
	ck_assert(!wheel_on(&it[0].node));
	wheel_add(&w, &it[0].node, 50);
	wheel_add(&w, &it[1].node, 50);
	wheel_add(&w, &it[2].node, 55);
	ck_assert(wheel_on(&it[0].node));
	ck_assert_uint_eq(w.count, 3);
	wheel_del(&w, &it[0].node);
	ck_assert(!wheel_on(&it[0].node));
	wheel_del(&w, &it[0].node);
	wheel_del(&w, &it[3].node);
	ck_assert_uint_eq(w.count, 2);
	wheel_add(&w, &it[2].node, 500);	/* moves it */
	ck_assert_uint_eq(w.count, 2);
	ck_assert_uint_eq(check_wheel_drain(&w, 100, 100), 1);
	ck_assert_int_eq(it[1].fired, 1);
	ck_assert_int_eq(it[0].fired, 0);
	ck_assert_int_eq(it[2].fired, 0);
	ck_assert_uint_eq(check_wheel_drain(&w, 500, 0), 1);
	ck_assert_int_eq(it[2].fired, 1);
	ck_assert_uint_eq(w.count, 0);
	ck_assert_int_eq(wheel_timeout_ms(&w, 500), -1);
	wheel_destroy(&w);
	free(it);
}
END_TEST

/* Deadlines many revolutions away wait in their bucket until due. */
START_TEST(check_wheel_far)
{
	static const long long	when[] = { 5 * CHECK_WHEEL_REV + 3,
	    CHECK_WHEEL_REV, 3, 40 * CHECK_WHEEL_REV + 3,
	    CHECK_WHEEL_REV + 3, 2 * CHECK_WHEEL_REV - 1 };
	struct check_wheel_item	*it = check_wheel_items(nitems(when));
	struct wheel		 w;
	long long		 now_ms;
	size_t			 i;

	ck_assert_int_eq(wheel_init(&w, CHECK_WHEEL_BUCKETS,
	    CHECK_WHEEL_TICK, 0), 0);
	for (i = 0; i < nitems(when); i++)
		wheel_add(&w, &it[i].node, when[i]);
	/* a caller that comes once a tick */
	for (now_ms = 0; w.count > 0; now_ms += CHECK_WHEEL_TICK)
		check_wheel_drain(&w, now_ms, CHECK_WHEEL_TICK);
	for (i = 0; i < nitems(when); i++)
		ck_assert_int_eq(it[i].fired, 1);
	/* the same, with a caller that sleeps what the wheel says */
	for (i = 0; i < nitems(when); i++) {
		it[i].fired = 0;
		wheel_add(&w, &it[i].node, now_ms + when[i]);
	}
	check_wheel_run(&w, now_ms);
	for (i = 0; i < nitems(when); i++)
		ck_assert_int_eq(it[i].fired, 1);
	wheel_destroy(&w);
	free(it);
}
END_TEST

/* A far deadline alone: the timeout never exceeds one revolution, and
 * the wheel does not spin on its bucket. */
START_TEST(check_wheel_far_timeout)
{
	struct check_wheel_item	*it = check_wheel_items(1);
	struct wheel		 w;
	long long		 t;

	ck_assert_int_eq(wheel_init(&w, CHECK_WHEEL_BUCKETS,
	    CHECK_WHEEL_TICK, 0), 0);
	wheel_add(&w, &it[0].node, 100 * CHECK_WHEEL_REV);
	t = wheel_timeout_ms(&w, 0);
	ck_assert_int_gt(t, 0);
	ck_assert_int_le(t, CHECK_WHEEL_REV);
	ck_assert_int_le(check_wheel_run(&w, 0),
	    100 * CHECK_WHEEL_REV + CHECK_WHEEL_TICK);
	ck_assert_int_eq(it[0].fired, 1);
	ck_assert_int_eq(it[0].fired_ms, 100 * CHECK_WHEEL_REV);
	wheel_destroy(&w);
	free(it);
}
END_TEST

/*
 * Time jumps by years at once: every due node comes back in one drain,
 * the others stay. (A wheel that walked every tick that passed would
 * take ~10^11 steps here, and time out.)
 */
START_TEST(check_wheel_jump)
{
	const long long		 year_ms = 365LL * 24 * 3600 * 1000;
	struct check_wheel_item	*it = check_wheel_items(300);
	struct wheel		 w;
	size_t			 i;

	ck_assert_int_eq(wheel_init(&w, CHECK_WHEEL_BUCKETS,
	    CHECK_WHEEL_TICK, 1000), 0);
	for (i = 0; i < 200; i++)
		wheel_add(&w, &it[i].node, 1000 + (long long)i * 37);
	for (i = 200; i < 300; i++)
		wheel_add(&w, &it[i].node, 3 * year_ms + (long long)i);
	ck_assert_uint_eq(check_wheel_drain(&w, year_ms, year_ms), 200);
	ck_assert_uint_eq(w.count, 100);
	ck_assert_int_gt(wheel_timeout_ms(&w, year_ms), 0);
	/* and again, past the rest */
	ck_assert_uint_eq(check_wheel_drain(&w, 10 * year_ms, 10 * year_ms),
	    100);
	for (i = 0; i < 300; i++)
		ck_assert_int_eq(it[i].fired, 1);
	/* after the jump, the wheel works from the new time */
	wheel_add(&w, &it[0].node, 10 * year_ms + 25);
	ck_assert_int_eq(wheel_timeout_ms(&w, 10 * year_ms), 25);
	ck_assert_uint_eq(check_wheel_drain(&w, 10 * year_ms + 24, 0), 0);
	ck_assert_uint_eq(check_wheel_drain(&w, 10 * year_ms + 25, 0), 1);
	wheel_destroy(&w);
	free(it);
}
END_TEST

/* A deadline already past when added comes back at the next expire. */
START_TEST(check_wheel_late_add)
{
	struct check_wheel_item	*it = check_wheel_items(2);
	struct wheel		 w;

	ck_assert_int_eq(wheel_init(&w, 8, 10, 0), 0);
	ck_assert_ptr_null(wheel_expire(&w, 1000));	/* time passes */
	wheel_add(&w, &it[0].node, 20);
	wheel_add(&w, &it[1].node, 995);
	ck_assert_int_eq(wheel_timeout_ms(&w, 1000), 0);
	ck_assert_uint_eq(check_wheel_drain(&w, 1000, 1000), 2);
	ck_assert_int_eq(wheel_timeout_ms(&w, 1000), -1);
	wheel_destroy(&w);
	free(it);
}
END_TEST

/* wheel_timeout_ms: 0 when one is due, else until the earliest. */
START_TEST(check_wheel_timeout)
{
	struct check_wheel_item	*it = check_wheel_items(3);
	struct wheel		 w;

	ck_assert_int_eq(wheel_init(&w, CHECK_WHEEL_BUCKETS,
	    CHECK_WHEEL_TICK, 0), 0);
	wheel_add(&w, &it[0].node, 300);
	wheel_add(&w, &it[1].node, 123);
	wheel_add(&w, &it[2].node, 5000);
	ck_assert_int_eq(wheel_timeout_ms(&w, 0), 123);
	ck_assert_int_eq(wheel_timeout_ms(&w, 100), 23);
	ck_assert_int_eq(wheel_timeout_ms(&w, 123), 0);
	ck_assert_int_eq(wheel_timeout_ms(&w, 200), 0);
	ck_assert_uint_eq(check_wheel_drain(&w, 200, 200), 1);
	ck_assert_int_eq(wheel_timeout_ms(&w, 200), 100);
	ck_assert_uint_eq(check_wheel_drain(&w, 300, 0), 1);
	/* 5000 is 7.8 revolutions on: look again within one */
	ck_assert_int_le(wheel_timeout_ms(&w, 300), CHECK_WHEEL_REV);
	ck_assert_int_gt(wheel_timeout_ms(&w, 300), 0);
	wheel_destroy(&w);
	free(it);
}
END_TEST

/*
 * 100,000 nodes over 100 revolutions, a third removed before they are
 * due: a caller that comes once a tick gets each of the others exactly
 * once, between its when_ms and when_ms + tick_ms.
 */
START_TEST(check_wheel_many)
{
	const size_t		 n = 100000;
	struct check_wheel_item	*it = check_wheel_items(n);
	struct wheel		 w;
	long long		 now_ms, end_ms = 100LL * 1024 * CHECK_WHEEL_TICK;
	size_t			 i;

	check_wheel_seed = 0x9e3779b97f4a7c15ULL;
	ck_assert_int_eq(wheel_init(&w, 1024, CHECK_WHEEL_TICK, 0), 0);
	for (i = 0; i < n; i++)
		wheel_add(&w, &it[i].node,
		    1 + (long long)(check_wheel_rand() % (unsigned long long)end_ms));
	ck_assert_uint_eq(w.count, n);
	for (i = 0; i < n; i += 3)
		wheel_del(&w, &it[i].node);
	for (now_ms = 0; w.count > 0; now_ms += CHECK_WHEEL_TICK) {
		check_wheel_drain(&w, now_ms, CHECK_WHEEL_TICK);
		ck_assert_int_le(now_ms, end_ms + CHECK_WHEEL_TICK);
	}
	for (i = 0; i < n; i++)
		ck_assert_int_eq(it[i].fired, i % 3 == 0 ? 0 : 1);
	wheel_destroy(&w);
	free(it);
}
END_TEST

/*
 * A random mix driven by wheel_timeout_ms, with odd tick lengths and
 * deadlines near and far (up to 45 revolutions), some moved: each comes
 * back exactly once, never early and no later than one tick late.
 */
START_TEST(check_wheel_random_run)
{
	const size_t		 n = 5000;
	struct check_wheel_item	*it = check_wheel_items(n);
	struct wheel		 w;
	long long		 base = 1000003;
	size_t			 i;

	check_wheel_seed = 0x2545f4914f6cdd1dULL;
	ck_assert_int_eq(wheel_init(&w, 128, 7, base), 0);
	base += 50;	/* time passed: the wheel is not at its start */
	ck_assert_ptr_null(wheel_expire(&w, base));
	for (i = 0; i < n; i++)
		wheel_add(&w, &it[i].node, base +
		    (long long)(check_wheel_rand() % 20000));
	for (i = 0; i < n; i += 7)	/* moved, maybe farther */
		wheel_add(&w, &it[i].node, base +
		    (long long)(check_wheel_rand() % 40000));
	check_wheel_run(&w, base);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(it[i].fired, 1);
	wheel_destroy(&w);
	free(it);
}
END_TEST

/* wheel_destroy leaves the nodes still on it on no wheel. */
START_TEST(check_wheel_destroy_unlinks)
{
	struct check_wheel_item	*it = check_wheel_items(2);
	struct wheel		 w;

	ck_assert_int_eq(wheel_init(&w, 8, 10, 0), 0);
	wheel_add(&w, &it[0].node, 10);
	wheel_add(&w, &it[1].node, 10000);
	wheel_destroy(&w);
	ck_assert(!wheel_on(&it[0].node));
	ck_assert(!wheel_on(&it[1].node));
	free(it);
}
END_TEST

/* The wheel's tests. */
static Suite *
wheel_suite(void)
{
	Suite	*s = suite_create("wheel");
	TCase	*tc;

	tc = tcase_create("basics");
	tcase_add_test(tc, check_wheel_init_refuses);
	tcase_add_test(tc, check_wheel_empty);
	tcase_add_test(tc, check_wheel_order);
	tcase_add_test(tc, check_wheel_order_ticks);
	tcase_add_test(tc, check_wheel_delete);
	tcase_add_test(tc, check_wheel_late_add);
	tcase_add_test(tc, check_wheel_timeout);
	tcase_add_test(tc, check_wheel_destroy_unlinks);
	suite_add_tcase(s, tc);

	tc = tcase_create("time");
	tcase_set_timeout(tc, 60);	/* generous: valgrind */
	tcase_add_test(tc, check_wheel_far);
	tcase_add_test(tc, check_wheel_far_timeout);
	tcase_add_test(tc, check_wheel_jump);
	tcase_add_test(tc, check_wheel_many);
	tcase_add_test(tc, check_wheel_random_run);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(wheel_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
