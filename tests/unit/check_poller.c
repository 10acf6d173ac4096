/* SPDX-License-Identifier: MIT */
/*
 * check_poller.c: unit tests of poller.c, the event stage's readiness of
 * many sockets. Every test runs twice, once per backend: _i 0 is poll(),
 * 1 is epoll (poll again where there is no epoll).
 *
 * Sockets are socketpairs: writing to one end makes the other readable.
 * Something that must happen is awaited without a time limit of our own
 * (poller_wait with -1, or far above what it takes: check's timeout of
 * the test case ends a test that hangs); a wait of 0 shows that something
 * did NOT happen, as the poller looks at the sockets' present state.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/socket.h>

#include "ackd.h"
#include "worker.h"

/* What "long enough" is for something that must happen (ms). */
#define CHECK_POLLER_LONG	10000
#define CHECK_POLLER_NFDS	1000	/* the many-fds test's armed fds */

/* One watched socket: the end armed, its peer and its poller word. */
struct check_poller_sock {
	int	 fd;		/* armed */
	int	 peer;		/* written to, to make fd readable */
	int	 reg;		/* poller_arm's *registered */
	int	 seen;		/* times reported */
};

/* A poller of capacity on backend _i (0: poll, 1: epoll if any). */
static void
check_poller_init(struct poller *p, int capacity, int i)
{
	ck_assert_int_eq(poller_init(p, capacity, i), 0);
#ifdef HAVE_SYS_EPOLL_H
	ck_assert_int_eq(p->backend, i ? POLLER_EPOLL : POLLER_POLL);
#else
	ck_assert_int_eq(p->backend, POLLER_POLL);
#endif
}

/* A connected socketpair in s, not armed. */
static void
check_poller_sock_open(struct check_poller_sock *s)
{
	int	sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s->fd = sv[0];
	s->peer = sv[1];
	s->reg = 0;
	s->seen = 0;
}

/* Close both ends of s. */
static void
check_poller_sock_close(struct check_poller_sock *s)
{
	close(s->fd);
	close(s->peer);
}

/* Write a byte to fd. */
static void
check_poller_poke(int fd)
{
	ck_assert_int_eq(write(fd, "x", 1), 1);
}

/* Arm s with itself as data. */
static void
check_poller_arm(struct poller *p, struct check_poller_sock *s)
{
	ck_assert_int_eq(poller_arm(p, s->fd, s, &s->reg), 0);
	ck_assert_int_ne(s->reg, 0);
}

/* poller_wait for at most max; each reported socket's seen goes up. */
static int
check_poller_collect(struct poller *p, int max, int timeout_ms)
{
	void	*ready[64];
	int	 n, i;

	ck_assert_int_le(max, (int)nitems(ready));
	n = poller_wait(p, ready, max, timeout_ms);
	ck_assert_int_ge(n, 0);
	ck_assert_int_le(n, max);
	for (i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(ready[i]);
		((struct check_poller_sock *)ready[i])->seen++;
	}
	return (n);
}

