/* SPDX-License-Identifier: MIT */
/*
 * listen.c: the master's listening sockets, and which of them each
 * worker serves.
 *
 * Every --bind value is resolved at start (a name may give several
 * addresses; duplicates count once) and each address gets a socket, all
 * on the same port: with --port 0 the first socket's. The sockets form a
 * set. Without --reuseport there is one set, shared by every worker.
 *
 * With --reuseport there is one set per initial worker, each socket bound
 * with SO_REUSEPORT, so the kernel spreads connections over the sets. All
 * are bound at start, before the master drops its privileges: binding
 * later could fail (a port below 1024, or Linux refusing to join a group
 * bound by another user). The master keeps every set open for its whole
 * life and each set has an owner, the slot whose worker accepts on it:
 *
 *   - a worker respawned in its slot takes the slot's sets again;
 *   - a recycled worker's sets go to its successor (listen_give), and a
 *     worker stopped by SIGTTOU gives its sets to a successor that merges
 *     them with another worker's (master.c): a set is never closed while
 *     the daemon runs, because closing a SO_REUSEPORT socket resets the
 *     connections waiting in its backlog, and never left without a worker;
 *   - a worker in a slot that owns nothing (SIGTTIN beyond the initial
 *     count) takes a set from a worker that owns several, if one does,
 *     or else shares the set of slot (its slot modulo the set count).
 *
 * With one socket per worker a worker sleeps in a blocking accept(); with
 * more it polls them, so they are made non-blocking when a set has more
 * than one socket.
 *
 * --tls-port adds a TLS socket for each address on that port (with
 * --port 0 and --tls-port 0, each its own free port). Every set has the
 * same layout: listen_nplain plain sockets (none with --tls-only), then
 * as many TLS ones, the addresses in the same order. An upgrading
 * master's sets keep it (the new master runs with the same flags, so
 * it derives the same layout); a worker learns which of its sockets are
 * TLS from listen_worker_fds and marks each connection accepted on one
 * (conn.tls). Socket activation's sockets are plain: with them,
 * --tls-port is refused.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ackd.h"
#include "master.h"

struct listen_set {
	int	fd[ACKD_LISTEN_FDS];
	int	owner;		/* the slot that accepts on it; -1: every slot */
};

static struct listen_set	listen_sets[ACKD_WORKERS_MAX];
static int			listen_nsets;	/* sets open */
static int			listen_nfds;	/* sockets in each set */
static int			listen_nplain;	/* the first ones, plain */
static char			listen_namebuf[ACKD_LISTEN_NAMES];
static char			listen_tlsbuf[ACKD_LISTEN_NAMES];

/* Take the sockets socket activation passed; 0, or an exit status. */
static int
listen_from_systemd(const struct ackd_config *cfg, const int *fds, int n,
    char *err, size_t errsize)
{
	if (cfg->reuseport) {
		snprintf(err, errsize, "--reuseport: not with socket "
		    "activation, whose sockets are systemd's (allowed: leave "
		    "--reuseport out, or ReusePort= in the .socket unit)");
		return (ACKD_EXIT_USAGE);
	}
	if (cfg->tls_port >= 0) {
		snprintf(err, errsize, "--tls-port: not with socket "
		    "activation, whose sockets are plain (allowed: leave "
		    "--tls-port out, or start ackd without the .socket unit)");
		return (ACKD_EXIT_USAGE);
	}
	memcpy(listen_sets[0].fd, fds, (size_t)n * sizeof(*fds));
	listen_sets[0].owner = -1;
	listen_nsets = 1;
	listen_nfds = listen_nplain = n;
	return (0);
}

/*
 * Take the sockets an upgrading master handed over (upgrade.c): n of
 * them in nsets sets, set after set, as listen_all_fds gave them. Its
 * flags were ours, so the layout is the one they ask for: --reuseport's
 * sets go on, each to the slot of its index. 0, or an exit status.
 */
static int
listen_from_upgrade(const struct ackd_config *cfg, const int *fds, int n,
    int nsets, char *err, size_t errsize)
{
	int	k;

	if (nsets < 1 || nsets > ACKD_WORKERS_MAX || n % nsets != 0 ||
	    n / nsets > ACKD_LISTEN_FDS ||
	    (cfg->tls_port >= 0 && !cfg->tls_only && n / nsets % 2 != 0)) {
		snprintf(err, errsize, "upgrade: %d sockets do not make %d "
		    "sets", n, nsets);
		return (ACKD_EXIT_SOFTWARE);
	}
	listen_nsets = nsets;
	listen_nfds = n / nsets;
	/* the layout listen_bind made with these flags */
	listen_nplain = cfg->tls_only ? 0 : cfg->tls_port >= 0 ?
	    listen_nfds / 2 : listen_nfds;
	for (k = 0; k < nsets; k++) {
		memcpy(listen_sets[k].fd, fds + k * listen_nfds,
		    (size_t)listen_nfds * sizeof(*fds));
		listen_sets[k].owner = cfg->reuseport ? k : -1;
	}
	return (0);
}

