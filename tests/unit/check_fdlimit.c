/* SPDX-License-Identifier: MIT */
/*
 * check_fdlimit.c: unit tests of the descriptor limit's plan in
 * fdlimit.c, on made-up limits: no limit of this process is read or set.
 *
 * From the manual: a worker needs --max-connections plus 91 descriptors
 * of its own. Given, the soft limit is raised to fit (and the hard one
 * past it, which only root may do); not given, the soft limit is raised
 * to the hard one, at most 1048576, and --max-connections is what that
 * leaves. The soft limit is never lowered.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ackd.h"
#include "master.h"

/* The manual's figure: keep them equal. */
#define CHECK_FDLIMIT_OWN	91

/* The figure the manual gives is the one the plan uses. */
START_TEST(check_fdlimit_overhead)
{
	ck_assert_int_eq(FDLIMIT_OVERHEAD, CHECK_FDLIMIT_OWN);
}
END_TEST

/* Not given: soft raised to hard; N is what is left past the overhead. */
START_TEST(check_fdlimit_sized_to_hard)
{
	struct fdlimit_plan	p;

	ck_assert_int_eq(fdlimit_plan(1024, 524288, 0, &p), 0);
	ck_assert_int_eq(p.set, 1);
	ck_assert_uint_eq(p.soft, 524288);
	ck_assert_uint_eq(p.hard, 524288);
	ck_assert_int_eq(p.max_connections, 524288 - CHECK_FDLIMIT_OWN);
}
END_TEST

/* Not given, hard unlimited: soft raised to 1048576, hard left alone. */
START_TEST(check_fdlimit_sized_unlimited)
{
	struct fdlimit_plan	p;

	ck_assert_int_eq(fdlimit_plan(1024, FDLIMIT_INFINITY, 0, &p), 0);
	ck_assert_int_eq(p.set, 1);
	ck_assert_uint_eq(p.soft, ACKD_CONNECTIONS_MAX);
	ck_assert_uint_eq(p.hard, FDLIMIT_INFINITY);
	ck_assert_int_eq(p.max_connections, ACKD_CONNECTIONS_MAX -
	    CHECK_FDLIMIT_OWN);
}
END_TEST

/* Not given, soft already past the cap: kept, N at most the cap's. */
START_TEST(check_fdlimit_sized_never_lowered)
{
	struct fdlimit_plan	p;

	ck_assert_int_eq(fdlimit_plan(4 * ACKD_CONNECTIONS_MAX,
	    FDLIMIT_INFINITY, 0, &p), 0);
	ck_assert_int_eq(p.set, 0);
	ck_assert_uint_eq(p.soft, 4 * ACKD_CONNECTIONS_MAX);
	ck_assert_int_eq(p.max_connections, ACKD_CONNECTIONS_MAX -
	    CHECK_FDLIMIT_OWN);
	ck_assert_int_eq(fdlimit_plan(FDLIMIT_INFINITY, FDLIMIT_INFINITY, 0,
	    &p), 0);
	ck_assert_int_eq(p.set, 0);
	ck_assert_int_eq(p.max_connections, ACKD_CONNECTIONS_MAX -
	    CHECK_FDLIMIT_OWN);
	/* soft = hard: nothing to raise */
	ck_assert_int_eq(fdlimit_plan(4096, 4096, 0, &p), 0);
	ck_assert_int_eq(p.set, 0);
	ck_assert_int_eq(p.max_connections, 4096 - CHECK_FDLIMIT_OWN);
}
END_TEST

/* Not given, a limit with no room for one connection: -1, and the least. */
START_TEST(check_fdlimit_sized_too_small)
{
	struct fdlimit_plan	p;

	ck_assert_int_eq(fdlimit_plan(64, 64, 0, &p), -1);
	ck_assert_uint_eq(p.need, CHECK_FDLIMIT_OWN + 1);
	ck_assert_int_eq(fdlimit_plan(CHECK_FDLIMIT_OWN, CHECK_FDLIMIT_OWN, 0,
	    &p), -1);
	ck_assert_int_eq(fdlimit_plan(CHECK_FDLIMIT_OWN + 1,
	    CHECK_FDLIMIT_OWN + 1, 0, &p), 0);
	ck_assert_int_eq(p.max_connections, 1);
}
END_TEST

