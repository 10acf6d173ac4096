/* SPDX-License-Identifier: MIT */
/*
 * bench_flags.c: ackd-bench's flags: the table, parsing, --help and
 * --version.
 *
 * bench_flags_parse never prints and never exits: it fills in the config
 * or returns one line naming the flag and what is allowed. The table below
 * is the single list of flags; getopt's tables, the range checks, the
 * error messages and --help (laid out by optdoc.c) are derived from it.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "optdoc.h"
#include "parse.h"

enum bench_flag_kind {
	FLAG_INT,	/* int field, whole number in [min, max] */
	FLAG_LLONG,	/* long long field, whole number in [min, max] */
	FLAG_SIZE,	/* size_t field, whole number in [min, max] */
	FLAG_MSEC,	/* long long field in ms, decimal seconds */
	FLAG_TEXT,	/* struct bench_text, [min, max] bytes */
	FLAG_STRING,	/* const char *, not empty */
	FLAG_BOOL,	/* int field set to 1; takes no value */
	FLAG_HELP,
	FLAG_VERSION
};

/*
 * One flag: how it is parsed (kind, min, max, field, allowed) and how
 * --help shows it (arg, help, dflt). Its range in --help and in the error
 * messages is the same min-max; its default is the field's value after
 * bench_flags_defaults, unless dflt names it ("" for none).
 */
struct bench_flag {
	const char		*name;
	int			 letter;	/* short form, or > 255 */
	enum bench_flag_kind	 kind;
	long long		 min;
	long long		 max;
	size_t			 offset;
	const char		*allowed;	/* strings: what is allowed */
	const char		*arg;		/* the value's name in --help */
	const char		*help;		/* what it does, for --help */
	const char		*dflt;		/* the default as --help names it */
};

#define FIELD(f)	offsetof(struct bench_config, f)
#define SECONDS_MAX_MS	((long long)BENCH_SECONDS_MAX * 1000)

/* Every flag, in the order --help lists them. */
static const struct bench_flag bench_flags_table[] = {
	{ "host", 'H', FLAG_STRING, 0, 0, FIELD(host),
	    "a host name or a numeric IPv4 or IPv6 address", "HOST",
	    "server name or address", NULL },
	{ "port", 'p', FLAG_INT, 1, 65535, FIELD(port), NULL, "N",
	    "server port", NULL },
	{ "concurrency", 'c', FLAG_INT, 1, BENCH_CONCURRENCY_MAX,
	    FIELD(concurrency), NULL, "N", "connections in flight", NULL },
	{ "threads", 't', FLAG_INT, 1, BENCH_THREADS_MAX, FIELD(threads),
	    NULL, "N", "event-loop threads", NULL },
	{ "duration", 'd', FLAG_MSEC, 1, SECONDS_MAX_MS, FIELD(duration_ms),
	    NULL, "SEC", "measure this long", "10 without --count" },
	{ "count", 'n', FLAG_LLONG, 1, BENCH_COUNT_MAX, FIELD(count), NULL,
	    "N", "stop after N counted connections", "" },
	{ "warmup", 'w', FLAG_MSEC, 0, SECONDS_MAX_MS, FIELD(warmup_ms),
	    NULL, "SEC", "run this long first, not counted", NULL },
	{ "message", 'm', FLAG_TEXT, 0, BENCH_MESSAGE_MAX, FIELD(message),
	    NULL, "TEXT", "the message", NULL },
	{ "size", 's', FLAG_SIZE, 1, BENCH_MESSAGE_MAX, FIELD(size), NULL,
	    "N", "send N bytes of printable filler instead", "" },
	{ "unique", 'u', FLAG_BOOL, 0, 0, FIELD(unique), NULL, NULL,
	    "start each message with \"b<pid>-<thread>-<n> \"", NULL },
	{ "expect", 'e', FLAG_TEXT, 0, BENCH_EXPECT_MAX, FIELD(expect),
	    NULL, "TEXT", "the reply that counts as ok", NULL },
	{ "timeout", 'T', FLAG_MSEC, 1, SECONDS_MAX_MS, FIELD(timeout_ms),
	    NULL, "SEC", "deadline of each connection", NULL },
	{ "json", 'j', FLAG_BOOL, 0, 0, FIELD(json), NULL, NULL,
	    "print the report as one JSON object", NULL },
	{ "record", 'r', FLAG_STRING, 0, 0, FIELD(record), "a file path",
	    "FILE", "append each acknowledged message (needs --unique)",
	    NULL },
	{ "sources", 256, FLAG_INT, 0, BENCH_SOURCES_MAX, FIELD(sources),
	    NULL, "N", "for a 127.x.y.z host, bind to 127.0.0.2 to "
	    "127.0.0.(N+1); 0 binds nothing", NULL },
	{ "quiet", 'q', FLAG_BOOL, 0, 0, FIELD(quiet), NULL, NULL,
	    "no progress line, no error samples on stderr", NULL },
	{ "help", 'h', FLAG_HELP, 0, 0, 0, NULL, NULL,
	    "print this help and exit", NULL },
	{ "version", 'V', FLAG_VERSION, 0, 0, 0, NULL, NULL,
	    "print the version and exit", NULL },
};