/* Set the port of every address to port. */
static void
listen_set_port(struct sockaddr_storage *ss, int n, int port)
{
	int	i;

	for (i = 0; i < n; i++) {
		if (ss[i].ss_family == AF_INET)
			((struct sockaddr_in *)&ss[i])->sin_port =
			    htons((uint16_t)port);
		else
			((struct sockaddr_in6 *)&ss[i])->sin6_port =
			    htons((uint16_t)port);
	}
}

/* The port fd is bound to, or -1. */
static int
listen_port(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return (-1);
	if (ss.ss_family == AF_INET)
		return (ntohs(((struct sockaddr_in *)&ss)->sin_port));
	return (ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
}

/*
 * Resolve cfg's --bind values with port into ss/len (ACKD_LISTEN_MAX
 * each), *n addresses; 0, or an exit status with err set.
 */
static int
listen_resolve_all(const struct ackd_config *cfg, int port,
    struct sockaddr_storage *ss, socklen_t *len, int *n, char *err,
    size_t errsize)
{
	int	i, rc;

	*n = 0;
	for (i = 0; i < cfg->nbind; i++)
		if ((rc = net_resolve(cfg->bind[i], port, ss, len, n,
		    ACKD_LISTEN_MAX, err, errsize)) != 0)
			return (rc == ACKD_REFUSED ? ACKD_EXIT_USAGE :
			    ACKD_EXIT_UNAVAILABLE);
	return (0);
}

/*
 * Write the n addresses of ss/len into buf (ACKD_LISTEN_NAMES bytes),
 * as "ADDR:PORT,ADDR:PORT...".
 */
static void
listen_format(char *buf, const struct sockaddr_storage *ss,
    const socklen_t *len, int n)
{
	size_t	off = 0;
	int	i;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf[off++] = ',';
		off += addr_format(buf + off, ACKD_LISTEN_NAMES - off,
		    (const struct sockaddr *)&ss[i], len[i]);
	}
}

/*
 * --check: resolve cfg's --bind values as listen_open would, binding
 * nothing, and write "ADDR:PORT,..." into buf and, with --tls-port,
 * the TLS ones into tlsbuf (ACKD_LISTEN_NAMES bytes each; "" when
 * none). 0, or the exit status listen_open would give, with err set.
 */
int
listen_resolve(const struct ackd_config *cfg, char *buf, char *tlsbuf,
    char *err, size_t errsize)
{
	struct sockaddr_storage	ss[ACKD_LISTEN_MAX];
	socklen_t		len[ACKD_LISTEN_MAX];
	int			n, rc;

	buf[0] = tlsbuf[0] = '\0';
	if (!cfg->tls_only) {
		if ((rc = listen_resolve_all(cfg, cfg->port, ss, len, &n, err,
		    errsize)) != 0)
			return (rc);
		listen_format(buf, ss, len, n);
	}
	if (cfg->tls_port >= 0) {
		if ((rc = listen_resolve_all(cfg, cfg->tls_port, ss, len, &n,
		    err, errsize)) != 0)
			return (rc);
		listen_format(tlsbuf, ss, len, n);
	}
	return (0);
}

/*
 * Bind a socket on each of the n addresses ss/len into every set, at
 * index first on; port 0: the kernel's choice for the first socket is
 * every socket's. 0, or an exit status with err set.
 */
static int
listen_bind_group(const struct ackd_config *cfg, struct sockaddr_storage *ss,
    const socklen_t *len, int n, int first, int port, char *err,
    size_t errsize)
{
	int	i, k, fd;

	for (k = 0; k < listen_nsets; k++) {
		for (i = 0; i < n; i++) {
			fd = net_listen(cfg, (struct sockaddr *)&ss[i], len[i],
			    err, errsize);
			if ((listen_sets[k].fd[first + i] = fd) == -1)
				return (ACKD_EXIT_UNAVAILABLE);
			if (k > 0 || i > 0 || port != 0)
				continue;
			if ((port = listen_port(fd)) == -1) {
				snprintf(err, errsize, "getsockname: %s",
				    strerror(errno));
				return (ACKD_EXIT_OSERR);
			}
			listen_set_port(ss, n, port);
		}
	}
	return (0);
}

