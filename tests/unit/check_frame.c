/* SPDX-License-Identifier: MIT */
/*
 * check_frame.c: unit tests of frame.c: where a message ends under each
 * --framing mode, fed in pieces as the network may cut it, and
 * frame_read_now over a socket pair (it never waits: what has not
 * arrived is FRAME_AGAIN, and the scan resumes where it was).
 */
#include "config.h"

#include <sys/socket.h>

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ackd.h"
#include "worker.h"

/* Feed msg to fr cut into pieces of at most step bytes; 1 once done. */
static int
check_frame_feed_steps(struct frame *fr, unsigned char *buf, const char *msg,
    size_t len, size_t step)
{
	size_t	off = 0, n;

	while (off < len && fr->len < fr->size) {
		n = len - off < step ? len - off : step;
		if (n > fr->size - fr->len)
			n = fr->size - fr->len;
		memcpy(buf + fr->len, msg + off, n);
		off += n;
		if (frame_feed(fr, buf, n))
			return (1);
	}
	return (0);
}

/* read: the first piece is the message, whatever it holds. */
START_TEST(check_frame_read_first_piece)
{
	struct frame	fr;
	unsigned char	buf[65];

	frame_init(&fr, ACKD_FRAMING_READ, sizeof(buf));
	ck_assert_int_eq(check_frame_feed_steps(&fr, buf, "abc", 3, 3), 1);
	ck_assert_uint_eq(fr.msg_len, 3);
	ck_assert_int_eq(fr.excess, 0);
}
END_TEST

/* line: a message cut anywhere ends after its newline, newline included. */
START_TEST(check_frame_line_any_step)
{
	static const char	 msg[] = "hello, world\n";
	struct frame		 fr;
	unsigned char		 buf[65];
	size_t			 step = (size_t)_i + 1;

	frame_init(&fr, ACKD_FRAMING_LINE, sizeof(buf));
	ck_assert_int_eq(check_frame_feed_steps(&fr, buf, msg,
	    strlen(msg), step), 1);
	ck_assert_uint_eq(fr.msg_len, strlen(msg));
	ck_assert(memcmp(buf, msg, fr.msg_len) == 0);
	ck_assert_int_eq(fr.excess, 0);
}
END_TEST

/* line: bytes after the newline in the same piece are not the message. */
START_TEST(check_frame_line_excess)
{
	static const char	 msg[] = "one\ntwo\nthree";
	struct frame		 fr;
	unsigned char		 buf[65];

	frame_init(&fr, ACKD_FRAMING_LINE, sizeof(buf));
	ck_assert_int_eq(check_frame_feed_steps(&fr, buf, msg, strlen(msg),
	    strlen(msg)), 1);
	ck_assert_uint_eq(fr.msg_len, 4);
	ck_assert_int_eq(fr.excess, 1);
}
END_TEST

/* line: the newline may come in a later piece than the one before it. */
START_TEST(check_frame_line_newline_alone)
{
	struct frame	fr;
	unsigned char	buf[65];

	frame_init(&fr, ACKD_FRAMING_LINE, sizeof(buf));
	memcpy(buf, "abc", 3);
	ck_assert_int_eq(frame_feed(&fr, buf, 3), 0);
	buf[3] = '\n';
	ck_assert_int_eq(frame_feed(&fr, buf, 1), 1);
	ck_assert_uint_eq(fr.msg_len, 4);
	ck_assert_int_eq(fr.excess, 0);
}
END_TEST

/* line and eof: a full buffer ends the message (the handler truncates). */
START_TEST(check_frame_full_buffer)
{
	enum ackd_framing	 mode = _i ? ACKD_FRAMING_EOF :
				    ACKD_FRAMING_LINE;
	char			 msg[100];
	struct frame		 fr;
	unsigned char		 buf[9];

	memset(msg, 'x', sizeof(msg));
	frame_init(&fr, mode, sizeof(buf));
	ck_assert_int_eq(check_frame_feed_steps(&fr, buf, msg, sizeof(msg),
	    4), 1);
	ck_assert_uint_eq(fr.msg_len, sizeof(buf));
}
END_TEST

