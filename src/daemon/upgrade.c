/* SPDX-License-Identifier: MIT */
/*
 * upgrade.c: SIGUSR2, a restart that drops nothing (nginx's convention).
 *
 * The master forks; the child puts the listening sockets at descriptors
 * 3 on (LISTEN_FDS, LISTEN_PID: the socket activation convention, with
 * its own pid), a channel to the old master after them, then the pid
 * file's descriptor and the metrics listener if there are any, and
 * execs the binary at the path the old master was started from,
 * resolved at start (so a new binary installed there is what runs;
 * /proc/self/exe would be the old one), with the same command line: the
 * same flags (a changed flag takes a full restart). ACKD_UPGRADE tells
 * it "OLD_PID SETS PIDFILE METRICS": who started it, how the sockets
 * form sets (--reuseport), whether the last two descriptors follow.
 *
 * Detached as the old one was: if the old master leads a session
 * (--daemon, or a service manager's setsid), the child makes its own
 * before the exec, so it never shares the old master's process group
 * or session, whose signals would reach both. It stays the old master's
 * child, so the old master reaps it and learns how it failed; when the
 * old master exits it is re-parented (to init, or the manager) and
 * lives on. The new master does not detach again (--daemon: there is
 * no terminal to wait on it), and sends its diagnostics to syslog.
 *
 * The new master starts as any master does, but takes the sockets
 * instead of binding (listen.c, metrics.c), and adopts the pid file
 * without locking it (pidfile.c): the old master still holds the lock.
 * Its workers accept beside the old ones on the same sockets. Once they
 * serve, it writes its pid into the pid file, sends MAINPID= (heard if
 * NotifyAccess=all) and writes UPGRADE_READY on the channel.
 *
 * The old master, on UPGRADE_READY: tells systemd MAINPID=new and
 * READY=1 and closes its notify socket (its STOPPING=1 would stop the
 * service now), closes its metrics listener and its pid file descriptor
 * (which drops its lock, and leaves the file naming the new master),
 * writes UPGRADE_HANDED_OVER, and shuts down gracefully: its workers
 * stop accepting, serve what they accepted, log it, exit; so does it.
 * The sockets never close, because the new master holds them: a
 * connection waiting in a backlog is accepted by one family or the
 * other, and every message is logged by the worker that acknowledged
 * it, once (the log is O_APPEND for both).
 *
 * The new master, on UPGRADE_HANDED_OVER or EOF (the old master died:
 * only it holds the other end), locks the pid file and serves metrics.
 * At EOF it may upgrade in its turn: a SIGUSR2 before that is ignored
 * with a warning, as is one in the old master while an upgrade runs.
 *
 * If the new master dies before it is ready (exec failed, a flag it no
 * longer takes, its workers keep dying), or is not ready within
 * UPGRADE_TIMEOUT_MS, the old master logs event=upgrade-failed, warns
 * (stderr, or syslog after --daemon) and goes on serving, READY=1 again
 * for systemd. A SIGTERM to the old master before the new one is ready
 * ends both; SIGHUP reaches only the master it is sent to.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"
#include "master.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define UPGRADE_ENV		"ACKD_UPGRADE"
#define UPGRADE_FIRST_FD	3	/* LISTEN_FDS's first descriptor */
/* How long a new master has to serve; then SIGTERM, and SIGKILL after. */
#define UPGRADE_TIMEOUT_MS	60000
#define UPGRADE_KILL_MS		10000
#define UPGRADE_READY		'R'	/* new -> old: I serve */
#define UPGRADE_HANDED_OVER	'P'	/* old -> new: the pid file is yours */
#define UPGRADE_EXEC_FAILED	'E'	/* child -> old, then errno's bytes */

static char		**upgrade_argv;		/* ours, copied at start */
static char		  upgrade_path[PATH_MAX];	/* "" if not found */