/*
 * Resolve cfg's --bind values and bind a socket on each address, once per
 * set, on --port (not with --tls-only), then on --tls-port (if given);
 * 0, or an exit status with err set.
 */
static int
listen_bind(const struct ackd_config *cfg, char *err, size_t errsize)
{
	struct sockaddr_storage	ss[ACKD_LISTEN_MAX];
	socklen_t		len[ACKD_LISTEN_MAX];
	int			i, k, n, rc;

	listen_nsets = cfg->reuseport ? cfg->workers : 1;
	listen_nfds = listen_nplain = 0;
	for (k = 0; k < listen_nsets; k++) {
		listen_sets[k].owner = cfg->reuseport ? k : -1;
		for (i = 0; i < ACKD_LISTEN_FDS; i++)
			listen_sets[k].fd[i] = -1;
	}
	if (!cfg->tls_only) {
		if ((rc = listen_resolve_all(cfg, cfg->port, ss, len, &n, err,
		    errsize)) != 0 || (rc = listen_bind_group(cfg, ss, len, n,
		    0, cfg->port, err, errsize)) != 0)
			return (rc);
		listen_nfds = listen_nplain = n;
	}
	if (cfg->tls_port < 0)
		return (0);
	if ((rc = listen_resolve_all(cfg, cfg->tls_port, ss, len, &n, err,
	    errsize)) != 0 || (rc = listen_bind_group(cfg, ss, len, n,
	    listen_nplain, cfg->tls_port, err, errsize)) != 0)
		return (rc);
	listen_nfds += n;
	return (0);
}

/*
 * Write "ADDR:PORT,ADDR:PORT..." for set 0's plain sockets into
 * listen_namebuf, and for its TLS ones into listen_tlsbuf.
 */
static int
listen_name(char *err, size_t errsize)
{
	struct sockaddr_storage	ss[ACKD_LISTEN_FDS];
	socklen_t		len[ACKD_LISTEN_FDS];
	int			i;

	for (i = 0; i < listen_nfds; i++) {
		len[i] = sizeof(ss[i]);
		if (getsockname(listen_sets[0].fd[i], (struct sockaddr *)&ss[i],
		    &len[i]) == -1) {
			snprintf(err, errsize, "getsockname: %s",
			    strerror(errno));
			return (ACKD_EXIT_OSERR);
		}
	}
	listen_format(listen_namebuf, ss, len, listen_nplain);
	listen_format(listen_tlsbuf, ss + listen_nplain, len + listen_nplain,
	    listen_nfds - listen_nplain);
	return (0);
}

/*
 * Take an upgrade's sockets (ufds: n of them in nsets sets; n <= 0: none),
 * or socket activation's, or bind our own.
 */
static int
listen_take(const struct ackd_config *cfg, int *ufds, int n, int nsets,
    char *err, size_t errsize)
{
	int	fds[ACKD_LISTEN_FDS];

	if (n > 0)
		return (listen_from_upgrade(cfg, ufds, n, nsets, err,
		    errsize));
	n = systemd_listen_fds(fds, ACKD_LISTEN_MAX, err, errsize);
	if (n == -1)
		return (ACKD_EXIT_UNAVAILABLE);
	if (n > 0)
		return (listen_from_systemd(cfg, fds, n, err, errsize));
	return (listen_bind(cfg, err, errsize));
}

/*
 * Open every listening socket cfg asks for, or take the ones an
 * upgrading master passed (ufds: n in nsets sets, from
 * upgrade_listen_fds; n <= 0: none) or socket activation did. 0, or the exit status
 * (ACKD_EXIT_USAGE for too many addresses, ACKD_EXIT_UNAVAILABLE for a
 * name that does not resolve or an address that cannot be bound) with
 * err set to one line.
 */
int
listen_open(const struct ackd_config *cfg, int *ufds, int n, int nsets,
    char *err, size_t errsize)
{
	int	k, i, rc;

	if ((rc = listen_take(cfg, ufds, n, nsets, err, errsize)) != 0)
		return (rc);
	/* one socket: a blocking accept(); more: poll and accept what is ready */
	for (k = 0; k < listen_nsets; k++)
		for (i = 0; i < listen_nfds; i++)
			if (net_set_nonblock(listen_sets[k].fd[i],
			    listen_nfds > 1) == -1) {
				snprintf(err, errsize, "cannot set the listening "
				    "socket's blocking mode: %s",
				    strerror(errno));
				return (ACKD_EXIT_OSERR);
			}
	return (listen_name(err, errsize));
}

