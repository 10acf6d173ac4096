/* SPDX-License-Identifier: MIT */
/*
 * systemd.c: the two systemd protocols ackd speaks, without libsystemd.
 *
 * Readiness: when the service manager sets NOTIFY_SOCKET, the master
 * sends it datagrams of "VARIABLE=value" lines (READY=1, RELOADING=1,
 * STOPPING=1, STATUS=..., WATCHDOG=1) on an AF_UNIX datagram socket. A
 * path starting with '@' names a socket in the abstract namespace: the
 * '@' becomes a NUL byte and the address length covers the name exactly.
 * WATCHDOG_USEC (for us if WATCHDOG_PID is unset or ours) asks for
 * WATCHDOG=1 at least that often.
 *
 * Socket activation: when LISTEN_PID is our pid, LISTEN_FDS sockets were
 * passed to us, from descriptor 3 on; we listen on all of them (up to
 * ACKD_LISTEN_MAX) instead of binding.
 *
 * The variables are removed from the environment once read, as the
 * protocol asks, so nothing we start takes them for its own.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ackd.h"
#include "master.h"
#include "parse.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* The first descriptor socket activation passes. */
#define SYSTEMD_LISTEN_FDS_START	3
/*
 * How long one notification may wait for room in the manager's queue (a
 * datagram socket holds few: net.unix.max_dgram_qlen, 10 by default).
 * The master's signals are blocked while it sends, so an unbounded wait
 * would leave it deaf to SIGTERM and its dying workers unreaped.
 */
#define SYSTEMD_SEND_TIMEOUT_MS		1000

static int			systemd_fd = -1;
static struct sockaddr_un	systemd_addr;
static socklen_t		systemd_addrlen;
static long long		systemd_wd_ms;
static long long		systemd_wd_us;	/* as given, to pass on */
static int			systemd_warned;
static char			systemd_path[sizeof(systemd_addr.sun_path)];

/* Parse a whole non-negative decimal number; -1 if s is not one. */
static long long
systemd_number(const char *s)
{
	long long	v = 0;

	if (s == NULL || *s == '\0')
		return (-1);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (LLONG_MAX - 9) / 10)
			return (-1);
		v = v * 10 + (*s - '0');
	}
	return (v);
}

/* Is the variable name, when set, our pid? (Unset counts as yes.) */
static int
systemd_for_us(const char *name)
{
	const char	*v = getenv(name);

	return (v == NULL || systemd_number(v) == (long long)getpid());
}

/* Set up the notify socket from NOTIFY_SOCKET; 0, or -1 if unusable. */
static int
systemd_open(const char *path)
{
	struct timeval	tv = { SYSTEMD_SEND_TIMEOUT_MS / 1000,
			    SYSTEMD_SEND_TIMEOUT_MS % 1000 * 1000 };
	size_t		len = strlen(path);

	if ((path[0] != '/' && path[0] != '@') || len < 2 ||
	    len >= sizeof(systemd_addr.sun_path)) {
		diag_warnx("NOTIFY_SOCKET '%s' is not a socket path or "
		    "@abstract name; not notifying", path);
		return (-1);
	}
	memset(&systemd_addr, 0, sizeof(systemd_addr));
	systemd_addr.sun_family = AF_UNIX;
	memcpy(systemd_addr.sun_path, path, len);
	if (path[0] == '@')
		systemd_addr.sun_path[0] = '\0';
	/* an abstract name is exactly len bytes: no NUL after it */
	systemd_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    len + (path[0] == '/'));
	if ((systemd_fd = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1) {
		diag_warn("cannot create the notify socket");
		return (-1);
	}
	if (fcntl(systemd_fd, F_SETFD, FD_CLOEXEC) == -1) {
		diag_warn("cannot set close-on-exec on the notify socket");
		close(systemd_fd);
		systemd_fd = -1;
		return (-1);
	}
	/* a manager that does not read its queue must not stop the master */
	if (setsockopt(systemd_fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv)) == -1)
		diag_warn("cannot bound the notify socket's send time");
	return (0);
}

/*
 * Read (and remove) NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. Call
 * it once, in the process that will be the master.
 */
