/* SPDX-License-Identifier: MIT */
/*
 * optdoc.h: one flag's --help entry, laid out the same way for ackd
 * (conf.c) and ackd-bench (bench_flags.c) from their flag tables.
 */
#ifndef OPTDOC_H
#define OPTDOC_H

#include <stddef.h>
#include <stdio.h>

#define OPTDOC_WIDTH	79	/* columns of a --help line, at most */

/* One flag as --help shows it: each string NULL when there is none. */
struct optdoc {
	int		 letter;	/* short form, or a value > 255 */
	const char	*name;		/* long form, without the -- */
	const char	*arg;		/* the value's name: N, SEC, PATH */
	int		 arg_optional;	/* --name[=ARG]: the value may be left out */
	const char	*help;		/* what the flag does */
	const char	*range;		/* what the value may be: 1-256 */
	const char	*dflt;		/* the default, shown in [] */
};

size_t	optdoc_format(const struct optdoc *, int, char *, size_t);
void	optdoc_print(FILE *, const struct optdoc *, int);

#endif /* OPTDOC_H */
