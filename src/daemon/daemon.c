/* SPDX-License-Identifier: MIT */
/*
 * daemon.c: --daemon, detaching from the terminal without losing the
 * start-up report.
 *
 * The command the operator typed forks once and waits; the child calls
 * setsid(), goes to / and becomes the master. Until the master is ready,
 * its standard error is a pipe that the waiting parent copies to the
 * terminal, so every start-up failure (the log, the address, the pid
 * file, the user, a worker that cannot start) is still printed there by
 * fatal() as in the foreground. A second pipe carries one byte when the
 * master is ready: the parent then exits 0. If that pipe reaches EOF
 * without it, the master has died, and the parent exits with its status.
 *
 * Workers forked before the ready byte inherit the error pipe: once the
 * parent has exited their writes to it fail (EPIPE; SIGPIPE is ignored),
 * so nothing they say later reaches the terminal, as after a dup2 of
 * /dev/null, which is what the master itself does when ready. So that it
 * still reaches someone, the detached child sends every diagnostic to
 * syslog as well (diag_syslog), before it forks anything: master and
 * workers alike, start-up failures included (the terminal gets those
 * too, and syslog keeps them for whoever looks later).
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ackd.h"
#include "master.h"

#define DAEMON_READY_BYTE	'R'

static int	daemon_ready_fd = -1;	/* the master's end of the ready pipe */
static int	daemon_readied;

/*
 * Make path absolute in buf (size bytes), against the current directory:
 * a daemon works in /, and SIGHUP reopens the log by its path. 0, or -1
 * with errno (ENAMETOOLONG if it does not fit).
 */
int
daemon_abspath(const char *path, char *buf, size_t size)
{
	char	cwd[PATH_MAX];
	int	n;

	if (path[0] == '/')
		n = snprintf(buf, size, "%s", path);
	else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return (-1);
		n = snprintf(buf, size, "%s%s%s", cwd,
		    strcmp(cwd, "/") == 0 ? "" : "/", path);
	}
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	return (0);
}

/* Copy what the child wrote on fd to our stderr: -1 at EOF or on error. */
static int
daemon_relay(int fd)
{
	char	buf[4096];
	ssize_t	n, off, w;

	n = read(fd, buf, sizeof(buf));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return (0);
	if (n <= 0)
		return (-1);
	for (off = 0; off < n; off += w) {
		w = write(STDERR_FILENO, buf + off, (size_t)(n - off));
		if (w == -1 && errno == EINTR)
			w = 0;
		else if (w <= 0)
			break;	/* our own stderr is gone: drop the rest */
	}
	return (0);
}

/* Copy whatever is already in the non-blocking fd, without waiting. */
static void
daemon_drain(int fd)
{
	struct pollfd	pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	/* workers may hold the pipe open: stop when it is empty, not at EOF */
	while (poll(&pfd, 1, 0) == 1 && daemon_relay(fd) == 0)
		;
}

/*
 * In the parent: relay the child's stderr until it is ready (exit 0) or
 * dead (exit with its status). Never returns.
 */
static void __attribute__((noreturn))
daemon_wait(pid_t child, int ready, int err)
{
	struct pollfd	pfd[2];
	char		c;
	ssize_t		n;
	int		status;

	pfd[0].fd = ready;
	pfd[0].events = POLLIN;
	pfd[1].fd = err;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal(ACKD_EXIT_OSERR, "poll");
		}
		/* the error text first: it was written before any ready byte */
		if (pfd[1].revents != 0 && daemon_relay(err) == -1)
			pfd[1].fd = -1;		/* poll ignores it from now on */
		if (pfd[0].revents == 0)
			continue;
		n = read(ready, &c, 1);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 1) {
			daemon_drain(err);
			exit(ACKD_EXIT_OK);
		}
		break;		/* EOF: the master is gone without being ready */
	}
	while (waitpid(child, &status, 0) == -1)
		if (errno != EINTR)
			fatal(ACKD_EXIT_OSERR, "waitpid");
	daemon_drain(err);
	if (WIFSIGNALED(status))
		fatalx(ACKD_EXIT_SOFTWARE, "the daemon was killed by signal "
		    "%d before it was ready", WTERMSIG(status));
	if (WEXITSTATUS(status) == ACKD_EXIT_OK)
		diag_warnx("the daemon stopped before it was ready");
	exit(WEXITSTATUS(status));
}

