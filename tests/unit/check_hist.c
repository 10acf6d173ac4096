/* SPDX-License-Identifier: MIT */
/*
 * check_hist.c: unit tests for hist.c, ackd-bench's latency histogram.
 *
 * The documented promise: a percentile is never below the true one and
 * above it by less than 1/64 of it; values below 128 us are exact; max is
 * exact; memory is one fixed array covering more than an hour.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* The documented bound: reported - true < true / 64. */
#define REL_ERR		(1.0 / 64.0)

static struct hist	h, h2, h3;	/* 16 KB each: not on the stack */

/* A small deterministic generator (64-bit LCG), so failures reproduce. */
static uint64_t
lcg(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (*state >> 11);
}

/* qsort's comparison of two uint64_t. */
static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* The true pct-th percentile of n sorted values, by the same rank rule. */
static uint64_t
exact_percentile(const uint64_t *v, size_t n, double pct)
{
	double	want = pct / 100.0 * (double)n;
	size_t	rank = (size_t)want;

	if ((double)rank < want)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (v[rank - 1]);
}

/* Check got against the true value want: never below, within REL_ERR. */
static void
assert_close(uint64_t got, uint64_t want, const char *what)
{
	ck_assert_msg(got >= want, "%s: %llu is below the true %llu", what,
	    (unsigned long long)got, (unsigned long long)want);
	ck_assert_msg((double)(got - want) < (double)want * REL_ERR + 1e-9 ||
	    got == want, "%s: %llu is more than 1/64 above the true %llu",
	    what, (unsigned long long)got, (unsigned long long)want);
}

START_TEST(test_empty)
{
	hist_init(&h);
	ck_assert_uint_eq(hist_count(&h), 0);
	ck_assert_uint_eq(hist_max(&h), 0);
	ck_assert_uint_eq(hist_clamped(&h), 0);
	ck_assert(hist_mean(&h) == 0.0);
	ck_assert_uint_eq(hist_percentile(&h, 0.0), 0);
	ck_assert_uint_eq(hist_percentile(&h, 50.0), 0);
	ck_assert_uint_eq(hist_percentile(&h, 100.0), 0);
}
END_TEST

START_TEST(test_one_value)
{
	hist_init(&h);
	hist_record(&h, 1234567);
	ck_assert_uint_eq(hist_count(&h), 1);
	ck_assert_uint_eq(hist_max(&h), 1234567);
	ck_assert(hist_mean(&h) == 1234567.0);
	/* every percentile of one value is that value: capped at max */
	ck_assert_uint_eq(hist_percentile(&h, 0.0), 1234567);
	ck_assert_uint_eq(hist_percentile(&h, 50.0), 1234567);
	ck_assert_uint_eq(hist_percentile(&h, 100.0), 1234567);
}
END_TEST

START_TEST(test_zero)
{
	hist_init(&h);
	hist_record(&h, 0);
	hist_record(&h, 0);
	ck_assert_uint_eq(hist_count(&h), 2);
	ck_assert_uint_eq(hist_max(&h), 0);
	ck_assert_uint_eq(hist_percentile(&h, 50.0), 0);
	ck_assert_uint_eq(hist_percentile(&h, 100.0), 0);
}
END_TEST

START_TEST(test_small_values_exact)
{
	uint64_t	v;

	/* 1..100 once each: below 128 every value has its own bucket */
	hist_init(&h);
	for (v = 1; v <= 100; v++)
		hist_record(&h, v);
	ck_assert_uint_eq(hist_count(&h), 100);
	ck_assert_uint_eq(hist_percentile(&h, 1.0), 1);
	ck_assert_uint_eq(hist_percentile(&h, 50.0), 50);
	ck_assert_uint_eq(hist_percentile(&h, 90.0), 90);
	ck_assert_uint_eq(hist_percentile(&h, 99.0), 99);
	ck_assert_uint_eq(hist_percentile(&h, 99.9), 100);
	ck_assert_uint_eq(hist_percentile(&h, 100.0), 100);
	ck_assert_uint_eq(hist_max(&h), 100);
	ck_assert(hist_mean(&h) == 50.5);
	/* 127 still exact, with a larger max around */
	hist_init(&h);
	hist_record(&h, 127);
	hist_record(&h, 1000000);
	ck_assert_uint_eq(hist_percentile(&h, 50.0), 127);
}
END_TEST

