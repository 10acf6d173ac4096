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
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"

#define MSGLOG_MODE	0640

static int			 msglog_fd = STDOUT_FILENO;
static const char		*msglog_path;	/* NULL: standard output */
static enum ackd_log_format	 msglog_fmt;
static const char		*msglog_tag;	/* NULL: no --log-tag */
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

/*
 * Open the log cfg asks for: its file (NULL for standard output), format
 * and tag. Call once, in the master, before forking. -1 with errno if the
 * file cannot be opened.
 */
int
msglog_open(const struct ackd_config *cfg)
{
	const char	*path = cfg->log_file;
	int		 fd;

	msglog_fmt = cfg->log_format;
	msglog_tag = cfg->log_tag;
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

/*
 * Write one whole line (ending in '\n'). 0 when all of it was written;
 * -1 with errno otherwise: a short write (full disk, file size limit)
 * reports ENOSPC, and its partial line is removed again.
 */
int
msglog_write(const char *buf, size_t len)
{
	ssize_t	n;

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
	char			extra[512], line[1024];
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
	else if (msglog_write(line, len) == -1)
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
