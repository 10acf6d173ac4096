/* SPDX-License-Identifier: MIT */
/*
 * fuzz_proxy.c: libFuzzer target for proxy.c, which judges the first
 * bytes of every connection under --proxy-protocol, and parses
 * --proxy-from ranges.
 *
 * The input is what a load balancer (or anyone) sent, whole. It is judged
 * at prefixes of it, as the bytes would come in, each from a buffer of
 * exactly that size (so AddressSanitizer sees any read past it). Checked:
 * the verdict is one of the three; a header's length is at most the bytes
 * given, at most PROXY_V1_MAX for v1 and PROXY_HEADER_MAX for v2; a
 * refusal names its reason; a relayed header carries an IPv4 or IPv6
 * source; the first verdict among the prefixes never changes with more
 * bytes, and is the verdict for the whole input; a header judged alone
 * gets the verdict it got with the bytes that followed it. The input is
 * also parsed as a --proxy-from range, which must then be well formed
 * and match its own address.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ackd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* At most this many prefixes judged per input, so long inputs stay fast. */
#define FUZZ_PROXY_STEPS	256

/* Stop with a message: libFuzzer saves the input that got here. */
#define FUZZ_PROXY_CHECK(cond, ...) do {				\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_proxy: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* Judge the first len bytes of data from an exact-size copy. */
static enum proxy_result
fuzz_proxy_judge(const uint8_t *data, size_t len, struct proxy_header *hdr)
{
	enum proxy_result	 r;
	uint8_t			*copy = NULL;

	if (len > 0) {
		copy = malloc(len);
		if (copy == NULL)
			abort();
		memcpy(copy, data, len);
	}
	r = proxy_parse(copy, len, hdr);
	free(copy);
	return (r);
}

/* The properties every single verdict has. */
static void
fuzz_proxy_sane(enum proxy_result r, const struct proxy_header *hdr,
    size_t len)
{
	FUZZ_PROXY_CHECK(r == PROXY_MORE || r == PROXY_INVALID ||
	    r == PROXY_DONE, "verdict %d", (int)r);
	if (r == PROXY_INVALID)
		FUZZ_PROXY_CHECK(hdr->why != NULL && hdr->why[0] != '\0',
		    "a refusal without a reason");
	if (r != PROXY_DONE)
		return;
	FUZZ_PROXY_CHECK(hdr->len > 0 && hdr->len <= len,
	    "header of %zu bytes in %zu", hdr->len, len);
	FUZZ_PROXY_CHECK((hdr->version == 1 && hdr->len <= PROXY_V1_MAX) ||
	    (hdr->version == 2 && hdr->len >= PROXY_V2_FIXED &&
	    hdr->len <= PROXY_HEADER_MAX), "v%d header of %zu bytes",
	    hdr->version, hdr->len);
	if (hdr->command == PROXY_CMD_PROXY)
		FUZZ_PROXY_CHECK((hdr->src.ss_family == AF_INET ||
		    hdr->src.ss_family == AF_INET6) &&
		    hdr->dst.ss_family == hdr->src.ss_family &&
		    hdr->srclen > 0 && hdr->dstlen == hdr->srclen,
		    "relayed header without addresses");
	else
		FUZZ_PROXY_CHECK(hdr->command == PROXY_CMD_LOCAL ||
		    hdr->command == PROXY_CMD_UNKNOWN, "command %d",
		    (int)hdr->command);
	if (hdr->command == PROXY_CMD_LOCAL)
		FUZZ_PROXY_CHECK(hdr->version == 2, "v1 LOCAL");
}

/* Are two verdicts the same, header length and addresses included? */
static int
fuzz_proxy_same(enum proxy_result a, const struct proxy_header *ha,
    enum proxy_result b, const struct proxy_header *hb)
{
	if (a != b)
		return (0);
	if (a == PROXY_INVALID)
		return (strcmp(ha->why, hb->why) == 0);
	if (a == PROXY_DONE)
		return (ha->len == hb->len && ha->command == hb->command &&
		    ha->version == hb->version && ha->srclen == hb->srclen &&
		    memcmp(&ha->src, &hb->src, sizeof(ha->src)) == 0 &&
		    memcmp(&ha->dst, &hb->dst, sizeof(ha->dst)) == 0);
	return (1);
}

/* Parse the input as a --proxy-from range; if taken, it must be sane. */
static void
fuzz_proxy_cidr(const uint8_t *data, size_t size)
{
	struct proxy_cidr	c;
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
	char			*copy;

	if (size > 128)
		return;
	copy = malloc(size + 1);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (proxy_cidr_parse(copy, size, &c) == 0) {
		FUZZ_PROXY_CHECK((c.family == AF_INET && c.bits >= 0 &&
		    c.bits <= 32) || (c.family == AF_INET6 && c.bits >= 0 &&
		    c.bits <= 128), "range family %d bits %d", c.family,
		    c.bits);
		memset(&sin, 0, sizeof(sin));
		memset(&sin6, 0, sizeof(sin6));
		sin.sin_family = AF_INET;
		sin6.sin6_family = AF_INET6;
		memcpy(&sin.sin_addr, c.addr, 4);
		memcpy(&sin6.sin6_addr, c.addr, 16);
		if (c.family == AF_INET)
			FUZZ_PROXY_CHECK(proxy_cidr_match(&c,
			    (struct sockaddr *)&sin, sizeof(sin)),
			    "a range misses its own address");
		else
			FUZZ_PROXY_CHECK(proxy_cidr_match(&c,
			    (struct sockaddr *)&sin6, sizeof(sin6)),
			    "a range misses its own address");
	}
	free(copy);
}

/* One input: prefixes, the whole, the header alone, and as a range. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header	first, hdr, alone;
	enum proxy_result	first_r = PROXY_MORE, r, ra;
	size_t			i, step;

	memset(&first, 0, sizeof(first));
	step = size / FUZZ_PROXY_STEPS + 1;
	for (i = 0; i <= size; i += (i < 128 ? 1 : step)) {
		r = fuzz_proxy_judge(data, i, &hdr);
		fuzz_proxy_sane(r, &hdr, i);
		if (first_r == PROXY_MORE) {
			first_r = r;
			first = hdr;
		} else
			FUZZ_PROXY_CHECK(fuzz_proxy_same(first_r, &first, r,
			    &hdr), "verdict changed at %zu bytes", i);
	}
	r = fuzz_proxy_judge(data, size, &hdr);
	fuzz_proxy_sane(r, &hdr, size);
	if (first_r != PROXY_MORE)
		FUZZ_PROXY_CHECK(fuzz_proxy_same(first_r, &first, r, &hdr),
		    "the whole input's verdict differs from a prefix's");
	if (r == PROXY_DONE) {
		ra = fuzz_proxy_judge(data, hdr.len, &alone);
		FUZZ_PROXY_CHECK(fuzz_proxy_same(r, &hdr, ra, &alone),
		    "the header alone is judged otherwise");
	}
	fuzz_proxy_cidr(data, size);
	return (0);
}
