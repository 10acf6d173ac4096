/*
 * check_bigbuf.c: unit tests of bigbuf.c: the rule that keeps the last
 * `reserve' bytes of a worker's budget for one owner (so one large
 * message always finishes), and bigbuf_take/bigbuf_give over it.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ackd.h"

/* Monotonic milliseconds, bigbuf_take's clock. */
static long long
check_bigbuf_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Takes that leave the reserve free need no owner. */
START_TEST(check_bigbuf_decide_outside_reserve)
{
	ck_assert_int_eq(bigbuf_decide(100, 0, 30, 0, 0, 70), BIGBUF_TAKE);
	ck_assert_int_eq(bigbuf_decide(100, 50, 30, 1, 0, 20), BIGBUF_TAKE);
}
END_TEST

/* Into the reserve: the first comes in as owner, the others wait. */
START_TEST(check_bigbuf_decide_reserve)
{
	ck_assert_int_eq(bigbuf_decide(100, 60, 30, 0, 0, 20),
	    BIGBUF_TAKE_OWNER);
	ck_assert_int_eq(bigbuf_decide(100, 60, 30, 1, 0, 20), BIGBUF_WAIT);
	ck_assert_int_eq(bigbuf_decide(100, 60, 30, 1, 0, 11), BIGBUF_WAIT);
	ck_assert_int_eq(bigbuf_decide(100, 60, 30, 1, 0, 10), BIGBUF_TAKE);
	/* the owner takes everything that is left, not more */
	ck_assert_int_eq(bigbuf_decide(100, 60, 30, 1, 1, 40),
	    BIGBUF_TAKE_OWNER);
	ck_assert_int_eq(bigbuf_decide(100, 60, 30, 1, 1, 41), BIGBUF_WAIT);
	ck_assert_int_eq(bigbuf_decide(100, 100, 30, 0, 0, 1), BIGBUF_WAIT);
}
END_TEST

/*
 * Two handlers with a budget of one connection: the first owns it, the
 * second waits until its deadline, then gets it once the first gives
 * everything back.
 */
START_TEST(check_bigbuf_take_give)
{
	struct bigbuf	b;
	int		a, c;
	long long	t0;

	ck_assert_int_eq(bigbuf_init(&b, 1000, 1000), 0);
	ck_assert_int_eq(bigbuf_take(&b, &a, 400, check_bigbuf_now_ms()), 0);
	ck_assert_ptr_eq(b.owner, &a);
	ck_assert_int_eq(bigbuf_take(&b, &a, 600, check_bigbuf_now_ms()), 0);
	t0 = check_bigbuf_now_ms();
	errno = 0;
	ck_assert_int_eq(bigbuf_take(&b, &c, 1, t0 + 50), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_ge(check_bigbuf_now_ms() - t0, 50);
	bigbuf_give(&b, &a, 1000);
	ck_assert_ptr_null(b.owner);
	ck_assert_uint_eq(b.used, 0);
	ck_assert_int_eq(bigbuf_take(&b, &c, 1000, check_bigbuf_now_ms()), 0);
	bigbuf_give(&b, &c, 1000);
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

	tc = tcase_create("decide");
	tcase_add_test(tc, check_bigbuf_decide_outside_reserve);
	tcase_add_test(tc, check_bigbuf_decide_reserve);
	suite_add_tcase(s, tc);
	tc = tcase_create("budget");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, check_bigbuf_take_give);
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
