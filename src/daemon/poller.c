/* SPDX-License-Identifier: MIT */
/*
 * poller.c: the event stage's eyes, which of its waiting sockets became
 * readable. epoll where there is one (Linux), poll() elsewhere; both are
 * built where epoll exists and poller_init picks one, so the unit tests
 * run both. Thousands of connections wait and few are readable at once,
 * which is what epoll is for: its cost follows the events, poll()'s the
 * number of descriptors watched.
 *
 * One-shot: poller_arm watches an fd for one readability (data, a FIN or
 * an error; poller_arm_write, for one writability). When it fires, poller_wait reports the fd's data and the fd
 * is no longer watched, so the stage can hand the connection to a handler
 * thread without it firing again while the thread reads; the stage arms
 * it again when it comes back. epoll: EPOLLONESHOT (the fd stays in the
 * set, disabled, and is re-enabled by EPOLL_CTL_MOD). poll: the fd is in
 * the pollfd array from poller_arm until it fires or is disarmed.
 *
 * *registered is a word the caller keeps with each fd and does not
 * interpret: 0 for an fd this poller has not seen (a new connection), and
 * the poller sets it. epoll: 1 once the fd is in the epoll set, so that
 * arming again is EPOLL_CTL_MOD (one system call, not DEL then ADD).
 * poll: the fd's index in the array while it is armed, 0 otherwise, so
 * that disarm is O(1): the last entry moves into the hole and its own
 * word is updated. So under poll the word must stay at the same address
 * from poller_arm until the fd fires or is disarmed (keep it with the
 * connection's parked state, not in a copy). An fd closed by its owner
 * leaves the epoll set by itself: its number can come back as a new
 * connection whose word is 0. A close without poller_disarm is a bug under
 * poll (the array would watch a stranger); a closed fd there fires as
 * POLLNVAL and is reported, so it is not watched forever.
 *
 * Capacity: poll's array holds capacity armed fds, and poller_arm refuses
 * one more (ENOSPC) until one fires or is disarmed. epoll has no such
 * array (its set is the kernel's); capacity only sizes one wait's batch,
 * and the stage bounds its connections itself (--max-connections).
 *
 * Wake-up: other threads (a handler handing a connection back) and signal
 * handlers call poller_wake, which writes to an eventfd (or a pipe). Its
 * read end is watched, level-triggered, beside the armed fds; poller_wait
 * drains it and returns, reporting no entry for it, so a wake-up is a
 * return with whatever else fired (maybe nothing).
 *
 * Threads: poller_wake may be called from any thread or a signal handler;
 * every other call from one thread at a time (the stage's). No allocation
 * after poller_init.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef HAVE_SYS_EPOLL_H
#include <sys/epoll.h>
#endif
#ifdef HAVE_SYS_EVENTFD_H
#include <sys/eventfd.h>
#endif

#include "ackd.h"
#include "worker.h"

#ifdef HAVE_SYS_EPOLL_H
/* epoll's data for the wake fd: an address no caller's data can have. */
static char	poller_wake_token;
#endif

/* Whether poller_init can choose epoll. */
#ifdef HAVE_SYS_EPOLL_H
#define POLLER_HAVE_EPOLL	1
#else
#define POLLER_HAVE_EPOLL	0
#endif

/* The most epoll events one poller_wait takes. */
#define POLLER_BATCH	1024

/* What readability is, for poll(): data, or the peer's FIN. */
#ifdef POLLRDHUP
#define POLLER_POLLIN	(POLLIN | POLLRDHUP)
#else
#define POLLER_POLLIN	POLLIN
#endif

