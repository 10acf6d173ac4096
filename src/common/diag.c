/* SPDX-License-Identifier: MIT */
/*
 * diag.c: the daemon's own diagnostics, one line each, as "ackd[PID]:
 * message". Lines are built in local buffers and leave in one write() or
 * one datagram, so threads and processes never tear each other's, and
 * nothing here is shared between threads but what is set before any
 * thread or worker exists. errno is preserved for the caller.
 *
 * Where they go:
 * - standard error, always. Under systemd, when $JOURNAL_STREAM names the
 *   device and inode of our standard error (checked once, at diag_init),
 *   each line starts with its sd-daemon priority, <3> for fatal, <4> for
 *   warnings, <6> for information, so that journalctl -p sees it. The text
 *   after it is unchanged, "ackd[PID]: " included: every worker writes to
 *   the stream systemd opened for the master, so the journal's own _PID is
 *   the master's, and only the text says which worker spoke.
 * - syslog, daemon facility, once --daemon has detached (diag_syslog): a
 *   detached daemon's standard error is a pipe to a command that has
 *   exited, then /dev/null (until ready, that pipe still carries the
 *   start-up report to the terminal, see daemon.c). Each line is one RFC 3164 datagram, as
 *   syslog(3) sends, to $ACKD_SYSLOG_SOCKET (the tests' stand-in) or
 *   /dev/log. Unlike the connection log (msglog.c) this is best effort: a
 *   send never waits (a thread must not stall on a busy syslog daemon),
 *   and a lost line costs nothing but the line. The socket is left
 *   unconnected and each datagram names the path, so a restarted syslog
 *   daemon is found again without any state to repair between threads.
 *
 * A command-line tool (ackd-bench) calls diag_init_tool instead: its lines
 * are "NAME: message" on standard error alone, as err(3) prints them. It
 * is one process an operator started and watches, so no pid, no journal
 * priority, and never syslog.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "common.h"
#include "logfmt.h"

/* Where syslog(3) sends; $ACKD_SYSLOG_SOCKET overrides it (tests). */
#define LOG_SYSLOG_PATH	"/dev/log"
/* The longest message, reason included; longer ones are cut. */
#define LOG_MSG_MAX	1024

/* SIGPIPE is ignored process-wide too; this only saves a signal. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static const char		*diag_name = "ackd";
static int			 diag_journal;	/* stderr is the journal */
static int			 diag_tool;	/* "NAME: msg", no pid */
static int			 diag_syslog_fd = -1;	/* -1: no syslog */
static struct sockaddr_un	 diag_syslog_sun;

