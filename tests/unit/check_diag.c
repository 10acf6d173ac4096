/* SPDX-License-Identifier: MIT */
/*
 * check_diag.c: unit tests of the diagnostics in diag.c: which
 * $JOURNAL_STREAM values name a file, the <N> priority prefix on a journal
 * stream and not elsewhere, errno kept, a tool's lines without a pid, and
 * the syslog datagram after diag_syslog. Standard error is a pipe the test
 * reads.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ackd.h"

/* "DEV:INO" in decimal, and nothing else, names the file. */
START_TEST(check_log_journal_match)
{
	ck_assert_int_eq(diag_journal_match("5:7", 5, 7), 1);
	ck_assert_int_eq(diag_journal_match("0:0", 0, 0), 1);
	ck_assert_int_eq(diag_journal_match("18446744073709551615:1",
	    ULLONG_MAX, 1), 1);
	ck_assert_int_eq(diag_journal_match("5:7", 5, 8), 0);
	ck_assert_int_eq(diag_journal_match("5:7", 6, 7), 0);
	ck_assert_int_eq(diag_journal_match(NULL, 5, 7), 0);
	ck_assert_int_eq(diag_journal_match("", 0, 0), 0);
	ck_assert_int_eq(diag_journal_match("5", 5, 0), 0);
	ck_assert_int_eq(diag_journal_match("5:", 5, 0), 0);
	ck_assert_int_eq(diag_journal_match(":7", 0, 7), 0);
	ck_assert_int_eq(diag_journal_match("5:7x", 5, 7), 0);
	ck_assert_int_eq(diag_journal_match("5:7:9", 5, 7), 0);
	ck_assert_int_eq(diag_journal_match(" 5:7", 5, 7), 0);
	ck_assert_int_eq(diag_journal_match("+5:7", 5, 7), 0);
	ck_assert_int_eq(diag_journal_match("5:-7", 5, (unsigned long long)-7),
	    0);
	ck_assert_int_eq(diag_journal_match("18446744073709551616:1",
	    ULLONG_MAX, 1), 0);
}
END_TEST

/* Point stderr at a new pipe; its read end, the old stderr in *saved. */
static int
check_log_capture(int *saved)
{
	int	p[2];

	ck_assert_int_eq(pipe(p), 0);
	*saved = dup(STDERR_FILENO);
	ck_assert_int_ne(*saved, -1);
	ck_assert_int_ne(dup2(p[1], STDERR_FILENO), -1);
	close(p[1]);
	return (p[0]);
}