/* Make fd non-blocking and close-on-exec; 0 or -1. */
static int
poller_fd_flags(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return (-1);
	if ((fl = fcntl(fd, F_GETFD)) < 0 ||
	    fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return (-1);
	return (0);
}

/* Open the wake-up channel: an eventfd, else a pipe; 0 or -1. */
static int
poller_wake_open(struct poller *p)
{
	int	fds[2];

#ifdef HAVE_SYS_EVENTFD_H
	if ((p->wake_rd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0) {
		p->wake_wr = p->wake_rd;
		return (0);
	}
#endif
	if (pipe(fds) < 0)
		return (-1);
	p->wake_rd = fds[0];
	p->wake_wr = fds[1];
	return (poller_fd_flags(fds[0]) < 0 || poller_fd_flags(fds[1]) < 0 ?
	    -1 : 0);
}

/* Set up the epoll backend: its set, with the wake fd in it; 0 or -1. */
static int
poller_epoll_init(struct poller *p)
{
#ifdef HAVE_SYS_EPOLL_H
	struct epoll_event	ev = { .events = EPOLLIN };

	p->nevents = p->capacity < POLLER_BATCH ? p->capacity + 1 :
	    POLLER_BATCH;
	if ((p->events = calloc(p->nevents, sizeof(*p->events))) == NULL)
		return (-1);
	if ((p->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return (-1);
	ev.data.ptr = &poller_wake_token;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wake_rd, &ev) < 0)
		return (-1);
	p->backend = POLLER_EPOLL;
	return (0);
#else
	(void)p;
	errno = ENOSYS;
	return (-1);
#endif
}

/* Set up the poll backend: arrays of capacity + 1, the wake fd first. */
static int
poller_poll_init(struct poller *p)
{
	size_t	n = (size_t)p->capacity + 1;

	if ((p->pfd = calloc(n, sizeof(*p->pfd))) == NULL ||
	    (p->data = calloc(n, sizeof(*p->data))) == NULL ||
	    (p->reg = calloc(n, sizeof(*p->reg))) == NULL)
		return (-1);
	p->pfd[0].fd = p->wake_rd;
	p->pfd[0].events = POLLIN;
	p->npfd = 1;
	p->backend = POLLER_POLL;
	return (0);
}

/*
 * Set up a poller for at most capacity armed fds: epoll if use_epoll and
 * there is one, else poll(). 0, or -1 with errno.
 */
int
poller_init(struct poller *p, int capacity, int use_epoll)
{
	int	rc, err;

	p->epfd = p->wake_rd = p->wake_wr = -1;
	p->events = NULL;
	p->pfd = NULL;
	p->data = NULL;
	p->reg = NULL;
	p->nevents = p->npfd = 0;
	if (capacity <= 0 || capacity == INT_MAX) {
		errno = EINVAL;
		return (-1);
	}
	p->capacity = capacity;
	p->backend = POLLER_POLL;
	rc = poller_wake_open(p);
	if (rc == 0 && use_epoll && POLLER_HAVE_EPOLL)
		rc = poller_epoll_init(p);
	else if (rc == 0)
		rc = poller_poll_init(p);
	if (rc < 0) {
		err = errno;
		poller_destroy(p);
		errno = err;
	}
	return (rc);
}

/* Close and free what poller_init made; safe after a failed init. */
void
poller_destroy(struct poller *p)
{
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->wake_wr >= 0 && p->wake_wr != p->wake_rd)
		close(p->wake_wr);
	if (p->wake_rd >= 0)
		close(p->wake_rd);
	p->epfd = p->wake_rd = p->wake_wr = -1;
	free(p->events);
	free(p->pfd);
	free(p->data);
	free(p->reg);
	p->events = NULL;
	p->pfd = NULL;
	p->data = NULL;
	p->reg = NULL;
	p->nevents = p->npfd = 0;
}

/* The fd poller_wake makes readable; poller_wait drains it. */
int
poller_wake_fd(struct poller *p)
{
	return (p->wake_rd);
}

/* Make poller_wait return: from any thread, or a signal handler. */
void
poller_wake(struct poller *p)
{
	uint64_t	one = 1;	/* an eventfd takes 8 bytes; a pipe, any */
	ssize_t		rc;
	int		saved = errno;

	/* EAGAIN: a wake-up is pending already, which is as good */
	rc = write(p->wake_wr, &one, p->wake_wr == p->wake_rd ? sizeof(one) :
	    1);
	(void)rc;
	errno = saved;
}

/* Take the pending wake-ups: read the wake fd until it is empty. */
static void
poller_wake_drain(struct poller *p)
{
	unsigned char	buf[64];

	while (read(p->wake_rd, buf, sizeof(buf)) > 0)
		continue;
}

#ifdef HAVE_SYS_EPOLL_H
/* epoll: watch fd for one readability (or writability: out), adding it
 * or re-enabling it. */
static int
poller_epoll_arm(struct poller *p, int fd, void *data, int *registered,
    int out)
{
	struct epoll_event	ev;
	int			op, rc;

	ev.events = (out ? EPOLLOUT : EPOLLIN | EPOLLRDHUP) | EPOLLONESHOT;
	ev.data.ptr = data;
	op = *registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	rc = epoll_ctl(p->epfd, op, fd, &ev);
	/* the word was stale: the fd left the set when it was closed,
	 * or came to it under another word */
	if (rc < 0 && op == EPOLL_CTL_MOD && errno == ENOENT)
		rc = epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
	else if (rc < 0 && op == EPOLL_CTL_ADD && errno == EEXIST)
		rc = epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev);
	if (rc == 0)
		*registered = 1;
	return (rc);
}

/* epoll: stop watching fd; it leaves the set. */
static int
poller_epoll_disarm(struct poller *p, int fd, int *registered)
{
	struct epoll_event	ev = { 0 };	/* kernels before 2.6.9 want one */

	if (!*registered)
		return (0);
	*registered = 0;
	if (epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &ev) < 0 && errno != ENOENT)
		return (-1);
	return (0);
}

/* epoll: wait, and fill ready with the data of what fired. */
static int
poller_epoll_wait(struct poller *p, void **ready, int max, int timeout_ms)
{
	int	n, i, got = 0;

	n = epoll_wait(p->epfd, p->events, max < p->nevents ? max :
	    p->nevents, timeout_ms);
	if (n < 0)
		return (errno == EINTR ? 0 : -1);
	for (i = 0; i < n; i++) {
		if (p->events[i].data.ptr == &poller_wake_token)
			poller_wake_drain(p);
		else
			ready[got++] = p->events[i].data.ptr;
	}
	return (got);
}
#endif