/* In a worker forked by the master: only the master may say it is ready. */
static void
daemon_atfork_child(void)
{
	if (daemon_ready_fd != -1) {
		close(daemon_ready_fd);
		daemon_ready_fd = -1;
	}
}

/*
 * In the child: leave the terminal's session and directory; keep err for
 * the start-up report, and add syslog for what comes after.
 */
static void
daemon_detach(int ready, int err)
{
	int	fd;

	if (setsid() == -1)
		fatal(ACKD_EXIT_OSERR, "setsid");
	/* no file system stays busy because the daemon started there */
	if (chdir("/") == -1)
		fatal(ACKD_EXIT_OSERR, "cannot change directory to /");
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		fatal(ACKD_EXIT_OSERR, "cannot open /dev/null");
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    dup2(err, STDERR_FILENO) == -1)
		fatal(ACKD_EXIT_OSERR, "dup2");
	if (fd > STDERR_FILENO)
		close(fd);
	close(err);
	if (fcntl(ready, F_SETFD, FD_CLOEXEC) == -1)
		fatal(ACKD_EXIT_OSERR, "fcntl");
	daemon_ready_fd = ready;
	errno = pthread_atfork(NULL, NULL, daemon_atfork_child);
	if (errno != 0)
		fatal(ACKD_EXIT_OSERR, "pthread_atfork");
	/* not fatal: a daemon without syslog is still a daemon */
	if (diag_syslog() == -1)
		diag_warn("cannot send diagnostics to syslog; after start-up "
		    "they are lost");
}

/*
 * Detach (--daemon). Returns in the child, which goes on to become the
 * master; the parent stays until the master is ready or dead, and exits.
 */
void
daemon_start(void)
{
	int	ready[2], err[2];
	pid_t	pid;

	if (pipe(ready) == -1 || pipe(err) == -1)
		fatal(ACKD_EXIT_OSERR, "pipe");
	if ((pid = fork()) == -1)
		fatal(ACKD_EXIT_OSERR, "fork");
	if (pid != 0) {
		close(ready[1]);
		close(err[1]);
		if (fcntl(err[0], F_SETFL, O_NONBLOCK) == -1)
			fatal(ACKD_EXIT_OSERR, "fcntl");
		daemon_wait(pid, ready[0], err[0]);
	}
	close(ready[0]);
	close(err[0]);
	daemon_detach(ready[1], err[1]);
}

/*
 * --daemon in a new master that an upgrade started (upgrade.c): it is
 * detached already, its descriptors 0-2 are the old master's /dev/null;
 * only syslog is left to set up, as the old master had it.
 */
void
daemon_upgraded(void)
{
	if (diag_syslog() == -1)
		diag_warn("cannot send diagnostics to syslog; they are lost");
}

/*
 * The master serves: write the pid file and, with --daemon, let the
 * waiting parent exit 0 and send our stderr to /dev/null. Only the first
 * call acts.
 */
void
daemon_ready(void)
{
	ssize_t	n;
	char	c = DAEMON_READY_BYTE;
	int	fd;

	if (daemon_readied)
		return;
	daemon_readied = 1;
	pidfile_write();
	if (daemon_ready_fd == -1)
		return;
	do {
		n = write(daemon_ready_fd, &c, 1);
	} while (n == -1 && errno == EINTR);
	/* nothing to do if the parent is gone: we run all the same */
	close(daemon_ready_fd);
	daemon_ready_fd = -1;
	if ((fd = open("/dev/null", O_WRONLY)) == -1)
		return;		/* keep the pipe: writes to it fail, harmlessly */
	dup2(fd, STDERR_FILENO);
	close(fd);
}
