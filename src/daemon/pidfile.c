/* SPDX-License-Identifier: MIT */
/*
 * pidfile.c: --pid-file, the master's pid for init scripts, and the lock
 * that stops a second ackd with the same pid file.
 *
 * The file is opened, locked and emptied before the master drops its
 * privileges, so it may live where only root can create files (/run), and
 * the descriptor is kept: once the daemon is ready the pid goes through
 * it with one pwrite() at offset 0. A reader sees the file empty (not
 * ready, or not running) or the whole line, never part of it.
 *
 * The lock is a POSIX record lock (fcntl F_SETLK). The kernel drops it
 * when the process ends, however it ends, so a stale file never stops a
 * start, and the holder's pid can be named in the refusal. Such a lock
 * belongs to a process and is not inherited by fork(): only the master
 * holds it, which is why it is taken after --daemon's fork; the workers'
 * copies of the descriptor do not matter. Closing any descriptor of the
 * file in the master would drop the lock, so the master opens it once.
 * A stale file we may not write (root's, left by a crashed run, when we
 * start as the daemon's user) is removed under a read lock, which no
 * live ackd's file can give, and made anew.
 *
 * At exit the master, by then perhaps the --user, removes the file: that
 * takes write access to its directory, which is why the documented place
 * is a directory of the user's (/run/ackd/, from tmpfiles.d), and why the
 * file itself stays root's (start-stop-daemon refuses to trust a pid file
 * that the daemon's user could have written). Where the user cannot
 * remove it (/run), nothing short of keeping a root process would, so the
 * start says so (pidfile_check) and the exit empties the file instead:
 * start-stop-daemon reads an empty file as "unknown" (4), while leaving
 * our pid in it would make a reused pid look running, or be signalled by
 * the next --stop. Only a missing file reads as "not running" (3).
 *
 * An upgrade (upgrade.c) hands the file over without it ever being
 * missing or empty: the new master gets the old one's descriptor (as
 * --user it may not open the file), writes its pid through it once it
 * serves, while the old master still holds the lock; the old master then
 * closes its descriptor, which drops its lock, and the new one locks.
 * Until then the new master does not own the file: if it fails, it
 * leaves it alone (the old master still runs, and is named there).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ackd.h"
#include "master.h"
#include "parse.h"

#define PIDFILE_MODE	0644
/* replaced under us this many times in a row: give up, something is odd */
#define PIDFILE_TRIES	10

static int		 pidfile_fd = -1;
static const char	*pidfile_path;
static uid_t		 pidfile_owner;	/* the file's, for pidfile_check */
static int		 pidfile_unlocked; /* adopted, the old master's lock */

/*
 * Try to lock fd (type F_WRLCK, or F_RDLCK on a read-only descriptor): 0
 * when locked; otherwise -1 with errno, and *holder is the pid holding a
 * write lock (0 if it is in another pid namespace, -1 if it was released
 * before we could ask).
 */
static int
pidfile_lock(int fd, short type, pid_t *holder)
{
	struct flock	fl;
	int		saved;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	*holder = -1;
	if (fcntl(fd, F_SETLK, &fl) == 0)
		return (0);
	saved = errno;
	if (saved == EACCES || saved == EAGAIN) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			*holder = fl.l_pid;
	}
	errno = saved;
	return (-1);
}

/* Is fd still the file at path? 1 yes, 0 no (removed or replaced), -1. */
static int
pidfile_same(int fd, const char *path)
{
	struct stat	fst, pst;

	if (fstat(fd, &fst) == -1)
		return (-1);
	if (stat(path, &pst) == -1)
		return (errno == ENOENT ? 0 : -1);
	return (fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino);
}

/* A running ackd holds the pid file at path: exit 69 naming its pid. */
static void
pidfile_held(const char *path, pid_t holder)
{
	if (holder > 0)
		fatalx(ACKD_EXIT_UNAVAILABLE, "pid file %s is locked by pid "
		    "%ld: is another ackd running?", path, (long)holder);
	if (holder == 0)
		fatalx(ACKD_EXIT_UNAVAILABLE, "pid file %s is locked by "
		    "another process: is another ackd running?", path);
}

/*
 * The file at path exists but we may not write it (left by a run as
 * another user, root's after a crash): if no ackd holds it, remove it so
 * a new one can be made. Under a read lock, which a starting ackd's write
 * lock waits for, so what we remove is never a live pid file. 0 if it is
 * gone, -1 with errno if not; a holder exits 69.
 */