/* line: a newline as the byte past --max-message still ends it, cut. */
START_TEST(check_frame_line_newline_last_byte)
{
	struct frame	fr;
	unsigned char	buf[5];

	frame_init(&fr, ACKD_FRAMING_LINE, sizeof(buf));
	memcpy(buf, "abcd\n", 5);
	ck_assert_int_eq(frame_feed(&fr, buf, 5), 1);
	ck_assert_uint_eq(fr.msg_len, 5);
	ck_assert_int_eq(fr.excess, 0);
}
END_TEST

/* eof: no piece ends the message; end of file does, if anything came. */
START_TEST(check_frame_eof_needs_eof)
{
	struct frame	fr;
	unsigned char	buf[65];

	frame_init(&fr, ACKD_FRAMING_EOF, sizeof(buf));
	ck_assert_int_eq(frame_eof(&fr), 0);
	ck_assert_int_eq(check_frame_feed_steps(&fr, buf, "a\nb\nc", 5, 1),
	    0);
	ck_assert_int_eq(frame_eof(&fr), 1);
	ck_assert_uint_eq(fr.msg_len, 5);
}
END_TEST

/* line: end of file without a newline ends the message too. */
START_TEST(check_frame_line_eof)
{
	struct frame	fr;
	unsigned char	buf[65];

	frame_init(&fr, ACKD_FRAMING_LINE, sizeof(buf));
	ck_assert_int_eq(check_frame_feed_steps(&fr, buf, "no newline", 10,
	    3), 0);
	ck_assert_int_eq(frame_eof(&fr), 1);
	ck_assert_uint_eq(fr.msg_len, 10);
}
END_TEST

/* A connected pair of stream sockets. */
static void
check_frame_pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