START_TEST(test_percentile_arguments)
{
	uint64_t	v;

	hist_init(&h);
	for (v = 1; v <= 10; v++)
		hist_record(&h, v);
	/* below 0 (and 0) is the smallest, above 100 is the largest */
	ck_assert_uint_eq(hist_percentile(&h, -5.0), 1);
	ck_assert_uint_eq(hist_percentile(&h, 0.0), 1);
	ck_assert_uint_eq(hist_percentile(&h, 150.0), 10);
	/* rank rule: at least pct% of the values are <= the result */
	ck_assert_uint_eq(hist_percentile(&h, 10.0), 1);
	ck_assert_uint_eq(hist_percentile(&h, 10.1), 2);
	ck_assert_uint_eq(hist_percentile(&h, 95.0), 10);
}
END_TEST

/* Every value alone in a bucket's range: the bound holds for each one. */
START_TEST(test_bucket_error_bound)
{
	uint64_t	state = 42, v;
	int		i, e;

	for (i = 0; i < 20000; i++) {
		if (i < 36 * 3) {
			/* around every power of two: 2^e - 1, 2^e, 2^e + 1 */
			e = i / 3;
			v = (UINT64_C(1) << e) + (uint64_t)(i % 3) - 1;
		} else {
			e = (int)(lcg(&state) % 36);
			v = (UINT64_C(1) << e) +
			    lcg(&state) % (UINT64_C(1) << e);
		}
		if (v > HIST_MAX_VALUE)
			v = HIST_MAX_VALUE;
		hist_init(&h);
		hist_record(&h, v);
		hist_record(&h, HIST_MAX_VALUE);	/* max must not cap */
		assert_close(hist_percentile(&h, 50.0), v, "lone value");
	}
}
END_TEST

/* Check p50..p99.9 of n values against the sorted truth. */
static void
check_distribution(uint64_t *vals, size_t n, const char *name)
{
	static const double	pcts[] = { 1, 10, 50, 90, 99, 99.9, 99.99 };
	char			what[64];
	size_t			i;

	hist_init(&h);
	for (i = 0; i < n; i++)
		hist_record(&h, vals[i]);
	qsort(vals, n, sizeof(*vals), cmp_u64);
	ck_assert_uint_eq(hist_count(&h), n);
	ck_assert_uint_eq(hist_max(&h), vals[n - 1]);
	ck_assert_uint_eq(hist_percentile(&h, 100.0), vals[n - 1]);
	for (i = 0; i < nitems(pcts); i++) {
		snprintf(what, sizeof(what), "%s p%g", name, pcts[i]);
		assert_close(hist_percentile(&h, pcts[i]),
		    exact_percentile(vals, n, pcts[i]), what);
	}
}

START_TEST(test_uniform)
{
	static uint64_t	vals[200000];
	uint64_t	state = 7;
	size_t		i;

	/* uniform over 1 us .. 20 ms */
	for (i = 0; i < 200000; i++)
		vals[i] = 1 + lcg(&state) % 20000;
	check_distribution(vals, 200000, "uniform");
}
END_TEST

START_TEST(test_log_uniform)
{
	static uint64_t	vals[200000];
	uint64_t	state = 99;
	size_t		i;
	int		e;

	/* spread over every power of two from 1 us to about 9.5 hours */
	for (i = 0; i < 200000; i++) {
		e = (int)(lcg(&state) % 35);
		vals[i] = (UINT64_C(1) << e) + lcg(&state) %
		    (UINT64_C(1) << e);
	}
	check_distribution(vals, 200000, "log-uniform");
}
END_TEST

START_TEST(test_latency_like)
{
	static uint64_t	vals[100000];
	uint64_t	state = 3;
	size_t		i;

	/* most around 1 ms, a slow tail of 1% up to 2 s */
	for (i = 0; i < 100000; i++) {
		if (lcg(&state) % 100 == 0)
			vals[i] = 10000 + lcg(&state) % 2000000;
		else
			vals[i] = 800 + lcg(&state) % 400;
	}
	check_distribution(vals, 100000, "latency");
}
END_TEST