void
systemd_init(void)
{
	const char	*path = getenv("NOTIFY_SOCKET");
	long long	 wd_us;

	if (path != NULL && path[0] != '\0' && systemd_open(path) == 0)
		snprintf(systemd_path, sizeof(systemd_path), "%s", path);
	wd_us = systemd_number(getenv("WATCHDOG_USEC"));
	if (wd_us > 0 && systemd_for_us("WATCHDOG_PID")) {
		systemd_wd_ms = wd_us / 1000 > 0 ? wd_us / 1000 : 1;
		systemd_wd_us = wd_us;
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/*
 * In the process about to exec a new master (upgrade.c): give it the
 * variables we took, so that it notifies the manager as we did; it will
 * be the main pid, so the watchdog is for it (WATCHDOG_PID: this pid,
 * which exec keeps).
 */
void
systemd_pass_on(void)
{
	char	num[32];

	if (systemd_fd == -1)
		return;
	setenv("NOTIFY_SOCKET", systemd_path, 1);
	if (systemd_wd_us > 0) {
		snprintf(num, sizeof(num), "%lld", systemd_wd_us);
		setenv("WATCHDOG_USEC", num, 1);
		snprintf(num, sizeof(num), "%ld", (long)getpid());
		setenv("WATCHDOG_PID", num, 1);
	}
}

/*
 * A new master serves (upgrade.c): name it the main pid, READY=1 ending
 * our RELOADING=1, and stop notifying, since our STOPPING=1 would now
 * stop the service. The main pid says it: with NotifyAccess=main, what
 * the new master sends is heard only once it is the main pid.
 */
void
systemd_hand_over(pid_t pid)
{
	systemd_notify("MAINPID=%ld\nREADY=1\nSTATUS=upgraded: new master "
	    "%ld", (long)pid, (long)pid);
	if (systemd_fd != -1) {
		close(systemd_fd);
		systemd_fd = -1;
	}
}

/* Does a service manager listen for our notifications? */
int
systemd_enabled(void)
{
	return (systemd_fd != -1);
}

/* How often the manager wants WATCHDOG=1 at least, in ms; 0: never. */
long long
systemd_watchdog_ms(void)
{
	return (systemd_fd != -1 ? systemd_wd_ms : 0);
}

/*
 * Send one notification: fmt's lines ("READY=1", "STATUS=..."). Nothing
 * without NOTIFY_SOCKET. A failure is reported once; it never stops us.
 */
void
systemd_notify(const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;
	int	n;

	if (systemd_fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (sendto(systemd_fd, msg, (size_t)n, MSG_NOSIGNAL,
	    (struct sockaddr *)&systemd_addr, systemd_addrlen) == -1 &&
	    !systemd_warned) {
		diag_warn("cannot notify the service manager");
		systemd_warned = 1;
	}
}

/*
 * Can ackd serve on fd? It must be a listening TCP socket (the log names
 * clients by address and port), and blocking: each worker sleeps in
 * accept(), which on a non-blocking socket would return at once, forever.
 * systemd shares the flag with us and asks services not to change it
 * (NonBlocking= in systemd.service(5)), so we refuse instead. 0, or -1
 * with err set to one line.
 */
static int
systemd_check_listener(int fd, char *err, size_t errsize)
{
	struct sockaddr_storage	ss;
	struct stat		st;
	socklen_t		len;
	int			type = 0, listening = 1, flags;

	len = sizeof(type);
	if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM)
		goto fail;
#ifdef SO_ACCEPTCONN
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1)
		goto fail;
#endif
	len = sizeof(ss);
	if (!listening || getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		goto fail;
	if ((flags = fcntl(fd, F_GETFL)) == -1 || (flags & O_NONBLOCK)) {
		snprintf(err, errsize, "socket activation: descriptor %d is "
		    "non-blocking; ackd needs it blocking (NonBlocking=no)",
		    fd);
		return (-1);
	}
	return (0);
fail:
	snprintf(err, errsize, "socket activation: descriptor %d is not a "
	    "listening TCP socket (allowed: ListenStream= addresses)", fd);
	return (-1);
}

/*
 * The listening sockets socket activation passed us, into fds[] (at most
 * max): their count; ACKD_NONE if none (LISTEN_PID is not ours or
 * LISTEN_FDS unset); -1 with err set to one line if what was passed
 * cannot be used. Every one must be a listening stream socket.
 */
int
systemd_listen_fds(int *fds, int max, char *err, size_t errsize)
{
	const char	*env = getenv("LISTEN_FDS");
	char		 nfds[32];
	long long	 n;
	int		 i, fd;

	if (env == NULL || getenv("LISTEN_PID") == NULL ||
	    !systemd_for_us("LISTEN_PID"))
		return (ACKD_NONE);
	n = systemd_number(env);
	/* unsetenv may take the string away */
	snprintf(nfds, sizeof(nfds), "%s", env);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (n < 1 || n > max) {
		snprintf(err, errsize, "socket activation: LISTEN_FDS=%s "
		    "(allowed: 1-%d listening TCP sockets)", nfds, max);
		parse_printable(err);
		return (-1);
	}
	for (i = 0; i < (int)n; i++) {
		fd = SYSTEMD_LISTEN_FDS_START + i;
		if (systemd_check_listener(fd, err, errsize) == -1)
			return (-1);
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
			snprintf(err, errsize, "socket activation: descriptor "
			    "%d: cannot set close-on-exec", fd);
			return (-1);
		}
		fds[i] = fd;
	}
	return ((int)n);
}
