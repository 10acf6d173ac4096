/* SPDX-License-Identifier: MIT */
/*
 * check_opt.c: unit tests for opt.c, the option engine of ackd and
 * ackd-bench, through a small table of its own: every width of number,
 * switches, a program setter with a required and an optional value, and
 * the error lines the engine words. check_conf and test_bench.py hold
 * each program's messages; this holds the engine's rules.
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"

struct check_opt_cfg {
	int		 i;
	long long	 ll;
	size_t		 size;
	int		 msec;
	long long	 llmsec;
	int		 sw;
	const char	*text;		/* set by the setter */
	const char	*optional;	/* set by the setter; "(none)" if left out */
};

#define CFIELD(f)	offsetof(struct check_opt_cfg, f)

static const struct opt check_opt_table[] = {
	{ "int", 'i', OPT_INT, 0, -5, 5, CFIELD(i), NULL, "N", NULL, NULL },
	{ "ll", 300, OPT_LLONG, 0, 1, 10000000000LL, CFIELD(ll), NULL, "N",
	    NULL, NULL },
	{ "size", 's', OPT_SIZE, 0, 0, 100, CFIELD(size), NULL, "N", NULL,
	    NULL },
	{ "msec", 301, OPT_MSEC, 0, 1, 60000, CFIELD(msec), NULL, "SEC", NULL,
	    NULL },
	{ "llmsec", 302, OPT_LLMSEC, 0, 0, 86400000LL, CFIELD(llmsec), NULL,
	    "SEC", NULL, NULL },
	{ "switch", 'w', OPT_SWITCH, 0, 0, 0, CFIELD(sw), NULL, NULL, NULL,
	    NULL },
	{ "text", 't', OPT_VALUE, 1, 0, 8, CFIELD(text), NULL, "TEXT", NULL,
	    NULL },
	{ "name", 'n', OPT_VALUE, 2, 0, 0, CFIELD(text), "a name", "NAME",
	    NULL, NULL },
	{ "opt", 303, OPT_OPTIONAL, 3, 0, 0, CFIELD(optional), "x, y", "WORD",
	    NULL, NULL },
	{ "help", 'h', OPT_HELP, 0, 0, 0, 0, NULL, NULL, NULL, NULL },
	{ "version", 'V', OPT_VERSION, 0, 0, 0, 0, NULL, NULL, NULL, NULL },
};

#define CHECK_NOPTS	(sizeof(check_opt_table) / sizeof(check_opt_table[0]))

/* The table's setter: stores the word, or "(none)" for a missing one. */
static enum opt_result
check_opt_set(void *cfgv, const struct opt *f, const char *arg, char *err,
    size_t errsize)
{
	const char	**field = (const char **)(void *)((char *)cfgv +
			    f->offset);

	if (arg != NULL && strcmp(arg, "bad") == 0)
		return (opt_error(err, errsize, "--%s: '%s' is bad", f->name,
		    arg));
	*field = arg != NULL ? arg : "(none)";
	return (OPT_RUN);
}

static struct check_opt_cfg	check_cfg;
static struct opt_parser	check_parser;
static char			check_err[256];

/* Parse "t" and the words given (NULL last) into check_cfg. */
static enum opt_result
check_opt_parse(const char *first, ...)
{
	static char	 words[16][64];
	char		*argv[16];
	int		 argc = 0;
	va_list		 ap;
	const char	*w;

	memset(&check_cfg, 0, sizeof(check_cfg));
	check_parser = (struct opt_parser){ "t", check_opt_table, CHECK_NOPTS,
	    &check_cfg, check_opt_set, 0 };
	check_err[0] = '\0';
	snprintf(words[0], sizeof(words[0]), "t");
	argv[argc++] = words[0];
	va_start(ap, first);
	for (w = first; w != NULL && argc < 15; w = va_arg(ap, const char *)) {
		snprintf(words[argc], sizeof(words[argc]), "%s", w);
		argv[argc] = words[argc];
		argc++;
	}
	va_end(ap);
	argv[argc] = NULL;
	return (opt_parse(&check_parser, argc, argv, check_err,
	    sizeof(check_err)));
}

/* Each number kind lands in its field's width; given notes each flag. */
START_TEST(check_opt_numbers)
{
	ck_assert_int_eq(check_opt_parse("-i", "-5", "--ll=10000000000",
	    "-s100", "--msec", "0.001", "--llmsec=86400", "-w", NULL), OPT_RUN);
	ck_assert_int_eq(check_cfg.i, -5);
	ck_assert(check_cfg.ll == 10000000000LL);
	ck_assert_uint_eq(check_cfg.size, 100);
	ck_assert_int_eq(check_cfg.msec, 1);
	ck_assert(check_cfg.llmsec == 86400000LL);
	ck_assert_int_eq(check_cfg.sw, 1);
	ck_assert(check_parser.given == 0x3f);
}
END_TEST

