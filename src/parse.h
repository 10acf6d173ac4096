/*
 * parse.h: number syntax shared by the flag parsers of ackd (config.c) and
 * ackd-bench (bench_flags.c).
 */
#ifndef PARSE_H
#define PARSE_H

int	parse_is_integer(const char *);
int	parse_msec(const char *, long long *);
void	parse_printable(char *);

#endif /* PARSE_H */
