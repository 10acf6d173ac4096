/* SPDX-License-Identifier: MIT */
/*
 * baseline.c: the Python script ackd replaces, in C: a thread per client.
 *
 * listen(5). The main thread accepts, prints "[*] Accepted connection
 * from A:P" and starts one detached thread with default attributes (so the
 * default 8 MiB stack reservation) per client. The thread reads once, up to
 * 1024 bytes, prints "[*] Received: MSG", sends ACK!, prints "[*] Client
 * Address: ('A', P)" and closes, in the script's order. Output goes through
 * stdio to the --log file opened for append, fully buffered like Python's
 * stdout when redirected to a file. Being C it is faster than the script
 * (no interpreter, no GIL): a generous stand-in for the old design.
 *
 * usage: baseline --port P [--bind ADDR] --log FILE
 *
 * Prints "ready port=P" on stdout once listening. SIGTERM or SIGINT: flush
 * the log and exit 0, leaving threads in flight to die with the process.
 * Where the script would crash (a thread that cannot start), this one says
 * so on stderr, closes the client and goes on.
 */
/* accept4, SOCK_CLOEXEC */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BASELINE_MSG_MAX	1024
#define BASELINE_BACKLOG	5
#define BASELINE_ACK		"ACK!"

#define BASELINE_EXIT_USAGE	64
#define BASELINE_EXIT_NOHOST	69
#define BASELINE_EXIT_OSERR	71
#define BASELINE_EXIT_LOG	73

struct baseline_opts {
	const char	*bind;
	const char	*log;
	long		 port;
};

static volatile sig_atomic_t	 baseline_stop;
static FILE			*baseline_log;
static pthread_t		 baseline_main;	/* the accepting thread */

/* Print one line about a start-up failure, with errno if asked, and exit. */
static void
baseline_die(int status, int with_errno, const char *what, const char *arg)
{
	if (with_errno)
		fprintf(stderr, "baseline: %s %s: %s\n", what, arg,
		    strerror(errno));
	else
		fprintf(stderr, "baseline: %s %s\n", what, arg);
	exit(status);
}

/* Fill o from argv: --flag value or --flag=value; exit 64 on anything else. */
static void
baseline_parse(struct baseline_opts *o, int argc, char **argv)
{
	const char	*arg, *val, *eq;
	char		*end;
	size_t		 n;
	int		 k;

	o->bind = "127.0.0.1";
	o->log = NULL;
	o->port = -1;
	for (k = 1; k < argc; k++) {
		arg = argv[k];
		eq = strchr(arg, '=');
		n = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		if (eq != NULL)
			val = eq + 1;
		else if (k + 1 < argc)
			val = argv[++k];
		else
			baseline_die(BASELINE_EXIT_USAGE, 0, "missing value for",
			    arg);
		if (n == 6 && strncmp(arg, "--port", n) == 0) {
			errno = 0;
			o->port = strtol(val, &end, 10);
			if (errno != 0 || end == val || *end != '\0' ||
			    o->port < 0 || o->port > 65535)
				baseline_die(BASELINE_EXIT_USAGE, 0,
				    "--port: not a number in 0-65535:", val);
		} else if (n == 6 && strncmp(arg, "--bind", n) == 0)
			o->bind = val;
		else if (n == 5 && strncmp(arg, "--log", n) == 0)
			o->log = val;
		else
			baseline_die(BASELINE_EXIT_USAGE, 0, "unknown argument",
			    arg);
	}
	if (o->port < 0 || o->log == NULL) {
		fprintf(stderr,
		    "usage: baseline --port P [--bind ADDR] --log FILE\n");
		exit(BASELINE_EXIT_USAGE);
	}
}