#define BENCH_NFLAGS \
	nitems(bench_flags_table)
#define BENCH_DOC_COLUMN	25	/* where --help's text starts */

/* Set every field to its default. */
void
bench_flags_defaults(struct bench_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = "127.0.0.1";
	cfg->port = 9999;
	cfg->concurrency = 64;
	cfg->threads = 1;
	cfg->message.s = "hello";
	cfg->message.len = 5;
	cfg->expect.s = "ACK!";
	cfg->expect.len = 4;
	cfg->timeout_ms = 10 * 1000;
	cfg->sources = 16;
}

/* Put one formatted error line into err. */
static enum bench_flags_result __attribute__((format(printf, 3, 4)))
bench_flags_error(char *err, size_t errsize, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
	parse_printable(err);
	return (BENCH_ERROR);
}

/* Write f's allowed range as the messages and --help show it. */
static void
bench_flags_range(const struct bench_flag *f, char *buf, size_t size)
{
	switch (f->kind) {
	case FLAG_MSEC:
		snprintf(buf, size, "%lld%s-%lld", f->min / 1000,
		    f->min % 1000 ? ".001" : "", f->max / 1000);
		break;
	case FLAG_TEXT:
		snprintf(buf, size, "%lld-%lld bytes", f->min, f->max);
		break;
	case FLAG_STRING:
		snprintf(buf, size, "%s", f->allowed);
		break;
	default:
		snprintf(buf, size, "%lld-%lld", f->min, f->max);
		break;
	}
}

/* Parse a numeric flag value into *v, or explain why not. */
static enum bench_flags_result
bench_flags_number(const struct bench_flag *f, const char *arg, long long *v,
    char *err, size_t errsize)
{
	char	range[64];

	bench_flags_range(f, range, sizeof(range));
	if (f->kind == FLAG_MSEC) {
		if (parse_msec(arg, v) == -1)
			return (bench_flags_error(err, errsize, "--%s: '%s' "
			    "is not a number of seconds (allowed: %s)", f->name,
			    arg, range));
	} else {
		if (!parse_is_integer(arg))
			return (bench_flags_error(err, errsize, "--%s: '%s' "
			    "is not a number (allowed: %s)", f->name, arg,
			    range));
		errno = 0;
		*v = strtoll(arg, NULL, 10);
		if (errno == ERANGE)
			*v = arg[0] == '-' ? LLONG_MIN : LLONG_MAX;
	}
	if (*v < f->min || *v > f->max)
		return (bench_flags_error(err, errsize, "--%s: '%s' is out of "
		    "range (allowed: %s)", f->name, arg, range));
	return (BENCH_RUN);
}

/* Apply one flag's value to cfg. */
static enum bench_flags_result
bench_flags_apply(struct bench_config *cfg, const struct bench_flag *f,
    const char *arg, char *err, size_t errsize)
{
	char			*field = (char *)cfg + f->offset;
	struct bench_text	*text = (struct bench_text *)(void *)field;
	long long		 v = 0;
	size_t			 len;

	switch (f->kind) {
	case FLAG_INT:
	case FLAG_LLONG:
	case FLAG_SIZE:
	case FLAG_MSEC:
		if (bench_flags_number(f, arg, &v, err, errsize) != BENCH_RUN)
			return (BENCH_ERROR);
		if (f->kind == FLAG_INT)
			*(int *)(void *)field = (int)v;
		else if (f->kind == FLAG_SIZE)
			*(size_t *)(void *)field = (size_t)v;
		else
			*(long long *)(void *)field = v;
		return (BENCH_RUN);
	case FLAG_TEXT:
		len = strlen(arg);
		if (len > (size_t)f->max)
			return (bench_flags_error(err, errsize, "--%s: %zu "
			    "bytes is too long (allowed: %lld-%lld bytes)",
			    f->name, len, f->min, f->max));
		text->s = arg;
		text->len = len;
		return (BENCH_RUN);
	case FLAG_STRING:
		if (arg[0] == '\0')
			return (bench_flags_error(err, errsize, "--%s: empty "
			    "value (allowed: %s)", f->name, f->allowed));
		*(const char **)(void *)field = arg;
		return (BENCH_RUN);
	case FLAG_BOOL:
		*(int *)(void *)field = 1;
		return (BENCH_RUN);
	case FLAG_HELP:
		return (BENCH_HELP);
	case FLAG_VERSION:
		return (BENCH_VERSION);
	}
	return (bench_flags_error(err, errsize, "--%s: internal error",
	    f->name));
}

