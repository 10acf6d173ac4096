/* SPDX-License-Identifier: MIT */
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
 * new one, and no thread ever sees a closed descriptor. A reopen that
 * fails keeps the old descriptor, so lines still go somewhere, and says
 * so in that file (event=reopen-failed): an operator who rotated the log
 * finds the reason at the end of the rotated file. The master also asks
 * msglog_stale() once a second whether the file was deleted, moved or
 * replaced under us without a SIGHUP, and then reopens as for one.
 *
 * --log-file takes regular files only, opened with O_NONBLOCK: a FIFO
 * with no reader would otherwise block open() until one came (the master
 * deaf to signals meanwhile), and a FIFO, terminal or device never gets
 * O_APPEND's whole writes. Standard output, which the caller chose, may
 * be anything.
 *
 * Near a limit. The invariant: no line that was written whole (and so may
 * have been acknowledged) is ever cut, and none is glued to the tail of a
 * line that was not. A write cut short by the file-size limit
 * (RLIMIT_FSIZE) or a full disk is a log failure, and its partial line
 * must be taken back; but an undo is only exact if nobody appended after
 * the partial line and the descriptor still names the file it went to.
 * Without a lock neither holds: threads, and workers forked before a
 * reopen, share one file offset and append behind each other, and a
 * reopen can dup2() a new file under a thread between its write and its
 * undo. So each process writes in one of two modes:
 * - fast (the common case): one write(), no lock, as above. Allowed only
 *   while the file is far from its size limit and the filesystem far from
 *   full, by a margin that covers every line any thread of any process
 *   may have in flight, so that a fast write is never cut short by us.
 * - careful (within the margin): under the shared mutex, which reopen
 *   also takes around its dup2(). Every careful writer is serialised and
 *   no fast write can reach the end of the file, so a short write's
 *   partial line is the last n bytes of the very file it went to, and
 *   ftruncate() takes back exactly those.
 * The margin is kept with a counter of the bytes every process has set
 * out to write (msglog_shared.appended, added to before each write). A
 * process samples its file's size and the free space (under the lock, in
 * careful mode) and may write fast while the counter stays below
 * msglog_fast_until: the sampled room less the margin. A fast write then
 * lands at most 2 * (every writer's longest line) past the bytes counted
 * before it: the lines in flight at the sample, and the ones overtaking
 * it. Reopen resets msglog_fast_until, so a new file is sampled anew.
 * The margin is sized for every thread of every process writing its
 * longest line at once, so on a small limit or a nearly full disk
 * careful mode is the rule; near the limit it still writes up to the
 * last byte, it only refuses what does not fit. What the margin cannot
 * cover: another program filling the disk faster than we sample it (the
 * disk slack is for that), or a reopen onto a file already within the
 * margin of its limit racing a write. A fast write cut short anyway takes
 * the lock and is undone when provably ours (it ends at the size limit,
 * where nothing can follow it, in the file still open), else left with a
 * warning.
 *
 * With --syslog the descriptor is instead a datagram socket connected to
 * the syslog daemon's socket (/dev/log), opened by the master before it
 * forks and drops privileges, shared by every process: each line is one
 * datagram, whole by nature, so no lock either. We send those datagrams
 * ourselves rather than through syslog(3) because syslog(3) returns
 * nothing: a datagram the kernel refused would be lost while its message
 * was acknowledged. A send that fails is a log failure, as a failed
 * write() is, and the message is not acknowledged. So is a datagram
 * longer than --syslog-max: the syslog daemon would cut it (rsyslog keeps
 * 8 KiB by default), and a cut line must never stand for an acknowledged
 * message; it is not sent at all (EMSGSIZE).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"
#include "parse.h"

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
static size_t			 msglog_syslog_max;	/* --syslog-max */
static pthread_mutex_t		*msglog_lock;	/* shared by all processes */
static atomic_int		 msglog_regular;

/*
 * Near a limit (see above). The margin in bytes; the file-size limit (-1:
 * none); this process's sample: fast writes while the shared counter is
 * at most msglog_fast_until; and the count of this process's reopens, to
 * tell whether the descriptor still names the file a write went to.
 */
#define MSGLOG_DISK_SLACK	(16ULL << 20)	/* for other programs */
#define MSGLOG_SAMPLE_MAX	(64ULL << 20)	/* resample this often */
#define MSGLOG_EVENT_MAX	4096		/* msglog_vevent's line */
#define MSGLOG_THREADS_EXTRA	4	/* a worker's non-pool threads */

struct msglog_shared {
	pthread_mutex_t		lock;
	atomic_ullong		appended;	/* bytes set out to write */
};

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
    "the shared counter must be lock-free to work across processes");