static int
pidfile_clear(const char *path)
{
	struct stat	st;
	pid_t		holder;
	int		fd, rc, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1)
		return (-1);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EACCES;		/* the open's error is what to report */
		return (-1);
	}
	if ((rc = pidfile_lock(fd, F_RDLCK, &holder)) == -1) {
		pidfile_held(path, holder);
		/* its holder let go while we looked: try it all again */
		rc = errno == EACCES || errno == EAGAIN ? 0 : -1;
	} else
		rc = unlink(path);
	saved = errno;
	close(fd);	/* and with it our read lock */
	errno = saved;
	return (rc);
}

/*
 * Open and lock the file at path once: its descriptor, or -1 if it was
 * removed or replaced between our open and our lock (try again). Any
 * other failure is fatal.
 */
static int
pidfile_try(const char *path)
{
	struct stat	st;
	pid_t		holder;
	int		fd, same;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, PIDFILE_MODE);
	if (fd == -1 && errno == EACCES) {
		if (pidfile_clear(path) == 0)
			return (-1);	/* a stale file is gone: make ours */
		errno = EACCES;
	}
	if (fd == -1 || fstat(fd, &st) == -1)
		fatal(ACKD_EXIT_CANTCREAT, "cannot open pid file %s", path);
	if (!S_ISREG(st.st_mode))
		fatalx(ACKD_EXIT_CANTCREAT, "pid file %s is not a regular file",
		    path);
	if (pidfile_lock(fd, F_WRLCK, &holder) == -1) {
		pidfile_held(path, holder);
		if (errno != EACCES && errno != EAGAIN)
			fatal(ACKD_EXIT_CANTCREAT, "cannot lock pid file %s",
			    path);
		close(fd);	/* its holder let go while we looked */
		return (-1);
	}
	/* the previous holder may have unlinked it on its way out: a lock on
	 * a file no longer at path would guard nothing */
	if ((same = pidfile_same(fd, path)) == -1)
		fatal(ACKD_EXIT_CANTCREAT, "cannot check pid file %s", path);
	if (same == 0) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * Open, lock and empty the pid file at path, in the process that will be
 * the master, before it drops privileges. A running ackd holding it:
 * exit 69 naming its pid; any other failure: exit 73.
 */
void
pidfile_open(const char *path)
{
	struct stat	st;
	int		fd = -1, tries;

	for (tries = 0; tries < PIDFILE_TRIES && fd == -1; tries++)
		fd = pidfile_try(path);
	if (fd == -1)
		fatalx(ACKD_EXIT_CANTCREAT, "pid file %s keeps being replaced",
		    path);
	/* a stale pid from an earlier run must not look like ours */
	if (ftruncate(fd, 0) == -1)
		fatal(ACKD_EXIT_CANTCREAT, "cannot empty pid file %s", path);
	pidfile_fd = fd;
	pidfile_path = path;
	pidfile_owner = fstat(fd, &st) == 0 ? st.st_uid : geteuid();
}

/*
 * --check: would pidfile_open take the file at path? Exit as it would, 69
 * if a running ackd holds it, 73 if it cannot be made; otherwise return,
 * having made, locked or emptied nothing.
 */
void
pidfile_probe(const char *path)
{
	struct flock	fl;
	struct stat	st;
	char		dir[PATH_MAX];
	int		fd;

	pidfile_path = path;
	pidfile_owner = geteuid();	/* if we make it */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		parse_dir(path, dir, sizeof(dir));
		if (errno != ENOENT || access(dir, W_OK | X_OK) == -1)
			fatal(ACKD_EXIT_CANTCREAT, "cannot open pid file %s",
			    path);
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		fatalx(ACKD_EXIT_CANTCREAT, "pid file %s is not a regular file",
		    path);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		pidfile_held(path, fl.l_pid);
	close(fd);
	/* one we may not write, the start removes and makes anew */
	parse_dir(path, dir, sizeof(dir));
	if (access(path, W_OK) == -1 && access(dir, W_OK | X_OK) == -1)
		fatal(ACKD_EXIT_CANTCREAT, "cannot open pid file %s", path);
	pidfile_owner = access(path, W_OK) == 0 ? st.st_uid : geteuid();
}

