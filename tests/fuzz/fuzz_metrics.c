/* SPDX-License-Identifier: MIT */
/*
 * fuzz_metrics.c: libFuzzer target for http.c, which judges whatever a
 * scraper sends the metrics endpoint.
 *
 * The input is the bytes a client sent, whole. It is judged with the
 * daemon's bound and with a small one (so the bound's edge is reached
 * often), and at prefixes of it, as the bytes would come in. Checked:
 * the verdict is one the manual lists; the first verdict among the
 * prefixes never changes with more bytes, and is the verdict for the
 * whole input; nothing is read past the length given (the input is
 * copied to a buffer of exactly its size, so AddressSanitizer sees it);
 * 431 only for input that reached the bound; and a 200 is a GET of
 * /metrics (a query allowed) whose head ends within the bound, checked
 * with a reading written from the manual, not from http.c.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ackd.h"
#include "master.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A bound small enough that inputs often cross it. */
#define FUZZ_METRICS_SMALL	64
/* At most this many prefixes judged per input, so long inputs stay fast. */
#define FUZZ_METRICS_STEPS	128

/* Stop with a message: libFuzzer saves the input that got here. */
#define FUZZ_METRICS_CHECK(cond, ...) do {				\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_metrics: " __VA_ARGS__);		\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* Is status one http_parse may give? */
static int
fuzz_metrics_known(int status)
{
	return (status == 0 || status == 200 || status == 400 ||
	    status == 404 || status == 405 || status == 431 || status == 505);
}

/*
 * The manual's reading of a scrape: optional empty lines, then exactly
 * "GET /metrics" or "GET /metrics?..." then " HTTP/1.D", a line end, and
 * a blank line before max bytes. Absolute-form targets are left out, so
 * this is a necessary condition only for them: a 200 it refuses must
 * have one ("GET http").
 */
static int
fuzz_metrics_is_scrape(const char *buf, size_t len, size_t max)
{
	const char	*end = NULL;
	size_t		 i = 0, n = len < max ? len : max;

	while (i < n && (buf[i] == '\r' || buf[i] == '\n'))
		i++;
	if (n - i < 4 || memcmp(buf + i, "GET ", 4) != 0)
		return (0);
	if (n - i >= 8 && strncasecmp(buf + i + 4, "http", 4) == 0)
		return (1);	/* absolute-form: not read here */
	if (n - i < 12 || memcmp(buf + i + 4, "/metrics", 8) != 0)
		return (0);
	i += 12;
	if (i < n && buf[i] == '?')
		while (i < n && buf[i] > 0x20 && buf[i] < 0x7f)
			i++;
	if (n - i < 9 || memcmp(buf + i, " HTTP/1.", 8) != 0 ||
	    buf[i + 8] < '0' || buf[i + 8] > '9')
		return (0);
	for (i += 9; i + 1 < n; i++)
		if (buf[i] == '\n' && (buf[i + 1] == '\n' || (buf[i + 1] ==
		    '\r' && i + 2 < n && buf[i + 2] == '\n'))) {
			end = buf + i;
			break;
		}
	return (end != NULL);
}

/* Judge data as it comes in with bound max; check every verdict. */
static void
fuzz_metrics_run(const char *data, size_t size, size_t max)
{
	size_t	step = size / FUZZ_METRICS_STEPS + 1, k;
	int	whole, got, first = 0;

	whole = http_parse(data, size, max, "/metrics");
	FUZZ_METRICS_CHECK(fuzz_metrics_known(whole), "verdict %d", whole);
	FUZZ_METRICS_CHECK(whole != 431 || size >= max,
	    "431 for %zu bytes with a bound of %zu", size, max);
	FUZZ_METRICS_CHECK(size < max || whole != 0,
	    "no verdict for %zu bytes with a bound of %zu", size, max);
	FUZZ_METRICS_CHECK(whole != 200 ||
	    fuzz_metrics_is_scrape(data, size, max), "200 for a request that "
	    "is not a GET of /metrics ending within %zu bytes", max);
	for (k = 0;; k = k + step < size ? k + step : size) {
		got = http_parse(data, k, max, "/metrics");
		FUZZ_METRICS_CHECK(fuzz_metrics_known(got), "verdict %d", got);
		if (first == 0)
			first = got;
		FUZZ_METRICS_CHECK(first == 0 || got == first, "%d after %zu "
		    "bytes, %d before", got, k, first);
		if (k == size)
			break;
	}
	FUZZ_METRICS_CHECK(first == whole, "first verdict %d, whole %d",
	    first, whole);
}

/* libFuzzer's entry point: data is what a scraper sent. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*copy;

	/* exactly size bytes: a read past them is AddressSanitizer's */
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return (0);
	memcpy(copy, data, size);
	fuzz_metrics_run(copy, size, ACKD_METRICS_HEAD_MAX);
	fuzz_metrics_run(copy, size, FUZZ_METRICS_SMALL);
	free(copy);
	return (0);
}