/* the new master we started */
static pid_t		  upgrade_child;	/* 0: none */
static int		  upgrade_child_fd = -1;
static int		  upgrade_child_ready;
static int		  upgrade_child_errno;	/* its exec failed with it */
static long long	  upgrade_deadline_ms;	/* monotonic */
static int		  upgrade_terminated;	/* sent SIGTERM after it */
static const char	 *upgrade_why;		/* we ended it: why */

/* the old master that started us */
static pid_t		  upgrade_parent;	/* 0: started as usual */
static int		  upgrade_parent_fd = -1;
static int		  upgrade_nfds, upgrade_nsets, upgrade_pid_fd = -1;
static int		  upgrade_metrics = -1;	/* its metrics listener */

/* In any child we fork: the channels are the master's alone. */
static void
upgrade_atfork_child(void)
{
	if (upgrade_child_fd != -1)
		close(upgrade_child_fd);
	if (upgrade_parent_fd != -1)
		close(upgrade_parent_fd);
	upgrade_child_fd = upgrade_parent_fd = -1;
}

/* Copy argv (a process title may overwrite the original later). */
static void
upgrade_copy_argv(int argc, char **argv)
{
	int	i;

	if ((upgrade_argv = calloc((size_t)argc + 1, sizeof(char *))) ==
	    NULL)
		fatal(ACKD_EXIT_OSERR, "cannot copy the command line");
	for (i = 0; i < argc; i++)
		if ((upgrade_argv[i] = strdup(argv[i])) == NULL)
			fatal(ACKD_EXIT_OSERR, "cannot copy the command line");
}

/*
 * The absolute path of the binary we were started as: argv0 made
 * absolute if it has a slash, else the first executable match in PATH,
 * as the shell found it. Symbolic links are kept: a link moved to a new
 * version is followed at the upgrade. "" if none is found.
 */
static void
upgrade_resolve(const char *argv0)
{
	char		 cand[PATH_MAX];
	const char	*path = getenv("PATH"), *p, *end;
	int		 n;

	if (strchr(argv0, '/') != NULL) {
		if (daemon_abspath(argv0, upgrade_path,
		    sizeof(upgrade_path)) == -1)
			upgrade_path[0] = '\0';
		return;
	}
	for (p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0'; p = end +
	    (*end == ':')) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		n = snprintf(cand, sizeof(cand), "%.*s%s%s", (int)(end - p), p,
		    end > p ? "/" : "", argv0);
		if (n > 0 && (size_t)n < sizeof(cand) &&
		    access(cand, X_OK) == 0 && daemon_abspath(cand,
		    upgrade_path, sizeof(upgrade_path)) == 0)
			return;
	}
	upgrade_path[0] = '\0';
}

/* A whole decimal number in s, within 0..max; -1 if it is not one. */
static long
upgrade_number(const char *s, long max)
{
	char	*end;
	long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return (-1);
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return (-1);
	return (v);
}

/*
 * Parse ACKD_UPGRADE's value s, "OLD_PID SETS PIDFILE METRICS" (single
 * spaces, whole decimal numbers: a pid above 1, 1 to ACKD_WORKERS_MAX
 * sets, 0 or 1 twice) into u. 0, or -1 if s is not that. Pure.
 */
int
upgrade_parse(const char *s, struct upgrade_env *u)
{
	static const long	max[] = { LONG_MAX, ACKD_WORKERS_MAX, 1, 1 };
	char			word[24];
	long			v[4];
	size_t			len;
	int			i;

	for (i = 0; i < 4; i++) {
		len = strcspn(s, " ");
		if (len == 0 || len >= sizeof(word) || (s[len] == '\0') !=
		    (i == 3))
			return (-1);
		memcpy(word, s, len);
		word[len] = '\0';
		if ((v[i] = upgrade_number(word, max[i])) == -1)
			return (-1);
		s += len + (i < 3);
	}
	if (v[0] <= 1 || v[1] < 1)
		return (-1);
	u->from = (pid_t)v[0];
	u->nsets = (int)v[1];
	u->pidfile = (int)v[2];
	u->metrics = (int)v[3];
	return (0);
}