/* Put stderr back and read what was written to the pipe into buf. */
static void
check_log_release(int rfd, int saved, char *buf, size_t size)
{
	ssize_t	n;

	ck_assert_int_ne(dup2(saved, STDERR_FILENO), -1);
	close(saved);
	n = read(rfd, buf, size - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(rfd);
}

/* Set $JOURNAL_STREAM to fd's "DEV:INO", or to another file's if !same. */
static void
check_log_journal_env(int fd, int same)
{
	struct stat	st;
	char		v[64];

	ck_assert_int_eq(same ? fstat(fd, &st) : stat("/", &st), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	ck_assert_int_eq(setenv("JOURNAL_STREAM", v, 1), 0);
}

/* On the journal: <4> warnings, <6> information, <3> option errors. */
START_TEST(check_log_journal_prefix)
{
	char	buf[512], want[512];
	int	rfd, saved;

	rfd = check_log_capture(&saved);
	check_log_journal_env(STDERR_FILENO, 1);
	diag_init("/usr/sbin/ackd-test");
	errno = EIO;
	diag_warn("cannot %s", "reopen");
	ck_assert_int_eq(errno, EIO);
	diag_info("ready in %d ms", 5);
	diag_usage("--port: bad");
	unsetenv("JOURNAL_STREAM");
	check_log_release(rfd, saved, buf, sizeof(buf));
	snprintf(want, sizeof(want), "<4>ackd-test[%ld]: cannot reopen: %s\n"
	    "<6>ackd-test[%ld]: ready in 5 ms\n<3>ackd: --port: bad\n",
	    (long)getpid(), strerror(EIO), (long)getpid());
	ck_assert_str_eq(buf, want);
}
END_TEST

/* Not the journal stream (another file, or no variable): no prefix. */
START_TEST(check_log_no_prefix)
{
	char	buf[512], want[512];
	int	rfd, saved;

	rfd = check_log_capture(&saved);
	check_log_journal_env(STDERR_FILENO, 0);
	diag_init("ackd");
	diag_warnx("worker %d died", 3);
	unsetenv("JOURNAL_STREAM");
	diag_init("ackd");
	diag_warnx("worker %d died", 4);
	diag_usage("--port: bad");
	check_log_release(rfd, saved, buf, sizeof(buf));
	snprintf(want, sizeof(want), "ackd[%ld]: worker 3 died\n"
	    "ackd[%ld]: worker 4 died\nackd: --port: bad\n", (long)getpid(),
	    (long)getpid());
	ck_assert_str_eq(buf, want);
}
END_TEST

/* A tool's lines are "NAME: message": no pid, no <N> on the journal. */
START_TEST(check_log_tool)
{
	char	buf[512], want[512];
	int	rfd, saved;

	rfd = check_log_capture(&saved);
	check_log_journal_env(STDERR_FILENO, 1);
	diag_init_tool("ackd-bench");
	errno = EIO;
	diag_warn("cannot write %s", "x");
	ck_assert_int_eq(errno, EIO);
	diag_warnx("--host: %s", "bad");
	unsetenv("JOURNAL_STREAM");
	diag_init("ackd");	/* the daemon's form again */
	diag_warnx("back");
	check_log_release(rfd, saved, buf, sizeof(buf));
	snprintf(want, sizeof(want), "ackd-bench: cannot write x: %s\n"
	    "ackd-bench: --host: bad\nackd[%ld]: back\n", strerror(EIO),
	    (long)getpid());
	ck_assert_str_eq(buf, want);
}
END_TEST

/* After diag_syslog: each diagnostic is also a daemon.warning datagram. */
START_TEST(check_log_syslog)
{
	struct sockaddr_un	sun;
	char			path[] = "/tmp/check_diag.XXXXXX", sock[64];
	char			gram[512], want[128], buf[512];
	int			fd, rfd, saved;
	ssize_t			n;

	ck_assert_ptr_nonnull(mkdtemp(path));
	snprintf(sock, sizeof(sock), "%s/log.sock", path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(setenv("ACKD_SYSLOG_SOCKET", sock, 1), 0);
	diag_init("ackd");
	ck_assert_int_eq(diag_syslog(), 0);
	rfd = check_log_capture(&saved);
	diag_warnx("worker %d died", 7);
	check_log_release(rfd, saved, buf, sizeof(buf));
	n = recv(fd, gram, sizeof(gram) - 1, MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	gram[n] = '\0';
	snprintf(want, sizeof(want), " ackd[%ld]: worker 7 died",
	    (long)getpid());
	/* "<28>Mmm dd hh:mm:ss" then the tag: LOG_DAEMON | LOG_WARNING */
	ck_assert_msg(strncmp(gram, "<28>", 4) == 0, "%s", gram);
	ck_assert_str_eq(gram + 19, want);
	/* stderr still has the line: before ready, it is the terminal's */
	ck_assert_int_eq(strncmp(buf, want + 1, strlen(want + 1)), 0);
	ck_assert_str_eq(buf + strlen(want + 1), "\n");
	close(fd);
	unlink(sock);
	rmdir(path);
}
END_TEST

/* The suite: the journal variable, the prefixes, syslog. */
static Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc;

	tc = tcase_create("journal");
	tcase_add_test(tc, check_log_journal_match);
	tcase_add_test(tc, check_log_journal_prefix);
	tcase_add_test(tc, check_log_no_prefix);
	tcase_add_test(tc, check_log_tool);
	suite_add_tcase(s, tc);

	/* last: without a fork per test, syslog stays on once turned on */
	tc = tcase_create("syslog");
	tcase_add_test(tc, check_log_syslog);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(log_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
