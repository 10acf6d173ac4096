/*
 * log.c: the daemon's own diagnostics, one line each, as "ackd[PID]:
 * message". Lines are built in local buffers and leave in one write() or
 * one datagram, so threads and processes never tear each other's, and
 * nothing here is shared between threads but what is set before any
 * thread or worker exists. errno is preserved for the caller.
 *
 * They go to standard error. Under systemd, when $JOURNAL_STREAM names the
 * device and inode of our standard error (checked once, at log_init),
 * each line starts with its sd-daemon priority, <3> for fatal, <4> for
 * warnings, <6> for information, so that journalctl -p sees it. The text
 * after it is unchanged, "ackd[PID]: " included: every worker writes to
 * the stream systemd opened for the master, so the journal's own _PID is
 * the master's, and only the text says which worker spoke.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "ackd.h"

/* The longest message, reason included; longer ones are cut. */
#define LOG_MSG_MAX	1024

static const char	*log_name = "ackd";
static int		 log_journal;	/* stderr is the journal */

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

/*
 * Does env, the value of $JOURNAL_STREAM ("DEV:INO" in decimal, as
 * systemd sets it), name the file with device dev and inode ino? 1 or 0.
 */
int
log_journal_match(const char *env, unsigned long long dev,
    unsigned long long ino)
{
	unsigned long long	 d, i;
	char			*end;

	if (env == NULL || env[0] < '0' || env[0] > '9')
		return (0);
	errno = 0;
	d = strtoull(env, &end, 10);
	if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
		return (0);
	i = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return (0);
	return (d == dev && i == ino);
}

/* Is our standard error the journal stream $JOURNAL_STREAM names? */
static int
log_journal_check(void)
{
	struct stat	st;
	const char	*env = getenv("JOURNAL_STREAM");
	int		 saved = errno, match;

	match = env != NULL && fstat(STDERR_FILENO, &st) == 0 &&
	    log_journal_match(env, (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	errno = saved;
	return (match);
}

/*
 * Name the program in every diagnostic (argv[0]'s last part), and find
 * out whether standard error is systemd's journal. Call first, once.
 */
void
log_init(const char *argv0)
{
	const char	*slash;

	log_journal = log_journal_check();
	if (argv0 == NULL || argv0[0] == '\0')
		return;
	slash = strrchr(argv0, '/');
	log_name = slash != NULL ? slash + 1 : argv0;
}

/* Write one line, "[<N>]NAME[PID]: msg\n", to stderr; pri is LOG_*. */
static void
log_stderr(int pri, const char *msg, size_t len)
{
	char	buf[LOG_MSG_MAX + 64], level[8] = "";
	int	n;

	if (log_journal)
		snprintf(level, sizeof(level), "<%d>", pri);
	n = snprintf(buf, sizeof(buf), "%s%s[%ld]: %.*s\n", level, log_name,
	    (long)getpid(), (int)len, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	/* nothing useful to do if stderr itself fails */
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}

/* Format one diagnostic at pri (LOG_*), reason appended after ": ". */
static void __attribute__((format(printf, 3, 0)))
log_vwrite(int pri, const char *reason, const char *fmt, va_list ap)
{
	char	buf[LOG_MSG_MAX];
	int	n, saved = errno;
	size_t	len = 0;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n > 0)
		len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
	if (reason != NULL) {
		n = snprintf(buf + len, sizeof(buf) - len, ": %s", reason);
		if (n > 0)
			len += (size_t)n < sizeof(buf) - len ? (size_t)n :
			    sizeof(buf) - len - 1;
	}
	log_stderr(pri, buf, len);
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
	log_vwrite(LOG_WARNING, log_strerror(saved, buf, sizeof(buf)), fmt,
	    ap);
	va_end(ap);
	errno = saved;
}

/* Warn, without an errno reason. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

/* Say something worth knowing that is not a problem. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, NULL, fmt, ap);
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
	log_vwrite(LOG_ERR, log_strerror(saved, buf, sizeof(buf)), fmt, ap);
	va_end(ap);
	exit(status);
}

/* Report a failure and exit with status. */
void
fatalx(int status, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(status);
}
