/* SPDX-License-Identifier: MIT */
/*
 * common.h: what ackd and ackd-bench share, besides the option engine
 * (opt.h), number syntax (parse.h), address syntax (addr.h) and flag
 * documentation (optdoc.h): the clock, the diagnostics log and the
 * standard descriptors. Both programs link these files from
 * src/libcommon.a; nothing here knows about either program's structures.
 */
#ifndef COMMON_H
#define COMMON_H

#include <stddef.h>
#include <stdint.h>

/* mono.c: CLOCK_MONOTONIC, for every timer: milliseconds, nanoseconds. */
long long	mono_ms(void);
uint64_t	mono_ns(void);
int		mono_until_ms(uint64_t, uint64_t);

/*
 * diag.c: diagnostics: stderr (journal), then syslog for the daemon;
 * "NAME: message" on stderr alone for a tool.
 */
void	diag_init(const char *);
void	diag_init_tool(const char *);
int	diag_journal_match(const char *, unsigned long long,
	    unsigned long long);
int	diag_syslog(void);
void	diag_usage(const char *);
const char *diag_strerror(int, char *, size_t);
void	diag_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	diag_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	diag_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(int, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	fatalx(int, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

/* stdfds.c: descriptors 0-2 exist before any file or socket is opened. */
void	stdfds_ensure(void);

#endif /* COMMON_H */
