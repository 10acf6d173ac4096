/* SPDX-License-Identifier: MIT */
/*
 * check_optdoc.c: unit tests for optdoc.c, the layout of one --help
 * entry: names at column 2, text from the given column, words wrapped
 * under 80 columns, continuation lines at the text's column.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "optdoc.h"

#define COLUMN	29

/* Is every line of s shorter than 80 columns and ended by a newline? */
static int
check_optdoc_narrow(const char *s)
{
	const char	*nl;

	for (; *s != '\0'; s = nl + 1) {
		if ((nl = strchr(s, '\n')) == NULL)
			return (0);
		if (nl - s > OPTDOC_WIDTH)
			return (0);
	}
	return (1);
}

/* A short entry is one line: names, spaces to the column, text. */
START_TEST(check_optdoc_one_line)
{
	struct optdoc	d = { 'p', "port", "N", 0, "TCP port", "0-65535",
			    "9999" };
	char		buf[256];
	size_t		len;

	len = optdoc_format(&d, COLUMN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "  -p, --port N               TCP port, 0-65535 "
	    "[9999]\n");
	ck_assert_uint_eq(len, strlen(buf));
}
END_TEST

/* No short form: the long one lines up; no value, range or default. */
START_TEST(check_optdoc_no_letter)
{
	struct optdoc	d = { 300, "sync", NULL, 0, "fsync first", NULL,
			    NULL };
	char		buf[256];

	optdoc_format(&d, COLUMN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "      --sync                 fsync first\n");
}
END_TEST

/* An optional value is shown as --name[=ARG]. */
START_TEST(check_optdoc_optional)
{
	struct optdoc	d = { 311, "syslog", "FACILITY", 1, "to syslog",
			    NULL, "daemon" };
	char		buf[256];

	optdoc_format(&d, COLUMN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "      --syslog[=FACILITY]    to syslog "
	    "[daemon]\n");
}
END_TEST

/* Long text wraps under 80 columns, going on at the column. */
START_TEST(check_optdoc_wraps)
{
	struct optdoc	d = { 'w', "workers", "N", 0, "one two three four "
			    "five six seven eight nine ten eleven twelve "
			    "thirteen fourteen fifteen sixteen seventeen",
			    "1-256", "online CPUs: 2" };
	char		buf[512];

	optdoc_format(&d, COLUMN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "  -w, --workers N            "
	    "one two three four five six seven eight nine ten\n"
	    "                             "
	    "eleven twelve thirteen fourteen fifteen sixteen\n"
	    "                             "
	    "seventeen, 1-256 [online CPUs: 2]\n");
	ck_assert(check_optdoc_narrow(buf));
}
END_TEST

/* A word that ends at column 79 stays; one column more wraps it. */
START_TEST(check_optdoc_wrap_edge)
{
	struct optdoc	d = { 'w', "workers", "N", 0, "one two three four "
			    "five six seven eight nine tenxy", NULL, NULL };
	char		buf[512];

	optdoc_format(&d, COLUMN, buf, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), OPTDOC_WIDTH + 1);
	d.help = "one two three four five six seven eight nine tenxyz";
	optdoc_format(&d, COLUMN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "  -w, --workers N            "
	    "one two three four five six seven eight nine\n"
	    "                             tenxyz\n");
}
END_TEST

/* Names past the column: the text starts two spaces after them. */
START_TEST(check_optdoc_long_names)
{
	struct optdoc	d = { 262, "max-connections-per-worker", "N", 0,
			    "replace a worker", NULL, "0" };
	char		buf[256];

	optdoc_format(&d, COLUMN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "      --max-connections-per-worker N  replace "
	    "a worker [0]\n");
}
END_TEST

/* A small buffer: cut and terminated, the full length returned. */
START_TEST(check_optdoc_truncated)
{
	struct optdoc	d = { 'p', "port", "N", 0, "TCP port", "0-65535",
			    "9999" };
	char		buf[10], full[256];
	size_t		len;

	len = optdoc_format(&d, COLUMN, buf, sizeof(buf));
	ck_assert_uint_eq(len, optdoc_format(&d, COLUMN, full, sizeof(full)));
	ck_assert_uint_eq(strlen(buf), sizeof(buf) - 1);
	ck_assert_int_eq(strncmp(buf, full, sizeof(buf) - 1), 0);
}
END_TEST

/* The optdoc suite: one entry's layout. */
static Suite *
optdoc_suite(void)
{
	Suite	*s = suite_create("optdoc");
	TCase	*tc = tcase_create("layout");

	tcase_add_test(tc, check_optdoc_one_line);
	tcase_add_test(tc, check_optdoc_no_letter);
	tcase_add_test(tc, check_optdoc_optional);
	tcase_add_test(tc, check_optdoc_wraps);
	tcase_add_test(tc, check_optdoc_wrap_edge);
	tcase_add_test(tc, check_optdoc_long_names);
	tcase_add_test(tc, check_optdoc_truncated);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(optdoc_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
