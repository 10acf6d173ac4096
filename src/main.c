/*
 * main.c: flags, start-up checks, then the master.
 *
 * Everything that can fail because of the operator (a flag, the log file,
 * the address) fails here, before any worker exists, with one clear line
 * and a documented exit status.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ackd.h"

/* Make sure descriptors 0-2 exist, so no file we open can become one. */
static void
main_std_fds(void)
{
	int	fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= STDERR_FILENO)
		;
	if (fd > STDERR_FILENO)
		close(fd);
}

/* Ignore the signals whose default action would kill us for an I/O error. */
static void
main_ignore_signals(void)
{
	struct sigaction	sa;

	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	/* a client gone before its ACK is an event, not a reason to die */
	sigaction(SIGPIPE, &sa, NULL);
	/* a log at its size limit fails the write (EFBIG): no ACK, no crash */
	sigaction(SIGXFSZ, &sa, NULL);
}

/* Describe where lfd really listens (the kernel's port for --port 0). */
static void
main_listen_name(int lfd, char *buf, size_t size)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (getsockname(lfd, (struct sockaddr *)&ss, &len) == -1)
		fatal(ACKD_EXIT_OSERR, "getsockname");
	net_format_addr(buf, size, (struct sockaddr *)&ss, len);
}

int
main(int argc, char **argv)
{
	struct ackd_config	cfg;
	char			err[512], listen[ACKD_ADDRSTRLEN];
	int			lfd, mfd, status;

	log_init(argv[0]);
	main_std_fds();
	config_defaults(&cfg);
	switch (config_parse(&cfg, argc, argv, err, sizeof(err))) {
	case CONFIG_HELP:
		config_usage(stdout);
		return (ACKD_EXIT_OK);
	case CONFIG_VERSION:
		printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return (ACKD_EXIT_OK);
	case CONFIG_ERROR:
		fprintf(stderr, "ackd: %s\n", err);
		return (ACKD_EXIT_USAGE);
	case CONFIG_RUN:
		break;
	}
	main_ignore_signals();
	systemd_init();
	if (msglog_open(cfg.log_file, cfg.log_format) == -1)
		fatal(ACKD_EXIT_CANTCREAT, "cannot open log file %s",
		    cfg.log_file != NULL ? cfg.log_file : "(stdout)");
	/* a socket systemd passed us, or our own */
	if ((lfd = systemd_listen_fd(err, sizeof(err))) == -1)
		fatalx(ACKD_EXIT_UNAVAILABLE, "%s", err);
	if (lfd == -2 && (lfd = net_listen(&cfg, err, sizeof(err))) == -1)
		fatalx(ACKD_EXIT_UNAVAILABLE, "%s", err);
	main_listen_name(lfd, listen, sizeof(listen));
	if ((mfd = metrics_listen(&cfg, err, sizeof(err))) == -1)
		fatalx(ACKD_EXIT_UNAVAILABLE, "%s", err);
	if (scoreboard_init() == -1)
		fatal(ACKD_EXIT_OSERR, "cannot map the scoreboard");
	/* a worker holds at most its queue, its threads and one accepting */
	if (peerlimit_init(cfg.max_per_ip, (size_t)cfg.queue +
	    (size_t)cfg.threads + 1) == -1)
		fatal(ACKD_EXIT_OSERR, "cannot map the per-address table");
	status = master_run(&cfg, lfd, listen, NULL);
	metrics_close();
	return (status);
}