/* Given, fitting the soft limit already: nothing changes. */
START_TEST(check_fdlimit_given_fits)
{
	struct fdlimit_plan	p;

	ck_assert_int_eq(fdlimit_plan(1024, 4096, 500, &p), 0);
	ck_assert_int_eq(p.set, 0);
	ck_assert_uint_eq(p.soft, 1024);
	ck_assert_uint_eq(p.hard, 4096);
	ck_assert_int_eq(p.max_connections, 500);
	ck_assert_uint_eq(p.need, 500 + CHECK_FDLIMIT_OWN);
	/* exactly: 933 + 91 = 1024 */
	ck_assert_int_eq(fdlimit_plan(1024, 1024, 1024 - CHECK_FDLIMIT_OWN,
	    &p), 0);
	ck_assert_int_eq(p.set, 0);
}
END_TEST

/* Given, over soft and under hard: soft raised to fit, exactly. */
START_TEST(check_fdlimit_given_raises_soft)
{
	struct fdlimit_plan	p;

	ck_assert_int_eq(fdlimit_plan(1024, 4096, 1000, &p), 0);
	ck_assert_int_eq(p.set, 1);
	ck_assert_uint_eq(p.soft, 1000 + CHECK_FDLIMIT_OWN);
	ck_assert_uint_eq(p.hard, 4096);
	ck_assert_int_eq(p.max_connections, 1000);
}
END_TEST

/* Given, over hard: both raised to fit (root's to do; others fail). */
START_TEST(check_fdlimit_given_raises_hard)
{
	struct fdlimit_plan	p;

	ck_assert_int_eq(fdlimit_plan(1024, 4096, 10000, &p), 0);
	ck_assert_int_eq(p.set, 1);
	ck_assert_uint_eq(p.soft, 10000 + CHECK_FDLIMIT_OWN);
	ck_assert_uint_eq(p.hard, 10000 + CHECK_FDLIMIT_OWN);
	ck_assert_uint_eq(p.need, 10000 + CHECK_FDLIMIT_OWN);
	/* an unlimited hard limit stays so */
	ck_assert_int_eq(fdlimit_plan(1024, FDLIMIT_INFINITY, 10000, &p), 0);
	ck_assert_uint_eq(p.hard, FDLIMIT_INFINITY);
	ck_assert_uint_eq(p.soft, 10000 + CHECK_FDLIMIT_OWN);
}
END_TEST

/* Given, under a larger soft limit: the soft limit is never lowered. */
START_TEST(check_fdlimit_given_never_lowered)
{
	struct fdlimit_plan	p;

	ck_assert_int_eq(fdlimit_plan(65536, 65536, 10, &p), 0);
	ck_assert_int_eq(p.set, 0);
	ck_assert_uint_eq(p.soft, 65536);
	ck_assert_int_eq(p.max_connections, 10);
}
END_TEST

/* The line the start's diagnostics and --check print. */
START_TEST(check_fdlimit_format)
{
	char	buf[160];
	int	n;

	n = fdlimit_format(buf, sizeof(buf), 65536, 65445, 1);
	ck_assert_str_eq(buf, "limit 65536, --max-connections 65445 per "
	    "worker (sized from the limit)");
	ck_assert_int_eq(n, (int)strlen(buf));
	fdlimit_format(buf, sizeof(buf), 1091, 1000, 0);
	ck_assert_str_eq(buf, "limit 1091, --max-connections 1000 per "
	    "worker");
	fdlimit_format(buf, sizeof(buf), FDLIMIT_INFINITY, 1000, 0);
	ck_assert_str_eq(buf, "limit unlimited, --max-connections 1000 per "
	    "worker");
}
END_TEST

/* The fdlimit suite. */
static Suite *
fdlimit_suite(void)
{
	Suite	*s = suite_create("fdlimit");
	TCase	*tc = tcase_create("plan");

	tcase_add_test(tc, check_fdlimit_overhead);
	tcase_add_test(tc, check_fdlimit_sized_to_hard);
	tcase_add_test(tc, check_fdlimit_sized_unlimited);
	tcase_add_test(tc, check_fdlimit_sized_never_lowered);
	tcase_add_test(tc, check_fdlimit_sized_too_small);
	tcase_add_test(tc, check_fdlimit_given_fits);
	tcase_add_test(tc, check_fdlimit_given_raises_soft);
	tcase_add_test(tc, check_fdlimit_given_raises_hard);
	tcase_add_test(tc, check_fdlimit_given_never_lowered);
	tcase_add_test(tc, check_fdlimit_format);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(fdlimit_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
