/* SPDX-License-Identifier: MIT */
/*
 * check_supervise.c: unit tests of the master's pure judgements in
 * supervise.c: the respawn back-off. The rule comes from the manual:
 * a worker that never served is replaced after 100 ms, doubling per such
 * death in a row up to 10 s; one that served, or whose end the master
 * caused, is replaced at once and the count starts again.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>

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

/* The supervise suite. */
static Suite *
supervise_suite(void)
{
	Suite	*s = suite_create("supervise");
	TCase	*tc = tcase_create("backoff");

	tcase_add_test(tc, check_supervise_backoff_grows);
	tcase_add_test(tc, check_supervise_backoff_served);
	tcase_add_test(tc, check_supervise_backoff_served_resets);
	tcase_add_test(tc, check_supervise_backoff_expected);
	tcase_add_test(tc, check_supervise_backoff_ceiling);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(supervise_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