/*
 * Every plain address listened on: "ADDR:PORT" joined by commas, first
 * first; "" with --tls-only.
 */
const char *
listen_names(void)
{
	return (listen_namebuf);
}

/* Every TLS address listened on, the same way; "" without --tls-port. */
const char *
listen_tls_names(void)
{
	return (listen_tlsbuf);
}

/*
 * Append set k's sockets to fds (n of max used) and, if tls is not NULL,
 * whether each is a TLS one to tls; the new count.
 */
static int
listen_append(int k, int *fds, unsigned char *tls, int n, int max)
{
	int	i;

	for (i = 0; i < listen_nfds && n < max; i++) {
		if (tls != NULL)
			tls[n] = i >= listen_nplain;
		fds[n++] = listen_sets[k].fd[i];
	}
	return (n);
}

/*
 * The sockets the worker about to start in slot serves, into fds (at
 * most max), and whether each is a TLS one, into tls (as many); their
 * count. A slot that owns no set takes one from a slot that owns
 * several, or else shares one (see the top of this file).
 */
int
listen_worker_fds(int slot, int *fds, unsigned char *tls, int max)
{
	int	k, n = 0, owner = -1;

	for (k = 0; k < listen_nsets; k++)
		if (listen_sets[k].owner == slot)
			n = listen_append(k, fds, tls, n, max);
	if (n > 0 || listen_nsets == 0)
		return (n);
	if (listen_sets[0].owner == -1)
		return (listen_append(0, fds, tls, 0, max));
	for (k = 0; k < listen_nsets && owner == -1; k++)
		if (listen_owns(listen_sets[k].owner) > 1)
			owner = listen_sets[k].owner;
	if (owner == -1)
		return (listen_append(slot % listen_nsets, fds, tls, 0, max));
	for (k = 0; k < listen_nsets; k++)
		if (listen_sets[k].owner == owner)
			break;
	/* its old worker goes on accepting there too until it stops */
	listen_sets[k].owner = slot;
	return (listen_append(k, fds, tls, 0, max));
}

/* Is fd among the n in fds? */
static int
listen_among(int fd, const int *fds, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		if (fds[i] == fd)
			return (1);
	return (0);
}

/*
 * In a new worker: close the master's listening sockets that are not
 * among its n fds, so that a set lives only in the master and its workers.
 */
void
listen_close_others(const int *fds, int n)
{
	int	k, i;

	for (k = 0; k < listen_nsets; k++)
		if (!listen_among(listen_sets[k].fd[0], fds, n))
			for (i = 0; i < listen_nfds; i++)
				close(listen_sets[k].fd[i]);
}

/* How many sets slot owns (0 when every worker shares one). */
int
listen_owns(int slot)
{
	int	k, n = 0;

	for (k = 0; k < listen_nsets; k++)
		if (listen_sets[k].owner == slot)
			n++;
	return (n);
}

/* Hand the sets slot from owns to slot to, for to's next worker. */
void
listen_give(int from, int to)
{
	int	k;

	for (k = 0; k < listen_nsets; k++)
		if (listen_sets[k].owner == from)
			listen_sets[k].owner = to;
}

/* Are connections waiting in the backlog of any listening socket? */
int
listen_backlog(void)
{
	struct pollfd	pfd[ACKD_LISTEN_FDS];
	int		k, i;

	for (k = 0; k < listen_nsets; k++) {
		for (i = 0; i < listen_nfds; i++) {
			pfd[i].fd = listen_sets[k].fd[i];
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)listen_nfds, 0) > 0)
			for (i = 0; i < listen_nfds; i++)
				if (pfd[i].revents & POLLIN)
					return (1);
	}
	return (0);
}

/*
 * Every listening socket, set after set, into fds (room for max), for a
 * new master (upgrade.c); their count, with *nsets the number of sets.
 */
int
listen_all_fds(int *fds, int max, int *nsets)
{
	int	k, n = 0;

	for (k = 0; k < listen_nsets; k++)
		n = listen_append(k, fds, NULL, n, max);
	*nsets = listen_nsets;
	return (n);
}

/*
 * Close the master's copies of every listening socket (at shutdown): the
 * workers' copies keep them open until they stop accepting.
 */
void
listen_close(void)
{
	int	k, i;

	for (k = 0; k < listen_nsets; k++)
		for (i = 0; i < listen_nfds; i++)
			close(listen_sets[k].fd[i]);
	listen_nsets = 0;
}