START_TEST(test_mean)
{
	hist_init(&h);
	hist_record(&h, 1000);
	hist_record(&h, 3000);
	hist_record(&h, 5000);
	hist_record(&h, 7001);
	ck_assert_msg(hist_mean(&h) == 4000.25, "mean %f", hist_mean(&h));
}
END_TEST

START_TEST(test_exact_max)
{
	hist_init(&h);
	hist_record(&h, 5);
	hist_record(&h, 123456789);	/* not a bucket boundary */
	hist_record(&h, 77);
	ck_assert_uint_eq(hist_max(&h), 123456789);
	ck_assert_uint_eq(hist_percentile(&h, 100.0), 123456789);
	ck_assert_uint_eq(hist_percentile(&h, 99.9), 123456789);
}
END_TEST

START_TEST(test_merge)
{
	uint64_t	state = 11, v;
	int		i;

	hist_init(&h);
	hist_init(&h2);
	hist_init(&h3);
	for (i = 0; i < 50000; i++) {
		v = lcg(&state) % 5000000;
		hist_record(i % 3 == 0 ? &h : &h2, v);
		hist_record(&h3, v);
	}
	hist_record(&h2, UINT64_MAX);
	hist_record(&h3, UINT64_MAX);
	hist_merge(&h, &h2);
	ck_assert_uint_eq(hist_count(&h), hist_count(&h3));
	ck_assert_uint_eq(hist_max(&h), UINT64_MAX);
	ck_assert_uint_eq(hist_clamped(&h), 1);
	ck_assert(hist_mean(&h) == hist_mean(&h3));
	ck_assert_int_eq(memcmp(&h, &h3, sizeof(h)), 0);
	ck_assert_uint_eq(hist_percentile(&h, 50.0), hist_percentile(&h3,
	    50.0));
	/* merging an empty histogram changes nothing */
	hist_init(&h2);
	hist_merge(&h, &h2);
	ck_assert_int_eq(memcmp(&h, &h3, sizeof(h)), 0);
	/* into an empty one: a copy */
	hist_init(&h2);
	hist_merge(&h2, &h3);
	ck_assert_int_eq(memcmp(&h2, &h3, sizeof(h)), 0);
}
END_TEST

START_TEST(test_huge_values)
{
	hist_init(&h);
	hist_record(&h, 100);
	hist_record(&h, HIST_MAX_VALUE);		/* the last in range */
	ck_assert_uint_eq(hist_clamped(&h), 0);
	hist_record(&h, HIST_MAX_VALUE + 1);
	hist_record(&h, UINT64_MAX);
	ck_assert_uint_eq(hist_count(&h), 4);
	ck_assert_uint_eq(hist_clamped(&h), 2);
	ck_assert_uint_eq(hist_max(&h), UINT64_MAX);
	ck_assert_uint_eq(hist_percentile(&h, 100.0), UINT64_MAX);
	ck_assert_uint_eq(hist_percentile(&h, 25.0), 100);
	/* the mean counts clamped values as HIST_MAX_VALUE: no overflow */
	ck_assert(hist_mean(&h) == (100.0 + 3.0 * (double)HIST_MAX_VALUE) /
	    4.0);
}
END_TEST

START_TEST(test_bounds)
{
	/* more than an hour of microseconds, in under 32 KB */
	ck_assert(HIST_MAX_VALUE > UINT64_C(3600) * 1000000);
	ck_assert(sizeof(struct hist) < 32 * 1024);
}
END_TEST

static Suite *
hist_suite(void)
{
	Suite	*s = suite_create("hist");
	TCase	*tc = tcase_create("hist");

	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_one_value);
	tcase_add_test(tc, test_zero);
	tcase_add_test(tc, test_small_values_exact);
	tcase_add_test(tc, test_percentile_arguments);
	tcase_add_test(tc, test_bucket_error_bound);
	tcase_add_test(tc, test_uniform);
	tcase_add_test(tc, test_log_uniform);
	tcase_add_test(tc, test_latency_like);
	tcase_add_test(tc, test_mean);
	tcase_add_test(tc, test_exact_max);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_huge_values);
	tcase_add_test(tc, test_bounds);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(hist_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