/* A bad capacity or max is refused with EINVAL. */
START_TEST(check_poller_refuses)
{
	struct poller	p;
	void		*ready[1];

	errno = 0;
	ck_assert_int_eq(poller_init(&p, 0, _i), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(poller_init(&p, -3, _i), -1);
	check_poller_init(&p, 4, _i);
	errno = 0;
	ck_assert_int_eq(poller_wait(&p, ready, 0, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	poller_destroy(&p);
}
END_TEST

/* An armed fd fires once when data comes, not again while unread. */
START_TEST(check_poller_one_shot)
{
	struct check_poller_sock	s;
	struct poller			p;

	check_poller_init(&p, 8, _i);
	check_poller_sock_open(&s);
	check_poller_arm(&p, &s);
	ck_assert_int_eq(check_poller_collect(&p, 8, 0), 0);
	check_poller_poke(s.peer);
	ck_assert_int_eq(check_poller_collect(&p, 8, CHECK_POLLER_LONG), 1);
	ck_assert_int_eq(s.seen, 1);
	/* still readable (nothing was read), but fired already */
	ck_assert_int_eq(check_poller_collect(&p, 8, 0), 0);
	check_poller_poke(s.peer);
	ck_assert_int_eq(check_poller_collect(&p, 8, 0), 0);
	ck_assert_int_eq(s.seen, 1);
	check_poller_sock_close(&s);
	poller_destroy(&p);
}
END_TEST

/* Armed again after it fired, an fd fires again; and again. */
START_TEST(check_poller_rearm)
{
	struct check_poller_sock	s;
	struct poller			p;
	char				c;
	int				round;

	check_poller_init(&p, 8, _i);
	check_poller_sock_open(&s);
	for (round = 1; round <= 3; round++) {
		check_poller_arm(&p, &s);
		ck_assert_int_eq(check_poller_collect(&p, 8, 0), 0);
		check_poller_poke(s.peer);
		ck_assert_int_eq(check_poller_collect(&p, 8,
		    CHECK_POLLER_LONG), 1);
		ck_assert_int_eq(s.seen, round);
		ck_assert_int_eq(read(s.fd, &c, 1), 1);
	}
	/* armed while data waits: fires at once */
	check_poller_poke(s.peer);
	check_poller_arm(&p, &s);
	ck_assert_int_eq(check_poller_collect(&p, 8, CHECK_POLLER_LONG), 1);
	ck_assert_int_eq(s.seen, 4);
	check_poller_sock_close(&s);
	poller_destroy(&p);
}
END_TEST

/*
 * poller_arm_write: a socket whose send buffer is full does not fire;
 * once the peer reads, it fires once, for writability. Armed for
 * reading again (the same word), it waits for bytes, not room.
 */
START_TEST(check_poller_write)
{
	struct check_poller_sock	s;
	struct poller			p;
	char				buf[4096];
	ssize_t				n;

	check_poller_init(&p, 8, _i);
	check_poller_sock_open(&s);
	/* writable at once: fires at once */
	ck_assert_int_eq(poller_arm_write(&p, s.fd, &s, &s.reg), 0);
	ck_assert_int_eq(check_poller_collect(&p, 8, CHECK_POLLER_LONG), 1);
	memset(buf, 'x', sizeof(buf));
	while (send(s.fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		continue;
	ck_assert_int_eq(poller_arm_write(&p, s.fd, &s, &s.reg), 0);
	ck_assert_int_eq(check_poller_collect(&p, 8, 0), 0);
	while ((n = recv(s.peer, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		continue;
	ck_assert_int_eq(check_poller_collect(&p, 8, CHECK_POLLER_LONG), 1);
	ck_assert_int_eq(s.seen, 2);
	/* for reading again: writable, but no bytes, so nothing fires */
	check_poller_arm(&p, &s);
	ck_assert_int_eq(check_poller_collect(&p, 8, 0), 0);
	check_poller_poke(s.peer);
	ck_assert_int_eq(check_poller_collect(&p, 8, CHECK_POLLER_LONG), 1);
	ck_assert_int_eq(s.seen, 3);
	check_poller_sock_close(&s);
	poller_destroy(&p);
}
END_TEST

/* Arming an armed fd again changes its data; it still fires once. */
START_TEST(check_poller_arm_twice)
{
	struct check_poller_sock	s, other;
	struct poller			p;

	check_poller_init(&p, 8, _i);
	check_poller_sock_open(&s);
	check_poller_arm(&p, &s);
	other = s;
	other.seen = 0;
	ck_assert_int_eq(poller_arm(&p, s.fd, &other, &s.reg), 0);
	check_poller_poke(s.peer);
	ck_assert_int_eq(check_poller_collect(&p, 8, CHECK_POLLER_LONG), 1);
	ck_assert_int_eq(check_poller_collect(&p, 8, 0), 0);
	ck_assert_int_eq(s.seen, 0);
	ck_assert_int_eq(other.seen, 1);
	check_poller_sock_close(&s);
	poller_destroy(&p);
}
END_TEST

/*
 * A disarmed fd does not fire; disarming twice is harmless; re-armed, it
 * fires; the others are not disturbed. Under poll, disarming the first
 * moves the last into its place: the last's word must follow it.
 */
START_TEST(check_poller_disarm)
{
	struct check_poller_sock	s[4];
	struct poller			p;
	int				i;

	check_poller_init(&p, 8, _i);
	for (i = 0; i < 4; i++) {
		check_poller_sock_open(&s[i]);
		check_poller_arm(&p, &s[i]);
	}
	ck_assert_int_eq(poller_disarm(&p, s[0].fd, &s[0].reg), 0);
	ck_assert_int_eq(s[0].reg, 0);
	ck_assert_int_eq(poller_disarm(&p, s[0].fd, &s[0].reg), 0);
	ck_assert_int_eq(poller_disarm(&p, s[3].fd, &s[3].reg), 0);
	ck_assert_int_eq(s[3].reg, 0);
	for (i = 0; i < 4; i++)
		check_poller_poke(s[i].peer);
	while (s[1].seen + s[2].seen < 2)
		check_poller_collect(&p, 8, CHECK_POLLER_LONG);
	ck_assert_int_eq(check_poller_collect(&p, 8, 0), 0);
	ck_assert_int_eq(s[0].seen, 0);
	ck_assert_int_eq(s[1].seen, 1);
	ck_assert_int_eq(s[2].seen, 1);
	ck_assert_int_eq(s[3].seen, 0);
	/* a fired fd can be disarmed too (the stage hands it on) */
	ck_assert_int_eq(poller_disarm(&p, s[1].fd, &s[1].reg), 0);
	ck_assert_int_eq(s[1].reg, 0);
	check_poller_arm(&p, &s[0]);
	ck_assert_int_eq(check_poller_collect(&p, 8, CHECK_POLLER_LONG), 1);
	ck_assert_int_eq(s[0].seen, 1);
	for (i = 0; i < 4; i++)
		check_poller_sock_close(&s[i]);
	poller_destroy(&p);
}
END_TEST

/* The peer's close (FIN) makes an armed fd fire: the handler reads EOF. */
START_TEST(check_poller_hangup)
{
	struct check_poller_sock	s;
	struct poller			p;

	check_poller_init(&p, 8, _i);
	check_poller_sock_open(&s);
	check_poller_arm(&p, &s);
	close(s.peer);
	ck_assert_int_eq(check_poller_collect(&p, 8, CHECK_POLLER_LONG), 1);
	ck_assert_int_eq(s.seen, 1);
	close(s.fd);
	poller_destroy(&p);
}
END_TEST

/* Whether fd is readable now. */
static int
check_poller_readable(int fd)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };

	return (poll(&pfd, 1, 0) == 1);
}

/* Thread body: wake the poller. */
static void *
check_poller_waker(void *arg)
{
	poller_wake(arg);
	return (NULL);
}

/*
 * A wake-up from another thread ends a wait with no limit and adds no
 * entry; it is drained (the next wait of 0 finds nothing), and wake-ups
 * come back to back.
 */
START_TEST(check_poller_wake_thread)
{
	struct check_poller_sock	s;
	struct poller			p;
	pthread_t			t;
	int				round;

	check_poller_init(&p, 8, _i);
	ck_assert_int_ge(poller_wake_fd(&p), 0);
	check_poller_sock_open(&s);
	check_poller_arm(&p, &s);
	for (round = 0; round < 3; round++) {
		ck_assert_int_eq(pthread_create(&t, NULL, check_poller_waker,
		    &p), 0);
		ck_assert_int_eq(check_poller_collect(&p, 8, -1), 0);
		ck_assert_int_eq(pthread_join(t, NULL), 0);
		ck_assert(!check_poller_readable(poller_wake_fd(&p)));
	}
	/* several wake-ups before a wait make one return */
	poller_wake(&p);
	poller_wake(&p);
	poller_wake(&p);
	ck_assert(check_poller_readable(poller_wake_fd(&p)));
	ck_assert_int_eq(check_poller_collect(&p, 8, -1), 0);
	ck_assert(!check_poller_readable(poller_wake_fd(&p)));
	/* a wake-up beside a fired fd: the fd is reported */
	poller_wake(&p);
	check_poller_poke(s.peer);
	while (s.seen == 0)
		check_poller_collect(&p, 8, CHECK_POLLER_LONG);
	ck_assert_int_eq(check_poller_collect(&p, 8, 0), 0);
	check_poller_sock_close(&s);
	poller_destroy(&p);
}
END_TEST

static struct poller	*check_poller_sig_p;

/* SIGUSR1's handler: wake the poller, as a daemon's signal handler may. */
static void
check_poller_on_signal(int sig)
{
	(void)sig;
	poller_wake(check_poller_sig_p);
}

/* Thread body: send SIGUSR1 to the thread in arg. */
static void *
check_poller_signaller(void *arg)
{
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return (NULL);
}

/*
 * A signal handler's wake-up ends a wait with no limit, whether it comes
 * before the wait or during it (EINTR is 0 too); poller_wake keeps errno.
 */
START_TEST(check_poller_wake_signal)
{
	struct sigaction	sa, old;
	struct poller		p;
	pthread_t		t, self = pthread_self();

	check_poller_init(&p, 8, _i);
	check_poller_sig_p = &p;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = check_poller_on_signal;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, check_poller_signaller,
	    &self), 0);
	ck_assert_int_eq(check_poller_collect(&p, 8, -1), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	errno = ERANGE;
	poller_wake(&p);
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
	poller_destroy(&p);
}
END_TEST

/* Lift the soft descriptor limit to at least n if the hard one lets us. */
static void
check_poller_fd_room(rlim_t n)
{
	struct rlimit	rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > n ?
		    n : rl.rlim_max;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
}

/*
 * 1,000 armed fds (both ends of 500 socketpairs, so 1,000 descriptors in
 * all), every fifth disarmed again: half made readable, then the rest;
 * each armed one is reported exactly once, in batches of at most 64, and
 * nothing else is.
 */
START_TEST(check_poller_many)
{
	struct check_poller_sock	*s;
	struct poller			 p;
	int				 i, got;

	check_poller_fd_room(CHECK_POLLER_NFDS + 64);
	s = calloc(CHECK_POLLER_NFDS, sizeof(*s));
	ck_assert_ptr_nonnull(s);
	check_poller_init(&p, CHECK_POLLER_NFDS, _i);
	for (i = 0; i < CHECK_POLLER_NFDS; i += 2) {
		check_poller_sock_open(&s[i]);
		s[i + 1].fd = s[i].peer;	/* the other end, armed too */
		s[i + 1].peer = s[i].fd;
	}
	for (i = 0; i < CHECK_POLLER_NFDS; i++)
		check_poller_arm(&p, &s[i]);
	for (i = 0; i < CHECK_POLLER_NFDS; i += 5)
		ck_assert_int_eq(poller_disarm(&p, s[i].fd, &s[i].reg), 0);
	for (i = 0; i < CHECK_POLLER_NFDS; i += 2)
		check_poller_poke(s[i].peer);	/* s[i] readable */
	for (got = 0; got < CHECK_POLLER_NFDS / 2 - CHECK_POLLER_NFDS / 10; )
		got += check_poller_collect(&p, 64, CHECK_POLLER_LONG);
	ck_assert_int_eq(check_poller_collect(&p, 64, 0), 0);
	for (i = 0; i < CHECK_POLLER_NFDS; i++)
		ck_assert_int_eq(s[i].seen, i % 2 == 0 && i % 5 != 0);
	for (i = 1; i < CHECK_POLLER_NFDS; i += 2)
		check_poller_poke(s[i].peer);
	for (got = 0; got < CHECK_POLLER_NFDS / 2 - CHECK_POLLER_NFDS / 10; )
		got += check_poller_collect(&p, 64, CHECK_POLLER_LONG);
	ck_assert_int_eq(check_poller_collect(&p, 64, 0), 0);
	for (i = 0; i < CHECK_POLLER_NFDS; i++)
		ck_assert_int_eq(s[i].seen, i % 5 != 0);
	for (i = 0; i < CHECK_POLLER_NFDS; i++)
		close(s[i].fd);
	poller_destroy(&p);
	free(s);
}
END_TEST

/* poller_wait gives at most max; the rest come on the next waits. */
START_TEST(check_poller_max)
{
	struct check_poller_sock	s[10];
	struct poller			p;
	int				i, got = 0;

	check_poller_init(&p, 16, _i);
	for (i = 0; i < 10; i++) {
		check_poller_sock_open(&s[i]);
		check_poller_arm(&p, &s[i]);
		check_poller_poke(s[i].peer);
	}
	while (got < 10)
		got += check_poller_collect(&p, 3, CHECK_POLLER_LONG);
	ck_assert_int_eq(got, 10);
	ck_assert_int_eq(check_poller_collect(&p, 3, 0), 0);
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(s[i].seen, 1);
		check_poller_sock_close(&s[i]);
	}
	poller_destroy(&p);
}
END_TEST

/*
 * poll's array holds capacity armed fds: one more is refused (ENOSPC)
 * until one fires or is disarmed. epoll has no array: capacity does not
 * limit it (the stage bounds its connections itself).
 */
START_TEST(check_poller_capacity)
{
	struct check_poller_sock	s[5];
	struct poller			p;
	int				i;

	check_poller_init(&p, 4, _i);
	for (i = 0; i < 5; i++)
		check_poller_sock_open(&s[i]);
	for (i = 0; i < 4; i++)
		check_poller_arm(&p, &s[i]);
	errno = 0;
	if (p.backend == POLLER_EPOLL) {
		check_poller_arm(&p, &s[4]);
		ck_assert_int_eq(poller_disarm(&p, s[4].fd, &s[4].reg), 0);
	} else {
		ck_assert_int_eq(poller_arm(&p, s[4].fd, &s[4], &s[4].reg), -1);
		ck_assert_int_eq(errno, ENOSPC);
		ck_assert_int_eq(s[4].reg, 0);
	}
	/* one fires: room for one */
	check_poller_poke(s[1].peer);
	ck_assert_int_eq(check_poller_collect(&p, 8, CHECK_POLLER_LONG), 1);
	check_poller_arm(&p, &s[4]);
	if (p.backend == POLLER_POLL)
		ck_assert_int_eq(poller_arm(&p, s[1].fd, &s[1], &s[1].reg), -1);
	/* one disarmed: room for one */
	ck_assert_int_eq(poller_disarm(&p, s[2].fd, &s[2].reg), 0);
	check_poller_arm(&p, &s[1]);
	/* all four armed fire, and only they */
	for (i = 0; i < 5; i++)
		check_poller_poke(s[i].peer);
	for (i = 0; i < 4; )
		i += check_poller_collect(&p, 8, CHECK_POLLER_LONG);
	ck_assert_int_eq(check_poller_collect(&p, 8, 0), 0);
	ck_assert_int_eq(s[0].seen, 1);
	ck_assert_int_eq(s[1].seen, 2);
	ck_assert_int_eq(s[2].seen, 0);
	ck_assert_int_eq(s[3].seen, 1);
	ck_assert_int_eq(s[4].seen, 1);
	for (i = 0; i < 5; i++)
		check_poller_sock_close(&s[i]);
	poller_destroy(&p);
}
END_TEST

/*
 * A word that no longer tells the truth: the fd was closed (it left the
 * epoll set) and its number came back for a new socket, which kept the
 * old word. epoll: arming still works. poll: a closed fd is not to be
 * left armed, but its word is refused rather than trusted.
 */
START_TEST(check_poller_stale_word)
{
	struct check_poller_sock	s, t;
	struct poller			p;
	int				old_fd;

	check_poller_init(&p, 8, _i);
	check_poller_sock_open(&s);
	check_poller_arm(&p, &s);
	check_poller_poke(s.peer);
	ck_assert_int_eq(check_poller_collect(&p, 8, CHECK_POLLER_LONG), 1);
	old_fd = s.fd;
	check_poller_sock_close(&s);
	check_poller_sock_open(&t);
	ck_assert_int_eq(t.fd, old_fd);		/* the lowest free number */
	t.reg = p.backend == POLLER_EPOLL ? 1 : 3;
	if (p.backend == POLLER_EPOLL) {
		check_poller_arm(&p, &t);
		check_poller_poke(t.peer);
		ck_assert_int_eq(check_poller_collect(&p, 8,
		    CHECK_POLLER_LONG), 1);
		ck_assert_int_eq(t.seen, 1);
	} else {
		errno = 0;
		ck_assert_int_eq(poller_arm(&p, t.fd, &t, &t.reg), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_int_eq(poller_disarm(&p, t.fd, &t.reg), -1);
	}
	check_poller_sock_close(&t);
	poller_destroy(&p);
}
END_TEST

/* The poller's tests, each for both backends. */
static Suite *
poller_suite(void)
{
	Suite	*s = suite_create("poller");
	TCase	*tc;

	tc = tcase_create("readiness");
	tcase_set_timeout(tc, 30);	/* generous: valgrind */
	tcase_add_loop_test(tc, check_poller_refuses, 0, 2);
	tcase_add_loop_test(tc, check_poller_one_shot, 0, 2);
	tcase_add_loop_test(tc, check_poller_rearm, 0, 2);
	tcase_add_loop_test(tc, check_poller_arm_twice, 0, 2);
	tcase_add_loop_test(tc, check_poller_write, 0, 2);
	tcase_add_loop_test(tc, check_poller_disarm, 0, 2);
	tcase_add_loop_test(tc, check_poller_hangup, 0, 2);
	tcase_add_loop_test(tc, check_poller_max, 0, 2);
	tcase_add_loop_test(tc, check_poller_capacity, 0, 2);
	tcase_add_loop_test(tc, check_poller_stale_word, 0, 2);
	tcase_add_loop_test(tc, check_poller_many, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("wake");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, check_poller_wake_thread, 0, 2);
	tcase_add_loop_test(tc, check_poller_wake_signal, 0, 2);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(poller_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
