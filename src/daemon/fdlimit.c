/* SPDX-License-Identifier: MIT */
/*
 * fdlimit.c: the descriptor limit (RLIMIT_NOFILE) and --max-connections.
 *
 * Every connection a worker holds costs a descriptor: queued, being
 * served, or waiting in the event stage for its bytes. A worker that
 * runs out fails accept() with EMFILE, and a slow client could then hold
 * the service with a few hundred connections (the default soft limit is
 * often 1024). So at start, before it binds, forks or drops privileges,
 * the master raises its soft limit to fit the connections a worker may
 * hold, and its workers inherit it. The limit is per process: each worker
 * has all of it, and --max-connections is per worker.
 *
 * The policy, decided by fdlimit_plan (pure, unit-tested):
 * - --max-connections N given: a worker needs N + FDLIMIT_OVERHEAD. The
 *   soft limit is raised to that if it is lower; past the hard limit the
 *   hard one too, which only root (CAP_SYS_RESOURCE) may do, and not past
 *   the kernel's ceiling (fs.nr_open). If that fails, the start fails:
 *   exit 71, the system's resources, not 64: the same flag is right on a
 *   host with a higher limit. The line names the flag, what was needed
 *   and what the limit allows.
 * - not given: the soft limit is raised to the hard one, at most
 *   ACKD_CONNECTIONS_MAX (the hard limit may be "unlimited"; the kernel
 *   refuses more than fs.nr_open, 1048576 by default), and N is what that
 *   leaves: the soft limit less FDLIMIT_OVERHEAD, at most
 *   ACKD_CONNECTIONS_MAX. Should the raise fail, N is sized from the soft
 *   limit as it is, with a warning.
 * The soft limit is never lowered: the master holds more descriptors than
 * a worker (every listener and pipe, the metrics scrapers), and the limit
 * it started with is all it was ever promised.
 *
 * After fdlimit_fit, cfg->max_connections is the per-worker limit, never
 * 0. fdlimit_describe says what was got, for the start's diagnostics line
 * and for --check: "limit L, --max-connections N per worker".
 */
#include "config.h"

#include <sys/resource.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ackd.h"
#include "master.h"

/* N was sized from the limit (not given); for fdlimit_describe. */
static int	fdlimit_sized;

/* The limit as a number; "unlimited" as FDLIMIT_INFINITY. */
static unsigned long long
fdlimit_from(rlim_t v)
{
	if (v == RLIM_INFINITY)
		return (FDLIMIT_INFINITY);
	return ((unsigned long long)v);
}

/* A number as a limit; FDLIMIT_INFINITY as "unlimited". */
static rlim_t
fdlimit_to(unsigned long long v)
{
	if (v == FDLIMIT_INFINITY)
		return (RLIM_INFINITY);
	return ((rlim_t)v);
}

/* fdlimit_plan for asked connections: soft (and hard) raised to fit. */
static void
fdlimit_plan_given(int asked, struct fdlimit_plan *plan)
{
	plan->need = (unsigned long long)asked + FDLIMIT_OVERHEAD;
	plan->max_connections = asked;
	if (plan->soft >= plan->need)
		return;
	plan->soft = plan->need;
	if (plan->hard < plan->need)
		plan->hard = plan->need;
	plan->set = 1;
}

/* fdlimit_plan sizing: soft raised to hard, capped; N what that leaves. */
static int
fdlimit_plan_sized(struct fdlimit_plan *plan)
{
	unsigned long long	target, usable;

	target = plan->hard < ACKD_CONNECTIONS_MAX ? plan->hard :
	    ACKD_CONNECTIONS_MAX;
	if (plan->soft < target) {
		plan->soft = target;
		plan->set = 1;
	}
	usable = plan->soft < ACKD_CONNECTIONS_MAX ? plan->soft :
	    ACKD_CONNECTIONS_MAX;
	plan->need = FDLIMIT_OVERHEAD + 1;
	if (usable < plan->need)
		return (-1);
	plan->max_connections = (int)(usable - FDLIMIT_OVERHEAD);
	return (0);
}

/*
 * The plan for --max-connections asked (0: size it) under the limits
 * soft and hard (FDLIMIT_INFINITY: unlimited): the limits to set, and the
 * per-worker connections. Returns 0, or -1 if not one connection fits
 * (only when sizing: asked ones are fitted by raising the limits, which
 * may then fail). Pure.
 */
int
fdlimit_plan(unsigned long long soft, unsigned long long hard, int asked,
    struct fdlimit_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->soft = soft;
	plan->hard = hard;
	if (asked > 0) {
		fdlimit_plan_given(asked, plan);
		return (0);
	}
	return (fdlimit_plan_sized(plan));
}

