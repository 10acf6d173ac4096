/* SPDX-License-Identifier: MIT */
/*
 * opt.c: the option engine shared by ackd (conf.c) and ackd-bench
 * (bench_flags.c).
 *
 * Each program keeps its own table of struct opt, its config struct and
 * a setter for the values only it understands (addresses, names, texts);
 * this file does the rest once for both: getopt_long's tables from the
 * table, whole numbers and decimal seconds checked against [min, max] and
 * stored at the entry's offset, switches, --help and --version, and every
 * error line about one flag: "--flag: what was wrong (allowed: ...)", a
 * missing value, an unknown option, a stray argument.
 *
 * Invariants: opt_parse never prints and never exits; an error leaves
 * one line in err, every byte of it printable (it quotes what the user
 * typed); getopt is reset on each call, so a program may parse again;
 * parsing stops at the first error, --help or --version, in argv's order.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"
#include "parse.h"

/* Put one formatted error line into err, made safe to print. */
enum opt_result
opt_error(char *err, size_t errsize, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
	parse_printable(err);
	return (OPT_ERROR);
}

/* Is f's value decimal seconds, kept in milliseconds? */
static int
opt_is_msec(const struct opt *f)
{
	return (f->kind == OPT_MSEC || f->kind == OPT_LLMSEC);
}

/* Is f's value a number the engine stores? */
static int
opt_is_number(const struct opt *f)
{
	return (f->kind == OPT_INT || f->kind == OPT_LLONG ||
	    f->kind == OPT_SIZE || opt_is_msec(f));
}

/* Write what f's value may be, as the error messages and --help say it. */
void
opt_range(const struct opt *f, char *buf, size_t size)
{
	if (opt_is_msec(f))
		snprintf(buf, size, "%lld%s-%lld", f->min / 1000,
		    f->min % 1000 ? ".001" : "", f->max / 1000);
	else if (opt_is_number(f))
		snprintf(buf, size, "%lld-%lld", f->min, f->max);
	else if (f->allowed != NULL)
		snprintf(buf, size, "%s", f->allowed);
	else
		snprintf(buf, size, "%lld-%lld bytes", f->min, f->max);
}

/* Parse a numeric flag value into *v, or explain why not. */
static enum opt_result
opt_number(const struct opt *f, const char *arg, long long *v, char *err,
    size_t errsize)
{
	char	range[64];

	opt_range(f, range, sizeof(range));
	if (opt_is_msec(f)) {
		if (parse_msec(arg, v) == -1)
			return (opt_error(err, errsize, "--%s: '%s' is not a "
			    "number of seconds (allowed: %s)", f->name, arg,
			    range));
	} else {
		if (!parse_is_integer(arg))
			return (opt_error(err, errsize, "--%s: '%s' is not a "
			    "number (allowed: %s)", f->name, arg, range));
		errno = 0;
		*v = strtoll(arg, NULL, 10);
		if (errno == ERANGE)
			*v = arg[0] == '-' ? LLONG_MIN : LLONG_MAX;
	}
	if (*v < f->min || *v > f->max)
		return (opt_error(err, errsize, "--%s: '%s' is out of range "
		    "(allowed: %s)", f->name, arg, range));
	return (OPT_RUN);
}

/* Store v, in range, into f's field of cfg. */
static void
opt_store(const struct opt *f, void *cfg, long long v)
{
	void	*field = (char *)cfg + f->offset;

	if (f->kind == OPT_INT || f->kind == OPT_MSEC ||
	    f->kind == OPT_SWITCH)
		*(int *)field = (int)v;
	else if (f->kind == OPT_SIZE)
		*(size_t *)field = (size_t)v;
	else
		*(long long *)field = v;
}

/* Take one flag getopt found, with its value (or NULL). */
static enum opt_result
opt_take(const struct opt_parser *p, const struct opt *f, const char *arg,
    char *err, size_t errsize)
{
	long long	v;

	switch (f->kind) {
	case OPT_SWITCH:
		opt_store(f, p->cfg, 1);
		return (OPT_RUN);
	case OPT_VALUE:
	case OPT_OPTIONAL:
		return (p->set(p->cfg, f, arg, err, errsize));
	case OPT_HELP:
		return (OPT_PRINT_HELP);
	case OPT_VERSION:
		return (OPT_PRINT_VERSION);
	default:
		if (opt_number(f, arg, &v, err, errsize) != OPT_RUN)
			return (OPT_ERROR);
		opt_store(f, p->cfg, v);
		return (OPT_RUN);
	}
}

/* The entry getopt_long returned as c, or NULL. */
static const struct opt *
opt_find(const struct opt_parser *p, int c)
{
	size_t	i;

	for (i = 0; i < p->nopts; i++)
		if (p->opts[i].letter == c)
			return (&p->opts[i]);
	return (NULL);
}

/* The entry called name in opts, or NULL. */
const struct opt *
opt_named(const struct opt *opts, size_t nopts, const char *name)
{
	size_t	i;

	for (i = 0; i < nopts; i++)
		if (strcmp(opts[i].name, name) == 0)
			return (&opts[i]);
	return (NULL);
}

/* Build getopt's short and long option tables from p's table. */
static void
opt_tables(const struct opt_parser *p, char *shortopts,
    struct option *longopts)
{
	char	*s = shortopts;
	size_t	 i;