/* strerror, but safe in threads: glibc's strerror_r differs from POSIX's. */
const char *
diag_strerror(int err, char *buf, size_t size)
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
diag_journal_match(const char *env, unsigned long long dev,
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
diag_journal_check(void)
{
	struct stat	st;
	const char	*env = getenv("JOURNAL_STREAM");
	int		 saved = errno, match;

	match = env != NULL && fstat(STDERR_FILENO, &st) == 0 &&
	    diag_journal_match(env, (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	errno = saved;
	return (match);
}

/*
 * Name the program in every diagnostic (argv[0]'s last part), and find
 * out whether standard error is systemd's journal. Call first, once.
 */
void
diag_init(const char *argv0)
{
	const char	*slash;

	diag_journal = diag_journal_check();
	diag_tool = 0;
	if (argv0 == NULL || argv0[0] == '\0')
		return;
	slash = strrchr(argv0, '/');
	diag_name = slash != NULL ? slash + 1 : argv0;
}

/* Name a command-line tool in every diagnostic: "name: message". */
void
diag_init_tool(const char *name)
{
	diag_name = name;
	diag_tool = 1;
}

/*
 * From now on, also send every diagnostic to syslog, daemon facility
 * (--daemon, once detached; before any worker or thread exists). 0, or
 * -1 with errno if no socket could be made: stderr alone then.
 */
int
diag_syslog(void)
{
	const char	*path = getenv("ACKD_SYSLOG_SOCKET");
	int		 fd;

	if (path == NULL || path[0] == '\0')
		path = LOG_SYSLOG_PATH;
	if (strlen(path) >= sizeof(diag_syslog_sun.sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	diag_syslog_sun.sun_family = AF_UNIX;
	strcpy(diag_syslog_sun.sun_path, path);
	diag_syslog_fd = fd;
	return (0);
}

/*
 * Write one line to stderr, "[<N>]NAME[PID]: msg\n" (a tool: "NAME:
 * msg\n"); pri is LOG_*.
 */
static void
diag_stderr(int pri, const char *msg, size_t len)
{
	char	buf[LOG_MSG_MAX + 64], level[8] = "";
	int	n;

	if (diag_tool)
		n = snprintf(buf, sizeof(buf), "%s: %.*s\n", diag_name,
		    (int)len, msg);
	else {
		if (diag_journal)
			snprintf(level, sizeof(level), "<%d>", pri);
		n = snprintf(buf, sizeof(buf), "%s%s[%ld]: %.*s\n", level,
		    diag_name, (long)getpid(), (int)len, msg);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	/* nothing useful to do if stderr itself fails */
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}

/* The datagram's head, "<PRI>Mmm dd hh:mm:ss NAME[PID]: ": its length. */
static size_t
diag_syslog_head(char *head, size_t size, int pri)
{
	struct tm	tm;
	time_t		now = time(NULL);
	size_t		len;

	if (localtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	/* getpid() at each call, as syslog(3) does: each worker its own */
	len = logfmt_syslog_head(head, size, LOG_DAEMON | pri, &tm, diag_name,
	    getpid());
	if (len == 0)		/* a program name longer than a tag */
		len = logfmt_syslog_head(head, size, LOG_DAEMON | pri, &tm,
		    "ackd", getpid());
	return (len);
}

/* Send msg to syslog as one datagram at pri (LOG_*); never waits. */
static void
diag_syslog_send(int pri, const char *msg, size_t len)
{
	char		head[LOGFMT_SYSLOG_HEAD_MAX];
	struct iovec	iov[2];
	struct msghdr	mh;

	iov[0].iov_base = head;
	iov[0].iov_len = diag_syslog_head(head, sizeof(head), pri);
	iov[1].iov_base = (void *)(uintptr_t)msg;
	iov[1].iov_len = len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &diag_syslog_sun;
	mh.msg_namelen = sizeof(diag_syslog_sun);
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	while (sendmsg(diag_syslog_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    -1 && errno == EINTR)
		;
}

/* Format one diagnostic at pri (LOG_*), reason appended after ": ". */
static void __attribute__((format(printf, 3, 0)))
diag_vwrite(int pri, const char *reason, const char *fmt, va_list ap)
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
	diag_stderr(pri, buf, len);
	if (diag_syslog_fd != -1)
		diag_syslog_send(pri, buf, len);
	errno = saved;
}

/*
 * Report a mistake in the options as one line in its documented form,
 * "ackd: message", without a pid: the operator made it, not a process.
 */
void
diag_usage(const char *msg)
{
	int	saved = errno;

	fprintf(stderr, "%sackd: %s\n", diag_journal ? "<3>" : "", msg);
	errno = saved;
}

/* Warn, with the reason errno gives. */
void
diag_warn(const char *fmt, ...)
{
	char	buf[256];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	diag_vwrite(LOG_WARNING, diag_strerror(saved, buf, sizeof(buf)), fmt,
	    ap);
	va_end(ap);
	errno = saved;
}

/* Warn, without an errno reason. */
void
diag_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	diag_vwrite(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

/* Say something worth knowing that is not a problem. */
void
diag_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	diag_vwrite(LOG_INFO, NULL, fmt, ap);
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
	diag_vwrite(LOG_ERR, diag_strerror(saved, buf, sizeof(buf)), fmt, ap);
	va_end(ap);
	exit(status);
}

/* Report a failure and exit with status. */
void
fatalx(int status, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	diag_vwrite(LOG_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(status);
}
