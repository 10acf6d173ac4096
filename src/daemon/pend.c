/* SPDX-License-Identifier: MIT */
/*
 * pend.c: what a connection keeps while it waits in the event stage.
 *
 * A connection whose message is there at once never gets one: the common
 * path allocates nothing. The first time it has to wait, its handler
 * makes a pend (pend_get), and keeps the bytes of an unfinished message
 * in it (pend_keep): in a buffer of its own, charged to the worker's
 * allowance for partial messages (BIGBUF_PARTIAL), which is allocated
 * only then and freed at the close; a large message's mapping moves into the pend as it is, with
 * its share of the budget. Whoever closes the connection frees the pend
 * (pend_free), giving everything back. No locks: a pend has one owner at
 * a time, a handler or the stage, handed over through the queue or the
 * stage's locked list.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ackd.h"
#include "tls.h"
#include "worker.h"

/* c's pend: the one it has, or a new one holding a copy of c. NULL: ENOMEM. */
struct pend *
pend_get(const struct conn *c)
{
	struct pend	*p;

	if (c->pend != NULL)
		return (c->pend);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	p->conn = *c;
	p->conn.pend = p;
	return (p);
}

/*
 * Keep len bytes of an unfinished message from buf, in p's own buffer of
 * size bytes (allocated and charged to partial, the allowance of the
 * worker's waiting partial messages, the first time). 0, or -1 with
 * errno (EAGAIN: the allowance is used up; ENOMEM).
 */
int
pend_keep(struct pend *p, const unsigned char *buf, size_t len, size_t size,
    struct bigbuf *partial)
{
	if (len == 0)
		return (0);
	if (p->buf == NULL) {
		if (bigbuf_charge(partial, size) == -1)
			return (-1);
		if ((p->buf = malloc(size)) == NULL) {
			bigbuf_uncharge(partial, size);
			errno = ENOMEM;
			return (-1);
		}
		p->charged = size;
	}
	memcpy(p->buf, buf, len);
	return (0);
}

/*
 * Keep a large message's mapping of size bytes, with its share of the
 * budget, as it is: p's own small buffer, if it had one, goes back to
 * partial.
 */
void
pend_keep_map(struct pend *p, unsigned char *map, size_t size,
    struct bigbuf *partial)
{
	if (p->buf_map == 0)
		free(p->buf);
	if (p->charged > 0)
		bigbuf_uncharge(partial, p->charged);
	p->charged = 0;
	p->buf = map;
	p->buf_map = size;
	p->held = 1;
}

/*
 * Hand a kept mapping back to its handler: *size gets its size, and p no
 * longer holds it (nor its share, which the handler now holds). NULL
 * when p keeps none.
 */
unsigned char *
pend_take_map(struct pend *p, size_t *size)
{
	unsigned char	*map = p->buf;

	if (p->buf_map == 0)
		return (NULL);
	*size = p->buf_map;
	p->buf = NULL;
	p->buf_map = 0;
	p->held = 0;
	return (map);
}

/*
 * Free p and give back what it holds (p's connection is about to be
 * closed): its share to budget, its small buffer to partial; a TLS
 * connection's SSL sends its close_notify, if the handshake was over,
 * and is freed.
 */
void
pend_free(struct pend *p, struct bigbuf *budget, struct bigbuf *partial)
{
	if (p->buf_map > 0)
		bigbuf_unmap(p->buf, p->buf_map);
	else
		free(p->buf);
	if (p->charged > 0)
		bigbuf_uncharge(partial, p->charged);
	if (p->held)
		bigbuf_give(budget);
	free(p->pbuf);
	tls_conn_close(p->tls);		/* before the close of its descriptor */
	free(p);
}
