/* SPDX-License-Identifier: MIT */
/*
 * http.c: the little HTTP/1.x the metrics endpoint speaks, as pure
 * functions: judging a request head from the bytes read so far, and
 * writing a response head. No I/O, no allocation, so unit tests and the
 * fuzzer reach every byte a scraper can send.
 *
 * Only the request line matters; header fields are skipped, but the head
 * must end (an empty line) within the bound before anything is answered,
 * so a well-formed request is never answered while it is still being
 * sent. A request line that is already wrong is answered at once: no
 * continuation could mend it. Every judgement looks only at the first
 * max bytes, so once one is made, more bytes never change it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ackd.h"
#include "master.h"

/* The version field: "HTTP/" DIGIT "." DIGIT, then an optional CR. */
#define HTTP_VERSION_LEN	8

/* Is c a token character (RFC 9110 tchar), as methods are made of? */
static int
http_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Is c a visible ASCII character, as a request target is made of? */
static int
http_vchar(unsigned char c)
{
	return (c > 0x20 && c < 0x7f);
}

/*
 * Can v[0..len) begin a version field? The CR that may end the line is
 * allowed after it: the caller gives a complete line without its CR.
 */
static int
http_version_prefix(const char *v, size_t len)
{
	static const char	form[] = "HTTP/9.9\r";
	size_t			i;

	if (len > sizeof(form) - 1)
		return (0);
	for (i = 0; i < len; i++) {
		if (form[i] == '9') {
			if (v[i] < '0' || v[i] > '9')
				return (0);
		} else if (v[i] != form[i])
			return (0);
	}
	return (1);
}

/*
 * The path part of a target: origin-form as it is, absolute-form
 * ("http://host:port/path", which servers must accept) from the slash
 * after the authority. *len gets its length up to any query. NULL if the
 * target has neither form.
 */
static const char *
http_target_path(const char *t, size_t tlen, size_t *len)
{
	const char	*p, *q;
	size_t		 skip;

	if (tlen >= 7 && strncasecmp(t, "http://", 7) == 0)
		skip = 7;
	else if (tlen >= 8 && strncasecmp(t, "https://", 8) == 0)
		skip = 8;
	else if (tlen > 0 && t[0] == '/')
		skip = 0;
	else
		return (NULL);
	p = t;
	if (skip > 0) {
		p = memchr(t + skip, '/', tlen - skip);
		if (p == NULL)		/* no path: the root */
			p = t + tlen;
		if (p == t + skip)	/* no host */
			return (NULL);
	}
	q = memchr(p, '?', (size_t)(t + tlen - p));
	*len = (size_t)((q != NULL ? q : t + tlen) - p);
	return (p);
}

/*
 * Judge a request line, line[0..len), without its LF; complete says
 * whether the LF came. An incomplete line that is fine so far gives 0;
 * a malformed one 400, complete or not. A complete good one: 505 for
 * another major version than 1, 405 for another method than GET, 404
 * for another path than path (any query ignored), else 200.
 */
static int
http_request_line(const char *line, size_t len, int complete,
    const char *path)
{
	const char	*target, *version, *p;
	size_t		 i = 0, mlen, tlen, vlen, plen;

	if (complete && len > 0 && line[len - 1] == '\r')
		len--;
	while (i < len && http_tchar((unsigned char)line[i]))
		i++;
	mlen = i;
	if (i == len)
		return (complete ? 400 : 0);
	if (mlen == 0 || line[i] != ' ')
		return (400);
	target = line + ++i;
	while (i < len && http_vchar((unsigned char)line[i]))
		i++;
	tlen = (size_t)(line + i - target);
	if (i == len)
		return (complete ? 400 : 0);
	if (tlen == 0 || line[i] != ' ')
		return (400);
	version = line + ++i;
	vlen = len - i;
	if (!http_version_prefix(version, vlen))
		return (400);
	if (!complete)
		return (0);
	if (vlen != HTTP_VERSION_LEN ||
	    (p = http_target_path(target, tlen, &plen)) == NULL)
		return (400);
	if (version[5] != '1')
		return (505);
	if (mlen != 3 || memcmp(line, "GET", 3) != 0)
		return (405);
	if (plen != strlen(path) || memcmp(p, path, plen) != 0)
		return (404);
	return (200);
}

/*
 * Where the header fields that start at p end: just after the empty line
 * that ends the head, or NULL if it has not come before end.
 */
static const char *
http_head_end(const char *p, const char *end)
{
	const char	*lf;

	while (p < end) {
		if (*p == '\n')
			return (p + 1);
		if (*p == '\r' && p + 1 < end && p[1] == '\n')
			return (p + 2);
		if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return (NULL);
		p = lf + 1;
	}
	return (NULL);
}

/*
 * Judge the request head buf[0..len) that a client sent so far, looking
 * at its first max bytes only. 0: not complete yet, read on. Else the
 * status to answer: 200 for a GET of path (a query ignored), 400 for a
 * malformed request line, 404 for another path, 405 for another method,
 * 431 for a head that did not end within max bytes, 505 for HTTP/2 and
 * beyond. Empty lines before the request line are skipped (RFC 9112).
 */
int
http_parse(const char *buf, size_t len, size_t max, const char *path)
{
	const char	*lf;
	size_t		 n = len < max ? len : max, i = 0;
	int		 status;

	while (i < n && (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < n &&
	    buf[i + 1] == '\n')))
		i += buf[i] == '\n' ? 1 : 2;
	if ((lf = memchr(buf + i, '\n', n - i)) == NULL) {
		if (i + 1 == n && buf[i] == '\r')
			status = 0;	/* the CR of an empty line, maybe */
		else
			status = http_request_line(buf + i, n - i, 0, path);
	} else {
		status = http_request_line(buf + i, (size_t)(lf - buf) - i, 1,
		    path);
		if (status != 400 && http_head_end(lf + 1, buf + n) == NULL)
			status = 0;
	}
	if (status == 0 && len >= max)
		return (431);
	return (status);
}

/* The reason phrase of a status http_parse or the endpoint gives. */
const char *
http_reason(int status)
{
	switch (status) {
	case 200:	return ("OK");
	case 400:	return ("Bad Request");
	case 404:	return ("Not Found");
	case 405:	return ("Method Not Allowed");
	case 408:	return ("Request Timeout");
	case 431:	return ("Request Header Fields Too Large");
	case 500:	return ("Internal Server Error");
	case 505:	return ("HTTP Version Not Supported");
	default:	return ("Unknown");
	}
}

/*
 * Write the head of a response that closes the connection after a body
 * of body_len bytes of type ctype; 405 also says which method is allowed.
 * Returns the length, or 0 if it did not fit in size.
 */
size_t
http_head(char *buf, size_t size, int status, const char *ctype,
    size_t body_len)
{
	int	n;

	n = snprintf(buf, size, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "%s"
	    "Connection: close\r\n"
	    "\r\n", status, http_reason(status), ctype, body_len,
	    status == 405 ? "Allow: GET\r\n" : "");
	if (n < 0 || (size_t)n >= size)
		return (0);
	return ((size_t)n);
}