/* Write our pid into the pid file, if there is one, in one piece. */
void
pidfile_write(void)
{
	char	buf[32];
	ssize_t	n;
	int	len;

	if (pidfile_fd == -1)
		return;
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	do {
		n = pwrite(pidfile_fd, buf, (size_t)len, 0);
	} while (n == -1 && errno == EINTR);
	if (n != len) {
		if (n >= 0)
			errno = ENOSPC;
		fatal(ACKD_EXIT_CANTCREAT, "cannot write pid file %s",
		    pidfile_path);
	}
	/* over an old master's longer pid (an upgrade): cut what is left */
	if (ftruncate(pidfile_fd, len) == -1)
		diag_warn("cannot truncate pid file %s", pidfile_path);
}

/*
 * Can we, as who we now are, unlink the pid file from dir? Writing and
 * searching dir is needed, and in a sticky directory (/tmp) owning the
 * file or the directory.
 */
static int
pidfile_removable(const char *dir)
{
	struct stat	dst;

	if (access(dir, W_OK | X_OK) == -1 || stat(dir, &dst) == -1)
		return (0);
	return (!(dst.st_mode & S_ISVTX) || dst.st_uid == geteuid() ||
	    pidfile_owner == geteuid());
}

/*
 * After the privilege drop, while the start-up report still reaches the
 * operator: warn if we shall not be able to remove the pid file at exit,
 * which would then be left empty, and read as "unknown" rather than "not
 * running" by start-stop-daemon --status.
 */
void
pidfile_check(void)
{
	char	dir[PATH_MAX];

	if (pidfile_path == NULL || geteuid() == 0)
		return;
	parse_dir(pidfile_path, dir, sizeof(dir));
	if (pidfile_removable(dir))
		return;
	diag_warnx("pid file %s: uid %ld cannot remove it from %s, so it will "
	    "be left empty at exit (allowed: a directory the user may write, "
	    "such as /run/ackd owned by the user)", pidfile_path,
	    (long)geteuid(), dir);
}

/*
 * At a clean exit: remove the pid file, if it is still ours. A master
 * that runs as --user may not write the file's directory: then empty the
 * file instead (empty means not running) and say so.
 */
void
pidfile_remove(void)
{
	if (pidfile_fd == -1)
		return;
	if (!pidfile_unlocked && pidfile_same(pidfile_fd, pidfile_path) == 1 &&
	    unlink(pidfile_path) == -1) {
		diag_warn("cannot remove pid file %s, emptying it instead",
		    pidfile_path);
		if (ftruncate(pidfile_fd, 0) == -1)
			diag_warn("cannot empty pid file %s", pidfile_path);
	}
	close(pidfile_fd);
	pidfile_fd = -1;
}

/*
 * The pid file's descriptor, to hand to a new master (upgrade.c), or -1.
 * It gets the descriptor, not the path: running as --user it may not be
 * allowed to open the file, and a lock on the file could not be shared.
 */
int
pidfile_fdesc(void)
{
	return (pidfile_fd);
}

/*
 * In a new master started by an upgrade: the file at path, open as fd,
 * is ours to write when ready, but still locked by the old master until
 * it hands it over (pidfile_release there, pidfile_relock here).
 */
void
pidfile_adopt(const char *path, int fd)
{
	struct stat	st;

	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		fatal(ACKD_EXIT_OSERR, "pid file %s", path);
	pidfile_fd = fd;
	pidfile_path = path;
	pidfile_owner = fstat(fd, &st) == 0 ? st.st_uid : geteuid();
	pidfile_unlocked = 1;
}

/*
 * In the old master, once the new one serves and has written its pid:
 * let go of the file without removing or emptying it (closing our
 * descriptor drops our lock), so the new master can lock it.
 */
void
pidfile_release(void)
{
	if (pidfile_fd == -1)
		return;
	close(pidfile_fd);
	pidfile_fd = -1;
}

/* In a new master, once the old one let go: take the lock. 0, or -1. */
int
pidfile_relock(void)
{
	pid_t	holder;

	if (pidfile_fd == -1 || !pidfile_unlocked)
		return (0);
	if (pidfile_lock(pidfile_fd, F_WRLCK, &holder) == -1) {
		diag_warn("cannot lock pid file %s (held by pid %ld)",
		    pidfile_path, (long)holder);
		return (-1);
	}
	pidfile_unlocked = 0;
	return (0);
}
