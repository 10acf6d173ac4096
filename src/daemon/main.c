/* SPDX-License-Identifier: MIT */
/*
 * main.c: flags, start-up checks, then the master.
 *
 * Everything that can fail because of the operator (a flag, the user, the
 * pid file, the log file, the address) fails here, before any worker
 * exists, with one clear line and a documented exit status; with --daemon
 * that line still reaches the terminal (daemon.c). The order: resolve the
 * user, raise the descriptor limit (fdlimit.c: while we may still raise
 * the hard one, and before anything that holds descriptors), detach, lock
 * the pid file (first, so a second ackd changes nothing), open the log,
 * read the TLS certificate and key (tls_ctx.c), bind, drop privileges,
 * then the master. Once all of that succeeded, one line says what the
 * descriptor limit allows.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ackd.h"
#include "master.h"
#include "tls.h"

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

/*
 * Make path (a --tls-* file) absolute in buf (PATH_MAX bytes): SIGHUP
 * rereads it, in a daemon that runs in /.
 */
static void
main_abspath_tls(const char **path, char *buf)
{
	if (*path == NULL)
		return;
	if (daemon_abspath(*path, buf, PATH_MAX) == -1)
		fatal(ACKD_EXIT_USAGE, "cannot read %s", *path);
	*path = buf;
}

/*
 * Make the log and pid file paths absolute, in buffers that live as long
 * as the process: a daemon runs in /, and SIGHUP reopens the log by path;
 * and the TLS files, which it rereads.
 */
static void
main_abspaths(struct ackd_config *cfg)
{
	static char	log_path[PATH_MAX], pid_path[PATH_MAX];
	static char	tls_paths[3][PATH_MAX];

	main_abspath_tls(&cfg->tls_cert, tls_paths[0]);
	main_abspath_tls(&cfg->tls_key, tls_paths[1]);
	main_abspath_tls(&cfg->tls_client_ca, tls_paths[2]);

	if (cfg->log_file != NULL) {
		if (daemon_abspath(cfg->log_file, log_path,
		    sizeof(log_path)) == -1)
			fatal(ACKD_EXIT_CANTCREAT, "cannot open log file %s",
			    cfg->log_file);
		cfg->log_file = log_path;
	}
	if (cfg->pid_file != NULL) {
		if (daemon_abspath(cfg->pid_file, pid_path,
		    sizeof(pid_path)) == -1)
			fatal(ACKD_EXIT_CANTCREAT, "cannot open pid file %s",
			    cfg->pid_file);
		cfg->pid_file = pid_path;
	}
}

/*
 * Open the listening sockets and the metrics listener: those an upgrading
 * master passed (they come with LISTEN_FDS too, so they are asked for
 * first), else socket activation's, else our own. Exits on failure.
 */
static void
main_listen(const struct ackd_config *cfg)
{
	static int	ufds[ACKD_WORKERS_MAX * ACKD_LISTEN_FDS];
	char		err[512];
	int		n, nsets = 0, status;

	n = upgrade_listen_fds(ufds, (int)nitems(ufds), &nsets, err,
	    sizeof(err));
	if (n == -1)
		fatalx(ACKD_EXIT_SOFTWARE, "%s", err);
	if ((status = listen_open(cfg, ufds, n, nsets, err, sizeof(err))) != 0)
		fatalx(status, "%s", err);
	if (metrics_listen(cfg, upgrade_metrics_fd(), err, sizeof(err)) == -1)
		fatalx(ACKD_EXIT_UNAVAILABLE, "%s", err);
}

/* The master serves: the pid file, --daemon's parent, an old master. */
static void
main_ready(void)
{
	daemon_ready();
	upgrade_ready();
}

int
main(int argc, char **argv)
{
	struct ackd_config	cfg;
	char			err[512];
	int			status;

	/* first: nothing may keep a pointer into the memory it frees up */
	proctitle_init(argc, argv);
	diag_init(argv[0]);
	/* before anything opens a file: an upgrade's descriptors are at 3 on */
	upgrade_init(argc, argv);
	stdfds_ensure();
	conf_defaults(&cfg);
	switch (conf_parse(&cfg, argc, argv, err, sizeof(err))) {
	case CONF_HELP:
		conf_usage(stdout);
		return (ACKD_EXIT_OK);
	case CONF_VERSION:
		printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return (ACKD_EXIT_OK);
	case CONF_ERROR:
		diag_usage(err);
		return (ACKD_EXIT_USAGE);
	case CONF_RUN:
		break;
	}
	if (conf_syslog_warning(&cfg, err, sizeof(err)))
		diag_warnx("%s", err);
	main_ignore_signals();
	main_abspaths(&cfg);
	priv_init(&cfg);
	fdlimit_fit(&cfg);
	if (cfg.check)
		return (check_run(&cfg));
	/* before any fork: WATCHDOG_PID names the process systemd started */
	systemd_init();
	/* a new master from an upgrade is detached already */
	if (cfg.daemon && upgrade_from() == 0)
		daemon_start();
	else if (cfg.daemon)
		daemon_upgraded();
	/* after the fork: the lock belongs to the process that takes it */
	if (cfg.pid_file != NULL && upgrade_from() != 0)
		upgrade_pidfile(cfg.pid_file);
	else if (cfg.pid_file != NULL)
		pidfile_open(cfg.pid_file);
	if (msglog_open(&cfg, err, sizeof(err)) == -1)
		fatalx(ACKD_EXIT_CANTCREAT, "%s", err);
	/* the certificate and key: as root still, before any worker */
	if (tls_setup(&cfg, err, sizeof(err)) == -1)
		fatalx(ACKD_EXIT_USAGE, "%s", err);
	main_listen(&cfg);
	if (scoreboard_init() == -1)
		fatal(ACKD_EXIT_OSERR, "cannot map the scoreboard");
	/* a worker holds at most --max-connections (fdlimit_fit sized it) */
	if (peerlimit_init(cfg.max_per_ip, (size_t)cfg.max_connections) == -1)
		fatal(ACKD_EXIT_OSERR, "cannot map the per-address table");
	priv_drop();
	pidfile_check();
	msglog_check(&cfg);
	fdlimit_describe(&cfg, err, sizeof(err));
	diag_info("descriptors: %s", err);
	status = master_run(&cfg, listen_names(), main_ready);
	metrics_close();
	pidfile_remove();
	return (status);
}