/*
 * Are we a new master an upgrade started? Read ACKD_UPGRADE and
 * LISTEN_FDS (the sockets must be for us: LISTEN_PID) and take the
 * channel and the pid file descriptor behind them. Anything else is
 * left for systemd.c to judge.
 */
static void
upgrade_adopt(void)
{
	const char		*env = getenv(UPGRADE_ENV);
	struct upgrade_env	 u;
	int			 nfds;

	if (env == NULL)
		return;
	if (upgrade_parse(env, &u) == -1 ||
	    upgrade_number(getenv("LISTEN_PID"), LONG_MAX) != getpid() ||
	    (nfds = (int)upgrade_number(getenv("LISTEN_FDS"),
	    ACKD_WORKERS_MAX * ACKD_LISTEN_FDS)) < 1) {
		diag_warnx("ignoring %s: not an upgrade of ours", UPGRADE_ENV);
		unsetenv(UPGRADE_ENV);
		return;
	}
	unsetenv(UPGRADE_ENV);
	upgrade_parent = u.from;
	upgrade_nsets = u.nsets;
	upgrade_nfds = nfds;
	upgrade_parent_fd = UPGRADE_FIRST_FD + nfds;
	if (u.pidfile)
		upgrade_pid_fd = upgrade_parent_fd + 1;
	if (u.metrics)
		upgrade_metrics = upgrade_parent_fd + 1 + u.pidfile;
	if (fcntl(upgrade_parent_fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    (u.metrics && fcntl(upgrade_metrics, F_SETFD, FD_CLOEXEC) == -1))
		fatal(ACKD_EXIT_OSERR, "upgrade: the old master's descriptors");
}

/*
 * At start, before anything else opens a file: note how to start a new
 * master later (the binary, the command line), and whether we are one.
 */
void
upgrade_init(int argc, char **argv)
{
	int	rc;

	upgrade_copy_argv(argc, argv);
	upgrade_resolve(argv[0]);
	upgrade_adopt();
	if ((rc = pthread_atfork(NULL, NULL, upgrade_atfork_child)) != 0) {
		errno = rc;
		fatal(ACKD_EXIT_OSERR, "pthread_atfork");
	}
}

/* The pid of the master that started us by an upgrade, or 0. */
pid_t
upgrade_from(void)
{
	return (upgrade_parent);
}

/* The metrics listener the old master passed (metrics.c), or -1. */
int
upgrade_metrics_fd(void)
{
	return (upgrade_metrics);
}

/*
 * The pid file: the old master's descriptor if it passed one (we may
 * not be allowed to open the file, running as --user), else a new lock.
 */
void
upgrade_pidfile(const char *path)
{
	if (upgrade_pid_fd != -1)
		pidfile_adopt(path, upgrade_pid_fd);
	else
		pidfile_open(path);
}

/*
 * The sockets the old master passed, into fds (room for max), with
 * *nsets the sets they form: their count; ACKD_NONE if we were not
 * started by an upgrade; -1 with err set if they cannot be used.
 */
int
upgrade_listen_fds(int *fds, int max, int *nsets, char *err, size_t errsize)
{
	struct stat	st;
	int		i, fd;

	if (upgrade_parent == 0)
		return (ACKD_NONE);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (upgrade_nfds > max) {
		snprintf(err, errsize, "upgrade: %d sockets (allowed: %d)",
		    upgrade_nfds, max);
		return (-1);
	}
	for (i = 0; i < upgrade_nfds; i++) {
		fd = UPGRADE_FIRST_FD + i;
		if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode) ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
			snprintf(err, errsize, "upgrade: descriptor %d is not "
			    "a socket", fd);
			return (-1);
		}
		fds[i] = fd;
	}
	*nsets = upgrade_nsets;
	return (upgrade_nfds);
}