	*s++ = '+';	/* stop at the first non-option: no permuting */
	*s++ = ':';	/* report a missing value as ':' */
	for (i = 0; i < p->nopts; i++) {
		const struct opt	*f = &p->opts[i];
		int			 has_arg;

		has_arg = f->kind != OPT_HELP && f->kind != OPT_VERSION &&
		    f->kind != OPT_SWITCH;
		longopts[i].name = f->name;
		longopts[i].has_arg = f->kind == OPT_OPTIONAL ?
		    optional_argument : has_arg ? required_argument :
		    no_argument;
		longopts[i].flag = NULL;
		longopts[i].val = f->letter;
		/* getopt has no optional short values: give those no letter */
		if (f->letter < 256) {
			*s++ = (char)f->letter;
			if (has_arg)
				*s++ = ':';
		}
	}
	*s = '\0';
	memset(&longopts[p->nopts], 0, sizeof(*longopts));
}

/* Explain a value-less flag: which one, and what it would have allowed. */
static enum opt_result
opt_missing(const struct opt_parser *p, int c, char *err, size_t errsize)
{
	const struct opt	*f = opt_find(p, c);
	char			 range[128];

	if (f == NULL)
		return (opt_error(err, errsize, "missing value"));
	opt_range(f, range, sizeof(range));
	return (opt_error(err, errsize, "--%s: missing value (allowed: %s)",
	    f->name, range));
}

/*
 * Name the unknown option in word: a long one whole, a short one by the
 * letter getopt stopped at (word may be a group such as -zV).
 */
static enum opt_result
opt_unknown(const struct opt_parser *p, const char *word, char *err,
    size_t errsize)
{
	if (strncmp(word, "--", 2) == 0 || optopt == 0)
		return (opt_error(err, errsize, "unknown option '%s' (see %s "
		    "--help)", word, p->prog));
	return (opt_error(err, errsize, "unknown option '-%c' (see %s "
	    "--help)", optopt, p->prog));
}

/*
 * Refuse the words after the options. getopt gives an optional value
 * only as --name=VALUE, so a word after such a flag is explained.
 */
static enum opt_result
opt_rest(const struct opt_parser *p, int argc, char **argv, char *err,
    size_t errsize)
{
	const struct opt	*f;

	if (optind >= argc)
		return (OPT_RUN);
	if (optind > 1 && strncmp(argv[optind - 1], "--", 2) == 0 &&
	    (f = opt_named(p->opts, p->nopts, argv[optind - 1] + 2)) != NULL &&
	    f->kind == OPT_OPTIONAL)
		return (opt_error(err, errsize, "--%s: '%s' is a separate word "
		    "(allowed: --%s=%s)", f->name, argv[optind], f->name,
		    f->arg));
	return (opt_error(err, errsize, "unexpected argument '%s' (%s takes "
	    "only options)", argv[optind], p->prog));
}

/*
 * Parse argv into p->cfg (which holds the defaults), flag by flag, and
 * note in p->given which were given. On OPT_ERROR, err holds one line
 * naming the flag and what is allowed.
 */
enum opt_result
opt_parse(struct opt_parser *p, int argc, char **argv, char *err,
    size_t errsize)
{
	char			 shortopts[2 * OPT_MAX + 3];
	struct option		 longopts[OPT_MAX + 1];
	const struct opt	*f;
	enum opt_result		 rc;
	int			 c, word;

	if (p->nopts > OPT_MAX)
		return (opt_error(err, errsize, "more than %d flags", OPT_MAX));
	opt_tables(p, shortopts, longopts);
	optind = 0;	/* glibc: start afresh; others: 0 acts as 1 */
	opterr = 0;
	p->given = 0;
	for (;;) {
		/* the word getopt looks at: a short option group stays at
		 * optind until its last letter, so this is the word with c */
		word = optind > 0 ? optind : 1;
		if ((c = getopt_long(argc, argv, shortopts, longopts,
		    NULL)) == -1)
			break;
		if (c == ':')
			return (opt_missing(p, optopt, err, errsize));
		if (c == '?' || (f = opt_find(p, c)) == NULL)
			return (opt_unknown(p, argv[word], err, errsize));
		if ((rc = opt_take(p, f, optarg, err, errsize)) != OPT_RUN)
			return (rc);
		p->given |= 1ULL << (f - p->opts);
	}
	return (opt_rest(p, argc, argv, err, errsize));
}

/* f's range for --help, with its unit; NULL for a value it cannot say. */
const char *
opt_doc_range(const struct opt *f, char *buf, size_t size)
{
	if (!opt_is_number(f) && (f->kind != OPT_VALUE || f->allowed != NULL))
		return (NULL);
	opt_range(f, buf, size);
	if (opt_is_msec(f))
		snprintf(buf + strlen(buf), size - strlen(buf), " s");
	return (buf);
}

/* Read f's number from cfg into *v; -1 if f's value is no number. */
int
opt_value(const struct opt *f, const void *cfg, long long *v)
{
	const void	*field = (const char *)cfg + f->offset;

	if (f->kind == OPT_INT || f->kind == OPT_MSEC)
		*v = *(const int *)field;
	else if (f->kind == OPT_SIZE)
		*v = (long long)*(const size_t *)field;
	else if (f->kind == OPT_LLONG || f->kind == OPT_LLMSEC)
		*v = *(const long long *)field;
	else
		return (-1);
	return (0);
}

/* Write v in f's unit (seconds for milliseconds), as --help shows it. */
void
opt_format(const struct opt *f, long long v, char *buf, size_t size)
{
	if (opt_is_msec(f) && v % 1000 != 0)
		snprintf(buf, size, "%lld.%03lld", v / 1000, v % 1000);
	else if (opt_is_msec(f))
		snprintf(buf, size, "%lld", v / 1000);
	else
		snprintf(buf, size, "%lld", v);
}
