/* SPDX-License-Identifier: MIT */
/*
 * reference.c: the least a server can do for ackd's job, as a ceiling.
 *
 * N pre-forked processes share one listening socket. Each loops on a
 * blocking accept, one recv of up to 1024 bytes, one write() of a plain
 * line "addr:port bytes msg\n" to the log (O_APPEND, no escaping, no
 * timestamp), the ACK, close. No queue, no threads, no timeouts: what ackd
 * spends beyond this is the price of its queue, pool and log format.
 *
 * usage: reference --port P [--bind ADDR] [--procs N] --log FILE
 *            [--backlog N]
 *
 * Prints "ready port=P" on stdout once listening (P is the kernel's choice
 * for --port 0). SIGTERM or SIGINT to the parent: it kills the children,
 * reaps them and exits 0. A child that dies takes the others down too: a
 * ceiling measured with fewer processes than asked would be a lie.
 */
/* accept4, SOCK_CLOEXEC */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define REFERENCE_MSG_MAX	1024
#define REFERENCE_MAX_PROCS	1024
#define REFERENCE_ACK		"ACK!"

/* exit statuses, as ackd's */
#define REFERENCE_EXIT_USAGE	64
#define REFERENCE_EXIT_NOHOST	69
#define REFERENCE_EXIT_OSERR	71
#define REFERENCE_EXIT_LOG	73

struct reference_opts {
	const char	*bind;
	const char	*log;
	long		 port;
	long		 procs;
	long		 backlog;
};

static volatile sig_atomic_t	reference_stop;

/* Print one line about a start-up failure, with errno if asked, and exit. */
static void
reference_die(int status, int with_errno, const char *what, const char *arg)
{
	if (with_errno)
		fprintf(stderr, "reference: %s %s: %s\n", what, arg,
		    strerror(errno));
	else
		fprintf(stderr, "reference: %s %s\n", what, arg);
	exit(status);
}

/* Parse a decimal in [min, max] for flag, or exit with a usage error. */
static long
reference_number(const char *flag, const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "reference: %s: '%s' is not a number in "
		    "%ld-%ld\n", flag, s, min, max);
		exit(REFERENCE_EXIT_USAGE);
	}
	return (v);
}

/* Fill o from argv: --flag value or --flag=value; exit 64 on anything else. */
static void
reference_parse(struct reference_opts *o, int argc, char **argv)
{
	static const char *const flags[] = { "--port", "--bind", "--procs",
	    "--log", "--backlog" };
	const char	*arg, *val, *eq;
	size_t		 n, i;
	int		 k;

	o->bind = "127.0.0.1";
	o->log = NULL;
	o->port = -1;
	o->procs = sysconf(_SC_NPROCESSORS_ONLN);
	if (o->procs < 1)
		o->procs = 1;
	o->backlog = 511;
	for (k = 1; k < argc; k++) {
		arg = argv[k];
		eq = strchr(arg, '=');
		n = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
			if (strlen(flags[i]) == n && strncmp(arg, flags[i], n) == 0)
				break;
		if (i == sizeof(flags) / sizeof(flags[0]))
			reference_die(REFERENCE_EXIT_USAGE, 0, "unknown argument",
			    arg);
		if (eq != NULL)
			val = eq + 1;
		else if (k + 1 < argc)
			val = argv[++k];
		else
			reference_die(REFERENCE_EXIT_USAGE, 0, "missing value for",
			    arg);
		switch (i) {
		case 0: o->port = reference_number("--port", val, 0, 65535); break;
		case 1: o->bind = val; break;
		case 2: o->procs = reference_number("--procs", val, 1,
		    REFERENCE_MAX_PROCS); break;
		case 3: o->log = val; break;
		default: o->backlog = reference_number("--backlog", val, 1,
		    65535); break;
		}
	}
	if (o->port < 0 || o->log == NULL) {
		fprintf(stderr, "usage: reference --port P [--bind ADDR] "
		    "[--procs N] --log FILE [--backlog N]\n");
		exit(REFERENCE_EXIT_USAGE);
	}
}

