/* SPDX-License-Identifier: MIT */
/*
 * opt.h: the option engine of ackd (conf.c) and ackd-bench
 * (bench_flags.c): a table of struct opt drives getopt_long, the number
 * syntax and ranges, and every error line about a single flag.
 */
#ifndef OPT_H
#define OPT_H

#include <stddef.h>

#define OPT_MAX		64	/* entries in one table, at most */

/* What a flag's value is, as far as the engine stores or checks it. */
enum opt_kind {
	OPT_INT,	/* int field, whole number in [min, max] */
	OPT_LLONG,	/* long long field, whole number in [min, max] */
	OPT_SIZE,	/* size_t field, whole number in [min, max] */
	OPT_MSEC,	/* int field in ms, decimal seconds, [min, max] ms */
	OPT_LLMSEC,	/* long long field in ms, the same */
	OPT_SWITCH,	/* int field set to 1, takes no value */
	OPT_VALUE,	/* the program's setter takes the value */
	OPT_OPTIONAL,	/* the same, optional: only as --name=VALUE */
	OPT_HELP,	/* opt_parse returns OPT_PRINT_HELP */
	OPT_VERSION	/* opt_parse returns OPT_PRINT_VERSION */
};

/*
 * One flag: how it is parsed (kind, what, min, max, offset, allowed) and
 * how --help shows it (arg, help, dflt). An OPT_VALUE flag whose allowed
 * is NULL takes a text of min-max bytes, and is described so.
 */
struct opt {
	const char	*name;		/* long form, without the -- */
	int		 letter;	/* short form, or a value > 255 */
	enum opt_kind	 kind;
	int		 what;		/* OPT_VALUE: the program's case */
	long long	 min;
	long long	 max;
	size_t		 offset;	/* of the field in the config */
	const char	*allowed;	/* OPT_VALUE: what it may be */
	const char	*arg;		/* the value's name in --help */
	const char	*help;		/* what it does, for --help */
	const char	*dflt;		/* the default --help names */
};

enum opt_result {
	OPT_RUN,		/* every flag taken: go on */
	OPT_PRINT_HELP,		/* an OPT_HELP flag: --help */
	OPT_PRINT_VERSION,	/* an OPT_VERSION flag: --version */
	OPT_ERROR		/* err holds one line */
};

/* One parse: the program's table and config, and what was given. */
struct opt_parser {
	const char		*prog;	/* in errors: see PROG --help */
	const struct opt	*opts;
	size_t			 nopts;	/* at most OPT_MAX */
	void			*cfg;	/* the offsets are into this */
	/* sets an OPT_VALUE or OPT_OPTIONAL flag (arg NULL: left out) */
	enum opt_result		(*set)(void *, const struct opt *,
				    const char *, char *, size_t);
	unsigned long long	 given;	/* out: bit i, opts[i] given */
};

enum opt_result	opt_parse(struct opt_parser *, int, char **, char *,
		    size_t);
enum opt_result	opt_error(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
const struct opt *opt_named(const struct opt *, size_t,
		    const char *);
void		opt_range(const struct opt *, char *, size_t);
const char	*opt_doc_range(const struct opt *, char *, size_t);
int		opt_value(const struct opt *, const void *, long long *);
void		opt_format(const struct opt *, long long, char *, size_t);

#endif /* OPT_H */