/* Tell the old master why our exec failed, then end. */
static void __attribute__((noreturn))
upgrade_exec_failed(int fd, int err)
{
	char	buf[1 + sizeof(int)];

	buf[0] = UPGRADE_EXEC_FAILED;
	memcpy(buf + 1, &err, sizeof(int));
	if (write(fd, buf, sizeof(buf)) == -1)
		_exit(ACKD_EXIT_OSERR);
	_exit(ACKD_EXIT_OSERR);
}

/*
 * Put the n descriptors of fds at UPGRADE_FIRST_FD on, in order, open
 * across exec; everything else stays close-on-exec. -1 on failure.
 */
static int
upgrade_place(int *fds, int n)
{
	int	i, top = UPGRADE_FIRST_FD + n;

	/* out of the way first: a target may be one of the sources */
	for (i = 0; i < n; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, top)) == -1)
			return (-1);
	for (i = 0; i < n; i++)
		if (dup2(fds[i], UPGRADE_FIRST_FD + i) == -1)
			return (-1);
	return (0);
}

/*
 * In the child, before it unblocks signals: every signal back to its
 * default action. The master's handlers only set flags, in our copy of
 * its memory, which exec then throws away: a SIGTERM the old master sent
 * before we exec'd (it shuts down, or we took too long) would be lost,
 * and the new binary would run on. With the default, it ends us.
 */
static void
upgrade_default_signals(void)
{
	int	sig;

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);	/* EINVAL for some: fine */
}

/*
 * In the child: pass the sockets, the channel cfd and the pid file on,
 * and exec the binary with our command line. Never returns.
 */
static void __attribute__((noreturn))
upgrade_exec(int cfd)
{
	static int	fds[ACKD_WORKERS_MAX * ACKD_LISTEN_FDS + 3];
	char		num[64];
	sigset_t	none;
	int		n, k, nsets, pfd = pidfile_fdesc(), mfd = metrics_fd();

	/* detached as the old master is: not in its group or session */
	if (getsid(0) == getppid() && setsid() == -1)
		upgrade_exec_failed(cfd, errno);
	n = listen_all_fds(fds, ACKD_WORKERS_MAX * ACKD_LISTEN_FDS, &nsets);
	k = n;
	fds[k++] = cfd;
	if (pfd != -1)
		fds[k++] = pfd;
	if (mfd != -1)
		fds[k++] = mfd;
	if (upgrade_place(fds, k) == -1)
		upgrade_exec_failed(cfd, errno);
	cfd = UPGRADE_FIRST_FD + n;
	snprintf(num, sizeof(num), "%d", n);
	setenv("LISTEN_FDS", num, 1);
	snprintf(num, sizeof(num), "%ld", (long)getpid());
	setenv("LISTEN_PID", num, 1);
	unsetenv("LISTEN_FDNAMES");
	snprintf(num, sizeof(num), "%ld %d %d %d", (long)getppid(), nsets,
	    pfd != -1, mfd != -1);
	setenv(UPGRADE_ENV, num, 1);
	systemd_pass_on();
	upgrade_default_signals();
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(upgrade_path, upgrade_argv);
	upgrade_exec_failed(cfd, errno);
}

/* The old master's systemd status: reloading, or serving again. */
static void
upgrade_notify_reloading(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	systemd_notify("RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=upgrading: "
	    "new master %ld", (long long)ts.tv_sec * 1000000 +
	    ts.tv_nsec / 1000, (long)upgrade_child);
}

/* Log that the upgrade failed and why; we go on serving. */
static void
upgrade_failed(pid_t pid, const char *reason, int err)
{
	char	buf[32];

	msglog_event("upgrade-failed", "new_master=%ld reason=%s%s%s",
	    (long)pid, reason, err != 0 ? " error=" : "", err != 0 ?
	    msglog_errno_name(err, buf, sizeof(buf)) : "");
	diag_warnx("upgrade failed: new master %ld: %s%s%s; still serving",
	    (long)pid, reason, err != 0 ? ": " : "", err != 0 ?
	    strerror(err) : "");
	systemd_notify("READY=1\nSTATUS=upgrade failed (%s), still serving",
	    reason);
}

