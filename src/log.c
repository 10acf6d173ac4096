/*
 * log.c: the daemon's own diagnostics, one line each on standard error,
 * as "ackd[PID]: message". Lines are built in a local buffer and written
 * with one write(), so threads and processes never tear each other's.
 * errno is preserved for the caller.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ackd.h"

static const char	*log_name = "ackd";

/* strerror, but safe in threads: glibc's strerror_r differs from POSIX's. */
const char *
log_strerror(int err, char *buf, size_t size)
{
#ifdef STRERROR_R_CHAR_P
	return (strerror_r(err, buf, size));
#else
	if (strerror_r(err, buf, size) != 0)
		snprintf(buf, size, "error %d", err);
	return (buf);
#endif
}

/* Name the program in every diagnostic (argv[0]'s last part). */
void
log_init(const char *argv0)
{
	const char	*slash;

	if (argv0 == NULL || argv0[0] == '\0')
		return;
	slash = strrchr(argv0, '/');
	log_name = slash != NULL ? slash + 1 : argv0;
}

/* Format and write one line; reason is appended after ": " if not NULL. */
static void __attribute__((format(printf, 2, 0)))
log_vwrite(const char *reason, const char *fmt, va_list ap)
{
	char	buf[1024];
	int	n, saved = errno;
	size_t	len;

	n = snprintf(buf, sizeof(buf), "%s[%ld]: ", log_name, (long)getpid());
	len = n < 0 ? 0 : (size_t)n;
	n = vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n;
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	if (reason != NULL) {
		n = snprintf(buf + len, sizeof(buf) - len, ": %s", reason);
		if (n > 0)
			len += (size_t)n;
		if (len > sizeof(buf) - 2)
			len = sizeof(buf) - 2;
	}
	buf[len++] = '\n';
	/* nothing useful to do if stderr itself fails */
	(void)!write(STDERR_FILENO, buf, len);
	errno = saved;
}

/* Warn, with the reason errno gives. */
void
log_warn(const char *fmt, ...)
{
	char	buf[256];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(log_strerror(saved, buf, sizeof(buf)), fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Warn, without an errno reason. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(NULL, fmt, ap);
	va_end(ap);
}

/* Say something worth knowing that is not a problem. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(NULL, fmt, ap);
	va_end(ap);
}

/* Report a failure with errno's reason and exit with status. */
void
fatal(int status, const char *fmt, ...)
{
	char	buf[256];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(log_strerror(saved, buf, sizeof(buf)), fmt, ap);
	va_end(ap);
	exit(status);
}

/* Report a failure and exit with status. */
void
fatalx(int status, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(NULL, fmt, ap);
	va_end(ap);
	exit(status);
}