/* Find the flag getopt_long returned as c. */
static const struct bench_flag *
bench_flags_find(int c)
{
	size_t	i;

	for (i = 0; i < BENCH_NFLAGS; i++)
		if (bench_flags_table[i].letter == c)
			return (&bench_flags_table[i]);
	return (NULL);
}

/* Was the flag called name on the command line? */
static int
bench_flags_given(const struct bench_config *cfg, const char *name)
{
	size_t	i;

	for (i = 0; i < BENCH_NFLAGS; i++)
		if (strcmp(bench_flags_table[i].name, name) == 0)
			return ((cfg->given >> i) & 1);
	return (0);
}

/* Build getopt's short and long option tables from bench_flags_table. */
static void
bench_flags_getopt_tables(char *shortopts, struct option *longopts)
{
	char	*s = shortopts;
	size_t	 i;

	*s++ = '+';	/* stop at the first non-option: no permuting */
	*s++ = ':';	/* report a missing value as ':' */
	for (i = 0; i < BENCH_NFLAGS; i++) {
		const struct bench_flag	*f = &bench_flags_table[i];
		int			 has_arg;

		has_arg = f->kind != FLAG_HELP && f->kind != FLAG_VERSION &&
		    f->kind != FLAG_BOOL;
		longopts[i].name = f->name;
		longopts[i].has_arg = has_arg ? required_argument : no_argument;
		longopts[i].flag = NULL;
		longopts[i].val = f->letter;
		if (f->letter < 256) {
			*s++ = (char)f->letter;
			if (has_arg)
				*s++ = ':';
		}
	}
	*s = '\0';
	memset(&longopts[BENCH_NFLAGS], 0, sizeof(*longopts));
}

/* Explain a value-less flag: which one, and what it would have allowed. */
static enum bench_flags_result
bench_flags_missing(int c, char *err, size_t errsize)
{
	const struct bench_flag	*f = bench_flags_find(c);
	char			 range[64];

	if (f == NULL)
		return (bench_flags_error(err, errsize, "missing value"));
	bench_flags_range(f, range, sizeof(range));
	return (bench_flags_error(err, errsize, "--%s: missing value "
	    "(allowed: %s)", f->name, range));
}

/* Check the flags against each other, once all are known. */
static enum bench_flags_result
bench_flags_check(struct bench_config *cfg, char *err, size_t errsize)
{
	if (cfg->threads > cfg->concurrency)
		return (bench_flags_error(err, errsize, "--threads: %d is more "
		    "than --concurrency (%d); each thread needs a connection",
		    cfg->threads, cfg->concurrency));
	if (cfg->size > 0 && bench_flags_given(cfg, "message"))
		return (bench_flags_error(err, errsize, "--size: cannot be "
		    "used with --message (allowed: one of them)"));
	if (cfg->size > 0 && cfg->unique && cfg->size < BENCH_PREFIX_MAX)
		return (bench_flags_error(err, errsize, "--size: %zu is too "
		    "small for --unique (allowed: %d-%d)", cfg->size,
		    BENCH_PREFIX_MAX, BENCH_MESSAGE_MAX));
	if (cfg->record != NULL && !cfg->unique)
		return (bench_flags_error(err, errsize, "--record: needs "
		    "--unique (only unique messages can be found in the log)"));
	if (cfg->record != NULL &&
	    memchr(cfg->message.s, '\n', cfg->message.len) != NULL)
		return (bench_flags_error(err, errsize, "--record: the "
		    "--message holds a newline, but records are one per line"));
	if (cfg->duration_ms == 0 && cfg->count == 0)
		cfg->duration_ms = 10 * 1000;
	return (BENCH_RUN);
}

