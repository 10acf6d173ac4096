/* SPDX-License-Identifier: MIT */
/*
 * priv.c: --user and --group, least privilege.
 *
 * The names are resolved at start, before anything is bound or opened,
 * so a typo fails at once with nothing touched. The drop comes later, in
 * the master, once it has bound the socket (ports below 1024 need root),
 * opened the log and locked the pid file (in directories only root may
 * write), and before it forks any worker: master and workers then all run
 * as the user. Order matters: the supplementary groups and the group can
 * be changed only while we are still root, so they go first, the user
 * last. Then the drop is verified, down to root being out of reach.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ackd.h"
#include "master.h"

/* (uid_t)-1 and (gid_t)-1 mean "unchanged" to the set*id calls */
#define PRIV_ID_MAX	((unsigned long long)(uid_t)-1 - 1)

struct priv_target {
	int	user;			/* --user was given */
	int	group;			/* --group was given */
	uid_t	uid;
	gid_t	gid;			/* --group's, else the user's */
	char	name[ACKD_NAME_MAX + 1]; /* for initgroups; "" if unknown */
	char	what[ACKD_NAME_MAX + 16]; /* "user NAME" or "group NAME" */
};

static struct priv_target	priv_want;

/* Parse s as a decimal user or group id: 0, or -1 if it is not one. */
static int
priv_number(const char *s, unsigned long long *v)
{
	char	*end;

	if (s[0] < '0' || s[0] > '9')
		return (-1);
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || *v > PRIV_ID_MAX)
		return (-1);
	return (0);
}

/* Resolve --user (a name, or a number): its uid, gid and name. */
static void
priv_find_user(const char *user, int have_group)
{
	struct passwd		*pw;
	unsigned long long	 n;
	int			 numeric;

	numeric = priv_number(user, &n) == 0;
	pw = getpwnam(user);
	if (pw == NULL && numeric)
		pw = getpwuid((uid_t)n);
	if (pw != NULL) {
		priv_want.uid = pw->pw_uid;
		priv_want.gid = pw->pw_gid;
		if ((size_t)snprintf(priv_want.name, sizeof(priv_want.name),
		    "%s", pw->pw_name) >= sizeof(priv_want.name))
			fatalx(ACKD_EXIT_USAGE, "--user: '%s' has a name too "
			    "long for ackd", user);
	} else if (numeric && have_group)
		priv_want.uid = (uid_t)n;	/* no name: no groups of its own */
	else if (numeric)
		fatalx(ACKD_EXIT_USAGE, "--user: uid %s has no entry in the "
		    "user database, so no group to run as (allowed: add "
		    "--group)", user);
	else
		fatalx(ACKD_EXIT_USAGE, "--user: '%s' is not a user on this "
		    "system", user);
	priv_want.user = 1;
}

/* Resolve --group (a name, or a number): its gid. */
static void
priv_find_group(const char *group)
{
	struct group		*gr;
	unsigned long long	 n;

	gr = getgrnam(group);
	if (gr != NULL)
		priv_want.gid = gr->gr_gid;
	else if (priv_number(group, &n) == 0)
		priv_want.gid = (gid_t)n;	/* a gid needs no entry */
	else
		fatalx(ACKD_EXIT_USAGE, "--group: '%s' is not a group on this "
		    "system", group);
	priv_want.group = 1;
}

/* Are we already the user and group asked for? */
static int
priv_already(void)
{
	if (priv_want.user && (getuid() != priv_want.uid ||
	    geteuid() != priv_want.uid))
		return (0);
	return (getgid() == priv_want.gid && getegid() == priv_want.gid);
}

/*
 * Resolve --user and --group (cfg->user, cfg->group) at start: an unknown
 * name exits 64; asking for another user or group when not root exits 77.
 */