/* frame_read_now gathers the pieces already sent, up to the newline. */
START_TEST(check_frame_read_line_pieces)
{
	struct frame	fr;
	unsigned char	buf[65];
	int		sv[2];

	check_frame_pair(sv);
	ck_assert_int_eq(write(sv[1], "ab", 2), 2);
	ck_assert_int_eq(write(sv[1], "c\nd", 3), 3);
	frame_init(&fr, ACKD_FRAMING_LINE, sizeof(buf));
	ck_assert_int_eq(frame_read_now(&fr, sv[0], NULL, buf), 4);
	ck_assert(memcmp(buf, "abc\n", 4) == 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* frame_read_now in eof mode returns at the half-close, all bytes in. */
START_TEST(check_frame_read_eof)
{
	struct frame	fr;
	unsigned char	buf[65];
	int		sv[2];

	check_frame_pair(sv);
	ck_assert_int_eq(write(sv[1], "x\n", 2), 2);
	ck_assert_int_eq(write(sv[1], "y\n", 2), 2);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	frame_init(&fr, ACKD_FRAMING_EOF, sizeof(buf));
	ck_assert_int_eq(frame_read_now(&fr, sv[0], NULL, buf), 4);
	ck_assert(memcmp(buf, "x\ny\n", 4) == 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * An unfinished message: FRAME_AGAIN at once (never waiting), what came
 * kept in fr.len; the scan resumes where it was when the rest arrives.
 */
START_TEST(check_frame_read_again_resumes)
{
	struct frame	fr;
	unsigned char	buf[65];
	int		sv[2];

	check_frame_pair(sv);
	ck_assert_int_eq(write(sv[1], "part", 4), 4);
	frame_init(&fr, _i ? ACKD_FRAMING_EOF : ACKD_FRAMING_LINE,
	    sizeof(buf));
	ck_assert_int_eq(frame_read_now(&fr, sv[0], NULL, buf), FRAME_AGAIN);
	ck_assert_uint_eq(fr.len, 4);
	ck_assert(memcmp(buf, "part", 4) == 0);
	ck_assert_int_eq(frame_read_now(&fr, sv[0], NULL, buf), FRAME_AGAIN);
	ck_assert_int_eq(write(sv[1], "s\n", 2), 2);
	if (_i)
		ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	ck_assert_int_eq(frame_read_now(&fr, sv[0], NULL, buf), 6);
	ck_assert(memcmp(buf, "parts\n", 6) == 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Nothing sent yet: FRAME_AGAIN in every mode, with nothing taken. */
START_TEST(check_frame_read_nothing_yet)
{
	struct frame	fr;
	unsigned char	buf[65];
	int		sv[2];

	check_frame_pair(sv);
	frame_init(&fr, (enum ackd_framing)_i, sizeof(buf));
	ck_assert_int_eq(frame_read_now(&fr, sv[0], NULL, buf), FRAME_AGAIN);
	ck_assert_uint_eq(fr.len, 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Nothing at all before the client closes: 0, as an empty connection. */
START_TEST(check_frame_read_empty)
{
	struct frame	fr;
	unsigned char	buf[65];
	int		sv[2];

	check_frame_pair(sv);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	frame_init(&fr, (enum ackd_framing)_i, sizeof(buf));
	ck_assert_int_eq(frame_read_now(&fr, sv[0], NULL, buf), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * A buffer smaller than the message: FRAME_FULL with room bytes in, and
 * after more room (the same bytes in a larger buffer) the scan goes on.
 */
START_TEST(check_frame_read_grows)
{
	struct frame	fr;
	unsigned char	small[4], big[65];
	int		sv[2];

	check_frame_pair(sv);
	ck_assert_int_eq(write(sv[1], "abcdefg\nz", 9), 9);
	frame_init(&fr, ACKD_FRAMING_LINE, sizeof(big));
	fr.room = sizeof(small);
	ck_assert_int_eq(frame_read_now(&fr, sv[0], NULL, small), FRAME_FULL);
	ck_assert_uint_eq(fr.len, 4);
	memcpy(big, small, fr.len);
	fr.room = sizeof(big);
	ck_assert_int_eq(frame_read_now(&fr, sv[0], NULL, big), 8);
	ck_assert(memcmp(big, "abcdefg\n", 8) == 0);
	ck_assert_int_eq(fr.excess, 1);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * read: a full small buffer does not end the one read; with more room it
 * takes what had already arrived, without waiting for more (_i: 7 bytes
 * sent, or exactly the 4 of the small room).
 */
START_TEST(check_frame_read_mode_grows)
{
	struct frame	fr;
	unsigned char	small[4], big[65];
	size_t		sent = _i ? 4 : 7;
	int		sv[2];

	check_frame_pair(sv);
	ck_assert_int_eq(write(sv[1], "abcdefg", sent), (ssize_t)sent);
	frame_init(&fr, ACKD_FRAMING_READ, sizeof(big));
	fr.room = sizeof(small);
	ck_assert_int_eq(frame_read_now(&fr, sv[0], NULL, small), FRAME_FULL);
	memcpy(big, small, fr.len);
	fr.room = sizeof(big);
	/* what had arrived is the one read's message: no FRAME_AGAIN */
	ck_assert_int_eq(frame_read_now(&fr, sv[0], NULL, big), (ssize_t)sent);
	ck_assert(memcmp(big, "abcdefg", sent) == 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* The suite: the pure scan, then frame_read_now over socket pairs. */
static Suite *
frame_suite(void)
{
	Suite	*s = suite_create("frame");
	TCase	*tc;

	tc = tcase_create("scan");
	tcase_add_test(tc, check_frame_read_first_piece);
	tcase_add_loop_test(tc, check_frame_line_any_step, 0, 14);
	tcase_add_test(tc, check_frame_line_excess);
	tcase_add_test(tc, check_frame_line_newline_alone);
	tcase_add_loop_test(tc, check_frame_full_buffer, 0, 2);
	tcase_add_test(tc, check_frame_line_newline_last_byte);
	tcase_add_test(tc, check_frame_eof_needs_eof);
	tcase_add_test(tc, check_frame_line_eof);
	suite_add_tcase(s, tc);

	tc = tcase_create("read");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, check_frame_read_line_pieces);
	tcase_add_test(tc, check_frame_read_eof);
	tcase_add_loop_test(tc, check_frame_read_again_resumes, 0, 2);
	tcase_add_loop_test(tc, check_frame_read_nothing_yet, 0, 3);
	tcase_add_loop_test(tc, check_frame_read_empty, 0, 3);
	tcase_add_test(tc, check_frame_read_grows);
	tcase_add_loop_test(tc, check_frame_read_mode_grows, 0, 2);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status says whether every test passed. */
int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(frame_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