/*
 * Parse argv into cfg (which holds the defaults). On BENCH_ERROR, err
 * holds one line naming the flag and what is allowed. Never prints.
 */
enum bench_flags_result
bench_flags_parse(struct bench_config *cfg, int argc, char **argv, char *err,
    size_t errsize)
{
	char			 shortopts[2 * BENCH_NFLAGS + 3];
	struct option		 longopts[BENCH_NFLAGS + 1];
	const struct bench_flag	*f;
	enum bench_flags_result	 rc;
	int			 c;

	bench_flags_getopt_tables(shortopts, longopts);
	optind = 0;	/* glibc: start afresh */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == ':')
			return (bench_flags_missing(optopt, err, errsize));
		if (c == '?' || (f = bench_flags_find(c)) == NULL)
			return (bench_flags_error(err, errsize, "unknown "
			    "option '%s' (see ackd-bench --help)",
			    argv[optind - 1]));
		rc = bench_flags_apply(cfg, f, optarg, err, errsize);
		if (rc != BENCH_RUN)
			return (rc);
		cfg->given |= 1u << (f - bench_flags_table);
	}
	if (optind < argc)
		return (bench_flags_error(err, errsize, "unexpected argument "
		    "'%s' (ackd-bench takes only options)", argv[optind]));
	return (bench_flags_check(cfg, err, errsize));
}

/*
 * f's default for --help, from the defaults in d: the field's value,
 * unless f->dflt names it ("" for none).
 */
static const char *
bench_flags_doc_default(const struct bench_flag *f,
    const struct bench_config *d, char *buf, size_t size)
{
	const char	*field = (const char *)d + f->offset;

	if (f->dflt != NULL)
		return (f->dflt[0] != '\0' ? f->dflt : NULL);
	switch (f->kind) {
	case FLAG_INT:
		snprintf(buf, size, "%d", *(const int *)(const void *)field);
		return (buf);
	case FLAG_MSEC:
		snprintf(buf, size, "%lld", *(const long long *)(const void *)
		    field / 1000);
		return (buf);
	case FLAG_TEXT:
		return (((const struct bench_text *)(const void *)field)->s);
	case FLAG_STRING:
		return (*(const char *const *)(const void *)field);
	default:
		return (NULL);
	}
}

/* f's range for --help, as the error messages give it, with its unit. */
static const char *
bench_flags_doc_range(const struct bench_flag *f, char *buf, size_t size)
{
	switch (f->kind) {
	case FLAG_INT:
	case FLAG_LLONG:
	case FLAG_SIZE:
	case FLAG_TEXT:
		bench_flags_range(f, buf, size);
		return (buf);
	case FLAG_MSEC:
		bench_flags_range(f, buf, size);
		snprintf(buf + strlen(buf), size - strlen(buf), " s");
		return (buf);
	default:
		return (NULL);
	}
}

/* Print --help: every flag of the table with its range and default. */
void
bench_flags_usage(FILE *fp)
{
	struct bench_config	 d;
	struct optdoc		 doc;
	char			 range[64], dflt[64];
	size_t			 i;

	bench_flags_defaults(&d);
	fputs("usage: ackd-bench [options]\n"
	    "Keep connections to ackd in flight, each sending one message "
	    "and reading\nthe reply until the server closes; report the rate "
	    "and the latency.\n\n", fp);
	for (i = 0; i < BENCH_NFLAGS; i++) {
		const struct bench_flag	*f = &bench_flags_table[i];

		memset(&doc, 0, sizeof(doc));
		doc.letter = f->letter;
		doc.name = f->name;
		doc.arg = f->arg;
		doc.help = f->help;
		doc.range = bench_flags_doc_range(f, range, sizeof(range));
		doc.dflt = bench_flags_doc_default(f, &d, dflt, sizeof(dflt));
		optdoc_print(fp, &doc, BENCH_DOC_COLUMN);
	}
	fputs("\n"
"Exit: 0 every counted connection ok, 1 a wrong reply, an error or nothing\n"
"counted, 64 bad flag, 71 system resources, 73 cannot open the record file.\n"
"See ackd-bench(1).\n", fp);
}

/* Print --version. */
void
bench_flags_version(FILE *fp)
{
	fprintf(fp, "ackd-bench %s\n", PACKAGE_VERSION);
}
