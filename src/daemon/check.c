/* SPDX-License-Identifier: MIT */
/*
 * check.c: --check, the start-up's checks without the start, for
 * ExecStartPre= and reload scripts (as nginx -t).
 *
 * main has parsed the flags, resolved --user and --group (64, 77) and
 * raised the descriptor limit to fit --max-connections (71), as for a
 * start (the limit is this process's own: nothing outside changes).
 * Then, in the start's order, so that the first failure and its status
 * are the ones the start would meet: the pid file (69 if a running ackd
 * holds it, 73 if it cannot be made), the log (73), the --bind names (69
 * if one does not resolve). On success it prints what would run on
 * standard output, the descriptor limit and --max-connections included,
 * and exits 0.
 *
 * It leaves nothing behind and changes nothing: no pid file or log file
 * is made, nothing is locked, emptied or given to the user. A log that
 * exists is opened for appending without blocking and closed at once;
 * one that does not, and a pid file that does not, are checked through
 * their directory. All of this as who we are, root usually, since the
 * start opens both before it drops its privileges.
 *
 * It binds nothing. A running instance holds the port, so a bind would
 * fail exactly when --check runs before a reload; an address that
 * resolves but cannot be bound (not local, in use by another program)
 * is therefore found only by the start, which exits 69.
 *
 * Then, with --user or --group, it becomes the user as the master would
 * (77 if that fails) and warns of what would go wrong later, as that
 * user, with the very warnings the start gives after its drop: a pid file
 * it could not remove at exit (pidfile_check), a log directory where a
 * reopen after a rename could not create the new file (msglog_check).
 * Those are warnings on standard error, not failures: the start would
 * succeed.
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
#include "tls.h"
#include "parse.h"

/*
 * Could the start open the log file at path (appending, creating it)?
 * Exit 73 as it would if not; make nothing, write nothing.
 */
static void
check_log_file(const char *path)
{
	struct stat	st;
	char		dir[PATH_MAX];
	int		fd;

	if (stat(path, &st) == -1) {
		parse_dir(path, dir, sizeof(dir));
		if (errno != ENOENT || access(dir, W_OK | X_OK) == -1)
			fatal(ACKD_EXIT_CANTCREAT, "cannot open log file %s",
			    path);
		return;
	}
	if (!S_ISREG(st.st_mode))
		fatalx(ACKD_EXIT_CANTCREAT, "log file %s is not a regular file",
		    path);
	/* O_NONBLOCK: should it have become a FIFO meanwhile, never wait */
	fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1)
		fatal(ACKD_EXIT_CANTCREAT, "cannot open log file %s", path);
	close(fd);
}

/* Could the start open the log cfg asks for? Exit 73 as it would if not. */
static void
check_log(const struct ackd_config *cfg)
{
	char	err[512];

	if (cfg->syslog_facility != 0) {
		/* a datagram socket's connect sends nothing */
		if (msglog_open(cfg, err, sizeof(err)) == -1)
			fatalx(ACKD_EXIT_CANTCREAT, "%s", err);
	} else if (cfg->log_file != NULL)
		check_log_file(cfg->log_file);
}

/*
 * As the user the daemon would run as: warn of what it could not do
 * later, with the start's own warnings (pidfile_check, msglog_check).
 */
static void
check_as_user(const struct ackd_config *cfg)
{
	if (cfg->user != NULL || cfg->group != NULL)
		priv_switch();
	pidfile_check();
	msglog_check(cfg);
}

/* Print what would run, one "what: value" line each. */
static void
check_print(const struct ackd_config *cfg, const char *listen,
    const char *tls)
{
	char	fds[160];

	fdlimit_describe(cfg, fds, sizeof(fds));
	printf("listen: %s\n", listen[0] != '\0' ? listen : "none");
	if (tls[0] != '\0')
		printf("tls listen: %s, certificate %s, key %s%s%s\n", tls,
		    cfg->tls_cert, cfg->tls_key, cfg->tls_client_ca != NULL ?
		    ", client CA " : "", cfg->tls_client_ca != NULL ?
		    cfg->tls_client_ca : "");
	printf("workers: %d, threads: %d, queue: %d\n", cfg->workers,
	    cfg->threads, cfg->queue);
	printf("descriptors: %s\n", fds);
	if (cfg->syslog_facility != 0)
		printf("log: syslog %s, %s\n", msglog_syslog_path(),
		    cfg->log_format == ACKD_LOG_JSON ? "json" : "text");
	else
		printf("log: %s, %s\n", cfg->log_file != NULL ? cfg->log_file :
		    "standard output", cfg->log_format == ACKD_LOG_JSON ?
		    "json" : "text");
	if (cfg->metrics[0] != '\0')
		printf("metrics: %s\n", cfg->metrics);
	if (cfg->pid_file != NULL)
		printf("pid file: %s\n", cfg->pid_file);
	printf("user: %s, group: %s\n", cfg->user != NULL ? cfg->user :
	    "unchanged", cfg->group != NULL ? cfg->group : cfg->user != NULL ?
	    "the user's" : "unchanged");
	printf("ackd: the start-up checks pass\n");
}

/*
 * --check, once main has parsed the flags and resolved the user and
 * group: check the rest as the start would, print what would run.
 * Returns 0; a failure exits with the start's status.
 */
int
check_run(const struct ackd_config *cfg)
{
	char	listen[ACKD_LISTEN_NAMES], tls[ACKD_LISTEN_NAMES], err[512];
	int	status;

	if (cfg->pid_file != NULL)
		pidfile_probe(cfg->pid_file);
	check_log(cfg);
	if ((status = listen_resolve(cfg, listen, tls, err, sizeof(err))) != 0)
		fatalx(status, "%s", err);
	/* as the start reads them: before the privilege drop */
	if (tls_setup(cfg, err, sizeof(err)) == -1)
		fatalx(ACKD_EXIT_USAGE, "%s", err);
	check_as_user(cfg);
	check_print(cfg, listen, tls);
	return (ACKD_EXIT_OK);
}