/* Is an upgrade possible now? Say why not, if it is not. */
static int
upgrade_allowed(int stopping, int ready)
{
	if (stopping)
		diag_warnx("SIGUSR2: shutting down; no upgrade");
	else if (!ready)
		diag_warnx("SIGUSR2: the workers do not all serve yet; no "
		    "upgrade");
	else if (upgrade_child != 0)
		diag_warnx("SIGUSR2: an upgrade is under way (new master %ld); "
		    "ignored", (long)upgrade_child);
	else if (upgrade_parent_fd != -1)
		diag_warnx("SIGUSR2: the old master %ld is still draining; "
		    "ignored (send it again once it has exited)",
		    (long)upgrade_parent);
	else if (upgrade_path[0] == '\0') {
		msglog_event("upgrade-failed", "reason=no-binary");
		diag_warnx("SIGUSR2: the binary we were started as was not "
		    "found at start; no upgrade");
	} else
		return (1);
	return (0);
}

/*
 * SIGUSR2: start a new master, unless one is starting or the master
 * that started us has not left yet. stopping, ready: the master's state.
 */
void
upgrade_start(int stopping, int ready)
{
	char	binary[PATH_MAX * 3 + 1];
	int	sv[2], err;
	pid_t	pid;

	if (!upgrade_allowed(stopping, ready))
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		upgrade_failed(0, "socketpair", errno);
		return;
	}
	if ((pid = fork()) == 0)
		upgrade_exec(sv[1]);
	err = errno;
	close(sv[1]);
	if (pid == -1) {
		close(sv[0]);
		upgrade_failed(0, "fork", err);
		return;
	}
	upgrade_child = pid;
	upgrade_child_fd = sv[0];
	upgrade_child_ready = upgrade_child_errno = upgrade_terminated = 0;
	upgrade_why = NULL;
	upgrade_deadline_ms = mono_ms() + UPGRADE_TIMEOUT_MS;
	if (logfmt_token(binary, sizeof(binary), upgrade_path) == 0)
		snprintf(binary, sizeof(binary), "?");
	msglog_event("upgrade", "new_master=%ld binary=%s", (long)pid,
	    binary);
	upgrade_notify_reloading();
}

/* Fill fds (room for max) with the channels to watch; their count. */
int
upgrade_pollfds(struct pollfd *fds, int max)
{
	int	n = 0;

	if (upgrade_child_fd != -1 && !upgrade_child_ready && n < max) {
		fds[n].fd = upgrade_child_fd;
		fds[n].events = POLLIN;
		fds[n++].revents = 0;
	}
	if (upgrade_parent_fd != -1 && n < max) {
		fds[n].fd = upgrade_parent_fd;
		fds[n].events = POLLIN;
		fds[n++].revents = 0;
	}
	return (n);
}

/*
 * The new master serves: let it have the pid file and the service, and
 * tell it so. We keep our end open until we exit: its EOF says we left.
 */
static void
upgrade_hand_over(void)
{
	char	c = UPGRADE_HANDED_OVER;

	upgrade_child_ready = 1;
	msglog_event("upgrade-done", "new_master=%ld", (long)upgrade_child);
	systemd_hand_over(upgrade_child);
	metrics_close();
	pidfile_release();
	if (send(upgrade_child_fd, &c, 1, MSG_NOSIGNAL) != 1)
		diag_warn("cannot tell the new master it has the pid file");
}

/* Read what the new master (or the child that failed to be one) said. */
static int
upgrade_child_io(void)
{
	char	buf[1 + sizeof(int)];
	ssize_t	n;

	n = read(upgrade_child_fd, buf, sizeof(buf));
	if (n == -1 && errno == EINTR)
		return (0);
	if (n > 0 && buf[0] == UPGRADE_READY) {
		upgrade_hand_over();
		return (1);
	}
	if (n == (ssize_t)sizeof(buf) && buf[0] == UPGRADE_EXEC_FAILED)
		memcpy(&upgrade_child_errno, buf + 1, sizeof(int));
	/* anything else, or EOF: it is going; its reaping says how */
	close(upgrade_child_fd);
	upgrade_child_fd = -1;
	return (0);
}

