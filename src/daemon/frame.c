/* SPDX-License-Identifier: MIT */
/*
 * frame.c: where a message ends (--framing).
 *
 * read: a message is what one read returns (the original script's rule).
 * line: it ends after the first '\n' (which belongs to it), and bytes
 *       the client sent after that are dropped.
 * eof:  it ends when the client half-closes its side.
 * In every mode the message also ends once size bytes (--max-message
 * plus one byte, so that the handler sees truncation) are in, and in
 * line mode also at end of file: the client can send nothing more.
 * The buffer may be smaller than size (room): frame_read_until then
 * stops when it is full, the caller gives it a larger one holding the
 * same bytes, and the scan goes on where it was. Under read, the one
 * read then goes on with what had already arrived, without waiting, as
 * one read into a buffer of size bytes would have taken it.
 *
 * The scan (frame_feed, frame_eof) is pure, for unit tests. frame_read
 * is the thin I/O around it, with one deadline for the whole message:
 * a timeout per read would let a client that sends a byte now and then
 * hold a handler thread forever.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "ackd.h"
#include "worker.h"

/* Start a scan in mode over a buffer of size bytes. */
void
frame_init(struct frame *fr, enum ackd_framing mode, size_t size)
{
	memset(fr, 0, sizeof(*fr));
	fr->mode = mode;
	fr->size = size;
	fr->room = size;
}

/*
 * Take n more bytes, which arrived at buf + fr->len (buf is the whole
 * message so far). 1 once the message is complete: its length is then
 * fr->msg_len, and fr->excess says whether bytes after it arrived too.
 */
int
frame_feed(struct frame *fr, const unsigned char *buf, size_t n)
{
	const unsigned char	*nl;
	size_t			 from = fr->len;

	fr->len += n;
	switch (fr->mode) {
	case ACKD_FRAMING_READ:
		/* a full room short of size: the read goes on (frame_read_until) */
		if (fr->len == fr->room && fr->room < fr->size)
			return (0);
		break;
	case ACKD_FRAMING_LINE:
		/* only the new bytes: the old ones held no newline */
		if ((nl = memchr(buf + from, '\n', n)) != NULL) {
			fr->msg_len = (size_t)(nl - buf) + 1;
			fr->excess = fr->len > fr->msg_len;
			fr->done = 1;
			return (1);
		}
		if (fr->len < fr->size)
			return (0);
		break;
	case ACKD_FRAMING_EOF:
		if (fr->len < fr->size)
			return (0);
		break;
	}
	fr->msg_len = fr->len;
	fr->done = 1;
	return (1);
}

/*
 * The client half-closed before the message was complete. 1 if what
 * arrived is the message (it is in every mode, unless nothing came),
 * 0 if nothing did.
 */
int
frame_eof(struct frame *fr)
{
	if (fr->len == 0)
		return (0);
	fr->msg_len = fr->len;
	fr->done = 1;
	return (1);
}

/*
 * Read the next piece into buf + fr->len, waiting at most left_ms, or
 * not at all when read's one read goes on: then nothing more there ends
 * the message, as the end of file does (0).
 */
static ssize_t
frame_piece(struct frame *fr, int fd, unsigned char *buf, long long left_ms)
{
	int	going_on = fr->mode == ACKD_FRAMING_READ && fr->len > 0;
	ssize_t	n;

	n = net_read_timed(fd, buf + fr->len, fr->room - fr->len,
	    going_on || left_ms <= 0 ? 0 : (int)left_ms);
	if (n == -1 && going_on && errno == ETIMEDOUT)
		return (0);
	return (n);
}

/*
 * Read one message from fd into buf (fr->room bytes) by deadline_ms on
 * the monotonic clock. Returns its length (fr->size means it was cut), 0
 * if the client closed without sending anything, FRAME_FULL when room
 * bytes are in but not yet size (call again with more room), or -1 with
 * errno (ETIMEDOUT, ECONNRESET, ...): fr->len bytes of an unfinished
 * message are then in buf.
 */
ssize_t
frame_read_until(struct frame *fr, int fd, unsigned char *buf,
    long long deadline_ms)
{
	long long	left_ms;
	ssize_t		n;

	/* one clock read (vDSO, no syscall) per read: cheap enough */
	left_ms = deadline_ms - mono_ms();
	for (;;) {
		if (fr->len == fr->room)
			return (FRAME_FULL);
		/* past the deadline, take what is there without waiting */
		if ((n = frame_piece(fr, fd, buf, left_ms)) == -1)
			return (-1);
		if (n == 0)
			return (frame_eof(fr) ? (ssize_t)fr->msg_len : 0);
		if (frame_feed(fr, buf, (size_t)n))
			return ((ssize_t)fr->msg_len);
		if ((left_ms = deadline_ms - mono_ms()) <= 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
	}
}

/*
 * frame_read_until with a buffer of fr->size bytes and timeout_ms from
 * now in all.
 */
ssize_t
frame_read(struct frame *fr, int fd, unsigned char *buf, int timeout_ms)
{
	fr->room = fr->size;
	return (frame_read_until(fr, fd, buf, mono_ms() + timeout_ms));
}