/* Bind and listen(5) on o's numeric address; return the socket and port. */
static int
baseline_listen(const struct baseline_opts *o, unsigned *port)
{
	struct addrinfo		 hints, *ai;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 service[24];
	int			 fd, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	snprintf(service, sizeof(service), "%ld", o->port);
	if ((rc = getaddrinfo(o->bind, service, &hints, &ai)) != 0) {
		fprintf(stderr, "baseline: --bind %s: %s\n", o->bind,
		    gai_strerror(rc));
		exit(BASELINE_EXIT_USAGE);
	}
	/* no SO_REUSEADDR: the script sets none */
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		baseline_die(BASELINE_EXIT_OSERR, 1, "socket for", o->bind);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		baseline_die(BASELINE_EXIT_NOHOST, 1, "cannot bind", o->bind);
	freeaddrinfo(ai);
	if (listen(fd, BASELINE_BACKLOG) == -1)
		baseline_die(BASELINE_EXIT_NOHOST, 1, "cannot listen on", o->bind);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		baseline_die(BASELINE_EXIT_OSERR, 1, "getsockname on", o->bind);
	if (ss.ss_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return (fd);
}

/* The numeric address and port of sa, as Python's socket module gives them. */
static void
baseline_addr(const struct sockaddr_storage *sa, char *addr, size_t size,
    unsigned *port)
{
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, size);
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, addr, size);
		*port = ntohs(s4->sin_port);
	}
}

/* One client's thread: handle_client() of the script. */
static void *
baseline_client(void *arg)
{
	struct sockaddr_storage	peer;
	socklen_t		len = sizeof(peer);
	char			msg[BASELINE_MSG_MAX], addr[INET6_ADDRSTRLEN];
	unsigned		port;
	ssize_t			n;
	int			fd = (int)(intptr_t)arg;

	do
		n = recv(fd, msg, sizeof(msg), 0);
	while (n == -1 && errno == EINTR);
	if (n >= 0) {
		fprintf(baseline_log, "[*] Received: %.*s\n", (int)n, msg);
		(void)!send(fd, BASELINE_ACK, sizeof(BASELINE_ACK) - 1, 0);
		/* the script calls getpeername() after the send, so do we */
		if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0) {
			baseline_addr(&peer, addr, sizeof(addr), &port);
			if (peer.ss_family == AF_INET6)
				fprintf(baseline_log, "[*] Client Address: "
				    "('%s', %u, 0, 0)\n", addr, port);
			else
				fprintf(baseline_log, "[*] Client Address: "
				    "('%s', %u)\n", addr, port);
		}
	}
	close(fd);
	return (NULL);
}

/* Signal handler: note that we were asked to stop; wake accept(). */
static void
baseline_on_signal(int sig)
{
	int	saved = errno;

	baseline_stop = 1;
	/* a client thread took it: pass it on, or accept() sleeps on */
	if (!pthread_equal(pthread_self(), baseline_main))
		pthread_kill(baseline_main, sig);
	errno = saved;
}

/* TERM and INT interrupt accept() (no SA_RESTART); SIGPIPE is ignored. */
static void
baseline_signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = baseline_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* as in Python, which ignores SIGPIPE at start-up */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* The main loop of the script: accept, print, start a thread. */
static void
baseline_accept_loop(int lfd)
{
	struct sockaddr_storage	 peer;
	struct timespec		 pause = { 0, 10 * 1000 * 1000 };
	socklen_t		 len;
	pthread_t		 tid;
	char			 addr[INET6_ADDRSTRLEN];
	unsigned		 port;
	int			 cfd, rc;

	while (!baseline_stop) {
		len = sizeof(peer);
		cfd = accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				nanosleep(&pause, NULL);
			continue;
		}
		baseline_addr(&peer, addr, sizeof(addr), &port);
		fprintf(baseline_log, "[*] Accepted connection from %s:%u\n",
		    addr, port);
		rc = pthread_create(&tid, NULL, baseline_client,
		    (void *)(intptr_t)cfd);
		if (rc != 0) {
			fprintf(stderr, "baseline: cannot start a thread: %s\n",
			    strerror(rc));
			close(cfd);
			continue;
		}
		pthread_detach(tid);
	}
}

int
main(int argc, char **argv)
{
	struct baseline_opts	o;
	unsigned		port;
	int			lfd;

	baseline_parse(&o, argc, argv);
	if ((baseline_log = fopen(o.log, "ae")) == NULL)
		baseline_die(BASELINE_EXIT_LOG, 1, "cannot open", o.log);
	lfd = baseline_listen(&o, &port);
	baseline_main = pthread_self();
	baseline_signals();
	fprintf(baseline_log, "[*] Listening on %s:%u\n", o.bind, port);
	printf("ready port=%u\n", port);
	fflush(stdout);
	baseline_accept_loop(lfd);
	fflush(baseline_log);
	return (0);
}
