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
 * The scan (frame_feed, frame_eof) is pure, for unit tests.
 * frame_read_now is the thin I/O around it, and never waits: what has
 * not arrived yet is waited for by the worker's event stage (stage.c),
 * which also keeps the one deadline of the whole message (a timeout per
 * read would let a client that sends a byte now and then hold a
 * connection forever).
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <time.h>

#include "ackd.h"
#include "tls.h"
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
 * Read what has arrived of one message from fd (or, over TLS, from its
 * SSL: tls non-NULL) into buf (fr->room bytes), never waiting: a
 * handler thread never sleeps on the network.
 * Returns the message's length once it is complete (fr->size means it
 * was cut), 0 if the client closed without sending anything, FRAME_FULL
 * when room bytes are in but not yet size (call again with more room),
 * FRAME_AGAIN when the message goes on but nothing more is there yet
 * (the worker's event stage waits for more, and the scan resumes where it
 * was), or -1 with errno (ECONNRESET, ...). fr->len bytes of an
 * unfinished message are in buf.
 */
ssize_t
frame_read_now(struct frame *fr, int fd, struct tls_conn *tls,
    unsigned char *buf)
{
	ssize_t	n;

	for (;;) {
		if (fr->len == fr->room)
			return (FRAME_FULL);
		/* a test of a register: the plain path pays nothing more */
		if (tls == NULL)
			n = recv(fd, buf + fr->len, fr->room - fr->len,
			    MSG_DONTWAIT);
		else
			n = tls_conn_read(tls, buf + fr->len,
			    fr->room - fr->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			return (-1);
		if (n == -1) {
			/* read: the bytes one read found are the message, even
			 * when a full room made it two recv calls */
			if (fr->mode != ACKD_FRAMING_READ || fr->len == 0)
				return (FRAME_AGAIN);
			frame_eof(fr);
			return ((ssize_t)fr->msg_len);
		}
		if (n == 0)
			return (frame_eof(fr) ? (ssize_t)fr->msg_len : 0);
		if (frame_feed(fr, buf, (size_t)n))
			return ((ssize_t)fr->msg_len);
	}
}
