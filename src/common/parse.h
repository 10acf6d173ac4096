/* SPDX-License-Identifier: MIT */
/*
 * parse.h: number syntax of the option engine (opt.c) of ackd and
 * ackd-bench; the path syntax of the start-up checks.
 */
#ifndef PARSE_H
#define PARSE_H

#include <stddef.h>

int	parse_is_integer(const char *);
int	parse_msec(const char *, long long *);
void	parse_printable(char *);
void	parse_dir(const char *, char *, size_t);

#endif /* PARSE_H */
