/*
 * msglog.c: the connection log, shared by every thread of every process.
 *
 * Each line goes out in one write(). On a regular file opened O_APPEND the
 * kernel appends each write whole, so lines from many threads and processes
 * never interleave and need no lock. A pipe, socket or terminal promises
 * that only up to PIPE_BUF bytes, and our lines can be longer, so for those
 * a process-shared mutex (mapped before the workers are forked) serialises
 * the writes instead.
 *
 * Reopening (SIGHUP) opens the path anew and dup2()s it over the old
 * descriptor: a concurrent write goes whole to the old file or whole to the
 * new one, and no thread ever sees a closed descriptor.
 *
 * With --syslog the descriptor is instead a datagram socket connected to
 * the syslog daemon's socket (/dev/log), opened by the master before it
 * forks and drops privileges, shared by every process: each line is one
 * datagram, whole by nature, so no lock either. We send those datagrams
 * ourselves rather than through syslog(3) because syslog(3) returns
 * nothing: a datagram the kernel refused would be lost while its message
 * was acknowledged. A send that fails is a log failure, as a failed
 * write() is, and the message is not acknowledged.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"

#define MSGLOG_MODE	0640

/* Where syslog(3) sends; ACKD_SYSLOG_SOCKET overrides it (tests). */
#define MSGLOG_SYSLOG_PATH	"/dev/log"
/* How long a send may wait for room in a busy syslog daemon's queue. */
#define MSGLOG_SYSLOG_WAIT_MS	1000

/* SIGPIPE is ignored process-wide too; this only saves a signal. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static int			 msglog_fd = STDOUT_FILENO;
static const char		*msglog_path;	/* NULL: standard output */
static enum ackd_log_format	 msglog_fmt;
static const char		*msglog_tag;	/* NULL: no --log-tag */
static int			 msglog_facility;	/* 0: not syslog */
static struct sockaddr_un	 msglog_sun;	/* the syslog socket */
static const char		*msglog_ident;	/* the syslog tag */
static const char		*msglog_syslog_name = MSGLOG_SYSLOG_PATH;
static pthread_mutex_t		*msglog_lock;	/* shared by all processes */
static atomic_int		 msglog_regular;

/* Note whether fd is a regular file, where O_APPEND makes writes whole. */
static void
msglog_check_regular(int fd)
{
	struct stat	st;

	atomic_store(&msglog_regular, fstat(fd, &st) == 0 &&
	    S_ISREG(st.st_mode));
}