/* Bind and listen on o's numeric address; return the socket and its port. */
static int
reference_listen(const struct reference_opts *o, unsigned *port)
{
	struct addrinfo		 hints, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 service[24];
	int			 fd, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(service, sizeof(service), "%ld", o->port);
	if ((rc = getaddrinfo(o->bind, service, &hints, &ai)) != 0) {
		fprintf(stderr, "reference: --bind %s: %s\n", o->bind,
		    gai_strerror(rc));
		exit(REFERENCE_EXIT_USAGE);
	}
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		reference_die(REFERENCE_EXIT_OSERR, 1, "socket for", o->bind);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		reference_die(REFERENCE_EXIT_NOHOST, 1, "cannot bind", o->bind);
	freeaddrinfo(ai);
	if (listen(fd, (int)o->backlog) == -1)
		reference_die(REFERENCE_EXIT_NOHOST, 1, "cannot listen on",
		    o->bind);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		reference_die(REFERENCE_EXIT_OSERR, 1, "getsockname on", o->bind);
	if (ss.ss_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return (fd);
}

/* Write "addr:port " for sa into buf; return its length. */
static size_t
reference_format_peer(char *buf, size_t size, const struct sockaddr_storage *sa)
{
	char	addr[INET6_ADDRSTRLEN];
	int	n;

	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		n = snprintf(buf, size, "[%s]:%u ", addr, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
		n = snprintf(buf, size, "%s:%u ", addr, ntohs(s4->sin_port));
	}
	return (n > 0 ? (size_t)n : 0);
}

/* One connection: receive once, log one line, ACK, close. */
static void
reference_serve(int cfd, int logfd, const struct sockaddr_storage *peer)
{
	char	line[REFERENCE_MSG_MAX + 128];
	char	msg[REFERENCE_MSG_MAX];
	size_t	len;
	ssize_t	n;

	do
		n = recv(cfd, msg, sizeof(msg), 0);
	while (n == -1 && errno == EINTR);
	if (n >= 0) {
		len = reference_format_peer(line, 96, peer);
		len += (size_t)snprintf(line + len, 32, "%zd ", n);
		memcpy(line + len, msg, (size_t)n);
		len += (size_t)n;
		line[len++] = '\n';
		/* like ackd: no ACK unless the line is in the log */
		if (write(logfd, line, len) == (ssize_t)len)
			(void)!send(cfd, REFERENCE_ACK, sizeof(REFERENCE_ACK) - 1,
			    MSG_NOSIGNAL);
	}
	close(cfd);
}

/* A child's life: accept and serve until killed. */
static void
reference_child(int lfd, int logfd, pid_t parent)
{
	struct sockaddr_storage	peer;
	struct timespec		pause = { 0, 10 * 1000 * 1000 };
	socklen_t		len;
	int			cfd;

#ifdef __linux__
	/* never outlive the parent, even if it is SIGKILLed */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	if (getppid() != parent)
		_exit(1);
	for (;;) {
		len = sizeof(peer);
		cfd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
		if (cfd != -1) {
			reference_serve(cfd, logfd, &peer);
			continue;
		}
		/* out of descriptors or memory: let in-flight ones finish */
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			nanosleep(&pause, NULL);
	}
}

/* Signal handler: only note that we were asked to stop. */
static void
reference_on_signal(int sig)
{
	(void)sig;
	reference_stop = 1;
}

/* SIGCHLD handler: nothing to do, but it ends sigsuspend so we reap. */
static void
reference_on_child(int sig)
{
	(void)sig;
}

/* Catch TERM, INT and CHLD; keep them blocked except in sigsuspend. */
static void
reference_signals(sigset_t *blocked, sigset_t *old)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = reference_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* a handler, not SIG_DFL (ignored), so that SIGCHLD ends sigsuspend */
	sa.sa_handler = reference_on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(blocked);
	sigaddset(blocked, SIGTERM);
	sigaddset(blocked, SIGINT);
	sigaddset(blocked, SIGCHLD);
	sigprocmask(SIG_BLOCK, blocked, old);
}

/* Put a fresh child's signals back to their defaults. */
static void
reference_child_signals(const sigset_t *old)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigprocmask(SIG_SETMASK, old, NULL);
}

/* Kill every live child in pids[0..n) with sig. */
static void
reference_kill_all(const pid_t *pids, long n, int sig)
{
	long	i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], sig);
}

/* Reap what has exited; return how many children are still alive. */
static long
reference_reap(pid_t *pids, long n, int *died)
{
	pid_t	pid;
	long	i, alive = 0;
	int	status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < n; i++)
			if (pids[i] == pid) {
				pids[i] = 0;
				if (!reference_stop)
					*died = 1;
			}
	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			alive++;
	return (alive);
}

int
main(int argc, char **argv)
{
	struct reference_opts	 o;
	sigset_t		 blocked, old;
	pid_t			*pids, parent = getpid();
	unsigned		 port;
	long			 i;
	int			 lfd, logfd, died = 0;

	reference_parse(&o, argc, argv);
	logfd = open(o.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (logfd == -1)
		reference_die(REFERENCE_EXIT_LOG, 1, "cannot open", o.log);
	lfd = reference_listen(&o, &port);
	if ((pids = calloc((size_t)o.procs, sizeof(*pids))) == NULL)
		reference_die(REFERENCE_EXIT_OSERR, 1, "calloc", "pids");
	reference_signals(&blocked, &old);
	for (i = 0; i < o.procs; i++) {
		if ((pids[i] = fork()) == -1) {
			fprintf(stderr, "reference: fork: %s\n", strerror(errno));
			reference_kill_all(pids, i, SIGKILL);
			exit(REFERENCE_EXIT_OSERR);
		}
		if (pids[i] == 0) {
			reference_child_signals(&old);
			reference_child(lfd, logfd, parent);
		}
	}
	printf("ready port=%u\n", port);
	fflush(stdout);
	/* sleep until a signal; act on it with the signals blocked again */
	while (!reference_stop && !died && reference_reap(pids, o.procs,
	    &died) == o.procs)
		sigsuspend(&old);
	if (died)
		fprintf(stderr, "reference: a child died; stopping\n");
	reference_stop = 1;
	reference_kill_all(pids, o.procs, SIGTERM);
	while (reference_reap(pids, o.procs, &died) > 0)
		sigsuspend(&old);
	return (died ? 1 : 0);
}