/* poll: take entry i out of the array; the last one moves into its place. */
static void
poller_poll_remove(struct poller *p, int i)
{
	int	last = p->npfd - 1;

	*p->reg[i] = 0;
	if (i != last) {
		p->pfd[i] = p->pfd[last];
		p->data[i] = p->data[last];
		p->reg[i] = p->reg[last];
		*p->reg[i] = i;
	}
	p->npfd--;
}

/* poll: whether *registered names fd's entry; index 0 is the wake fd. */
static int
poller_poll_valid(const struct poller *p, int fd, int i)
{
	return (i > 0 && i < p->npfd && p->pfd[i].fd == fd);
}

/* poll: put fd in the array (or give its entry new data and events). */
static int
poller_poll_arm(struct poller *p, int fd, void *data, int *registered,
    int out)
{
	int	i = *registered;

	if (i != 0) {
		if (!poller_poll_valid(p, fd, i)) {
			errno = EINVAL;
			return (-1);
		}
		p->data[i] = data;
		p->pfd[i].events = out ? POLLOUT : POLLER_POLLIN;
		return (0);
	}
	if (p->npfd - 1 >= p->capacity) {
		errno = ENOSPC;
		return (-1);
	}
	i = p->npfd++;
	p->pfd[i].fd = fd;
	p->pfd[i].events = out ? POLLOUT : POLLER_POLLIN;
	p->pfd[i].revents = 0;
	p->data[i] = data;
	p->reg[i] = registered;
	*registered = i;
	return (0);
}

/* poll: take fd out of the array, if it is there. */
static int
poller_poll_disarm(struct poller *p, int fd, int *registered)
{
	if (*registered == 0)
		return (0);
	if (!poller_poll_valid(p, fd, *registered)) {
		errno = EINVAL;
		return (-1);
	}
	poller_poll_remove(p, *registered);
	return (0);
}

/*
 * poll: wait, and fill ready with the data of what fired, taking each
 * out of the array. From the end down, so that the entry moved into a
 * hole has been looked at already; what does not fit in max stays armed
 * and fires again on the next wait.
 */
static int
poller_poll_wait(struct poller *p, void **ready, int max, int timeout_ms)
{
	int	n, i, got = 0;

	n = poll(p->pfd, (nfds_t)p->npfd, timeout_ms);
	if (n < 0)
		return (errno == EINTR ? 0 : -1);
	for (i = p->npfd - 1; i > 0 && n > 0 && got < max; i--) {
		if (p->pfd[i].revents == 0)
			continue;
		n--;
		ready[got++] = p->data[i];
		poller_poll_remove(p, i);
	}
	if (p->pfd[0].revents != 0)
		poller_wake_drain(p);
	return (got);
}

/*
 * Watch fd for one readability, reported with data by poller_wait.
 * *registered: the caller's word for this fd (see above), 0 the first
 * time. 0, or -1 with errno (ENOSPC: poll's capacity is reached).
 */
int
poller_arm(struct poller *p, int fd, void *data, int *registered)
{
#ifdef HAVE_SYS_EPOLL_H
	if (p->backend == POLLER_EPOLL)
		return (poller_epoll_arm(p, fd, data, registered, 0));
#endif
	return (poller_poll_arm(p, fd, data, registered, 0));
}

/*
 * As poller_arm, for one writability instead (a TLS handshake that has
 * more to send than the socket takes now); an error or hang-up fires
 * it too.
 */
int
poller_arm_write(struct poller *p, int fd, void *data, int *registered)
{
#ifdef HAVE_SYS_EPOLL_H
	if (p->backend == POLLER_EPOLL)
		return (poller_epoll_arm(p, fd, data, registered, 1));
#endif
	return (poller_poll_arm(p, fd, data, registered, 1));
}

/*
 * Stop watching fd (armed or not), before another thread may take or
 * close it; *registered becomes 0. 0, or -1 with errno.
 */
int
poller_disarm(struct poller *p, int fd, int *registered)
{
#ifdef HAVE_SYS_EPOLL_H
	if (p->backend == POLLER_EPOLL)
		return (poller_epoll_disarm(p, fd, registered));
#endif
	return (poller_poll_disarm(p, fd, registered));
}

/*
 * Wait at most timeout_ms (-1: no limit) for armed fds to fire or a
 * wake-up; fill ready with at most max of the fired fds' data (each is
 * disarmed now). The count, which a wake-up or a signal (EINTR) can make
 * 0; or -1 with errno.
 */
int
poller_wait(struct poller *p, void **ready, int max, int timeout_ms)
{
	if (max <= 0) {
		errno = EINVAL;
		return (-1);
	}
#ifdef HAVE_SYS_EPOLL_H
	if (p->backend == POLLER_EPOLL)
		return (poller_epoll_wait(p, ready, max, timeout_ms));
#endif
	return (poller_poll_wait(p, ready, max, timeout_ms));
}