/* Out of range, not a number, not seconds: the flag and its range. */
START_TEST(check_opt_number_errors)
{
	ck_assert_int_eq(check_opt_parse("-i", "6", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "--int: '6' is out of range (allowed: "
	    "-5-5)");
	ck_assert_int_eq(check_opt_parse("--ll=99999999999999999999", NULL),
	    OPT_ERROR);
	ck_assert_str_eq(check_err, "--ll: '99999999999999999999' is out of "
	    "range (allowed: 1-10000000000)");
	ck_assert_int_eq(check_opt_parse("-s", "1x", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "--size: '1x' is not a number (allowed: "
	    "0-100)");
	ck_assert_int_eq(check_opt_parse("--msec=0.0001", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "--msec: '0.0001' is out of range "
	    "(allowed: 0.001-60)");
	ck_assert_int_eq(check_opt_parse("--llmsec=1s", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "--llmsec: '1s' is not a number of "
	    "seconds (allowed: 0-86400)");
}
END_TEST

/* A missing value names what was allowed: range, bytes or words. */
START_TEST(check_opt_missing)
{
	ck_assert_int_eq(check_opt_parse("--msec", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "--msec: missing value (allowed: "
	    "0.001-60)");
	ck_assert_int_eq(check_opt_parse("-t", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "--text: missing value (allowed: 0-8 "
	    "bytes)");
	ck_assert_int_eq(check_opt_parse("-w", "--name", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "--name: missing value (allowed: a name)");
}
END_TEST

/*
 * An unknown letter is named by itself wherever it stands in a group of
 * short flags; a long one whole, with its value.
 */
START_TEST(check_opt_unknown)
{
	ck_assert_int_eq(check_opt_parse("-wz", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "unknown option '-z' (see t --help)");
	ck_assert_int_eq(check_opt_parse("-zw", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "unknown option '-z' (see t --help)");
	ck_assert_int_eq(check_opt_parse("-i", "1", "-wzw", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "unknown option '-z' (see t --help)");
	ck_assert_int_eq(check_opt_parse("--switch=1", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "unknown option '--switch=1' (see t "
	    "--help)");
	ck_assert_int_eq(check_opt_parse("--no\tpe", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "unknown option '--no?pe' (see t --help)");
}
END_TEST

/* The setter gets the values it owns, and NULL for a left-out one. */
START_TEST(check_opt_setter)
{
	ck_assert_int_eq(check_opt_parse("-t", "abc", "--opt", NULL), OPT_RUN);
	ck_assert_str_eq(check_cfg.text, "abc");
	ck_assert_str_eq(check_cfg.optional, "(none)");
	ck_assert_int_eq(check_opt_parse("--opt=x", NULL), OPT_RUN);
	ck_assert_str_eq(check_cfg.optional, "x");
	ck_assert_int_eq(check_opt_parse("-n", "bad", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "--name: 'bad' is bad");
}
END_TEST

/* Words after the options; an optional value given as a separate word. */
START_TEST(check_opt_rest)
{
	ck_assert_int_eq(check_opt_parse("-w", "extra", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "unexpected argument 'extra' (t takes "
	    "only options)");
	ck_assert_int_eq(check_opt_parse("--opt", "x", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "--opt: 'x' is a separate word (allowed: "
	    "--opt=WORD)");
	ck_assert_int_eq(check_opt_parse("--", "-w", NULL), OPT_ERROR);
	ck_assert_str_eq(check_err, "unexpected argument '-w' (t takes only "
	    "options)");
}
END_TEST

/* --help and --version stop the parse where they stand. */
START_TEST(check_opt_help)
{
	ck_assert_int_eq(check_opt_parse("-h", "-i", "x", NULL),
	    OPT_PRINT_HELP);
	ck_assert_int_eq(check_opt_parse("-wV", "extra", NULL),
	    OPT_PRINT_VERSION);
	ck_assert_int_eq(check_opt_parse("-i", "x", "-h", NULL), OPT_ERROR);
}
END_TEST

/* --help's ranges: numbers with their unit, texts in bytes, else none. */
START_TEST(check_opt_doc)
{
	char		buf[64];
	long long	v;

	ck_assert_str_eq(opt_doc_range(&check_opt_table[3], buf, sizeof(buf)),
	    "0.001-60 s");
	ck_assert_str_eq(opt_doc_range(&check_opt_table[6], buf, sizeof(buf)),
	    "0-8 bytes");
	ck_assert_ptr_null(opt_doc_range(&check_opt_table[7], buf,
	    sizeof(buf)));
	check_cfg.msec = 1500;
	ck_assert_int_eq(opt_value(&check_opt_table[3], &check_cfg, &v), 0);
	opt_format(&check_opt_table[3], v, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1.500");
	ck_assert_int_eq(opt_value(&check_opt_table[5], &check_cfg, &v), -1);
	ck_assert_ptr_eq(opt_named(check_opt_table, CHECK_NOPTS, "opt"),
	    &check_opt_table[8]);
}
END_TEST

/* The opt suite: the engine's rules on a table of its own. */
static Suite *
opt_suite(void)
{
	Suite	*s = suite_create("opt");
	TCase	*tc = tcase_create("engine");

	tcase_add_test(tc, check_opt_numbers);
	tcase_add_test(tc, check_opt_number_errors);
	tcase_add_test(tc, check_opt_missing);
	tcase_add_test(tc, check_opt_unknown);
	tcase_add_test(tc, check_opt_setter);
	tcase_add_test(tc, check_opt_rest);
	tcase_add_test(tc, check_opt_help);
	tcase_add_test(tc, check_opt_doc);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(opt_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