/*
 * "limit L, --max-connections N per worker", and how N came about; the
 * length, as snprintf. Pure.
 */
int
fdlimit_format(char *buf, size_t size, unsigned long long limit,
    int max_connections, int sized)
{
	char	num[32];

	if (limit == FDLIMIT_INFINITY)
		snprintf(num, sizeof(num), "unlimited");
	else
		snprintf(num, sizeof(num), "%llu", limit);
	return (snprintf(buf, size, "limit %s, --max-connections %d per "
	    "worker%s", num, max_connections, sized ? " (sized from the "
	    "limit)" : ""));
}

/* Set the limits plan asks for; 0, or -1 with errno. */
static int
fdlimit_set(const struct fdlimit_plan *plan)
{
	struct rlimit	rl;

	rl.rlim_cur = fdlimit_to(plan->soft);
	rl.rlim_max = fdlimit_to(plan->hard);
	return (setrlimit(RLIMIT_NOFILE, &rl));
}

/*
 * --max-connections asked does not fit under the hard limit hard, which
 * could not be raised (errno says why): say so in one line, exit 71.
 */
static void __attribute__((noreturn))
fdlimit_refuse(const struct fdlimit_plan *plan, unsigned long long hard,
    int asked)
{
	char			buf[128], allows[32], alt[64];
	const char		*why = diag_strerror(errno, buf, sizeof(buf));
	unsigned long long	top;

	if (hard == FDLIMIT_INFINITY)
		snprintf(allows, sizeof(allows), "fewer (fs.nr_open)");
	else
		snprintf(allows, sizeof(allows), "%llu", hard);
	top = hard < ACKD_CONNECTIONS_MAX + FDLIMIT_OVERHEAD ? hard :
	    ACKD_CONNECTIONS_MAX + FDLIMIT_OVERHEAD;
	alt[0] = '\0';
	if (top > FDLIMIT_OVERHEAD && top < plan->need)
		snprintf(alt, sizeof(alt), "--max-connections up to %llu, or ",
		    top - FDLIMIT_OVERHEAD);
	fatalx(ACKD_EXIT_OSERR, "--max-connections %d: a worker needs %llu "
	    "descriptors (%d of its own), but the limit allows %s and cannot "
	    "be raised: %s (allowed: %sa higher hard limit: ulimit -Hn, "
	    "LimitNOFILE=, fs.nr_open)", asked, plan->need, FDLIMIT_OVERHEAD,
	    allows, why, alt);
}

/* A limit with no room for one connection (need at least): exit 71. */
static void __attribute__((noreturn))
fdlimit_too_small(unsigned long long limit, unsigned long long need)
{
	fatalx(ACKD_EXIT_OSERR, "the descriptor limit %llu leaves no "
	    "connection to a worker after %d of its own (allowed: a limit of "
	    "at least %llu: ulimit -n, LimitNOFILE=)", limit, FDLIMIT_OVERHEAD,
	    need);
}

/*
 * At start, before binding, forking or dropping privileges: raise the
 * descriptor limit to fit cfg->max_connections, or size it from the
 * limit when it is 0 (see above). Exits 71 when it cannot.
 */
void
fdlimit_fit(struct ackd_config *cfg)
{
	struct rlimit		rl;
	struct fdlimit_plan	plan;
	unsigned long long	soft, hard;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal(ACKD_EXIT_OSERR, "cannot read the descriptor limit");
	soft = fdlimit_from(rl.rlim_cur);
	hard = fdlimit_from(rl.rlim_max);
	fdlimit_sized = cfg->max_connections == 0;
	if (fdlimit_plan(soft, hard, cfg->max_connections, &plan) == -1)
		fdlimit_too_small(plan.soft, plan.need);
	if (!plan.set || fdlimit_set(&plan) == 0) {
		cfg->max_connections = plan.max_connections;
		return;
	}
	if (!fdlimit_sized)
		fdlimit_refuse(&plan, hard, cfg->max_connections);
	diag_warn("cannot raise the descriptor limit from %llu to %llu; "
	    "sizing --max-connections from %llu", soft, plan.soft, soft);
	/* as it is: the hard limit out of reach */
	if (fdlimit_plan(soft, soft, 0, &plan) == -1)
		fdlimit_too_small(soft, plan.need);
	cfg->max_connections = plan.max_connections;
}

/*
 * What fdlimit_fit got, for the start's diagnostics and --check: "limit
 * L, --max-connections N per worker".
 */
void
fdlimit_describe(const struct ackd_config *cfg, char *buf, size_t size)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		snprintf(buf, size, "--max-connections %d per worker",
		    cfg->max_connections);
		return;
	}
	fdlimit_format(buf, size, fdlimit_from(rl.rlim_cur),
	    cfg->max_connections, fdlimit_sized);
}