void
priv_init(const struct ackd_config *cfg)
{
	if (cfg->user != NULL)
		priv_find_user(cfg->user, cfg->group != NULL);
	if (cfg->group != NULL)
		priv_find_group(cfg->group);
	if (!priv_want.user && !priv_want.group)
		return;
	snprintf(priv_want.what, sizeof(priv_want.what), "%s %s",
	    priv_want.user ? "user" : "group",
	    priv_want.user ? cfg->user : cfg->group);
	if (geteuid() != 0 && !priv_already())
		fatalx(ACKD_EXIT_NOPERM, "cannot become %s: only root can "
		    "change the user or group (running as uid %ld)",
		    priv_want.what, (long)geteuid());
}

/*
 * Give the log file to the user we become, so that a SIGHUP can still
 * reopen it at its path; and to --group if one was given. Without
 * --group the file keeps its group: in a setgid log directory such as
 * /var/log/ackd (ackd:adm 2750) that is adm, the group that reads logs,
 * as for the files logrotate makes there (create 0640 ackd adm). Failing
 * that, the daemon runs on: only a reopen of that same file would fail,
 * and it would say so.
 */
static void
priv_give_log(void)
{
	uid_t	uid = priv_want.user ? priv_want.uid : (uid_t)-1;
	gid_t	gid = priv_want.group ? priv_want.gid : (gid_t)-1;

	if (msglog_chown(uid, gid) == -1)
		diag_warn("cannot give the log file to %s; reopening it on "
		    "SIGHUP may fail", priv_want.what);
}

/* Become the target: supplementary groups, group, user, in that order. */
static void
priv_become(void)
{
	if (priv_want.user && priv_want.name[0] != '\0') {
		if (initgroups(priv_want.name, priv_want.gid) == -1)
			fatal(ACKD_EXIT_NOPERM, "cannot set the groups of %s",
			    priv_want.what);
	} else if (setgroups(1, &priv_want.gid) == -1)
		fatal(ACKD_EXIT_NOPERM, "cannot set the groups of %s",
		    priv_want.what);
	if (setgid(priv_want.gid) == -1)
		fatal(ACKD_EXIT_NOPERM, "cannot change to group %ld",
		    (long)priv_want.gid);
	if (priv_want.user && setuid(priv_want.uid) == -1)
		fatal(ACKD_EXIT_NOPERM, "cannot change to %s", priv_want.what);
}

/* Refuse to run unless the drop stuck and root is out of reach. */
static void
priv_verify(void)
{
	if (getgid() != priv_want.gid || getegid() != priv_want.gid ||
	    (priv_want.user && (getuid() != priv_want.uid ||
	    geteuid() != priv_want.uid)))
		fatalx(ACKD_EXIT_NOPERM, "the change to %s did not stick "
		    "(uid %ld/%ld, gid %ld/%ld)", priv_want.what, (long)getuid(),
		    (long)geteuid(), (long)getgid(), (long)getegid());
	if (!priv_want.user || priv_want.uid == 0)
		return;
	/* each of these must fail; one that succeeds leaves us root */
	if (setuid(0) != -1 || seteuid(0) != -1 ||
	    (priv_want.gid != 0 && (setgid(0) != -1 || setegid(0) != -1)))
		fatalx(ACKD_EXIT_NOPERM, "could become root again after the "
		    "change to %s: refusing to run", priv_want.what);
}

/*
 * In the master, after binding and opening the log and pid files, before
 * any worker: drop to --user/--group (exit 77 if that fails or does not
 * stick). As root without --user, warn.
 */
void
priv_drop(void)
{
	if ((priv_want.user || priv_want.group) && geteuid() == 0) {
		priv_give_log();
		priv_become();
		priv_verify();
	}
	if (geteuid() == 0 && !priv_want.user)
		diag_warnx("running as root; consider --user");
}

/*
 * --check: become --user/--group as priv_drop would (exit 77 if that
 * fails or does not stick), giving the user nothing, warning of nothing:
 * what is checked next is checked as the daemon will run.
 */
void
priv_switch(void)
{
	if ((priv_want.user || priv_want.group) && geteuid() == 0) {
		priv_become();
		priv_verify();
	}
}