/* The old master let go (or died): lock the pid file, serve metrics. */
static void
upgrade_take_over(void)
{
	static int	done;

	if (done)
		return;
	done = 1;
	pidfile_relock();
	metrics_resume();
}

/* Read what the old master said: the pid file is ours, or it left. */
static void
upgrade_parent_io(void)
{
	char	c;
	ssize_t	n;

	n = read(upgrade_parent_fd, &c, 1);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	upgrade_take_over();
	if (n == 1 && c == UPGRADE_HANDED_OVER)
		return;
	/* EOF: it has left; an upgrade of ours may now start */
	close(upgrade_parent_fd);
	upgrade_parent_fd = -1;
}

/*
 * After the master's wait: act on the n channels in fds that are ready.
 * 1 if the new master we started serves now: the master must shut down.
 */
int
upgrade_io(const struct pollfd *fds, int n)
{
	int	i, leave = 0;

	for (i = 0; i < n; i++) {
		if (fds[i].revents == 0)
			continue;
		if (fds[i].fd == upgrade_child_fd)
			leave |= upgrade_child_io();
		else if (fds[i].fd == upgrade_parent_fd)
			upgrade_parent_io();
	}
	return (leave);
}

/*
 * Was pid the new master we started? Then it is gone: if it never
 * served, the upgrade failed, and we say why. 1 if it was, else 0.
 */
int
upgrade_reaped(pid_t pid, int status)
{
	char	desc[32];

	if (pid != upgrade_child || pid == 0)
		return (0);
	if (!upgrade_child_ready) {
		logfmt_wait_status(desc, sizeof(desc), status);
		if (upgrade_child_errno != 0)
			upgrade_failed(pid, "exec", upgrade_child_errno);
		else
			upgrade_failed(pid, upgrade_why != NULL ? upgrade_why :
			    desc, 0);
	}
	if (upgrade_child_fd != -1)
		close(upgrade_child_fd);
	upgrade_child_fd = -1;
	upgrade_child = 0;
	return (1);
}

/*
 * The upgrade's timed job: end a new master that is not ready in time.
 * ms until it is due, or -1.
 */
long long
upgrade_timers(void)
{
	long long	left_ms;

	if (upgrade_child == 0 || upgrade_child_ready)
		return (-1);
	left_ms = upgrade_deadline_ms - mono_ms();
	if (left_ms > 0)
		return (left_ms);
	if (!upgrade_terminated) {
		upgrade_why = "timeout";
		kill(upgrade_child, SIGTERM);
		upgrade_terminated = 1;
	} else
		kill(upgrade_child, SIGKILL);
	upgrade_deadline_ms = mono_ms() + UPGRADE_KILL_MS;
	return (UPGRADE_KILL_MS);
}

/*
 * We serve (the first time). If an upgrade started us: say so to the
 * manager (MAINPID, before supervise.c's READY=1) and to the old master.
 */
void
upgrade_ready(void)
{
	static int	done;
	char		c = UPGRADE_READY;

	if (upgrade_parent == 0 || done)
		return;
	done = 1;
	systemd_notify("MAINPID=%ld", (long)getpid());
	if (upgrade_parent_fd != -1 &&
	    send(upgrade_parent_fd, &c, 1, MSG_NOSIGNAL) != 1)
		diag_warn("cannot tell the old master we serve");
}

/* We shut down: a new master that is not ready yet goes with us. */
void
upgrade_cancel(void)
{
	if (upgrade_child == 0 || upgrade_child_ready)
		return;
	upgrade_why = "shutdown";
	kill(upgrade_child, SIGTERM);
}