static atomic_ullong		*msglog_appended;	/* in msglog_shared */
static unsigned long long	 msglog_margin;
static long long		 msglog_fsize_max = -1;
static atomic_ullong		 msglog_fast_until;
static atomic_uint		 msglog_gen;

/* Note whether fd is a regular file, where O_APPEND makes writes whole. */
static void
msglog_check_regular(int fd)
{
	struct stat	st;

	atomic_store(&msglog_regular, fstat(fd, &st) == 0 &&
	    S_ISREG(st.st_mode));
}

/*
 * Map what every process shares: the lock that serialises writes to pipes,
 * sockets and terminals, and careful writes to files; the byte counter.
 */
static int
msglog_lock_init(void)
{
	pthread_mutexattr_t	attr;
	void			*p;

	p = mmap(NULL, sizeof(struct msglog_shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (-1);
	msglog_lock = &((struct msglog_shared *)p)->lock;
	msglog_appended = &((struct msglog_shared *)p)->appended;
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
	msglog_syslog_max = cfg->syslog_max;
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

/* A file type that is not a regular file, as a log field and in words. */
struct msglog_kind {
	mode_t		 type;
	const char	*token;
	const char	*words;
};

static const struct msglog_kind msglog_kinds[] = {
	{ S_IFIFO, "fifo", "a FIFO" },
	{ S_IFCHR, "character-device", "a character device" },
	{ S_IFBLK, "block-device", "a block device" },
	{ S_IFSOCK, "socket", "a socket" },
	{ S_IFDIR, "directory", "a directory" },
	{ 0, "other", "not a regular file" },	/* the last: any other */
};
#define MSGLOG_NKINDS	nitems(msglog_kinds)

/* The kind of a file that is not a regular file. */
static const struct msglog_kind *
msglog_kind(mode_t mode)
{
	size_t	i;

	for (i = 0; i < MSGLOG_NKINDS - 1; i++)
		if ((mode & S_IFMT) == msglog_kinds[i].type)
			break;
	return (&msglog_kinds[i]);
}

/*
 * The margin of fast writes: twice the longest line every thread of every
 * process may have in flight at once (workers, one being replaced, each
 * with its pool and a few threads of its own, and the master). Also note
 * the file-size limit, which the workers inherit.
 */
static void
msglog_reserve_init(const struct ackd_config *cfg)
{
	unsigned long long	line, writers;
	struct rlimit		rl;

	line = logfmt_line_max(cfg->log_format, cfg->max_message,
	    64 + ACKD_ADDRSTRLEN + 32);
	if (line < MSGLOG_EVENT_MAX)
		line = MSGLOG_EVENT_MAX;
	writers = (unsigned long long)(cfg->workers + 1) *
	    (unsigned long long)(cfg->threads + MSGLOG_THREADS_EXTRA) +
	    MSGLOG_THREADS_EXTRA;
	msglog_margin = 2 * writers * line;
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur <= (rlim_t)LLONG_MAX)
		msglog_fsize_max = (long long)rl.rlim_cur;
}

/*
 * Open the log file at path to append to it, only if it is a regular
 * file: fd, or -1 with errno, and *kind set when the path names anything
 * else. Nothing here waits for a reader or a device: with O_NONBLOCK a
 * FIFO without a reader fails at once (ENXIO) instead of blocking us
 * until one comes, and a FIFO with a reader, a terminal or a device is
 * refused after the open. (A hung network filesystem can still block
 * open() itself: see FILES in ackd.8.) O_NOCTTY: --daemon makes us a
 * session leader, and a terminal opened as the log, even to be refused,
 * must not become our controlling terminal.
 */
static int
msglog_file_open(const char *path, const struct msglog_kind **kind)
{
	struct stat	st;
	int		fd, flags, saved;

	*kind = NULL;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK, MSGLOG_MODE);
	if (fd == -1) {
		saved = errno;
		/* ENXIO: a FIFO with no reader, or a device with no driver */
		if (saved == ENXIO && stat(path, &st) == 0 &&
		    !S_ISREG(st.st_mode))
			*kind = msglog_kind(st.st_mode);
		errno = saved;
		return (-1);
	}
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		*kind = msglog_kind(st.st_mode);
		close(fd);
		errno = EINVAL;
		return (-1);
	}
	/* a regular file ignores O_NONBLOCK; clear it all the same */
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/* One line saying why the log file cannot be opened, into err. */
static void
msglog_open_error(char *err, size_t size, const char *path,
    const struct msglog_kind *kind, int saved)
{
	char	buf[256];

	if (kind != NULL)
		snprintf(err, size, "log file %s is %s, not a regular file: "
		    "--log-file takes a regular file, or - for standard "
		    "output", path, kind->words);
	else
		snprintf(err, size, "cannot open log file %s: %s", path,
		    diag_strerror(saved, buf, sizeof(buf)));
}

/*
 * Open the log cfg asks for: its file (NULL for standard output, which
 * may be anything) or the syslog socket, its format and tag. Call once,
 * in the master, before forking. 0, or -1 with one line in err saying
 * why the file or socket cannot be opened.
 */
int
msglog_open(const struct ackd_config *cfg, char *err, size_t size)
{
	const struct msglog_kind	*kind;
	char				 buf[256];
	int				 fd;

	msglog_fmt = cfg->log_format;
	msglog_tag = cfg->log_tag;
	if (cfg->syslog_facility != 0) {
		if (msglog_syslog_open(cfg) == 0)
			return (0);
		snprintf(err, size, "cannot connect to the syslog socket %s: "
		    "%s", msglog_syslog_path(), diag_strerror(errno, buf,
		    sizeof(buf)));
		return (-1);
	}
	msglog_path = cfg->log_file;
	if (msglog_path != NULL) {
		if ((fd = msglog_file_open(msglog_path, &kind)) == -1) {
			msglog_open_error(err, size, msglog_path, kind, errno);
			return (-1);
		}
		msglog_fd = fd;
	}
	msglog_check_regular(msglog_fd);
	msglog_reserve_init(cfg);
	if (msglog_lock_init() == 0)
		return (0);
	snprintf(err, size, "cannot map the log's lock: %s",
	    diag_strerror(errno, buf, sizeof(buf)));
	return (-1);
}

/* Take the shared lock, whose last owner may have died holding it. */
static void
msglog_lock_take(void)
{
	if (pthread_mutex_lock(msglog_lock) == EOWNERDEAD)
		pthread_mutex_consistent(msglog_lock);
}

/* Release the shared lock, keeping errno. */
static void
msglog_lock_give(void)
{
	int	saved = errno;

	pthread_mutex_unlock(msglog_lock);
	errno = saved;
}

/*
 * Put fd (a newly opened log file) over msglog_fd under the lock, so that
 * no careful write is between its write and its undo, and have the next
 * write sample the new file; 0 or -1 with errno.
 */
static int
msglog_install(int fd)
{
	int	rc;

	msglog_lock_take();
	rc = dup2(fd, msglog_fd) == -1 ? -1 : 0;
	atomic_store(&msglog_fast_until, 0);
	atomic_fetch_add(&msglog_gen, 1);
	msglog_lock_give();
	return (rc);
}

/* Reopen the log file at its path over msglog_fd; 0, or -1 as above. */
static int
msglog_file_reopen(const struct msglog_kind **kind)
{
	int	fd, saved;

	if ((fd = msglog_file_open(msglog_path, kind)) == -1)
		return (-1);
	if (msglog_install(fd) == -1) {
		saved = errno;
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
 * The symbolic name of errno value err, for a log field ("errno-N" in
 * buf, of size bytes, for one not listed).
 */
const char *
msglog_errno_name(int err, char *buf, size_t size)
{
	static const struct {
		int		 err;
		const char	*name;
	} names[] = {
		{ EACCES, "EACCES" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" },
		{ ENOTDIR, "ENOTDIR" }, { EROFS, "EROFS" }, { ENOSPC, "ENOSPC" },
		{ EDQUOT, "EDQUOT" }, { EMFILE, "EMFILE" }, { ENFILE, "ENFILE" },
		{ ENXIO, "ENXIO" }, { ELOOP, "ELOOP" }, { EISDIR, "EISDIR" },
		{ ENAMETOOLONG, "ENAMETOOLONG" }, { EIO, "EIO" },
		{ ENOMEM, "ENOMEM" }, { EINTR, "EINTR" }, { ETXTBSY, "ETXTBSY" },
		{ ECONNREFUSED, "ECONNREFUSED" }, { ENOTSOCK, "ENOTSOCK" },
		{ ENOEXEC, "ENOEXEC" }, { EAGAIN, "EAGAIN" },
	};
	size_t	i;

	for (i = 0; i < nitems(names); i++)
		if (names[i].err == err)
			return (names[i].name);
	snprintf(buf, size, "errno-%d", err);
	return (buf);
}

/*
 * Say that a reopen failed, err or kind being why: on stderr, and as
 * event=reopen-failed in the log still open, which is where the lines go
 * on; why (if not NULL) gets the same in words.
 */
static void
msglog_reopen_failed(const char *reason, int err,
    const struct msglog_kind *kind, char *why, size_t size)
{
	const char	*name = msglog_facility != 0 ? msglog_syslog_name :
			    msglog_path;
	char		 path[1024], words[1280], buf[256], ebuf[32];

	if (kind != NULL)
		snprintf(words, sizeof(words), "log file %s is %s, not a "
		    "regular file", name, kind->words);
	else
		snprintf(words, sizeof(words), "cannot reopen %s %s: %s",
		    msglog_facility != 0 ? "the syslog socket" : "log file",
		    name, diag_strerror(err, buf, sizeof(buf)));
	diag_warnx("%s; the log already open stays in use", words);
	if (why != NULL)
		snprintf(why, size, "%s", words);
	if (logfmt_token(path, sizeof(path), name) == 0)
		snprintf(path, sizeof(path), "?");
	msglog_event("reopen-failed", "path=%s error=%s%s%s%s", path,
	    kind != NULL ? "not-regular type=" : msglog_errno_name(err, ebuf,
	    sizeof(ebuf)), kind != NULL ? kind->token : "",
	    reason != NULL ? " reason=" : "", reason != NULL ? reason : "");
}

/*
 * Reopen the log at its path (after rotation; reason, if not NULL, says
 * why it was found stale: see msglog_stale), or reconnect to the syslog
 * socket, and say so in the log: event=reopen in the new file, or
 * event=reopen-failed (see above) in the old one, which stays open.
 * 0, or -1 with why (if not NULL) saying why in one line.
 */
int
msglog_reopen(const char *reason, char *why, size_t size)
{
	const struct msglog_kind	*kind = NULL;
	int				 rc = 0;

	if (msglog_facility != 0)
		rc = msglog_syslog_reconnect();
	else if (msglog_path != NULL)
		rc = msglog_file_reopen(&kind);
	if (rc == -1) {
		msglog_reopen_failed(reason, errno, kind, why, size);
		return (-1);
	}
	if (reason != NULL)
		msglog_event("reopen", "reason=%s", reason);
	else
		msglog_event("reopen", "%s", "");
	return (0);
}

/*
 * Is the log file we write to no longer the file at its path? Then the
 * reason: "replaced" (another file at the path, whether ours was
 * renamed or deleted), "deleted" (nothing at the path, and ours has no
 * name left), "moved" (nothing at the path, ours renamed); NULL if it
 * still is, for standard output and syslog, and when we cannot tell.
 */
const char *
msglog_stale(void)
{
	struct stat	fst, pst;

	if (msglog_facility != 0 || msglog_path == NULL ||
	    fstat(msglog_fd, &fst) == -1)
		return (NULL);
	if (stat(msglog_path, &pst) == 0)
		return (pst.st_dev != fst.st_dev || pst.st_ino != fst.st_ino ?
		    "replaced" : NULL);
	if (fst.st_nlink == 0)
		return ("deleted");
	return (errno == ENOENT ? "moved" : NULL);
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

/*
 * After the privilege drop, while the start-up report still reaches the
 * operator (and for --check, as the user): warn if the log file's
 * directory does not let us create files in it. A SIGHUP reopens the
 * log by its path, as who we now are; after a rename (mv, then SIGHUP)
 * that means creating the file, and the reopen would fail, leaving the
 * lines in the renamed file. Only a rotation that creates the new file
 * for us (logrotate's create) would still work: a warning, not a failure.
 */
void
msglog_check(const struct ackd_config *cfg)
{
	char	dir[PATH_MAX];

	if (cfg->log_file == NULL || cfg->syslog_facility != 0 ||
	    geteuid() == 0)
		return;
	parse_dir(cfg->log_file, dir, sizeof(dir));
	if (access(dir, W_OK | X_OK) == 0)
		return;
	diag_warnx("log file %s: uid %ld cannot create files in %s, so a "
	    "reopen after the log is renamed (mv, then SIGHUP) would fail "
	    "(allowed: %s owned by the user, as tmpfiles.d/ackd.conf makes "
	    "/var/log/ackd; or a rotation that creates the new file for the "
	    "user, as logrotate's create 0640 USER adm)", cfg->log_file,
	    (long)geteuid(), dir, dir);
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
	int	rc = 0;

	msglog_lock_take();
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
	msglog_lock_give();
	return (rc);
}

/*
 * The bytes this process may write fast from now on, given its file's
 * size, the file-size limit (-1: none) and the free bytes of the
 * filesystem: the room left less the margin, 0 if there is none.
 */
static unsigned long long
msglog_room(long long size, long long fsize_max, unsigned long long avail)
{
	unsigned long long	room, left;

	room = avail > MSGLOG_DISK_SLACK ? avail - MSGLOG_DISK_SLACK : 0;
	if (fsize_max >= 0) {
		left = size < fsize_max ? (unsigned long long)(fsize_max -
		    size) : 0;
		if (left < room)
			room = left;
	}
	room = room > msglog_margin ? room - msglog_margin : 0;
	/* look again now and then: other programs fill the disk too */
	return (room < MSGLOG_SAMPLE_MAX ? room : MSGLOG_SAMPLE_MAX);
}

/*
 * Under the lock: look at the file's size and the free space, and say how
 * far the counter may go before this process must write carefully again.
 * The counter is read first, so lines counted but not yet written when we
 * look are among those the margin covers. Cannot look: careful mode.
 */
static void
msglog_sample(void)
{
	unsigned long long	counted, room = 0;
	struct stat		st;
	struct statvfs		sv;

	counted = atomic_load(msglog_appended);
	if (fstat(msglog_fd, &st) == 0 && fstatvfs(msglog_fd, &sv) == 0)
		room = msglog_room((long long)st.st_size, msglog_fsize_max,
		    (unsigned long long)sv.f_bavail * sv.f_frsize);
	atomic_store(&msglog_fast_until, room > 0 ? counted + room : 0);
}

/* One write() of buf, retried if a signal came before any byte went. */
static ssize_t
msglog_write_once(const char *buf, size_t len)
{
	ssize_t	n;

	do {
		n = write(msglog_fd, buf, len);
	} while (n == -1 && errno == EINTR);
	return (n);
}

/*
 * Under the lock, in the file it went to: take back the n bytes a short
 * write just left at the end of the file, so the log never keeps half a
 * line. The caller knows they are the last n bytes.
 */
static void
msglog_undo(size_t n)
{
	struct stat	st;

	if (fstat(msglog_fd, &st) == -1 || st.st_size < (off_t)n ||
	    ftruncate(msglog_fd, st.st_size - (off_t)n) == -1)
		diag_warn("cannot remove a partial log line");
}

/*
 * Careful mode: write the line under the lock, and undo a short write
 * exactly (no careful writer can follow it, no fast one reach the end of
 * the file, and no reopen swap the descriptor). 0, or -1 with errno.
 */
static int
msglog_write_careful(const char *buf, size_t len)
{
	ssize_t	n;

	msglog_lock_take();
	msglog_sample();
	n = msglog_write_once(buf, len);
	if (n > 0 && n < (ssize_t)len)
		msglog_undo((size_t)n);
	msglog_lock_give();
	if (n == (ssize_t)len)
		return (0);
	if (n >= 0)
		errno = ENOSPC;
	return (-1);
}

/*
 * A fast write came up short, which the margin should have made
 * impossible. Go careful, and take the n bytes back only if they are
 * provably the end of the file still open: a write stopped by the size
 * limit ends at the limit, where nothing can follow it. Otherwise leave
 * them (cutting there might cut someone else's line) and say so.
 */
static void
msglog_undo_fast(size_t n, unsigned gen)
{
	struct stat	st;

	msglog_lock_take();
	atomic_store(&msglog_fast_until, 0);
	if (atomic_load(&msglog_gen) == gen && msglog_fsize_max >= 0 &&
	    fstat(msglog_fd, &st) == 0 && st.st_size == msglog_fsize_max)
		msglog_undo(n);
	else
		diag_warnx("a partial log line of %zu bytes may be left "
		    "in the log", n);
	msglog_lock_give();
}

/*
 * Write one line to a regular file: fast while this process's sample
 * leaves room for it and every line in flight, else carefully. 0, or -1
 * with errno.
 */
static int
msglog_write_file(const char *buf, size_t len)
{
	unsigned long long	end;
	unsigned		gen;
	ssize_t			n;

	end = atomic_fetch_add(msglog_appended, len) + len;
	if (end > atomic_load(&msglog_fast_until))
		return (msglog_write_careful(buf, len));
	gen = atomic_load(&msglog_gen);
	n = msglog_write_once(buf, len);
	if (n == (ssize_t)len)
		return (0);
	if (n > 0)
		msglog_undo_fast((size_t)n, gen);
	if (n >= 0)
		errno = ENOSPC;
	return (-1);
}

/*
 * Wait up to the deadline for room in the syslog daemon's queue (a full
 * queue makes a datagram send fail with EAGAIN); 0 to try again, -1 when
 * the time is up (errno EAGAIN) or on an error.
 */
static int
msglog_syslog_wait(long long *deadline_ms)
{
	struct pollfd	pfd;
	long long	left_ms;

	if (*deadline_ms == -1)
		*deadline_ms = mono_ms() + MSGLOG_SYSLOG_WAIT_MS;
	if ((left_ms = *deadline_ms - mono_ms()) <= 0) {
		errno = EAGAIN;
		return (-1);
	}
	pfd.fd = msglog_fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, (int)left_ms) == -1 && errno != EINTR)
		return (-1);
	return (0);
}

/*
 * Send one line (without its '\n') as one syslog datagram, at LOG_WARNING
 * if warn, else LOG_INFO; 0 once the kernel has queued it for the syslog
 * daemon, or -1 with errno: EMSGSIZE if the datagram would be longer than
 * --syslog-max (nothing is sent). A dead peer (the daemon restarted) gets
 * one reconnection; a busy one, MSGLOG_SYSLOG_WAIT_MS.
 */
static int
msglog_syslog_send(const char *line, size_t len, int warn)
{
	char		head[LOGFMT_SYSLOG_HEAD_MAX];
	struct iovec	iov[2];
	struct msghdr	mh;
	struct tm	tm;
	time_t		now = time(NULL);
	long long	deadline_ms = -1;
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
	if (msglog_syslog_max > 0 &&
	    iov[0].iov_len + iov[1].iov_len > msglog_syslog_max) {
		errno = EMSGSIZE;
		return (-1);
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	for (;;) {
		if (sendmsg(msglog_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != -1)
			return (0);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (msglog_syslog_wait(&deadline_ms) == -1)
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
	    "crash-loop", "memory-refused", "tls-failed",
	    "worker-timeout", "reopen-failed", "tls-reload-failed", NULL };
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
	if (msglog_facility != 0)
		return (msglog_syslog_send(buf, len, warn));
	if (!atomic_load_explicit(&msglog_regular, memory_order_relaxed))
		return (msglog_write_locked(buf, len));
	return (msglog_write_file(buf, len));
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
		diag_warn("cannot sync the log");
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
		diag_warnx("event %s too long to log", event);
	else if (msglog_put(line, len, msglog_is_failure(event, extra)) == -1)
		diag_warn("cannot log event %s", event);
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
