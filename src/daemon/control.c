/* SPDX-License-Identifier: MIT */
/*
 * control.c: the channel from each worker to its master.
 *
 * A worker that changed its slot of the scoreboard (it serves, it
 * reopened the log, it asks to be recycled) writes one byte on its end
 * of a stream socketpair made for it before its fork; the master sleeps
 * in ppoll() on its ends, and a readable end sends it to the scoreboard.
 * This used to be SIGUSR2, which now belongs to the operator (upgrade.c).
 *
 * Invariants:
 *   - the master holds one end per slot that has had a worker, and only
 *     the master holds it: each worker closes every master end right
 *     after its fork, and the master closes the worker's end as soon as
 *     the fork is done, so a worker's death reads as EOF on its end
 *     (nothing else keeps the other side open). The master then closes
 *     its end; reaping stays with SIGCHLD, which also gives the status.
 *   - a byte is news, not a count: the master reads all there is and
 *     looks at every slot once. A worker never waits to tell: its end is
 *     non-blocking, and a full buffer already holds news unread.
 *   - poll is level-triggered, so news written before the master sleeps
 *     wakes it at once: the wait stays race-free as with the signal.
 *   - every end is close-on-exec: a new master (upgrade.c) starts
 *     without them.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "ackd.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define CONTROL_NEWS_BYTE	'N'

static int	control_fd[ACKD_WORKERS_MAX];	/* valid once control_inited */
static int	control_inited;
static int	control_worker_fd = -1;	/* in a worker: our end */

/* Mark every slot as having no channel, once. */
static void
control_init(void)
{
	int	i;

	if (control_inited)
		return;
	for (i = 0; i < ACKD_WORKERS_MAX; i++)
		control_fd[i] = -1;
	control_inited = 1;
}

/* Close slot's master end, if open. */
static void
control_drop(int slot)
{
	if (control_fd[slot] != -1) {
		close(control_fd[slot]);
		control_fd[slot] = -1;
	}
}

/*
 * In the master, before forking slot's worker: a new channel for it. Its
 * master end replaces the slot's old one; returns the worker's end, or
 * -1 (errno set) if there is none.
 */
int
control_open(int slot)
{
	int	sv[2];

	control_init();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return (-1);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) == -1) {
		close(sv[0]);
		close(sv[1]);
		return (-1);
	}
	control_drop(slot);
	control_fd[slot] = sv[0];
	return (sv[1]);
}

/* In a new worker: keep our end wfd, close every master end. */
void
control_forked(int wfd)
{
	int	i;

	control_init();
	for (i = 0; i < ACKD_WORKERS_MAX; i++)
		if (control_fd[i] != -1 && control_fd[i] != wfd) {
			close(control_fd[i]);
			control_fd[i] = -1;
		}
	control_worker_fd = wfd;
}

/* In the master, after the fork (or its failure): drop the worker's end. */
void
control_spawned(int slot, int wfd, int forked)
{
	close(wfd);
	if (!forked)
		control_drop(slot);
}

/* In a worker: tell the master to look at the scoreboard. */
void
control_tell(void)
{
	char	c = CONTROL_NEWS_BYTE;
	ssize_t	n;

	if (control_worker_fd == -1)
		return;
	do {
		n = send(control_worker_fd, &c, 1, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	/* EAGAIN: unread news is there already; EPIPE: no master to tell */
}

/* Fill fds (room for max) with the master's open ends; their count. */
int
control_pollfds(struct pollfd *fds, int max)
{
	int	i, n = 0;

	control_init();
	for (i = 0; i < ACKD_WORKERS_MAX && n < max; i++)
		if (control_fd[i] != -1) {
			fds[n].fd = control_fd[i];
			fds[n].events = POLLIN;
			fds[n].revents = 0;
			n++;
		}
	return (n);
}

/* Read everything on one ready end: 1 if it held news; closes it at EOF. */
static int
control_read(int slot)
{
	char	buf[256];
	ssize_t	n;
	int	news = 0;

	for (;;) {
		n = read(control_fd[slot], buf, sizeof(buf));
		if (n > 0) {
			news = 1;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			control_drop(slot);	/* the worker is gone */
		return (news);
	}
}

/*
 * After the master's wait: read the n ends in fds that are ready. 1 if
 * any worker had news (look at the scoreboard), else 0.
 */
int
control_io(const struct pollfd *fds, int n)
{
	int	i, slot, news = 0;

	for (i = 0; i < n; i++) {
		if (fds[i].revents == 0)
			continue;
		for (slot = 0; slot < ACKD_WORKERS_MAX; slot++)
			if (control_fd[slot] == fds[i].fd)
				break;
		if (slot < ACKD_WORKERS_MAX && control_read(slot))
			news = 1;
	}
	return (news);
}