/* Map the lock that serialises writes to pipes, sockets and terminals. */
static int
msglog_lock_init(void)
{
	pthread_mutexattr_t	attr;
	void			*p;

	p = mmap(NULL, sizeof(*msglog_lock), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (-1);
	msglog_lock = p;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	/* a worker killed mid-write must not wedge every other process */
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	errno = pthread_mutex_init(msglog_lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return (errno == 0 ? 0 : -1);
}

/* A new datagram socket connected to the syslog socket; fd, or -1. */
static int
msglog_syslog_connect(void)
{
	int	fd, saved;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1)
		return (-1);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    connect(fd, (struct sockaddr *)&msglog_sun,
	    sizeof(msglog_sun)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/*
 * Connect anew over msglog_fd (the syslog daemon restarted, or SIGHUP),
 * as msglog_reopen does for a file: no thread sees a closed descriptor.
 * Only this process's descriptor changes; the others reconnect when they
 * find theirs dead.
 */
static int
msglog_syslog_reconnect(void)
{
	int	fd, saved;

	if ((fd = msglog_syslog_connect()) == -1)
		return (-1);
	if (dup2(fd, msglog_fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	fcntl(msglog_fd, F_SETFD, FD_CLOEXEC);
	close(fd);
	return (0);
}

/*
 * --syslog: connect to the syslog socket ($ACKD_SYSLOG_SOCKET, a knob for
 * tests and diagnosis, or /dev/log) now, while we may still reach it.
 */
static int
msglog_syslog_open(const struct ackd_config *cfg)
{
	const char	*path = getenv("ACKD_SYSLOG_SOCKET");
	size_t		 need;
	int		 fd, buf;
	socklen_t	 len = sizeof(buf);

	if (path == NULL || path[0] == '\0')
		path = MSGLOG_SYSLOG_PATH;
	msglog_syslog_name = path;
	msglog_sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(msglog_sun.sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	strcpy(msglog_sun.sun_path, path);
	msglog_facility = cfg->syslog_facility;
	msglog_ident = cfg->log_tag != NULL ? cfg->log_tag : "ackd";
	if ((fd = msglog_syslog_connect()) == -1)
		return (-1);
	/* the longest line must fit one datagram: raise the send buffer
	 * if it is smaller (the kernel caps it at net.core.wmem_max) */
	need = logfmt_line_max(cfg->log_format, cfg->max_message, 64) +
	    LOGFMT_SYSLOG_HEAD_MAX + 1024;
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, &len) == 0 &&
	    (size_t)buf < need && need < (size_t)1 << 30) {
		buf = (int)need;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	}
	msglog_fd = fd;
	return (0);
}

/* The syslog socket's path, for messages about it. */
const char *
msglog_syslog_path(void)
{
	return (msglog_syslog_name);
}

/*
 * Open the log cfg asks for: its file (NULL for standard output) or the
 * syslog socket, its format and tag. Call once, in the master, before
 * forking. -1 with errno if the file or socket cannot be opened.
 */
int
msglog_open(const struct ackd_config *cfg)
{
	const char	*path = cfg->log_file;
	int		 fd;

	msglog_fmt = cfg->log_format;
	msglog_tag = cfg->log_tag;
	if (cfg->syslog_facility != 0)
		return (msglog_syslog_open(cfg));
	msglog_path = path;
	if (path != NULL) {
		/* --daemon makes us a session leader: a terminal given as the
		 * log must not become our controlling terminal */
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
		    O_NOCTTY, MSGLOG_MODE);
		if (fd == -1)
			return (-1);
		msglog_fd = fd;
	}
	msglog_check_regular(msglog_fd);
	return (msglog_lock_init());
}

/* Reopen the log file at its path (after rotation); 0 or -1 with errno. */
int
msglog_reopen(void)
{
	int	fd;

	if (msglog_facility != 0)
		return (msglog_syslog_reconnect());
	if (msglog_path == NULL)
		return (0);
	fd = open(msglog_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY, MSGLOG_MODE);
	if (fd == -1)
		return (-1);
	if (dup2(fd, msglog_fd) == -1) {
		int	saved = errno;

		close(fd);
		errno = saved;
		return (-1);
	}
	/* dup2 clears close-on-exec on the target; nothing execs, but be tidy */
	fcntl(msglog_fd, F_SETFD, FD_CLOEXEC);
	close(fd);
	msglog_check_regular(msglog_fd);
	return (0);
}

/*
 * Give the log file to uid and gid ((uid_t)-1 or (gid_t)-1: unchanged),
 * so that once the process runs as them a SIGHUP can still reopen it at
 * its path. Only a regular file that is really at that path and has no
 * other name: root must not hand over a file that a symlink or hard link
 * planted in the log directory points at. 0 (also when there is nothing
 * to do) or -1 with errno.
 */
int
msglog_chown(uid_t uid, gid_t gid)
{
	struct stat	fst, lst;

	if (msglog_path == NULL || !atomic_load(&msglog_regular))
		return (0);
	if (fstat(msglog_fd, &fst) == -1 || lstat(msglog_path, &lst) == -1)
		return (-1);
	if (!S_ISREG(lst.st_mode) || lst.st_dev != fst.st_dev ||
	    lst.st_ino != fst.st_ino || fst.st_nlink != 1) {
		errno = EPERM;
		return (-1);
	}
	return (fchown(msglog_fd, uid, gid));
}

/* The format chosen at msglog_open. */
enum ackd_log_format
msglog_format(void)
{
	return (msglog_fmt);
}

/* Write buf to a pipe, socket or terminal in full, holding the lock. */
static int
msglog_write_locked(const char *buf, size_t len)
{
	ssize_t	n;
	int	rc = 0, saved;

	if (pthread_mutex_lock(msglog_lock) == EOWNERDEAD)
		pthread_mutex_consistent(msglog_lock);
	while (len > 0) {
		n = write(msglog_fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -1;
			break;
		}
		buf += n;
		len -= (size_t)n;
	}
	saved = errno;
	pthread_mutex_unlock(msglog_lock);
	errno = saved;
	return (rc);
}

/*
 * Take back the n bytes a short append just left at the end of the file,
 * so the log never keeps half a line. O_APPEND left the offset right
 * after them; only if the file still ends there (nobody appended since,
 * which on a full disk or at the size limit nobody can) is it cut back.
 */
static void
msglog_undo_partial(size_t n)
{
	struct stat	st;
	off_t		end;

	end = lseek(msglog_fd, 0, SEEK_CUR);
	if (end == (off_t)-1 || fstat(msglog_fd, &st) == -1 ||
	    st.st_size != end || end < (off_t)n ||
	    ftruncate(msglog_fd, end - (off_t)n) == -1)
		log_warn("cannot remove a partial log line");
}

/* Milliseconds on the monotonic clock. */
static long long
msglog_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Wait up to the deadline for room in the syslog daemon's queue (a full
 * queue makes a datagram send fail with EAGAIN); 0 to try again, -1 when
 * the time is up (errno EAGAIN) or on an error.
 */
static int
msglog_syslog_wait(long long *deadline)
{
	struct pollfd	pfd;
	long long	left;

	if (*deadline == -1)
		*deadline = msglog_now_ms() + MSGLOG_SYSLOG_WAIT_MS;
	if ((left = *deadline - msglog_now_ms()) <= 0) {
		errno = EAGAIN;
		return (-1);
	}
	pfd.fd = msglog_fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
		return (-1);
	return (0);
}

/*
 * Send one line (without its '\n') as one syslog datagram, at LOG_WARNING
 * if warn, else LOG_INFO; 0 once the kernel has queued it for the syslog
 * daemon, or -1 with errno. A dead peer (the daemon restarted) gets one
 * reconnection; a busy one, MSGLOG_SYSLOG_WAIT_MS.
 */
static int
msglog_syslog_send(const char *line, size_t len, int warn)
{
	char		head[LOGFMT_SYSLOG_HEAD_MAX];
	struct iovec	iov[2];
	struct msghdr	mh;
	struct tm	tm;
	time_t		now = time(NULL);
	long long	deadline = -1;
	int		reconnected = 0;

	if (localtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	/* getpid() at each call, as syslog(3) does: each worker its own */
	iov[0].iov_base = head;
	iov[0].iov_len = logfmt_syslog_head(head, sizeof(head),
	    msglog_facility | (warn ? LOG_WARNING : LOG_INFO), &tm,
	    msglog_ident, getpid());
	iov[1].iov_base = (void *)(uintptr_t)line;
	iov[1].iov_len = len > 0 && line[len - 1] == '\n' ? len - 1 : len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	for (;;) {
		if (sendmsg(msglog_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != -1)
			return (0);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (msglog_syslog_wait(&deadline) == -1)
				return (-1);
			continue;
		}
		if ((errno != ECONNREFUSED && errno != ENOTCONN &&
		    errno != ECONNRESET && errno != EPIPE) || reconnected)
			return (-1);
		reconnected = 1;
		if (msglog_syslog_reconnect() == -1)
			return (-1);
	}
}

/*
 * Is this event a failure, which syslog gets as LOG_WARNING (the rest as
 * LOG_INFO)? A worker that exited cleanly is not.
 */
static int
msglog_is_failure(const char *event, const char *extra)
{
	static const char *const	 failures[] = { "timeout", "reset",
	    "error", "log-failed", "ack-failed", "refused", "proxy-refused",
	    "crash-loop", "memory-refused",
	    "worker-timeout", NULL };
	size_t				 i;

	if (strcmp(event, "worker-exit") == 0)
		return (extra == NULL ||
		    strstr(extra, "status=exited:0") == NULL);
	for (i = 0; failures[i] != NULL; i++)
		if (strcmp(event, failures[i]) == 0)
			return (1);
	return (0);
}

/* Write one whole line, to the file or as a syslog datagram. */
static int
msglog_put(const char *buf, size_t len, int warn)
{
	ssize_t	n;

	if (msglog_facility != 0)
		return (msglog_syslog_send(buf, len, warn));
	if (!atomic_load_explicit(&msglog_regular, memory_order_relaxed))
		return (msglog_write_locked(buf, len));
	do {
		n = write(msglog_fd, buf, len);
	} while (n == -1 && errno == EINTR);
	if (n == (ssize_t)len)
		return (0);
	if (n > 0)
		msglog_undo_partial((size_t)n);
	if (n >= 0)
		errno = ENOSPC;
	return (-1);
}

/*
 * Write one whole line (ending in '\n') about event. 0 when all of it was
 * written; -1 with errno otherwise: a short write (full disk, file size
 * limit) reports ENOSPC, and its partial line is removed again. With
 * --syslog, 0 means the datagram was queued for the syslog daemon.
 */
int
msglog_write(const char *buf, size_t len, const char *event)
{
	return (msglog_put(buf, len, msglog_is_failure(event, NULL)));
}

/*
 * Group commit for --sync. Every handler that wrote a line takes a ticket;
 * one of them at a time (the leader) runs fdatasync() for everything
 * written so far, and all whose tickets that sync covered are done
 * together. Those that arrive during a sync wait for it, then the next
 * leader covers them all with one more sync: with t threads writing, one
 * sync serves up to t lines instead of one.
 *
 * A failed sync fails every ticket it covered, even if a later sync
 * succeeds: after an fdatasync error the kernel may have dropped those
 * pages' dirty state, so a later success proves nothing about them. The
 * failed tickets are kept as one range (failures are rare; a waiting
 * ticket caught between two failures fails too, which only costs an ACK).
 *
 * Lock rules: the fields below are read and written with
 * msglog_sync_lock held; fdatasync runs without it.
 */
static pthread_mutex_t	 msglog_sync_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 msglog_sync_done = PTHREAD_COND_INITIALIZER;
static unsigned long	 msglog_written;	/* tickets handed out */
static unsigned long	 msglog_synced;		/* all up to here synced */
static unsigned long	 msglog_fail_lo;	/* failed tickets: lo..hi, */
static unsigned long	 msglog_fail_hi;	/* none while lo is 0 */
static int		 msglog_syncing;	/* a leader is in fdatasync */

/* Has a failed sync covered ticket? */
static int
msglog_sync_failed(unsigned long ticket)
{
	return (msglog_fail_lo != 0 && ticket >= msglog_fail_lo &&
	    ticket <= msglog_fail_hi);
}

/* As the leader, sync every line written so far; the lock is held. */
static void
msglog_sync_lead(void)
{
	unsigned long	from = msglog_synced + 1, target = msglog_written;
	int		rc, err;

	msglog_syncing = 1;
	pthread_mutex_unlock(&msglog_sync_lock);
	rc = fdatasync(msglog_fd);
	err = errno;
	pthread_mutex_lock(&msglog_sync_lock);
	msglog_syncing = 0;
	if (rc == 0)
		msglog_synced = target;
	else {
		errno = err;
		log_warn("cannot sync the log");
		if (msglog_fail_lo == 0 || from < msglog_fail_lo)
			msglog_fail_lo = from;
		if (target > msglog_fail_hi)
			msglog_fail_hi = target;
	}
	pthread_cond_broadcast(&msglog_sync_done);
}

/*
 * Wait until the line this thread just wrote is on stable storage: 0, or
 * -1 with errno EIO if the sync that covered it failed (the line may then
 * be lost in a crash, so it must not be acknowledged).
 */
int
msglog_sync(void)
{
	unsigned long	ticket;
	int		rc;

	pthread_mutex_lock(&msglog_sync_lock);
	ticket = ++msglog_written;
	for (;;) {
		if (msglog_sync_failed(ticket)) {
			rc = -1;
			break;
		}
		if (msglog_synced >= ticket) {
			rc = 0;
			break;
		}
		if (msglog_syncing)
			pthread_cond_wait(&msglog_sync_done, &msglog_sync_lock);
		else
			msglog_sync_lead();
	}
	pthread_mutex_unlock(&msglog_sync_lock);
	if (rc == -1)
		errno = EIO;
	return (rc);
}

/* Format and write one event line; client is NULL for daemon events. */
static void __attribute__((format(printf, 3, 0)))
msglog_vevent(const char *client, const char *event, const char *fmt,
    va_list ap)
{
	char			extra[2048], line[4096];	/* listen= may be long */
	struct timespec		now;
	struct logfmt_record	rec;
	size_t			len;

	vsnprintf(extra, sizeof(extra), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &now);
	memset(&rec, 0, sizeof(rec));
	rec.when = &now;
	rec.client = client;
	rec.pid = getpid();
	rec.tag = msglog_tag;
	rec.event = event;
	rec.extra = extra;
	len = logfmt_line(line, sizeof(line), msglog_fmt, &rec);
	if (len == 0)
		log_warnx("event %s too long to log", event);
	else if (msglog_put(line, len, msglog_is_failure(event, extra)) == -1)
		log_warn("cannot log event %s", event);
}

/*
 * Log a daemon event (no client): event, then fmt's "key=value ..." extra
 * fields. Failures go to stderr; events never stop the daemon.
 */
void
msglog_event(const char *event, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	msglog_vevent(NULL, event, fmt, ap);
	va_end(ap);
}

/* Log an event about a connection from client that no handler served. */
void
msglog_client_event(const char *client, const char *event, const char *fmt,
    ...)
{
	va_list	ap;

	va_start(ap, fmt);
	msglog_vevent(client, event, fmt, ap);
	va_end(ap);
}
