/* SPDX-License-Identifier: MIT */
/*
 * check_upgrade.c: unit tests of upgrade.c's pure part: the parse of
 * ACKD_UPGRADE, which a new master trusts to find the descriptors the
 * old one passed. Anything but the exact form an old master writes is
 * refused, so a stray or hand-made variable is ignored, not obeyed.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "ackd.h"
#include "master.h"

/* The form an old master writes, with each flag's both values. */
START_TEST(check_upgrade_parse_ok)
{
	struct upgrade_env	u;

	ck_assert_int_eq(upgrade_parse("4242 1 1 0", &u), 0);
	ck_assert_int_eq(u.from, 4242);
	ck_assert_int_eq(u.nsets, 1);
	ck_assert_int_eq(u.pidfile, 1);
	ck_assert_int_eq(u.metrics, 0);
	ck_assert_int_eq(upgrade_parse("2 256 0 1", &u), 0);
	ck_assert_int_eq(u.from, 2);
	ck_assert_int_eq(u.nsets, ACKD_WORKERS_MAX);
	ck_assert_int_eq(u.pidfile, 0);
	ck_assert_int_eq(u.metrics, 1);
}
END_TEST

/* Out of range: pid 0 or 1 (init), no set or too many, flags past 1. */
START_TEST(check_upgrade_parse_range)
{
	static const char	*bad[] = { "0 1 0 0", "1 1 0 0", "42 0 0 0",
	    "42 257 0 0", "42 1 2 0", "42 1 0 2",
	    "99999999999999999999999 1 0 0" };
	struct upgrade_env	u;
	size_t			i;

	for (i = 0; i < nitems(bad); i++)
		ck_assert_msg(upgrade_parse(bad[i], &u) == -1, "'%s'", bad[i]);
}
END_TEST

/* Not the form: too few or many words, signs, blanks, other bytes. */
START_TEST(check_upgrade_parse_form)
{
	static const char	*bad[] = { "", "42", "42 1 0", "42 1 0 0 0",
	    " 42 1 0 0", "42 1 0 0 ", "42  1 0 0", "+42 1 0 0", "-42 1 0 0",
	    "42 1 0 0\n", "42\t1 0 0", "42 1 0 x", "0x2a 1 0 0", "42 1.0 0 0" };
	struct upgrade_env	u;
	size_t			i;

	for (i = 0; i < nitems(bad); i++)
		ck_assert_msg(upgrade_parse(bad[i], &u) == -1, "'%s'", bad[i]);
}
END_TEST

/* The upgrade suite. */
static Suite *
upgrade_suite(void)
{
	Suite	*s = suite_create("upgrade");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, check_upgrade_parse_ok);
	tcase_add_test(tc, check_upgrade_parse_range);
	tcase_add_test(tc, check_upgrade_parse_form);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(upgrade_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
