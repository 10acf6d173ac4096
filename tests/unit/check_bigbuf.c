/* SPDX-License-Identifier: MIT */
/*
 * check_bigbuf.c: unit tests of bigbuf.c: the room rule, bigbuf_take
 * waiting up to its deadline, a give waking a waiter, and mappings.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ackd.h"
#include "worker.h"

/* Monotonic milliseconds, bigbuf_take's clock. */
static long long
check_bigbuf_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Room is there while used + want stays within cap, without overflow. */
START_TEST(check_bigbuf_fits_rule)
{
	ck_assert_int_eq(bigbuf_fits(100, 0, 100), 1);
	ck_assert_int_eq(bigbuf_fits(100, 60, 40), 1);
	ck_assert_int_eq(bigbuf_fits(100, 61, 40), 0);
	ck_assert_int_eq(bigbuf_fits(100, 0, 101), 0);
	ck_assert_int_eq(bigbuf_fits(100, 100, 0), 1);
	ck_assert_int_eq(bigbuf_fits(SIZE_MAX, SIZE_MAX - 1, 2), 0);
}
END_TEST

/*
 * A budget of two connections: a third waits until its deadline, then
 * gets in once one of the two gives its share back.
 */
START_TEST(check_bigbuf_take_give)
{
	struct bigbuf	b;
	long long	t0;

	ck_assert_int_eq(bigbuf_init(&b, 2500, 1000), 0);
	ck_assert_int_eq(bigbuf_take(&b, check_bigbuf_now_ms()), 0);
	ck_assert_int_eq(bigbuf_take(&b, check_bigbuf_now_ms()), 0);
	ck_assert_uint_eq(b.used, 2000);
	t0 = check_bigbuf_now_ms();
	errno = 0;
	ck_assert_int_eq(bigbuf_take(&b, t0 + 50), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_ge(check_bigbuf_now_ms() - t0, 50);
	ck_assert_uint_eq(b.used, 2000);
	bigbuf_give(&b);
	ck_assert_uint_eq(b.used, 1000);
	ck_assert_int_eq(bigbuf_take(&b, check_bigbuf_now_ms()), 0);
	bigbuf_give(&b);
	bigbuf_give(&b);
	ck_assert_uint_eq(b.used, 0);
	bigbuf_destroy(&b);
}
END_TEST

/* A waiter is woken by a give from another thread, before its deadline. */
static void *
check_bigbuf_giver(void *arg)
{
	struct bigbuf	*b = arg;

	bigbuf_give(b);
	return (NULL);
}

START_TEST(check_bigbuf_wakes_waiter)
{
	struct bigbuf	b;
	pthread_t	t;

	ck_assert_int_eq(bigbuf_init(&b, 1000, 1000), 0);
	ck_assert_int_eq(bigbuf_take(&b, check_bigbuf_now_ms()), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, check_bigbuf_giver, &b), 0);
	/* a generous deadline: the give comes long before it */
	ck_assert_int_eq(bigbuf_take(&b, check_bigbuf_now_ms() + 20000), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	bigbuf_give(&b);
	bigbuf_destroy(&b);
}
END_TEST

/* A mapping is zeroed, writable and given back. */
START_TEST(check_bigbuf_map)
{
	unsigned char	*p = bigbuf_map(1 << 20);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p[0] | p[(1 << 20) - 1], 0);
	memset(p, 'x', 1 << 20);
	bigbuf_unmap(p, 1 << 20);
	bigbuf_unmap(NULL, 0);
}
END_TEST

/* The suite: the pure rule, then the budget and mappings. */
static Suite *
bigbuf_suite(void)
{
	Suite	*s = suite_create("bigbuf");
	TCase	*tc;

	tc = tcase_create("fits");
	tcase_add_test(tc, check_bigbuf_fits_rule);
	suite_add_tcase(s, tc);
	tc = tcase_create("budget");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, check_bigbuf_take_give);
	tcase_add_test(tc, check_bigbuf_wakes_waiter);
	tcase_add_test(tc, check_bigbuf_map);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(bigbuf_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
