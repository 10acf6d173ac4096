/* SPDX-License-Identifier: MIT */
/*
 * parse.c: the number syntax and error-line hygiene shared by ackd's and
 * ackd-bench's flag parsers, and the path syntax the start-up checks
 * share. Pure functions: no I/O, no allocation.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"

/* Is s one or more digits, after an optional '-', and nothing else? */
int
parse_is_integer(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '\0')
		return (0);
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return (0);
	return (1);
}

/*
 * Parse decimal seconds ("10", "0.5", "-1") into milliseconds, saturating
 * far outside every range. Digits past the third decimal are dropped.
 * 0, or -1 if s is not such a number.
 */
int
parse_msec(const char *s, long long *ms)
{
	long long	whole = 0, frac = 0;
	int		neg = 0, digits = 0, scale = 100;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; *s >= '0' && *s <= '9'; s++, digits++)
		if (whole < LLONG_MAX / 10000)
			whole = whole * 10 + (*s - '0');
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
			frac += (*s - '0') * scale;
			scale /= 10;
		}
	}
	if (*s != '\0' || digits == 0)
		return (-1);
	*ms = (whole * 1000 + frac) * (neg ? -1 : 1);
	return (0);
}

/*
 * Make an error line safe to print: it quotes what the user typed, so any
 * byte outside printable ASCII becomes '?'. A value with a newline or an
 * escape sequence can then neither split the line nor reach the terminal.
 */
void
parse_printable(char *line)
{
	unsigned char	*p;

	for (p = (unsigned char *)line; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
}

/* Put the directory of the absolute path into dir ("/" for /x). */
void
parse_dir(const char *path, char *dir, size_t size)
{
	const char	*slash = strrchr(path, '/');
	size_t		 len = slash != NULL && slash > path ?
			    (size_t)(slash - path) : 1;

	snprintf(dir, size, "%.*s", (int)len, slash != NULL ? path : "/");
}
